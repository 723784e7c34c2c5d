//! The Via header (RFC 3261 §20.42, §18.2.1, RFC 3581): protocol, sent-by and parameters.

use super::text::{host_name_end, is_token, is_ws, read_port, skip_ws, token_len, Params, SipStr};
use super::uri::split_hostport;

/// The RFC 3261 branch prefix that marks a branch as globally unique (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One parsed Via value, borrowing from the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport token (`UDP`, `TCP`, `TLS`, `WS`, …) as written.
    pub transport: &'a str,
    /// The sent-by host (IPv6 with brackets).
    pub host: &'a str,
    /// The sent-by port, if given.
    pub port: Option<u16>,
    /// The parameters, leading `;` included.
    pub params_str: &'a str,
}

/// Why a Via value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ViaError {
    /// The protocol is not `SIP/2.0/<transport>`.
    #[error("bad Via protocol")]
    BadProtocol,
    /// The sent-by host or port is malformed.
    #[error("bad Via sent-by")]
    BadSentBy,
    /// A parameter is malformed.
    #[error("bad Via parameter")]
    BadParam,
}

impl<'a> Via<'a> {
    /// Parses one Via value. Whitespace around `/` and before `;` is allowed (RFC 4475 wsinv).
    pub fn parse(value: &'a str) -> Result<Via<'a>, ViaError> {
        if let Some(via) = Self::parse_plain(value) {
            return Ok(via);
        }
        Self::parse_general(value)
    }

    /// The shape nearly every Via has, `SIP/2.0/UDP host[:port][;params]` with single spaces
    /// and a host name or IPv4 address, in one forward scan (~790 instructions a parse
    /// through the general path, and a request's top Via is parsed three or four times:
    /// validation, transaction key, `received`, the response's destination). Anything else
    /// (spaces around the slashes, IPv6, an error) gives `None` and goes the general way,
    /// which alone decides what is refused and why.
    fn parse_plain(value: &'a str) -> Option<Via<'a>> {
        const PREFIX: usize = "SIP/2.0/".len();
        let b = value.as_bytes();
        if b.len() <= PREFIX || !b[..PREFIX].eq_ignore_ascii_case(b"SIP/2.0/") {
            return None;
        }
        let t_end = PREFIX + token_len(&b[PREFIX..]);
        if t_end == PREFIX || !b.get(t_end).is_some_and(|&c| is_ws(c)) {
            return None;
        }
        let host_start = skip_ws(b, t_end);
        let host_end = host_name_end(b, host_start);
        if host_end == host_start {
            return None;
        }
        let (port, after) = if b.get(host_end) == Some(&b':') {
            let (p, end) = read_port(b, host_end + 1)?;
            (Some(p), end)
        } else {
            (None, host_end)
        };
        let params_start = skip_ws(b, after);
        let params_str = match b.get(params_start) {
            None => "",
            Some(b';') => &value[params_start..],
            Some(_) => return None,
        };
        // Every offset above is at an ASCII byte, so the slices are on char boundaries.
        Some(Via { transport: &value[PREFIX..t_end], host: &value[host_start..host_end], port, params_str })
    }

    fn parse_general(value: &'a str) -> Result<Via<'a>, ViaError> {
        // Byte scans: the protocol's slashes sit within a few bytes of the start, where a
        // plain loop beats both `splitn` (char pattern machinery) and a memchr call; this runs
        // several times per message (top_via), ~1,250 instructions each before.
        let b = value.as_bytes();
        let s1 = b.iter().position(|&c| c == b'/').ok_or(ViaError::BadProtocol)?;
        let s2 = s1 + 1 + b[s1 + 1..].iter().position(|&c| c == b'/').ok_or(ViaError::BadProtocol)?;
        // '/' is ASCII: both offsets are char boundaries.
        let name = value[..s1].trim_lws();
        let version = value[s1 + 1..s2].trim_lws();
        let rest = value[s2 + 1..].trim_lws_start();
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(ViaError::BadProtocol);
        }
        let t_end = rest.bytes().position(|c| c == b' ' || c == b'\t').ok_or(ViaError::BadSentBy)?;
        let transport = &rest[..t_end];
        if !is_token(transport) {
            return Err(ViaError::BadProtocol);
        }
        let rest = rest[t_end..].trim_lws_start();
        let sb_end = rest.bytes().position(|c| c == b';' || is_ws(c)).unwrap_or(rest.len());
        let (host, port) = split_hostport(&rest[..sb_end]).map_err(|_| ViaError::BadSentBy)?;
        let params_str = rest[sb_end..].trim_lws_start();
        if !params_str.is_empty() && !params_str.starts_with(';') {
            return Err(ViaError::BadSentBy);
        }
        Ok(Via { transport, host, port, params_str })
    }

    /// The parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params_str)
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.params().get("branch").flatten()
    }

    /// The `received` parameter.
    pub fn received(&self) -> Option<&'a str> {
        self.params().get("received").flatten()
    }

    /// The `rport` parameter: `Some(None)` when present without value (RFC 3581 request).
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params().get("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params().get("maddr").flatten()
    }

    /// Whether the branch starts with the RFC 3261 magic cookie.
    pub fn is_rfc3261(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// Whether the transport is reliable (stream-based).
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }
}

/// Parses a CSeq value: sequence number and method token.
pub fn parse_cseq(value: &str) -> Option<(u32, &str)> {
    let v = value.trim_lws();
    let sp = v.find_byte2(b' ', b'\t')?;
    let num = &v[..sp];
    let method = v[sp..].trim_lws_start();
    if num.is_empty() || num.len() > 10 || !num.bytes().all(|c| c.is_ascii_digit()) || !is_token(method) {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    // RFC 3261 §8.1.1.5: the sequence number must be less than 2**31.
    if n >= 1 << 31 {
        return None;
    }
    Some((n as u32, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_via() {
        let v = Via::parse("SIP  /   2.0 /UDP     192.0.2.2;branch=390skdjuw").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.host, "192.0.2.2");
        assert_eq!(v.branch(), Some("390skdjuw"));
        let v = Via::parse("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.host, "spindle.example.com");
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        assert!(v.is_rfc3261());
        let v = Via::parse("SIP/2.0/UDP [2001:db8::9]:5070;rport;branch=z9hG4bKx").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport(), Some(None));
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert!(Via::parse("SIP/3.0/UDP host").is_err());
    }

    #[test]
    fn plain_and_general_paths_agree() {
        let cases = [
            "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport",
            "sip/2.0/tcp Host.Example.com;branch=z9hG4bKx",
            "SIP/2.0/UDP h",
            "SIP/2.0/UDP h:5060",
            "SIP/2.0/UDP h:5060 ;branch=x",
            "SIP/2.0/UDP   h  ;  branch = x",
            "SIP/2.0/UDP h:0;branch=x",
            "SIP/2.0/UDP h:65536",
            "SIP/2.0/UDP h:050600",
            "SIP/2.0/UDP h:",
            "SIP/2.0/UDP h:5060x",
            "SIP/2.0/UDP h_x",
            "SIP/2.0/UDP h x",
            "SIP/2.0/UDP [::1]:5060;branch=x",
            "SIP/2.0/UDP ",
            "SIP/2.0/ h",
            "SIP/2.0/U\"P h",
            "SIP/2.0/UDP\th;branch=x",
            "SIP/2.1/UDP h",
            "SIP /2.0/UDP h",
        ];
        for c in cases {
            let plain = Via::parse_plain(c);
            let general = Via::parse_general(c);
            if let Some(p) = plain {
                assert_eq!(Ok(p), general, "{c}");
            }
            assert_eq!(Via::parse(c), general, "{c}");
        }
        assert!(Via::parse_plain(cases[0]).is_some_and(|v| v.port == Some(5061) && v.branch() == Some("z9hG4bK-1-0")));
    }

    #[test]
    fn cseq() {
        assert_eq!(parse_cseq("0009\r\n  INVITE".replace("\r\n", " ").as_str()).map(|c| c.0), Some(9));
        assert_eq!(parse_cseq("36893488147419103232 INVITE"), None);
        assert_eq!(parse_cseq("1 INVITE"), Some((1, "INVITE")));
        assert_eq!(parse_cseq("INVITE"), None);
    }
}
