//! `urpd dialplan check|show|route`: the dial plans, offline (no running daemon needed).
//!
//! User names are checked against the node's state database when `<state_dir>/urpd.db`
//! exists; without one the plans are still checked in full except for user existence, and a
//! note says so (a fresh checkout, a CI job or a review machine has no users yet).
//!
//! Exit codes: 0 success (route: also when no rule matches), 1 the set has errors or the state
//! database cannot be read, 2 usage error (e.g. a bad `--at`).

use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::daemon::config::Config;
use crate::routing::{self, AnyUser, CallInfo, Diagnostic, DialPlanSet, Directory, Severity};
use crate::state::{StateDb, DB_FILE};

/// `urpd dialplan …`
#[derive(Debug, Subcommand)]
pub enum DialplanCommand {
    /// Validate every plan in DIR: all errors and warnings as file:line:column.
    Check(DirArgs),
    /// List the rules in evaluation order with their conditions and steps.
    Show(DirArgs),
    /// Where would a call go, and why: the matching rule, its steps, and why the rules before
    /// it did not match.
    Route(RouteArgs),
    /// Ask the running daemon to load, validate and swap in the plans (as SIGHUP does). A set
    /// with errors is refused and the running one keeps serving; the errors are printed and
    /// the exit code is 1.
    Reload {
        /// Print the daemon's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// Options shared by every `dialplan` command.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// Dial-plan directory [default: dialplans]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `urpd dialplan route` options.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Caller's number; omit for an anonymous caller.
    #[arg(long, value_name = "NUMBER")]
    pub from: Option<String>,
    /// Called number (the Request-URI user part).
    #[arg(long, value_name = "NUMBER")]
    pub to: String,
    /// When: Europe/Rome local time (`2026-12-25T10:00`) or with an offset
    /// (`2026-12-25T09:00Z`); default now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// IVR topic the caller chose.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// The CRM knows the caller.
    #[arg(long)]
    pub known_caller: bool,
    /// The caller has an open case.
    #[arg(long)]
    pub open_case: bool,
    #[command(flatten)]
    pub common: DirArgs,
}

/// The directory to use: the argument, else the default.
fn plan_dir(cfg: &Config, arg: Option<&Path>) -> PathBuf {
    // The same directory the daemon loads: `[dialplan] dir`, else `dialplans`.
    arg.map_or_else(|| cfg.dialplan.resolve().0, Path::to_owned)
}

/// The users to check against: the state database's, or `None` when there is none.
async fn users(state_dir: &Path) -> Result<Option<HashSet<String>>, String> {
    if !state_dir.join(DB_FILE).is_file() {
        return Ok(None);
    }
    let db = StateDb::open(state_dir).await.map_err(|e| e.to_string())?;
    let list = db.list_users().await.map_err(|e| e.to_string());
    let _ = db.close().await;
    Ok(Some(list?.into_iter().map(|u| u.name).collect()))
}

fn diag_json(d: &Diagnostic) -> serde_json::Value {
    json!({"file": d.file, "line": d.line, "column": d.column, "severity": d.severity, "message": d.message})
}

/// Loads the set; prints diagnostics (text to stderr, or returned for JSON).
async fn load(dir: &Path, state_dir: &Path, json: bool) -> Result<(Result<DialPlanSet, ()>, Vec<Diagnostic>, bool), ExitCode> {
    let users = match users(state_dir).await {
        Ok(u) => u,
        Err(e) => {
            eprintln!("urpd: cannot read users from {}: {e}", state_dir.join(DB_FILE).display());
            return Err(ExitCode::from(1));
        }
    };
    let checked = users.is_some();
    if !checked && !json {
        eprintln!("urpd: note: no state database at {}: user names not checked (use --state-dir)", state_dir.join(DB_FILE).display());
    }
    let dir_info: &dyn Directory = match &users {
        Some(u) => u,
        None => &AnyUser,
    };
    let (set, diags) = match DialPlanSet::load_dir(dir, dir_info) {
        Ok((set, warnings)) => (Ok(set), warnings),
        Err(errors) => (Err(()), errors),
    };
    if !json {
        for d in &diags {
            eprintln!("{d}");
        }
    }
    Ok((set, diags, checked))
}

/// Runs one `dialplan` command.
pub async fn dialplan(cfg: Config, state_dir: &Path, cmd: DialplanCommand) -> ExitCode {
    let common = match &cmd {
        DialplanCommand::Check(a) | DialplanCommand::Show(a) => a,
        DialplanCommand::Route(r) => &r.common,
        DialplanCommand::Reload { json } => return reload(state_dir, *json).await,
    };
    let dir = plan_dir(&cfg, common.dir.as_deref());
    let json = common.json;
    // Parse --at before loading so a usage error is reported as such.
    let at = match &cmd {
        DialplanCommand::Route(r) => match parse_at(r.at.as_deref()) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("urpd: {e}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let (set, diags, users_checked) = match load(&dir, state_dir, json).await {
        Ok(x) => x,
        Err(code) => return code,
    };
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diags.len() - errors;
    let set = match set {
        Ok(s) => s,
        Err(()) => {
            if json {
                let v = json!({"ok": false, "errors": errors, "warnings": warnings, "users_checked": users_checked,
                    "diagnostics": diags.iter().map(diag_json).collect::<Vec<_>>()});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                eprintln!("urpd: {}: {errors} error(s), {warnings} warning(s): the set cannot be used", dir.display());
            }
            return ExitCode::from(1);
        }
    };
    match cmd {
        DialplanCommand::Check(_) => {
            if json {
                let v = json!({"ok": true, "errors": 0, "warnings": warnings, "users_checked": users_checked,
                    "files": set.files().len(), "rules": set.files().iter().map(|f| f.rules.len()).sum::<usize>(),
                    "diagnostics": diags.iter().map(diag_json).collect::<Vec<_>>()});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                let rules: usize = set.files().iter().map(|f| f.rules.len()).sum();
                println!(
                    "{}: ok: {} plan(s), {rules} rule(s), {} peer(s), {warnings} warning(s)",
                    dir.display(),
                    set.files().len(),
                    set.peers().len()
                );
            }
            ExitCode::SUCCESS
        }
        DialplanCommand::Show(_) => {
            show(&set, json);
            ExitCode::SUCCESS
        }
        DialplanCommand::Route(r) => {
            let call = CallInfo {
                called: &r.to,
                caller: r.from.as_deref(),
                topic: r.topic.as_deref(),
                caller_known: r.known_caller,
                has_open_case: r.open_case,
            };
            let routing = set.route(&call, at.unwrap_or_else(jiff::Timestamp::now));
            if json {
                println!("{}", serde_json::to_string_pretty(&routing).unwrap_or_default());
            } else {
                print_route(&call, &routing);
            }
            ExitCode::SUCCESS
        }
        DialplanCommand::Reload { .. } => ExitCode::SUCCESS,
    }
}

/// `--at`: with an offset or `Z` it is an instant; without, Europe/Rome civil time (in the
/// repeated hour of the autumn change, the first occurrence).
fn parse_at(at: Option<&str>) -> Result<jiff::Timestamp, String> {
    let Some(s) = at else { return Ok(jiff::Timestamp::now()) };
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(z) = s.parse::<jiff::Zoned>() {
        return Ok(z.timestamp());
    }
    let civil = s.replace(' ', "T").parse::<jiff::civil::DateTime>().map_err(|_| {
        format!("bad --at {s:?}: expected Europe/Rome local time like 2026-12-25T10:00, or an instant like 2026-12-25T09:00Z")
    })?;
    civil.in_tz(routing::TIME_ZONE).map(|z| z.timestamp()).map_err(|e| format!("bad --at {s:?}: {e}"))
}

fn print_route(call: &CallInfo<'_>, r: &routing::Routing) {
    println!("call from {} to {} at {}", call.caller.unwrap_or("anonymous"), call.called, r.local_time);
    let mut facts = Vec::new();
    if let Some(t) = call.topic {
        facts.push(format!("topic {t}"));
    }
    if call.caller_known {
        facts.push("known caller".into());
    }
    if call.has_open_case {
        facts.push("open case".into());
    }
    if !facts.is_empty() {
        println!("  ({})", facts.join(", "));
    }
    println!();
    for t in &r.trace {
        let mark = if t.matched { "MATCH" } else { "no" };
        println!("  {mark:<5} {}:{}  {} — {}", t.rule.file.display(), t.rule.line, t.rule.name, t.reason);
    }
    println!();
    match &r.decision {
        None => println!("no rule matched: the proxy looks up {} as a registered user", call.called),
        Some(d) => {
            println!("rule:           {}:{} `{}`", d.rule.file.display(), d.rule.line, d.rule.name);
            println!("administration: {}", d.administration);
            if d.called != call.called {
                println!("called:         {} (rewritten from {})", d.called, call.called);
            } else {
                println!("called:         {}", d.called);
            }
            println!("steps:");
            for (i, s) in d.steps.iter().enumerate() {
                println!("  {}. {s}", i + 1);
            }
        }
    }
}

fn show(set: &DialPlanSet, json: bool) {
    if json {
        let files: Vec<serde_json::Value> = set
            .files()
            .iter()
            .map(|f| {
                let groups: serde_json::Map<String, serde_json::Value> = f
                    .groups
                    .iter()
                    .map(|(n, g)| {
                        let members: Vec<&str> = g.members.iter().map(|m| m.as_written()).collect();
                        (n.clone(), json!({"members": members, "ring": g.mode, "timeout_secs": g.timeout.as_secs()}))
                    })
                    .collect();
                let rules: Vec<serde_json::Value> = f
                    .rules
                    .iter()
                    .map(|r| json!({"line": r.line, "name": r.name, "conditions": r.describe_conditions(), "rewrite": r.describe_rewrite(), "steps": r.describe_steps()}))
                    .collect();
                json!({"file": f.path, "administration": f.id, "name": f.name, "holidays_file": f.holidays_file, "groups": groups, "rules": rules})
            })
            .collect();
        let v = json!({"dir": set.dir(), "files": files, "peers": set.peers()});
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    for f in set.files() {
        println!("{} — {} ({})", f.id, f.name, f.path.display());
        match &f.holidays_file {
            Some(h) => println!("  holidays: national + {}", h.display()),
            None => println!("  holidays: national"),
        }
        println!("  {:<5} {:<42} IF / THEN", "LINE", "RULE");
        for r in &f.rules {
            println!("  {:<5} {:<42} if {}", r.line, r.name, r.describe_conditions());
            if let Some(rw) = r.describe_rewrite() {
                println!("  {:<5} {:<42}    {rw}", "", "");
            }
            for (i, s) in r.describe_steps().iter().enumerate() {
                println!("  {:<5} {:<42}    {}. {s}", "", "", i + 1);
            }
        }
        println!();
    }
    if !set.peers().is_empty() {
        println!("peers");
        for p in set.peers() {
            println!("  {:<20} {:<40} {}", p.name, p.uri, p.description);
        }
    }
}

/// `urpd dialplan reload`: through the admin socket of the daemon on `state_dir`.
async fn reload(state_dir: &Path, json: bool) -> ExitCode {
    use crate::daemon::admin::{self, AdminRequest};
    let answer = match admin::request(state_dir, &AdminRequest::DialplanReload).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            eprintln!("urpd: no daemon running with state directory {}", state_dir.display());
            return ExitCode::from(6);
        }
        Err(e) => {
            eprintln!("urpd: {e}");
            return ExitCode::from(1);
        }
    };
    let ok = answer.get("ok").and_then(|v| v.as_bool()).unwrap_or(false);
    if json {
        println!("{answer}");
    } else {
        let lines = |key: &str| -> Vec<String> {
            answer
                .get(key)
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        for w in lines("warnings") {
            eprintln!("{w}");
        }
        if ok {
            let files = answer.get("files").and_then(|v| v.as_u64()).unwrap_or(0);
            println!("dial plans reloaded: {files} file(s)");
        } else {
            for e in lines("errors") {
                eprintln!("{e}");
            }
            eprintln!("urpd: reload refused; the previous dial plans stay in service");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
