//! Timer configuration (RFC 3261 §17.1.1.1, Table 4): the three base values T1, T2 and T4 and
//! every transaction timer derived from them.
//!
//! Timers that RFC 3261 sets to zero on reliable transports take `reliable` and return
//! `Duration::ZERO` there; the state machines treat zero as "move on immediately" rather than
//! arming a timer that would fire at once.

use std::time::Duration;

/// The base timer values. Everything else is derived from them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms): the first retransmission interval.
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE responses (default 4 s).
    pub t2: Duration,
    /// Longest time a message may stay in the network (default 5 s).
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig { t1: Duration::from_millis(500), t2: Duration::from_secs(4), t4: Duration::from_secs(5) }
    }
}

/// Timer D's floor on unreliable transports: "at least 32 seconds" (§17.1.1.2).
const TIMER_D_MIN: Duration = Duration::from_secs(32);

impl TimerConfig {
    /// 64*T1: the transaction timeout shared by Timers B, F, H, J, L and M.
    pub fn t1x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }

    /// Timer A: first INVITE retransmission interval (T1; doubles each time, UDP only).
    pub fn timer_a(&self) -> Duration {
        self.t1
    }

    /// Timer B: INVITE transaction timeout (64*T1).
    pub fn timer_b(&self) -> Duration {
        self.t1x64()
    }

    /// Timer D: wait time for response retransmissions after a non-2xx final to INVITE
    /// (at least 32 s on UDP, zero on reliable transports). 64*T1 if that is longer, so a
    /// raised T1 still covers the far end's whole Timer G schedule.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            TIMER_D_MIN.max(self.t1x64())
        }
    }

    /// Timer E: first non-INVITE retransmission interval (T1; doubles, capped at T2).
    pub fn timer_e(&self) -> Duration {
        self.t1
    }

    /// Timer F: non-INVITE transaction timeout (64*T1).
    pub fn timer_f(&self) -> Duration {
        self.t1x64()
    }

    /// Timer G: first INVITE final-response retransmission interval (T1; doubles, capped at T2).
    pub fn timer_g(&self) -> Duration {
        self.t1
    }

    /// Timer H: wait time for the ACK of a non-2xx final (64*T1).
    pub fn timer_h(&self) -> Duration {
        self.t1x64()
    }

    /// Timer I: wait time for ACK retransmissions (T4 on UDP, zero on reliable transports).
    pub fn timer_i(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: wait time for non-INVITE request retransmissions (64*T1 on UDP, zero reliable).
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1x64()
        }
    }

    /// Timer K: wait time for non-INVITE response retransmissions (T4 on UDP, zero reliable).
    pub fn timer_k(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer L (RFC 6026): how long a server INVITE transaction stays Accepted (64*T1).
    pub fn timer_l(&self) -> Duration {
        self.t1x64()
    }

    /// Timer M (RFC 6026): how long a client INVITE transaction stays Accepted (64*T1).
    pub fn timer_m(&self) -> Duration {
        self.t1x64()
    }

    /// The next retransmission interval after `prev`: doubled, and capped at T2 when `capped`
    /// (Timers E and G are capped; Timer A is not).
    pub fn backoff(&self, prev: Duration, capped: bool) -> Duration {
        let next = prev.saturating_mul(2);
        if capped {
            next.min(self.t2)
        } else {
            next
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derived() {
        let c = TimerConfig::default();
        assert_eq!(c.timer_b(), Duration::from_secs(32));
        assert_eq!(c.timer_d(false), Duration::from_secs(32));
        assert_eq!(c.timer_d(true), Duration::ZERO);
        assert_eq!(c.timer_i(false), Duration::from_secs(5));
        assert_eq!(c.timer_k(true), Duration::ZERO);
        assert_eq!(c.backoff(Duration::from_secs(2), true), Duration::from_secs(4));
        assert_eq!(c.backoff(Duration::from_secs(4), true), Duration::from_secs(4));
        assert_eq!(c.backoff(Duration::from_secs(4), false), Duration::from_secs(8));
    }
}
