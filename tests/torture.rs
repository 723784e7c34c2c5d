//! The RFC 4475 torture messages sent to the running daemon (test file T=3), over TCP as they
//! are and over UDP with the top Via rewritten to the test's socket (the corpus names hosts off
//! this machine). Valid messages get an answer, invalid ones a 4xx/5xx or silence, nothing is
//! ever accepted with a 2xx that should not be, and the daemon keeps serving afterwards.

mod common;
use common::digest::status;
use common::*;
use std::path::PathBuf;
use std::time::Duration;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(corpus::DIR);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .map(|p| (p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default(), std::fs::read(&p).unwrap_or_default()))
        .collect();
    v.sort();
    v
}

#[path = "common/rfc4475.rs"]
mod corpus;

/// Messages an element must reject: RFC 4475 §3.1.2, and §3.3.9's `mcl01`, syntactically fine but
/// unframeable (two different Content-Length values): a 400, or on a stream a closed connection,
/// since the next message cannot be found.
fn must_reject(name: &str) -> bool {
    corpus::INVALID.contains(&name) || name == "mcl01"
}
/// Responses in the corpus: a proxy drops them (their Via is not ours).
const RESPONSES: &[&str] = &["noreason", "unreason", "bigcode", "bcast", "scalarlg"];

/// Exact answers the node owes (application semantics, RFC 4475 §3.3 and §3.1.2).
fn exact(name: &str) -> Option<u16> {
    match name {
        "unkscm" | "novelsc" => Some(416),
        "zeromf" => Some(483),
        "badvers" => Some(505),
        "mismatch01" | "mismatch02" | "scalar02" | "quotbal" | "baddate" | "regbadct" | "badaspec" | "multi01" => Some(400),
        _ => None,
    }
}

fn check(name: &str, answer: Option<Vec<u8>>) {
    let text = answer.map(|a| String::from_utf8_lossy(&a).to_string()).unwrap_or_default();
    let code = if text.is_empty() { None } else { Some(status(&text)) };
    if RESPONSES.contains(&name) {
        assert_eq!(code, None, "{name}: a stray response was answered:\n{text}");
        return;
    }
    if let Some(want) = exact(name) {
        assert_eq!(code, Some(want), "{name}: wrong answer:\n{text}");
        return;
    }
    if must_reject(name) {
        assert!(code.is_none_or(|c| (400..600).contains(&c)), "{name}: invalid message not rejected:\n{text}");
    } else {
        assert!(code.is_some_and(|c| c >= 200), "{name}: valid message got no final answer:\n{text}");
    }
}

/// Replaces the top Via (and its folded continuation lines) by one naming `local`.
fn rewrite_top_via(msg: &[u8], local: std::net::SocketAddr, tag: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(msg).to_string();
    let (head, body) = match text.find("\r\n\r\n") {
        Some(i) => (text[..i].to_string(), text[i..].to_string()),
        None => (text.clone(), String::new()),
    };
    let mut out = Vec::new();
    let mut replaced = false;
    let mut skipping = false;
    for line in head.split("\r\n") {
        if skipping && (line.starts_with(' ') || line.starts_with('\t')) {
            continue;
        }
        skipping = false;
        let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
        if !replaced && (name == "via" || name == "v") {
            out.push(format!("Via: SIP/2.0/UDP {local};rport;branch=z9hG4bKtorture{tag}"));
            replaced = true;
            skipping = true;
            continue;
        }
        out.push(line.to_string());
    }
    let mut s = out.join("\r\n");
    s.push_str(&body);
    s.into_bytes()
}

#[test]
fn torture_over_tcp() {
    let n = Node::builder().user("alice", "alicepw").start("127.3.1.1", 5060);
    for (name, msg) in corpus() {
        let answer = send_raw_tcp(n.addr(), &msg, Duration::from_millis(1500));
        check(&name, answer);
    }
    let peer = UdpPeer::bind("127.3.1.2", 5061);
    peer.send(n.addr(), options_request(peer.local(), n.addr(), "UDP").as_bytes());
    assert!(peer.recv_until("SIP/2.0 200", Duration::from_secs(5)).is_some(), "daemon stopped answering:\n{}", n.log_report());
}

#[test]
fn torture_over_udp() {
    let n = Node::builder().user("alice", "alicepw").start("127.3.2.1", 5060);
    let peer = UdpPeer::bind("127.3.2.2", 5061);
    for (name, msg) in corpus() {
        let msg = rewrite_top_via(&msg, peer.local(), &name);
        // Timer G retransmits finals of INVITEs this test never ACKs: match answers by Call-ID.
        let call_id = String::from_utf8_lossy(&msg)
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("call-id") || n.trim().eq_ignore_ascii_case("i"))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        peer.send(n.addr(), &msg);
        // Collect the first final answer (skip 100 Trying).
        let mut answer = None;
        let end = std::time::Instant::now() + Duration::from_millis(800);
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match peer.recv(left) {
                Some((m, _)) if status(&String::from_utf8_lossy(&m)) >= 200 && String::from_utf8_lossy(&m).contains(&call_id) => {
                    answer = Some(m);
                    break;
                }
                Some(_) => continue,
                None => break,
            }
        }
        check(&name, answer);
    }
    peer.send(n.addr(), options_request(peer.local(), n.addr(), "UDP").as_bytes());
    assert!(peer.recv_until("SIP/2.0 200", Duration::from_secs(5)).is_some(), "daemon stopped answering:\n{}", n.log_report());
}
