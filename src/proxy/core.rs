//! The transaction user of the node: takes parsed messages from the transport, runs them
//! through the transaction layer, and decides for each request whether the node answers it
//! itself (REGISTER, OPTIONS to the node, errors) or proxies it (RFC 3261 §16) to the
//! registered contacts of the target, a Route, or an address in the Request-URI.
//!
//! Sans-IO like the transaction layer under it: `handle_*` take `Now`, `poll_transmit` and
//! `poll_timeout` tell the driver what to send and when to call back. Credentials come in
//! through the `Credentials` trait and binding changes go out through `binding_changes`,
//! so this layer never touches a database.

use bytes::Bytes;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tracing::{debug, debug_span, info, info_span, warn};

use super::context::{Branch, BranchState, ProxyCall};
use super::forward::{
    add_received, add_received_checked, add_record_route, decrement_max_forwards, first_route, is_loop, loop_hash, make_branch,
    pop_own_routes, push_via, strip_own_via, uri_destination, via_destination,
};
use super::identity::Identity;
use super::stats::Stats;
use crate::auth::{Algorithm, Authenticator, DigestCredentials, Ha1, Verdict};
use crate::registrar::{aor_key, Binding, Change, ExpiryPolicy, LocationTable, RegisterError};
use crate::routing::DialPlanSet;
use crate::sip::{parse_datagram, parse_framed, reason_phrase, HeaderName, Message, Method, NameAddr, Request, Response, SipHeaders, Uri};
use crate::transaction::{IdHasher, ShardedMap, TransactionLayer, Transmit, TuEvent, TxId};
use crate::transport::{FlowCheck, NetList, Peer, RateLimiter};

/// The two clocks the core needs: monotonic for timers, wall-clock seconds for registrations
/// and nonces (which must survive a restart).
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Unix time, seconds.
    pub unix: u64,
}

impl Now {
    /// The current time from the system clocks.
    pub fn system() -> Now {
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Now { mono: Instant::now(), unix }
    }
}

/// Where the core finds users' digest credentials (HA1s). The daemon implements it over an
/// in-memory cache of the state database.
pub trait Credentials: Send + Sync {
    /// The HA1 of `user` under `alg`, if the user exists and has a usable one.
    fn ha1(&self, user: &str, alg: Algorithm) -> Option<Ha1>;

    /// Whether `user` exists.
    fn exists(&self, user: &str) -> bool;

    /// Whether `user` is a gateway account (a PSTN gateway or SBC bringing citizens' calls:
    /// its From is the citizen, not itself).
    fn is_gateway(&self, _user: &str) -> bool {
        false
    }
}

/// Who a request is from, once authorised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A source in `auth.trusted_peers` (a peer node, an SBC trusted by address).
    Trusted,
    /// A digest-authenticated user.
    User {
        /// The user name.
        name: String,
        /// Whether it is a gateway account.
        gateway: bool,
    },
    /// An in-dialog request that came back through our Record-Route.
    Dialog,
}

impl Principal {
    /// Whether calls from this principal are citizens' calls (gateway or trusted peer).
    pub fn brings_citizens(&self) -> bool {
        matches!(self, Principal::Trusted | Principal::User { gateway: true, .. })
    }
}

/// What the digest check found for a request it let through.
enum Authorized {
    /// A request to process, from this principal; with the index (among the request's
    /// credentials headers) of the credentials that authenticated it, and the URI of the
    /// identity it claims (To of a REGISTER, From otherwise) when that was parsed to check it.
    New(Principal, Option<usize>, Option<Uri>),
    /// The retransmission of a REGISTER already processed (same nonce, count and transaction):
    /// answer it again, read-only; with the claimed URI as above.
    Retransmission(Option<Uri>),
}

/// Settings of the core.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Value of Server / User-Agent headers the node writes (shared bytes: every response
    /// carries it, and a `String` was copied into each).
    pub server_header: crate::sip::ByteStr,
    /// Registration expiry policy.
    pub expiry: ExpiryPolicy,
    /// Timer C.
    pub timer_c: Duration,
    /// Whether to Record-Route.
    pub record_route: bool,
    /// Networks whose requests are not challenged.
    pub trusted: NetList,
    /// Networks requests may be sent to.
    pub outbound_allow: NetList,
    /// Per-IP request rate (0 = off) and burst.
    pub rate_limit: (u32, u32),
    /// Citizen-call cases: on when set.
    pub cases: Option<CaseConfig>,
}

/// How the core handles citizens' cases.
#[derive(Debug, Clone)]
pub struct CaseConfig {
    /// Base URL of the agent console, for the `Call-Info` screen-pop link.
    pub console_url: String,
    /// The node id (administration of calls no dial-plan rule claims).
    pub node_id: String,
}

const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, PRACK, UPDATE, SUBSCRIBE, NOTIFY, REFER, MESSAGE";

/// The node's SIP brain: registrar, authenticator and stateful proxy over one transaction layer.
pub struct Core {
    pub(super) cfg: CoreConfig,
    pub(super) me: Identity,
    pub(super) txl: TransactionLayer,
    pub(super) location: LocationTable,
    pub(super) auth: Authenticator,
    pub(super) creds: std::sync::Arc<dyn Credentials>,
    pub(super) flows: std::sync::Arc<dyn FlowCheck>,
    /// Boxed: a call's state is ~600 bytes and stays for Timer L (32 s) after the answer; a
    /// pointer in the map keeps its slots, empty ones included, and its growth small.
    pub(super) calls: ShardedMap<TxId, Box<ProxyCall>, IdHasher>,
    pub(super) branch_of: ShardedMap<TxId, TxId, IdHasher>,
    pub(super) timer_c: BTreeSet<(Instant, TxId)>,
    pub(super) out: VecDeque<Transmit>,
    pub(super) changes: Vec<Change>,
    pub(super) limiter: RateLimiter,
    pub(super) next_sweep: Instant,
    pub(super) branch_seq: u64,
    pub(super) draining: bool,
    pub(super) plans: std::sync::Arc<DialPlanSet>,
    pub(super) step_timers: BTreeSet<(Instant, TxId)>,
    pub(super) effects: VecDeque<super::case::Effect>,
    /// Citizen INVITEs waiting for their case: (request, source, loop hash).
    pub(super) parked: HashMap<TxId, (Request, Peer, String)>,
    /// Answered citizen calls by Call-ID: their case, for the hang-up entry.
    pub(super) dialogs: HashMap<String, (String, u64)>,
    /// The case of the call being dispatched right now (consumed by `begin_call`).
    pub(super) dispatching_case: Option<String>,
    /// Counters for status and metrics.
    pub stats: Stats,
}

impl Core {
    /// A core serving `me`. Each argument is a separately built layer or port.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: CoreConfig,
        me: Identity,
        txl: TransactionLayer,
        location: LocationTable,
        auth: Authenticator,
        creds: std::sync::Arc<dyn Credentials>,
        flows: std::sync::Arc<dyn FlowCheck>,
        now: Now,
    ) -> Self {
        let limiter = RateLimiter::new(cfg.rate_limit.0, cfg.rate_limit.1);
        // A REGISTER answered 200 keeps no transaction: its retransmissions, for Timer J, are
        // recognised by the nonce-count it spent (NonceKeeper::record).
        let mut auth = auth;
        auth.set_retransmit_window((txl.config().t1 * 64).as_secs().max(1));
        Core {
            cfg,
            me,
            txl,
            location,
            auth,
            creds,
            flows,
            calls: ShardedMap::default(),
            branch_of: ShardedMap::default(),
            timer_c: BTreeSet::new(),
            out: VecDeque::new(),
            changes: Vec::new(),
            limiter,
            next_sweep: now.mono + Duration::from_secs(10),
            branch_seq: rand::random::<u32>() as u64,
            draining: false,
            plans: std::sync::Arc::new(DialPlanSet::empty()),
            step_timers: BTreeSet::new(),
            effects: VecDeque::new(),
            parked: HashMap::new(),
            dialogs: HashMap::new(),
            dispatching_case: None,
            stats: Stats::default(),
        }
    }

    /// The registration table (for status queries).
    pub fn location(&self) -> &LocationTable {
        &self.location
    }

    /// Open transactions (server, client) and proxied requests in progress.
    pub fn load(&self) -> (usize, usize, usize) {
        let (s, c) = self.txl.len();
        (s, c, self.calls.len())
    }

    /// Puts a new dial-plan set in service. Requests already being proxied keep the decision
    /// they were routed with.
    pub fn set_plans(&mut self, plans: std::sync::Arc<DialPlanSet>) {
        self.plans = plans;
    }

    /// Stops taking new requests (answered 503) while transactions in progress finish.
    pub fn start_draining(&mut self) {
        self.draining = true;
    }

    /// Whether nothing is in progress any more: no request being proxied and no client
    /// transaction waiting. Server transactions that already answered are only absorbing
    /// retransmissions (Timer J, up to 32 s) and need not hold up a shutdown.
    pub fn is_idle(&self) -> bool {
        let (_, c, calls) = self.load();
        // Citizen INVITEs waiting for their case are calls in progress too.
        c == 0 && calls == 0 && self.parked.is_empty()
    }

    /// Binding changes to persist since they were last moved out (the caller empties the
    /// list and its capacity stays for the next turn).
    pub fn binding_changes(&mut self) -> &mut Vec<Change> {
        &mut self.changes
    }

    /// Next piece of work for the daemon (case lookups, timeline entries).
    pub fn poll_effect(&mut self) -> Option<super::case::Effect> {
        self.effects.pop_front()
    }

    /// Next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front().or_else(|| self.txl.poll_transmit())
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.timer_c.iter().next().map(|(t, _)| *t);
        let step = self.step_timers.iter().next().map(|(t, _)| *t);
        [self.txl.poll_timeout(), c, step, Some(self.next_sweep)].into_iter().flatten().min()
    }

    /// Timers: transaction timers, Timer C, and periodic expiry of bindings.
    pub fn handle_timeout(&mut self, now: Now) {
        self.txl.handle_timeout(now.mono);
        while let Some(&(at, tx)) = self.timer_c.iter().next() {
            if at > now.mono {
                break;
            }
            self.timer_c.remove(&(at, tx));
            self.on_timer_c(now, tx);
        }
        while let Some(&(at, tx)) = self.step_timers.iter().next() {
            if at > now.mono {
                break;
            }
            self.step_timers.remove(&(at, tx));
            self.on_step_timeout(now, tx);
        }
        if now.mono >= self.next_sweep {
            self.next_sweep = now.mono + Duration::from_secs(1);
            self.dialogs.retain(|_, (_, at)| now.unix.saturating_sub(*at) < 86_400);
            let expired = self.location.expire(now.unix);
            self.changes.extend(expired);
            self.limiter.sweep(now.mono);
            self.txl.shrink_sparse();
        }
        self.drain_events(now);
    }

    /// A stream destination could not be reached.
    pub fn handle_unreachable(&mut self, now: Now, peer: Peer) {
        self.txl.transport_error(now.mono, peer);
        self.drain_events(now);
    }

    /// One message from the transport.
    pub fn handle_message(&mut self, now: Now, data: Bytes, peer: Peer, _local: SocketAddr, framed: bool) {
        let raw = data.clone();
        let parsed = if framed { parse_framed(data) } else { parse_datagram(data) };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                self.stats.parse_errors += 1;
                self.answer_unparseable(&raw, framed, peer, &e);
                return;
            }
        };
        match msg {
            Message::Request(mut req) => {
                if !self.limiter.allow(peer.addr.ip(), now.mono) {
                    self.stats.rate_limited += 1;
                    return;
                }
                // At debug only: what happens before the transaction exists (validation) is
                // logged at debug; at info the transaction's span below is the one span per
                // request (a span costs its fields' formatting even when nothing is logged).
                let span = debug_span!("sip", call_id = req.call_id().unwrap_or("-"), method = req.method.as_str());
                let _g = span.enter();
                let top_via = match req.validate_via() {
                    Ok(top) => top,
                    Err(e) => {
                        self.stats.parse_errors += 1;
                        debug!(%peer, error = %e, "invalid request");
                        if req.method != Method::Ack && req.top_via().is_some() {
                            let status = e.status();
                            let reason = format!("{} ({e})", reason_phrase(status));
                            add_received(&mut req, peer);
                            let resp = req.response(status, &reason, Some(self.new_tag().as_str()));
                            self.send_stateless_response(&req, peer, resp);
                        }
                        return;
                    }
                };
                add_received_checked(&mut req, peer, top_via);
                self.stats.count_request(&req.method);
                self.txl.handle_request(now.mono, req, peer);
            }
            Message::Response(mut resp) => {
                // What the proxy reads of a response, not the endpoints' addresses it relays.
                if resp.validate_for_relay().is_err() {
                    self.stats.parse_errors += 1;
                    return;
                }
                // Debug only, like the request's: a response belongs to a transaction that
                // already had its info span, and what it can log at info or above names the
                // Call-ID itself (a span per response was ~2,000 instructions, 5 per call).
                let span = debug_span!("sip", call_id = resp.call_id().unwrap_or("-"), status = resp.status);
                let _g = span.enter();
                // §18.1.2: a response whose top Via is not ours is discarded.
                if !resp.top_via().is_some_and(|v| self.me.is_local_host(v.host, v.port)) {
                    debug!("response with foreign top Via dropped");
                    return;
                }
                let _ = &mut resp;
                self.txl.handle_response(now.mono, resp, peer);
            }
        }
        self.drain_events(now);
    }

    /// A request whose start line is broken (bad version, stray spaces, bad Request-URI) still
    /// deserves an answer when its headers say where to send one (RFC 4475 badvers → 505).
    /// Only this error path pays for the second parse.
    fn answer_unparseable(&mut self, raw: &Bytes, framed: bool, peer: Peer, e: &crate::sip::ParseError) {
        use crate::sip::ParseError as P;
        debug!(%peer, error = %e, "unparseable message");
        if !matches!(e, P::BadVersion | P::BadRequestLine | P::BadRequestUri | P::BadMethod) || raw.starts_with(b"SIP/") {
            return;
        }
        let Some(nl) = raw.iter().position(|&c| c == b'\n') else { return };
        let mut fixed = b"OPTIONS sip:invalid.invalid SIP/2.0\r\n".to_vec();
        fixed.extend_from_slice(&raw[nl + 1..]);
        let reparsed = if framed { parse_framed(Bytes::from(fixed)) } else { parse_datagram(Bytes::from(fixed)) };
        let Ok(Message::Request(mut req)) = reparsed else { return };
        // Over a connection the answer goes back on it whatever the Via says (badvers's Via is
        // SIP/7.0 too); over UDP a usable Via is the only way back.
        let routable = req.top_via().is_some() || peer.protocol.is_reliable();
        if !routable || req.call_id().is_none() || req.cseq().is_none() {
            return;
        }
        if req.cseq().is_some_and(|(_, m)| m == "ACK") {
            return;
        }
        add_received(&mut req, peer);
        let status = e.status();
        let reason = format!("{} ({e})", reason_phrase(status));
        let resp = req.response(status, &reason, Some(self.new_tag().as_str()));
        self.send_stateless_response(&req, peer, resp);
    }

    pub(super) fn drain_events(&mut self, now: Now) {
        while let Some(ev) = self.txl.poll_event() {
            match ev {
                TuEvent::Request { tx, req, from } => {
                    let span = info_span!("tx", tx = tx.as_u64(), call_id = req.call_id().unwrap_or("-"), method = req.method.as_str());
                    let _g = span.enter();
                    self.on_request(now, tx, req, from);
                }
                TuEvent::Cancel { tx, req, from: _, invite } => self.on_cancel(now, tx, req, invite),
                TuEvent::Ack { req, from } => self.on_ack(req, from),
                TuEvent::Response { tx, resp } => self.on_branch_response(now, tx, resp),
                TuEvent::StrayResponse { resp, from: _ } => self.on_stray_response(resp),
                TuEvent::Timeout { tx } => self.on_branch_failed(now, tx, 408),
                TuEvent::TransportError { tx } => self.on_branch_failed(now, tx, 503),
                TuEvent::ServerDone { tx } => {
                    if let Some(call) = self.calls.remove(&tx) {
                        for b in call.branches {
                            self.branch_of.remove(&b.tx);
                        }
                        if let Some(at) = call.timer_c {
                            self.timer_c.remove(&(at, tx));
                        }
                        if let Some(at) = call.plan.as_ref().and_then(|p| p.step_deadline) {
                            self.step_timers.remove(&(at, tx));
                        }
                    }
                }
            }
        }
    }

    fn new_tag(&mut self) -> ToTag {
        ToTag::random()
    }

    /// Answers `req` through its server transaction.
    pub(super) fn reply(&mut self, now: Now, tx: TxId, req: &Request, status: u16, extra: Vec<(HeaderName, String)>) {
        self.reply_reason(now, tx, req, status, reason_phrase(status), extra)
    }

    /// Answers `req` with a chosen reason phrase.
    pub(super) fn reply_reason(&mut self, now: Now, tx: TxId, req: &Request, status: u16, reason: &str, extra: Vec<(HeaderName, String)>) {
        let resp = self.build_reply(req, status, reason, extra);
        if let Err(e) = self.txl.respond(now.mono, tx, resp) {
            debug!(error = %e, "response not sent");
        }
    }

    /// Answers a non-INVITE `req` with a final response and ends its transaction at once: for
    /// answers that need no transaction state (challenges, OPTIONS, a REGISTER's 200, whose
    /// retransmissions the nonce-count they spent recognises).
    fn reply_and_end(&mut self, tx: TxId, req: &Request, status: u16, extra: Vec<(HeaderName, String)>) {
        // Written straight from the request (what `build_reply` would build, serialized).
        let tag = self.new_tag();
        let tail =
            std::iter::once((&HeaderName::Server, self.cfg.server_header.as_str())).chain(extra.iter().map(|(n, v)| (n, v.as_str())));
        let data = req.response_bytes(status, reason_phrase(status), Some(tag.as_str()), tail);
        self.stats.count_response(status);
        if let Err(e) = self.txl.respond_and_end_bytes(tx, status, data) {
            debug!(error = %e, "response not sent");
            let _ = self.txl.terminate(tx);
        }
    }

    fn build_reply(&mut self, req: &Request, status: u16, reason: &str, extra: Vec<(HeaderName, String)>) -> Response {
        let tag = self.new_tag();
        let mut resp = req.response(status, reason, Some(tag.as_str()));
        resp.headers.push(HeaderName::Server, self.cfg.server_header.clone());
        for (n, v) in extra {
            resp.headers.push(n, v);
        }
        self.stats.count_response(status);
        resp
    }

    fn send_stateless_response(&mut self, req: &Request, from: Peer, resp: Response) {
        let dest = req.top_via().map(|v| crate::transaction::response_destination(&v, from)).unwrap_or(from);
        self.stats.count_response(resp.status);
        self.out.push_back(Transmit { dest, data: resp.to_bytes() });
    }

    fn on_request(&mut self, now: Now, tx: TxId, mut req: Request, from: Peer) {
        if self.draining && req.to_tag().is_none() {
            self.reply(now, tx, &req, 503, vec![(HeaderName::RetryAfter, "5".into())]);
            return;
        }
        // Case tokens are only believed from inside the federation.
        if !self.cfg.trusted.contains(from.addr.ip()) {
            super::case::strip_case_headers(&mut req);
        }
        if req.method == Method::Bye {
            self.case_hang_up(&req);
        }
        // §16.3 step 5: we support no extension a proxy must understand.
        let proxy_require: Vec<String> = req.headers.get_all(&HeaderName::ProxyRequire).map(|v| v.to_string()).collect();
        if !proxy_require.is_empty() {
            self.reply(now, tx, &req, 420, vec![(HeaderName::Unsupported, proxy_require.join(", "))]);
            return;
        }
        // §16.4: strip Route entries that name us; a strict router before us left our
        // Record-Route URI in the Request-URI and the real target in the last Route.
        let popped = pop_own_routes(&mut req, &self.me);
        // Cheap tests first: `is_local_uri` parses the host.
        if req.uri.user().is_none() && req.uri.is_loose_route() && self.me.is_local_uri(&req.uri) {
            if let Some(v) = req.headers.remove_last(&HeaderName::Route) {
                if let Some(u) = NameAddr::parse(&v).ok().and_then(|na| Uri::parse_str(na.uri).ok()) {
                    req.uri = u;
                }
            }
        }
        // Max-Forwards before authentication, as Kamailio's maxfwd: a request with no hops
        // left is refused whoever sends it, unless the node itself is its target.
        // The Request-URI does not change from here on: whether it names this node is asked once.
        let uri_is_local = self.me.is_local_uri(&req.uri);
        let for_node = first_route(&req).is_none() && uri_is_local && (req.method == Method::Register || req.uri.user().is_none());
        if !for_node && !self.check_max_forwards(now, tx, &req) {
            return;
        }
        // §16.3 step 4. Only a request with more than one Via can carry one of ours: a phone's
        // own request (every REGISTER) skips the hash, which is computed only where needed.
        let mut hash = None;
        if req.headers.get_all(&HeaderName::Via).nth(1).is_some() {
            let h = loop_hash(&req);
            if is_loop(&req, &self.me, &h) {
                self.reply(now, tx, &req, 482, vec![]);
                return;
            }
            hash = Some(h);
        }
        let hash_of = |req: &Request, hash: Option<String>| hash.unwrap_or_else(|| loop_hash(req));
        // In-dialog requests that reach us through our own Record-Route were authorised when
        // the dialog was created (Kamailio's loose_route + has_totag): no new challenge.
        // `popped` first: most requests pop no Route, and the To tag costs a name-addr parse.
        let dialog_routed = popped > 0 && req.to_tag().is_some();
        // Requests routed by a Route set (in-dialog requests through our Record-Route).
        if let Some(route) = first_route(&req) {
            if !dialog_routed && !self.authorized(now, tx, &mut req, from, false) {
                return;
            }
            match self.resolve(&route) {
                Some(dest) => {
                    let hash = hash_of(&req, hash);
                    self.forward(now, tx, req, from, vec![(None, dest)], &hash);
                }
                None => self.reply(now, tx, &req, 404, vec![]),
            }
            return;
        }
        if !req.uri.is_sip() {
            self.reply(now, tx, &req, 416, vec![]);
            return;
        }
        if uri_is_local {
            if req.method == Method::Register {
                self.on_register(now, tx, req, from);
                return;
            }
            if req.uri.user().is_none() {
                self.on_local_request(now, tx, &req);
                return;
            }
            let hash = hash_of(&req, hash);
            if dialog_routed {
                self.route_to_user(now, tx, req, from, &hash);
                return;
            }
            let Some(principal) = self.authorize(now, tx, &mut req, from, false) else { return };
            self.route_local(now, tx, req, from, &hash, principal);
            return;
        }
        // A Request-URI for somewhere else: only for authenticated users or trusted peers,
        // and only to networks the node may reach.
        if req.method == Method::Register {
            self.reply(now, tx, &req, 403, vec![]);
            return;
        }
        if !dialog_routed && !self.authorized(now, tx, &mut req, from, false) {
            return;
        }
        let uri = req.uri.clone();
        match self.resolve(&uri) {
            Some(dest) => {
                let hash = hash_of(&req, hash);
                self.forward(now, tx, req, from, vec![(None, dest)], &hash);
            }
            None => self.reply(now, tx, &req, 404, vec![]),
        }
    }

    fn check_max_forwards(&mut self, now: Now, tx: TxId, req: &Request) -> bool {
        if req.max_forwards() == Some(0) {
            self.reply(now, tx, req, 483, vec![]);
            return false;
        }
        true
    }

    /// A destination for a URI this node forwards to, if allowed (no open relay).
    pub(super) fn resolve(&self, uri: &Uri) -> Option<Peer> {
        let dest = uri_destination(uri)?;
        if !self.cfg.outbound_allow.contains(dest.addr.ip()) {
            warn!(dest = %dest, "destination outside transport.outbound_allow refused");
            return None;
        }
        Some(dest)
    }

    /// Digest check for requests from untrusted sources. Answers 401/407/403 itself and
    /// returns false when the request must not go on.
    fn authorized(&mut self, now: Now, tx: TxId, req: &mut Request, from: Peer, register: bool) -> bool {
        self.authorize(now, tx, req, from, register).is_some()
    }

    /// Like `authorized`, telling who the request is from.
    ///
    /// The credentials that authenticated a request to be forwarded are taken off it here
    /// (Kamailio's `consume_credentials`), where they are known: removing them per branch
    /// parsed every `Proxy-Authorization` again (~1.5% of a call's instructions).
    fn authorize(&mut self, now: Now, tx: TxId, req: &mut Request, from: Peer, register: bool) -> Option<Principal> {
        match self.authorize_request(now, tx, req, from, register, None)? {
            Authorized::New(p, used, _) => {
                if let Some(i) = used.filter(|_| !register) {
                    req.headers.remove_nth(&HeaderName::ProxyAuthorization, i);
                }
                Some(p)
            }
            // Only a fingerprinted request can be one (`request` is None here).
            Authorized::Retransmission(_) => None,
        }
    }

    /// The digest check. `request` is the fingerprint of a REGISTER answered without a
    /// transaction (see `on_register`): with it, a retransmission of a request already
    /// processed comes back as [`Authorized::Retransmission`].
    fn authorize_request(
        &mut self,
        now: Now,
        tx: TxId,
        req: &Request,
        from: Peer,
        register: bool,
        request: Option<u64>,
    ) -> Option<Authorized> {
        if self.cfg.trusted.contains(from.addr.ip()) {
            return Some(Authorized::New(Principal::Trusted, None, None));
        }
        let (hdr, status, chal) = if register {
            (HeaderName::Authorization, 401, HeaderName::WwwAuthenticate)
        } else {
            (HeaderName::ProxyAuthorization, 407, HeaderName::ProxyAuthenticate)
        };
        // Pick our realm's credentials when several are present.
        let realm = self.auth.config().realm.as_str();
        let mut stale = false;
        let creds_hdr = req
            .headers
            .get_all(&hdr)
            .enumerate()
            .find_map(|(i, v)| DigestCredentials::parse(v).ok().filter(|c| c.realm == realm).map(|c| (i, c)));
        if let Some((used, c)) = creds_hdr {
            let creds = &self.creds;
            let verdict = self.auth.verify(now.unix, req.method.as_str(), req.uri.as_str(), &c, |alg| creds.ha1(&c.username, alg), request);
            match verdict {
                Verdict::Authenticated { ref username } | Verdict::Retransmission { ref username } => {
                    // The identity asserted must be the one authenticated (Kamailio's
                    // check_from / check_to) — except a gateway's calls, whose From is the citizen.
                    let gateway = !register && self.creds.is_gateway(username);
                    let claimed = req.addr_uri(if register { &HeaderName::To } else { &HeaderName::From });
                    let claimed_user = claimed.as_ref().and_then(|u| u.user()).map(crate::sip::uri::unescape);
                    if !gateway && claimed_user.as_deref() != Some(username.as_str()) {
                        self.stats.auth_failures += 1;
                        self.reply(now, tx, req, 403, vec![]);
                        return None;
                    }
                    return Some(match verdict {
                        Verdict::Authenticated { username } => {
                            Authorized::New(Principal::User { name: username, gateway }, Some(used), claimed)
                        }
                        _ => Authorized::Retransmission(claimed),
                    });
                }
                Verdict::Stale => stale = true,
                Verdict::Rejected(reason) => {
                    self.stats.auth_failures += 1;
                    info!(reason = reason.as_str(), "authentication failed");
                }
            }
        }
        // Same answer whether the user exists or not: a fresh challenge.
        let challenges = self.auth.challenge(now.unix, stale);
        let extra = challenges.into_iter().map(|c| (chal.clone(), c)).collect();
        if req.method == Method::Invite {
            self.reply(now, tx, req, status, extra);
        } else {
            // A challenge needs no transaction state (Kamailio answers it with sl): a
            // retransmitted request just gets a fresh challenge. Holding it for Timer J would
            // cost memory proportional to the rate of unauthenticated requests.
            self.reply_and_end(tx, req, status, extra);
        }
        None
    }

    fn on_local_request(&mut self, now: Now, tx: TxId, req: &Request) {
        match req.method {
            Method::Options => {
                let extra = vec![(HeaderName::Allow, ALLOW.to_string()), (HeaderName::Accept, "application/sdp".to_string())];
                // Keep-alive pings and monitoring need no transaction state (idempotent).
                self.reply_and_end(tx, req, 200, extra);
            }
            _ if req.to_tag().is_some() => self.reply(now, tx, req, 481, vec![]),
            _ => self.reply(now, tx, req, 404, vec![]),
        }
    }

    fn on_register(&mut self, now: Now, tx: TxId, req: Request, from: Peer) {
        // RFC 3261 §10.3 step 3 / §8.2.2.3: a registrar understands no extension.
        let require: Vec<String> = req.headers.get_all(&HeaderName::Require).map(|v| v.to_string()).collect();
        if !require.is_empty() {
            self.reply(now, tx, &req, 420, vec![(HeaderName::Unsupported, require.join(", "))]);
            return;
        }
        // Over UDP an authenticated REGISTER is answered 200 without keeping a transaction for
        // Timer J (one per REGISTER was ~1.5 KB held 32 s; Kamailio's `save()` answers with
        // `sl`). RFC 3261 §8.2.7 still rules out processing a retransmission again: the nonce
        // keeper remembers which request spent each nonce-count (a fingerprint of its
        // transaction), so the same request again is told from a replay and gets the same 200
        // from the current bindings, read-only — a copy with another Contact changes nothing,
        // as a transaction's cached response would not have. Trusted peers (no digest), RFC
        // 2543 peers (no unique branch) and streams keep a transaction.
        let request = if from.protocol.is_reliable() || req.headers.get(&HeaderName::Authorization).is_none() {
            None
        } else {
            self.txl.server_key(tx).and_then(|k| register_fingerprint(k, &req))
        };
        // The To URI, once: the authorization parsed it to check the identity (~1,000
        // instructions a parse, callgrind), and the binding's AOR is read from it.
        let to_uri = |claimed: Option<Uri>| claimed.or_else(|| req.addr_uri(&HeaderName::To));
        let (principal, to) = match self.authorize_request(now, tx, &req, from, true, request) {
            None => return,
            Some(Authorized::Retransmission(claimed)) => {
                self.stats.register_retransmissions += 1;
                let aor = to_uri(claimed).and_then(|u| aor_key(&u));
                let current = aor.map(|aor| self.location.lookup(&aor, now.unix)).unwrap_or_default();
                let extra = register_ok_headers(current, now);
                self.reply_and_end(tx, &req, 200, extra);
                return;
            }
            Some(Authorized::New(p, _, claimed)) => (p, to_uri(claimed)),
        };
        let aor = to.and_then(|u| aor_key(&u));
        let Some(aor) = aor else {
            self.reply(now, tx, &req, 404, vec![]);
            return;
        };
        match self.location.register(now.unix, &aor, &req, from, &self.cfg.expiry) {
            Ok(outcome) => {
                let extra = register_ok_headers(&outcome.current, now);
                self.changes.extend(outcome.changes);
                self.stats.registers_ok += 1;
                // Fingerprinted (above): its retransmissions are recognised without a transaction.
                if request.is_some() && principal != Principal::Trusted {
                    self.reply_and_end(tx, &req, 200, extra);
                } else {
                    self.reply(now, tx, &req, 200, extra);
                }
            }
            Err(e) => {
                let (status, extra) = match e {
                    RegisterError::IntervalTooBrief { min } => (423, vec![(HeaderName::MinExpires, min.to_string())]),
                    RegisterError::TooManyContacts { retry_after: Some(secs), .. } => {
                        (503, vec![(HeaderName::RetryAfter, secs.to_string())])
                    }
                    ref other => (other.status(), vec![]),
                };
                debug!(error = %e, status, "REGISTER refused");
                self.reply(now, tx, &req, status, extra);
            }
        }
    }

    /// The registered contacts of `aor` as (Request-URI, destination) pairs.
    pub(super) fn contacts_of(&self, aor: &str, now: Now) -> Vec<(Option<Uri>, Peer)> {
        self.location
            .lookup(aor, now.unix)
            .into_iter()
            .filter_map(|b| {
                let uri = Uri::parse_str(&b.contact).ok()?;
                // UDP: the address the REGISTER came from (works through NAT). Streams: the
                // connection it came on while it lives, else a new one to the Contact.
                let dest = if !b.received.protocol.is_reliable() || self.flows.is_open(b.received) {
                    b.received
                } else {
                    uri_destination(&uri).unwrap_or(b.received)
                };
                Some((Some(uri), dest))
            })
            .filter(|(_, p)| self.cfg.outbound_allow.contains(p.addr.ip()))
            .collect()
    }

    pub(super) fn route_to_user(&mut self, now: Now, tx: TxId, req: Request, from: Peer, hash: &str) {
        let Some(aor) = aor_key(&req.uri) else {
            self.reply(now, tx, &req, 404, vec![]);
            return;
        };
        let targets = self.contacts_of(&aor, now);
        if targets.is_empty() {
            // 404 for names nobody has, 480 for users who are simply not registered now.
            let status = if self.creds.exists(&aor) { 480 } else { 404 };
            self.reply(now, tx, &req, status, vec![]);
            return;
        }
        self.forward(now, tx, req, from, targets, hash);
    }

    /// Forwards `req` to every target in parallel (§16.6), one client transaction each.
    fn forward(&mut self, now: Now, tx: TxId, req: Request, from: Peer, targets: Vec<(Option<Uri>, Peer)>, hash: &str) {
        let mut call = self.begin_call(now, tx, req, from, hash);
        if self.add_branches(now, tx, &mut call, targets) == 0 {
            let req = call.request.clone();
            self.drop_call_timers(tx, &call);
            self.reply(now, tx, &req, 503, vec![]);
            return;
        }
        self.calls.insert(tx, Box::new(call));
    }

    /// Proxy state for a request about to be forwarded: 100 Trying and Timer C for INVITE.
    pub(super) fn begin_call(&mut self, now: Now, tx: TxId, req: Request, from: Peer, hash: &str) -> ProxyCall {
        let is_invite = req.method == Method::Invite;
        if is_invite {
            // §16.2: a stateful proxy answers 100 at once so the caller stops retransmitting.
            let trying = req.response(100, "Trying", None);
            let _ = self.txl.respond(now.mono, tx, trying);
        }
        let mut call = ProxyCall::new(req, from, hash.to_owned());
        call.case = self.dispatching_case.take();
        if is_invite {
            let at = now.mono + self.cfg.timer_c;
            call.timer_c = Some(at);
            self.timer_c.insert((at, tx));
        }
        self.stats.proxied += 1;
        call
    }

    pub(super) fn drop_call_timers(&mut self, tx: TxId, call: &ProxyCall) {
        if let Some(at) = call.timer_c {
            self.timer_c.remove(&(at, tx));
        }
        if let Some(at) = call.plan.as_ref().and_then(|p| p.step_deadline) {
            self.step_timers.remove(&(at, tx));
        }
    }

    /// Starts one client transaction per target; returns how many started.
    pub(super) fn add_branches(&mut self, now: Now, tx: TxId, call: &mut ProxyCall, targets: Vec<(Option<Uri>, Peer)>) -> usize {
        let from = call.from;
        let req = &call.request;
        let inbound = (from.protocol, self.me.local_for(from).unwrap_or(from.addr));
        let record = self.cfg.record_route
            && req.to_tag().is_none()
            && matches!(req.method, Method::Invite | Method::Subscribe | Method::Refer | Method::Notify);
        let realm = self.auth.config().realm.clone();
        let mut started = 0;
        for (uri, dest) in targets {
            let Some(local) = self.me.local_for(dest) else {
                warn!(%dest, call_id = req.call_id().unwrap_or("-"), "no listener can reach destination");
                continue;
            };
            let local = self.me.advertised(local, dest.addr);
            let mut out = req.clone();
            if let Some(u) = uri {
                out.uri = u;
            }
            decrement_max_forwards(&mut out);
            // Our own credentials stop here (Kamailio's consume_credentials).
            out.headers
                .remove_where(&HeaderName::ProxyAuthorization, |v| DigestCredentials::parse(v).is_ok_and(|c| c.realm == realm.as_str()));
            if record {
                let inbound_adv = (inbound.0, self.me.advertised(inbound.1, from.addr));
                add_record_route(&mut out, inbound_adv, (dest.protocol, local));
            }
            self.branch_seq = self.branch_seq.wrapping_add(1);
            push_via(&mut out, dest.protocol, local, &make_branch(&call.hash, self.branch_seq));
            // The leg's target, for the case timeline only: no text built for calls without one.
            let target = call.case.as_ref().map(|_| out.uri.to_string());
            match self.txl.send_request(now.mono, out, dest) {
                Ok(ctx) => {
                    call.branches.push(Branch { tx: ctx, state: BranchState::Trying, cancelled: false });
                    self.branch_of.insert(ctx, tx);
                    started += 1;
                    if let (Some(token), Some(target)) = (call.case.clone(), target) {
                        // The agent's contact, never the citizen's number.
                        self.case_event(&token, super::case::CaseEvent::LegStarted, None, serde_json::json!({ "target": target }));
                    }
                }
                Err(e) => {
                    warn!(error = %e, call_id = req.call_id().unwrap_or("-"), "could not start client transaction")
                }
            }
        }
        started
    }

    fn on_branch_response(&mut self, now: Now, ctx: TxId, mut resp: Response) {
        let Some(&stx) = self.branch_of.get(&ctx) else { return };
        if !strip_own_via(&mut resp, &self.me) {
            return;
        }
        let status = resp.status;
        let Some(call) = self.calls.get_mut(&stx) else { return };
        let is_invite = call.request.method == Method::Invite;
        if let Some(b) = call.branch_mut(ctx) {
            if status < 200 && b.state == BranchState::Trying {
                b.state = BranchState::Proceeding;
            } else if status >= 200 {
                b.state = BranchState::Done(status);
            }
        }
        match status {
            100 => {}
            101..=199 => {
                if is_invite {
                    // §16.7 step 2: a provisional restarts Timer C.
                    if let Some(old) = call.timer_c.take() {
                        self.timer_c.remove(&(old, stx));
                        let at = now.mono + self.cfg.timer_c;
                        call.timer_c = Some(at);
                        self.timer_c.insert((at, stx));
                    }
                }
                if !call.answered {
                    let ringing = (status == 180 || status == 183) && !call.rang;
                    if ringing {
                        call.rang = true;
                    }
                    let case = call.case.clone().filter(|_| ringing);
                    self.stats.count_response(status);
                    let _ = self.txl.respond(now.mono, stx, resp);
                    if let Some(token) = case {
                        self.case_event(&token, super::case::CaseEvent::Ringing, None, serde_json::json!({ "status": status }));
                    }
                }
            }
            200..=299 => {
                // §16.7 step 5: every 2xx goes upstream at once, retransmissions included.
                let first_answer = !call.answered;
                call.answered = true;
                if first_answer {
                    if let (Some(token), Some(cid)) = (call.case.clone(), call.request.call_id().map(|c| c.to_string())) {
                        self.dialogs.insert(cid.clone(), (token.clone(), now.unix));
                        self.effects.push_back(super::case::Effect::Timeline {
                            token,
                            kind: super::case::CaseEvent::Answered,
                            leg: Some(cid),
                            detail: serde_json::json!({}),
                        });
                    }
                }
                if let Some(at) = call.timer_c.take() {
                    self.timer_c.remove(&(at, stx));
                }
                self.stats.count_response(status);
                let _ = self.txl.respond(now.mono, stx, resp);
                if is_invite {
                    self.cancel_pending(now, stx);
                }
                if let Some(call) = self.calls.get_mut(&stx) {
                    call.release();
                }
            }
            _ => {
                if status >= 600 && is_invite {
                    self.cancel_pending(now, stx);
                }
                if let Some(call) = self.calls.get_mut(&stx) {
                    call.offer_final(resp);
                }
                self.maybe_finish(now, stx);
            }
        }
    }

    pub(super) fn on_branch_failed(&mut self, now: Now, ctx: TxId, status: u16) {
        let Some(&stx) = self.branch_of.get(&ctx) else { return };
        let Some(call) = self.calls.get_mut(&stx) else { return };
        if let Some(b) = call.branch_mut(ctx) {
            if matches!(b.state, BranchState::Done(_)) {
                return;
            }
            b.state = BranchState::Done(status);
        }
        let mut resp = call.request.response(status, reason_phrase(status), None);
        resp.headers.push(HeaderName::Server, self.cfg.server_header.clone());
        call.offer_final(resp);
        self.maybe_finish(now, stx);
    }

    /// Once every branch has a final answer (and no 2xx went up): the dial plan's next step
    /// when its failover applies, else the best final response upstream.
    pub(super) fn maybe_finish(&mut self, now: Now, stx: TxId) {
        let Some(call) = self.calls.get_mut(&stx) else { return };
        if call.answered || !call.all_done() {
            return;
        }
        if self.plan_continues(now, stx) {
            return;
        }
        let Some(call) = self.calls.get_mut(&stx) else { return };
        call.answered = true;
        if let Some(at) = call.timer_c.take() {
            self.timer_c.remove(&(at, stx));
        }
        let step_timed_out = call.plan.as_ref().is_some_and(|p| p.step_timed_out);
        if let Some(mut best) = call.take_best() {
            // Our own step timeout cancelled the branches: the caller hears "unavailable", not 487.
            if step_timed_out && best.status == 487 && !call.cancelled {
                best.status = 480;
                best.reason = reason_phrase(480).into();
            }
            // Locally generated finals (408, 503) carry our To tag; others keep the callee's.
            if best.to_tag().is_none() {
                let tag = format!("{:08x}", rand::random::<u32>());
                if let Some(to) = best.headers.get(&HeaderName::To) {
                    let tagged = format!("{to};tag={tag}");
                    best.headers.replace_first(&HeaderName::To, tagged);
                }
            }
            self.stats.count_response(best.status);
            let status = best.status;
            let _ = self.txl.respond(now.mono, stx, best);
            self.case_final(stx, status);
            if let Some(call) = self.calls.get_mut(&stx) {
                call.release();
            }
        }
    }

    pub(super) fn cancel_pending(&mut self, now: Now, stx: TxId) {
        let Some(call) = self.calls.get_mut(&stx) else { return };
        let pending: Vec<TxId> = call.pending().filter(|b| !b.cancelled).map(|b| b.tx).collect();
        for b in call.branches.iter_mut() {
            if pending.contains(&b.tx) {
                b.cancelled = true;
            }
        }
        for ctx in pending {
            if let Some(cancel_tx) = self.txl.cancel(now.mono, ctx) {
                debug!(%cancel_tx, "CANCEL sent on branch");
            }
        }
    }

    fn on_cancel(&mut self, now: Now, tx: TxId, req: Request, invite: Option<TxId>) {
        // §9.2: 200 whenever the INVITE transaction exists (even if it already has a final
        // answer, e.g. our 407); 481 only when there is nothing to cancel.
        let Some(itx) = invite else {
            self.reply(now, tx, &req, 481, vec![]);
            return;
        };
        self.reply(now, tx, &req, 200, vec![]);
        if let Some((invite, _, _)) = self.parked.remove(&itx) {
            // Cancelled while its case was being looked up: it never rang anywhere.
            self.reply(now, itx, &invite, 487, vec![]);
            return;
        }
        if let Some(call) = self.calls.get_mut(&itx) {
            call.cancelled = true;
            self.cancel_pending(now, itx);
        }
    }

    fn on_timer_c(&mut self, now: Now, stx: TxId) {
        let Some(call) = self.calls.get_mut(&stx) else { return };
        call.timer_c = None;
        // §16.8: cancel branches that rang; ones that never answered count as 408.
        let silent: Vec<TxId> = call.branches.iter().filter(|b| b.state == BranchState::Trying).map(|b| b.tx).collect();
        self.cancel_pending(now, stx);
        for ctx in silent {
            self.on_branch_failed(now, ctx, 408);
        }
    }

    /// ACK for a 2xx travels end to end (§16.6 / §13.2.2.4): forward it without a transaction.
    fn on_ack(&mut self, mut req: Request, from: Peer) {
        pop_own_routes(&mut req, &self.me);
        let target = first_route(&req).unwrap_or_else(|| req.uri.clone());
        if first_route(&req).is_none() && self.me.is_local_uri(&target) {
            return; // An ACK for a response we generated: absorbed.
        }
        let Some(dest) = self.resolve(&target) else { return };
        let Some(local) = self.me.local_for(dest) else { return };
        let local = self.me.advertised(local, dest.addr);
        decrement_max_forwards(&mut req);
        // A stateless branch must be the same for retransmissions: derive it from the incoming one.
        let hash = loop_hash(&req);
        let salt = req.branch().map(|b| b.bytes().fold(0u64, |a, c| a.wrapping_mul(31).wrapping_add(c as u64))).unwrap_or(0);
        push_via(&mut req, dest.protocol, local, &make_branch(&hash, salt));
        let _ = from;
        self.out.push_back(Transmit { dest, data: req.to_bytes() });
    }

    /// §16.11: responses with no transaction (2xx retransmissions) are forwarded statelessly.
    fn on_stray_response(&mut self, mut resp: Response) {
        if !strip_own_via(&mut resp, &self.me) {
            return;
        }
        if !(200..300).contains(&resp.status) {
            return;
        }
        if let Some(dest) = via_destination(&resp) {
            self.out.push_back(Transmit { dest, data: resp.to_bytes() });
        }
    }
}

impl Core {
    /// Reports a timeline entry of a citizen's case.
    pub(super) fn case_event(&mut self, token: &str, kind: super::case::CaseEvent, leg: Option<&str>, detail: serde_json::Value) {
        self.effects.push_back(super::case::Effect::Timeline { token: token.to_owned(), kind, leg: leg.map(str::to_owned), detail });
    }

    /// The final answer a citizen call got, on its case.
    pub(super) fn case_final(&mut self, stx: TxId, status: u16) {
        let Some(call) = self.calls.get(&stx) else { return };
        let Some(token) = call.case.clone() else { return };
        let leg = call.request.call_id().map(|c| c.to_string());
        self.case_event(&token, super::case::CaseEvent::Failed, leg.as_deref(), serde_json::json!({ "status": status }));
    }

    fn case_hang_up(&mut self, req: &Request) {
        let Some(cid) = req.call_id() else { return };
        if let Some((token, _)) = self.dialogs.remove(cid) {
            let cid = cid.to_string();
            self.case_event(&token, super::case::CaseEvent::HungUp, Some(&cid), serde_json::json!({}));
        }
    }
}

/// A To tag for a response we generate: 8 hex digits of a random `u32`, on the stack (a
/// `String` was an allocation per response).
struct ToTag([u8; 8]);

impl ToTag {
    fn random() -> ToTag {
        let mut out = [0u8; 8];
        crate::auth::hex_into(&rand::random::<u32>().to_be_bytes(), &mut out);
        ToTag(out)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The fingerprint of a REGISTER's transaction for the nonce keeper (see `on_register`): top
/// Via branch and sent-by (from the server key the transaction layer built), Call-ID and CSeq.
/// `None` for an RFC 2543 key, which has no unique branch to tell a retransmission by.
fn register_fingerprint(key: &crate::transaction::ServerKey, req: &Request) -> Option<u64> {
    let crate::transaction::ServerKey::Rfc3261 { branch_host, port, .. } = key else { return None };
    let port = port.unwrap_or(0).to_le_bytes();
    let call_id = req.call_id().unwrap_or("");
    let cseq = req.headers.get(&HeaderName::CSeq).unwrap_or("");
    Some(crate::auth::request_fingerprint(&[branch_host.as_bytes(), &port, call_id.as_bytes(), cseq.as_bytes()]))
}

/// The headers of a 200 to REGISTER (§10.3 step 8): every current binding, and Date.
fn register_ok_headers<'a>(current: impl IntoIterator<Item = &'a Binding>, now: Now) -> Vec<(HeaderName, String)> {
    let current = current.into_iter();
    // Room for the Date too: collected to size, the push below reallocated every time.
    let mut extra: Vec<(HeaderName, String)> = Vec::with_capacity(current.size_hint().0 + 1);
    extra.extend(current.map(|b| (HeaderName::Contact, b.contact_header_value(now.unix))));
    extra.push((HeaderName::Date, httpdate(now.unix)));
    extra
}

/// An RFC 1123 date for the Date header (RFC 3261 §20.17), from Unix seconds.
pub fn httpdate(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Written byte by byte: `format!` cost ~2,500 instructions per 200 to REGISTER (callgrind).
    let mut out = String::with_capacity(29);
    let two = |out: &mut String, v: u64| {
        out.push(char::from(b'0' + (v / 10 % 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    };
    out.push_str(DAYS[(days % 7) as usize]);
    out.push_str(", ");
    two(&mut out, d.unsigned_abs());
    out.push(' ');
    out.push_str(MONTHS[(m - 1).clamp(0, 11) as usize]);
    out.push(' ');
    // Years 0..=9999 as four digits (RFC 1123); anything else (never from a sane clock) whole.
    match u64::try_from(y) {
        Ok(y) if y <= 9999 => {
            two(&mut out, y / 100);
            two(&mut out, y % 100);
        }
        _ => out.push_str(&y.to_string()),
    }
    out.push(' ');
    two(&mut out, secs / 3600);
    out.push(':');
    two(&mut out, (secs % 3600) / 60);
    out.push(':');
    two(&mut out, secs % 60);
    out.push_str(" GMT");
    out
}

#[cfg(test)]
mod tests {
    use super::ToTag;

    #[test]
    fn to_tags_are_eight_hex_digits() {
        let a = ToTag::random();
        assert_eq!(a.as_str().len(), 8);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        // 2^-32 odds of a false failure per run.
        assert_ne!(a.as_str(), ToTag::random().as_str());
    }

    #[test]
    fn date_format() {
        assert_eq!(super::httpdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(super::httpdate(1_795_000_000), "Wed, 18 Nov 2026 11:06:40 GMT");
        assert_eq!(super::httpdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(super::httpdate(253_402_300_799), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(super::httpdate(253_402_300_800), "Sat, 01 Jan 10000 00:00:00 GMT");
    }
}
