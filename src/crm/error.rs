//! Errors of the CRM store and its outbox.

use super::CaseToken;

/// Why a CRM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The database cannot be reached now (connection refused or lost, pool timeout, server
    /// shutting down, SQLite busy past its timeout). Transient: the call goes on without
    /// history and the write goes through the outbox.
    #[error("CRM database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused the operation (constraint, SQL, type error). Not transient.
    #[error("CRM database: {0}")]
    Db(#[source] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("CRM migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `crm.url` / `--crm-url` is neither `postgres://…`, `sqlite:…` nor a file path.
    #[error("invalid CRM url {0:?}: use postgres://…, sqlite:PATH or a file path")]
    InvalidUrl(String),
    /// A case token that is not `{node}:{ulid}`.
    #[error("invalid case token {0:?}: expected NODE:ULID")]
    InvalidToken(String),
    /// A node id that cannot prefix a token.
    #[error("invalid node id {0:?}: use 1-64 of A-Z a-z 0-9 . _ -")]
    InvalidNodeId(String),
    /// No case with this token.
    #[error("no such case {0}")]
    NoSuchCase(CaseToken),
    /// A rating outside 1..=3, or an empty administration.
    #[error("invalid rating: {0}")]
    InvalidRating(String),
    /// A file or directory (SQLite file, outbox) could not be created or accessed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An outbox record could not be encoded or decoded.
    #[error("outbox record: {0}")]
    Json(#[from] serde_json::Error),
    /// The outbox's writer task has stopped (runtime shut down).
    #[error("outbox closed")]
    OutboxClosed,
}

impl CrmError {
    /// Whether the failure is transient (retry later / use the outbox).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CrmError::Unavailable(_))
    }
}

impl From<sqlx::Error> for CrmError {
    fn from(e: sqlx::Error) -> CrmError {
        if is_transient(&e) {
            CrmError::Unavailable(e)
        } else {
            CrmError::Db(e)
        }
    }
}

/// Connection-level and "try again" failures on either backend.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // PostgreSQL: class 08 connection exception, 57P0x shutdown / cannot connect now,
            // 53300 too many connections, 40001/40P01 serialization failure / deadlock.
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and extended codes 5xx/6xx, 261, 517...).
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse::<i32>().map(|c| matches!(c & 0xff, 5 | 6)).unwrap_or(false)
            } else {
                code.starts_with("08") || code.starts_with("57P0") || code == "53300" || code == "40001" || code == "40P01"
            }
        }
        _ => false,
    }
}
