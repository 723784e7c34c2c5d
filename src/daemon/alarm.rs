//! The core loop's one timer: a Linux `timerfd` in the core's own epoll set, so that the loop
//! sleeps in `epoll_wait` *without* a timeout (TCP idle connections are swept from the main
//! runtime; the core runtime's own wheel holds a timer only while an outbound TCP connection
//! is being opened).
//!
//! Why not tokio's timers: tokio's current-thread runtime parks in `epoll_wait` with the next
//! timer's deadline as timeout, and with thousands of transactions that deadline is always a
//! millisecond or so away. Every sleep then arms a high-resolution timer and every datagram
//! that ends the sleep cancels it; both reprogram the CPU's clock event device, which in a KVM
//! guest exits to the hypervisor (`benches/hrtimer-cost.c`: 3.4–3.6 µs a pair on an Intel
//! Xeon guest, 6.6–7.6 µs on an AMD EPYC one, against ~0.5–1.4 µs for a deadline far away). urpd
//! armed and cancelled 0.51 of them per REGISTER transaction at 500/s, Kamailio 0.03.
//!
//! Under load the loop may also sleep a few hundred µs on purpose before reading UDP again
//! (`transport::moderation`): that sleep is a plain `nanosleep`, one timer per busy wake-up,
//! and it never happens at low load, where this timer's saving counts.
//!
//! Contract: [`Alarm::arm`] takes the core's earliest deadline after each turn; the deadline
//! is rounded *up* to a [`GRAIN`] boundary (a timer never fires early) and the kernel is only
//! told when that boundary is earlier than the one already set, or none is set. A deadline
//! that moved later leaves the earlier one armed: it fires once for nothing (`handle_timeout`
//! finds nothing due) and the next turn arms the real one. [`Alarm::fired`] resolves when the
//! armed boundary has passed. Under load this is at most one wake-up per grain instead of a
//! timer set and cancelled on every sleep.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Timer resolution of the core. SIP's timers are hundreds of milliseconds (T1 = 500 ms) to
/// minutes; firing up to 10 ms late costs nothing a peer can see, and lets a busy node serve
/// every timer due in those 10 ms with one wake-up. (Kamailio's tm module works on ticks of
/// 1/16 s.)
pub const GRAIN: Duration = Duration::from_millis(10);

/// A `timerfd` (CLOCK_MONOTONIC, the clock `std::time::Instant` reads) registered with the
/// runtime of the thread that creates it, for read readiness only.
pub struct Alarm {
    fd: AsyncFd<OwnedFd>,
    /// Grain boundaries are counted from here.
    epoch: Instant,
    /// The boundary (grains since `epoch`) the kernel holds, if any.
    armed: Option<u64>,
    /// How many times the kernel was told (`timerfd_settime`): what the rounding saves.
    sets: u64,
}

impl Alarm {
    /// Creates the timer on the current tokio runtime (which needs I/O; timers it need not have).
    pub fn new() -> io::Result<Alarm> {
        // SAFETY: plain syscall; the result is checked before it is used as a descriptor.
        let raw = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just opened and own alone.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the AsyncFd owns the descriptor, so it stays open and the same for as long
        // as it is registered.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }.map_err(|e| e.into_parts().1)?;
        Ok(Alarm { fd, epoch: Instant::now(), armed: None, sets: 0 })
    }

    /// The boundary at or after `at`, in grains since the epoch.
    fn slot(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch).as_nanos();
        let grain = GRAIN.as_nanos();
        u64::try_from(since.div_ceil(grain)).unwrap_or(u64::MAX)
    }

    /// Makes the timer fire no later than one grain after `deadline` (`None`: no deadline;
    /// whatever is armed stays armed and may fire once for nothing).
    /// The clock is read only when the kernel must be told (not on every turn).
    pub fn arm(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let Some(deadline) = deadline else { return Ok(()) };
        let slot = self.slot(deadline);
        if self.armed.is_some_and(|a| a <= slot) {
            return Ok(());
        }
        let grain_ns = u64::try_from(GRAIN.as_nanos()).unwrap_or(u64::MAX);
        let at = self.epoch + Duration::from_nanos(slot.saturating_mul(grain_ns));
        // Relative arming: std's Instant has no public timespec. A zero value would disarm,
        // so a boundary already passed is one nanosecond away.
        let wait = at.saturating_duration_since(Instant::now()).max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(wait.subsec_nanos()),
            },
        };
        // SAFETY: valid descriptor, valid pointer to an initialised itimerspec, null old value.
        let r = unsafe { libc::timerfd_settime(self.fd.get_ref().as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = Some(slot);
        self.sets += 1;
        Ok(())
    }

    /// Resolves once the armed boundary has passed; pending forever while nothing is armed.
    pub async fn fired(&mut self) {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                // The driver is gone (shutdown): never fire again.
                return std::future::pending().await;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reads at most 8 bytes into a buffer of 8.
            let n = unsafe { libc::read(guard.get_inner().as_raw_fd(), expirations.as_mut_ptr().cast(), expirations.len()) };
            if n == 8 {
                // Read readiness stays until the next EAGAIN; tell tokio now that it is gone.
                guard.clear_ready();
                self.armed = None;
                return;
            }
            // EAGAIN (already read, or re-armed since): wait for the next expiry.
            guard.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        match tokio::runtime::Builder::new_current_thread().enable_io().build() {
            Ok(rt) => rt,
            Err(e) => panic!("runtime: {e}"),
        }
    }

    #[test]
    fn fires_on_a_runtime_without_timers_never_early() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap_or_else(|e| panic!("{e}"));
            let start = Instant::now();
            let deadline = start + Duration::from_millis(25);
            alarm.arm(Some(deadline)).unwrap_or_else(|e| panic!("{e}"));
            alarm.fired().await;
            assert!(Instant::now() >= deadline, "fired before its deadline");
            assert!(alarm.armed.is_none());
        });
    }

    #[test]
    fn a_later_deadline_keeps_the_earlier_one_and_an_earlier_one_replaces_it() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap_or_else(|e| panic!("{e}"));
            let now = Instant::now();
            alarm.arm(Some(now + Duration::from_secs(3600))).unwrap_or_else(|e| panic!("{e}"));
            let far = alarm.armed;
            alarm.arm(Some(now + Duration::from_secs(7200))).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((alarm.armed, alarm.sets), (far, 1), "a later deadline must not re-arm");
            // Earlier, but within the armed grain: the same boundary, no re-arm either.
            let boundary = alarm.epoch + GRAIN * 360_000;
            alarm.arm(Some(boundary)).unwrap_or_else(|e| panic!("{e}"));
            let (at_boundary, sets) = (alarm.armed, alarm.sets);
            alarm.arm(Some(boundary - GRAIN / 2)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((alarm.armed, alarm.sets), (at_boundary, sets), "a deadline within the armed grain must not re-arm");
            let soon = now + Duration::from_millis(5);
            alarm.arm(Some(soon)).unwrap_or_else(|e| panic!("{e}"));
            assert!(alarm.armed < far);
            assert_eq!(alarm.sets, sets + 1, "an earlier boundary is told to the kernel once");
            alarm.fired().await;
            assert!(Instant::now() >= soon);
        });
    }

    #[test]
    fn a_deadline_in_the_past_fires_at_once() {
        runtime().block_on(async {
            let mut alarm = Alarm::new().unwrap_or_else(|e| panic!("{e}"));
            let now = Instant::now();
            alarm.arm(Some(now - Duration::from_secs(1))).unwrap_or_else(|e| panic!("{e}"));
            alarm.fired().await;
        });
    }

    #[test]
    fn boundaries_round_up() {
        runtime().block_on(async {
            let alarm = Alarm::new().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(alarm.slot(alarm.epoch), 0);
            assert_eq!(alarm.slot(alarm.epoch + Duration::from_nanos(1)), 1);
            assert_eq!(alarm.slot(alarm.epoch + GRAIN), 1);
            assert_eq!(alarm.slot(alarm.epoch + GRAIN * 3 + Duration::from_micros(1)), 4);
        });
    }
}
