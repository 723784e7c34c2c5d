//! Write-back of registrations to the state database (Kamailio's `db_mode=2` idea), off the
//! core's thread. The core appends its binding changes to a [`ChangeQueue`] after each turn;
//! the writer takes them once a second, coalesces them per binding and writes them in one
//! transaction. New and removed bindings, and any change of what routing reads (flow, contact
//! text, q, User-Agent), are written within the second; a plain refresh (`Change::Refresh`:
//! the lapse time moved later, with the Call-ID and CSeq) waits up to `[registrar]
//! refresh_write_secs` ([`REFRESH_DELAY`] by default), and a later change of the same binding
//! replaces it. A phone refreshing every two seconds then
//! costs one row write per half minute, not fifteen: at 500 REGISTER/s the writes were ~15%
//! of urpd's instructions (callgrind; docs/benchmarks.md, sixteenth round).
//!
//! What a crash can lose: the last second of new and removed bindings, and refreshes of the
//! last `refresh_write_secs`, which leave the stored row with the lapse time the phone had been
//! granted before (see `Change::Refresh`). A graceful stop writes everything. A batch the
//! database refuses stays pending and is retried every second: nothing is dropped.

use std::collections::hash_map::{Entry, HashMap};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{error, info};

use crate::registrar::{Binding, Change};
use crate::state::StateDb;

/// How often registration changes are written back to the state database.
const PERSIST_EVERY: Duration = Duration::from_secs(1);

/// How long a plain refresh may wait before it is written, unless `[registrar]
/// refresh_write_secs` says otherwise. Kamailio's `db_mode=2` holds every change for its
/// `timer_interval` (60 s by default); new bindings and removals are not held.
pub const REFRESH_DELAY: Duration = Duration::from_secs(30);

/// Binding changes on their way from the core to the writer. The core appends after each
/// turn and the writer takes the lot once a second: no task wake-up per turn, where a channel
/// woke the writer on every turn that changed a binding (~1,000 instructions each, callgrind).
#[derive(Default)]
pub struct ChangeQueue(std::sync::Mutex<Vec<Change>>);

impl ChangeQueue {
    /// Moves one turn's changes out of `changes` (left empty, its capacity kept for the next
    /// turn: handing over the `Vec` itself made the core grow a new one from nothing every
    /// turn, and this queue regrow by doubling after every take, ~1% of urpd's CPU at
    /// 12,000 REGISTER transactions a second in `Vec` growth alone, perf).
    pub fn push_from(&self, changes: &mut Vec<Change>) {
        // Nothing panics while holding the lock, so a poisoned one still holds whole changes.
        let mut q = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        q.append(changes);
    }

    fn take(&self) -> Vec<Change> {
        let mut q = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The next second's changes get room for as many as this one's.
        let room = q.len();
        std::mem::replace(&mut *q, Vec::with_capacity(room))
    }
}

/// A binding's identity: its AOR and contact text.
type BindingKey = (Arc<str>, Arc<str>);

/// Refreshes waiting to be written, by binding, with when the first of them arrived: a
/// binding refreshed more often than `delay` is still written every `delay`.
/// `order` lists the bindings in the order they were first held, which is the order they fall
/// due (`now` only grows), so a tick looks at the due ones only, not at every held refresh
/// (with 100k phones that scan would run each second on the core's thread). An entry of
/// `order` whose binding was superseded, or held again since, is skipped when it comes up.
struct Held {
    /// foldhash, not SipHash: a key is a binding's AOR and contact, in the table only once its
    /// REGISTER was authenticated (as `LocationTable`'s keys), and every refresh hashes one.
    map: HashMap<BindingKey, (Instant, Binding), foldhash::fast::RandomState>,
    order: VecDeque<(Instant, BindingKey)>,
    /// How long a refresh waits (`refresh_write_secs`); zero holds nothing.
    delay: Duration,
}

impl Held {
    fn new(delay: Duration) -> Held {
        Held { map: HashMap::default(), order: VecDeque::new(), delay }
    }

    /// Files `incoming` (in arrival order): refreshes are held, everything else goes to
    /// `pending` and drops a held refresh of its binding, which it supersedes.
    fn sort(&mut self, incoming: Vec<Change>, pending: &mut Vec<Change>, now: Instant) {
        if self.delay.is_zero() {
            // Nothing held: every change goes out at this tick, as before round 16.
            pending.extend(incoming);
            return;
        }
        for change in incoming {
            match change {
                Change::Refresh(b) => match self.map.entry((Arc::clone(&b.aor), Arc::clone(&b.contact))) {
                    // The newest refresh waits, from the first one's time.
                    Entry::Occupied(mut held) => held.get_mut().1 = b,
                    Entry::Vacant(slot) => {
                        self.order.push_back((now, slot.key().clone()));
                        slot.insert((now, b));
                    }
                },
                other => {
                    if !self.map.is_empty() {
                        let (aor, contact) = change_key(&other);
                        self.map.remove(&(Arc::clone(aor), Arc::clone(contact)));
                    }
                    pending.push(other);
                }
            }
        }
    }

    /// Moves the refreshes held for `delay` or more (all of them with `all`) to the end
    /// of `pending`: anything older of the same binding is already there, and coalescing keeps
    /// the last change per binding.
    fn release(&mut self, pending: &mut Vec<Change>, now: Instant, all: bool) {
        if all {
            self.order.clear();
            pending.extend(self.map.drain().map(|(_, (_, b))| Change::Refresh(b)));
            return;
        }
        while let Some((since, _)) = self.order.front() {
            if now.saturating_duration_since(*since) < self.delay {
                break;
            }
            let Some((since, key)) = self.order.pop_front() else { break };
            // Still held from that time: not superseded, not held afresh later.
            if self.map.get(&key).is_some_and(|(held_since, _)| *held_since == since) {
                if let Some((_, b)) = self.map.remove(&key) {
                    pending.push(Change::Refresh(b));
                }
            }
        }
    }

    /// Gives back the room a burst left: a hash map and a deque keep their capacity when
    /// emptied, so after 100k phones refreshed within one hold (a network coming back) the
    /// ~28 MB they took stayed allocated for good (measured with the heap-stats build, round
    /// 18). Called once a tick; shrinking only below a quarter of the capacity keeps a steady
    /// load from reallocating every second.
    fn shrink(&mut self) {
        if shrink_worth(self.map.len(), self.map.capacity()) {
            self.map.shrink_to(self.map.len() * 2);
        }
        if shrink_worth(self.order.len(), self.order.capacity()) {
            self.order.shrink_to(self.order.len() * 2);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Whether a collection holding `len` of `capacity` is worth shrinking: mostly empty, and
/// large enough for the bytes to matter.
fn shrink_worth(len: usize, capacity: usize) -> bool {
    capacity > SHRINK_FLOOR && len < capacity / 4
}

/// Below this many entries of room a collection is left as it is.
const SHRINK_FLOOR: usize = 1024;

/// The writer task: a write-back each `PERSIST_EVERY`, plain refreshes after `refresh_delay`,
/// and everything at shutdown (`stop`, sent once the core has queued its last change).
pub async fn persist(db: Arc<StateDb>, queue: Arc<ChangeQueue>, refresh_delay: Duration, mut stop: tokio::sync::oneshot::Receiver<()>) {
    // Changes in arrival order; coalesced per binding only when written (no key copies per
    // REGISTER: the per-change HashMap with owned keys was ~1% of the samples at 8,000/s).
    let mut pending: Vec<Change> = Vec::new();
    let mut held = Held::new(refresh_delay);
    let mut failing = false;
    let mut tick = tokio::time::interval(PERSIST_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => {
                held.sort(queue.take(), &mut pending, Instant::now());
                held.release(&mut pending, Instant::now(), true);
                write_back(&db, &mut pending, &mut failing).await;
                if !pending.is_empty() {
                    // No later tick at shutdown: phones re-register after a restart.
                    error!(changes = pending.len(), "registration changes not saved at shutdown");
                }
                return;
            }
            _ = tick.tick() => {
                let now = Instant::now();
                held.sort(queue.take(), &mut pending, now);
                held.release(&mut pending, now, false);
                write_back(&db, &mut pending, &mut failing).await;
                held.shrink();
                if shrink_worth(pending.len(), pending.capacity()) {
                    pending.shrink_to(pending.len() * 2);
                }
            }
        }
    }
}

/// The binding a change is about.
fn change_key(c: &Change) -> (&Arc<str>, &Arc<str>) {
    match c {
        Change::Upsert(b) | Change::Refresh(b) => (&b.aor, &b.contact),
        Change::Remove { aor, contact } => (aor, contact),
    }
}

/// Keeps the last change of each binding, in order.
fn coalesce(pending: &mut Vec<Change>) -> Vec<Change> {
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(pending.len());
        let mut keep = vec![false; pending.len()];
        for (i, c) in pending.iter().enumerate().rev() {
            let (aor, contact) = change_key(c);
            keep[i] = seen.insert((&**aor, &**contact));
        }
        keep
    };
    pending.drain(..).zip(keep).filter_map(|(c, k)| k.then_some(c)).collect()
}

/// Writes what is pending. A batch the database refuses (disk full, locked past the busy
/// timeout, file replaced) stays pending and is tried again on the next tick with what
/// arrived meanwhile: coalescing keeps it at most one change per binding, so the backlog is
/// bounded by the bindings and nothing is lost when the database comes back. `failing`
/// keeps the log to one error per outage and one line when it ends.
async fn write_back(db: &StateDb, pending: &mut Vec<Change>, failing: &mut bool) {
    if pending.is_empty() {
        return;
    }
    let batch = coalesce(pending);
    match db.save_bindings(&batch).await {
        Ok(()) if *failing => {
            *failing = false;
            info!(changes = batch.len(), "saving registrations works again; the backlog is written");
        }
        Ok(()) => {}
        Err(e) => {
            if !*failing {
                error!(error = %e, changes = batch.len(), "saving registrations failed; kept, retried every second");
            }
            *failing = true;
            // Older changes first: a newer change of the same binding, already queued, wins
            // at the next coalesce.
            let newer = std::mem::replace(pending, batch);
            pending.extend(newer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::addr::{Peer, Protocol};

    fn binding(aor: &str, contact: &str, cseq: u32) -> Binding {
        Binding {
            aor: aor.into(),
            contact: contact.into(),
            q: 1000,
            expires_at: 100,
            call_id: "c".into(),
            cseq,
            received: Peer::new(Protocol::Udp, std::net::SocketAddr::from(([127, 0, 0, 1], 5060))),
            user_agent: None,
            updated_at: 1,
        }
    }

    fn upsert(aor: &str, contact: &str, cseq: u32) -> Change {
        Change::Upsert(binding(aor, contact, cseq))
    }

    fn refresh(aor: &str, contact: &str, cseq: u32) -> Change {
        Change::Refresh(binding(aor, contact, cseq))
    }

    fn remove(aor: &str, contact: &str) -> Change {
        Change::Remove { aor: aor.into(), contact: contact.into() }
    }

    async fn exec(conn: &mut sqlx::SqliteConnection, sql: &str) {
        if let Err(e) = sqlx::query(sql).execute(conn).await {
            panic!("{sql}: {e}");
        }
    }

    /// A write the database refuses is kept and lands once it accepts writes again (here the
    /// table is renamed away from under the daemon's connection, then back).
    #[tokio::test]
    async fn refused_writes_are_kept_and_written_later() {
        use sqlx::Connection;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = StateDb::open(dir.path()).await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("sqlite://{}", db.path().display());
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        let (mut pending, mut failing) = (vec![upsert("a", "x", 1)], false);
        exec(&mut other, "ALTER TABLE bindings RENAME TO bindings_away").await;
        write_back(&db, &mut pending, &mut failing).await;
        assert!(failing);
        assert_eq!(pending, vec![upsert("a", "x", 1)]);
        // Meanwhile the binding is refreshed and another one arrives.
        pending.extend([refresh("a", "x", 2), upsert("b", "y", 1)]);
        write_back(&db, &mut pending, &mut failing).await;
        assert_eq!(pending, vec![refresh("a", "x", 2), upsert("b", "y", 1)]);
        exec(&mut other, "ALTER TABLE bindings_away RENAME TO bindings").await;
        write_back(&db, &mut pending, &mut failing).await;
        assert!(!failing && pending.is_empty());
        let saved = db.load_bindings(0).await.unwrap_or_else(|e| panic!("{e}"));
        let mut got: Vec<(String, u32)> = saved.iter().map(|b| (b.aor.to_string(), b.cseq)).collect();
        got.sort();
        assert_eq!(got, vec![("a".to_owned(), 2), ("b".to_owned(), 1)]);
    }

    #[test]
    fn change_queue_hands_over_everything_in_order_once() {
        let q = ChangeQueue::default();
        q.push_from(&mut vec![upsert("a", "x", 1)]);
        q.push_from(&mut vec![upsert("b", "y", 1), remove("a", "x")]);
        assert_eq!(q.take(), vec![upsert("a", "x", 1), upsert("b", "y", 1), remove("a", "x")]);
        assert!(q.take().is_empty());
        // The core's list is moved out, not handed over: emptied, its room kept for the next
        // turn; after a take the queue has room for as many as the last second brought.
        let mut turn = Vec::with_capacity(8);
        turn.extend([upsert("c", "w", 1), refresh("c", "w", 2), remove("c", "w")]);
        q.push_from(&mut turn);
        assert!(turn.is_empty() && turn.capacity() >= 8);
        turn.push(upsert("d", "v", 1));
        q.push_from(&mut turn);
        assert_eq!(q.take(), vec![upsert("c", "w", 1), refresh("c", "w", 2), remove("c", "w"), upsert("d", "v", 1)]);
        let room = q.0.lock().map(|v| v.capacity()).unwrap_or(0);
        assert!(room >= 4, "{room}");
    }

    #[test]
    fn coalesce_keeps_the_last_change_per_binding_in_order() {
        let mut pending = vec![upsert("a", "x", 1), upsert("b", "y", 1), refresh("a", "x", 2), remove("b", "y"), upsert("a", "z", 1)];
        let batch = coalesce(&mut pending);
        assert!(pending.is_empty());
        assert_eq!(batch, vec![refresh("a", "x", 2), remove("b", "y"), upsert("a", "z", 1)]);
    }

    /// Refreshes wait `REFRESH_DELAY` from the first one held for their binding; everything
    /// else passes at once.
    #[test]
    fn refreshes_are_held_and_released_after_the_delay() {
        let t0 = Instant::now();
        let (mut held, mut pending) = (Held::new(REFRESH_DELAY), Vec::new());
        held.sort(vec![upsert("a", "x", 1), refresh("b", "y", 5), remove("c", "z")], &mut pending, t0);
        assert_eq!(pending, vec![upsert("a", "x", 1), remove("c", "z")]);
        assert_eq!(held.len(), 1);
        pending.clear();
        // Refreshed again and again: the newest waits, but from the first one's time.
        for (i, s) in [10u64, 20, 29].into_iter().enumerate() {
            held.sort(vec![refresh("b", "y", 6 + i as u32)], &mut pending, t0 + Duration::from_secs(s));
            held.release(&mut pending, t0 + Duration::from_secs(s), false);
            assert!(pending.is_empty(), "released at {s} s");
        }
        held.release(&mut pending, t0 + REFRESH_DELAY, false);
        assert_eq!(pending, vec![refresh("b", "y", 8)]);
        assert_eq!(held.len(), 0);
    }

    /// A burst of held refreshes does not keep its room once written (the map and the deque
    /// give it back); a steady handful is left alone.
    #[test]
    fn the_room_of_a_burst_is_given_back() {
        let t0 = Instant::now();
        let (mut held, mut pending) = (Held::new(REFRESH_DELAY), Vec::new());
        let burst: Vec<Change> = (0..20_000).map(|i| refresh(&format!("u{i}"), "c", 1)).collect();
        held.sort(burst, &mut pending, t0);
        assert_eq!(held.len(), 20_000);
        held.sort(vec![refresh("late", "c", 1)], &mut pending, t0 + Duration::from_secs(1));
        held.release(&mut pending, t0 + REFRESH_DELAY, false);
        assert_eq!((held.len(), pending.len()), (1, 20_000));
        assert!(held.map.capacity() >= 20_000 && held.order.capacity() >= 20_000);
        held.shrink();
        assert!(
            held.map.capacity() < SHRINK_FLOOR && held.order.capacity() < SHRINK_FLOOR,
            "{} {}",
            held.map.capacity(),
            held.order.capacity()
        );
        // What is held survives the shrink and is released on time.
        held.release(&mut pending, t0 + Duration::from_secs(1) + REFRESH_DELAY, false);
        assert_eq!((held.len(), pending.last()), (0, Some(&refresh("late", "c", 1))));
        assert!(!shrink_worth(10, 1024) && !shrink_worth(600, 2048) && shrink_worth(400, 2048));
    }

    /// A later full change of the binding supersedes the held refresh (no older row written
    /// after it); a refresh after it is held again.
    #[test]
    fn a_later_change_supersedes_a_held_refresh() {
        let t0 = Instant::now();
        let (mut held, mut pending) = (Held::new(REFRESH_DELAY), Vec::new());
        held.sort(vec![refresh("a", "x", 1), refresh("b", "y", 1)], &mut pending, t0);
        held.sort(vec![upsert("a", "x", 2), remove("b", "y"), refresh("a", "x", 3)], &mut pending, t0);
        assert_eq!(pending, vec![upsert("a", "x", 2), remove("b", "y")]);
        held.release(&mut pending, t0 + REFRESH_DELAY, false);
        assert_eq!(pending, vec![upsert("a", "x", 2), remove("b", "y"), refresh("a", "x", 3)]);
        assert_eq!(coalesce(&mut pending), vec![remove("b", "y"), refresh("a", "x", 3)]);
        // Superseded, then held again later: it waits from the later time, not the first.
        let t1 = t0 + Duration::from_secs(40);
        held.sort(vec![refresh("c", "z", 1)], &mut pending, t1);
        held.sort(vec![upsert("c", "z", 2)], &mut pending, t1 + Duration::from_secs(10));
        held.sort(vec![refresh("c", "z", 3)], &mut pending, t1 + Duration::from_secs(20));
        pending.clear();
        held.release(&mut pending, t1 + REFRESH_DELAY, false);
        assert!(pending.is_empty(), "released from the superseded hold's time: {pending:?}");
        held.release(&mut pending, t1 + Duration::from_secs(20) + REFRESH_DELAY, false);
        assert_eq!(pending, vec![refresh("c", "z", 3)]);
        assert_eq!((held.len(), held.order.len()), (0, 0));
    }

    /// At shutdown every held refresh is released, however recent.
    #[test]
    fn shutdown_releases_everything_held() {
        let t0 = Instant::now();
        let (mut held, mut pending) = (Held::new(REFRESH_DELAY), Vec::new());
        held.sort(vec![refresh("a", "x", 1), refresh("b", "y", 1)], &mut pending, t0);
        held.release(&mut pending, t0, true);
        pending.sort_by(|a, b| change_key(a).cmp(&change_key(b)));
        assert_eq!(pending, vec![refresh("a", "x", 1), refresh("b", "y", 1)]);
        assert_eq!(held.len(), 0);
    }

    /// `refresh_write_secs = 0`: nothing is held, a refresh goes out at the tick it arrives,
    /// and `release` has nothing to add.
    #[test]
    fn zero_delay_holds_nothing() {
        let t0 = Instant::now();
        let (mut held, mut pending) = (Held::new(Duration::ZERO), Vec::new());
        held.sort(vec![refresh("a", "x", 1), upsert("b", "y", 1)], &mut pending, t0);
        assert_eq!(pending, vec![refresh("a", "x", 1), upsert("b", "y", 1)]);
        held.release(&mut pending, t0, false);
        assert_eq!((pending.len(), held.len()), (2, 0));
    }

    /// A configured delay is the one the holding uses.
    #[test]
    fn configured_delay_is_honoured() {
        let t0 = Instant::now();
        let delay = Duration::from_secs(5);
        let (mut held, mut pending) = (Held::new(delay), Vec::new());
        held.sort(vec![refresh("a", "x", 1)], &mut pending, t0);
        held.release(&mut pending, t0 + delay - Duration::from_millis(1), false);
        assert!(pending.is_empty());
        held.release(&mut pending, t0 + delay, false);
        assert_eq!(pending, vec![refresh("a", "x", 1)]);
    }
}
