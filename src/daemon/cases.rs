//! The daemon's side of citizens' cases: it turns the core's `Effect`s into CRM work.
//!
//! - A lookup runs in its own task with the configured deadline (default 50 ms). Past the
//!   deadline, or with the database down, the call goes on with a token minted here, and the
//!   "open this case" record goes to the durable outbox, so the case exists with that token once
//!   the database is back. A call never waits on the database longer than the deadline.
//! - Every timeline entry goes through the outbox (durable, replayed in order, idempotent), so
//!   a database outage loses nothing and replays nothing twice.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tracing::{debug, warn};

use super::config::Config;
use super::control::{Control, ControlTx};
use crate::crm::{
    resolve_url, run_replayer, run_retention, CaseToken, CrmError, CrmStore, EventKind, IncomingCall, OpenCase, Outbox, OutboxRecord,
    StoreOptions, TimelineEvent, OUTBOX_FILE,
};
use crate::proxy::case::{CaseEvent, CaseInfo, CaseLookup, Effect};

/// The CRM as the running daemon uses it.
pub struct Crm {
    store: CrmStore,
    outbox: Outbox,
    node: Arc<str>,
    deadline: Duration,
    reuse_window: Duration,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The runtime `start` ran on (the main one): lookups run there, so that the database's
    /// work and deadlines stay off the core's thread, which calls `handle`.
    rt: tokio::runtime::Handle,
}

/// A case for a call when the CRM is switched off: a token nobody stores.
pub fn unstored_case(node: &str) -> CaseInfo {
    let token = CaseToken::mint(node).map(|t| t.to_string()).unwrap_or_default();
    CaseInfo { token, caller_known: false, open_cases: 0 }
}

fn kind_of(k: CaseEvent) -> EventKind {
    match k {
        CaseEvent::Routed => EventKind::Routed,
        CaseEvent::LegStarted => EventKind::LegStarted,
        CaseEvent::Ringing => EventKind::Ringing,
        CaseEvent::Answered => EventKind::Answered,
        CaseEvent::Failed => EventKind::Failed,
        CaseEvent::HungUp => EventKind::HungUp,
    }
}

impl Crm {
    /// Opens the store (lazily: PostgreSQL may be down now) and the outbox, and starts the
    /// replayer and the daily retention purge.
    pub async fn start(cfg: &Config, state_dir: &Path) -> Result<Crm, CrmError> {
        let url = resolve_url(None, cfg.crm.url.as_deref(), state_dir);
        let opts =
            StoreOptions { pool_size: cfg.crm.pool_size, acquire_timeout: Duration::from_millis(cfg.crm.lookup_deadline_ms.max(100) * 4) };
        let store = CrmStore::open_lazy(&url, &cfg.node.id, &opts)?;
        let outbox = Outbox::open(&state_dir.join(OUTBOX_FILE)).await?;
        let (stop, stop_rx) = watch::channel(false);
        let until_stop = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let tasks = vec![
            tokio::spawn(run_replayer(outbox.clone(), store.clone(), until_stop(stop_rx.clone()))),
            tokio::spawn(run_retention(store.clone(), cfg.crm.retention_days, until_stop(stop_rx))),
        ];
        Ok(Crm {
            store,
            outbox,
            node: Arc::from(cfg.node.id.as_str()),
            deadline: Duration::from_millis(cfg.crm.lookup_deadline_ms),
            reuse_window: Duration::from_secs(cfg.crm.reuse_window_secs),
            stop,
            tasks,
            rt: tokio::runtime::Handle::current(),
        })
    }

    /// Does what the core asked. Never blocks: lookups run in a task; outbox pushes are queued.
    pub fn handle(&self, effect: Effect, answers: &ControlTx) {
        match effect {
            Effect::Lookup(l) => self.spawn_lookup(l, answers.clone()),
            Effect::Timeline { token, kind, leg, detail } => {
                let Ok(case) = token.parse::<CaseToken>() else {
                    debug!("timeline entry for an invalid token dropped");
                    return;
                };
                let mut ev = TimelineEvent::new(case, &self.node, SystemTime::now(), kind_of(kind), detail);
                if let Some(leg) = leg {
                    ev = ev.with_leg(&leg);
                }
                if let Err(e) = self.outbox.push(OutboxRecord::Event(ev)) {
                    warn!(error = %e, "timeline entry could not be queued");
                }
            }
        }
    }

    fn spawn_lookup(&self, l: CaseLookup, answers: ControlTx) {
        let store = self.store.clone();
        let outbox = self.outbox.clone();
        let node = self.node.clone();
        let deadline = self.deadline;
        // Anonymous callers have no history to reuse: always a new case.
        let (caller, window) = match &l.caller {
            Some(c) => (c.clone(), self.reuse_window),
            None => ("anonymous".to_owned(), Duration::ZERO),
        };
        self.rt.spawn(async move {
            let call = IncomingCall {
                caller: &caller,
                called: &l.called,
                administration: &l.administration,
                topic: l.topic.as_deref(),
                call_id: &l.call_id,
                at: SystemTime::now(),
            };
            let found = tokio::time::timeout(deadline, store.on_incoming(&call, window)).await;
            let info = match found {
                Ok(Ok(r)) => CaseInfo { token: r.token.to_string(), caller_known: r.caller_known, open_cases: r.open_cases },
                outcome => {
                    match outcome {
                        Ok(Err(e)) => debug!(error = %e, "case lookup failed; minting a token"),
                        _ => debug!("case lookup past its deadline; minting a token"),
                    }
                    match CaseToken::mint(&node) {
                        Ok(token) => {
                            if let Err(e) = outbox.push(OutboxRecord::OpenCase(OpenCase::from_call(&call, token.clone(), &node))) {
                                warn!(error = %e, "new case could not be queued");
                            }
                            CaseInfo { token: token.to_string(), caller_known: false, open_cases: 0 }
                        }
                        Err(e) => {
                            warn!(error = %e, "cannot mint a case token");
                            CaseInfo { token: String::new(), caller_known: false, open_cases: 0 }
                        }
                    }
                }
            };
            let _ = answers.send(Control::Case(l.tx, info)).await;
        });
    }

    /// Records still waiting in the outbox.
    pub fn pending(&self) -> u64 {
        self.outbox.pending()
    }

    /// Stops the background tasks after flushing what is queued to disk.
    pub async fn stop(self) {
        if let Err(e) = self.outbox.flush().await {
            warn!(error = %e, "outbox flush at shutdown failed");
        }
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}
