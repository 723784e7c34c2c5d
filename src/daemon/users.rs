//! The in-memory cache of users' credentials the core authenticates against. Loaded from the
//! state database at start, and reloaded when the database changes (the CLI writes users from
//! another process and then pokes the admin socket; a users-only version number is polled too).
//!
//! Laid out for the lookup a REGISTER makes: a user is seen once every few seconds or minutes,
//! so whatever the lookup reads is a cache miss, and what it costs is the number of cache lines
//! it touches, not its instructions. Each user is one 192-byte entry held in the table itself:
//! the first 64 bytes hold the name (up to 29 bytes inline), the role and the MD5 HA1, the next
//! 64 the SHA-256 HA1, the last the rare long name. A lookup under MD5 (every SIPp or Zoiper
//! REGISTER) reads the table's control bytes and one line; the map of `String` to shared
//! `StoredCredentials` it replaces read the key's text, the shared record and the HA1's text
//! besides, three more allocations (~2% of urpd's native samples at 14,000 REGISTER
//! transactions a second capped at 30%, nearly all of it waiting on memory).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};

use hashbrown::HashTable;

use crate::auth::{Algorithm, Ha1, StoredCredentials};
use crate::proxy::Credentials;
use crate::state::Role;

/// Names this long or shorter are held in the entry's first line.
const INLINE_NAME: usize = 29;

/// One user, as the lookup reads it (see the module doc).
#[repr(C, align(64))]
struct Entry {
    // First line: what every MD5 lookup reads.
    name_len: u8,
    role: Role,
    /// Which HA1s are usable (bit 0 MD5, bit 1 SHA-256): a row edited by hand may hold text
    /// that is not one, which authenticates nobody under that algorithm.
    usable: u8,
    name: [u8; INLINE_NAME],
    md5: [u8; 32],
    // Second line.
    sha256: [u8; 64],
    // Third: names longer than `INLINE_NAME` (`name_len` is then 0).
    long_name: Option<Box<str>>,
}

impl Entry {
    fn new(name: String, creds: &StoredCredentials, role: Role) -> Entry {
        let md5 = Ha1::new(Algorithm::Md5, &creds.ha1_md5);
        let sha256 = Ha1::new(Algorithm::Sha256, &creds.ha1_sha256);
        let mut e = Entry {
            name_len: 0,
            role,
            usable: u8::from(md5.is_some()) | u8::from(sha256.is_some()) << 1,
            name: [0; INLINE_NAME],
            md5: [0; 32],
            sha256: [0; 64],
            long_name: None,
        };
        if let Some(h) = md5 {
            e.md5.copy_from_slice(h.as_str().as_bytes());
        }
        if let Some(h) = sha256 {
            e.sha256.copy_from_slice(h.as_str().as_bytes());
        }
        match e.name.get_mut(..name.len()) {
            Some(dst) if !name.is_empty() => {
                dst.copy_from_slice(name.as_bytes());
                e.name_len = name.len() as u8;
            }
            _ => e.long_name = Some(name.into_boxed_str()),
        }
        e
    }

    fn name(&self) -> &[u8] {
        match &self.long_name {
            Some(long) => long.as_bytes(),
            None => self.name.get(..usize::from(self.name_len)).unwrap_or(&[]),
        }
    }

    fn ha1(&self, alg: Algorithm) -> Option<Ha1> {
        let (bit, hex): (u8, &[u8]) = match alg {
            Algorithm::Md5 => (1, &self.md5),
            Algorithm::Sha256 => (2, &self.sha256),
        };
        if self.usable & bit == 0 {
            return None;
        }
        Some(Ha1::from_checked(hex))
    }
}

/// The table and the hasher its entries were placed with.
#[derive(Default)]
struct Table {
    entries: HashTable<Entry>,
    // foldhash, not SipHash: the names come from the state database, never from the network,
    // so nobody can fill the table with colliding keys; a request's user name only probes it.
    hasher: foldhash::fast::RandomState,
}

impl Table {
    fn find(&self, user: &str) -> Option<&Entry> {
        let hash = self.hasher.hash_one(user.as_bytes());
        self.entries.find(hash, |e| e.name() == user.as_bytes())
    }
}

/// Users' HA1s by name.
#[derive(Default)]
pub struct UserCache {
    map: RwLock<Table>,
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Arc<Self> {
        Arc::new(UserCache::default())
    }

    /// Replaces the whole content. The old table is dropped after the lock is released:
    /// freeing 100k entries takes milliseconds, during which the core's lookups would wait.
    pub fn replace(&self, users: HashMap<String, (StoredCredentials, Role)>) {
        let mut table = Table { entries: HashTable::with_capacity(users.len()), hasher: foldhash::fast::RandomState::default() };
        let mut unusable = 0usize;
        for (name, (creds, role)) in users {
            let entry = Entry::new(name, &creds, role);
            if entry.usable != 3 {
                unusable += 1;
            }
            let hash = table.hasher.hash_one(entry.name());
            let hasher = &table.hasher;
            table.entries.insert_unique(hash, entry, |e| hasher.hash_one(e.name()));
        }
        if unusable > 0 {
            // No names at warn: they are personal data; `urpd user` shows the rows.
            tracing::warn!(users = unusable, "users with a stored HA1 that is not one (edited by hand?): they cannot authenticate with it");
        }
        let old = match self.map.write() {
            Ok(mut m) => std::mem::replace(&mut *m, table),
            Err(_) => return,
        };
        drop(old);
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.entries.len()).unwrap_or(0)
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Credentials for UserCache {
    fn ha1(&self, user: &str, alg: Algorithm) -> Option<Ha1> {
        self.map.read().ok()?.find(user)?.ha1(alg)
    }

    fn exists(&self, user: &str) -> bool {
        self.map.read().ok().is_some_and(|m| m.find(user).is_some())
    }

    fn is_gateway(&self, user: &str) -> bool {
        self.map.read().ok().and_then(|m| m.find(user).map(|e| e.role == Role::Gateway)).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "urp.example";

    fn users(list: &[(&str, &str, Role)]) -> Arc<UserCache> {
        let cache = UserCache::new();
        cache.replace(
            list.iter()
                .map(|&(name, password, role)| (name.to_string(), (StoredCredentials::from_password(name, REALM, password), role)))
                .collect(),
        );
        cache
    }

    /// Every name length, inline or not, finds its own HA1s and role and nobody else's.
    #[test]
    fn lookups_agree_with_the_stored_credentials() {
        let long = "a".repeat(INLINE_NAME + 1);
        let longer = format!("{long}b");
        let names = ["x", "mario.rossi", &"m".repeat(INLINE_NAME), &long, &longer, "é.accentato", "gw"];
        let list: Vec<(&str, &str, Role)> =
            names.iter().map(|n| (*n, "pw", if *n == "gw" { Role::Gateway } else { Role::Agent })).collect();
        let cache = users(&list);
        assert_eq!(cache.len(), names.len());
        for n in names {
            let stored = StoredCredentials::from_password(n, REALM, "pw");
            for alg in [Algorithm::Md5, Algorithm::Sha256] {
                assert_eq!(cache.ha1(n, alg).map(|h| h.as_str().to_owned()).as_deref(), Some(stored.ha1(alg)), "{n} {alg}");
            }
            assert!(cache.exists(n));
            assert_eq!(cache.is_gateway(n), n == "gw");
        }
        for absent in ["", "X", "mario.ross", "mario.rossi ", &"m".repeat(INLINE_NAME - 1), &"a".repeat(INLINE_NAME + 2)] {
            assert!(!cache.exists(absent) && cache.ha1(absent, Algorithm::Md5).is_none(), "{absent:?}");
        }
    }

    /// A stored HA1 that is not one (wrong length, not hex) authenticates nobody under its
    /// algorithm, and the other still works; capitals are folded.
    #[test]
    fn unusable_and_capital_ha1s() {
        let cache = UserCache::new();
        let good = StoredCredentials::from_password("anna", REALM, "pw");
        let mut bad = good.clone();
        bad.ha1_md5.truncate(31);
        let mut caps = good.clone();
        caps.ha1_sha256 = caps.ha1_sha256.to_ascii_uppercase();
        caps.ha1_md5 = "z".repeat(32);
        cache.replace(HashMap::from([("anna".to_string(), (bad, Role::Agent)), ("bruno".to_string(), (caps, Role::Agent))]));
        assert!(cache.ha1("anna", Algorithm::Md5).is_none());
        assert_eq!(cache.ha1("anna", Algorithm::Sha256).map(|h| h.as_str().to_owned()), Some(good.ha1_sha256.clone()));
        assert!(cache.ha1("bruno", Algorithm::Md5).is_none());
        assert_eq!(cache.ha1("bruno", Algorithm::Sha256).map(|h| h.as_str().to_owned()), Some(good.ha1_sha256));
        assert!(cache.exists("anna") && cache.exists("bruno"));
    }

    /// A reload replaces the content whole.
    #[test]
    fn replace_drops_the_old_users() {
        let cache = users(&[("a", "1", Role::Agent), ("b", "2", Role::Agent)]);
        cache.replace(HashMap::from([("c".to_string(), (StoredCredentials::from_password("c", REALM, "3"), Role::Admin))]));
        assert!(!cache.exists("a") && !cache.exists("b") && cache.exists("c"));
        assert_eq!(cache.len(), 1);
    }
}
