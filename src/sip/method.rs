//! SIP request methods: the well-known ones as variants, extensions kept as text.

use super::bytestr::ByteStr;
use std::fmt;

/// A SIP method (RFC 3261 §7.1 and extensions). Methods are case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Starts a session.
    Invite,
    /// Acknowledges a final response to INVITE.
    Ack,
    /// Ends a session.
    Bye,
    /// Cancels a pending request.
    Cancel,
    /// Registers contact bindings.
    Register,
    /// Queries capabilities.
    Options,
    /// Mid-dialog information (RFC 6086).
    Info,
    /// Provisional response acknowledgement (RFC 3262).
    Prack,
    /// Session update (RFC 3311).
    Update,
    /// Event subscription (RFC 6665).
    Subscribe,
    /// Event notification (RFC 6665).
    Notify,
    /// Call transfer (RFC 3515).
    Refer,
    /// Instant message (RFC 3428).
    Message,
    /// Event state publication (RFC 3903).
    Publish,
    /// Any other token.
    Other(ByteStr),
}

impl Method {
    /// Maps a method token to a `Method`; `raw` is kept for extension methods.
    pub fn from_token(raw: ByteStr) -> Method {
        match raw.as_str() {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            _ => Method::Other(raw),
        }
    }

    /// The method token as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s.as_str(),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
