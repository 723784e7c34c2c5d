//! Two transaction layers (a UAC and a UAS) joined by a simulated UDP network with a
//! simulated clock, in the style of quinn-proto's `tests/util.rs` `Pair`: only the public API,
//! bytes on the wire parsed as a real driver would, and chosen datagrams lost.

use bytes::Bytes;
use std::time::{Duration, Instant};
use urpd::sip::{parse_datagram, Message, Request};
use urpd::transaction::{TimerConfig, TransactionLayer, TuEvent, TxId};
use urpd::transport::{Peer, Protocol};

struct Node {
    layer: TransactionLayer,
    addr: Peer,
    events: Vec<TuEvent>,
}

struct Pair {
    now: Instant,
    start: Instant,
    client: Node,
    server: Node,
    /// Datagram numbers (1-based, in send order over the whole run) the network drops.
    lose: Vec<usize>,
    sent: usize,
}

impl Pair {
    fn new(lose: &[usize]) -> Self {
        let now = Instant::now();
        let node = |a: &str| Node {
            layer: TransactionLayer::new(TimerConfig::default()),
            addr: Peer::new(Protocol::Udp, a.parse().unwrap_or_else(|e| panic!("{e}"))),
            events: Vec::new(),
        };
        Pair { now, start: now, client: node("192.0.2.1:5060"), server: node("192.0.2.2:5060"), lose: lose.to_vec(), sent: 0 }
    }

    /// Moves every queued datagram across the network (both ways) until quiet.
    fn deliver(&mut self) {
        loop {
            let mut moved = false;
            for dir in 0..2 {
                let (src, dst) = if dir == 0 { (&mut self.client, &mut self.server) } else { (&mut self.server, &mut self.client) };
                while let Some(t) = src.layer.poll_transmit() {
                    moved = true;
                    assert_eq!(t.dest, dst.addr);
                    self.sent += 1;
                    if self.lose.contains(&self.sent) {
                        continue;
                    }
                    match parse_datagram(t.data).unwrap_or_else(|e| panic!("bad datagram: {e}")) {
                        Message::Request(r) => dst.layer.handle_request(self.now, r, src.addr),
                        Message::Response(r) => dst.layer.handle_response(self.now, r, src.addr),
                    }
                }
            }
            for node in [&mut self.client, &mut self.server] {
                while let Some(e) = node.layer.poll_event() {
                    node.events.push(e);
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Advances to the earliest timeout of either layer (at most to `limit` since start).
    fn step(&mut self, limit: Duration) -> bool {
        let next = [self.client.layer.poll_timeout(), self.server.layer.poll_timeout()].into_iter().flatten().min();
        match next {
            Some(at) if at <= self.start + limit => {
                self.now = at;
                self.client.layer.handle_timeout(at);
                self.server.layer.handle_timeout(at);
                self.deliver();
                true
            }
            _ => false,
        }
    }

    fn run(&mut self, limit: Duration) {
        while self.step(limit) {}
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

fn request(text: &'static str) -> Request {
    match parse_datagram(Bytes::from_static(text.as_bytes())) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

/// The TU of the server node: answers every new request with `status`.
fn answer_requests(node: &mut Node, now: Instant, status: u16) -> Vec<TxId> {
    let mut answered = Vec::new();
    for e in std::mem::take(&mut node.events) {
        if let TuEvent::Request { tx, req, .. } = e {
            node.layer.respond(now, tx, req.response(status, "X", Some("srv"))).unwrap_or_else(|e| panic!("{e}"));
            answered.push(tx);
        } else {
            node.events.push(e);
        }
    }
    answered
}

#[test]
fn non_invite_survives_lost_request_and_lost_response() {
    let options = request(
        "OPTIONS sip:192.0.2.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpair1\r\n\
Max-Forwards: 70\r\nTo: <sip:192.0.2.2>\r\nFrom: <sip:probe@192.0.2.1>;tag=p1\r\n\
Call-ID: pair1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    );
    // Datagram 1 (the request) and 3 (the first 200) are lost.
    let mut p = Pair::new(&[1, 3]);
    let tx = p.client.layer.send_request(p.now, options, p.server.addr).unwrap_or_else(|e| panic!("{e}"));
    p.deliver();
    assert!(p.server.events.is_empty(), "request lost");
    // Timer E at 500 ms: the retransmission arrives and creates the server transaction.
    p.run(Duration::from_millis(500));
    let now = p.now;
    assert_eq!(answer_requests(&mut p.server, now, 200).len(), 1);
    p.deliver(); // datagram 3, the 200, is lost
    assert!(p.client.events.is_empty());
    // Timer E at 1.5 s: the server's Completed state answers the retransmission with the 200.
    p.run(Duration::from_millis(1500));
    assert_eq!(p.elapsed(), Duration::from_millis(1500));
    assert!(matches!(p.client.events.as_slice(), [TuEvent::Response { tx: t, resp }] if *t == tx && resp.status == 200));
    assert!(p.server.events.is_empty(), "the retransmission did not reach the TU");
    // Timer K (5 s) and Timer J (32 s) clean both sides up.
    p.run(Duration::from_secs(120));
    assert!(p.client.layer.is_empty() && p.server.layer.is_empty());
    assert!(matches!(p.server.events.as_slice(), [TuEvent::ServerDone { .. }]));
}

#[test]
fn invite_rejection_with_lost_ack_is_recovered_by_timer_g() {
    let invite = request(
        "INVITE sip:bob@192.0.2.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpair2\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@192.0.2.2>\r\nFrom: <sip:alice@192.0.2.1>;tag=a\r\n\
Call-ID: pair2@192.0.2.1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    );
    // 1 INVITE, 2 the 486, 3 the ACK (lost), 4 the 486 again (Timer G), 5 the ACK again.
    let mut p = Pair::new(&[3]);
    let tx = p.client.layer.send_request(p.now, invite, p.server.addr).unwrap_or_else(|e| panic!("{e}"));
    p.deliver();
    let now = p.now;
    assert_eq!(answer_requests(&mut p.server, now, 486).len(), 1);
    p.deliver();
    assert!(matches!(p.client.events.as_slice(), [TuEvent::Response { tx: t, resp }] if *t == tx && resp.status == 486));
    p.run(Duration::from_secs(600));
    assert_eq!(p.sent, 5, "one G retransmission, answered by a second ACK");
    assert_eq!(p.client.events.len(), 1, "the retransmitted 486 was absorbed");
    assert!(matches!(p.server.events.as_slice(), [TuEvent::ServerDone { .. }]));
    assert!(p.client.layer.is_empty() && p.server.layer.is_empty());
}
