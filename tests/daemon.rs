//! Daemon hygiene (test file T=4): graceful SIGTERM, clear startup errors, the user CLI.

mod common;
use common::*;
use std::process::Command;

#[test]
fn sigterm_exits_zero() {
    let mut n = Node::builder().user("alice", "alicepw").start("127.4.1.1", 5060);
    let status = n.stop_graceful();
    assert!(status.success(), "exit status {status:?}\n{}", n.log());
    assert!(n.log().contains("urpd stopped"), "{}", n.log());
}

#[test]
fn port_in_use_is_a_clear_error() {
    let _taken = std::net::UdpSocket::bind("127.4.2.1:5060").unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(URPD)
        .args(["--state-dir", &dir.path().to_string_lossy(), "run", "--listen", "udp:127.4.2.1:5060"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("udp:127.4.2.1:5060") && err.contains("address already in use"), "{err}");
}

#[test]
fn unknown_config_key_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("urpd.toml");
    std::fs::write(&cfg, "[registrar]\nmin_expire = 30\n").unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(URPD)
        .args(["--config", &cfg.to_string_lossy(), "--state-dir", &dir.path().to_string_lossy(), "run"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("min_expire"), "{err}");
}

#[test]
fn user_cli_without_daemon() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sd = dir.path().to_string_lossy().to_string();
    let run = |args: &[&str]| Command::new(URPD).arg("--state-dir").arg(&sd).args(args).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(run(&["user", "add", "mario.rossi", "--password", "pw1"]).status.success());
    assert_eq!(run(&["user", "add", "mario.rossi", "--password", "pw1"]).status.code(), Some(5));
    assert!(run(&["user", "add", "gw1", "--password", "pw2", "--role", "gateway"]).status.success());
    let list = run(&["user", "list", "--json"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("mario.rossi") && text.contains("gateway"), "{text}");
    assert!(!text.contains("pw1"), "password leaked: {text}");
    assert!(run(&["user", "passwd", "mario.rossi", "--password", "pw3"]).status.success());
    assert_eq!(run(&["user", "passwd", "nobody", "--password", "x"]).status.code(), Some(4));
    assert!(run(&["user", "remove", "gw1"]).status.success());
    assert_eq!(run(&["user", "add", "bad name", "--password", "x"]).status.code(), Some(2));
    // Nothing but HA1s is stored.
    let db = std::fs::read(dir.path().join("urpd.db")).unwrap_or_default();
    assert!(!String::from_utf8_lossy(&db).contains("pw3"));
}
