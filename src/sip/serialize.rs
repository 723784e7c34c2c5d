//! Writing messages to bytes. Header names are written in their canonical long form; the
//! Content-Length is always recomputed from the body, so a forwarded message can never carry
//! a stale length.

use super::header_name::HeaderName;
use super::headers::Headers;
use super::message::{Message, Request, Response, SipHeaders};
use bytes::{BufMut, Bytes, BytesMut};

/// The exact size of the header block as `put_headers` writes it, plus the body: the output
/// buffer is allocated once at its final size (and `freeze` then needs no second allocation).
fn estimate(headers: &Headers, body: usize) -> usize {
    let hdrs: usize =
        headers.iter().filter(|h| *h.name != HeaderName::ContentLength).map(|h| h.name.as_str().len() + h.value.len() + 4).sum();
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
        if *h.name == HeaderName::ContentLength {
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

impl Request {
    /// The bytes of `self.response(status, reason, to_tag)` with the `tail` headers appended
    /// after the copied ones, written straight from the request: for an answer sent once and
    /// kept nowhere (a challenge, a REGISTER's 200), the `Response` — a header list, a tagged
    /// `To` copy and a shared reference per copied value — was built only to be written out
    /// and dropped. Byte for byte what that path writes (unit-tested against it).
    pub fn response_bytes<'a, I>(&self, status: u16, reason: &str, to_tag: Option<&str>, tail: I) -> Bytes
    where
        I: Iterator<Item = (&'a HeaderName, &'a str)> + Clone,
    {
        // Which of the request's headers a response copies, and the tag its To gets: the rules
        // of `Request::response`.
        let tag = match to_tag {
            Some(t) if status > 100 && self.to_tag().is_none() => Some(t),
            _ => None,
        };
        let copied = |name: &HeaderName| {
            matches!(name, HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq | HeaderName::To)
                || (status == 100 && *name == HeaderName::Timestamp)
        };
        let line = |name: &HeaderName, value: usize| name.as_str().len() + 2 + value + 2;
        let mut cap = "SIP/2.0 ".len() + decimal_len(status as usize) + 1 + reason.len() + 2 + "Content-Length: 0\r\n\r\n".len();
        for h in self.headers.iter().filter(|h| copied(h.name)) {
            cap += line(h.name, h.value.len());
            if let (HeaderName::To, Some(t)) = (h.name, tag) {
                cap += ";tag=".len() + t.len();
            }
        }
        cap += tail.clone().map(|(n, v)| line(n, v.len())).sum::<usize>();
        let mut out = BytesMut::with_capacity(cap);
        out.put_slice(b"SIP/2.0 ");
        put_decimal(&mut out, status as usize);
        out.put_u8(b' ');
        out.put_slice(reason.as_bytes());
        out.put_slice(b"\r\n");
        for h in self.headers.iter().filter(|h| copied(h.name)) {
            out.put_slice(h.name.as_str().as_bytes());
            out.put_slice(b": ");
            out.put_slice(h.value.as_bytes());
            if let (HeaderName::To, Some(t)) = (h.name, tag) {
                out.put_slice(b";tag=");
                out.put_slice(t.as_bytes());
            }
            out.put_slice(b"\r\n");
        }
        for (n, v) in tail {
            out.put_slice(n.as_str().as_bytes());
            out.put_slice(b": ");
            out.put_slice(v.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"Content-Length: 0\r\n\r\n");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse::test_request as request;

    /// What `response_bytes` replaces: build the `Response`, push the tail, serialize.
    fn built(req: &Request, status: u16, reason: &str, tag: Option<&str>, tail: &[(HeaderName, &str)]) -> Bytes {
        let mut r = req.response(status, reason, tag);
        for (n, v) in tail {
            r.headers.push(n.clone(), v.to_string());
        }
        r.to_bytes()
    }

    #[test]
    fn response_bytes_are_the_built_response_byte_for_byte() {
        let register = "REGISTER sip:urp.example SIP/2.0\nv: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-a;rport\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-b\nMax-Forwards: 70\nf: <sip:alice@urp.example>;tag=x1\nTo: \"Alice\" <sip:alice@urp.example>\ni: c1@host\nCSeq: 7 REGISTER\nContact: <sip:alice@10.0.0.1:5062>\nTimestamp: 54\nUser-Agent: phone/1\nContent-Length: 0\n\n";
        let tagged = "OPTIONS sip:urp.example SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-c\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>;tag=2\nCall-ID: c2\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n";
        let tail = [
            (HeaderName::Server, "urpd"),
            (HeaderName::Contact, "<sip:alice@10.0.0.1:5062>;expires=3600"),
            (HeaderName::Other("X-Odd".into()), "1"),
        ];
        for text in [register, tagged] {
            let req = request(text);
            for (status, reason, tag) in [
                (200, "OK", Some("t1")),
                (401, "Unauthorized", Some("t2")),
                (100, "Trying", None),
                (100, "Trying", Some("t3")),
                (486, "Busy (custom)", None),
            ] {
                for tail in [&tail[..], &[]] {
                    let direct = req.response_bytes(status, reason, tag, tail.iter().map(|(n, v)| (n, *v)));
                    let expected = built(&req, status, reason, tag, tail);
                    assert_eq!(
                        String::from_utf8_lossy(&direct),
                        String::from_utf8_lossy(&expected),
                        "{status} {tag:?} on {}",
                        text.lines().next().unwrap_or("")
                    );
                }
            }
        }
    }
}
