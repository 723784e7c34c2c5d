//! The node state file against real SQLite files: two handles on one file (daemon + CLI),
//! users, bindings, reopen.

use bytes::Bytes;
use urpd::auth::StoredCredentials;
use urpd::registrar::{Binding, Change, ExpiryPolicy, LocationTable};
use urpd::sip::{parse_datagram, Message};
use urpd::state::{Role, StateDb, StateError, DB_FILE};
use urpd::transport::addr::{Peer, Protocol};

const REALM: &str = "pa.example.it";
const NOW: u64 = 1_700_000_000;

async fn open(dir: &std::path::Path) -> StateDb {
    StateDb::open(dir).await.unwrap_or_else(|e| panic!("open: {e}"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn binding(aor: &str, contact: &str, expires_at: u64) -> Binding {
    Binding {
        aor: aor.into(),
        contact: contact.into(),
        q: 700,
        expires_at,
        call_id: "cid@host".into(),
        cseq: 42,
        received: Peer::new(Protocol::Tls, "[2001:db8::7]:51234".parse().unwrap_or_else(|e| panic!("{e}"))),
        user_agent: Some("Phone/2".into()),
        updated_at: NOW,
    }
}

#[tokio::test]
async fn open_creates_nested_dir_and_file() {
    let t = tmp();
    let dir = t.path().join("var/lib/urpd");
    let db = open(&dir).await;
    assert!(dir.join(DB_FILE).is_file());
    assert_eq!(db.path(), dir.join(DB_FILE));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        assert_eq!(mode, 0o700);
    }
    db.close().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn add_list_passwd_remove() {
    let t = tmp();
    let db = open(t.path()).await;
    db.add_user("1001", REALM, "s3cret", Role::Agent).await.unwrap_or_else(|e| panic!("{e}"));
    db.add_user("gw1", REALM, "gwpass", Role::Gateway).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(db.add_user("1001", REALM, "other", Role::Admin).await, Err(StateError::UserExists(n)) if n == "1001"));
    assert!(matches!(db.add_user("bad name", REALM, "x", Role::Agent).await, Err(StateError::InvalidUserName(_))));
    assert!(matches!(db.add_user("1002", REALM, "", Role::Agent).await, Err(StateError::EmptyPassword)));
    assert!(matches!(db.add_user("1002", "a\"b", "x", Role::Agent).await, Err(StateError::InvalidRealm(_))));

    let users = db.list_users().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(users.iter().map(|u| (u.name.as_str(), u.role)).collect::<Vec<_>>(), vec![("1001", Role::Agent), ("gw1", Role::Gateway)]);
    assert!(users[0].created_at.is_some_and(|t| t > 1_600_000_000));
    assert_eq!(users[0].realm, REALM);

    let (creds, role) = db.get_credentials("1001").await.ok().flatten().unwrap_or_else(|| panic!("missing"));
    assert_eq!(role, Role::Agent);
    assert_eq!(creds, StoredCredentials::from_password("1001", REALM, "s3cret"));
    // The listing carries no credential material in either representation.
    let shown = format!("{users:?} {}", serde_json::to_string(&users).unwrap_or_default());
    assert!(!shown.contains(&creds.ha1_md5) && !shown.contains(&creds.ha1_sha256), "{shown}");

    db.set_password("1001", REALM, "n3w").await.unwrap_or_else(|e| panic!("{e}"));
    let (creds, _) = db.get_credentials("1001").await.ok().flatten().unwrap_or_else(|| panic!("missing"));
    assert_eq!(creds, StoredCredentials::from_password("1001", REALM, "n3w"));
    assert!(matches!(db.set_password("nobody", REALM, "x").await, Err(StateError::NoSuchUser(_))));

    let all = db.load_all_credentials().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 2);
    assert_eq!(
        all.get("gw1").map(|(c, r)| (c.clone(), *r)),
        Some((StoredCredentials::from_password("gw1", REALM, "gwpass"), Role::Gateway))
    );

    db.remove_user("1001").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(db.remove_user("1001").await, Err(StateError::NoSuchUser(_))));
    assert!(db.get_credentials("1001").await.unwrap_or_else(|e| panic!("{e}")).is_none());
    assert_eq!(db.list_users().await.map(|u| u.len()).unwrap_or(0), 1);
}

#[tokio::test]
async fn second_handle_sees_writes_and_data_version_moves() {
    let t = tmp();
    let daemon = open(t.path()).await;
    let cli = open(t.path()).await;
    let v0 = daemon.data_version().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(daemon.data_version().await.ok(), Some(v0), "stable without writes");

    cli.add_user("2001", REALM, "pw", Role::Admin).await.unwrap_or_else(|e| panic!("{e}"));
    let v1 = daemon.data_version().await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(v0, v1);
    let (_, role) = daemon.get_credentials("2001").await.ok().flatten().unwrap_or_else(|| panic!("not visible"));
    assert_eq!(role, Role::Admin);

    cli.set_password("2001", REALM, "pw2").await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(daemon.data_version().await.ok(), Some(v1));
    cli.close().await.unwrap_or_else(|e| panic!("{e}"));
    daemon.close().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn users_version_moves_on_user_changes_only() {
    let t = tmp();
    let daemon = open(t.path()).await;
    let cli = open(t.path()).await;
    let v0 = daemon.users_version().await.unwrap_or_else(|e| panic!("{e}"));
    // The daemon's own registration writes must not look like user changes.
    let b = binding("3001", "sip:3001@127.0.0.1:5070", NOW + 600);
    daemon.save_bindings(&[Change::Upsert(b)]).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(daemon.users_version().await.ok(), Some(v0));
    cli.add_user("3001", REALM, "pw", Role::Agent).await.unwrap_or_else(|e| panic!("{e}"));
    let v1 = daemon.users_version().await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(v0, v1);
    cli.set_password("3001", REALM, "pw2").await.unwrap_or_else(|e| panic!("{e}"));
    let v2 = daemon.users_version().await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(v1, v2);
    cli.remove_user("3001").await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(daemon.users_version().await.ok(), Some(v2));
    cli.close().await.unwrap_or_else(|e| panic!("{e}"));
    daemon.close().await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn bindings_round_trip_skip_expired_and_purge() {
    let t = tmp();
    let db = open(t.path()).await;
    let live = binding("1001", "sip:1001@[2001:db8::7]:5061;transport=tls", NOW + 600);
    let mut other = binding("1001", "sip:1001@192.0.2.9", NOW + 300);
    other.user_agent = None;
    let lapsed = binding("1002", "sip:1002@192.0.2.10", NOW - 1);
    let changes = vec![Change::Upsert(live.clone()), Change::Upsert(other.clone()), Change::Upsert(lapsed)];
    db.save_bindings(&changes).await.unwrap_or_else(|e| panic!("{e}"));

    let mut got = db.load_bindings(NOW).await.unwrap_or_else(|e| panic!("{e}"));
    got.sort_by(|a, b| a.contact.cmp(&b.contact));
    assert_eq!(got, vec![other.clone(), live.clone()]);

    // Upsert replaces by (aor, contact); Remove deletes.
    let mut refreshed = live.clone();
    refreshed.cseq = 43;
    refreshed.expires_at = NOW + 900;
    db.save_bindings(&[Change::Upsert(refreshed.clone()), Change::Remove { aor: other.aor.clone(), contact: other.contact.clone() }])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.load_bindings(NOW).await.ok(), Some(vec![refreshed]));

    assert_eq!(db.purge_expired(NOW).await.ok(), Some(1));
    assert_eq!(db.purge_expired(NOW).await.ok(), Some(0));
    assert!(db.load_bindings(NOW + 900).await.map(|v| v.is_empty()).unwrap_or(false));
}

#[tokio::test]
async fn registrar_changes_persist_across_reopen() {
    let t = tmp();
    let db = open(t.path()).await;
    db.add_user("1001", REALM, "pw", Role::Agent).await.unwrap_or_else(|e| panic!("{e}"));

    let text = "REGISTER sip:pa.example.it SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
                From: <sip:1001@pa.example.it>;tag=1\r\nTo: <sip:1001@pa.example.it>\r\nCall-ID: r1\r\n\
                CSeq: 1 REGISTER\r\nContact: <sip:1001@192.0.2.1>;q=0.4, <sip:1001@192.0.2.2>\r\n\
                Content-Length: 0\r\n\r\n";
    let Ok(Message::Request(req)) = parse_datagram(Bytes::from(text)) else { panic!("parse") };
    let peer = Peer::new(Protocol::Udp, "192.0.2.1:5060".parse().unwrap_or_else(|e| panic!("{e}")));
    let mut table = LocationTable::new();
    let out = table.register(NOW, "1001", &req, peer, &ExpiryPolicy::default()).unwrap_or_else(|e| panic!("{e}"));
    db.save_bindings(&out.changes).await.unwrap_or_else(|e| panic!("{e}"));
    db.close().await.unwrap_or_else(|e| panic!("{e}"));

    let db = open(t.path()).await;
    assert_eq!(db.list_users().await.map(|u| u.len()).ok(), Some(1));
    let mut restored = LocationTable::new();
    restored.load(db.load_bindings(NOW + 10).await.unwrap_or_else(|e| panic!("{e}")), NOW + 10);
    let a: Vec<&Binding> = table.lookup("1001", NOW + 10);
    let b: Vec<&Binding> = restored.lookup("1001", NOW + 10);
    assert_eq!(a, b);
    assert_eq!(b.len(), 2);

    // Expiry removals persist too.
    db.save_bindings(&table.expire(NOW + 4000)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.load_bindings(0).await.map(|v| v.len()).ok(), Some(0));
}

/// Write-back batches: more rows than one multi-row statement holds, a key upserted twice in
/// one batch (the later wins), and a remove between upserts of the same key (order kept).
#[tokio::test]
async fn large_batches_keep_order_and_last_write() {
    let t = tmp();
    let db = open(t.path()).await;
    let mut changes: Vec<Change> =
        (0..1234).map(|i| Change::Upsert(binding(&format!("u{i}"), &format!("sip:u{i}@192.0.2.1"), NOW + 60))).collect();
    let mut twice = binding("u7", "sip:u7@192.0.2.1", NOW + 120);
    twice.cseq = 99;
    changes.push(Change::Upsert(twice.clone()));
    changes.push(Change::Remove { aor: "u8".into(), contact: "sip:u8@192.0.2.1".into() });
    let back = binding("u9", "sip:u9@192.0.2.1", NOW + 30);
    changes.push(Change::Remove { aor: "u9".into(), contact: "sip:u9@192.0.2.1".into() });
    changes.push(Change::Upsert(back.clone()));
    db.save_bindings(&changes).await.unwrap_or_else(|e| panic!("{e}"));
    let got = db.load_bindings(NOW).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got.len(), 1233);
    assert_eq!(got.iter().find(|b| &*b.aor == "u7"), Some(&twice));
    assert_eq!(got.iter().find(|b| &*b.aor == "u9"), Some(&back));
    assert!(got.iter().all(|b| &*b.aor != "u8"));
}

/// A state file written by a daemon before migration 0003 (bindings as a rowid table with an
/// expiry index) keeps its bindings when a newer daemon opens it and rebuilds the table
/// WITHOUT ROWID.
#[tokio::test]
async fn bindings_survive_the_without_rowid_migration() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
    let t = tmp();
    let file = t.path().join(DB_FILE);
    let old = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&file).create_if_missing(true))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/state"));
    let mut before = sqlx::migrate::Migrator::new(dir).await.unwrap_or_else(|e| panic!("{e}"));
    before.migrations.to_mut().retain(|m| m.version < 3);
    before.run(&old).await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query(
        "INSERT INTO bindings (aor, contact, q, expires_at, call_id, cseq, received_proto, received_addr, user_agent, updated_at) \
         VALUES ('alice@pa.example.it', '<sip:alice@192.0.2.7:5060>', 1000, ?, 'c1@host', 7, 'udp', '192.0.2.7:5060', NULL, ?)",
    )
    .bind((NOW + 600) as i64)
    .bind(NOW as i64)
    .execute(&old)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    old.close().await;

    let db = open(t.path()).await;
    let loaded = db.load_bindings(NOW).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.len(), 1);
    assert_eq!(&*loaded[0].contact, "<sip:alice@192.0.2.7:5060>");
    assert_eq!((loaded[0].cseq, loaded[0].expires_at), (7, NOW + 600));
    // Upserts and purges still work on the rebuilt table.
    db.save_bindings(&[Change::Upsert(binding("bob@pa.example.it", "<sip:bob@[2001:db8::7]>", NOW + 5))])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(db.purge_expired(NOW + 10).await.unwrap_or_else(|e| panic!("{e}")), 1);
    db.close().await.unwrap_or_else(|e| panic!("{e}"));

    let check = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&file)).await.unwrap_or_else(|e| panic!("{e}"));
    let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'bindings'")
        .fetch_one(&check)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(sql.contains("WITHOUT ROWID"), "{sql}");
    let indexes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'bindings' AND sql IS NOT NULL")
            .fetch_one(&check)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(indexes, 0);
    check.close().await;
}
