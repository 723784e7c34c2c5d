//! The CRM store, its outbox and the CRM commands of the CLI (no SIP traffic, so no loopback
//! address of its own).
//!
//! Every store test runs twice, on SQLite (a file in a temp dir) and on the PostgreSQL server at
//! 127.0.0.1:5432 (user postgres, trust auth), where it creates and drops its own database
//! `urpd_test_<random>`. PostgreSQL being unreachable is a failure, not a skip: scripts/test.sh
//! starts it.

#![allow(clippy::cloned_ref_to_slice_refs)] // `[t.clone()]` reads better in expectations

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use sqlx::Connection;
use urpd::crm::{
    CaseFilter, CaseToken, Channel, CrmError, CrmStore, EventKind, IncomingCall, OpenCase, Outbox, OutboxRecord, Rating, StoreOptions,
    TimelineEvent,
};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Nothing listens here: a PostgreSQL that is down.
const PG_DOWN: &str = "postgres://postgres@127.0.0.1:1/urpd";
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// A database for one test; dropping it drops the PostgreSQL database.
struct TestDb {
    url: String,
    pg_name: Option<String>,
    tmp: tempfile::TempDir,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        TestDb { url: tmp.path().join("crm.db").to_string_lossy().into_owned(), pg_name: None, tmp }
    }

    async fn postgres() -> TestDb {
        let mut admin = sqlx::PgConnection::connect(PG_ADMIN).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {PG_ADMIN} ({e}); the CRM tests need it: run scripts/test.sh, which installs and starts it"
            )
        });
        let name = format!("urpd_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let _ = admin.close().await;
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        TestDb { url: format!("postgres://postgres@127.0.0.1:5432/{name}"), pg_name: Some(name), tmp }
    }

    async fn store(&self, node: &str) -> CrmStore {
        CrmStore::open(&self.url, node).await.unwrap_or_else(|e| panic!("open {}: {e}", self.url))
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else { return };
        // Drop runs outside async context: a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(PG_ADMIN).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await.ok()?;
                admin.close().await.ok()
            })
        })
        .join();
    }
}

/// Defines `mod $name { sqlite, postgres }` running `async fn $name(TestDb)` on each backend.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::TestDb::postgres().await).await
            }
        }
    )*};
}

both!(
    case_open_reuse_window_topic,
    timeline_append_idempotent,
    two_nodes_one_database,
    outbox_replays_in_order_after_outage,
    outbox_survives_crash_and_replays_once,
    purge_retention,
    notes_search_across_administrations,
    ratings_are_anonymous,
    list_cases_filters,
);

fn t0() -> SystemTime {
    // A fixed recent past (one value per test process), so that reuse windows and purges are
    // deterministic; on an hour boundary, because ratings are counted per hour and a test that
    // adds a minute to t0 must stay in t0's hour whenever it runs (run at 04:59 it did not).
    static T0: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let secs = (SystemTime::now() - 10 * DAY).duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs - secs % 3600)
    })
}

fn call<'a>(caller: &'a str, admin: &'a str, topic: Option<&'a str>, call_id: &'a str, at: SystemTime) -> IncomingCall<'a> {
    IncomingCall { caller, called: "803001", administration: admin, topic, call_id, at }
}

async fn case_open_reuse_window_topic(db: TestDb) {
    let s = db.store("roma").await;
    let w = DAY;
    let a = s.on_incoming(&call("+393331111111", "inps", Some("pensioni"), "c1", t0()), w).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!a.reused && !a.caller_known);
    assert_eq!(a.open_cases, 1);
    assert_eq!(a.token.node(), "roma");

    // Same caller, administration and topic within the window: same case.
    let b = s.on_incoming(&call("+393331111111", "inps", Some("pensioni"), "c2", t0() + HOUR), w).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.token, a.token);
    assert!(b.reused && b.caller_known);
    assert_eq!(b.open_cases, 1);

    // Other topic: new case. Other administration: new case.
    let c =
        s.on_incoming(&call("+393331111111", "inps", Some("invalidità"), "c3", t0() + 2 * HOUR), w).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.reused && c.token != a.token);
    assert_eq!(c.open_cases, 2);
    let d = s
        .on_incoming(&call("+393331111111", "agenzia-entrate", Some("pensioni"), "c4", t0() + 2 * HOUR), w)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!d.reused && d.token != a.token && d.token != c.token);
    assert_eq!(d.open_cases, 3);

    // After the window: new case, though the first is still open.
    let e =
        s.on_incoming(&call("+393331111111", "inps", Some("pensioni"), "c5", t0() + 2 * DAY), w).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!e.reused && e.token != a.token);
    assert_eq!(e.open_cases, 4);

    // A closed case is never reused.
    assert!(s.close_case(&e.token).await.unwrap_or_else(|e| panic!("{e}")));
    assert!(!s.close_case(&e.token).await.unwrap_or_else(|e| panic!("{e}")));
    let f = s
        .on_incoming(&call("+393331111111", "inps", Some("pensioni"), "c6", t0() + 2 * DAY + HOUR), w)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!f.reused && f.token != e.token);

    // No topic is a topic of its own; another caller never shares a case.
    let g = s.on_incoming(&call("+393331111111", "inps", None, "c7", t0() + 2 * DAY + HOUR), w).await.unwrap_or_else(|e| panic!("{e}"));
    let h = s.on_incoming(&call("+393331111111", "inps", None, "c8", t0() + 2 * DAY + 2 * HOUR), w).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!g.reused && h.reused && g.token == h.token);
    let other =
        s.on_incoming(&call("+393332222222", "inps", None, "c9", t0() + 2 * DAY + 2 * HOUR), w).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!other.reused && !other.caller_known && other.token != g.token);

    let v = s.case_timeline(&a.token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case missing"));
    assert_eq!(v.case.caller.as_deref(), Some("+393331111111"));
    assert_eq!(v.case.topic, "pensioni");
    assert_eq!(v.events.iter().filter(|e| e.kind == EventKind::Incoming).count(), 2);
    assert!(s.case_timeline(&CaseToken::mint("roma").unwrap_or_else(|e| panic!("{e}"))).await.unwrap_or_else(|e| panic!("{e}")).is_none());
    s.close().await;
}

async fn timeline_append_idempotent(db: TestDb) {
    let s = db.store("roma").await;
    let r = s.on_incoming(&call("+393331111111", "inps", None, "leg-1", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    let evs = [
        TimelineEvent::new(
            r.token.clone(),
            "roma",
            t0() + Duration::from_secs(1),
            EventKind::Routed,
            json!({"rule": "inps-1", "target": "queue:pensioni"}),
        ),
        TimelineEvent::new(r.token.clone(), "roma", t0() + Duration::from_secs(2), EventKind::Ringing, json!({})),
        TimelineEvent::new(r.token.clone(), "roma", t0() + Duration::from_secs(3), EventKind::Answered, json!({"agent": "1001"}))
            .with_leg("leg-1"),
        TimelineEvent::new(r.token.clone(), "roma", t0() + Duration::from_secs(60), EventKind::HungUp, json!({"by": "caller"}))
            .with_leg("leg-1"),
    ];
    for e in &evs {
        s.append(e).await.unwrap_or_else(|e| panic!("{e}"));
    }
    for e in &evs {
        s.append(e).await.unwrap_or_else(|e| panic!("{e}")); // replay
    }
    let v = s.case_timeline(&r.token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case missing"));
    let kinds: Vec<&str> = v.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["incoming", "routed", "ringing", "answered", "hung_up"]);
    assert_eq!(v.events[1].detail, json!({"rule": "inps-1", "target": "queue:pensioni"}));
    assert_eq!(v.events[3].leg.as_deref(), Some("leg-1"));
    assert_eq!(v.case.updated_at, urpd::crm::time::to_ms(t0() + Duration::from_secs(60)));

    // The events closed the contact.
    let h = s.caller_history("+393331111111").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no history"));
    assert_eq!(h.contacts.len(), 1);
    let c = &h.contacts[0];
    assert_eq!((c.call_id.as_str(), c.from.as_str(), c.to.as_str(), c.node.as_str()), ("leg-1", "+393331111111", "803001", "roma"));
    assert_eq!(c.answered_at, Some(urpd::crm::time::to_ms(t0() + Duration::from_secs(3))));
    assert_eq!(c.ended_at, Some(urpd::crm::time::to_ms(t0() + Duration::from_secs(60))));
    assert_eq!(c.outcome.as_deref(), Some("hung_up"));

    // A closed event closes the case; unknown kinds survive a round trip.
    s.append(&TimelineEvent::new(
        r.token.clone(),
        "roma",
        t0() + Duration::from_secs(70),
        EventKind::Other("survey_sent".into()),
        json!({}),
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s.append(&TimelineEvent::new(r.token.clone(), "roma", t0() + Duration::from_secs(80), EventKind::Closed, json!({})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let v = s.case_timeline(&r.token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case missing"));
    assert_eq!(v.case.status, "closed");
    assert!(v.events.iter().any(|e| e.kind == EventKind::Other("survey_sent".into())));
    assert!(s.caller_history("+390000000000").await.unwrap_or_else(|e| panic!("{e}")).is_none());
    s.close().await;
}

async fn two_nodes_one_database(db: TestDb) {
    let roma = db.store("roma").await;
    let milano = db.store("milano").await;
    let a = roma.on_incoming(&call("+393331111111", "inps", None, "r-1", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    // The other node sees the case, reuses it for the same caller, and both timelines merge.
    let b = milano.on_incoming(&call("+393331111111", "inps", None, "m-1", t0() + HOUR), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.token, a.token);
    assert!(b.reused && b.caller_known);
    milano
        .append(&TimelineEvent::new(
            a.token.clone(),
            "milano",
            t0() + HOUR + Duration::from_secs(5),
            EventKind::Answered,
            json!({"agent": "2001"}),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for s in [&roma, &milano] {
        let v = s.case_timeline(&a.token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case missing on {}", s.node()));
        let nodes: Vec<&str> = v.events.iter().map(|e| e.node.as_str()).collect();
        assert_eq!(nodes, ["roma", "milano", "milano"], "on {}", s.node());
        assert_eq!(v.case.opened_by, "roma");
    }
    // A case minted by milano is visible to roma.
    let c = milano.on_incoming(&call("+393332222222", "comune-milano", None, "m-2", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.token.node(), "milano");
    let listed = roma.list_cases(&CaseFilter::default()).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.iter().any(|x| x.token == c.token));
    roma.close().await;
    milano.close().await;
}

/// A store handle on a PostgreSQL that is down (fails fast).
fn down_store() -> CrmStore {
    CrmStore::open_lazy(PG_DOWN, "roma", &StoreOptions { pool_size: 2, acquire_timeout: Duration::from_millis(300) })
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An `OpenCase` record plus `n` events on it, as the daemon pushes them with the DB down.
fn offline_call(n: usize, caller: &str, call_id: &str) -> (CaseToken, Vec<OutboxRecord>) {
    let token = CaseToken::mint("roma").unwrap_or_else(|e| panic!("{e}"));
    let at = t0();
    let inc = call(caller, "inps", Some("pensioni"), call_id, at);
    let mut recs = vec![OutboxRecord::OpenCase(OpenCase::from_call(&inc, token.clone(), "roma"))];
    for i in 0..n {
        let kind = match i % 3 {
            0 => EventKind::Routed,
            1 => EventKind::Ringing,
            _ => EventKind::Failed,
        };
        // Same timestamp for all: the timeline order must then come from the ids (push order).
        recs.push(OutboxRecord::Event(TimelineEvent::new(token.clone(), "roma", at + Duration::from_secs(1), kind, json!({ "i": i }))));
    }
    (token, recs)
}

async fn wait_pending_zero(ob: &Outbox) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while ob.pending() > 0 {
        assert!(Instant::now() < deadline, "outbox still has {} records after 60 s", ob.pending());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn outbox_replays_in_order_after_outage(db: TestDb) {
    let ob = Outbox::open(&db.dir().join("state/outbox.db")).await.unwrap_or_else(|e| panic!("{e}"));
    let (t1, recs1) = offline_call(150, "+393331111111", "leg-a");
    let (t2, recs2) = offline_call(30, "+393332222222", "leg-b");
    let rating = Rating::new("inps", Some("pensioni"), Channel::Phone, 1, t0()).unwrap_or_else(|e| panic!("{e}"));
    let total = recs1.len() + recs2.len() + 1;
    for r in recs1.iter().chain(recs2.iter()).cloned().chain([OutboxRecord::Rating(rating)]) {
        ob.push(r).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(ob.pending(), total as u64);

    // The replayer runs against a database that is down: nothing is lost, nothing leaves.
    let down = down_store();
    let err = down.on_incoming(&call("+393331111111", "inps", None, "x", t0()), DAY).await.err();
    assert!(err.as_ref().is_some_and(CrmError::is_unavailable), "{err:?}");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(urpd::crm::run_replayer(ob.clone(), down, async move {
        let _ = stop_rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ob.pending(), total as u64);
    let _ = stop_tx.send(());
    h.await.unwrap_or_else(|e| panic!("{e}"));

    // The database is back: everything lands, once, in order.
    let store = db.store("roma").await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(urpd::crm::run_replayer(ob.clone(), store.clone(), async move {
        let _ = stop_rx.await;
    }));
    wait_pending_zero(&ob).await;
    let _ = stop_tx.send(());
    h.await.unwrap_or_else(|e| panic!("{e}"));

    for (token, recs) in [(&t1, &recs1), (&t2, &recs2)] {
        let v = store.case_timeline(token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case {token} missing"));
        assert_eq!(v.case.status, "open");
        assert_eq!(v.case.topic, "pensioni");
        let want: Vec<String> = recs
            .iter()
            .filter_map(|r| match r {
                OutboxRecord::Event(e) => Some(e.id.clone()),
                _ => None,
            })
            .collect();
        let got: Vec<String> = v.events.iter().filter(|e| e.kind != EventKind::Incoming).map(|e| e.id.clone()).collect();
        assert_eq!(got, want, "every event once, in push order");
        assert_eq!(v.events.iter().filter(|e| e.kind == EventKind::Incoming).count(), 1);
    }
    let ratings = store.rating_counts(Some("inps")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ratings.iter().map(|r| r.n).sum::<i64>(), 1);
    // The case opened offline is reused by the next live call within the window.
    let live = store
        .on_incoming(&call("+393331111111", "inps", Some("pensioni"), "leg-c", t0() + HOUR), DAY)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(live.token, t1);
    store.close().await;
}

async fn outbox_survives_crash_and_replays_once(db: TestDb) {
    let path = db.dir().join("outbox.db");
    let (token, recs) = offline_call(40, "+393331111111", "leg-a");
    // "Crash": push, make it durable, then the whole runtime goes away without a replay.
    {
        let path = path.clone();
        let recs = recs.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
            rt.block_on(async {
                let ob = Outbox::open(&path).await.unwrap_or_else(|e| panic!("{e}"));
                for r in recs {
                    ob.push(r).unwrap_or_else(|e| panic!("{e}"));
                }
                ob.flush().await.unwrap_or_else(|e| panic!("{e}"));
                std::mem::forget(ob); // no orderly shutdown
            });
            drop(rt);
        })
        .join()
        .unwrap_or_else(|_| panic!("writer thread panicked"));
    }
    let ob = Outbox::open(&path).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ob.pending(), recs.len() as u64);
    let store = db.store("roma").await;
    // A crash between the store's commit and the outbox delete: the store already has the
    // first 25 records when the outbox replays all of them.
    store.apply_batch(&recs[..25]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ob.drain(&store).await.unwrap_or_else(|e| panic!("{e}")), recs.len() as u64);
    assert_eq!(ob.pending(), 0);
    assert_eq!(ob.dead_letters().await.unwrap_or_else(|e| panic!("{e}")), 0);
    let v = store.case_timeline(&token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case missing"));
    assert_eq!(v.events.len(), recs.len(), "incoming + 40 events, none twice");
    let h = store.caller_history("+393331111111").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no history"));
    assert_eq!(h.contacts.len(), 1);
    assert_eq!(h.cases.len(), 1);
    // Reopened again: nothing left.
    drop(ob);
    let ob = Outbox::open(&path).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ob.pending(), 0);
    store.close().await;
}

async fn purge_retention(db: TestDb) {
    let s = db.store("roma").await;
    let now = SystemTime::now();
    let old = s.on_incoming(&call("+393330000001", "inps", None, "old-1", now - 400 * DAY), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.append(&TimelineEvent::new(old.token.clone(), "roma", now - 400 * DAY, EventKind::HungUp, json!({})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let new = s.on_incoming(&call("+393330000002", "inps", None, "new-1", now - DAY), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    // A caller with an old and a recent contact keeps the number and the recent data.
    let both_old =
        s.on_incoming(&call("+393330000003", "inps", Some("a"), "b-1", now - 500 * DAY), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    let both_new = s.on_incoming(&call("+393330000003", "inps", Some("b"), "b-2", now - HOUR), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.record_rating(&Rating::new("inps", None, Channel::Phone, 2, now - 400 * DAY).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let r = s.purge_older_than(365).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.cases, r.contacts, r.events, r.callers), (2, 2, 3, 1), "{r:?}");
    assert!(s.case_timeline(&old.token).await.unwrap_or_else(|e| panic!("{e}")).is_none());
    assert!(s.case_timeline(&both_old.token).await.unwrap_or_else(|e| panic!("{e}")).is_none());
    assert!(s.case_timeline(&new.token).await.unwrap_or_else(|e| panic!("{e}")).is_some());
    assert!(s.caller_history("+393330000001").await.unwrap_or_else(|e| panic!("{e}")).is_none(), "the number is gone");
    let h = s.caller_history("+393330000003").await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("recent caller purged"));
    assert_eq!(h.contacts.len(), 1);
    assert_eq!(h.cases.iter().map(|c| &c.token).collect::<Vec<_>>(), [&both_new.token]);

    // Everything up to now: notes too; ratings are anonymous and stay.
    s.add_note(&new.token, "Come rinnovo la carta d'identità?", "Prenotando in comune.").await.unwrap_or_else(|e| panic!("{e}"));
    let r = s.purge_before(SystemTime::now() + Duration::from_secs(60)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.cases, r.notes, r.callers), (2, 1, 2), "{r:?}");
    assert!(s.list_cases(&CaseFilter::default()).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert!(s.search_notes("rinnovo", 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    assert_eq!(s.rating_counts(None).await.unwrap_or_else(|e| panic!("{e}")).len(), 1);
    s.close().await;
}

async fn notes_search_across_administrations(db: TestDb) {
    let s = db.store("roma").await;
    let a = s.on_incoming(&call("+393331111111", "comune-roma", None, "n-1", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    let b = s.on_incoming(&call("+393332222222", "inps", None, "n-2", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.add_note(&a.token, "Come cambio la residenza?", "Dichiarazione online sul portale ANPR.").await.unwrap_or_else(|e| panic!("{e}"));
    s.add_note(&b.token, "Serve il certificato di residenza per la pensione?", "No, l'INPS lo acquisisce d'ufficio.")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.add_note(&b.token, "Rinnovo del passaporto", "Questura, agenda online.").await.unwrap_or_else(|e| panic!("{e}"));

    let hits = s.search_notes("residenza", 10).await.unwrap_or_else(|e| panic!("{e}"));
    let mut admins: Vec<&str> = hits.iter().map(|n| n.administration.as_str()).collect();
    admins.sort();
    assert_eq!(admins, ["comune-roma", "inps"], "shared across administrations");
    assert_eq!(s.search_notes("RESIDENZA pensione", 10).await.unwrap_or_else(|e| panic!("{e}")).len(), 1, "every word, any case");
    let p = s.search_notes("passaporto agenda", 10).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.len(), 1, "words from question and answer");
    assert_eq!(p[0].case, b.token);
    assert!(s.search_notes("patente", 10).await.unwrap_or_else(|e| panic!("{e}")).is_empty());
    // Query syntax of either engine is not interpreted.
    for q in ["\"residenza", "residenza OR patente", "resid*", "NEAR(a b)", "'; DROP TABLE notes; --", "   "] {
        s.search_notes(q, 10).await.unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    // The note is on the timeline too; a note on an unknown case is refused.
    let v = s.case_timeline(&a.token).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("case missing"));
    assert_eq!(v.notes.len(), 1);
    assert!(v.events.iter().any(|e| e.kind == EventKind::Note));
    let unknown = CaseToken::mint("roma").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(s.add_note(&unknown, "q", "a").await, Err(CrmError::NoSuchCase(_))));
    s.close().await;
}

async fn ratings_are_anonymous(db: TestDb) {
    let s = db.store("roma").await;
    let cols = s.table_columns("ratings").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cols, ["administration", "topic", "channel", "bucket", "value", "n"]);
    for table in ["ratings", "rating_ids"] {
        for c in s.table_columns(table).await.unwrap_or_else(|e| panic!("{e}")) {
            for banned in ["caller", "case", "token", "number", "call", "contact", "from"] {
                assert!(!c.contains(banned), "{table}.{c} could identify the citizen");
            }
        }
    }
    assert!(s.table_columns("cases").await.unwrap_or_else(|e| panic!("{e}")).contains(&"caller_id".to_owned()), "introspection works");

    let at = t0();
    let r1 = Rating::new("inps", Some("pensioni"), Channel::Phone, 1, at).unwrap_or_else(|e| panic!("{e}"));
    s.record_rating(&r1).await.unwrap_or_else(|e| panic!("{e}"));
    s.record_rating(&r1).await.unwrap_or_else(|e| panic!("{e}")); // replay: counted once
    s.record_rating(
        &Rating::new("inps", Some("pensioni"), Channel::Phone, 1, at + Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s.record_rating(&Rating::new("inps", Some("pensioni"), Channel::Phone, 3, at).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let counts = s.rating_counts(Some("inps")).await.unwrap_or_else(|e| panic!("{e}"));
    let by_value: Vec<(i64, i64)> = counts.iter().map(|c| (c.value, c.n)).collect();
    assert_eq!(by_value, [(1, 2), (3, 1)]);
    assert_eq!(counts[0].bucket % 3_600_000, 0, "stored by the hour");
    assert!(Rating::new("inps", None, Channel::Phone, 4, at).is_err());
    assert!(Rating::new("inps", None, Channel::Phone, 0, at).is_err());
    let json = serde_json::to_string(&r1).unwrap_or_default();
    assert!(!json.contains("caller") && !json.contains("case"), "{json}");
    s.close().await;
}

async fn list_cases_filters(db: TestDb) {
    let s = db.store("roma").await;
    let a = s.on_incoming(&call("+393331111111", "inps", None, "l-1", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    let b = s.on_incoming(&call("+393331111111", "comune-roma", None, "l-2", t0() + 2 * DAY), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    let c = s.on_incoming(&call("+393332222222", "inps", None, "l-3", t0() + 3 * DAY), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.close_case(&a.token).await.unwrap_or_else(|e| panic!("{e}"));
    let list = |f: CaseFilter| {
        let s = s.clone();
        async move { s.list_cases(&f).await.unwrap_or_else(|e| panic!("{e}")).into_iter().map(|c| c.token).collect::<Vec<_>>() }
    };
    assert_eq!(list(CaseFilter::default()).await, [c.token.clone(), b.token.clone(), a.token.clone()]);
    assert_eq!(list(CaseFilter { caller: Some("+393331111111".into()), ..Default::default() }).await, [b.token.clone(), a.token.clone()]);
    assert_eq!(list(CaseFilter { caller: Some("+393331111111".into()), open_only: true, ..Default::default() }).await, [b.token.clone()]);
    assert_eq!(list(CaseFilter { since: Some(t0() + DAY), ..Default::default() }).await, [c.token.clone(), b.token.clone()]);
    assert_eq!(list(CaseFilter { administration: Some("inps".into()), ..Default::default() }).await, [c.token.clone(), a.token.clone()]);
    assert_eq!(list(CaseFilter { limit: 1, ..Default::default() }).await, [c.token.clone()]);
    s.close().await;
}

// ---- the CLI against a SQLite CRM in a temp state dir ----

const URPD: &str = env!("CARGO_BIN_EXE_urpd");

fn urpd(state: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(URPD)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .env_remove("URPD_CRM_URL")
        .env_remove("URPD_CONFIG")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_case_commands() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = tmp.path();
    // The daemon's default node id is "urpd" and its CRM is <state_dir>/crm.db.
    let s = CrmStore::open(&state.join("crm.db").to_string_lossy(), "urpd").await.unwrap_or_else(|e| panic!("{e}"));
    let a = s.on_incoming(&call("+393331111111", "inps", Some("pensioni"), "cli-1", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.append(&TimelineEvent::new(a.token.clone(), "milano", t0() + Duration::from_secs(5), EventKind::Answered, json!({"agent": "2001"})))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let b = s.on_incoming(&call("+393332222222", "comune-roma", None, "cli-2", t0() + DAY), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.close().await;
    let tok = a.token.to_string();

    let (rc, out, err) = urpd(state, &["case", "list"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(&tok) && out.contains(b.token.as_str()) && out.contains("TOKEN"), "{out}");

    let (rc, out, err) = urpd(state, &["case", "list", "--caller", "+393331111111", "--open", "--json"]);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v.as_array().map(|a| a.len()), Some(1));
    assert_eq!(v[0]["token"], json!(tok));

    let since = urpd::crm::time::format_ms(urpd::crm::time::to_ms(t0() + HOUR)).replace(' ', "T");
    let (rc, out, _) = urpd(state, &["case", "list", "--since", &since, "--json"]);
    assert_eq!(rc, 0);
    assert!(!out.contains(&tok) && out.contains(b.token.as_str()), "{out}");
    assert_eq!(urpd(state, &["case", "list", "--since", "yesterday"]).0, 2);

    let (rc, out, err) =
        urpd(state, &["case", "note", &tok, "--question", "Quando arriva il cedolino?", "--answer", "Il primo giorno bancabile del mese."]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("note"), "{out}");

    let (rc, out, err) = urpd(state, &["case", "show", &tok]);
    assert_eq!(rc, 0, "{err}");
    for want in ["+393331111111", "inps", "pensioni", "incoming", "answered", "milano", "note", "cedolino", "open"] {
        assert!(out.contains(want), "{want} missing in:\n{out}");
    }
    let (rc, out, _) = urpd(state, &["case", "show", &tok, "--json"]);
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["events"].as_array().map(|a| a.len()), Some(3));
    assert_eq!(v["events"][1]["node"], json!("milano"));

    let (rc, out, err) = urpd(state, &["crm", "search", "cedolino"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(&tok) && out.contains("bancabile"), "{out}");
    let (rc, out, _) = urpd(state, &["crm", "search", "patente"]);
    assert_eq!(rc, 0);
    assert!(out.contains("no notes match"), "{out}");

    let (rc, out, err) = urpd(state, &["case", "close", &tok]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("closed"), "{out}");
    let (_, out, _) = urpd(state, &["case", "show", &tok, "--json"]);
    assert!(out.contains("\"closed\""), "{out}");

    let (rc, out, err) = urpd(state, &["caller", "history", "+393331111111"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains(&tok) && out.contains("803001") && out.contains("closed"), "{out}");
    let (rc, _, _) = urpd(state, &["caller", "history", "+390000000000"]);
    assert_eq!(rc, 6);

    // Errors: malformed token (usage), unknown case, database down.
    assert_eq!(urpd(state, &["case", "show", "not-a-token"]).0, 2);
    assert_eq!(urpd(state, &["case", "show", &CaseToken::mint("urpd").unwrap_or_else(|e| panic!("{e}")).to_string()]).0, 6);
    let (rc, _, err) = urpd(state, &["case", "list", "--crm-url", PG_DOWN]);
    assert_eq!(rc, 7, "{err}");

    let (rc, out, err) = urpd(state, &["crm", "purge", "--older-than", "1d", "--json"]);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["cases"], json!(1), "the other case had a note and was closed today");
    let (rc, out, _) = urpd(state, &["crm", "migrate"]);
    assert_eq!(rc, 0);
    assert!(out.contains("up to date"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_crm_url_points_at_postgres() {
    let db = TestDb::postgres().await;
    let s = db.store("roma").await;
    let a = s.on_incoming(&call("+393331111111", "inps", None, "pg-1", t0()), DAY).await.unwrap_or_else(|e| panic!("{e}"));
    s.close().await;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rc, out, err) = urpd(tmp.path(), &["case", "show", a.token.as_str(), "--crm-url", &db.url]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("incoming") && out.contains("roma"), "{out}");
    assert!(!tmp.path().join("crm.db").exists(), "no SQLite file when pointed at PostgreSQL");
}
