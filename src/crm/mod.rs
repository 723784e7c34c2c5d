//! The CRM: callers, cases ("pratiche"), their timelines, the shared Q&A notes and anonymous
//! ratings, in SQLite (embedded default, `<state_dir>/crm.db`) or PostgreSQL (shared by the
//! nodes of a federation). See `docs/crm.md`.
//!
//! Contract:
//! - [`CrmStore`] is a cheap `Clone` over a connection pool; every method takes a connection
//!   for one short transaction and gives it back. Nothing here knows SIP.
//! - The call path never waits on the database: the daemon bounds [`CrmStore::on_incoming`]
//!   with its lookup deadline and, past it or on [`CrmError::is_unavailable`], mints a token
//!   with [`CaseToken::mint`] and pushes an [`OutboxRecord::OpenCase`]. Every write goes through
//!   the [`Outbox`], replayed in order by [`run_replayer`]; replay is idempotent (unique ids).
//! - Personal data (callers' numbers) is stored, never logged above debug level, and deleted by
//!   the retention purge ([`CrmStore::purge_older_than`], [`run_retention`]). Ratings never
//!   hold a caller, a case or a call. Tokens carry no personal data.

mod error;
mod model;
pub mod outbox;
mod store;
pub mod time;
mod token;

pub use error::CrmError;
pub use model::{
    CallerHistory, CaseFilter, CaseRef, CaseSummary, CaseView, Channel, ContactRow, EventKind, EventRow, IncomingCall, Note, OpenCase,
    OutboxRecord, PurgeReport, Rating, RatingCount, TimelineEvent,
};
pub use outbox::{run_replayer, Outbox, OUTBOX_FILE};
pub use store::{resolve_url, run_retention, CrmStore, StoreOptions, CRM_FILE};
pub use token::{is_node_id, new_ulid, CaseToken};
