//! One registered contact of an address-of-record, and the changes the daemon persists.

use crate::transport::addr::Peer;
use serde::Serialize;
use std::sync::Arc;

/// A contact bound to an AOR by REGISTER (RFC 3261 §10.3).
///
/// The text fields are shared (`Arc<str>`): a REGISTER works on a copy of the AOR's bindings,
/// hands the changed ones to write-behind and the current ones to the 200, so each binding is
/// cloned three to four times per refresh — a reference count each, not an allocation and a
/// copy per field (~13 allocator calls per REGISTER before, callgrind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Binding {
    /// The AOR key (see [`super::aor_key`]).
    pub aor: Arc<str>,
    /// The Contact URI exactly as the UA last registered it (no angle brackets, no header
    /// parameters): requests to this agent are sent to this URI.
    pub contact: Arc<str>,
    /// Preference in thousandths (`q=0.5` is 500), 1000 when the UA gave none.
    pub q: u16,
    /// Unix seconds at which the binding lapses.
    pub expires_at: u64,
    /// Call-ID of the REGISTER that last refreshed it (§10.3 step 8 ordering).
    pub call_id: Arc<str>,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// The flow the REGISTER arrived on. Requests to this contact are sent over it: behind NAT
    /// the Contact address is unreachable, and over TCP/TLS the phone only accepts requests on
    /// the connection it opened.
    #[serde(serialize_with = "serialize_peer")]
    pub received: Peer,
    /// The `User-Agent` header of that REGISTER (truncated), for operators.
    pub user_agent: Option<Arc<str>>,
    /// Unix seconds of the last refresh; breaks q ties in [`super::LocationTable::lookup`].
    pub updated_at: u64,
}

/// `Peer` lives in the transport layer without serde; for status output `udp:192.0.2.1:5060`
/// is what an operator reads anyway.
fn serialize_peer<S: serde::Serializer>(p: &Peer, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(p)
}

impl Binding {
    /// Whether the binding is still valid at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        self.expires_at > now
    }

    /// Seconds left at `now` (0 once lapsed).
    pub fn remaining(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    /// The value for one `Contact` header of the 200 to a REGISTER: `<uri>;expires=N` with the
    /// remaining seconds (§10.3 step 8 requires `expires` on each) and `q` when not 1.
    pub fn contact_header_value(&self, now: u64) -> String {
        let mut v = String::with_capacity(self.contact.len() + 24);
        v.push('<');
        v.push_str(&self.contact);
        v.push_str(">;expires=");
        crate::sip::text::push_decimal(&mut v, self.remaining(now));
        if self.q < 1000 {
            v.push_str(";q=");
            v.push_str(&format_q(self.q));
        }
        v
    }
}

/// Formats thousandths as a qvalue: 500 → `0.5`, 1000 → `1`, 0 → `0`.
fn format_q(q: u16) -> String {
    if q >= 1000 {
        return "1".into();
    }
    if q == 0 {
        return "0".into();
    }
    let s = format!("0.{q:03}");
    s.trim_end_matches('0').to_owned()
}

/// One change to the location table, for write-behind persistence (applied in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    /// Insert or replace the binding keyed by (`aor`, `contact`).
    Upsert(Binding),
    /// The same as `Upsert`, for a binding that only moved its lapse time later (and its
    /// Call-ID and CSeq on): same contact text, flow, q and User-Agent. The writer may hold it
    /// a while (daemon/persist.rs, `REFRESH_DELAY`, as Kamailio's `db_mode=2` holds every change
    /// for its `timer_interval`): lost in a crash, it leaves the stored row with the previous
    /// lapse time, which the phone was granted too, so at worst a restarted node drops the
    /// binding before the phone's next refresh.
    Refresh(Binding),
    /// Delete the binding keyed by (`aor`, `contact`).
    Remove {
        /// The AOR key.
        aor: Arc<str>,
        /// The contact URI as stored.
        contact: Arc<str>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::addr::Protocol;

    #[test]
    fn contact_value_and_q() {
        let b = Binding {
            aor: "1001".into(),
            contact: "sip:1001@192.0.2.7:5062;transport=tcp".into(),
            q: 500,
            expires_at: 1_000,
            call_id: "c".into(),
            cseq: 1,
            received: Peer::new(Protocol::Tcp, "192.0.2.7:40000".parse().unwrap_or_else(|e| panic!("{e}"))),
            user_agent: None,
            updated_at: 0,
        };
        assert_eq!(b.contact_header_value(400), "<sip:1001@192.0.2.7:5062;transport=tcp>;expires=600;q=0.5");
        assert_eq!(b.contact_header_value(2_000), "<sip:1001@192.0.2.7:5062;transport=tcp>;expires=0;q=0.5");
        assert_eq!(format_q(1000), "1");
        assert_eq!(format_q(70), "0.07");
        assert_eq!(format_q(0), "0");
        let json = serde_json::to_string(&b).unwrap_or_default();
        assert!(json.contains("\"received\":\"tcp:192.0.2.7:40000\""), "{json}");
    }
}
