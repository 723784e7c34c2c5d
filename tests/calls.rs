//! Calls through the stateful proxy, SIPp caller and callee(s) registered with the real daemon
//! (test file T=2): answered calls on UDP and TCP, CANCEL, busy, forking with CANCEL of the
//! losing branch, retransmission when the callee drops the first INVITE, 404/480, OPTIONS,
//! a response relayed with the endpoints' addresses as received, the caller's credentials kept
//! from the callee.

mod common;
use common::digest::{authorization, headers, register_raw, status};
use common::*;
use std::time::Duration;

fn node(ip: &str) -> Node {
    Node::builder().user("alice", "alicepw").user("bob", "bobpw").user("carol", "carolpw").md5_only().start(ip, 5060)
}

#[test]
fn answered_call_udp() {
    let n = node("127.2.1.1");
    let callee = sipp_callee(&n.target(), "127.2.1.3", 5062, "bob", "bobpw", "uas_answer.xml", &[]);
    sipp_caller(&n.target(), "127.2.1.2", 5061, "alice", "alicepw", "bob", "uac_call.xml", &[]).assert_ok();
    callee.join().assert_ok();
}

#[test]
fn answered_call_tcp() {
    let n = node("127.2.2.1");
    let callee = sipp_callee(&n.target(), "127.2.2.3", 5062, "bob", "bobpw", "uas_answer.xml", &["-t", "t1"]);
    std::thread::sleep(Duration::from_millis(300));
    sipp_caller(&n.target(), "127.2.2.2", 5061, "alice", "alicepw", "bob", "uac_call.xml", &["-t", "t1"]).assert_ok();
    callee.join().assert_ok();
}

#[test]
fn cancel_before_answer() {
    let n = node("127.2.3.1");
    let callee = sipp_callee(&n.target(), "127.2.3.3", 5062, "bob", "bobpw", "uas_ring_cancel.xml", &[]);
    sipp_caller(&n.target(), "127.2.3.2", 5061, "alice", "alicepw", "bob", "uac_cancel.xml", &[]).assert_ok();
    callee.join().assert_ok();
}

#[test]
fn busy_callee() {
    let n = node("127.2.4.1");
    let callee = sipp_callee(&n.target(), "127.2.4.3", 5062, "bob", "bobpw", "uas_busy.xml", &[]);
    sipp_caller(&n.target(), "127.2.4.2", 5061, "alice", "alicepw", "bob", "uac_busy.xml", &[]).assert_ok();
    callee.join().assert_ok();
}

#[test]
fn forking_to_two_contacts() {
    let n = node("127.2.5.1");
    // bob registers twice: one phone answers, the other rings and must be cancelled.
    let answering = sipp_callee(&n.target(), "127.2.5.3", 5062, "bob", "bobpw", "uas_answer.xml", &[]);
    let ringing = sipp_callee(&n.target(), "127.2.5.4", 5062, "bob", "bobpw", "uas_ring_cancel.xml", &[]);
    sipp_caller(&n.target(), "127.2.5.2", 5061, "alice", "alicepw", "bob", "uac_call.xml", &[]).assert_ok();
    answering.join().assert_ok();
    ringing.join().assert_ok();
}

#[test]
fn proxy_retransmits_when_first_invite_is_lost() {
    let n = node("127.2.6.1");
    let callee = sipp_callee(&n.target(), "127.2.6.3", 5062, "bob", "bobpw", "uas_drop_first.xml", &["-nr"]);
    sipp_caller(&n.target(), "127.2.6.2", 5061, "alice", "alicepw", "bob", "uac_call.xml", &[]).assert_ok();
    let run = callee.join();
    run.assert_ok();
    assert!(run.count_received("INVITE ") >= 2, "callee saw no retransmission:\n{}", run.report());
}

#[test]
fn responses_are_relayed_with_the_endpoints_addresses_as_received() {
    // The proxy reads a response's Via, To, Call-ID and CSeq (Response::validate_for_relay);
    // a 180 whose Contact and Record-Route are not valid SIP still reaches the caller, as it
    // would through Kamailio. (Checked with the full validation, it was dropped.)
    let n = node("127.2.10.1");
    let callee = sipp_callee(&n.target(), "127.2.10.3", 5062, "bob", "bobpw", "uas_odd_180.xml", &[]);
    let caller = sipp_caller(&n.target(), "127.2.10.2", 5061, "alice", "alicepw", "bob", "uac_call.xml", &[]);
    caller.assert_ok();
    callee.join().assert_ok();
    assert_eq!(caller.count_received("SIP/2.0 180"), 1, "the 180 did not reach the caller:\n{}", caller.report());
}

#[test]
fn the_callers_credentials_stop_at_the_proxy() {
    // Kamailio's consume_credentials: the Proxy-Authorization that authenticated the caller is
    // not forwarded to the callee (it names the caller's account and answers our nonce);
    // credentials for another realm, meant for a proxy further on, are.
    let n = node("127.2.11.1");
    let bob = UdpPeer::bind("127.2.11.3", 5062);
    let mut cseq = 1;
    let contact = format!("Contact: <sip:bob@{}>", bob.local());
    assert_eq!(status(&register_raw(&bob, &n, "bob", "bobpw", "reg-pa", &mut cseq, &[contact])), 200);
    let alice = UdpPeer::bind("127.2.11.2", 5061);
    let target = n.target();
    let uri = format!("sip:bob@{target}");
    let other =
        r#"Digest username="alice", realm="elsewhere", nonce="n1", uri="sip:bob@elsewhere", response="00000000000000000000000000000000""#;
    let build = |cseq: u32, auth: &[String]| {
        let mut s = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {l};rport;branch=z9hG4bKpa{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@{target}>;tag=pa\r\nTo: <sip:bob@{target}>\r\nCall-ID: pa-consumed\r\nCSeq: {cseq} INVITE\r\nContact: <sip:alice@{l}>\r\n",
            l = alice.local()
        );
        for a in auth {
            s.push_str(&format!("Proxy-Authorization: {a}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s
    };
    alice.send(n.addr(), build(1, &[other.to_string()]).as_bytes());
    let r = String::from_utf8_lossy(&alice.recv_until("SIP/2.0 407", Duration::from_secs(5)).unwrap_or_default()).to_string();
    let chal = headers(&r, "Proxy-Authenticate").into_iter().next().unwrap_or_default();
    assert!(!chal.is_empty(), "no challenge: {r}");
    let ours = authorization(&chal, "alice", "alicepw", "INVITE", &uri, 1);
    // Another realm's credentials first: the proxy must find and take off its own.
    alice.send(n.addr(), build(2, &[other.to_string(), ours]).as_bytes());
    let inv = String::from_utf8_lossy(&bob.recv_until("INVITE ", Duration::from_secs(5)).unwrap_or_default()).to_string();
    assert!(inv.starts_with("INVITE "), "the INVITE did not reach the callee");
    let forwarded = headers(&inv, "Proxy-Authorization");
    assert_eq!(forwarded, vec![other.to_string()], "forwarded credentials:\n{inv}");
}

fn invite_raw(n: &Node, peer: &UdpPeer, to_user: &str, call_id: &str) -> String {
    common::digest::invite(peer, n.addr(), "alice", "alicepw", to_user, call_id)
}

#[test]
fn unknown_user_404_and_unregistered_480() {
    let n = node("127.2.7.1");
    let peer = UdpPeer::bind("127.2.7.2", 5061);
    assert_eq!(status(&invite_raw(&n, &peer, "nobody", "c404")), 404);
    assert_eq!(status(&invite_raw(&n, &peer, "carol", "c480")), 480);
}

#[test]
fn options_to_the_node() {
    let n = node("127.2.8.1");
    sipp("options.xml", &n.target(), &["-i", "127.2.8.2", "-p", "5061", "-m", "3"]).assert_ok();
    let peer = UdpPeer::bind("127.2.8.3", 5061);
    peer.send(n.addr(), options_request(peer.local(), n.addr(), "UDP").as_bytes());
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", Duration::from_secs(5)).unwrap_or_default()).to_string();
    assert_eq!(status(&r), 200, "{r}");
    let allow = headers(&r, "Allow").join(",");
    for m in ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"] {
        assert!(allow.contains(m), "Allow lacks {m}: {allow}");
    }
}

#[test]
fn max_forwards_zero_is_483() {
    let n = node("127.2.9.1");
    let peer = UdpPeer::bind("127.2.9.2", 5061);
    // Zero Max-Forwards on a request the node would have to forward.
    let msg = format!(
        "OPTIONS sip:bob@{t} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKmf0\r\nMax-Forwards: 0\r\nFrom: <sip:x@{l}>;tag=1\r\nTo: <sip:bob@{t}>\r\nCall-ID: mf0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        t = n.target(),
        l = peer.local()
    );
    peer.send(n.addr(), msg.as_bytes());
    let r = String::from_utf8_lossy(&peer.recv_until("SIP/2.0 ", Duration::from_secs(5)).unwrap_or_default()).to_string();
    // Max-Forwards is checked before authentication (as Kamailio's maxfwd): 483, not 407.
    assert_eq!(status(&r), 483, "{r}");
}
