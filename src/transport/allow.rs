//! Network allow-lists: where the node may send requests (no open relay) and which sources
//! are trusted peers. Pure values; checked by the core before it sends a request.

use ipnet::IpNet;
use std::net::IpAddr;

/// A set of networks.
#[derive(Debug, Clone, Default)]
pub struct NetList(Vec<IpNet>);

impl NetList {
    /// A list of networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        NetList(nets)
    }

    /// Whether `ip` falls in any network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains() {
        let l = NetList::new(vec![
            "127.0.0.0/8".parse().unwrap_or_else(|_| unreachable!()),
            "::1/128".parse().unwrap_or_else(|_| unreachable!()),
        ]);
        assert!(l.contains("127.9.9.9".parse().unwrap_or_else(|_| unreachable!())));
        assert!(l.contains("::1".parse().unwrap_or_else(|_| unreachable!())));
        assert!(l.contains("::ffff:127.0.0.1".parse().unwrap_or_else(|_| unreachable!())));
        assert!(!l.contains("10.0.0.1".parse().unwrap_or_else(|_| unreachable!())));
    }
}
