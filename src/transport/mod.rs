//! The transport layer (RFC 3261 §18): UDP and TCP listeners on IPv4 and IPv6, the TCP
//! connection table with reuse, idle timeout, size and connection limits, and stream framing.
//! It knows `sip` framing only; it hands raw message bytes to the core and sends bytes it is
//! given. Address allow-lists and the per-IP rate limiter are pure helpers the core applies.

pub mod addr;
pub mod allow;
pub mod arena;
pub mod error;
pub mod hub;
pub mod mmsg;
pub mod moderation;
pub mod ratelimit;

pub use addr::{FlowCheck, Peer, Protocol};
pub use allow::NetList;
pub use error::TransportError;
pub use hub::{Limits, TransportEvent, TransportHub, UdpInput};
pub use moderation::{Drained, Moderation};
pub use ratelimit::RateLimiter;
