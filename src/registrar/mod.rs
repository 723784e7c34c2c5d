//! The registrar (RFC 3261 §10.3): the location table that REGISTER updates and the proxy
//! reads, sans-IO.
//!
//! Contract: no clock, no sockets, no database. The caller authenticates the REGISTER, turns
//! its To URI into an AOR key with [`aor_key`], calls [`LocationTable::register`] with `now` in
//! unix seconds and the flow the request came from, then:
//!
//! - `Ok(outcome)` → 200 with one `Contact` per `outcome.current` binding
//!   ([`Binding::contact_header_value`]), and hands `outcome.changes` to the state store
//!   (write-behind: a slow disk never delays the 200);
//! - `Err(e)` → `e.status()`, adding `Min-Expires` for 423 and `Retry-After` for 503.
//!
//! A periodic sweep calls [`LocationTable::expire`] ([`LocationTable::next_expiry`] is a lower
//! bound of the next lapse: a refresh does not move its AOR in the index), whose removals
//! are persisted the same way. At startup [`LocationTable::load`] takes the persisted
//! bindings back.

mod binding;
mod error;
mod location;
mod policy;
mod uri_match;

pub use binding::{Binding, Change};
pub use error::RegisterError;
pub use location::{LocationTable, RegisterOutcome, DEFAULT_MAX_CONTACTS};
pub use policy::{ExpiryPolicy, Granted};
pub use uri_match::{aor_key, uri_equal};

#[cfg(test)]
mod tests;
