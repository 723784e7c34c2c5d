//! Transport errors: what can go wrong binding listeners.

use std::net::SocketAddr;
use thiserror::Error;

use super::Protocol;

/// Why a listener could not be set up.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The address is taken by another process (or this one).
    #[error("cannot listen on {protocol}:{addr}: address already in use")]
    AddrInUse {
        /// Protocol of the listener.
        protocol: Protocol,
        /// Address that was taken.
        addr: SocketAddr,
    },
    /// Binding failed for another reason (permission, address not on this host, …).
    #[error("cannot listen on {protocol}:{addr}: {source}")]
    Bind {
        /// Protocol of the listener.
        protocol: Protocol,
        /// Address that failed.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Only UDP and TCP listeners exist so far.
    #[error("{0} listeners are not supported yet")]
    Unsupported(Protocol),
}
