//! Why a REGISTER was refused, and the status code the caller answers with.
//!
//! Every variant maps to exactly one response code ([`RegisterError::status`]); the registrar
//! never builds responses itself (sans-IO), so the caller adds the extra headers the variant
//! asks for (`Min-Expires` for 423, `Retry-After` for 503/500).

/// A REGISTER that the registrar refused. The location table is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A required header (Call-ID, CSeq) is missing or unparsable: 400.
    #[error("missing or malformed {0} header")]
    MissingHeader(&'static str),
    /// A Contact value is not a valid name-addr / SIP URI, or its `q`/`expires` is malformed:
    /// 400.
    #[error("malformed Contact: {0}")]
    BadContact(String),
    /// The `Expires` header is not a number: 400.
    #[error("malformed Expires header")]
    BadExpires,
    /// `Contact: *` with other contacts, without `Expires: 0`, or with parameters
    /// (RFC 3261 §10.3 step 6): 400.
    #[error("Contact: * requires Expires: 0 and no other Contact")]
    BadWildcard,
    /// A contact asked for a non-zero lifetime below the configured minimum (§10.3 step 7):
    /// 423 Interval Too Brief with `Min-Expires: min`.
    #[error("interval too brief, minimum is {min}s")]
    IntervalTooBrief {
        /// The value for the `Min-Expires` header.
        min: u32,
    },
    /// Same Call-ID as a stored binding but a CSeq not higher than the stored one: a reordered
    /// or replayed REGISTER (§10.3 step 8, "the update MUST be aborted and the request fails"):
    /// 500.
    #[error("REGISTER out of order for contact {contact}")]
    OutOfOrder {
        /// The contact whose stored CSeq is not lower than the request's.
        contact: String,
    },
    /// The request would leave the AOR with more bindings than allowed: 503 with
    /// `Retry-After` (see [`RegisterError::status`] for why 503 and not 403).
    #[error("too many contacts for this address of record (max {max})")]
    TooManyContacts {
        /// The configured cap.
        max: usize,
        /// Seconds until the AOR's earliest binding lapses and frees a slot, for `Retry-After`.
        retry_after: Option<u32>,
    },
}

impl RegisterError {
    /// The status code to answer with.
    ///
    /// `TooManyContacts` is 503, as Kamailio's registrar answers, rather than 403: the
    /// condition is transient (a phone that rebooted several times piles up stale bindings
    /// that lapse on their own), and a 403 makes most softphones stop registering until a
    /// human intervenes, which for a contact-center agent means a lost seat. A 503 carrying
    /// `Retry-After` lets the phone come back by itself once a slot frees.
    pub fn status(&self) -> u16 {
        match self {
            RegisterError::MissingHeader(_) | RegisterError::BadContact(_) | RegisterError::BadExpires | RegisterError::BadWildcard => 400,
            RegisterError::IntervalTooBrief { .. } => 423,
            RegisterError::OutOfOrder { .. } => 500,
            RegisterError::TooManyContacts { .. } => 503,
        }
    }
}
