//! Per-request proxy state (RFC 3261 §16.7): the branches a request was forked to, what each
//! answered, and the choice of the single best final response to send upstream.

use std::time::Instant;

use crate::sip::{HeaderName, Request, Response};
use crate::transaction::TxId;

/// How far a branch got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchState {
    /// Sent; nothing back yet.
    Trying,
    /// A provisional response came back (CANCEL may now be sent).
    Proceeding,
    /// A final response came back, or was synthesised (408 on timeout, 503 when unreachable).
    Done(u16),
}

/// One forwarded copy of the request.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Its client transaction.
    pub tx: TxId,
    /// Its state.
    pub state: BranchState,
    /// Whether this branch has been cancelled.
    pub cancelled: bool,
}

/// A dial-plan decision being carried out: the steps left and the one ringing now.
#[derive(Debug)]
pub struct PlanRun {
    /// The administration whose plan matched.
    pub administration: String,
    /// The rule, as `file:line name`, for logs.
    pub rule: String,
    /// The called number after rewriting.
    pub called: String,
    /// Steps not started yet.
    pub steps: std::collections::VecDeque<crate::routing::Step>,
    /// Which outcomes of the current step go on to the next one.
    pub on: crate::routing::FailOn,
    /// When the current ring step gives up.
    pub step_deadline: Option<Instant>,
    /// Whether the current step ended by its own timeout.
    pub step_timed_out: bool,
}

/// A request being proxied: the server transaction upstream and its branches downstream.
#[derive(Debug)]
pub struct ProxyCall {
    /// The request as received (after Route processing), to build local responses from.
    pub request: Request,
    /// Where it came from.
    pub from: crate::transport::Peer,
    /// Its loop-detection hash (goes into every branch id).
    pub hash: String,
    /// The dial-plan decision being carried out, if a plan routed it.
    pub plan: Option<PlanRun>,
    /// The citizen's case, for citizen calls.
    pub case: Option<String>,
    /// Whether a ringing entry went on the case timeline.
    pub rang: bool,
    /// The branches.
    pub branches: Vec<Branch>,
    /// Best final non-2xx response so far (§16.7 step 6).
    pub best: Option<Response>,
    /// WWW-/Proxy-Authenticate values collected from 401/407 branches (§16.7 step 7).
    pub challenges: Vec<(HeaderName, crate::sip::ByteStr)>,
    /// Whether a final response (2xx or the best) has gone upstream.
    pub answered: bool,
    /// Whether upstream cancelled the request.
    pub cancelled: bool,
    /// Timer C deadline (INVITE only).
    pub timer_c: Option<Instant>,
}

impl ProxyCall {
    /// Frees what only choosing and building the final answer needed — the request's headers
    /// and body, the best response so far, collected challenges — once that answer went
    /// upstream. The call itself stays until its server transaction ends (Timer J/L, 32 s over
    /// UDP) to relay 2xx retransmissions, and afterwards only `request.method` is read; holding
    /// the whole request that long was most of the memory (and page faults) of a call.
    /// The Request-URI is copied out of the datagram for the same reason: received datagrams
    /// share 4 KiB buffers (`transport::arena`), and a URI slicing one would keep the whole
    /// buffer, its neighbours' bytes included, for those 32 s.
    pub fn release(&mut self) {
        self.request.headers = Default::default();
        self.request.body = bytes::Bytes::new();
        self.request.uri = self.request.uri.detached();
        if let crate::sip::Method::Other(m) = &self.request.method {
            self.request.method = crate::sip::Method::Other(crate::sip::ByteStr::from(m.as_str()));
        }
        self.best = None;
        self.challenges = Vec::new();
    }

    /// New state for `request`.
    pub fn new(request: Request, from: crate::transport::Peer, hash: String) -> Self {
        ProxyCall {
            request,
            from,
            hash,
            plan: None,
            case: None,
            rang: false,
            branches: Vec::new(),
            best: None,
            challenges: Vec::new(),
            answered: false,
            cancelled: false,
            timer_c: None,
        }
    }

    /// The branch using client transaction `tx`.
    pub fn branch_mut(&mut self, tx: TxId) -> Option<&mut Branch> {
        self.branches.iter_mut().find(|b| b.tx == tx)
    }

    /// Whether every branch has a final response.
    pub fn all_done(&self) -> bool {
        self.branches.iter().all(|b| matches!(b.state, BranchState::Done(_)))
    }

    /// Branches still waiting for a final response.
    pub fn pending(&self) -> impl Iterator<Item = &Branch> {
        self.branches.iter().filter(|b| !matches!(b.state, BranchState::Done(_)))
    }

    /// Records a non-2xx final response from a branch, keeping the best one.
    pub fn offer_final(&mut self, resp: Response) {
        if resp.status == 401 || resp.status == 407 {
            for h in resp.headers.iter() {
                if *h.name == HeaderName::WwwAuthenticate || *h.name == HeaderName::ProxyAuthenticate {
                    self.challenges.push((h.name.clone(), resp.headers.share(h.value)));
                }
            }
        }
        let better = match &self.best {
            None => true,
            Some(b) => rank(resp.status) < rank(b.status),
        };
        if better {
            self.best = Some(resp);
        }
    }

    /// The response to send upstream once every branch is done: the best one, with collected
    /// challenges merged in, and 503 turned into 500 (§16.7 step 6).
    pub fn take_best(&mut self) -> Option<Response> {
        let mut best = self.best.take()?;
        if best.status == 503 {
            best.status = 500;
            best.reason = "Server Internal Error".into();
        }
        if best.status == 401 || best.status == 407 {
            best.headers.remove_all(&HeaderName::WwwAuthenticate);
            best.headers.remove_all(&HeaderName::ProxyAuthenticate);
            for (name, value) in self.challenges.drain(..) {
                best.headers.push(name, value);
            }
        }
        Some(best)
    }
}

/// Ordering of final responses, lower is better (§16.7 step 6): any 6xx first; then the
/// lowest class, preferring 401/407/415/420/484 within 4xx because the caller can act on them;
/// 408 (our own timeouts) and 503 last within their classes.
pub fn rank(status: u16) -> u32 {
    let class = u32::from(status / 100);
    let class_rank = match class {
        6 => 0,
        3 => 1,
        4 => 2,
        5 => 3,
        _ => 4,
    };
    let within = match status {
        401 | 407 | 415 | 420 | 484 => 0,
        408 => 2,
        503 => 2,
        _ => 1,
    };
    class_rank * 10 + within
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_response_order() {
        assert!(rank(603) < rank(302));
        assert!(rank(302) < rank(486));
        assert!(rank(407) < rank(486));
        assert!(rank(486) < rank(408));
        assert!(rank(480) < rank(500));
        assert!(rank(500) < rank(503));
    }
}
