//! REGISTERs the registrar answered 200 without keeping a server transaction, remembered by a
//! keyed digest for Timer J (64·T1) so that a retransmission still gets its 200.
//!
//! Why: a server transaction per REGISTER kept for Timer J is ~1.5 KB held 32 s — at 8,000
//! REGISTER/s that is 256k live transactions whose heap growth alone cost ~28% of urpd's CPU
//! (page faults; docs/benchmarks.md). Kamailio answers REGISTER statelessly (`save()` with
//! `sl`), but RFC 3261 §8.2.7 rules out a stateless registrar: a retransmitted REGISTER must
//! not be processed again (its nonce-count would be a replay, its CSeq no longer higher). This
//! keeps that behaviour for 16 bytes per REGISTER instead of a transaction: a request whose
//! transaction key (top Via branch and sent-by), Call-ID, CSeq, To and credentials match one
//! answered within Timer J is a retransmission, and gets a 200 regenerated from the current
//! bindings — read-only, so a replayed copy with a different Contact changes nothing, exactly
//! as a transaction would have answered it from its cached response.
//!
//! Contract: no clock, no I/O; expiry is FIFO because every entry lives the same Timer J.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use crate::sip::{HeaderName, Request, SipHeaders};
use crate::transaction::{DigestHasher, ServerKey, ShardedMap};

/// Digests of recently answered REGISTERs.
#[derive(Debug)]
pub struct Answered {
    keys: std::collections::hash_map::RandomState,
    /// Sharded (no stall when it grows: 768k entries at 24,000 REGISTER/s) and not hashed
    /// again: the keys are keyed digests already.
    seen: ShardedMap<u64, (), DigestHasher>,
    order: VecDeque<(Instant, u64)>,
    ttl: Duration,
}

impl Answered {
    /// Remembers answers for `ttl` (Timer J: 64·T1 on UDP).
    pub fn new(ttl: Duration) -> Answered {
        Answered { keys: Default::default(), seen: ShardedMap::default(), order: VecDeque::new(), ttl }
    }

    /// The digest that identifies `req`, filed under the server transaction `key`, and its
    /// credentials; `None` for an RFC 2543 key (no unique branch: such requests keep a full
    /// transaction). The key's branch and sent-by stand for the top Via: the transaction layer
    /// parsed it already.
    pub fn digest(&self, key: &ServerKey, req: &Request) -> Option<u64> {
        let ServerKey::Rfc3261 { branch_host, split, port, .. } = key else { return None };
        let mut h = self.keys.build_hasher();
        branch_host.hash(&mut h);
        split.hash(&mut h);
        port.hash(&mut h);
        req.call_id().hash(&mut h);
        req.cseq().hash(&mut h);
        req.headers.get(&HeaderName::To).map(|v| v.as_str()).hash(&mut h);
        for v in req.headers.get_all(&HeaderName::Authorization) {
            v.as_str().hash(&mut h);
        }
        Some(h.finish())
    }

    /// Whether `digest` was answered within the last `ttl` before `now`.
    pub fn contains(&mut self, now: Instant, digest: u64) -> bool {
        self.expire(now);
        self.seen.contains_key(&digest)
    }

    /// Records that `digest` was answered at `now`.
    pub fn insert(&mut self, now: Instant, digest: u64) {
        self.expire(now);
        if self.seen.insert(digest, ()).is_none() {
            self.order.push_back((now + self.ttl, digest));
        }
    }

    /// How many answers are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Forgets what Timer J let go of at `now`, and gives back the memory a burst of
    /// registrations left behind: without it a table stayed at its peak size while no
    /// REGISTER arrived to expire its entries (the core calls this once a second).
    pub fn sweep(&mut self, now: Instant) {
        self.expire(now);
        self.seen.shrink_sparse();
        if crate::transaction::sparse(self.order.len(), self.order.capacity(), 1024) {
            self.order.shrink_to(self.order.len() * 2);
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, d)) = self.order.front() {
            if at > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_datagram, Message};
    use bytes::Bytes;

    fn register(branch: &str, cseq: u32, auth: &str) -> Request {
        let text = format!(
            "REGISTER sip:urpd SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch={branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:u1@urpd>;tag=1\r\nTo: <sip:u1@urpd>\r\nCall-ID: c1\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:u1@127.0.0.1:5061>\r\nAuthorization: Digest username=\"u1\", {auth}\r\nContent-Length: 0\r\n\r\n"
        );
        match parse_datagram(Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn digest(a: &Answered, req: &Request) -> Option<u64> {
        a.digest(&ServerKey::for_request(req)?, req)
    }

    #[test]
    fn a_retransmission_is_known_for_timer_j_and_only_then() {
        let t0 = Instant::now();
        let mut a = Answered::new(Duration::from_secs(32));
        let d = digest(&a, &register("z9hG4bK1", 2, "nc=00000001")).unwrap();
        assert!(!a.contains(t0, d));
        a.insert(t0, d);
        // the same request again (a retransmission): same digest, known
        assert_eq!(digest(&a, &register("z9hG4bK1", 2, "nc=00000001")), Some(d));
        assert!(a.contains(t0 + Duration::from_secs(31), d));
        // a new transaction, a new CSeq or other credentials are not retransmissions
        assert_ne!(digest(&a, &register("z9hG4bK2", 2, "nc=00000001")), Some(d));
        assert_ne!(digest(&a, &register("z9hG4bK1", 3, "nc=00000001")), Some(d));
        assert_ne!(digest(&a, &register("z9hG4bK1", 2, "nc=00000002")), Some(d));
        // after Timer J it is forgotten (the sweep gives the memory back: see below)
        assert!(!a.contains(t0 + Duration::from_secs(32), d));
        assert!(a.is_empty());
    }

    #[test]
    fn the_sweep_lets_go_of_a_burst_without_further_registers() {
        let t0 = Instant::now();
        let mut a = Answered::new(Duration::from_secs(32));
        for d in 0..50_000u64 {
            a.insert(t0, d.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        a.insert(t0 + Duration::from_secs(20), 7);
        a.sweep(t0 + Duration::from_secs(40));
        assert_eq!(a.len(), 1);
        assert!(a.seen.capacity() < 4_096 && a.order.capacity() < 1_024, "{} {}", a.seen.capacity(), a.order.capacity());
        assert!(a.contains(t0 + Duration::from_secs(40), 7));
        a.sweep(t0 + Duration::from_secs(60));
        assert!(a.is_empty());
    }
}
