//! [`CrmStore`]: the CRM over sqlx, one code path for SQLite and PostgreSQL.
//!
//! Both backends get the same query text (`$N` placeholders work on both; times are integer
//! milliseconds; no backend-only functions) except for the schema (`sql/crm/{sqlite,postgres}`),
//! note search (FTS5 / tsvector) and schema introspection. The `with_pool!` macro expands a
//! body once per backend so each is type-checked against its own driver.

use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::OnceCell;

use super::model::*;
use super::time::{from_ms, to_ms};
use super::token::{is_node_id, new_ulid_at};
use super::{CaseToken, CrmError};

/// File name of the embedded CRM database inside the state directory.
pub const CRM_FILE: &str = "crm.db";

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections (PostgreSQL; SQLite uses at most 4: writes serialize anyway).
    pub pool_size: u32,
    /// How long an operation waits for a free or new connection before failing with
    /// [`CrmError::Unavailable`].
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { pool_size: 8, acquire_timeout: Duration::from_secs(3) }
    }
}

#[derive(Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool (expanded once per backend).
macro_rules! with_pool {
    ($self:expr, |$pool:ident| $body:expr) => {
        match &$self.inner.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

struct Inner {
    backend: Backend,
    node: String,
    /// Where it points, without credentials (for messages).
    display: String,
    /// Migrations applied and node registered (first successful use).
    ready: OnceCell<()>,
    /// Administrations known to exist (saves an upsert per call).
    admins: Mutex<HashSet<String>>,
}

/// The CRM store. `Clone` shares the pool.
#[derive(Clone)]
pub struct CrmStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CrmStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmStore").field("db", &self.inner.display).field("node", &self.inner.node).finish()
    }
}

/// The CRM location to use: `--crm-url` if given, else `crm.url` from the config, else the
/// SQLite file `<state_dir>/crm.db`.
pub fn resolve_url(cli: Option<&str>, config: Option<&str>, state_dir: &Path) -> String {
    match cli.or(config) {
        Some(u) if !u.trim().is_empty() => u.trim().to_owned(),
        _ => state_dir.join(CRM_FILE).to_string_lossy().into_owned(),
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
fn redact(url: &str) -> String {
    if let (Some(scheme_end), Some(at)) = (url.find("://"), url.rfind('@')) {
        let creds = &url[scheme_end + 3..at];
        if let Some((user, _)) = creds.split_once(':') {
            return format!("{}{}{}", &url[..scheme_end + 3], user, &url[at..]);
        }
    }
    url.to_owned()
}

fn create_dir(dir: &Path) -> Result<(), CrmError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| CrmError::Io { path: dir.to_owned(), source })
}

fn topic_of(t: Option<&str>) -> &str {
    t.unwrap_or("")
}

fn detail_text(v: &serde_json::Value) -> String {
    if v.is_null() {
        "{}".into()
    } else {
        v.to_string()
    }
}

fn detail_value(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.to_owned()))
}

/// Row of the case summary query.
type CaseRow = (String, Option<String>, String, String, String, i64, Option<i64>, i64, String);

const CASE_SELECT: &str =
    "SELECT c.token, cl.number, c.administration, c.topic, c.status, c.opened_at, c.closed_at, c.updated_at, c.opened_by \
     FROM cases c LEFT JOIN callers cl ON cl.id = c.caller_id";

fn case_summary(r: CaseRow) -> Result<CaseSummary, CrmError> {
    Ok(CaseSummary {
        token: r.0.parse()?,
        caller: r.1,
        administration: r.2,
        topic: r.3,
        status: r.4,
        opened_at: r.5,
        closed_at: r.6,
        updated_at: r.7,
        opened_by: r.8,
    })
}

type EventDbRow = (String, String, i64, String, Option<String>, String);

type CallerDbRow = (i64, i64, i64);

type NoteRow = (String, String, String, String, i64, String, String);

fn note(r: NoteRow) -> Result<Note, CrmError> {
    Ok(Note { id: r.0, case: r.1.parse()?, administration: r.2, node: r.3, at: r.4, question: r.5, answer: r.6 })
}

type ContactDbRow = (String, Option<String>, String, String, String, String, String, i64, Option<i64>, Option<i64>, Option<String>);

/// What an incoming call does in the database (live lookup or outbox replay of `OpenCase`).
struct Incoming<'a> {
    /// Replay: the token is fixed. Live: None (reuse or mint).
    fixed: Option<&'a CaseToken>,
    contact_id: &'a str,
    node: &'a str,
    caller: &'a str,
    called: &'a str,
    administration: &'a str,
    topic: &'a str,
    call_id: &'a str,
    at: i64,
    /// Live: reuse an open case opened at or after this (ms).
    reuse_since: i64,
}

/// Inserts administration `$code` if missing, in transaction `$tx`.
macro_rules! ensure_admin {
    ($tx:ident, $code:expr, $at:expr) => {
        sqlx::query("INSERT INTO administrations (code, created_at) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING")
            .bind($code)
            .bind($at)
            .execute(&mut *$tx)
            .await
    };
}

/// The statements of an incoming call in transaction `$tx`; evaluates to
/// `Result<(CaseToken, reused, caller_known, open_cases), CrmError>`.
macro_rules! incoming_in_tx {
    ($tx:ident, $inc:expr) => {
        async {
            let inc: &Incoming<'_> = $inc;
            // First statement writes, so SQLite takes the write lock at once (no BUSY on upgrade).
            let (caller_id, first_seen): (i64, i64) = sqlx::query_as(
                "INSERT INTO callers (number, first_seen, last_seen) VALUES ($1, $2, $2) \
                 ON CONFLICT (number) DO UPDATE SET \
                   last_seen = CASE WHEN excluded.last_seen > callers.last_seen THEN excluded.last_seen ELSE callers.last_seen END, \
                   first_seen = CASE WHEN excluded.first_seen < callers.first_seen THEN excluded.first_seen ELSE callers.first_seen END \
                 RETURNING id, first_seen",
            )
            .bind(inc.caller)
            .bind(inc.at)
            .fetch_one(&mut *$tx)
            .await?;
            let caller_known = first_seen < inc.at;
            let (open_n, reuse): (i64, Option<String>) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM cases WHERE caller_id = $1 AND status = 'open'), \
                        (SELECT token FROM cases WHERE caller_id = $1 AND status = 'open' AND administration = $2 \
                           AND topic = $3 AND opened_at >= $4 AND $5 = 0 ORDER BY opened_at DESC LIMIT 1)",
            )
            .bind(caller_id)
            .bind(inc.administration)
            .bind(inc.topic)
            .bind(inc.reuse_since)
            .bind(if inc.fixed.is_some() { 1i64 } else { 0i64 })
            .fetch_one(&mut *$tx)
            .await?;
            let mut open_n = usize::try_from(open_n).unwrap_or(0);
            let (token, reused) = match (inc.fixed, reuse) {
                (None, Some(t)) => (t.parse::<CaseToken>()?, true),
                (fixed, _) => {
                    let token = match fixed {
                        Some(t) => t.clone(),
                        None => CaseToken::mint(inc.node)?,
                    };
                    let r = sqlx::query(
                        "INSERT INTO cases (token, caller_id, administration, topic, status, opened_at, updated_at, opened_by) \
                         VALUES ($1, $2, $3, $4, 'open', $5, $5, $6) ON CONFLICT (token) DO NOTHING",
                    )
                    .bind(token.as_str())
                    .bind(caller_id)
                    .bind(inc.administration)
                    .bind(inc.topic)
                    .bind(inc.at)
                    .bind(inc.node)
                    .execute(&mut *$tx)
                    .await?;
                    open_n += r.rows_affected() as usize;
                    (token, false)
                }
            };
            if reused {
                sqlx::query("UPDATE cases SET updated_at = CASE WHEN $2 > updated_at THEN $2 ELSE updated_at END WHERE token = $1")
                    .bind(token.as_str())
                    .bind(inc.at)
                    .execute(&mut *$tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO contacts (id, case_token, caller_id, call_id, from_number, to_number, administration, node, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            )
            .bind(inc.contact_id)
            .bind(token.as_str())
            .bind(caller_id)
            .bind(inc.call_id)
            .bind(inc.caller)
            .bind(inc.called)
            .bind(inc.administration)
            .bind(inc.node)
            .bind(inc.at)
            .execute(&mut *$tx)
            .await?;
            let detail = serde_json::json!({ "called": inc.called, "reused": reused }).to_string();
            sqlx::query(
                "INSERT INTO events (id, case_token, node, at, kind, leg, detail) VALUES ($1, $2, $3, $4, 'incoming', $5, $6) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(inc.contact_id)
            .bind(token.as_str())
            .bind(inc.node)
            .bind(inc.at)
            .bind(inc.call_id)
            .bind(detail)
            .execute(&mut *$tx)
            .await?;
            Ok::<_, CrmError>((token, reused, caller_known, open_n))
        }
        .await
    };
}

/// Appends `$ev` (a `&TimelineEvent`) in transaction `$tx`; evaluates to
/// `Result<bool /* new */, CrmError>`.
macro_rules! event_in_tx {
    ($tx:ident, $ev:expr) => {
        async {
            let ev: &TimelineEvent = $ev;
            let at = to_ms(ev.at);
            let r = sqlx::query(
                "INSERT INTO events (id, case_token, node, at, kind, leg, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&ev.id)
            .bind(ev.case.as_str())
            .bind(&ev.node)
            .bind(at)
            .bind(ev.kind.as_str())
            .bind(ev.leg.as_deref())
            .bind(detail_text(&ev.detail))
            .execute(&mut *$tx)
            .await?;
            if r.rows_affected() == 0 {
                return Ok::<bool, CrmError>(false); // replayed: already applied with its effects
            }
            let sql = match ev.kind {
                EventKind::Closed => {
                    "UPDATE cases SET status = 'closed', closed_at = $2, \
                     updated_at = CASE WHEN $2 > updated_at THEN $2 ELSE updated_at END WHERE token = $1"
                }
                EventKind::Reopened => {
                    "UPDATE cases SET status = 'open', closed_at = NULL, \
                     updated_at = CASE WHEN $2 > updated_at THEN $2 ELSE updated_at END WHERE token = $1"
                }
                _ => "UPDATE cases SET updated_at = CASE WHEN $2 > updated_at THEN $2 ELSE updated_at END WHERE token = $1",
            };
            sqlx::query(sql).bind(ev.case.as_str()).bind(at).execute(&mut *$tx).await?;
            if let Some(leg) = ev.leg.as_deref() {
                match ev.kind {
                    EventKind::Answered => {
                        sqlx::query("UPDATE contacts SET answered_at = COALESCE(answered_at, $3) WHERE call_id = $1 AND case_token = $2")
                            .bind(leg)
                            .bind(ev.case.as_str())
                            .bind(at)
                            .execute(&mut *$tx)
                            .await?;
                    }
                    EventKind::Failed | EventKind::HungUp | EventKind::Abandoned => {
                        sqlx::query(
                            "UPDATE contacts SET ended_at = COALESCE(ended_at, $3), outcome = COALESCE(outcome, $4) \
                             WHERE call_id = $1 AND case_token = $2",
                        )
                        .bind(leg)
                        .bind(ev.case.as_str())
                        .bind(at)
                        .bind(ev.kind.as_str())
                        .execute(&mut *$tx)
                        .await?;
                    }
                    _ => {}
                }
            }
            Ok(true)
        }
        .await
    };
}

/// Counts `$r` (a `&Rating`) in transaction `$tx` unless its id was counted already.
macro_rules! rating_in_tx {
    ($tx:ident, $r:expr) => {
        async {
            let r: &Rating = $r;
            if !(1..=3).contains(&r.value) {
                return Err(CrmError::InvalidRating(format!("value {} not in 1..=3", r.value)));
            }
            let bucket = to_ms(r.at) / 3_600_000 * 3_600_000;
            let fresh = sqlx::query("INSERT INTO rating_ids (id, bucket) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
                .bind(&r.id)
                .bind(bucket)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            if fresh == 1 {
                sqlx::query(
                    "INSERT INTO ratings (administration, topic, channel, bucket, value, n) VALUES ($1, $2, $3, $4, $5, 1) \
                     ON CONFLICT (administration, topic, channel, bucket, value) DO UPDATE SET n = ratings.n + 1",
                )
                .bind(&r.administration)
                .bind(&r.topic)
                .bind(r.channel.as_str())
                .bind(bucket)
                .bind(r.value as i64)
                .execute(&mut *$tx)
                .await?;
            }
            Ok::<(), CrmError>(())
        }
        .await
    };
}

impl CrmStore {
    /// Opens the store at `url` (`postgres://…`, `sqlite:…`, or a SQLite file path) for node
    /// `node_id`, connecting and applying pending migrations now. Must run inside a tokio
    /// runtime.
    pub async fn open(url: &str, node_id: &str) -> Result<CrmStore, CrmError> {
        let store = CrmStore::open_lazy(url, node_id, &StoreOptions::default())?;
        store.ready().await?;
        Ok(store)
    }

    /// Builds the store without connecting: the first operation connects and migrates. For the
    /// daemon, which must start (and queue into the outbox) while PostgreSQL is down. Must run
    /// inside a tokio runtime.
    pub fn open_lazy(url: &str, node_id: &str, opts: &StoreOptions) -> Result<CrmStore, CrmError> {
        if !is_node_id(node_id) {
            return Err(CrmError::InvalidNodeId(node_id.into()));
        }
        let url = url.trim();
        let backend = if is_postgres(url) {
            let co = PgConnectOptions::from_str(url).map_err(|_| CrmError::InvalidUrl(redact(url)))?;
            Backend::Postgres(
                PgPoolOptions::new()
                    .max_connections(opts.pool_size.max(1))
                    .acquire_timeout(opts.acquire_timeout)
                    .idle_timeout(Duration::from_secs(300))
                    .connect_lazy_with(co),
            )
        } else {
            let co = if url.starts_with("sqlite:") {
                SqliteConnectOptions::from_str(url).map_err(|_| CrmError::InvalidUrl(url.into()))?
            } else if url.is_empty() || url.contains("://") {
                return Err(CrmError::InvalidUrl(redact(url)));
            } else {
                let path = PathBuf::from(url);
                if let Some(dir) = path.parent() {
                    create_dir(dir)?;
                }
                SqliteConnectOptions::new().filename(path)
            };
            let co = co
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL in WAL mode survives process crashes; the outbox (FULL) covers the rest.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            Backend::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(opts.pool_size.clamp(1, 4))
                    .acquire_timeout(opts.acquire_timeout)
                    .connect_lazy_with(co),
            )
        };
        Ok(CrmStore {
            inner: Arc::new(Inner {
                backend,
                node: node_id.to_owned(),
                display: redact(url),
                ready: OnceCell::new(),
                admins: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// This handle's node id (prefix of the tokens it mints, `node` of its events).
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.inner.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Where the store points, without password.
    pub fn display_url(&self) -> &str {
        &self.inner.display
    }

    /// Applies pending migrations (also done once by the first operation).
    pub async fn migrate(&self) -> Result<(), CrmError> {
        // Connect first so that an unreachable database is reported as `Unavailable`, not as
        // a migration failure.
        with_pool!(self, |pool| drop(pool.acquire().await?));
        match &self.inner.backend {
            Backend::Sqlite(p) => sqlx::migrate!("./sql/crm/sqlite").run(p).await?,
            Backend::Postgres(p) => sqlx::migrate!("./sql/crm/postgres").run(p).await?,
        }
        let now = to_ms(SystemTime::now());
        with_pool!(self, |pool| {
            sqlx::query("INSERT INTO nodes (id, first_seen, last_seen) VALUES ($1, $2, $2) ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen")
                .bind(&self.inner.node)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn ready(&self) -> Result<(), CrmError> {
        self.inner.ready.get_or_try_init(|| self.migrate()).await.map(|_| ())
    }

    /// On an incoming citizen call: records the caller and the contact, and reuses the newest
    /// open case of this caller at this administration and topic opened within `reuse_window`,
    /// or opens a new one. One short transaction (5 statements) on one pooled connection;
    /// appends an `incoming` event whose id is the contact's.
    pub async fn on_incoming(&self, call: &IncomingCall<'_>, reuse_window: Duration) -> Result<CaseRef, CrmError> {
        self.ready().await?;
        let at = to_ms(call.at);
        let contact_id = new_ulid_at(call.at);
        let inc = Incoming {
            fixed: None,
            contact_id: &contact_id,
            node: &self.inner.node,
            caller: call.caller,
            called: call.called,
            administration: call.administration,
            topic: topic_of(call.topic),
            call_id: call.call_id,
            at,
            reuse_since: at.saturating_sub(i64::try_from(reuse_window.as_millis()).unwrap_or(i64::MAX)),
        };
        let need_admin = self.need_admin(call.administration);
        let (token, reused, caller_known, open_cases) = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if need_admin {
                ensure_admin!(tx, call.administration, at)?;
            }
            let out = incoming_in_tx!(tx, &inc)?;
            tx.commit().await?;
            out
        });
        if need_admin {
            self.admin_known(call.administration);
        }
        tracing::debug!(case = %token, reused, caller_known, open_cases, "crm: incoming call");
        Ok(CaseRef { token, reused, caller_known, open_cases })
    }

    fn need_admin(&self, admin: &str) -> bool {
        self.inner.admins.lock().map(|s| !s.contains(admin)).unwrap_or(true)
    }

    fn admin_known(&self, admin: &str) {
        if let Ok(mut s) = self.inner.admins.lock() {
            s.insert(admin.to_owned());
        }
    }

    /// Appends one event; idempotent on `ev.id`.
    pub async fn append(&self, ev: &TimelineEvent) -> Result<(), CrmError> {
        self.apply_batch(std::slice::from_ref(&OutboxRecord::Event(ev.clone()))).await
    }

    /// Opens a case with a locally minted token (what replaying `OutboxRecord::OpenCase` does).
    pub async fn open_case(&self, rec: &OpenCase) -> Result<(), CrmError> {
        self.apply_batch(std::slice::from_ref(&OutboxRecord::OpenCase(rec.clone()))).await
    }

    /// Counts an anonymous rating; idempotent on `r.id`.
    pub async fn record_rating(&self, r: &Rating) -> Result<(), CrmError> {
        self.apply_batch(std::slice::from_ref(&OutboxRecord::Rating(r.clone()))).await
    }

    /// Applies records in order in one transaction: all or none. Idempotent: replaying a batch
    /// that was committed already changes nothing.
    pub async fn apply_batch(&self, records: &[OutboxRecord]) -> Result<(), CrmError> {
        if records.is_empty() {
            return Ok(());
        }
        self.ready().await?;
        let mut new_admins: Vec<&str> = Vec::new();
        for r in records {
            if let OutboxRecord::OpenCase(oc) = r {
                if self.need_admin(&oc.administration) && !new_admins.contains(&oc.administration.as_str()) {
                    new_admins.push(&oc.administration);
                }
            }
        }
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for a in &new_admins {
                ensure_admin!(tx, *a, to_ms(SystemTime::now()))?;
            }
            for r in records {
                match r {
                    OutboxRecord::OpenCase(oc) => {
                        let inc = Incoming {
                            fixed: Some(&oc.token),
                            contact_id: &oc.contact_id,
                            node: &oc.node,
                            caller: &oc.caller,
                            called: &oc.called,
                            administration: &oc.administration,
                            topic: topic_of(oc.topic.as_deref()),
                            call_id: &oc.call_id,
                            at: to_ms(oc.at),
                            reuse_since: 0,
                        };
                        incoming_in_tx!(tx, &inc)?;
                    }
                    OutboxRecord::Event(ev) => {
                        event_in_tx!(tx, ev)?;
                    }
                    OutboxRecord::Rating(rt) => {
                        rating_in_tx!(tx, rt)?;
                    }
                }
            }
            tx.commit().await?;
        });
        for a in new_admins {
            self.admin_known(a);
        }
        Ok(())
    }

    /// A case with its whole timeline (every node's events) and notes; None if unknown.
    pub async fn case_timeline(&self, token: &CaseToken) -> Result<Option<CaseView>, CrmError> {
        self.ready().await?;
        let (case, events, notes): (Option<CaseRow>, Vec<EventDbRow>, Vec<NoteRow>) = with_pool!(self, |pool| {
            let mut conn = pool.acquire().await?;
            let case: Option<CaseRow> =
                sqlx::query_as(&format!("{CASE_SELECT} WHERE c.token = $1")).bind(token.as_str()).fetch_optional(&mut *conn).await?;
            if case.is_none() {
                (None, Vec::new(), Vec::new())
            } else {
                let events = sqlx::query_as("SELECT id, node, at, kind, leg, detail FROM events WHERE case_token = $1 ORDER BY at, id")
                    .bind(token.as_str())
                    .fetch_all(&mut *conn)
                    .await?;
                let notes = sqlx::query_as(
                    "SELECT id, case_token, administration, node, at, question, answer FROM notes WHERE case_token = $1 ORDER BY at, id",
                )
                .bind(token.as_str())
                .fetch_all(&mut *conn)
                .await?;
                (case, events, notes)
            }
        });
        let Some(case) = case else { return Ok(None) };
        Ok(Some(CaseView {
            case: case_summary(case)?,
            events: events
                .into_iter()
                .map(|(id, node, at, kind, leg, detail)| EventRow {
                    id,
                    node,
                    at,
                    kind: EventKind::parse(&kind),
                    leg,
                    detail: detail_value(&detail),
                })
                .collect(),
            notes: notes.into_iter().map(note).collect::<Result<_, _>>()?,
        }))
    }

    /// Cases matching `filter`, newest first.
    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseSummary>, CrmError> {
        self.ready().await?;
        let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
        let sql = format!(
            "{CASE_SELECT} WHERE ($1 IS NULL OR cl.number = $1) AND ($2 IS NULL OR c.administration = $2) \
             AND ($3 = 0 OR c.status = 'open') AND ($4 IS NULL OR c.opened_at >= $4) ORDER BY c.opened_at DESC, c.token DESC LIMIT $5"
        );
        let rows: Vec<CaseRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(filter.caller.as_deref())
                .bind(filter.administration.as_deref())
                .bind(filter.open_only as i64)
                .bind(filter.since.map(to_ms))
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(case_summary).collect()
    }

    /// Records a question and its answer on a case (and a `note` event on its timeline).
    pub async fn add_note(&self, token: &CaseToken, question: &str, answer: &str) -> Result<Note, CrmError> {
        self.ready().await?;
        let now = SystemTime::now();
        let at = to_ms(now);
        let id = new_ulid_at(now);
        let admin: Option<String> = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let admin: Option<(String,)> = sqlx::query_as(
                "INSERT INTO notes (id, case_token, administration, node, at, question, answer) \
                 SELECT $1, token, administration, $3, $4, $5, $6 FROM cases WHERE token = $2 RETURNING administration",
            )
            .bind(&id)
            .bind(token.as_str())
            .bind(&self.inner.node)
            .bind(at)
            .bind(question)
            .bind(answer)
            .fetch_optional(&mut *tx)
            .await?;
            if admin.is_some() {
                let ev = TimelineEvent {
                    id: id.clone(),
                    case: token.clone(),
                    node: self.inner.node.clone(),
                    at: now,
                    kind: EventKind::Note,
                    leg: None,
                    detail: serde_json::json!({ "note": id }),
                };
                event_in_tx!(tx, &ev)?;
                tx.commit().await?;
            }
            admin.map(|a| a.0)
        });
        let administration = admin.ok_or_else(|| CrmError::NoSuchCase(token.clone()))?;
        Ok(Note {
            id,
            case: token.clone(),
            administration,
            node: self.inner.node.clone(),
            at,
            question: question.into(),
            answer: answer.into(),
        })
    }

    /// Closes a case (appends a `closed` event). Ok(false) if it was closed already.
    pub async fn close_case(&self, token: &CaseToken) -> Result<bool, CrmError> {
        self.ready().await?;
        let status: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT status FROM cases WHERE token = $1").bind(token.as_str()).fetch_optional(pool).await?
        });
        match status {
            None => Err(CrmError::NoSuchCase(token.clone())),
            Some((s,)) if s == "closed" => Ok(false),
            Some(_) => {
                let ev = TimelineEvent::new(token.clone(), &self.inner.node, SystemTime::now(), EventKind::Closed, serde_json::json!({}));
                self.append(&ev).await?;
                Ok(true)
            }
        }
    }

    /// A caller's contacts and cases (newest first, at most 100 each); None if the number is
    /// unknown.
    pub async fn caller_history(&self, number: &str) -> Result<Option<CallerHistory>, CrmError> {
        self.ready().await?;
        let (caller, contacts, cases): (Option<CallerDbRow>, Vec<ContactDbRow>, Vec<CaseRow>) = with_pool!(self, |pool| {
            let mut conn = pool.acquire().await?;
            let caller: Option<(i64, i64, i64)> = sqlx::query_as("SELECT id, first_seen, last_seen FROM callers WHERE number = $1")
                .bind(number)
                .fetch_optional(&mut *conn)
                .await?;
            match caller {
                None => (None, Vec::new(), Vec::new()),
                Some((id, _, _)) => {
                    let contacts = sqlx::query_as(
                        "SELECT id, case_token, call_id, from_number, to_number, administration, node, started_at, answered_at, ended_at, outcome \
                         FROM contacts WHERE caller_id = $1 ORDER BY started_at DESC, id DESC LIMIT 100",
                    )
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
                    let cases =
                        sqlx::query_as(&format!("{CASE_SELECT} WHERE c.caller_id = $1 ORDER BY c.opened_at DESC, c.token DESC LIMIT 100"))
                            .bind(id)
                            .fetch_all(&mut *conn)
                            .await?;
                    (caller, contacts, cases)
                }
            }
        });
        let Some((_, first_seen, last_seen)) = caller else { return Ok(None) };
        Ok(Some(CallerHistory {
            number: number.to_owned(),
            first_seen,
            last_seen,
            contacts: contacts
                .into_iter()
                .map(|r| ContactRow {
                    id: r.0,
                    case: r.1,
                    call_id: r.2,
                    from: r.3,
                    to: r.4,
                    administration: r.5,
                    node: r.6,
                    started_at: r.7,
                    answered_at: r.8,
                    ended_at: r.9,
                    outcome: r.10,
                })
                .collect(),
            cases: cases.into_iter().map(case_summary).collect::<Result<_, _>>()?,
        }))
    }

    /// Notes whose question or answer contain every word of `text` (case-insensitive whole
    /// words), across all administrations, best match first. SQLite also ignores accents.
    pub async fn search_notes(&self, text: &str, limit: u32) -> Result<Vec<Note>, CrmError> {
        self.ready().await?;
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let limit = if limit == 0 { 50 } else { limit } as i64;
        let rows: Vec<NoteRow> = match &self.inner.backend {
            Backend::Sqlite(p) => {
                // Each word as an FTS5 string ("..." with quotes doubled): no query syntax leaks.
                let q = words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect::<Vec<_>>().join(" ");
                sqlx::query_as(
                    "SELECT n.id, n.case_token, n.administration, n.node, n.at, n.question, n.answer \
                     FROM notes_fts JOIN notes n ON n.rowid = notes_fts.rowid WHERE notes_fts MATCH $1 \
                     ORDER BY bm25(notes_fts), n.at DESC LIMIT $2",
                )
                .bind(q)
                .bind(limit)
                .fetch_all(p)
                .await?
            }
            Backend::Postgres(p) => {
                sqlx::query_as(
                    "SELECT id, case_token, administration, node, at, question, answer FROM notes \
                     WHERE tsv @@ plainto_tsquery('simple', $1) \
                     ORDER BY ts_rank(tsv, plainto_tsquery('simple', $1)) DESC, at DESC LIMIT $2",
                )
                .bind(words.join(" "))
                .bind(limit)
                .fetch_all(p)
                .await?
            }
        };
        rows.into_iter().map(note).collect()
    }

    /// Retention: deletes cases with no activity for `days` days (with their events, notes and
    /// contacts), every event, note and contact older than that, and callers left with
    /// nothing. Ratings are anonymous and kept. One transaction.
    pub async fn purge_older_than(&self, days: u32) -> Result<PurgeReport, CrmError> {
        let cutoff = SystemTime::now().checked_sub(Duration::from_secs(u64::from(days) * 86_400)).unwrap_or(SystemTime::UNIX_EPOCH);
        self.purge_before(cutoff).await
    }

    /// [`Self::purge_older_than`] with an explicit cutoff.
    pub async fn purge_before(&self, cutoff: SystemTime) -> Result<PurgeReport, CrmError> {
        self.ready().await?;
        let c = to_ms(cutoff);
        const STALE: &str = "SELECT token FROM cases WHERE updated_at < $1";
        let report = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            macro_rules! run {
                ($sql:expr) => {
                    sqlx::query(&$sql).bind(c).execute(&mut *tx).await?.rows_affected()
                };
            }
            let events = run!(format!("DELETE FROM events WHERE at < $1 OR case_token IN ({STALE})"));
            let notes = run!(format!("DELETE FROM notes WHERE at < $1 OR case_token IN ({STALE})"));
            let contacts = run!(format!("DELETE FROM contacts WHERE started_at < $1 OR case_token IN ({STALE})"));
            let cases = run!(String::from("DELETE FROM cases WHERE updated_at < $1"));
            let callers = run!(String::from(
                "DELETE FROM callers WHERE last_seen < $1 \
                 AND NOT EXISTS (SELECT 1 FROM cases WHERE cases.caller_id = callers.id) \
                 AND NOT EXISTS (SELECT 1 FROM contacts WHERE contacts.caller_id = callers.id)"
            ));
            run!(String::from("DELETE FROM rating_ids WHERE bucket < $1"));
            tx.commit().await?;
            PurgeReport { cases, contacts, events, notes, callers }
        });
        tracing::info!(
            cases = report.cases,
            contacts = report.contacts,
            events = report.events,
            notes = report.notes,
            callers = report.callers,
            "crm: retention purge"
        );
        Ok(report)
    }

    /// Rating counters, optionally of one administration, newest hour first.
    pub async fn rating_counts(&self, administration: Option<&str>) -> Result<Vec<RatingCount>, CrmError> {
        self.ready().await?;
        let rows: Vec<(String, String, String, i64, i64, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT administration, topic, channel, bucket, value, n FROM ratings WHERE ($1 IS NULL OR administration = $1) \
                 ORDER BY bucket DESC, administration, topic, channel, value",
            )
            .bind(administration)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| RatingCount { administration: r.0, topic: r.1, channel: r.2, bucket: r.3, value: r.4, n: r.5 })
            .collect())
    }

    /// Column names of a CRM table, in order (schema checks, e.g. that `ratings` has no
    /// caller).
    pub async fn table_columns(&self, table: &str) -> Result<Vec<String>, CrmError> {
        self.ready().await?;
        let rows: Vec<(String,)> = match &self.inner.backend {
            Backend::Sqlite(p) => sqlx::query_as("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(p).await?,
            Backend::Postgres(p) => {
                sqlx::query_as(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Closes the pool (waits for connections in use to come back).
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}

/// Applies the retention policy: purges data older than `retention_days` now and then every
/// 24 hours until `shutdown` completes. `retention_days == 0` keeps everything (returns at
/// once). A failed purge is logged and retried at the next run. Spawn it from the daemon.
pub async fn run_retention(store: CrmStore, retention_days: u32, shutdown: impl Future<Output = ()>) {
    if retention_days == 0 {
        return;
    }
    tokio::pin!(shutdown);
    loop {
        if let Err(e) = store.purge_older_than(retention_days).await {
            tracing::warn!(error = %e, "crm: retention purge failed; next try in 24 h");
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(Duration::from_secs(86_400)) => {}
        }
    }
}

#[allow(dead_code)]
fn _assert_send(s: CrmStore) {
    fn is_send<T: Send>(_: T) {}
    is_send(async move {
        let _ = s
            .on_incoming(
                &IncomingCall { caller: "", called: "", administration: "", topic: None, call_id: "", at: from_ms(0) },
                Duration::ZERO,
            )
            .await;
    });
}
