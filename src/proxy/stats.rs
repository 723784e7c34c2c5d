//! Counters the core keeps for `urpd status` and, later, the metrics endpoint.

use crate::sip::Method;
use serde::Serialize;

/// Monotonic counters since start.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {
    /// Requests received, by method (INVITE, REGISTER, OPTIONS, other).
    pub requests: [u64; 4],
    /// Responses sent by class (1xx..6xx).
    pub responses: [u64; 6],
    /// Messages that failed to parse or validate.
    pub parse_errors: u64,
    /// Failed digest authentications.
    pub auth_failures: u64,
    /// Requests dropped by the per-IP rate limiter.
    pub rate_limited: u64,
    /// Successful REGISTER requests.
    pub registers_ok: u64,
    /// REGISTER retransmissions answered again from the current bindings.
    pub register_retransmissions: u64,
    /// Requests proxied.
    pub proxied: u64,
    /// Times the core's loop slept before reading UDP again after a busy wake-up
    /// (`transport::moderation`; counted by the loop, which owns the sockets).
    pub udp_batch_waits: u64,
}

impl Stats {
    /// Counts a received request.
    pub fn count_request(&mut self, m: &Method) {
        let i = match m {
            Method::Invite => 0,
            Method::Register => 1,
            Method::Options => 2,
            _ => 3,
        };
        self.requests[i] += 1;
    }

    /// Counts a response the node sent or forwarded.
    pub fn count_response(&mut self, status: u16) {
        let i = usize::from(status / 100).saturating_sub(1).min(5);
        self.responses[i] += 1;
    }
}
