//! The [`Authenticator`]: issues challenges and verifies digest responses (RFC 7616 §3.4,
//! qop=auth only) against stored HA1 values.
//!
//! Contract: sans-IO (time comes in as `now`, unix seconds). The [`Verdict`] tells the caller
//! what to send; the [`Reason`] inside a rejection is for logs and metrics only. The SIP answer
//! must not reveal whether a user exists, so an unknown user's response is checked against a
//! random dummy HA1 with the same hashing and the same constant-time comparison as a real one.
//! (Timing of the caller's user lookup is the caller's concern.)

use super::algorithm::Algorithm;
use super::header::{Challenge, DigestCredentials};
use super::nonce::{NcRecord, NonceKeeper, NonceStatus, DEFAULT_MAX_TRACKED_NONCES};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// `HA1 = H(username ":" realm ":" password)` as lowercase hex (RFC 7616 §3.4.2).
pub fn ha1(alg: Algorithm, user: &str, realm: &str, password: &str) -> String {
    alg.digest_hex(&[user, realm, password]).as_str().to_owned()
}

/// What we store per user: HA1 for each algorithm, never the password.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    /// HA1 under MD5, 32 hex digits.
    pub ha1_md5: String,
    /// HA1 under SHA-256, 64 hex digits.
    pub ha1_sha256: String,
}

impl std::fmt::Debug for StoredCredentials {
    // HA1 is password-equivalent for this realm: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredCredentials { .. }")
    }
}

impl StoredCredentials {
    /// Computes both HA1 values from a cleartext password (at provisioning time).
    pub fn from_password(user: &str, realm: &str, password: &str) -> Self {
        StoredCredentials { ha1_md5: ha1(Algorithm::Md5, user, realm, password), ha1_sha256: ha1(Algorithm::Sha256, user, realm, password) }
    }

    /// The HA1 for `alg`.
    pub fn ha1(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }

    /// The HA1 for `alg` as [`Ha1`]: `None` when the stored text is not one (a row edited by
    /// hand), which authenticates nobody, as before.
    pub fn ha1_hex(&self, alg: Algorithm) -> Option<Ha1> {
        Ha1::new(alg, self.ha1(alg))
    }
}

/// One HA1 as lowercase hex, held inline: what a digest check needs of a user, copied out of
/// the credentials cache with no allocation to follow and no reference count to move. (A
/// REGISTER's credentials lookup was ~2% of urpd's native samples at 14,000 REGISTER
/// transactions a second, nearly all of it waiting on memory: the map's key text, the shared
/// record and the HA1's own text were three separate allocations, each a cache miss for a user
/// seen once in a while.)
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ha1 {
    hex: [u8; 64],
    len: u8,
}

impl Ha1 {
    /// `text` lowercased, if it is an HA1 under `alg` written in hex (32 digits for MD5, 64
    /// for SHA-256).
    pub fn new(alg: Algorithm, text: &str) -> Option<Ha1> {
        let want = match alg {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        };
        let b = text.as_bytes();
        if b.len() != want || !b.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut hex = [0u8; 64];
        for (d, c) in hex.iter_mut().zip(b) {
            *d = c.to_ascii_lowercase();
        }
        Some(Ha1 { hex, len: want as u8 })
    }

    /// An HA1 copied from the digits of one `new` accepted (`hex`, already checked and
    /// lowercased): for a cache that keeps them in its own layout, without checking them again
    /// on every lookup. Digits of any other length give an HA1 that matches nothing.
    pub(crate) fn from_checked(hex: &[u8]) -> Ha1 {
        let mut h = Ha1 { hex: [0; 64], len: 0 };
        if let Some(dst) = h.hex.get_mut(..hex.len()) {
            dst.copy_from_slice(hex);
            h.len = hex.len() as u8;
        }
        debug_assert!(hex.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)));
        h
    }

    /// The hex digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored (`new`).
        self.hex.get(..usize::from(self.len)).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }
}

impl std::fmt::Debug for Ha1 {
    // Password-equivalent, as `StoredCredentials`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ha1 { .. }")
    }
}

/// Authenticator settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Our realm; credentials for any other realm are rejected.
    pub realm: String,
    /// Algorithms offered, most preferred first; one challenge is sent per entry.
    pub algorithms: Vec<Algorithm>,
    /// Nonce lifetime in seconds.
    pub nonce_ttl_secs: u64,
    /// Cap on nonces tracked for nc replay protection.
    pub max_tracked_nonces: usize,
}

impl AuthConfig {
    /// Defaults: SHA-256 then MD5 (RFC 8760 §2.4 order), 300 s nonces, 100k tracked nonces.
    pub fn new(realm: impl Into<String>) -> Self {
        AuthConfig {
            realm: realm.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_ttl_secs: 300,
            max_tracked_nonces: DEFAULT_MAX_TRACKED_NONCES,
        }
    }
}

/// Outcome of [`Authenticator::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The response is correct, fresh and not replayed.
    Authenticated {
        /// The authenticated username, as sent.
        username: String,
    },
    /// The response is correct and repeats the count its nonce last accepted, from the same
    /// request within the retransmission window: a retransmission of a request already
    /// processed (answer it as before, read-only; see `NonceKeeper::record`).
    Retransmission {
        /// The authenticated username, as sent.
        username: String,
    },
    /// The response is correct but the nonce is expired or from another secret: challenge
    /// again with `stale=true` so the client retries without prompting the user.
    Stale,
    /// Refused. Answer with a fresh challenge (or 403); never tell the peer the reason.
    Rejected(Reason),
}

/// Why credentials were rejected. For logs and metrics only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No stored credentials for this username (response checked against a dummy anyway).
    UnknownUser,
    /// The response does not match (wrong password, or wrong method/uri/nonce in the hash).
    WrongResponse,
    /// The `realm` param is not ours.
    RealmMismatch,
    /// The `uri` param differs from the Request-URI.
    UriMismatch,
    /// The `nc` is not greater than one already accepted for this nonce.
    ReplayedNc,
    /// No `qop`: RFC 2069-style responses are refused (no cnonce, no replay counter).
    MissingQop,
    /// A `qop` other than `auth` (e.g. `auth-int`).
    UnsupportedQop,
    /// An algorithm we do not support or do not offer.
    UnsupportedAlgorithm,
    /// The nonce is not one we issued (garbage or tampered).
    BadNonce,
}

impl Reason {
    /// A stable snake_case label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownUser => "unknown_user",
            Reason::WrongResponse => "wrong_response",
            Reason::RealmMismatch => "realm_mismatch",
            Reason::UriMismatch => "uri_mismatch",
            Reason::ReplayedNc => "replayed_nc",
            Reason::MissingQop => "missing_qop",
            Reason::UnsupportedQop => "unsupported_qop",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::BadNonce => "bad_nonce",
        }
    }
}

/// Issues digest challenges and verifies responses for one realm.
#[derive(Debug)]
pub struct Authenticator {
    config: AuthConfig,
    nonces: NonceKeeper,
    opaque: String,
    /// Random HA1s used for unknown users so their check costs the same as a real one.
    dummy_md5: String,
    dummy_sha256: String,
}

/// A challenge value's length besides its realm, nonce and opaque (the names, quotes and
/// separators of `Digest realm="", nonce="", opaque="", algorithm=SHA-256, qop="auth",
/// stale=true`), so the value is allocated once.
const CHALLENGE_FIXED_LEN: usize = 80;

impl Authenticator {
    /// An authenticator with a random nonce secret (nonces do not survive a restart).
    pub fn new(config: AuthConfig) -> Self {
        let nonces = NonceKeeper::new(config.nonce_ttl_secs);
        Self::build(config, nonces)
    }

    /// An authenticator with a fixed nonce secret (tests, clusters); see
    /// [`NonceKeeper::with_secret`] for why `now` is needed.
    pub fn with_secret(config: AuthConfig, secret: [u8; 32], now: u64) -> Self {
        let nonces = NonceKeeper::with_secret(secret, config.nonce_ttl_secs, now);
        Self::build(config, nonces)
    }

    fn build(config: AuthConfig, mut nonces: NonceKeeper) -> Self {
        nonces.set_max_tracked(config.max_tracked_nonces);
        let mut rng = rand::thread_rng();
        let mut d16 = [0u8; 16];
        let mut d32 = [0u8; 32];
        rng.fill_bytes(&mut d16);
        rng.fill_bytes(&mut d32);
        let opaque = nonces.opaque();
        Authenticator { config, nonces, opaque, dummy_md5: hex::encode(d16), dummy_sha256: hex::encode(d32) }
    }

    /// How long a request's retransmissions are recognised (Timer J), in seconds.
    pub fn set_retransmit_window(&mut self, secs: u64) {
        self.nonces.set_retransmit_window(secs);
    }

    /// The configuration in use.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Challenge header values (`WWW-Authenticate` for 401, `Proxy-Authenticate` for 407),
    /// one per offered algorithm, most preferred first (RFC 8760 §2.4, RFC 7616 §3.7). They
    /// share one fresh nonce, which is fine: a nonce is not bound to an algorithm.
    pub fn challenge(&self, now: u64, stale: bool) -> Vec<String> {
        let nonce = self.nonces.issue(now);
        self.config
            .algorithms
            .iter()
            .map(|&algorithm| {
                let c = Challenge { realm: &self.config.realm, nonce: &nonce, opaque: Some(&self.opaque), algorithm, stale };
                // Sized once: `to_string` grew the value from empty, four reallocations each.
                let mut value = String::with_capacity(CHALLENGE_FIXED_LEN + c.realm.len() + nonce.len() + self.opaque.len());
                let _ = c.write_to(&mut value);
                value
            })
            .collect()
    }

    /// Verifies credentials for a request with `method` and `request_uri` (exact string match
    /// against the `uri` param). `stored` gives the user's HA1 under the algorithm the
    /// credentials name, `None` when the username is unknown (or has no usable HA1); it is
    /// asked only once the cheap checks below passed.
    ///
    /// Checks, in order: realm, algorithm (supported and offered), qop=auth, uri, nonce
    /// signature; then the response in constant time (against a dummy HA1 if the user is
    /// unknown); then nonce freshness (→ `Stale`); then nc replay, where `request` (a
    /// [`request_fingerprint`](super::request_fingerprint), or `None`) lets a retransmission
    /// of the request that spent the count through (→ `Retransmission`). `opaque` is not
    /// enforced: it carries nothing the signed nonce does not already protect.
    pub fn verify(
        &mut self,
        now: u64,
        method: &str,
        request_uri: &str,
        creds: &DigestCredentials<'_>,
        stored: impl FnOnce(Algorithm) -> Option<Ha1>,
        request: Option<u64>,
    ) -> Verdict {
        if creds.realm != self.config.realm {
            return Verdict::Rejected(Reason::RealmMismatch);
        }
        let alg = match creds.algorithm() {
            Ok(a) if self.config.algorithms.contains(&a) => a,
            _ => return Verdict::Rejected(Reason::UnsupportedAlgorithm),
        };
        let (qop, cnonce, nc) = match (&creds.qop, &creds.cnonce, &creds.nc) {
            (Some(q), Some(c), Some(n)) => (q, c, n),
            _ => return Verdict::Rejected(Reason::MissingQop),
        };
        if !qop.eq_ignore_ascii_case("auth") {
            return Verdict::Rejected(Reason::UnsupportedQop);
        }
        if creds.uri != request_uri {
            return Verdict::Rejected(Reason::UriMismatch);
        }
        let status = self.nonces.check(&creds.nonce, now);
        if status == NonceStatus::Invalid {
            return Verdict::Rejected(Reason::BadNonce);
        }

        // Same work whether or not the user exists: pick a real or dummy HA1, hash, compare.
        // (`Ha1` is lowercase: one edited by hand in capitals still matches.)
        let stored = stored(alg);
        let ha1: &str = match &stored {
            Some(s) => s.as_str(),
            None => match alg {
                Algorithm::Md5 => &self.dummy_md5,
                Algorithm::Sha256 => &self.dummy_sha256,
            },
        };
        let ha2 = alg.digest_hex(&[method, &*creds.uri]);
        // Hash qop, nc and cnonce exactly as the client sent them: that is what it hashed.
        let parts: [&[u8]; 6] =
            [ha1.as_bytes(), creds.nonce.as_bytes(), nc.raw.as_bytes(), cnonce.as_bytes(), qop.as_bytes(), ha2.as_bytes()];
        let expected = alg.digest_hex(&parts);
        // The client's hex may be in capitals: fold it on the stack (no longer response can
        // match) and compare in constant time; only the length, which is public, short-cuts.
        let given = creds.response.as_bytes();
        let mut folded = [0u8; 64];
        for (d, c) in folded.iter_mut().zip(given) {
            *d = c.to_ascii_lowercase();
        }
        let expected = expected.as_bytes();
        let matches = given.len() == expected.len() && bool::from(expected.ct_eq(&folded[..expected.len()]));

        if stored.is_none() {
            return Verdict::Rejected(Reason::UnknownUser);
        }
        if !matches {
            return Verdict::Rejected(Reason::WrongResponse);
        }
        let id = match status {
            NonceStatus::Valid(id) => id,
            // Invalid was rejected above; only Stale reaches here.
            NonceStatus::Stale | NonceStatus::Invalid => return Verdict::Stale,
        };
        match self.nonces.record(id, nc.value, now, request) {
            NcRecord::Fresh => Verdict::Authenticated { username: creds.username.to_string() },
            NcRecord::Retransmission => Verdict::Retransmission { username: creds.username.to_string() },
            NcRecord::Replay => Verdict::Rejected(Reason::ReplayedNc),
        }
    }
}
