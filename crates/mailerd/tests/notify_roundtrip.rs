//! Round trip through the real binary: for every failure category, a scripted next hop refuses
//! a message with a provider's real reply (standards sec. 6.4), mailerd writes a failure
//! notice into the sender's Maildir, and our analyzer reads that notice back as the same
//! recipient, status, reason and category as the raw reply.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailerd_analyze::classify::{Evidence, SmtpCommand, classify};
use mailerd_analyze::{Kind, analyze};
use mailerd_types::{Category, DsnAction, EnhancedStatus, SmtpReply};

mod common;
use common::free_port;

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Mail,
    Rcpt,
    Data,
}

struct Case {
    rcpt: &'static str,
    stage: Stage,
    reply: &'static str,
    category: Category,
    status: &'static str,
    reason: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    use Category as C;
    use Stage::*;
    let c = |rcpt, stage, reply, category, status, reason| Case {
        rcpt,
        stage,
        reply,
        category,
        status,
        reason,
    };
    vec![
        c(
            "bob@anf.test",
            Rcpt,
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp",
            C::AddressNotFound,
            "5.1.1",
            Some("userunknown"),
        ),
        c(
            "bob@and.test",
            Rcpt,
            "553-5.1.2 We weren't able to find the recipient domain. Please check for any spelling errors,\r\n553 5.1.2 and make sure you didn't enter any spaces, periods, or other punctuation after the recipient's email address.",
            C::DomainNotFound,
            "5.1.2",
            Some("hostunknown"),
        ),
        c(
            "bob@full.test",
            Rcpt,
            "552 5.2.2 <bob@full.test>: user is over quota",
            C::InboxFull,
            "5.2.2",
            Some("mailboxfull"),
        ),
        c(
            "bob@blk.test",
            Rcpt,
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
            C::MessageBlocked,
            "5.7.1",
            Some("blocked"),
        ),
        c(
            "bob@tmr.test",
            Rcpt,
            "550 5.5.3 Too many recipients",
            C::TooManyRecipients,
            "5.5.3",
            None,
        ),
        c(
            "bob@big.test",
            Data,
            "552 5.3.4 Message size exceeds fixed limit",
            C::MessageTooLarge,
            "5.3.4",
            Some("mesgtoobig"),
        ),
        c(
            "bob@auth.test",
            Rcpt,
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\r\n550 5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.",
            C::SenderNotAuthenticated,
            "5.7.26",
            Some("authfailure"),
        ),
        c(
            "bob@relay.test",
            Rcpt,
            "554 5.7.1 <bob@relay.test>: Relay access denied",
            C::RelayDenied,
            "5.7.1",
            Some("norelaying"),
        ),
        c(
            "bob@tls.test",
            Mail,
            "530 5.7.0 Must issue a STARTTLS command first",
            C::TlsRequired,
            "5.7.0",
            None,
        ),
        c(
            "bob@nauth.test",
            Rcpt,
            "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; Delivery restriction check failed as sender not authenticated for group",
            C::SenderNotAllowed,
            "5.7.133",
            None,
        ),
        c(
            "bob@loop.test",
            Rcpt,
            "554 5.4.6 Message exceeded 50 hops, this may indicate a mail loop.",
            C::MailLoop,
            "5.4.6",
            None,
        ),
        c(
            "bob@slim.test",
            Rcpt,
            "550 5.4.5 Daily sending quota exceeded.",
            C::SendingLimit,
            "5.4.5",
            None,
        ),
        c(
            "bob@exp.test",
            Rcpt,
            "451 4.3.0 Temporary System Problem. Try again later.",
            C::MessageExpired,
            "4.4.7",
            Some("expired"),
        ),
    ]
}

/// A scripted next hop: answers MAIL, RCPT and end-of-DATA from the case table.
fn scripted_server(
    cases: Arc<HashMap<String, (Stage, String)>>,
    mail_reply: Option<&'static str>,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let cases = cases.clone();
            std::thread::spawn(move || {
                let _ = session(conn, &cases, mail_reply);
            });
        }
    });
    port
}

fn session(
    conn: TcpStream,
    cases: &HashMap<String, (Stage, String)>,
    mail_reply: Option<&str>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    let send = |w: &mut TcpStream, s: &str| w.write_all(format!("{s}\r\n").as_bytes());
    send(&mut w, "220 scripted.test ESMTP")?;
    let mut rcpts: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            send(&mut w, "250-scripted.test\r\n250 8BITMIME")?;
        } else if upper.starts_with("MAIL FROM") {
            rcpts.clear();
            send(&mut w, mail_reply.unwrap_or("250 2.1.0 Ok"))?;
        } else if upper.starts_with("RCPT TO") {
            let addr = line
                .trim_end()
                .split_once('<')
                .and_then(|(_, a)| a.split_once('>'))
                .map(|(a, _)| a.to_ascii_lowercase())
                .unwrap_or_default();
            match cases.get(&addr) {
                Some((Stage::Rcpt, reply)) => send(&mut w, reply)?,
                _ => {
                    rcpts.push(addr);
                    send(&mut w, "250 2.1.5 Ok")?;
                }
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
            let reply = rcpts.iter().find_map(|a| match cases.get(a) {
                Some((Stage::Data, reply)) => Some(reply.clone()),
                _ => None,
            });
            send(&mut w, reply.as_deref().unwrap_or("250 2.0.0 Ok: queued"))?;
        } else if upper == "RSET" || upper == "NOOP" {
            send(&mut w, "250 2.0.0 Ok")?;
        } else if upper == "QUIT" {
            send(&mut w, "221 2.0.0 Bye")?;
            return Ok(());
        } else {
            send(&mut w, "502 5.5.2 Command not recognized")?;
        }
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One SMTP transaction from alice to `rcpt`, as a plain client.
fn send_message(port: u16, rcpt: &str) {
    let conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to mailerd");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut w = conn.try_clone().expect("clone");
    let mut r = BufReader::new(conn);
    let expect = |r: &mut BufReader<TcpStream>, code: &str| {
        let mut l = String::new();
        loop {
            l.clear();
            r.read_line(&mut l).expect("read reply");
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                break;
            }
        }
        assert!(l.starts_with(code), "expected {code}, got {l:?}");
    };
    expect(&mut r, "220");
    for (cmd, code) in [
        ("EHLO client.test".to_string(), "250"),
        ("MAIL FROM:<alice@example.test>".to_string(), "250"),
        (format!("RCPT TO:<{rcpt}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).expect("write");
        expect(&mut r, code);
    }
    let body = format!(
        "From: Alice <alice@example.test>\r\nTo: <{rcpt}>\r\nSubject: Round trip to {rcpt}\r\nMessage-ID: <rt.{rcpt}>\r\n\r\nHello.\r\n.\r\n"
    );
    w.write_all(body.as_bytes()).expect("write");
    expect(&mut r, "250");
    w.write_all(b"QUIT\r\n").expect("write");
}

fn maildir_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("new"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn every_category_round_trips_through_a_real_notice() {
    let cases = cases();
    let table: Arc<HashMap<String, (Stage, String)>> = Arc::new(
        cases
            .iter()
            .filter(|c| c.stage != Stage::Mail)
            .map(|c| (c.rcpt.to_string(), (c.stage, c.reply.to_string())))
            .collect(),
    );
    let rcpt_port = scripted_server(table.clone(), None);
    let mail_port = scripted_server(table, Some("530 5.7.0 Must issue a STARTTLS command first"));
    let dir = std::env::temp_dir().join(format!("mailerd-roundtrip-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let config = format!(
        r#"hostname = "mx.example.test"
data_dir = "{data}"
local_domains = ["example.test"]
relay_networks = ["127.0.0.0/8"]
[[listen]]
address = "127.0.0.1:{port}"
role = "mx"
[[user]]
address = "alice@example.test"
[routes]
"*" = "127.0.0.1:{rcpt_port}"
"tls.test" = "127.0.0.1:{mail_port}"
[retry]
backoff = ["1s"]
then_every = "1s"
jitter = 0.0
max_lifetime = "3s"
max_lifetime_null_sender = "3s"
[tls]
enabled = false
"#,
        data = dir.join("data").display()
    );
    let config_path = dir.join("mailerd.toml");
    std::fs::write(&config_path, config).expect("config");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_mailerd"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("serve.log"))
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .spawn()
            .expect("start mailerd"),
    );
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "mailerd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for c in &cases {
        send_message(port, c.rcpt);
    }
    let maildir = dir.join("data/mail/alice@example.test");
    let t0 = Instant::now();
    while maildir_files(&maildir).len() < cases.len() {
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "only {} of {} notices arrived; log: {}",
            maildir_files(&maildir).len(),
            cases.len(),
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);

    let mut seen = HashMap::new();
    for f in maildir_files(&maildir) {
        let raw = std::fs::read(&f).expect("read notice");
        let a = analyze(&raw);
        assert_eq!(a.kind, Kind::Bounce, "{}", f.display());
        assert_eq!(a.recipients.len(), 1, "{}", f.display());
        let r = a.recipients[0].clone();
        seen.insert(r.recipient.clone(), r);
    }
    let mut failures = Vec::new();
    for c in &cases {
        let Some(r) = seen.get(c.rcpt) else {
            failures.push(format!("{}: no notice", c.rcpt));
            continue;
        };
        // What the analyzer says about the raw reply, as a bounce would carry it.
        let reply = SmtpReply::parse(c.reply).expect("reply");
        let raw = classify(&Evidence {
            action: Some(DsnAction::Failed),
            status: reply.status,
            reply_code: Some(reply.code),
            diagnostic: &reply.to_string(),
            remote_mta: None,
            hint: None,
            // as the notifier does for its own client's replies
            command: Some(SmtpCommand::Rcpt),
        });
        let status = r.status.map(|s| s.to_string()).unwrap_or_default();
        let want_status = EnhancedStatus::parse(c.status).expect("status").to_string();
        let mut problems = Vec::new();
        if status != want_status {
            problems.push(format!("status {status} != {want_status}"));
        }
        if r.category != c.category {
            problems.push(format!("category {:?} != {:?}", r.category, c.category));
        }
        if let Some(reason) = c.reason
            && r.reason.as_str() != reason
        {
            problems.push(format!("reason {} != {reason}", r.reason));
        }
        if c.category != Category::MessageExpired
            && (r.reason, r.category) != (raw.reason, raw.category)
        {
            problems.push(format!(
                "notice says {}/{:?}, the raw reply {}/{:?}",
                r.reason, r.category, raw.reason, raw.category
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", c.rcpt, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "round trip mismatches:\n  {}",
        failures.join("\n  ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
