//! The node's own state file, `<state_dir>/urpd.db` (SQLite through sqlx): provisioned users
//! and the persisted location table.
//!
//! Contract: this is node-local state, never shared between nodes (the CRM database is the
//! shared one). Two processes use the file at once: the daemon and the `urpd user ...` CLI.
//! WAL mode lets the CLI write while the daemon reads, `busy_timeout` absorbs short write
//! contention, and [`StateDb::data_version`] lets the daemon notice the CLI's writes without
//! an IPC channel. Only HA1 digests are stored, never passwords. The schema is the embedded
//! migrations in `sql/state/`, applied on [`StateDb::open`].

mod bindings;
mod error;
mod users;

pub use error::StateError;
pub use users::{validate_user_name, Role, UserRow};

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::Mutex;

/// File name of the state database inside the state directory.
pub const DB_FILE: &str = "urpd.db";

/// Pool size: writes are serialized by SQLite anyway; a few readers are plenty for a daemon
/// whose hot paths run from memory.
const POOL_SIZE: u32 = 4;

/// An open state database.
#[derive(Debug)]
pub struct StateDb {
    pool: SqlitePool,
    /// A connection of its own for `PRAGMA data_version`, whose value is only comparable
    /// across calls on the same connection; a pooled connection could differ on every call.
    version_conn: Mutex<SqliteConnection>,
    path: PathBuf,
}

impl StateDb {
    /// Opens (creating if needed) `<state_dir>/urpd.db` and applies pending migrations.
    ///
    /// A state directory that does not exist is created mode 0700 on Unix: the file holds
    /// HA1s, which are password-equivalent within the realm.
    pub async fn open(state_dir: &Path) -> Result<StateDb, StateError> {
        create_dir(state_dir)?;
        let path = state_dir.join(DB_FILE);
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode is durable against process crashes and only risks the last
            // commits on power loss; bindings come back on the next REGISTER anyway.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(POOL_SIZE).connect_with(opts.clone()).await?;
        sqlx::migrate!("./sql/state").run(&pool).await?;
        let version_conn = opts.connect().await?;
        Ok(StateDb { pool, version_conn: Mutex::new(version_conn), path })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `PRAGMA data_version`: changes whenever a commit by *another* connection lands,
    /// including other processes (the CLI) and this handle's own pool. The daemon polls it and
    /// reloads its credential cache when it moves.
    pub async fn data_version(&self) -> Result<i64, StateError> {
        let mut conn = self.version_conn.lock().await;
        let v: i64 = sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut *conn).await?;
        Ok(v)
    }

    /// The users' version: moves whenever a user is added, changed or removed (by any process),
    /// and only then. The daemon polls it to refresh its credential cache.
    pub async fn users_version(&self) -> Result<i64, StateError> {
        let v: i64 = sqlx::query_scalar("SELECT version FROM users_version WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(v)
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(self) -> Result<(), StateError> {
        self.version_conn.into_inner().close().await?;
        self.pool.close().await;
        Ok(())
    }
}

fn create_dir(dir: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io { path: dir.to_owned(), source };
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(io)
}
