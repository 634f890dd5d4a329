//! Delay, relayed-success and double-bounce notices through the real binary: scripted next
//! hops (one without the DSN extension, one with it) answer 4xx, 5xx or 250, and the notices
//! land in local Maildirs, read back by our analyzer.
//!
//! - a message still retried after `[notify] delay_after = "2s"` gets exactly one delay
//!   notice, also across a restart of the server;
//! - NOTIFY=SUCCESS relayed to a next hop without DSN gives a `relayed` success notice; with
//!   DSN at the next hop, none (the duty passed on);
//! - a null-sender message refused for good is reported to the postmaster (double bounce).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Setup, TempDir, free_port};
use mailerd_analyze::{Kind, analyze};
use mailerd_types::DsnAction;

/// A scripted next hop: offers DSN or not; RCPT to `slow@` gets 451, to `gone@` 550, others
/// 250.
fn next_hop(dsn: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = session(conn, dsn);
            });
        }
    });
    port
}

fn session(conn: TcpStream, dsn: bool) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    let send = |w: &mut TcpStream, s: &str| w.write_all(format!("{s}\r\n").as_bytes());
    send(&mut w, "220 scripted.test ESMTP")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            if dsn {
                send(&mut w, "250-scripted.test\r\n250-DSN\r\n250 8BITMIME")?;
            } else {
                send(&mut w, "250-scripted.test\r\n250 8BITMIME")?;
            }
        } else if upper.starts_with("MAIL FROM") {
            send(&mut w, "250 2.1.0 Ok")?;
        } else if upper.starts_with("RCPT TO") {
            if upper.contains("<SLOW@") {
                send(
                    &mut w,
                    "451 4.3.0 Temporary System Problem. Try again later.",
                )?;
            } else if upper.contains("<GONE@") {
                send(
                    &mut w,
                    "550 5.1.1 <gone@a.test>: Recipient address rejected",
                )?;
            } else {
                send(&mut w, "250 2.1.5 Ok")?;
            }
        } else if upper == "DATA" {
            send(&mut w, "354 End data with <CR><LF>.<CR><LF>")?;
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            while !data.ends_with(b"\r\n.\r\n") {
                let n = r.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                data.extend_from_slice(&buf[..n]);
            }
            send(&mut w, "250 2.0.0 Ok: queued as 4F2B")?;
        } else if upper == "QUIT" {
            send(&mut w, "221 2.0.0 Bye")?;
            return Ok(());
        } else {
            send(&mut w, "250 2.0.0 Ok")?;
        }
    }
}

/// One SMTP transaction to mailerd: `MAIL FROM:<from>`, then each full RCPT argument.
fn send(addr: SocketAddr, from: &str, rcpts: &[&str], subject: &str) {
    let conn = TcpStream::connect(addr).expect("connect to mailerd");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut w = conn.try_clone().expect("clone");
    let mut r = BufReader::new(conn);
    let expect = |r: &mut BufReader<TcpStream>, code: &str, what: &str| {
        let mut l = String::new();
        loop {
            l.clear();
            r.read_line(&mut l).expect("read reply");
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                break;
            }
        }
        assert!(l.starts_with(code), "{what}: expected {code}, got {l:?}");
    };
    expect(&mut r, "220", "greeting");
    let mut cmds = vec![
        ("EHLO client.test".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
    ];
    for rc in rcpts {
        cmds.push((format!("RCPT TO:{rc}"), "250"));
    }
    cmds.push(("DATA".to_string(), "354"));
    for (cmd, code) in cmds {
        w.write_all(format!("{cmd}\r\n").as_bytes()).expect("write");
        expect(&mut r, code, &cmd);
    }
    let body = format!(
        "From: <{from}>\r\nTo: <someone@a.test>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\nHello.\r\n.\r\n"
    );
    w.write_all(body.as_bytes()).expect("write");
    expect(&mut r, "250", "end of data");
    w.write_all(b"QUIT\r\n").expect("write");
}

fn maildir(data: &Path, address: &str) -> Vec<PathBuf> {
    std::fs::read_dir(data.join("mail").join(address).join("new"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A notice as our analyzer reads it: kind, (recipient, action) per recipient, raw text.
type ReadNotice = (Kind, Vec<(String, Option<DsnAction>)>, String);

/// The notices in a Maildir, read by our analyzer.
fn notices(data: &Path, address: &str) -> Vec<ReadNotice> {
    maildir(data, address)
        .iter()
        .map(|f| {
            let raw = std::fs::read(f).expect("read notice");
            let a = analyze(&raw);
            (
                a.kind,
                a.recipients
                    .iter()
                    .map(|r| (r.recipient.clone(), r.action))
                    .collect(),
                String::from_utf8_lossy(&raw).into_owned(),
            )
        })
        .collect()
}

/// A server configuration on free loopback ports: `top` goes with the top-level keys, `tables`
/// after the two listeners.
fn configured(tag: &str, top: &str, tables: &str) -> Setup {
    let dir = TempDir::new(tag);
    let data_dir = dir.0.join("data");
    let mx: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let submission: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let config = dir.0.join("mailerd.toml");
    std::fs::write(
        &config,
        format!(
            r#"hostname = "mx.example.test"
data_dir = "{data}"
{top}
[[listen]]
address = "{mx}"
role = "mx"
greet_pause_ms = 0
[[listen]]
address = "{submission}"
role = "submission"
{tables}"#,
            data = data_dir.display()
        ),
    )
    .expect("config");
    Setup {
        dir,
        config,
        data_dir,
        mx,
        submission,
    }
}

fn wait_until(limit: Duration, what: &str, log: impl Fn() -> String, ok: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < limit,
            "{what} within {limit:?}; log: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn delay_relayed_and_double_bounce_notices_through_the_binary() {
    let plain = next_hop(false);
    let dsn = next_hop(true);
    let setup = configured(
        "notify",
        r#"local_domains = ["example.test"]
relay_networks = ["127.0.0.0/8"]"#,
        &format!(
            r#"[[user]]
address = "alice@example.test"
[[user]]
address = "postmaster@example.test"
[routes]
"a.test" = "127.0.0.1:{plain}"
"b.test" = "127.0.0.1:{dsn}"
[retry]
backoff = ["1s"]
then_every = "1s"
jitter = 0.0
max_lifetime = "1h"
max_lifetime_null_sender = "1h"
[tls]
enabled = false
[notify]
delay_after = "2s"
"#
        ),
    );
    let (mx, data_dir) = (setup.mx, setup.data_dir.clone());
    let server = setup.start();
    let arrival = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    send(mx, "alice@example.test", &["<slow@a.test>"], "slow");
    send(
        mx,
        "alice@example.test",
        &["<ok@a.test> NOTIFY=SUCCESS", "<ok@b.test> NOTIFY=SUCCESS"],
        "success",
    );
    send(mx, "", &["<gone@a.test>"], "notice");

    let kinds = |k: Kind| {
        notices(&data_dir, "alice@example.test")
            .into_iter()
            .filter(|n| n.0 == k)
            .count()
    };
    let log = || server.log_text();
    wait_until(Duration::from_secs(30), "a delay notice", log, || {
        kinds(Kind::Delay) >= 1
    });
    wait_until(Duration::from_secs(30), "a success notice", log, || {
        kinds(Kind::Success) >= 1
    });
    wait_until(
        Duration::from_secs(30),
        "a double bounce for the postmaster",
        log,
        || !maildir(&data_dir, "postmaster@example.test").is_empty(),
    );
    // Retries go on every second: still one delay notice, before and after a restart.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(kinds(Kind::Delay), 1, "one delay notice; log: {}", log());
    let (st, _) = server.terminate();
    assert!(st.success(), "clean stop");
    let server = setup.start();
    std::thread::sleep(Duration::from_secs(5));
    let attempts = server
        .log_text()
        .matches("Temporary System Problem")
        .count();
    assert!(
        attempts >= 2,
        "slow@a.test was retried after the restart; log: {}",
        server.log_text()
    );
    let (st, _) = server.terminate();
    assert!(st.success());

    let alice = notices(&data_dir, "alice@example.test");
    let delays: Vec<_> = alice.iter().filter(|n| n.0 == Kind::Delay).collect();
    assert_eq!(
        delays.len(),
        1,
        "exactly one delay notice across the restart"
    );
    let (_, rcpts, text) = delays[0];
    assert_eq!(
        rcpts,
        &[("slow@a.test".to_string(), Some(DsnAction::Delayed))]
    );
    assert!(text.contains("Subject: Delivery Status Notification (Delay)"));
    assert!(text.contains("Status: 4.3.0"), "{text}");
    assert!(
        text.contains("Diagnostic-Code: smtp; 451 4.3.0 Temporary System Problem"),
        "{text}"
    );
    let until = mailerd_types::rfc5322_date(arrival + 3600);
    let until_next = mailerd_types::rfc5322_date(arrival + 3601);
    assert!(
        text.contains(&format!("Will-Retry-Until: {until}"))
            || text.contains(&format!("Will-Retry-Until: {until_next}")),
        "arrival + max_lifetime (1h), the arrival second known to within one: {text}"
    );
    assert!(text.contains("You don't need to resend it"), "{text}");

    let successes: Vec<_> = alice.iter().filter(|n| n.0 == Kind::Success).collect();
    assert_eq!(successes.len(), 1, "one success notice");
    assert_eq!(
        successes[0].1,
        [("ok@a.test".to_string(), Some(DsnAction::Relayed))],
        "relayed for the next hop without DSN; nothing for the one with DSN"
    );
    assert_eq!(
        alice.len(),
        2,
        "no other notice to alice (none about ok@b.test)"
    );

    let pm = notices(&data_dir, "postmaster@example.test");
    assert_eq!(pm.len(), 1, "one double bounce");
    let (kind, rcpts, text) = &pm[0];
    assert_eq!(*kind, Kind::Bounce);
    assert_eq!(
        rcpts,
        &[("gone@a.test".to_string(), Some(DsnAction::Failed))]
    );
    assert!(text.contains("X-Mailerd-Notice: double-bounce"), "{text}");
    assert!(text.contains("550 5.1.1 <gone@a.test>"), "{text}");
}

/// RFC 5321 4.5.1: postmaster@ every local domain is accepted and delivered even when no
/// `[[user]]` is configured for it (one shared Maildir, postmaster@ the first local domain),
/// so a double bounce reaches a person by default.
#[test]
fn postmaster_without_a_user_of_its_own_gets_mail() {
    let setup = configured(
        "postmaster",
        r#"local_domains = ["example.test", "other.test"]"#,
        r#"[[user]]
address = "alice@example.test"
[tls]
enabled = false
"#,
    );
    let (mx, data_dir) = (setup.mx, setup.data_dir.clone());
    let server = setup.start();
    send(mx, "x@remote.test", &["<Postmaster@other.test>"], "pm1");
    send(mx, "x@remote.test", &["<postmaster@example.test>"], "pm2");
    wait_until(
        Duration::from_secs(30),
        "both messages in the postmaster's Maildir",
        || server.log_text(),
        || maildir(&data_dir, "postmaster@example.test").len() == 2,
    );
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains("unknown user"), "{log}");
}
