//! `ShardedMap`: a hash map split into 64 tables, so that growing it never rehashes every entry
//! at once.
//!
//! Why: a `HashMap` doubles its table when it fills, moving every entry in one call. The
//! transaction layer and the proxy keep every call's transactions for 64*T1 (32 s), so at
//! 3,200 calls/s their maps hold 100k–600k entries, and each doubling stalled the core's only
//! thread for tens of milliseconds: `benches/profile.sh call 3200 10 cpu` showed 150–250
//! answers over 20 ms (max 36–48 ms) at the same seconds of every run, and none with the maps
//! pre-sized. Split in 64, each table grows on its own insert, so one growth moves 1/64 of the
//! entries. Kamailio gets the same from its fixed-size bucket arrays.
//!
//! Keys are hashed once, by default with the standard library's `RandomState` (SipHash with a
//! random key, as `HashMap`: keys come from the network); the top 6 bits choose the table and
//! the other bits index it. Ids this process allocates itself (transaction ids, a counter nobody
//! outside chooses) need no keyed hash at all: [`IdHasher`] multiplies them. SipHash of a `u64`
//! was ~450 instructions, and a REGISTER transaction looked up or removed ids ~14 times.

use hashbrown::HashTable;
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

/// log2 of the number of tables.
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// Tables this small are not worth shrinking (a few KB each).
const SHRINK_MIN: usize = 256;

/// The one rule for giving memory back after a burst, for these maps and the lists kept beside
/// them: more than `min` slots at under a quarter full. Shrinking to twice the entries then
/// leaves a steady load room to grow before it would need to, so no table grows and shrinks
/// in turn.
pub fn sparse(len: usize, capacity: usize, min: usize) -> bool {
    capacity > min && len * 4 < capacity
}

/// A hash map of `K` to `V` in 64 independently growing tables. The subset of `HashMap`'s API
/// the transaction layer and the proxy use.
#[derive(Debug)]
pub struct ShardedMap<K, V, S = RandomState> {
    shards: Box<[HashTable<(K, V)>]>,
    hasher: S,
    len: usize,
}

impl<K: Hash + Eq, V, S: BuildHasher + Default> Default for ShardedMap<K, V, S> {
    fn default() -> Self {
        ShardedMap { shards: (0..SHARDS).map(|_| HashTable::new()).collect(), hasher: S::default(), len: 0 }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    /// An empty map hashing with SipHash under a random key (allocates nothing until the first
    /// insert into each table).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> ShardedMap<K, V, S> {
    /// The table and the in-table hash for a key's hash: the top bits pick the table; the
    /// in-table hash must not keep them on top, where hashbrown reads its 7-bit tags (every
    /// entry of a table would share them), so they are shifted out and 6 other bits fill in.
    fn place(hash: u64) -> (usize, u64) {
        let shard = (hash >> (64 - SHARD_BITS)) as usize;
        let inner = (hash << SHARD_BITS) | ((hash >> (64 - 2 * SHARD_BITS)) & (SHARDS as u64 - 1));
        (shard, inner)
    }

    fn hash_of<Q: Hash + ?Sized>(&self, k: &Q) -> u64 {
        self.hasher.hash_one(k)
    }

    /// The value for `k`.
    pub fn get<Q>(&self, k: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (s, h) = Self::place(self.hash_of(k));
        self.shards[s].find(h, |(key, _)| key.borrow() == k).map(|(_, v)| v)
    }

    /// The value for `k`, mutably.
    pub fn get_mut<Q>(&mut self, k: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (s, h) = Self::place(self.hash_of(k));
        self.shards[s].find_mut(h, |(key, _)| key.borrow() == k).map(|(_, v)| v)
    }

    /// Whether `k` has a value.
    pub fn contains_key<Q>(&self, k: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get(k).is_some()
    }

    /// Sets `k` to `v`; the previous value, if any.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        let (s, h) = Self::place(self.hash_of(&k));
        let hasher = &self.hasher;
        // One probe: the entry either holds the key or is the slot to put it in.
        match self.shards[s].entry(h, |(key, _)| *key == k, |(key, _)| Self::place(hasher.hash_one(key)).1) {
            hashbrown::hash_table::Entry::Occupied(mut e) => Some(std::mem::replace(&mut e.get_mut().1, v)),
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert((k, v));
                self.len += 1;
                None
            }
        }
    }

    /// The value for `k`, inserting `make()` first when there is none; `true` when it was
    /// inserted. One hash and one probe for a lookup that usually misses.
    pub fn get_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V) -> (&mut V, bool) {
        let (s, h) = Self::place(self.hash_of(&k));
        let hasher = &self.hasher;
        match self.shards[s].entry(h, |(key, _)| *key == k, |(key, _)| Self::place(hasher.hash_one(key)).1) {
            hashbrown::hash_table::Entry::Occupied(e) => (&mut e.into_mut().1, false),
            hashbrown::hash_table::Entry::Vacant(e) => {
                self.len += 1;
                (&mut e.insert((k, make())).into_mut().1, true)
            }
        }
    }

    /// Removes `k` when `pred` accepts its value; the value, if removed. One hash where `get` then `remove` took two.
    pub fn remove_if<Q>(&mut self, k: &Q, pred: impl FnOnce(&V) -> bool) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (s, h) = Self::place(self.hash_of(k));
        let entry = self.shards[s].find_entry(h, |(key, _)| key.borrow() == k).ok()?;
        if !pred(&entry.get().1) {
            return None;
        }
        let ((_, v), _) = entry.remove();
        self.len -= 1;
        Some(v)
    }

    /// Removes `k`; its value, if it had one.
    pub fn remove<Q>(&mut self, k: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (s, h) = Self::place(self.hash_of(k));
        let entry = self.shards[s].find_entry(h, |(key, _)| key.borrow() == k).ok()?;
        let ((_, v), _) = entry.remove();
        self.len -= 1;
        Some(v)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many entries the tables can hold without growing.
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(HashTable::capacity).sum()
    }

    /// Gives back the memory of tables left mostly empty (a burst's transactions have gone):
    /// each table [`sparse`] shrinks to twice its entries, rehashed on its own as when it
    /// grows. Returns how many tables shrank.
    pub fn shrink_sparse(&mut self) -> usize {
        let hasher = &self.hasher;
        let mut shrunk = 0;
        for t in self.shards.iter_mut() {
            if sparse(t.len(), t.capacity(), SHRINK_MIN) {
                t.shrink_to(t.len() * 2, |(key, _)| Self::place(hasher.hash_one(key)).1);
                shrunk += 1;
            }
        }
        shrunk
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(|t| t.iter().map(|(k, v)| (k, v)))
    }

    /// Every value, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }
}

/// FNV-1a over `bytes` from `state`: the fallback of the `u64` hasher below for input that is
/// not the one `u64` it is meant for.
fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A `BuildHasher` for ids this process allocates from a counter (`TxId`): nobody outside
/// chooses them, so there is nothing to key against and a Fibonacci multiply spreads
/// consecutive ids over the top bits (which pick the table) and the rest. Other input is
/// folded in with FNV-1a.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher;

/// The hasher [`IdHasher`] builds.
#[derive(Clone, Copy, Debug, Default)]
pub struct IdMix(u64);

impl BuildHasher for IdHasher {
    type Hasher = IdMix;
    fn build_hasher(&self) -> IdMix {
        IdMix(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for IdMix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(self.0, bytes);
    }
    fn write_u64(&mut self, v: u64) {
        // 2^64 / golden ratio: consecutive ids land far apart in every bit range.
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_map_left_sparse_gives_its_memory_back_and_keeps_its_entries() {
        let mut m: ShardedMap<u64, u64> = ShardedMap::new();
        for i in 0..200_000u64 {
            m.insert(i, i * 3);
        }
        let peak = m.capacity();
        for i in 1_000..200_000u64 {
            m.remove(&i);
        }
        assert!(m.shrink_sparse() > 0);
        assert!(m.capacity() * 20 < peak, "{} of {peak}", m.capacity());
        assert_eq!(m.len(), 1_000);
        assert!((0..1_000u64).all(|i| m.get(&i) == Some(&(i * 3))));
        // A map at its working size is left alone.
        assert_eq!(m.shrink_sparse(), 0);
    }

    #[test]
    fn behaves_like_a_hash_map() {
        let mut m: ShardedMap<String, u32> = ShardedMap::new();
        let mut reference = HashMap::new();
        for i in 0..20_000u32 {
            let k = format!("z9hG4bK-{}", i % 7_919);
            match i % 5 {
                0..=2 => assert_eq!(m.insert(k.clone(), i), reference.insert(k, i)),
                3 => assert_eq!(m.remove(k.as_str()), reference.remove(&k)),
                _ => {
                    if let (Some(a), Some(b)) = (m.get_mut(k.as_str()), reference.get_mut(&k)) {
                        *a += 1;
                        *b += 1;
                    }
                }
            }
            assert_eq!(m.len(), reference.len());
        }
        for (k, v) in &reference {
            assert_eq!(m.get(k.as_str()), Some(v));
            assert!(m.contains_key(k.as_str()));
        }
        assert_eq!(m.iter().count(), reference.len());
        assert!(!m.contains_key("absent"));
    }

    #[test]
    fn entries_spread_over_the_tables() {
        let mut m: ShardedMap<u64, ()> = ShardedMap::new();
        for i in 0..64_000u64 {
            m.insert(i, ());
        }
        // Each table gets about 1,000; none is empty or holds several times its share.
        for t in m.shards.iter() {
            assert!((500..2_000).contains(&t.len()), "table of {} entries", t.len());
        }
    }

    #[test]
    fn consecutive_ids_spread_with_the_id_hasher() {
        let mut m: ShardedMap<u64, u64, IdHasher> = ShardedMap::default();
        for i in 1_000_000..1_064_000u64 {
            m.insert(i, i);
        }
        for t in m.shards.iter() {
            assert!((500..2_000).contains(&t.len()), "table of {} entries", t.len());
        }
        assert_eq!(m.get(&1_000_042), Some(&1_000_042));
    }

    #[test]
    fn get_or_insert_and_remove_if() {
        let mut m: ShardedMap<String, u32> = ShardedMap::new();
        let (v, fresh) = m.get_or_insert_with("a".into(), || 1);
        assert_eq!((*v, fresh), (1, true));
        *v = 2;
        let (v, fresh) = m.get_or_insert_with("a".into(), || unreachable!());
        assert_eq!((*v, fresh), (2, false));
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove_if("a", |v| *v == 3), None);
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove_if("a", |v| *v == 2), Some(2));
        assert_eq!(m.remove_if("a", |_| true), None);
        assert!(m.is_empty());
    }
}
