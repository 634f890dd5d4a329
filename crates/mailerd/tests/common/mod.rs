//! Shared harness of the end-to-end tests: the real `mailerd` binary with a generated
//! configuration on free loopback ports and a temporary data directory.

#![allow(dead_code)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mailerd");
pub const PASSWORD: &str = "correct horse battery staple";

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!(
            "mailerd-e2e-{tag}-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough on loopback).
pub fn free_port() -> u16 {
    // The kernel may hand the port just released to the next bind: never give one out twice
    // in this process (two listeners of one test on the same port fail to start).
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// Runs a command to completion with a time limit (stdout and stderr are read while it
/// runs, so large outputs do not block it); panics if it cannot start or overruns.
pub fn run(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin);
    }
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Fails clearly when an external tool the test needs is missing (never a silent pass).
pub fn require_tool(program: &str, probe: &[&str]) {
    let ok = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{program} is required by this test but is not installed or does not run; run scripts/deps.sh"
    );
}

/// An argon2id hash of [`PASSWORD`] made by `mailerd passwd` (once per test binary).
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let o = run(
            Command::new(BIN).arg("passwd"),
            format!("{PASSWORD}\n").as_bytes(),
            Duration::from_secs(60),
        );
        assert!(o.status.success(), "mailerd passwd failed: {}", text(&o));
        let h = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert!(h.starts_with("$argon2"), "not a hash: {h}");
        h
    })
}

/// A configuration and data directory for one server.
pub struct Setup {
    pub dir: TempDir,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub mx: SocketAddr,
    pub submission: SocketAddr,
}

impl Setup {
    /// Local domain `example.test` with users `alice` (password [`PASSWORD`]) and `bob`;
    /// `extra` is appended to the top-level keys (before the tables).
    pub fn new(tag: &str, extra: &str) -> Setup {
        let dir = TempDir::new(tag);
        let data_dir = dir.0.join("data");
        let mx: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let submission: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config = dir.0.join("mailerd.toml");
        let text = format!(
            r#"hostname = "mx.example.test"
data_dir = "{data}"
local_domains = ["example.test"]
{extra}

[[listen]]
address = "{mx}"
role = "mx"
greet_pause_ms = 0

[[listen]]
address = "{submission}"
role = "submission"

[[user]]
address = "alice@example.test"
password_hash = "{hash}"

[[user]]
address = "bob@example.test"

[limits]
shutdown_grace_secs = 5
max_connections_per_ip = 100

# These tests check what is queued: keep it queued (no delivery).
[queue]
deliver = false
"#,
            data = data_dir.display(),
            hash = password_hash(),
        );
        std::fs::write(&config, text).expect("write config");
        Setup {
            dir,
            config,
            data_dir,
            mx,
            submission,
        }
    }

    pub fn queue_path(&self) -> PathBuf {
        self.data_dir.join("queue.redb")
    }

    pub fn maildrop(&self) -> PathBuf {
        self.data_dir.join("maildrop")
    }

    /// Starts `mailerd serve` and waits until both listeners accept connections.
    pub fn start(&self) -> Server {
        let log = self.dir.0.join(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let logf = std::fs::File::create(&log).expect("log file");
        let child = Command::new(BIN)
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf)
            .spawn()
            .expect("spawn mailerd serve");
        let mut server = Server {
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for addr in [self.mx, self.submission] {
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if let Some(Ok(Some(st))) = server.child.as_mut().map(|c| c.try_wait()) {
                    panic!("mailerd serve exited with {st}: {}", server.log_text());
                }
                assert!(
                    Instant::now() < deadline,
                    "mailerd serve did not listen on {addr}: {}",
                    server.log_text()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        server
    }

    /// `mailerd <args...> --config <config>`.
    pub fn mailerd(&self, args: &[&str], stdin: &[u8]) -> Output {
        run(
            Command::new(BIN)
                .args(args)
                .arg("--config")
                .arg(&self.config),
            stdin,
            Duration::from_secs(60),
        )
    }

    /// Every queued message as `mailerd queue list --json` prints it.
    pub fn queue_list(&self) -> Vec<serde_json::Value> {
        let o = self.mailerd(&["queue", "list", "--json"], b"");
        assert!(o.status.success(), "queue list failed: {}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad json {l:?}: {e}")))
            .collect()
    }

    /// Polls `queue list` until `pred` holds for some message, or panics after `limit`.
    pub fn wait_for_message(
        &self,
        limit: Duration,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + limit;
        loop {
            let list = self.queue_list();
            if let Some(m) = list.iter().find(|m| pred(m)) {
                return m.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no queued message {what} after {limit:?}; queue: {list:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The addresses of a queued message's recipients.
pub fn recipients(m: &serde_json::Value) -> Vec<String> {
    m["recipients"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A running `mailerd serve`. Dropping it kills the process (a test that failed midway).
pub struct Server {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it contains `needle` (lines reach the file within 100 ms; bounded wait).
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.log_text();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(st.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = child.try_wait().expect("wait") {
                return (st, self.log_text());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mailerd did not stop within 20 s of SIGTERM: {}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL (no chance to clean up), then reaps the process.
    pub fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Files (not directories) directly in `dir`.
pub fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| {
                let e = e.ok()?;
                e.file_type()
                    .ok()?
                    .is_file()
                    .then(|| e.file_name().to_string_lossy().into_owned())
            })
            .collect()
        })
        .unwrap_or_default()
}
