//! systemd's notify protocol (`sd_notify(3)`) without libsystemd: datagrams of `KEY=VALUE`
//! lines sent to the Unix socket named by `$NOTIFY_SOCKET` (a path, or an abstract socket when
//! it starts with `@`). Everything here is a no-op when the variable is unset, so the daemon
//! behaves the same in a terminal, under a test harness or under another supervisor.
//!
//! What urpd sends and when (see `run.rs`):
//! * `READY=1` once the listeners are bound, the users and registrations are loaded (and the
//!   dial plan, when there is one: see the `READY` hook in `run.rs`);
//! * `STATUS=serving: N registrations, M calls` when those numbers change;
//! * `RELOADING=1` … `READY=1` around a SIGHUP reload;
//! * `STOPPING=1` when SIGTERM/SIGINT starts the drain;
//! * `WATCHDOG=1` every half of `$WATCHDOG_USEC`, **from the core's event loop**, so a loop
//!   that is stuck stops the pings and systemd restarts the service. Only when
//!   `$WATCHDOG_PID` is unset or names this process.
//!
//! Sends never block: the socket is non-blocking and a failed send is logged once at debug
//! level and otherwise ignored (the notify socket is advisory; a full queue must not stall
//! call processing).

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;
use tracing::debug;

/// A handle on the service manager's notify socket (or nothing, outside systemd).
#[derive(Debug, Default)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
    last_status: String,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` from the environment.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        Notifier::new(socket.as_deref().and_then(|s| s.to_str()), usec.as_deref(), pid.as_deref(), std::process::id())
    }

    /// Builds a notifier from the variables' values (`None` = unset); `my_pid` is this
    /// process's id. Exposed for tests.
    pub fn new(socket: Option<&str>, watchdog_usec: Option<&str>, watchdog_pid: Option<&str>, my_pid: u32) -> Notifier {
        let target = socket.filter(|s| !s.is_empty()).and_then(|s| match open(s) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(socket = s, error = %e, "NOTIFY_SOCKET unusable; not notifying systemd");
                None
            }
        });
        let for_us = watchdog_pid.is_none_or(|p| p.trim().parse::<u32>().ok() == Some(my_pid));
        let watchdog = watchdog_usec
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us && target.is_some())
            .map(Duration::from_micros);
        Notifier { target, watchdog, last_status: String::new() }
    }

    /// Whether a notify socket is configured.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often to send `WATCHDOG=1` (half of `$WATCHDOG_USEC`), when the watchdog is on.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| (w / 2).max(Duration::from_millis(1)))
    }

    /// Sends raw `KEY=VALUE` lines.
    pub fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                debug!(error = %e, "sd_notify send failed");
            }
        }
    }

    /// `READY=1` with a status line.
    pub fn ready(&mut self, status: &str) {
        self.last_status = status.to_owned();
        self.send(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id()));
    }

    /// `STATUS=…`, only when it differs from the last one sent.
    pub fn status(&mut self, status: &str) {
        if self.enabled() && status != self.last_status {
            self.last_status = status.to_owned();
            self.send(&format!("STATUS={status}"));
        }
    }

    /// `RELOADING=1` (follow with [`Notifier::ready`] when the reload is done).
    pub fn reloading(&mut self) {
        self.last_status = "reloading".into();
        self.send("RELOADING=1\nSTATUS=reloading");
    }

    /// `STOPPING=1`.
    pub fn stopping(&mut self) {
        self.last_status = "stopping: finishing transactions in progress".into();
        self.send("STOPPING=1\nSTATUS=stopping: finishing transactions in progress");
    }

    /// `WATCHDOG=1`, when the watchdog is on.
    pub fn watchdog(&self) {
        if self.watchdog.is_some() {
            self.send("WATCHDOG=1");
        }
    }
}

fn open(path: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = if let Some(name) = path.strip_prefix('@') {
        abstract_addr(name.as_bytes())?
    } else if path.starts_with('/') {
        SocketAddr::from_pathname(path)?
    } else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "NOTIFY_SOCKET is neither an absolute path nor @abstract"));
    };
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    Ok((sock, addr))
}

#[cfg(target_os = "linux")]
fn abstract_addr(name: &[u8]) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(target_os = "linux"))]
fn abstract_addr(_name: &[u8]) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "abstract sockets need Linux"))
}

/// The `STATUS=` line for a serving node.
pub fn serving_status(registrations: usize, calls: usize) -> String {
    format!("serving: {registrations} registration{}, {calls} call{} in progress", plural(registrations), plural(calls))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn unset_is_a_noop() {
        let n = Notifier::new(None, Some("2000000"), None, 1);
        assert!(!n.enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.send("READY=1");
    }

    #[test]
    fn path_socket_gets_datagrams() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("{e}"));
        server.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut n = Notifier::new(path.to_str(), Some("3000000"), None, 7);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(1500)));
        n.ready("serving");
        assert!(recv(&server).starts_with("READY=1\nSTATUS=serving"));
        n.status("serving");
        n.status("other");
        assert_eq!(recv(&server), "STATUS=other", "unchanged status must not be resent");
        n.watchdog();
        assert_eq!(recv(&server), "WATCHDOG=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_gets_datagrams() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("urpd-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let server = UnixDatagram::bind_addr(&addr).unwrap_or_else(|e| panic!("{e}"));
        server.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut n = Notifier::new(Some(&format!("@{name}")), None, None, 1);
        n.stopping();
        assert!(recv(&server).starts_with("STOPPING=1"));
    }

    #[test]
    fn watchdog_pid_must_be_ours() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("notify");
        let _server = UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(Notifier::new(path.to_str(), Some("1000000"), Some("4242"), 1).watchdog_interval().is_none());
        assert!(Notifier::new(path.to_str(), Some("1000000"), Some("4242"), 4242).watchdog_interval().is_some());
        assert!(Notifier::new(path.to_str(), Some("0"), None, 1).watchdog_interval().is_none());
    }

    #[test]
    fn status_text() {
        assert_eq!(serving_status(1, 0), "serving: 1 registration, 0 calls in progress");
    }
}
