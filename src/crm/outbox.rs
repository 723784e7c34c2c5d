//! The outbox: a durable, ordered, node-local queue of CRM writes (`<state_dir>/outbox.db`,
//! SQLite, WAL, `synchronous = FULL`), so that a slow or absent CRM database never holds up a
//! call.
//!
//! Contract:
//! - [`Outbox::push`] is a plain (non-async) call that only sends the record to the writer
//!   task over an unbounded channel: no I/O, no lock, no `.await`, callable from the core loop
//!   thread. The writer appends whatever has queued up in one transaction (group commit: one
//!   fsync for many records) and wakes the replayer. A record is durable once
//!   [`Outbox::flush`] (or [`Outbox::push_durable`]) returns; a process killed between `push`
//!   and the writer's commit (one fsync, typically well under 10 ms) loses what was in that
//!   window.
//! - [`run_replayer`] applies records to the [`CrmStore`] **in push order**, up to
//!   [`REPLAY_BATCH`] per store transaction, and deletes them only after the commit. Replay is
//!   idempotent (unique event, contact, case and rating ids), so a crash between the store's
//!   commit and the delete replays the batch without duplicates.
//! - While the store is unavailable the replayer backs off (250 ms doubling to 30 s) and
//!   keeps everything. A record the store rejects for another reason (it could never apply)
//!   is moved to the `dead` table with the error, so one bad record cannot block the queue.
//! - One replayer per outbox file. Records written before a crash are replayed after restart.
//! - Payloads contain callers' numbers: they are never logged.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::{mpsc, oneshot, Notify};

use super::time::to_ms;
use super::{CrmError, CrmStore, OutboxRecord};

/// File name of the outbox inside the state directory.
pub const OUTBOX_FILE: &str = "outbox.db";
/// Most records applied to the store in one transaction.
pub const REPLAY_BATCH: usize = 100;
/// Most records the writer appends in one transaction.
const WRITE_BATCH: usize = 1000;
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

enum Cmd {
    Push(OutboxRecord),
    Flush(oneshot::Sender<()>),
}

struct Shared {
    pool: SqlitePool,
    /// Pushed and not yet deleted after replay (queued in memory or on disk).
    pending: AtomicU64,
    /// Wakes the replayer after the writer committed.
    written: Notify,
    path: PathBuf,
}

/// Handle on the outbox. `Clone` is cheap; the writer task stops when every handle is gone
/// (after writing what was queued).
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Cmd>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("path", &self.shared.path).field("pending", &self.pending()).finish()
    }
}

impl Outbox {
    /// Opens (creating if needed) the outbox file at `path` and starts its writer task. Records
    /// left by a previous run are kept and counted in [`Outbox::pending`]. Must run inside a
    /// tokio runtime.
    pub async fn open(path: &Path) -> Result<Outbox, CrmError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.is_dir() {
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    b.mode(0o700);
                }
                b.create(dir).map_err(|source| CrmError::Io { path: dir.to_owned(), source })?;
            }
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: the WAL is fsynced at every commit, so a pushed-and-flushed record survives
            // power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(2).connect_with(opts).await?;
        sqlx::migrate!("./sql/crm/outbox").run(&pool).await?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM records").fetch_one(&pool).await?;
        let shared = Arc::new(Shared { pool, pending: AtomicU64::new(n as u64), written: Notify::new(), path: path.to_owned() });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(shared.clone(), rx));
        if n > 0 {
            tracing::info!(records = n, "crm outbox: records left from a previous run will be replayed");
            shared.written.notify_one();
        }
        Ok(Outbox { tx, shared })
    }

    /// Queues `record` for durable append and returns at once (no I/O, no await; callable from
    /// any thread, inside or outside the runtime). Fails only if the writer task is gone
    /// (runtime shutting down).
    pub fn push(&self, record: OutboxRecord) -> Result<(), CrmError> {
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        self.tx.send(Cmd::Push(record)).map_err(|_| {
            self.shared.pending.fetch_sub(1, Ordering::Relaxed);
            CrmError::OutboxClosed
        })
    }

    /// Waits until every record pushed before this call is committed to the outbox file.
    pub async fn flush(&self) -> Result<(), CrmError> {
        let (ack, done) = oneshot::channel();
        self.tx.send(Cmd::Flush(ack)).map_err(|_| CrmError::OutboxClosed)?;
        done.await.map_err(|_| CrmError::OutboxClosed)
    }

    /// [`Outbox::push`] then [`Outbox::flush`]: returns once the record is on disk.
    pub async fn push_durable(&self, record: OutboxRecord) -> Result<(), CrmError> {
        self.push(record)?;
        self.flush().await
    }

    /// Records pushed and not yet replayed (in memory or on disk).
    pub fn pending(&self) -> u64 {
        self.shared.pending.load(Ordering::Relaxed)
    }

    /// Records moved aside because the store rejected them (see the `dead` table).
    pub async fn dead_letters(&self) -> Result<u64, CrmError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM dead").fetch_one(&self.shared.pool).await?;
        Ok(n as u64)
    }

    /// The outbox file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Replays the oldest batch (up to [`REPLAY_BATCH`] records) in one store transaction and
    /// deletes it after commit. Returns how many records left the queue (0: empty).
    /// `Err` only when the store is unavailable (nothing was deleted).
    pub async fn replay_batch(&self, store: &CrmStore) -> Result<usize, CrmError> {
        let rows: Vec<(i64, i64, String)> = sqlx::query_as("SELECT seq, at, payload FROM records ORDER BY seq LIMIT $1")
            .bind(REPLAY_BATCH as i64)
            .fetch_all(&self.shared.pool)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut good: Vec<(i64, OutboxRecord)> = Vec::with_capacity(rows.len());
        let mut removed = 0;
        for (seq, at, payload) in &rows {
            match serde_json::from_str::<OutboxRecord>(payload) {
                Ok(r) => good.push((*seq, r)),
                Err(e) => {
                    // Only possible with a file written by another version: keep it aside, in
                    // order with the rest (everything before it is applied first).
                    if !good.is_empty() {
                        break;
                    }
                    self.bury(*seq, *at, payload, &format!("undecodable: {e}")).await?;
                    removed += 1;
                }
            }
        }
        if good.is_empty() {
            return Ok(removed);
        }
        let records: Vec<OutboxRecord> = good.iter().map(|(_, r)| r.clone()).collect();
        match store.apply_batch(&records).await {
            Ok(()) => {
                let (first, last) = (good[0].0, good[good.len() - 1].0);
                self.delete(first, last, good.len()).await?;
                Ok(removed + good.len())
            }
            Err(e) if e.is_unavailable() => Err(e),
            Err(e) => {
                // Something in the batch can never apply: isolate it record by record.
                tracing::warn!(error = %e, "crm outbox: batch rejected; replaying it one record at a time");
                for (seq, r) in &good {
                    match store.apply_batch(std::slice::from_ref(r)).await {
                        Ok(()) => self.delete(*seq, *seq, 1).await?,
                        Err(e) if e.is_unavailable() => return if removed > 0 { Ok(removed) } else { Err(e) },
                        Err(e) => {
                            tracing::warn!(seq, error = %e, "crm outbox: record rejected by the store; moved to the dead table");
                            let (at, payload): (i64, String) = sqlx::query_as("SELECT at, payload FROM records WHERE seq = $1")
                                .bind(seq)
                                .fetch_one(&self.shared.pool)
                                .await?;
                            self.bury(*seq, at, &payload, &e.to_string()).await?;
                        }
                    }
                    removed += 1;
                }
                Ok(removed)
            }
        }
    }

    /// Replays until the queue is empty (what is on disk; flushes first). For tests and
    /// `urpd` tools; the daemon runs [`run_replayer`].
    pub async fn drain(&self, store: &CrmStore) -> Result<u64, CrmError> {
        self.flush().await?;
        let mut n = 0u64;
        loop {
            match self.replay_batch(store).await? {
                0 => return Ok(n),
                k => n += k as u64,
            }
        }
    }

    async fn delete(&self, first: i64, last: i64, n: usize) -> Result<(), CrmError> {
        sqlx::query("DELETE FROM records WHERE seq BETWEEN $1 AND $2").bind(first).bind(last).execute(&self.shared.pool).await?;
        self.shared.pending.fetch_sub(n as u64, Ordering::Relaxed);
        Ok(())
    }

    async fn bury(&self, seq: i64, at: i64, payload: &str, error: &str) -> Result<(), CrmError> {
        let mut tx = self.shared.pool.begin().await?;
        sqlx::query("INSERT INTO dead (seq, at, payload, error, dead_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING")
            .bind(seq)
            .bind(at)
            .bind(payload)
            .bind(error)
            .bind(to_ms(SystemTime::now()))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM records WHERE seq = $1").bind(seq).execute(&mut *tx).await?;
        tx.commit().await?;
        self.shared.pending.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The writer task: appends queued records in batches, one transaction (one fsync) each.
async fn writer(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    let mut batch: Vec<String> = Vec::new();
    let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(cmd) = rx.recv().await {
        let mut next = Some(cmd);
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Push(r) => match serde_json::to_string(&r) {
                    Ok(s) => batch.push(s),
                    Err(e) => {
                        shared.pending.fetch_sub(1, Ordering::Relaxed);
                        tracing::error!(error = %e, "crm outbox: record not encodable; dropped");
                    }
                },
                Cmd::Flush(ack) => acks.push(ack),
            }
            if batch.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let mut backoff = BACKOFF_MIN;
        while !batch.is_empty() {
            match append(&shared.pool, &batch).await {
                Ok(()) => batch.clear(),
                Err(e) => {
                    tracing::error!(error = %e, records = batch.len(), "crm outbox: cannot write; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        for a in acks.drain(..) {
            let _ = a.send(());
        }
        shared.written.notify_one();
    }
}

async fn append(pool: &SqlitePool, batch: &[String]) -> Result<(), sqlx::Error> {
    let at = to_ms(SystemTime::now());
    let mut tx = pool.begin().await?;
    for p in batch {
        sqlx::query("INSERT INTO records (at, payload) VALUES ($1, $2)").bind(at).bind(p).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Replays `outbox` into `store` until `shutdown` completes: in order, in batches, backing off
/// while the store is unavailable, sleeping while the queue is empty. Spawn it once per
/// outbox from the daemon. A batch in progress when `shutdown` fires is finished first.
pub async fn run_replayer(outbox: Outbox, store: CrmStore, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut backoff = BACKOFF_MIN;
    let mut down_since: Option<std::time::Instant> = None;
    loop {
        let wait = match outbox.replay_batch(&store).await {
            Ok(0) => None,
            Ok(_) => {
                if let Some(t) = down_since.take() {
                    tracing::info!(
                        after_secs = t.elapsed().as_secs(),
                        pending = outbox.pending(),
                        "crm outbox: store reachable again; replaying"
                    );
                }
                backoff = BACKOFF_MIN;
                continue;
            }
            Err(e) => {
                if down_since.is_none() {
                    tracing::warn!(error = %e, pending = outbox.pending(), "crm outbox: store unavailable; holding records");
                    down_since = Some(std::time::Instant::now());
                } else {
                    tracing::debug!(error = %e, "crm outbox: store still unavailable");
                }
                let b = backoff;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                Some(b)
            }
        };
        match wait {
            None => tokio::select! {
                _ = &mut shutdown => return,
                _ = outbox.shared.written.notified() => {}
            },
            Some(b) => tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(b) => {}
            },
        }
    }
}
