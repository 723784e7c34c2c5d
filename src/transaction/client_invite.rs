//! The client INVITE transaction (RFC 3261 §17.1.1 with the RFC 6026 Accepted state).
//!
//! ```text
//!            send INVITE (Timer A on UDP, Timer B)
//!                 |
//!              Calling --B--> Terminated (Timeout)
//!          1xx /  |  \ 2xx
//!             v   |   v
//!     Proceeding  |  Accepted --M--> Terminated      (every 2xx goes to the TU)
//!        2xx|  \  |
//!           |   v v 300-699: send ACK
//!           |  Completed --D--> Terminated           (final retransmissions: re-send ACK)
//!           +--> Accepted
//! ```
//! Once a provisional arrives Timer B no longer applies: how long to wait for a final after
//! ringing is the TU's business (a proxy's Timer C). The one exception is §9.1: once a CANCEL
//! is sent, Timer B is re-armed so that an INVITE whose final never comes ends 64*T1 later.

use super::config::TimerConfig;
use super::event::{Outputs, TuEvent, TxId, TxState};
use super::timer::{Timer, TimerTable};
use crate::sip::{HeaderName, Method, Request, Response, SipHeaders};
use crate::transport::Peer;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Where the transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional arrived.
    Proceeding,
    /// A 300-699 arrived and was ACKed; absorbing its retransmissions.
    Completed,
    /// A 2xx arrived; passing further 2xx (retransmissions, other forks) to the TU.
    Accepted,
    /// Done; the layer removes the transaction.
    Terminated,
}

/// Whether the TU asked to CANCEL this INVITE (§9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelState {
    /// No CANCEL asked.
    None,
    /// Asked before any provisional: send when the first 1xx arrives.
    Pending,
    /// Sent as this client transaction.
    Sent(TxId),
}

/// What a response did that the layer must follow up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followup {
    /// Nothing.
    None,
    /// A deferred CANCEL became due: the first provisional arrived.
    SendCancel,
}

/// One client INVITE transaction.
#[derive(Debug)]
pub struct ClientInvite {
    id: TxId,
    state: State,
    /// Kept to build the ACK for a non-2xx final and the CANCEL. Boxed so the two client
    /// machines are of similar size in the layer's map. Dropped, with `data`, on entering
    /// Accepted: for its 64*T1 there the transaction only passes 2xx retransmissions up, and
    /// every proxied call spends most of its transactions' lifetime in that state.
    request: Option<Box<Request>>,
    /// The INVITE as sent, for retransmissions (empty from Accepted on).
    data: Bytes,
    /// The ACK as first sent, re-sent for every retransmitted final.
    ack: Option<Bytes>,
    dest: Peer,
    timers: TimerTable,
    a_interval: Duration,
    /// The CANCEL request state.
    pub cancel: CancelState,
}

impl ClientInvite {
    /// Sends the INVITE and arms Timers A (UDP only) and B.
    pub fn start(id: TxId, cfg: &TimerConfig, now: Instant, request: Request, dest: Peer, out: &mut Outputs) -> Self {
        let data = request.to_bytes();
        out.send(dest, &data);
        let mut timers = TimerTable::default();
        if !dest.protocol.is_reliable() {
            timers.set(Timer::A, now + cfg.timer_a());
        }
        timers.set(Timer::B, now + cfg.timer_b());
        ClientInvite {
            id,
            state: State::Calling,
            request: Some(Box::new(request)),
            data,
            ack: None,
            dest,
            timers,
            a_interval: cfg.timer_a(),
            cancel: CancelState::None,
        }
    }

    /// Bytes of request kept (the INVITE as sent, plus the parsed one if still held).
    #[cfg(test)]
    pub(super) fn retained(&self) -> usize {
        self.data.len() + self.request.as_ref().map_or(0, |r| r.to_bytes().len())
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The state as the layer reports it; `None` once terminated.
    pub fn tx_state(&self) -> Option<TxState> {
        match self.state {
            State::Calling => Some(TxState::Calling),
            State::Proceeding => Some(TxState::Proceeding),
            State::Completed => Some(TxState::Completed),
            State::Accepted => Some(TxState::Accepted),
            State::Terminated => None,
        }
    }

    /// The timers.
    pub fn timers(&self) -> &TimerTable {
        &self.timers
    }

    /// Where the INVITE went.
    pub fn dest(&self) -> Peer {
        self.dest
    }

    /// Whether the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Whether no final response has arrived yet (a CANCEL still makes sense).
    pub fn awaiting_final(&self) -> bool {
        matches!(self.state, State::Calling | State::Proceeding)
    }

    /// Handles a response matched to this transaction.
    pub fn on_response(&mut self, cfg: &TimerConfig, now: Instant, resp: Response, out: &mut Outputs) -> Followup {
        let status = resp.status;
        match (self.state, status) {
            (State::Calling | State::Proceeding, 100..=199) => {
                let first = self.state == State::Calling;
                self.state = State::Proceeding;
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                out.event(TuEvent::Response { tx: self.id, resp });
                if first && self.cancel == CancelState::Pending {
                    return Followup::SendCancel;
                }
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timers.stop_all();
                self.timers.set(Timer::M, now + cfg.timer_m());
                self.drop_pending_cancel();
                self.request = None;
                self.data = Bytes::new();
                out.event(TuEvent::Response { tx: self.id, resp });
            }
            (State::Calling | State::Proceeding, 300..=699) => {
                // The request is there until Accepted, which this transaction has not reached.
                if let Some(ack) = self.build_ack(&resp).map(|a| a.to_bytes()) {
                    out.send(self.dest, &ack);
                    self.ack = Some(ack);
                }
                self.timers.stop_all();
                self.drop_pending_cancel();
                out.event(TuEvent::Response { tx: self.id, resp });
                let d = cfg.timer_d(self.dest.protocol.is_reliable());
                if d.is_zero() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Completed;
                    self.timers.set(Timer::D, now + d);
                }
            }
            (State::Completed, 300..=699) => {
                // A retransmitted final: our ACK was lost. Absorb it and ACK again.
                if let Some(ack) = &self.ack {
                    out.send(self.dest, ack);
                }
            }
            (State::Accepted, 200..=299) => {
                // RFC 6026 §7.2: each 2xx goes up; the proxy forwards it (and the UAC ACKs it).
                out.event(TuEvent::Response { tx: self.id, resp });
            }
            _ => {
                tracing::debug!(tx = self.id.as_u64(), status, state = ?self.state, "client INVITE: response absorbed");
            }
        }
        Followup::None
    }

    /// Fires every expired timer.
    pub fn on_timeout(&mut self, cfg: &TimerConfig, now: Instant, out: &mut Outputs) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::A, State::Calling) => {
                    out.send(self.dest, &self.data);
                    self.a_interval = cfg.backoff(self.a_interval, false);
                    self.timers.set(Timer::A, now + self.a_interval);
                }
                (Timer::B, State::Calling | State::Proceeding) => {
                    tracing::debug!(tx = self.id.as_u64(), state = ?self.state, "client INVITE: Timer B, no final response");
                    out.event(TuEvent::Timeout { tx: self.id });
                    self.terminate();
                }
                (Timer::D, State::Completed) | (Timer::M, State::Accepted) => self.terminate(),
                _ => {}
            }
        }
    }

    /// Records that CANCEL `cancel` was sent for this INVITE. §9.1: if no final arrives within
    /// 64*T1 of the CANCEL, the INVITE is given up; Timer B is re-armed for that, so a
    /// cancelled INVITE whose callee never answers still ends (with `Timeout`).
    pub fn on_cancel_sent(&mut self, cfg: &TimerConfig, now: Instant, cancel: TxId) {
        self.cancel = CancelState::Sent(cancel);
        if self.awaiting_final() {
            self.timers.set(Timer::B, now + cfg.timer_b());
        }
    }

    /// The transport cannot reach the destination: a pending request fails with
    /// `TransportError`; a completed one just ends.
    pub fn on_transport_error(&mut self, out: &mut Outputs) {
        if self.awaiting_final() {
            out.event(TuEvent::TransportError { tx: self.id });
        }
        self.terminate();
    }

    /// Builds the CANCEL for this INVITE (§9.1): same Request-URI, Call-ID, From, To and CSeq
    /// number, method CANCEL, one Via equal to the INVITE's top Via, the same Route headers,
    /// Max-Forwards 70, no body. `None` once a 2xx arrived (nothing left to cancel; the
    /// request is no longer kept).
    pub fn build_cancel(&self) -> Option<Request> {
        self.build_hop_request(Method::Cancel, None)
    }

    /// Builds the ACK for a non-2xx final (§17.1.1.3): like the CANCEL, but with the To of the
    /// response (its tag included).
    fn build_ack(&self, resp: &Response) -> Option<Request> {
        self.build_hop_request(Method::Ack, resp.headers.get(&HeaderName::To))
    }

    fn build_hop_request(&self, method: Method, to: Option<&str>) -> Option<Request> {
        let req = self.request.as_deref()?;
        // Shares the request's header block: the values copied from it stay spans of it.
        let mut h = req.headers.sharing(8);
        if let Some(via) = req.headers.get(&HeaderName::Via) {
            h.push_span(HeaderName::Via, via);
        }
        for route in req.headers.get_all(&HeaderName::Route) {
            h.push_span(HeaderName::Route, route);
        }
        h.push(HeaderName::MaxForwards, "70");
        if let Some(from) = req.headers.get(&HeaderName::From) {
            h.push_span(HeaderName::From, from);
        }
        match to {
            Some(to) => h.push(HeaderName::To, to),
            None => {
                if let Some(to) = req.headers.get(&HeaderName::To) {
                    h.push_span(HeaderName::To, to);
                }
            }
        }
        if let Some(call_id) = req.call_id() {
            h.push_span(HeaderName::CallId, call_id);
        }
        let seq = req.cseq().map_or(0, |(n, _)| n);
        h.push(HeaderName::CSeq, format!("{seq} {}", method.as_str()));
        Some(Request { method, uri: req.uri.clone(), headers: h, body: Bytes::new() })
    }

    fn drop_pending_cancel(&mut self) {
        if self.cancel == CancelState::Pending {
            // §9.1: a final before any provisional makes the CANCEL moot.
            self.cancel = CancelState::None;
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.stop_all();
    }
}
