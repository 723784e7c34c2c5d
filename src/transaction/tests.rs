//! Transaction-layer behaviour under a simulated clock (quinn-proto `tests/util.rs` style):
//! `Sim` owns the layer and a virtual `now`, jumps straight to `poll_timeout()`, and records
//! every transmit and event with its virtual time, so each RFC timer is checked to the
//! millisecond without sleeping.

use super::*;
use crate::sip::{parse_datagram, HeaderName, Message, Method, Request, Response, SipHeaders};
use crate::transport::{Peer, Protocol};
use bytes::Bytes;
use std::time::{Duration, Instant};

const UA: &str = "192.0.2.10:5060";
const NEXT_HOP: &str = "198.51.100.20:5060";

fn peer(proto: Protocol, addr: &str) -> Peer {
    Peer::new(proto, addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}")))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn parse(text: &str) -> Message {
    let text = text.trim_start().replace("\r\n", "\n").replace('\n', "\r\n");
    parse_datagram(Bytes::from(text)).unwrap_or_else(|e| panic!("parse: {e}"))
}

fn req(text: &str) -> Request {
    match parse(text) {
        Message::Request(r) => {
            r.validate().unwrap_or_else(|e| panic!("invalid test request: {e}"));
            r
        }
        Message::Response(_) => panic!("expected a request"),
    }
}

fn parse_req(data: &Bytes) -> Request {
    match parse_datagram(data.clone()) {
        Ok(Message::Request(r)) => r,
        other => panic!("expected a request on the wire, got {other:?}"),
    }
}

fn parse_resp(data: &Bytes) -> Response {
    match parse_datagram(data.clone()) {
        Ok(Message::Response(r)) => r,
        other => panic!("expected a response on the wire, got {other:?}"),
    }
}

/// A request as a UA would send it to us: `method`, Via transport `tp`, top Via `branch`.
fn incoming(method: &str, tp: &str, branch: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0\n\
Via: SIP/2.0/{tp} 192.0.2.10:5060;branch={branch}\n\
Max-Forwards: 70\n\
To: <sip:bob@example.com>\n\
From: <sip:alice@example.com>;tag=1928301774\n\
Call-ID: a84b4c76e66710@192.0.2.10\n\
CSeq: 314159 {method}\n\
Contact: <sip:alice@192.0.2.10>\n\
Content-Length: 0\n\n"
    )
}

/// A request as our TU would send it: our Via on top, a Route to the next hop.
fn outgoing(method: &str, tp: &str, branch: &str) -> Request {
    req(&format!(
        "{method} sip:carol@example.net SIP/2.0\n\
Via: SIP/2.0/{tp} 203.0.113.1:5060;branch={branch}\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKupstream\n\
Route: <sip:198.51.100.20;lr>\n\
Max-Forwards: 69\n\
To: <sip:carol@example.net>\n\
From: <sip:alice@example.com>;tag=1928301774\n\
Call-ID: c1@203.0.113.1\n\
CSeq: 7 {method}\n\
Content-Length: 0\n\n"
    ))
}

/// A simulated driver: virtual clock plus everything the layer emitted, time-stamped.
struct Sim {
    layer: TransactionLayer,
    start: Instant,
    now: Instant,
    sent: Vec<(Duration, Transmit)>,
    events: Vec<(Duration, TuEvent)>,
}

impl Sim {
    fn new() -> Self {
        let now = Instant::now();
        Sim { layer: TransactionLayer::new(TimerConfig::default()), start: now, now, sent: Vec::new(), events: Vec::new() }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Drains the layer's outputs, as a driver does after every call.
    fn drain(&mut self) {
        let t = self.elapsed();
        while let Some(tx) = self.layer.poll_transmit() {
            self.sent.push((t, tx));
        }
        while let Some(ev) = self.layer.poll_event() {
            self.events.push((t, ev));
        }
    }

    /// Jumps to the next timeout if it is at or before `limit` (since start); fires it.
    fn step(&mut self, limit: Duration) -> bool {
        match self.layer.poll_timeout() {
            Some(at) if at <= self.start + limit => {
                assert!(at >= self.now, "timeout in the past");
                self.now = at;
                self.layer.handle_timeout(at);
                self.drain();
                true
            }
            _ => false,
        }
    }

    /// Runs timers until virtual time `t` (since start), then sets the clock to `t`.
    fn run_until(&mut self, t: Duration) {
        let mut guard = 0;
        while self.step(t) {
            guard += 1;
            assert!(guard < 10_000, "timer loop does not converge");
        }
        if self.start + t > self.now {
            self.now = self.start + t;
        }
    }

    /// Runs until no timer is left (at most an hour of virtual time from now).
    fn run_to_end(&mut self) {
        self.run_until(self.elapsed() + secs(3600));
    }

    fn recv(&mut self, text: &str, from: Peer) {
        match parse(text) {
            Message::Request(r) => self.layer.handle_request(self.now, r, from),
            Message::Response(r) => self.layer.handle_response(self.now, r, from),
        }
        self.drain();
    }

    fn recv_response(&mut self, r: Response, from: Peer) {
        self.layer.handle_response(self.now, r, from);
        self.drain();
    }

    fn send(&mut self, r: Request, dest: Peer) -> TxId {
        let id = self.layer.send_request(self.now, r, dest).unwrap_or_else(|e| panic!("send_request: {e}"));
        self.drain();
        id
    }

    fn respond(&mut self, tx: TxId, resp: Response) -> Result<(), TxError> {
        let r = self.layer.respond(self.now, tx, resp);
        self.drain();
        r
    }

    fn cancel(&mut self, tx: TxId) -> Option<TxId> {
        let r = self.layer.cancel(self.now, tx);
        self.drain();
        r
    }

    fn take_sent(&mut self) -> Vec<(Duration, Transmit)> {
        std::mem::take(&mut self.sent)
    }

    fn take_events(&mut self) -> Vec<TuEvent> {
        std::mem::take(&mut self.events).into_iter().map(|(_, e)| e).collect()
    }

    fn sent_times(&mut self) -> Vec<Duration> {
        self.take_sent().into_iter().map(|(t, _)| t).collect()
    }

    /// The one new server transaction a just-received request created.
    fn new_server_tx(&mut self) -> (TxId, Request) {
        match self.take_events().as_slice() {
            [TuEvent::Request { tx, req, .. }] => (*tx, req.clone()),
            other => panic!("expected one Request event, got {other:?}"),
        }
    }
}

fn times(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|&m| ms(m)).collect()
}

// ---------------------------------------------------------------- client INVITE

#[test]
fn timer_a_schedule_on_udp_then_timer_b_timeout() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let tx = s.send(outgoing("INVITE", "UDP", "z9hG4bKa1"), dest);
    assert_eq!(s.layer.state(tx), Some(TxState::Calling));
    s.run_to_end();
    // Sent at 0, then A = 500 ms, 1 s, 2 s, 4 s, 8 s, 16 s (no T2 cap for INVITE); B at 32 s.
    assert_eq!(s.sent_times(), times(&[0, 500, 1500, 3500, 7500, 15500, 31500]));
    assert_eq!(s.events, vec![(secs(32), TuEvent::Timeout { tx })]);
    assert_eq!(s.layer.len(), (0, 0));
    assert_eq!(s.layer.poll_timeout(), None);
}

#[test]
fn no_timer_a_on_tcp() {
    let mut s = Sim::new();
    let tx = s.send(outgoing("INVITE", "TCP", "z9hG4bKa2"), peer(Protocol::Tcp, NEXT_HOP));
    s.run_to_end();
    assert_eq!(s.sent_times(), times(&[0]));
    assert_eq!(s.take_events(), vec![TuEvent::Timeout { tx }]);
}

#[test]
fn provisional_stops_a_and_b_then_non2xx_is_acked_and_absorbed_during_timer_d() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let tx = s.send(outgoing("INVITE", "UDP", "z9hG4bKa3"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    s.run_until(ms(600)); // one retransmission
    assert_eq!(s.sent_times(), times(&[500]));
    s.recv_response(invite.response(180, "Ringing", Some("callee")), dest);
    assert_eq!(s.layer.state(tx), Some(TxState::Proceeding));
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Response { tx: t, resp }] if *t == tx && resp.status == 180));
    // Neither A nor B runs in Proceeding: nothing is scheduled.
    assert_eq!(s.layer.poll_timeout(), None);
    s.run_until(secs(60));
    assert!(s.take_sent().is_empty() && s.take_events().is_empty());

    let busy = invite.response(486, "Busy Here", Some("callee"));
    s.recv_response(busy.clone(), dest);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Response { resp, .. }] if resp.status == 486));
    assert_eq!(s.layer.state(tx), Some(TxState::Completed));
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.dest, dest);
    let ack = parse_req(&sent[0].1.data);
    // §17.1.1.3: same R-URI, Via (one, same branch), From, Call-ID, Route; To of the response; CSeq n ACK.
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri.as_str(), invite.uri.as_str());
    assert_eq!(ack.headers.count(&HeaderName::Via), 1);
    assert_eq!(ack.branch(), Some("z9hG4bKa3"));
    assert_eq!(ack.to_tag(), Some("callee"));
    assert_eq!(ack.from_tag(), invite.from_tag());
    assert_eq!(ack.call_id(), invite.call_id());
    assert_eq!(ack.cseq(), Some((7, "ACK")));
    assert_eq!(ack.headers.get(&HeaderName::Route), Some("<sip:198.51.100.20;lr>"));
    assert_eq!(ack.max_forwards(), Some(70));

    // A retransmitted final is absorbed and ACKed again.
    s.run_until(secs(61));
    s.recv_response(busy.clone(), dest);
    assert!(s.take_events().is_empty());
    assert_eq!(s.take_sent().len(), 1);
    // Timer D: 32 s after the final (at 60 s) the transaction is gone; the next copy is stray.
    s.run_until(secs(91));
    assert_eq!(s.layer.len(), (0, 1));
    s.run_until(secs(92));
    assert_eq!(s.layer.len(), (0, 0));
    s.recv_response(busy, dest);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::StrayResponse { .. }]));
}

#[test]
fn timer_d_is_zero_on_tcp() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Tcp, NEXT_HOP);
    s.send(outgoing("INVITE", "TCP", "z9hG4bKa4"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    s.recv_response(invite.response(404, "Not Found", Some("x")), dest);
    assert_eq!(s.take_sent().len(), 1, "ACK sent");
    assert_eq!(s.layer.len(), (0, 0));
}

#[test]
fn timer_m_accepted_passes_every_2xx_then_ends() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let tx = s.send(outgoing("INVITE", "UDP", "z9hG4bKa5"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    assert!(s.layer.retained(tx).is_some_and(|n| n > 0));
    let ok = invite.response(200, "OK", Some("callee"));
    s.recv_response(ok.clone(), dest);
    assert_eq!(s.layer.state(tx), Some(TxState::Accepted));
    // Accepted needs no copy of the INVITE (nothing to retransmit, ACK or CANCEL): shed for
    // the 32 s of Timer M.
    assert_eq!(s.layer.retained(tx), Some(0));
    assert_eq!(s.cancel(tx), None);
    // No ACK from the transaction for a 2xx: the UAC does it end to end.
    assert!(s.take_sent().is_empty());
    s.run_until(secs(10));
    s.recv_response(ok.clone(), dest);
    // Another fork's 2xx also goes up.
    s.recv_response(invite.response(200, "OK", Some("fork2")), dest);
    // A late non-2xx is absorbed.
    s.recv_response(invite.response(486, "Busy Here", Some("fork3")), dest);
    let ev = s.take_events();
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(|e| matches!(e, TuEvent::Response { tx: t, resp } if *t == tx && resp.status == 200)));
    assert!(s.take_sent().is_empty());
    // Timer M = 64*T1 from the first 2xx.
    s.run_until(ms(31_999));
    assert_eq!(s.layer.len(), (0, 1));
    s.run_until(secs(32));
    assert_eq!(s.layer.len(), (0, 0));
    s.recv_response(ok, dest);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::StrayResponse { .. }]));
}

// ---------------------------------------------------------------- client non-INVITE

#[test]
fn timer_e_doubles_capped_at_t2_and_timer_f_times_out() {
    let mut s = Sim::new();
    let tx = s.send(outgoing("OPTIONS", "UDP", "z9hG4bKe1"), peer(Protocol::Udp, NEXT_HOP));
    assert_eq!(s.layer.state(tx), Some(TxState::Trying));
    s.run_to_end();
    // 0, +0.5, +1, +2, +4, then every 4 s (T2) until F at 32 s.
    assert_eq!(s.sent_times(), times(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]));
    assert_eq!(s.events, vec![(secs(32), TuEvent::Timeout { tx })]);
    assert!(s.layer.is_empty());
}

#[test]
fn timer_e_runs_at_t2_in_proceeding() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let tx = s.send(outgoing("REGISTER", "UDP", "z9hG4bKe2"), dest);
    let r = parse_req(&s.take_sent()[0].1.data);
    s.run_until(ms(200));
    s.recv_response(r.response(100, "Trying", None), dest);
    assert_eq!(s.layer.state(tx), Some(TxState::Proceeding));
    s.run_until(secs(13));
    assert_eq!(s.sent_times(), times(&[500, 4500, 8500, 12500]));
}

#[test]
fn timer_f_fires_in_proceeding() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Tcp, NEXT_HOP);
    let tx = s.send(outgoing("MESSAGE", "TCP", "z9hG4bKe3"), dest);
    let r = parse_req(&s.take_sent()[0].1.data);
    s.recv_response(r.response(100, "Trying", None), dest);
    s.take_events();
    s.run_to_end();
    assert!(s.take_sent().is_empty(), "no retransmission on TCP");
    assert_eq!(s.events, vec![(secs(32), TuEvent::Timeout { tx })]);
}

#[test]
fn timer_k_absorbs_on_udp_and_is_zero_on_tcp() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let tx = s.send(outgoing("BYE", "UDP", "z9hG4bKk1"), dest);
    let r = parse_req(&s.take_sent()[0].1.data);
    let ok = r.response(200, "OK", Some("t"));
    s.recv_response(ok.clone(), dest);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Response { tx: t, .. }] if *t == tx));
    assert_eq!(s.layer.state(tx), Some(TxState::Completed));
    assert_eq!(s.layer.retained(tx), Some(0), "Completed keeps no copy of the request");
    s.recv_response(ok.clone(), dest);
    assert!(s.take_events().is_empty(), "retransmitted final absorbed");
    s.run_until(ms(4999));
    assert_eq!(s.layer.len(), (0, 1));
    s.run_until(secs(5));
    assert!(s.layer.is_empty(), "Timer K = T4");
    assert!(s.take_sent().is_empty(), "no retransmissions after the final");

    let mut s = Sim::new();
    let dest = peer(Protocol::Tcp, NEXT_HOP);
    s.send(outgoing("BYE", "TCP", "z9hG4bKk2"), dest);
    let r = parse_req(&s.take_sent()[0].1.data);
    s.recv_response(r.response(200, "OK", Some("t")), dest);
    assert!(s.layer.is_empty());
}

// ---------------------------------------------------------------- server INVITE

#[test]
fn timer_g_retransmits_until_ack_then_timer_i() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let text = incoming("INVITE", "UDP", "z9hG4bKg1");
    s.recv(&text, ua);
    let (tx, invite) = s.new_server_tx();
    assert_eq!(s.layer.state(tx), Some(TxState::Proceeding));
    s.respond(tx, invite.response(486, "Busy Here", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.layer.state(tx), Some(TxState::Completed));
    s.run_until(secs(4));
    // Sent at 0, G: +0.5, +1, +2 (doubling, capped at T2).
    let sent = s.take_sent();
    assert_eq!(sent.iter().map(|(t, _)| *t).collect::<Vec<_>>(), times(&[0, 500, 1500, 3500]));
    assert!(sent.iter().all(|(_, t)| t.dest == ua && t.data == sent[0].1.data));
    // The ACK (same branch, To tag of the response) is absorbed: no event.
    let ack = incoming("ACK", "UDP", "z9hG4bKg1").replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=me");
    s.recv(&ack, ua);
    assert_eq!(s.layer.state(tx), Some(TxState::Confirmed));
    s.recv(&ack, ua); // ACK retransmission also absorbed
    assert!(s.take_events().is_empty());
    s.run_to_end();
    assert!(s.take_sent().is_empty(), "no G after the ACK");
    // Timer I = T4 after the ACK.
    assert_eq!(s.events, vec![(secs(9), TuEvent::ServerDone { tx })]);
}

#[test]
fn timer_h_ends_without_ack() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    s.recv(&incoming("INVITE", "UDP", "z9hG4bKg2"), ua);
    let (tx, invite) = s.new_server_tx();
    s.respond(tx, invite.response(603, "Decline", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    s.run_to_end();
    assert_eq!(s.sent_times(), times(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]));
    assert_eq!(s.events, vec![(secs(32), TuEvent::ServerDone { tx })]);
    assert!(s.layer.is_empty());
}

#[test]
fn timer_g_off_and_timer_i_zero_on_tcp() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Tcp, "192.0.2.10:49152");
    s.recv(&incoming("INVITE", "TCP", "z9hG4bKg3"), ua);
    let (tx, invite) = s.new_server_tx();
    s.respond(tx, invite.response(480, "Temporarily Unavailable", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    s.run_until(secs(10));
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.dest, ua, "reliable: the same connection");
    s.recv(&incoming("ACK", "TCP", "z9hG4bKg3").replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=me"), ua);
    assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx }]);
    assert!(s.layer.is_empty());
}

#[test]
fn timer_l_accepted_absorbs_invite_retransmissions_and_surfaces_acks() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let text = incoming("INVITE", "UDP", "z9hG4bKl1");
    s.recv(&text, ua);
    let (tx, invite) = s.new_server_tx();
    let ok = invite.response(200, "OK", Some("me"));
    s.respond(tx, ok.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.layer.state(tx), Some(TxState::Accepted));
    assert_eq!(s.take_sent().len(), 1);
    // INVITE retransmission: absorbed, nothing re-sent, nothing up.
    s.run_until(secs(1));
    s.recv(&text, ua);
    assert!(s.take_sent().is_empty() && s.take_events().is_empty());
    // The TU retransmits its 2xx through the transaction; a non-2xx is refused.
    s.respond(tx, ok.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.take_sent().len(), 1);
    assert_eq!(s.respond(tx, invite.response(500, "Server Internal Error", Some("me"))), Err(TxError::InvalidState { tx, status: 500 }));
    // The ACK for the 2xx (its own branch) goes to the TU, as does one reusing the INVITE's.
    let ack = incoming("ACK", "UDP", "z9hG4bKl1-ack").replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=me");
    s.recv(&ack, ua);
    s.recv(&ack.replace("z9hG4bKl1-ack", "z9hG4bKl1"), ua);
    let ev = s.take_events();
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| matches!(e, TuEvent::Ack { req, from } if req.method == Method::Ack && *from == ua)));
    // Timer L = 64*T1 from the first 2xx; afterwards the tx is gone.
    s.run_to_end();
    assert_eq!(s.events, vec![(secs(32), TuEvent::ServerDone { tx })]);
    assert_eq!(s.respond(tx, ok), Err(TxError::UnknownTransaction(tx)));
}

#[test]
fn invite_retransmission_resends_last_provisional() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let text = incoming("INVITE", "UDP", "z9hG4bKp1");
    s.recv(&text, ua);
    let (tx, invite) = s.new_server_tx();
    s.recv(&text, ua);
    assert!(s.take_sent().is_empty() && s.take_events().is_empty(), "nothing sent yet: nothing to repeat");
    s.respond(tx, invite.response(100, "Trying", None)).unwrap_or_else(|e| panic!("{e}"));
    s.respond(tx, invite.response(180, "Ringing", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    s.take_sent();
    s.recv(&text, ua);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_resp(&sent[0].1.data).status, 180);
    assert!(s.take_events().is_empty());
    // No timers in Proceeding: the TU owns the pace.
    assert_eq!(s.layer.poll_timeout(), None);
}

// ---------------------------------------------------------------- server non-INVITE

#[test]
fn non_invite_retransmissions_and_timer_j() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let text = incoming("REGISTER", "UDP", "z9hG4bKj1");
    s.recv(&text, ua);
    let (tx, reg) = s.new_server_tx();
    assert_eq!(s.layer.state(tx), Some(TxState::Trying));
    s.recv(&text, ua);
    assert!(s.take_sent().is_empty() && s.take_events().is_empty(), "Trying absorbs silently");
    s.respond(tx, reg.response(100, "Trying", None)).unwrap_or_else(|e| panic!("{e}"));
    s.take_sent();
    s.recv(&text, ua);
    assert_eq!(s.take_sent().iter().map(|(_, t)| parse_resp(&t.data).status).collect::<Vec<_>>(), vec![100]);
    s.respond(tx, reg.response(200, "OK", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.layer.state(tx), Some(TxState::Completed));
    assert_eq!(s.respond(tx, reg.response(200, "OK", Some("me"))), Err(TxError::InvalidState { tx, status: 200 }));
    s.take_sent();
    s.run_until(secs(20));
    s.recv(&text, ua);
    assert_eq!(s.take_sent().iter().map(|(_, t)| parse_resp(&t.data).status).collect::<Vec<_>>(), vec![200]);
    assert!(s.take_events().is_empty());
    s.run_to_end();
    assert_eq!(s.events, vec![(secs(32), TuEvent::ServerDone { tx })]);
    assert!(s.take_sent().is_empty(), "a non-INVITE final is never retransmitted on its own");
}

#[test]
fn respond_and_end_sends_once_and_keeps_nothing() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let text = incoming("REGISTER", "UDP", "z9hG4bKe1");
    s.recv(&text, ua);
    let (tx, reg) = s.new_server_tx();
    // Provisional answers are not final: refused, the transaction stays.
    assert_eq!(s.layer.respond_and_end(tx, reg.response(100, "Trying", None)), Err(TxError::InvalidStatus(100)));
    s.layer.respond_and_end(tx, reg.response(401, "Unauthorized", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    s.drain();
    let sent = s.take_sent();
    assert_eq!(sent.iter().map(|(_, t)| (parse_resp(&t.data).status, t.dest)).collect::<Vec<_>>(), vec![(401, ua)]);
    assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx }]);
    assert!(s.layer.is_empty() && s.layer.poll_timeout().is_none(), "no Timer J filed");
    // A retransmission is a new request for the TU, which answers it afresh.
    s.recv(&text, ua);
    let (again, _) = s.new_server_tx();
    assert_ne!(again, tx);
    // INVITE server transactions must keep their final until the ACK: refused.
    s.recv(&incoming("INVITE", "UDP", "z9hG4bKe2"), ua);
    let (inv, invite) = s.new_server_tx();
    assert_eq!(
        s.layer.respond_and_end(inv, invite.response(407, "Proxy Authentication Required", Some("me"))),
        Err(TxError::InvalidState { tx: inv, status: 407 })
    );
    assert_eq!(s.layer.respond_and_end(TxId(u64::MAX), invite.response(200, "OK", None)), Err(TxError::UnknownTransaction(TxId(u64::MAX))));
}

/// A fresh non-INVITE transaction waits unfiled until the layer is next entered (see the
/// layer's module doc); from outside it is a transaction like any other, and a retransmission
/// is absorbed by it whether or not the TU has answered yet.
#[test]
fn unanswered_non_invite_is_filed_before_the_next_input() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let text = incoming("OPTIONS", "UDP", "z9hG4bKp1");
    s.recv(&text, ua);
    let (tx, r) = s.new_server_tx();
    assert_eq!(s.layer.len(), (1, 0));
    assert_eq!(s.layer.state(tx), Some(TxState::Trying));
    assert!(s.layer.server_key(tx).is_some());
    // The TU has not answered: the retransmission is absorbed (Trying sends nothing), not a
    // second request.
    s.recv(&text, ua);
    assert!(s.take_events().is_empty() && s.take_sent().is_empty());
    // A stateful answer, then its retransmission resent from the transaction; Timer J ends it.
    s.respond(tx, r.response(200, "OK", Some("t"))).unwrap_or_else(|e| panic!("{e}"));
    s.recv(&text, ua);
    assert_eq!(s.take_sent().iter().map(|(_, t)| parse_resp(&t.data).status).collect::<Vec<_>>(), vec![200, 200]);
    s.run_to_end();
    assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx }]);
    assert!(s.layer.is_empty());
}

/// A new non-INVITE skips the index lookup when no transaction of its method is filed (see
/// `TransactionLayer::filed`): the count must follow every way a key goes in or out, or a
/// retransmission would be taken for a new request.
#[test]
fn filed_counts_follow_the_index() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    let reg = incoming("REGISTER", "UDP", "z9hG4bKc1");
    // Answered and ended while pending: never filed, nothing counted.
    s.recv(&reg, ua);
    let (tx, r) = s.new_server_tx();
    s.layer.respond_and_end(tx, r.response(401, "Unauthorized", Some("t"))).unwrap_or_else(|e| panic!("{e}"));
    s.drain();
    assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx }]);
    assert!(s.layer.filed_counts_agree() && s.layer.is_empty());
    // Left unanswered: filed at the next input, so its retransmission is absorbed...
    s.recv(&reg, ua);
    let (kept, r) = s.new_server_tx();
    s.recv(&reg, ua);
    assert!(s.take_events().is_empty(), "the retransmission is the filed transaction's");
    assert!(s.layer.filed_counts_agree());
    // ...also among transactions of other methods, INVITE and CANCEL filed at once.
    s.recv(&incoming("INVITE", "UDP", "z9hG4bKc2"), ua);
    let (inv, invite) = s.new_server_tx();
    s.recv(&incoming("CANCEL", "UDP", "z9hG4bKc2"), ua);
    let events = s.take_events();
    let Some(TuEvent::Cancel { tx: cancel, invite: Some(i), .. }) = events.first() else { panic!("{events:?}") };
    let (cancel, i) = (*cancel, *i);
    assert_eq!(i, inv);
    s.recv(&incoming("OPTIONS", "UDP", "z9hG4bKc3"), ua);
    let (options, _) = s.new_server_tx();
    s.recv(&reg, ua);
    assert!(s.take_events().is_empty());
    assert!(s.layer.filed_counts_agree());
    // Ended (Timer J, Timer H, a TU's terminate): the counts come back down, and the same
    // REGISTER again is a new request.
    s.respond(kept, r.response(200, "OK", Some("t"))).unwrap_or_else(|e| panic!("{e}"));
    s.respond(inv, invite.response(486, "Busy Here", Some("t"))).unwrap_or_else(|e| panic!("{e}"));
    for tx in [cancel, options] {
        s.layer.terminate(tx).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.layer.filed_counts_agree());
    }
    s.run_to_end();
    assert!(s.layer.filed_counts_agree() && s.layer.is_empty(), "{:?}", s.layer.len());
    s.take_events();
    s.recv(&reg, ua);
    let (again, _) = s.new_server_tx();
    assert_ne!(again, kept);
    assert!(s.layer.filed_counts_agree());
    s.layer.terminate(again).unwrap_or_else(|e| panic!("{e}"));
    assert!(s.layer.filed_counts_agree() && s.layer.is_empty());
}

/// `respond_and_end` ends a transaction whether it is still pending or was filed meanwhile.
#[test]
fn respond_and_end_after_filing() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    s.recv(&incoming("MESSAGE", "UDP", "z9hG4bKp2"), ua);
    let (first, m1) = s.new_server_tx();
    // Another input files the first transaction.
    s.recv(&incoming("OPTIONS", "UDP", "z9hG4bKp3"), ua);
    let (second, m2) = s.new_server_tx();
    assert_eq!(s.layer.len(), (2, 0));
    for (tx, m) in [(first, m1), (second, m2)] {
        s.layer.respond_and_end(tx, m.response(200, "OK", Some("t"))).unwrap_or_else(|e| panic!("{e}"));
        s.drain();
        assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx }]);
    }
    assert_eq!(s.take_sent().len(), 2);
    assert!(s.layer.is_empty() && s.layer.poll_timeout().is_none());
}

#[test]
fn timer_j_is_zero_on_tcp() {
    let mut s = Sim::new();
    s.recv(&incoming("OPTIONS", "TCP", "z9hG4bKj2"), peer(Protocol::Tcp, "192.0.2.10:40000"));
    let (tx, r) = s.new_server_tx();
    s.respond(tx, r.response(200, "OK", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx }]);
    assert!(s.layer.is_empty());
}

// ---------------------------------------------------------------- CANCEL

#[test]
fn cancel_matches_its_invite_and_is_its_own_transaction() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    s.recv(&incoming("INVITE", "UDP", "z9hG4bKc1"), ua);
    let (inv_tx, invite) = s.new_server_tx();
    s.respond(inv_tx, invite.response(180, "Ringing", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    s.take_sent();
    let cancel = incoming("CANCEL", "UDP", "z9hG4bKc1");
    s.recv(&cancel, ua);
    let (cancel_tx, creq) = match s.take_events().as_slice() {
        [TuEvent::Cancel { tx, req, from, invite: Some(i) }] if *i == inv_tx && *from == ua => (*tx, req.clone()),
        other => panic!("expected Cancel for {inv_tx}, got {other:?}"),
    };
    assert_ne!(cancel_tx, inv_tx);
    assert_eq!(s.layer.len(), (2, 0));
    // CANCEL retransmission: absorbed by the CANCEL's own transaction, the INVITE is untouched.
    s.recv(&cancel, ua);
    assert!(s.take_events().is_empty() && s.take_sent().is_empty());
    s.respond(cancel_tx, creq.response(200, "OK", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    s.respond(inv_tx, invite.response(487, "Request Terminated", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    let statuses: Vec<u16> = s.take_sent().iter().map(|(_, t)| parse_resp(&t.data).status).collect();
    assert_eq!(statuses, vec![200, 487]);
    // A CANCEL with another branch matches nothing.
    s.recv(&incoming("CANCEL", "UDP", "z9hG4bKother"), ua);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Cancel { invite: None, .. }]));
}

#[test]
fn cancel_before_provisional_is_deferred_until_the_first_1xx() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let tx = s.send(outgoing("INVITE", "UDP", "z9hG4bKd1"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    assert_eq!(s.cancel(tx), None);
    assert_eq!(s.cancel(tx), None, "asking twice changes nothing");
    assert!(s.take_sent().is_empty(), "§9.1: no CANCEL before a provisional");
    assert_eq!(s.layer.cancel_of(tx), None);
    s.run_until(ms(700));
    assert_eq!(s.sent_times(), times(&[500]), "the INVITE keeps retransmitting");
    s.recv_response(invite.response(180, "Ringing", Some("callee")), dest);
    let cancel_tx = s.layer.cancel_of(tx).unwrap_or_else(|| panic!("CANCEL not sent"));
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.dest, dest);
    let cancel = parse_req(&sent[0].1.data);
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri.as_str(), invite.uri.as_str());
    assert_eq!(cancel.headers.count(&HeaderName::Via), 1);
    assert_eq!(cancel.branch(), Some("z9hG4bKd1"));
    assert_eq!(cancel.cseq(), Some((7, "CANCEL")));
    assert_eq!(cancel.to_tag(), None, "To as in the INVITE");
    assert_eq!(cancel.headers.get(&HeaderName::Route), Some("<sip:198.51.100.20;lr>"));
    assert_eq!(cancel.max_forwards(), Some(70));
    assert_eq!(s.layer.len(), (0, 2));
    // Responses to the CANCEL go to the CANCEL transaction; the 487 to the INVITE, which ACKs.
    s.take_events();
    s.recv_response(cancel.response(200, "OK", Some("callee")), dest);
    s.recv_response(invite.response(487, "Request Terminated", Some("callee")), dest);
    let ev = s.take_events();
    assert!(matches!(&ev[..], [TuEvent::Response { tx: a, resp: r1 }, TuEvent::Response { tx: b, resp: r2 }]
        if *a == cancel_tx && r1.status == 200 && *b == tx && r2.status == 487));
    assert!(parse_req(&s.take_sent()[0].1.data).method == Method::Ack);
}

#[test]
fn cancel_in_proceeding_is_sent_now_and_dropped_after_a_final() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Tcp, NEXT_HOP);
    let tx = s.send(outgoing("INVITE", "TCP", "z9hG4bKd2"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    s.recv_response(invite.response(183, "Session Progress", Some("c")), dest);
    let c = s.cancel(tx);
    assert!(c.is_some());
    assert_eq!(s.layer.cancel_of(tx), c);
    assert_eq!(parse_req(&s.take_sent()[0].1.data).method, Method::Cancel);

    // A final before any provisional makes a pending CANCEL moot.
    let tx = s.send(outgoing("INVITE", "TCP", "z9hG4bKd3"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    assert_eq!(s.cancel(tx), None);
    s.recv_response(invite.response(486, "Busy Here", Some("c")), dest);
    let sent = s.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(parse_req(&sent[0].1.data).method, Method::Ack);
    // Not a client INVITE awaiting a final: nothing to cancel.
    assert_eq!(s.cancel(tx), None);
    assert_eq!(s.cancel(TxId(999)), None);
}

#[test]
fn cancelled_invite_without_final_ends_64_t1_after_the_cancel() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Tcp, NEXT_HOP);
    let tx = s.send(outgoing("INVITE", "TCP", "z9hG4bKd4"), dest);
    let invite = parse_req(&s.take_sent()[0].1.data);
    s.run_until(secs(1));
    s.recv_response(invite.response(180, "Ringing", Some("c")), dest);
    s.take_events();
    s.run_until(secs(200));
    let c = s.cancel(tx).unwrap_or_else(|| panic!("CANCEL not sent"));
    let creq = parse_req(&s.take_sent()[0].1.data);
    s.recv_response(creq.response(200, "OK", Some("c")), dest);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Response { tx: t, .. }] if *t == c));
    // §9.1: no final within 64*T1 of the CANCEL → give up on the INVITE.
    s.run_to_end();
    assert_eq!(s.events, vec![(secs(232), TuEvent::Timeout { tx })]);
    assert!(s.layer.is_empty());
}

#[test]
fn tu_can_terminate_any_transaction() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let client = s.send(outgoing("INVITE", "UDP", "z9hG4bKz1"), dest);
    s.recv(&incoming("INVITE", "UDP", "z9hG4bKz2"), peer(Protocol::Udp, UA));
    let (server, _) = s.new_server_tx();
    assert_eq!(s.layer.terminate(client), Ok(()));
    assert_eq!(s.layer.terminate(server), Ok(()));
    s.drain();
    assert_eq!(s.take_events(), vec![TuEvent::ServerDone { tx: server }]);
    assert_eq!(s.layer.terminate(client), Err(TxError::UnknownTransaction(client)));
    assert!(s.layer.is_empty());
    assert_eq!(s.layer.poll_timeout(), None, "timers went with the transactions");
}

// ---------------------------------------------------------------- ACK, RFC 2543, strays

#[test]
fn ack_for_unknown_transaction_goes_to_tu() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    s.recv(&incoming("ACK", "UDP", "z9hG4bKnotx"), ua);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Ack { from, .. }] if *from == ua));
    assert!(s.layer.is_empty(), "an ACK never creates a transaction");
}

#[test]
fn rfc2543_requests_match_by_fields() {
    let mut s = Sim::new();
    let ua = peer(Protocol::Udp, UA);
    // No magic cookie.
    let text = incoming("INVITE", "UDP", "1234old");
    s.recv(&text, ua);
    let (tx, invite) = s.new_server_tx();
    s.recv(&text, ua);
    assert!(s.take_events().is_empty(), "retransmission matched by R-URI/tags/Call-ID/CSeq/Via");
    // A different CSeq number is a new transaction.
    s.recv(&text.replace("314159 INVITE", "314160 INVITE"), ua);
    let (tx2, _) = s.new_server_tx();
    assert_ne!(tx, tx2);
    // CANCEL matches the INVITE.
    s.recv(&incoming("CANCEL", "UDP", "1234old"), ua);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Cancel { invite: Some(i), .. }] if *i == tx));
    s.respond(tx, invite.response(486, "Busy Here", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    let ack = incoming("ACK", "UDP", "1234old");
    // An ACK with another To tag does not match (it is not for our response).
    s.recv(&ack.replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=else"), ua);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::Ack { .. }]));
    assert_eq!(s.layer.state(tx), Some(TxState::Completed));
    // The ACK carrying our To tag matches and is absorbed.
    s.recv(&ack.replace("To: <sip:bob@example.com>", "To: <sip:bob@example.com>;tag=me"), ua);
    assert!(s.take_events().is_empty());
    assert_eq!(s.layer.state(tx), Some(TxState::Confirmed));
}

#[test]
fn stray_response_surfaces() {
    let mut s = Sim::new();
    let from = peer(Protocol::Udp, NEXT_HOP);
    let r = outgoing("INVITE", "UDP", "z9hG4bKgone").response(200, "OK", Some("x"));
    s.recv_response(r.clone(), from);
    assert_eq!(s.take_events(), vec![TuEvent::StrayResponse { resp: r, from }]);
    // A response to a request we sent, but with another CSeq method, is stray too.
    let tx = s.send(outgoing("INVITE", "UDP", "z9hG4bKm1"), from);
    let _ = tx;
    let bye = outgoing("BYE", "UDP", "z9hG4bKm1").response(200, "OK", Some("x"));
    s.recv_response(bye, from);
    assert!(matches!(s.take_events().as_slice(), [TuEvent::StrayResponse { .. }]));
}

// ---------------------------------------------------------------- destinations, errors

#[test]
fn responses_follow_rport_and_via_port() {
    let mut s = Sim::new();
    let nat = peer(Protocol::Udp, "203.0.113.99:61000");
    // No rport: source IP, Via sent-by port.
    s.recv(&incoming("OPTIONS", "UDP", "z9hG4bKr1"), nat);
    let (tx, r) = s.new_server_tx();
    s.respond(tx, r.response(200, "OK", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.take_sent()[0].1.dest, peer(Protocol::Udp, "203.0.113.99:5060"));
    // rport: source IP and port.
    s.recv(&incoming("OPTIONS", "UDP", "z9hG4bKr2;rport"), nat);
    let (tx, r) = s.new_server_tx();
    s.respond(tx, r.response(200, "OK", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.take_sent()[0].1.dest, nat);
    // maddr is ignored.
    s.recv(&incoming("OPTIONS", "UDP", "z9hG4bKr3;maddr=224.0.1.75"), nat);
    let (tx, r) = s.new_server_tx();
    s.respond(tx, r.response(200, "OK", Some("me"))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.take_sent()[0].1.dest, peer(Protocol::Udp, "203.0.113.99:5060"));
    let via = crate::sip::Via::parse("SIP/2.0/UDP 10.1.1.1:5070;rport;branch=z9hG4bKx").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(TransactionLayer::response_destination(&via, nat), nat);
}

#[test]
fn transport_error_fails_waiting_client_transactions() {
    let mut s = Sim::new();
    let dead = peer(Protocol::Tcp, NEXT_HOP);
    let other = peer(Protocol::Tcp, "198.51.100.21:5060");
    let a = s.send(outgoing("INVITE", "TCP", "z9hG4bKt1"), dead);
    let b = s.send(outgoing("OPTIONS", "TCP", "z9hG4bKt2"), dead);
    let c = s.send(outgoing("OPTIONS", "TCP", "z9hG4bKt3"), other);
    s.layer.transport_error(s.now, dead);
    s.drain();
    assert_eq!(s.take_events(), vec![TuEvent::TransportError { tx: a }, TuEvent::TransportError { tx: b }]);
    assert_eq!(s.layer.len(), (0, 1));
    assert_eq!(s.layer.state(c), Some(TxState::Trying));
}

#[test]
fn tu_mistakes_are_errors() {
    let mut s = Sim::new();
    let dest = peer(Protocol::Udp, NEXT_HOP);
    let client = s.send(outgoing("OPTIONS", "UDP", "z9hG4bKx1"), dest);
    let any = outgoing("OPTIONS", "UDP", "z9hG4bKx1").response(200, "OK", None);
    assert_eq!(s.respond(client, any.clone()), Err(TxError::NotServer(client)));
    assert_eq!(s.respond(TxId(4242), any.clone()), Err(TxError::UnknownTransaction(TxId(4242))));
    s.recv(&incoming("OPTIONS", "UDP", "z9hG4bKx2"), peer(Protocol::Udp, UA));
    let (tx, _) = s.new_server_tx();
    let mut bad = any;
    bad.status = 700;
    assert_eq!(s.respond(tx, bad), Err(TxError::InvalidStatus(700)));
    assert_eq!(s.layer.send_request(s.now, outgoing("ACK", "UDP", "z9hG4bKx3"), dest), Err(TxError::AckNotAllowed));
    assert_eq!(s.layer.send_request(s.now, outgoing("INFO", "UDP", "nocookie"), dest), Err(TxError::MissingBranch));
    assert_eq!(s.layer.send_request(s.now, outgoing("OPTIONS", "UDP", "z9hG4bKx1"), dest), Err(TxError::DuplicateBranch));
    // Same branch, another method (the CANCEL case) is a separate transaction.
    assert!(s.layer.send_request(s.now, outgoing("CANCEL", "UDP", "z9hG4bKx1"), dest).is_ok());
    assert_eq!(format!("{client}"), format!("tx{}", client.as_u64()));
}

/// Random interleavings of every input (seeded, so reproducible): the layer never panics,
/// never schedules a timeout in the past, and always drains to empty once the peers go quiet.
#[test]
fn random_interleavings_terminate_and_never_panic() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(3261);
    for round in 0..200 {
        let mut s = Sim::new();
        let mut servers: Vec<(TxId, Request)> = Vec::new();
        let mut clients: Vec<(TxId, Request)> = Vec::new();
        let methods = ["INVITE", "OPTIONS", "CANCEL", "ACK", "BYE"];
        for step in 0..60 {
            let proto = if rng.gen_bool(0.5) { Protocol::Udp } else { Protocol::Tcp };
            let tp = if proto == Protocol::Udp { "UDP" } else { "TCP" };
            let branch = if rng.gen_bool(0.2) { format!("old{}", rng.gen_range(0..4)) } else { format!("z9hG4bK{}", rng.gen_range(0..6)) };
            let method = methods[rng.gen_range(0..methods.len())];
            match rng.gen_range(0..7) {
                0 => {
                    s.recv(&incoming(method, tp, &branch), peer(proto, UA));
                    for ev in s.take_events() {
                        match ev {
                            TuEvent::Request { tx, req, .. } | TuEvent::Cancel { tx, req, .. } => servers.push((tx, req)),
                            _ => {}
                        }
                    }
                }
                1 if !servers.is_empty() => {
                    let (tx, r) = servers[rng.gen_range(0..servers.len())].clone();
                    let status = [100, 180, 200, 202, 404, 487, 603][rng.gen_range(0..7)];
                    let _ = s.respond(tx, r.response(status, "X", Some("t")));
                }
                2 => {
                    let m = if method == "ACK" { "INVITE" } else { method };
                    let r = outgoing(m, tp, &format!("z9hG4bKc{round}-{step}"));
                    if let Ok(tx) = s.layer.send_request(s.now, r.clone(), peer(proto, NEXT_HOP)) {
                        clients.push((tx, r));
                    }
                    s.drain();
                }
                3 if !clients.is_empty() => {
                    let (_, r) = clients[rng.gen_range(0..clients.len())].clone();
                    let status = [100, 180, 200, 486, 487][rng.gen_range(0..5)];
                    s.recv_response(r.response(status, "X", Some("t")), peer(proto, NEXT_HOP));
                }
                4 if !clients.is_empty() => {
                    let (tx, _) = clients[rng.gen_range(0..clients.len())];
                    s.cancel(tx);
                }
                5 => {
                    s.layer.transport_error(s.now, peer(proto, NEXT_HOP));
                    s.drain();
                }
                _ => {
                    let t = s.elapsed() + ms(rng.gen_range(0..5000));
                    s.run_until(t);
                }
            }
            if let Some(at) = s.layer.poll_timeout() {
                assert!(at >= s.now, "round {round} step {step}: timeout in the past");
            }
        }
        s.run_to_end();
        // Server INVITEs still in Proceeding wait for the TU; answer them so they can end.
        let open: Vec<(TxId, Request)> = servers.iter().filter(|(tx, _)| s.layer.state(*tx).is_some()).cloned().collect();
        for (tx, r) in open {
            let _ = s.respond(tx, r.response(500, "X", Some("t")));
        }
        s.run_to_end();
        // Client INVITEs in Proceeding wait for a final (Timer C is the TU's): give them one.
        let open: Vec<(TxId, Request)> = clients.iter().filter(|(tx, _)| s.layer.state(*tx).is_some()).cloned().collect();
        for (_, r) in open {
            s.recv_response(r.response(408, "X", Some("t")), peer(Protocol::Udp, NEXT_HOP));
        }
        s.run_to_end();
        assert_eq!(s.layer.len(), (0, 0), "round {round}: transactions left behind: {:?}", s.layer);
        assert_eq!(s.layer.poll_timeout(), None);
    }
}
