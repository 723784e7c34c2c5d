//! urpd: SIP registrar, stateful proxy and contact-center router for Italian public
//! administration front offices. See README.md for the architecture; each module's `//!` doc
//! states its contract. Dependencies point one way: `sip` ← `transaction` ← `proxy`/`registrar`
//! ← `daemon`.

pub mod sip;

pub mod auth;
pub mod cli;
pub mod crm;
pub mod daemon;
pub mod proxy;
pub mod registrar;
pub mod routing;
pub mod state;
pub mod transaction;
pub mod transport;
