//! Why a SIP message was refused. Every variant names one way the peer can be wrong, so the
//! daemon can answer 400 with a reason phrase that says what to fix, and count it.

use thiserror::Error;

/// A message that could not be parsed or that breaks RFC 3261's grammar or rules.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The input ended before the blank line that closes the headers.
    #[error("incomplete message headers")]
    Incomplete,
    /// The message is larger than the configured limit.
    #[error("message too large")]
    TooLarge,
    /// The first line is neither a request line nor a status line.
    #[error("malformed start line")]
    BadStartLine,
    /// The request line has extra, missing or misplaced whitespace.
    #[error("malformed request line")]
    BadRequestLine,
    /// The method is not a valid token.
    #[error("invalid method")]
    BadMethod,
    /// The Request-URI is not a valid absolute URI.
    #[error("invalid Request-URI")]
    BadRequestUri,
    /// The protocol version is not SIP/2.0 (answered with 505).
    #[error("unsupported SIP version")]
    BadVersion,
    /// The status code is not three digits between 100 and 699.
    #[error("invalid status code")]
    BadStatus,
    /// A header line has no colon or its name is not a token.
    #[error("malformed header line")]
    BadHeaderLine,
    /// Text that must be UTF-8 is not.
    #[error("invalid UTF-8")]
    BadUtf8,
    /// A header required by RFC 3261 §8.1.1 is missing.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header that may appear once appears more than once.
    #[error("duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// A header value does not follow its grammar.
    #[error("invalid {0} header")]
    BadHeader(&'static str),
    /// Content-Length is not a non-negative number that fits.
    #[error("invalid Content-Length")]
    BadContentLength,
    /// Content-Length promises more body than the datagram holds.
    #[error("body shorter than Content-Length")]
    BodyTooShort,
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMismatch,
}

impl ParseError {
    /// The status code a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::BadVersion => 505,
            ParseError::TooLarge => 513,
            _ => 400,
        }
    }
}
