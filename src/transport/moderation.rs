//! UDP read moderation: after a wake-up that found several datagrams and read the socket dry,
//! the core's thread sleeps a short, bounded time before it reads again, so that the next
//! wake-up finds a batch instead of one or two datagrams (the same trade as a NIC's interrupt
//! coalescing, `ethtool -C rx-usecs`).
//!
//! Why: under load most of what a wake-up costs does not depend on how many datagrams it
//! reads — the context switch back in, `epoll_wait`, one `recvmmsg` and one `sendmmsg`, the
//! runtime's park and unpark, cold caches. Uncapped at 15,000 REGISTER/s urpd made 0.38
//! `recvmmsg` calls per transaction; with a 500 µs wait 0.05, and its CPU per transaction was
//! 0.88× (calls at 3,000/s: 0.90×; at 4,000 REGISTER/s, where SIPp's own bursts already
//! batch, no change; docs/benchmarks.md, twenty-first round). The price is latency: a datagram
//! that arrives during the wait is read up to `wait` later, and so is everything else the
//! core's thread serves (TCP, timers, signals) — bounded by `wait`, far below SIP's timers.
//!
//! Contract: [`Moderation::after_drain`] is told what one drain of a socket read and answers
//! how long to wait, if at all. It never waits after a light wake-up (fewer than `min_batch`
//! datagrams: at low load nothing changes, latency included) nor after a drain cut short by
//! the burst limit (the socket still has datagrams: waiting would only add delay). Sans-IO:
//! no clock, no socket; the core loop sleeps (daemon::run says why a sleep and not a timer).

use std::time::Duration;

/// What one drain of a UDP socket found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Datagrams read (keep-alives and dropped ones included: each cost the same to read).
    pub datagrams: usize,
    /// Whether the socket ran dry (`recvmmsg` came back short), not cut by the burst limit.
    pub dry: bool,
}

/// The policy: how long to wait, and after how big a wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moderation {
    /// The wait after a busy wake-up; zero turns moderation off.
    pub wait: Duration,
    /// The fewest datagrams in one wake-up that count as busy.
    pub min_batch: usize,
}

/// Datagrams in one wake-up from which the loop waits: one REGISTER transaction with its
/// challenge is two requests, a call's INVITE, ACK and BYE three; four in one wake-up means
/// several transactions arrive per wake-up, a load where a wait gathers more.
pub const MIN_BATCH: usize = 4;

impl Moderation {
    /// Moderation that waits `wait` after a wake-up of at least [`MIN_BATCH`] datagrams.
    pub fn new(wait: Duration) -> Moderation {
        Moderation { wait, min_batch: MIN_BATCH }
    }

    /// Whether moderation is on.
    pub fn enabled(&self) -> bool {
        !self.wait.is_zero()
    }

    /// How long to leave UDP alone after `d`, or `None` to read on at once.
    pub fn after_drain(&self, d: Drained) -> Option<Duration> {
        (self.enabled() && d.dry && d.datagrams >= self.min_batch).then_some(self.wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_busy_wake_up_that_read_the_socket_dry_waits() {
        let m = Moderation::new(MS);
        assert_eq!(m.after_drain(Drained { datagrams: MIN_BATCH, dry: true }), Some(MS));
        assert_eq!(m.after_drain(Drained { datagrams: 64, dry: true }), Some(MS));
    }

    #[test]
    fn a_light_wake_up_reads_on_at_once() {
        let m = Moderation::new(MS);
        for n in 0..MIN_BATCH {
            assert_eq!(m.after_drain(Drained { datagrams: n, dry: true }), None, "{n} datagrams");
        }
    }

    #[test]
    fn a_socket_with_datagrams_left_is_never_held() {
        // The burst limit cut the drain: waiting would only delay what is already there.
        assert_eq!(Moderation::new(MS).after_drain(Drained { datagrams: 64, dry: false }), None);
    }

    #[test]
    fn zero_turns_it_off() {
        let m = Moderation::new(Duration::ZERO);
        assert!(!m.enabled());
        assert_eq!(m.after_drain(Drained { datagrams: 64, dry: true }), None);
    }
}
