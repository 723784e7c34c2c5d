//! Grammar helpers shared by the header parsers: tokens, quoted strings, comma-separated lists
//! and `;name=value` parameter lists (RFC 3261 §25.1). All borrow from the input; none allocate.

/// Byte-level searches and trims for SIP text, whose delimiters are all ASCII.
///
/// `str::find(char)` and `trim_matches([' ', '\t'])` go through std's UTF-8 pattern machinery
/// (a `memchr` call, then a `memcmp` of the char's encoding for every hit, or a char decode per
/// step): together ~6% of the samples at 16,000 REGISTER/s (docs/benchmarks.md, round 4).
/// Every needle here is ASCII, so every offset found is a char boundary and the slicing below
/// cannot panic.
pub trait SipStr {
    /// Offset of the first `b` (ASCII).
    fn find_byte(&self, b: u8) -> Option<usize>;
    /// Offset of the first `a` or `b` (both ASCII).
    fn find_byte2(&self, a: u8, b: u8) -> Option<usize>;
    /// Whether `b` (ASCII) occurs.
    fn has_byte(&self, b: u8) -> bool;
    /// The text before and after the first `b` (ASCII), without it.
    fn split_once_byte(&self, b: u8) -> Option<(&str, &str)>;
    /// Without leading and trailing spaces and tabs.
    fn trim_lws(&self) -> &str;
    /// Without leading spaces and tabs.
    fn trim_lws_start(&self) -> &str;
    /// Without trailing spaces and tabs.
    fn trim_lws_end(&self) -> &str;
}

impl SipStr for str {
    #[inline]
    fn find_byte(&self, b: u8) -> Option<usize> {
        debug_assert!(b.is_ascii());
        memchr::memchr(b, self.as_bytes())
    }

    #[inline]
    fn find_byte2(&self, a: u8, b: u8) -> Option<usize> {
        debug_assert!(a.is_ascii() && b.is_ascii());
        memchr::memchr2(a, b, self.as_bytes())
    }

    #[inline]
    fn has_byte(&self, b: u8) -> bool {
        self.find_byte(b).is_some()
    }

    #[inline]
    fn split_once_byte(&self, b: u8) -> Option<(&str, &str)> {
        let i = self.find_byte(b)?;
        Some((self.get(..i)?, self.get(i + 1..)?))
    }

    #[inline]
    fn trim_lws(&self) -> &str {
        self.trim_lws_start().trim_lws_end()
    }

    #[inline]
    fn trim_lws_start(&self) -> &str {
        let n = self.bytes().take_while(|&c| is_ws(c)).count();
        self.get(n..).unwrap_or_default()
    }

    #[inline]
    fn trim_lws_end(&self) -> &str {
        let n = self.bytes().rev().take_while(|&c| is_ws(c)).count();
        self.get(..self.len() - n).unwrap_or_default()
    }
}

/// `n` in decimal ASCII, written at the end of `buf` without allocating.
pub fn decimal_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Appends `n` in decimal: `format!` runs the whole formatting machinery (~500 instructions)
/// for what is a handful of digits on the response path.
pub fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    for &d in decimal_digits(n, &mut buf) {
        out.push(char::from(d));
    }
}

/// Appends `ip` as text: IPv4 digit by digit (`Display` costs ~800 instructions an address,
/// the bindings' write-back formats one per changed binding); IPv6 through `Display`, which
/// alone knows the RFC 5952 compression.
pub fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(out, u64::from(o));
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{v6}");
        }
    }
}

/// A dotted-quad IPv4 address in its one canonical spelling (four decimal octets, no leading
/// zeros), without `Ipv4Addr`'s general parser (~190 instructions; hosts are compared with
/// the node's own addresses several times per request). `None` for anything else, which the
/// caller hands to the std parser: both accept the same canonical text, so the fast path
/// changes no answer.
pub fn parse_ipv4_canonical(s: &[u8]) -> Option<std::net::Ipv4Addr> {
    // One pass, one branch per byte class: a loop per octet with its own bounds checks cost
    // nearly what std's parser does.
    let mut octets = [0u8; 4];
    let (mut k, mut n, mut digits) = (0usize, 0u32, 0u32);
    for &c in s {
        if c == b'.' {
            if digits == 0 || k == 3 {
                return None;
            }
            octets[k] = n as u8; // n <= 255, checked as each digit came
            k += 1;
            (n, digits) = (0, 0);
            continue;
        }
        let d = c.wrapping_sub(b'0');
        // A digit after a leading zero, a fourth digit, or a value over 255: not canonical.
        if d > 9 || (digits > 0 && n == 0) || digits == 3 {
            return None;
        }
        n = n * 10 + u32::from(d);
        if n > 255 {
            return None;
        }
        digits += 1;
    }
    if k != 3 || digits == 0 {
        return None;
    }
    octets[3] = n as u8;
    Some(std::net::Ipv4Addr::from(octets))
}

/// A host as an IP address, brackets around IPv6 removed: canonical IPv4 read directly, the
/// rest by std's parser. `None` for names.
pub fn parse_host_ip(host: &str) -> Option<std::net::IpAddr> {
    if let Some(v4) = parse_ipv4_canonical(host.as_bytes()) {
        return Some(std::net::IpAddr::V4(v4));
    }
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// A port of 1 to 5 digits starting at `start`, in 1..=65535, and the offset after it. The
/// caller checks what may follow.
pub fn read_port(b: &[u8], start: usize) -> Option<(u16, usize)> {
    let mut i = start;
    let mut n: u32 = 0;
    while i < b.len() && b[i].is_ascii_digit() && i - start < 5 {
        n = n * 10 + u32::from(b[i] - b'0');
        i += 1;
    }
    match u16::try_from(n) {
        Ok(p) if p > 0 && i > start => Some((p, i)),
        _ => None,
    }
}

/// `addr` as `SocketAddr`'s `Display` writes it (`1.2.3.4:5060`, `[::1]:5060`), IPv4 without
/// the formatting machinery.
pub fn socket_addr_text(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(_) => {
            let mut out = String::with_capacity(21);
            push_ip(&mut out, addr.ip());
            out.push(':');
            push_decimal(&mut out, u64::from(addr.port()));
            out
        }
        std::net::SocketAddr::V6(_) => addr.to_string(),
    }
}

/// Whether `c` is a `token` character (RFC 3261 §25.1).
pub fn is_token_char(c: u8) -> bool {
    CLASS[c as usize] & TOKEN != 0
}

/// Whether `c` may appear in an unquoted parameter value: a token character, or the `:`,
/// `[` and `]` of an IPv6 reference (`received=[2001:db8::1]`, `maddr=`).
pub fn is_param_value_char(c: u8) -> bool {
    CLASS[c as usize] & (TOKEN | VALUE) != 0
}

const TOKEN: u8 = 1;
const VALUE: u8 = 2;
const URI_ILLEGAL: u8 = 4;
const HOST: u8 = 8;

/// Character classes by byte: one load per byte instead of a comparison chain. Every
/// parameter of every URI and Via is checked against it (callgrind: `Params::validate` was
/// ~6% of a proxied call's instructions).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = TOKEN | HOST;
        }
        if b < 0x20 || b == 0x7f || b == b' ' || b == b'<' || b == b'>' {
            t[c] = URI_ILLEGAL;
        }
        c += 1;
    }
    let extra = b"-.!%*_+`'~";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = TOKEN;
        i += 1;
    }
    t[b'-' as usize] |= HOST;
    t[b'.' as usize] |= HOST;
    t[b':' as usize] = VALUE;
    t[b'[' as usize] = VALUE;
    t[b']' as usize] = VALUE;
    t
};

/// Whether `s` is a non-empty token.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Whether `c` is linear whitespace (after unfolding: space or tab).
pub fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Length of the quoted string at the start of `s` (which begins with `"`), closing quote
/// included; `None` if it never closes.
pub fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Splits a header value at top-level commas (not inside quotes or `<...>`), trimming each
/// part. Returns `None` on an unterminated quote or bracket.
pub fn split_list(value: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    for_each_list_item(value, |p| parts.push(p))?;
    Some(parts)
}

/// `split_list` without the `Vec`: calls `f` with each trimmed part, in order. Returns `None`
/// (after calling `f` for the parts before it) on an unterminated quote or bracket.
pub fn for_each_list_item<'a>(value: &'a str, mut f: impl FnMut(&'a str)) -> Option<()> {
    let b = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    // Only quotes, brackets and commas matter: jump between them (a byte-at-a-time match was
    // ~10 instructions per byte of a two-Via line).
    while let Some(off) = b.get(i..).and_then(|rest| memchr::memchr3(b'"', b'<', b',', rest)) {
        i += off;
        match b[i] {
            b'"' => i += quoted_len(&b[i..])?,
            b'<' => i += memchr::memchr(b'>', &b[i..])? + 1,
            _ => {
                f(value[start..i].trim_lws());
                i += 1;
                start = i;
            }
        }
    }
    f(value[start..].trim_lws());
    Some(())
}

/// Iterator over `;name[=value]` parameters. Names and values are trimmed of whitespace;
/// quoted values are returned without their quotes (escapes kept).
#[derive(Clone)]
pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Params<'a> {
    /// Iterates over the parameters in `s`, which starts at (or before) the first `;`.
    pub fn new(s: &'a str) -> Self {
        Params { rest: s }
    }

    /// The value of parameter `name` (case-insensitive): `Some(None)` when present without
    /// value, `None` when absent.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        // A parameter whose name cannot be `name` is skipped without being split into name and
        // value (trimmed, unquoted): most lookups ask for one parameter among one to three
        // (`rport` beside a branch, `tag`, `lr`); through the iterator, `rport` asked of a Via
        // holding only a branch was ~350 instructions (callgrind).
        let needle = name.as_bytes();
        if needle.is_empty() {
            return None;
        }
        let mut rest = self.rest;
        loop {
            let r = rest.trim_lws_start().strip_prefix(';')?;
            let (item, next) = split_param(r);
            rest = next;
            // As the iterator reads it: the name runs to the first `=` (or the end), trimmed.
            let b = item.as_bytes();
            let at = skip_ws(b, 0);
            let end = at + needle.len();
            if !b.get(at..end).is_some_and(|n| n.eq_ignore_ascii_case(needle)) {
                continue;
            }
            let after = skip_ws(b, end);
            match b.get(after) {
                None => return Some(None),
                // `=` is ASCII: `after + 1` is a char boundary.
                Some(b'=') => return Some(Some(unquote(item[after + 1..].trim_lws()))),
                Some(_) => continue,
            }
        }
    }

    /// Checks every parameter is well-formed: a token name, and a token, host or quoted
    /// string value. Used by validation, not on every lookup. One pass over the bytes: the
    /// split-then-check version read each parameter four times (~14% of parse + validate).
    pub fn validate(&self) -> bool {
        let b = self.rest.as_bytes();
        let mut i = skip_ws(b, 0);
        while i < b.len() {
            if b[i] != b';' {
                return false;
            }
            i = skip_ws(b, i + 1);
            let name = i;
            i = skip_class(b, i, TOKEN);
            if i == name {
                return false;
            }
            i = skip_ws(b, i);
            if b.get(i) == Some(&b'=') {
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b'"') {
                    match quoted_len(&b[i..]) {
                        Some(n) => i += n,
                        None => return false,
                    }
                } else {
                    let value = i;
                    i = skip_class(b, i, TOKEN | VALUE);
                    if i == value {
                        return false;
                    }
                }
                i = skip_ws(b, i);
            }
        }
        true
    }
}

/// The first offset from `i` that is not a space or tab.
pub fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// The first offset from `i` whose byte is in none of the classes `mask`.
///
/// Four bytes a step while four remain: one bounds check per step instead of one per byte.
/// Tokens, parameter values and host names are scanned with it, ~4% of a call's instructions
/// byte by byte (callgrind).
fn skip_class(b: &[u8], mut i: usize, mask: u8) -> usize {
    let in_class = |c: u8| CLASS[c as usize] & mask != 0;
    while let Some(&[c0, c1, c2, c3]) = b.get(i..i + 4) {
        if !in_class(c0) {
            return i;
        }
        if !in_class(c1) {
            return i + 1;
        }
        if !in_class(c2) {
            return i + 2;
        }
        if !in_class(c3) {
            return i + 3;
        }
        i += 4;
    }
    while i < b.len() && in_class(b[i]) {
        i += 1;
    }
    i
}

/// Length of the token at the start of `s` (0 if none).
pub fn token_len(s: &[u8]) -> usize {
    skip_class(s, 0, TOKEN)
}

/// The first offset from `i` whose byte cannot be part of a host name (letters, digits, `-`,
/// `.`): the end of a host that starts at `i`.
pub fn host_name_end(s: &[u8], i: usize) -> usize {
    skip_class(s, i, HOST)
}

/// Whether `s` holds a byte no URI may contain unescaped: whitespace, `<`, `>`, controls.
pub fn has_uri_illegal(s: &[u8]) -> bool {
    s.iter().any(|&c| CLASS[c as usize] & URI_ILLEGAL != 0)
}

/// Whether `s` is non-empty and only letters, digits, `-` and `.` (a host name or IPv4
/// address; IPv6 references are checked apart).
pub fn is_host_name(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| CLASS[c as usize] & HOST != 0)
}

/// Splits `s` (after a `;`) into the first parameter and the rest (starting at the next `;`).
fn split_param(s: &str) -> (&str, &str) {
    // memchr2 rather than a byte loop: a branch or tag runs 20-40 bytes, where the vector
    // search wins (~6 instructions a byte before, every parameter lookup walks them).
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(off) = memchr::memchr2(b'"', b';', &b[i..]) {
        i += off;
        if b[i] == b';' {
            return (&s[..i], &s[i..]);
        }
        match quoted_len(&b[i..]) {
            Some(n) => i += n,
            None => return (s, ""),
        }
    }
    (s, "")
}

/// A quoted value without its quotes (escapes kept); anything else as it is.
fn unquote(v: &str) -> &str {
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

fn name_value(item: &str) -> (&str, Option<&str>) {
    // A loop, not memchr: the `=` is a few bytes in, shorter than memchr's call and dispatch.
    match item.bytes().position(|c| c == b'=') {
        Some(eq) => (item[..eq].trim_lws(), Some(item[eq + 1..].trim_lws())),
        None => (item.trim_lws(), None),
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest.trim_lws_start();
            let r = rest.strip_prefix(';')?;
            let (item, next) = split_param(r);
            self.rest = next;
            let (name, value) = name_value(item);
            if name.is_empty() {
                continue;
            }
            return Some((name, value.map(unquote)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_get_agrees_with_the_iterator() {
        let lists = [
            ";branch=z9hG4bK-1-0",
            ";branch=z9hG4bK-1-0;rport",
            ";rport=5060;received=1.2.3.4",
            " ; RPORT ; branch = x",
            ";rportx=1;rport",
            ";rport x=1;rport=2",
            ";=v;rport",
            ";;rport",
            ";tag=\"a;b\";lr",
            ";lr",
            ";LR=",
            ";expires=\"60\"",
            ";a=\"unterminated;lr",
            "",
            "no-semicolon;lr",
            ";transport=tcp;maddr=239.0.0.1;ttl=5",
        ];
        let names = ["rport", "branch", "lr", "tag", "expires", "a", "maddr", "ttl", "transport", "x", "rportx", "", "received"];
        for list in lists {
            for name in names {
                let by_iter = Params::new(list).find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v);
                assert_eq!(Params::new(list).get(name), by_iter, "{name:?} in {list:?}");
            }
        }
    }

    #[test]
    fn canonical_ipv4_as_std_reads_it() {
        for a in [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "10.20.30.4",
            "192.168.001.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.4 ",
            "1..3.4",
            "",
            "a.b.c.d",
            "1.2.3.4a",
            "1000.1.1.1",
            "1.2.3.-4",
            "00.0.0.0",
            "9.9.9.99",
        ] {
            let std_reads = a.parse::<std::net::Ipv4Addr>().ok();
            let fast = parse_ipv4_canonical(a.as_bytes());
            assert!(fast.is_none() || fast == std_reads, "{a}: {fast:?} vs {std_reads:?}");
            if !a.starts_with('0') || a.starts_with("0.") {
                assert_eq!(fast, std_reads, "{a}");
            }
        }
    }

    #[test]
    fn addresses_as_display_writes_them() {
        for a in ["0.0.0.0:1", "127.0.0.1:5060", "255.255.255.255:65535", "10.20.30.4:9", "[::1]:5060", "[2001:db8::7]:5061"] {
            let addr: std::net::SocketAddr = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(socket_addr_text(addr), a);
            let mut ip = String::new();
            push_ip(&mut ip, addr.ip());
            assert_eq!(ip, addr.ip().to_string());
        }
    }

    #[test]
    fn character_classes_match_the_grammar() {
        for c in 0..=255u8 {
            let token = c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c);
            assert_eq!(is_token_char(c), token, "{c}");
            assert_eq!(is_param_value_char(c), token || b":[]".contains(&c), "{c}");
            let illegal = c < 0x20 || c == 0x7f || b" <>".contains(&c);
            assert_eq!(has_uri_illegal(&[c]), illegal, "{c}");
            let host = c.is_ascii_alphanumeric() || c == b'-' || c == b'.';
            assert_eq!(is_host_name(&[c]), host, "{c}");
        }
        assert!(!is_host_name(b""));
    }

    /// The grammar `validate` implements, written the slow way: split at top-level `;`, then
    /// check each name and value apart.
    fn validate_by_parts(rest: &str) -> bool {
        let mut rest = rest.trim_lws_start();
        while !rest.is_empty() {
            let Some(r) = rest.strip_prefix(';') else { return false };
            let (item, next) = split_param(r);
            let (name, value) = name_value(item);
            if !is_token(name) {
                return false;
            }
            if let Some(v) = value {
                let ok = if v.starts_with('"') {
                    quoted_len(v.as_bytes()) == Some(v.len())
                } else {
                    !v.is_empty() && v.bytes().all(is_param_value_char)
                };
                if !ok {
                    return false;
                }
            }
            rest = next;
        }
        true
    }

    #[test]
    fn one_pass_validate_agrees_with_the_grammar() {
        let fixed = [
            "",
            " ",
            ";a",
            "; a = b ;c",
            ";a=",
            ";a= ;b",
            ";a=\"x;y\"",
            ";a=\"x\"y",
            ";a=\"x",
            ";a=x\"y;z\"",
            ";",
            ";a;",
            "a",
            ";a b",
            ";a=b=c",
            ";received=[2001:db8::1]",
            ";a=\"x\\\"\" ; b",
            ";;a",
            " ;a\t=\tb\t",
        ];
        for f in fixed {
            assert_eq!(Params::new(f).validate(), validate_by_parts(f), "{f:?}");
        }
        // Every string of up to 5 characters over an alphabet of the interesting ones.
        let alphabet = [";", "a", "=", "\"", " ", "\\", ":", "@", "\t"];
        let mut cases = vec![String::new()];
        for _ in 0..5 {
            let next: Vec<String> = cases.iter().flat_map(|c| alphabet.iter().map(move |a| format!("{c}{a}"))).collect();
            for c in &next {
                assert_eq!(Params::new(c).validate(), validate_by_parts(c), "{c:?}");
            }
            cases = next;
        }
    }

    #[test]
    fn push_decimal_matches_display() {
        for n in [0u64, 7, 10, 99, 3600, 4_294_967_295, u64::MAX] {
            let mut s = String::from("x=");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x={n}"));
        }
    }

    #[test]
    fn byte_searches_and_trims_keep_char_boundaries() {
        // Multi-byte text around the ASCII delimiters: every cut must stay a char boundary.
        let s = " \tè:à;ü? \t";
        assert_eq!(s.find_byte(b':'), Some(4));
        assert_eq!(s.find_byte2(b';', b'?'), Some(7));
        assert!(s.has_byte(b'?') && !s.has_byte(b'@'));
        assert_eq!(s.split_once_byte(b':'), Some((" \tè", "à;ü? \t")));
        assert_eq!(s.trim_lws(), "è:à;ü?");
        assert_eq!(s.trim_lws_start(), "è:à;ü? \t");
        assert_eq!(s.trim_lws_end(), " \tè:à;ü?");
        assert_eq!(" \t ".trim_lws(), "");
        assert_eq!("".split_once_byte(b':'), None);
    }

    #[test]
    fn list_split_respects_quotes_and_brackets() {
        let v = split_list(r#""a,b" <sip:x@y;p=1,2>;q=1, <sip:z>"#).unwrap_or_default();
        assert_eq!(v, vec![r#""a,b" <sip:x@y;p=1,2>;q=1"#, "<sip:z>"]);
        assert!(split_list("\"open").is_none());
        // An escaped quote inside a quoted string, an unterminated bracket, empty items.
        assert_eq!(split_list(r#""a\",b", x"#).unwrap_or_default(), vec![r#""a\",b""#, "x"]);
        assert!(split_list("<sip:a, b").is_none());
        assert!(split_list("a, \"b\\").is_none());
        assert_eq!(split_list("a,,b,").unwrap_or_default(), vec!["a", "", "b", ""]);
        assert_eq!(split_list("").unwrap_or_default(), vec![""]);
    }

    #[test]
    fn class_scan_stops_at_the_first_byte_outside() {
        // Every length around the four-byte step, and a stop at each position in it.
        for n in 0..10 {
            let all = "a".repeat(n);
            assert_eq!(token_len(all.as_bytes()), n);
            for stop in 0..n {
                let mut t = all.clone().into_bytes();
                t[stop] = b' ';
                assert_eq!(token_len(&t), stop, "{n} {stop}");
            }
        }
        assert_eq!(token_len(b"Via: x"), 3);
        assert_eq!(token_len(b"\xffabc"), 0);
    }

    #[test]
    fn params_with_spaces_and_quotes() {
        let p = Params::new(" ;   tag    = 1918181833n ; lr; x=\"a;b\"");
        let all: Vec<_> = p.clone().collect();
        assert_eq!(all, vec![("tag", Some("1918181833n")), ("lr", None), ("x", Some("a;b"))]);
        assert_eq!(p.get("TAG"), Some(Some("1918181833n")));
        assert!(p.validate());
        assert!(!Params::new(";;;").validate());
    }
}
