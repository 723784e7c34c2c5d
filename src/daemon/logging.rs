//! Log setup: journald-friendly plain text under systemd (no timestamps, no colour: journald
//! adds its own), human text on a terminal, JSON when asked. `RUST_LOG` overrides the level.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once; later calls are ignored.
pub fn init(level: &str, format: &str) {
    // sqlx logs every statement at debug: keep it quiet unless RUST_LOG asks for it.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn")));
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().with_current_span(true).try_init()
    } else if under_systemd {
        builder.without_time().with_ansi(false).try_init()
    } else {
        builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init()
    };
}
