//! Structured logs (tracing) to stderr: text for people, JSON for collectors.
//! `RUST_LOG` filters (default `info`).
//!
//! When stderr is not a terminal (a service manager, a file, a pipe), lines go through a
//! buffer that one thread writes out every [`FLUSH_EVERY`]: a busy server logs several lines
//! per message, and writing each one with its own `write(2)` under stderr's lock cost a system
//! call per line and made the runtime's threads wait for each other. Lines keep their order,
//! and the buffer is written out when the server stops (the [`Guard`]) and before a panic's
//! message. Memory is bounded: past [`HIGH_WATER`] the logging thread writes the buffer itself.
//! On a terminal every line is written at once, as before.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_log::NormalizeEvent;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Longest time a logged line waits in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Buffer size at which the flusher is woken early.
const WAKE_AT: usize = 64 * 1024;
/// Buffer size at which a logging thread writes the buffer itself (bounded memory when stderr
/// is slow or blocked).
pub const HIGH_WATER: usize = 4 * 1024 * 1024;

/// Writes out what is buffered when dropped (the end of `serve`).
pub struct Guard(Option<(Arc<Shared>, JoinHandle<()>)>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some((shared, thread)) = self.0.take() {
            shared.stop.store(true, Ordering::Release);
            shared.wake.notify_one();
            let _ = thread.join();
            shared.flush();
        }
    }
}

/// Installs the subscriber. Hold the guard until the program ends.
pub fn init(format: Format) -> Guard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let (writer, guard) = if terminal {
        (Writer::Direct, Guard(None))
    } else {
        let (shared, thread) = Shared::start(std::io::stderr);
        (
            Writer::Buffered(Arc::clone(&shared)),
            Guard(Some((shared, thread))),
        )
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(terminal);
    let installed = match format {
        // On a terminal, tracing's own format (with colours); otherwise the same line written
        // with less machinery.
        Format::Text if terminal => builder.try_init(),
        Format::Text => builder
            .event_format(TextLine)
            .fmt_fields(LeanFields)
            .try_init(),
        Format::Json => builder.json().try_init(),
    };
    if installed.is_ok()
        && let Some((shared, _)) = &guard.0
    {
        // A panic's message is printed straight to stderr: the lines logged before it come
        // first.
        let _ = PANIC_FLUSH.set(Arc::clone(shared));
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(s) = PANIC_FLUSH.get() {
                s.flush();
            }
            previous(info);
        }));
    }
    guard
}

static PANIC_FLUSH: OnceLock<Arc<Shared>> = OnceLock::new();

/// tracing-subscriber's default text line without colours,
/// `2026-11-28T11:47:01.639313Z  INFO target: message key=value ...`, written with less
/// machinery: the date and time are formatted once per second (per thread), the rest with
/// plain string writes; fields go through the same field formatter. A busy server writes
/// several lines per message, and the general formatter cost about a tenth of a relayed
/// message's instructions.
struct TextLine;

impl<S, N> FormatEvent<S, N> for TextLine
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        write_timestamp(&mut writer, std::time::SystemTime::now())?;
        writer.write_str(match *meta.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        })?;
        // mailerd opens no spans: none to print before the target.
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// tracing-subscriber's default field formatting (`DefaultFields`, no colours), with the
/// common cases written directly: a plain string field (printable ASCII without `"` or `\`,
/// which `{:?}` leaves as it is between quotes), an integer, a boolean. Everything else (the
/// message, `%` and `?` values, errors, strings that need escaping) goes to tracing's own
/// `DefaultVisitor`, so the output is the same byte for byte (a test compares them).
struct LeanFields;

impl<'w> FormatFields<'w> for LeanFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut v = LeanVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct LeanVisitor<'w> {
    writer: format::Writer<'w>,
    /// No field written yet (the next one gets no separating space).
    first: bool,
    result: std::fmt::Result,
}

impl LeanVisitor<'_> {
    /// The fields written directly: not the message, not tracing-log's `log.*` metadata.
    fn direct(field: &tracing::field::Field) -> bool {
        let name = field.name();
        name != "message" && !name.starts_with("log.")
    }

    /// ` name=` (without the leading space for the first field; `r#` stripped as tracing does).
    fn name(&mut self, field: &tracing::field::Field) -> std::fmt::Result {
        if self.first {
            self.first = false;
        } else {
            self.writer.write_char(' ')?;
        }
        let name = field.name();
        self.writer
            .write_str(name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_char('=')
    }

    /// Hands one field to tracing's own visitor, in the same padding state (it writes
    /// nothing for tracing-log's `log.*` metadata, so those leave the state as it was).
    fn delegate(
        &mut self,
        field: &tracing::field::Field,
        record: impl FnOnce(&mut format::DefaultVisitor<'_>),
    ) {
        use tracing_subscriber::field::VisitOutput;
        let mut v = format::DefaultVisitor::new(self.writer.by_ref(), self.first);
        record(&mut v);
        self.result = v.finish();
        if !field.name().starts_with("log.") {
            self.first = false;
        }
    }

    fn integer(&mut self, field: &tracing::field::Field, negative: bool, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.result = self.name(field).and_then(|()| {
            if negative {
                self.writer.write_char('-')?;
            }
            // ASCII digits.
            self.writer
                .write_str(std::str::from_utf8(&digits[at..]).unwrap_or("?"))
        });
    }
}

impl tracing::field::Visit for LeanVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let plain = value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if Self::direct(field) && plain {
            self.result = self.name(field).and_then(|()| {
                self.writer.write_char('"')?;
                self.writer.write_str(value)?;
                self.writer.write_char('"')
            });
        } else {
            self.delegate(field, |v| v.record_str(field, value));
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if self.result.is_err() {
            return;
        }
        if Self::direct(field) {
            self.integer(field, false, value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        if self.result.is_err() {
            return;
        }
        if Self::direct(field) {
            self.integer(field, value < 0, value.unsigned_abs());
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        if self.result.is_err() {
            return;
        }
        if Self::direct(field) {
            self.result = self
                .name(field)
                .and_then(|()| self.writer.write_str(if value { "true" } else { "false" }));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        if self.result.is_err() {
            return;
        }
        self.delegate(field, |v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        if Self::direct(field) {
            // A `%` or `?` value: `DefaultVisitor` writes `name={value:?}` for these.
            self.result = self
                .name(field)
                .and_then(|()| write!(self.writer, "{value:?}"));
            return;
        }
        if field.name() == "message" {
            // tracing escapes ESC, BEL, BS, FF, DEL and C1 controls in the message; one
            // without them is written as it is.
            let mut text = String::new();
            if std::fmt::Write::write_fmt(&mut text, format_args!("{value:?}")).is_ok()
                && !needs_escape(&text)
            {
                self.result = if self.first {
                    self.first = false;
                    self.writer.write_str(&text)
                } else {
                    self.writer
                        .write_char(' ')
                        .and_then(|()| self.writer.write_str(&text))
                };
                return;
            }
        }
        self.delegate(field, |v| v.record_debug(field, value));
    }
}

/// Whether tracing's message sanitizing would change `text`: ESC, BEL, BS, FF, DEL, or a C1
/// control (U+0080..U+009F, `0xC2 0x80..=0x9F` in UTF-8).
fn needs_escape(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        matches!(c, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f)
            || (c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

thread_local! {
    /// The second last formatted by this thread and its `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// RFC 3339 in UTC with microseconds, as tracing-subscriber's `SystemTime` timer writes it.
fn write_timestamp(w: &mut impl std::fmt::Write, now: std::time::SystemTime) -> std::fmt::Result {
    let Ok(since) = now.duration_since(std::time::UNIX_EPOCH) else {
        return w.write_str("<unknown time>");
    };
    let secs = since.as_secs();
    let (cached, mut text) = SECOND.get();
    if cached != secs {
        text = date_time(secs);
        SECOND.set((secs, text));
    }
    let mut frac = *b".000000Z";
    let mut micros = since.subsec_micros();
    for d in frac[1..7].iter_mut().rev() {
        *d = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    // Both are ASCII digits and separators.
    w.write_str(std::str::from_utf8(&text).unwrap_or("<unknown time>"))?;
    w.write_str(std::str::from_utf8(&frac).unwrap_or("Z"))
}

/// `YYYY-MM-DDTHH:MM:SS` of a count of seconds since 1970-01-01T00:00:00Z (proleptic
/// Gregorian calendar; days to a civil date by the usual era arithmetic).
fn date_time(secs: u64) -> [u8; 19] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // Days since 0000-03-01, so that the leap day ends a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March first
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    let mut out = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y.min(9999));
    put(5, 2, m);
    put(8, 2, d);
    put(11, 2, h);
    put(14, 2, mi);
    put(17, 2, s);
    out
}

#[derive(Clone)]
enum Writer {
    Direct,
    Buffered(Arc<Shared>),
}

impl<'a> MakeWriter<'a> for Writer {
    type Writer = LineWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        match self {
            Writer::Direct => LineWriter::Direct(std::io::stderr()),
            Writer::Buffered(s) => LineWriter::Buffered(s),
        }
    }
}

/// What the formatter writes one event to (it writes each event with one `write_all`).
pub enum LineWriter<'a> {
    Direct(std::io::Stderr),
    Buffered(&'a Shared),
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LineWriter::Direct(e) => e.write(buf),
            LineWriter::Buffered(s) => {
                s.push(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            LineWriter::Direct(e) => e.flush(),
            // Written by the flusher within FLUSH_EVERY.
            LineWriter::Buffered(_) => Ok(()),
        }
    }
}

type Sink = Box<dyn Write + Send>;

/// The buffer and the output. Lock order: `buf`, then `out`; whoever takes bytes out of
/// `buf` takes `out` before letting `buf` go, so chunks reach the output in order.
pub struct Shared {
    buf: Mutex<Vec<u8>>,
    out: Mutex<Sink>,
    wake: Condvar,
    stop: AtomicBool,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn start<W: Write + Send + 'static>(out: impl FnOnce() -> W) -> (Arc<Shared>, JoinHandle<()>) {
        let shared = Arc::new(Shared {
            buf: Mutex::new(Vec::with_capacity(WAKE_AT)),
            out: Mutex::new(Box::new(out())),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(move || s.run())
            .unwrap_or_else(|e| panic!("starting the log thread: {e}"));
        (shared, thread)
    }

    fn push(&self, line: &[u8]) {
        let mut buf = lock(&self.buf);
        buf.extend_from_slice(line);
        // Past HIGH_WATER, or once the flusher has stopped (a line logged at the very end).
        if buf.len() >= HIGH_WATER || self.stop.load(Ordering::Acquire) {
            self.write_out(&mut buf);
        } else if buf.len() >= WAKE_AT && buf.len() - line.len() < WAKE_AT {
            self.wake.notify_one();
        }
    }

    /// Writes out what is buffered now.
    fn flush(&self) {
        let mut buf = lock(&self.buf);
        if !buf.is_empty() {
            self.write_out(&mut buf);
        }
    }

    /// Writes `buf` (held locked, so nothing gets between) to the output and empties it.
    fn write_out(&self, buf: &mut Vec<u8>) {
        let mut out = lock(&self.out);
        let _ = out.write_all(buf);
        let _ = out.flush();
        buf.clear();
    }

    fn run(&self) {
        let mut chunk = Vec::with_capacity(WAKE_AT);
        loop {
            let stopping = {
                let mut buf = lock(&self.buf);
                if buf.len() < WAKE_AT && !self.stop.load(Ordering::Acquire) {
                    buf = match self.wake.wait_timeout(buf, FLUSH_EVERY) {
                        Ok((g, _)) => g,
                        Err(e) => e.into_inner().0,
                    };
                }
                std::mem::swap(&mut *buf, &mut chunk);
                let mut out = lock(&self.out);
                drop(buf);
                if !chunk.is_empty() {
                    let _ = out.write_all(&chunk);
                    let _ = out.flush();
                    chunk.clear();
                }
                self.stop.load(Ordering::Acquire)
            };
            if stopping {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<Vec<u8>>>);
    impl Write for Out {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn started(out: &Out) -> Guard {
        let o = out.clone();
        let (shared, thread) = Shared::start(move || o);
        Guard(Some((shared, thread)))
    }

    fn shared(g: &Guard) -> &Shared {
        match &g.0 {
            Some((s, _)) => s,
            None => panic!("no buffer"),
        }
    }

    /// The characters tracing's message sanitizing rewrites, found in any position.
    #[test]
    fn needs_escape_is_exactly_the_sanitized_characters() {
        for cp in 0..0x3000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let want = matches!(cp, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0x80..=0x9f);
            for text in [c.to_string(), format!("ab{c}"), format!("\u{e9}{c}x")] {
                assert_eq!(needs_escape(&text), want, "U+{cp:04X} in {text:?}");
            }
        }
    }

    /// A day-by-day walk from 1970, independent of the era arithmetic.
    #[test]
    fn date_time_matches_a_calendar_walk() {
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for day in 0..(200 * 366) {
            let secs = day * 86_400 + 3_723; // 01:02:03
            let want = format!("{y:04}-{m:02}-{d:02}T01:02:03");
            assert_eq!(
                std::str::from_utf8(&date_time(secs)).ok(),
                Some(want.as_str())
            );
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
        assert_eq!(&date_time(0), b"1970-01-01T00:00:00");
        assert_eq!(&date_time(951_868_799), b"2000-02-29T23:59:59");
        assert_eq!(&date_time(253_402_300_799), b"9999-12-31T23:59:59");
    }

    /// Our text line is tracing-subscriber's default line (without colours), byte for byte
    /// after the timestamp, whose shape and second are the same.
    #[test]
    fn text_line_is_the_default_format() {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl<'a> MakeWriter<'a> for Buf {
            type Writer = Out;
            fn make_writer(&'a self) -> Out {
                Out(Arc::clone(&self.0))
            }
        }
        fn emit() {
            let id = "006B0ABF35000000000F";
            tracing::info!(queue_id = %id, sender = "a@b.test", nrcpt = 1, size = 5297u64, tls = ?"none", "message accepted");
            tracing::warn!(client = %"127.0.0.1:1", "connection refused: too many connections");
            tracing::error!(error = %"disk full", ok = false, "store batch failed");
            tracing::debug!("just a message with \"quotes\" and\ttab");
            tracing::trace!(target: "mailerd::deliver", "{}: to=<{}>, status=sent (250 ok)", id, "x@y.test");
            tracing::info!(empty = "", float = 0.25, "");
            // Every kind of field value, plain and needing escapes.
            #[derive(Debug)]
            struct Inner;
            impl std::fmt::Display for Inner {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("inner \x1b[31m cause")
                }
            }
            impl std::error::Error for Inner {}
            #[derive(Debug)]
            struct Outer(Inner);
            impl std::fmt::Display for Outer {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("outer")
                }
            }
            impl std::error::Error for Outer {
                fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                    Some(&self.0)
                }
            }
            let e = Outer(Inner);
            tracing::warn!(
                a = "plain text: 1.2.3 <x@y> [ok] 'q'",
                b = "with \"quote\" and \\ backslash",
                c = "line\nbreak\ttab\r",
                q = "say \"hi\" now",
                bs = "back\\slash only",
                d = "caf\u{e9} \u{1b}[0m \u{85} \u{7f}",
                e = u64::MAX,
                f = i64::MIN,
                g = -42i64,
                h = 0u64,
                i = true,
                j = false,
                k = 1.5e300f64,
                l = %"display \u{1b} value",
                m = ?Some("debug"),
                r#type = "raw name",
                n = 7u8,
                o = -7i32,
                p = 1u128 << 100,
                error = &e as &(dyn std::error::Error + 'static),
                "message with \u{1b}[1m escape and \u{9b} C1 and {}", "args"
            );
            tracing::info!(message = "a message given as a field", after = 1);
            tracing::info!(first = 1, second = "two");
            tracing::error!(only = "fields");
        }
        let run = |ours: bool| {
            let buf = Buf::default();
            let b = tracing_subscriber::fmt()
                .with_writer(buf.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE);
            if ours {
                tracing::subscriber::with_default(
                    b.event_format(TextLine).fmt_fields(LeanFields).finish(),
                    emit,
                );
            } else {
                tracing::subscriber::with_default(b.finish(), emit);
            }
            String::from_utf8(lock(&buf.0).clone()).expect("utf-8")
        };
        for _ in 0..3 {
            let (theirs, ours) = (run(false), run(true));
            let (t, o): (Vec<_>, Vec<_>) = (theirs.lines().collect(), ours.lines().collect());
            assert_eq!(t.len(), 10, "{theirs}");
            assert_eq!(o.len(), t.len(), "{ours}");
            if t[0][..19] != o[0][..19] {
                continue; // a second boundary fell between the two runs
            }
            for (a, b) in t.iter().zip(&o) {
                assert_eq!(a[27..], b[27..]);
                assert_eq!(a.as_bytes()[19], b'.');
                assert_eq!(b.as_bytes()[19], b'.');
                assert_eq!(&a[26..27], "Z");
                assert_eq!(&b[26..27], "Z");
                assert!(b[20..26].bytes().all(|c| c.is_ascii_digit()), "{b}");
            }
            assert!(ours.ends_with('\n'));
            return;
        }
        panic!("three second boundaries in a row");
    }

    #[test]
    fn lines_come_out_in_order_within_the_flush_interval() {
        let out = Out::default();
        let guard = started(&out);
        let mut want = Vec::new();
        for i in 0..1000 {
            let line = format!("line {i}\n");
            LineWriter::Buffered(shared(&guard))
                .write_all(line.as_bytes())
                .expect("write");
            want.extend_from_slice(line.as_bytes());
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while lock(&out.0).len() < want.len() && std::time::Instant::now() < deadline {
            std::thread::sleep(FLUSH_EVERY / 4);
        }
        // Without the guard being dropped: the flusher wrote them.
        assert_eq!(*lock(&out.0), want);
        drop(guard);
        assert_eq!(*lock(&out.0), want);
    }

    #[test]
    fn dropping_the_guard_writes_everything_and_later_lines_go_straight_out() {
        let out = Out::default();
        let guard = started(&out);
        let s = Arc::clone(match &guard.0 {
            Some((s, _)) => s,
            None => panic!("no buffer"),
        });
        s.push(b"first\n");
        drop(guard);
        assert_eq!(*lock(&out.0), b"first\n");
        s.push(b"after\n");
        assert_eq!(*lock(&out.0), b"first\nafter\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_logging_thread_itself() {
        let out = Out::default();
        let guard = started(&out);
        let big = vec![b'x'; HIGH_WATER];
        shared(&guard).push(&big);
        // Written before push returned, whatever the flusher is doing.
        assert_eq!(lock(&out.0).len(), HIGH_WATER);
        assert!(lock(&shared(&guard).buf).is_empty());
    }

    #[test]
    fn concurrent_loggers_lose_and_split_nothing() {
        let out = Out::default();
        let guard = started(&out);
        std::thread::scope(|sc| {
            for t in 0..4 {
                let s = shared(&guard);
                sc.spawn(move || {
                    for i in 0..5000 {
                        s.push(format!("t{t} {i:05} {}\n", "y".repeat(i % 300)).as_bytes());
                    }
                });
            }
        });
        drop(guard);
        let text = String::from_utf8(lock(&out.0).clone()).expect("utf-8");
        let mut next = [0usize; 4];
        for line in text.lines() {
            let (t, rest) = line.split_once(' ').expect("thread id");
            let t: usize = t[1..].parse().expect("thread number");
            let (i, ys) = rest.split_once(' ').expect("index");
            let i: usize = i.parse().expect("index number");
            // Each thread's lines arrive whole and in the order it logged them.
            assert_eq!(i, next[t]);
            assert_eq!(ys.len(), i % 300);
            next[t] += 1;
        }
        assert_eq!(next, [5000; 4]);
    }
}
