//! URIs: SIP/SIPS URIs parsed into their parts (RFC 3261 §19.1), other schemes kept opaque.
//!
//! A `Uri` keeps the text it was parsed from and offsets into it, so parsing a Request-URI or a
//! Contact costs no copy and the URI is forwarded byte for byte as it came.

use super::bytestr::ByteStr;
use super::text::{has_uri_illegal, host_name_end, is_host_name, parse_host_ip, read_port, Params, SipStr};
use std::fmt;
use std::net::IpAddr;

/// A URI scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:` (RFC 3966)
    Tel,
    /// Any other scheme; the URI is kept opaque.
    Other,
}

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// No `scheme:` prefix.
    #[error("missing scheme")]
    NoScheme,
    /// Whitespace, angle brackets or control characters inside the URI.
    #[error("illegal character in URI")]
    IllegalChar,
    /// The host part is empty or malformed.
    #[error("invalid host")]
    BadHost,
    /// The port is not a number in 1..=65535.
    #[error("invalid port")]
    BadPort,
    /// A URI parameter is malformed.
    #[error("invalid URI parameter")]
    BadParam,
}

type Span = (usize, usize);

/// A parsed URI.
#[derive(Clone, PartialEq, Eq)]
pub struct Uri {
    raw: ByteStr,
    l: Layout,
}

impl Uri {
    /// Parses `raw` (a URI without surrounding `<>`).
    pub fn parse(raw: ByteStr) -> Result<Uri, UriError> {
        let l = Layout::of(raw.as_str())?;
        Ok(Uri { raw, l })
    }

    /// Checks `s` as `parse` would, without keeping anything (header validation).
    pub fn check(s: &str) -> Result<(), UriError> {
        Layout::of(s).map(|_| ())
    }

    /// The same URI in a buffer of its own: a `Uri` parsed from a message shares the
    /// message's buffer, which it would otherwise keep alive as long as it lives.
    pub fn detached(&self) -> Uri {
        Uri { raw: ByteStr::from(self.raw.as_str()), l: self.l.clone() }
    }

    /// Whether `s` starts with the `sip:` or `sips:` scheme (any case), without parsing the
    /// rest: for text known to be a URI already.
    pub fn has_sip_scheme(s: &str) -> bool {
        sip_prefix(s.as_bytes()).is_some()
    }

    /// Parses a URI from text, copying it.
    pub fn parse_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(ByteStr::from(s))
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.l.scheme
    }

    /// The user part (still %-escaped), if any.
    pub fn user(&self) -> Option<&str> {
        self.l.user.map(|(a, b)| &self.raw[a..b])
    }

    /// The host: a name, an IPv4 address, or an IPv6 reference with its brackets.
    pub fn host(&self) -> &str {
        &self.raw[self.l.host.0..self.l.host.1]
    }

    /// The host as an IP address, brackets removed, when it is one.
    pub fn host_ip(&self) -> Option<IpAddr> {
        parse_host_ip(self.host())
    }

    /// The explicit port, if any.
    pub fn port(&self) -> Option<u16> {
        self.l.port
    }

    /// The URI parameters (`;a=b;lr`).
    pub fn params(&self) -> Params<'_> {
        Params::new(&self.raw[self.l.params.0..self.l.params.1])
    }

    /// The raw parameter text, leading `;` included.
    pub fn params_str(&self) -> &str {
        &self.raw[self.l.params.0..self.l.params.1]
    }

    /// The `?headers` part without the `?`, if any.
    pub fn headers(&self) -> Option<&str> {
        self.l.headers.map(|(a, b)| &self.raw[a..b])
    }

    /// The `transport` parameter, lowercased view not applied (compare case-insensitively).
    pub fn transport_param(&self) -> Option<&str> {
        self.params().get("transport").flatten()
    }

    /// Whether the `lr` parameter (loose routing) is present.
    pub fn is_loose_route(&self) -> bool {
        self.params().get("lr").is_some()
    }

    /// The URI exactly as received.
    pub fn as_str(&self) -> &str {
        self.raw.as_str()
    }

    /// The shared text.
    pub fn as_bytestr(&self) -> &ByteStr {
        &self.raw
    }

    /// Whether this is a sip: or sips: URI.
    pub fn is_sip(&self) -> bool {
        matches!(self.l.scheme, Scheme::Sip | Scheme::Sips)
    }
}

/// The `sip:` or `sips:` scheme at the start of a URI's text (any case), and where the text
/// after its colon starts: the common case, matched before the general scheme rule.
fn sip_prefix(b: &[u8]) -> Option<(Scheme, usize)> {
    match b {
        [s0, i0, p0, b':', ..] if [*s0, *i0, *p0].eq_ignore_ascii_case(b"sip") => Some((Scheme::Sip, 4)),
        [s0, i0, p0, s1, b':', ..] if [*s0, *i0, *p0, *s1].eq_ignore_ascii_case(b"sips") => Some((Scheme::Sips, 5)),
        _ => None,
    }
}

/// Where a URI's parts lie in its text: what `Uri` keeps besides the text itself.
#[derive(Clone, PartialEq, Eq)]
struct Layout {
    scheme: Scheme,
    user: Option<Span>,
    host: Span,
    port: Option<u16>,
    params: Span,
    headers: Option<Span>,
}

impl Layout {
    /// One forward scan for the common shapes: `sip:`/`sips:` in any case, a user part, a
    /// host name or IPv4 address, a port. Each step used to be its own search (scheme, `@`,
    /// `;`/`?`, `:`, then the host and port checked apart): ~960 instructions a URI, and a
    /// REGISTER parses five or six (the Request-URI, From, To and Contact checked, To and
    /// Contact again by the registrar). Errors are the same, in the same order.
    fn of(s: &str) -> Result<Layout, UriError> {
        let b = s.as_bytes();
        if has_uri_illegal(b) {
            return Err(UriError::IllegalChar);
        }
        let (scheme, rest_start) = match sip_prefix(b) {
            Some(p) => p,
            None => Self::scheme(s)?,
        };
        if !matches!(scheme, Scheme::Sip | Scheme::Sips) {
            if rest_start >= s.len() {
                return Err(UriError::BadHost);
            }
            let end = s.len();
            return Ok(Layout { scheme, user: None, host: (rest_start, rest_start), port: None, params: (end, end), headers: None });
        }
        let rest = &b[rest_start..];
        // '@' cannot appear unescaped in params or headers, so the first one ends userinfo.
        let (user, host_start) = match memchr::memchr(b'@', rest) {
            Some(at) => {
                // userinfo = user [":" password]; the password is not kept apart. A loop: the
                // user part is a few bytes, shorter than memchr's call and dispatch.
                let user_end = rest[..at].iter().position(|&c| c == b':').unwrap_or(at);
                if user_end == 0 {
                    return Err(UriError::BadHost);
                }
                (Some((rest_start, rest_start + user_end)), rest_start + at + 1)
            }
            None => (None, rest_start),
        };
        if b.get(host_start) == Some(&b'[') {
            return Self::bracketed(s, scheme, user, host_start);
        }
        let host_end = host_name_end(b, host_start);
        if host_end == host_start {
            return Err(UriError::BadHost);
        }
        let (port, after) = match b.get(host_end) {
            None | Some(b';' | b'?') => (None, host_end),
            Some(b':') => match read_port(b, host_end + 1) {
                Some((p, end)) if matches!(b.get(end), None | Some(b';' | b'?')) => (Some(p), end),
                _ => return Err(UriError::BadPort),
            },
            Some(_) => return Err(UriError::BadHost),
        };
        Self::finish(s, scheme, user, (host_start, host_end), port, after)
    }

    /// A scheme other than the two `of` recognises at a glance, checked and classified.
    fn scheme(s: &str) -> Result<(Scheme, usize), UriError> {
        let colon = s.find_byte(b':').ok_or(UriError::NoScheme)?;
        let scheme_txt = &s[..colon];
        if scheme_txt.is_empty()
            || !scheme_txt.as_bytes()[0].is_ascii_alphabetic()
            || !scheme_txt.bytes().all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
        {
            return Err(UriError::NoScheme);
        }
        let scheme = if scheme_txt.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_txt.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_txt.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other
        };
        Ok((scheme, colon + 1))
    }

    /// The rest of a URI whose host is an IPv6 reference (`[2001:db8::1]:5060`).
    fn bracketed(s: &str, scheme: Scheme, user: Option<Span>, host_start: usize) -> Result<Layout, UriError> {
        let hp = &s[host_start..];
        let hp_end = hp.find_byte2(b';', b'?').unwrap_or(hp.len());
        let (host, port) = split_hostport(&hp[..hp_end])?;
        let host = (host_start, host_start + host.len());
        Self::finish(s, scheme, user, host, port, host_start + hp_end)
    }

    /// Parameters and headers after the host and port, which end at `after`.
    fn finish(s: &str, scheme: Scheme, user: Option<Span>, host: Span, port: Option<u16>, after: usize) -> Result<Layout, UriError> {
        if after == s.len() {
            return Ok(Layout { scheme, user, host, port, params: (after, after), headers: None });
        }
        let (params_end, headers) = match s[after..].find_byte(b'?') {
            Some(q) => (after + q, Some((after + q + 1, s.len()))),
            None => (s.len(), None),
        };
        if !Params::new(&s[after..params_end]).validate() {
            return Err(UriError::BadParam);
        }
        Ok(Layout { scheme, user, host, port, params: (after, params_end), headers })
    }
}

/// Splits `host[:port]` (IPv6 references in brackets) and checks both parts.
pub fn split_hostport(hp: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port_txt) = if hp.starts_with('[') {
        let close = hp.find_byte(b']').ok_or(UriError::BadHost)?;
        let host = &hp[..=close];
        let inner = &hp[1..close];
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(UriError::BadHost);
        }
        let after = &hp[close + 1..];
        if after.is_empty() {
            (host, None)
        } else {
            (host, Some(after.strip_prefix(':').ok_or(UriError::BadHost)?))
        }
    } else {
        match hp.find_byte(b':') {
            Some(c) => (&hp[..c], Some(&hp[c + 1..])),
            None => (hp, None),
        }
    };
    if host.is_empty() || (!host.starts_with('[') && !is_host_name(host.as_bytes())) {
        return Err(UriError::BadHost);
    }
    let port = match port_txt {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(UriError::BadPort);
            }
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(UriError::BadPort),
                Ok(n) => Some(n),
            }
        }
    };
    Ok((host, port))
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uri({})", self.raw)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw.as_str())
    }
}

/// Decodes `%XX` escapes (RFC 3261 §19.1.4: URIs compare after unescaping). Invalid escapes
/// are kept literally.
pub fn unescape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.has_byte(b'%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheme check without a parse agrees with the parser on every URI it accepts.
    #[test]
    fn sip_scheme_without_a_parse_agrees_with_the_parser() {
        for text in ["sip:a@h", "SIP:a@h", "sips:a@h", "SiPs:h:5061", "tel:+3906", "mailto:x@y", "sipx:h", "urn:x"] {
            let parsed = Uri::parse_str(text).map(|u| u.is_sip()).unwrap_or(false);
            assert_eq!(Uri::has_sip_scheme(text), parsed, "{text}");
        }
        for text in ["", "sip", "sip;x", "sips"] {
            assert!(!Uri::has_sip_scheme(text), "{text}");
        }
    }

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse_str("sip:alice:pw@[2001:db8::1]:5070;transport=tcp;lr?Subject=x").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.scheme(), Scheme::Sip);
        assert_eq!(u.user(), Some("alice"));
        assert_eq!(u.host(), "[2001:db8::1]");
        assert_eq!(u.port(), Some(5070));
        assert_eq!(u.transport_param(), Some("tcp"));
        assert!(u.is_loose_route());
        assert_eq!(u.headers(), Some("Subject=x"));
        assert!(u.host_ip().is_some());
    }

    #[test]
    fn semicolon_in_user() {
        let u = Uri::parse_str("sip:user;par=u%40example.net@example.com").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.user(), Some("user;par=u%40example.net"));
        assert_eq!(u.host(), "example.com");
    }

    #[test]
    fn rejects_bad() {
        assert!(Uri::parse_str("sip:user@example.com:99999").is_err());
        assert!(Uri::parse_str("sip:us er@example.com").is_err());
        assert!(Uri::parse_str("<sip:x@y>").is_err());
        assert!(Uri::parse_str("nocolon").is_err());
        assert!(Uri::parse_str("sip:@host").is_err());
        assert!(Uri::parse_str("tel:+390612345").is_ok());
    }

    #[test]
    fn one_scan_keeps_every_rule() {
        use UriError::*;
        // (uri, Err(kind) or Ok((user, host, port, params, headers)))
        type Parts = (Option<&'static str>, &'static str, Option<u16>, &'static str, Option<&'static str>);
        let cases: [(&str, Result<Parts, UriError>); 26] = [
            ("sip:u1@127.0.0.1:5061", Ok((Some("u1"), "127.0.0.1", Some(5061), "", None))),
            ("SIP:u1@Example.COM", Ok((Some("u1"), "Example.COM", None, "", None))),
            ("sIpS:a:pw@h;lr", Ok((Some("a"), "h", None, ";lr", None))),
            ("sip:h", Ok((None, "h", None, "", None))),
            ("sip:h:65535;transport=tcp?X=1", Ok((None, "h", Some(65535), ";transport=tcp", Some("X=1")))),
            ("sip:h?X=1", Ok((None, "h", None, "", Some("X=1")))),
            ("sip:h;", Err(BadParam)),
            ("sip:[::1]:5060;lr", Ok((None, "[::1]", Some(5060), ";lr", None))),
            ("sip:u@[2001:db8::1]", Ok((Some("u"), "[2001:db8::1]", None, "", None))),
            ("sip:u@[2001:db8::1", Err(BadHost)),
            ("sip:[zz]", Err(BadHost)),
            ("sip:h:", Err(BadPort)),
            ("sip:h:0", Err(BadPort)),
            ("sip:h:65536", Err(BadPort)),
            ("sip:h:123456", Err(BadPort)),
            ("sip:h:50a", Err(BadPort)),
            ("sip:h:1:2", Err(BadPort)),
            ("sip:my_host", Err(BadHost)),
            ("sip:u@", Err(BadHost)),
            ("sip:@h", Err(BadHost)),
            ("sip:", Err(BadHost)),
            ("sip:h/x", Err(BadHost)),
            ("sip:h h", Err(IllegalChar)),
            ("1sip:h", Err(NoScheme)),
            ("si p:h", Err(IllegalChar)),
            ("sipx:anything", Ok((None, "", None, "", None))),
        ];
        for (text, want) in cases {
            let got = Uri::parse_str(text).map(|u| {
                let user = u.user().map(|x| x.to_string());
                (user, u.host().to_string(), u.port(), u.params_str().to_string(), u.headers().map(|x| x.to_string()))
            });
            let want = want.map(|(u, h, p, pa, he)| (u.map(String::from), h.to_string(), p, pa.to_string(), he.map(String::from)));
            assert_eq!(got, want, "{text}");
        }
        assert_eq!(Uri::parse_str("sipx:anything").map(|u| u.scheme()), Ok(Scheme::Other));
        assert_eq!(Uri::parse_str("SIPS:h").map(|u| u.scheme()), Ok(Scheme::Sips));
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape("sip%3Auser"), "sip:user");
        assert_eq!(unescape("%zz"), "%zz");
        assert_eq!(unescape("%4"), "%4");
    }
}
