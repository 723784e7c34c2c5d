//! The local admin socket (`<state_dir>/admin.sock`, mode 0600): how CLI commands reach a
//! running daemon. One JSON object per line each way. Never a TCP port: only local users with
//! file access to the state directory can talk to it.
//!
//! Protocol (one line each way, any number of requests per connection):
//!
//! | request | answer |
//! |---|---|
//! | `{"cmd":"status"}` | `{"ok":true,"status":{…}}`, a [`StatusReport`] |
//! | `{"cmd":"registrations","aor":null}` / `"aor":"alice"` | `{"ok":true,"registrations":[…]}`, [`RegistrationEntry`]s |
//! | `{"cmd":"reload-users"}` | `{"ok":true,"users":N}` |
//!
//! Failures are `{"ok":false,"error":"…"}`. The metrics endpoint asks the core the same
//! `status` question over the same in-process channel, so `urpd status` and a Prometheus
//! scrape can never disagree.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::control::{Control, ControlTx};
use crate::proxy::stats::Stats;
use crate::proxy::Core;

/// A request on the admin socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum AdminRequest {
    /// Re-read users from the state database now.
    ReloadUsers,
    /// Node status.
    Status,
    /// Current registrations, optionally of one AOR.
    Registrations {
        /// Only this AOR.
        aor: Option<String>,
    },
    /// Load and validate the dial plans and swap them in if they are valid.
    DialplanReload,
}

/// The answer to `status`: what `urpd status` prints and the metrics endpoint exposes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatusReport {
    /// `[node] id`.
    pub node: String,
    /// urpd's version.
    pub version: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// Bound SIP listeners, `udp:IP:PORT` / `tcp:IP:PORT`.
    pub listen: Vec<String>,
    /// The metrics endpoint, when enabled.
    pub metrics: Option<String>,
    /// Users (digest accounts) known.
    pub users: usize,
    /// Registered contacts (bindings), all AORs.
    pub registrations: usize,
    /// AORs with at least one contact.
    pub registered_aors: usize,
    /// Open server transactions.
    pub server_transactions: usize,
    /// Open client transactions.
    pub client_transactions: usize,
    /// Requests being proxied (INVITEs: calls being set up or ringing).
    pub calls_in_progress: usize,
    /// Open TCP connections, in and out (the count `[transport] max_tcp_connections` limits).
    #[serde(default)]
    pub tcp_connections: usize,
    /// Whether the node is draining after SIGTERM.
    pub draining: bool,
    /// Counters since start.
    pub counters: Counters,
}

/// Counters since start, with names instead of array positions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Requests received by method (`INVITE`, `REGISTER`, `OPTIONS`, `other`).
    pub requests: BTreeMap<String, u64>,
    /// Responses sent or forwarded, by class (`1xx` … `6xx`).
    pub responses: BTreeMap<String, u64>,
    /// Messages that failed to parse or validate.
    pub parse_errors: u64,
    /// Failed digest authentications.
    pub auth_failures: u64,
    /// Requests dropped by the per-IP rate limiter.
    pub rate_limited: u64,
    /// Successful REGISTERs.
    pub registers_ok: u64,
    /// REGISTER retransmissions answered again.
    #[serde(default)]
    pub register_retransmissions: u64,
    /// Requests proxied.
    pub proxied: u64,
    /// Moderation waits before reading UDP again after a busy wake-up.
    #[serde(default)]
    pub udp_batch_waits: u64,
}

impl From<&Stats> for Counters {
    fn from(s: &Stats) -> Counters {
        let methods = ["INVITE", "REGISTER", "OPTIONS", "other"];
        Counters {
            requests: methods.iter().zip(s.requests).map(|(m, n)| ((*m).to_owned(), n)).collect(),
            responses: (1..=6).zip(s.responses).map(|(c, n)| (format!("{c}xx"), n)).collect(),
            parse_errors: s.parse_errors,
            auth_failures: s.auth_failures,
            rate_limited: s.rate_limited,
            registers_ok: s.registers_ok,
            register_retransmissions: s.register_retransmissions,
            proxied: s.proxied,
            udp_batch_waits: s.udp_batch_waits,
        }
    }
}

/// What the daemon knows about itself that the core does not (filled in by `run.rs`).
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// `[node] id`.
    pub node: String,
    /// Bound SIP listeners.
    pub listen: Vec<String>,
    /// The metrics endpoint, when enabled.
    pub metrics: Option<String>,
    /// When the daemon started.
    pub started: Option<std::time::Instant>,
    /// Open TCP connections (the transport's count).
    pub tcp_connections: crate::transport::hub::ConnectionGauge,
}

impl StatusReport {
    /// Builds the report from the core's state (cheap: counts and a copy of the counters).
    pub fn build(core: &Core, info: &NodeInfo, users: usize, draining: bool) -> StatusReport {
        let (server_transactions, client_transactions, calls_in_progress) = core.load();
        StatusReport {
            node: info.node.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_secs: info.started.map_or(0, |s| s.elapsed().as_secs()),
            listen: info.listen.clone(),
            metrics: info.metrics.clone(),
            users,
            registrations: core.location().len(),
            registered_aors: core.location().aors().count(),
            server_transactions,
            client_transactions,
            calls_in_progress,
            tcp_connections: info.tcp_connections.get(),
            draining,
            counters: Counters::from(&core.stats),
        }
    }
}

/// One registered contact in the answer to `registrations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationEntry {
    /// The AOR (user part).
    pub aor: String,
    /// The registered Contact URI.
    pub contact: String,
    /// Seconds until it lapses.
    pub expires_in: u64,
    /// Preference in thousandths (1000 = q 1.0).
    pub q: u16,
    /// The flow it registered over, `udp:IP:PORT`.
    pub received: String,
    /// The phone's `User-Agent`.
    pub user_agent: Option<String>,
}

/// The live registrations, of one AOR or all, sorted by AOR then contact.
pub fn registrations(core: &Core, aor: Option<&str>, now_unix: u64) -> Vec<RegistrationEntry> {
    let mut list: Vec<_> = core
        .location()
        .all()
        .filter(|b| aor.is_none_or(|a| &*b.aor == a))
        .filter(|b| b.expires_at > now_unix)
        .map(|b| RegistrationEntry {
            aor: b.aor.to_string(),
            contact: b.contact.to_string(),
            expires_in: b.expires_at.saturating_sub(now_unix),
            q: b.q,
            received: b.received.to_string(),
            user_agent: b.user_agent.as_deref().map(str::to_owned),
        })
        .collect();
    list.sort_by(|a, b| (&a.aor, &a.contact).cmp(&(&b.aor, &b.contact)));
    list
}

/// A command for the core, with where to send the answer.
pub struct AdminCommand {
    /// What was asked.
    pub request: AdminRequest,
    /// Where the JSON answer goes.
    pub reply: oneshot::Sender<serde_json::Value>,
}

/// The socket path inside a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("admin.sock")
}

/// Binds the admin socket (replacing a stale one) and serves it until the process ends.
pub fn serve(state_dir: &Path, commands: ControlTx) -> std::io::Result<()> {
    let path = socket_path(state_dir);
    if path.exists() {
        // A live daemon on the same state dir would answer; a dead one left its socket behind.
        if std::os::unix::net::UnixStream::connect(&path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another urpd is running with state directory {}", state_dir.display()),
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    let listener = UnixListener::bind(&path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(handle(stream, commands.clone()));
                }
                Err(e) => {
                    warn!(error = %e, "admin socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn handle(stream: UnixStream, commands: ControlTx) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match serde_json::from_str::<AdminRequest>(&line) {
            Ok(request) => {
                let (tx, rx) = oneshot::channel();
                if commands.send(Control::Admin(AdminCommand { request, reply: tx })).await.is_err() {
                    break;
                }
                rx.await.unwrap_or_else(|_| serde_json::json!({"ok": false, "error": "daemon is stopping"}))
            }
            Err(e) => serde_json::json!({"ok": false, "error": format!("bad request: {e}")}),
        };
        let mut text = answer.to_string();
        text.push('\n');
        if wr.write_all(text.as_bytes()).await.is_err() {
            break;
        }
    }
    debug!("admin client gone");
}

/// Sends one request to a running daemon; `Ok(None)` when no daemon listens there.
pub async fn request(state_dir: &Path, req: &AdminRequest) -> std::io::Result<Option<serde_json::Value>> {
    let path = socket_path(state_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (rd, mut wr) = stream.into_split();
    let mut text = serde_json::to_string(req).map_err(std::io::Error::other)?;
    text.push('\n');
    wr.write_all(text.as_bytes()).await?;
    let mut lines = BufReader::new(rd).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "daemon did not answer"))??;
    match line {
        Some(l) => serde_json::from_str(&l).map(Some).map_err(std::io::Error::other),
        None => Ok(None),
    }
}
