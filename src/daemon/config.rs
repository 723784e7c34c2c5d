//! The node's configuration file (`urpd.toml`): what it listens on, whom it serves, and the
//! limits it enforces. Unknown keys are errors naming the key, so a typo never silently
//! becomes a default. Every field has a default, so an empty file is a working config.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

use crate::transport::Protocol;

/// Why the configuration could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a wrong type.
    #[error("invalid config {path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key's name and position.
        message: String,
    },
    /// A listen address is not `udp:IP:PORT` or `tcp:IP:PORT`.
    #[error("invalid listen address {0:?}: expected udp:IP:PORT or tcp:IP:PORT (IPv6 as [::1])")]
    Listen(String),
    /// A network in an allow-list is not CIDR.
    #[error("invalid network {0:?} in {1}: expected CIDR such as 127.0.0.0/8")]
    Network(String, &'static str),
    /// An auth algorithm is unknown.
    #[error("unknown digest algorithm {0:?} in auth.algorithms (use \"SHA-256\" or \"MD5\")")]
    Algorithm(String),
    /// A value is out of range.
    #[error("invalid value for {0}: {1}")]
    Value(&'static str, String),
}

/// `[node]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// This node's identity (logs, later case tokens).
    pub id: String,
    /// Where the node keeps its state (SQLite file, admin socket).
    pub state_dir: PathBuf,
    /// SIP domains served in addition to every listen address.
    pub domains: Vec<String>,
    /// Digest realm; changing it invalidates stored HA1s.
    pub realm: String,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig { id: "urpd".into(), state_dir: PathBuf::from("state"), domains: Vec::new(), realm: "urpd".into() }
    }
}

/// `[sip]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Listen addresses, `udp:IP:PORT` / `tcp:IP:PORT`.
    pub listen: Vec<String>,
    /// Server / User-Agent header value.
    pub server_header: String,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig { listen: vec!["udp:127.0.0.1:5060".into(), "tcp:127.0.0.1:5060".into()], server_header: "urpd".into() }
    }
}

/// `[transport]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransportConfig {
    /// Largest message accepted, bytes.
    pub max_message_size: usize,
    /// A TCP connection with no traffic for this long is closed.
    pub tcp_idle_timeout_secs: u64,
    /// Most simultaneous TCP connections.
    pub max_tcp_connections: usize,
    /// Most bytes waiting to be written to one TCP connection; past it the connection is closed.
    pub tcp_send_queue_bytes: usize,
    /// Longest time (µs) UDP is left alone after a busy wake-up so the next read finds a batch;
    /// the wait itself follows the arrival rate (`transport::moderation`); 0 turns it off.
    pub udp_batch_wait_us: u64,
    /// Networks this node may send requests to (no open relay).
    pub outbound_allow: Vec<String>,
    /// Requests per second allowed from one source IP before it is throttled (0 = off).
    pub rate_limit_per_ip: u32,
    /// Burst allowance of the per-IP limiter.
    pub rate_limit_burst: u32,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            max_message_size: 65_535,
            tcp_idle_timeout_secs: 120,
            max_tcp_connections: 1024,
            tcp_send_queue_bytes: 1 << 20,
            udp_batch_wait_us: 2000,
            outbound_allow: vec!["127.0.0.0/8".into(), "::1/128".into()],
            rate_limit_per_ip: 0,
            rate_limit_burst: 200,
        }
    }
}

/// `[registrar]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarConfig {
    /// Shortest registration accepted (423 below it).
    pub min_expires: u32,
    /// Longest registration granted (longer requests are shortened).
    pub max_expires: u32,
    /// Registration time when the client asks none.
    pub default_expires: u32,
    /// Most contacts one AOR may register.
    pub max_contacts: usize,
    /// Longest a plain refresh (nothing changed but the expiry) waits before it is written to
    /// the state database; 0 writes it within the second like every other change. What a
    /// crash can lose (docs/operations.md "Registrations across restarts").
    pub refresh_write_secs: u32,
}

/// Upper bound of `refresh_write_secs`: a refresh held longer than a short registration lives
/// would leave the stored row lapsed while the phone is registered.
pub const MAX_REFRESH_WRITE_SECS: u32 = 300;

/// Smallest `transport.tcp_send_queue_bytes` accepted: a few answers' worth.
pub const MIN_TCP_SEND_QUEUE: usize = 4096;

/// Longest `transport.udp_batch_wait_us` accepted (10 ms): past a few milliseconds a wait
/// gathers nothing more worth its delay.
pub const MAX_UDP_BATCH_WAIT_US: u64 = 10_000;

impl RegistrarConfig {
    /// Settings that work but that an operator most likely did not mean, for the log at start.
    /// A refresh held longer than half the shortest registration can outlive the row it
    /// would have renewed: after a crash the node drops a phone that is still registered.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if u64::from(self.refresh_write_secs) * 2 > u64::from(self.min_expires) {
            out.push(format!(
                "registrar.refresh_write_secs = {} is more than half of min_expires = {}: after a crash, phones on the \
                 shortest registrations may be dropped before they refresh (docs/operations.md)",
                self.refresh_write_secs, self.min_expires
            ));
        }
        out
    }
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig { min_expires: 60, max_expires: 7200, default_expires: 3600, max_contacts: 10, refresh_write_secs: 30 }
    }
}

/// `[auth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Digest algorithms offered, most preferred first.
    pub algorithms: Vec<String>,
    /// Lifetime of a nonce.
    pub nonce_ttl_secs: u64,
    /// Networks whose requests are not challenged (peer nodes, gateways by address).
    pub trusted_peers: Vec<String>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection { algorithms: vec!["SHA-256".into(), "MD5".into()], nonce_ttl_secs: 300, trusted_peers: Vec::new() }
    }
}

/// `[proxy]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Timer C: longest wait for a final response to a proxied INVITE.
    pub timer_c_secs: u64,
    /// Whether to Record-Route (keep in-dialog requests flowing through the node).
    pub record_route: bool,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig { timer_c_secs: 180, record_route: true }
    }
}

/// `[timers]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimersConfig {
    /// T1, RTT estimate.
    pub t1_ms: u64,
    /// T2, cap on non-INVITE retransmission interval.
    pub t2_ms: u64,
    /// T4, how long the network may keep a message.
    pub t4_ms: u64,
}

impl Default for TimersConfig {
    fn default() -> Self {
        TimersConfig { t1_ms: 500, t2_ms: 4000, t4_ms: 5000 }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Default level filter (`RUST_LOG` overrides).
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: "text".into() }
    }
}

/// `[metrics]`: the Prometheus endpoint. Off unless `listen` is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `IP:PORT` to serve `GET /metrics` on, e.g. `127.0.0.1:9469`.
    pub listen: Option<String>,
    /// Allow a non-loopback address (the endpoint has no authentication: put it behind a
    /// firewall or reverse proxy).
    pub allow_remote: bool,
}

impl MetricsConfig {
    /// The address to bind, if metrics are on; refuses a non-loopback one unless allowed.
    pub fn addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let Some(text) = self.listen.as_deref() else { return Ok(None) };
        let addr: SocketAddr = text
            .parse()
            .map_err(|_| ConfigError::Value("metrics.listen", format!("{text:?} (expected IP:PORT such as 127.0.0.1:9469)")))?;
        if !addr.ip().is_loopback() && !self.allow_remote {
            return Err(ConfigError::Value(
                "metrics.listen",
                format!("{addr} is not a loopback address; the endpoint is unauthenticated (set metrics.allow_remote = true to allow it)"),
            ));
        }
        Ok(Some(addr))
    }
}

/// `[crm]`: the shared CRM store (cases, caller history, timeline, ratings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrmConfig {
    /// Whether citizen calls are looked up and recorded.
    pub enabled: bool,
    /// `postgres://user@host/db` (nodes sharing one database), `sqlite:PATH` or a file path;
    /// unset: `<state_dir>/crm.db`. `--crm-url` overrides it.
    pub url: Option<String>,
    /// An open case of the same caller, administration and topic opened within this many
    /// seconds is reused rather than a new one opened.
    pub reuse_window_secs: u64,
    /// Longest the call waits for the history lookup; past it the call is routed without
    /// history and with a locally minted token.
    pub lookup_deadline_ms: u64,
    /// Contacts, cases, events and notes older than this many days are purged daily
    /// (0 = keep forever; ratings are anonymous and always kept).
    pub retention_days: u32,
    /// Most database connections of this node.
    pub pool_size: u32,
    /// Base URL of the agent console; agents' phones get `Call-Info: <{console_url}/cases/{token}>`.
    pub console_url: String,
}

impl Default for CrmConfig {
    fn default() -> Self {
        CrmConfig {
            enabled: true,
            url: None,
            reuse_window_secs: 7 * 86_400,
            lookup_deadline_ms: 50,
            retention_days: 365,
            pool_size: 8,
            console_url: "http://127.0.0.1:8080".into(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[node]`
    pub node: NodeConfig,
    /// `[sip]`
    pub sip: SipConfig,
    /// `[transport]`
    pub transport: TransportConfig,
    /// `[registrar]`
    pub registrar: RegistrarConfig,
    /// `[auth]`
    pub auth: AuthSection,
    /// `[proxy]`
    pub proxy: ProxyConfig,
    /// `[timers]`
    pub timers: TimersConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[metrics]`
    pub metrics: MetricsConfig,
    /// `[crm]`
    pub crm: CrmConfig,
    /// `[dialplan]`
    pub dialplan: DialplanConfig,
}

/// `[dialplan]`: where the administrations' dial plans live.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DialplanConfig {
    /// Directory of `*.toml` plans (relative to the working directory). Unset: `dialplans`
    /// when that directory exists, else no plans (every call goes to the user it names).
    /// `run --dialplans DIR` overrides it.
    pub dir: Option<std::path::PathBuf>,
}

impl DialplanConfig {
    /// The directory to load, and whether it must exist (it was named explicitly).
    pub fn resolve(&self) -> (std::path::PathBuf, bool) {
        match &self.dir {
            Some(d) => (d.clone(), true),
            None => (std::path::PathBuf::from(crate::routing::DEFAULT_DIR), false),
        }
    }
}

/// One listen address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    /// Protocol.
    pub protocol: Protocol,
    /// Address to bind.
    pub addr: SocketAddr,
}

impl Listen {
    /// Parses `udp:IP:PORT` / `tcp:IP:PORT`.
    pub fn parse(s: &str) -> Result<Listen, ConfigError> {
        let (proto, addr) = s.split_once(':').ok_or_else(|| ConfigError::Listen(s.into()))?;
        let protocol = match proto {
            "udp" => Protocol::Udp,
            "tcp" => Protocol::Tcp,
            _ => return Err(ConfigError::Listen(s.into())),
        };
        let addr: SocketAddr = addr.parse().map_err(|_| ConfigError::Listen(s.into()))?;
        Ok(Listen { protocol, addr })
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
        Config::parse(&text, path)
    }

    /// Parses config text (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax { path: path.into(), message: e.to_string() })?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Semantic checks beyond the TOML types.
    pub fn check(&self) -> Result<(), ConfigError> {
        for l in &self.sip.listen {
            Listen::parse(l)?;
        }
        parse_nets(&self.transport.outbound_allow, "transport.outbound_allow")?;
        parse_nets(&self.auth.trusted_peers, "auth.trusted_peers")?;
        for a in &self.auth.algorithms {
            crate::auth::Algorithm::parse(a).map_err(|_| ConfigError::Algorithm(a.clone()))?;
        }
        if self.auth.algorithms.is_empty() {
            return Err(ConfigError::Value("auth.algorithms", "at least one algorithm is needed".into()));
        }
        let r = &self.registrar;
        if r.min_expires > r.max_expires || r.default_expires < r.min_expires || r.default_expires > r.max_expires {
            return Err(ConfigError::Value("registrar", "need min_expires <= default_expires <= max_expires".into()));
        }
        if r.refresh_write_secs > MAX_REFRESH_WRITE_SECS {
            return Err(ConfigError::Value(
                "registrar.refresh_write_secs",
                format!("{} (at most {MAX_REFRESH_WRITE_SECS}; 0 writes every refresh within the second)", r.refresh_write_secs),
            ));
        }
        if self.timers.t1_ms == 0 || self.timers.t2_ms < self.timers.t1_ms {
            return Err(ConfigError::Value("timers", "need 0 < t1_ms <= t2_ms".into()));
        }
        if self.transport.tcp_idle_timeout_secs == 0 {
            // Zero would close every TCP connection at the idle sweep's first pass (50 ms).
            return Err(ConfigError::Value(
                "transport.tcp_idle_timeout_secs",
                "0 (at least 1: a connection that has read nothing for this long is closed)".into(),
            ));
        }
        if self.transport.tcp_send_queue_bytes < MIN_TCP_SEND_QUEUE {
            // Below a few messages' worth a connection would be closed by an ordinary burst.
            return Err(ConfigError::Value(
                "transport.tcp_send_queue_bytes",
                format!("{} (at least {MIN_TCP_SEND_QUEUE})", self.transport.tcp_send_queue_bytes),
            ));
        }
        if self.transport.udp_batch_wait_us > MAX_UDP_BATCH_WAIT_US {
            return Err(ConfigError::Value(
                "transport.udp_batch_wait_us",
                format!(
                    "{} (at most {MAX_UDP_BATCH_WAIT_US}: every answer under load may wait this long)",
                    self.transport.udp_batch_wait_us
                ),
            ));
        }
        if self.crm.lookup_deadline_ms == 0 || self.crm.pool_size == 0 {
            return Err(ConfigError::Value("crm", "need lookup_deadline_ms > 0 and pool_size > 0".into()));
        }
        if !crate::crm::is_node_id(&self.node.id) {
            return Err(ConfigError::Value(
                "node.id",
                format!("{:?} (use 1-64 of A-Z a-z 0-9 . _ -: it prefixes case tokens)", self.node.id),
            ));
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::Value("log.format", format!("{:?} (use text or json)", self.log.format)));
        }
        self.metrics.addr()?;
        Ok(())
    }

    /// The parsed listen addresses.
    pub fn listens(&self) -> Result<Vec<Listen>, ConfigError> {
        self.sip.listen.iter().map(|l| Listen::parse(l)).collect()
    }
}

/// Parses a list of CIDR networks (a bare address means a single host).
pub fn parse_nets(list: &[String], key: &'static str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Network(s.clone(), key))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_loopback_only_unless_allowed() {
        let c = |t: &str| Config::parse(t, Path::new("x.toml"));
        assert!(c("").map(|c| c.metrics.addr().ok().flatten().is_none()).unwrap_or(false));
        assert!(c("[metrics]\nlisten = \"127.0.0.1:9469\"\n").is_ok());
        assert!(c("[metrics]\nlisten = \"[::1]:9469\"\n").is_ok());
        let e = c("[metrics]\nlisten = \"0.0.0.0:9469\"\n").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("allow_remote"), "{e}");
        assert!(c("[metrics]\nlisten = \"0.0.0.0:9469\"\nallow_remote = true\n").is_ok());
        assert!(c("[metrics]\nlisten = \"localhost\"\n").is_err());
    }

    #[test]
    fn empty_is_default() {
        let c = Config::parse("", Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.registrar.min_expires, 60);
        assert_eq!(c.listens().map(|l| l.len()).unwrap_or(0), 2);
    }

    #[test]
    fn unknown_key_named() {
        let e = Config::parse("[registrar]\nmin_expire = 3\n", Path::new("x.toml")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("min_expire"), "{e}");
    }

    #[test]
    fn refresh_write_secs_defaults_to_thirty_and_is_bounded() {
        let c = Config::parse("", Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.registrar.refresh_write_secs, 30);
        let c = Config::parse("[registrar]\nrefresh_write_secs = 0\n", Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.registrar.refresh_write_secs, 0);
        let e =
            Config::parse("[registrar]\nrefresh_write_secs = 301\n", Path::new("x.toml")).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("registrar.refresh_write_secs") && e.contains("301"), "{e}");
        // The default and 0 are quiet; a hold longer than half the shortest registration is
        // accepted but warned about.
        assert!(RegistrarConfig::default().warnings().is_empty());
        let c = Config::parse("[registrar]\nrefresh_write_secs = 40\n", Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
        let w = c.registrar.warnings();
        assert!(w.len() == 1 && w[0].contains("refresh_write_secs = 40") && w[0].contains("min_expires = 60"), "{w:?}");
        let c = Config::parse("[registrar]\nrefresh_write_secs = 40\nmin_expires = 80\n", Path::new("x.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.registrar.warnings().is_empty());
    }

    #[test]
    fn crm_section() {
        let c = Config::parse("[crm]\nurl = \"postgres://postgres@127.0.0.1/urpd\"\nretention_days = 30\n", Path::new("x"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.crm.url.as_deref(), Some("postgres://postgres@127.0.0.1/urpd"));
        assert_eq!(c.crm.retention_days, 30);
        assert_eq!(c.crm.lookup_deadline_ms, 50);
        assert!(Config::parse("[crm]\nlookup_deadline_ms = 0\n", Path::new("x")).is_err());
        assert!(Config::parse("[node]\nid = \"a b\"\n", Path::new("x")).is_err());
    }

    /// Transport values out of range are refused naming the key; the edge of the range passes.
    #[test]
    fn transport_values_out_of_range_are_refused_by_name() {
        // (key, refused value, accepted edge)
        let cases = [("udp_batch_wait_us", "50000", "0"), ("tcp_send_queue_bytes", "100", "4096"), ("tcp_idle_timeout_secs", "0", "1")];
        for (key, bad, edge) in cases {
            let e =
                Config::parse(&format!("[transport]\n{key} = {bad}\n"), Path::new("x")).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(&format!("transport.{key}")), "{key} = {bad}: {e}");
            assert!(Config::parse(&format!("[transport]\n{key} = {edge}\n"), Path::new("x")).is_ok(), "{key} = {edge} refused");
        }
    }

    #[test]
    fn bad_listen() {
        assert!(Config::parse("[sip]\nlisten=[\"sctp:1.2.3.4:5\"]\n", Path::new("x")).is_err());
        assert!(Listen::parse("udp:[::1]:5060").is_ok());
    }
}
