//! The `urpd` binary: see `urpd --help`.

/// mimalloc instead of glibc malloc: the hot path allocates and frees many small objects per
/// message (parsed headers, transaction state); glibc's malloc/free were ~10% of urpd's CPU
/// under REGISTER load and its trimming made the heap fault pages back in (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    urpd::cli::main()
}
