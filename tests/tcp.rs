//! TCP connections to the running daemon (test file T=9): requests pipelined on one
//! connection all get their answers, in order and intact (the writer gathers what the core
//! queued into one send); a connection that reads nothing for `tcp_idle_timeout_secs` is
//! closed by the idle sweep, one that keeps talking is kept; a peer that sends but never
//! reads has its connection closed once `tcp_send_queue_bytes` of answers wait for it, and
//! the daemon goes on serving others; `urpd status` counts the open connections and the
//! count returns to zero when they close.

mod common;
use common::digest::status;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(n: &Node) -> TcpStream {
    let s = TcpStream::connect_timeout(&n.addr(), Duration::from_secs(5)).unwrap_or_else(|e| panic!("connect: {e}"));
    s.set_nodelay(true).ok();
    s
}

/// Reads the stream until `want` whole messages have arrived (answers sent together arrive in
/// one segment: `read_sip_message` keeps only the first of what one read brings).
fn read_messages(s: &mut TcpStream, want: usize, wait: Duration) -> Vec<String> {
    let end = Instant::now() + wait;
    let (mut got, mut out) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 16384];
    while out.len() < want {
        while let Some(len) = sip_message_len(&got).filter(|&l| got.len() >= l) {
            out.push(String::from_utf8_lossy(&got[..len]).to_string());
            got.drain(..len);
        }
        if out.len() >= want {
            break;
        }
        let Some(left) = end.checked_duration_since(Instant::now()) else { break };
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok();
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
        }
    }
    out
}

/// Whether the peer closed `s` within `wait` (a read returning 0 bytes).
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let end = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return false,
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let n = Node::start("127.9.1.1", 5060);
    let mut s = connect(&n);
    let local = s.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let requests: Vec<String> = (0..40).map(|_| options_request(local, n.addr(), "TCP")).collect();
    // One write: the daemon reads them in one go and answers them in one turn of its loop.
    s.write_all(requests.concat().as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
    let answers = read_messages(&mut s, requests.len(), Duration::from_secs(10));
    assert_eq!(answers.len(), requests.len(), "answers missing\n{}", n.log_report());
    for (i, (req, answer)) in requests.iter().zip(&answers).enumerate() {
        assert_eq!(status(answer), 200, "answer {i}:\n{answer}");
        assert_eq!(call_id(answer), call_id(req), "answer {i} out of order:\n{answer}");
    }
}

#[test]
fn an_idle_connection_is_closed_and_a_busy_one_kept() {
    let n = Node::builder().toml("[transport]\ntcp_idle_timeout_secs = 2").start("127.9.2.1", 5060);
    let mut idle = connect(&n);
    let mut busy = connect(&n);
    let local = busy.local_addr().unwrap_or_else(|e| panic!("{e}"));
    // The busy one talks every 200 ms for 5 s: two and a half idle timeouts, never idle for
    // one (a pause would have to last 1.8 s to close it: margin for a loaded machine).
    for i in 0..25 {
        busy.write_all(options_request(local, n.addr(), "TCP").as_bytes()).unwrap_or_else(|e| panic!("write {i}: {e}"));
        let answer = read_sip_message(&mut busy, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("busy connection: answer {i} missing (closed?)\n{}", n.log_report()));
        assert_eq!(status(&String::from_utf8_lossy(&answer)), 200);
        std::thread::sleep(Duration::from_millis(200));
    }
    // The idle one has read nothing for 5 s: closed by now (the sweep runs every quarter of
    // the timeout); the wait only covers a slow machine.
    assert!(closed_within(&mut idle, Duration::from_secs(10)), "idle connection still open\n{}", n.log_report());
}

#[test]
fn a_peer_that_never_reads_is_disconnected_not_silently_shortchanged() {
    let n = Node::builder().toml("[transport]\ntcp_send_queue_bytes = 16384").start("127.9.3.1", 5060);
    // A tiny receive buffer (the kernel's minimum, a few KB) so that the daemon's answers back
    // up in its own queue soon instead of in kernel buffers.
    let raw = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap_or_else(|e| panic!("socket: {e}"));
    raw.set_recv_buffer_size(2048).ok();
    raw.connect_timeout(&n.addr().into(), Duration::from_secs(5)).unwrap_or_else(|e| panic!("connect: {e}"));
    let mut s: TcpStream = raw.into();
    let local = s.local_addr().unwrap_or_else(|e| panic!("{e}"));
    // 20,000 OPTIONS (about 6 MB of answers) written without reading a byte. The writes stop
    // with an error once the daemon closes the connection; the writer thread just ends then.
    let mut w = s.try_clone().unwrap_or_else(|e| panic!("clone: {e}"));
    let (to, sent) = (n.addr(), 20_000);
    let writer = std::thread::spawn(move || {
        for chunk in 0..sent / 100 {
            let batch: String = (0..100).map(|_| options_request(local, to, "TCP")).collect();
            if w.write_all(batch.as_bytes()).is_err() {
                return chunk * 100;
            }
        }
        sent
    });
    // Give the daemon every request before reading anything.
    let written = writer.join().unwrap_or_else(|_| panic!("writer thread panicked"));
    std::thread::sleep(Duration::from_millis(500));
    // Now read: some answers, then the end of the stream; not all 20,000.
    let answers = read_messages(&mut s, sent, Duration::from_secs(20));
    assert!(answers.len() < sent, "all {} answers arrived: the queue limit did not act ({written} requests written)", answers.len());
    assert!(closed_within(&mut s, Duration::from_secs(10)), "connection not closed\n{}", n.log_report());
    let log = n.log();
    assert!(log.contains("TCP send queue over its limit"), "no warning logged\n{}", n.log_report());
    // Everyone else is still served.
    let mut other = connect(&n);
    let l2 = other.local_addr().unwrap_or_else(|e| panic!("{e}"));
    other.write_all(options_request(l2, n.addr(), "TCP").as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
    let answer =
        read_sip_message(&mut other, Duration::from_secs(5)).unwrap_or_else(|| panic!("no answer after the overflow\n{}", n.log_report()));
    assert_eq!(status(&String::from_utf8_lossy(&answer)), 200);
}

/// `urpd status --json`'s open TCP connection count.
fn open_connections(n: &Node) -> u64 {
    let out = n.cli(&["status", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("status --json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    v["tcp_connections"].as_u64().unwrap_or_else(|| panic!("no tcp_connections in {v}"))
}

/// Polls the count until it reads `want` (connections close asynchronously), for at most 10 s.
fn wait_for_connections(n: &Node, want: u64) -> u64 {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let got = open_connections(n);
        if got == want || Instant::now() > end {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn status_counts_open_connections_and_the_count_returns_to_zero() {
    let n = Node::builder().start("127.9.4.1", 5060);
    assert_eq!(open_connections(&n), 0);
    // Three connections, each answered once (so each is accepted and filed).
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(&n)).collect();
    for s in &mut conns {
        let local = s.local_addr().unwrap_or_else(|e| panic!("{e}"));
        s.write_all(options_request(local, n.addr(), "TCP").as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
        let answer = read_sip_message(s, Duration::from_secs(5)).unwrap_or_else(|| panic!("no answer\n{}", n.log_report()));
        assert_eq!(status(&String::from_utf8_lossy(&answer)), 200);
    }
    assert_eq!(wait_for_connections(&n, 3), 3, "{}", n.log_report());
    let text = String::from_utf8_lossy(&n.cli(&["status"]).stdout).to_string();
    assert!(text.contains("3 open connections"), "{text}");
    // Closed by the peers, half of them with a reset: every one leaves the count.
    for (i, s) in conns.into_iter().enumerate() {
        if i % 2 == 0 {
            socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).ok();
        }
        drop(s);
    }
    assert_eq!(wait_for_connections(&n, 0), 0, "{}", n.log_report());
}
