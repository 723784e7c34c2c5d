//! Requests, responses and the accessors the upper layers use on every message.

use super::bytestr::ByteStr;
use super::header_name::HeaderName;
use super::headers::Headers;
use super::method::Method;
use super::name_addr::NameAddr;
use super::uri::Uri;
use super::via::{parse_cseq, Via};
use bytes::Bytes;

/// A SIP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method from the request line.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// Headers in order.
    pub headers: Headers,
    /// The body (its length is the Content-Length written on send).
    pub body: Bytes,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100 to 699.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: ByteStr,
    /// Headers in order.
    pub headers: Headers,
    /// The body.
    pub body: Bytes,
}

/// Either kind of SIP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// The headers, whichever the kind.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// Mutable headers.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    /// The Call-ID, for logs.
    pub fn call_id(&self) -> Option<&str> {
        self.headers().get(&HeaderName::CallId)
    }
}

/// Accessors common to requests and responses.
pub trait SipHeaders {
    /// The headers.
    fn hdrs(&self) -> &Headers;

    /// The Call-ID value.
    fn call_id(&self) -> Option<&str> {
        self.hdrs().get(&HeaderName::CallId)
    }

    /// CSeq number and method.
    fn cseq(&self) -> Option<(u32, &str)> {
        self.hdrs().get(&HeaderName::CSeq).and_then(|v| parse_cseq(v))
    }

    /// The topmost Via value, parsed.
    fn top_via(&self) -> Option<Via<'_>> {
        self.hdrs().get(&HeaderName::Via).and_then(|v| Via::parse(v).ok())
    }

    /// The topmost Via's branch.
    fn branch(&self) -> Option<&str> {
        self.top_via().and_then(|v| v.branch())
    }

    /// The From header, parsed.
    // "from" is the SIP header's name here, not a conversion.
    #[allow(clippy::wrong_self_convention)]
    fn from_hdr(&self) -> Option<NameAddr<'_>> {
        self.hdrs().get(&HeaderName::From).and_then(|v| NameAddr::parse(v).ok())
    }

    /// The To header, parsed.
    fn to_hdr(&self) -> Option<NameAddr<'_>> {
        self.hdrs().get(&HeaderName::To).and_then(|v| NameAddr::parse(v).ok())
    }

    /// The URI of the first `name` header in name-addr form (From, To, Route,
    /// P-Asserted-Identity), sharing the message's bytes: no copy of the text.
    fn addr_uri(&self, name: &HeaderName) -> Option<Uri> {
        let hdrs = self.hdrs();
        let v = hdrs.get(name)?;
        let na = NameAddr::parse(v).ok()?;
        Uri::parse(hdrs.share(na.uri)).ok()
    }

    /// The From tag.
    #[allow(clippy::wrong_self_convention)]
    fn from_tag(&self) -> Option<&str> {
        self.from_hdr().and_then(|n| n.tag())
    }

    /// The To tag. A To without `;` has no parameters, so no tag: answered without the
    /// name-addr parse (~220 instructions), which a dialog-creating request's To (no tag yet,
    /// usually no parameters) paid each time it was asked, twice per REGISTER.
    fn to_tag(&self) -> Option<&str> {
        let v = self.hdrs().get(&HeaderName::To)?;
        if !super::text::SipStr::has_byte(v, b';') {
            return None;
        }
        NameAddr::parse(v).ok().and_then(|n| n.tag())
    }

    /// The header-level Expires value, if numeric (saturating).
    fn expires(&self) -> Option<u32> {
        let v = self.hdrs().get(&HeaderName::Expires)?;
        let v = v.trim();
        if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(v.parse::<u64>().map(|n| n.min(u32::MAX as u64) as u32).unwrap_or(u32::MAX))
    }
}

impl SipHeaders for Request {
    fn hdrs(&self) -> &Headers {
        &self.headers
    }
}

impl SipHeaders for Response {
    fn hdrs(&self) -> &Headers {
        &self.headers
    }
}

impl Request {
    /// Max-Forwards value; `None` if absent or not a number in 0..=255.
    pub fn max_forwards(&self) -> Option<u8> {
        self.headers.get(&HeaderName::MaxForwards).and_then(|v| v.trim().parse::<u8>().ok())
    }

    /// Builds a response to this request per RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq
    /// copied; `to_tag` added to To when it has none and the status is above 100.
    pub fn response(&self, status: u16, reason: &str, to_tag: Option<&str>) -> Response {
        // The response shares the request's header block: copied values stay spans of it.
        let mut headers = self.headers.sharing(8);
        for (i, h) in self.headers.iter().enumerate() {
            match h.name {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => headers.push_from(&self.headers, i),
                HeaderName::To => {
                    let needs_tag = status > 100 && self.to_tag().is_none();
                    match (needs_tag, to_tag) {
                        (true, Some(tag)) => {
                            let mut to = String::with_capacity(h.value.len() + 5 + tag.len());
                            to.push_str(h.value);
                            to.push_str(";tag=");
                            to.push_str(tag);
                            headers.push(HeaderName::To, to)
                        }
                        _ => headers.push_from(&self.headers, i),
                    }
                }
                // RFC 3261 §8.2.6.1: Timestamp is echoed in responses.
                HeaderName::Timestamp if status == 100 => headers.push_from(&self.headers, i),
                _ => {}
            }
        }
        // The standard phrase (nearly every response) needs no copy.
        let standard = reason_phrase(status);
        let reason = if reason == standard { ByteStr::from_static(standard) } else { ByteStr::from(reason) };
        Response { status, reason, headers, body: Bytes::new() }
    }
}

/// The standard reason phrase for a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        429 => "Too Many Requests",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}
