//! Stateless signed nonces plus bounded nonce-count (nc) replay tracking.
//!
//! A nonce is the lowercase hex of 40 bytes:
//! `key_id(4) || issued_at(8, big-endian unix secs) || seq(4) || random(8) || HMAC-SHA256(secret, key_id||issued_at||seq||random)[..16]`,
//! where `seq` counts the nonces this keeper issued (it places the nonce in the replay ring)
//! and `random` keeps the next nonce unpredictable.
//! Issuing needs no state; checking needs only the secret. `key_id` is derived from the secret
//! so that a nonce minted under another secret (e.g. before a restart with a random secret) is
//! told apart from a forged one: the former is [`NonceStatus::Stale`] (the client retries
//! silently once the digest proves it knows the password), the latter [`NonceStatus::Invalid`].
//!
//! Replay protection is the only state: a ring of slots indexed by `seq`, each holding the
//! nonce last recorded there and the highest `nc` accepted for it (Kamailio's `nc_array` does
//! the same with one byte per nonce id). A slot is written only after a digest verified (see
//! [`NonceKeeper::record`]), so peers without credentials cannot write it, and only by a nonce
//! issued after the one it holds (ordered by issue time, then `seq`): once a nonce's record
//! is overwritten, the slot holds a later nonce for good, and the earlier one is reported Stale
//! (the client re-authenticates with a fresh nonce) — a replay can never be accepted because
//! its record was dropped. A nonce issued before the keeper started (a restart with the same
//! secret) cannot have been tracked and is Stale too.
//!
//! Each entry also remembers which request used its last count (a fingerprint of its
//! transaction: top Via branch and sent-by, Call-ID, CSeq) and when, so that a retransmission
//! of that request is told apart from a replay: same nonce, same count, same transaction,
//! within the retransmission window (Timer J) → [`NcRecord::Retransmission`]. This is how the
//! registrar answers REGISTER without keeping a server transaction (RFC 3261 §8.2.7 still
//! holds: a retransmission is not processed again) at no cost beyond the lookup the replay
//! check makes anyway; the fingerprint needs no key, because matching it needs the verified
//! digest of the same nonce and count, which only the original request (or a byte copy of it,
//! answered the same read-only way) carries.
//!
//! Why a ring: the hash map (with a queue in recording order for eviction) it replaces was full
//! and churning at the REGISTER top, and each record cost three scattered memory accesses (the
//! lookup, the eviction, the insert) for a few hundred instructions: ~1.6% of urpd's CPU there
//! (perf). A nonce's slot is found by its `seq` alone, and nonces are used soon after they are
//! issued, so the slots written at any moment are neighbours.
//!
//! Contract: no clock, no I/O; `now` is unix seconds supplied by the caller.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::atomic::{AtomicU32, Ordering};

type HmacSha256 = Hmac<Sha256>;

const KEY_ID_LEN: usize = 4;
const TS_LEN: usize = 8;
const SEQ_LEN: usize = 4;
const RAND_LEN: usize = 8;
const MAC_LEN: usize = 16;
const SIGNED_LEN: usize = KEY_ID_LEN + TS_LEN + SEQ_LEN + RAND_LEN;
const NONCE_LEN: usize = SIGNED_LEN + MAC_LEN;

/// Default number of tracked nonces (rounded up to a power of two: 131,072 slots of 32 bytes, 4 MiB,
/// against ~5 MB for the map it replaced when full).
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 100_000;

/// Identity of one of our nonces, as decoded from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NonceId {
    /// Unix seconds at which the nonce was issued.
    pub issued_at: u64,
    /// Which of the keeper's nonces it is (wrapping count).
    seq: u32,
    /// Its random part, told apart from another keeper's nonce with the same time and `seq`.
    random: u64,
}

impl NonceId {
    /// Issue order: time first, then `seq` (several nonces are issued each second). Slots only
    /// ever move forward in it. Time first so that another keeper's `seq` (a shared secret)
    /// cannot move a slot backwards; a wall clock stepped back only delays the nonces whose
    /// slot holds a record from the skipped seconds (Stale until the clock passes them), and a
    /// slot is reused only after `slots.len()` more nonces.
    fn order(&self) -> u64 {
        (self.issued_at << 32) | u64::from(self.seq)
    }
}

/// One slot of the replay ring: the nonce recorded there last and what it spent.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The nonce's [`NonceId::order`]; 0 for a slot never written.
    order: u64,
    /// The nonce's random part.
    random: u64,
    /// The highest count accepted.
    nc: u32,
    /// When that count was accepted (unix seconds, low 32 bits).
    at: u32,
    /// The fingerprint of the request that used it; 0 for none (see [`NcRecord`]).
    request: u64,
}

impl Slot {
    fn holds(&self, id: &NonceId) -> bool {
        self.order == id.order() && self.random == id.random
    }
}

/// What recording a nonce-count found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcRecord {
    /// A count higher than any before: accepted and recorded.
    Fresh,
    /// The count last accepted, by the same request (same fingerprint) within the
    /// retransmission window: a retransmission, to be answered as before and not processed.
    Retransmission,
    /// A count already spent by another request, or too late: refused.
    Replay,
}

/// Result of checking a nonce string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Ours, signed with the current secret, within its TTL.
    Valid(NonceId),
    /// Well-formed but expired, minted under another secret, or possibly evicted from replay
    /// tracking: a correct digest over it earns a `stale=true` re-challenge.
    Stale,
    /// Not a nonce we could have issued: bad length/hex, or bad signature under our key id.
    Invalid,
}

/// Issues and checks nonces and tracks the highest `nc` per nonce.
pub struct NonceKeeper {
    /// Keyed MAC, cloned per use (cheaper than re-keying, and keying cannot fail this way).
    mac: HmacSha256,
    key_id: [u8; KEY_ID_LEN],
    ttl_secs: u64,
    /// How long a request's retransmissions are recognised (Timer J), in seconds.
    retransmit_window: u64,
    /// The replay ring: a power-of-two number of slots, indexed by `seq`.
    slots: Box<[Slot]>,
    /// The next nonce's `seq`.
    next_seq: AtomicU32,
    /// Nonces issued before this time cannot have been tracked (module doc): Stale.
    floor: u64,
}

impl std::fmt::Debug for NonceKeeper {
    // Manual impl so the secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceKeeper")
            .field("key_id", &hex::encode(self.key_id))
            .field("ttl_secs", &self.ttl_secs)
            .field("slots", &self.slots.len())
            .field("floor", &self.floor)
            .finish()
    }
}

impl NonceKeeper {
    /// A keeper with a fresh random secret: nonces from any earlier process become Stale.
    pub fn new(ttl_secs: u64) -> Self {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self::build(secret, ttl_secs, 0)
    }

    /// A keeper with a given secret (tests, or a secret shared by a cluster / kept across
    /// restarts). Its nc map starts empty, so nonces issued before `now` are treated as
    /// possibly-used and reported Stale until re-issued: a response captured before a
    /// restart cannot be replayed after it.
    pub fn with_secret(secret: [u8; 32], ttl_secs: u64, now: u64) -> Self {
        Self::build(secret, ttl_secs, now)
    }

    fn build(secret: [u8; 32], ttl_secs: u64, floor: u64) -> Self {
        // HMAC zero-pads keys shorter than the block, so padding ourselves to 64 bytes gives
        // the same MAC while letting us use the infallible fixed-size constructor.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&secret);
        let mac = <HmacSha256 as hmac::digest::KeyInit>::new(&key.into());
        let mut id_mac = mac.clone();
        id_mac.update(b"urpd digest nonce key id");
        let id_tag = id_mac.finalize().into_bytes();
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&id_tag[..KEY_ID_LEN]);
        NonceKeeper {
            mac,
            key_id,
            ttl_secs,
            retransmit_window: 32,
            slots: ring(DEFAULT_MAX_TRACKED_NONCES),
            next_seq: AtomicU32::new(0),
            floor,
        }
    }

    /// Sets how many nonces are tracked at once (rounded up to a power of two; empties the
    /// ring, so call it before the keeper is in use).
    pub fn set_max_tracked(&mut self, max: usize) {
        self.slots = ring(max);
    }

    /// Sets how long a request's retransmissions are recognised (Timer J: 64·T1 over UDP).
    pub fn set_retransmit_window(&mut self, secs: u64) {
        self.retransmit_window = secs;
    }

    /// Nonce lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Number of nonces currently tracked for replay protection (a scan: for tests and
    /// diagnostics, not the request path).
    pub fn tracked_len(&self) -> usize {
        self.slots.iter().filter(|s| s.order != 0).count()
    }

    fn slot_of(&self, seq: u32) -> usize {
        // The length is a power of two.
        seq as usize & (self.slots.len() - 1)
    }

    /// Mints a new nonce stamped `now`.
    pub fn issue(&self, now: u64) -> String {
        let mut buf = [0u8; NONCE_LEN];
        buf[..KEY_ID_LEN].copy_from_slice(&self.key_id);
        buf[KEY_ID_LEN..KEY_ID_LEN + TS_LEN].copy_from_slice(&now.to_be_bytes());
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        buf[KEY_ID_LEN + TS_LEN..KEY_ID_LEN + TS_LEN + SEQ_LEN].copy_from_slice(&seq.to_be_bytes());
        rand::thread_rng().fill_bytes(&mut buf[KEY_ID_LEN + TS_LEN + SEQ_LEN..SIGNED_LEN]);
        let tag = self.sign(&buf[..SIGNED_LEN]);
        buf[SIGNED_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        super::algorithm::hex_string(&buf)
    }

    fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut m = self.mac.clone();
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// An opaque value derived from the secret, for the challenge's `opaque` param. It carries
    /// no security (the nonce is already signed); it is stable so clients may cache it.
    pub fn opaque(&self) -> String {
        let tag = self.sign(b"urpd digest opaque");
        hex::encode(&tag[..8])
    }

    /// Classifies a nonce string at time `now`. Does not touch replay state.
    pub fn check(&self, nonce: &str, now: u64) -> NonceStatus {
        let mut buf = [0u8; NONCE_LEN];
        if !super::algorithm::hex_decode_into(nonce.as_bytes(), &mut buf) {
            return NonceStatus::Invalid;
        }
        // Fixed-size buffer and constant ranges: none of this slicing depends on input.
        if buf[..KEY_ID_LEN] != self.key_id {
            return NonceStatus::Stale;
        }
        let mut m = self.mac.clone();
        m.update(&buf[..SIGNED_LEN]);
        // Constant-time comparison of the truncated tag.
        if m.verify_truncated_left(&buf[SIGNED_LEN..]).is_err() {
            return NonceStatus::Invalid;
        }
        let mut ts = [0u8; TS_LEN];
        ts.copy_from_slice(&buf[KEY_ID_LEN..KEY_ID_LEN + TS_LEN]);
        let mut seq = [0u8; SEQ_LEN];
        seq.copy_from_slice(&buf[KEY_ID_LEN + TS_LEN..KEY_ID_LEN + TS_LEN + SEQ_LEN]);
        let mut random = [0u8; RAND_LEN];
        random.copy_from_slice(&buf[KEY_ID_LEN + TS_LEN + SEQ_LEN..SIGNED_LEN]);
        let id = NonceId { issued_at: u64::from_be_bytes(ts), seq: u32::from_be_bytes(seq), random: u64::from_be_bytes(random) };
        if self.expired(id.issued_at, now) || id.issued_at < self.floor {
            return NonceStatus::Stale;
        }
        // A later nonce took its slot: its record may be gone (module doc).
        let slot = &self.slots[self.slot_of(id.seq)];
        if !slot.holds(&id) && slot.order >= id.order() {
            return NonceStatus::Stale;
        }
        NonceStatus::Valid(id)
    }

    fn expired(&self, issued_at: u64, now: u64) -> bool {
        now > issued_at.saturating_add(self.ttl_secs)
    }

    /// Records `nc` for a nonce whose digest verified: [`NcRecord::Fresh`] only if `nc` is
    /// strictly greater than every count accepted before for this nonce. Call only after the
    /// response was proven correct, so unauthenticated peers cannot fill the map. `request` is
    /// the request's [`request_fingerprint`] (`None` where retransmissions are absorbed
    /// elsewhere: streams, methods with a server transaction): the last count again from the
    /// same request within the retransmission window is a [`NcRecord::Retransmission`], not a
    /// replay.
    pub fn record(&mut self, id: NonceId, nc: u32, now: u64, request: Option<u64>) -> NcRecord {
        // 0 marks "no request": a real fingerprint of 0 only loses its retransmission match.
        let fp = request.unwrap_or(0);
        if id.issued_at < self.floor || nc == 0 {
            return NcRecord::Replay;
        }
        let window = self.retransmit_window;
        let i = self.slot_of(id.seq);
        let slot = &mut self.slots[i];
        if slot.holds(&id) {
            if nc > slot.nc {
                *slot = Slot { nc, at: now as u32, request: fp, ..*slot };
                return NcRecord::Fresh;
            }
            let recent = (now as u32).wrapping_sub(slot.at) as u64 <= window;
            return if nc == slot.nc && fp != 0 && slot.request == fp && recent { NcRecord::Retransmission } else { NcRecord::Replay };
        }
        if slot.order >= id.order() {
            // A later nonce (or another keeper's with the same time and `seq`) holds the slot:
            // this one may have been recorded and overwritten. `check` calls it Stale.
            return NcRecord::Replay;
        }
        // The slot holds an earlier nonce or none: this one was never recorded (a record of
        // it could only have been overwritten by a later nonce, which would still be there).
        *slot = Slot { order: id.order(), random: id.random, nc, at: now as u32, request: fp };
        NcRecord::Fresh
    }
}

/// An empty replay ring of at least `n` slots (a power of two, at least 1).
fn ring(n: usize) -> Box<[Slot]> {
    vec![Slot::default(); n.max(1).next_power_of_two()].into_boxed_slice()
}

/// A fingerprint of one request's transaction for [`NonceKeeper::record`]: its parts (top
/// Via branch and sent-by, Call-ID, CSeq) folded eight bytes at a time. Not keyed, and need
/// not be (see the module doc); never 0, which means "none".
pub fn request_fingerprint(parts: &[&[u8]]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(23) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let mut w = [0u8; 8];
        let rest = chunks.remainder();
        w[..rest.len()].copy_from_slice(rest);
        // The length goes in too, so ("ab", "c") and ("a", "bc") differ.
        h = (h.rotate_left(23) ^ u64::from_le_bytes(w) ^ ((part.len() as u64) << 56)).wrapping_mul(K);
    }
    (h ^ (h >> 29)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn keeper() -> NonceKeeper {
        NonceKeeper::with_secret([7; 32], 300, T0)
    }

    /// Whether `nc` is accepted as new (no request fingerprint).
    fn fresh(k: &mut NonceKeeper, id: NonceId, nc: u32, now: u64) -> bool {
        k.record(id, nc, now, None) == NcRecord::Fresh
    }

    fn id_of(k: &NonceKeeper, n: &str, now: u64) -> NonceId {
        match k.check(n, now) {
            NonceStatus::Valid(id) => id,
            other => panic!("expected valid, got {other:?}"),
        }
    }

    #[test]
    fn issue_and_check() {
        let k = keeper();
        let n = k.issue(T0);
        assert_eq!(n.len(), NONCE_LEN * 2);
        assert_ne!(n, k.issue(T0), "nonces are unique");
        assert_eq!(id_of(&k, &n, T0 + 300).issued_at, T0);
        assert_eq!(k.check(&n, T0 + 301), NonceStatus::Stale);
    }

    #[test]
    fn other_secret_is_stale_tamper_is_invalid() {
        let k = keeper();
        let other = NonceKeeper::new(300).issue(T0);
        assert_eq!(k.check(&other, T0), NonceStatus::Stale);
        let n = k.issue(T0);
        for pos in [9, 20, 40, 70] {
            let mut b = n.clone().into_bytes();
            b[pos] = if b[pos] == b'0' { b'1' } else { b'0' };
            let t = String::from_utf8(b).unwrap();
            assert_eq!(k.check(&t, T0), NonceStatus::Invalid, "byte {pos}");
        }
        for junk in ["", "xyz", &n[..70], &format!("{n}00"), "€€"] {
            assert_eq!(k.check(junk, T0), NonceStatus::Invalid);
        }
    }

    #[test]
    fn the_same_request_again_is_a_retransmission_within_the_window_only() {
        let mut k = keeper();
        k.set_retransmit_window(32);
        let id = id_of(&k, &k.issue(T0), T0);
        let a = request_fingerprint(&[b"z9hG4bK-1127.0.0.1", b"cid@host", b"2"]);
        let b = request_fingerprint(&[b"z9hG4bK-2127.0.0.1", b"cid@host", b"3"]);
        assert_ne!(a, b);
        assert_eq!(k.record(id, 1, T0, Some(a)), NcRecord::Fresh);
        // A byte copy (same transaction, same count): a retransmission, as often as it comes.
        assert_eq!(k.record(id, 1, T0 + 1, Some(a)), NcRecord::Retransmission);
        assert_eq!(k.record(id, 1, T0 + 32, Some(a)), NcRecord::Retransmission);
        // Another transaction with the spent count, one without a fingerprint, or too late.
        assert_eq!(k.record(id, 1, T0 + 2, Some(b)), NcRecord::Replay);
        assert_eq!(k.record(id, 1, T0 + 2, None), NcRecord::Replay);
        assert_eq!(k.record(id, 1, T0 + 33, Some(a)), NcRecord::Replay);
        // The next count is fresh and moves the remembered request on.
        assert_eq!(k.record(id, 2, T0 + 40, Some(b)), NcRecord::Fresh);
        assert_eq!(k.record(id, 1, T0 + 40, Some(a)), NcRecord::Replay);
        assert_eq!(k.record(id, 2, T0 + 41, Some(b)), NcRecord::Retransmission);
    }

    #[test]
    fn fingerprints_separate_their_parts_and_are_never_zero() {
        assert_ne!(request_fingerprint(&[b"ab", b"c"]), request_fingerprint(&[b"a", b"bc"]));
        assert_ne!(request_fingerprint(&[b"12345678", b""]), request_fingerprint(&[b"1234567", b"8"]));
        assert_ne!(request_fingerprint(&[]), 0);
        assert_ne!(request_fingerprint(&[b""]), 0);
    }

    #[test]
    fn nc_strictly_increasing() {
        let mut k = keeper();
        let id = id_of(&k, &k.issue(T0), T0);
        assert!(fresh(&mut k, id, 1, T0));
        assert!(!fresh(&mut k, id, 1, T0));
        assert!(fresh(&mut k, id, 3, T0));
        assert!(!fresh(&mut k, id, 2, T0));
        assert!(fresh(&mut k, id, 4, T0));
    }

    #[test]
    fn an_expired_nonce_is_stale_and_its_slot_serves_a_later_one() {
        let mut k = keeper();
        k.set_max_tracked(1);
        let id = id_of(&k, &k.issue(T0), T0);
        assert!(fresh(&mut k, id, 1, T0));
        let n2 = k.issue(T0 + 301);
        let id2 = id_of(&k, &n2, T0 + 301);
        assert!(fresh(&mut k, id2, 1, T0 + 301));
        assert_eq!(k.tracked_len(), 1);
        // The first nonce is past its life, and its record gone: both say Stale, never Fresh.
        assert!(!fresh(&mut k, id, 2, T0 + 301));
    }

    #[test]
    fn a_full_ring_overwrites_the_earlier_nonce_which_is_stale_from_then_on() {
        let mut k = keeper();
        k.set_max_tracked(2);
        let n1 = k.issue(T0);
        let n2 = k.issue(T0 + 1);
        let n3 = k.issue(T0 + 2);
        let unused = k.issue(T0 + 2);
        let (i1, i2, i3) = (id_of(&k, &n1, T0 + 2), id_of(&k, &n2, T0 + 2), id_of(&k, &n3, T0 + 2));
        assert!(fresh(&mut k, i1, 1, T0 + 2));
        assert!(fresh(&mut k, i2, 1, T0 + 2));
        // n3 shares n1's slot (two slots, seq 0 and 2) and is later: it takes it.
        assert!(fresh(&mut k, i3, 1, T0 + 2));
        assert_eq!(k.tracked_len(), 2);
        // n1's record is gone: a replay of it must not be accepted as a first use.
        assert_eq!(k.check(&n1, T0 + 2), NonceStatus::Stale);
        assert!(!fresh(&mut k, i1, 1, T0 + 2));
        assert!(!fresh(&mut k, i1, 5, T0 + 2));
        // Tracked nonces keep working; n2's replay is still caught.
        let i2b = id_of(&k, &n2, T0 + 2);
        assert!(!fresh(&mut k, i2b, 1, T0 + 2));
        let i3b = id_of(&k, &n3, T0 + 2);
        assert!(fresh(&mut k, i3b, 2, T0 + 2));
        // An unused nonce whose slot holds an earlier one is valid, and takes the slot.
        let iu = id_of(&k, &unused, T0 + 2);
        assert!(fresh(&mut k, iu, 1, T0 + 2));
        assert_eq!(k.check(&n2, T0 + 2), NonceStatus::Stale);
    }

    #[test]
    fn an_earlier_nonce_never_takes_a_later_ones_slot() {
        // Used out of order: the later nonce first. The earlier one is refused (Stale), the
        // later one keeps its record.
        let mut k = keeper();
        k.set_max_tracked(1);
        let early = k.issue(T0);
        let late = k.issue(T0 + 1);
        let il = id_of(&k, &late, T0 + 1);
        assert!(fresh(&mut k, il, 1, T0 + 1));
        assert_eq!(k.check(&early, T0 + 1), NonceStatus::Stale);
        let ie = NonceId { issued_at: T0, seq: 0, random: 0 };
        assert_eq!(k.record(ie, 1, T0 + 1, None), NcRecord::Replay);
        assert!(!fresh(&mut k, il, 1, T0 + 1));
        assert!(fresh(&mut k, il, 2, T0 + 1));
    }

    #[test]
    fn another_keepers_nonce_with_the_same_time_and_seq_is_told_apart() {
        // Two keepers sharing a secret (a cluster) issue their first nonce in the same second.
        let mut a = keeper();
        let b = keeper();
        let na = a.issue(T0);
        let nb = b.issue(T0);
        assert_ne!(na, nb);
        let ia = id_of(&a, &na, T0);
        assert!(fresh(&mut a, ia, 1, T0));
        // b's nonce finds its slot held by a's: Stale (a fresh challenge), never a replay let
        // through; a's own replay is still caught.
        assert_eq!(a.check(&nb, T0), NonceStatus::Stale);
        assert!(!fresh(&mut a, ia, 1, T0));
    }

    #[test]
    fn same_secret_restart_refuses_old_nonces() {
        let k = keeper();
        let n = k.issue(T0);
        let restarted = NonceKeeper::with_secret([7; 32], 300, T0 + 10);
        assert_eq!(restarted.check(&n, T0 + 10), NonceStatus::Stale);
        assert!(matches!(restarted.check(&restarted.issue(T0 + 10), T0 + 10), NonceStatus::Valid(_)));
    }

    #[test]
    fn debug_hides_secret() {
        let s = format!("{:?}", keeper());
        assert!(s.contains("key_id") && !s.contains("mac"));
    }
}
