//! Parser, validator and evaluator tests on small plans written to a temporary directory.

use super::*;
use jiff::Timestamp;
use std::collections::BTreeSet;

const USERS: &[&str] = &["anna", "bruno", "carla", "dario"];

fn users() -> BTreeSet<String> {
    USERS.iter().map(|s| s.to_string()).collect()
}

fn write(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn load(files: &[(&str, &str)]) -> (DialPlanSet, Vec<Diagnostic>) {
    let dir = write(files);
    match DialPlanSet::load_dir(dir.path(), &users()) {
        Ok(x) => x,
        Err(e) => panic!("unexpected errors:\n{}", e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

/// Errors as `name:line:col: message` (file name only).
fn errors(files: &[(&str, &str)]) -> Vec<String> {
    let dir = write(files);
    match DialPlanSet::load_dir(dir.path(), &users()) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e
            .iter()
            .map(|d| format!("{}:{}:{}: {}: {}", d.file.file_name().unwrap().to_string_lossy(), d.line, d.column, d.severity, d.message))
            .collect(),
    }
}

fn warnings(files: &[(&str, &str)]) -> Vec<String> {
    load(files).1.iter().map(|d| format!("{}:{}: {}", d.line, d.column, d.message)).collect()
}

fn has(list: &[String], prefix: &str, needle: &str) -> bool {
    list.iter().any(|l| l.starts_with(prefix) && l.contains(needle))
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn call(called: &str) -> CallInfo<'_> {
    CallInfo { called, caller: Some("+390611111111"), ..CallInfo::default() }
}

fn rule_name(set: &DialPlanSet, c: &CallInfo<'_>, at: &str) -> Option<String> {
    let routed = set.route(c, ts(at)).decision;
    // The proxy's trace-less path must decide exactly as the explained one.
    assert_eq!(set.decide(c, ts(at)), routed);
    routed.map(|d| d.rule.name)
}

const WEEKDAY_WINTER: &str = "2026-01-14T09:00:00Z"; // Wed 10:00 CET

// ---------------------------------------------------------------- parser: errors with positions

#[test]
fn syntax_error_has_position() {
    let e = errors(&[("a.toml", "administration = \"A\"\n[[rule]\n")]);
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("a.toml:2:"), "{e:?}");
    assert!(e[0].contains("TOML syntax"));
}

#[test]
fn every_error_of_every_file_is_reported_with_line_and_column() {
    let a = r#"administration = "A"
colour = "blue"

[[rule]]
name = "r1"
called = "100"
steps = [ { ring = "nobody" } ]

[[rule]]
called_regex = '10(['
steps = [ { ring_group = "missing" } ]
"#;
    let b = r#"[[rule]]
called = "200"
during = "office"
steps = [ { queue = "q1" }, { menu = "m" }, { peer = "nowhere" } ]
"#;
    let e = errors(&[("a.toml", a), ("b.toml", b)]);
    let expect = [
        "a.toml:2:1: error: unknown key `colour` in a dial plan",
        "a.toml:7:20: error: unknown user `nobody`",
        "a.toml:10:16: error: bad called_regex",
        "a.toml:11:26: error: unknown group `missing`",
        "b.toml:3:10: error: unknown hours `office`",
        "b.toml:4:13: error: `queue` is not available yet (call-anchor issue)",
        "b.toml:4:31: error: `menu` is not available yet (call-anchor issue)",
        "b.toml:4:54: error: unknown peer `nowhere`",
    ];
    for x in expect {
        assert!(e.iter().any(|l| l.starts_with(x)), "missing {x:?} in\n{}", e.join("\n"));
    }
    assert_eq!(e.len(), expect.len(), "{}", e.join("\n"));
}

#[test]
fn bad_time_window_points_inside_the_string() {
    let f = "[hours.h]\nmon = \"09:00-13:00, 14:30-1700\"\ntue-fri = \"22:00-06:00\"\nsun = \"x\"\nsat = \"10:00-11:00\"\nfri-sat = \"10:00-11:00\"\nfoo = \"09:00-10:00\"\n";
    let e = errors(&[("a.toml", f)]);
    assert!(has(&e, "a.toml:2:21: error: bad time window \"14:30-1700\"", ""), "{e:?}");
    assert!(has(&e, "a.toml:3:12: error:", "cannot cross midnight"), "{e:?}");
    assert!(has(&e, "a.toml:4:8: error: bad time window", ""), "{e:?}");
    assert!(has(&e, "a.toml:6:1: error: sat is given twice", ""), "{e:?}");
    assert!(has(&e, "a.toml:7:1: error: unknown day `foo`", ""), "{e:?}");
}

#[test]
fn step_and_rule_shape_errors() {
    let f = r#"[groups.g]
members = ["anna"]
ring = "round-robin"
[[rule]]
called = "1"
called_prefix = "2"
steps = [ { ring = "anna", reject = 486 } ]
[[rule]]
called = "3"
[[rule]]
called = "4"
steps = [ { reject = 200 }, { ring = "anna", timeout = "forever", on = ["declined"] } ]
[[rule]]
called = "5"
rewrite = "${2}"
steps = [ { redirect = "http://x" } ]
[[rule]]
called = "6"
steps = [ { ring = "sip:${called}@x", colour = 1 }, { peer = 7 } ]
"#;
    let e = errors(&[("a.toml", f)]);
    for x in [
        "a.toml:3:8: error: ring = \"round-robin\"",
        "a.toml:6:1: error: `called` and `called_prefix` both given",
        "a.toml:7:28: error: a step does one thing",
        "a.toml:8:1: error: rule `rule 2` has no `steps`",
        "a.toml:12:22: error: reject needs a SIP final error code",
        "a.toml:12:56: error: bad timeout",
        "a.toml:12:73: error: on = \"declined\"",
        "a.toml:15:12: error: `${2}` refers to a capture, but this rule's called number has none",
        "a.toml:16:24: error: redirect contact \"http://x\"",
        "a.toml:19:39: error: unknown key `colour` in a `ring` step",
        "a.toml:19:62: error: peer must be a string",
    ] {
        assert!(e.iter().any(|l| l.starts_with(x)), "missing {x:?} in\n{}", e.join("\n"));
    }
    assert_eq!(e.len(), 11, "one error per problem:\n{}", e.join("\n"));
}

#[test]
fn holiday_file_errors_point_into_the_calendar() {
    let e = errors(&[
        ("a.toml", "holidays = \"cal/a.holidays\"\n[[rule]]\nholiday = true\nsteps = [ { reject = 480 } ]\n"),
        ("cal/a.holidays", "# ok\n06-24 San Giovanni\n  13-01 Bad month\n2026-02-30 Nope\n07-01\n"),
    ]);
    assert!(has(&e, "a.holidays:3:3: error: bad date \"13-01\"", ""), "{e:?}");
    assert!(has(&e, "a.holidays:4:1: error: bad date \"2026-02-30\"", ""), "{e:?}");
    assert!(has(&e, "a.holidays:5:1: error:", "has no name"), "{e:?}");
    let e = errors(&[("a.toml", "holidays = \"nope.holidays\"\n")]);
    assert!(has(&e, "a.toml:1:12: error: cannot read holiday calendar", ""), "{e:?}");
}

#[test]
fn peers_are_validated() {
    let e = errors(&[
        ("a.toml", "[peers.x]\nuri = \"http://x\"\n[peers.y]\ndescription = \"no uri\"\n"),
        ("b.toml", "[peers.x]\nuri = \"sip:x\"\n"),
    ]);
    assert!(has(&e, "a.toml:2:7: error: peer uri", ""), "{e:?}");
    assert!(has(&e, "a.toml:3:8: error: peer `y` has no `uri`", ""), "{e:?}");
    assert!(has(&e, "b.toml:1:8: error: peer `x` is already declared at", ""), "{e:?}");
}

#[test]
fn unknown_users_are_errors_in_groups_too() {
    let e = errors(&[("a.toml", "[groups.g]\nmembers = [\"anna\", \"zed\", \"sip:ok@x\", \"bad@x\"]\n")]);
    assert!(has(&e, "a.toml:2:20: error: unknown user `zed`", "urpd user add zed"), "{e:?}");
    assert!(has(&e, "a.toml:2:39: error: target \"bad@x\"", ""), "{e:?}");
    assert!(has(&e, "a.toml:1:1: warning: this plan has no [[rule]]", ""), "{e:?}");
    assert_eq!(e.len(), 3, "{e:?}");
}

// ---------------------------------------------------------------- validator: set-wide checks

#[test]
fn shadowed_rules_are_warnings() {
    let f = r#"[hours.h]
mon = "09:00-10:00"
[[rule]]
name = "wide"
called_prefix = "06"
steps = [ { ring = "anna" } ]
[[rule]]
name = "narrow"
called = "0612"
during = "h"
steps = [ { ring = "bruno" } ]
[[rule]]
name = "other"
called = "0712"
steps = [ { ring = "bruno" } ]
[[rule]]
name = "regex-covered"
called_regex = '07\d+'
steps = [ { ring = "anna" } ]
[[rule]]
name = "exact-after-regex"
called = "0799"
topic = "x"
steps = [ { ring = "anna" } ]
"#;
    let w = warnings(&[("a.toml", f)]);
    assert!(has(&w, "7:1: rule `narrow` is never used", "`wide` (a.toml:3)"), "{w:?}");
    assert!(has(&w, "20:1: rule `exact-after-regex` is never used", "`regex-covered`"), "{w:?}");
    assert_eq!(w.len(), 2, "{w:?}");
}

#[test]
fn a_narrower_rule_first_is_fine() {
    let f = r#"[[rule]]
called = "0612"
caller = "anonymous"
steps = [ { reject = 403 } ]
[[rule]]
called = "0612"
steps = [ { ring = "anna" } ]
"#;
    assert!(warnings(&[("a.toml", f)]).is_empty());
}

#[test]
fn duplicate_numbers_across_administrations_warn() {
    let a = "[[rule]]\ncalled = \"803001\"\ncaller_prefix = \"+39\"\nsteps = [ { ring = \"anna\" } ]\n";
    let b = "[[rule]]\ncalled = \"803001\"\ntopic = \"x\"\nsteps = [ { ring = \"bruno\" } ]\n";
    let w = warnings(&[("a.toml", a), ("b.toml", b)]);
    assert!(has(&w, "2:10: number 803001 is also routed by administration `a`", ""), "{w:?}");
}

#[test]
fn unreachable_step_after_reject_warns() {
    let w = warnings(&[("a.toml", "[[rule]]\ncalled = \"1\"\nsteps = [ { reject = 480 }, { ring = \"anna\" } ]\n")]);
    assert!(has(&w, "3:29: this step is never reached", "reject"), "{w:?}");
}

#[test]
fn redirect_loops_are_errors() {
    // A number redirected to itself.
    let e = errors(&[("a.toml", "[[rule]]\ncalled = \"803001\"\nsteps = [ { redirect = \"sip:803001@urp.example.it\" } ]\n")]);
    assert!(has(&e, "a.toml:3:24: error: redirect loop", "same rule"), "{e:?}");
    // Two numbers redirecting to each other, in two files: reported once.
    let e = errors(&[
        ("a.toml", "[[rule]]\ncalled = \"1000\"\nsteps = [ { redirect = \"tel:2000\" } ]\n"),
        ("b.toml", "[[rule]]\ncalled_prefix = \"20\"\nsteps = [ { redirect = \"sips:1000@x;transport=tls\" } ]\n"),
    ]);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(has(&e, "a.toml:3:24: error: redirect loop", "(b.toml:1)"), "{e:?}");
    // Redirect to a number taken first by a ringing rule: no loop.
    load(&[(
        "a.toml",
        "[[rule]]\ncalled = \"2000\"\nsteps = [ { ring = \"anna\" } ]\n[[rule]]\ncalled_prefix = \"\\u0032\"\nsteps = [ { redirect = \"tel:2000\" } ]\n",
    )]);
}

#[test]
fn a_peers_only_file_is_not_an_administration() {
    let (set, w) =
        load(&[("peers.toml", "[peers.p]\nuri = \"sips:p.example.it\"\n"), ("a.toml", "[[rule]]\nsteps = [ { peer = \"p\" } ]\n")]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(set.files().len(), 1);
    assert_eq!(set.peers()[0].name, "p");
    assert_eq!(set.peers()[0].line, 1);
}

// ---------------------------------------------------------------- evaluator

#[test]
fn called_matches_exact_prefix_regex_with_captures_and_rewriting() {
    let f = r#"[[rule]]
name = "exact"
called = "803001"
steps = [ { ring = "anna" } ]
[[rule]]
name = "prefix"
called_prefix = "0646"
strip = 4
prefix = "9"
steps = [ { ring = "sip:${1}@pbx", timeout = "1m30s" }, { peer = "p", number = "${called}" } ]
[[rule]]
name = "regex"
called_regex = '80(?<area>\d{2})(\d{3})'
rewrite = "0${area}${2}"
steps = [ { redirect = ["sip:${2}@a", "tel:+39${called}"] } ]
[peers.p]
uri = "sip:p"
"#;
    let (set, _) = load(&[("a.toml", f)]);
    let r = set.route(&call("803001"), ts(WEEKDAY_WINTER));
    let d = r.decision.unwrap();
    assert_eq!((d.rule.name.as_str(), d.rule.line, d.called.as_str(), d.administration.as_str()), ("exact", 1, "803001", "a"));
    assert_eq!(r.trace.len(), 1);

    let d = set.route(&call("06461234"), ts(WEEKDAY_WINTER)).decision.unwrap();
    assert_eq!(d.rule.name, "prefix");
    assert_eq!(d.called, "91234");
    assert_eq!(
        d.steps,
        vec![
            Step::Ring {
                targets: vec![Target::Uri("sip:1234@pbx".into())],
                timeout: Duration::from_secs(90),
                on: FailOn::ALL,
                group: None
            },
            Step::Peer { name: "p".into(), number: Some("91234".into()) },
        ]
    );

    let r = set.route(&call("8006123"), ts(WEEKDAY_WINTER));
    let d = r.decision.unwrap();
    assert_eq!(d.called, "006123");
    assert_eq!(d.steps, vec![Step::Redirect { contacts: vec!["sip:123@a".into(), "tel:+39006123".into()] }]);
    assert_eq!(r.trace[0].reason, "called 8006123 is not 803001");
    assert_eq!(r.trace[1].reason, "called 8006123 does not start with 0646");

    let r = set.route(&call("5555"), ts(WEEKDAY_WINTER));
    assert!(r.decision.is_none());
    assert_eq!(r.trace.len(), 3);
    assert!(r.trace[2].reason.contains("does not match /80(?<area>"), "{:?}", r.trace[2]);
}

#[test]
fn caller_topic_and_crm_conditions() {
    let f = r#"[[rule]]
name = "anon"
caller = "anonymous"
steps = [ { reject = 433, reason = "Anonymity Disallowed" } ]
[[rule]]
name = "vip"
caller = "+390699"
steps = [ { ring = "anna" } ]
[[rule]]
name = "rome"
caller_prefix = "+3906"
topic = "sanita"
steps = [ { ring = "bruno" } ]
[[rule]]
name = "case"
known_caller = true
open_case = true
steps = [ { ring = "carla" } ]
[[rule]]
name = "unknown"
known_caller = false
steps = [ { ring = "dario" } ]
"#;
    let (set, _) = load(&[("a.toml", f)]);
    let at = WEEKDAY_WINTER;
    let mut c = CallInfo { called: "1", caller: None, ..CallInfo::default() };
    assert_eq!(rule_name(&set, &c, at).as_deref(), Some("anon"));
    c.caller = Some("+390699");
    assert_eq!(rule_name(&set, &c, at).as_deref(), Some("vip"));
    c.caller = Some("+390612");
    c.topic = Some("sanita");
    assert_eq!(rule_name(&set, &c, at).as_deref(), Some("rome"));
    c.topic = Some("turismo");
    c.caller_known = true;
    c.has_open_case = true;
    assert_eq!(rule_name(&set, &c, at).as_deref(), Some("case"));
    c.has_open_case = false;
    let r = set.route(&c, ts(at));
    assert!(r.decision.is_none());
    let reasons: Vec<&str> = r.trace.iter().map(|t| t.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "caller +390612 is not anonymous",
            "caller +390612 is not +390699",
            "topic turismo is not sanita",
            "caller has no open case",
            "caller is known to the CRM"
        ]
    );
    c.caller_known = false;
    assert_eq!(rule_name(&set, &c, at).as_deref(), Some("unknown"));
}

const HOURS: &str = r#"holidays = "a.holidays"
[hours.office]
mon = "09:00-13:00"
tue = "09:00-13:00, 14:30-17:00"
wed-fri = "09:00-13:00"
sun = "09:00-10:00, 02:00-03:00"
[[rule]]
name = "open"
during = "office"
steps = [ { ring = "anna" } ]
[[rule]]
name = "holiday"
holiday = true
steps = [ { reject = 480, reason = "Festivo" } ]
[[rule]]
name = "closed"
outside = "office"
steps = [ { reject = 480 } ]
"#;

fn hours_set() -> DialPlanSet {
    load(&[("a.toml", HOURS), ("a.holidays", "06-24 Patrono\n")]).0
}

#[test]
fn office_hours_in_rome_time() {
    let set = hours_set();
    let c = call("1");
    // Winter (CET = UTC+1): Wednesday 2026-01-14.
    assert_eq!(rule_name(&set, &c, "2026-01-14T07:59:00Z").as_deref(), Some("closed")); // 08:59
    assert_eq!(rule_name(&set, &c, "2026-01-14T08:00:00Z").as_deref(), Some("open")); // 09:00
    assert_eq!(rule_name(&set, &c, "2026-01-14T11:59:00Z").as_deref(), Some("open")); // 12:59
    assert_eq!(rule_name(&set, &c, "2026-01-14T12:00:00Z").as_deref(), Some("closed")); // 13:00
                                                                                        // Tuesday afternoon only on Tuesday.
    assert_eq!(rule_name(&set, &c, "2026-01-13T14:00:00Z").as_deref(), Some("open")); // Tue 15:00
    assert_eq!(rule_name(&set, &c, "2026-01-14T14:00:00Z").as_deref(), Some("closed")); // Wed 15:00
                                                                                        // Summer (CEST = UTC+2): 07:00Z is 09:00 local.
    assert_eq!(rule_name(&set, &c, "2026-07-15T07:00:00Z").as_deref(), Some("open"));
    assert_eq!(rule_name(&set, &c, "2026-07-15T11:00:00Z").as_deref(), Some("closed")); // 13:00
                                                                                        // Saturday: closed.
    assert_eq!(rule_name(&set, &c, "2026-01-17T09:00:00Z").as_deref(), Some("closed"));
    let r = set.route(&c, ts("2026-01-17T09:00:00Z"));
    assert_eq!(r.trace[0].reason, "Sat 2026-01-17 10:00 is outside hours `office`");
    assert_eq!(r.local_time, "2026-01-17T10:00:00+01:00[Europe/Rome]");
}

#[test]
fn dst_change_days() {
    let set = hours_set();
    let c = call("1");
    // Spring forward, Sunday 2026-03-29 at 02:00 CET → 03:00 CEST (01:00Z).
    assert_eq!(rule_name(&set, &c, "2026-03-29T07:30:00Z").as_deref(), Some("open")); // 09:30 CEST
    assert_eq!(rule_name(&set, &c, "2026-03-29T08:30:00Z").as_deref(), Some("closed")); // 10:30 CEST
    assert_eq!(rule_name(&set, &c, "2026-03-22T08:30:00Z").as_deref(), Some("open")); // a week before: 09:30 CET
    assert_eq!(rule_name(&set, &c, "2026-03-29T00:30:00Z").as_deref(), Some("closed")); // 01:30 CET
    assert_eq!(rule_name(&set, &c, "2026-03-29T01:30:00Z").as_deref(), Some("closed")); // 03:30 CEST: 02:xx never happens
                                                                                        // Fall back, Sunday 2026-10-25 at 03:00 CEST → 02:00 CET (01:00Z): 02:30 happens twice.
    assert_eq!(rule_name(&set, &c, "2026-10-25T00:30:00Z").as_deref(), Some("open")); // 02:30 CEST
    assert_eq!(rule_name(&set, &c, "2026-10-25T01:30:00Z").as_deref(), Some("open")); // 02:30 CET
    assert_eq!(rule_name(&set, &c, "2026-10-25T02:30:00Z").as_deref(), Some("closed")); // 03:30 CET
    assert_eq!(rule_name(&set, &c, "2026-10-25T07:30:00Z").as_deref(), Some("closed")); // 08:30 CET
    assert_eq!(rule_name(&set, &c, "2026-10-25T08:30:00Z").as_deref(), Some("open"));
    // 09:30 CET
}

#[test]
fn holidays_national_easter_and_local() {
    let set = hours_set();
    let c = call("1");
    // Christmas 2026 is a Friday; Easter Monday 2026 is 6 April; 2 June 2026 a Tuesday.
    for at in ["2026-12-25T09:00:00Z", "2026-04-06T08:00:00Z", "2026-06-02T08:00:00Z", "2027-03-29T08:00:00Z"] {
        assert_eq!(rule_name(&set, &c, at).as_deref(), Some("holiday"), "{at}");
    }
    // The patron saint from the calendar file: Wednesday 24 June 2026.
    let r = set.route(&c, ts("2026-06-24T08:00:00Z"));
    assert_eq!(r.decision.unwrap().rule.name, "holiday");
    assert_eq!(r.trace[0].reason, "Wed 2026-06-24 10:00, holiday: Patrono is outside hours `office`");
    // The Monday after Easter 2027 is an ordinary day in 2026.
    assert_eq!(rule_name(&set, &c, "2026-03-30T08:00:00Z").as_deref(), Some("open"));
}

#[test]
fn holiday_windows_open_on_holidays_only_when_written() {
    let f = "[hours.h]\nmon-sun = \"08:00-20:00\"\nholidays = \"09:00-12:00\"\n[[rule]]\nname = \"in\"\nduring = \"h\"\nsteps = [ { ring = \"anna\" } ]\n";
    let (set, _) = load(&[("a.toml", f)]);
    let c = call("1");
    assert_eq!(rule_name(&set, &c, "2026-12-25T09:00:00Z").as_deref(), Some("in")); // 10:00
    assert_eq!(rule_name(&set, &c, "2026-12-25T12:00:00Z"), None); // 13:00 on Christmas
    assert_eq!(rule_name(&set, &c, "2026-12-28T12:00:00Z").as_deref(), Some("in"));
}

#[test]
fn groups_expand_into_failover_steps() {
    let f = r#"[groups.seq]
members = ["anna", "bruno", "sip:reception@pbx"]
ring = "in-order"
timeout = "10s"
[groups.all]
members = ["carla", "dario"]
[[rule]]
steps = [
  { ring_group = "seq", on = ["no-answer"] },
  { ring_group = "all", timeout = 45 },
  { reject = 486 },
]
"#;
    let (set, _) = load(&[("a.toml", f)]);
    let d = set.route(&call("1"), ts(WEEKDAY_WINTER)).decision.unwrap();
    let na = FailOn { no_answer: true, busy: false, unavailable: false };
    let ring = |t: Vec<Target>, s, on, g: &str| Step::Ring { targets: t, timeout: Duration::from_secs(s), on, group: Some(g.into()) };
    assert_eq!(
        d.steps,
        vec![
            ring(vec![Target::User("anna".into())], 10, na, "seq"),
            ring(vec![Target::User("bruno".into())], 10, na, "seq"),
            ring(vec![Target::Uri("sip:reception@pbx".into())], 10, na, "seq"),
            ring(vec![Target::User("carla".into()), Target::User("dario".into())], 45, FailOn::ALL, "all"),
            Step::Reject { code: 486, reason: "Busy Here".into() },
        ]
    );
    assert!(na.goes_on(Outcome::NoAnswer) && !na.goes_on(Outcome::Busy));
    assert_eq!(d.steps[0].to_string(), "ring anna (group seq) for 10s; next step on no-answer");
}

#[test]
fn files_are_evaluated_in_name_order() {
    let (set, w) = load(&[
        ("b.toml", "[[rule]]\nname = \"b\"\ncalled = \"1\"\nsteps = [ { ring = \"bruno\" } ]\n"),
        ("a.toml", "[[rule]]\nname = \"a\"\ncalled_prefix = \"1\"\ncaller = \"x\"\nsteps = [ { ring = \"anna\" } ]\n"),
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(set.files()[0].id, "a");
    assert_eq!(rule_name(&set, &call("1"), WEEKDAY_WINTER).as_deref(), Some("b"));
    let c = CallInfo { called: "1", caller: Some("x"), ..CallInfo::default() };
    assert_eq!(rule_name(&set, &c, WEEKDAY_WINTER).as_deref(), Some("a"));
}

#[test]
fn shipped_examples_load_without_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DIR);
    let (set, w) = DialPlanSet::load_dir(&dir, &AnyUser).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(set.files().len(), 4);
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DialPlanSet>();
}
