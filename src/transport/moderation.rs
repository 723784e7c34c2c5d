//! UDP read moderation: after a wake-up that found several datagrams and read the socket dry,
//! the core's thread sleeps a short, bounded time before it reads again, so that the next
//! wake-up finds a batch instead of one or two datagrams (the same trade as a NIC's interrupt
//! coalescing, `ethtool -C rx-usecs`, and its adaptive mode).
//!
//! Why: under load most of what a wake-up costs does not depend on how many datagrams it
//! reads — the context switch back in, `epoll_wait`, one `recvmmsg` and one `sendmmsg`, the
//! runtime's park and unpark, cold caches. Uncapped at 15,000 REGISTER/s urpd made 0.38
//! `recvmmsg` calls per transaction; with a 500 µs wait 0.05, and its CPU per transaction was
//! 0.88× (docs/benchmarks.md, twenty-first round).
//!
//! How long: the wait is sized to the arrival rate, to let about [`TARGET_BATCH`] datagrams
//! (one full `recvmmsg`) gather, never longer than the configured limit, and there is no wait
//! at all when the limit would gather fewer than [`MIN_GATHER`]. A fixed wait was wrong at
//! both ends (twenty-sixth round): at 4,000 REGISTER datagrams/s a 2 ms wait (~8 datagrams)
//! bought no CPU and cost 8 ms of p99, while where 2 ms gathers ~20 it paid (10,800/s under a
//! CPU quota: 0.83× the CPU of 500 µs, which gathers ~5). Between those rates the limit is the
//! wait; above them it shortens as the rate grows (a full batch comes sooner). Sized so, the
//! rule read 0.81× the CPU of a fixed 500 µs there and calls 0.83–0.86× in three-round sweeps;
//! six-pair A/Bs read 0.91× and 0.89×, within the host's noise (docs/benchmarks.md).
//!
//! The price is latency: a datagram that arrives during a wait is read up to the wait later,
//! and so is everything else the core's thread serves (TCP, timers, signals) — at most the
//! limit (2 ms by default, 10 ms at most), far below SIP's timers, and only under load.
//!
//! The rate is measured, not configured: datagrams read over windows of [`RATE_WINDOW`]
//! (arrivals, in the long run, whatever the waits: every datagram is read once). A light
//! wake-up (fewer than [`MIN_BATCH`] datagrams) never waits, nor does a drain cut short by the
//! burst limit (the socket still has datagrams: waiting would only add delay).
//!
//! Contract: [`Moderation::after_drain`] is told when and what one drain of a socket read and
//! answers how long to wait, if at all. Sans-IO: the caller passes `now`; no socket, no sleep
//! (daemon::run sleeps, and says why a sleep and not a timer).

use std::time::{Duration, Instant};

/// What one drain of a UDP socket found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Datagrams read (keep-alives and dropped ones included: each cost the same to read).
    pub datagrams: usize,
    /// Whether the socket ran dry (`recvmmsg` came back short), not cut by the burst limit.
    pub dry: bool,
}

/// Datagrams in one wake-up from which the loop may wait: one REGISTER transaction with its
/// challenge is two requests, a call's INVITE, ACK and BYE three; four in one wake-up means
/// several transactions arrive per wake-up.
pub const MIN_BATCH: usize = 4;

/// The batch a wait is sized to gather: one `recvmmsg`'s worth (`mmsg::BATCH`), read with a
/// single system call. Past it the wake-up's cost is already shared thin (1/32 per datagram).
pub const TARGET_BATCH: usize = super::mmsg::BATCH;

/// The fewest datagrams the longest wait must be expected to gather for any wait at all:
/// measured, a wait gathering ~8 bought nothing and one gathering ~20 paid (module doc).
pub const MIN_GATHER: usize = 16;

/// Over how long the arrival rate is counted: long enough to hold many wake-ups at the rates
/// where a wait pays (~16 datagrams per ms and up), short enough to follow a load that starts
/// or stops within a few tens of milliseconds.
pub const RATE_WINDOW: Duration = Duration::from_millis(10);

/// The policy and the rate it measures.
#[derive(Debug, Clone)]
pub struct Moderation {
    /// The longest wait; zero turns moderation off.
    max_wait: Duration,
    /// Start of the rate window being counted (`None` before the first drain).
    window_start: Option<Instant>,
    /// Datagrams read since `window_start`.
    window_datagrams: u64,
    /// Arrivals per second over the last closed window (0 until one closes).
    rate_per_sec: u64,
}

impl Moderation {
    /// Moderation that waits at most `max_wait` after a wake-up of at least [`MIN_BATCH`]
    /// datagrams, sized to gather [`TARGET_BATCH`].
    pub fn new(max_wait: Duration) -> Moderation {
        Moderation { max_wait, window_start: None, window_datagrams: 0, rate_per_sec: 0 }
    }

    /// Whether moderation is on.
    pub fn enabled(&self) -> bool {
        !self.max_wait.is_zero()
    }

    /// The arrival rate measured over the last closed window, datagrams per second.
    pub fn rate_per_sec(&self) -> u64 {
        self.rate_per_sec
    }

    /// How long to leave UDP alone after drain `d`, read at `now`; `None` reads on at once.
    pub fn after_drain(&mut self, now: Instant, d: Drained) -> Option<Duration> {
        if !self.enabled() {
            return None;
        }
        self.count(now, d.datagrams);
        if !d.dry || d.datagrams < MIN_BATCH || self.rate_per_sec == 0 {
            return None;
        }
        let rate = u128::from(self.rate_per_sec);
        let max = self.max_wait.as_nanos();
        // What the longest wait would gather at this rate; too few to pay for the delay: none.
        if rate.saturating_mul(max) < (MIN_GATHER as u128).saturating_mul(1_000_000_000) {
            return None;
        }
        // The time TARGET_BATCH datagrams take to arrive at this rate, within the limit.
        let fill = (TARGET_BATCH as u128).saturating_mul(1_000_000_000) / rate;
        Some(Duration::from_nanos(u64::try_from(fill.min(max)).unwrap_or(u64::MAX)))
    }

    /// Adds a drain's datagrams to the window, closing it (and updating the rate) once it is
    /// [`RATE_WINDOW`] long.
    fn count(&mut self, now: Instant, datagrams: usize) {
        let start = *self.window_start.get_or_insert(now);
        self.window_datagrams = self.window_datagrams.saturating_add(datagrams as u64);
        let span = now.saturating_duration_since(start);
        if span >= RATE_WINDOW {
            let per_sec = u128::from(self.window_datagrams).saturating_mul(1_000_000_000) / span.as_nanos().max(1);
            self.rate_per_sec = u64::try_from(per_sec).unwrap_or(u64::MAX);
            self.window_start = Some(now);
            self.window_datagrams = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const US: Duration = Duration::from_micros(1);

    /// Drains of `per` datagrams every `every`, for `span` of simulated time from `t`; returns
    /// the last answer and the time after.
    fn feed(m: &mut Moderation, t: Instant, per: usize, every: Duration, span: Duration) -> (Option<Duration>, Instant) {
        let mut now = t;
        let mut last = None;
        while now < t + span {
            now += every;
            last = m.after_drain(now, Drained { datagrams: per, dry: true });
        }
        (last, now)
    }

    #[test]
    fn a_busy_socket_waits_for_a_full_batch_and_no_longer() {
        // 40 datagrams per ms (20,000 registrations a second, two REGISTERs each): 32 arrive in 800 µs.
        let mut m = Moderation::new(2 * MS);
        let (wait, _) = feed(&mut m, Instant::now(), 40, MS, 30 * MS);
        assert_eq!(m.rate_per_sec(), 40_000);
        assert_eq!(wait, Some(800 * US));
    }

    #[test]
    fn the_wait_shortens_as_the_rate_grows() {
        let t = Instant::now();
        let mut slow = Moderation::new(2 * MS);
        let mut fast = Moderation::new(2 * MS);
        let (a, _) = feed(&mut slow, t, 20, MS, 30 * MS);
        let (b, _) = feed(&mut fast, t, 80, MS, 30 * MS);
        assert_eq!(a, Some(1600 * US));
        assert_eq!(b, Some(400 * US));
    }

    #[test]
    fn between_the_two_batches_the_limit_is_the_wait() {
        // 10 per ms: a full batch would take 3.2 ms; 2 ms gathers 20, enough to pay.
        let mut m = Moderation::new(2 * MS);
        let (wait, _) = feed(&mut m, Instant::now(), 10, MS, 30 * MS);
        assert_eq!(m.rate_per_sec(), 10_000);
        assert_eq!(wait, Some(2 * MS));
        // The edge: the limit gathering exactly MIN_GATHER waits, one fewer does not.
        let per_ms = MIN_GATHER / 2;
        let mut m = Moderation::new(2 * MS);
        assert_eq!(feed(&mut m, Instant::now(), per_ms, MS, 30 * MS).0, Some(2 * MS));
        let mut m = Moderation::new(2 * MS);
        assert_eq!(feed(&mut m, Instant::now(), per_ms * 2 - 1, 2 * MS, 30 * MS).0, None);
    }

    #[test]
    fn below_the_rate_where_the_limit_gathers_enough_there_is_no_wait() {
        // 4 per ms (4,000 REGISTER transactions a second): 2 ms would gather 8. Busy wake-ups, no wait.
        let mut m = Moderation::new(2 * MS);
        let (wait, _) = feed(&mut m, Instant::now(), 4, MS, 30 * MS);
        assert_eq!(m.rate_per_sec(), 4_000);
        assert_eq!(wait, None);
        // The same rate under a longer limit does wait: 5 ms gathers 20 (of 32: the limit).
        let mut m = Moderation::new(5 * MS);
        assert_eq!(feed(&mut m, Instant::now(), 4, MS, 30 * MS).0, Some(5 * MS));
    }

    #[test]
    fn no_wait_before_a_rate_is_known() {
        // The first window has not closed: nothing measured, nothing assumed.
        let mut m = Moderation::new(2 * MS);
        let t = Instant::now();
        assert_eq!(m.after_drain(t, Drained { datagrams: 32, dry: true }), None);
        assert_eq!(m.after_drain(t + MS, Drained { datagrams: 32, dry: true }), None);
    }

    #[test]
    fn a_light_wake_up_reads_on_at_once() {
        let mut m = Moderation::new(2 * MS);
        let (_, t) = feed(&mut m, Instant::now(), 40, MS, 30 * MS);
        for n in 0..MIN_BATCH {
            assert_eq!(m.after_drain(t, Drained { datagrams: n, dry: true }), None, "{n} datagrams");
        }
    }

    #[test]
    fn a_socket_with_datagrams_left_is_never_held() {
        // The burst limit cut the drain: waiting would only delay what is already there.
        let mut m = Moderation::new(2 * MS);
        let (_, t) = feed(&mut m, Instant::now(), 40, MS, 30 * MS);
        assert_eq!(m.after_drain(t, Drained { datagrams: 64, dry: false }), None);
    }

    #[test]
    fn the_rate_follows_the_load_down() {
        // Load stops: the next window to close reads the idle time, and the waits stop.
        let mut m = Moderation::new(2 * MS);
        let (_, t) = feed(&mut m, Instant::now(), 40, MS, 30 * MS);
        let later = t + Duration::from_secs(1);
        assert_eq!(m.after_drain(later, Drained { datagrams: 4, dry: true }), None);
        // The window that closes holds the load's last few ms and the idle second: ~360/s.
        assert!(m.rate_per_sec() < 1_000, "{}", m.rate_per_sec());
    }

    #[test]
    fn the_rate_counts_arrivals_whatever_the_drains() {
        // The same 20,000 datagrams/s read in wake-ups of 5 or of 40: the same rate.
        let t = Instant::now();
        let mut a = Moderation::new(2 * MS);
        let mut b = Moderation::new(2 * MS);
        feed(&mut a, t, 5, 250 * US, 30 * MS);
        feed(&mut b, t, 40, 2 * MS, 30 * MS);
        assert_eq!(a.rate_per_sec(), 20_000);
        assert_eq!(b.rate_per_sec(), 20_000);
    }

    #[test]
    fn zero_turns_it_off() {
        let mut m = Moderation::new(Duration::ZERO);
        assert!(!m.enabled());
        let (wait, _) = feed(&mut m, Instant::now(), 64, MS, 30 * MS);
        assert_eq!(wait, None);
        assert_eq!(m.rate_per_sec(), 0, "off: nothing counted");
    }
}
