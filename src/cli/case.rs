//! `urpd case show|list|note|close` and `urpd caller history`: the CRM seen by an
//! administrator, against the node's CRM database or any `--crm-url`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::crm::{clip, crm_exit, open_store, print_json, when, CrmArgs};
use crate::crm::time::{format_ms, parse_date};
use crate::crm::{CaseFilter, CaseSummary, CaseToken, CrmError};
use crate::daemon::config::Config;

/// `urpd case …`
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// A case with its whole timeline (every node's events) and notes.
    Show {
        /// Case token (`NODE:ULID`).
        token: String,
        #[command(flatten)]
        crm: CrmArgs,
    },
    /// Cases, newest first.
    List {
        /// Only this caller's (number).
        #[arg(long, value_name = "NUMBER")]
        caller: Option<String>,
        /// Only this administration's.
        #[arg(long)]
        administration: Option<String>,
        /// Only open cases.
        #[arg(long)]
        open: bool,
        /// Only cases opened since (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]`, UTC).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        crm: CrmArgs,
    },
    /// Record a question and its answer on a case (searchable by every administration).
    Note {
        /// Case token.
        token: String,
        /// The citizen's question.
        #[arg(long)]
        question: String,
        /// The answer given.
        #[arg(long)]
        answer: String,
        #[command(flatten)]
        crm: CrmArgs,
    },
    /// Close a case.
    Close {
        /// Case token.
        token: String,
        #[command(flatten)]
        crm: CrmArgs,
    },
}

/// `urpd caller …`
#[derive(Debug, Subcommand)]
pub enum CallerCommand {
    /// A caller's contacts and cases.
    History {
        /// The caller's number.
        number: String,
        #[command(flatten)]
        crm: CrmArgs,
    },
}

fn parse_token(s: &str) -> Result<CaseToken, ExitCode> {
    s.parse().map_err(|e: CrmError| crm_exit(&e))
}

fn print_cases(cases: &[CaseSummary]) {
    println!(
        "{:<40} {:<16} {:<14} {:<14} {:<6} {:<19} {:<19}",
        "TOKEN", "CALLER", "ADMINISTRATION", "TOPIC", "STATUS", "OPENED", "LAST ACTIVITY"
    );
    for c in cases {
        println!(
            "{:<40} {:<16} {:<14} {:<14} {:<6} {:<19} {:<19}",
            c.token.as_str(),
            c.caller.as_deref().unwrap_or("-"),
            clip(&c.administration, 14),
            if c.topic.is_empty() { "-".to_owned() } else { clip(&c.topic, 14) },
            c.status,
            format_ms(c.opened_at),
            format_ms(c.updated_at)
        );
    }
}

/// Runs one `urpd case …` command.
pub async fn case(cfg: Config, state_dir: &Path, cmd: CaseCommand) -> ExitCode {
    let args = match &cmd {
        CaseCommand::Show { crm, .. } | CaseCommand::List { crm, .. } | CaseCommand::Note { crm, .. } | CaseCommand::Close { crm, .. } => {
            crm.clone()
        }
    };
    // Validate arguments before touching the database.
    let token = match &cmd {
        CaseCommand::Show { token, .. } | CaseCommand::Note { token, .. } | CaseCommand::Close { token, .. } => match parse_token(token) {
            Ok(t) => Some(t),
            Err(code) => return code,
        },
        CaseCommand::List { .. } => None,
    };
    let since = match &cmd {
        CaseCommand::List { since: Some(s), .. } => match parse_date(s) {
            Some(t) => Some(t),
            None => {
                eprintln!("urpd: invalid date {s:?}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (UTC)");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let store = match open_store(&cfg, state_dir, &args).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = match (&cmd, token) {
        (CaseCommand::Show { .. }, Some(token)) => match store.case_timeline(&token).await {
            Ok(None) => Err(CrmError::NoSuchCase(token)),
            Ok(Some(v)) => {
                if args.json {
                    print_json(&v);
                } else {
                    let c = &v.case;
                    println!("case           {}", c.token);
                    println!("caller         {}", c.caller.as_deref().unwrap_or("-"));
                    println!("administration {}", c.administration);
                    println!("topic          {}", if c.topic.is_empty() { "-" } else { &c.topic });
                    println!("status         {}", c.status);
                    println!("opened         {} by {}", format_ms(c.opened_at), c.opened_by);
                    println!("closed         {}", when(c.closed_at));
                    println!();
                    println!("{:<19}  {:<16}  {:<12}  DETAIL", "TIME (UTC)", "NODE", "EVENT");
                    for e in &v.events {
                        let detail = if e.detail.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { e.detail.to_string() };
                        println!("{:<19}  {:<16}  {:<12}  {}", format_ms(e.at), e.node, e.kind.as_str(), clip(&detail, 100));
                    }
                    if !v.notes.is_empty() {
                        println!();
                        println!("notes");
                        for n in &v.notes {
                            println!("  {}  [{}]", format_ms(n.at), n.node);
                            println!("    Q: {}", clip(&n.question, 200));
                            println!("    A: {}", clip(&n.answer, 200));
                        }
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
        (CaseCommand::List { caller, administration, open, limit, .. }, _) => {
            let filter =
                CaseFilter { caller: caller.clone(), administration: administration.clone(), open_only: *open, since, limit: *limit };
            store.list_cases(&filter).await.map(|cases| {
                if args.json {
                    print_json(&cases);
                } else {
                    print_cases(&cases);
                }
            })
        }
        (CaseCommand::Note { question, answer, .. }, Some(token)) => store.add_note(&token, question, answer).await.map(|n| {
            if args.json {
                print_json(&n);
            } else {
                println!("note {} added to case {}", n.id, n.case);
            }
        }),
        (CaseCommand::Close { .. }, Some(token)) => store.close_case(&token).await.map(|closed| {
            if args.json {
                print_json(&serde_json::json!({ "token": token, "closed": closed }));
            } else if closed {
                println!("case {token} closed");
            } else {
                println!("case {token} was already closed");
            }
        }),
        _ => Ok(()),
    };
    store.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crm_exit(&e),
    }
}

/// Runs one `urpd caller …` command.
pub async fn caller(cfg: Config, state_dir: &Path, cmd: CallerCommand) -> ExitCode {
    let CallerCommand::History { number, crm: args } = cmd;
    let store = match open_store(&cfg, state_dir, &args).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let result = store.caller_history(&number).await;
    store.close().await;
    match result {
        Err(e) => crm_exit(&e),
        Ok(None) => {
            eprintln!("urpd: no history for this caller");
            ExitCode::from(6)
        }
        Ok(Some(h)) => {
            if args.json {
                print_json(&h);
            } else {
                println!("caller {}  first call {}  last call {}", h.number, format_ms(h.first_seen), format_ms(h.last_seen));
                println!();
                println!("contacts");
                println!(
                    "  {:<19}  {:<10}  {:<14}  {:<12}  {:<19}  {:<9}  CASE",
                    "STARTED", "TO", "ADMINISTRATION", "NODE", "ANSWERED", "OUTCOME"
                );
                for c in &h.contacts {
                    println!(
                        "  {:<19}  {:<10}  {:<14}  {:<12}  {:<19}  {:<9}  {}",
                        format_ms(c.started_at),
                        clip(&c.to, 10),
                        clip(&c.administration, 14),
                        clip(&c.node, 12),
                        when(c.answered_at),
                        c.outcome.as_deref().unwrap_or("-"),
                        c.case.as_deref().unwrap_or("-")
                    );
                }
                println!();
                println!("cases");
                print_cases(&h.cases);
            }
            ExitCode::SUCCESS
        }
    }
}
