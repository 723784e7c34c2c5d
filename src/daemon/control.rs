//! The core loop's one inbox for its rare work: case answers from the CRM, admin and metrics
//! commands, and signals. They arrive on one channel so that the loop polls one receiver
//! before it sleeps instead of three: every turn that ends in sleep polls each pending branch
//! of its `select!` once, and three receivers were ~6,000 instructions of a proxied call at
//! 100 calls/s (32 receiver polls a call, callgrind; docs/benchmarks.md, sixteenth round).
//! The order between these sources never mattered (each is handled whole when it comes);
//! datagrams and stream messages keep their own paths.

use tokio::sync::mpsc;

use super::admin::AdminCommand;
use crate::proxy::case::CaseInfo;
use crate::transaction::TxId;

/// Room in the inbox: the CRM's case answers dominate (one per call in lookup), admin
/// commands and signals are a handful; a full inbox makes their senders wait, never drops.
pub const INBOX: usize = 1024 + 64 + 8;

/// Something for the core loop.
pub enum Control {
    /// A case lookup's answer for server transaction `TxId`.
    Case(TxId, CaseInfo),
    /// A CLI or metrics request, answered on its own reply channel.
    Admin(AdminCommand),
    /// A signal the daemon acts on.
    Signal(Sig),
}

/// The sending side, cloned by every source.
pub type ControlTx = mpsc::Sender<Control>;

/// A signal the core acts on.
#[derive(Debug, Clone, Copy)]
pub enum Sig {
    /// SIGTERM or SIGINT (the name, for the log): drain and stop.
    Stop(&'static str),
    /// SIGHUP: reload users and dial plans.
    Reload,
}
