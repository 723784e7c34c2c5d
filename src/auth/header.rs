//! Parsing `Authorization` / `Proxy-Authorization` digest values and building challenges.
//!
//! Contract: [`DigestCredentials::parse`] takes one header *value* (without the header name),
//! never panics, and borrows from the input wherever no unescaping was needed. The grammar is
//! RFC 3261 §25.1 `credentials` / RFC 7235 auth-params, read leniently where real phones
//! deviate: any value may be a token or a quoted-string, whitespace (including folded CRLF)
//! may surround `=` and `,`, empty list elements are skipped, and unknown params are ignored.
//! Strictness is kept where it matters for security: a known parameter given twice is an
//! error (which copy would the hash use?), and `userhash=true` is refused, not ignored.
//!
//! The parser checks syntax only; semantic checks (realm, qop, algorithm, nonce) are in
//! `verify.rs` so that each failure has a [`super::Reason`]-style name there.

use super::algorithm::Algorithm;
use std::borrow::Cow;
use std::fmt;

/// Why a credentials header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The value is empty or only whitespace.
    #[error("empty credentials")]
    Empty,
    /// The auth-scheme is not `Digest` (compared case-insensitively).
    #[error("auth scheme is not Digest")]
    NotDigest,
    /// A parameter required by RFC 3261 §22.4 / RFC 7616 §3.4 is absent.
    #[error("missing parameter {0}")]
    MissingParam(&'static str),
    /// A known parameter occurs more than once.
    #[error("duplicate parameter {0}")]
    DuplicateParam(&'static str),
    /// A quoted-string has no closing quote (or ends in a lone backslash).
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// The input does not follow the auth-param grammar at byte offset `at`.
    #[error("syntax error at byte {at}: expected {expected}")]
    Syntax {
        /// Byte offset into the header value.
        at: usize,
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// `nc` is not exactly 8 hex digits, or is zero (counts start at 1).
    #[error("nc must be 8 hex digits, not zero")]
    BadNc,
    /// `userhash=true` (RFC 7616 §3.4.4): we keep no hashed-username index, so we refuse it.
    #[error("userhash=true is not supported")]
    UserhashUnsupported,
    /// A parameter's value is outside its grammar (e.g. `userhash=maybe`).
    #[error("invalid value for parameter {0}")]
    InvalidValue(&'static str),
}

/// The `nc` (nonce-count) parameter: its numeric value and the text the client hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceCount<'a> {
    /// Numeric value, always >= 1.
    pub value: u32,
    /// The 8 hex digits exactly as sent; the response hash covers this text, case included.
    pub raw: Cow<'a, str>,
}

/// Parsed digest credentials. Values are unescaped; they borrow from the header value unless
/// a quoted-string contained a backslash escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials<'a> {
    /// `username`.
    pub username: Cow<'a, str>,
    /// `realm`.
    pub realm: Cow<'a, str>,
    /// `nonce`, as we issued it (if the client is honest).
    pub nonce: Cow<'a, str>,
    /// `uri` (digest-uri); SIP clients copy the Request-URI verbatim.
    pub uri: Cow<'a, str>,
    /// `response`, the hex digest to check.
    pub response: Cow<'a, str>,
    /// `algorithm` as sent; absent means MD5 (see [`DigestCredentials::algorithm`]).
    pub algorithm: Option<Cow<'a, str>>,
    /// `cnonce`; present whenever `qop` is.
    pub cnonce: Option<Cow<'a, str>>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<Cow<'a, str>>,
    /// `qop` as sent (a single value, e.g. `auth`).
    pub qop: Option<Cow<'a, str>>,
    /// `nc`; present whenever `qop` is.
    pub nc: Option<NonceCount<'a>>,
}

impl<'a> DigestCredentials<'a> {
    /// Parses one `Authorization` / `Proxy-Authorization` header value.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        let mut cur = Cursor { s: value, pos: 0 };
        cur.skip_ws();
        if cur.at_end() {
            return Err(ParseError::Empty);
        }
        let scheme = cur.token().ok_or(ParseError::NotDigest)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(ParseError::NotDigest);
        }
        // The scheme must be separated from the first param by whitespace.
        if !cur.at_end() && !cur.peek().is_some_and(is_ws) {
            return Err(ParseError::NotDigest);
        }

        let mut raw = RawParams::default();
        loop {
            // Skip whitespace and empty list elements (RFC 7230 §7 "#rule" leniency).
            while cur.peek().is_some_and(|b| is_ws(b) || b == b',') {
                cur.pos += 1;
            }
            if cur.at_end() {
                break;
            }
            let name_at = cur.pos;
            let name = cur.token().ok_or(ParseError::Syntax { at: name_at, expected: "parameter name" })?;
            cur.skip_ws();
            if cur.peek() != Some(b'=') {
                return Err(ParseError::Syntax { at: cur.pos, expected: "'='" });
            }
            cur.pos += 1;
            cur.skip_ws();
            let value = if cur.peek() == Some(b'"') {
                cur.quoted()?
            } else {
                let at = cur.pos;
                Cow::Borrowed(cur.token().ok_or(ParseError::Syntax { at, expected: "token or quoted-string" })?)
            };
            if let Some((canonical, slot)) = raw.slot(name) {
                if slot.is_some() {
                    return Err(ParseError::DuplicateParam(canonical));
                }
                *slot = Some(value);
            }
            cur.skip_ws();
            match cur.peek() {
                None => break,
                Some(b',') => cur.pos += 1,
                Some(_) => return Err(ParseError::Syntax { at: cur.pos, expected: "',' or end" }),
            }
        }
        raw.finish()
    }

    /// The algorithm in use: the `algorithm` param parsed, or MD5 when absent (RFC 7616 §3.4).
    pub fn algorithm(&self) -> Result<Algorithm, super::algorithm::AlgorithmError> {
        match &self.algorithm {
            None => Ok(Algorithm::Md5),
            Some(a) => Algorithm::parse(a),
        }
    }
}

/// Collected params before the required/consistency checks.
#[derive(Default)]
struct RawParams<'a> {
    username: Option<Cow<'a, str>>,
    realm: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
    response: Option<Cow<'a, str>>,
    algorithm: Option<Cow<'a, str>>,
    cnonce: Option<Cow<'a, str>>,
    opaque: Option<Cow<'a, str>>,
    qop: Option<Cow<'a, str>>,
    nc: Option<Cow<'a, str>>,
    userhash: Option<Cow<'a, str>>,
}

impl<'a> RawParams<'a> {
    /// The slot for a known parameter name (case-insensitive, RFC 7235 §2.1), with its
    /// canonical spelling for error messages; `None` for unknown params, which are ignored.
    fn slot(&mut self, name: &str) -> Option<(&'static str, &mut Option<Cow<'a, str>>)> {
        // Dispatch on the length first: at most three names share one, so a parameter costs a
        // comparison or three instead of up to eleven (~5,000 instructions a header before).
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        match name.len() {
            2 if is("nc") => Some(("nc", &mut self.nc)),
            3 if is("uri") => Some(("uri", &mut self.uri)),
            3 if is("qop") => Some(("qop", &mut self.qop)),
            5 if is("realm") => Some(("realm", &mut self.realm)),
            5 if is("nonce") => Some(("nonce", &mut self.nonce)),
            6 if is("cnonce") => Some(("cnonce", &mut self.cnonce)),
            6 if is("opaque") => Some(("opaque", &mut self.opaque)),
            8 if is("username") => Some(("username", &mut self.username)),
            8 if is("response") => Some(("response", &mut self.response)),
            8 if is("userhash") => Some(("userhash", &mut self.userhash)),
            9 if is("algorithm") => Some(("algorithm", &mut self.algorithm)),
            _ => None,
        }
    }

    fn finish(self) -> Result<DigestCredentials<'a>, ParseError> {
        if let Some(u) = &self.userhash {
            if u.eq_ignore_ascii_case("true") {
                return Err(ParseError::UserhashUnsupported);
            } else if !u.eq_ignore_ascii_case("false") {
                return Err(ParseError::InvalidValue("userhash"));
            }
        }
        let nc = match self.nc {
            None => None,
            Some(raw) => Some(NonceCount { value: parse_nc(&raw)?, raw }),
        };
        // RFC 7616 §3.4: with qop, cnonce and nc MUST be sent; without them no response
        // can be recomputed, so catch it here with a precise name.
        if self.qop.is_some() {
            if self.cnonce.is_none() {
                return Err(ParseError::MissingParam("cnonce"));
            }
            if nc.is_none() {
                return Err(ParseError::MissingParam("nc"));
            }
        }
        Ok(DigestCredentials {
            username: self.username.ok_or(ParseError::MissingParam("username"))?,
            realm: self.realm.ok_or(ParseError::MissingParam("realm"))?,
            nonce: self.nonce.ok_or(ParseError::MissingParam("nonce"))?,
            uri: self.uri.ok_or(ParseError::MissingParam("uri"))?,
            response: self.response.ok_or(ParseError::MissingParam("response"))?,
            algorithm: self.algorithm,
            cnonce: self.cnonce,
            opaque: self.opaque,
            qop: self.qop,
            nc,
        })
    }
}

/// `nc-value = 8LHEX` (we accept upper case too); zero is refused since counts start at 1.
fn parse_nc(raw: &str) -> Result<u32, ParseError> {
    if raw.len() != 8 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::BadNc);
    }
    match u32::from_str_radix(raw, 16) {
        Ok(0) | Err(_) => Err(ParseError::BadNc),
        Ok(v) => Ok(v),
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 §25.1 `token` characters, by table (one load a byte: tokens are most of the
/// header).
fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~');
        c += 1;
    }
    t
};

/// Byte cursor over the header value. Every slice it takes starts and ends next to an ASCII
/// byte, so it is on a char boundary; `str::get` is used anyway so nothing can panic.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        if self.pos == start {
            None
        } else {
            self.s.get(start..self.pos)
        }
    }

    /// Reads a quoted-string starting at the opening quote; unescapes `\x` to `x`.
    fn quoted(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.pos += 1; // opening quote
        let mut owned: Option<String> = None;
        let mut seg_start = self.pos;
        loop {
            // Jump to the next quote or backslash (values are tens of bytes: memchr pays).
            let rest = self.s.as_bytes().get(self.pos..).unwrap_or_default();
            self.pos += memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
            match self.peek() {
                None => return Err(ParseError::UnterminatedQuote),
                Some(b'"') => {
                    let tail = self.s.get(seg_start..self.pos).ok_or(ParseError::UnterminatedQuote)?;
                    self.pos += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut o) => {
                            o.push_str(tail);
                            Cow::Owned(o)
                        }
                    });
                }
                Some(b'\\') => {
                    let seg = self.s.get(seg_start..self.pos).ok_or(ParseError::UnterminatedQuote)?;
                    let escaped = self.s.get(self.pos + 1..).and_then(|rest| rest.chars().next()).ok_or(ParseError::UnterminatedQuote)?;
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(seg);
                    o.push(escaped);
                    self.pos += 1 + escaped.len_utf8();
                    seg_start = self.pos;
                }
                // Not reached after the memchr jump; kept so the match needs no panic.
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// One `WWW-Authenticate` / `Proxy-Authenticate` digest challenge value (RFC 7616 §3.3).
/// Its `Display` output is the header value, e.g.
/// `Digest realm="urp.example", nonce="…", opaque="…", algorithm=SHA-256, qop="auth"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// Protection space; shown to users by some phones.
    pub realm: &'a str,
    /// Server nonce (see `nonce.rs`).
    pub nonce: &'a str,
    /// Opaque string the client must echo; omitted when `None`.
    pub opaque: Option<&'a str>,
    /// Algorithm this challenge is for.
    pub algorithm: Algorithm,
    /// `stale=true`: the previous response was right but its nonce had expired, so the client
    /// should retry with the new nonce without asking the user for a password.
    pub stale: bool,
}

impl Challenge<'_> {
    /// Writes the header value to `out`. Generic so that writing into a `String` (each 401) is
    /// plain appends: going through `Display` and `core::fmt::write` cost ~1,900 instructions
    /// a challenge.
    pub fn write_to<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        out.write_str("Digest realm=")?;
        write_quoted(out, self.realm)?;
        out.write_str(", nonce=")?;
        write_quoted(out, self.nonce)?;
        if let Some(o) = self.opaque {
            out.write_str(", opaque=")?;
            write_quoted(out, o)?;
        }
        out.write_str(", algorithm=")?;
        out.write_str(self.algorithm.name())?;
        out.write_str(", qop=\"auth\"")?;
        if self.stale {
            out.write_str(", stale=true")?;
        }
        Ok(())
    }
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

/// Writes a quoted-string, escaping `"` and `\`. Control characters (CR/LF above all) are
/// dropped: they cannot appear in a quoted-string and would allow header injection.
fn write_quoted<W: fmt::Write>(f: &mut W, s: &str) -> fmt::Result {
    f.write_char('"')?;
    // Runs of plain text go out whole (a write per char was ~1% of the samples at 8,000
    // REGISTER/s): only quotes and backslashes are escaped, control characters dropped. The
    // scan is by byte (a `char_indices` walk with Unicode `is_control` was ~45 instructions a
    // character); a cut is only ever made before an ASCII byte or a two-byte C1 control.
    let b = s.as_bytes();
    // Nonces, opaques and realms are plain printable ASCII: one vectorisable check, one write.
    if b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\') {
        f.write_str(s)?;
        return f.write_char('"');
    }
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        let c = b[i];
        let width = match c {
            b'"' | b'\\' | 0..=0x1f | 0x7f => 1,
            // U+0080..U+009F, the C1 controls: 0xC2 0x80..=0x9F in UTF-8.
            0xc2 if matches!(b.get(i + 1), Some(0x80..=0x9f)) => 2,
            _ => {
                i += 1;
                continue;
            }
        };
        f.write_str(&s[start..i])?;
        if width == 1 && (c == b'"' || c == b'\\') {
            f.write_char('\\')?;
            f.write_char(char::from(c))?;
        }
        i += width;
        start = i;
    }
    f.write_str(&s[start..])?;
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"Digest username="bob", realm="x", nonce="abc", uri="sip:x", response="0123", algorithm=SHA-256, cnonce="cn", nc=00000001, qop=auth, opaque="op""#;

    #[test]
    fn parses_full_and_borrows() {
        let c = DigestCredentials::parse(FULL).unwrap();
        assert_eq!(c.username, "bob");
        assert_eq!(c.realm, "x");
        assert_eq!(c.nonce, "abc");
        assert_eq!(c.uri, "sip:x");
        assert_eq!(c.response, "0123");
        assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
        assert_eq!(c.cnonce.as_deref(), Some("cn"));
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.opaque.as_deref(), Some("op"));
        let nc = c.nc.clone().unwrap();
        assert_eq!((nc.value, &*nc.raw), (1, "00000001"));
        assert!(matches!(c.username, Cow::Borrowed(_)));
    }

    #[test]
    fn lowercase_scheme_spaces_and_folding() {
        let v = "  digest   USERNAME = \"bob\" ,realm=\"x\"\r\n\t,nonce =\"n\",, uri= \"sip:x\" , response=\"r\"  ";
        let c = DigestCredentials::parse(v).unwrap();
        assert_eq!((&*c.username, &*c.realm, &*c.nonce, &*c.uri), ("bob", "x", "n", "sip:x"));
        assert_eq!(c.algorithm(), Ok(Algorithm::Md5), "absent algorithm means MD5");
        assert!(c.qop.is_none());
    }

    #[test]
    fn escaped_quotes_and_backslashes() {
        let v = r#"Digest username="b\"o\\b", realm="a\,b", nonce="n", uri="sip:x", response="r", cnonce="é\é""#;
        let c = DigestCredentials::parse(v).unwrap();
        assert_eq!(c.username, "b\"o\\b");
        assert!(matches!(c.username, Cow::Owned(_)));
        assert_eq!(c.realm, "a,b");
        assert_eq!(c.cnonce.as_deref(), Some("éé"));
    }

    #[test]
    fn unknown_params_ignored() {
        let v = r#"Digest foo=bar, username="u", x-y="q,\"z", realm="r", nonce="n", uri="u", response="p", baz=1"#;
        assert_eq!(DigestCredentials::parse(v).unwrap().username, "u");
    }

    #[test]
    fn quoted_tokens_accepted() {
        let v = r#"Digest username="u", realm="r", nonce="n", uri="u", response="p", algorithm="sha-256", qop="auth", nc="0000000A", cnonce="c""#;
        let c = DigestCredentials::parse(v).unwrap();
        assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
        assert_eq!(c.nc.unwrap().value, 10);
    }

    #[test]
    fn missing_params() {
        let e = |v| DigestCredentials::parse(v).unwrap_err();
        assert_eq!(e(r#"Digest realm="r", nonce="n", uri="u", response="p""#), ParseError::MissingParam("username"));
        assert_eq!(e(r#"Digest username="u", realm="r", nonce="n", uri="u""#), ParseError::MissingParam("response"));
        assert_eq!(e("Digest"), ParseError::MissingParam("username"));
        assert_eq!(
            e(r#"Digest username="u", realm="r", nonce="n", uri="u", response="p", qop=auth, nc=00000001"#),
            ParseError::MissingParam("cnonce")
        );
        assert_eq!(
            e(r#"Digest username="u", realm="r", nonce="n", uri="u", response="p", qop=auth, cnonce="c""#),
            ParseError::MissingParam("nc")
        );
    }

    #[test]
    fn token_table_matches_the_grammar() {
        for c in 0..=255u8 {
            assert_eq!(is_tchar(c), c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c), "{c}");
        }
    }

    #[test]
    fn duplicates_rejected_case_insensitively() {
        let v = r#"Digest username="u", realm="r", nonce="n", uri="u", response="p", Realm="other""#;
        assert_eq!(DigestCredentials::parse(v).unwrap_err(), ParseError::DuplicateParam("realm"));
        // Every known name is recognised in any case (a repeat is refused under its own name).
        for name in ["username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "opaque", "qop", "nc", "userhash"] {
            let v = format!(r#"Digest {name}=x, {}=y"#, name.to_ascii_uppercase());
            assert_eq!(DigestCredentials::parse(&v).unwrap_err(), ParseError::DuplicateParam(name), "{name}");
        }
    }

    #[test]
    fn scheme_and_syntax_errors() {
        let e = |v| DigestCredentials::parse(v).unwrap_err();
        assert_eq!(e(""), ParseError::Empty);
        assert_eq!(e("   "), ParseError::Empty);
        assert_eq!(e("Basic dXNlcjpwYXNz"), ParseError::NotDigest);
        assert_eq!(e("Digestusername=\"u\""), ParseError::NotDigest);
        assert_eq!(e("\"Digest\""), ParseError::NotDigest);
        assert_eq!(e(r#"Digest username="u"#), ParseError::UnterminatedQuote);
        assert_eq!(e(r#"Digest username="u\"#), ParseError::UnterminatedQuote);
        assert!(matches!(e(r#"Digest username "u""#), ParseError::Syntax { .. }));
        assert!(matches!(e(r#"Digest username="u" realm="r""#), ParseError::Syntax { .. }));
        assert!(matches!(e(r#"Digest username=, realm="r""#), ParseError::Syntax { .. }));
        assert!(matches!(e("Digest =\"x\""), ParseError::Syntax { .. }));
    }

    #[test]
    fn bad_nc() {
        for nc in ["1", "0000000g", "000000001", "00000000", "+0000001"] {
            let v = format!(r#"Digest username="u", realm="r", nonce="n", uri="u", response="p", qop=auth, cnonce="c", nc={nc}"#);
            assert_eq!(DigestCredentials::parse(&v).unwrap_err(), ParseError::BadNc, "{nc}");
        }
    }

    #[test]
    fn userhash() {
        let base = r#"Digest username="u", realm="r", nonce="n", uri="u", response="p", userhash="#;
        assert_eq!(DigestCredentials::parse(&format!("{base}true")).unwrap_err(), ParseError::UserhashUnsupported);
        assert_eq!(DigestCredentials::parse(&format!("{base}\"TRUE\"")).unwrap_err(), ParseError::UserhashUnsupported);
        assert!(DigestCredentials::parse(&format!("{base}false")).is_ok());
        assert_eq!(DigestCredentials::parse(&format!("{base}maybe")).unwrap_err(), ParseError::InvalidValue("userhash"));
    }

    #[test]
    fn never_panics_on_prefixes() {
        // Every prefix of valid and odd inputs (incl. multi-byte chars) must return, not panic.
        for s in [FULL, r#"Digest username="é\€", realm="€""#] {
            for (i, _) in s.char_indices() {
                let _ = DigestCredentials::parse(&s[..i]);
            }
        }
    }

    #[test]
    fn challenge_format() {
        let c = Challenge { realm: "a\"b\\c\r\n", nonce: "n1", opaque: Some("o"), algorithm: Algorithm::Sha256, stale: true };
        assert_eq!(c.to_string(), r#"Digest realm="a\"b\\c", nonce="n1", opaque="o", algorithm=SHA-256, qop="auth", stale=true"#);
        // Every character up to U+07FF (and a few wider ones) between plain text: dropped if
        // a control, escaped if a quote or backslash, else kept whole.
        for c in (0u32..0x800).filter_map(char::from_u32).chain(['€', '😀', '\u{2028}']) {
            let realm = format!("a{c}b{c}");
            let want: String = realm
                .chars()
                .filter(|c| !c.is_control())
                .flat_map(|c| {
                    let esc = matches!(c, '"' | '\\').then_some('\\');
                    esc.into_iter().chain(std::iter::once(c))
                })
                .collect();
            let got = Challenge { realm: &realm, nonce: "n", opaque: None, algorithm: Algorithm::Md5, stale: false }.to_string();
            assert_eq!(got, format!("Digest realm=\"{want}\", nonce=\"n\", algorithm=MD5, qop=\"auth\""), "U+{:04X}", c as u32);
        }
        // Multi-byte text stays whole; a C1 control (NEL) is dropped like CR/LF.
        let c = Challenge { realm: "Città\u{85}\"x", nonce: "n", opaque: None, algorithm: Algorithm::Md5, stale: false };
        assert!(c.to_string().starts_with(r#"Digest realm="Città\"x", nonce="n""#));
        let c = Challenge { realm: "r", nonce: "n", opaque: None, algorithm: Algorithm::Md5, stale: false };
        assert_eq!(c.to_string(), r#"Digest realm="r", nonce="n", algorithm=MD5, qop="auth""#);
    }
}
