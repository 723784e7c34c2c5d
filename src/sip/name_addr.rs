//! `name-addr` / `addr-spec` values: From, To, Contact, Route, Record-Route (RFC 3261 §20.10).
//!
//! Parsed by borrowing from the header value. Without angle brackets, everything after the first
//! `;` belongs to the header, not the URI (§20.10), and `?` or `,` in the URI is refused.

use super::text::{is_token_char, is_ws, quoted_len, Params, SipStr};

/// A parsed `name-addr` or `addr-spec` with its header parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, quotes included when it was quoted.
    pub display: Option<&'a str>,
    /// The URI text, without angle brackets.
    pub uri: &'a str,
    /// The header parameters (`;tag=..;expires=..`), leading `;` included.
    pub params_str: &'a str,
    /// Whether the URI was enclosed in `<>`.
    pub bracketed: bool,
}

/// Why a name-addr was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameAddrError {
    /// A quoted display name is not closed.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// `<` without `>`.
    #[error("unterminated angle bracket")]
    UnterminatedBracket,
    /// An unquoted display name holds characters that need quoting.
    #[error("display name must be quoted")]
    BadDisplayName,
    /// A URI with `?`, `,` or `;` in its own part must be bracketed.
    #[error("URI must be enclosed in angle brackets")]
    NeedsBrackets,
    /// Something other than parameters follows the URI.
    #[error("unexpected text after URI")]
    TrailingGarbage,
    /// Empty value.
    #[error("empty value")]
    Empty,
}

impl<'a> NameAddr<'a> {
    /// Parses one name-addr or addr-spec (a single list element).
    pub fn parse(value: &'a str) -> Result<NameAddr<'a>, NameAddrError> {
        let v = value.trim_lws();
        if v.is_empty() {
            return Err(NameAddrError::Empty);
        }
        let b = v.as_bytes();
        let (display, lt) = if b[0] == b'"' {
            let n = quoted_len(b).ok_or(NameAddrError::UnterminatedQuote)?;
            let rest = v[n..].trim_lws_start();
            if !rest.starts_with('<') {
                return Err(NameAddrError::BadDisplayName);
            }
            (Some(&v[..n]), v.len() - rest.len())
        } else if let Some(lt) = v.find_byte(b'<') {
            let dn = v[..lt].trim_lws();
            // An unquoted display name is a sequence of tokens separated by whitespace.
            if !dn.bytes().all(|c| is_token_char(c) || is_ws(c)) {
                return Err(NameAddrError::BadDisplayName);
            }
            (if dn.is_empty() { None } else { Some(dn) }, lt)
        } else {
            // addr-spec: the URI ends at the first ';' (the rest are header params).
            let end = v.find_byte(b';').unwrap_or(v.len());
            let uri = v[..end].trim_lws_end();
            if uri.contains(['?', ',']) || uri.bytes().any(is_ws) {
                return Err(NameAddrError::NeedsBrackets);
            }
            let params_str = &v[end..];
            return Ok(NameAddr { display: None, uri, params_str, bracketed: false });
        };
        let after_lt = &v[lt + 1..];
        let gt = after_lt.find_byte(b'>').ok_or(NameAddrError::UnterminatedBracket)?;
        let uri = &after_lt[..gt];
        let params_str = after_lt[gt + 1..].trim_lws_start();
        if !params_str.is_empty() && !params_str.starts_with(';') {
            return Err(NameAddrError::TrailingGarbage);
        }
        Ok(NameAddr { display, uri, params_str, bracketed: true })
    }

    /// The header parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params_str)
    }

    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&'a str> {
        self.params().get("tag").flatten()
    }

    /// The `expires` parameter (Contact), if numeric. Values too large for u32 saturate.
    pub fn expires(&self) -> Option<u32> {
        let v = self.params().get("expires").flatten()?;
        if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(v.parse::<u64>().map(|n| n.min(u32::MAX as u64) as u32).unwrap_or(u32::MAX))
    }

    /// The `q` parameter (Contact) in thousandths, 1000 when absent; `None` if malformed.
    pub fn q(&self) -> Option<u16> {
        match self.params().get("q") {
            None => Some(1000),
            Some(v) => parse_qvalue(v?),
        }
    }
}

/// Parses a `qvalue` (0 to 1, at most three decimals) into thousandths.
pub fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = match s.split_once_byte(b'.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, c) in frac.bytes().enumerate() {
        thousandths += u16::from(c - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let n =
            NameAddr::parse(r#""J Rosenberg \\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.uri, "sip:jdrosen@example.com");
        assert_eq!(n.tag(), Some("98asjd8"));
        let n = NameAddr::parse("sip:j.user@example.com;tag=43251j3j324").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.uri, "sip:j.user@example.com");
        assert_eq!(n.tag(), Some("43251j3j324"));
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.display, Some("caller"));
        assert_eq!(NameAddr::parse(r#""unterminated <sip:x@y>"#), Err(NameAddrError::UnterminatedQuote));
        assert_eq!(NameAddr::parse("Bell, Alexander <sip:a@b>"), Err(NameAddrError::BadDisplayName));
        assert_eq!(NameAddr::parse("sip:user@example.com?Route=x"), Err(NameAddrError::NeedsBrackets));
    }

    #[test]
    fn contact_params() {
        let n = NameAddr::parse("<sip:a@b>;expires=3600;q=0.7").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.expires(), Some(3600));
        assert_eq!(n.q(), Some(700));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.33"), Some(330));
    }
}
