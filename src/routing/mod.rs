//! Dial plans: where a call goes. One TOML file per administration in a directory (default
//! [`DEFAULT_DIR`]), loaded and validated as one [`DialPlanSet`]; [`DialPlanSet::route`] is a
//! pure function of the call's facts and the time. No sockets, no SIP parsing, no database:
//! the proxy supplies the called user part, the caller, and the CRM/IVR facts; user existence
//! comes through the [`Directory`] trait at load time.
//!
//! Contract:
//! - Files are evaluated in file-name order, rules in file order; the first rule whose every
//!   condition holds decides. No match → [`Routing::decision`] is `None` and the proxy falls
//!   back to a direct lookup of the called user.
//! - Time conditions are in Europe/Rome civil time (DST from the IANA database: the system
//!   copy, or the one compiled in). Italian national holidays are built in; each plan may add a
//!   calendar file.
//! - A set loads whole or not at all: every error of every file is returned, and the caller
//!   keeps the set it had. Warnings come with a set that loads.
//! - The format is documented in `docs/dialplans.md`.

mod calendar;
mod check;
mod diag;
mod load;
mod model;
mod tree;

pub use calendar::{easter_monday, easter_sunday, national_holiday};
pub use diag::{Diagnostic, Severity};
pub use model::{Group, Peer, PlanFile, RingMode, Rule, TargetSpec};

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use model::{CalledMatch, CallerMatch, Captures, Rewrite, StepSpec, TimeCond};

/// Directory the daemon and `urpd dialplan` use when none is configured.
pub const DEFAULT_DIR: &str = "dialplans";
/// The time zone of every time condition.
pub const TIME_ZONE: &str = "Europe/Rome";

/// Who exists on this node, for validation (`ring = "mario.rossi"` must name a user).
pub trait Directory {
    /// Whether `name` is a provisioned user.
    fn user_exists(&self, name: &str) -> bool;
}

/// A directory that accepts every name: for checking plans where no state database is at hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyUser;

impl Directory for AnyUser {
    fn user_exists(&self, _: &str) -> bool {
        true
    }
}

impl Directory for HashSet<String> {
    fn user_exists(&self, name: &str) -> bool {
        self.contains(name)
    }
}

impl Directory for BTreeSet<String> {
    fn user_exists(&self, name: &str) -> bool {
        self.contains(name)
    }
}

/// What the proxy knows about a call when it asks for a route.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallInfo<'a> {
    /// The called number or user: the Request-URI's user part.
    pub called: &'a str,
    /// The caller's number or user; `None` for anonymous (withheld) callers.
    pub caller: Option<&'a str>,
    /// The topic chosen in the IVR, when there is one.
    pub topic: Option<&'a str>,
    /// The CRM knows this caller.
    pub caller_known: bool,
    /// The caller has an open case.
    pub has_open_case: bool,
}

/// Which outcomes of a ring step move on to the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FailOn {
    /// Nobody answered within the step's timeout.
    pub no_answer: bool,
    /// Busy (486/600).
    pub busy: bool,
    /// Not registered, unreachable, or 480/5xx.
    pub unavailable: bool,
}

impl FailOn {
    /// Every outcome moves on (the default).
    pub const ALL: FailOn = FailOn { no_answer: true, busy: true, unavailable: true };

    /// Whether `outcome` moves on to the next step.
    pub fn goes_on(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::NoAnswer => self.no_answer,
            Outcome::Busy => self.busy,
            Outcome::Unavailable => self.unavailable,
        }
    }

    fn describe(&self) -> String {
        let mut v = Vec::new();
        if self.no_answer {
            v.push("no-answer");
        }
        if self.busy {
            v.push("busy");
        }
        if self.unavailable {
            v.push("unavailable");
        }
        if v.is_empty() {
            "never".into()
        } else {
            v.join(", ")
        }
    }
}

/// How a ring step ended without a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Timeout.
    NoAnswer,
    /// Busy.
    Busy,
    /// Not registered / unreachable / temporarily unavailable.
    Unavailable,
}

/// Where to ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Target {
    /// A provisioned user (look up its registrations).
    User(String),
    /// A URI, captures already substituted.
    Uri(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Target::User(u) | Target::Uri(u) => f.write_str(u),
        }
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// One step of a decision; the proxy runs them in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Step {
    /// Ring these targets in parallel for `timeout`; on an outcome in `on`, go to the next step;
    /// otherwise (or after the last step) the final response goes back to the caller.
    Ring {
        /// Who rings.
        targets: Vec<Target>,
        /// How long.
        #[serde(rename = "timeout_secs", serialize_with = "secs")]
        timeout: Duration,
        /// Which outcomes go to the next step.
        on: FailOn,
        /// The group the targets came from, for logs and queue statistics.
        group: Option<String>,
    },
    /// Answer with this final error response.
    Reject {
        /// 400..699.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// Answer 302 Moved Temporarily with these contacts.
    Redirect {
        /// Contact URIs.
        contacts: Vec<String>,
    },
    /// Send the call to a peer node; if it fails (unreachable, timeout, 5xx) go to the next step.
    Peer {
        /// The peer's name (`[peers.NAME]`).
        name: String,
        /// Number for the peer's Request-URI; `None`: [`Decision::called`].
        number: Option<String>,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Step::Ring { targets, timeout, on, group } => {
                let t: Vec<String> = targets.iter().map(ToString::to_string).collect();
                write!(f, "ring {}", t.join(" + "))?;
                if let Some(g) = group {
                    write!(f, " (group {g})")?;
                }
                write!(f, " for {}s; next step on {}", timeout.as_secs(), on.describe())
            }
            Step::Reject { code, reason } => write!(f, "reject {code} {reason}"),
            Step::Redirect { contacts } => write!(f, "redirect 302 to {}", contacts.join(", ")),
            Step::Peer { name, number: Some(n) } => write!(f, "to peer {name} as {n}"),
            Step::Peer { name, number: None } => write!(f, "to peer {name}"),
        }
    }
}

/// Names a rule: file, line of its `[[rule]]`, name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    /// The plan file.
    pub file: PathBuf,
    /// Line of the rule's `[[rule]]` header.
    pub line: usize,
    /// The rule's name.
    pub name: String,
}

impl std::fmt::Display for RuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}:{} `{}`", self.file.display(), self.line, self.name)
    }
}

/// What to do with a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The administration (plan file name without `.toml`): for the CRM and the ratings.
    pub administration: String,
    /// The rule that matched.
    pub rule: RuleRef,
    /// The called number after rewriting.
    pub called: String,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One line of a routing explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    /// The rule considered.
    pub rule: RuleRef,
    /// Whether it matched (only the last evaluated one can).
    pub matched: bool,
    /// Why it did not match, or what matched.
    pub reason: String,
}

/// The answer to "where does this call go, and why".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Routing {
    /// `None`: no rule matched; the proxy looks the called user up directly.
    pub decision: Option<Decision>,
    /// Every rule evaluated, in order, up to the one that matched.
    pub trace: Vec<TraceLine>,
    /// The call's time in Europe/Rome, e.g. `2026-12-25T10:00:00+01:00[Europe/Rome]`.
    pub local_time: String,
}

/// A loaded, validated dial-plan set. Immutable; share it as `Arc<DialPlanSet>` and swap the
/// `Arc` to reload.
#[derive(Debug, Clone)]
pub struct DialPlanSet {
    dir: PathBuf,
    files: Vec<PlanFile>,
    peers: Vec<Peer>,
    tz: TimeZone,
}

impl DialPlanSet {
    /// Loads and validates every `*.toml` in `dir` as one set. Errors (all of them, of all
    /// files, sorted by file and position) → `Err`; warnings come with `Ok`.
    pub fn load_dir(dir: &Path, dir_info: &dyn Directory) -> Result<(DialPlanSet, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let tz = match TimeZone::get(TIME_ZONE) {
            Ok(tz) => tz,
            Err(e) => {
                return Err(vec![Diagnostic {
                    file: dir.to_owned(),
                    line: 1,
                    column: 1,
                    severity: Severity::Error,
                    message: format!("time zone {TIME_ZONE} unavailable: {e}"),
                }])
            }
        };
        let sources = load::read_dir(dir, &mut diags);
        let (parsed, peers) = load::parse_all(dir, sources, dir_info, &mut diags);
        check::check(&parsed, &mut diags);
        diags.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        diags.dedup();
        if diags.iter().any(|d| d.severity == Severity::Error) {
            return Err(diags);
        }
        let files = parsed.into_iter().filter(|p| p.is_plan).map(|p| p.plan).collect();
        Ok((DialPlanSet { dir: dir.to_owned(), files, peers, tz }, diags))
    }

    /// An empty set: every call falls back to direct user lookup.
    pub fn empty() -> DialPlanSet {
        DialPlanSet { dir: PathBuf::new(), files: Vec::new(), peers: Vec::new(), tz: TimeZone::get(TIME_ZONE).unwrap_or(TimeZone::UTC) }
    }

    /// The directory the set was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The administrations' plans, in evaluation order.
    pub fn files(&self) -> &[PlanFile] {
        &self.files
    }

    /// The declared peer nodes.
    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    /// Where `call` goes at time `at`, with the reasons. Pure.
    pub fn route(&self, call: &CallInfo<'_>, at: Timestamp) -> Routing {
        let local = at.to_zoned(self.tz.clone());
        let mut trace = Vec::new();
        let decision = self.evaluate(call, &local, Some(&mut trace));
        Routing { decision, trace, local_time: local.to_string() }
    }

    /// The decision alone, as [`DialPlanSet::route`] would give it, without the trace: the
    /// proxy's per-call path. Explaining every rule that did not match cost ~23 `format!`
    /// per INVITE (callgrind) for text nobody read.
    pub fn decide(&self, call: &CallInfo<'_>, at: Timestamp) -> Option<Decision> {
        self.evaluate(call, &at.to_zoned(self.tz.clone()), None)
    }

    /// Walks the rules in order; with `trace`, records each evaluated rule and why it did or
    /// did not match.
    fn evaluate(&self, call: &CallInfo<'_>, local: &jiff::Zoned, mut trace: Option<&mut Vec<TraceLine>>) -> Option<Decision> {
        let (date, time) = (local.date(), local.time());
        let explain = trace.is_some();
        for file in &self.files {
            let holiday = file.calendar.holiday(date);
            for rule in &file.rules {
                let rref = || RuleRef { file: file.path.clone(), line: rule.line, name: rule.name.clone() };
                match rule_matches(rule, file, call, date, time, holiday, explain) {
                    Err(reason) => {
                        if let Some(t) = trace.as_deref_mut() {
                            t.push(TraceLine { rule: rref(), matched: false, reason });
                        }
                    }
                    Ok(caps) => {
                        let called = rewrite(&rule.rewrite, call.called, &caps);
                        let steps = rule.steps.iter().map(|s| expand_step(s, &caps, &called)).collect();
                        if let Some(t) = trace.as_deref_mut() {
                            t.push(TraceLine { rule: rref(), matched: true, reason: "every condition holds".into() });
                        }
                        return Some(Decision { administration: file.id.clone(), rule: rref(), called, steps });
                    }
                }
            }
        }
        None
    }
}

fn rewrite(rw: &Rewrite, called: &str, caps: &Captures) -> String {
    match rw {
        Rewrite::None => called.to_owned(),
        Rewrite::StripPrefix { strip, prefix } => {
            let rest: String = called.chars().skip(*strip).collect();
            format!("{prefix}{rest}")
        }
        Rewrite::Template(t) => t.expand(caps, called),
    }
}

fn expand_step(s: &StepSpec, caps: &Captures, called: &str) -> Step {
    match s {
        StepSpec::Ring { targets, timeout, on, group } => Step::Ring {
            targets: targets
                .iter()
                .map(|t| match t {
                    TargetSpec::User(u) => Target::User(u.clone()),
                    TargetSpec::Uri(u) => Target::Uri(u.0.expand(caps, called)),
                })
                .collect(),
            timeout: *timeout,
            on: *on,
            group: group.clone(),
        },
        StepSpec::Reject { code, reason } => Step::Reject { code: *code, reason: reason.clone() },
        StepSpec::Redirect { contacts } => Step::Redirect { contacts: contacts.iter().map(|c| c.expand(caps, called)).collect() },
        StepSpec::Peer { name, number } => Step::Peer { name: name.clone(), number: number.as_ref().map(|n| n.expand(caps, called)) },
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Checks a rule's conditions in a fixed order; the first that fails is the reason.
fn rule_matches(
    rule: &Rule,
    file: &PlanFile,
    call: &CallInfo<'_>,
    date: jiff::civil::Date,
    time: jiff::civil::Time,
    holiday: Option<&str>,
    explain: bool,
) -> Result<Captures, String> {
    // The reason a rule did not match, written out only when someone asked for the trace.
    macro_rules! why {
        ($($t:tt)*) => { if explain { format!($($t)*) } else { String::new() } };
    }
    let c = &rule.cond;
    let caps = match &c.called {
        None => Captures { groups: vec![Some(call.called.to_owned())], ..Captures::default() },
        Some(m) => match m.captures(call.called) {
            Some(caps) => caps,
            None => {
                return Err(match m {
                    CalledMatch::Exact(n) => why!("called {} is not {n}", call.called),
                    CalledMatch::Prefix(p) => why!("called {} does not start with {p}", call.called),
                    CalledMatch::Regex(_, s) => why!("called {} does not match /{s}/", call.called),
                })
            }
        },
    };
    if let Some(m) = &c.caller {
        let ok = match (m, call.caller) {
            (CallerMatch::Anonymous, None) => true,
            (CallerMatch::Exact(n), Some(x)) => n == x,
            (CallerMatch::Prefix(p), Some(x)) => x.starts_with(p.as_str()),
            _ => false,
        };
        if !ok {
            let who = call.caller.unwrap_or("anonymous");
            return Err(match m {
                CallerMatch::Anonymous => why!("caller {who} is not anonymous"),
                CallerMatch::Exact(n) => why!("caller {who} is not {n}"),
                CallerMatch::Prefix(p) => why!("caller {who} does not start with {p}"),
            });
        }
    }
    if let Some(want) = c.holiday {
        if holiday.is_some() != want {
            return Err(match holiday {
                Some(h) => why!("{date} is a holiday ({h})"),
                None => why!("{date} is not a holiday"),
            });
        }
    }
    if let Some(tc) = &c.time {
        let (name, want_open) = match tc {
            TimeCond::During(h) => (h, true),
            TimeCond::Outside(h) => (h, false),
        };
        let open = file.hours.get(name).is_some_and(|h| h.is_open(date, time, holiday.is_some()));
        if open != want_open {
            let when = why!(
                "{} {date} {:02}:{:02}{}",
                DAYS[calendar::weekday_index(date.weekday())],
                time.hour(),
                time.minute(),
                holiday.map(|h| why!(", holiday: {h}")).unwrap_or_default()
            );
            return Err(if want_open { why!("{when} is outside hours `{name}`") } else { why!("{when} is within hours `{name}`") });
        }
    }
    if let Some(t) = &c.topic {
        if call.topic != Some(t.as_str()) {
            return Err(why!("topic {} is not {t}", call.topic.unwrap_or("(none)")));
        }
    }
    if let Some(want) = c.known_caller {
        if call.caller_known != want {
            return Err(if want { why!("caller is not known to the CRM") } else { why!("caller is known to the CRM") });
        }
    }
    if let Some(want) = c.open_case {
        if call.has_open_case != want {
            return Err(if want { why!("caller has no open case") } else { why!("caller has an open case") });
        }
    }
    Ok(caps)
}

impl Rule {
    /// The rule's conditions in words, e.g. `called = 803001, during ufficio`.
    pub fn describe_conditions(&self) -> String {
        let c = &self.cond;
        let mut v = Vec::new();
        if let Some(m) = &c.called {
            v.push(m.describe());
        }
        match &c.caller {
            Some(CallerMatch::Anonymous) => v.push("caller anonymous".into()),
            Some(CallerMatch::Exact(n)) => v.push(format!("caller = {n}")),
            Some(CallerMatch::Prefix(p)) => v.push(format!("caller starts with {p}")),
            None => {}
        }
        match &c.time {
            Some(TimeCond::During(h)) => v.push(format!("during {h}")),
            Some(TimeCond::Outside(h)) => v.push(format!("outside {h}")),
            None => {}
        }
        if let Some(h) = c.holiday {
            v.push(if h { "on holidays".into() } else { "not on holidays".into() });
        }
        if let Some(t) = &c.topic {
            v.push(format!("topic = {t}"));
        }
        if let Some(k) = c.known_caller {
            v.push(if k { "known caller".into() } else { "unknown caller".into() });
        }
        if let Some(k) = c.open_case {
            v.push(if k { "open case".into() } else { "no open case".into() });
        }
        if v.is_empty() {
            "any call".into()
        } else {
            v.join(", ")
        }
    }

    /// The rewrite in words, if any.
    pub fn describe_rewrite(&self) -> Option<String> {
        match &self.rewrite {
            Rewrite::None => None,
            Rewrite::StripPrefix { strip, prefix } => Some(format!("strip {strip}, prefix {prefix:?}")),
            Rewrite::Template(t) => Some(format!("rewrite to {}", t.source)),
        }
    }

    /// The steps as written (captures not substituted).
    pub fn describe_steps(&self) -> Vec<String> {
        let caps = Captures::default();
        self.steps
            .iter()
            .map(|s| match s {
                StepSpec::Ring { targets, timeout, on, group } => Step::Ring {
                    targets: targets.iter().map(|t| Target::Uri(t.as_written().to_owned())).collect(),
                    timeout: *timeout,
                    on: *on,
                    group: group.clone(),
                }
                .to_string(),
                StepSpec::Redirect { contacts } => {
                    format!("redirect 302 to {}", contacts.iter().map(|c| c.source.as_str()).collect::<Vec<_>>().join(", "))
                }
                StepSpec::Peer { name, number: Some(n) } => format!("to peer {name} as {}", n.source),
                other => expand_step(other, &caps, "").to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
