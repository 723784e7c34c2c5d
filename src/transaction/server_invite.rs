//! The server INVITE transaction (RFC 3261 §17.2.1 with the RFC 6026 Accepted state).
//!
//! ```text
//!   INVITE received (no timers; the TU answers)
//!        |
//!   Proceeding  (INVITE retransmission: re-send the last provisional, if any)
//!    2xx |   \ 300-699 (Timer G on UDP, Timer H)
//!        v    v
//!  Accepted  Completed --H--> Terminated (no ACK; logged)
//!   (L)       |  ACK (Timer I)
//!    |        v
//!    |     Confirmed --I--> Terminated
//!    +--L--> Terminated
//! ```
//! In Accepted, INVITE retransmissions are absorbed (the TU retransmits the 2xx, not the
//! transaction, §13.3.1.4), further 2xx from the TU are sent, and ACKs go to the TU.

use super::config::TimerConfig;
use super::error::TxError;
use super::event::{Outputs, TuEvent, TxId, TxState};
use super::timer::{Timer, TimerTable};
use crate::sip::{Request, Response, SipHeaders};
use crate::transport::Peer;
use bytes::Bytes;
use std::time::{Duration, Instant};

/// Where the transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the TU's final response.
    Proceeding,
    /// A 300-699 was sent; retransmitting it until the ACK.
    Completed,
    /// The ACK arrived; absorbing ACK retransmissions.
    Confirmed,
    /// A 2xx was sent; absorbing INVITE retransmissions, passing ACKs up.
    Accepted,
    /// Done; the layer removes the transaction.
    Terminated,
}

/// One server INVITE transaction.
#[derive(Debug)]
pub struct ServerInvite {
    id: TxId,
    state: State,
    /// Where responses go (fixed at creation, §18.2.2).
    dest: Peer,
    timers: TimerTable,
    g_interval: Duration,
    /// The last response sent (a provisional in Proceeding, the final in Completed).
    last: Option<Bytes>,
    /// The To tag of the final response, for RFC 2543 ACK matching.
    final_to_tag: Option<String>,
}

impl ServerInvite {
    /// A new transaction for an INVITE just received; responses go to `dest`.
    pub fn new(id: TxId, dest: Peer) -> Self {
        ServerInvite {
            id,
            state: State::Proceeding,
            dest,
            timers: TimerTable::default(),
            g_interval: Duration::ZERO,
            last: None,
            final_to_tag: None,
        }
    }

    /// The state as the layer reports it; `None` once terminated.
    pub fn tx_state(&self) -> Option<TxState> {
        match self.state {
            State::Proceeding => Some(TxState::Proceeding),
            State::Completed => Some(TxState::Completed),
            State::Confirmed => Some(TxState::Confirmed),
            State::Accepted => Some(TxState::Accepted),
            State::Terminated => None,
        }
    }

    /// The timers.
    pub fn timers(&self) -> &TimerTable {
        &self.timers
    }

    /// Whether the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// The To tag of the final response sent, if any.
    pub fn final_to_tag(&self) -> Option<&str> {
        self.final_to_tag.as_deref()
    }

    /// Sends a response from the TU.
    pub fn respond(&mut self, cfg: &TimerConfig, now: Instant, resp: &Response, out: &mut Outputs) -> Result<(), TxError> {
        let status = resp.status;
        match (self.state, status) {
            (State::Proceeding, 100..=199) => {
                let data = resp.to_bytes();
                out.send(self.dest, &data);
                self.last = Some(data);
            }
            (State::Proceeding, 200..=299) => {
                out.send(self.dest, &resp.to_bytes());
                self.final_to_tag = resp.to_tag().map(str::to_owned);
                // The 2xx is retransmitted by the TU, so the transaction keeps no copy.
                self.last = None;
                self.state = State::Accepted;
                self.timers.set(Timer::L, now + cfg.timer_l());
            }
            (State::Accepted, 200..=299) => {
                out.send(self.dest, &resp.to_bytes());
            }
            (State::Proceeding, 300..=699) => {
                let data = resp.to_bytes();
                out.send(self.dest, &data);
                self.last = Some(data);
                self.final_to_tag = resp.to_tag().map(str::to_owned);
                self.state = State::Completed;
                if !self.dest.protocol.is_reliable() {
                    self.g_interval = cfg.timer_g();
                    self.timers.set(Timer::G, now + self.g_interval);
                }
                self.timers.set(Timer::H, now + cfg.timer_h());
            }
            _ => return Err(TxError::InvalidState { tx: self.id, status }),
        }
        Ok(())
    }

    /// Handles a retransmission of the INVITE.
    pub fn on_retransmission(&mut self, out: &mut Outputs) {
        match self.state {
            State::Proceeding | State::Completed => {
                if let Some(last) = &self.last {
                    out.send(self.dest, last);
                }
            }
            // Accepted: absorbed (RFC 6026 §7.1); Confirmed: the final was ACKed already.
            _ => {}
        }
    }

    /// Handles an ACK matched to this transaction.
    pub fn on_ack(&mut self, cfg: &TimerConfig, now: Instant, ack: Request, from: Peer, out: &mut Outputs) {
        match self.state {
            State::Completed => {
                self.timers.stop_all();
                let i = cfg.timer_i(self.dest.protocol.is_reliable());
                if i.is_zero() {
                    self.state = State::Terminated;
                } else {
                    self.state = State::Confirmed;
                    self.timers.set(Timer::I, now + i);
                }
            }
            State::Accepted => out.event(TuEvent::Ack { req: ack, from }),
            State::Confirmed => {}
            State::Proceeding | State::Terminated => {
                tracing::debug!(tx = self.id.as_u64(), "server INVITE: ACK before any final response dropped");
            }
        }
    }

    /// Fires every expired timer.
    pub fn on_timeout(&mut self, cfg: &TimerConfig, now: Instant, out: &mut Outputs) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match (timer, self.state) {
                (Timer::G, State::Completed) => {
                    if let Some(last) = &self.last {
                        out.send(self.dest, last);
                    }
                    self.g_interval = cfg.backoff(self.g_interval, true);
                    self.timers.set(Timer::G, now + self.g_interval);
                }
                (Timer::H, State::Completed) => {
                    tracing::info!(tx = self.id.as_u64(), dest = %self.dest, "server INVITE: Timer H, no ACK for the final response");
                    self.terminate();
                }
                (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => self.terminate(),
                _ => {}
            }
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.stop_all();
    }
}
