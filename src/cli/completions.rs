//! `urpd completions SHELL`: shell completion scripts generated from the clap definition, so
//! they never drift from the real options.

use clap::CommandFactory;
use std::process::ExitCode;

use super::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "urpd", &mut std::io::stdout());
    ExitCode::SUCCESS
}
