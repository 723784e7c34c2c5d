//! Log setup: journald-friendly plain text under systemd (no timestamps, no colour: journald
//! adds its own), human text on a terminal, JSON when asked. `RUST_LOG` overrides the level.
//!
//! When stderr *is* the journal (`$JOURNAL_STREAM` names stderr's device and inode, as systemd
//! sets it for `StandardError=journal`), every line starts with a `<N>` syslog priority prefix
//! (`sd-daemon(3)`), so `journalctl -p warning -u urpd` shows warnings and errors only.
//!
//! JSON (`[log] format = "json"`): one object per line, with `timestamp`, `level`, `fields`
//! (`message` and the event's fields), `target`, and `span`/`spans` carrying the SIP span's
//! `call_id` and `method`/`status`, so a call can be followed with `jq 'select(.span.call_id==…)'`.

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once; later calls are ignored.
pub fn init(level: &str, format: &str) {
    // sqlx logs every statement at debug: keep it quiet unless RUST_LOG asks for it.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn")));
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().with_current_span(true).try_init()
    } else if stderr_is_journal() {
        let inner = tracing_subscriber::fmt::format().without_time().with_ansi(false);
        builder.with_ansi(false).event_format(JournalPrefix(inner)).try_init()
    } else if under_systemd {
        builder.without_time().with_ansi(false).try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
}

/// Whether `$JOURNAL_STREAM` (`DEVICE:INODE`) is our stderr.
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some(var) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = var.to_str().and_then(|v| v.split_once(':')) else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    match std::fs::File::from(fd).metadata() {
        Ok(m) => m.dev() == dev && m.ino() == ino,
        Err(_) => false,
    }
}

/// Prefixes each line with its syslog priority for journald.
struct JournalPrefix<F>(F);

/// The `sd-daemon(3)` prefix of a level.
fn priority(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        _ => "<7>",
    }
}

impl<S, N, F> FormatEvent<S, N> for JournalPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        writer.write_str(priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities() {
        assert_eq!(priority(&Level::ERROR), "<3>");
        assert_eq!(priority(&Level::WARN), "<4>");
        assert_eq!(priority(&Level::INFO), "<6>");
        assert_eq!(priority(&Level::TRACE), "<7>");
    }
}
