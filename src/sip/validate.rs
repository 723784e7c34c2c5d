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

/// The checks shared by requests and responses; returns the CSeq value (number, method).
fn check_common(h: &Headers) -> Result<(u32, &str), ParseError> {
    // One pass counts what the presence and uniqueness rules need (12 scans before); errors
    // come in the same order as the rules are listed.
    let mut count = [0u32; 8];
    let mut cseq = "";
    for hdr in h.iter() {
        if let Some(i) = counted(&hdr.name) {
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
    for hdr in h.iter() {
        match hdr.name {
            HeaderName::Via => {
                let via = Via::parse(hdr.value).map_err(|_| ParseError::BadHeader("Via"))?;
                if !via.params().validate() {
                    return Err(ParseError::BadHeader("Via"));
                }
            }
            HeaderName::From | HeaderName::To => check_addr(hdr.name, hdr.value)?,
            HeaderName::Contact
                if hdr.value.trim() != "*" => {
                    check_addr(hdr.name, hdr.value)?;
                }
            HeaderName::Route | HeaderName::RecordRoute | HeaderName::Path => {
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
    parse_cseq(cseq).ok_or(ParseError::BadHeader("CSeq"))
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
        let (_, cseq_method) = check_common(&self.headers)?;
        if cseq_method != self.method.as_str() {
            return Err(ParseError::CSeqMismatch);
        }
        Ok(())
    }
}

impl Response {
    /// Checks the response against RFC 3261's header rules.
    pub fn validate(&self) -> Result<(), ParseError> {
        check_common(&self.headers).map(|_| ())
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
