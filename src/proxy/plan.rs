//! Carrying out dial-plan decisions in the proxy: a request for a local user is first shown to
//! the dial plans (`routing`); when a rule matches, its steps run in order — ring targets in
//! parallel with a per-step timeout, go on to the next step on the outcomes the rule names
//! (no answer, busy, unavailable), reject, redirect, or hand over to a peer node. When no rule
//! matches, the call goes to the registered contacts of the user it names.
//!
//! The decision is stored with the call, so a reload of the plans never changes a call in
//! progress.

use std::collections::VecDeque;
use std::time::SystemTime;
use tracing::{debug, info};

use super::case::{add_case_headers, token_from_headers, CaseEvent, CaseInfo, CaseLookup, Effect};
use super::context::PlanRun;
use super::core::{Core, Now, Principal};
use crate::routing::{CallInfo, Decision, FailOn, Outcome, Step, Target};
use crate::sip::uri::unescape;
use crate::sip::{HeaderName, Method, Request, SipHeaders, Uri};
use crate::transaction::TxId;
use crate::transport::Peer;

/// The caller's identity for the dial plan: the From (or P-Asserted-Identity) user, `None`
/// for anonymous calls (RFC 3323: `anonymous@anonymous.invalid`, or `Privacy: id`).
pub fn caller_of(req: &Request) -> Option<String> {
    let private = req.headers.get(&HeaderName::Other("Privacy".into())).is_some_and(|p| p.to_ascii_lowercase().contains("id"));
    let uri = req.addr_uri(&HeaderName::PAssertedIdentity).or_else(|| req.addr_uri(&HeaderName::From))?;
    let user = uri.user().map(|u| unescape(u).into_owned());
    if private
        || uri.host().eq_ignore_ascii_case("anonymous.invalid")
        || user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case("anonymous"))
    {
        return None;
    }
    user
}

/// The dial plans' clock: wall time in the plans' time zone.
fn at_of(now: Now) -> jiff::Timestamp {
    jiff::Timestamp::try_from(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(now.unix)).unwrap_or_else(|_| jiff::Timestamp::now())
}

fn classify(status: u16) -> Outcome {
    match status {
        486 | 600 | 603 => Outcome::Busy,
        408 | 480 | 487 => Outcome::NoAnswer,
        _ => Outcome::Unavailable,
    }
}

impl Core {
    /// A request for a user of this node: dial plan first, then the user's own contacts.
    /// A citizen's INVITE (from a gateway account or a trusted peer) first gets its case:
    /// it is parked while the daemon looks the case up, and routed in `handle_case`.
    pub(super) fn route_local(&mut self, now: Now, tx: TxId, req: Request, from: Peer, hash: &str, principal: Principal) {
        let citizen = self.cfg.cases.is_some() && req.method == Method::Invite && req.to_tag().is_none() && principal.brings_citizens();
        if !citizen {
            self.route_with_case(now, tx, req, from, hash, None);
            return;
        }
        // A leg from a trusted peer node that carries a case token joins that case.
        if principal == Principal::Trusted {
            if let Some(token) = token_from_headers(&req) {
                let info = CaseInfo { token, caller_known: true, open_cases: 1 };
                self.route_with_case(now, tx, req, from, hash, Some(info));
                return;
            }
        }
        let called = req.uri.user().map(|u| unescape(u).into_owned()).unwrap_or_default();
        let caller = caller_of(&req);
        // Which administration the call is for decides which case it joins: ask the plans
        // (without history yet), defaulting to this node.
        let pre = self.plans.decide(
            &CallInfo { called: &called, caller: caller.as_deref(), topic: None, caller_known: false, has_open_case: false },
            at_of(now),
        );
        let administration =
            pre.map(|d| d.administration).or_else(|| self.cfg.cases.as_ref().map(|c| c.node_id.clone())).unwrap_or_default();
        // The gateway must stop retransmitting while the lookup runs.
        let _ = self.txl.respond(now.mono, tx, req.response(100, "Trying", None));
        let call_id = req.call_id().map(|c| c.to_string()).unwrap_or_default();
        self.effects.push_back(Effect::Lookup(CaseLookup { tx, caller, called, administration, topic: None, call_id }));
        self.parked.insert(tx, (req, from, hash.to_owned()));
    }

    /// The case of a parked citizen INVITE is known: route it.
    pub fn handle_case(&mut self, now: Now, tx: TxId, info: CaseInfo) {
        if let Some((req, from, hash)) = self.parked.remove(&tx) {
            // The request's transaction span ended when it was parked: the call's routing gets
            // its own, with the case token (no personal data) beside the Call-ID.
            let span = tracing::info_span!("tx", tx = tx.as_u64(), call_id = req.call_id().unwrap_or("-"), case = info.token.as_str());
            let _g = span.enter();
            self.route_with_case(now, tx, req, from, &hash, Some(info));
        }
        self.drain_events(now);
    }

    fn route_with_case(&mut self, now: Now, tx: TxId, mut req: Request, from: Peer, hash: &str, case: Option<CaseInfo>) {
        // No token could be had at all (cannot happen with a valid node id): route without one.
        let case = case.filter(|c| !c.token.is_empty());
        let called = req.uri.user().map(|u| unescape(u).into_owned()).unwrap_or_default();
        let caller = caller_of(&req);
        let (known, open) = case.as_ref().map_or((false, false), |c| (c.caller_known, c.open_cases > 0));
        let info = CallInfo { called: &called, caller: caller.as_deref(), topic: None, caller_known: known, has_open_case: open };
        let decision = self.plans.decide(&info, at_of(now));
        if let Some(c) = &case {
            // The token is no personal data: it may go to info logs (the number may not).
            info!(case = %c.token, known_caller = c.caller_known, open_cases = c.open_cases, "citizen call");
            let console = self.cfg.cases.as_ref().map(|c| c.console_url.clone()).unwrap_or_default();
            add_case_headers(&mut req, &c.token, &console);
            let detail = match &decision {
                Some(d) => {
                    serde_json::json!({ "administration": d.administration, "rule": d.rule.name, "file": d.rule.file.display().to_string(), "line": d.rule.line, "called": d.called })
                }
                None => serde_json::json!({ "rule": null, "called": called }),
            };
            self.case_event(&c.token, CaseEvent::Routed, None, detail);
            self.dispatching_case = Some(c.token.clone());
        }
        match decision {
            Some(d) => self.start_plan(now, tx, req, from, hash, d),
            None => self.route_to_user(now, tx, req, from, hash),
        }
        // Answered at once (404, 480): no proxy state took the case, so it is recorded here.
        if let Some(token) = self.dispatching_case.take() {
            self.case_event(&token, CaseEvent::Failed, None, serde_json::json!({ "status": "no route" }));
        }
    }

    fn start_plan(&mut self, now: Now, tx: TxId, req: Request, from: Peer, hash: &str, d: Decision) {
        let rule = format!("{}:{} {}", d.rule.file.display(), d.rule.line, d.rule.name);
        info!(administration = %d.administration, %rule, steps = d.steps.len(), "routed by dial plan");
        let mut call = self.begin_call(now, tx, req, from, hash);
        call.plan = Some(PlanRun {
            administration: d.administration,
            rule,
            called: d.called,
            steps: VecDeque::from(d.steps),
            on: FailOn::ALL,
            step_deadline: None,
            step_timed_out: false,
        });
        self.calls.insert(tx, Box::new(call));
        self.next_step(now, tx);
    }

    /// Targets of a ring step as (Request-URI, destination) pairs.
    fn resolve_targets(&self, now: Now, targets: &[Target], called: &str) -> Vec<(Option<Uri>, Peer)> {
        let mut out = Vec::new();
        for t in targets {
            match t {
                Target::User(name) => out.extend(self.contacts_of(name, now)),
                Target::Uri(text) => {
                    let text = text.replace("${called}", called);
                    match Uri::parse_str(&text) {
                        Ok(u) => match self.resolve(&u) {
                            Some(dest) => out.push((Some(u), dest)),
                            None => debug!(uri = %text, "dial-plan target not reachable"),
                        },
                        Err(e) => debug!(uri = %text, error = %e, "dial-plan target is not a URI"),
                    }
                }
            }
        }
        out
    }

    /// Starts the next step of the call's plan; answers the caller when none is left.
    pub(super) fn next_step(&mut self, now: Now, stx: TxId) {
        loop {
            let Some(mut call) = self.calls.remove(&stx) else { return };
            let Some(plan) = call.plan.as_mut() else {
                self.calls.insert(stx, call);
                return;
            };
            plan.step_timed_out = false;
            if let Some(at) = plan.step_deadline.take() {
                self.step_timers.remove(&(at, stx));
            }
            let called = plan.called.clone();
            let more = plan.steps.len() > 1;
            let Some(step) = plan.steps.pop_front() else {
                // Nothing left to try: the best answer so far, or "unavailable".
                if call.best.is_none() {
                    let req = call.request.clone();
                    self.drop_call_timers(stx, &call);
                    call.answered = true;
                    self.calls.insert(stx, call);
                    self.reply(now, stx, &req, 480, vec![]);
                    self.case_final(stx, 480);
                    return;
                }
                self.calls.insert(stx, call);
                self.maybe_finish(now, stx);
                return;
            };
            match step {
                Step::Reject { code, reason } => {
                    let req = call.request.clone();
                    self.drop_call_timers(stx, &call);
                    call.answered = true;
                    self.calls.insert(stx, call);
                    self.reply_reason(now, stx, &req, code, &reason, vec![]);
                    self.case_final(stx, code);
                    return;
                }
                Step::Redirect { contacts } => {
                    let req = call.request.clone();
                    self.drop_call_timers(stx, &call);
                    call.answered = true;
                    self.calls.insert(stx, call);
                    let extra =
                        contacts.into_iter().map(|c| (HeaderName::Contact, format!("<{}>", c.replace("${called}", &called)))).collect();
                    self.reply(now, stx, &req, 302, extra);
                    self.case_final(stx, 302);
                    return;
                }
                Step::Ring { targets, timeout, on, .. } => {
                    let dests = self.resolve_targets(now, &targets, &called);
                    if let Some(p) = call.plan.as_mut() {
                        p.on = on;
                    }
                    let started = if dests.is_empty() { 0 } else { self.add_branches(now, stx, &mut call, dests) };
                    if started == 0 {
                        debug!(step = ?targets, "nobody to ring in this step");
                        self.calls.insert(stx, call);
                        if on.goes_on(Outcome::Unavailable) && more {
                            continue;
                        }
                        // Last step and nobody reachable.
                        self.finish_unavailable(now, stx);
                        return;
                    }
                    let at = now.mono + timeout;
                    if let Some(p) = call.plan.as_mut() {
                        p.step_deadline = Some(at);
                    }
                    self.step_timers.insert((at, stx));
                    self.calls.insert(stx, call);
                    return;
                }
                Step::Peer { name, number } => {
                    let peer_uri = self.plans.peers().iter().find(|p| p.name == name).map(|p| p.uri.clone());
                    let number = number.unwrap_or_else(|| called.clone());
                    let dests = peer_uri
                        .as_deref()
                        .and_then(|u| Uri::parse_str(u).ok())
                        .map(|u| {
                            let host = match u.port() {
                                Some(p) => format!("{}:{p}", u.host()),
                                None => u.host().to_owned(),
                            };
                            let target = format!("sip:{number}@{host}{}", u.params_str());
                            self.resolve_targets(now, &[Target::Uri(target)], &called)
                        })
                        .unwrap_or_default();
                    if let Some(p) = call.plan.as_mut() {
                        p.on = FailOn::ALL;
                    }
                    let started = if dests.is_empty() { 0 } else { self.add_branches(now, stx, &mut call, dests) };
                    self.calls.insert(stx, call);
                    if started == 0 {
                        debug!(peer = %name, "peer not reachable");
                        if more {
                            continue;
                        }
                        self.finish_unavailable(now, stx);
                    }
                    // A peer leg has no step timeout of its own: Timer C bounds it.
                    return;
                }
            }
        }
    }

    fn finish_unavailable(&mut self, now: Now, stx: TxId) {
        let Some(mut call) = self.calls.remove(&stx) else { return };
        let best = call.take_best();
        self.drop_call_timers(stx, &call);
        call.answered = true;
        let req = call.request.clone();
        self.calls.insert(stx, call);
        let status = best.as_ref().map_or(480, |b| b.status);
        match best {
            Some(b) => {
                self.stats.count_response(b.status);
                let _ = self.txl.respond(now.mono, stx, b);
            }
            None => self.reply(now, stx, &req, 480, vec![]),
        }
        self.case_final(stx, status);
    }

    /// Whether the plan goes on after the current step ended without a 2xx (and starts it).
    pub(super) fn plan_continues(&mut self, now: Now, stx: TxId) -> bool {
        let Some(call) = self.calls.get_mut(&stx) else { return false };
        if call.cancelled {
            return false;
        }
        let best_status = call.best.as_ref().map(|b| b.status).unwrap_or(480);
        let Some(plan) = call.plan.as_mut() else { return false };
        if plan.steps.is_empty() {
            return false;
        }
        let outcome = if plan.step_timed_out { Outcome::NoAnswer } else { classify(best_status) };
        if !plan.on.goes_on(outcome) {
            return false;
        }
        debug!(?outcome, "dial-plan step failed over");
        // The next step's answers decide; this step's 487s from our own CANCEL must not leak.
        call.best = None;
        call.challenges.clear();
        self.next_step(now, stx);
        true
    }

    /// A ring step's own timeout: cancel what still rings; branches that never answered
    /// count as no answer. The step then fails over in `maybe_finish`.
    pub(super) fn on_step_timeout(&mut self, now: Now, stx: TxId) {
        let Some(call) = self.calls.get_mut(&stx) else { return };
        if call.answered {
            return;
        }
        let Some(plan) = call.plan.as_mut() else { return };
        plan.step_deadline = None;
        plan.step_timed_out = true;
        let silent: Vec<TxId> = call.branches.iter().filter(|b| b.state == super::context::BranchState::Trying).map(|b| b.tx).collect();
        self.cancel_pending(now, stx);
        for ctx in silent {
            self.on_branch_failed(now, ctx, 408);
        }
        self.maybe_finish(now, stx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{parse_datagram, Message};

    fn req(from: &str, extra: &str) -> Request {
        let text = format!(
            "INVITE sip:803001@urp SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: {from};tag=1\r\nTo: <sip:803001@urp>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        match parse_datagram(bytes::Bytes::from(text)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn caller_identity() {
        assert_eq!(caller_of(&req("<sip:+390612345@gw>", "")), Some("+390612345".into()));
        assert_eq!(caller_of(&req("\"Anonymous\" <sip:anonymous@anonymous.invalid>", "")), None);
        assert_eq!(caller_of(&req("<sip:+39061@gw>", "Privacy: id\r\n")), None);
        assert_eq!(caller_of(&req("<sip:gw@gw>", "P-Asserted-Identity: <sip:+3902999@gw>\r\n")), Some("+3902999".into()));
    }

    #[test]
    fn outcomes() {
        assert_eq!(classify(486), Outcome::Busy);
        assert_eq!(classify(408), Outcome::NoAnswer);
        assert_eq!(classify(404), Outcome::Unavailable);
        assert_eq!(classify(503), Outcome::Unavailable);
    }
}
