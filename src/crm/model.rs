//! The CRM's data types: what the proxy hands in and what the CLI reads out.

use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::time::{from_ms, to_ms};
use super::token::new_ulid_at;
use super::{CaseToken, CrmError};

/// An incoming citizen call, as the daemon sees it at routing time.
#[derive(Debug, Clone, Copy)]
pub struct IncomingCall<'a> {
    /// The citizen's number (From / P-Asserted-Identity user part). Personal data.
    pub caller: &'a str,
    /// The number dialled (e.g. `803001`).
    pub called: &'a str,
    /// The administration the call is for (dial plan's answer).
    pub administration: &'a str,
    /// The topic, if the dial plan or IVR knows it.
    pub topic: Option<&'a str>,
    /// The citizen leg's Call-ID.
    pub call_id: &'a str,
    /// When the call arrived.
    pub at: SystemTime,
}

/// What `on_incoming` found or made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseRef {
    /// The case the call belongs to.
    pub token: CaseToken,
    /// Whether an open case was reused (false: opened now).
    pub reused: bool,
    /// Whether this number had called before.
    pub caller_known: bool,
    /// Open cases of this caller, at every administration, including this one.
    pub open_cases: usize,
}

/// What happened on a case. Stored as its snake_case name; names urpd does not know (written by
/// a newer node) come back as [`EventKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A citizen call reached a node and joined the case (written by `on_incoming`).
    Incoming,
    /// The dial plan decided where the call goes (detail: rule, target).
    Routed,
    /// A leg towards an agent, queue or peer node was started.
    LegStarted,
    /// The callee is ringing.
    Ringing,
    /// The call was answered (leg = the citizen leg's Call-ID marks the contact answered).
    Answered,
    /// A leg failed (detail: status code, reason).
    Failed,
    /// The call ended (leg = the citizen leg's Call-ID closes the contact).
    HungUp,
    /// The call was transferred (detail: from, to).
    Transferred,
    /// The caller entered a queue.
    Queued,
    /// The caller hung up before an answer.
    Abandoned,
    /// A note was recorded (detail: note id).
    Note,
    /// The case was closed.
    Closed,
    /// The case was reopened.
    Reopened,
    /// A kind this version does not know.
    Other(String),
}

impl EventKind {
    /// The stored name.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::Incoming => "incoming",
            EventKind::Routed => "routed",
            EventKind::LegStarted => "leg_started",
            EventKind::Ringing => "ringing",
            EventKind::Answered => "answered",
            EventKind::Failed => "failed",
            EventKind::HungUp => "hung_up",
            EventKind::Transferred => "transferred",
            EventKind::Queued => "queued",
            EventKind::Abandoned => "abandoned",
            EventKind::Note => "note",
            EventKind::Closed => "closed",
            EventKind::Reopened => "reopened",
            EventKind::Other(s) => s,
        }
    }

    /// Reads a stored name (never fails).
    pub fn parse(s: &str) -> EventKind {
        match s {
            "incoming" => EventKind::Incoming,
            "routed" => EventKind::Routed,
            "leg_started" => EventKind::LegStarted,
            "ringing" => EventKind::Ringing,
            "answered" => EventKind::Answered,
            "failed" => EventKind::Failed,
            "hung_up" => EventKind::HungUp,
            "transferred" => EventKind::Transferred,
            "queued" => EventKind::Queued,
            "abandoned" => EventKind::Abandoned,
            "note" => EventKind::Note,
            "closed" => EventKind::Closed,
            "reopened" => EventKind::Reopened,
            other => EventKind::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(EventKind::parse(&s))
    }
}

/// Serde for `SystemTime` as milliseconds since the epoch.
pub(crate) mod ms {
    use super::*;
    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_ms(*t))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(from_ms(i64::deserialize(d)?))
    }
}

/// One entry of a case's timeline. `id` is unique: appending the same event twice stores it
/// once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Unique id (a ULID from [`TimelineEvent::new`]; any unique string up to 128 bytes).
    pub id: String,
    /// The case.
    pub case: CaseToken,
    /// The node that saw it.
    pub node: String,
    /// When.
    #[serde(with = "ms")]
    pub at: SystemTime,
    /// What.
    pub kind: EventKind,
    /// The Call-ID of the leg concerned, if any. For the citizen leg (the Call-ID given to
    /// `on_incoming`), `Answered`, `Failed`, `HungUp` and `Abandoned` also fill in the contact's
    /// answered/ended time and outcome.
    #[serde(default)]
    pub leg: Option<String>,
    /// Free-form detail (status code, agent, queue, rule...). Keep personal data out of it.
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl TimelineEvent {
    /// A new event with a fresh ULID id, at `at`.
    pub fn new(case: CaseToken, node: &str, at: SystemTime, kind: EventKind, detail: serde_json::Value) -> TimelineEvent {
        TimelineEvent { id: new_ulid_at(at), case, node: node.to_owned(), at, kind, leg: None, detail }
    }

    /// Sets the leg's Call-ID.
    pub fn with_leg(mut self, call_id: &str) -> TimelineEvent {
        self.leg = Some(call_id.to_owned());
        self
    }
}

/// "Open this case with this token" — what the daemon enqueues when the database was not
/// reachable at call time and it minted the token itself. Replaying it is idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenCase {
    /// The token already handed to the agent.
    pub token: CaseToken,
    /// Id of the contact row (and of the `incoming` event): makes replay idempotent.
    pub contact_id: String,
    /// The node that took the call.
    pub node: String,
    /// Citizen's number.
    pub caller: String,
    /// Number dialled.
    pub called: String,
    /// Administration.
    pub administration: String,
    /// Topic.
    pub topic: Option<String>,
    /// Citizen leg's Call-ID.
    pub call_id: String,
    /// When the call arrived.
    #[serde(with = "ms")]
    pub at: SystemTime,
}

impl OpenCase {
    /// The record for `call` with the locally minted `token`.
    pub fn from_call(call: &IncomingCall<'_>, token: CaseToken, node: &str) -> OpenCase {
        OpenCase {
            token,
            contact_id: new_ulid_at(call.at),
            node: node.to_owned(),
            caller: call.caller.to_owned(),
            called: call.called.to_owned(),
            administration: call.administration.to_owned(),
            topic: call.topic.map(str::to_owned),
            call_id: call.call_id.to_owned(),
            at: call.at,
        }
    }
}

/// A rating's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Telephone (what urpd collects after a call).
    Phone,
    /// Front desk.
    Counter,
    /// Web.
    Web,
}

impl Channel {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Counter => "counter",
            Channel::Web => "web",
        }
    }
}

/// An anonymous rating: 1 positive, 2 sufficient, 3 negative. Carries no caller, case or call
/// by construction; `at` is reduced to its hour when stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Random id (no timestamp in it) for idempotent replay.
    pub id: String,
    /// Administration.
    pub administration: String,
    /// Service / topic ('' none).
    pub topic: String,
    /// Channel.
    pub channel: Channel,
    /// 1, 2 or 3.
    pub value: u8,
    /// When (stored as its hour).
    #[serde(with = "ms")]
    pub at: SystemTime,
}

impl Rating {
    /// A rating with a random id; fails on a value outside 1..=3 or an empty administration.
    pub fn new(administration: &str, topic: Option<&str>, channel: Channel, value: u8, at: SystemTime) -> Result<Rating, CrmError> {
        if !(1..=3).contains(&value) {
            return Err(CrmError::InvalidRating(format!("value {value} not in 1..=3")));
        }
        if administration.is_empty() {
            return Err(CrmError::InvalidRating("empty administration".into()));
        }
        let id = hex::encode(rand::random::<[u8; 16]>());
        Ok(Rating { id, administration: administration.into(), topic: topic.unwrap_or("").into(), channel, value, at })
    }
}

/// One record of the outbox: every CRM write the daemon makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboxRecord {
    /// Open a case with a token minted while the database was unreachable.
    OpenCase(OpenCase),
    /// Append to a timeline.
    Event(TimelineEvent),
    /// Count a rating.
    Rating(Rating),
}

/// A case, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    /// Token.
    pub token: CaseToken,
    /// Caller's number (None once the caller was purged).
    pub caller: Option<String>,
    /// Administration.
    pub administration: String,
    /// Topic ('' none).
    pub topic: String,
    /// `open` or `closed`.
    pub status: String,
    /// Opened (ms since epoch).
    pub opened_at: i64,
    /// Closed (ms).
    pub closed_at: Option<i64>,
    /// Last activity (ms).
    pub updated_at: i64,
    /// Node that opened it.
    pub opened_by: String,
}

/// A stored timeline event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    /// Event id.
    pub id: String,
    /// Node.
    pub node: String,
    /// ms since epoch.
    pub at: i64,
    /// Kind.
    pub kind: EventKind,
    /// Leg's Call-ID.
    pub leg: Option<String>,
    /// Detail.
    pub detail: serde_json::Value,
}

/// A note (question and answer) on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Note id.
    pub id: String,
    /// Case.
    pub case: CaseToken,
    /// Administration of the case.
    pub administration: String,
    /// Node that recorded it.
    pub node: String,
    /// ms since epoch.
    pub at: i64,
    /// Question.
    pub question: String,
    /// Answer.
    pub answer: String,
}

/// A case with its timeline and notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseView {
    /// The case.
    pub case: CaseSummary,
    /// Timeline, oldest first.
    pub events: Vec<EventRow>,
    /// Notes, oldest first.
    pub notes: Vec<Note>,
}

/// Which cases `list_cases` returns (newest first).
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this caller's.
    pub caller: Option<String>,
    /// Only this administration's.
    pub administration: Option<String>,
    /// Only open ones.
    pub open_only: bool,
    /// Only opened at or after.
    pub since: Option<SystemTime>,
    /// At most this many (0 = 100).
    pub limit: u32,
}

/// One contact (citizen call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactRow {
    /// Contact id.
    pub id: String,
    /// Case.
    pub case: Option<String>,
    /// Call-ID.
    pub call_id: String,
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// Administration.
    pub administration: String,
    /// Node.
    pub node: String,
    /// ms.
    pub started_at: i64,
    /// ms.
    pub answered_at: Option<i64>,
    /// ms.
    pub ended_at: Option<i64>,
    /// Outcome (`hung_up`, `failed`, `abandoned`), None while in progress.
    pub outcome: Option<String>,
}

/// A caller's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerHistory {
    /// Number.
    pub number: String,
    /// First call (ms).
    pub first_seen: i64,
    /// Last call (ms).
    pub last_seen: i64,
    /// Contacts, newest first.
    pub contacts: Vec<ContactRow>,
    /// Cases, newest first.
    pub cases: Vec<CaseSummary>,
}

/// What a purge deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// Cases.
    pub cases: u64,
    /// Contacts.
    pub contacts: u64,
    /// Timeline events.
    pub events: u64,
    /// Notes.
    pub notes: u64,
    /// Callers (numbers) left with nothing.
    pub callers: u64,
}

/// A rating counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RatingCount {
    /// Administration.
    pub administration: String,
    /// Topic.
    pub topic: String,
    /// Channel.
    pub channel: String,
    /// Hour (ms).
    pub bucket: i64,
    /// 1..=3.
    pub value: i64,
    /// How many.
    pub n: i64,
}
