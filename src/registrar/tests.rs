//! REGISTER scenarios against the location table, one test per RFC 3261 §10.3 rule.

use super::*;
use crate::sip::{parse_datagram, HeaderName, Message, Request};
use crate::transport::addr::{Peer, Protocol};
use bytes::Bytes;
use std::sync::Arc;

const POLICY: ExpiryPolicy = ExpiryPolicy { min: 60, max: 3600, default: 1800 };
const NOW: u64 = 1_700_000_000;

fn peer() -> Peer {
    Peer::new(Protocol::Udp, "198.51.100.7:40123".parse().unwrap_or_else(|e| panic!("{e}")))
}

/// A REGISTER for 1001 with the given Call-ID, CSeq, Contact lines and extra header lines.
fn reg(call_id: &str, cseq: u32, contacts: &[&str], extra: &[&str]) -> Request {
    let mut t = format!(
        "REGISTER sip:pa.example.it SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK{cseq}{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1001@pa.example.it>;tag=f1\r\n\
         To: <sip:1001@pa.example.it>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         User-Agent: TestPhone/1.0\r\n"
    );
    for c in contacts {
        t.push_str(&format!("Contact: {c}\r\n"));
    }
    for e in extra {
        t.push_str(e);
        t.push_str("\r\n");
    }
    t.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(Bytes::from(t)) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn ok(t: &mut LocationTable, now: u64, r: &Request) -> RegisterOutcome {
    t.register(now, "1001", r, peer(), &POLICY).unwrap_or_else(|e| panic!("{e}"))
}

fn contacts(t: &LocationTable, now: u64) -> Vec<String> {
    t.lookup("1001", now).into_iter().map(|b| b.contact.to_string()).collect()
}

#[test]
fn new_binding_uses_contact_param_then_header_then_default() {
    let mut t = LocationTable::new();
    let out = ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1:5060>;expires=120"], &["Expires: 600"]));
    assert_eq!(out.current.len(), 1);
    assert_eq!(out.current[0].expires_at, NOW + 120);
    assert_eq!(out.current[0].received, peer());
    assert_eq!(out.current[0].user_agent.as_deref(), Some("TestPhone/1.0"));
    assert!(matches!(&out.changes[..], [Change::Upsert(b)] if &*b.contact == "sip:1001@192.0.2.1:5060"));

    let out = ok(&mut t, NOW, &reg("b", 1, &["<sip:1001@192.0.2.2>"], &["Expires: 600"]));
    assert_eq!(out.current.iter().find(|b| &*b.contact == "sip:1001@192.0.2.2").map(|b| b.expires_at), Some(NOW + 600));
    let out = ok(&mut t, NOW, &reg("c", 1, &["<sip:1001@192.0.2.3>"], &[]));
    assert_eq!(out.current.iter().find(|b| &*b.contact == "sip:1001@192.0.2.3").map(|b| b.expires_at), Some(NOW + 1800));
    assert_eq!(out.current.len(), 3);
}

#[test]
fn expires_clamped_to_max() {
    let mut t = LocationTable::new();
    let out = ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;expires=86400"], &[]));
    assert_eq!(out.current[0].expires_at, NOW + 3600);
    assert_eq!(out.current[0].contact_header_value(NOW), "<sip:1001@192.0.2.1>;expires=3600");
}

#[test]
fn too_brief_is_423_and_atomic() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>"], &[]));
    // The first contact is fine, the second too brief: nothing at all may change.
    let r = reg("a", 2, &["<sip:1001@192.0.2.1>;expires=0", "<sip:1001@192.0.2.9>;expires=30"], &[]);
    let e = t.register(NOW, "1001", &r, peer(), &POLICY);
    assert_eq!(e, Err(RegisterError::IntervalTooBrief { min: 60 }));
    assert_eq!(e.map(|_| 0).unwrap_err().status(), 423);
    assert_eq!(contacts(&t, NOW), vec!["sip:1001@192.0.2.1"]);
    // Too brief via the header as well.
    let e = t.register(NOW, "1001", &reg("a", 3, &["<sip:1001@192.0.2.9>"], &["Expires: 10"]), peer(), &POLICY);
    assert_eq!(e, Err(RegisterError::IntervalTooBrief { min: 60 }));
}

#[test]
fn refresh_updates_in_place_with_uri_equality() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@Host.Example:5060;transport=udp>;q=0.5"], &[]));
    let out = ok(&mut t, NOW + 100, &reg("a", 2, &["<SIP:1001@host.example:5060;transport=UDP>;q=0.8"], &[]));
    assert_eq!(out.current.len(), 1, "same contact must not be duplicated");
    let b = &out.current[0];
    assert_eq!((b.q, b.cseq, b.updated_at, b.expires_at), (800, 2, NOW + 100, NOW + 1900));
    // The spelling changed, so the persisted key changes: remove old, upsert new.
    assert_eq!(
        out.changes,
        vec![Change::Remove { aor: "1001".into(), contact: "sip:1001@Host.Example:5060;transport=udp".into() }, Change::Upsert(b.clone()),]
    );
    // A different port is a different contact.
    let out = ok(&mut t, NOW + 100, &reg("a", 3, &["<sip:1001@host.example>"], &[]));
    assert_eq!(out.current.len(), 2);
}

/// A plain refresh (same contact text, flow, q and User-Agent, lapse time no earlier) is a
/// `Change::Refresh`, which the writer may hold; anything routing or an operator reads that
/// changes makes it a full `Upsert`, written at once.
#[test]
fn plain_refresh_is_told_apart_from_a_change() {
    let mut t = LocationTable::new();
    let first = ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>"], &["Expires: 600"]));
    assert!(matches!(&first.changes[..], [Change::Upsert(_)]), "{:?}", first.changes);
    // Later, same everything, a new CSeq and even a new Call-ID: a refresh.
    let out = ok(&mut t, NOW + 300, &reg("a", 2, &["<sip:1001@192.0.2.1>"], &["Expires: 600"]));
    assert!(matches!(&out.changes[..], [Change::Refresh(b)] if b.cseq == 2 && b.expires_at == NOW + 900), "{:?}", out.changes);
    let out = ok(&mut t, NOW + 301, &reg("b", 1, &["<sip:1001@192.0.2.1>"], &["Expires: 600"]));
    assert!(matches!(&out.changes[..], [Change::Refresh(b)] if &*b.call_id == "b"), "{:?}", out.changes);
    // A shorter grant moves the lapse time earlier: written at once.
    let out = ok(&mut t, NOW + 302, &reg("b", 2, &["<sip:1001@192.0.2.1>"], &["Expires: 60"]));
    assert!(matches!(&out.changes[..], [Change::Upsert(b)] if b.expires_at == NOW + 362), "{:?}", out.changes);
    // Another q: written at once.
    let out = ok(&mut t, NOW + 303, &reg("b", 3, &["<sip:1001@192.0.2.1>;q=0.5"], &["Expires: 600"]));
    assert!(matches!(&out.changes[..], [Change::Upsert(b)] if b.q == 500), "{:?}", out.changes);
    // Another flow (the phone's NAT binding moved): written at once.
    let moved = Peer::new(Protocol::Udp, "198.51.100.7:40999".parse().unwrap_or_else(|e| panic!("{e}")));
    let r = reg("b", 4, &["<sip:1001@192.0.2.1>;q=0.5"], &["Expires: 600"]);
    let out = t.register(NOW + 304, "1001", &r, moved, &POLICY).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&out.changes[..], [Change::Upsert(b)] if b.received == moved), "{:?}", out.changes);
}

#[test]
fn new_call_id_replaces_regardless_of_cseq() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 50, &["<sip:1001@192.0.2.1>"], &[]));
    // The phone rebooted: new Call-ID, CSeq restarts at 1. Must be accepted.
    let out = ok(&mut t, NOW, &reg("b", 1, &["<sip:1001@192.0.2.1>"], &[]));
    assert_eq!((&*out.current[0].call_id, out.current[0].cseq), ("b", 1));
}

#[test]
fn same_call_id_stale_cseq_is_500_out_of_order() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 5, &["<sip:1001@192.0.2.1>"], &[]));
    for cseq in [5, 4] {
        let e = t.register(NOW, "1001", &reg("a", cseq, &["<sip:1001@192.0.2.1>;expires=0"], &[]), peer(), &POLICY);
        assert!(matches!(&e, Err(RegisterError::OutOfOrder { .. })), "{e:?}");
        assert_eq!(e.map(|_| 0).unwrap_err().status(), 500);
    }
    assert_eq!(contacts(&t, NOW), vec!["sip:1001@192.0.2.1"]);
    ok(&mut t, NOW, &reg("a", 6, &["<sip:1001@192.0.2.1>"], &[]));
}

#[test]
fn expires_zero_removes_and_unknown_zero_is_noop() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>", "<sip:1001@192.0.2.2>"], &[]));
    let out = ok(&mut t, NOW, &reg("a", 2, &["<sip:1001@192.0.2.1>"], &["Expires: 0"]));
    assert_eq!(out.changes, vec![Change::Remove { aor: "1001".into(), contact: "sip:1001@192.0.2.1".into() }]);
    assert_eq!(contacts(&t, NOW), vec!["sip:1001@192.0.2.2"]);
    let out = ok(&mut t, NOW, &reg("a", 3, &["<sip:1001@192.0.2.77>;expires=0"], &[]));
    assert!(out.changes.is_empty());
    assert_eq!(out.current.len(), 1);
    let out = ok(&mut t, NOW, &reg("a", 4, &["<sip:1001@192.0.2.2>;expires=0"], &["Expires: 3600"]));
    assert!(out.current.is_empty());
    assert!(t.is_empty());
}

#[test]
fn wildcard_removes_all() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>"], &[]));
    ok(&mut t, NOW, &reg("b", 1, &["<sip:1001@192.0.2.2>"], &[]));
    let out = ok(&mut t, NOW, &reg("c", 1, &["*"], &["Expires: 0"]));
    assert!(out.current.is_empty());
    assert_eq!(out.changes.len(), 2);
    assert!(out.changes.iter().all(|c| matches!(c, Change::Remove { .. })));
    assert_eq!(t.len(), 0);
}

#[test]
fn wildcard_misuse_is_400() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>"], &[]));
    for (cs, extra) in [
        (vec!["*"], vec![]),
        (vec!["*"], vec!["Expires: 60"]),
        (vec!["*", "<sip:1001@192.0.2.1>"], vec!["Expires: 0"]),
        (vec!["*;expires=0"], vec!["Expires: 0"]),
    ] {
        let e = t.register(NOW, "1001", &reg("a", 9, &cs, &extra), peer(), &POLICY);
        assert_eq!(e, Err(RegisterError::BadWildcard), "{cs:?} {extra:?}");
    }
    assert_eq!(RegisterError::BadWildcard.status(), 400);
    assert_eq!(t.len(), 1);
}

#[test]
fn wildcard_respects_call_id_cseq_rule() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 7, &["<sip:1001@192.0.2.1>"], &[]));
    ok(&mut t, NOW, &reg("b", 1, &["<sip:1001@192.0.2.2>"], &[]));
    // Same Call-ID as the first binding with an older CSeq: the whole request fails.
    let e = t.register(NOW, "1001", &reg("a", 7, &["*"], &["Expires: 0"]), peer(), &POLICY);
    assert!(matches!(e, Err(RegisterError::OutOfOrder { .. })));
    assert_eq!(t.len(), 2);
    // Higher CSeq: allowed.
    ok(&mut t, NOW, &reg("a", 8, &["*"], &["Expires: 0"]));
    assert_eq!(t.len(), 0);
}

#[test]
fn malformed_contacts_are_400() {
    let mut t = LocationTable::new();
    for c in
        ["<sip:1001@192.0.2.1", "<sip:1001@bad host>", "<mailto:a@b.c>", "<sip:1001@h>;q=2", "<sip:1001@h>;expires=soon", "\"x <sip:a@b>"]
    {
        let e = t.register(NOW, "1001", &reg("a", 1, &[c], &[]), peer(), &POLICY);
        assert!(matches!(&e, Err(RegisterError::BadContact(_))), "{c}: {e:?}");
    }
    let e = t.register(NOW, "1001", &reg("a", 1, &["<sip:1001@h>"], &["Expires: never"]), peer(), &POLICY);
    assert_eq!(e, Err(RegisterError::BadExpires));
    assert!(t.is_empty());
}

#[test]
fn query_changes_nothing() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;q=0.3", "<sip:1001@192.0.2.2>;q=0.9"], &[]));
    let out = ok(&mut t, NOW + 10, &reg("z", 1, &[], &[]));
    assert!(out.changes.is_empty());
    assert_eq!(out.current.iter().map(|b| b.q).collect::<Vec<_>>(), vec![900, 300]);
    assert_eq!(out.current[0].contact_header_value(NOW + 10), "<sip:1001@192.0.2.2>;expires=1790;q=0.9");
}

#[test]
fn missing_call_id_or_cseq_is_400() {
    let mut t = LocationTable::new();
    let mut r = reg("a", 1, &["<sip:1001@h>"], &[]);
    r.headers.remove_all(&crate::sip::HeaderName::CSeq);
    assert_eq!(t.register(NOW, "1001", &r, peer(), &POLICY), Err(RegisterError::MissingHeader("CSeq")));
    r.headers.remove_all(&crate::sip::HeaderName::CallId);
    assert_eq!(t.register(NOW, "1001", &r, peer(), &POLICY), Err(RegisterError::MissingHeader("Call-ID")));
}

#[test]
fn cap_refuses_growth_with_503_and_retry_after() {
    let mut t = LocationTable::with_max_contacts(2);
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;expires=100"], &[]));
    ok(&mut t, NOW, &reg("b", 1, &["<sip:1001@192.0.2.2>"], &[]));
    let e = t.register(NOW + 10, "1001", &reg("c", 1, &["<sip:1001@192.0.2.3>"], &[]), peer(), &POLICY);
    assert_eq!(e, Err(RegisterError::TooManyContacts { max: 2, retry_after: Some(90) }));
    assert_eq!(e.map(|_| 0).unwrap_err().status(), 503);
    // Refreshing an existing one, or swapping one for another in one request, is fine.
    ok(&mut t, NOW + 10, &reg("b", 2, &["<sip:1001@192.0.2.2>"], &[]));
    ok(&mut t, NOW + 10, &reg("b", 3, &["<sip:1001@192.0.2.2>;expires=0", "<sip:1001@192.0.2.3>"], &[]));
    assert_eq!(t.len(), 2);
    // Once the first lapses its slot is free again (and its removal is reported).
    let out = ok(&mut t, NOW + 100, &reg("d", 1, &["<sip:1001@192.0.2.4>"], &[]));
    assert_eq!(out.current.len(), 2);
    assert_eq!(out.changes[0], Change::Remove { aor: "1001".into(), contact: "sip:1001@192.0.2.1".into() });
    assert_eq!(DEFAULT_MAX_CONTACTS, LocationTable::new().max_contacts());
}

#[test]
fn lapsed_binding_does_not_block_same_call_id() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 9, &["<sip:1001@192.0.2.1>;expires=60"], &[]));
    // After it lapsed, even an old CSeq of the same Call-ID creates it anew.
    ok(&mut t, NOW + 61, &reg("a", 3, &["<sip:1001@192.0.2.1>"], &[]));
    assert_eq!(t.lookup("1001", NOW + 61)[0].cseq, 3);
}

#[test]
fn duplicate_contact_in_one_request_last_wins() {
    let mut t = LocationTable::new();
    let out = ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;expires=100", "<sip:1001@192.0.2.1>;expires=200"], &[]));
    assert_eq!(out.current.len(), 1);
    assert_eq!(out.current[0].expires_at, NOW + 200);
    let out = ok(&mut t, NOW, &reg("a", 2, &["<sip:1001@192.0.2.1>", "<sip:1001@192.0.2.1>;expires=0"], &[]));
    assert!(out.current.is_empty());
    assert!(!out.changes.iter().any(|c| matches!(c, Change::Upsert(_))));
}

#[test]
fn lookup_orders_by_q_then_recency_and_hides_lapsed() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;q=0.5"], &[]));
    ok(&mut t, NOW + 5, &reg("b", 1, &["<sip:1001@192.0.2.2>;q=0.5"], &[]));
    ok(&mut t, NOW + 1, &reg("c", 1, &["<sip:1001@192.0.2.3>;q=1.0;expires=60"], &[]));
    assert_eq!(contacts(&t, NOW + 10), vec!["sip:1001@192.0.2.3", "sip:1001@192.0.2.2", "sip:1001@192.0.2.1"]);
    assert_eq!(contacts(&t, NOW + 61), vec!["sip:1001@192.0.2.2", "sip:1001@192.0.2.1"]);
    assert!(t.lookup("nobody", NOW).is_empty());
}

#[test]
fn expire_next_expiry_len_aors_all() {
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;expires=60", "<sip:1001@192.0.2.2>;expires=120"], &[]));
    t.register(NOW, "1002", &reg("x", 1, &["<sip:1002@192.0.2.5>;expires=90"], &[]), peer(), &POLICY).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.len(), 3);
    assert_eq!(t.next_expiry(), Some(NOW + 60));
    let mut aors: Vec<&str> = t.aors().collect();
    aors.sort();
    assert_eq!(aors, vec!["1001", "1002"]);
    assert!(t.expire(NOW + 59).is_empty());
    assert_eq!(t.expire(NOW + 90).len(), 2);
    assert_eq!(t.len(), 1);
    assert_eq!(t.aors().collect::<Vec<_>>(), vec!["1001"]);
    assert_eq!(t.next_expiry(), Some(NOW + 120));
    assert_eq!(t.all().count(), 1);
    t.expire(NOW + 120);
    assert_eq!(t.next_expiry(), None);
}

#[test]
fn load_skips_lapsed_and_dedups() {
    let mut src = LocationTable::new();
    ok(&mut src, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;expires=60", "<sip:1001@192.0.2.2>"], &[]));
    let mut saved: Vec<Binding> = src.all().cloned().collect();
    let mut dup = saved[0].clone();
    dup.updated_at -= 1;
    saved.push(dup);
    let mut t = LocationTable::new();
    t.load(saved.clone(), NOW + 30);
    assert_eq!(t.len(), 2);
    let mut t = LocationTable::new();
    t.load(saved, NOW + 61);
    assert_eq!(contacts(&t, NOW + 61), vec!["sip:1001@192.0.2.2"]);
    // A loaded binding obeys the same CSeq rule.
    let e = t.register(NOW + 61, "1001", &reg("a", 1, &["<sip:1001@192.0.2.2>"], &[]), peer(), &POLICY);
    assert!(matches!(e, Err(RegisterError::OutOfOrder { .. })));
}

#[test]
fn received_flow_is_recorded_per_register() {
    let mut t = LocationTable::new();
    let tcp = Peer::new(Protocol::Tcp, "203.0.113.9:51000".parse().unwrap_or_else(|e| panic!("{e}")));
    let r = reg("a", 1, &["<sip:1001@10.0.0.12:5060;transport=tcp>"], &[]);
    let out = t.register(NOW, "1001", &r, tcp, &POLICY).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.current[0].received, tcp);
}

#[test]
fn expiry_index_touches_only_lapsed_bindings_and_follows_refreshes() {
    let mut t = LocationTable::new();
    let now = 1_000;
    let policy = ExpiryPolicy { min: 60, max: 7200, default: 3600 };
    // a expires at now+100, b at now+200.
    t.register(now, "a", &reg("ca", 1, &["<sip:a@h1>;expires=100"], &[]), peer(), &policy).unwrap_or_else(|e| panic!("{e}"));
    t.register(now, "b", &reg("cb", 1, &["<sip:b@h2>;expires=200"], &[]), peer(), &policy).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.next_expiry(), Some(now + 100));
    // a refreshes to now+300: its index entry stays at now+100, a lower bound (moving it on
    // every refresh cost a B-tree removal and insertion)...
    t.register(now + 50, "a", &reg("ca", 2, &["<sip:a@h1>;expires=250"], &[]), peer(), &policy).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.next_expiry(), Some(now + 100));
    // ...which must not expire it: the sweep that meets it there re-files it at its true time.
    assert!(t.expire(now + 150).is_empty());
    assert_eq!(t.next_expiry(), Some(now + 200));
    // A refresh to an earlier time (a: now+220) moves the entry at once.
    t.register(now + 160, "a", &reg("ca", 3, &["<sip:a@h1>;expires=60"], &[]), peer(), &policy).unwrap_or_else(|e| panic!("{e}"));
    let gone = t.expire(now + 201);
    assert_eq!(gone.len(), 1);
    assert!(matches!(&gone[0], Change::Remove { aor, .. } if &**aor == "b"));
    assert_eq!(t.next_expiry(), Some(now + 220));
    assert_eq!(t.expire(now + 221).len(), 1);
    assert_eq!(t.next_expiry(), None);
    assert!(t.is_empty());
}

#[test]
fn load_merges_with_bindings_already_held() {
    let mut src = LocationTable::new();
    ok(&mut src, NOW, &reg("a", 1, &["<sip:1001@192.0.2.1>;expires=60"], &[]));
    let saved: Vec<Binding> = src.all().cloned().collect();
    let mut t = LocationTable::new();
    ok(&mut t, NOW, &reg("b", 1, &["<sip:1001@192.0.2.9>;expires=120"], &[]));
    t.load(saved, NOW);
    assert_eq!(contacts(&t, NOW), vec!["sip:1001@192.0.2.1", "sip:1001@192.0.2.9"]);
    // The expiry index follows the merged list: the loaded binding lapses first.
    assert_eq!(t.next_expiry(), Some(NOW + 60));
    assert_eq!(t.expire(NOW + 60).len(), 1);
    assert_eq!(contacts(&t, NOW + 60), vec!["sip:1001@192.0.2.9"]);
    assert_eq!(t.next_expiry(), Some(NOW + 120));
}

/// A REGISTER for `aor` from a phone that says it is `ua`.
fn reg_from(aor: &str, ua: &str) -> Request {
    let t = format!(
        "REGISTER sip:pa.example.it SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK{aor}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{aor}@pa.example.it>;tag=f1\r\n\
         To: <sip:{aor}@pa.example.it>\r\n\
         Call-ID: c-{aor}\r\n\
         CSeq: 1 REGISTER\r\n\
         User-Agent: {ua}\r\n\
         Contact: <sip:{aor}@192.0.2.4>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_datagram(Bytes::from(t)) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn user_agent_text_is_shared_between_aors_and_bounded() {
    let mut t = LocationTable::new();
    t.register(NOW, "2001", &reg_from("2001", "Office/2.1"), peer(), &POLICY).unwrap_or_else(|e| panic!("{e}"));
    t.register(NOW, "2002", &reg_from("2002", "Office/2.1"), peer(), &POLICY).unwrap_or_else(|e| panic!("{e}"));
    let a = t.lookup("2001", NOW)[0].user_agent.clone();
    let b = t.lookup("2002", NOW)[0].user_agent.clone();
    match (a, b) {
        (Some(a), Some(b)) => assert!(Arc::ptr_eq(&a, &b), "one allocation for one text"),
        other => panic!("user agents not kept: {other:?}"),
    }
    // Distinct texts past the bound are kept per binding, not in the shared set.
    for i in 0..1100 {
        let aor = format!("3{i:04}");
        t.register(NOW, &aor, &reg_from(&aor, &format!("Phone/{i}")), peer(), &POLICY).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(t.agent_texts(), 1024);
    let last = t.lookup("31099", NOW)[0].user_agent.as_deref().map(str::to_owned);
    assert_eq!(last.as_deref(), Some("Phone/1099"));
    // Once full, the set drops the texts no binding holds any more.
    for i in 0..600 {
        let aor = format!("3{i:04}");
        let mut r = reg_from(&aor, "x");
        r.headers.set(HeaderName::Expires, "0");
        r.headers.set(HeaderName::CSeq, "2 REGISTER");
        r.headers.remove_all(&HeaderName::UserAgent);
        t.register(NOW, &aor, &r, peer(), &POLICY).unwrap_or_else(|e| panic!("{e}"));
    }
    t.expire(NOW + 1);
    assert_eq!(t.agent_texts(), 1 + 1023 - 600);
}

/// `refresh_alone` (a lone binding refreshed in place) against the general path: the same
/// sequence of REGISTERs, from varied phones, through two tables, one of them forced down the
/// general path, gives the same outcomes (or errors), the same bindings and the same expiry
/// index.
#[test]
fn refresh_in_place_matches_the_general_path() {
    let mut fast = LocationTable::new();
    let mut general = LocationTable::new();
    general.general_only = true;
    let other_flow = Peer::new(Protocol::Udp, "198.51.100.7:40999".parse().unwrap_or_else(|e| panic!("{e}")));
    let c1 = "<sip:1001@192.0.2.1>";
    let steps: Vec<(u64, Request, Peer)> = vec![
        (NOW, reg("a", 1, &[c1], &["Expires: 600"]), peer()),
        // plain refreshes: same Call-ID, then a new one
        (NOW + 10, reg("a", 2, &[c1], &["Expires: 600"]), peer()),
        // the stored contact with a bad q or expires parameter (errors both ways), an expires
        // parameter, a removal by parameter, a new binding again
        (NOW + 11, reg("a", 3, &["<sip:1001@192.0.2.1>;q=x"], &["Expires: 600"]), peer()),
        (NOW + 12, reg("a", 4, &["<sip:1001@192.0.2.1>;expires=abc"], &["Expires: 600"]), peer()),
        (NOW + 13, reg("a", 5, &["<sip:1001@192.0.2.1>;expires=300"], &["Expires: 600"]), peer()),
        (NOW + 14, reg("a", 6, &["<sip:1001@192.0.2.1>;expires=2"], &[]), peer()),
        (NOW + 15, reg("a", 7, &["<sip:1001@192.0.2.1>;expires=0"], &[]), peer()),
        (NOW + 16, reg("a", 8, &[c1], &["Expires: 600"]), peer()),
        (NOW + 20, reg("b", 1, &[c1], &["Expires: 600"]), peer()),
        // out of order on the same Call-ID (an error both ways), then its retransmission
        (NOW + 21, reg("b", 1, &[c1], &["Expires: 600"]), peer()),
        (NOW + 22, reg("b", 0, &[c1], &["Expires: 600"]), peer()),
        // a shorter grant, another q, another flow, another spelling, no User-Agent
        (NOW + 30, reg("b", 2, &[c1], &["Expires: 60"]), peer()),
        (NOW + 31, reg("b", 3, &["<sip:1001@192.0.2.1>;q=0.5"], &["Expires: 600"]), peer()),
        (NOW + 32, reg("b", 4, &["<sip:1001@192.0.2.1>;q=0.5"], &["Expires: 600"]), other_flow),
        (NOW + 33, reg("b", 5, &["<sip:1001@192.0.2.1;transport=udp>;q=0.5"], &["Expires: 600"]), other_flow),
        (NOW + 34, reg("b", 6, &["<SIP:1001@192.0.2.1;transport=udp>;q=0.5"], &["Expires: 600"]), other_flow),
        // a bad contact, a too-brief one, a removal, a wildcard (errors or changes both ways)
        (NOW + 40, reg("b", 7, &["<mailto:x@y>"], &[]), other_flow),
        (NOW + 41, reg("b", 8, &[c1], &["Expires: 5"]), other_flow),
        (NOW + 42, reg("b", 9, &[c1], &["Expires: 600"]), other_flow),
        (NOW + 43, reg("b", 10, &[c1], &["Expires: 0"]), other_flow),
        (NOW + 44, reg("c", 1, &[c1, "<sip:1001@192.0.2.2>"], &["Expires: 600"]), peer()),
        (NOW + 45, reg("c", 2, &[c1], &["Expires: 600"]), peer()),
        (NOW + 46, reg("c", 3, &["*"], &["Expires: 0"]), peer()),
        // a lapsed lone binding refreshed after its lapse
        (NOW + 50, reg("d", 1, &[c1], &["Expires: 60"]), peer()),
        (NOW + 200, reg("d", 2, &[c1], &["Expires: 60"]), peer()),
        (NOW + 201, reg("d", 3, &[c1], &["Expires: 60"]), peer()),
    ];
    for (i, (now, r, from)) in steps.iter().enumerate() {
        let a = fast.register(*now, "1001", r, *from, &POLICY);
        let b = general.register(*now, "1001", r, *from, &POLICY);
        assert_eq!(a, b, "step {i}");
        let all = |t: &LocationTable| {
            let mut v: Vec<Binding> = t.all().cloned().collect();
            v.sort_by(|x, y| x.contact.cmp(&y.contact));
            v
        };
        assert_eq!(all(&fast), all(&general), "step {i}");
        assert_eq!(fast.next_expiry(), general.next_expiry(), "step {i}");
    }
}
