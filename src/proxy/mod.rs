//! The proxy layer: the node's transaction user. `core` dispatches requests (registrar, local
//! answers, forwarding), `forward` rewrites messages for the next hop, `context` keeps the state
//! of forked requests, `identity` knows the node's own addresses.

pub mod case;
pub mod context;
pub mod core;
pub mod forward;
pub mod identity;
pub mod plan;
pub mod stats;

pub use self::core::{CaseConfig, Core, CoreConfig, Credentials, Now, Principal};
pub use identity::Identity;
