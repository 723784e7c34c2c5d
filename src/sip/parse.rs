//! The message parser and the stream framer (RFC 3261 §7, §18.3, §25).
//!
//! `parse_datagram` takes one UDP datagram; `frame` finds where a message ends in a TCP byte
//! stream (Content-Length framing), after which `parse_framed` parses exactly those bytes. Both
//! accept CRLF and bare-LF line ends, folded header lines, compact header names and any header
//! name case; header values are slices of the input buffer except where a folded line had to
//! be joined. Parsing checks framing and the start line; `validate` does the per-header rules.

use super::bytestr::ByteStr;
use super::error::ParseError;
use super::header_name::HeaderName;
use super::headers::{Header, Headers};
use super::message::{Message, Request, Response};
use super::method::Method;
use super::text::{is_token, is_ws, split_list};
use super::uri::Uri;
use bytes::Bytes;

/// The default largest message accepted (a UDP datagram's practical maximum).
pub const DEFAULT_MAX_MESSAGE: usize = 65_535;

/// What the framer found at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Incomplete,
    /// The buffer starts with this many bytes of CRLF keep-alive (RFC 5626 §3.5.1) to consume.
    KeepAlive(usize),
    /// A whole message occupies the first this-many bytes.
    Message(usize),
}

/// Where the header block ends: the offset of the body, or `None` if not yet complete.
/// Accepts `\r\n\r\n`, `\n\n` and mixed forms.
fn header_end(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    while let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) {
        let nl = pos + nl;
        let next = nl + 1;
        match buf.get(next) {
            Some(b'\n') => return Some(next + 1),
            Some(b'\r') if buf.get(next + 1) == Some(&b'\n') => return Some(next + 2),
            Some(_) => pos = next,
            None => return None,
        }
    }
    None
}

/// Counts leading CR/LF bytes (keep-alives and stray line ends before a start line).
fn leading_crlf(buf: &[u8]) -> usize {
    buf.iter().take_while(|&&c| c == b'\r' || c == b'\n').count()
}

/// Finds the end of the first message in a stream buffer using Content-Length.
pub fn frame(buf: &[u8], max: usize) -> Result<Frame, ParseError> {
    let skip = leading_crlf(buf);
    if skip > 0 {
        return Ok(Frame::KeepAlive(skip));
    }
    let Some(body_start) = header_end(buf) else {
        return if buf.len() > max { Err(ParseError::TooLarge) } else { Ok(Frame::Incomplete) };
    };
    let mut content_length: Option<usize> = None;
    for line in buf[..body_start].split(|&c| c == b'\n').skip(1) {
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        let name = trim_ws(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let v = trim_ws(line[colon + 1..].strip_suffix(b"\r").unwrap_or(&line[colon + 1..]));
            let n = parse_content_length(v)?;
            if content_length.is_some_and(|c| c != n) {
                return Err(ParseError::DuplicateHeader("Content-Length"));
            }
            content_length = Some(n);
        }
    }
    // RFC 3261 §18.3: Content-Length is mandatory on streams; absent means no body.
    let total = body_start.checked_add(content_length.unwrap_or(0)).ok_or(ParseError::BadContentLength)?;
    if total > max {
        return Err(ParseError::TooLarge);
    }
    if buf.len() < total {
        Ok(Frame::Incomplete)
    } else {
        Ok(Frame::Message(total))
    }
}

fn trim_ws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_ws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|&c| !is_ws(c)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn parse_content_length(v: &[u8]) -> Result<usize, ParseError> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadContentLength);
    }
    std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()).ok_or(ParseError::BadContentLength)
}

/// Parses one UDP datagram. Bytes after Content-Length are ignored (RFC 3261 §18.3); fewer
/// bytes than Content-Length is an error; without Content-Length the body is the rest.
pub fn parse_datagram(buf: Bytes) -> Result<Message, ParseError> {
    parse_inner(buf, false)
}

/// Parses one message whose extent `frame` determined.
pub fn parse_framed(buf: Bytes) -> Result<Message, ParseError> {
    parse_inner(buf, true)
}

fn parse_inner(buf: Bytes, framed: bool) -> Result<Message, ParseError> {
    let skip = leading_crlf(&buf);
    let buf = buf.slice(skip..);
    // A datagram is complete by definition: a missing blank line just means no body.
    let body_start = match header_end(&buf) {
        Some(n) => n,
        None if !framed => buf.len(),
        None => return Err(ParseError::Incomplete),
    };
    let head = &buf[..body_start];

    // Split into physical lines without their line ends.
    let mut lines = head.split(|&c| c == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let start_line = lines.next().ok_or(ParseError::BadStartLine)?;
    let start_line = std::str::from_utf8(start_line).map_err(|_| ParseError::BadUtf8)?;
    let start_line = buf.slice_ref(start_line.as_bytes());

    let mut headers = Headers::with_capacity(16);
    let mut content_length: Option<usize> = None;
    // Logical header line under construction: either a slice of `buf` or a joined copy.
    let mut pending: Option<(usize, usize, Option<String>)> = None;
    let base = buf.as_ptr() as usize;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if is_ws(line[0]) {
            // Folded continuation (RFC 3261 §7.3.1): replace the line break by one space.
            let p = pending.as_mut().ok_or(ParseError::BadHeaderLine)?;
            let cont = std::str::from_utf8(trim_ws(line)).map_err(|_| ParseError::BadUtf8)?;
            let text = match p.2.take() {
                Some(t) => t,
                None => std::str::from_utf8(&buf[p.0..p.1]).map_err(|_| ParseError::BadUtf8)?.to_owned(),
            };
            let mut text = text.trim_end_matches([' ', '\t']).to_owned();
            if !cont.is_empty() {
                text.push(' ');
                text.push_str(cont);
            }
            p.2 = Some(text);
            continue;
        }
        if let Some(p) = pending.take() {
            push_header(&buf, p, &mut headers, &mut content_length)?;
        }
        let start = line.as_ptr() as usize - base;
        pending = Some((start, start + line.len(), None));
    }
    if let Some(p) = pending.take() {
        push_header(&buf, p, &mut headers, &mut content_length)?;
    }

    let rest = buf.len() - body_start;
    let body_len = match content_length {
        Some(n) if n > rest => return Err(ParseError::BodyTooShort),
        Some(n) => n,
        None if framed => 0,
        None => rest,
    };
    let body = buf.slice(body_start..body_start + body_len);

    let start_str = ByteStr::from_utf8(start_line).map_err(|_| ParseError::BadUtf8)?;
    if start_str.len() >= 4 && start_str.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        let (status, reason) = parse_status_line(&start_str)?;
        Ok(Message::Response(Response { status, reason, headers, body }))
    } else {
        let (method, uri) = parse_request_line(&start_str)?;
        Ok(Message::Request(Request { method, uri, headers, body }))
    }
}

/// Turns one logical header line into entries, splitting list headers at top-level commas.
fn push_header(
    buf: &Bytes,
    (start, end, joined): (usize, usize, Option<String>),
    headers: &mut Headers,
    content_length: &mut Option<usize>,
) -> Result<(), ParseError> {
    let line = match joined {
        Some(text) => ByteStr::from(text),
        None => ByteStr::from_utf8(buf.slice(start..end)).map_err(|_| ParseError::BadUtf8)?,
    };
    let colon = line.find(':').ok_or(ParseError::BadHeaderLine)?;
    let name_txt = line[..colon].trim_end_matches([' ', '\t']);
    if !is_token(name_txt) {
        return Err(ParseError::BadHeaderLine);
    }
    let name = HeaderName::parse(line.slice_ref(name_txt));
    let value_txt = line[colon + 1..].trim_matches([' ', '\t']);
    if name == HeaderName::ContentLength {
        let n = parse_content_length(value_txt.as_bytes())?;
        if content_length.is_some() {
            return Err(ParseError::DuplicateHeader("Content-Length"));
        }
        *content_length = Some(n);
    }
    if name.is_list() && value_txt.contains(',') {
        let parts = split_list(value_txt).ok_or(ParseError::BadHeader(static_name(&name)))?;
        for part in parts {
            headers.0.push(Header { name: name.clone(), value: line.slice_ref(part) });
        }
    } else {
        headers.0.push(Header { name, value: line.slice_ref(value_txt) });
    }
    Ok(())
}

/// A static name for error messages.
pub(crate) fn static_name(name: &HeaderName) -> &'static str {
    match name {
        HeaderName::Via => "Via",
        HeaderName::Contact => "Contact",
        HeaderName::Route => "Route",
        HeaderName::RecordRoute => "Record-Route",
        HeaderName::From => "From",
        HeaderName::To => "To",
        HeaderName::CallId => "Call-ID",
        HeaderName::CSeq => "CSeq",
        HeaderName::MaxForwards => "Max-Forwards",
        HeaderName::Expires => "Expires",
        HeaderName::ContentType => "Content-Type",
        HeaderName::Date => "Date",
        HeaderName::Path => "Path",
        _ => "header",
    }
}

fn parse_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    // A well-formed version other than 2.0 gets 505; anything else is a bad start line.
    let ok_shape = v.len() > 4
        && v[..4].eq_ignore_ascii_case("SIP/")
        && v[4..].split_once('.').is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
        });
    Err(if ok_shape { ParseError::BadVersion } else { ParseError::BadRequestLine })
}

fn parse_request_line(line: &ByteStr) -> Result<(Method, Uri), ParseError> {
    // Request-Line = Method SP Request-URI SP SIP-Version: exactly one space each (RFC 4475
    // lwsstart, trws, lwsruri).
    let mut it = line.split(' ');
    let (Some(m), Some(u), Some(v), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(ParseError::BadRequestLine);
    };
    if !is_token(m) {
        return Err(ParseError::BadMethod);
    }
    parse_version(v)?;
    let uri = Uri::parse(line.slice_ref(u)).map_err(|_| ParseError::BadRequestUri)?;
    // RFC 3261 §19.1.1: a Request-URI never carries URI headers (RFC 4475 escruri).
    if uri.headers().is_some() {
        return Err(ParseError::BadRequestUri);
    }
    Ok((Method::from_token(line.slice_ref(m)), uri))
}

fn parse_status_line(line: &ByteStr) -> Result<(u16, ByteStr), ParseError> {
    let (v, rest) = line.split_once(' ').ok_or(ParseError::BadStartLine)?;
    parse_version(v).map_err(|e| if e == ParseError::BadRequestLine { ParseError::BadStartLine } else { e })?;
    let (code, reason) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::BadStatus);
    }
    let status: u16 = code.parse().map_err(|_| ParseError::BadStatus)?;
    if !(100..=699).contains(&status) {
        return Err(ParseError::BadStatus);
    }
    Ok((status, line.slice_ref(reason)))
}
