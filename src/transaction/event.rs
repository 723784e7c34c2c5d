//! What the transaction layer hands to its driver: transaction ids, datagrams to send and
//! events for the transaction user (TU: the proxy, registrar or B2BUA core).

use crate::sip::{Request, Response};
use crate::transport::Peer;
use bytes::Bytes;
use std::collections::VecDeque;
use std::fmt;

/// Identifies one transaction, client or server: one id space for both, never reused within
/// a `TransactionLayer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxId(pub(crate) u64);

impl TxId {
    /// The raw number, for logs and metrics labels.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// A message the driver must send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it (for stream transports, the connection to use or open).
    pub dest: Peer,
    /// The serialized message.
    pub data: Bytes,
}

/// Something the transaction user must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TuEvent {
    /// New request (not ACK, not CANCEL) that created server transaction `tx`.
    Request {
        /// The new server transaction; answer through `TransactionLayer::respond`.
        tx: TxId,
        /// The request.
        req: Request,
        /// Where it came from.
        from: Peer,
    },
    /// CANCEL: its own server tx `tx` (the TU answers it 200 or 481 via `respond`), and the
    /// INVITE server tx it cancels if one matched (§9.2: same branch/sent-by, method INVITE).
    Cancel {
        /// The CANCEL's own server transaction.
        tx: TxId,
        /// The CANCEL request.
        req: Request,
        /// Where it came from.
        from: Peer,
        /// The INVITE server transaction it cancels, if it still exists (in any state).
        invite: Option<TxId>,
    },
    /// ACK that matched no INVITE server tx in Completed (i.e. ACK for a 2xx, end-to-end): the
    /// TU forwards it.
    Ack {
        /// The ACK.
        req: Request,
        /// Where it came from.
        from: Peer,
    },
    /// Response for client tx `tx` (provisionals, the final; for INVITE also every 2xx
    /// retransmission while Accepted (RFC 6026), since a proxy forwards each 2xx upstream).
    /// Responses to a CANCEL the layer sent on its own (a deferred `cancel`) carry that
    /// CANCEL's id; `TransactionLayer::cancel_of` maps the INVITE to it.
    Response {
        /// The client transaction.
        tx: TxId,
        /// The response, as received.
        resp: Response,
    },
    /// A response that matched no client tx (e.g. a 2xx retransmission after the tx ended): a
    /// proxy forwards it statelessly (§16.7 / §16.11).
    StrayResponse {
        /// The response.
        resp: Response,
        /// Where it came from.
        from: Peer,
    },
    /// Client tx `tx` timed out (Timer B / F) with no final response: the TU acts as if 408.
    Timeout {
        /// The client transaction, now ended.
        tx: TxId,
    },
    /// The transport reported that `tx`'s destination is unreachable: act as 503 (§8.1.3.1).
    TransportError {
        /// The client transaction, now ended.
        tx: TxId,
    },
    /// Server tx `tx` ended (lets the TU drop its per-transaction state).
    ServerDone {
        /// The server transaction, now ended.
        tx: TxId,
    },
}

/// The output queues the state machines push into; drained by the layer's `poll_*`.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<TuEvent>,
}

impl Outputs {
    /// Queues `data` for `dest`. `Bytes` clones share the buffer: retransmissions cost no copy.
    pub(crate) fn send(&mut self, dest: Peer, data: &Bytes) {
        self.transmits.push_back(Transmit { dest, data: data.clone() });
    }

    /// Queues `data` for `dest`, taking it: for a response nobody keeps for retransmission
    /// (cloning a fresh buffer costs an allocation to share it).
    pub(crate) fn send_owned(&mut self, dest: Peer, data: Bytes) {
        self.transmits.push_back(Transmit { dest, data });
    }

    /// Queues an event for the TU.
    pub(crate) fn event(&mut self, ev: TuEvent) {
        self.events.push_back(ev);
    }
}

/// The state of a live transaction, as `TransactionLayer::state` reports it (ended
/// transactions are gone, so there is no Terminated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TxState {
    /// Client INVITE sent, nothing heard yet.
    Calling,
    /// Non-INVITE: client request sent with nothing heard, or server request not yet answered.
    Trying,
    /// A provisional was received (client) or sent (server), or a server INVITE awaits its final.
    Proceeding,
    /// A non-2xx final (INVITE) or any final (non-INVITE) was received or sent; absorbing
    /// retransmissions.
    Completed,
    /// Server INVITE: the ACK for the non-2xx final arrived.
    Confirmed,
    /// INVITE: a 2xx was received or sent (RFC 6026).
    Accepted,
}
