//! Crash safety: SIGKILL a process in the middle of committing, reopen, and check that every
//! acknowledged message is there and intact and that nothing partial is visible.
//!
//! The test binary plays both parts. `sigkill_keeps_every_acknowledged_message` re-runs this
//! binary as a child with `CRASH_CHILD_STORE` set; the child (`crash_child`) commits from 20
//! tasks in a loop and prints `ACK <seed> <queue id>` after each `commit` returns. The parent
//! kills it with SIGKILL after a varying number of acknowledgements, reads every line the child
//! managed to print, reopens the store and checks each message. Three rounds on the same file,
//! so later rounds also recover a store that was itself recovered after a kill.
//!
//! The same two-part trick checks that a second process can read the store while the first
//! writes (`reader_process_sees_writer_commits`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailerd_store::conformance::{content, message};
use mailerd_store::{ListFilter, Store, StoreError};
use mailerd_store_embedded::EmbeddedStore;
use mailerd_types::QueueId;

const CHILD_ENV: &str = "CRASH_CHILD_STORE";
const READER_ENV: &str = "READER_CHILD_STORE";
const SIZE: usize = 5_000;

/// The seed a message was made from, read back from its `X-Seed` header.
fn seed_of(content: &[u8]) -> Option<u64> {
    let line = content.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line.strip_prefix(b"X-Seed: ")?)
        .ok()?
        .parse()
        .ok()
}

/// The child part: commit forever from 20 tasks, acknowledging on stdout.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return; // An ordinary test run: nothing to do.
    };
    let base: u64 = std::env::var("CRASH_CHILD_BASE")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Arc::new(EmbeddedStore::open(&path).expect("child opens store"));
        let mut tasks = Vec::new();
        for t in 0..20u64 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let seed = base + t * 1_000_000 + i;
                    let id = store
                        .commit(message(seed, &["bob@example.net"], SIZE))
                        .await
                        .expect("child commit");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {seed} {id}").expect("stdout");
                    out.flush().expect("flush");
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Runs this test binary's `name` test as a child process with `env` set.
fn child(name: &str, env: &[(&str, &str)]) -> Command {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn parse_ack(line: &str) -> Option<(u64, QueueId)> {
    let mut w = line.strip_prefix("ACK ")?.split(' ');
    let seed = w.next()?.parse().ok()?;
    let id = w.next()?.to_string();
    Some((seed, QueueId(id)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_keeps_every_acknowledged_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queue.redb");
    let path_s = path.to_str().expect("utf-8 path").to_string();
    let mut acked: BTreeMap<QueueId, u64> = BTreeMap::new();
    for (round, kill_after) in [150usize, 400, 75].into_iter().enumerate() {
        let base = ((round as u64) + 1) * 100_000_000;
        let base_s = base.to_string();
        let mut c = child(
            "crash_child",
            &[(CHILD_ENV, &path_s), ("CRASH_CHILD_BASE", &base_s)],
        )
        .spawn()
        .expect("spawn child");
        let stdout = c.stdout.take().expect("child stdout");
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while lines.len() < kill_after && Instant::now() < deadline {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
                lines.push(l);
            }
        }
        // SIGKILL while the 20 committers are mid-flight.
        c.kill().expect("kill -9 child");
        let status = c.wait().expect("reap child");
        assert!(!status.success(), "child was killed, not finished");
        reader.join().expect("reader thread");
        lines.extend(rx.try_iter());
        let before = acked.len();
        for l in &lines {
            if let Some((seed, id)) = parse_ack(l) {
                assert!(acked.insert(id, seed).is_none(), "queue id reused: {l}");
            }
        }
        assert!(
            acked.len() - before >= kill_after.min(50),
            "round {round}: child acknowledged only {} commits",
            acked.len() - before
        );

        let t = Instant::now();
        let store = EmbeddedStore::open(&path).expect("reopen after SIGKILL");
        let reopen = t.elapsed();
        let present = verify(&store, &acked).await;
        eprintln!(
            "round {round}: {} acknowledged in all, {present} present, reopen took {reopen:?}",
            acked.len()
        );
        drop(store);
    }
}

/// Every acknowledged message is present and complete; every message present is complete
/// (committed whole, acknowledged or not); nothing corrupt.
async fn verify(store: &EmbeddedStore, acked: &BTreeMap<QueueId, u64>) -> usize {
    for (id, seed) in acked {
        let m = store
            .get(id)
            .await
            .unwrap_or_else(|e| panic!("acknowledged {id}: {e}"))
            .unwrap_or_else(|| panic!("acknowledged {id} lost after SIGKILL"));
        assert_eq!(
            m.content,
            content(*seed, SIZE),
            "acknowledged {id} content intact"
        );
        let log = store.status_log(id).await.expect("status log");
        assert_eq!(log.len(), 1, "{id}: reception record present");
    }
    let listed = store
        .list(&ListFilter {
            include_done: true,
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(
        listed.corrupt.is_empty(),
        "torn records: {:?}",
        listed.corrupt
    );
    assert!(listed.messages.len() >= acked.len());
    for s in &listed.messages {
        let m = store
            .get(&s.id)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", s.id))
            .expect("listed message readable");
        let seed = seed_of(&m.content).unwrap_or_else(|| panic!("{}: no seed header", s.id));
        assert_eq!(m.content, content(seed, SIZE), "{} complete", s.id);
    }
    listed.messages.len()
}

/// The reader part: open read-only, print what is listed, try to open for writing.
#[test]
fn reader_child() {
    let Some(path) = std::env::var_os(READER_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = EmbeddedStore::open_read_only(&path).expect("read-only open");
        let listed = store.list(&ListFilter::default()).await.expect("list");
        let mut out = std::io::stdout().lock();
        for m in &listed.messages {
            let full = store.get(&m.id).await.expect("get").expect("message");
            writeln!(out, "LISTED {} {}", m.id, full.content.len()).expect("stdout");
        }
        let refused = match store.hold(&listed.messages[0].id).await {
            Err(StoreError::ReadOnly) => "yes",
            _ => "no",
        };
        writeln!(out, "READONLY {refused}").expect("stdout");
        let second_writer = match EmbeddedStore::open(Path::new(&path)) {
            Err(StoreError::InUse(_)) => "refused",
            Ok(_) => "opened",
            Err(_) => "error",
        };
        writeln!(out, "WRITER {second_writer}").expect("stdout");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_process_sees_writer_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queue.redb");
    let store = EmbeddedStore::open(&path).expect("open");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            store
                .commit(message(i, &["bob@example.net"], 1234))
                .await
                .expect("commit"),
        );
    }
    let path_s = path.to_str().expect("utf-8 path").to_string();
    let run_reader = move || {
        let out = child("reader_child", &[(READER_ENV, &path_s)])
            .output()
            .expect("run reader");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let out = tokio::task::spawn_blocking(run_reader.clone())
        .await
        .expect("reader");
    for id in &ids {
        assert!(
            out.contains(&format!("LISTED {id} 1234")),
            "reader lists {id} while the writer runs:\n{out}"
        );
    }
    assert!(out.contains("READONLY yes"), "{out}");
    assert!(out.contains("WRITER refused"), "{out}");
    // Commits after the reader's open are seen by the next read.
    let late = store
        .commit(message(9, &["bob@example.net"], 1234))
        .await
        .expect("commit");
    let out = tokio::task::spawn_blocking(run_reader)
        .await
        .expect("reader");
    assert!(out.contains(&format!("LISTED {late} 1234")), "{out}");
}
