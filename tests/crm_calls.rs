//! Citizens' calls and their cases, end to end (test file T=8): a PSTN gateway (SIPp, trusted by
//! address) calls agents (SIPp callees that fail unless the INVITE carries the case token in
//! User-to-User, Call-Info and Session-ID); the case timeline is then read back with the CLI.
//! The same test runs on SQLite and on PostgreSQL; two nodes share one PostgreSQL database; and
//! PostgreSQL is stopped in the middle of a series of calls: every call still goes through, and
//! afterwards each is on its case timeline exactly once.
//!
//! PostgreSQL: 127.0.0.1:5432, user postgres, trust auth (scripts/test.sh starts it). Each test
//! creates and drops its own database. The tests that need it hold one lock, because one of
//! them stops the server.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static PG: Mutex<()> = Mutex::new(());

const CITIZEN: &str = "+390612345678";

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn pg_cluster() -> Option<String> {
    std::fs::read_dir("/etc/postgresql").ok()?.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().to_string()).next()
}

fn pg_ctl(action: &str) {
    if let Some(v) = pg_cluster() {
        let _ = Command::new("pg_ctlcluster").args(["--skip-systemctl-redirect", &v, "main", action, "-m", "fast"]).output();
    }
    if action != "stop" {
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end && !psql("select 1") {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A fresh PostgreSQL database for one test, dropped at the end.
struct PgDb(String);

impl PgDb {
    fn new(tag: &str) -> PgDb {
        assert!(psql("select 1"), "PostgreSQL is not answering on 127.0.0.1:5432 (scripts/test.sh starts it)");
        let name = format!("urpd_it_{tag}_{}", std::process::id());
        let _ = psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        assert!(psql(&format!("CREATE DATABASE {name}")), "cannot create database {name}");
        PgDb(name)
    }
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.0)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
    }
}

/// Starts PostgreSQL again even if the test fails while it is stopped.
struct RestartPg;

impl Drop for RestartPg {
    fn drop(&mut self) {
        if !psql("select 1") {
            pg_ctl("start");
        }
    }
}

fn node(ip: &str, gateway_ip: &str, id: &str, crm_url: Option<&str>, plans: Option<&str>) -> Node {
    let mut toml = format!("[node]\nid = \"{id}\"\n[auth]\ntrusted_peers = [\"{gateway_ip}/32\"]\n");
    if let Some(u) = crm_url {
        toml.push_str(&format!("[crm]\nurl = \"{u}\"\nlookup_deadline_ms = 200\n"));
    }
    if let Some(p) = plans {
        toml.push_str(&format!("[dialplan]\ndir = \"{p}\"\n"));
    }
    Node::builder().user("bob", "bobpw").md5_only().toml(&toml).start(ip, 5060)
}

fn cli_json(n: &Node, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = n.cli(&all);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Every timeline event of the citizen's cases: (case token, kind, leg, node).
fn events(n: &Node) -> Vec<(String, String, Option<String>, String)> {
    let cases = cli_json(n, &["case", "list", "--caller", CITIZEN]);
    let mut out = Vec::new();
    for c in cases.as_array().cloned().unwrap_or_default() {
        let token = c["token"].as_str().unwrap_or_default().to_string();
        let view = cli_json(n, &["case", "show", &token]);
        for e in view["events"].as_array().cloned().unwrap_or_default() {
            out.push((
                token.clone(),
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["leg"].as_str().map(str::to_owned),
                e["node"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

/// Waits (bounded) until `calls` calls each have their answered and hung-up entries.
fn wait_for_timelines(n: &Node, calls: usize) -> Vec<(String, String, Option<String>, String)> {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let ev = events(n);
        let hung = ev.iter().filter(|e| e.1 == "hung_up").count();
        if hung >= calls || Instant::now() > end {
            return ev;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Asserts each call (by leg Call-ID) is answered and hung up exactly once, and counts calls.
fn assert_each_call_once(ev: &[(String, String, Option<String>, String)], calls: usize) {
    let mut per_leg: HashMap<(&str, &str), usize> = HashMap::new();
    for (_, kind, leg, _) in ev {
        if let Some(leg) = leg {
            *per_leg.entry((leg.as_str(), kind.as_str())).or_default() += 1;
        }
    }
    let answered: Vec<_> = per_leg.iter().filter(|((_, k), _)| *k == "answered").collect();
    assert_eq!(answered.len(), calls, "calls answered on timelines: {per_leg:?}");
    for ((leg, kind), n) in &per_leg {
        assert_eq!(*n, 1, "{kind} of {leg} recorded {n} times");
    }
    let hung = per_leg.keys().filter(|(_, k)| *k == "hung_up").count();
    assert_eq!(hung, calls, "{per_leg:?}");
}

fn run_calls(n: &Node, gw_ip: &str, agent_ip: &str, calls: usize, rate: &str) {
    let m = calls.to_string();
    let callee = sipp_callee(&n.target(), agent_ip, 5062, "bob", "bobpw", "uas_case.xml", &["-m", &m]);
    let args = ["-i", gw_ip, "-p", "5061", "-s", "bob", "-key", "citizen", CITIZEN, "-m", &m, "-r", rate, "-d", "200"];
    sipp("uac_citizen.xml", &n.target(), &args).assert_ok();
    callee.join().assert_ok();
}

#[test]
fn citizen_calls_carry_their_case_sqlite() {
    let n = node("127.8.1.1", "127.8.1.2", "urp-sqlite", None, None);
    check_one_node_at(&n, "127.8.1.2", "127.8.1.3");
}

fn check_one_node_at(n: &Node, gw: &str, agent: &str) {
    run_calls(n, gw, agent, 2, "1");
    let ev = wait_for_timelines(n, 2);
    assert_each_call_once(&ev, 2);
    let kinds: Vec<&str> = ev.iter().map(|e| e.1.as_str()).collect();
    for k in ["incoming", "routed", "leg_started", "ringing", "answered", "hung_up"] {
        assert!(kinds.contains(&k), "no {k} on the timeline: {kinds:?}");
    }
    let tokens: std::collections::HashSet<_> = ev.iter().map(|e| e.0.clone()).collect();
    assert_eq!(tokens.len(), 1, "the second call should reuse the open case: {tokens:?}");
    let token = tokens.iter().next().map(String::as_str).unwrap_or("?");
    let h = cli_json(n, &["caller", "history", CITIZEN]);
    assert!(h.to_string().contains(token), "{h}");
    // The call's routing (after the CRM answered) is logged in a span carrying its Call-ID and
    // the case token.
    let log = n.log();
    let line = log.lines().find(|l| l.contains("citizen call")).unwrap_or_default();
    let span = line.split("}:").next().unwrap_or_default();
    assert!(span.contains("tx{") && span.contains("call_id=") && span.contains(&format!("case={token}")), "{line}\n{log}");
}

#[test]
fn citizen_calls_carry_their_case_postgres() {
    let _l = PG.lock().unwrap_or_else(|p| p.into_inner());
    let db = PgDb::new("one");
    let n = node("127.8.2.1", "127.8.2.2", "urp-pg", Some(&db.url()), None);
    check_one_node_at(&n, "127.8.2.2", "127.8.2.3");
}

#[test]
fn two_nodes_share_one_database() {
    let _l = PG.lock().unwrap_or_else(|p| p.into_inner());
    let db = PgDb::new("two");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let plans = tmp.path().join("plans");
    std::fs::create_dir_all(&plans).unwrap_or_else(|e| panic!("{e}"));
    // Both nodes route 1000 for the same administration: the citizen's case is one.
    std::fs::write(
        plans.join("urp-lazio.toml"),
        "administration = \"URP Lazio\"\n[[rule]]\nname = \"URP\"\ncalled = \"bob\"\nsteps = [ { ring = \"bob\", timeout = \"20s\" } ]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = plans.to_string_lossy().to_string();
    let a = node("127.8.3.1", "127.8.3.2", "nodo-a", Some(&db.url()), Some(&p));
    let b = node("127.8.4.1", "127.8.4.2", "nodo-b", Some(&db.url()), Some(&p));
    run_calls(&a, "127.8.3.2", "127.8.3.3", 1, "1");
    run_calls(&b, "127.8.4.2", "127.8.4.3", 1, "1");
    let ev = wait_for_timelines(&b, 2);
    assert_each_call_once(&ev, 2);
    let nodes: std::collections::HashSet<_> = ev.iter().map(|e| e.3.clone()).collect();
    assert!(nodes.contains("nodo-a") && nodes.contains("nodo-b"), "timeline from both nodes expected: {nodes:?}");
    let tokens: std::collections::HashSet<_> = ev.iter().map(|e| e.0.clone()).collect();
    assert_eq!(tokens.len(), 1, "one case across nodes: {tokens:?}");
    // Node A prints the same timeline.
    let token = tokens.iter().next().cloned().unwrap_or_default();
    let out = a.cli(&["case", "show", &token]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nodo-a") && text.contains("nodo-b"), "{text}");
}

#[test]
fn database_outage_loses_no_call_and_no_entry() {
    let _l = PG.lock().unwrap_or_else(|p| p.into_inner());
    assert!(pg_cluster().is_some(), "this test stops and starts the local PostgreSQL cluster");
    let db = PgDb::new("outage");
    let n = node("127.8.5.1", "127.8.5.2", "urp-outage", Some(&db.url()), None);
    let calls = 8usize;
    let m = calls.to_string();
    let callee = sipp_callee(&n.target(), "127.8.5.3", 5062, "bob", "bobpw", "uas_case.xml", &["-m", &m]);
    let args = ["-i", "127.8.5.2", "-p", "5061", "-s", "bob", "-key", "citizen", CITIZEN, "-m", &m, "-r", "1", "-d", "300"];
    let caller = sipp_bg("uac_citizen.xml", &n.target(), &args);
    // A couple of calls with the database up, then it goes away for a while, then comes back.
    std::thread::sleep(Duration::from_millis(2500));
    let guard = RestartPg;
    pg_ctl("stop");
    std::thread::sleep(Duration::from_millis(3500));
    pg_ctl("start");
    drop(guard);
    caller.join().assert_ok();
    callee.join().assert_ok();
    let ev = wait_for_timelines(&n, calls);
    assert_each_call_once(&ev, calls);
    // Calls during the outage could not reach their open case: they got a case minted on the
    // node, written through the outbox. More than one case proves that path ran.
    let tokens: std::collections::HashSet<_> = ev.iter().map(|e| e.0.clone()).collect();
    assert!(tokens.len() >= 2, "the outage did not show: {tokens:?}");
    assert!(Path::new(&n.state_dir().join("outbox.db")).exists());
}

#[test]
fn gateway_account_brings_citizens_calls() {
    // A gateway that authenticates with digest (role gateway): its From is the citizen, not itself.
    let n = Node::builder().user("bob", "bobpw").md5_only().toml("[node]\nid = \"urp-gw\"\n").start("127.8.6.1", 5060);
    let out = n.cli(&["user", "add", "gw1", "--password", "gwpw", "--role", "gateway"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let callee = sipp_callee(&n.target(), "127.8.6.3", 5062, "bob", "bobpw", "uas_case.xml", &[]);
    let auth_uri = format!("bob@{}", n.target());
    let args =
        ["-i", "127.8.6.2", "-p", "5061", "-s", "bob", "-key", "caller", CITIZEN, "-au", "gw1", "-ap", "gwpw", "-auth_uri", &auth_uri];
    sipp("uac_call.xml", &n.target(), &args).assert_ok();
    callee.join().assert_ok();
    let ev = wait_for_timelines(&n, 1);
    assert_each_call_once(&ev, 1);
    // An agent calling with a From that is not its own is refused (only gateways may).
    let args =
        ["-i", "127.8.6.4", "-p", "5061", "-s", "bob", "-key", "caller", CITIZEN, "-au", "bob", "-ap", "bobpw", "-auth_uri", &auth_uri];
    sipp("uac_call.xml", &n.target(), &args).assert_failed();
}
