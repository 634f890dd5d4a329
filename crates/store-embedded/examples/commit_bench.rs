//! Durable commit throughput of the embedded store, with N concurrent committers.
//!
//! ```text
//! cargo run --release -p mailerd-store-embedded --example commit_bench -- [committers] [messages] [size] [dir]
//! ```
//! Defaults: 20 committers, 20 000 messages of 5 000 bytes, in a temporary directory under
//! the current one (so on the disk being measured, not a tmpfs). Prints commits/s and the
//! latency of one commit as the committers see it (median, p99). `SHARED=1` opens the store
//! with `shared_readers: true` (two fsyncs per group commit instead of one). `REUSE=1`
//! first fills and empties the store, so the measured commits reuse free pages instead of
//! growing the file (the steady state of a queue that delivers as fast as it receives).
//! `LINGER=0` turns off the writer's linger. `THINK_US=n` pauses n µs before each commit (a
//! client's turnaround). `LIFECYCLE=1` runs a queue manager at the same time (claim 200 at a time; per message: get,
//! apply a delivered report, delete), as a server delivering what it receives does.
//!
//! Figures on the 2-core dev VM (release build; the disk is shared, so flush latency swings
//! between ~0.25 ms and 4-8 ms; `dd bs=5k oflag=dsync` tells which regime you are in):
//!
//! | run | quiet disk | busy disk (3-5 ms per dsync write) |
//! |---|---|---|
//! | 1 committer | 1 600-1 700 /s, p50 0.5 ms | 130-270 /s, p50 4-7.5 ms |
//! | 20 committers | 12 300-15 900 /s, p50 1.1-1.5 ms | 2 500-4 400 /s, p50 4-8 ms |
//! | 20 committers, `SHARED=1` | 11 200-11 500 /s | 1 900-2 350 /s |
//! | 20 committers + `LIFECYCLE=1` | | 5 700-9 600 /s received and delivered |

use std::sync::Arc;
use std::time::{Duration, Instant};

use mailerd_store::{NewMessage, Store};
use mailerd_store_embedded::{EmbeddedStore, Options};
use mailerd_types::{DeliveryReport, Envelope, RecipientSpec, RecipientState, RecipientUpdate};

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
    // THINK_US: a pause before each commit, like an SMTP client sending its next message.
    let think: u64 = std::env::var("THINK_US")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let path = dir.path().join("queue.redb");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let options = Options {
            shared_readers: std::env::var("SHARED").is_ok_and(|v| v == "1"),
            linger: if std::env::var("LINGER").is_ok_and(|v| v == "0") {
                None
            } else {
                Options::default().linger
            },
            ..Options::default()
        };
        let shared = options.shared_readers;
        let store = Arc::new(EmbeddedStore::open_with(&path, options).expect("open"));
        let per = messages / committers;
        if std::env::var("REUSE").is_ok_and(|v| v == "1") {
            // Steady state of a running queue: the file already has room (messages delivered
            // and deleted), so commits reuse pages instead of growing the file.
            let mut ids = Vec::new();
            for i in 0..per * committers {
                ids.push(store.commit(message(i, size)).await.expect("prefill"));
            }
            for id in &ids {
                store.delete(id).await.expect("delete");
            }
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..committers {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per as usize);
                for i in 0..per {
                    if think > 0 {
                        tokio::time::sleep(Duration::from_micros(think)).await;
                    }
                    let m = message(c * 1_000_000 + i, size);
                    let t = Instant::now();
                    store.commit(m).await.expect("commit");
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        // LIFECYCLE=1: a queue manager works at the same time, like a server delivering what
        // it receives: claim what is due, report each delivered, release, delete.
        let lifecycle = std::env::var("LIFECYCLE").is_ok_and(|v| v == "1");
        let total = per * committers;
        let delivered = if lifecycle {
            let store = Arc::clone(&store);
            Some(tokio::spawn(async move {
                let mut done = 0u64;
                let mut idle = 0;
                while done < total && idle < 2000 {
                    let claimed = store
                        .claim("bench", 1_800_000_000, 200, 300)
                        .await
                        .expect("claim");
                    if claimed.is_empty() {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    }
                    idle = 0;
                    let mut work = Vec::new();
                    for c in claimed {
                        let store = Arc::clone(&store);
                        work.push(tokio::spawn(async move {
                            let report = DeliveryReport {
                                id: c.lease.id.clone(),
                                updates: vec![RecipientUpdate {
                                    index: 0,
                                    state: RecipientState::Delivered,
                                    reply: Some("250 2.0.0 ok".into()),
                                    remote_mta: Some("mx.example.net".into()),
                                    attempts: 1,
                                    next_attempt: None,
                                    next_hop_dsn: Some(true),
                                }],
                            };
                            store.get(&c.lease.id).await.expect("get");
                            store
                                .apply(&c.lease, report, 1_800_000_001)
                                .await
                                .expect("apply");
                            store.delete(&c.lease.id).await.expect("delete");
                        }));
                    }
                    for w in work {
                        w.await.expect("delivery task");
                        done += 1;
                    }
                }
                done
            }))
        } else {
            None
        };
        let mut lat: Vec<Duration> = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("task"));
        }
        let received_secs = start.elapsed().as_secs_f64();
        if let Some(d) = delivered {
            let n = d.await.expect("queue task");
            let secs = start.elapsed().as_secs_f64();
            println!(
                "lifecycle: received {} in {received_secs:.2}s, delivered+deleted {n} in {secs:.2}s ({:.0}/s)",
                lat.len(),
                n as f64 / secs
            );
        }
        let secs = received_secs;
        lat.sort();
        let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let st = store.writer_stats();
        println!(
            "writer: {} group commits for {} ops (mean {:.1}, largest {})",
            st.batches,
            st.ops,
            st.ops as f64 / st.batches.max(1) as f64,
            st.largest_batch
        );
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
