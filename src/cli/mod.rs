//! The `urpd` command line: `run` starts the daemon; `user …` manages digest accounts in the
//! node's state database (works whether or not the daemon runs, and tells a running daemon
//! at once through the admin socket).
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 configuration error,
//! 4 no such user, 5 user already exists, 6 no such case or caller, 7 CRM database unavailable.

mod case;
mod crm;
mod run;
mod user;

pub use case::{CallerCommand, CaseCommand};
pub use crm::{CrmArgs, CrmCommand};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::daemon::config::Config;

/// urpd — SIP registrar and stateful proxy for public administration front offices.
#[derive(Debug, Parser)]
#[command(name = "urpd", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Without it, built-in defaults are used.
    #[arg(long, short = 'c', global = true, env = "URPD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory (SQLite state, admin socket); overrides node.state_dir.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground.
    Run(RunArgs),
    /// Manage users (digest accounts of agents, gateways and admins).
    #[command(subcommand)]
    User(UserCommand),
    /// Cases ("pratiche"): show, list, note, close.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Callers: history.
    #[command(subcommand)]
    Caller(CallerCommand),
    /// The CRM database: search notes, purge, migrate.
    #[command(subcommand)]
    Crm(CrmCommand),
}

/// `urpd run` options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Listen address, `udp:IP:PORT` or `tcp:IP:PORT` (IPv6 as `udp:[::1]:5060`); repeatable;
    /// replaces the configuration's `sip.listen`.
    #[arg(long, value_name = "PROTO:IP:PORT")]
    pub listen: Vec<String>,
    /// CRM database (`postgres://user@host/db`, `sqlite:PATH` or a file path); overrides
    /// the configuration's `crm.url`.
    #[arg(long, env = "URPD_CRM_URL", value_name = "URL")]
    pub crm_url: Option<String>,
}

/// A user's role.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// An agent's softphone.
    Agent,
    /// A PSTN gateway or SBC bringing citizens' calls.
    Gateway,
    /// An administrator.
    Admin,
}

/// `urpd user …`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        /// User name (the SIP user part, e.g. `mario.rossi` or `1001`).
        name: String,
        /// Password (only its digest HA1s are stored).
        #[arg(long)]
        password: String,
        /// Role.
        #[arg(long, value_enum, default_value = "agent")]
        role: RoleArg,
    },
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a user's password.
    Passwd {
        /// User name.
        name: String,
        /// New password.
        #[arg(long)]
        password: String,
    },
    /// Remove a user.
    Remove {
        /// User name.
        name: String,
    },
}

fn load_config(path: Option<&Path>) -> Result<Config, ExitCode> {
    match path {
        Some(p) => Config::load(p).map_err(|e| {
            eprintln!("urpd: {e}");
            ExitCode::from(3)
        }),
        None => Ok(Config::default()),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let cfg = match load_config(cli.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| cfg.node.state_dir.clone());
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("urpd: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Run(args) => rt.block_on(run::run(cfg, state_dir, args)),
        Command::User(cmd) => rt.block_on(user::user(cfg, &state_dir, cmd)),
        Command::Case(cmd) => rt.block_on(case::case(cfg, &state_dir, cmd)),
        Command::Caller(cmd) => rt.block_on(case::caller(cfg, &state_dir, cmd)),
        Command::Crm(cmd) => rt.block_on(crm::crm(cfg, &state_dir, cmd)),
    }
}

