//! The RFC 3261 §17 transaction layer (with the RFC 6026 fixes), sans-IO.
//!
//! Contract: no sockets, no clock, no tasks. Every input carries `now`; outputs are queued and
//! drained by the driver. After each call into [`TransactionLayer`] the driver drains
//! `poll_transmit` (send each [`Transmit`]), then `poll_event` (hand each [`TuEvent`] to the
//! transaction user), then arms one sleep at `poll_timeout` and calls `handle_timeout` when it
//! expires. Inputs are trusted to have passed `sip::validate`; nothing a peer sends can make
//! the layer panic, and TU mistakes (unknown ids, a second final) are [`TxError`]s.
//!
//! Files: `config` (T1/T2/T4 and the derived timers), `timer` (the [`Timer`] enum and the
//! per-transaction table), `key` (matching rules), one file per state machine, `destination`
//! (where responses go), `event`/`error` (what crosses the API), `layer` (the owner) and
//! `sharded` (the maps it and the proxy keep transactions in, which grow without stalls).

mod client_invite;
mod client_non_invite;
pub mod config;
pub mod destination;
mod error;
mod event;
pub mod key;
mod layer;
mod server_invite;
mod server_non_invite;
mod sharded;
pub mod timer;

#[cfg(test)]
mod tests;

pub use config::TimerConfig;
pub use destination::response_destination;
pub use error::TxError;
pub use event::{Transmit, TuEvent, TxId, TxState};
pub use key::{ClientKey, ServerKey};
pub use layer::TransactionLayer;
pub use sharded::{sparse, IdHasher, ShardedMap};
pub use timer::{Timer, TimerTable};
