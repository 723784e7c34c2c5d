//! Per-source-IP request rate limiting (in the manner of Kamailio's `pike`): a token bucket per
//! IP, refilled continuously. Sans-IO: the caller passes `now`. Memory is bounded: buckets that
//! are full again are forgotten on `sweep`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// Token buckets keyed by source IP.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl RateLimiter {
    /// `rate` requests per second sustained, `burst` at once. `rate == 0` disables limiting.
    pub fn new(rate: u32, burst: u32) -> Self {
        RateLimiter { rate: f64::from(rate), burst: f64::from(burst.max(1)), buckets: HashMap::new() }
    }

    /// Whether a request from `ip` at `now` is allowed (and takes a token if so).
    pub fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let (tokens, last) = self.buckets.entry(ip).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets buckets that have refilled completely.
    pub fn sweep(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, (tokens, last)| *tokens + now.saturating_duration_since(*last).as_secs_f64() * rate < burst);
    }

    /// Number of tracked sources.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills() {
        let mut rl = RateLimiter::new(10, 2);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        assert!(rl.allow(ip, t0));
        assert!(rl.allow(ip, t0));
        assert!(!rl.allow(ip, t0));
        assert!(rl.allow(ip, t0 + Duration::from_millis(150)));
        rl.sweep(t0 + Duration::from_secs(10));
        assert!(rl.is_empty());
        assert!(RateLimiter::new(0, 0).allow(ip, t0));
    }
}
