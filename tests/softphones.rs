//! Real softphones against the real daemon (test file T=5): baresip registers and places a
//! call through urpd to a SIPp callee; linphonec registers with SHA-256 digest (RFC 8760).
//! Templates and the gotchas of driving them headless: tests/common/softphones.md.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut s = template.to_string();
    for (k, v) in vars {
        s = s.replace(k, v);
    }
    s
}

fn template(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/softphones").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn baresip_registers_and_calls_through_urpd() {
    assert!(have("baresip"), "baresip is not installed (scripts/test.sh installs it)");
    // MD5 only: baresip 1.0 (libre) gives up with ENOSYS when any challenge offered is
    // SHA-256, even after an MD5 one; SIPp 3.6 reads only the first. See README, interop.
    let n = Node::builder().user("alice", "alicepw").user("bob", "bobpw").md5_only().start("127.5.1.1", 5060);
    let callee = sipp_callee(&n.target(), "127.5.1.3", 5062, "bob", "bobpw", "uas_answer.xml", &[]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = n.target();
    let vars = [
        ("@USER@", "alice"),
        ("@PASSWORD@", "alicepw"),
        ("@SERVER@", server.as_str()),
        ("@AGENT_IP@", "127.5.1.2"),
        ("@AGENT_PORT@", "5061"),
        ("@CTRL_PORT@", "4444"),
    ];
    std::fs::write(dir.path().join("config"), fill(&template("baresip/config"), &vars)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("accounts"), fill(&template("baresip/accounts"), &vars)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("contacts"), "").unwrap_or_else(|e| panic!("{e}"));
    // Dials bob at start-up, hangs up (BYE) when -t ends: a bound, not an assertion.
    let out = Command::new("timeout")
        .args(["30", "baresip", "-f", &dir.path().to_string_lossy(), "-e", "/dial bob", "-t", "8"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("200 OK"), "baresip did not register:\n{stdout}\n{}", n.log_report());
    assert!(stdout.contains("Call established"), "call not established:\n{stdout}\n{}", n.log_report());
    callee.join().assert_ok();
}

#[test]
fn linphonec_registers_with_sha256() {
    assert!(have("linphonec"), "linphonec is not installed (scripts/test.sh installs it)");
    let n = Node::builder().user("alice", "alicepw").toml("[auth]\nalgorithms = [\"SHA-256\"]\n").start("127.5.2.1", 5060);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("{e}"));
    let server = n.target();
    let port = "5294";
    let vars = [("@USER@", "alice"), ("@PASSWORD@", "alicepw"), ("@SERVER@", server.as_str()), ("@AGENT_PORT@", port)];
    let rc = dir.path().join("linphonerc");
    std::fs::write(&rc, fill(&template("linphonerc"), &vars)).unwrap_or_else(|e| panic!("{e}"));
    let script = format!("sleep 2; echo 'ports sip {port}'; sleep 4; echo 'status register'; sleep 1; echo quit");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("({script}) | timeout 30 linphonec -c '{}' -d 0", rc.display()))
        .env("HOME", &home)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("registered, identity="), "linphonec did not register with SHA-256:\n{stdout}\n{}", n.log_report());
}
