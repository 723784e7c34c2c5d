//! Registrar and digest authentication, end to end over real sockets (test file T=1).
//! SIPp drives MD5 (its `[authentication]` speaks MD5 only); raw UDP with a test-side digest
//! client checks exact answers; SHA-256 from a real softphone lives in tests/softphones.rs.

mod common;
use common::digest::{authorization, headers, register, register_raw, status};
use common::*;
use std::time::Duration;

const W: Duration = Duration::from_secs(5);

/// The registrar answers an authenticated REGISTER without holding a transaction for Timer J
/// (the nonce keeper remembers which request spent each nonce-count: src/auth/nonce.rs); a
/// retransmission must still get its 200 (RFC 3261 §8.2.7 rules out a stateless registrar),
/// and a copy with another Contact must change nothing.
#[test]
fn a_retransmitted_register_gets_its_200_again_and_changes_nothing() {
    let node = Node::builder().user("alice", "alicepw").md5_only().start("127.1.9.1", 5060);
    let peer = UdpPeer::bind("127.1.9.2", 5061);
    let target = node.target();
    let contact = format!("Contact: <sip:alice@{}>", peer.local());
    peer.send(node.addr(), register(&target, peer.local(), "alice", "cid-rt", 1, std::slice::from_ref(&contact)).as_bytes());
    let chal = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string();
    assert_eq!(status(&chal), 401, "{chal}");
    let www = headers(&chal, "WWW-Authenticate").into_iter().next().unwrap_or_default();
    let auth = format!("Authorization: {}", authorization(&www, "alice", "alicepw", "REGISTER", &format!("sip:{target}"), 1));
    let req = register(&target, peer.local(), "alice", "cid-rt", 2, &[contact.clone(), auth.clone()]);
    let mut answers = Vec::new();
    for _ in 0..3 {
        peer.send(node.addr(), req.as_bytes());
        answers.push(String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string());
    }
    for a in &answers {
        assert_eq!(status(a), 200, "{a}");
        let c = headers(a, "Contact");
        assert_eq!(c.len(), 1, "{a}");
        assert!(c[0].contains(&peer.local().to_string()), "{a}");
    }
    // The same transaction and credentials with another Contact (a replay by someone who saw
    // the request): answered like a retransmission, the binding list unchanged.
    let forged = req.replace(&contact, "Contact: <sip:mallory@127.1.9.66:5099>");
    peer.send(node.addr(), forged.as_bytes());
    let f = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string();
    assert_eq!(status(&f), 200, "{f}");
    let c = headers(&f, "Contact");
    assert_eq!(c.len(), 1, "{f}");
    assert!(!f.contains("mallory"), "{f}");
    // A new transaction reusing the spent nonce-count is a replay: challenged again.
    let replay = register(&target, peer.local(), "alice", "cid-rt", 3, &["Contact: <sip:mallory@127.1.9.66:5099>".into(), auth]);
    peer.send(node.addr(), replay.as_bytes());
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string();
    assert_eq!(status(&r), 401, "{r}");
    let st = node.cli(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap_or_default();
    assert_eq!(v["counters"]["registers_ok"], 1, "{v}");
    assert_eq!(v["counters"]["register_retransmissions"], 3, "{v}");
    assert_eq!(v["registrations"], 1, "{v}");
}

#[test]
fn sipp_register_with_md5_digest() {
    let node = Node::builder().user("alice", "alicepw").md5_only().start("127.1.1.1", 5060);
    sipp_register(&node.target(), "127.1.1.2", 5061, "alice", "alicepw", &[]).assert_ok();
    // Over TCP too.
    sipp_register(&node.target(), "127.1.1.3", 5061, "alice", "alicepw", &["-t", "t1"]).assert_ok();
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_answer() {
    let node = Node::builder().user("alice", "alicepw").md5_only().start("127.1.2.1", 5060);
    // SIPp: an authenticated REGISTER with a wrong password is challenged again (never 200/403).
    let wrong = ["-i", "127.1.2.2", "-p", "5061", "-s", "alice", "-au", "alice", "-ap", "nope"];
    sipp("register_wrong.xml", &node.target(), &wrong).assert_ok();
    let unknown = ["-i", "127.1.2.2", "-p", "5062", "-s", "mallory", "-au", "mallory", "-ap", "nope"];
    sipp("register_wrong.xml", &node.target(), &unknown).assert_ok();
    // Raw: the two final answers are identical but for tags, nonces and Call-ID.
    let peer = UdpPeer::bind("127.1.2.3", 5061);
    let mut c = 1;
    let a = register_raw(&peer, &node, "alice", "bad", "cid-a", &mut c, &[]);
    let mut c = 1;
    let b = register_raw(&peer, &node, "nobody", "bad", "cid-a", &mut c, &[]);
    assert_eq!(status(&a), 401, "{a}");
    assert_eq!(status(&b), 401, "{b}");
    let shape = |m: &str| -> Vec<String> {
        m.split("\r\n").map(|l| l.split_once(':').map(|(n, _)| n.to_string()).unwrap_or_else(|| l.to_string())).collect()
    };
    assert_eq!(shape(&a), shape(&b), "answers differ in shape:\n{a}\n---\n{b}");
    let ca = headers(&a, "WWW-Authenticate");
    let cb = headers(&b, "WWW-Authenticate");
    assert_eq!(ca.len(), cb.len());
    assert!(ca.iter().all(|c| c.contains("qop=\"auth\"") && c.contains("realm=\"urpd\"")), "{ca:?}");
}

#[test]
fn refresh_and_unregister() {
    let node = Node::builder().user("alice", "alicepw").user("bob", "bobpw").md5_only().start("127.1.3.1", 5060);
    sipp_register(&node.target(), "127.1.3.2", 5061, "alice", "alicepw", &[]).assert_ok();
    // Refresh from the same contact, then remove it with Expires: 0.
    sipp_register(&node.target(), "127.1.3.2", 5061, "alice", "alicepw", &[]).assert_ok();
    let args = ["-i", "127.1.3.2", "-p", "5061", "-s", "alice", "-au", "alice", "-ap", "alicepw"];
    sipp("unregister.xml", &node.target(), &args).assert_ok();
    // Contact: * removes every binding of the AOR.
    sipp_register(&node.target(), "127.1.3.3", 5061, "bob", "bobpw", &[]).assert_ok();
    sipp_register(&node.target(), "127.1.3.4", 5061, "bob", "bobpw", &[]).assert_ok();
    let args = ["-i", "127.1.3.3", "-p", "5061", "-s", "bob", "-au", "bob", "-ap", "bobpw"];
    sipp("unregister_all.xml", &node.target(), &args).assert_ok();
}

#[test]
fn expiry_rules_and_binding_list() {
    let node = Node::builder().user("carol", "carolpw").md5_only().start("127.1.4.1", 5060);
    let peer = UdpPeer::bind("127.1.4.2", 5061);
    let contact1 = format!("Contact: <sip:carol@{}>;q=0.5", peer.local());
    let mut c = 1;
    // Too brief: 423 with Min-Expires.
    let r = register_raw(&peer, &node, "carol", "carolpw", "cid-e", &mut c, &[contact1.clone(), "Expires: 10".into()]);
    assert_eq!(status(&r), 423, "{r}");
    assert_eq!(headers(&r, "Min-Expires"), vec!["60".to_string()]);
    // Longer than max: shortened to max_expires (7200).
    c += 1;
    let r = register_raw(&peer, &node, "carol", "carolpw", "cid-e", &mut c, &[contact1.clone(), "Expires: 99999".into()]);
    assert_eq!(status(&r), 200, "{r}");
    let listed = headers(&r, "Contact");
    assert_eq!(listed.len(), 1, "{r}");
    assert!(listed[0].contains("expires=7200"), "{listed:?}");
    // A second contact: the 200 lists both.
    c += 1;
    let contact2 = "Contact: <sip:carol@127.1.4.3:5062>;expires=600".to_string();
    let r = register_raw(&peer, &node, "carol", "carolpw", "cid-e", &mut c, &[contact2]);
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(headers(&r, "Contact").len(), 2, "{r}");
    // A query (no Contact) lists them without change.
    c += 1;
    let r = register_raw(&peer, &node, "carol", "carolpw", "cid-e", &mut c, &[]);
    assert_eq!(headers(&r, "Contact").len(), 2, "{r}");
    // An older CSeq on the same Call-ID is refused (RFC 3261 §10.3 step 7).
    let mut old = 1;
    let r = register_raw(&peer, &node, "carol", "carolpw", "cid-e", &mut old, &[format!("Contact: <sip:carol@{}>", peer.local())]);
    assert_eq!(status(&r), 500, "{r}");
}

#[test]
fn bindings_survive_a_restart() {
    let mut node = Node::builder().user("dave", "davepw").md5_only().start("127.1.5.1", 5060);
    let peer = UdpPeer::bind("127.1.5.2", 5061);
    let mut c = 1;
    let r = register_raw(&peer, &node, "dave", "davepw", "cid-r", &mut c, &[format!("Contact: <sip:dave@{}>", peer.local())]);
    assert_eq!(status(&r), 200, "{r}");
    // While the node is down, a binding of another user lapses in the state file: the next
    // start must not load it, and removes its row (the registrar never held it to remove).
    node.stop_graceful();
    let file = node.state_dir().join("urpd.db");
    let rows = |sql: &str| -> i64 { state_query(&file, sql) };
    rows(
        "INSERT INTO bindings (aor, contact, q, expires_at, call_id, cseq, received_proto, received_addr, user_agent, updated_at) \
          VALUES ('gone@urpd', '<sip:gone@127.1.5.9:5060>', 1000, 1000, 'old', 1, 'udp', '127.1.5.9:5060', NULL, 900)",
    );
    node.restart();
    assert_eq!(rows("SELECT count(*) FROM bindings WHERE aor = 'gone@urpd'"), 0, "lapsed row kept:\n{}", node.log_report());
    c += 1;
    let r = register_raw(&peer, &node, "dave", "davepw", "cid-r", &mut c, &[]);
    assert_eq!(status(&r), 200, "{r}");
    assert_eq!(headers(&r, "Contact").len(), 1, "binding lost across restart:\n{r}");
}

/// A new binding is in the state file within a few seconds; a plain refresh is held (up to
/// 30 s, src/daemon/persist.rs) but never lost: a graceful stop writes it.
#[test]
fn refreshes_are_written_late_but_never_lost() {
    let mut node = Node::builder().user("fred", "fredpw").md5_only().start("127.1.5.3", 5060);
    let peer = UdpPeer::bind("127.1.5.4", 5061);
    let contact = [format!("Contact: <sip:fred@{}>", peer.local())];
    let file = node.state_dir().join("urpd.db");
    let cseq_stored = || stored_cseq(&file, "fred");
    let mut c = 1;
    let r = register_raw(&peer, &node, "fred", "fredpw", "cid-f", &mut c, &contact);
    assert_eq!(status(&r), 200, "{r}");
    let first = i64::from(c);
    // Written within the writer's second.
    wait_until(|| cseq_stored() == first);
    assert_eq!(cseq_stored(), first, "new binding not written:\n{}", node.log_report());
    c += 1;
    let r = register_raw(&peer, &node, "fred", "fredpw", "cid-f", &mut c, &contact);
    assert_eq!(status(&r), 200, "{r}");
    // Two writer ticks later the refresh is still held (it waits 30 s)...
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(cseq_stored(), first, "refresh written at once:\n{}", node.log_report());
    // ...and a graceful stop writes it.
    node.stop_graceful();
    assert_eq!(cseq_stored(), i64::from(c), "refresh lost at shutdown:\n{}", node.log_report());
}

/// `[registrar] refresh_write_secs = 0`: the operator chose to hold nothing, so a plain refresh
/// reaches the state file within the writer's second, with no stop needed.
#[test]
fn refresh_write_secs_zero_writes_refreshes_at_once() {
    let node = Node::builder().user("gina", "ginapw").md5_only().toml("[registrar]\nrefresh_write_secs = 0\n").start("127.1.5.5", 5060);
    let peer = UdpPeer::bind("127.1.5.6", 5061);
    let contact = [format!("Contact: <sip:gina@{}>", peer.local())];
    let file = node.state_dir().join("urpd.db");
    let cseq_stored = || stored_cseq(&file, "gina");
    let mut c = 1;
    let r = register_raw(&peer, &node, "gina", "ginapw", "cid-g", &mut c, &contact);
    assert_eq!(status(&r), 200, "{r}");
    c += 1;
    let r = register_raw(&peer, &node, "gina", "ginapw", "cid-g", &mut c, &contact);
    assert_eq!(status(&r), 200, "{r}");
    let refreshed = i64::from(c);
    wait_until(|| cseq_stored() == refreshed);
    assert_eq!(cseq_stored(), refreshed, "refresh held although refresh_write_secs = 0:\n{}", node.log_report());
}

/// The highest CSeq stored for `user`'s bindings in the state file `file` (0 for none).
fn stored_cseq(file: &std::path::Path, user: &str) -> i64 {
    state_query(file, &format!("SELECT coalesce(max(cseq), 0) FROM bindings WHERE contact LIKE '%{user}@%'"))
}

/// Polls `done` until it holds or 10 s pass: a liveness bound for the writer's once-a-second
/// tick, not a timing assertion (the caller asserts what it waited for).
fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Runs one statement on a node's state file (SQLite, WAL: safe beside the daemon) and returns
/// the first column of its first row, or the rows affected.
fn state_query(file: &std::path::Path, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let url = format!("sqlite://{}", file.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let n = if sql.starts_with("SELECT") {
            sqlx::query(sql).fetch_one(&mut conn).await.and_then(|r| r.try_get::<i64, _>(0))
        } else {
            sqlx::query(sql).execute(&mut conn).await.map(|d| d.rows_affected() as i64)
        };
        let n = n.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
        n
    })
}

#[test]
fn user_added_while_running_can_register_at_once() {
    let node = Node::builder().md5_only().start("127.1.6.1", 5060);
    let out = node.cli(&["user", "add", "erin", "--password", "erinpw"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sipp_register(&node.target(), "127.1.6.2", 5061, "erin", "erinpw", &[]).assert_ok();
    let out = node.cli(&["user", "passwd", "erin", "--password", "newpw"]);
    assert!(out.status.success());
    let peer = UdpPeer::bind("127.1.6.3", 5061);
    let mut c = 1;
    let r = register_raw(&peer, &node, "erin", "erinpw", "cid-p", &mut c, &[]);
    assert_eq!(status(&r), 401, "old password still accepted:\n{r}");
    let out = node.cli(&["user", "remove", "erin"]);
    assert!(out.status.success());
    let out = node.cli(&["user", "remove", "erin"]);
    assert_eq!(out.status.code(), Some(4), "removing a missing user must exit 4");
}

#[test]
fn sha256_is_offered_first_and_verified() {
    let node = Node::builder().user("frank", "frankpw").start("127.1.7.1", 5060);
    let peer = UdpPeer::bind("127.1.7.2", 5061);
    let target = node.target();
    peer.send(node.addr(), register(&target, peer.local(), "frank", "cid-s", 1, &[]).as_bytes());
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string();
    let chals = headers(&r, "WWW-Authenticate");
    assert_eq!(chals.len(), 2, "{r}");
    assert!(chals[0].contains("algorithm=SHA-256"), "{chals:?}");
    assert!(chals[1].contains("algorithm=MD5"), "{chals:?}");
    let auth = authorization(&chals[0], "frank", "frankpw", "REGISTER", &format!("sip:{target}"), 1);
    let contact = format!("Contact: <sip:frank@{}>", peer.local());
    peer.send(
        node.addr(),
        register(&target, peer.local(), "frank", "cid-s", 2, &[contact.clone(), format!("Authorization: {auth}")]).as_bytes(),
    );
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string();
    assert_eq!(status(&r), 200, "{r}");
    // Replaying the same nonce count is refused.
    peer.send(node.addr(), register(&target, peer.local(), "frank", "cid-s", 3, &[contact, format!("Authorization: {auth}")]).as_bytes());
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", W).unwrap_or_default()).to_string();
    assert_eq!(status(&r), 401, "replayed nc accepted:\n{r}");
}

#[test]
fn ipv6_listeners_udp_and_tcp() {
    // IPv4 and IPv6 listeners side by side; ::1 port 25160 is this test's own.
    let node = Node::builder()
        .user("alice", "alicepw")
        .md5_only()
        .arg("--listen")
        .arg("udp:[::1]:25160")
        .arg("--listen")
        .arg("tcp:[::1]:25160")
        .start("127.1.8.1", 5060);
    // SIPp writes an IPv6 digest-uri without brackets (`sip:::1:25160`); give it the right one.
    let common = ["-i", "::1", "-s", "alice", "-au", "alice", "-ap", "alicepw", "-auth_uri", "[::1]:25160"];
    let mut udp = vec!["-p", "25161"];
    udp.extend_from_slice(&common);
    sipp("register_auth.xml", "[::1]:25160", &udp).assert_ok();
    let mut tcp = vec!["-p", "25162", "-t", "t1"];
    tcp.extend_from_slice(&common);
    sipp("register_auth.xml", "[::1]:25160", &tcp).assert_ok();
    drop(node);
}
