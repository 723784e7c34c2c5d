//! Errors of the node's state store.

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state directory could not be created or accessed.
    #[error("state directory {path}: {source}")]
    Io {
        /// The directory.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused an operation (locked past the busy timeout, disk full, corrupt file...).
    #[error("state database: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the embedded schema migrations failed (e.g. a file written by a newer urpd).
    #[error("state database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `add_user` for a name that already exists.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// The named user does not exist.
    #[error("no such user {0:?}")]
    NoSuchUser(String),
    /// The user name is empty, longer than 64 bytes, or has characters outside the allowed set.
    #[error("invalid user name {0:?}: use 1-64 of A-Z a-z 0-9 - _ . ! ~ * ' ( ) & = + $")]
    InvalidUserName(String),
    /// The realm is empty or not printable ASCII without quotes or backslashes.
    #[error("invalid realm {0:?}")]
    InvalidRealm(String),
    /// The password is empty.
    #[error("empty password")]
    EmptyPassword,
    /// The background task reloading users died (a panic) before it finished.
    #[error("user reload task failed: {0}")]
    Worker(String),
    /// A row holds a value urpd never writes (hand-edited file): the column and the value.
    #[error("corrupt state row: {0}")]
    Corrupt(String),
}
