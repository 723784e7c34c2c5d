//! The transport layer: UDP and TCP listeners, the connection table and stream framing.

pub mod addr;

pub use addr::{Peer, Protocol};
