//! Crash safety: SIGKILL a process in the middle of committing, reopen, and check that every
//! acknowledged message is there and intact and that nothing partial is visible.
//!
//! The test binary plays both parts. `sigkill_keeps_every_acknowledged_message` re-runs this
//! binary as a child with `CRASH_CHILD_STORE` set; the child (`crash_child`) commits from 20
//! tasks in a loop and prints `ACK <seed> <queue id>` after each `commit` returns. The parent
//! kills it with SIGKILL after a varying number of acknowledgements, reads every line the child
//! managed to print, reopens the store and checks each message. Three rounds on the same file,
//! so later rounds also recover a store that was itself recovered after a kill; the second
//! round's child uses `shared_readers` (redb's two-phase commit).
//!
//! The same two-part trick checks that a second process can read the store while the first
//! writes with `shared_readers` (`reader_process_sees_shared_writer_commits`), and is refused
//! while it writes with the default exclusive lock.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mailerd_store::conformance::{T0, content, message};
use mailerd_store::{ListFilter, Store, StoreError};
use mailerd_store_embedded::{EmbeddedStore, Options};
use mailerd_types::{DeliveryReport, QueueId, RecipientState, RecipientUpdate};

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
        let options = Options {
            shared_readers: std::env::var_os("CRASH_CHILD_SHARED").is_some(),
            ..Options::default()
        };
        let store = Arc::new(EmbeddedStore::open_with(&path, options).expect("child opens store"));
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
        let mut env = vec![(CHILD_ENV, path_s.as_str()), ("CRASH_CHILD_BASE", &base_s)];
        if round == 1 {
            // redb's two-phase commit, used when readers may share the file.
            env.push(("CRASH_CHILD_SHARED", "1"));
        }
        let mut c = child("crash_child", &env).spawn().expect("spawn child");
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

        // A crashed writer's file is recovered by the next writer, not by a reader.
        match EmbeddedStore::open_read_only(&path) {
            Err(StoreError::Backend(e)) => assert!(e.contains("not closed cleanly"), "{e}"),
            other => panic!("read-only open of a crashed store: {other:?}"),
        }
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
        let store = match EmbeddedStore::open_read_only(&path) {
            Ok(s) => s,
            Err(StoreError::InUse(_)) => {
                println!("OPEN in-use");
                return;
            }
            Err(e) => panic!("read-only open: {e}"),
        };
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
async fn exclusive_server_refuses_other_processes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queue.redb");
    let store = EmbeddedStore::open(&path).expect("open");
    store
        .commit(message(1, &["bob@example.net"], 10))
        .await
        .expect("commit");
    let path_s = path.to_str().expect("utf-8 path").to_string();
    let out = tokio::task::spawn_blocking(move || {
        child("reader_child", &[(READER_ENV, &path_s)])
            .output()
            .expect("run reader")
    })
    .await
    .expect("reader");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OPEN in-use"), "{stdout}");
    drop(store);
    // Once the server is gone, the command line reads the file itself.
    let ro = EmbeddedStore::open_read_only(&path).expect("read-only open of a closed store");
    assert_eq!(
        ro.list(&ListFilter::default())
            .await
            .expect("list")
            .messages
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_process_sees_shared_writer_commits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queue.redb");
    let options = Options {
        shared_readers: true,
        ..Options::default()
    };
    let store = EmbeddedStore::open_with(&path, options).expect("open");
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

const BOOKKEEPING_ENV: &str = "BOOKKEEPING_CHILD_STORE";

/// The child part of `sigkill_after_unflushed_bookkeeping`: commits two messages (durable),
/// claims them and reports both delivered with `apply_and_remove` (bookkeeping: committed
/// without an fsync), prints `APPLIED`, then waits to be killed, printing `QUIET` after
/// 400 ms (past the default 100 ms window). `BOOKKEEPING_WINDOW_MS` sets the window.
#[test]
fn bookkeeping_child() {
    let Some(path) = std::env::var_os(BOOKKEEPING_ENV) else {
        return; // An ordinary test run: nothing to do.
    };
    let window: u64 = std::env::var("BOOKKEEPING_WINDOW_MS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(100);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let options = Options {
            bookkeeping_flush: Some(Duration::from_millis(window)),
            ..Options::default()
        };
        let store = EmbeddedStore::open_with(&path, options).expect("child opens store");
        let mut ids = Vec::new();
        for seed in [1, 2] {
            let id = store
                .commit(message(seed, &["bob@example.net"], SIZE))
                .await
                .expect("commit");
            println!("ACK {seed} {id}");
            ids.push(id);
        }
        let claimed = store.claim("n1", T0, 10, 600).await.expect("claim");
        assert_eq!(claimed.len(), 2, "both claimed");
        for c in claimed {
            let report = DeliveryReport {
                id: c.lease.id.clone(),
                updates: vec![RecipientUpdate {
                    index: 0,
                    state: RecipientState::Delivered,
                    reply: Some("250 2.0.0 ok".into()),
                    remote_mta: Some("mx.example.net [192.0.2.25]".into()),
                    attempts: 1,
                    next_attempt: None,
                    next_hop_dsn: None,
                }],
            };
            let applied = store
                .apply_and_remove(&c.lease, report, T0 + 1, |_, _| true)
                .await
                .expect("apply");
            assert!(applied.removed, "delivered: removed");
        }
        let before = store.writer_stats();
        assert!(
            before.unflushed_batches >= 1,
            "bookkeeping unflushed: {before:?}"
        );
        println!("APPLIED");
        std::io::stdout().flush().expect("flush");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let after = store.writer_stats();
        println!("QUIET {} {}", before.flushes, after.flushes);
        std::io::stdout().flush().expect("flush");
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

/// Runs `bookkeeping_child` with `window_ms`, kills it once it printed `until`, and returns
/// how many of its two messages are left in the store and the child's lines.
async fn bookkeeping_round(window_ms: &str, until: &str) -> (usize, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("queue.redb");
    let path_s = path.to_str().expect("utf-8 path").to_string();
    let env = [
        (BOOKKEEPING_ENV, path_s.as_str()),
        ("BOOKKEEPING_WINDOW_MS", window_ms),
    ];
    let mut c = child("bookkeeping_child", &env)
        .spawn()
        .expect("spawn child");
    let stdout = c.stdout.take().expect("child stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let done = line.starts_with(until);
        lines.push(line);
        if done {
            break;
        }
    }
    c.kill().expect("kill -9 child");
    let _ = c.wait();
    assert!(
        lines.iter().any(|l| l.starts_with(until)),
        "child did not get to {until}: {lines:?}"
    );
    let store = EmbeddedStore::open(&path).expect("reopen after SIGKILL");
    let listed = store
        .list(&ListFilter {
            include_done: true,
            ..Default::default()
        })
        .await
        .expect("list");
    assert!(listed.corrupt.is_empty(), "{:?}", listed.corrupt);
    // Whatever is left is whole and due again for delivery (no mail lost).
    for s in &listed.messages {
        let m = store.get(&s.id).await.expect("get").expect("listed");
        let seed = seed_of(&m.content).expect("seed");
        assert_eq!(m.content, content(seed, SIZE));
    }
    (listed.messages.len(), lines)
}

/// Bookkeeping committed without an fsync: a SIGKILL right after it may undo it (the
/// messages are then still queued: delivered again, never lost); after a quiet window it is
/// durable (the writer's empty durable commit). With a window far longer than the wait, the
/// same kill finds both messages again: the bookkeeping really was not on disk, so the
/// second round shows the flush, not the page cache, made it stick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_unflushed_bookkeeping() {
    // Killed at once: either outcome is right; `bookkeeping_round` checks that what is left
    // is whole and readable.
    bookkeeping_round("100", "APPLIED").await;

    let (left, lines) = bookkeeping_round("100", "QUIET").await;
    assert_eq!(left, 0, "flushed after the quiet window: {lines:?}");
    let quiet = lines.last().expect("QUIET line");
    let counts: Vec<u64> = quiet
        .split(' ')
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        counts.len() == 2 && counts[1] > counts[0],
        "an empty durable commit happened while quiet: {quiet}"
    );

    let (left, lines) = bookkeeping_round("3600000", "QUIET").await;
    assert_eq!(
        left, 2,
        "not flushed within an hour's window: undone by the kill: {lines:?}"
    );
}
