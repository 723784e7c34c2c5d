//! The in-memory location service: AOR → bindings, updated by REGISTER per RFC 3261 §10.3
//! steps 6–8, sans-IO (the caller passes `now` in unix seconds and persists the returned
//! [`Change`]s).
//!
//! Every `register` is all-or-nothing: the request is checked and applied to a copy of the
//! AOR's bindings, and the table is only touched once the whole request has been accepted.

use super::binding::{Binding, Change};
use super::error::RegisterError;
use super::policy::{ExpiryPolicy, Granted};
use super::uri_match::uri_equal;
use crate::sip::{HeaderName, NameAddr, Request, SipHeaders, Uri};
use crate::transport::addr::Peer;
use smallvec::SmallVec;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Default cap on bindings per AOR (Kamailio's `max_contacts` plays the same role): an agent
/// has a desk phone and a softphone or two; more is a misbehaving device.
pub const DEFAULT_MAX_CONTACTS: usize = 10;

/// Longest `User-Agent` kept per binding; it is informational and must not let a peer grow the
/// table or the state file at will.
const MAX_USER_AGENT: usize = 128;

/// Result of an accepted REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// What changed, in order, for write-behind persistence (lapsed bindings of the AOR that
    /// were purged on the way are included as removals).
    pub changes: Vec<Change>,
    /// Every live binding of the AOR afterwards, best first (as [`LocationTable::lookup`]);
    /// the 200 lists each with [`Binding::contact_header_value`].
    pub current: Vec<Binding>,
}

/// An AOR's bindings while a REGISTER works on them.
type Working = SmallVec<[Binding; 4]>;

/// One Contact of the request, checked and with its lifetime decided.
struct Wanted<'a> {
    uri: Uri,
    /// The URI's text in the request (no copy: it becomes the binding's shared text once).
    raw: &'a str,
    q: u16,
    granted: Granted,
}

/// AOR → bindings, with an index of each AOR's earliest expiry so that expiring bindings costs
/// work proportional to what lapses, not to the size of the table (a node with 100k phones
/// sweeps every second).
#[derive(Debug, Clone)]
pub struct LocationTable {
    /// Keyed by the AOR text its bindings share (`Binding::aor`): one allocation per AOR for
    /// the key, the bindings and the expiry index (a `String` key was a copy of it).
    /// foldhash, not SipHash: a key gets in only once its REGISTER has been authenticated (an
    /// agent's own AOR), so an outsider cannot choose colliding keys to flood the table, and a
    /// lookup with any text only probes what is there. SipHash hashes the AOR twice a REGISTER
    /// (lookup and commit); what foldhash saves is within callgrind's run-to-run noise (round 22).
    map: HashMap<Arc<str>, Aor, foldhash::fast::RandomState>,
    max_contacts: usize,
    /// (`aor.filed`, AOR), one entry per AOR in `map`, where `filed` is at or before the AOR's
    /// earliest `expires_at`. The AOR text is the allocation its bindings share, made once per
    /// AOR (re-filing on every refresh used to copy it three times).
    expiry: std::collections::BTreeSet<(u64, Arc<str>)>,
    /// `User-Agent` texts shared by bindings (agents of one office run the same softphone):
    /// one allocation per distinct text instead of one per binding. At most [`MAX_AGENTS`];
    /// texts no binding holds any more are dropped when it fills.
    agents: HashSet<Arc<str>>,
    /// Tests: every REGISTER through the general path, to compare `refresh_alone` with it.
    #[cfg(test)]
    pub(crate) general_only: bool,
}

/// One AOR's entry in the table.
#[derive(Debug, Clone)]
struct Aor {
    /// Never empty (an AOR without bindings is removed). Exact size: a `Vec` grown by one push
    /// kept room for four, 384 unused bytes per binding for the usual one contact per AOR
    /// (with the rest of round 11: 818 → 306 bytes per binding, docs/benchmarks.md).
    bindings: Box<[Binding]>,
    /// The key under which the AOR is in `expiry`: at or before the earliest `expires_at` of
    /// `bindings`. A refresh moves the lapse time later and leaves the entry where it is; the
    /// sweep that meets it early re-files it at the true time. Moving it on every refresh
    /// (a B-tree removal and insertion compared by AOR text) was ~1,500 instructions a
    /// REGISTER; now an AOR moves about once per registration period. Kept here rather than
    /// in a map of its own (one lookup and ~33 bytes per AOR less).
    filed: u64,
}

/// Distinct `User-Agent` texts shared between bindings (see `LocationTable::agents`).
const MAX_AGENTS: usize = 1024;

impl Default for LocationTable {
    fn default() -> Self {
        Self::new()
    }
}

impl LocationTable {
    /// An empty table with [`DEFAULT_MAX_CONTACTS`].
    pub fn new() -> Self {
        Self::with_max_contacts(DEFAULT_MAX_CONTACTS)
    }

    /// An empty table allowing at most `max_contacts` bindings per AOR (at least 1).
    pub fn with_max_contacts(max_contacts: usize) -> Self {
        LocationTable {
            map: HashMap::default(),
            max_contacts: max_contacts.max(1),
            expiry: Default::default(),
            agents: HashSet::new(),
            #[cfg(test)]
            general_only: false,
        }
    }

    /// The per-AOR cap.
    pub fn max_contacts(&self) -> usize {
        self.max_contacts
    }

    /// Processes a REGISTER for `aor` (already authenticated, its To resolved with
    /// [`super::aor_key`]) that arrived over `received`.
    ///
    /// Without Contact it is a query and changes nothing but purging lapsed bindings. On
    /// `Err` the table is unchanged.
    pub fn register(
        &mut self,
        now: u64,
        aor: &str,
        req: &Request,
        received: Peer,
        policy: &ExpiryPolicy,
    ) -> Result<RegisterOutcome, RegisterError> {
        let call_id = req.call_id().ok_or(RegisterError::MissingHeader("Call-ID"))?;
        let (cseq, _) = req.cseq().ok_or(RegisterError::MissingHeader("CSeq"))?;
        let header_expires = match req.headers.get(&HeaderName::Expires) {
            None => None,
            Some(_) => Some(req.expires().ok_or(RegisterError::BadExpires)?),
        };
        // Each Contact header with its trimmed text.
        // The per-request lists live on the stack for the usual one to four contacts: a phone
        // registers one, and each heap list was an allocator call per REGISTER.
        let contacts: SmallVec<[&str; 4]> = req.headers.get_all(&HeaderName::Contact).map(str::trim).collect();

        if let Some(outcome) = self.refresh_alone(now, aor, req, &contacts, header_expires, call_id, cseq, received, policy)? {
            return Ok(outcome);
        }

        // Lapsed bindings are treated as absent: they must neither block a new registration
        // through the CSeq rule nor count against the cap.
        let stored: &[Binding] = self.map.get(aor).map_or(&[], |a| &a.bindings[..]);
        // The AOR text is shared by all its bindings (and kept from the stored ones).
        let aor_shared: Arc<str> = stored.first().map_or_else(|| Arc::from(aor), |b| Arc::clone(&b.aor));
        // The working copy lives on the stack (the usual one to four bindings); `commit` moves
        // it into an exact-size allocation.
        let (mut working, lapsed): (Working, Working) = stored.iter().cloned().partition(|b| b.is_live(now));
        let mut changes: Vec<Change> = lapsed.into_iter().map(|b| Change::Remove { aor: b.aor, contact: b.contact }).collect();
        let live_before = working.len();

        if contacts.iter().any(|c| c.starts_with('*')) {
            // Step 6: `*` only alone, exactly `*`, and with `Expires: 0`.
            if contacts.len() != 1 || contacts[0] != "*" || header_expires != Some(0) {
                return Err(RegisterError::BadWildcard);
            }
            // Removing a binding refreshed by a later REGISTER of the same Call-ID would undo
            // it; the RFC says abort the whole request then.
            if let Some(b) = working.iter().find(|b| &*b.call_id == call_id && cseq <= b.cseq) {
                return Err(RegisterError::OutOfOrder { contact: b.contact.to_string() });
            }
            changes.extend(working.drain(..).map(|b| Change::Remove { aor: b.aor, contact: b.contact }));
            return Ok(self.commit(aor, working, changes, now));
        }

        // Step 7: check every contact before touching anything.
        let mut wanted: SmallVec<[Wanted<'_>; 4]> = SmallVec::with_capacity(contacts.len());
        for raw in &contacts {
            wanted.push(check_contact(&req.headers, raw, header_expires, policy)?);
        }

        // Step 8, applied to the copy. `touched[i]` marks bindings written by this request, so
        // that a contact listed twice is not refused as out of order against itself.
        // A phone refreshes with the same Call-ID and User-Agent (RFC 3261 §10.2.4): share the
        // stored text then instead of copying it again.
        // A new binding takes the text from the table's shared set.
        let user_agent: Option<Arc<str>> = req.headers.get(&HeaderName::UserAgent).map(|v| {
            let ua = truncate(v, MAX_USER_AGENT);
            working.iter().filter_map(|b| b.user_agent.as_ref()).find(|s| ***s == *ua).cloned().unwrap_or_else(|| self.agent(ua))
        });
        let call_id: Arc<str> =
            working.iter().find(|b| &*b.call_id == call_id).map_or_else(|| Arc::from(call_id), |b| Arc::clone(&b.call_id));
        let mut touched: SmallVec<[Touch; 8]> = smallvec::smallvec![Touch::No; working.len()];
        for w in wanted {
            let found = working.iter().position(|b| stored_uri_equal(&b.contact, &w.uri));
            match (found, w.granted) {
                (Some(i), granted) => {
                    let b = &working[i];
                    if touched[i] == Touch::No && b.call_id == call_id && cseq <= b.cseq {
                        return Err(RegisterError::OutOfOrder { contact: b.contact.to_string() });
                    }
                    match granted {
                        Granted::Keep(secs) => {
                            // Same binding, new spelling: the persisted key changes with it.
                            let contact = if *b.contact == *w.raw {
                                Arc::clone(&b.contact)
                            } else {
                                changes.push(Change::Remove { aor: Arc::clone(&aor_shared), contact: Arc::clone(&b.contact) });
                                Arc::from(w.raw)
                            };
                            let next = new_binding(&aor_shared, contact, &w, secs, now, &call_id, cseq, received, &user_agent);
                            touched[i] = match touched[i] {
                                Touch::No if is_refresh(b, &next) => Touch::Refreshed,
                                // A contact listed twice stays a full write if either was one.
                                Touch::Refreshed if is_refresh(b, &next) => Touch::Refreshed,
                                _ => Touch::Written,
                            };
                            working[i] = next;
                        }
                        _ => {
                            let b = working.remove(i);
                            touched.remove(i);
                            changes.push(Change::Remove { aor: b.aor, contact: b.contact });
                        }
                    }
                }
                (None, Granted::Keep(secs)) => {
                    let contact: Arc<str> = Arc::from(w.raw);
                    working.push(new_binding(&aor_shared, contact, &w, secs, now, &call_id, cseq, received, &user_agent));
                    touched.push(Touch::Written);
                }
                // Removing a binding that does not exist is a no-op (§10.3 step 8).
                (None, _) => {}
            }
        }

        // Only refuse when this request grows the AOR past the cap: if the cap was lowered
        // under an AOR's current count, refreshes and removals must still work.
        if working.len() > self.max_contacts && working.len() > live_before {
            let retry_after = self
                .map
                .get(aor)
                .and_then(|a| a.bindings.iter().filter(|b| b.is_live(now)).map(|b| b.remaining(now)).min())
                .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
            return Err(RegisterError::TooManyContacts { max: self.max_contacts, retry_after });
        }

        // What this request wrote is exactly what `touched` marks (removed bindings took their
        // mark with them), so no list of upserted contacts is kept beside it.
        changes.extend(working.iter().zip(&touched).filter_map(|(b, t)| match t {
            Touch::No => None,
            Touch::Written => Some(Change::Upsert(b.clone())),
            Touch::Refreshed => Some(Change::Refresh(b.clone())),
        }));
        Ok(self.commit(aor, working, changes, now))
    }

    /// The REGISTER a phone sends most: one Contact, the one its AOR already holds alone,
    /// refreshed (`is_refresh`: same text, flow, q and User-Agent, lapse time no earlier) with
    /// a CSeq that passes §10.3's ordering. Updated in place: one lookup of the AOR where the
    /// general path makes three (its own, `put`'s and `commit`'s, each hashing and comparing
    /// the AOR text), no working copy, no new slice. `Ok(None)` when the request is anything
    /// else; the general path then decides, and errors are the ones it would return (the
    /// Contact is checked first there too).
    #[allow(clippy::too_many_arguments)] // the values `register` already holds
    fn refresh_alone(
        &mut self,
        now: u64,
        aor: &str,
        req: &Request,
        contacts: &[&str],
        header_expires: Option<u32>,
        call_id: &str,
        cseq: u32,
        received: Peer,
        policy: &ExpiryPolicy,
    ) -> Result<Option<RegisterOutcome>, RegisterError> {
        #[cfg(test)]
        if self.general_only {
            return Ok(None);
        }
        let [raw] = contacts else { return Ok(None) };
        if raw.starts_with('*') {
            return Ok(None);
        }
        let Some(entry) = self.map.get_mut(aor) else { return Ok(None) };
        // A phone's binding is read once every few minutes, so each of its parts is a cache
        // miss; the Contact is checked while they arrive (a perf annotation at 14,000 REGISTER
        // transactions a second put most of the registrar's own samples on these loads). The
        // check comes first on the general path too (step 7, after the wildcard excluded
        // above), so its error is the one that path would return.
        // The count is in the entry itself: an AOR with several bindings goes the general way
        // before its Contact is checked here (it would be checked twice).
        if entry.bindings.len() != 1 {
            return Ok(None);
        }
        prefetch(entry.bindings.as_ptr());
        // Anything unusual about the Contact goes the general way, whose step 7 checks it in
        // full and returns the error this path would have.
        let Ok(na) = NameAddr::parse(raw) else { return Ok(None) };
        let [b] = &mut entry.bindings[..] else { return Ok(None) };
        prefetch(b.contact.as_ptr());
        prefetch(b.call_id.as_ptr());
        // Only the stored contact, byte for byte, is refreshed here. Its URI was parsed as a
        // sip/sips URI when it was stored, so `check_contact`'s URI checks hold without parsing
        // it again (~450 instructions a REGISTER, callgrind); the scheme is still looked at,
        // for a binding loaded from a hand-edited state file.
        if *b.contact != *na.uri || !Uri::has_sip_scheme(na.uri) || !b.is_live(now) {
            return Ok(None);
        }
        let Ok((q, Granted::Keep(secs))) = contact_terms(&na, header_expires, policy) else { return Ok(None) };
        let user_agent = req.headers.get(&HeaderName::UserAgent).map(|v| truncate(v, MAX_USER_AGENT));
        let expires_at = now.saturating_add(u64::from(secs));
        let same_call = *b.call_id == *call_id;
        if !refreshes(b, na.uri, received, q, user_agent, expires_at) || (same_call && cseq <= b.cseq) {
            return Ok(None);
        }
        if !same_call {
            b.call_id = Arc::from(call_id);
        }
        b.cseq = cseq;
        b.expires_at = expires_at;
        b.updated_at = now;
        // The lapse time only moved later: where the AOR is filed (at or before its earliest
        // lapse) stays right, as `put` would have left it.
        let current = if b.is_live(now) { vec![b.clone()] } else { Vec::new() };
        Ok(Some(RegisterOutcome { changes: vec![Change::Refresh(b.clone())], current }))
    }

    /// Stores the AOR's new bindings and builds the outcome.
    fn commit(&mut self, aor: &str, bindings: Working, changes: Vec<Change>, now: u64) -> RegisterOutcome {
        // Collected from an exact-size iterator: one allocation of exactly `len` bindings.
        self.put(aor, bindings.into_iter().collect());
        let mut current: Vec<Binding> =
            self.map.get(aor).into_iter().flat_map(|a| a.bindings.iter()).filter(|b| b.is_live(now)).cloned().collect();
        current.sort_by(best_first);
        RegisterOutcome { changes, current }
    }

    /// Live bindings of `aor`, highest q first; among equal q the most recently refreshed
    /// first (the device the agent used last is the likeliest to answer).
    pub fn lookup(&self, aor: &str, now: u64) -> Vec<&Binding> {
        let mut v: Vec<&Binding> = self.map.get(aor).into_iter().flat_map(|a| a.bindings.iter()).filter(|b| b.is_live(now)).collect();
        v.sort_by(|a, b| best_first(a, b));
        v
    }

    /// Drops every binding lapsed at `now` and returns their removals for persistence.
    pub fn expire(&mut self, now: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        // Only AORs whose earliest binding has lapsed: the index is ordered by that time.
        while self.expiry.first().is_some_and(|(at, _)| *at <= now) {
            let Some((_, key)) = self.expiry.pop_first() else { break };
            let Some(entry) = self.map.get_mut(&*key) else { continue };
            let mut kept = std::mem::take(&mut entry.bindings).into_vec();
            kept.retain(|b| {
                let live = b.is_live(now);
                if !live {
                    changes.push(Change::Remove { aor: b.aor.clone(), contact: b.contact.clone() });
                }
                live
            });
            match kept.iter().map(|b| b.expires_at).min() {
                // Re-filed after `now` (also when nothing lapsed: `filed` was only a lower
                // bound): the loop cannot meet this AOR again.
                Some(min) => {
                    entry.bindings = kept.into_boxed_slice();
                    entry.filed = min;
                    self.expiry.insert((min, key));
                }
                None => {
                    self.map.remove(&*key);
                }
            }
        }
        if self.agents.len() >= MAX_AGENTS {
            self.agents.retain(|a| Arc::strong_count(a) > 1);
        }
        changes
    }

    /// Stores `bindings` as `aor`'s (none: removes the AOR) and files it in the expiry index.
    fn put(&mut self, aor: &str, bindings: Box<[Binding]>) {
        // Every binding of an AOR holds the AOR's text: the first one's is the key to file.
        let (Some(first), Some(min)) = (bindings.first(), bindings.iter().map(|b| b.expires_at).min()) else {
            if let Some((key, old)) = self.map.remove_entry(aor) {
                self.expiry.remove(&(old.filed, key));
            }
            return;
        };
        let key = Arc::clone(&first.aor);
        match self.map.get_mut(aor) {
            // A refresh: the key is there already, no copy of it; the index moves only when
            // the earliest expiry came earlier than where the AOR is filed.
            Some(entry) => {
                if min < entry.filed {
                    self.expiry.remove(&(entry.filed, Arc::clone(&key)));
                    self.expiry.insert((min, key));
                    entry.filed = min;
                }
                entry.bindings = bindings;
            }
            None => {
                self.expiry.insert((min, Arc::clone(&key)));
                self.map.insert(key, Aor { bindings, filed: min });
            }
        }
    }

    /// How many distinct `User-Agent` texts the table shares (tests).
    #[cfg(test)]
    pub(crate) fn agent_texts(&self) -> usize {
        self.agents.len()
    }

    /// The shared copy of a `User-Agent` text (a fresh one once [`MAX_AGENTS`] are held).
    fn agent(&mut self, ua: &str) -> Arc<str> {
        if let Some(a) = self.agents.get(ua) {
            return Arc::clone(a);
        }
        let a: Arc<str> = Arc::from(ua);
        if self.agents.len() < MAX_AGENTS {
            self.agents.insert(Arc::clone(&a));
        }
        a
    }

    /// When the next binding lapses (unix seconds), for the daemon's expiry timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// Number of stored bindings (lapsed ones included until [`Self::expire`] runs).
    pub fn len(&self) -> usize {
        self.map.values().map(|a| a.bindings.len()).sum()
    }

    /// Whether no binding is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The AORs with at least one stored binding.
    pub fn aors(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(|k| &**k)
    }

    /// Every stored binding, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Binding> {
        self.map.values().flat_map(|a| a.bindings.iter())
    }

    /// Fills the table at startup from persisted bindings, skipping lapsed ones. When two
    /// bindings of an AOR are the same contact the most recently refreshed wins. The cap is
    /// not applied: these bindings were accepted before.
    pub fn load(&mut self, bindings: Vec<Binding>, now: u64) {
        // Gathered per AOR in growable lists (with what the table held already), then stored
        // as exact-size slices.
        let mut gathered: HashMap<Arc<str>, Vec<Binding>> = HashMap::new();
        for b in bindings.into_iter().filter(|b| b.is_live(now)) {
            let list = gathered
                .entry(Arc::clone(&b.aor))
                .or_insert_with_key(|aor| self.map.get(aor).map(|a| a.bindings.to_vec()).unwrap_or_default());
            let same = match Uri::parse_str(&b.contact) {
                Ok(uri) => list.iter().position(|o| stored_uri_equal(&o.contact, &uri)),
                Err(_) => list.iter().position(|o| o.contact == b.contact),
            };
            match same {
                Some(i) if list[i].updated_at <= b.updated_at => list[i] = b,
                Some(_) => {}
                None => list.push(b),
            }
        }
        for (aor, list) in gathered {
            self.put(&aor, list.into_boxed_slice());
        }
    }
}

/// Parses and checks one Contact value and applies the expiry policy to it.
/// `raw` is the trimmed text of one of `hdrs`' Contact values; the URI shares its bytes.
/// The order of [`LocationTable::lookup`]: highest q first, then the most recently refreshed,
/// then by contact text so that the order is total.
fn best_first(a: &Binding, b: &Binding) -> std::cmp::Ordering {
    b.q.cmp(&a.q).then(b.updated_at.cmp(&a.updated_at)).then_with(|| a.contact.cmp(&b.contact))
}

fn check_contact<'a>(
    hdrs: &crate::sip::Headers,
    raw: &'a str,
    header_expires: Option<u32>,
    policy: &ExpiryPolicy,
) -> Result<Wanted<'a>, RegisterError> {
    let bad = |why: &str| RegisterError::BadContact(format!("{why}: {raw}"));
    let na = NameAddr::parse(raw).map_err(|e| bad(&e.to_string()))?;
    let uri = Uri::parse(hdrs.share(na.uri)).map_err(|e| bad(&e.to_string()))?;
    // We can only ever send to SIP/SIPS contacts; accepting `mailto:` or `tel:` would create
    // bindings every INVITE then fails on.
    if !uri.is_sip() {
        return Err(bad("not a sip/sips URI"));
    }
    let (q, granted) = contact_terms(&na, header_expires, policy).map_err(bad)?;
    if granted == Granted::TooBrief {
        return Err(RegisterError::IntervalTooBrief { min: policy.min });
    }
    Ok(Wanted { raw: na.uri, uri, q, granted })
}

/// What a Contact's parameters ask for (step 7): its q, and the grant for the expiry it or the
/// request's `Expires` header asks; shared by the general path and the refresh in place.
fn contact_terms(na: &NameAddr, header_expires: Option<u32>, policy: &ExpiryPolicy) -> Result<(u16, Granted), &'static str> {
    let q = na.q().ok_or("malformed q")?;
    let expires = na.expires();
    if expires.is_none() && na.params().get("expires").is_some() {
        return Err("malformed expires");
    }
    Ok((q, policy.grant(expires, header_expires)))
}

/// Compares a stored contact with a request's; a stored contact that no longer parses (a
/// hand-edited state file) only matches itself verbatim.
fn stored_uri_equal(stored: &str, uri: &Uri) -> bool {
    // A refresh repeats the contact byte for byte: equal without parsing the stored one
    // (identical text is equal under §19.1.4 whatever it holds).
    if stored == uri.as_str() {
        return true;
    }
    match Uri::parse_str(stored) {
        Ok(s) => uri_equal(&s, uri),
        Err(_) => stored == uri.as_str(),
    }
}

/// What a REGISTER did to a binding it lists (`register`, step 8).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Touch {
    /// Not listed by this request.
    No,
    /// Created, or changed in what routing or an operator reads: written back promptly.
    Written,
    /// Only refreshed (see `is_refresh`): the writer may hold it a while.
    Refreshed,
}

/// Whether `next` only refreshes `prev`: the same contact text (the persisted key), flow, q
/// and User-Agent, and a lapse time no earlier. Call-ID, CSeq and `updated_at` may move: after
/// a restart a stale pair only matters to §10.3's ordering check for a request carrying that
/// very Call-ID with a CSeq between the stale and the real one, which a phone never sends.
fn is_refresh(prev: &Binding, next: &Binding) -> bool {
    refreshes(prev, &next.contact, next.received, next.q, next.user_agent.as_deref(), next.expires_at)
}

/// `is_refresh` for a binding not built yet (`refresh_alone` decides before it touches any
/// shared text): the rule in one place for both paths.
/// Asks the CPU to start loading the cache line at `p` without waiting for it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults, whatever the address, and changes no
    // memory; SSE, which provides it, is part of x86_64's baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

fn refreshes(prev: &Binding, contact: &str, received: Peer, q: u16, user_agent: Option<&str>, expires_at: u64) -> bool {
    *prev.contact == *contact
        && prev.received == received
        && prev.q == q
        && prev.user_agent.as_deref() == user_agent
        && expires_at >= prev.expires_at
}

#[allow(clippy::too_many_arguments)] // one call site per branch; a struct would only rename them
fn new_binding(
    aor: &Arc<str>,
    contact: Arc<str>,
    w: &Wanted,
    secs: u32,
    now: u64,
    call_id: &Arc<str>,
    cseq: u32,
    received: Peer,
    user_agent: &Option<Arc<str>>,
) -> Binding {
    Binding {
        aor: Arc::clone(aor),
        contact,
        q: w.q,
        expires_at: now.saturating_add(u64::from(secs)),
        call_id: Arc::clone(call_id),
        cseq,
        received,
        user_agent: user_agent.clone(),
        updated_at: now,
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
