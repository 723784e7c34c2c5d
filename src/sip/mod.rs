//! The SIP message layer: parse, validate, inspect and serialize RFC 3261 messages.
//!
//! Knows bytes only: no sockets, no clock, no database. Parsing borrows from the receive buffer
//! (`bytes::Bytes`), so a forwarded message is mostly the bytes it arrived as. Why urpd has its
//! own codec rather than `rsip` is measured in `tests/rsip_evidence.rs` and told in the README.

pub mod bytestr;
pub mod error;
pub mod header_name;
pub mod headers;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod parse;
pub mod serialize;
pub mod text;
pub mod uri;
pub mod validate;
pub mod via;

pub use bytestr::ByteStr;
pub use error::ParseError;
pub use header_name::HeaderName;
pub use headers::{Header, Headers};
pub use message::{reason_phrase, Message, Request, Response, SipHeaders};
pub use method::Method;
pub use name_addr::NameAddr;
pub use parse::{frame, parse_datagram, parse_framed, Frame, StreamFramer, DEFAULT_MAX_MESSAGE};
pub use uri::{Scheme, Uri};
pub use via::{parse_cseq, Via, MAGIC_COOKIE};
