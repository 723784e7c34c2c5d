//! `urpd status`: the running daemon's status, asked over the admin socket.

use std::path::Path;
use std::process::ExitCode;

use super::StatusArgs;
use crate::daemon::admin::{self, AdminRequest, StatusReport};

/// Exit code when no daemon answers on the state directory.
pub const NO_DAEMON: u8 = 6;

/// Sends `req` to the daemon and returns its answer (with `ok: true`), or prints why not and
/// returns the exit code: 6 no daemon, 1 anything else.
pub async fn ask(state_dir: &Path, req: &AdminRequest) -> Result<serde_json::Value, ExitCode> {
    let sock = admin::socket_path(state_dir);
    match admin::request(state_dir, req).await {
        Ok(Some(answer)) if answer.get("ok").and_then(|v| v.as_bool()) == Some(true) => Ok(answer),
        Ok(Some(answer)) => {
            let why = answer.get("error").and_then(|v| v.as_str()).unwrap_or("no reason given");
            eprintln!("urpd: the daemon refused the request: {why}");
            Err(ExitCode::from(1))
        }
        Ok(None) => {
            eprintln!(
                "urpd: no daemon is running with state directory {} (nothing answers on {}).\n\
                 Start it with `urpd run`, or pass the --config/--state-dir it runs with.",
                state_dir.display(),
                sock.display()
            );
            Err(ExitCode::from(NO_DAEMON))
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("urpd: permission denied on {}: run this as the daemon's user (e.g. `sudo -u urpd urpd …`) or root", sock.display());
            Err(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("urpd: cannot talk to the daemon on {}: {e}", sock.display());
            Err(ExitCode::from(1))
        }
    }
}

/// Runs `urpd status`.
pub async fn status(state_dir: &Path, args: StatusArgs) -> ExitCode {
    let answer = match ask(state_dir, &AdminRequest::Status).await {
        Ok(a) => a,
        Err(code) => return code,
    };
    let Some(report) = answer.get("status").and_then(|s| serde_json::from_value::<StatusReport>(s.clone()).ok()) else {
        eprintln!("urpd: the daemon's answer is not a status report (a different urpd version?): {answer}");
        return ExitCode::from(1);
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        print!("{}", render(&report));
    }
    ExitCode::SUCCESS
}

/// The human-readable form.
pub fn render(r: &StatusReport) -> String {
    let c = &r.counters;
    let mut rows: Vec<(&str, String)> = vec![
        ("node", format!("{} (urpd {}, pid {})", r.node, r.version, r.pid)),
        ("state", if r.draining { "draining (stopping after SIGTERM)".into() } else { "serving".into() }),
        ("uptime", duration(r.uptime_secs)),
        ("listening", r.listen.join(" ")),
        ("metrics", r.metrics.as_ref().map_or_else(|| "off".into(), |m| format!("http://{m}/metrics"))),
        ("users", r.users.to_string()),
        (
            "registrations",
            format!("{} contact{} for {} AOR{}", r.registrations, s(r.registrations), r.registered_aors, s(r.registered_aors)),
        ),
        ("transactions", format!("{} server, {} client", r.server_transactions, r.client_transactions)),
        ("calls", format!("{} in progress", r.calls_in_progress)),
        ("tcp", format!("{} open connections", r.tcp_connections)),
        ("requests", pairs(c.requests.iter())),
        ("responses", pairs(c.responses.iter())),
        ("registers ok", format!("{} (+{} retransmissions answered again)", c.registers_ok, c.register_retransmissions)),
        ("proxied", c.proxied.to_string()),
        ("udp batch waits", c.udp_batch_waits.to_string()),
        ("errors", format!("{} parse, {} auth failures, {} rate-limited", c.parse_errors, c.auth_failures, c.rate_limited)),
    ];
    let mut out = String::new();
    for (k, v) in rows.drain(..) {
        out.push_str(&format!("{k:<14} {v}\n"));
    }
    out
}

fn pairs<'a>(it: impl Iterator<Item = (&'a String, &'a u64)>) -> String {
    let v: Vec<String> = it.map(|(k, n)| format!("{k} {n}")).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

fn s(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `3d 04h 05m 06s`, leading zero units left out.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d {h:02}h {m:02}m {s:02}s")
    } else if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(65), "1m 05s");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5 * 60 + 6), "3d 04h 05m 06s");
    }

    #[test]
    fn table_has_every_row() {
        let text = render(&StatusReport { node: "urp-roma".into(), registrations: 1, registered_aors: 1, ..Default::default() });
        for k in ["node", "uptime", "listening", "users", "registrations", "transactions", "calls", "requests", "errors"] {
            assert!(text.lines().any(|l| l.starts_with(k)), "{k} missing:\n{text}");
        }
        assert!(text.contains("1 contact for 1 AOR\n"), "{text}");
    }
}
