//! The loaded, validated form of a dial-plan set: what the evaluator walks. Built once by
//! [`super::load`], immutable afterwards.

use regex::Regex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::calendar::{Calendar, Hours};
use super::FailOn;

/// One administration's plan (one file).
#[derive(Debug, Clone)]
pub struct PlanFile {
    /// The file.
    pub path: PathBuf,
    /// The administration's id: the file name without `.toml`.
    pub id: String,
    /// Its display name (`administration = "..."`), or the id.
    pub name: String,
    /// Rules in evaluation order.
    pub rules: Vec<Rule>,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// Office hours by name.
    pub(crate) hours: BTreeMap<String, Hours>,
    /// Local holidays (national ones are always added).
    pub(crate) calendar: Calendar,
    /// The calendar file, if any.
    pub holidays_file: Option<PathBuf>,
}

/// A declared peer node (`[peers.NAME]`).
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// The name rules use.
    pub name: String,
    /// Where to send calls (a `sip:`/`sips:` URI).
    pub uri: String,
    /// Free text.
    pub description: String,
    /// Declaring file and line.
    pub file: PathBuf,
    /// Line of the `[peers.NAME]` table.
    pub line: usize,
}

/// How a group rings its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RingMode {
    /// All members at once.
    Parallel,
    /// One after the other, `timeout` each.
    InOrder,
}

/// A named group of targets.
#[derive(Debug, Clone)]
pub struct Group {
    /// Members (users or URIs).
    pub members: Vec<TargetSpec>,
    /// Parallel or in order.
    pub mode: RingMode,
    /// Parallel: how long the group rings; in order: how long each member rings.
    pub timeout: Duration,
}

/// A rule: conditions (all must hold), an optional rewrite of the called number, and steps.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `name = "..."`, or `rule N`.
    pub name: String,
    /// Line of the `[[rule]]` header.
    pub line: usize,
    pub(crate) cond: Conditions,
    pub(crate) rewrite: Rewrite,
    pub(crate) steps: Vec<StepSpec>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    pub called: Option<CalledMatch>,
    pub caller: Option<CallerMatch>,
    pub time: Option<TimeCond>,
    pub holiday: Option<bool>,
    pub topic: Option<String>,
    pub known_caller: Option<bool>,
    pub open_case: Option<bool>,
}

impl Conditions {
    /// Whether any condition other than the called number is set.
    pub fn has_non_called(&self) -> bool {
        self.caller.is_some()
            || self.time.is_some()
            || self.holiday.is_some()
            || self.topic.is_some()
            || self.known_caller.is_some()
            || self.open_case.is_some()
    }
}

#[derive(Debug, Clone)]
pub(crate) enum CalledMatch {
    Exact(String),
    /// Captures `${1}` = the rest of the number.
    Prefix(String),
    /// Anchored at both ends; the source as written.
    Regex(Regex, String),
}

impl CalledMatch {
    /// The captures (index 0 = whole number) if the number matches.
    pub fn captures(&self, called: &str) -> Option<Captures> {
        match self {
            CalledMatch::Exact(n) => (n == called).then(|| Captures { groups: vec![Some(called.to_owned())], names: BTreeMap::new() }),
            CalledMatch::Prefix(p) => called
                .strip_prefix(p.as_str())
                .map(|rest| Captures { groups: vec![Some(called.to_owned()), Some(rest.to_owned())], names: BTreeMap::new() }),
            CalledMatch::Regex(re, _) => re.captures(called).map(|c| Captures {
                groups: c.iter().map(|m| m.map(|m| m.as_str().to_owned())).collect(),
                names: re.capture_names().flatten().filter_map(|n| c.name(n).map(|m| (n.to_owned(), m.as_str().to_owned()))).collect(),
            }),
        }
    }

    /// Number of numbered capture groups (`${1}`..`${n}` allowed).
    pub fn group_count(&self) -> usize {
        match self {
            CalledMatch::Exact(_) => 0,
            CalledMatch::Prefix(_) => 1,
            CalledMatch::Regex(re, _) => re.captures_len() - 1,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            CalledMatch::Exact(n) => format!("called = {n}"),
            CalledMatch::Prefix(p) => format!("called starts with {p}"),
            CalledMatch::Regex(_, s) => format!("called matches /{s}/"),
        }
    }
}

/// Capture groups of the called number.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captures {
    pub groups: Vec<Option<String>>,
    pub names: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallerMatch {
    Anonymous,
    Exact(String),
    Prefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimeCond {
    During(String),
    Outside(String),
}

#[derive(Debug, Clone, Default)]
pub(crate) enum Rewrite {
    #[default]
    None,
    StripPrefix {
        strip: usize,
        prefix: String,
    },
    Template(Template),
}

/// A string with `${1}`, `${name}`, `${called}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub pieces: Vec<Piece>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(String),
    Group(usize),
    Named(String),
    /// The called number after rewriting.
    Called,
}

impl Template {
    pub fn expand(&self, caps: &Captures, called: &str) -> String {
        let mut s = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(l) => s.push_str(l),
                Piece::Group(i) => s.push_str(caps.groups.get(*i).and_then(|g| g.as_deref()).unwrap_or("")),
                Piece::Named(n) => s.push_str(caps.names.get(n).map_or("", String::as_str)),
                Piece::Called => s.push_str(called),
            }
        }
        s
    }
}

/// A ring target as written: a user name or a URI (which may use captures).
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// A provisioned user.
    User(String),
    /// A `sip:`, `sips:` or `tel:` URI.
    Uri(UriTemplate),
}

/// A URI with optional `${...}` references, opaque outside this module.
#[derive(Debug, Clone)]
pub struct UriTemplate(pub(crate) Template);

impl TargetSpec {
    /// As written.
    pub fn as_written(&self) -> &str {
        match self {
            TargetSpec::User(u) => u,
            TargetSpec::Uri(t) => &t.0.source,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum StepSpec {
    Ring { targets: Vec<TargetSpec>, timeout: Duration, on: FailOn, group: Option<String> },
    Reject { code: u16, reason: String },
    Redirect { contacts: Vec<Template> },
    Peer { name: String, number: Option<Template> },
}
