//! Integration over real TCP on loopback with clients we did not write: Python's smtplib and
//! swaks. The server runs in-process with an in-memory store on random free ports.

mod support;

use std::net::SocketAddr;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use mailerd_receive::{ReceiveConfig, Role, ShutdownTrigger, shutdown_channel};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server on 127.0.0.1 with an `mx` and a `submission` listener on free ports.
struct TcpServer {
    mx: SocketAddr,
    submission: SocketAddr,
    store: Arc<MemStore>,
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<()>,
}

impl TcpServer {
    async fn start(config: ReceiveConfig) -> TcpServer {
        let h = harness(config);
        let mx = TcpListener::bind("127.0.0.1:0").await.expect("bind mx");
        let sub = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind submission");
        let (mx_addr, sub_addr) = (
            mx.local_addr().expect("addr"),
            sub.local_addr().expect("addr"),
        );
        let (trigger, shutdown) = shutdown_channel();
        let receiver = h.receiver.clone();
        let task = tokio::spawn(async move {
            receiver
                .serve_on(
                    vec![
                        (mx, listener_for(Role::Mx, 0)),
                        (sub, listener_for(Role::Submission, 0)),
                    ],
                    shutdown,
                )
                .await
        });
        TcpServer {
            mx: mx_addr,
            submission: sub_addr,
            store: h.store,
            trigger,
            task,
        }
    }

    async fn stop(self) {
        self.trigger.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops")
            .expect("server task");
    }
}

async fn run(program: &str, args: &[&str]) -> Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(program)
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("client finished in time")
    .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The Python client: one scenario per call, prints `OK <reply>` or `ERR <code> <text>`.
const PY: &str = r#"
import smtplib, ssl, sys
scenario, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
msg = "From: a@remote.test\r\nSubject: from python\r\n\r\nHello from smtplib.\r\n.dot line\r\n"
def report(fn):
    try:
        print("OK", fn())
    except smtplib.SMTPRecipientsRefused as e:
        for rcpt, (code, text) in e.recipients.items():
            print("ERR", code, text.decode())
    except smtplib.SMTPResponseException as e:
        print("ERR", e.smtp_code, e.smtp_error.decode())
def mx(rcpt):
    with smtplib.SMTP(host, port, timeout=20) as s:
        s.ehlo("python.test")
        return s.sendmail("a@remote.test", [rcpt], msg)
def submission():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(host, port, timeout=20) as s:
        s.ehlo("python.test")
        s.starttls(context=ctx)
        s.ehlo("python.test")
        s.login("bob@example.test", "correct horse")
        return s.sendmail("bob@example.test", ["friend@elsewhere.test"], msg)
def submission_without_tls():
    with smtplib.SMTP(host, port, timeout=20) as s:
        s.ehlo("python.test")
        return s.sendmail("bob@example.test", ["friend@elsewhere.test"], msg)
if scenario == "local": report(lambda: mx("alice@example.test"))
elif scenario == "relay": report(lambda: mx("victim@elsewhere.test"))
elif scenario == "unknown": report(lambda: mx("nobody@example.test"))
elif scenario == "submission": report(submission)
elif scenario == "submission-no-tls": report(submission_without_tls)
"#;

async fn python(scenario: &str, addr: SocketAddr) -> String {
    let port = addr.port().to_string();
    let out = run("python3", &["-c", PY, scenario, "127.0.0.1", &port]).await;
    text(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_smtplib_delivers_relays_and_is_refused() {
    let srv = TcpServer::start(config()).await;

    let out = python("local", srv.mx).await;
    assert_eq!(out.trim(), "OK {}", "{out}");
    let stored = srv.store.taken();
    assert_eq!(stored.len(), 1);
    let content = String::from_utf8_lossy(&stored[0].1.content).to_string();
    assert!(
        content.contains("Received: from python.test ([127.0.0.1])"),
        "{content}"
    );
    assert!(
        content.ends_with("Hello from smtplib.\r\n.dot line\r\n"),
        "{content}"
    );

    let out = python("relay", srv.mx).await;
    assert!(out.starts_with("ERR 554 5.7.1"), "{out}");

    let out = python("unknown", srv.mx).await;
    assert!(out.starts_with("ERR 550 5.1.1"), "{out}");

    let out = python("submission-no-tls", srv.submission).await;
    assert!(out.starts_with("ERR 530 5.7.0"), "{out}");

    let out = python("submission", srv.submission).await;
    assert_eq!(out.trim(), "OK {}", "{out}");
    let stored = srv.store.taken();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].1.envelope.recipients[0].address,
        "friend@elsewhere.test"
    );
    assert_eq!(
        stored[0].1.envelope.auth_user.as_deref(),
        Some("bob@example.test")
    );
    let content = String::from_utf8_lossy(&stored[0].1.content).to_string();
    assert!(content.contains("with ESMTPSA"), "{content}");
    srv.stop().await;
}

fn have_swaks() -> bool {
    std::path::Path::new("/usr/bin/swaks").exists()
        || std::process::Command::new("swaks")
            .arg("--version")
            .output()
            .is_ok()
}

async fn swaks(addr: SocketAddr, extra: &[&str]) -> (bool, String) {
    let server = addr.to_string();
    let mut args = vec![
        "--server",
        &server,
        "--helo",
        "swaks.test",
        "--timeout",
        "20",
    ];
    args.extend_from_slice(extra);
    let out = run("swaks", &args).await;
    (out.status.success(), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_delivers_relays_and_is_refused() {
    if !have_swaks() {
        eprintln!(
            "SKIPPED swaks_delivers_relays_and_is_refused: swaks is not installed (apt-get install swaks)"
        );
        return;
    }
    let srv = TcpServer::start(config()).await;

    let (ok, out) = swaks(
        srv.mx,
        &[
            "--from",
            "a@remote.test",
            "--to",
            "alice@example.test",
            "--body",
            "hello from swaks",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as "), "{out}");
    assert_eq!(srv.store.taken().len(), 1);

    let (ok, out) = swaks(
        srv.mx,
        &["--from", "a@remote.test", "--to", "victim@elsewhere.test"],
    )
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("554 5.7.1"), "{out}");

    let (ok, out) = swaks(
        srv.mx,
        &["--from", "a@remote.test", "--to", "nobody@example.test"],
    )
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("550 5.1.1"), "{out}");

    let (ok, out) = swaks(
        srv.submission,
        &[
            "--from",
            "bob@example.test",
            "--to",
            "friend@elsewhere.test",
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "bob@example.test",
            "--auth-password",
            PASSWORD,
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("235 2.7.0"), "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
    let stored = srv.store.taken();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].1.envelope.recipients[0].address,
        "friend@elsewhere.test"
    );

    let (ok, out) = swaks(
        srv.submission,
        &[
            "--from",
            "bob@example.test",
            "--to",
            "friend@elsewhere.test",
            "--tls",
            "--auth",
            "LOGIN",
            "--auth-user",
            "bob@example.test",
            "--auth-password",
            "wrong",
        ],
    )
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("535 5.7.8"), "{out}");
    assert_eq!(srv.store.count(), 0);
    srv.stop().await;
}

/// Reads until `n` replies arrived or the server closed.
async fn read_replies(s: &mut TcpStream, n: usize) -> String {
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while got
        .lines()
        .filter(|l| l.len() >= 4 && l.as_bytes()[3] == b' ')
        .count()
        < n
    {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(k)) => got.push_str(&String::from_utf8_lossy(&buf[..k])),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_payloads_over_tcp_are_refused() {
    let srv = TcpServer::start(config()).await;
    for payload in ["\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r"] {
        let mut s = TcpStream::connect(srv.mx).await.expect("connect");
        assert!(read_replies(&mut s, 1).await.starts_with("220"));
        let raw = "EHLO raw.test\r\nMAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n";
        s.write_all(raw.as_bytes()).await.expect("write");
        let r = read_replies(&mut s, 4).await;
        assert!(
            r.ends_with("354 End data with <CR><LF>.<CR><LF>\r\n"),
            "{r}"
        );
        let data = format!(
            "Subject: smuggle\r\n\r\nx{payload}MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n"
        );
        s.write_all(data.as_bytes()).await.expect("write");
        let r = read_replies(&mut s, 2).await;
        assert!(r.starts_with("550 5.5.2"), "{payload:?}: {r}");
        assert!(r.contains("\r\n221 2.0.0"), "{payload:?}: {r}");
        assert_eq!(srv.store.count(), 0, "{payload:?}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_over_tcp_sends_421_and_stops_serving() {
    let srv = TcpServer::start(config()).await;
    let mut s = TcpStream::connect(srv.mx).await.expect("connect");
    assert!(read_replies(&mut s, 1).await.starts_with("220"));
    s.write_all(b"EHLO raw.test\r\n").await.expect("write");
    assert!(read_replies(&mut s, 1).await.starts_with("250"));
    let mx = srv.mx;
    srv.trigger.trigger();
    let r = read_replies(&mut s, 1).await;
    assert!(r.starts_with("421 4.3.2"), "{r}");
    tokio::time::timeout(Duration::from_secs(10), srv.task)
        .await
        .expect("server stops")
        .expect("server task");
    assert!(TcpStream::connect(mx).await.is_err(), "listener closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_listeners_are_bound_by_the_receiver() {
    let mut cfg = config();
    cfg.listeners = vec![listener_for(Role::Mx, 0)];
    let h = harness(cfg);
    let bound = h.receiver.bind().await.expect("bind");
    let addr = bound[0].0.local_addr().expect("addr");
    assert_ne!(addr.port(), 0);
    let (trigger, shutdown) = shutdown_channel();
    let r = h.receiver.clone();
    let task = tokio::spawn(async move { r.serve_on(bound, shutdown).await });
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert!(
        read_replies(&mut s, 1)
            .await
            .starts_with("220 mx.example.test")
    );
    trigger.trigger();
    task.await.expect("server task");
}
