//! `urpd crm search|purge|migrate`, and what every CRM command shares: `--crm-url`, `--json`,
//! opening the store, exit codes, time formatting.

use std::path::Path;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::crm::time::{format_ms, parse_age};
use crate::crm::{resolve_url, CrmError, CrmStore, Note};
use crate::daemon::config::Config;

/// Options of every CRM command.
#[derive(Debug, Clone, Args)]
pub struct CrmArgs {
    /// CRM database (`postgres://user@host/db`, `sqlite:PATH` or a file path); overrides the
    /// configuration's `crm.url` (default `<state_dir>/crm.db`).
    #[arg(long, env = "URPD_CRM_URL", value_name = "URL")]
    pub crm_url: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `urpd crm …`
#[derive(Debug, Subcommand)]
pub enum CrmCommand {
    /// Search the notes (questions and answers) of every administration.
    Search {
        /// Words that must all appear (whole words, case-insensitive).
        text: Vec<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        crm: CrmArgs,
    },
    /// Delete contacts, cases, timeline events and notes older than an age (ratings stay).
    Purge {
        /// Age such as `365d`, `12h` or a number of days.
        #[arg(long, value_name = "AGE")]
        older_than: String,
        #[command(flatten)]
        crm: CrmArgs,
    },
    /// Apply pending schema migrations.
    Migrate {
        #[command(flatten)]
        crm: CrmArgs,
    },
}

/// Exit code and message for a CRM error.
pub(super) fn crm_exit(e: &CrmError) -> ExitCode {
    eprintln!("urpd: {e}");
    ExitCode::from(match e {
        CrmError::NoSuchCase(_) => 6,
        CrmError::InvalidToken(_) | CrmError::InvalidRating(_) => 2,
        CrmError::InvalidUrl(_) | CrmError::InvalidNodeId(_) => 3,
        CrmError::Unavailable(_) => 7,
        _ => 1,
    })
}

/// Opens the CRM the command points at (migrating it if needed).
pub(super) async fn open_store(cfg: &Config, state_dir: &Path, args: &CrmArgs) -> Result<CrmStore, ExitCode> {
    let url = resolve_url(args.crm_url.as_deref(), cfg.crm.url.as_deref(), state_dir);
    CrmStore::open(&url, &cfg.node.id).await.map_err(|e| crm_exit(&e))
}

/// Prints `v` as pretty JSON.
pub(super) fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into()));
}

/// `YYYY-MM-DD HH:MM:SS` or `-`.
pub(super) fn when(ms: Option<i64>) -> String {
    ms.map(format_ms).unwrap_or_else(|| "-".into())
}

/// One line, at most `n` characters.
pub(super) fn clip(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= n {
        one
    } else {
        format!("{}…", one.chars().take(n.saturating_sub(1)).collect::<String>())
    }
}

fn print_notes(notes: &[Note]) {
    for n in notes {
        println!("{}  {}  {}  [{}]", format_ms(n.at), n.case, n.administration, n.node);
        println!("  Q: {}", clip(&n.question, 200));
        println!("  A: {}", clip(&n.answer, 200));
    }
}

/// Runs one `urpd crm …` command.
pub async fn crm(cfg: Config, state_dir: &Path, cmd: CrmCommand) -> ExitCode {
    let args = match &cmd {
        CrmCommand::Search { crm, .. } | CrmCommand::Purge { crm, .. } | CrmCommand::Migrate { crm } => crm.clone(),
    };
    let cutoff = match &cmd {
        CrmCommand::Purge { older_than, .. } => match parse_age(older_than) {
            Some(d) => Some(std::time::SystemTime::now().checked_sub(d).unwrap_or(std::time::UNIX_EPOCH)),
            None => {
                eprintln!("urpd: invalid age {older_than:?}: use e.g. 365d, 12h or a number of days");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let store = match open_store(&cfg, state_dir, &args).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match &cmd {
        CrmCommand::Search { text, limit, .. } => store.search_notes(&text.join(" "), *limit).await.map(|notes| {
            if args.json {
                print_json(&notes);
            } else if notes.is_empty() {
                println!("no notes match");
            } else {
                print_notes(&notes);
            }
        }),
        CrmCommand::Purge { older_than, .. } => store.purge_before(cutoff.unwrap_or(std::time::UNIX_EPOCH)).await.map(|r| {
            if args.json {
                print_json(&r);
            } else {
                println!(
                    "purged data older than {older_than}: {} cases, {} contacts, {} events, {} notes, {} callers",
                    r.cases, r.contacts, r.events, r.notes, r.callers
                );
            }
        }),
        CrmCommand::Migrate { .. } => store.migrate().await.map(|_| {
            if args.json {
                print_json(&serde_json::json!({ "migrated": true, "backend": store.backend_name(), "url": store.display_url() }));
            } else {
                println!("CRM schema up to date ({} at {})", store.backend_name(), store.display_url());
            }
        }),
    };
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crm_exit(&e),
    }
}
