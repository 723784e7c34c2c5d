//! Case tokens and ULIDs.
//!
//! A case token is `{node}:{ulid}`: the id of the node that minted it and a ULID (48-bit
//! millisecond timestamp + 80 random bits, Crockford base32, 26 characters). It carries no
//! personal data, sorts by creation time, and is unique across nodes without coordination (the
//! node prefix separates nodes; 80 random bits separate tokens minted in the same millisecond).

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;

use super::CrmError;

/// Crockford's base32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of a ULID's text form.
pub const ULID_LEN: usize = 26;
/// Longest node id accepted in a token.
pub const MAX_NODE_LEN: usize = 64;

/// The last ULID minted in this process (monotonic generation).
static LAST: Mutex<u128> = Mutex::new(0);

/// Mints a new ULID (text form) for `at`. Uses the thread-local CSPRNG. Monotonic within the
/// process: two ULIDs minted for the same millisecond sort in minting order (the second is the
/// first plus one, as in the ULID spec's monotonic mode), so timeline events with equal times
/// keep the order in which the node produced them.
pub fn new_ulid_at(at: SystemTime) -> String {
    let ms = at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut rnd = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut rnd);
    let mut v: u128 = (ms as u128) << 80;
    for (i, b) in rnd.iter().enumerate() {
        v |= (*b as u128) << (8 * (9 - i));
    }
    if let Ok(mut last) = LAST.lock() {
        let same_ms = (*last >> 80) as u64 == ms;
        // Increment within the same millisecond unless the 80 random bits would overflow.
        if same_ms && (*last & ((1u128 << 80) - 1)) != (1u128 << 80) - 1 {
            v = *last + 1;
        }
        *last = v;
    }
    let mut out = [0u8; ULID_LEN];
    for (i, o) in out.iter_mut().enumerate() {
        let shift = 5 * (ULID_LEN - 1 - i);
        *o = CROCKFORD[((v >> shift) & 0x1F) as usize];
    }
    out.iter().map(|&b| b as char).collect()
}

/// Mints a new ULID for now.
pub fn new_ulid() -> String {
    new_ulid_at(SystemTime::now())
}

/// Whether `s` is a well-formed ULID text (26 Crockford characters, upper case, first ≤ '7').
pub fn is_ulid(s: &str) -> bool {
    s.len() == ULID_LEN && s.as_bytes()[0] <= b'7' && s.bytes().all(|b| CROCKFORD.contains(&b))
}

/// Whether `s` is usable as the node part of a token: 1–64 of `A-Z a-z 0-9 . _ -`.
pub fn is_node_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NODE_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An opaque case token, `{node}:{ulid}`. Safe on the wire (User-to-User, Call-Info URLs,
/// logs): no personal data, only `A-Z a-z 0-9 . _ - :`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseToken(String);

impl CaseToken {
    /// Mints a fresh token for `node` without asking any database. Fails only on a node id that
    /// is not 1–64 of `A-Z a-z 0-9 . _ -`.
    pub fn mint(node: &str) -> Result<CaseToken, CrmError> {
        if !is_node_id(node) {
            return Err(CrmError::InvalidNodeId(node.into()));
        }
        Ok(CaseToken(format!("{node}:{}", new_ulid())))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The node that minted it.
    pub fn node(&self) -> &str {
        self.0.rsplit_once(':').map(|(n, _)| n).unwrap_or("")
    }
}

impl fmt::Display for CaseToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CaseToken {
    type Err = CrmError;
    /// Validates `{node}:{ulid}`; accepts a lower-case ULID and normalises it to upper case.
    fn from_str(s: &str) -> Result<CaseToken, CrmError> {
        let bad = || CrmError::InvalidToken(s.chars().take(100).collect());
        let (node, id) = s.rsplit_once(':').ok_or_else(bad)?;
        let id = id.to_ascii_uppercase();
        if !is_node_id(node) || !is_ulid(&id) {
            return Err(bad());
        }
        Ok(CaseToken(format!("{node}:{id}")))
    }
}

impl TryFrom<String> for CaseToken {
    type Error = CrmError;
    fn try_from(s: String) -> Result<CaseToken, CrmError> {
        s.parse()
    }
}

impl From<CaseToken> for String {
    fn from(t: CaseToken) -> String {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn mint_parse_round_trip() {
        let t = CaseToken::mint("roma-1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.node(), "roma-1");
        assert_eq!(t.as_str().len(), "roma-1:".len() + ULID_LEN);
        let back: CaseToken = t.as_str().parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, t);
        let lower: CaseToken = format!("roma-1:{}", &t.as_str()[7..].to_ascii_lowercase()).parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lower, t, "a lower-case ULID is normalised");
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "x",
            "node:",
            ":01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "a b:01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "n:01ARZ3NDEKTSV4RRFFQ69G5FA",
            "n:81ARZ3NDEKTSV4RRFFQ69G5FAV",
            "n:01ARZ3NDEKTSV4RRFFQ69G5FAU",
            "n:3331234567",
        ] {
            assert!(s.parse::<CaseToken>().is_err(), "{s}");
        }
        assert!(CaseToken::mint("bad node").is_err());
        assert!(CaseToken::mint(&"n".repeat(65)).is_err());
    }

    #[test]
    fn ulid_sorts_by_time_and_is_unique() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        let a = new_ulid_at(t0);
        let b = new_ulid_at(t0 + Duration::from_millis(1));
        assert!(a < b);
        assert!(is_ulid(&a) && is_ulid(&b));
        let all: Vec<String> = (0..10_000).map(|_| new_ulid_at(t0)).collect();
        let set: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!(set.len(), 10_000);
        assert!(all.windows(2).all(|w| w[0] < w[1]), "monotonic within a millisecond");
    }
}
