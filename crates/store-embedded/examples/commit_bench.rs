//! Durable commit throughput of the embedded store, with N concurrent committers.
//!
//! ```text
//! cargo run --release -p mailerd-store-embedded --example commit_bench -- [committers] [messages] [size] [dir]
//! ```
//! Defaults: 20 committers, 20 000 messages of 5 000 bytes, in a temporary directory under
//! the current one (so on the disk being measured, not a tmpfs). Prints commits/s and the
//! latency of one commit as the committers see it (median, p99). `EXCLUSIVE=1` opens the
//! store with `shared_readers: false` (one fsync per group commit instead of two).

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailerd_store::{NewMessage, Store};
use mailerd_store_embedded::{EmbeddedStore, Options};
use mailerd_types::{Envelope, RecipientSpec};

fn message(seed: u64, size: usize) -> NewMessage {
    let mut content = format!("X-Seed: {seed}\r\nSubject: bench\r\n\r\n").into_bytes();
    content.resize(size.max(content.len()), b'x');
    NewMessage {
        envelope: Envelope {
            reverse_path: "sender@example.org".into(),
            recipients: vec![RecipientSpec::new("rcpt@example.net")],
            ret: None,
            envid: None,
            smtputf8: false,
            eight_bit: false,
            received_at: 1_800_000_000,
            client: Some("127.0.0.1 bench".into()),
            auth_user: None,
        },
        content,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let committers = arg(0, 20).max(1);
    let messages = arg(1, 20_000);
    let size = arg(2, 5_000) as usize;
    let base = args.get(3).cloned().unwrap_or_else(|| ".".into());
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let path = dir.path().join("queue.redb");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let options = Options {
            shared_readers: std::env::var("EXCLUSIVE").map_or(true, |v| v != "1"),
            ..Options::default()
        };
        let shared = options.shared_readers;
        let store = Arc::new(EmbeddedStore::open_with(&path, options).expect("open"));
        let per = messages / committers;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..committers {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per as usize);
                for i in 0..per {
                    let m = message(c * 1_000_000 + i, size);
                    let t = Instant::now();
                    store.commit(m).await.expect("commit");
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut lat: Vec<Duration> = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("task"));
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "shared_readers={shared} committers={committers} messages={} size={size} time={secs:.2}s commits/s={:.0} MB/s={:.1} latency_ms p50={:.2} p99={:.2} max={:.2} file_mb={:.0}",
            lat.len(),
            lat.len() as f64 / secs,
            lat.len() as f64 * size as f64 / secs / 1e6,
            q(0.5),
            q(0.99),
            q(1.0),
            file as f64 / 1e6,
        );
    });
}
