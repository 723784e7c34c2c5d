//! The `urpd` binary: see `urpd --help`.

/// mimalloc instead of glibc malloc: measured −19% CPU per transaction under REGISTER load
/// (docs/benchmarks.md). Built with `no_thp`, and THP is switched off for the process in
/// `main`: with transparent huge pages mimalloc's growing heap took 2 MB page faults with
/// synchronous compaction, which stalled the core for up to 200 ms under call load (p99 at
/// 3,200 calls/s: 124 ms with THP, 4 ms without). mimalloc v3 (the crate's default) rather
/// than v2: the same instructions within 1%, 288 against 340 bytes per registered binding.
#[cfg(not(feature = "heap-stats"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `cargo build --release --features heap-stats`: the same allocator, counted, for memory work
/// (`urpd_heap_*` in the metrics; see `urpd::daemon::heap`).
#[cfg(feature = "heap-stats")]
#[global_allocator]
static GLOBAL: urpd::daemon::heap::Counting<mimalloc::MiMalloc> = urpd::daemon::heap::Counting(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and only sets a flag on this
    // process; a failure (old kernel) leaves the default behaviour, which is harmless.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    urpd::cli::main()
}
