//! `urpd dialplan check|show|route` through the real binary, on the shipped examples and on a
//! broken set.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const USERS: &[&str] = &[
    "alessia.gatti",
    "andrea.fontana",
    "anna.bianchi",
    "chiara.marino",
    "davide.longo",
    "elena.costa",
    "francesca.rizzo",
    "giorgio.russo",
    "giovanni.de-luca",
    "giulia.ferri",
    "ilaria.villa",
    "laura.conti",
    "luca.esposito",
    "luca.moretti",
    "marco.gallo",
    "marco.verdi",
    "martina.ricci",
    "paola.marchetti",
    "paolo.greco",
    "rita.colombo",
    "roberto.serra",
    "sara.galli",
    "sara.romano",
    "simone.bruno",
    "stefano.barbieri",
    "valentina.sala",
];

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans")
}

fn urpd(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_urpd"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("URPD_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("run urpd: {e}"))
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn route(state: &Path, args: &[&str]) -> serde_json::Value {
    let dir = examples();
    let mut a = vec!["dialplan", "route", "--json"];
    a.extend_from_slice(args);
    a.push(dir.to_str().unwrap_or_default());
    let o = urpd(state, &a);
    let (out, err) = text(&o);
    assert!(o.status.success(), "route {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn matched(v: &serde_json::Value) -> (String, u64) {
    let r = &v["decision"]["rule"];
    let file = Path::new(r["file"].as_str().unwrap_or_default()).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    (format!("{file} {}", r["name"].as_str().unwrap_or_default()), r["line"].as_u64().unwrap_or(0))
}

#[test]
fn shipped_examples_check_without_a_state_db() {
    let state = tmp();
    let o = urpd(state.path(), &["dialplan", "check", examples().to_str().unwrap_or_default()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("ok: 4 plan(s)") && out.contains("0 warning(s)"), "{out}");
    assert!(err.contains("user names not checked"), "{err}");
    assert!(!state.path().join("urpd.db").exists(), "check must not create a state database");
}

#[test]
fn shipped_examples_check_against_the_state_db() {
    let state = tmp();
    for u in USERS {
        let o = urpd(state.path(), &["user", "add", u, "--password", "cambiami"]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let o = urpd(state.path(), &["dialplan", "check", "--json", examples().to_str().unwrap_or_default()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["ok"], true);
    assert_eq!(v["users_checked"], true);
    assert_eq!(v["rules"], 23);

    // Remove one agent: the plans that ring her no longer check.
    let o = urpd(state.path(), &["user", "remove", "elena.costa"]);
    assert!(o.status.success());
    let o = urpd(state.path(), &["dialplan", "check", examples().to_str().unwrap_or_default()]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("regione-esempio.toml:29:12: error: unknown user `elena.costa`"), "{err}");
}

#[test]
fn route_realistic_calls() {
    let state = tmp();
    let s = state.path();
    // 803001 on Christmas morning: closed.
    let v = route(s, &["--from", "+393331234567", "--to", "803001", "--at", "2026-12-25T10:00"]);
    assert_eq!(matched(&v), ("linea-amica.toml Linea Amica fuori orario".into(), 43));
    assert_eq!(v["decision"]["steps"][0]["action"], "reject");
    assert_eq!(v["decision"]["steps"][0]["code"], 480);
    assert!(v["trace"].as_array().map_or(0, Vec::len) > 1);
    // 803001 with the topic "previdenza": to the peer node, then Linea Amica's operators.
    let v = route(s, &["--from", "+390611112222", "--to", "803001", "--topic", "previdenza", "--at", "2026-03-04T10:00"]);
    assert_eq!(matched(&v).0, "linea-amica.toml Previdenza: all'ente di previdenza");
    assert_eq!(v["decision"]["steps"][0], serde_json::json!({"action": "peer", "name": "ente-previdenza", "number": "0659051000"}));
    assert_eq!(v["decision"]["steps"][1]["group"], "operatori");
    // Regional health line, Tuesday afternoon (winter): open.
    let v = route(s, &["--from", "+390612345678", "--to", "800100101", "--at", "2026-03-03T15:00"]);
    assert_eq!(matched(&v).0, "regione-esempio.toml Sanità in orario");
    // Same on Wednesday afternoon: redirected to the CUP.
    let v = route(s, &["--from", "+390612345678", "--to", "800100101", "--at", "2026-03-04T15:00"]);
    assert_eq!(v["decision"]["steps"][0]["contacts"][0], "tel:+39800200300");
    // Municipality on the patron saint's day: closed; direct line rewritten for the PBX.
    let v = route(s, &["--to", "0698761000", "--at", "2026-06-24T10:00"]);
    assert_eq!(matched(&v).0, "comune-esempio.toml Comune chiuso");
    let v = route(s, &["--to", "0698765123", "--at", "2026-06-24T10:00"]);
    assert_eq!(v["decision"]["called"], "5123");
    assert_eq!(
        v["decision"]["steps"][0]["targets"][0],
        serde_json::json!({"kind": "uri", "value": "sip:5123@pbx.comune-esempio.example.it"})
    );
    // Registry office: three agents in order, 15 s each, then the switchboard.
    let v = route(s, &["--to", "0698761000", "--at", "2026-06-23T10:00"]);
    let steps = v["decision"]["steps"].as_array().cloned().unwrap_or_default();
    assert_eq!(steps.len(), 5);
    assert_eq!(steps[0]["targets"][0]["value"], "anna.bianchi");
    assert_eq!(steps[0]["timeout_secs"], 15);
    // A known citizen with an open case at the ministry.
    let v = route(s, &["--from", "+393401234567", "--to", "0646460000", "--known-caller", "--open-case", "--at", "2026-05-05T19:30"]);
    assert_eq!(matched(&v).0, "ministero-esempio.toml Cittadino noto con pratica aperta");
    // A number no plan knows: no decision (direct user lookup).
    let v = route(s, &["--to", "laura.conti", "--at", "2026-05-05T10:00"]);
    assert!(v["decision"].is_null());
}

#[test]
fn route_text_explains_why() {
    let state = tmp();
    let dir = examples();
    let o = urpd(state.path(), &["dialplan", "route", "--to", "803001", "--at", "2026-12-25T10:00", dir.to_str().unwrap_or_default()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("call from anonymous to 803001 at 2026-12-25T10:00:00+01:00[Europe/Rome]"), "{out}");
    assert!(out.contains("holiday: Natale is outside hours `servizio`"), "{out}");
    assert!(out.contains("rule:           ") && out.contains("linea-amica.toml:43"), "{out}");
    assert!(out.contains("1. reject 480 Linea Amica"), "{out}");
    // A bad --at is a usage error.
    let o = urpd(state.path(), &["dialplan", "route", "--to", "1", "--at", "Christmas", dir.to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn show_lists_rules_in_order() {
    let state = tmp();
    let dir = examples();
    let o = urpd(state.path(), &["dialplan", "show", dir.to_str().unwrap_or_default()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("comune-esempio — Comune di Esempio"), "{out}");
    assert!(out.contains("calendars/comune-esempio.holidays"), "{out}");
    assert!(out.find("Anagrafe") < out.find("Comune chiuso"), "{out}");
    let o = urpd(state.path(), &["dialplan", "show", "--json", dir.to_str().unwrap_or_default()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["files"].as_array().map_or(0, Vec::len), 4);
    assert_eq!(v["peers"].as_array().map_or(0, Vec::len), 3);
    assert_eq!(v["files"][0]["groups"]["anagrafe"]["ring"], "in-order");
}

#[test]
fn broken_set_lists_every_error_and_exits_1() {
    let state = tmp();
    let dir = tmp();
    std::fs::write(
        dir.path().join("a.toml"),
        "administration = \"A\"\n[[rule]]\ncalled = \"1\"\nsteps = [ { queue = \"q\" } ]\n[[rule]]\ncalled_regex = '(('\nsteps = [ { ring_group = \"nope\" } ]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("b.toml"), "[hours.h]\nmon = \"9-13\"\n[[rule]\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("c.toml"), "[[rule]]\ncalled = \"2\"\nsteps = [ { peer = \"x\" } ]\n").unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path().to_str().unwrap_or_default();
    let o = urpd(state.path(), &["dialplan", "check", d]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for x in [
        "a.toml:4:13: error: `queue` is not available yet (call-anchor issue)",
        "a.toml:6:16: error: bad called_regex",
        "a.toml:7:26: error: unknown group `nope`",
        "b.toml:3:7: error: TOML syntax: invalid table header; expected `.`, `]]`",
        "c.toml:3:20: error: unknown peer `x`",
        "5 error(s)",
    ] {
        assert!(err.contains(x), "missing {x:?} in\n{err}");
    }
    let o = urpd(state.path(), &["dialplan", "check", "--json", d]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 5);
    assert_eq!(v["diagnostics"][0]["line"], 4);
    // route refuses a broken set too.
    let o = urpd(state.path(), &["dialplan", "route", "--to", "1", d]);
    assert_eq!(o.status.code(), Some(1));
}
