//! URI equality (RFC 3261 §19.1.4) for finding a stored binding, and the AOR key.
//!
//! Two registrations of "the same" contact may be spelled differently (`SIP:` vs `sip:`, host
//! case, `%`-escapes, parameter order); the registrar must treat them as one binding or a phone
//! would pile up duplicates on every refresh.

use crate::sip::text::SipStr;
use crate::sip::uri::unescape;
use crate::sip::{Scheme, Uri};

/// Whether two URIs are equal under RFC 3261 §19.1.4:
///
/// - scheme equal (`sip` ≠ `sips`);
/// - user part case-sensitive, compared after unescaping;
/// - host case-insensitive (no DNS resolution), port equal *including absence* (an omitted
///   port does not match an explicit 5060);
/// - `user`, `ttl`, `method`, `maddr`, `transport` must be in both or neither and equal;
///   any other parameter is compared only when both carry it (values case-insensitive, after
///   unescaping);
/// - URI headers (`?a=b`) must be the same set on both sides.
///
/// Non-SIP URIs compare by scheme-insensitive exact text (we never register them anyway).
pub fn uri_equal(a: &Uri, b: &Uri) -> bool {
    // The same text is the same URI; a phone refreshing its binding sends exactly what it sent
    // before, and the rules below cost ~3,500 instructions (unescaped copies, lowercased
    // parameter values) per stored contact compared.
    if a.as_str() == b.as_str() {
        return true;
    }
    if a.scheme() != b.scheme() {
        return false;
    }
    if !matches!(a.scheme(), Scheme::Sip | Scheme::Sips) {
        let strip = |u: &Uri| u.as_str().split_once_byte(b':').map(|(_, r)| r.to_owned()).unwrap_or_default();
        return strip(a) == strip(b);
    }
    let user_eq = match (a.user(), b.user()) {
        (None, None) => true,
        (Some(x), Some(y)) => unescape(x) == unescape(y),
        _ => false,
    };
    if !user_eq || !a.host().eq_ignore_ascii_case(b.host()) || a.port() != b.port() {
        return false;
    }
    params_equal(a, b) && headers_equal(a.headers(), b.headers())
}

/// Parameters that must match even when only one side has them (§19.1.4).
const STRICT_PARAMS: [&str; 5] = ["user", "ttl", "method", "maddr", "transport"];

fn params_equal(a: &Uri, b: &Uri) -> bool {
    let norm = |v: Option<&str>| v.map(|v| unescape(v).to_ascii_lowercase());
    for (name, va) in a.params() {
        match b.params().get(name) {
            Some(vb) if norm(va) != norm(vb) => return false,
            Some(_) => {}
            None if STRICT_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) => return false,
            None => {}
        }
    }
    // Strict parameters present only in `b`.
    b.params().all(|(name, _)| !STRICT_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name)) || a.params().get(name).is_some())
}

fn headers_equal(a: Option<&str>, b: Option<&str>) -> bool {
    // Header order is not significant; names are case-insensitive, values compared unescaped.
    let set = |h: Option<&str>| {
        let mut v: Vec<(String, String)> = h
            .unwrap_or("")
            .split('&')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once_byte(b'=').unwrap_or((kv, ""));
                (unescape(k).to_ascii_lowercase(), unescape(v).into_owned())
            })
            .collect();
        v.sort();
        v
    };
    set(a) == set(b)
}

/// The location-table key for an address-of-record: its user part, `%`-unescaped, case kept.
///
/// Only the user part, not `user@domain`: one urpd node serves a single user namespace across
/// every domain it is configured for and every address it listens on (Kamailio's
/// `use_domain=0`), so `sip:1001@pa.example.it` and `sip:1001@10.0.0.5` are the same agent.
/// User parts are case-sensitive in SIP (§19.1.4), so `Alice` and `alice` are different
/// users and no case folding happens here. `None` for non-SIP URIs and URIs without a user.
pub fn aor_key(uri: &Uri) -> Option<String> {
    if !uri.is_sip() {
        return None;
    }
    let user = uri.user()?;
    if user.is_empty() {
        return None;
    }
    Some(unescape(user).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Uri {
        Uri::parse_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn eq(a: &str, b: &str) -> bool {
        uri_equal(&u(a), &u(b))
    }

    #[test]
    fn rfc3261_equal_examples() {
        assert!(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
        assert!(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
        assert!(eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;newparam=5"));
        assert!(eq(
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"
        ));
        assert!(eq(
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x"
        ));
        assert!(eq("SIP:alice@atlanta.com", "sip:alice@atlanta.com"));
        assert!(eq("sip:alice@atlanta.com;transport=tcp?x=1", "sip:alice@atlanta.com;transport=tcp?x=1"));
    }

    #[test]
    fn rfc3261_unequal_examples() {
        assert!(!eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
        assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
        assert!(!eq("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
        assert!(!eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
        assert!(!eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
        assert!(!eq("sips:bob@biloxi.com", "sip:bob@biloxi.com"));
    }

    #[test]
    fn aor_key_is_unescaped_user_case_kept() {
        assert_eq!(aor_key(&u("sip:%41lice@pa.example.it")), Some("Alice".into()));
        assert_eq!(aor_key(&u("sips:1001@10.0.0.5:5061")), Some("1001".into()));
        assert_eq!(aor_key(&u("sip:1001@pa.example.it")), aor_key(&u("sip:1001@other.example")));
        assert_ne!(aor_key(&u("sip:Alice@x")), aor_key(&u("sip:alice@x")));
        assert_eq!(aor_key(&u("sip:pa.example.it")), None);
        assert_eq!(aor_key(&u("tel:+390612345")), None);
    }
}
