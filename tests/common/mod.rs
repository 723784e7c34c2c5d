//! Shared harness for urpd's integration tests (`tests/*.rs` do `mod common;`).
//!
//! std only, plus `tempfile`.
//!
//! # Addresses: one loopback IP per test
//!
//! Tests run in parallel (threads of one process, and several test binaries at
//! once). Every test picks **its own literal loopback address** and uses it for
//! the urpd node and all its agents, so no two tests ever share an IP:port:
//!
//! * `127.T.N.1` is the node, `127.T.N.2..` are the agents (SIPp, raw sockets,
//!   softphones) of that test, where `T` = test file number (1..=254, one per
//!   `tests/*.rs`, listed in a comment at the top of each file) and `N` = test
//!   number inside the file (1..=254). E.g. `tests/registrar.rs` is T=3, its
//!   fifth test uses node 127.3.5.1 and agents 127.3.5.2, 127.3.5.3, ...
//! * Ports: node 5060; agents any fixed port (5061, 5062, ...) since the IP is
//!   already private to the test. Linux routes all of 127.0.0.0/8 to `lo`; no
//!   setup is needed.
//!
//! All traffic stays on 127.0.0.0/8 (or ::1). Processes started here are killed
//! when their handle is dropped, also on panic.
//!
//! # No timing thresholds
//!
//! Waits below are *deadlines* to avoid hanging forever (CI has 2 noisy cores),
//! never assertions that something was fast.

#![allow(dead_code)]

pub mod digest;

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The urpd binary cargo built for this test run.
pub const URPD: &str = env!("CARGO_BIN_EXE_urpd");

/// `sipp-scenarios/` in the source tree.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp-scenarios")
}

/// How long `Node` waits for the daemon to answer OPTIONS after spawning it.
pub const READY_DEADLINE: Duration = Duration::from_secs(20);
/// Grace between SIGTERM and SIGKILL when a node is dropped.
pub const KILL_GRACE: Duration = Duration::from_secs(5);
/// Hard deadline for one foreground SIPp run (SIPp's own -timeout is 30 s).
pub const SIPP_DEADLINE: Duration = Duration::from_secs(60);

static SEQ: AtomicU64 = AtomicU64::new(1);
fn seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The default `urpd.toml` a `Node` starts from. `[sip] listen` and
/// `[node] state_dir` are overridden on the command line by `Node`.
pub const BASE_CONFIG: &str = r#"[node]
id = "urp-test"
state_dir = "state"
domains = ["urp.example.it"]
realm = "urpd"

[sip]
listen = ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]

[transport]
max_message_size = 65535
tcp_idle_timeout_secs = 120
max_tcp_connections = 1024
outbound_allow = ["127.0.0.0/8", "::1/128"]

[registrar]
min_expires = 60
max_expires = 7200
default_expires = 3600

[auth]
algorithms = ["SHA-256", "MD5"]
nonce_ttl_secs = 300
trusted_peers = []

[proxy]
timer_c_secs = 180
record_route = true

[timers]
t1_ms = 500
t2_ms = 4000
t4_ms = 5000

[log]
level = "debug"
format = "text"
"#;

/// Merges `overrides` into `base`, both TOML with one `key = value` per line
/// (values on one line; arrays like `["MD5"]` are fine). A key present in the
/// same `[table]` of both is replaced, others are appended to their table,
/// new tables are appended. Comments and blank lines of `overrides` are dropped.
///
/// ```ignore
/// merge_toml(BASE_CONFIG, "[auth]\nalgorithms = [\"MD5\"]\n[proxy]\nrecord_route = false");
/// ```
pub fn merge_toml(base: &str, overrides: &str) -> String {
    // (table name, lines)
    let mut tables: Vec<(String, Vec<String>)> = vec![(String::new(), Vec::new())];
    for line in base.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            tables.push((t.to_string(), vec![line.to_string()]));
        } else {
            tables.last_mut().unwrap().1.push(line.to_string());
        }
    }
    let key_of = |line: &str| -> Option<String> {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
            return None;
        }
        t.split_once('=').map(|(k, _)| k.trim().to_string())
    };
    let mut current = String::new();
    for line in overrides.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            current = t.to_string();
            if !tables.iter().any(|(name, _)| *name == current) {
                tables.push((current.clone(), vec![String::new(), t.to_string()]));
            }
            continue;
        }
        let Some(key) = key_of(t) else { continue };
        let table = &mut tables.iter_mut().find(|(name, _)| *name == current).unwrap().1;
        if let Some(slot) = table.iter_mut().find(|l| key_of(l).as_deref() == Some(key.as_str())) {
            *slot = t.to_string();
        } else {
            // keep it before the blank lines ending the table
            let pos = table.iter().rposition(|l| !l.trim().is_empty()).map_or(table.len(), |p| p + 1);
            table.insert(pos, t.to_string());
        }
    }
    let mut out = String::new();
    for (_, lines) in tables {
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

/// What a `Node` is started with.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// `(user, password)` pairs added with `urpd user add` before start.
    pub users: Vec<(String, String)>,
    /// TOML merged over `BASE_CONFIG` (see `merge_toml`).
    pub toml: String,
    /// Listen on UDP (default true) and TCP (default true) at ip:port.
    pub udp: bool,
    pub tcp: bool,
    /// Extra arguments for `urpd run` (after the --listen ones).
    pub extra_run_args: Vec<String>,
    /// Environment for the daemon (RUST_LOG etc.).
    pub env: Vec<(String, String)>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions { users: Vec::new(), toml: String::new(), udp: true, tcp: true, extra_run_args: Vec::new(), env: Vec::new() }
    }
}

impl NodeOptions {
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.into(), password.into()));
        self
    }
    /// Adds TOML overrides (may be called several times).
    pub fn toml(mut self, snippet: &str) -> Self {
        self.toml.push('\n');
        self.toml.push_str(snippet);
        self
    }
    /// `[auth] algorithms = ["MD5"]`: what SIPp 3.6 needs (it can only answer
    /// MD5, and reads the first challenge's algorithm).
    pub fn md5_only(self) -> Self {
        self.toml("[auth]\nalgorithms = [\"MD5\"]")
    }
    pub fn udp_only(mut self) -> Self {
        self.tcp = false;
        self
    }
    pub fn arg(mut self, a: &str) -> Self {
        self.extra_run_args.push(a.into());
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn start(self, ip: &str, port: u16) -> Node {
        Node::start_with(ip, port, self)
    }
}

// ---------------------------------------------------------------------------
// Node: one urpd daemon
// ---------------------------------------------------------------------------

/// One running urpd in a temp dir. Killed on drop (SIGTERM, then SIGKILL after
/// `KILL_GRACE`); if the test is panicking its log is printed.
pub struct Node {
    pub ip: String,
    pub port: u16,
    pub opts: NodeOptions,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: u32,
}

impl Node {
    /// A node with default config and no users.
    pub fn start(ip: &str, port: u16) -> Node {
        Node::start_with(ip, port, NodeOptions::default())
    }

    /// `Node::builder().user("alice", "pw").md5_only().start(ip, port)`
    pub fn builder() -> NodeOptions {
        NodeOptions::default()
    }

    pub fn start_with(ip: &str, port: u16, opts: NodeOptions) -> Node {
        let dir = tempfile::Builder::new().prefix(&format!("urpd-{ip}-{port}-")).tempdir().expect("tempdir");
        let mut node = Node { ip: ip.into(), port, opts, dir, child: None, starts: 0 };
        fs::create_dir_all(node.state_dir()).expect("state dir");
        let config = merge_toml(BASE_CONFIG, &node.opts.toml);
        fs::write(node.config_path(), config).expect("write urpd.toml");
        for (user, pass) in node.opts.users.clone() {
            node.add_user(&user, &pass);
        }
        node.spawn();
        node.wait_ready();
        node
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("urpd.toml")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("urpd.log")
    }
    /// Everything the daemon wrote so far (all starts, appended).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
    pub fn addr(&self) -> SocketAddr {
        sock(&self.ip, self.port)
    }
    /// `"IP:PORT"`, the remote-host argument for SIPp.
    pub fn target(&self) -> String {
        self.addr().to_string()
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Runs `urpd --config CFG --state-dir DIR ARGS...` (an admin CLI command)
    /// and returns its output.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(URPD)
            .arg("--config")
            .arg(self.config_path())
            .arg("--state-dir")
            .arg(self.state_dir())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run urpd cli")
    }

    /// `urpd ... user add NAME --password PASS`; panics (with output) on failure.
    pub fn add_user(&self, name: &str, password: &str) {
        let out = self.cli(&["user", "add", name, "--password", password]);
        if !out.status.success() {
            panic!(
                "urpd user add {name} failed ({}):\nstdout:\n{}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "node already running");
        self.starts += 1;
        let mut log = fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("open log");
        writeln!(log, "===== harness: start #{} of urpd on {} =====", self.starts, self.target()).ok();
        let err = log.try_clone().expect("clone log");
        let mut cmd = Command::new(URPD);
        cmd.arg("--config").arg(self.config_path()).arg("run").arg("--state-dir").arg(self.state_dir());
        if self.opts.udp {
            cmd.arg("--listen").arg(format!("udp:{}", self.target()));
        }
        if self.opts.tcp {
            cmd.arg("--listen").arg(format!("tcp:{}", self.target()));
        }
        cmd.args(&self.opts.extra_run_args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err));
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap_or_else(|e| panic!("spawn {URPD}: {e}")));
    }

    /// Polls with SIP OPTIONS over UDP every 100 ms until any response comes
    /// (or, for a TCP-only node, until a TCP connect succeeds). Panics with the
    /// log if the process exits or `READY_DEADLINE` passes.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_DEADLINE;
        let sock_udp = UdpSocket::bind((self.ip.as_str(), 0)).expect("bind probe socket");
        sock_udp.set_read_timeout(Some(Duration::from_millis(100))).ok();
        let mut buf = vec![0u8; 65536];
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                panic!("urpd exited during start-up ({status})\n{}", self.log_report());
            }
            if self.opts.udp {
                let local = sock_udp.local_addr().unwrap();
                let msg = options_request(local, self.addr(), "UDP");
                let _ = sock_udp.send_to(msg.as_bytes(), self.addr());
                if let Ok((n, _)) = sock_udp.recv_from(&mut buf) {
                    if buf[..n].starts_with(b"SIP/2.0 ") {
                        return;
                    }
                }
            } else if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(100)).is_ok() {
                return;
            } else {
                std::thread::sleep(Duration::from_millis(100));
            }
            if Instant::now() > deadline {
                panic!("urpd on {} not ready after {:?}\n{}", self.target(), READY_DEADLINE, self.log_report());
            }
        }
    }

    /// SIGTERM and wait for the exit (SIGKILL after 30 s, which the returned
    /// status then shows). The node can be `restart`ed afterwards.
    pub fn stop_graceful(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("node not running");
        signal(child.id(), "TERM");
        wait_or_kill(&mut child, Duration::from_secs(30))
    }

    /// Sends a signal by name ("HUP", "TERM", "INT", ...) to the daemon.
    pub fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            signal(pid, sig);
        }
    }

    /// Stops the daemon if running (gracefully) and starts it again on the same
    /// config, state dir and addresses; waits until ready.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop_graceful();
        }
        self.spawn();
        self.wait_ready();
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// The daemon log framed for a failure message.
    pub fn log_report(&self) -> String {
        format!("----- urpd log ({}) -----\n{}\n----- end of urpd log -----", self.log_path().display(), self.log())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            wait_or_kill(&mut child, KILL_GRACE);
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_report());
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Waits up to `grace` for `child`, then SIGKILLs it and reaps it.
fn wait_or_kill(child: &mut Child, grace: Duration) -> ExitStatus {
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                return child.wait().expect("wait child");
            }
        }
    }
}

pub fn sock(ip: &str, port: u16) -> SocketAddr {
    if ip.contains(':') {
        format!("[{ip}]:{port}").parse().expect("socket address")
    } else {
        format!("{ip}:{port}").parse().expect("socket address")
    }
}

// ---------------------------------------------------------------------------
// SIPp
// ---------------------------------------------------------------------------

/// Whether `sipp` is on PATH (scripts/test.sh installs it).
pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool} >/dev/null 2>&1")).status().map(|s| s.success()).unwrap_or(false)
}

/// Result of one SIPp run.
#[derive(Debug)]
pub struct SippRun {
    pub scenario: String,
    pub cmdline: String,
    /// SIPp's exit code: 0 all calls succeeded, 1 some failed, 97 exit by
    /// command, 99 no call processed, 255 fatal error. None if killed.
    pub code: Option<i32>,
    /// Killed by the harness at its deadline.
    pub killed: bool,
    pub stdout: String,
    pub stderr: String,
    /// `-trace_err` file: unexpected messages and errors.
    pub errors: String,
    /// `-trace_msg` file: every message sent and received.
    pub messages: String,
    _dir: tempfile::TempDir,
}

impl SippRun {
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.killed
    }
    /// Panics with the command, exit code, stderr, error log and message trace
    /// unless the run succeeded.
    #[track_caller]
    pub fn assert_ok(&self) {
        if !self.ok() {
            panic!("SIPp {} failed\n{}", self.scenario, self.report());
        }
    }
    /// Panics unless the run failed (code != 0).
    #[track_caller]
    pub fn assert_failed(&self) {
        if self.ok() {
            panic!("SIPp {} unexpectedly succeeded\n{}", self.scenario, self.report());
        }
    }
    pub fn report(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "command: {}", self.cmdline);
        let _ = writeln!(s, "exit: {:?}{}", self.code, if self.killed { " (killed at deadline)" } else { "" });
        let _ = writeln!(s, "----- stderr -----\n{}", self.stderr);
        let _ = writeln!(s, "----- errors (-trace_err) -----\n{}", self.errors);
        let _ = writeln!(s, "----- messages (-trace_msg) -----\n{}", self.messages);
        let tail: String = {
            let lines: Vec<&str> = self.stdout.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        let _ = writeln!(s, "----- stdout (last screen) -----\n{tail}");
        s
    }
    /// How many messages with this first line prefix were received, e.g.
    /// `count_received("INVITE ")` (from the -trace_msg log).
    pub fn count_received(&self, start_line_prefix: &str) -> usize {
        count_in_trace(&self.messages, "received", start_line_prefix)
    }
    pub fn count_sent(&self, start_line_prefix: &str) -> usize {
        count_in_trace(&self.messages, "sent", start_line_prefix)
    }
}

fn count_in_trace(trace: &str, dir: &str, prefix: &str) -> usize {
    let mut n = 0;
    let mut lines = trace.lines();
    while let Some(l) = lines.next() {
        if l.contains(" message ") && l.contains(dir) {
            // the start line is the first non-empty line after the banner
            if let Some(first) = lines.by_ref().find(|x| !x.trim().is_empty()) {
                if first.starts_with(prefix) {
                    n += 1;
                }
            }
        }
    }
    n
}

/// A SIPp process running in the background (typically a UAS). Killed on drop.
pub struct SippChild {
    child: Option<Child>,
    run: Option<SippRun>,
}

impl SippChild {
    /// Waits (up to `SIPP_DEADLINE` after this call, then kills) and collects.
    pub fn join(mut self) -> SippRun {
        self.join_within(SIPP_DEADLINE)
    }
    pub fn join_within(&mut self, deadline: Duration) -> SippRun {
        let mut child = self.child.take().expect("joined twice");
        let (status, killed) = wait_deadline(&mut child, deadline);
        let mut run = self.run.take().unwrap();
        collect(&mut run, status, killed);
        run
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_deadline(child: &mut Child, deadline: Duration) -> (Option<ExitStatus>, bool) {
    let end = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return (Some(st), false),
            Ok(None) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let st = child.wait().ok();
                return (st, true);
            }
        }
    }
}

fn collect(run: &mut SippRun, status: Option<ExitStatus>, killed: bool) {
    let d = run._dir.path();
    run.code = if killed { None } else { status.and_then(|s| s.code()) };
    run.killed = killed;
    run.stdout = fs::read_to_string(d.join("stdout")).unwrap_or_default();
    run.stderr = fs::read_to_string(d.join("stderr")).unwrap_or_default();
    run.errors = fs::read_to_string(d.join("errors.log")).unwrap_or_default();
    run.messages = fs::read_to_string(d.join("messages.log")).unwrap_or_default();
}

fn sipp_spawn(scenario: &str, target: &str, args: &[&str]) -> (Child, SippRun) {
    assert!(have("sipp"), "sipp not installed: run scripts/test.sh (installs sip-tester)");
    let dir = tempfile::Builder::new().prefix("sipp-").tempdir().expect("tempdir");
    let sf = if scenario.contains('/') { PathBuf::from(scenario) } else { scenario_dir().join(scenario) };
    assert!(sf.exists(), "no scenario {}", sf.display());
    let mut argv: Vec<String> = vec![target.into(), "-sf".into(), sf.display().to_string()];
    let has = |flag: &str| args.contains(&flag);
    if !has("-m") {
        argv.extend(["-m".into(), "1".into()]);
    }
    if !has("-timeout") {
        argv.extend(["-timeout".into(), "30".into()]);
    }
    argv.extend(["-timeout_error", "-nostdin", "-trace_err", "-trace_msg"].iter().map(|s| s.to_string()));
    argv.extend(["-error_file".into(), d_str(&dir, "errors.log")]);
    argv.extend(["-message_file".into(), d_str(&dir, "messages.log")]);
    argv.extend(args.iter().map(|s| s.to_string()));
    let cmdline = format!("sipp {}", argv.join(" "));
    let out = File::create(dir.path().join("stdout")).unwrap();
    let err = File::create(dir.path().join("stderr")).unwrap();
    let child = Command::new("sipp")
        .args(&argv)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn sipp");
    let run = SippRun {
        scenario: scenario.into(),
        cmdline,
        code: None,
        killed: false,
        stdout: String::new(),
        stderr: String::new(),
        errors: String::new(),
        messages: String::new(),
        _dir: dir,
    };
    (child, run)
}

fn d_str(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

/// Runs SIPp in the foreground: `sipp TARGET -sf sipp-scenarios/SCENARIO -m 1
/// -timeout 30 -timeout_error -nostdin -trace_err -trace_msg ARGS...` (`-m` and
/// `-timeout` only when ARGS has none), killed after `SIPP_DEADLINE`.
/// Typical ARGS: `["-i", "127.3.5.2", "-p", "5061", "-s", "bob", "-au", "bob",
/// "-ap", "pw"]`, `"-t", "t1"` for TCP.
pub fn sipp(scenario: &str, target: &str, args: &[&str]) -> SippRun {
    let (mut child, mut run) = sipp_spawn(scenario, target, args);
    let (status, killed) = wait_deadline(&mut child, SIPP_DEADLINE);
    collect(&mut run, status, killed);
    run
}

/// Starts SIPp in the background (a UAS, or a load generator); `join()` it.
/// Call `wait_listening` (or just proceed: SIPp binds within milliseconds, but
/// on a busy box prefer `wait_listening`) before sending it traffic.
pub fn sipp_bg(scenario: &str, target: &str, args: &[&str]) -> SippChild {
    let (child, run) = sipp_spawn(scenario, target, args);
    SippChild { child: Some(child), run: Some(run) }
}

/// Waits until a UDP socket is bound at ip:port (reads /proc/net/udp{,6}),
/// up to 10 s. Use after `sipp_bg` before placing the call to that agent.
pub fn wait_listening_udp(ip: &str, port: u16) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    let want = proc_net_addr(ip, port);
    while Instant::now() < end {
        for f in ["/proc/net/udp", "/proc/net/udp6"] {
            if let Ok(s) = fs::read_to_string(f) {
                if s.lines().any(|l| l.split_whitespace().nth(1).is_some_and(|a| a.eq_ignore_ascii_case(&want))) {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn proc_net_addr(ip: &str, port: u16) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{:02X}{:02X}{:02X}{:02X}:{:04X}", o[3], o[2], o[1], o[0], port)
        }
        _ => format!("?:{port:04X}"),
    }
}

/// `register_auth.xml` from `local_ip:local_port` for `user`/`password`
/// (AoR = auth user = Contact user). Extra ARGS e.g. `["-t", "t1"]`.
pub fn sipp_register(target: &str, local_ip: &str, local_port: u16, user: &str, password: &str, extra: &[&str]) -> SippRun {
    let port = local_port.to_string();
    let mut args = vec!["-i", local_ip, "-p", &port, "-s", user, "-au", user, "-ap", password];
    args.extend_from_slice(extra);
    sipp("register_auth.xml", target, &args)
}

/// Registers `user` from local_ip:local_port (asserting success), then starts
/// the UAS `scenario` (uas_answer.xml, uas_busy.xml, ...) on the same address.
/// `extra` goes to both (e.g. `["-t", "t1"]`); add `-nr` yourself for
/// uas_drop_first.xml (UAS only: use `sipp_bg` directly if it must differ).
pub fn sipp_callee(target: &str, local_ip: &str, local_port: u16, user: &str, password: &str, scenario: &str, extra: &[&str]) -> SippChild {
    sipp_register(target, local_ip, local_port, user, password, extra).assert_ok();
    let port = local_port.to_string();
    let mut args = vec!["-i", local_ip, "-p", &port, "-s", user];
    args.extend_from_slice(extra);
    let child = sipp_bg(scenario, target, &args);
    let udp = !extra.windows(2).any(|w| w[0] == "-t" && w[1] != "u1" && w[1] != "un");
    if udp {
        assert!(wait_listening_udp(local_ip, local_port), "SIPp UAS not listening on {local_ip}:{local_port}");
    }
    child
}

/// uac_*.xml from local_ip:local_port: `caller` (with `password`) calls
/// `callee`. Adds `-key caller`, `-au/-ap` and `-auth_uri callee@target`. (Eight arguments: the
/// call sites read like a SIPp command line, which a parameter struct would hide.)
#[allow(clippy::too_many_arguments)]
pub fn sipp_caller(
    target: &str,
    local_ip: &str,
    local_port: u16,
    caller: &str,
    password: &str,
    callee: &str,
    scenario: &str,
    extra: &[&str],
) -> SippRun {
    let port = local_port.to_string();
    let auth_uri = format!("{callee}@{target}");
    let mut args =
        vec!["-i", local_ip, "-p", &port, "-s", callee, "-key", "caller", caller, "-au", caller, "-ap", password, "-auth_uri", &auth_uri];
    args.extend_from_slice(extra);
    sipp(scenario, target, &args)
}

// ---------------------------------------------------------------------------
// Raw sockets
// ---------------------------------------------------------------------------

/// Sends `bytes` in one datagram from `from_ip` (ephemeral port) to `to`, and
/// returns the first datagram received within `wait` (None if none).
pub fn send_raw_udp(from_ip: &str, to: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind((from_ip, 0)).expect("bind udp");
    s.send_to(bytes, to).expect("send udp");
    s.set_read_timeout(Some(wait)).ok();
    let mut buf = vec![0u8; 65536];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// A bound UDP socket for multi-message exchanges (send, then collect several
/// responses, e.g. 100 then 200).
pub struct UdpPeer {
    pub sock: UdpSocket,
}

impl UdpPeer {
    pub fn bind(ip: &str, port: u16) -> UdpPeer {
        UdpPeer { sock: UdpSocket::bind((ip, port)).expect("bind udp peer") }
    }
    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }
    pub fn send(&self, to: SocketAddr, bytes: &[u8]) {
        self.sock.send_to(bytes, to).expect("send");
    }
    /// Next datagram within `wait`.
    pub fn recv(&self, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        self.sock.set_read_timeout(Some(wait)).ok();
        let mut buf = vec![0u8; 65536];
        self.sock.recv_from(&mut buf).ok().map(|(n, a)| (buf[..n].to_vec(), a))
    }
    /// Datagrams until one whose first line starts with `prefix` (returned),
    /// skipping others (e.g. provisional responses), within `wait` in total.
    pub fn recv_until(&self, prefix: &str, wait: Duration) -> Option<Vec<u8>> {
        let end = Instant::now() + wait;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let (m, _) = self.recv(left.max(Duration::from_millis(1)))?;
            if first_line(&m).starts_with(prefix) {
                return Some(m);
            }
        }
        None
    }
}

/// Connects to `to` over TCP (source 127.0.0.1 or ::1 as the kernel picks;
/// std can't bind before connect), writes `bytes`, and reads until one whole
/// SIP message (headers + Content-Length body) arrived, EOF, or `wait` passed.
/// Returns what was read (None if nothing).
pub fn send_raw_tcp(to: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5)).ok()?;
    s.set_nodelay(true).ok();
    s.write_all(bytes).ok()?;
    read_sip_message(&mut s, wait)
}

/// Reads one SIP message from a stream (see `send_raw_tcp`).
pub fn read_sip_message(s: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(total) = sip_message_len(&got) {
            if got.len() >= total {
                got.truncate(total);
                return Some(got);
            }
        }
        let left = end.checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok();
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    if got.is_empty() {
        None
    } else {
        Some(got)
    }
}

/// Length of the first complete-able SIP message in `b` (headers + body per
/// Content-Length / l:), once the header end is seen; leading CRLFs (keep-alives)
/// count as part of it.
pub fn sip_message_len(b: &[u8]) -> Option<usize> {
    let start = b.iter().position(|&c| c != b'\r' && c != b'\n')?;
    let hdr_end = b[start..].windows(4).position(|w| w == b"\r\n\r\n")? + start + 4;
    let head = String::from_utf8_lossy(&b[start..hdr_end]);
    let mut cl = 0usize;
    for line in head.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("l") {
                cl = v.trim().parse().unwrap_or(0);
            }
        }
    }
    Some(hdr_end + cl)
}

/// First line of a message, without CR LF (lossy UTF-8).
pub fn first_line(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.lines().next().unwrap_or("").trim_end_matches('\r').to_string()
}

/// The status code of a response (None for a request or garbage).
pub fn status_code(b: &[u8]) -> Option<u16> {
    let l = first_line(b);
    let rest = l.strip_prefix("SIP/2.0 ")?;
    rest.get(..3)?.parse().ok()
}

/// All values of header `name` (case-insensitive; compact form not mapped).
pub fn header_values(b: &[u8], name: &str) -> Vec<String> {
    let s = String::from_utf8_lossy(b);
    let head = s.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

/// A unique token for branches, tags and Call-IDs in raw messages.
pub fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}{}x{}x{t:x}", std::process::id(), seq())
}

/// The Call-ID of a message (long form; what the daemon writes).
pub fn call_id(msg: &str) -> String {
    msg.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("call-id"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// An OPTIONS to the server itself (no user part), from `from` to `to`.
pub fn options_request(from: SocketAddr, to: SocketAddr, transport: &str) -> String {
    format!(
        "OPTIONS sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {from};branch=z9hG4bK{b}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{from}>;tag={tag}\r\n\
         To: <sip:{to}>\r\n\
         Call-ID: {cid}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        b = unique(""),
        tag = unique("t"),
        cid = unique("c"),
    )
}
