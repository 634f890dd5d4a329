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

const SENDER: &str = "sender@mailerd.test";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("mailerd-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&p).expect("temporary directory");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

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

#[test]
fn retry_filters_and_delete_bounce_on_a_running_server() {
    let work = TempDir::new("queue-ops");
    let data = work.0.join("data");
    let (mx, dead) = (free_port(), free_port());
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

[routes]
"*" = "127.0.0.1:{dead}"
"#,
            data = data.display()
        ),
    )
    .expect("config");
    let log = work.0.join("mailerd.log");
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_mailerd"))
            .args(["serve", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log"))
            .spawn()
            .expect("mailerd serve"),
    );
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
