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

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

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
        Format::Text => builder.try_init(),
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
            let mut out = lock(&self.out);
            let _ = out.write_all(&buf);
            let _ = out.flush();
            buf.clear();
        } else if buf.len() >= WAKE_AT && buf.len() - line.len() < WAKE_AT {
            self.wake.notify_one();
        }
    }

    /// Writes out what is buffered now.
    fn flush(&self) {
        let mut buf = lock(&self.buf);
        if buf.is_empty() {
            return;
        }
        let mut out = lock(&self.out);
        let _ = out.write_all(&buf);
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
