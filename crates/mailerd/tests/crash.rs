//! Crash safety through the real binary: concurrent SMTP clients, `kill -9` of the server in
//! the middle of their transactions, then every message acknowledged with 250 must be in the
//! queue intact, and nothing partial may be there (invariant 1: durable receipt).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mailerd_store::{ListFilter, Store};
use mailerd_store_embedded::EmbeddedStore;

const CLIENTS: usize = 8;

/// What the clients sent: token → the exact DATA bytes (without the final `.` line), and the
/// tokens acknowledged with 250 and their queue ids.
#[derive(Default)]
struct Ledger {
    sent: HashMap<String, Vec<u8>>,
    acked: Vec<(String, String)>,
}

/// One message: headers and a body whose size varies with `n` (1 KB to ~70 KB), every line
/// derived from the token so that any truncation or mix-up shows.
fn message(token: &str, n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: crash@client.test\r\nTo: bob@example.test\r\nSubject: {token}\r\nX-Token: {token}\r\n\r\n"
    )
    .into_bytes();
    let lines = 16 + (n * 7919) % 1000;
    for i in 0..lines {
        m.extend_from_slice(
            format!("{token} line {i:05} abcdefghijklmnopqrstuvwxyz0123456789\r\n").as_bytes(),
        );
    }
    m
}

fn reply(r: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return Ok(all);
        }
    }
}

fn expect(r: &mut BufReader<TcpStream>, code: &str) -> std::io::Result<String> {
    let got = reply(r)?;
    if got.starts_with(code) {
        Ok(got)
    } else {
        Err(std::io::Error::other(format!(
            "expected {code}, got {got:?}"
        )))
    }
}

/// One client: a session, messages in a loop until the server dies or `stop`.
fn client(
    addr: SocketAddr,
    k: usize,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut w = s.try_clone()?;
    let mut r = BufReader::new(s);
    expect(&mut r, "220")?;
    w.write_all(b"EHLO crash.client.test\r\n")?;
    expect(&mut r, "250")?;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let token = format!("crash-{k}-{n}-{}", std::process::id());
        let msg = message(&token, k * 1000 + n);
        w.write_all(b"MAIL FROM:<crash@client.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")?;
        expect(&mut r, "250")?;
        expect(&mut r, "250")?;
        expect(&mut r, "354")?;
        // Recorded before the final dot: a stored message must be one of these.
        ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sent
            .insert(token.clone(), msg.clone());
        w.write_all(&msg)?;
        w.write_all(b".\r\n")?;
        let got = expect(&mut r, "250")?;
        let id = got
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .acked
            .push((token, id));
    }
    Ok(())
}

#[test]
fn sigkill_mid_flight_loses_no_acknowledged_message_and_shows_no_partial_one() {
    let setup = Setup::new("crash", "");
    let server = setup.start();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let ended = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (ledger, stop, ended, addr) =
                (ledger.clone(), stop.clone(), ended.clone(), setup.mx);
            std::thread::spawn(move || {
                let r = client(addr, k, ledger, stop);
                ended.fetch_add(1, Ordering::Relaxed);
                r
            })
        })
        .collect();
    // Let the clients get going, then kill the server while they are mid-transaction.
    let start = Instant::now();
    loop {
        let acked = ledger.lock().unwrap_or_else(|e| e.into_inner()).acked.len();
        if (acked >= 300 && start.elapsed() > Duration::from_secs(1))
            || start.elapsed() > Duration::from_secs(8)
        {
            break;
        }
        assert_eq!(
            ended.load(Ordering::Relaxed),
            0,
            "a client failed before the kill: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut after_kill_errors = 0;
    for t in threads {
        if t.join().expect("client thread").is_err() {
            after_kill_errors += 1;
        }
    }
    let ledger = Arc::try_unwrap(ledger)
        .ok()
        .expect("threads done")
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    assert!(
        !ledger.acked.is_empty(),
        "no message was acknowledged before the kill"
    );
    assert!(
        after_kill_errors > 0,
        "no client was cut off: the kill did not land mid-flight"
    );

    // Open the store as the restarted server would (read-write: redb repairs after a crash).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let store = EmbeddedStore::open(setup.queue_path()).expect("the store reopens after SIGKILL");
    let list = rt
        .block_on(store.list(&ListFilter {
            include_done: true,
            ..ListFilter::default()
        }))
        .expect("list");
    assert!(
        list.corrupt.is_empty(),
        "corrupt records: {:?}",
        list.corrupt
    );
    let mut stored: HashMap<String, Vec<u8>> = HashMap::new();
    for m in &list.messages {
        let full = rt
            .block_on(store.get(&m.id))
            .expect("get")
            .expect("listed message exists");
        stored.insert(m.id.0.clone(), full.content);
    }
    // Every stored message is one a client fully sent, after our Received header.
    for (id, content) in &stored {
        let text = String::from_utf8_lossy(content);
        let token = text
            .lines()
            .find_map(|l| l.strip_prefix("X-Token: "))
            .unwrap_or_else(|| panic!("{id}: no X-Token in stored content"));
        let sent = ledger
            .sent
            .get(token)
            .unwrap_or_else(|| panic!("{id}: token {token} was never sent"));
        assert!(
            content.starts_with(b"Received: ") && content.ends_with(sent),
            "{id}: stored content ({} bytes) is not the {} bytes sent with {token}",
            content.len(),
            sent.len()
        );
        assert_eq!(
            content.len() - sent.len(),
            content
                .windows(7)
                .position(|w| w == b"From: c")
                .expect("sent headers present"),
            "{id}: only our trace header precedes the client's bytes"
        );
    }
    // The queue manager runs too: a message may already be delivered to bob's Maildir (and
    // removed from the queue). Each delivered file is a message a client fully sent.
    let mut delivered: HashMap<String, Vec<u8>> = HashMap::new();
    for sub in ["new", "cur"] {
        let dir = setup.data_dir.join("mail/bob@example.test").join(sub);
        for f in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let content = std::fs::read(f.path()).expect("read delivered file");
            let text = String::from_utf8_lossy(&content);
            let token = text
                .lines()
                .find_map(|l| l.strip_prefix("X-Token: "))
                .unwrap_or_else(|| panic!("{}: no X-Token", f.path().display()))
                .to_string();
            assert!(
                content.ends_with(&ledger.sent[&token]),
                "{}: delivered content is not what was sent",
                f.path().display()
            );
            delivered.insert(token, content);
        }
    }
    // Every acknowledged message is queued under the id the 250 gave, or delivered.
    for (token, id) in &ledger.acked {
        match stored.get(id) {
            Some(content) => assert!(
                content.ends_with(&ledger.sent[token]),
                "{id}: wrong content"
            ),
            None => assert!(
                delivered.contains_key(token),
                "acknowledged message {id} ({token}) lost after SIGKILL: neither queued nor delivered"
            ),
        }
    }
    assert!(stored.len() + delivered.len() >= ledger.acked.len());
    assert!(
        stored.len() <= ledger.sent.len(),
        "more stored than sent: {} > {}",
        stored.len(),
        ledger.sent.len()
    );
    eprintln!(
        "crash test: {} sent, {} acknowledged, {} queued, {} delivered, {} clients cut off",
        ledger.sent.len(),
        ledger.acked.len(),
        stored.len(),
        delivered.len(),
        after_kill_errors
    );
    drop(store);

    // The server starts again on the repaired store.
    let server = setup.start();
    // (it may deliver what was queued at once, so only the restart itself is checked here)
    let _ = setup.queue_list();
    let (st, log) = server.terminate();
    assert!(st.success(), "exit {st}: {log}");
}
