//! Transaction matching keys (RFC 3261 §17.1.3, §17.2.3, §9.2).
//!
//! A client transaction is found by the branch of the top Via (ours) plus the CSeq method.
//! A server transaction is found by branch + sent-by + method when the branch carries the
//! RFC 3261 magic cookie, and by the RFC 2543 field comparison otherwise. In both schemes an
//! ACK looks for the INVITE it acknowledges and a CANCEL is its own transaction;
//! [`ServerKey::invite_of`] gives the INVITE a CANCEL cancels.

use crate::sip::{Method, Request, Response, SipHeaders, Via};

/// Finds a client transaction from a response (§17.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey {
    /// The top Via branch, as written.
    pub branch: String,
    /// The request method (the CSeq method of a response).
    pub method: Method,
}

impl ClientKey {
    /// The key of an outgoing request: its top Via branch and its method. `None` when the top
    /// Via has no branch with the RFC 3261 cookie (we only send such branches).
    pub fn for_request(req: &Request) -> Option<ClientKey> {
        let via = req.top_via()?;
        if !via.is_rfc3261() {
            return None;
        }
        Some(ClientKey { branch: via.branch()?.to_owned(), method: req.method.clone() })
    }

    /// The key a response matches: top Via branch and CSeq method.
    pub fn for_response(resp: &Response) -> Option<ClientKey> {
        let branch = resp.branch()?.to_owned();
        let (_, method) = resp.cseq()?;
        Some(ClientKey { branch, method: Method::from_token(method.into()) })
    }
}

/// Finds a server transaction from a request (§17.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerKey {
    /// The branch has the `z9hG4bK` cookie: branch, sent-by and method identify the transaction.
    Rfc3261 {
        /// The top Via branch followed by its sent-by host, lowercased (host names compare
        /// case-insensitively): one allocation per transaction instead of three (branch, host,
        /// the lowercased copy). Not a slice of the request: a key lives as long as its
        /// transaction (Timer J: 32 s), and would pin the whole datagram.
        branch_host: Box<str>,
        /// Where the host starts in `branch_host`.
        split: u16,
        /// The top Via sent-by port as written.
        port: Option<u16>,
        /// The method that created the transaction (INVITE for an ACK).
        method: Method,
    },
    /// No cookie (RFC 2543 peer): compare the fields that identified a transaction before
    /// branches were unique. URIs and the top Via compare as text, which is what an RFC 2543
    /// peer's retransmission (a byte copy) produces.
    ///
    /// Boxed: RFC 2543 peers are rare, and inline its six texts made every key, RFC 3261 or
    /// not, 168 bytes (48 now) in every transaction kept for 64*T1.
    Rfc2543(Box<Rfc2543Key>),
}

/// The fields that identify an RFC 2543 transaction (see [`ServerKey::Rfc2543`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rfc2543Key {
    /// The Request-URI.
    pub uri: String,
    /// The To tag of the request (not of an ACK: see [`ServerKey::ack_candidates`]).
    pub to_tag: Option<String>,
    /// The From tag.
    pub from_tag: Option<String>,
    /// The Call-ID.
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The whole top Via value.
    pub via: String,
    /// The method that created the transaction (INVITE for an ACK).
    pub method: Method,
}

/// Hashes what `Eq` compares, in fewer hasher calls than the derive (which spent ten SipHash
/// `write`s on an RFC 3261 key: discriminants, string terminators, the `Option`): each call
/// costs ~40 instructions of buffering before any byte is mixed. The split keeps
/// branch/host cuts of the same bytes apart.
impl std::hash::Hash for ServerKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            ServerKey::Rfc3261 { branch_host, split, port, method } => {
                state.write(branch_host.as_bytes());
                let port = port.map_or(0, |p| u64::from(p) | 1 << 16);
                state.write_u64(port << 32 | u64::from(*split) << 8 | method_tag(method));
            }
            ServerKey::Rfc2543(k) => {
                let Rfc2543Key { uri, to_tag, from_tag, call_id, cseq, via, method } = &**k;
                state.write_u8(0xff);
                uri.hash(state);
                to_tag.hash(state);
                from_tag.hash(state);
                call_id.hash(state);
                cseq.hash(state);
                via.hash(state);
                method.hash(state);
            }
        }
    }
}

/// How many values [`ServerKey::method_slot`] takes.
pub const METHOD_SLOTS: usize = 15;

/// A byte per method for the key's hash. Extension methods share one tag: keys that differ
/// only in an extension method's name collide, which `Eq` then tells apart.
fn method_tag(m: &Method) -> u64 {
    match m {
        Method::Invite => 1,
        Method::Ack => 2,
        Method::Bye => 3,
        Method::Cancel => 4,
        Method::Register => 5,
        Method::Options => 6,
        Method::Info => 7,
        Method::Prack => 8,
        Method::Update => 9,
        Method::Subscribe => 10,
        Method::Notify => 11,
        Method::Refer => 12,
        Method::Message => 13,
        Method::Publish => 14,
        Method::Other(_) => 0,
    }
}

impl ServerKey {
    /// The key of the transaction `req` creates or, for a retransmission, matches. For an ACK
    /// this is the key of the INVITE it acknowledges with the ACK's To tag (see
    /// [`ServerKey::ack_candidates`] for the full ACK lookup). `None` without a usable top Via
    /// (or, for RFC 2543 requests, without Call-ID or CSeq).
    pub fn for_request(req: &Request) -> Option<ServerKey> {
        let via_value = req.headers.get(&crate::sip::HeaderName::Via)?;
        Self::for_request_via(req, &Via::parse(via_value).ok()?)
    }

    /// [`ServerKey::for_request`] with the request's top Via already parsed (the transaction
    /// layer needs it for the response destination too: one parse instead of two).
    pub fn for_request_via(req: &Request, via: &Via<'_>) -> Option<ServerKey> {
        let method = match req.method {
            Method::Ack => Method::Invite,
            ref m => m.clone(),
        };
        Self::build(req, via, method, true)
    }

    /// The key of the INVITE transaction a CANCEL targets (§9.2): the CANCEL's own key with
    /// the method INVITE.
    pub fn invite_of(cancel: &Request) -> Option<ServerKey> {
        Self::with_method(cancel, Method::Invite, true)
    }

    /// The keys under which an ACK's INVITE transaction may be filed. For RFC 3261 there is one.
    /// For RFC 2543 the ACK carries the To tag of the *response*, while the INVITE was filed
    /// under its own To tag: the same tag for a re-INVITE, none for an initial INVITE. The
    /// caller must then check the ACK's To tag against the final response's (§17.2.3).
    pub fn ack_candidates(ack: &Request) -> Vec<ServerKey> {
        let Some(first) = Self::with_method(ack, Method::Invite, true) else {
            return Vec::new();
        };
        match &first {
            ServerKey::Rfc2543(k) if k.to_tag.is_some() => {
                let untagged = Self::with_method(ack, Method::Invite, false);
                std::iter::once(first).chain(untagged).collect()
            }
            _ => vec![first],
        }
    }

    /// The method that created the transaction, as a small number (extension methods share
    /// 0): what the layer counts its filed keys by, below [`METHOD_SLOTS`].
    pub fn method_slot(&self) -> usize {
        let method = match self {
            ServerKey::Rfc3261 { method, .. } => method,
            ServerKey::Rfc2543(k) => &k.method,
        };
        method_tag(method) as usize
    }

    /// Whether this key uses the RFC 2543 comparison.
    pub fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543(_))
    }

    fn with_method(req: &Request, method: Method, with_to_tag: bool) -> Option<ServerKey> {
        let via_value = req.headers.get(&crate::sip::HeaderName::Via)?;
        Self::build(req, &Via::parse(via_value).ok()?, method, with_to_tag)
    }

    /// The key from `req`'s parsed top Via; `with_to_tag` says whether an RFC 2543 key takes
    /// the request's To tag. The To header is only parsed for RFC 2543 keys: an RFC 3261 key
    /// (nearly every request) does not need it.
    fn build(req: &Request, via: &Via<'_>, method: Method, with_to_tag: bool) -> Option<ServerKey> {
        // The branch is looked up once (`is_rfc3261` would walk the parameters again), and the
        // host lowercased in place rather than char by char (~500 + ~300 instructions).
        let branch = via.branch();
        if let Some(branch) = branch.filter(|b| b.starts_with(crate::sip::MAGIC_COOKIE)) {
            let split = u16::try_from(branch.len()).ok()?;
            let mut text = String::with_capacity(branch.len() + via.host.len());
            text.push_str(branch);
            text.push_str(via.host);
            text[branch.len()..].make_ascii_lowercase();
            return Some(ServerKey::Rfc3261 { branch_host: text.into_boxed_str(), split, port: via.port, method });
        }
        let via_value = req.headers.get(&crate::sip::HeaderName::Via)?;
        let (cseq, _) = req.cseq()?;
        Some(ServerKey::Rfc2543(Box::new(Rfc2543Key {
            uri: req.uri.as_str().to_owned(),
            to_tag: if with_to_tag { req.to_tag().map(str::to_owned) } else { None },
            from_tag: req.from_tag().map(str::to_owned),
            call_id: req.call_id()?.to_owned(),
            cseq,
            via: via_value.to_owned(),
            method,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse::test_request as req;

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\n\
Via: SIP/2.0/UDP Pc33.Example.com:5060;branch=z9hG4bK776asdhds\n\
To: <sip:bob@example.com>\nFrom: <sip:alice@example.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710\nCSeq: 314159 INVITE\nMax-Forwards: 70\n\n";

    #[test]
    fn rfc3261_ack_and_cancel() {
        let inv = req(INVITE);
        let ack = req(&INVITE
            .replace("INVITE sip", "ACK sip")
            .replace("314159 INVITE", "314159 ACK")
            .replace("<sip:bob@example.com>\n", "<sip:bob@example.com>;tag=xyz\n"));
        let cancel = req(&INVITE
            .replace("INVITE sip", "CANCEL sip")
            .replace("314159 INVITE", "314159 CANCEL")
            .replace("Pc33.Example", "pc33.example"));
        let k = ServerKey::for_request(&inv);
        let Some(ServerKey::Rfc3261 { branch_host, split, .. }) = &k else { panic!("{k:?}") };
        assert_eq!(branch_host.split_at(usize::from(*split)), ("z9hG4bK776asdhds", "pc33.example.com"));
        assert_eq!(ServerKey::for_request(&ack), k);
        assert_eq!(ServerKey::ack_candidates(&ack), vec![k.clone().unwrap_or_else(|| unreachable!())]);
        assert_ne!(ServerKey::for_request(&cancel), k);
        assert_eq!(ServerKey::invite_of(&cancel), k);
        // Another sent-by is another transaction.
        let other = req(&INVITE.replace("Pc33.Example.com:5060", "pc34.example.com:5060"));
        assert_ne!(ServerKey::for_request(&other), k);
    }

    #[test]
    fn rfc2543_fields() {
        let old = INVITE.replace("branch=z9hG4bK776asdhds", "branch=776asdhds");
        let inv = req(&old);
        let k = ServerKey::for_request(&inv);
        assert!(k.as_ref().is_some_and(ServerKey::is_rfc2543));
        let ack = req(&old
            .replace("INVITE sip", "ACK sip")
            .replace("314159 INVITE", "314159 ACK")
            .replace("<sip:bob@example.com>\n", "<sip:bob@example.com>;tag=xyz\n"));
        let cands = ServerKey::ack_candidates(&ack);
        assert_eq!(cands.len(), 2);
        assert_eq!(Some(&cands[1]), k.as_ref());
        // A different CSeq number or Call-ID is a different transaction.
        assert_ne!(ServerKey::for_request(&req(&old.replace("314159 INVITE", "314160 INVITE"))), k);
        assert_ne!(ServerKey::for_request(&req(&old.replace("a84b4c76e66710", "other"))), k);
        // No branch at all also falls back to RFC 2543.
        let nobranch = req(&INVITE.replace(";branch=z9hG4bK776asdhds", ""));
        assert!(ServerKey::for_request(&nobranch).is_some_and(|k| k.is_rfc2543()));
    }

    #[test]
    fn client_key() {
        let inv = req(INVITE);
        let k = ClientKey::for_request(&inv);
        assert_eq!(k.as_ref().map(|k| k.branch.as_str()), Some("z9hG4bK776asdhds"));
        assert!(ClientKey::for_request(&req(&INVITE.replace("z9hG4bK776", "776"))).is_none());
    }
}
