//! Log setup: journald-friendly plain text under systemd (no timestamps, no colour: journald
//! adds its own), human text on a terminal, JSON when asked. `RUST_LOG` overrides the level.
//!
//! When stderr *is* the journal (`$JOURNAL_STREAM` names stderr's device and inode, as systemd
//! sets it for `StandardError=journal`), every line starts with a `<N>` syslog priority prefix
//! (`sd-daemon(3)`), so `journalctl -p warning -u urpd` shows warnings and errors only.
//!
//! Text lines write span and event fields with `PlainFields`: `name=value`, text as it is
//! (control characters escaped), no terminal styling. Why not tracing-subscriber's default:
//! every SIP transaction opens a span at info level, and the fmt layer formats a span's fields
//! when the span is created, whether or not anything is ever logged in it; the default visitor
//! wrote each field through `core::fmt` with italic/dimmed styles and quoted `Debug` text, ~2,400
//! instructions a span (callgrind: +17% of a REGISTER transaction at `level = "info"` against
//! `"warn"`). `PlainFields` appends text fields with `push_str`.
//!
//! JSON (`[log] format = "json"`): one object per line, with `timestamp`, `level`, `fields`
//! (`message` and the event's fields), `target`, and `span`/`spans` carrying the SIP span's
//! `call_id` and `method`/`status`, so a call can be followed with `jq 'select(.span.call_id==…)'`.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Safe to call once; later calls are ignored.
pub fn init(level: &str, format: &str) {
    let filter = Filter::new(level);
    let under_systemd = std::env::var_os("JOURNAL_STREAM").is_some() || std::env::var_os("INVOCATION_ID").is_some();
    // Everything passes the builder's own filter; `filter`, layered on top, decides.
    let builder = tracing_subscriber::fmt().with_max_level(LevelFilter::TRACE).with_writer(std::io::stderr);
    if format == "json" {
        return filter.install(builder.json().with_current_span(true).finish());
    }
    let builder = builder.fmt_fields(PlainFields);
    if stderr_is_journal() {
        let inner = tracing_subscriber::fmt::format().without_time().with_ansi(false);
        filter.install(builder.with_ansi(false).event_format(JournalPrefix(inner)).finish())
    } else if under_systemd {
        filter.install(builder.without_time().with_ansi(false).finish())
    } else {
        filter.install(builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).finish())
    }
}

/// Which events and spans are logged.
///
/// `RUST_LOG` gets the full `EnvFilter` syntax (span and field directives too). The configured
/// level (`[log] level`: a level, or `target=level` pairs) is a static `Targets` filter when it
/// parses as one: `EnvFilter` takes four lock-guarded map lookups per span (new, enter, exit,
/// close) to serve span directives even when it has none, and every SIP transaction opens a
/// span at info.
#[allow(clippy::large_enum_variant)] // one value, built once at start and moved into the subscriber
enum Filter {
    /// Full directive syntax, dynamic per span.
    Env(EnvFilter),
    /// Static: decided once per callsite.
    Targets(Targets),
}

impl Filter {
    fn new(level: &str) -> Filter {
        if let Ok(f) = EnvFilter::try_from_default_env() {
            return Filter::Env(f);
        }
        // sqlx logs every statement at debug: keep it quiet unless RUST_LOG asks for it.
        let spec = format!("{level},sqlx=warn");
        match spec.parse::<Targets>() {
            Ok(t) => Filter::Targets(t),
            Err(_) => Filter::Env(EnvFilter::new(spec)),
        }
    }

    fn install<S>(self, subscriber: S)
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let _ = match self {
            Filter::Env(f) => subscriber.with(f).try_init(),
            Filter::Targets(t) => subscriber.with(t).try_init(),
        };
    }
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

/// Fields as `name=value` separated by spaces, the message first and without its name.
pub struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = PlainVisitor { w: Staged { out: writer, buf: [0; STAGE], len: 0 }, first: true, result: Ok(()) };
        fields.record(&mut v);
        v.result.and_then(|()| v.w.flush())
    }
}

/// Bytes staged on the stack before they reach the writer: a span's fields go into its
/// `String` in one append (one allocation of the right size), not one growth per field.
const STAGE: usize = 256;

/// A writer in front of `out` that gathers small writes.
struct Staged<'w> {
    out: Writer<'w>,
    buf: [u8; STAGE],
    len: usize,
}

impl Staged<'_> {
    fn flush(&mut self) -> fmt::Result {
        let pending = std::mem::take(&mut self.len);
        match self.buf.get(..pending).map(std::str::from_utf8) {
            // Only whole `&str`s are staged, so the bytes are UTF-8.
            Some(Ok(text)) if !text.is_empty() => self.out.write_str(text),
            Some(Ok(_)) => Ok(()),
            _ => Err(fmt::Error),
        }
    }
}

impl fmt::Write for Staged<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.len + s.len() > STAGE {
            self.flush()?;
            if s.len() > STAGE {
                return self.out.write_str(s);
            }
        }
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
            None => self.out.write_str(s),
        }
    }
}

/// Writes one field after another into the line (or the span's stored text).
struct PlainVisitor<'w> {
    w: Staged<'w>,
    first: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// The separator and, except for the message, `name=`.
    fn start(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.w.write_char(' ')?;
        }
        match field.name() {
            "message" => Ok(()),
            name => {
                self.w.write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.w.write_char('=')
            }
        }
    }

    fn field(&mut self, field: &Field, write: impl FnOnce(&mut Staged<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.start(field).and_then(|()| write(&mut self.w));
        }
    }
}

/// Text as it is, unless it holds a control character (a line break from the network must not
/// start a forged log line): then Rust's escaped form.
fn write_text(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        write!(w, "{}", s.escape_debug())
    } else {
        w.write_str(s)
    }
}

/// Decimal digits without `core::fmt` (transaction numbers, status codes: every span).
fn write_u64(w: &mut impl fmt::Write, v: u64) -> fmt::Result {
    let mut buf = [0u8; 20];
    // ASCII digits only, so always UTF-8.
    match std::str::from_utf8(crate::sip::text::decimal_digits(v, &mut buf)) {
        Ok(text) => w.write_str(text),
        Err(_) => Err(fmt::Error),
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |w| write_text(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |w| write_u64(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |w| {
            if value < 0 {
                w.write_char('-')?;
            }
            write_u64(w, value.unsigned_abs())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |w| write!(Escaping(w), "{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` and the message arrive here too (as Debug wrappers that print Display).
        if field.name().starts_with("log.") {
            return;
        }
        self.field(field, |w| write!(Escaping(w), "{value:?}"));
    }
}

/// Passes formatted text through `write_text`, piece by piece (no buffer).
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_text(self.0, s)
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
    use std::sync::{Arc, Mutex};

    /// Lines written by a subscriber with `PlainFields`, as `init` builds it for a terminal.
    fn logged(f: impl FnOnce()) -> String {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .fmt_fields(PlainFields)
            .with_writer(move || SinkWriter(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct SinkWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SinkWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn span_and_event_fields_are_plain_name_value_pairs() {
        let log = logged(|| {
            let span = tracing::info_span!("tx", tx = 7u64, call_id = "a84b4c76e66710@pc33", method = "REGISTER");
            let _g = span.enter();
            let err = std::io::Error::other("boom");
            tracing::info!(
                reason = "nonce expired",
                ok = true,
                n = -3i64,
                zero = 0u64,
                max = u64::MAX,
                error = &err as &dyn std::error::Error,
                "authentication failed"
            );
        });
        assert_eq!(
            log.trim(),
            "INFO tx{tx=7 call_id=a84b4c76e66710@pc33 method=REGISTER}: authentication failed reason=nonce expired ok=true n=-3 zero=0 max=18446744073709551615 error=boom"
        );
    }

    #[test]
    fn long_fields_pass_the_stage_whole() {
        let long = "x".repeat(STAGE + 10);
        let log = logged(|| {
            let span = tracing::info_span!("tx", a = "1".repeat(STAGE - 8).as_str(), b = long.as_str());
            let _g = span.enter();
            tracing::info!("in");
        });
        assert!(log.contains(&format!("tx{{a={} b={long}}}: in", "1".repeat(STAGE - 8))), "{log}");
    }

    #[test]
    fn control_characters_cannot_forge_a_line() {
        let log = logged(|| {
            let forged = "x\nINFO forged";
            tracing::warn!(peer = forged, detail = %forged, "odd {}", forged);
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains(r"peer=x\nINFO forged detail=x\nINFO forged"), "{log}");
        assert!(log.contains(r"odd x\nINFO forged"), "{log}");
    }

    #[test]
    fn configured_levels_filter_statically_span_directives_dynamically() {
        if std::env::var_os("RUST_LOG").is_some() {
            return; // RUST_LOG decides, whatever the configuration says.
        }
        assert!(matches!(Filter::new("info"), Filter::Targets(_)));
        assert!(matches!(Filter::new("warn,urpd::proxy=debug"), Filter::Targets(_)));
        // Span directives need EnvFilter.
        assert!(matches!(Filter::new("info,[tx{method=INVITE}]=debug"), Filter::Env(_)));
    }

    #[test]
    fn priorities() {
        assert_eq!(priority(&Level::ERROR), "<3>");
        assert_eq!(priority(&Level::WARN), "<4>");
        assert_eq!(priority(&Level::INFO), "<6>");
        assert_eq!(priority(&Level::TRACE), "<7>");
    }
}
