//! `urpd run`: wires the layers together and drives the sans-IO core from tokio. One task owns
//! the core (no locks on the hot path), on a thread and a current-thread runtime of its own,
//! with the sockets: it reads UDP itself, the TCP connection tasks run beside it, and its own
//! timers are a `timerfd` (alarm.rs says why), so that with no TCP timer pending the loop
//! sleeps in `epoll_wait` without a timeout. Everything else that needs timers or may block
//! runs on the process's main runtime and talks to the core over channels: the admin socket
//! and metrics, signals, the binding writer, user reloads and the CRM.
//!
//! Shutdown on SIGTERM/SIGINT: new requests get 503, transactions and calls in progress may
//! finish (bounded wait), pending binding writes are flushed, exit 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

use super::admin::{self, AdminRequest, NodeInfo, StatusReport};
use super::alarm::Alarm;
use super::config::{parse_nets, Config, ConfigError, Listen};
use super::control::{Control, ControlTx, Sig, INBOX};
use super::metrics;
use super::notify::{serving_status, Notifier};
use super::persist::{self, ChangeQueue};
use super::plans;
use super::users::UserCache;
use crate::auth::{Algorithm, AuthConfig, Authenticator};
use crate::proxy::{CaseConfig, Core, CoreConfig, Identity, Now};
use crate::registrar::{ExpiryPolicy, LocationTable};
use crate::state::{StateDb, StateError};
use crate::transaction::{TimerConfig, TransactionLayer};
use crate::transport::{Limits, Moderation, NetList, Protocol, TransportError, TransportEvent, TransportHub};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not be bound.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The state database could not be opened or read.
    #[error("state database: {0}")]
    State(#[from] StateError),
    /// Another I/O failure (admin socket, signals).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The CRM store or its outbox could not be opened.
    #[error("CRM: {0}")]
    Crm(#[from] crate::crm::CrmError),
    /// The dial plans have errors (each line `file:line:column: error: message`).
    #[error("dial plans refused:\n{}", .0.join("\n"))]
    Dialplan(Vec<String>),
    /// The core's thread ended without returning (a panic, printed on stderr).
    #[error("the SIP core's thread stopped unexpectedly")]
    CoreLost,
}

/// After this many turns in a row won by UDP, one turn polls every other source first.
const UDP_FAIRNESS: u32 = 16;

/// How long in-progress transactions may take to finish after SIGTERM.
const DRAIN_LIMIT: Duration = Duration::from_secs(32);

/// Runs the node until SIGTERM/SIGINT.
pub async fn run(cfg: Config, state_dir: PathBuf, listens: Vec<Listen>) -> Result<(), DaemonError> {
    let now = Now::system();
    // systemd's notify socket (no-op outside systemd); see notify.rs for what is sent when.
    let mut notifier = Notifier::from_env();
    let db = Arc::new(StateDb::open(&state_dir).await?);

    let users = UserCache::new();
    reload_users(db.clone(), users.clone()).await?;
    let mut location = LocationTable::with_max_contacts(cfg.registrar.max_contacts);
    location.load(db.load_bindings(now.unix).await?, now.unix);
    // Bindings that lapsed while the node was down are never removed by the registrar (it never
    // held them): drop their rows once at start. Failing to is not a reason not to start.
    match db.purge_expired(now.unix).await {
        Ok(0) => {}
        Ok(n) => info!(rows = n, "lapsed registrations removed from the state file"),
        Err(e) => warn!(error = %e, "removing lapsed registrations failed"),
    }

    let (ev_tx, ev_rx) = mpsc::channel::<TransportEvent>(16_384);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let limits = Limits {
        max_message_size: cfg.transport.max_message_size,
        tcp_idle_timeout: Duration::from_secs(cfg.transport.tcp_idle_timeout_secs),
        max_tcp_connections: cfg.transport.max_tcp_connections,
        tcp_send_queue_bytes: cfg.transport.tcp_send_queue_bytes,
    };
    let binds: Vec<_> = listens.iter().map(|l| (l.protocol, l.addr)).collect();
    // The core's runtime (see alarm.rs for why its timers are not tokio's). Built now so that
    // the sockets are registered with the driver of the thread that will serve them: the UDP
    // sockets the loop reads, and the TCP listeners, whose connection tasks run beside the loop
    // (a TCP message handed to the core from another thread cost ~30% more CPU per REGISTER at
    // 500/s: two more wake-ups per message).
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
    let mut core_rt = CoreRuntime(Some(rt));
    let (hub, tcp_listeners) = {
        let _core = core_rt.0.as_ref().map(tokio::runtime::Runtime::enter);
        TransportHub::bind(&binds, limits, ev_tx, shutdown_rx)?
    };

    // Case answers, admin and metrics commands and signals: one inbox (control.rs).
    let (control_tx, control_rx) = mpsc::channel::<Control>(INBOX);
    admin::serve(&state_dir, control_tx.clone())?;
    // Prometheus endpoint: scrapes ask the core over the same channel as the admin socket.
    let metrics_addr = match cfg.metrics.addr()? {
        Some(addr) => {
            let listener = metrics::bind(addr).await?;
            let bound = listener.local_addr()?;
            metrics::spawn(listener, control_tx.clone());
            Some(bound)
        }
        None => None,
    };

    let algorithms = cfg.auth.algorithms.iter().filter_map(|a| Algorithm::parse(a).ok()).collect();
    let mut auth_cfg = AuthConfig::new(cfg.node.realm.clone());
    auth_cfg.algorithms = algorithms;
    auth_cfg.nonce_ttl_secs = cfg.auth.nonce_ttl_secs;
    let core_cfg = CoreConfig {
        server_header: cfg.sip.server_header.clone().into(),
        expiry: ExpiryPolicy { min: cfg.registrar.min_expires, max: cfg.registrar.max_expires, default: cfg.registrar.default_expires },
        timer_c: Duration::from_secs(cfg.proxy.timer_c_secs),
        record_route: cfg.proxy.record_route,
        trusted: NetList::new(parse_nets(&cfg.auth.trusted_peers, "auth.trusted_peers")?),
        outbound_allow: NetList::new(parse_nets(&cfg.transport.outbound_allow, "transport.outbound_allow")?),
        rate_limit: (cfg.transport.rate_limit_per_ip, cfg.transport.rate_limit_burst),
        cases: cfg.crm.enabled.then(|| CaseConfig { console_url: cfg.crm.console_url.clone(), node_id: cfg.node.id.clone() }),
    };
    let timers = TimerConfig {
        t1: Duration::from_millis(cfg.timers.t1_ms),
        t2: Duration::from_millis(cfg.timers.t2_ms),
        t4: Duration::from_millis(cfg.timers.t4_ms),
    };
    let identity = Identity::new(hub.local_addrs(), cfg.node.domains.clone());
    let mut core = Core::new(
        core_cfg,
        identity,
        TransactionLayer::new(timers),
        location,
        Authenticator::new(auth_cfg),
        users.clone(),
        hub.flows(),
        now,
    );
    // Dial plans are loaded and validated before READY: a node never serves without routing.
    let (plan_dir, plan_dir_named) = cfg.dialplan.resolve();
    let loaded = plans::load(&plan_dir, plan_dir_named, &users).map_err(DaemonError::Dialplan)?;
    for w in &loaded.warnings {
        warn!("{w}");
    }
    info!(dir = %plan_dir.display(), files = loaded.files, "dial plans loaded");
    core.set_plans(loaded.set);

    // Binding writes go to the database off the hot path, in order, batched.
    let to_persist = Arc::new(ChangeQueue::default());
    let (persist_stop, persist_stopped) = tokio::sync::oneshot::channel::<()>();
    for w in cfg.registrar.warnings() {
        warn!("{w}");
    }
    let refresh_delay = Duration::from_secs(u64::from(cfg.registrar.refresh_write_secs));
    let writer = tokio::spawn(persist::persist(db.clone(), to_persist.clone(), refresh_delay, persist_stopped));
    // Users changed by another process are noticed even without the admin poke.
    let watcher = tokio::spawn(watch_users(db.clone(), users.clone()));

    // The CRM: store (lazy: a database down at start does not stop the node), durable outbox
    // and its replayer, daily retention. Lookups run in tasks and come back to the inbox.
    let crm = if cfg.crm.enabled { Some(super::cases::Crm::start(&cfg, &state_dir).await?) } else { None };

    let addrs: Vec<String> = hub.local_addrs().iter().map(|(p, a)| format!("{p}:{a}")).collect();
    info!(node = %cfg.node.id, listen = %addrs.join(" "), metrics = %metrics_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()), users = users.len(), bindings = core.location().len(), "urpd ready");
    let info = NodeInfo {
        node: cfg.node.id.clone(),
        listen: addrs,
        metrics: metrics_addr.map(|a| a.to_string()),
        started: Some(std::time::Instant::now()),
        tcp_connections: hub.connection_gauge(),
    };
    // READY=1: listeners bound, users, registrations and dial plans loaded.
    notifier.ready(&serving_status(core.location().len(), core.load().2));
    forward_signals(control_tx.clone())?;

    // The core gets a thread and a runtime of its own, whose timer wheel holds only TCP's
    // (far) timeouts, so that it sleeps in epoll_wait without a near timeout (alarm.rs says
    // why); the database writers, the CRM, admin and metrics stay on this runtime.
    let core_loop = CoreLoop {
        moderation: Moderation::new(Duration::from_micros(cfg.transport.udp_batch_wait_us)),
        core,
        hub,
        tcp_listeners,
        ev_rx,
        control_rx,
        control_tx: control_tx.clone(),
        notifier,
        crm,
        to_persist: to_persist.clone(),
        db: db.clone(),
        users: users.clone(),
        plan_dir,
        plan_dir_named,
        info,
        node_id: cfg.node.id.clone(),
        bg: tokio::runtime::Handle::current(),
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let core_rt = core_rt.0.take().ok_or(DaemonError::CoreLost)?;
    std::thread::Builder::new().name("urpd-core".to_owned()).spawn(move || {
        let _ = done_tx.send(core_rt.block_on(core_loop.run()));
        // The runtime is dropped here, on its own thread, after the loop's sockets.
    })?;
    let crm = match done_rx.await {
        Ok(r) => r?,
        // The thread ended without an answer: it panicked (the panic was printed).
        Err(_) => return Err(DaemonError::CoreLost),
    };
    let _ = shutdown_tx.send(true);
    if let Some(crm) = crm {
        crm.stop().await;
    }
    let _ = persist_stop.send(());
    if tokio::time::timeout(Duration::from_secs(5), writer).await.is_err() {
        warn!("binding writes did not finish in time");
    }
    let _ = std::fs::remove_file(admin::socket_path(&state_dir));
    watcher.abort();
    let _ = watcher.await;
    if let Ok(db) = Arc::try_unwrap(db) {
        if let Err(e) = db.close().await {
            warn!(error = %e, "closing the state database");
        }
    }
    info!("urpd stopped");
    Ok(())
}

/// Listens for the signals in a task of its own and hands them to the core's inbox: the core's
/// `select!` then polls one receiver per turn instead of three signal futures (~700
/// instructions a turn, callgrind).
fn forward_signals(tx: ControlTx) -> Result<(), std::io::Error> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            let sig = tokio::select! {
                Some(()) = term.recv() => Sig::Stop("SIGTERM"),
                Some(()) = int.recv() => Sig::Stop("SIGINT"),
                Some(()) = hup.recv() => Sig::Reload,
                else => return,
            };
            if tx.send(Control::Signal(sig)).await.is_err() {
                return;
            }
        }
    });
    Ok(())
}

/// Hands what UDP socket `i` has (up to a burst) to the core, all stamped with one `now`;
/// tells `moderation` what the drain read and gives its answer: how long to leave UDP alone.
fn read_udp(udp_in: &mut crate::transport::UdpInput, core: &mut Core, moderation: &mut Moderation, i: usize) -> Option<Duration> {
    let now = Now::system();
    let drained = udp_in.drain(i, |data, peer, local| core.handle_message(now, data, peer, local, false));
    moderation.after_drain(now.mono, drained)
}

fn handle_event(core: &mut Core, ev: TransportEvent) {
    let now = Now::system();
    match ev {
        TransportEvent::Message { data, peer, local, framed } => core.handle_message(now, data, peer, local, framed),
        TransportEvent::Unreachable(peer) => core.handle_unreachable(now, peer),
    }
}

/// Reloads the credential cache on a blocking-pool thread, not on the core's: with 100k users
/// the query, the row conversion and the new map take ~250 ms, and on the core's thread that
/// stalled SIP for as long (measured: answers up to 255 ms late at 2,000 REGISTER/s during a
/// `urpd user add`). Callers in the core loop spawn it rather than await it, for the same reason.
async fn reload_users(db: Arc<StateDb>, users: Arc<UserCache>) -> Result<usize, StateError> {
    let handle = tokio::runtime::Handle::current();
    // The main thread drives the runtime's timers and I/O (Runtime::block_on), so the future
    // can run to completion on this other thread.
    tokio::task::spawn_blocking(move || {
        handle.block_on(async {
            let all = db.load_all_credentials().await?;
            let n = all.len();
            users.replace(all);
            Ok(n)
        })
    })
    .await
    .map_err(|e| StateError::Worker(e.to_string()))?
}

async fn watch_users(db: Arc<StateDb>, users: Arc<UserCache>) {
    // Only user changes move this version; the daemon's own binding writes do not.
    let mut last = db.users_version().await.unwrap_or(0);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        match db.users_version().await {
            Ok(v) if v != last => {
                last = v;
                if let Err(e) = reload_users(db.clone(), users.clone()).await {
                    warn!(error = %e, "user reload failed");
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "state database check failed"),
        }
    }
}

/// Reloads the dial plans; a refused set leaves the running one in service. Calls in progress
/// keep the decision they were routed with (it lives in their proxy state).
fn reload_plans(core: &mut Core, dir: &std::path::Path, named: bool, users: &UserCache) -> serde_json::Value {
    match plans::load(dir, named, users) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                warn!("{w}");
            }
            core.set_plans(loaded.set);
            metrics::record_dialplan_reload(true);
            info!(dir = %dir.display(), files = loaded.files, "dial plans reloaded");
            serde_json::json!({"ok": true, "files": loaded.files, "warnings": loaded.warnings})
        }
        Err(errors) => {
            metrics::record_dialplan_reload(false);
            for e in &errors {
                error!("{e}");
            }
            error!(dir = %dir.display(), "dial-plan reload refused; the previous plans stay in service");
            serde_json::json!({"ok": false, "errors": errors})
        }
    }
}

fn admin_answer(core: &mut Core, users: &Arc<UserCache>, req: &AdminRequest, info: &NodeInfo, draining: bool) -> serde_json::Value {
    match req {
        AdminRequest::Status => serde_json::json!({"ok": true, "status": StatusReport::build(core, info, users.len(), draining)}),
        AdminRequest::Registrations { aor } => {
            serde_json::json!({"ok": true, "registrations": admin::registrations(core, aor.as_deref(), Now::system().unix)})
        }
        AdminRequest::ReloadUsers | AdminRequest::DialplanReload => {
            serde_json::json!({"ok": false, "error": "handled by the core loop"})
        }
    }
}

/// The core's runtime until its thread takes it. A start that fails before (a port taken, a
/// broken dial plan) drops it here, inside the main runtime's task, where a plain drop would
/// panic (it waits for its blocking pool): it is shut down in the background instead.
struct CoreRuntime(Option<tokio::runtime::Runtime>);

impl Drop for CoreRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// What the core's thread owns: the core itself, the sockets it reads, its inboxes, and
/// handles on what lives on the other runtime (`bg`).
struct CoreLoop {
    core: Core,
    hub: TransportHub,
    tcp_listeners: Vec<tokio::net::TcpListener>,
    ev_rx: mpsc::Receiver<TransportEvent>,
    control_rx: mpsc::Receiver<Control>,
    control_tx: ControlTx,
    notifier: Notifier,
    crm: Option<super::cases::Crm>,
    to_persist: Arc<ChangeQueue>,
    db: Arc<StateDb>,
    users: Arc<UserCache>,
    plan_dir: PathBuf,
    plan_dir_named: bool,
    info: NodeInfo,
    node_id: String,
    /// The main runtime, for what the loop starts that may block (user reloads).
    bg: tokio::runtime::Handle,
    /// When to leave UDP alone for a moment after a busy wake-up.
    moderation: Moderation,
}

impl CoreLoop {
    /// Serves until drained after SIGTERM/SIGINT, or until the transport's channel closes;
    /// hands the CRM back for its orderly stop on the other runtime.
    async fn run(self) -> Result<Option<super::cases::Crm>, DaemonError> {
        let CoreLoop {
            mut core,
            hub,
            tcp_listeners,
            mut ev_rx,
            mut control_rx,
            control_tx,
            mut notifier,
            crm,
            to_persist,
            db,
            users,
            plan_dir,
            plan_dir_named,
            info,
            node_id,
            bg,
            mut moderation,
        } = self;
        // UdpInput holds raw recvmmsg buffers: it is made here, on the thread that uses it; the
        // TCP accept tasks start on this runtime too.
        let mut udp_in = hub.start(tcp_listeners);
        // On the main runtime: a timer on this one would give the core's sleep a timeout.
        bg.spawn(hub.idle_sweep());
        let mut alarm = Alarm::new()?;
        // A moderation wait (transport::moderation) asked for by the last turn.
        let mut udp_wait: Option<Duration> = None;
        let mut drain_deadline: Option<Instant> = None;
        // Watchdog pings and STATUS= updates come from this loop (a stuck loop stops them).
        let notify_every = notifier.watchdog_interval().unwrap_or(Duration::from_secs(5));
        let mut notify_next = notifier.enabled().then(|| Instant::now() + notify_every);
        // Consecutive turns that UDP won (see the `select!` below).
        let mut udp_turns = 0u32;
        loop {
            if let Some(wait) = udp_wait.take() {
                core.stats.udp_batch_waits += 1;
                // The thread sleeps: a wait in `select!` (a timer branch, UDP's disabled) saved
                // nothing, because every datagram arriving meanwhile still woke the thread from
                // `epoll_wait` (edge-triggered: one event per arrival once the last was taken).
                // Asleep, the thread is woken once; what came meanwhile is read in one batch.
                // The last turn's answers left before this (the flush below); timers, TCP and
                // signals wait at most `wait` too, well within their own grain (10 ms).
                std::thread::sleep(wait);
            }
            let wake = [core.poll_timeout(), drain_deadline, notify_next].into_iter().flatten().min();
            if let Err(e) = alarm.arm(wake) {
                // Cannot happen with a valid timerfd; without it timers would stop: say so loudly.
                error!(error = %e, "arming the core's timer failed");
            }
            // UDP is polled first, and when it is ready nothing else is: an unbiased `select!`
            // polled all eight branches on every datagram wake-up (the three signal futures alone
            // were ~1.7% of a REGISTER's instructions, callgrind). The other sources keep the
            // wakers they registered when last polled, so they still wake the loop; and so that a
            // socket that never runs dry cannot starve them (timers, TCP, SIGTERM), every
            // `UDP_FAIRNESS`-th turn in a row polls UDP last. The rare sources (timers, signals,
            // admin, case answers) come before the stream messages: handling one makes it not ready
            // again, so none of them can starve TCP, while a TCP flood could starve them.
            let udp_first = udp_turns < UDP_FAIRNESS;
            tokio::select! {
                biased;
                i = udp_in.readable(), if udp_first => {
                    udp_turns += 1;
                    udp_wait = read_udp(&mut udp_in, &mut core, &mut moderation, i);
                }
                () = alarm.fired() => {
                    let now = Now::system();
                    if notify_next.is_some_and(|t| now.mono >= t) {
                        notifier.watchdog();
                        if drain_deadline.is_none() {
                            notifier.status(&serving_status(core.location().len(), core.load().2));
                        }
                        notify_next = Some(now.mono + notify_every);
                    }
                    core.handle_timeout(now);
                }
                Some(control) = control_rx.recv() => match control {
                    Control::Case(tx, info) => core.handle_case(Now::system(), tx, info),
                    Control::Admin(cmd) => {
                        match cmd.request {
                            AdminRequest::DialplanReload => {
                                let _ = cmd.reply.send(reload_plans(&mut core, &plan_dir, plan_dir_named, &users));
                            }
                            AdminRequest::ReloadUsers => {
                                // The CLI waits for its answer; SIP traffic does not.
                                let (db2, users2, reply) = (db.clone(), users.clone(), cmd.reply);
                                bg.spawn(async move {
                                    let answer = match reload_users(db2, users2).await {
                                        Ok(n) => serde_json::json!({"ok": true, "users": n}),
                                        Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}),
                                    };
                                    let _ = reply.send(answer);
                                });
                            }
                            ref other => {
                                let answer = admin_answer(&mut core, &users, other, &info, drain_deadline.is_some());
                                let _ = cmd.reply.send(answer);
                            }
                        }
                    }
                    Control::Signal(sig) => match sig {
                        // A second SIGTERM while draining changes nothing: the drain limit still holds.
                        Sig::Stop(_) if drain_deadline.is_some() => {}
                        Sig::Stop(name) => {
                            info!("{name}: finishing transactions in progress");
                            notifier.stopping();
                            core.start_draining();
                            drain_deadline = Some(Instant::now() + DRAIN_LIMIT);
                        }
                        Sig::Reload => {
                            info!("SIGHUP: reloading users and dial plans");
                            notifier.reloading();
                            // Users reload in the background (see reload_users); the plans' check of user
                            // names may see the previous set for a moment: it only warns.
                            let (db2, users2) = (db.clone(), users.clone());
                            bg.spawn(async move {
                                if let Err(e) = reload_users(db2, users2).await {
                                    warn!(error = %e, "user reload failed");
                                }
                            });
                            let _ = reload_plans(&mut core, &plan_dir, plan_dir_named, &users);
                            notifier.ready(&serving_status(core.location().len(), core.load().2));
                        }
                    },
                },
                ev = ev_rx.recv() => {
                    let Some(ev) = ev else { break };
                    handle_event(&mut core, ev);
                    // Drain what else is queued before going back to sleep: fewer wake-ups under load.
                    for _ in 0..256 {
                        match ev_rx.try_recv() {
                            Ok(ev) => handle_event(&mut core, ev),
                            Err(_) => break,
                        }
                    }
                }
                i = udp_in.readable(), if !udp_first => {
                    udp_turns = 0;
                    udp_wait = read_udp(&mut udp_in, &mut core, &mut moderation, i);
                }
            }
            while let Some(t) = core.poll_transmit() {
                // UDP is batched per wake-up (sendmmsg); streams go to their connection's writer.
                match t.dest.protocol {
                    Protocol::Udp => {
                        if let Err(data) = udp_in.queue(t.dest.addr, t.data) {
                            hub.send(t.dest, data);
                        }
                    }
                    _ => hub.send(t.dest, t.data),
                }
            }
            udp_in.flush();
            while let Some(effect) = core.poll_effect() {
                match &crm {
                    Some(crm) => crm.handle(effect, &control_tx),
                    None => {
                        // No CRM: a lookup still gets an answer, with a case nobody stores.
                        if let crate::proxy::case::Effect::Lookup(l) = effect {
                            core.handle_case(Now::system(), l.tx, super::cases::unstored_case(&node_id));
                        }
                    }
                }
            }
            let changes = core.binding_changes();
            if !changes.is_empty() {
                to_persist.push_from(changes);
            }
            if let Some(d) = drain_deadline {
                if core.is_idle() || Instant::now() >= d {
                    break;
                }
            }
        }
        Ok(crm)
    }
}
