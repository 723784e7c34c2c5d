//! Writing messages to bytes. Header names are written in their canonical long form; the
//! Content-Length is always recomputed from the body, so a forwarded message can never carry
//! a stale length.

use super::header_name::HeaderName;
use super::headers::Headers;
use super::message::{Message, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};

fn estimate(headers: &Headers, body: usize) -> usize {
    64 + body + headers.iter().map(|h| h.name.as_str().len() + h.value.len() + 4).sum::<usize>()
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
fn put_decimal(out: &mut BytesMut, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

impl Request {
    /// Serializes the request.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(estimate(&self.headers, self.body.len()) + self.uri.as_str().len());
        out.put_slice(self.method.as_str().as_bytes());
        out.put_u8(b' ');
        out.put_slice(self.uri.as_str().as_bytes());
        out.put_slice(b" SIP/2.0\r\n");
        put_headers(&mut out, &self.headers, self.body.len());
        out.put_slice(&self.body);
        out.freeze()
    }
}

impl Response {
    /// Serializes the response.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(estimate(&self.headers, self.body.len()) + self.reason.len());
        out.put_slice(b"SIP/2.0 ");
        put_decimal(&mut out, self.status as usize);
        out.put_u8(b' ');
        out.put_slice(self.reason.as_bytes());
        out.put_slice(b"\r\n");
        put_headers(&mut out, &self.headers, self.body.len());
        out.put_slice(&self.body);
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
