//! Registration lifetime policy (RFC 3261 §10.3 step 7): how long a binding lives when the UA
//! asks for a given interval, or asks for none.

/// Bounds on binding lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpiryPolicy {
    /// Shortest non-zero lifetime accepted; shorter requests get 423 with `Min-Expires`.
    pub min: u32,
    /// Longest lifetime granted; longer requests are shortened (the 200 says by how much).
    pub max: u32,
    /// Lifetime when neither the contact's `expires` nor an `Expires` header gives one.
    pub default: u32,
}

impl Default for ExpiryPolicy {
    /// 60 s / 3600 s / 3600 s: the RFC 3261 default of one hour, and Kamailio's 60 s minimum
    /// (shorter intervals only add REGISTER load; NAT keep-alive is the transport's job).
    fn default() -> Self {
        ExpiryPolicy { min: 60, max: 3600, default: 3600 }
    }
}

/// What the policy decides for one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granted {
    /// Remove the binding (the UA asked for 0).
    Remove,
    /// Keep the binding this many seconds (already clamped to `max`).
    Keep(u32),
    /// Refuse the request: 423 with `Min-Expires: min`.
    TooBrief,
}

impl ExpiryPolicy {
    /// Applies the policy to a contact's requested lifetime: its `expires` parameter, else the
    /// `Expires` header, else `default`; then clamped to `max`, refused below `min`.
    pub fn grant(&self, contact_param: Option<u32>, header: Option<u32>) -> Granted {
        let asked = contact_param.or(header).unwrap_or(self.default);
        if asked == 0 {
            Granted::Remove
        } else if asked < self.min {
            Granted::TooBrief
        } else {
            // `max(1)` so that a misconfigured `max: 0` cannot turn a registration into a
            // removal.
            Granted::Keep(asked.min(self.max.max(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_clamp_and_floor() {
        let p = ExpiryPolicy { min: 60, max: 3600, default: 1800 };
        assert_eq!(p.grant(Some(120), Some(600)), Granted::Keep(120));
        assert_eq!(p.grant(None, Some(600)), Granted::Keep(600));
        assert_eq!(p.grant(None, None), Granted::Keep(1800));
        assert_eq!(p.grant(Some(99_999), None), Granted::Keep(3600));
        assert_eq!(p.grant(Some(30), None), Granted::TooBrief);
        assert_eq!(p.grant(Some(0), Some(600)), Granted::Remove);
        assert_eq!(p.grant(None, Some(0)), Granted::Remove);
    }
}
