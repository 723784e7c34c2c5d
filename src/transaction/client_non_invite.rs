//! The client non-INVITE transaction (RFC 3261 §17.1.2).
//!
//! ```text
//!   send request (Timer E on UDP, Timer F)
//!        |
//!      Trying --F--> Terminated (Timeout)        E: T1, 2T1, … capped at T2
//!    1xx |   \ 200-699
//!        v    v
//!  Proceeding --200-699--> Completed --K--> Terminated
//!    (E at T2)              (absorbs retransmitted responses)
//! ```

use super::config::TimerConfig;
use super::event::{Outputs, TuEvent, TxId, TxState};
use super::timer::{Timer, TimerTable};
use crate::sip::Response;
use crate::transport::Peer;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Where the transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Request sent, nothing heard yet.
    Trying,
    /// A provisional arrived.
    Proceeding,
    /// A final arrived; absorbing its retransmissions.
    Completed,
    /// Done; the layer removes the transaction.
    Terminated,
}

/// One client non-INVITE transaction.
#[derive(Debug)]
pub struct ClientNonInvite {
    id: TxId,
    state: State,
    /// The request as sent, for retransmissions (empty from Completed on).
    data: Bytes,
    dest: Peer,
    timers: TimerTable,
    e_interval: Duration,
}

impl ClientNonInvite {
    /// Sends the request and arms Timers E (UDP only) and F.
    pub fn start(id: TxId, cfg: &TimerConfig, now: Instant, data: Bytes, dest: Peer, out: &mut Outputs) -> Self {
        out.send(dest, &data);
        let mut timers = TimerTable::default();
        if !dest.protocol.is_reliable() {
            timers.set(Timer::E, now + cfg.timer_e());
        }
        timers.set(Timer::F, now + cfg.timer_f());
        ClientNonInvite { id, state: State::Trying, data, dest, timers, e_interval: cfg.timer_e() }
    }

    /// The state as the layer reports it; `None` once terminated.
    pub fn tx_state(&self) -> Option<TxState> {
        match self.state {
            State::Trying => Some(TxState::Trying),
            State::Proceeding => Some(TxState::Proceeding),
            State::Completed => Some(TxState::Completed),
            State::Terminated => None,
        }
    }

    /// Bytes of request kept.
    #[cfg(test)]
    pub(super) fn retained(&self) -> usize {
        self.data.len()
    }

    /// The timers.
    pub fn timers(&self) -> &TimerTable {
        &self.timers
    }

    /// Where the request went.
    pub fn dest(&self) -> Peer {
        self.dest
    }

    /// Whether the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Handles a response matched to this transaction.
    pub fn on_response(&mut self, cfg: &TimerConfig, now: Instant, resp: Response, out: &mut Outputs) {
        match (self.state, resp.status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                out.event(TuEvent::Response { tx: self.id, resp });
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                self.timers.stop_all();
                out.event(TuEvent::Response { tx: self.id, resp });
                let k = cfg.timer_k(self.dest.protocol.is_reliable());
                if k.is_zero() {
                    self.state = State::Terminated;
                } else {
                    // Completed only absorbs response retransmissions: the request is not
                    // sent again, so it need not be kept for Timer K.
                    self.state = State::Completed;
                    self.timers.set(Timer::K, now + k);
                    self.data = Bytes::new();
                }
            }
            _ => {
                tracing::trace!(tx = self.id.as_u64(), status = resp.status, state = ?self.state, "client non-INVITE: response absorbed");
            }
        }
    }

    /// Fires every expired timer.
    pub fn on_timeout(&mut self, cfg: &TimerConfig, now: Instant, out: &mut Outputs) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::E, State::Trying) => {
                    out.send(self.dest, &self.data);
                    self.e_interval = cfg.backoff(self.e_interval, true);
                    self.timers.set(Timer::E, now + self.e_interval);
                }
                (Timer::E, State::Proceeding) => {
                    // §17.1.2.2: once a provisional arrived, retransmit every T2.
                    out.send(self.dest, &self.data);
                    self.e_interval = cfg.t2;
                    self.timers.set(Timer::E, now + self.e_interval);
                }
                (Timer::F, State::Trying | State::Proceeding) => {
                    tracing::debug!(tx = self.id.as_u64(), "client non-INVITE: Timer F, no final response");
                    out.event(TuEvent::Timeout { tx: self.id });
                    self.terminate();
                }
                (Timer::K, State::Completed) => self.terminate(),
                _ => {}
            }
        }
    }

    /// The transport cannot reach the destination.
    pub fn on_transport_error(&mut self, out: &mut Outputs) {
        if matches!(self.state, State::Trying | State::Proceeding) {
            out.event(TuEvent::TransportError { tx: self.id });
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.stop_all();
    }
}
