//! Where a response goes (RFC 3261 §18.2.2 with RFC 3581 symmetric response routing).
//!
//! The server transaction fixes the destination once, from the request that created it, and
//! sends every response and retransmission there.

use crate::sip::Via;
use crate::transport::{Peer, Protocol};
use std::net::SocketAddr;

/// The SIP default port for UDP and TCP (§19.1.2).
const DEFAULT_PORT: u16 = 5060;

/// The destination of responses to a request whose top Via is `top_via` and which arrived
/// from `from`:
/// - reliable transport: back over the same flow (`from`), so NATed TCP/TLS clients get the
///   response on the connection they opened (§18.2.2);
/// - UDP with `rport` in the Via (RFC 3581): the source IP and port;
/// - other UDP: the source IP (what `received` records) with the Via sent-by port, or 5060.
///   A `maddr` is deliberately ignored: urpd never multicasts responses, and sending to an
///   address named in the message would let any sender aim our responses at a third party.
pub fn response_destination(top_via: &Via<'_>, from: Peer) -> Peer {
    if from.protocol.is_reliable() || top_via.rport().is_some() {
        return from;
    }
    let port = top_via.port.unwrap_or(DEFAULT_PORT);
    Peer::new(Protocol::Udp, SocketAddr::new(from.addr.ip(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via<'_> {
        Via::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rules() {
        let udp = Peer::new(Protocol::Udp, "198.51.100.7:40000".parse().unwrap_or_else(|e| panic!("{e}")));
        let tcp = Peer::new(Protocol::Tcp, udp.addr);
        // Reliable: same connection whatever the Via says.
        assert_eq!(response_destination(&via("SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bKa"), tcp), tcp);
        // rport: source ip and port.
        assert_eq!(response_destination(&via("SIP/2.0/UDP 10.0.0.1:5070;rport;branch=z9hG4bKa"), udp), udp);
        // No rport: source IP, sent-by port.
        let d = response_destination(&via("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa"), udp);
        assert_eq!(d.addr, "198.51.100.7:5070".parse().unwrap_or_else(|e| panic!("{e}")));
        // No port: 5060.
        let d = response_destination(&via("SIP/2.0/UDP host.example;branch=z9hG4bKa"), udp);
        assert_eq!(d.addr.port(), 5060);
        // maddr ignored.
        let d = response_destination(&via("SIP/2.0/UDP 10.0.0.1:5080;maddr=224.0.1.75;branch=z9hG4bKa"), udp);
        assert_eq!(d, Peer::new(Protocol::Udp, "198.51.100.7:5080".parse().unwrap_or_else(|e| panic!("{e}"))));
    }
}
