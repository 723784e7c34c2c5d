//! Per-header rules checked after parsing (RFC 3261 §8.1.1, §8.2, §20): required headers
//! present, single-valued headers single, CSeq consistent, addresses and Vias well-formed.
//! Run once per received message before any layer trusts its headers.

use super::error::ParseError;
use super::header_name::HeaderName;
use super::headers::Headers;
use super::message::{Message, Request, Response};
use super::name_addr::NameAddr;
use super::parse::static_name;
use super::uri::Uri;
use super::via::{parse_cseq, Via};

const REQUIRED: [HeaderName; 5] = [HeaderName::To, HeaderName::From, HeaderName::CallId, HeaderName::CSeq, HeaderName::Via];
const SINGLE: [HeaderName; 7] = [
    HeaderName::To,
    HeaderName::From,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::Expires,
];

fn name_of(n: &HeaderName) -> &'static str {
    static_name(n)
}

/// Index of `name` in the table of counted headers (`REQUIRED` then the rest of `SINGLE`).
fn counted(name: &HeaderName) -> Option<usize> {
    Some(match name {
        HeaderName::To => 0,
        HeaderName::From => 1,
        HeaderName::CallId => 2,
        HeaderName::CSeq => 3,
        HeaderName::Via => 4,
        HeaderName::MaxForwards => 5,
        HeaderName::ContentType => 6,
        HeaderName::Expires => 7,
        _ => return None,
    })
}

/// Which headers [`check_common`] checks the syntax of, and whether it reads the top Via.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// A request: every header urpd knows the grammar of, and what the top Via says (for the
    /// `received`/`rport` rule).
    Request,
    /// A response urpd reads in full: every header, not the top Via (a response's is ours).
    Response,
    /// What a proxy reads from a response it relays: Via, To, Call-ID, CSeq and the counts;
    /// From, Contact, Route, Record-Route and Path pass as received.
    Relay,
}

/// What the top Via says about where a request came from: all a proxy's `received`/`rport`
/// rule (RFC 3261 §18.2.1, RFC 3581) needs when nothing is to be added, read while the Via is
/// parsed for validation anyway (the rule's own parse was ~320 instructions a request).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopVia {
    /// The sent-by host, when it is an IP address (not read, `None`, when `rport` is asked:
    /// the Via is rewritten then anyway).
    pub host_ip: Option<std::net::IpAddr>,
    /// Whether the Via asks for `rport`.
    pub rport: bool,
}

/// The checks shared by requests and responses; returns the CSeq value (number, method) and,
/// for a request, what the top Via says (the default otherwise).
fn check_common(h: &Headers, depth: Depth) -> Result<(u32, &str, TopVia), ParseError> {
    let full = depth != Depth::Relay;
    // One pass counts what the presence and uniqueness rules need (12 scans before); errors
    // come in the same order as the rules are listed.
    let mut count = [0u32; 8];
    let mut cseq = "";
    for hdr in h.iter() {
        if let Some(i) = counted(hdr.name) {
            count[i] += 1;
            if i == 3 && count[i] == 1 {
                cseq = hdr.value;
            }
        }
    }
    for name in REQUIRED.iter() {
        if counted(name).is_some_and(|i| count[i] == 0) {
            return Err(ParseError::MissingHeader(name_of(name)));
        }
    }
    for name in SINGLE.iter() {
        if counted(name).is_some_and(|i| count[i] > 1) {
            return Err(ParseError::DuplicateHeader(name_of(name)));
        }
    }
    let mut top = None;
    for hdr in h.iter() {
        match hdr.name {
            HeaderName::Via => {
                let via = Via::parse(hdr.value).map_err(|_| ParseError::BadHeader("Via"))?;
                if !via.params().validate() {
                    return Err(ParseError::BadHeader("Via"));
                }
                if depth == Depth::Request && top.is_none() {
                    let rport = via.rport().is_some();
                    // With `rport` the Via is rewritten whatever its host: not worth reading.
                    let host_ip = if rport { None } else { super::text::parse_host_ip(via.host) };
                    top = Some(TopVia { host_ip, rport });
                }
            }
            HeaderName::To => check_addr(hdr.name, hdr.value)?,
            HeaderName::From if full => check_addr(hdr.name, hdr.value)?,
            HeaderName::Contact
                if full && hdr.value.trim() != "*" => {
                    check_addr(hdr.name, hdr.value)?;
                }
            HeaderName::Route | HeaderName::RecordRoute | HeaderName::Path if full => {
                let na = NameAddr::parse(hdr.value).map_err(|_| ParseError::BadHeader(name_of(hdr.name)))?;
                if !na.bracketed {
                    return Err(ParseError::BadHeader(name_of(hdr.name)));
                }
                Uri::check(na.uri).map_err(|_| ParseError::BadHeader(name_of(hdr.name)))?;
            }
            HeaderName::CallId => {
                let v = hdr.value.trim();
                if v.is_empty() || v.bytes().any(|c| c.is_ascii_whitespace()) {
                    return Err(ParseError::BadHeader("Call-ID"));
                }
            }
            HeaderName::MaxForwards => {
                let v = hdr.value.trim();
                if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) || v.parse::<u8>().is_err() {
                    return Err(ParseError::BadHeader("Max-Forwards"));
                }
            }
            HeaderName::Expires => {
                let v = hdr.value.trim();
                if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(ParseError::BadHeader("Expires"));
                }
            }
            HeaderName::Date
                // RFC 3261 §20.17: SIP-date is always in GMT (RFC 4475 baddate).
                if !hdr.value.trim_end().ends_with("GMT") => {
                    return Err(ParseError::BadHeader("Date"));
                }
            _ => {}
        }
    }
    let (n, method) = parse_cseq(cseq).ok_or(ParseError::BadHeader("CSeq"))?;
    Ok((n, method, top.unwrap_or_default()))
}

fn check_addr(name: &HeaderName, value: &str) -> Result<(), ParseError> {
    let na = NameAddr::parse(value).map_err(|_| ParseError::BadHeader(name_of(name)))?;
    Uri::check(na.uri).map_err(|_| ParseError::BadHeader(name_of(name)))?;
    if !na.params().validate() {
        return Err(ParseError::BadHeader(name_of(name)));
    }
    Ok(())
}

impl Request {
    /// Checks the request against RFC 3261's header rules.
    pub fn validate(&self) -> Result<(), ParseError> {
        self.validate_via().map(|_| ())
    }

    /// [`validate`](Self::validate), and what the top Via says (for `received`/`rport`).
    pub fn validate_via(&self) -> Result<TopVia, ParseError> {
        let (_, cseq_method, top) = check_common(&self.headers, Depth::Request)?;
        if cseq_method != self.method.as_str() {
            return Err(ParseError::CSeqMismatch);
        }
        Ok(top)
    }
}

impl Response {
    /// Checks the response against RFC 3261's header rules.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_common(&self.headers, Depth::Response).map(|_| ())
    }

    /// The checks a proxy needs before relaying the response: the required headers present
    /// and single, every Via, the To (its tag decides which branch answered), Call-ID and CSeq
    /// well-formed. From, Contact, Route, Record-Route and Path are the endpoints' business:
    /// a proxy reads none of them in a response and relays them as received (as Kamailio and
    /// OpenSIPS do, parsing only what the route touches); their syntax checks were ~5% of a
    /// proxied call's instructions (four responses a call, two or three addresses each).
    pub fn validate_for_relay(&self) -> Result<(), ParseError> {
        check_common(&self.headers, Depth::Relay).map(|_| ())
    }
}

impl Message {
    /// Checks the message against RFC 3261's header rules.
    pub fn validate(&self) -> Result<(), ParseError> {
        match self {
            Message::Request(r) => r.validate(),
            Message::Response(r) => r.validate(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sip::{parse_datagram, Message, ParseError};
    use bytes::Bytes;

    fn response(extra: &str, via: &str, to: &str) -> crate::sip::Response {
        let text = format!(
            "SIP/2.0 180 Ringing\r\nVia: {via}\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: {to}\r\n\
             Call-ID: c1\r\nCSeq: 2 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(Bytes::from(text)) {
            Ok(Message::Response(r)) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    const VIA: &str = "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1";
    const TO: &str = "<sip:b@example.com>;tag=9";

    #[test]
    fn a_relayed_response_is_checked_for_what_the_proxy_reads_only() {
        // Addresses the proxy does not read: refused by the full check, relayed as received.
        for extra in [
            "Contact: <sip:b@odd host:5x>\r\n",
            "Record-Route: sip:p.example.com;lr\r\n",
            "Route: <sip:p.example.com;lr;=>\r\n",
            "Path: <sip:p.example.com;;>\r\n",
        ] {
            let r = response(extra, VIA, TO);
            assert!(r.validate().is_err(), "{extra}");
            assert_eq!(r.validate_for_relay(), Ok(()), "{extra}");
        }
        let r = response("", VIA, TO);
        assert_eq!((r.validate(), r.validate_for_relay()), (Ok(()), Ok(())));
        // What it reads: checked either way.
        let bad_via = response("", "garbage", TO);
        assert_eq!(bad_via.validate_for_relay(), Err(ParseError::BadHeader("Via")));
        let bad_to = response("", VIA, "<sip:b@odd host>;tag=9");
        assert_eq!(bad_to.validate_for_relay(), Err(ParseError::BadHeader("To")));
        let two_call_ids = response("Call-ID: c2\r\n", VIA, TO);
        assert_eq!(two_call_ids.validate_for_relay(), Err(ParseError::DuplicateHeader("Call-ID")));
    }
}
