//! Citizen calls and their case ("pratica") as the proxy sees them, without knowing the CRM:
//! the core asks for a case with an `Effect::Lookup` and parks the INVITE; the daemon answers
//! with `Core::handle_case` (from the store within the lookup deadline, or a token minted
//! locally when the store is slow or down). The core then routes with what it learned (known
//! caller, open cases), puts the token on every leg it sends, and reports each routing
//! decision, leg, answer, failure and hang-up as an `Effect::Timeline`.
//!
//! On the wire (architecture decision): `User-to-User: {hex};encoding=hex;purpose=urpd-case`
//! (RFC 7433), `Call-Info: <{console}/cases/{token}>;purpose=info` and one `Session-ID`
//! (RFC 7989) kept on every leg. The same headers from anything but a trusted peer are
//! stripped, so nobody outside the federation can attach a call to somebody's case.

use crate::sip::text::SipStr;
use crate::sip::{HeaderName, Request};
use crate::transaction::TxId;

/// What the core needs from the CRM for one call.
#[derive(Debug, Clone)]
pub struct CaseLookup {
    /// The parked INVITE's server transaction (give it back to `handle_case`).
    pub tx: TxId,
    /// The citizen's number; `None` for an anonymous call (a new case, no history).
    pub caller: Option<String>,
    /// The number dialled.
    pub called: String,
    /// The administration the dial plan routes the call to (the node id when no rule matched).
    pub administration: String,
    /// The topic, when known.
    pub topic: Option<String>,
    /// The citizen leg's Call-ID.
    pub call_id: String,
}

/// The case a call belongs to.
#[derive(Debug, Clone)]
pub struct CaseInfo {
    /// The case token (`{node}:{ulid}`; no personal data).
    pub token: String,
    /// Whether the caller had called before.
    pub caller_known: bool,
    /// The caller's open cases.
    pub open_cases: usize,
}

/// Timeline entries the core reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseEvent {
    /// Where the dial plan sent the call.
    Routed,
    /// A leg towards an agent or node started.
    LegStarted,
    /// The callee rings.
    Ringing,
    /// Answered.
    Answered,
    /// The call failed (final non-2xx to the caller).
    Failed,
    /// The call ended (BYE).
    HungUp,
}

/// Work the core hands to the daemon.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Look up / open the case of a citizen call, then call `Core::handle_case`.
    Lookup(CaseLookup),
    /// Append to a case's timeline (through the durable outbox).
    Timeline {
        /// The case token.
        token: String,
        /// What happened.
        kind: CaseEvent,
        /// The citizen leg's Call-ID (marks the contact answered/ended).
        leg: Option<String>,
        /// Details (rule, target, status); never the caller's number.
        detail: serde_json::Value,
    },
}

/// The case headers' `purpose` in User-to-User.
pub const UUI_PURPOSE: &str = "urpd-case";

/// Removes case headers a request must not carry in from an untrusted source.
pub fn strip_case_headers(req: &mut Request) {
    req.headers.remove_all(&HeaderName::UserToUser);
    req.headers.remove_where(&HeaderName::CallInfo, |v| v.contains("/cases/"));
}

/// The case token a trusted peer put on a request, if any.
pub fn token_from_headers(req: &Request) -> Option<String> {
    req.headers.get_all(&HeaderName::UserToUser).find_map(|v| {
        let (data, params) = v.split_once_byte(b';')?;
        if !params.to_ascii_lowercase().contains(&format!("purpose={UUI_PURPOSE}")) {
            return None;
        }
        let bytes = hex::decode(data.trim()).ok()?;
        let token = String::from_utf8(bytes).ok()?;
        // The token's own shape: node id, a colon, a ULID; nothing else gets through.
        let ok = token.len() <= 100
            && token
                .split_once_byte(b':')
                .is_some_and(|(n, u)| !n.is_empty() && u.len() == 26 && u.bytes().all(|c| c.is_ascii_alphanumeric()));
        ok.then_some(token)
    })
}

/// Puts the case headers on a request about to be forwarded.
pub fn add_case_headers(req: &mut Request, token: &str, console: &str) {
    strip_case_headers(req);
    req.headers.push(HeaderName::UserToUser, format!("{};encoding=hex;purpose={UUI_PURPOSE}", hex::encode(token.as_bytes())));
    req.headers.push(HeaderName::CallInfo, format!("<{}/cases/{}>;purpose=info", console.trim_end_matches('/'), token));
    if req.headers.get(&HeaderName::SessionId).is_none() {
        req.headers.push(HeaderName::SessionId, session_id_for(token));
    }
}

/// A Session-ID (RFC 7989: 32 lowercase hex digits) derived from the case token and a random
/// part, the same on every leg of this call.
pub fn session_id_for(token: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(token.as_bytes());
    h.update(rand::random::<u64>().to_be_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_datagram, Message};

    fn req(extra: &str) -> Request {
        let text = format!(
            "INVITE sip:bob@urp SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:gw@x>;tag=1\r\nTo: <sip:bob@urp>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(bytes::Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headers_round_trip_and_strip() {
        let token = "urp-lazio:01JD8X7Y2Z3A4B5C6D7E8F9G0H";
        let mut r = req("Call-Info: <http://evil/cases/x>;purpose=info\r\nCall-Info: <http://ok/photo>;purpose=icon\r\n");
        add_case_headers(&mut r, token, "https://console.urp/");
        assert_eq!(token_from_headers(&r).as_deref(), Some(token));
        let infos: Vec<_> = r.headers.get_all(&HeaderName::CallInfo).map(|v| v.to_string()).collect();
        assert_eq!(infos, vec!["<http://ok/photo>;purpose=icon".to_string(), format!("<https://console.urp/cases/{token}>;purpose=info")]);
        assert_eq!(r.headers.get(&HeaderName::SessionId).map(|s| s.len()), Some(32));
        strip_case_headers(&mut r);
        assert_eq!(token_from_headers(&r), None);
        // Garbage in a trusted header is not a token.
        let r = req(&format!("User-to-User: {};encoding=hex;purpose=urpd-case\r\n", hex::encode("x:<script>")));
        assert_eq!(token_from_headers(&r), None);
    }
}
