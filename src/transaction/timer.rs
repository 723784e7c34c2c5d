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
}

/// The deadlines of one transaction's timers, only the armed ones.
///
/// A transaction arms at most two timers at a time (A and B, E and F, G and H), so they live
/// inline: 64 bytes where a slot per timer took 192, in every transaction kept for 64*T1 — a
/// proxied call keeps five, and at 2,000 calls/s the table alone was ~60 MB of the peak (a
/// third arm spills to the heap rather than being lost).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    armed: smallvec::SmallVec<[(Timer, Instant); 2]>,
}

impl TimerTable {
    /// Arms `timer` to fire at `at`, replacing any earlier deadline.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        match self.armed.iter_mut().find(|(t, _)| *t == timer) {
            Some(slot) => slot.1 = at,
            None => self.armed.push((timer, at)),
        }
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.armed.retain(|(t, _)| *t != timer);
    }

    /// Disarms every timer (the transaction is ending).
    pub fn stop_all(&mut self) {
        self.armed.clear();
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.armed.iter().find(|(t, _)| *t == timer).map(|(_, at)| *at)
    }

    /// The earliest armed deadline.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.armed.iter().map(|(_, at)| *at).min()
    }

    /// Disarms and returns the earliest timer whose deadline is at or before `now`, so a
    /// caller firing timers in a loop handles them in deadline order (equal deadlines in the
    /// order of [`Timer::ALL`]).
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (i, _) = self.armed.iter().enumerate().filter(|(_, (_, at))| *at <= now).min_by_key(|(_, (t, at))| (*at, *t))?;
        Some(self.armed.swap_remove(i).0)
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
        // Equal deadlines fire in table order, whatever the order they were armed in.
        t.set(Timer::H, now + Duration::from_secs(1));
        t.set(Timer::G, now + Duration::from_secs(1));
        t.set(Timer::H, now + Duration::from_secs(1));
        assert_eq!(t.get(Timer::H), Some(now + Duration::from_secs(1)));
        assert_eq!(t.pop_expired(now + Duration::from_secs(1)), Some(Timer::G));
        t.stop(Timer::H);
        assert_eq!(t.next_timeout(), None);
        // More than two armed at once still keeps every one.
        for (i, timer) in Timer::ALL.iter().enumerate() {
            t.set(*timer, now + Duration::from_millis(100 - i as u64));
        }
        assert_eq!(t.next_timeout(), Some(now + Duration::from_millis(89)));
        let order: Vec<Timer> = std::iter::from_fn(|| t.pop_expired(now + Duration::from_secs(1))).collect();
        assert_eq!(order, Timer::ALL.iter().rev().copied().collect::<Vec<_>>());
        t.set(Timer::J, now);
        t.stop_all();
        assert_eq!(t.get(Timer::J), None);
        assert!(std::mem::size_of::<TimerTable>() <= 64, "{}", std::mem::size_of::<TimerTable>());
    }
}
