//! The server non-INVITE transaction (RFC 3261 §17.2.2).
//!
//! ```text
//!   request received
//!        |
//!      Trying  (retransmissions absorbed silently)
//!    1xx |   \ 200-699
//!        v    v
//!  Proceeding --200-699--> Completed --J--> Terminated
//!  (retransmission: re-send  (retransmission: re-send the final)
//!   the last provisional)
//! ```

use super::config::TimerConfig;
use super::error::TxError;
use super::event::{Outputs, TxId, TxState};
use super::timer::{Timer, TimerTable};
use crate::sip::Response;
use crate::transport::Peer;
use bytes::Bytes;
use std::time::Instant;

/// Where the transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for the TU's response.
    Trying,
    /// A provisional was sent.
    Proceeding,
    /// The final was sent; answering retransmissions with it.
    Completed,
    /// Done; the layer removes the transaction.
    Terminated,
}

/// One server non-INVITE transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    id: TxId,
    state: State,
    /// Where responses go (fixed at creation, §18.2.2).
    dest: Peer,
    timers: TimerTable,
    /// The last response sent.
    last: Option<Bytes>,
}

impl ServerNonInvite {
    /// A new transaction for a request just received; responses go to `dest`.
    pub fn new(id: TxId, dest: Peer) -> Self {
        ServerNonInvite { id, state: State::Trying, dest, timers: TimerTable::default(), last: None }
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

    /// The timers.
    pub fn timers(&self) -> &TimerTable {
        &self.timers
    }

    /// Whether the transaction has ended.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// Sends a response from the TU.
    pub fn respond(&mut self, cfg: &TimerConfig, now: Instant, resp: &Response, out: &mut Outputs) -> Result<(), TxError> {
        let status = resp.status;
        match (self.state, status) {
            (State::Trying | State::Proceeding, 100..=199) => {
                let data = resp.to_bytes();
                out.send(self.dest, &data);
                self.last = Some(data);
                self.state = State::Proceeding;
            }
            (State::Trying | State::Proceeding, 200..=699) => {
                let data = resp.to_bytes();
                out.send(self.dest, &data);
                let j = cfg.timer_j(self.dest.protocol.is_reliable());
                if j.is_zero() {
                    self.state = State::Terminated;
                } else {
                    self.last = Some(data);
                    self.state = State::Completed;
                    self.timers.set(Timer::J, now + j);
                }
            }
            _ => return Err(TxError::InvalidState { tx: self.id, status }),
        }
        Ok(())
    }

    /// Sends a final response and terminates at once, keeping no copy and arming no Timer J:
    /// for a TU that absorbs retransmissions itself or answers them afresh (stateless
    /// challenges, OPTIONS, a REGISTER's 200 recognised later by its nonce-count). Same states
    /// allowed as [`respond`](Self::respond), final statuses only.
    pub fn respond_and_end(&mut self, status: u16, data: Bytes, out: &mut Outputs) -> Result<(), TxError> {
        match (self.state, status) {
            (State::Trying | State::Proceeding, 200..=699) => {
                out.send_owned(self.dest, data);
                self.state = State::Terminated;
                self.timers.stop_all();
                Ok(())
            }
            _ => Err(TxError::InvalidState { tx: self.id, status }),
        }
    }

    /// Handles a retransmission of the request.
    pub fn on_retransmission(&mut self, out: &mut Outputs) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(last) = &self.last {
                out.send(self.dest, last);
            }
        }
    }

    /// Fires every expired timer.
    pub fn on_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            if (timer, self.state) == (Timer::J, State::Completed) {
                self.state = State::Terminated;
                self.timers.stop_all();
            }
        }
    }
}
