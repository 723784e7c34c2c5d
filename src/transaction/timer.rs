//! The RFC 3261 §17 transaction timers and the small per-transaction table that holds them.
//!
//! Each transaction owns one [`TimerTable`]; the layer indexes every transaction by its earliest
//! deadline, so the table is the single source of truth and the global index is derived from it
//! after every state change (see `layer.rs`).

use std::time::Instant;

/// One transaction timer. Client timers are A–F, K and M; server timers are G–J and L.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Client INVITE request retransmission (UDP only), starting at T1 and doubling.
    A,
    /// Client INVITE transaction timeout while Calling (64*T1); re-armed when a CANCEL is
    /// sent, since §9.1 gives up on the INVITE 64*T1 after its CANCEL.
    B,
    /// Client INVITE: how long Completed absorbs retransmitted non-2xx finals.
    D,
    /// Client non-INVITE request retransmission (UDP only), T1 doubling up to T2.
    E,
    /// Client non-INVITE transaction timeout (64*T1).
    F,
    /// Client non-INVITE: how long Completed absorbs retransmitted finals (T4 on UDP).
    K,
    /// Client INVITE (RFC 6026): how long Accepted passes 2xx retransmissions up (64*T1).
    M,
    /// Server INVITE final (non-2xx) retransmission (UDP only), T1 doubling up to T2.
    G,
    /// Server INVITE: how long Completed waits for the ACK (64*T1).
    H,
    /// Server INVITE: how long Confirmed absorbs ACK retransmissions (T4 on UDP).
    I,
    /// Server non-INVITE: how long Completed absorbs request retransmissions (64*T1 on UDP).
    J,
    /// Server INVITE (RFC 6026): how long Accepted absorbs INVITE retransmissions (64*T1).
    L,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Timer; 12] =
        [Timer::A, Timer::B, Timer::D, Timer::E, Timer::F, Timer::K, Timer::M, Timer::G, Timer::H, Timer::I, Timer::J, Timer::L];

    fn index(self) -> usize {
        self as usize
    }
}

/// The deadlines of one transaction's timers; `None` means not armed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    data: [Option<Instant>; 12],
}

impl TimerTable {
    /// Arms `timer` to fire at `at`, replacing any earlier deadline.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.data[timer.index()] = Some(at);
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.data[timer.index()] = None;
    }

    /// Disarms every timer (the transaction is ending).
    pub fn stop_all(&mut self) {
        self.data = [None; 12];
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.data[timer.index()]
    }

    /// The earliest armed deadline.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.data.iter().flatten().min().copied()
    }

    /// Disarms and returns the earliest timer whose deadline is at or before `now`, so a
    /// caller firing timers in a loop handles them in deadline order.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (i, _) = self.data.iter().enumerate().filter_map(|(i, t)| t.filter(|t| *t <= now).map(|t| (i, t))).min_by_key(|&(_, t)| t)?;
        self.data[i] = None;
        Some(Timer::ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn table_order() {
        let now = Instant::now();
        let mut t = TimerTable::default();
        assert_eq!(t.next_timeout(), None);
        t.set(Timer::B, now + Duration::from_secs(32));
        t.set(Timer::A, now + Duration::from_millis(500));
        assert_eq!(t.next_timeout(), Some(now + Duration::from_millis(500)));
        assert_eq!(t.pop_expired(now), None);
        assert_eq!(t.pop_expired(now + Duration::from_secs(40)), Some(Timer::A));
        assert_eq!(t.pop_expired(now + Duration::from_secs(40)), Some(Timer::B));
        assert_eq!(t.pop_expired(now + Duration::from_secs(40)), None);
        for (i, timer) in Timer::ALL.iter().enumerate() {
            assert_eq!(timer.index(), i);
        }
    }
}
