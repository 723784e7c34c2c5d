//! Dial plans driving real calls through the daemon (test file T=7): in-order hunting with
//! failover on busy and on a step's own timeout, reject and redirect rules, hot reload by
//! `urpd dialplan reload` and SIGHUP with a broken set refused while the old one keeps serving,
//! and a daemon that will not start on a broken set.

mod common;
use common::digest::{headers, status};
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const PLAN: &str = r#"
administration = "Ufficio di prova"

[groups.hunt]
members = ["bob", "carol"]
ring = "in-order"
timeout = "3s"

[[rule]]
name = "Caccia"
called = "1000"
steps = [ { ring_group = "hunt" } ]

[[rule]]
name = "Chiuso"
called = "1999"
steps = [ { reject = 403, reason = "Ufficio chiuso" } ]

[[rule]]
name = "Trasferito"
called = "1998"
steps = [ { redirect = "sip:1000@urp.example.it" } ]
"#;

fn plan_dir(dir: &Path, text: &str) -> String {
    let d = dir.join("plans");
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.join("prova.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    d.to_string_lossy().to_string()
}

fn node_with_plans(ip: &str, plans: &str) -> (Node, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = plan_dir(tmp.path(), plans);
    let n = Node::builder()
        .user("alice", "alicepw")
        .user("bob", "bobpw")
        .user("carol", "carolpw")
        .md5_only()
        .toml(&format!("[dialplan]\ndir = \"{dir}\"\n"))
        .start(ip, 5060);
    (n, tmp)
}

#[test]
fn hunt_fails_over_from_busy_to_next_agent() {
    let (n, _t) = node_with_plans("127.7.1.1", PLAN);
    let bob = sipp_callee(&n.target(), "127.7.1.3", 5062, "bob", "bobpw", "uas_busy.xml", &[]);
    let carol = sipp_callee(&n.target(), "127.7.1.4", 5062, "carol", "carolpw", "uas_answer.xml", &[]);
    sipp_caller(&n.target(), "127.7.1.2", 5061, "alice", "alicepw", "1000", "uac_call.xml", &[]).assert_ok();
    bob.join().assert_ok();
    carol.join().assert_ok();
    assert!(n.log().contains("routed by dial plan"), "{}", n.log());
}

#[test]
fn hunt_step_timeout_cancels_and_moves_on() {
    let (n, _t) = node_with_plans("127.7.2.1", PLAN);
    // bob rings and never answers: after the step's 3 s he is cancelled and carol rings.
    let bob = sipp_callee(&n.target(), "127.7.2.3", 5062, "bob", "bobpw", "uas_ring_cancel.xml", &[]);
    let carol = sipp_callee(&n.target(), "127.7.2.4", 5062, "carol", "carolpw", "uas_answer.xml", &[]);
    sipp_caller(&n.target(), "127.7.2.2", 5061, "alice", "alicepw", "1000", "uac_call.xml", &[]).assert_ok();
    bob.join().assert_ok();
    carol.join().assert_ok();
}

#[test]
fn reject_and_redirect_rules() {
    let (n, _t) = node_with_plans("127.7.3.1", PLAN);
    let peer = UdpPeer::bind("127.7.3.2", 5061);
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1999", "rej-1");
    assert_eq!(status(&r), 403, "{r}");
    assert!(r.starts_with("SIP/2.0 403 Ufficio chiuso"), "{r}");
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1998", "red-1");
    assert_eq!(status(&r), 302, "{r}");
    assert_eq!(headers(&r, "Contact"), vec!["<sip:1000@urp.example.it>".to_string()]);
    // Nobody registered for the hunt group: the caller hears 480.
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1000", "hunt-empty");
    assert_eq!(status(&r), 480, "{r}");
}

fn reload(n: &Node) -> std::process::Output {
    n.cli(&["dialplan", "reload"])
}

#[test]
fn hot_reload_swaps_valid_sets_and_refuses_broken_ones() {
    let (n, t) = node_with_plans(
        "127.7.4.1",
        "administration = \"A\"\n[[rule]]\nname = \"x\"\ncalled = \"1999\"\nsteps = [ { reject = 480, reason = \"Primo\" } ]\n",
    );
    let peer = UdpPeer::bind("127.7.4.2", 5061);
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1999", "hr-1");
    assert!(r.starts_with("SIP/2.0 480 Primo"), "{r}");
    // A valid new set: swapped in by `urpd dialplan reload`.
    plan_dir(
        t.path(),
        "administration = \"A\"\n[[rule]]\nname = \"x\"\ncalled = \"1999\"\nsteps = [ { reject = 486, reason = \"Secondo\" } ]\n",
    );
    let out = reload(&n);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1999", "hr-2");
    assert!(r.starts_with("SIP/2.0 486 Secondo"), "{r}");
    // A broken set: refused with file:line:column, the running plans keep serving.
    plan_dir(t.path(), "administration = \"A\"\n[[rule]]\nname = \"x\"\ncalled = \"1999\"\nsteps = [ { queue = \"q\" } ]\n");
    let out = reload(&n);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prova.toml:5:"), "{err}");
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1999", "hr-3");
    assert!(r.starts_with("SIP/2.0 486 Secondo"), "{r}");
    // SIGHUP takes the same path: still refused, still serving.
    n.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let r = common::digest::invite(&peer, n.addr(), "alice", "alicepw", "1999", "hr-4");
    assert!(r.starts_with("SIP/2.0 486 Secondo"), "{r}");
    assert!(n.log().contains("reload refused"), "{}", n.log());
}

#[test]
fn daemon_refuses_to_start_on_a_broken_set() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = plan_dir(tmp.path(), "administration = \"A\"\n[[rule]]\nname = \"x\"\ncalled_regex = \"(\"\nsteps = [ { reject = 480 } ]\n");
    let out = Command::new(URPD)
        .args(["--state-dir", &tmp.path().join("state").to_string_lossy(), "run", "--listen", "udp:127.7.5.1:5060", "--dialplans", &dir])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prova.toml:4:16: error: bad called_regex"), "{err}");
}
