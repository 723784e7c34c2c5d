//! Errors the transaction layer returns to its transaction user. Peer input never produces an
//! error here: malformed or unmatched messages are dropped or surfaced as events.

use super::event::TxId;

/// Why a TU call into the transaction layer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No live transaction has this id (it never existed, or it has ended).
    #[error("unknown or ended transaction {0}")]
    UnknownTransaction(TxId),
    /// The id names a client transaction where a server transaction was expected.
    #[error("{0} is a client transaction")]
    NotServer(TxId),
    /// The status code is outside 100..=699.
    #[error("invalid status code {0}")]
    InvalidStatus(u16),
    /// The transaction's state forbids this response (a final was already sent, or a non-2xx
    /// after a 2xx).
    #[error("{tx} cannot send a {status} response in its current state")]
    InvalidState {
        /// The transaction.
        tx: TxId,
        /// The refused status.
        status: u16,
    },
    /// ACK is never sent in a client transaction: use `send_stateless`.
    #[error("ACK must be sent with send_stateless")]
    AckNotAllowed,
    /// The request's top Via has no branch starting with `z9hG4bK`.
    #[error("request has no RFC 3261 branch in its top Via")]
    MissingBranch,
    /// A client transaction with the same branch and method is already running.
    #[error("a client transaction with this branch and method already exists")]
    DuplicateBranch,
}
