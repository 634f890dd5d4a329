//! Operator commands on a running server (real binary, control socket): `queue list --state
//! --domain`, `queue retry ID`, `queue retry --all`, `queue delete ID --bounce`.
//!
//! The next hop is a loopback port where nothing listens, so every attempt is deferred
//! (connection refused) and the message waits minutes for its next attempt, unless the
//! operator says otherwise.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{TempDir, free_port};

const SENDER: &str = "sender@mailerd.test";

fn wait_port(port: u16) -> bool {
    let end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The server, stopped by its PID when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn send(port: u16, to: &[&str], body: &str) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let mut step = |w: &mut TcpStream, line: Option<String>, code: &str| -> String {
        if let Some(l) = line {
            w.write_all(l.as_bytes()).expect("write");
        }
        let mut reply = String::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).expect("reply");
            reply.push_str(&l);
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                break;
            }
        }
        assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
        reply
    };
    step(&mut w, None, "220");
    step(&mut w, Some("EHLO client.test\r\n".into()), "250");
    step(&mut w, Some(format!("MAIL FROM:<{SENDER}>\r\n")), "250");
    for t in to {
        step(&mut w, Some(format!("RCPT TO:<{t}>\r\n")), "250");
    }
    step(&mut w, Some("DATA\r\n".into()), "354");
    let last = step(&mut w, Some(format!("{body}.\r\n")), "250");
    let id = last
        .split_whitespace()
        .last()
        .expect("queue id in the 250 reply")
        .to_string();
    step(&mut w, Some("QUIT\r\n".into()), "221");
    id
}

fn queue(config: &Path, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .args(["queue", "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("mailerd queue");
    assert!(
        o.status.success(),
        "mailerd queue {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn listed(config: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["list", "--json"];
    a.extend_from_slice(args);
    String::from_utf8_lossy(&queue(config, &a).stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn attempts(config: &Path, id: &str) -> u64 {
    let o = queue(config, &["show", "--json", id]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("show JSON");
    v["recipients"][0]["attempts"].as_u64().unwrap_or(0)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server for `mailerd.test` that relays everything to 127.0.0.1:`next_hop`.
fn write_config(work: &TempDir, data: &Path, mx: u16, next_hop: u16) -> PathBuf {
    let config = work.0.join("mailerd.toml");
    fs::write(
        &config,
        format!(
            r#"hostname = "mx.mailerd.test"
data_dir = "{data}"
local_domains = ["mailerd.test"]
relay_networks = ["127.0.0.0/8"]

[[listen]]
address = "127.0.0.1:{mx}"
role = "mx"

[[user]]
address = "{SENDER}"

[limits]
shutdown_grace_secs = 3

[routes]
"*" = "127.0.0.1:{next_hop}"
"#,
            data = data.display()
        ),
    )
    .expect("config");
    config
}

fn start(config: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .args(["serve", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(log).expect("log"))
        .spawn()
        .expect("mailerd serve")
}

#[test]
fn retry_filters_and_delete_bounce_on_a_running_server() {
    let work = TempDir::new("queue-ops");
    let data = work.0.join("data");
    let (mx, dead) = (free_port(), free_port());
    let config = write_config(&work, &data, mx, dead);
    let log = work.0.join("mailerd.log");
    let _server = Server(start(&config, &log));
    assert!(wait_port(mx), "mailerd did not listen");

    let a = send(mx, &["bob@a.example"], "Subject: a\r\n\r\na\r\n");
    let b = send(mx, &["carol@b.example"], "Subject: b\r\n\r\nb\r\n");
    wait_until("both deferred after one attempt", || {
        listed(&config, &["--state", "deferred"]).len() == 2
    });
    assert_eq!(attempts(&config, &a), 1);

    // Filters.
    let only_b = listed(&config, &["--state", "deferred", "--domain", "B.example"]);
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0]["id"], b.as_str());
    assert!(listed(&config, &["--state", "pending"]).is_empty());
    assert!(listed(&config, &["--domain", "nowhere.example"]).is_empty());
    let bad = Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .args(["queue", "--config"])
        .arg(&config)
        .args(["list", "--state", "sleeping"])
        .output()
        .expect("mailerd queue");
    assert!(!bad.status.success(), "an unknown state is an error");

    // Retry one: tried again at once (the schedule said minutes), the other not.
    queue(&config, &["retry", &a]);
    wait_until("a second attempt of a", || attempts(&config, &a) == 2);
    assert_eq!(attempts(&config, &b), 1);
    // Retry all.
    let o = queue(&config, &["retry", "--all"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 message(s)"));
    wait_until("third attempt of a, second of b", || {
        attempts(&config, &a) == 3 && attempts(&config, &b) == 2
    });

    // Delete with a failure notice to the sender.
    queue(&config, &["delete", "--bounce", &b]);
    let maildir = data.join("mail").join(SENDER).join("new");
    let mut notice = String::new();
    wait_until("the failure notice in the sender's Maildir", || {
        notice = fs::read_dir(&maildir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .find(|m| m.contains("carol@b.example"))
            .unwrap_or_default();
        !notice.is_empty()
    });
    assert!(notice.contains("deleted by the administrator"), "{notice}");
    assert!(notice.contains("Status: 5.0.0"), "{notice}");
    wait_until("b gone from the queue", || {
        let all = listed(&config, &["--all"]);
        all.len() == 1 && all[0]["id"] == a.as_str()
    });
}

/// A next hop that accepts the connection and never greets (a tarpit) cannot hold a shutdown
/// for its greeting timeout (5 minutes): after the grace period (`[limits]
/// shutdown_grace_secs`, 3 s here) the session ends, and the message stays queued, due at
/// once for the next start (the cut session is not counted as an attempt).
#[test]
fn shutdown_ends_a_session_stuck_before_its_end_of_data() {
    let work = TempDir::new("queue-stop");
    let data = work.0.join("data");
    let tarpit = TcpListener::bind("127.0.0.1:0").expect("tarpit");
    let next_hop = tarpit.local_addr().expect("addr").port();
    let mx = free_port();
    let config = write_config(&work, &data, mx, next_hop);
    let log = work.0.join("mailerd.log");
    let mut child = start(&config, &log);
    assert!(wait_port(mx), "mailerd did not listen");
    let id = send(mx, &["bob@a.example"], "Subject: a\r\n\r\na\r\n");
    // Our delivery's connection: held open, never answered.
    let (_held, _) = tarpit.accept().expect("mailerd connects to the next hop");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let stopping = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if stopping.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "not stopped 60 s after SIGTERM: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = stopping.elapsed();
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{text}");
    assert!(
        took < Duration::from_secs(30),
        "stopped after {took:?}: {text}"
    );
    assert!(
        text.contains(
            "stopped while receiving the initial server greeting: mailerd is shutting down"
        ),
        "{text}"
    );
    assert!(text.contains("delivery cut by shutdown"), "{text}");
    // Stopped: the file is ours again. The cut session was not an attempt: the message is
    // still pending, unleased, due at once for the next start (not after a retry delay).
    let all = listed(&config, &["--all"]);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["id"], id.as_str());
    assert_eq!(all[0]["recipients"][0]["state"], "pending", "{all:?}");
    assert_eq!(all[0]["recipients"][0]["attempts"], 0, "{all:?}");
    assert!(all[0]["lease"].is_null(), "{all:?}");
}

#[test]
fn list_without_a_queue_prints_only_the_error() {
    // No server and no queue file under data_dir: a clear error and a non-zero exit, and
    // nothing on stdout (a table header followed by an error would read as an empty queue).
    let work = TempDir::new("queue-none");
    let config = write_config(
        &work,
        &work.0.join("nothing-here"),
        free_port(),
        free_port(),
    );
    for args in [&["list"][..], &["list", "--json"][..]] {
        let o = Command::new(env!("CARGO_BIN_EXE_mailerd"))
            .args(["queue", "--config"])
            .arg(&config)
            .args(args)
            .output()
            .expect("mailerd queue");
        assert!(!o.status.success(), "{args:?} must fail");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "", "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("no queue at"), "{args:?}: {err}");
    }
}
