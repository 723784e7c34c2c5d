//! Heap accounting for memory work: a `GlobalAlloc` wrapper that counts the bytes the program
//! holds (as requested, not as the allocator rounds them), the most it held, and the
//! allocations made. `src/main.rs` installs it around mimalloc only in builds with the
//! `heap-stats` feature; the metrics endpoint then shows `urpd_heap_*` (see `snapshot`).
//!
//! Why: process PSS/RSS, what the benchmarks read, includes what the allocator keeps after a
//! burst and moves with its page reuse, so two runs of the same build differ by more than a
//! change to a struct's size; the live count does not (round 11 of docs/benchmarks.md found the
//! 128-byte bindings grown four at a time with it). Off by default: three atomic updates per
//! allocation are a cost a production build does not need.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes requested and not yet freed.
static LIVE: AtomicU64 = AtomicU64::new(0);
/// The highest `LIVE` seen.
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Allocations made (`alloc`, `alloc_zeroed`; a `realloc` counts as one more).
static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// Counts what passes through to `A`.
pub struct Counting<A>(pub A);

fn grew(n: usize) {
    let live = LIVE.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
    PEAK.fetch_max(live, Ordering::Relaxed);
    ALLOCS.fetch_add(1, Ordering::Relaxed);
}

fn shrank(n: usize) {
    LIVE.fetch_sub(n as u64, Ordering::Relaxed);
}

// SAFETY: every method forwards to `A` with the caller's arguments unchanged and only updates
// counters beside it, so `A`'s guarantees are the wrapper's.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received (see the impl's comment).
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { self.0.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // The old block is gone (or is the new one): count the move as free + allocate.
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

/// What the counting allocator saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes requested and not yet freed.
    pub live_bytes: u64,
    /// The most bytes held at once since the start.
    pub peak_bytes: u64,
    /// Allocations made since the start.
    pub allocations: u64,
}

/// The counts, or `None` when no `Counting` allocator ever ran (a build without the
/// `heap-stats` feature): then there is nothing to report, rather than zeros that look real.
pub fn snapshot() -> Option<HeapStats> {
    let allocations = ALLOCS.load(Ordering::Relaxed);
    (allocations > 0).then(|| HeapStats { live_bytes: LIVE.load(Ordering::Relaxed), peak_bytes: PEAK.load(Ordering::Relaxed), allocations })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn counts_follow_alloc_realloc_and_free() {
        // The test binary's global allocator is not `Counting`: only these calls move the
        // counters (other tests of this module would, so there are none).
        let a = Counting(System);
        let layout = Layout::from_size_align(100, 8).unwrap();
        let before = snapshot().map_or(0, |s| s.live_bytes);
        // SAFETY: a non-zero-size layout; the pointer is freed below with the layout it has.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let s = snapshot().expect("counted");
            assert_eq!(s.live_bytes, before + 100);
            assert!(s.peak_bytes >= s.live_bytes);
            let allocs = s.allocations;
            let p = a.realloc(p, layout, 300);
            assert!(!p.is_null());
            let s = snapshot().expect("counted");
            assert_eq!(s.live_bytes, before + 300);
            assert_eq!(s.allocations, allocs + 1);
            a.dealloc(p, Layout::from_size_align(300, 8).unwrap());
            let z = a.alloc_zeroed(layout);
            assert!(!z.is_null() && *z == 0);
            a.dealloc(z, layout);
        }
        let s = snapshot().expect("counted");
        assert_eq!(s.live_bytes, before);
        assert!(s.peak_bytes >= before + 300);
    }
}
