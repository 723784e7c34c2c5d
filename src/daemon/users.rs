//! The in-memory cache of users' credentials the core authenticates against. Loaded from the
//! state database at start, and reloaded when the database changes (the CLI writes users from
//! another process and then pokes the admin socket; a users-only version number is polled too).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::auth::StoredCredentials;
use crate::proxy::Credentials;
use crate::state::Role;

/// Users' HA1s by name.
#[derive(Default)]
pub struct UserCache {
    // Shared, not cloned per lookup: a clone was two String allocations per REGISTER.
    // foldhash, not SipHash: the names come from the state database, never from the network,
    // so nobody can fill the table with colliding keys; a request's user name only probes it.
    map: RwLock<HashMap<String, (Arc<StoredCredentials>, Role), foldhash::fast::RandomState>>,
}

impl UserCache {
    /// An empty cache.
    pub fn new() -> Arc<Self> {
        Arc::new(UserCache::default())
    }

    /// Replaces the whole content. The old map is dropped after the lock is released: freeing
    /// 100k entries takes tens of milliseconds, during which the core's lookups would wait.
    pub fn replace(&self, users: HashMap<String, (StoredCredentials, Role)>) {
        let users = users.into_iter().map(|(name, (creds, role))| (name, (Arc::new(creds), role))).collect();
        let old = match self.map.write() {
            Ok(mut m) => std::mem::replace(&mut *m, users),
            Err(_) => return,
        };
        drop(old);
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Credentials for UserCache {
    fn lookup(&self, user: &str) -> Option<Arc<StoredCredentials>> {
        self.map.read().ok()?.get(user).map(|(c, _)| c.clone())
    }

    fn is_gateway(&self, user: &str) -> bool {
        self.map.read().ok().and_then(|m| m.get(user).map(|(_, r)| *r == Role::Gateway)).unwrap_or(false)
    }
}
