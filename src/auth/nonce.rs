//! Stateless signed nonces plus bounded nonce-count (nc) replay tracking.
//!
//! A nonce is the lowercase hex of 36 bytes:
//! `key_id(4) || issued_at(8, big-endian unix secs) || random(8) || HMAC-SHA256(secret, key_id||issued_at||random)[..16]`.
//! Issuing needs no state; checking needs only the secret. `key_id` is derived from the secret
//! so that a nonce minted under another secret (e.g. before a restart with a random secret) is
//! told apart from a forged one: the former is [`NonceStatus::Stale`] (the client retries
//! silently once the digest proves it knows the password), the latter [`NonceStatus::Invalid`].
//!
//! Replay protection is the only state: a map from nonce to the highest `nc` accepted. It is
//! filled only after a digest verified (see [`NonceKeeper::record`]), so peers without
//! credentials cannot grow it, and it is capped: when full, the oldest nonce is evicted and the
//! "floor" rises past it. An untracked nonce issued before the floor may have been evicted (or
//! used before a restart with the same secret), so it is reported Stale rather than trusted —
//! a replay can never be accepted because its record was dropped.
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
//! The map is a hash map with a queue in recording order beside it (eviction and expiry pop
//! the front), not an ordered map: at 8,000 REGISTER/s it holds its full 100k entries, and the
//! B-tree's descent was ~1.8% of the CPU (perf). Recording order is nearly issue order; when
//! it is not, an evicted nonce still lifts the floor past its own issue time, so it can only
//! ever come back Stale, and a tracked nonce below the floor stays valid because it is tracked.
//!
//! Contract: no clock, no I/O; `now` is unix seconds supplied by the caller.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

use crate::transaction::DigestHasher;

type HmacSha256 = Hmac<Sha256>;

const KEY_ID_LEN: usize = 4;
const TS_LEN: usize = 8;
const RAND_LEN: usize = 8;
const MAC_LEN: usize = 16;
const SIGNED_LEN: usize = KEY_ID_LEN + TS_LEN + RAND_LEN;
const NONCE_LEN: usize = SIGNED_LEN + MAC_LEN;

/// Default cap on tracked nonces (each entry is ~40 bytes plus map overhead).
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 100_000;

/// Identity of one of our nonces, as decoded from its text; ordered oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NonceId {
    /// Unix seconds at which the nonce was issued.
    pub issued_at: u64,
    random: [u8; RAND_LEN],
}

impl Hash for NonceId {
    // Only the random part: 8 bytes from the CSPRNG under our MAC (a peer cannot choose them),
    // taken as the hash itself by `DigestHasher` — no SipHash over 24 bytes per lookup.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from_ne_bytes(self.random) ^ self.issued_at);
    }
}

/// What one tracked nonce remembers.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    /// The highest count accepted.
    nc: u32,
    /// When that count was accepted (unix seconds, low 32 bits).
    at: u32,
    /// The fingerprint of the request that used it; 0 for none (see [`NcRecord`]).
    request: u64,
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
    max_tracked: usize,
    /// How long a request's retransmissions are recognised (Timer J), in seconds.
    retransmit_window: u64,
    tracked: HashMap<NonceId, Tracked, DigestHasher>,
    /// The tracked nonces in the order they were first recorded.
    order: VecDeque<NonceId>,
    /// Untracked nonces issued before this time may have been evicted; see module doc.
    floor: u64,
}

impl std::fmt::Debug for NonceKeeper {
    // Manual impl so the secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceKeeper")
            .field("key_id", &hex::encode(self.key_id))
            .field("ttl_secs", &self.ttl_secs)
            .field("tracked", &self.tracked.len())
            .field("max_tracked", &self.max_tracked)
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
            max_tracked: DEFAULT_MAX_TRACKED_NONCES,
            retransmit_window: 32,
            tracked: HashMap::default(),
            order: VecDeque::new(),
            floor,
        }
    }

    /// Sets the cap on tracked nonces (minimum 1).
    pub fn set_max_tracked(&mut self, max: usize) {
        self.max_tracked = max.max(1);
    }

    /// Sets how long a request's retransmissions are recognised (Timer J: 64·T1 over UDP).
    pub fn set_retransmit_window(&mut self, secs: u64) {
        self.retransmit_window = secs;
    }

    /// Nonce lifetime in seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// Number of nonces currently tracked for replay protection.
    pub fn tracked_len(&self) -> usize {
        self.tracked.len()
    }

    /// Mints a new nonce stamped `now`.
    pub fn issue(&self, now: u64) -> String {
        let mut buf = [0u8; NONCE_LEN];
        buf[..KEY_ID_LEN].copy_from_slice(&self.key_id);
        buf[KEY_ID_LEN..KEY_ID_LEN + TS_LEN].copy_from_slice(&now.to_be_bytes());
        rand::thread_rng().fill_bytes(&mut buf[KEY_ID_LEN + TS_LEN..SIGNED_LEN]);
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
        if hex::decode_to_slice(nonce, &mut buf).is_err() {
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
        let mut random = [0u8; RAND_LEN];
        random.copy_from_slice(&buf[KEY_ID_LEN + TS_LEN..SIGNED_LEN]);
        let id = NonceId { issued_at: u64::from_be_bytes(ts), random };
        if self.expired(id.issued_at, now) {
            return NonceStatus::Stale;
        }
        if id.issued_at < self.floor && !self.tracked.contains_key(&id) {
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
        self.purge_expired(now);
        // 0 marks "no request": a real fingerprint of 0 only loses its retransmission match.
        let fp = request.unwrap_or(0);
        if let Some(t) = self.tracked.get_mut(&id) {
            if nc > t.nc {
                *t = Tracked { nc, at: now as u32, request: fp };
                return NcRecord::Fresh;
            }
            let recent = (now as u32).wrapping_sub(t.at) as u64 <= self.retransmit_window;
            return if nc == t.nc && fp != 0 && t.request == fp && recent { NcRecord::Retransmission } else { NcRecord::Replay };
        }
        // Not tracked: if it predates the floor we cannot know it was unused (see check()).
        if id.issued_at < self.floor || nc == 0 {
            return NcRecord::Replay;
        }
        while self.tracked.len() >= self.max_tracked {
            match self.order.pop_front() {
                Some(old) => {
                    self.tracked.remove(&old);
                    self.floor = self.floor.max(old.issued_at.saturating_add(1));
                }
                None => break,
            }
        }
        self.tracked.insert(id, Tracked { nc, at: now as u32, request: fp });
        self.order.push_back(id);
        NcRecord::Fresh
    }

    /// Drops entries of nonces past their TTL: those nonces are Stale anyway.
    fn purge_expired(&mut self, now: u64) {
        while let Some(oldest) = self.order.front() {
            if !self.expired(oldest.issued_at, now) {
                break;
            }
            self.tracked.remove(oldest);
            self.order.pop_front();
        }
    }
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
    fn expired_entries_purged() {
        let mut k = keeper();
        let id = id_of(&k, &k.issue(T0), T0);
        assert!(fresh(&mut k, id, 1, T0));
        let id2 = id_of(&k, &k.issue(T0 + 301), T0 + 301);
        assert!(fresh(&mut k, id2, 1, T0 + 301));
        assert_eq!(k.tracked_len(), 1);
    }

    #[test]
    fn cap_evicts_oldest_and_raises_floor() {
        let mut k = keeper();
        k.set_max_tracked(2);
        let n1 = k.issue(T0);
        let n2 = k.issue(T0 + 1);
        let n3 = k.issue(T0 + 2);
        let unused = k.issue(T0 + 1);
        let (i1, i2, i3) = (id_of(&k, &n1, T0 + 2), id_of(&k, &n2, T0 + 2), id_of(&k, &n3, T0 + 2));
        assert!(fresh(&mut k, i1, 1, T0 + 2));
        assert!(fresh(&mut k, i2, 1, T0 + 2));
        assert!(fresh(&mut k, i3, 1, T0 + 2));
        assert_eq!(k.tracked_len(), 2);
        // n1 was evicted: a replay of it must not be accepted as a first use.
        assert_eq!(k.check(&n1, T0 + 2), NonceStatus::Stale);
        assert!(!fresh(&mut k, i1, 1, T0 + 2));
        // Still-tracked nonces keep working; n2's replay is still caught.
        let i2b = id_of(&k, &n2, T0 + 2);
        assert!(!fresh(&mut k, i2b, 1, T0 + 2));
        let i3b = id_of(&k, &n3, T0 + 2);
        assert!(fresh(&mut k, i3b, 2, T0 + 2));
        // An unused nonce issued at or after the floor is still valid.
        assert!(matches!(k.check(&unused, T0 + 2), NonceStatus::Valid(_)));
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
