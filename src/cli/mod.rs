//! The `urpd` command line: `run` starts the daemon; `user …` manages digest accounts in the
//! node's state database (works whether or not the daemon runs, and tells a running daemon
//! at once through the admin socket).
//!
//! Exit codes: 0 success, 1 runtime failure, 2 usage error, 3 configuration error,
//! 4 not found (no such user; nothing registered for that AOR), 5 user already exists,
//! 6 no daemon running on that state directory, or no such case or caller,
//! 7 CRM database unavailable.

mod case;
mod completions;
mod crm;
mod dialplan;
mod registrations;
mod run;
mod status;
mod user;

pub use case::{CallerCommand, CaseCommand};
pub use crm::{CrmArgs, CrmCommand};

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::daemon::config::Config;

/// The exit codes, as printed at the end of `urpd --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime failure (cannot bind, database error, daemon refused the request)
  2  usage error (bad arguments, invalid user name)
  3  configuration error (unreadable file, unknown key, bad value)
  4  not found (no such user; nothing registered for that AOR)
  5  user already exists
  6  no daemon running on that state directory";

/// urpd — SIP registrar and stateful proxy for public administration front offices.
#[derive(Debug, Parser)]
#[command(
    name = "urpd",
    version,
    about,
    long_about = "urpd is a SIP registrar and stateful proxy for the front offices (URP) of Italian public \
administrations: agents' softphones register with it, calls between them and to peer nodes go \
through it, and administrators manage users and watch the node with this same binary.\n\n\
`urpd run` is the daemon (usually started by systemd). The other commands are the admin CLI: \
`user` edits the node's state database directly; `status` and `registrations` ask a running \
daemon through its admin socket (<state-dir>/admin.sock, mode 0600), so run them as the \
daemon's user (or root) with the same --config/--state-dir.",
    after_long_help = EXIT_CODES,
    propagate_version = true
)]
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
    #[command(
        long_about = "Runs the node in the foreground until SIGTERM/SIGINT (then new requests get 503 and \
transactions in progress may finish, up to 32 s). SIGHUP reloads users (and the dial plan). \
Logs go to stderr: plain text without timestamps under systemd, JSON with [log] format = \"json\"; \
RUST_LOG overrides [log] level. Under systemd (Type=notify) it reports READY=1, STATUS=, \
STOPPING=1 and watchdog pings on $NOTIFY_SOCKET.",
        after_long_help = "Examples:\n  urpd --config /etc/urpd/urpd.toml run --state-dir /var/lib/urpd\n  \
urpd run --listen udp:0.0.0.0:5060 --listen tcp:0.0.0.0:5060 --metrics-listen 127.0.0.1:9469"
    )]
    Run(RunArgs),
    /// Show the running daemon's status: node, uptime, listeners, registrations, calls, counters.
    #[command(
        long_about = "Asks the running daemon (through <state-dir>/admin.sock) for its node id, version, \
uptime, SIP listeners, metrics endpoint, users, registrations, open transactions, calls in \
progress and the counters since start. Exits 6 when no daemon runs on that state directory.",
        after_long_help = "Examples:\n  urpd --config /etc/urpd/urpd.toml status\n  \
urpd --state-dir /var/lib/urpd status --json | jq .registrations"
    )]
    Status(StatusArgs),
    /// List the registered contacts of every AOR, or of one.
    #[command(
        long_about = "Asks the running daemon for the live registrations (contacts bound by REGISTER): AOR, \
contact URI, seconds until expiry, q, the flow it registered over, and the phone's User-Agent. \
With an AOR (`alice`, `alice@urp.example.it` or `sip:alice@urp.example.it`: the user part is the \
key) only that one is shown, and the exit code is 4 when it has no contact, so scripts can ask \
\"is this agent online?\". Exits 6 when no daemon runs on that state directory.",
        after_long_help = "Examples:\n  urpd registrations\n  urpd registrations mario.rossi && echo online\n  \
urpd registrations --json | jq -r '.[].contact'"
    )]
    Registrations(RegistrationsArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        long_about = "Prints the completion script for SHELL on stdout. Install it where your shell looks for completions.",
        after_long_help = "Examples:\n  urpd completions bash > /etc/bash_completion.d/urpd\n  \
urpd completions zsh > /usr/local/share/zsh/site-functions/_urpd\n  \
urpd completions fish > ~/.config/fish/completions/urpd.fish"
    )]
    Completions {
        /// The shell to generate for.
        #[arg(value_enum, value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Manage users (digest accounts of agents, gateways and admins).
    #[command(
        subcommand,
        long_about = "Adds, lists, changes and removes digest accounts in the node's state database \
(<state-dir>/urpd.db). Only HA1 hashes (MD5 and SHA-256, for the configured realm) are stored. \
Works whether or not the daemon runs; a running daemon is told at once through the admin socket.",
        after_long_help = "Examples:\n  urpd user add mario.rossi --password 's3cret'\n  \
urpd user add gw-pstn --password 'x' --role gateway\n  urpd user list --json\n  \
urpd user passwd mario.rossi --password 'n3w'\n  urpd user remove mario.rossi"
    )]
    User(UserCommand),
    /// Check, list and try out the dial plans (offline: no running daemon needed).
    #[command(subcommand)]
    Dialplan(dialplan::DialplanCommand),
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
    /// Serve Prometheus metrics on `IP:PORT` (GET /metrics); overrides `[metrics] listen`.
    /// Loopback only unless `[metrics] allow_remote = true`.
    #[arg(long, value_name = "IP:PORT")]
    pub metrics_listen: Option<String>,
    /// CRM database (`postgres://user@host/db`, `sqlite:PATH` or a file path); overrides
    /// the configuration's `crm.url`.
    #[arg(long, env = "URPD_CRM_URL", value_name = "URL")]
    pub crm_url: Option<String>,
    /// Dial-plan directory; overrides `[dialplan] dir` (default `dialplans`).
    #[arg(long, value_name = "DIR")]
    pub dialplans: Option<PathBuf>,
}

/// `urpd status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the daemon's answer as JSON (stable field names) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `urpd registrations` options.
#[derive(Debug, Args)]
pub struct RegistrationsArgs {
    /// Only this AOR (`alice`, `alice@domain` or `sip:alice@domain`).
    #[arg(value_name = "AOR")]
    pub aor: Option<String>,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
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
    if let Command::Completions { shell } = cli.command {
        return completions::completions(shell);
    }
    let cfg = match load_config(cli.config.as_deref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| cfg.node.state_dir.clone());
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("urpd: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Run(args) => rt.block_on(run::run(cfg, state_dir, args)),
        Command::User(cmd) => rt.block_on(user::user(cfg, &state_dir, cmd)),
        Command::Status(args) => rt.block_on(status::status(&state_dir, args)),
        Command::Registrations(args) => rt.block_on(registrations::registrations(&state_dir, args)),
        Command::Completions { .. } => ExitCode::SUCCESS,
        Command::Dialplan(cmd) => rt.block_on(dialplan::dialplan(cfg, &state_dir, cmd)),
        Command::Case(cmd) => rt.block_on(case::case(cfg, &state_dir, cmd)),
        Command::Caller(cmd) => rt.block_on(case::caller(cfg, &state_dir, cmd)),
        Command::Crm(cmd) => rt.block_on(crm::crm(cfg, &state_dir, cmd)),
    }
}
