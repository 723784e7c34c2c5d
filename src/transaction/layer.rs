//! `TransactionLayer`: owns every client and server transaction, matches incoming messages to
//! them, and runs their timers from one ordered deadline index.
//!
//! Each transaction's [`TimerTable`](super::timer::TimerTable) is the truth about its timers;
//! the layer keeps `deadlines`, a `BTreeSet<(Instant, TxId)>` holding each transaction's
//! earliest deadline, and re-derives that entry after every call into a state machine
//! (`sync_client` / `sync_server`). So `poll_timeout` is O(log n), a timer change is O(log n),
//! and the index cannot drift from the tables. A transaction that reaches Terminated is
//! removed in that same step, which is what bounds memory.
//!
//! A new non-INVITE server transaction is not filed in the maps at once: it waits in `pending`
//! until the layer is next entered with an input or an action (`handle_*`, `respond`,
//! `send_request`, `cancel`, `terminate`, `transport_error`, `send_stateless`; not
//! `respond_and_end`, the `poll_*` calls or the queries), because most
//! such requests — challenges, OPTIONS, a REGISTER answered over UDP — are answered and ended
//! by the TU while their `Request` event is handled, and filing then unfiling them was two map
//! inserts, two removals and a key allocation per request. A retransmission always enters the
//! layer, which files what is pending first, so it is matched exactly as before.

use super::client_invite::{CancelState, ClientInvite, Followup, State as ClientInviteState};
use super::client_non_invite::ClientNonInvite;
use super::config::TimerConfig;
use super::destination;
use super::error::TxError;
use super::event::{Outputs, Transmit, TuEvent, TxId, TxState};
use super::key::{ClientKey, ServerKey, METHOD_SLOTS};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::sharded::{sparse, IdHasher, ShardedMap};
use super::timer::TimerTable;
use crate::sip::{Method, Request, Response, SipHeaders, Via};
use crate::transport::Peer;
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The smallest accepted base timer: a zero T1 would make retransmission timers fire at the
/// instant they are armed, and `handle_timeout` would never return.
const MIN_BASE_TIMER: Duration = Duration::from_millis(1);

#[derive(Debug)]
enum ClientTx {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

impl ClientTx {
    fn timers(&self) -> &TimerTable {
        match self {
            ClientTx::Invite(m) => m.timers(),
            ClientTx::NonInvite(m) => m.timers(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            ClientTx::Invite(m) => m.is_terminated(),
            ClientTx::NonInvite(m) => m.is_terminated(),
        }
    }

    fn dest(&self) -> Peer {
        match self {
            ClientTx::Invite(m) => m.dest(),
            ClientTx::NonInvite(m) => m.dest(),
        }
    }

    fn tx_state(&self) -> Option<TxState> {
        match self {
            ClientTx::Invite(m) => m.tx_state(),
            ClientTx::NonInvite(m) => m.tx_state(),
        }
    }
}

#[derive(Debug)]
enum ServerTx {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

impl ServerTx {
    fn timers(&self) -> &TimerTable {
        match self {
            ServerTx::Invite(m) => m.timers(),
            ServerTx::NonInvite(m) => m.timers(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            ServerTx::Invite(m) => m.is_terminated(),
            ServerTx::NonInvite(m) => m.is_terminated(),
        }
    }

    fn tx_state(&self) -> Option<TxState> {
        match self {
            ServerTx::Invite(m) => m.tx_state(),
            ServerTx::NonInvite(m) => m.tx_state(),
        }
    }
}

#[derive(Debug)]
struct Entry<K, T> {
    /// The key under which the transaction is indexed, to unindex it at the end.
    key: K,
    /// The deadline currently filed in `deadlines` for this transaction.
    deadline: Option<Instant>,
    tx: T,
}

/// Every transaction of one SIP element, sans-IO.
///
/// The driver feeds messages and the time, and after every call drains, in this order,
/// [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event), then sleeps until
/// [`poll_timeout`](Self::poll_timeout) and calls [`handle_timeout`](Self::handle_timeout).
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: TimerConfig,
    next_id: u64,
    // Sharded: these hold every call's transactions for 64*T1, and a plain map's doubling
    // stalled the core for tens of ms at 3,200 calls/s (see sharded.rs).
    // The entry and the index share one key: cloning it cost two String copies per
    // transaction (branch, host). Lookups still take a plain `&ServerKey` (`Arc: Borrow`).
    clients: ShardedMap<TxId, Entry<Arc<ClientKey>, ClientTx>, IdHasher>,
    servers: ShardedMap<TxId, Entry<Arc<ServerKey>, ServerTx>, IdHasher>,
    client_index: ShardedMap<Arc<ClientKey>, TxId>,
    server_index: ShardedMap<Arc<ServerKey>, TxId>,
    /// How many keys `server_index` holds per method (`ServerKey::method_slot`). A REGISTER
    /// or OPTIONS answered at once is never filed, so under load the index holds none of its
    /// method, and a new one's lookup (a SipHash of branch and host, ~370 instructions, 0.8%
    /// of a REGISTER transaction's; callgrind) is skipped: it could only miss.
    filed: [u32; METHOD_SLOTS],
    deadlines: BTreeSet<(Instant, TxId)>,
    /// Server transactions created but not yet filed (see the module doc): fresh non-INVITE
    /// transactions, which have no timers until they answer.
    pending: Vec<(TxId, ServerKey, ServerTx)>,
    out: Outputs,
}

impl TransactionLayer {
    /// A layer with no transactions. Base timers below 1 ms are raised to 1 ms.
    pub fn new(cfg: TimerConfig) -> Self {
        let cfg = TimerConfig { t1: cfg.t1.max(MIN_BASE_TIMER), t2: cfg.t2.max(MIN_BASE_TIMER), t4: cfg.t4.max(MIN_BASE_TIMER) };
        TransactionLayer {
            cfg,
            next_id: 1,
            clients: ShardedMap::default(),
            servers: ShardedMap::default(),
            client_index: ShardedMap::new(),
            server_index: ShardedMap::new(),
            filed: [0; METHOD_SLOTS],
            deadlines: BTreeSet::new(),
            pending: Vec::new(),
            out: Outputs::default(),
        }
    }

    /// The timer configuration in effect.
    pub fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    /// The destination a response to this request goes to (§18.2.2 / RFC 3581); see
    /// [`destination::response_destination`].
    pub fn response_destination(req_top_via: &Via<'_>, from: Peer) -> Peer {
        destination::response_destination(req_top_via, from)
    }

    /// Handles a received request that passed validation: an ACK goes to its INVITE server
    /// transaction or up to the TU; a retransmission is absorbed by its transaction; anything
    /// else creates a server transaction and a `Request` or `Cancel` event. A request without a
    /// usable top Via is dropped (validation should have refused it).
    pub fn handle_request(&mut self, now: Instant, req: Request, from: Peer) {
        self.file_pending();
        if req.method == Method::Ack {
            self.handle_ack(now, req, from);
            return;
        }
        let Some((key, dest)) = req.top_via().and_then(|via| {
            let key = ServerKey::for_request_via(&req, &via)?;
            Some((key, destination::response_destination(&via, from)))
        }) else {
            tracing::debug!(method = %req.method, %from, "request without usable Via/CSeq/Call-ID dropped");
            return;
        };
        // A new non-INVITE (CANCEL aside: it looks up its INVITE) waits unfiled; see the
        // module doc. A lookup, not an insert, decides whether it is new.
        if !matches!(req.method, Method::Invite | Method::Cancel) {
            let maybe_filed = self.filed.get(key.method_slot()).is_none_or(|&n| n > 0);
            if let Some(&id) = maybe_filed.then(|| self.server_index.get(&key)).flatten() {
                self.on_server_retransmission(id);
                return;
            }
            let id = self.alloc_id();
            self.pending.push((id, key, ServerTx::NonInvite(ServerNonInvite::new(id, dest))));
            self.out.event(TuEvent::Request { tx: id, req, from });
            return;
        }
        // One hash of the key for the lookup and, when it misses (a new transaction), the insert.
        let key = Arc::new(key);
        let next_id = &mut self.next_id;
        let (&mut id, fresh) = self.server_index.get_or_insert_with(key.clone(), || {
            let id = TxId(*next_id);
            *next_id = next_id.wrapping_add(1);
            id
        });
        if !fresh {
            self.on_server_retransmission(id);
            return;
        }
        self.count_filed(&key, true);
        let tx = match req.method {
            Method::Invite => ServerTx::Invite(ServerInvite::new(id, dest)),
            _ => ServerTx::NonInvite(ServerNonInvite::new(id, dest)),
        };
        self.servers.insert(id, Entry { key, deadline: None, tx });
        if req.method == Method::Cancel {
            let invite = ServerKey::invite_of(&req)
                .and_then(|k| self.server_index.get(&k).copied())
                .filter(|i| matches!(self.servers.get(i).map(|e| &e.tx), Some(ServerTx::Invite(_))));
            self.out.event(TuEvent::Cancel { tx: id, req, from, invite });
        } else {
            self.out.event(TuEvent::Request { tx: id, req, from });
        }
    }

    /// A request that matched server transaction `id`: the machine decides what to resend.
    fn on_server_retransmission(&mut self, id: TxId) {
        if let Some(e) = self.servers.get_mut(&id) {
            match &mut e.tx {
                ServerTx::Invite(m) => m.on_retransmission(&mut self.out),
                ServerTx::NonInvite(m) => m.on_retransmission(&mut self.out),
            }
        }
        self.sync_server(id);
    }

    /// Files the pending server transactions in the maps (see the module doc). The layer is
    /// entered between two requests, so a retransmission finds its transaction filed.
    fn file_pending(&mut self) {
        while let Some((id, key, tx)) = self.pending.pop() {
            let key = Arc::new(key);
            if self.server_index.insert(key.clone(), id).is_none() {
                self.count_filed(&key, true);
            }
            self.servers.insert(id, Entry { key, deadline: None, tx });
            self.sync_server(id);
        }
    }

    fn handle_ack(&mut self, now: Instant, req: Request, from: Peer) {
        for key in ServerKey::ack_candidates(&req) {
            let Some(&id) = self.server_index.get(&key) else {
                continue;
            };
            let Some(Entry { tx: ServerTx::Invite(m), .. }) = self.servers.get_mut(&id) else {
                continue;
            };
            // §17.2.3: an RFC 2543 ACK must also carry the To tag of the final response.
            if key.is_rfc2543() && m.final_to_tag() != req.to_tag() {
                continue;
            }
            m.on_ack(&self.cfg, now, req, from, &mut self.out);
            self.sync_server(id);
            return;
        }
        self.out.event(TuEvent::Ack { req, from });
    }

    /// Handles a received response that passed validation: to its client transaction, or up
    /// as `StrayResponse`. Status codes outside 100..=699 are dropped.
    pub fn handle_response(&mut self, now: Instant, resp: Response, from: Peer) {
        self.file_pending();
        if !(100..=699).contains(&resp.status) {
            tracing::debug!(status = resp.status, %from, "response with invalid status dropped");
            return;
        }
        let Some(id) = ClientKey::for_response(&resp).and_then(|k| self.client_index.get(&k).copied()) else {
            self.out.event(TuEvent::StrayResponse { resp, from });
            return;
        };
        let mut followup = Followup::None;
        if let Some(e) = self.clients.get_mut(&id) {
            match &mut e.tx {
                ClientTx::Invite(m) => followup = m.on_response(&self.cfg, now, resp, &mut self.out),
                ClientTx::NonInvite(m) => m.on_response(&self.cfg, now, resp, &mut self.out),
            }
        }
        self.sync_client(id);
        if followup == Followup::SendCancel {
            self.send_cancel(now, id);
        }
    }

    /// Sends a response through server tx `tx` (1xx any number of times, then one final; for
    /// INVITE, further 2xx while Accepted). Unknown/ended tx → `Err`.
    pub fn respond(&mut self, now: Instant, tx: TxId, resp: Response) -> Result<(), TxError> {
        self.file_pending();
        if !(100..=699).contains(&resp.status) {
            return Err(TxError::InvalidStatus(resp.status));
        }
        let Some(e) = self.servers.get_mut(&tx) else {
            return Err(if self.clients.contains_key(&tx) { TxError::NotServer(tx) } else { TxError::UnknownTransaction(tx) });
        };
        let r = match &mut e.tx {
            ServerTx::Invite(m) => m.respond(&self.cfg, now, &resp, &mut self.out),
            ServerTx::NonInvite(m) => m.respond(&self.cfg, now, &resp, &mut self.out),
        };
        self.sync_server(tx);
        r
    }

    /// Sends a final response on non-INVITE server transaction `tx` and ends it at once: no
    /// copy kept, no Timer J filed and then unfiled (the answer-then-`terminate` it replaces
    /// shared the buffer, filed the timer and removed both again). INVITE transactions are
    /// refused: their final response must be retransmitted until the ACK.
    pub fn respond_and_end(&mut self, tx: TxId, resp: Response) -> Result<(), TxError> {
        if !(200..=699).contains(&resp.status) {
            return Err(TxError::InvalidStatus(resp.status));
        }
        self.respond_and_end_bytes(tx, resp.status, resp.to_bytes())
    }

    /// [`respond_and_end`](Self::respond_and_end) with the final response already serialized
    /// (`Request::response_bytes`: no `Response` built only to be written and dropped).
    pub fn respond_and_end_bytes(&mut self, tx: TxId, status: u16, data: Bytes) -> Result<(), TxError> {
        if !(200..=699).contains(&status) {
            return Err(TxError::InvalidStatus(status));
        }
        // Still pending: answered and ended without ever being filed.
        if let Some((_, _, ServerTx::NonInvite(m))) = self.pending.iter_mut().find(|(id, _, _)| *id == tx) {
            // Pending means fresh (Trying), so a final response ends it; should it not, it
            // stays pending like any other transaction.
            let r = m.respond_and_end(status, data, &mut self.out);
            if m.is_terminated() {
                self.pending.retain(|(id, _, _)| *id != tx);
                self.out.event(TuEvent::ServerDone { tx });
            }
            return r;
        }
        let r = match self.servers.get_mut(&tx).map(|e| &mut e.tx) {
            Some(ServerTx::NonInvite(m)) => m.respond_and_end(status, data, &mut self.out),
            Some(ServerTx::Invite(_)) => return Err(TxError::InvalidState { tx, status }),
            None => return Err(if self.clients.contains_key(&tx) { TxError::NotServer(tx) } else { TxError::UnknownTransaction(tx) }),
        };
        self.sync_server(tx);
        r
    }

    /// Starts a client transaction (INVITE or non-INVITE by method) and sends the request to
    /// `dest`. The caller has put its own top Via with a unique `z9hG4bK` branch. ACK must not
    /// be sent this way: use [`send_stateless`](Self::send_stateless).
    pub fn send_request(&mut self, now: Instant, req: Request, dest: Peer) -> Result<TxId, TxError> {
        self.file_pending();
        if req.method == Method::Ack {
            return Err(TxError::AckNotAllowed);
        }
        let key = ClientKey::for_request(&req).ok_or(TxError::MissingBranch)?;
        if self.client_index.contains_key(&key) {
            return Err(TxError::DuplicateBranch);
        }
        let id = self.alloc_id();
        let tx = match req.method {
            Method::Invite => ClientTx::Invite(ClientInvite::start(id, &self.cfg, now, req, dest, &mut self.out)),
            _ => ClientTx::NonInvite(ClientNonInvite::start(id, &self.cfg, now, req.to_bytes(), dest, &mut self.out)),
        };
        let key = Arc::new(key);
        self.clients.insert(id, Entry { key: key.clone(), deadline: None, tx });
        self.client_index.insert(key, id);
        self.sync_client(id);
        Ok(id)
    }

    /// §9.1 CANCEL of client INVITE tx `tx`: builds the CANCEL (same Request-URI, Call-ID,
    /// From, To, CSeq number with method CANCEL, one Via = the INVITE's top Via, same Route
    /// headers, Max-Forwards 70) and sends it as its own non-INVITE client transaction, but
    /// only once a provisional has arrived; before that it is remembered and sent when the
    /// first 1xx arrives, and dropped if a final arrives first. Returns the CANCEL's id if it
    /// was sent now; `None` if deferred, already asked, or `tx` is not a client INVITE
    /// awaiting its final response.
    pub fn cancel(&mut self, now: Instant, tx: TxId) -> Option<TxId> {
        self.file_pending();
        let Some(Entry { tx: ClientTx::Invite(m), .. }) = self.clients.get_mut(&tx) else {
            return None;
        };
        if m.cancel != CancelState::None {
            return None;
        }
        match m.state() {
            ClientInviteState::Calling => {
                m.cancel = CancelState::Pending;
                None
            }
            ClientInviteState::Proceeding => self.send_cancel(now, tx),
            _ => None,
        }
    }

    /// The CANCEL client transaction sent for INVITE `invite`, if one was sent (by `cancel`
    /// directly or later, when a deferred CANCEL became due).
    pub fn cancel_of(&self, invite: TxId) -> Option<TxId> {
        match self.clients.get(&invite).map(|e| &e.tx) {
            Some(ClientTx::Invite(m)) => match m.cancel {
                CancelState::Sent(id) => Some(id),
                _ => None,
            },
            _ => None,
        }
    }

    fn send_cancel(&mut self, now: Instant, invite: TxId) -> Option<TxId> {
        let (req, dest) = match self.clients.get(&invite).map(|e| &e.tx) {
            Some(ClientTx::Invite(m)) => (m.build_cancel()?, m.dest()),
            _ => return None,
        };
        match self.send_request(now, req, dest) {
            Ok(id) => {
                if let Some(Entry { tx: ClientTx::Invite(m), .. }) = self.clients.get_mut(&invite) {
                    m.on_cancel_sent(&self.cfg, now, id);
                }
                self.sync_client(invite);
                Some(id)
            }
            Err(e) => {
                tracing::warn!(tx = invite.as_u64(), error = %e, "CANCEL not sent");
                None
            }
        }
    }

    /// Sends without a transaction (ACK for 2xx, stateless forwarding of 2xx responses).
    pub fn send_stateless(&mut self, dest: Peer, data: Bytes) {
        self.file_pending();
        self.out.transmits.push_back(Transmit { dest, data });
    }

    /// The transport cannot reach `dest` (ICMP unreachable, connection refused or reset):
    /// every client transaction sending there ends, those still awaiting a final response
    /// with a `TransportError` event.
    pub fn transport_error(&mut self, _now: Instant, dest: Peer) {
        self.file_pending();
        let mut ids: Vec<TxId> = self.clients.iter().filter(|(_, e)| e.tx.dest() == dest).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(e) = self.clients.get_mut(&id) {
                match &mut e.tx {
                    ClientTx::Invite(m) => m.on_transport_error(&mut self.out),
                    ClientTx::NonInvite(m) => m.on_transport_error(&mut self.out),
                }
            }
            self.sync_client(id);
        }
    }

    /// The key a server transaction was filed under, if it is still there.
    pub fn server_key(&self, tx: TxId) -> Option<&ServerKey> {
        match self.pending.iter().find(|(id, _, _)| *id == tx) {
            Some((_, key, _)) => Some(key),
            None => self.servers.get(&tx).map(|e| &*e.key),
        }
    }

    /// Ends transaction `tx` now, whatever its state, without sending anything: for a TU that
    /// gives up on it (e.g. a proxy whose Timer C fired on an INVITE it cannot CANCEL, or a
    /// server transaction it will never answer). A server transaction still reports
    /// `ServerDone`, so every server transaction ends with exactly one.
    pub fn terminate(&mut self, tx: TxId) -> Result<(), TxError> {
        self.file_pending();
        if self.remove_client(tx) || self.remove_server(tx) {
            Ok(())
        } else {
            Err(TxError::UnknownTransaction(tx))
        }
    }

    /// Gives back the memory of maps a burst left mostly empty (see
    /// [`ShardedMap::shrink_sparse`]); the core calls it once a second.
    pub fn shrink_sparse(&mut self) {
        self.clients.shrink_sparse();
        self.servers.shrink_sparse();
        self.client_index.shrink_sparse();
        self.server_index.shrink_sparse();
        if sparse(self.pending.len(), self.pending.capacity(), 1024) {
            self.pending.shrink_to(self.pending.len() * 2);
        }
    }

    /// Fires every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.file_pending();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(e) = self.clients.get_mut(&id) {
                e.deadline = None;
                match &mut e.tx {
                    ClientTx::Invite(m) => m.on_timeout(&self.cfg, now, &mut self.out),
                    ClientTx::NonInvite(m) => m.on_timeout(&self.cfg, now, &mut self.out),
                }
                self.sync_client(id);
            } else if let Some(e) = self.servers.get_mut(&id) {
                e.deadline = None;
                match &mut e.tx {
                    ServerTx::Invite(m) => m.on_timeout(&self.cfg, now, &mut self.out),
                    ServerTx::NonInvite(m) => m.on_timeout(now),
                }
                self.sync_server(id);
            }
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TuEvent> {
        self.out.events.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Bytes of request a client transaction still keeps (tests: what is shed when).
    #[cfg(test)]
    pub(super) fn retained(&self, tx: TxId) -> Option<usize> {
        match &self.clients.get(&tx)?.tx {
            ClientTx::Invite(m) => Some(m.retained()),
            ClientTx::NonInvite(m) => Some(m.retained()),
        }
    }

    /// Live transactions: (server, client).
    pub fn len(&self) -> (usize, usize) {
        (self.servers.len() + self.pending.len(), self.clients.len())
    }

    /// The state of live transaction `tx`; `None` if it is unknown or has ended.
    pub fn state(&self, tx: TxId) -> Option<TxState> {
        match self.clients.get(&tx) {
            Some(e) => e.tx.tx_state(),
            None => match self.pending.iter().find(|(id, _, _)| *id == tx) {
                Some((_, _, t)) => t.tx_state(),
                None => self.servers.get(&tx).and_then(|e| e.tx.tx_state()),
            },
        }
    }

    /// Whether there are no live transactions.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.pending.is_empty() && self.clients.is_empty()
    }

    fn alloc_id(&mut self) -> TxId {
        let id = TxId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    /// Re-files client `id`'s deadline, or removes it if it has terminated.
    fn sync_client(&mut self, id: TxId) {
        let Some(e) = self.clients.get_mut(&id) else {
            return;
        };
        if e.tx.is_terminated() {
            self.remove_client(id);
            return;
        }
        let next = e.tx.timers().next_timeout();
        refile(&mut self.deadlines, id, &mut e.deadline, next);
    }

    /// Re-files server `id`'s deadline, or removes it (with `ServerDone`) if it has terminated.
    fn sync_server(&mut self, id: TxId) {
        let Some(e) = self.servers.get_mut(&id) else {
            return;
        };
        if e.tx.is_terminated() {
            self.remove_server(id);
            return;
        }
        let next = e.tx.timers().next_timeout();
        refile(&mut self.deadlines, id, &mut e.deadline, next);
    }

    /// Drops client `id` from the map, the index and the deadlines. Whether it existed.
    fn remove_client(&mut self, id: TxId) -> bool {
        let Some(e) = self.clients.remove(&id) else { return false };
        if let Some(d) = e.deadline {
            self.deadlines.remove(&(d, id));
        }
        self.client_index.remove_if(&*e.key, |&filed| filed == id);
        true
    }

    /// Drops server `id` like `remove_client`, and reports `ServerDone`. Whether it existed.
    fn remove_server(&mut self, id: TxId) -> bool {
        let Some(e) = self.servers.remove(&id) else { return false };
        if let Some(d) = e.deadline {
            self.deadlines.remove(&(d, id));
        }
        if self.server_index.remove_if(&*e.key, |&filed| filed == id).is_some() {
            self.count_filed(&e.key, false);
        }
        self.out.event(TuEvent::ServerDone { tx: id });
        true
    }

    /// Whether `filed` holds exactly the index's keys per method (tests check it at each step).
    #[cfg(test)]
    pub(super) fn filed_counts_agree(&self) -> bool {
        let mut counted = [0u32; METHOD_SLOTS];
        for (key, _) in self.server_index.iter() {
            if let Some(n) = counted.get_mut(key.method_slot()) {
                *n += 1;
            }
        }
        counted == self.filed
    }

    /// Keeps `filed` in step with `server_index`: a key went in (`added`) or out.
    fn count_filed(&mut self, key: &ServerKey, added: bool) {
        if let Some(n) = self.filed.get_mut(key.method_slot()) {
            *n = if added { n.saturating_add(1) } else { n.saturating_sub(1) };
        }
    }
}

/// Moves `id`'s entry in the deadline index from `filed` to `next` (both possibly none).
fn refile(deadlines: &mut BTreeSet<(Instant, TxId)>, id: TxId, filed: &mut Option<Instant>, next: Option<Instant>) {
    if next == *filed {
        return;
    }
    if let Some(d) = filed.take() {
        deadlines.remove(&(d, id));
    }
    if let Some(n) = next {
        deadlines.insert((n, id));
    }
    *filed = next;
}
