//! The `urpd` binary: see `urpd --help`.

fn main() -> std::process::ExitCode {
    urpd::cli::main()
}
