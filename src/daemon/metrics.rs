//! Prometheus metrics: the text exposition format (version 0.0.4) served by a minimal
//! HTTP/1.1 responder on a loopback port (`[metrics] listen`, `urpd run --metrics-listen`).
//!
//! No web framework: one `GET /metrics` (or `HEAD`) per connection, answered and closed;
//! anything else gets 404/405/400. The numbers come from the core task through the same
//! in-process channel as the admin socket's `status` command, so a scrape costs the core one
//! counter copy and never blocks it; if the core does not answer within 5 s the scrape gets
//! 503 (which is itself a signal worth alerting on).
//!
//! Counters owned here rather than by the core: dial-plan reloads, recorded by the reload code
//! through [`record_dialplan_reload`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tracing::{debug, warn};

use super::admin::{AdminCommand, AdminRequest, StatusReport};
use super::control::{Control, ControlTx};

static DIALPLAN_RELOADS_OK: AtomicU64 = AtomicU64::new(0);
static DIALPLAN_RELOADS_FAILED: AtomicU64 = AtomicU64::new(0);

/// Counts one dial-plan reload attempt (`ok` = the new set was validated and swapped in).
/// Call it from wherever a reload ends (SIGHUP, `urpd dialplan reload`, a directory watch).
pub fn record_dialplan_reload(ok: bool) {
    let c = if ok { &DIALPLAN_RELOADS_OK } else { &DIALPLAN_RELOADS_FAILED };
    c.fetch_add(1, Ordering::Relaxed);
}

/// Dial-plan reloads so far: (ok, failed).
pub fn dialplan_reloads() -> (u64, u64) {
    (DIALPLAN_RELOADS_OK.load(Ordering::Relaxed), DIALPLAN_RELOADS_FAILED.load(Ordering::Relaxed))
}

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long the core may take to answer a scrape before it gets 503.
const CORE_DEADLINE: Duration = Duration::from_secs(5);
/// How long a client may take to send its request head.
const READ_DEADLINE: Duration = Duration::from_secs(5);
/// Largest request head read.
const MAX_HEAD: usize = 8192;

/// Binds the metrics listener; the error names the address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| std::io::Error::new(e.kind(), format!("metrics listener {addr}: {e}")))
}

/// Serves scrapes on `listener` until the process ends.
pub fn spawn(listener: TcpListener, core: ControlTx) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    debug!(%peer, "metrics connection");
                    tokio::spawn(handle(stream, core.clone()));
                }
                Err(e) => {
                    warn!(error = %e, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
}

async fn handle(mut stream: TcpStream, core: ControlTx) {
    let head = match tokio::time::timeout(READ_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(Some(h))) => h,
        _ => {
            let _ = respond(&mut stream, "400 Bad Request", "text/plain", b"bad request\n", false).await;
            return;
        }
    };
    let mut parts = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    let result = match (method, path) {
        ("", _) | (_, "") => respond(&mut stream, "400 Bad Request", "text/plain", b"bad request\n", false).await,
        ("GET" | "HEAD", "/metrics") => match scrape(&core).await {
            Some(report) => respond(&mut stream, "200 OK", CONTENT_TYPE, render(&report).as_bytes(), head_only).await,
            None => respond(&mut stream, "503 Service Unavailable", "text/plain", b"core did not answer\n", head_only).await,
        },
        ("GET" | "HEAD", _) => respond(&mut stream, "404 Not Found", "text/plain", b"not found; try /metrics\n", head_only).await,
        _ => respond(&mut stream, "405 Method Not Allowed", "text/plain", b"only GET and HEAD\n", false).await,
    };
    if let Err(e) = result {
        debug!(error = %e, "metrics response not sent");
    }
}

/// Reads up to the blank line ending the request head.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = memchr::memmem::find(&buf, b"\r\n\r\n").or_else(|| memchr::memmem::find(&buf, b"\n\n")) {
            return Ok(String::from_utf8(buf[..end].to_vec()).ok());
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &[u8], head_only: bool) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !head_only {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).await?;
    stream.shutdown().await
}

async fn scrape(core: &ControlTx) -> Option<StatusReport> {
    let (tx, rx) = oneshot::channel();
    let send = core.send(Control::Admin(AdminCommand { request: AdminRequest::Status, reply: tx }));
    let answer = tokio::time::timeout(CORE_DEADLINE, async {
        send.await.ok()?;
        rx.await.ok()
    })
    .await
    .ok()??;
    serde_json::from_value(answer.get("status")?.clone()).ok()
}

/// Renders the exposition text.
pub fn render(r: &StatusReport) -> String {
    let mut out = String::with_capacity(4096);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let one = |v: u64| vec![(String::new(), v)];
    let c = &r.counters;
    family(
        "urpd_build_info",
        "gauge",
        "Always 1; the labels tell the version and node id.",
        &[(labels(&[("version", &r.version), ("node", &r.node)]), 1)],
    );
    family("urpd_uptime_seconds", "gauge", "Seconds since the daemon started.", &one(r.uptime_secs));
    let by_method: Vec<_> = c.requests.iter().map(|(m, n)| (labels(&[("method", m)]), *n)).collect();
    family("urpd_sip_requests_total", "counter", "SIP requests received, by method (INVITE, REGISTER, OPTIONS, other).", &by_method);
    let by_class: Vec<_> = c.responses.iter().map(|(k, n)| (labels(&[("class", k)]), *n)).collect();
    family("urpd_sip_responses_total", "counter", "SIP responses sent or forwarded, by class.", &by_class);
    family("urpd_registrations", "gauge", "Registered contacts (bindings).", &one(r.registrations as u64));
    family("urpd_registered_aors", "gauge", "Addresses of record with at least one contact.", &one(r.registered_aors as u64));
    family("urpd_users", "gauge", "Digest accounts known.", &one(r.users as u64));
    family(
        "urpd_transactions",
        "gauge",
        "Open SIP transactions, by kind.",
        &[(labels(&[("kind", "server")]), r.server_transactions as u64), (labels(&[("kind", "client")]), r.client_transactions as u64)],
    );
    family("urpd_calls_active", "gauge", "Requests being proxied (calls being set up).", &one(r.calls_in_progress as u64));
    family("urpd_tcp_connections", "gauge", "Open TCP connections (what max_tcp_connections limits).", &one(r.tcp_connections as u64));
    family("urpd_parse_errors_total", "counter", "Messages that failed to parse or validate.", &one(c.parse_errors));
    family("urpd_auth_failures_total", "counter", "Failed digest authentications.", &one(c.auth_failures));
    family("urpd_rate_limited_total", "counter", "Requests dropped by the per-IP rate limiter.", &one(c.rate_limited));
    family(
        "urpd_udp_batch_waits_total",
        "counter",
        "Times the core waited (at most transport.udp_batch_wait_us) before reading UDP again after a busy wake-up.",
        &one(c.udp_batch_waits),
    );
    family("urpd_registers_accepted_total", "counter", "REGISTER requests accepted.", &one(c.registers_ok));
    family(
        "urpd_register_retransmissions_total",
        "counter",
        "REGISTER retransmissions answered again from the current bindings.",
        &one(c.register_retransmissions),
    );
    family("urpd_proxied_requests_total", "counter", "Requests forwarded by the proxy.", &one(c.proxied));
    let (ok, failed) = dialplan_reloads();
    family(
        "urpd_dialplan_reloads_total",
        "counter",
        "Dial-plan reloads, by result (failed = refused, the running plan kept).",
        &[(labels(&[("result", "ok")]), ok), (labels(&[("result", "failed")]), failed)],
    );
    family("urpd_draining", "gauge", "1 while the node finishes transactions after SIGTERM.", &one(u64::from(r.draining)));
    // Only in builds with the `heap-stats` feature (see `super::heap`).
    if let Some(h) = super::heap::snapshot() {
        family("urpd_heap_live_bytes", "gauge", "Heap bytes requested and not yet freed (heap-stats build).", &one(h.live_bytes));
        family("urpd_heap_peak_bytes", "gauge", "Most heap bytes held at once since the start (heap-stats build).", &one(h.peak_bytes));
        family("urpd_heap_allocations_total", "counter", "Heap allocations since the start (heap-stats build).", &one(h.allocations));
    }
    out
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"");
        for ch in v.chars() {
            match ch {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_lines_are_well_formed() {
        let mut r = StatusReport { node: "n\"1".into(), version: "0.1.0".into(), registrations: 3, ..Default::default() };
        r.counters.requests.insert("INVITE".into(), 2);
        r.counters.responses.insert("2xx".into(), 5);
        let text = render(&r);
        assert!(text.contains("urpd_build_info{version=\"0.1.0\",node=\"n\\\"1\"} 1\n"), "{text}");
        assert!(text.contains("urpd_sip_requests_total{method=\"INVITE\"} 2\n"), "{text}");
        assert!(text.contains("urpd_sip_responses_total{class=\"2xx\"} 5\n"), "{text}");
        assert!(text.contains("urpd_registrations 3\n"), "{text}");
        assert!(text.contains("urpd_transactions{kind=\"client\"} 0\n"), "{text}");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
        // Every family has HELP and TYPE before its samples.
        assert_eq!(text.matches("# HELP ").count(), text.matches("# TYPE ").count());
    }

    #[test]
    fn reload_counter_counts() {
        let (ok0, failed0) = dialplan_reloads();
        record_dialplan_reload(true);
        record_dialplan_reload(false);
        record_dialplan_reload(false);
        let (ok1, failed1) = dialplan_reloads();
        assert!(ok1 > ok0 && failed1 >= failed0 + 2);
    }
}
