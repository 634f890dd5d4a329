//! Fills a queue file with N real messages through the store's own API, for the backlog
//! benchmark (`bench/queue-rss.sh`): each message is an ordinary durable `commit` (envelope,
//! content, recipient state, reception log record), exactly what receive writes after DATA.
//! Many committers at once let group commit put ~1 000 commits in each transaction, so a
//! million messages go in within minutes instead of hours.
//!
//! ```text
//! cargo run --release -p mailerd-store-embedded --example queue_fill -- <queue.redb> [messages] [size] [committers]
//! ```
//! Defaults: 100 000 messages of 1 500 bytes, 1 024 committers. Every message is due now
//! (received now, never tried), one recipient `user<n>@d<n % 1000>.example.net` (a thousand
//! destination domains), from `sender@example.org`. Prints the time taken, the rate, the
//! writer's batching and the file size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mailerd_store::{NewMessage, Store};
use mailerd_store_embedded::EmbeddedStore;
use mailerd_types::{Envelope, RecipientSpec};

fn message(n: u64, size: usize, now: u64) -> NewMessage {
    let rcpt = format!("user{n}@d{}.example.net", n % 1000);
    let mut content = format!(
        "Received: from client.example.org (client.example.org [192.0.2.7])\r\n\
         \tby mx.bench.test with ESMTP id {n:016X}\r\n\
         \tfor <{rcpt}>; Thu, 1 Jan 2026 00:00:00 +0000\r\n\
         From: Sender <sender@example.org>\r\n\
         To: <{rcpt}>\r\n\
         Subject: backlog message {n}\r\n\
         Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n\
         Message-ID: <{n}.backlog@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n"
    )
    .into_bytes();
    // A body of 76-character lines, different for every message.
    let mut i = n;
    while content.len() + 78 <= size {
        for _ in 0..76 {
            i = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            content.push(b'a' + ((i >> 33) % 26) as u8);
        }
        content.extend_from_slice(b"\r\n");
    }
    NewMessage {
        envelope: Envelope {
            reverse_path: "sender@example.org".into(),
            recipients: vec![RecipientSpec::new(&rcpt)],
            ret: None,
            envid: None,
            smtputf8: false,
            eight_bit: false,
            received_at: now,
            client: Some("client.example.org [192.0.2.7]".into()),
            auth_user: None,
        },
        content,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first().cloned() else {
        eprintln!("usage: queue_fill <queue.redb> [messages] [size] [committers]");
        std::process::exit(2);
    };
    let arg = |i: usize, d: u64| -> Result<u64, String> {
        match args.get(i) {
            None => Ok(d),
            Some(a) => a.parse().map_err(|e| format!("argument {i} ({a:?}): {e}")),
        }
    };
    let total = arg(1, 100_000)?;
    let size = arg(2, 1_500)? as usize;
    let committers = arg(3, 1_024)?.max(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = Arc::new(EmbeddedStore::open(&path)?);
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..committers {
            let store = Arc::clone(&store);
            let next = Arc::clone(&next);
            tasks.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return Ok::<(), mailerd_store::StoreError>(());
                    }
                    store.commit(message(n, size, now)).await?;
                    if (n + 1).is_multiple_of(100_000) {
                        eprintln!(
                            "queue_fill: {} committed after {:.1}s",
                            n + 1,
                            start.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        let secs = start.elapsed().as_secs_f64();
        let st = store.writer_stats();
        drop(store);
        let file = std::fs::metadata(&path)?.len();
        println!(
            "queue_fill: messages={total} size={size} committers={committers} seconds={secs:.1} commits_per_s={:.0} group_commits={} largest_batch={} file_bytes={file}",
            total as f64 / secs,
            st.batches,
            st.largest_batch,
        );
        Ok(())
    })
}
