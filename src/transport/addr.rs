//! Addresses as the layers above the sockets see them: which protocol and which remote
//! address a message came from or goes to. Pure values; no I/O.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// UDP (unreliable: the transaction layer retransmits).
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Protocol {
    /// Whether the transport is reliable (RFC 3261 §17: timers shrink to zero).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Protocol::Udp)
    }

    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Protocol::Udp => "UDP",
            Protocol::Tcp => "TCP",
            Protocol::Tls => "TLS",
        }
    }

    /// Parses a Via transport token or `transport=` URI parameter (case-insensitive).
    pub fn from_token(s: &str) -> Option<Protocol> {
        if s.eq_ignore_ascii_case("udp") {
            Some(Protocol::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Some(Protocol::Tcp)
        } else if s.eq_ignore_ascii_case("tls") {
            Some(Protocol::Tls)
        } else {
            None
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
        })
    }
}

/// The far end of a flow: protocol plus remote socket address. For stream transports this
/// names one connection (the remote's ephemeral port included), which is how responses and
/// requests to a registered agent reuse the connection it opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The transport protocol.
    pub protocol: Protocol,
    /// The remote address.
    pub addr: SocketAddr,
}

impl Peer {
    /// A peer.
    pub fn new(protocol: Protocol, addr: SocketAddr) -> Self {
        Peer { protocol, addr }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.protocol, self.addr)
    }
}

/// Whether a stream flow (a connection) is still open: lets the core prefer the connection an
/// agent registered on, and fall back to its Contact address once that connection is gone.
pub trait FlowCheck: Send + Sync {
    /// Whether a connection to `peer` is open (always false for UDP).
    fn is_open(&self, peer: Peer) -> bool;
}
