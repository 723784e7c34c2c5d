//! Writing messages to bytes. Header names are written in their canonical long form; the
//! Content-Length is always recomputed from the body, so a forwarded message can never carry
//! a stale length.

use super::header_name::HeaderName;
use super::headers::Headers;
use super::message::{Message, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};

/// The exact size of the header block as `put_headers` writes it, plus the body: the output
/// buffer is allocated once at its final size (and `freeze` then needs no second allocation).
fn estimate(headers: &Headers, body: usize) -> usize {
    let hdrs: usize =
        headers.iter().filter(|h| h.name != HeaderName::ContentLength).map(|h| h.name.as_str().len() + h.value.len() + 4).sum();
    hdrs + "Content-Length: ".len() + decimal_len(body) + 4 + body
}

fn decimal_len(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

fn put_headers(out: &mut BytesMut, headers: &Headers, body_len: usize) {
    for h in headers.iter() {
        if h.name == HeaderName::ContentLength {
            continue;
        }
        out.put_slice(h.name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(h.value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"Content-Length: ");
    put_decimal(out, body_len);
    out.put_slice(b"\r\n\r\n");
}

/// Writes `n` in decimal without allocating.
fn put_decimal(out: &mut BytesMut, n: usize) {
    let mut buf = [0u8; 20];
    out.put_slice(super::text::decimal_digits(n as u64, &mut buf));
}

impl Request {
    /// Serializes the request.
    pub fn to_bytes(&self) -> Bytes {
        let cap =
            estimate(&self.headers, self.body.len()) + self.method.as_str().len() + self.uri.as_str().len() + " SIP/2.0\r\n".len() + 1;
        let mut out = BytesMut::with_capacity(cap);
        out.put_slice(self.method.as_str().as_bytes());
        out.put_u8(b' ');
        out.put_slice(self.uri.as_str().as_bytes());
        out.put_slice(b" SIP/2.0\r\n");
        put_headers(&mut out, &self.headers, self.body.len());
        out.put_slice(&self.body);
        debug_assert_eq!(out.len(), cap);
        out.freeze()
    }
}

impl Response {
    /// Serializes the response.
    pub fn to_bytes(&self) -> Bytes {
        let cap =
            estimate(&self.headers, self.body.len()) + "SIP/2.0 ".len() + decimal_len(self.status as usize) + 1 + self.reason.len() + 2;
        let mut out = BytesMut::with_capacity(cap);
        out.put_slice(b"SIP/2.0 ");
        put_decimal(&mut out, self.status as usize);
        out.put_u8(b' ');
        out.put_slice(self.reason.as_bytes());
        out.put_slice(b"\r\n");
        put_headers(&mut out, &self.headers, self.body.len());
        out.put_slice(&self.body);
        debug_assert_eq!(out.len(), cap);
        out.freeze()
    }
}

impl Message {
    /// Serializes the message.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}
