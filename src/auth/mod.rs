//! Server-side SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760), sans-IO.
//!
//! Contract: this module reads no clock, does no I/O and knows nothing of the rest of urpd.
//! Callers pass header values as `&str`, the request method and Request-URI as `&str`, and the
//! current time as unix seconds. The flow is:
//!
//! 1. no credentials → send [`Authenticator::challenge`] values in `WWW-Authenticate`
//!    (registrar, 401) or `Proxy-Authenticate` (proxy, 407);
//! 2. credentials → [`DigestCredentials::parse`] the `Authorization`/`Proxy-Authorization`
//!    value, look up the user's [`StoredCredentials`], call [`Authenticator::verify`];
//! 3. act on the [`Verdict`]: `Stale` → challenge again with `stale=true`; `Rejected` → challenge
//!    again (or 403), logging the [`Reason`] but never telling the peer which reason it was.

mod algorithm;
mod header;
mod nonce;
mod verify;

pub(crate) use algorithm::{hex_into, hex_string};
pub use algorithm::{Algorithm, AlgorithmError};
pub use header::{Challenge, DigestCredentials, NonceCount, ParseError};
pub use nonce::{request_fingerprint, NcRecord, NonceId, NonceKeeper, NonceStatus, DEFAULT_MAX_TRACKED_NONCES};
pub use verify::{ha1, AuthConfig, Authenticator, Ha1, Reason, StoredCredentials, Verdict};

#[cfg(test)]
mod tests;
