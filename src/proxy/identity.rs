//! Who this node is on the wire: its listen addresses and served domains. Decides whether a
//! URI names the node itself (RFC 3261 §16.4 "the proxy's own URI"), and which local address a
//! message to a peer leaves from (for Via and Record-Route).

use std::net::{IpAddr, SocketAddr};

use crate::sip::Uri;
use crate::transport::{Peer, Protocol};

/// The node's addresses and domains.
#[derive(Debug, Clone)]
pub struct Identity {
    listeners: Vec<(Protocol, SocketAddr)>,
    domains: Vec<String>,
}

impl Identity {
    /// An identity from the bound listeners and the configured domains.
    pub fn new(listeners: Vec<(Protocol, SocketAddr)>, domains: Vec<String>) -> Self {
        Identity { listeners, domains: domains.into_iter().map(|d| d.to_ascii_lowercase()).collect() }
    }

    /// The listeners.
    pub fn listeners(&self) -> &[(Protocol, SocketAddr)] {
        &self.listeners
    }

    /// Whether `host[:port]` names this node. Domains match on the name alone; IP hosts must
    /// also match a listener's port (5060 when absent), as Kamailio's `myself` does.
    pub fn is_local_host(&self, host: &str, port: Option<u16>) -> bool {
        // Canonical IPv4 read directly, the rest by std's parser: called up to three times per
        // request for the same Request-URI (~190 instructions a parse, plus a lowercased copy
        // of a domain before).
        if let Some(ip) = crate::sip::text::parse_host_ip(host) {
            let port = port.unwrap_or(5060);
            return self.listeners.iter().any(|(_, a)| a.port() == port && (a.ip() == ip || (a.ip().is_unspecified() && is_local_ip(ip))));
        }
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(host))
    }

    /// Whether a SIP URI names this node.
    pub fn is_local_uri(&self, uri: &Uri) -> bool {
        uri.is_sip() && self.is_local_host(uri.host(), uri.port())
    }

    /// The local listener address a message to `dest` leaves from: a listener of the same
    /// protocol and family, loopback for loopback peers.
    pub fn local_for(&self, dest: Peer) -> Option<SocketAddr> {
        let same = |(p, a): &&(Protocol, SocketAddr)| *p == dest.protocol && a.is_ipv4() == dest.addr.is_ipv4();
        self.listeners
            .iter()
            .filter(same)
            .find(|(_, a)| a.ip().is_unspecified() || a.ip().is_loopback() == dest.addr.ip().is_loopback())
            .or_else(|| self.listeners.iter().find(same))
            .map(|(_, a)| *a)
    }

    /// The address to advertise for a listener: an unspecified bind address is replaced by a
    /// loopback one for loopback peers (the best guess without interface enumeration).
    pub fn advertised(&self, local: SocketAddr, dest: SocketAddr) -> SocketAddr {
        if local.ip().is_unspecified() {
            let ip: IpAddr = if dest.is_ipv4() { [127, 0, 0, 1].into() } else { std::net::Ipv6Addr::LOCALHOST.into() };
            if dest.ip().is_loopback() {
                return SocketAddr::new(ip, local.port());
            }
        }
        local
    }
}

fn is_local_ip(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// Formats `addr` as a SIP host:port (IPv6 in brackets).
pub fn hostport(addr: SocketAddr) -> String {
    let mut s = String::with_capacity(24);
    push_hostport(&mut s, addr);
    s
}

/// Appends `addr` as [`hostport`] writes it. IPv4 digit by digit: every forwarded request
/// writes one or two (Via, Record-Route), and `format!` of an address cost ~1,500
/// instructions each (callgrind).
pub fn push_hostport(out: &mut String, addr: SocketAddr) {
    use crate::sip::text::push_decimal;
    match addr {
        SocketAddr::V4(a) => {
            for (i, o) in a.ip().octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(out, u64::from(o));
            }
        }
        SocketAddr::V6(a) => {
            use std::fmt::Write;
            let _ = write!(out, "[{}]", a.ip());
        }
    }
    out.push(':');
    push_decimal(out, u64::from(addr.port()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn local_uris() {
        let id =
            Identity::new(vec![(Protocol::Udp, sa("127.0.0.1:5070")), (Protocol::Tcp, sa("[::1]:5070"))], vec!["Urp.Example.IT".into()]);
        let u = |s: &str| Uri::parse_str(s).unwrap_or_else(|e| panic!("{e}"));
        assert!(id.is_local_uri(&u("sip:alice@127.0.0.1:5070")));
        assert!(!id.is_local_uri(&u("sip:alice@127.0.0.1")));
        assert!(id.is_local_uri(&u("sip:alice@[::1]:5070")));
        assert!(id.is_local_uri(&u("sip:alice@urp.example.it")));
        assert!(!id.is_local_uri(&u("sip:alice@example.com")));
        assert_eq!(id.local_for(Peer::new(Protocol::Udp, sa("127.0.0.1:6000"))), Some(sa("127.0.0.1:5070")));
        assert_eq!(id.local_for(Peer::new(Protocol::Tcp, sa("[::1]:6000"))), Some(sa("[::1]:5070")));
        assert_eq!(hostport(sa("[::1]:5070")), "[::1]:5070");
        // The digit writer against the formatter it replaced.
        for a in ["0.0.0.0:1", "127.0.0.1:5060", "10.200.3.255:65535", "192.168.100.9:80"] {
            assert_eq!(hostport(sa(a)), format!("{}", sa(a)));
        }
    }
}
