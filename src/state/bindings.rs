//! The location table's persisted copy: written behind the in-memory table, read at startup so
//! that a restart does not make every agent unreachable until their next REGISTER.

use super::{StateDb, StateError};
use crate::registrar::{Binding, Change};
use crate::transport::addr::{Peer, Protocol};
use sqlx::Row;
use std::net::SocketAddr;

/// Unix seconds as SQLite's signed INTEGER; values past `i64::MAX` (never in practice) are
/// stored as `i64::MAX`, which still means "far future".
fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl StateDb {
    /// Applies registrar changes in order, in one transaction (all or none). Consecutive
    /// upserts go in multi-row statements (see `upsert_run`): one round trip to SQLite's
    /// worker thread per chunk rather than per binding — per-row statements were most of the
    /// futex wake-ups under REGISTER load (docs/benchmarks.md).
    pub async fn save_bindings(&self, changes: &[Change]) -> Result<(), StateError> {
        let mut tx = self.pool.begin().await?;
        let mut run: Vec<&Binding> = Vec::new();
        for change in changes {
            match change {
                Change::Upsert(b) | Change::Refresh(b) => {
                    run.push(b);
                }
                Change::Remove { aor, contact } => {
                    // Order matters only within a key; flushing keeps it exactly anyway.
                    upsert_run(&mut tx, &run).await?;
                    run.clear();
                    sqlx::query("DELETE FROM bindings WHERE aor = ? AND contact = ?")
                        .bind(&**aor)
                        .bind(&**contact)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        upsert_run(&mut tx, &run).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every binding still valid at `now`. A row that does not decode (hand-edited file) is
    /// skipped with a warning rather than failing startup: a lost binding costs one
    /// re-REGISTER, a daemon that will not start costs the whole office.
    pub async fn load_bindings(&self, now: u64) -> Result<Vec<Binding>, StateError> {
        let rows = sqlx::query(
            "SELECT aor, contact, q, expires_at, call_id, cseq, received_proto, received_addr, user_agent, \
             updated_at FROM bindings WHERE expires_at > ?",
        )
        .bind(secs(now))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            match binding_from_row(r) {
                Ok(b) => out.push(b),
                Err(e) => tracing::warn!(error = %e, "skipping unreadable binding row"),
            }
        }
        Ok(out)
    }

    /// Deletes bindings lapsed at `now`; returns how many.
    pub async fn purge_expired(&self, now: u64) -> Result<u64, StateError> {
        let done = sqlx::query("DELETE FROM bindings WHERE expires_at <= ?").bind(secs(now)).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}

/// Most rows per multi-row upsert: 10 parameters each, well under SQLite's 32,766 limit.
const UPSERT_ROWS: usize = 256;

/// The statement sizes a run of `len` upserts is cut into: powers of two, largest first
/// (37 → 32, 4, 1). A statement's text depends on its row count and sqlx caches prepared
/// statements by text, so a fixed set of sizes (9) is prepared once per connection; sizing
/// each statement to its run made nearly every write-back prepare a new one, at ~3,000
/// instructions per row (~3% of a REGISTER's, callgrind; docs/benchmarks.md).
fn chunk_sizes(mut len: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if len == 0 {
            return None;
        }
        let n = if len >= UPSERT_ROWS { UPSERT_ROWS } else { 1 << len.ilog2() };
        len -= n;
        Some(n)
    })
}

/// Writes `run` (distinct keys) as the multi-row statements `chunk_sizes` gives.
async fn upsert_run(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, mut run: &[&Binding]) -> Result<(), StateError> {
    for n in chunk_sizes(run.len()) {
        let (now, rest) = run.split_at(n);
        upsert(tx, now).await?;
        run = rest;
    }
    Ok(())
}

/// The text of the upsert of `n` rows, for the sizes `chunk_sizes` gives: built once per size
/// (a `QueryBuilder` per write-back formatted ~30 placeholders and separators per row, ~8% of
/// the writer's instructions), and `'static`, as `sqlx::query` wants for a cached statement.
fn upsert_sql(n: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        (0..=UPSERT_ROWS.ilog2())
            .map(|k| {
                let rows = 1usize << k;
                let mut sql = String::from(
                    "INSERT INTO bindings (aor, contact, q, expires_at, call_id, cseq, received_proto, received_addr, user_agent, updated_at) VALUES ",
                );
                for i in 0..rows {
                    sql.push_str(if i == 0 { "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" });
                }
                sql.push_str(
                    " ON CONFLICT (aor, contact) DO UPDATE SET q = excluded.q, expires_at = excluded.expires_at, \
                     call_id = excluded.call_id, cseq = excluded.cseq, received_proto = excluded.received_proto, \
                     received_addr = excluded.received_addr, user_agent = excluded.user_agent, updated_at = excluded.updated_at",
                );
                sql
            })
            .collect()
    });
    // `chunk_sizes` only gives powers of two up to UPSERT_ROWS.
    all.get(n.max(1).ilog2() as usize).map(String::as_str).unwrap_or_default()
}

/// Inserts or updates `rows` (distinct keys, or later rows win) in one statement; `rows.len()`
/// is one of `chunk_sizes`'s.
async fn upsert(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, rows: &[&Binding]) -> Result<(), StateError> {
    if rows.is_empty() {
        return Ok(());
    }
    debug_assert!(rows.len().is_power_of_two() && rows.len() <= UPSERT_ROWS);
    let addrs: Vec<String> = rows.iter().map(|b| crate::sip::text::socket_addr_text(b.received.addr)).collect();
    let mut q = sqlx::query(upsert_sql(rows.len()));
    for (b, addr) in rows.iter().zip(&addrs) {
        q = q
            .bind(&*b.aor)
            .bind(&*b.contact)
            .bind(i64::from(b.q))
            .bind(secs(b.expires_at))
            .bind(&*b.call_id)
            .bind(i64::from(b.cseq))
            .bind(protocol_name(b.received.protocol))
            .bind(addr.as_str())
            .bind(b.user_agent.as_deref())
            .bind(secs(b.updated_at));
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
        Protocol::Tls => "tls",
    }
}

fn binding_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Binding, StateError> {
    let corrupt = |what: &str, v: &dyn std::fmt::Debug| StateError::Corrupt(format!("bindings.{what} = {v:?}"));
    let q: i64 = r.try_get("q")?;
    let expires_at: i64 = r.try_get("expires_at")?;
    let cseq: i64 = r.try_get("cseq")?;
    let updated_at: i64 = r.try_get("updated_at")?;
    let proto: String = r.try_get("received_proto")?;
    let addr: String = r.try_get("received_addr")?;
    Ok(Binding {
        aor: r.try_get::<String, _>("aor")?.into(),
        contact: r.try_get::<String, _>("contact")?.into(),
        q: u16::try_from(q).ok().filter(|q| *q <= 1000).ok_or_else(|| corrupt("q", &q))?,
        expires_at: u64::try_from(expires_at).map_err(|_| corrupt("expires_at", &expires_at))?,
        call_id: r.try_get::<String, _>("call_id")?.into(),
        cseq: u32::try_from(cseq).map_err(|_| corrupt("cseq", &cseq))?,
        received: Peer::new(
            Protocol::from_token(&proto).ok_or_else(|| corrupt("received_proto", &proto))?,
            addr.parse::<SocketAddr>().map_err(|_| corrupt("received_addr", &addr))?,
        ),
        user_agent: r.try_get::<Option<String>, _>("user_agent")?.map(Into::into),
        updated_at: u64::try_from(updated_at).map_err(|_| corrupt("updated_at", &updated_at))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_cut_into_a_fixed_set_of_sizes() {
        assert_eq!(chunk_sizes(0).count(), 0);
        assert_eq!(chunk_sizes(1).collect::<Vec<_>>(), [1]);
        assert_eq!(chunk_sizes(37).collect::<Vec<_>>(), [32, 4, 1]);
        assert_eq!(chunk_sizes(256).collect::<Vec<_>>(), [256]);
        assert_eq!(chunk_sizes(600).collect::<Vec<_>>(), [256, 256, 64, 16, 8]);
        for len in 0..2000 {
            let sizes: Vec<usize> = chunk_sizes(len).collect();
            assert_eq!(sizes.iter().sum::<usize>(), len);
            assert!(sizes.iter().all(|n| n.is_power_of_two() && *n <= UPSERT_ROWS));
        }
    }

    #[test]
    fn upsert_text_has_ten_placeholders_per_row() {
        for n in chunk_sizes(511) {
            assert_eq!(upsert_sql(n).matches('?').count(), 10 * n, "{n} rows");
        }
        assert_eq!(upsert_sql(256).matches('?').count(), 2560);
    }
}
