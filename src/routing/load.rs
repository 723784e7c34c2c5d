//! Reading a dial-plan directory: TOML → spanned tree → [`PlanFile`]s, reporting every problem
//! it can find with its position. Cross-file checks live in `check.rs`.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::calendar::{parse_windows, Calendar, Hours};
use super::diag::{Diagnostic, Severity, Sink, Source};
use super::model::*;
use super::tree::{self, Key, Kind, Node};
use super::{Directory, FailOn};

/// Where a rule's parts are, for cross-rule diagnostics.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleMeta {
    /// Offset of the rule table.
    pub at: usize,
    /// Offset of the called-number condition, if any.
    pub called_at: Option<usize>,
    /// Redirect contacts with their offsets.
    pub redirects: Vec<(usize, String)>,
}

/// A parsed file with what the cross checks need.
pub(crate) struct Parsed {
    pub src: Source,
    pub plan: PlanFile,
    pub metas: Vec<RuleMeta>,
    /// Whether the file holds an administration's plan (rather than only `[peers]`).
    pub is_plan: bool,
}

const TOP_KEYS: &[&str] = &["administration", "holidays", "hours", "groups", "peers", "rule"];
const RULE_KEYS: &[&str] = &[
    "name",
    "called",
    "called_prefix",
    "called_regex",
    "caller",
    "caller_prefix",
    "during",
    "outside",
    "holiday",
    "topic",
    "known_caller",
    "open_case",
    "strip",
    "prefix",
    "rewrite",
    "steps",
];
const STEP_ACTIONS: &[&str] = &["ring", "ring_group", "reject", "redirect", "peer", "queue", "menu"];
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Default ring time of a step or a parallel group.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default ring time of each member of an in-order group.
pub const DEFAULT_MEMBER_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest ring time accepted (the proxy's Timer C is 180 s by default).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// Reads every `*.toml` of `dir` (sorted by file name) into sources.
pub(crate) fn read_dir(dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<Source> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic {
                file: dir.to_owned(),
                line: 1,
                column: 1,
                severity: Severity::Error,
                message: format!("cannot read dial-plan directory: {e}"),
            });
            return Vec::new();
        }
    };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file()).collect();
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(text) => out.push(Source::new(p, text)),
            Err(e) => {
                diags.push(Diagnostic { file: p, line: 1, column: 1, severity: Severity::Error, message: format!("cannot read file: {e}") })
            }
        }
    }
    out
}

/// A table being read: remembers which keys were used so the rest can be reported.
struct Tbl<'t> {
    entries: &'t [(Key, Node)],
    used: Vec<bool>,
}

impl<'t> Tbl<'t> {
    fn of(node: &'t Node, what: &str, sink: &mut Sink<'_>) -> Option<Tbl<'t>> {
        match &node.kind {
            Kind::Table(t) => Some(Tbl::new(t)),
            other => {
                sink.error(&node.span, format!("{what} must be a table, found {}", other.type_name()));
                None
            }
        }
    }
    fn new(entries: &'t [(Key, Node)]) -> Tbl<'t> {
        Tbl { entries, used: vec![false; entries.len()] }
    }
    fn get(&mut self, key: &str) -> Option<&'t Node> {
        let i = self.entries.iter().position(|(k, _)| k.name == key)?;
        self.used[i] = true;
        Some(&self.entries[i].1)
    }
    fn get_key(&mut self, key: &str) -> Option<(&'t Key, &'t Node)> {
        let i = self.entries.iter().position(|(k, _)| k.name == key)?;
        self.used[i] = true;
        Some((&self.entries[i].0, &self.entries[i].1))
    }
    /// Reports every key not read, listing the known ones.
    fn finish(self, sink: &mut Sink<'_>, what: &str, known: &[&str]) {
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                sink.error(&k.span, format!("unknown key `{}` in {what} (known keys: {})", k.name, known.join(", ")));
            }
        }
    }
}

fn as_str<'n>(node: &'n Node, what: &str, sink: &mut Sink<'_>) -> Option<&'n str> {
    match &node.kind {
        Kind::Str(s) => Some(s),
        other => {
            sink.error(&node.span, format!("{what} must be a string, found {}", other.type_name()));
            None
        }
    }
}

fn as_bool(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<bool> {
    match &node.kind {
        Kind::Bool(b) => Some(*b),
        other => {
            sink.error(&node.span, format!("{what} must be true or false, found {}", other.type_name()));
            None
        }
    }
}

/// A string or an array of strings, with the offset of each.
fn str_list<'n>(node: &'n Node, what: &str, sink: &mut Sink<'_>) -> Vec<(&'n str, Range<usize>)> {
    match &node.kind {
        Kind::Str(s) => vec![(s.as_str(), node.span.clone())],
        Kind::Array(items) => {
            if items.is_empty() {
                sink.error(&node.span, format!("{what} is empty"));
            }
            items.iter().filter_map(|n| as_str(n, what, sink).map(|s| (s, n.span.clone()))).collect()
        }
        other => {
            sink.error(&node.span, format!("{what} must be a string or an array of strings, found {}", other.type_name()));
            Vec::new()
        }
    }
}

/// Offset of byte `i` of a string value's content, exact when the value is written without
/// escapes (what dial plans use), otherwise the opening quote.
fn inner_offset(src: &Source, span: &Range<usize>, value: &str, i: usize) -> usize {
    let raw = src.text.get(span.clone()).unwrap_or("");
    let quote = if raw.starts_with("'''") || raw.starts_with("\"\"\"") { 3 } else { 1 };
    match raw.get(quote..quote + value.len()) {
        Some(inner) if inner == value => span.start + quote + i,
        _ => span.start,
    }
}

fn parse_duration(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<Duration> {
    let d = match &node.kind {
        Kind::Int(n) if *n > 0 => Some(Duration::from_secs(*n as u64)),
        Kind::Str(s) => {
            let s = s.trim();
            let (mins, rest) = match s.split_once('m') {
                Some((m, r)) => (m.parse::<u64>().ok(), r),
                None => (Some(0), s),
            };
            let secs = if rest.is_empty() { Some(0) } else { rest.strip_suffix('s').and_then(|x| x.parse::<u64>().ok()) };
            match (mins, secs) {
                (Some(m), Some(s)) if m * 60 + s > 0 => Some(Duration::from_secs(m * 60 + s)),
                _ => None,
            }
        }
        _ => None,
    };
    match d {
        Some(d) if d <= MAX_TIMEOUT => Some(d),
        Some(_) => {
            sink.error(&node.span, format!("{what} is longer than {} s", MAX_TIMEOUT.as_secs()));
            None
        }
        None => {
            sink.error(&node.span, format!("bad {what}: write seconds like \"20s\", \"2m\" or \"1m30s\""));
            None
        }
    }
}

/// Parses `${1}`, `${name}`, `${called}` references; literal `$` elsewhere is kept.
pub(crate) fn parse_template(s: &str) -> Result<Template, (usize, String)> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = s;
    let mut pos = 0;
    while let Some(i) = rest.find("${") {
        lit.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err((pos + i, "unclosed `${`: write `${1}`, `${name}` or `${called}`".into()));
        };
        let name = &after[..end];
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        if name == "called" {
            pieces.push(Piece::Called);
        } else if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            pieces.push(Piece::Group(name.parse().map_err(|_| (pos + i, format!("capture number {name} is too large")))?));
        } else if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            pieces.push(Piece::Named(name.to_owned()));
        } else {
            return Err((pos + i, format!("bad reference `${{{name}}}`: write `${{1}}`, `${{name}}` or `${{called}}`")));
        }
        pos += i + 2 + end + 1;
        rest = &after[end + 1..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(Template { pieces, source: s.to_owned() })
}

/// Checks a template's references against the rule's called-number match.
fn check_template(t: &Template, called: Option<&CalledMatch>) -> Result<(), String> {
    for p in &t.pieces {
        match p {
            Piece::Group(n) => {
                let max = called.map_or(0, CalledMatch::group_count);
                if *n > max {
                    return Err(match called {
                        None | Some(CalledMatch::Exact(_)) => format!(
                            "`${{{n}}}` refers to a capture, but this rule's called number has none (use called_prefix or called_regex)"
                        ),
                        Some(_) => format!("`${{{n}}}` refers to capture {n}, but the called-number match has {max}"),
                    });
                }
            }
            Piece::Named(n) => {
                let known = matches!(called, Some(CalledMatch::Regex(re, _)) if re.capture_names().flatten().any(|x| x == n));
                if !known {
                    return Err(format!("`${{{n}}}` is not a named capture of this rule's called_regex (and not `${{called}}`)"));
                }
            }
            Piece::Lit(_) | Piece::Called => {}
        }
    }
    Ok(())
}

fn is_uri(s: &str) -> bool {
    s.starts_with("sip:") || s.starts_with("sips:") || s.starts_with("tel:")
}

/// Context shared while parsing one file.
struct FileCx<'a> {
    dir_info: &'a dyn Directory,
    peers: &'a BTreeSet<String>,
    groups: BTreeMap<String, Group>,
    hours: BTreeMap<String, Hours>,
}

/// Collects the `[peers.NAME]` tables of every file (pass 1).
pub(crate) fn parse_peers(src: &Source, top: &[(Key, Node)], diags: &mut Vec<Diagnostic>, peers: &mut Vec<Peer>) {
    let mut sink = Sink { src, out: diags };
    let Some((_, node)) = top.iter().find(|(k, _)| k.name == "peers") else { return };
    let Some(tbl) = Tbl::of(node, "[peers]", &mut sink) else { return };
    for (key, pnode) in tbl.entries {
        let what = format!("peer `{}`", key.name);
        if let Some(prev) = peers.iter().find(|p| p.name == key.name) {
            sink.error(&key.span, format!("peer `{}` is already declared at {}:{}", key.name, prev.file.display(), prev.line));
            continue;
        }
        if !valid_name(&key.name) {
            sink.error(&key.span, format!("bad peer name `{}`: use letters, digits, `-`, `_` and `.`", key.name));
        }
        let Some(mut t) = Tbl::of(pnode, &what, &mut sink) else { continue };
        let uri = match t.get("uri") {
            Some(n) => match as_str(n, "uri", &mut sink) {
                Some(u) if u.starts_with("sip:") || u.starts_with("sips:") => u.to_owned(),
                Some(u) => {
                    sink.error(&n.span, format!("peer uri {u:?} must be a sip: or sips: URI, e.g. \"sips:cc.example.gov.it\""));
                    String::new()
                }
                None => String::new(),
            },
            None => {
                sink.error(&key.span, format!("{what} has no `uri`"));
                String::new()
            }
        };
        let description = t.get("description").and_then(|n| as_str(n, "description", &mut sink)).unwrap_or("").to_owned();
        t.finish(&mut sink, &what, &["uri", "description"]);
        let (line, _) = src.line_col(key.span.start);
        peers.push(Peer { name: key.name.clone(), uri, description, file: src.path.clone(), line });
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Parses one file (pass 2). `top` is its spanned tree.
pub(crate) fn parse_file(
    dir: &Path,
    src: Source,
    top: &[(Key, Node)],
    dir_info: &dyn Directory,
    peers: &BTreeSet<String>,
    diags: &mut Vec<Diagnostic>,
) -> Parsed {
    let id = src.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut cx = FileCx { dir_info, peers, groups: BTreeMap::new(), hours: BTreeMap::new() };
    let mut top_tbl = Tbl::new(top);
    let mut sink = Sink { src: &src, out: diags };
    let _ = top_tbl.get("peers"); // read in pass 1
    let name = top_tbl.get("administration").and_then(|n| as_str(n, "administration", &mut sink)).map(str::to_owned);
    let is_plan = name.is_some() || top.iter().any(|(k, _)| matches!(k.name.as_str(), "rule" | "groups" | "hours" | "holidays"));

    // Calendar file.
    let mut calendar = Calendar::default();
    let mut holidays_file = None;
    if let Some(n) = top_tbl.get("holidays") {
        if let Some(rel) = as_str(n, "holidays", &mut sink) {
            let path = dir.join(rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let csrc = Source::new(path.clone(), text);
                    calendar = Calendar::parse(&mut Sink { src: &csrc, out: sink.out });
                    holidays_file = Some(path);
                }
                Err(e) => sink.error(&n.span, format!("cannot read holiday calendar {}: {e}", path.display())),
            }
        }
    }

    if let Some(n) = top_tbl.get("hours") {
        parse_hours(n, &mut cx, &mut sink);
    }
    if let Some(n) = top_tbl.get("groups") {
        parse_groups(n, &mut cx, &mut sink);
    }
    let mut rules = Vec::new();
    let mut metas = Vec::new();
    if let Some(n) = top_tbl.get("rule") {
        match &n.kind {
            Kind::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some((r, m)) = parse_rule(i, item, &cx, &mut sink) {
                        rules.push(r);
                        metas.push(m);
                    }
                }
            }
            _ => sink.error(&n.span, "rules are written as [[rule]] tables"),
        }
    }
    top_tbl.finish(&mut sink, "a dial plan", TOP_KEYS);
    if is_plan && rules.is_empty() && !top.iter().any(|(k, _)| k.name == "rule") {
        sink.at(Severity::Warning, 0, "this plan has no [[rule]]: it routes nothing");
    }
    let plan = PlanFile {
        path: src.path.clone(),
        name: name.unwrap_or_else(|| id.clone()),
        id,
        rules,
        groups: cx.groups,
        hours: cx.hours,
        calendar,
        holidays_file,
    };
    Parsed { src, plan, metas, is_plan }
}

fn parse_hours(node: &Node, cx: &mut FileCx<'_>, sink: &mut Sink<'_>) {
    let Some(tbl) = Tbl::of(node, "[hours]", sink) else { return };
    for (key, hnode) in tbl.entries {
        let what = format!("hours `{}`", key.name);
        let Kind::Table(days) = &hnode.kind else {
            sink.error(&hnode.span, format!("{what} must be a table like [hours.{}] with mon = \"09:00-13:00\" …", key.name));
            continue;
        };
        let mut hours = Hours::default();
        let mut set = [false; 8];
        for (dkey, dnode) in days {
            let Some(value) = as_str(dnode, &format!("{what}.{}", dkey.name), sink) else { continue };
            let windows = match parse_windows(value) {
                Ok(w) => w,
                Err((i, msg)) => {
                    sink.at(Severity::Error, inner_offset(sink.src, &dnode.span, value, i), msg);
                    continue;
                }
            };
            let idx: Vec<usize> = if dkey.name == "holidays" {
                vec![7]
            } else if let Some((a, b)) = dkey.name.split_once('-') {
                match (DAY_NAMES.iter().position(|d| *d == a), DAY_NAMES.iter().position(|d| *d == b)) {
                    (Some(a), Some(b)) if a <= b => (a..=b).collect(),
                    _ => Vec::new(),
                }
            } else {
                DAY_NAMES.iter().position(|d| *d == dkey.name).into_iter().collect()
            };
            if idx.is_empty() {
                sink.error(
                    &dkey.span,
                    format!(
                        "unknown day `{}` in {what}: use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or holidays",
                        dkey.name
                    ),
                );
                continue;
            }
            for i in idx {
                if set[i] {
                    let day = DAY_NAMES.get(i).copied().unwrap_or("holidays");
                    sink.error(&dkey.span, format!("{day} is given twice in {what}"));
                    continue;
                }
                set[i] = true;
                if i == 7 {
                    hours.holidays = windows.clone();
                } else {
                    hours.days[i] = windows.clone();
                }
            }
        }
        cx.hours.insert(key.name.clone(), hours);
    }
}

fn parse_target(s: &str, span: &Range<usize>, cx: &FileCx<'_>, sink: &mut Sink<'_>, called: Option<&CalledMatch>) -> Option<TargetSpec> {
    if is_uri(s) {
        match parse_template(s).and_then(|t| check_template(&t, called).map(|_| t).map_err(|m| (0, m))) {
            Ok(t) => Some(TargetSpec::Uri(UriTemplate(t))),
            Err((i, m)) => {
                sink.at(Severity::Error, inner_offset(sink.src, span, s, i), m);
                None
            }
        }
    } else if s.contains(':') || s.contains('@') {
        sink.error(span, format!("target {s:?} is neither a user name nor a sip:/sips:/tel: URI"));
        None
    } else if !cx.dir_info.user_exists(s) {
        sink.error(span, format!("unknown user `{s}`: not among the node's users (add it with `urpd user add {s}`)"));
        None
    } else {
        Some(TargetSpec::User(s.to_owned()))
    }
}

fn parse_groups(node: &Node, cx: &mut FileCx<'_>, sink: &mut Sink<'_>) {
    let Some(tbl) = Tbl::of(node, "[groups]", sink) else { return };
    for (key, gnode) in tbl.entries {
        let what = format!("group `{}`", key.name);
        let Some(mut t) = Tbl::of(gnode, &what, sink) else { continue };
        let mut members = Vec::new();
        match t.get("members") {
            Some(n) => {
                for (s, span) in str_list(n, "members", sink) {
                    if let Some(target) = parse_target(s, &span, cx, sink, None) {
                        members.push(target);
                    }
                }
            }
            None => sink.error(&key.span, format!("{what} has no `members`")),
        }
        let mode = match t.get("ring") {
            None => RingMode::Parallel,
            Some(n) => match as_str(n, "ring", sink) {
                Some("parallel") => RingMode::Parallel,
                Some("in-order") => RingMode::InOrder,
                Some(other) => {
                    sink.error(&n.span, format!("ring = {other:?}: use \"parallel\" (all at once) or \"in-order\" (one after the other)"));
                    RingMode::Parallel
                }
                None => RingMode::Parallel,
            },
        };
        let default = if mode == RingMode::InOrder { DEFAULT_MEMBER_TIMEOUT } else { DEFAULT_TIMEOUT };
        let timeout = t.get("timeout").and_then(|n| parse_duration(n, "timeout", sink)).unwrap_or(default);
        t.finish(sink, &what, &["members", "ring", "timeout"]);
        cx.groups.insert(key.name.clone(), Group { members, mode, timeout });
    }
}

fn parse_rule(index: usize, node: &Node, cx: &FileCx<'_>, sink: &mut Sink<'_>) -> Option<(Rule, RuleMeta)> {
    let mut t = Tbl::of(node, "a [[rule]]", sink)?;
    let mut meta = RuleMeta { at: node.span.start, ..RuleMeta::default() };
    let name = t.get("name").and_then(|n| as_str(n, "name", sink)).map_or_else(|| format!("rule {}", index + 1), str::to_owned);
    let mut cond = Conditions::default();
    let mut ok = true;

    // Called number: at most one of the three forms.
    let forms: Vec<(&Key, &Node)> = ["called", "called_prefix", "called_regex"].iter().filter_map(|k| t.get_key(k)).collect();
    if forms.len() > 1 {
        sink.error(
            &forms[1].0.span,
            format!("`{}` and `{}` both given: a rule matches the called number one way", forms[0].0.name, forms[1].0.name),
        );
        ok = false;
    }
    if let Some((k, n)) = forms.first() {
        meta.called_at = Some(n.span.start);
        if let Some(s) = as_str(n, &k.name, sink) {
            cond.called = match k.name.as_str() {
                "called_regex" => match Regex::new(&format!("^(?:{s})$")) {
                    Ok(re) => Some(CalledMatch::Regex(re, s.to_owned())),
                    Err(e) => {
                        let full = e.to_string();
                        let last = full.lines().last().unwrap_or("invalid").trim();
                        let msg = last.strip_prefix("error: ").unwrap_or(last).to_owned();
                        sink.error(&n.span, format!("bad called_regex {s:?}: {msg}"));
                        ok = false;
                        None
                    }
                },
                _ if s.is_empty() => {
                    sink.error(&n.span, format!("{} is empty", k.name));
                    ok = false;
                    None
                }
                "called" => Some(CalledMatch::Exact(s.to_owned())),
                _ => Some(CalledMatch::Prefix(s.to_owned())),
            };
        } else {
            ok = false;
        }
    }

    let caller_forms: Vec<(&Key, &Node)> = ["caller", "caller_prefix"].iter().filter_map(|k| t.get_key(k)).collect();
    if caller_forms.len() > 1 {
        sink.error(&caller_forms[1].0.span, "`caller` and `caller_prefix` both given: use one");
        ok = false;
    }
    if let Some((k, n)) = caller_forms.first() {
        match as_str(n, &k.name, sink) {
            Some("") => {
                sink.error(&n.span, format!("{} is empty", k.name));
                ok = false;
            }
            Some(s) if k.name == "caller" => {
                cond.caller = Some(if s == "anonymous" { CallerMatch::Anonymous } else { CallerMatch::Exact(s.to_owned()) })
            }
            Some(s) => cond.caller = Some(CallerMatch::Prefix(s.to_owned())),
            None => ok = false,
        }
    }

    let time_forms: Vec<(&Key, &Node)> = ["during", "outside"].iter().filter_map(|k| t.get_key(k)).collect();
    if time_forms.len() > 1 {
        sink.error(&time_forms[1].0.span, "`during` and `outside` both given: use one");
        ok = false;
    }
    if let Some((k, n)) = time_forms.first() {
        if let Some(h) = as_str(n, &k.name, sink) {
            if !cx.hours.contains_key(h) {
                let known: Vec<&str> = cx.hours.keys().map(String::as_str).collect();
                let hint = if known.is_empty() {
                    "this file declares no [hours.NAME]".to_owned()
                } else {
                    format!("declared: {}", known.join(", "))
                };
                sink.error(&n.span, format!("unknown hours `{h}` ({hint})"));
                ok = false;
            }
            cond.time = Some(if k.name == "during" { TimeCond::During(h.to_owned()) } else { TimeCond::Outside(h.to_owned()) });
        } else {
            ok = false;
        }
    }
    cond.holiday = t.get("holiday").and_then(|n| as_bool(n, "holiday", sink));
    cond.known_caller = t.get("known_caller").and_then(|n| as_bool(n, "known_caller", sink));
    cond.open_case = t.get("open_case").and_then(|n| as_bool(n, "open_case", sink));
    cond.topic = t.get("topic").and_then(|n| as_str(n, "topic", sink)).map(str::to_owned);

    // Rewriting.
    let strip = t.get("strip");
    let prefix = t.get("prefix");
    let rewrite = t.get_key("rewrite");
    let mut rw = Rewrite::None;
    if let Some((k, n)) = rewrite {
        if strip.is_some() || prefix.is_some() {
            sink.error(&k.span, "`rewrite` replaces the whole number: do not combine it with `strip`/`prefix`");
            ok = false;
        }
        if let Some(s) = as_str(n, "rewrite", sink) {
            match parse_template(s).and_then(|tp| check_template(&tp, cond.called.as_ref()).map(|_| tp).map_err(|m| (0, m))) {
                Ok(tp) => rw = Rewrite::Template(tp),
                Err((i, m)) => {
                    sink.at(Severity::Error, inner_offset(sink.src, &n.span, s, i), m);
                    ok = false;
                }
            }
        }
    } else if strip.is_some() || prefix.is_some() {
        let strip_n = match strip.map(|n| (&n.kind, n)) {
            None => 0,
            Some((Kind::Int(v), _)) if *v >= 0 => *v as usize,
            Some((_, n)) => {
                sink.error(&n.span, "strip must be a number of leading digits (0 or more)");
                ok = false;
                0
            }
        };
        let p = prefix.and_then(|n| as_str(n, "prefix", sink)).unwrap_or("").to_owned();
        if let (Some(CalledMatch::Exact(num)), Some(n)) = (&cond.called, strip) {
            if strip_n > num.chars().count() {
                sink.error(&n.span, format!("strip = {strip_n} removes more than the whole number {num}"));
                ok = false;
            }
        }
        rw = Rewrite::StripPrefix { strip: strip_n, prefix: p };
    }

    // Steps.
    let mut steps = Vec::new();
    match t.get_key("steps") {
        None => {
            sink.error(&node.span, format!("rule `{name}` has no `steps` (what to do with the call)"));
            ok = false;
        }
        Some((k, n)) => match &n.kind {
            Kind::Array(items) if !items.is_empty() => {
                let mut final_at: Option<&str> = None;
                for item in items {
                    if let Some(what) = final_at {
                        sink.warning(&item.span, format!("this step is never reached: the call already ended with `{what}`"));
                    }
                    match parse_step(item, cx, sink, cond.called.as_ref(), &mut meta) {
                        Some(s) => {
                            if final_at.is_none() {
                                final_at = match &s {
                                    Parsed1::Step(StepSpec::Reject { .. }) => Some("reject"),
                                    Parsed1::Step(StepSpec::Redirect { .. }) => Some("redirect"),
                                    _ => None,
                                };
                            }
                            steps.extend(s.expand(cx));
                        }
                        None => ok = false,
                    }
                }
            }
            Kind::Array(_) => {
                sink.error(&k.span, "steps is empty");
                ok = false;
            }
            other => {
                sink.error(
                    &n.span,
                    format!("steps must be an array of tables like [ {{ ring = \"user\" }} ], found {}", other.type_name()),
                );
                ok = false;
            }
        },
    }
    t.finish(sink, "a rule", RULE_KEYS);
    let (line, _) = sink.src.line_col(node.span.start);
    ok.then_some((Rule { name, line, cond, rewrite: rw, steps }, meta))
}

/// A step as written, before group expansion.
enum Parsed1 {
    Step(StepSpec),
    Group { name: String, timeout: Option<Duration>, on: FailOn },
}

impl Parsed1 {
    fn expand(self, cx: &FileCx<'_>) -> Vec<StepSpec> {
        match self {
            Parsed1::Step(s) => vec![s],
            Parsed1::Group { name, timeout, on } => match cx.groups.get(&name) {
                None => Vec::new(),
                Some(g) => match g.mode {
                    RingMode::Parallel => {
                        vec![StepSpec::Ring { targets: g.members.clone(), timeout: timeout.unwrap_or(g.timeout), on, group: Some(name) }]
                    }
                    RingMode::InOrder => g
                        .members
                        .iter()
                        .map(|m| StepSpec::Ring {
                            targets: vec![m.clone()],
                            timeout: timeout.unwrap_or(g.timeout),
                            on,
                            group: Some(name.clone()),
                        })
                        .collect(),
                },
            },
        }
    }
}

fn parse_step(node: &Node, cx: &FileCx<'_>, sink: &mut Sink<'_>, called: Option<&CalledMatch>, meta: &mut RuleMeta) -> Option<Parsed1> {
    let mut t = Tbl::of(node, "a step", sink)?;
    let actions: Vec<(&Key, &Node)> = STEP_ACTIONS.iter().filter_map(|a| t.get_key(a)).collect();
    let Some(&(akey, anode)) = actions.first() else {
        sink.error(&node.span, format!("a step needs one action: {}", STEP_ACTIONS[..5].join(", ")));
        t.finish(sink, "a step", &["ring", "ring_group", "reject", "redirect", "peer", "timeout", "on", "reason", "number"]);
        return None;
    };
    if actions.len() > 1 {
        sink.error(
            &actions[1].0.span,
            format!("a step does one thing: `{}` and `{}` given; write two steps", akey.name, actions[1].0.name),
        );
    }
    let mut ok = actions.len() == 1;
    let result = match akey.name.as_str() {
        "queue" | "menu" => {
            sink.error(&akey.span, format!("`{}` is not available yet (call-anchor issue)", akey.name));
            t.finish(sink, "a step", &[]);
            return None;
        }
        "ring" | "ring_group" => {
            let timeout = t.get("timeout").and_then(|n| parse_duration(n, "timeout", sink));
            let on = match t.get("on") {
                None => FailOn::ALL,
                Some(n) => {
                    let mut on = FailOn { no_answer: false, busy: false, unavailable: false };
                    for (s, span) in str_list(n, "on", sink) {
                        match s {
                            "no-answer" => on.no_answer = true,
                            "busy" => on.busy = true,
                            "unavailable" => on.unavailable = true,
                            other => {
                                sink.error(&span, format!("on = {other:?}: use \"no-answer\", \"busy\" or \"unavailable\""));
                                ok = false;
                            }
                        }
                    }
                    on
                }
            };
            if akey.name == "ring" {
                let mut targets = Vec::new();
                for (s, span) in str_list(anode, "ring", sink) {
                    match parse_target(s, &span, cx, sink, called) {
                        Some(tg) => targets.push(tg),
                        None => ok = false,
                    }
                }
                if targets.is_empty() {
                    ok = false;
                }
                Parsed1::Step(StepSpec::Ring { targets, timeout: timeout.unwrap_or(DEFAULT_TIMEOUT), on, group: None })
            } else {
                let name = as_str(anode, "ring_group", sink).unwrap_or("").to_owned();
                if name.is_empty() {
                    ok = false;
                } else if !cx.groups.contains_key(&name) {
                    let known: Vec<&str> = cx.groups.keys().map(String::as_str).collect();
                    let hint = if known.is_empty() { "this file declares no [groups.NAME]".to_owned() } else { format!("declared: {}", known.join(", ")) };
                    sink.error(&anode.span, format!("unknown group `{name}` ({hint})"));
                    ok = false;
                }
                Parsed1::Group { name, timeout, on }
            }
        }
        "reject" => {
            let code = match &anode.kind {
                Kind::Int(c) if (400..=699).contains(c) => *c as u16,
                _ => {
                    sink.error(&anode.span, "reject needs a SIP final error code 400..699, e.g. 480 (Temporarily Unavailable) or 603 (Decline)");
                    ok = false;
                    0
                }
            };
            let reason = match t.get("reason") {
                Some(n) => as_str(n, "reason", sink).unwrap_or("").to_owned(),
                None => default_reason(code).to_owned(),
            };
            if reason.chars().any(|c| c.is_control()) {
                sink.error(&anode.span, "reason must be one line of text");
                ok = false;
            }
            Parsed1::Step(StepSpec::Reject { code, reason })
        }
        "redirect" => {
            let mut contacts = Vec::new();
            for (s, span) in str_list(anode, "redirect", sink) {
                if !is_uri(s) {
                    sink.error(&span, format!("redirect contact {s:?} must be a sip:, sips: or tel: URI"));
                    ok = false;
                    continue;
                }
                match parse_template(s).and_then(|tp| check_template(&tp, called).map(|_| tp).map_err(|m| (0, m))) {
                    Ok(tp) => {
                        meta.redirects.push((span.start, s.to_owned()));
                        contacts.push(tp);
                    }
                    Err((i, m)) => {
                        sink.at(Severity::Error, inner_offset(sink.src, &span, s, i), m);
                        ok = false;
                    }
                }
            }
            Parsed1::Step(StepSpec::Redirect { contacts })
        }
        _ /* peer */ => {
            let name = as_str(anode, "peer", sink).unwrap_or("").to_owned();
            if name.is_empty() {
                ok = false;
            } else if !cx.peers.contains(&name) {
                sink.error(&anode.span, format!("unknown peer `{name}`: declare it as [peers.{name}] with uri = \"sips:…\" (e.g. in peers.toml)"));
                ok = false;
            }
            let number = match t.get("number") {
                None => None,
                Some(n) => match as_str(n, "number", sink).map(|s| (s, parse_template(s))) {
                    Some((s, Ok(tp))) => match check_template(&tp, called) {
                        Ok(()) => Some(tp),
                        Err(m) => {
                            sink.at(Severity::Error, inner_offset(sink.src, &n.span, s, 0), m);
                            ok = false;
                            None
                        }
                    },
                    Some((s, Err((i, m)))) => {
                        sink.at(Severity::Error, inner_offset(sink.src, &n.span, s, i), m);
                        ok = false;
                        None
                    }
                    None => None,
                },
            };
            Parsed1::Step(StepSpec::Peer { name, number })
        }
    };
    let modifiers: &[&str] = match akey.name.as_str() {
        "ring" | "ring_group" => &["timeout", "on"],
        "reject" => &["reason"],
        "peer" => &["number"],
        _ => &[],
    };
    let mut known: Vec<&str> = vec![akey.name.as_str()];
    known.extend_from_slice(modifiers);
    t.finish(sink, &format!("a `{}` step", akey.name), &known);
    ok.then_some(result)
}

fn default_reason(code: u16) -> &'static str {
    match code {
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        503 => "Service Unavailable",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Rejected",
    }
}

/// Parses every source: peers first (any file may declare them), then plans.
pub(crate) fn parse_all(
    dir: &Path,
    sources: Vec<Source>,
    dir_info: &dyn Directory,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<Parsed>, Vec<Peer>) {
    let mut trees = Vec::new();
    for src in sources {
        match tree::parse(&src.text) {
            Ok(t) => trees.push((src, t)),
            Err((msg, span)) => {
                let (line, column) = span.map_or((1, 1), |s| src.line_col(s.start));
                diags.push(Diagnostic {
                    file: src.path.clone(),
                    line,
                    column,
                    severity: Severity::Error,
                    message: format!(
                        "TOML syntax: {}",
                        msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
                    ),
                });
            }
        }
    }
    let mut peers = Vec::new();
    for (src, top) in &trees {
        parse_peers(src, top, diags, &mut peers);
    }
    let names: BTreeSet<String> = peers.iter().map(|p| p.name.clone()).collect();
    let parsed = trees.into_iter().map(|(src, top)| parse_file(dir, src, &top, dir_info, &names, diags)).collect();
    (parsed, peers)
}
