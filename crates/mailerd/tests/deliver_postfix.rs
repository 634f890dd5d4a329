//! Interop with real Postfix as the next hop: `mailerd serve` (the real binary) relays one
//! message to a private Postfix instance (its own configuration and spool in a temporary
//! directory, smtpd on a free loopback port) for one user it knows and one it does not.
//!
//! Asserted: the known recipient is delivered (Postfix's Maildir and its log say so); the
//! unknown one ends `failed` with Postfix's own reply recorded verbatim in mailerd's delivery
//! status log (`queue: delivery status`); the failure notice carrying that reply reaches the
//! sender's Maildir, and the queue is empty afterwards (notify removed the original).
//!
//! Postfix must be installed (`scripts/deps.sh`) and the test must run as root (Postfix's
//! master drops privileges itself). If Postfix cannot be started the test fails with the
//! reason; it never passes without having talked to Postfix. Every process it starts is
//! stopped by its PID.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::free_port;

const KNOWN: &str = "alice@pf.test";
const UNKNOWN: &str = "nobody@pf.test";
const SENDER: &str = "sender@mailerd.test";
const POSTFIX_REFUSAL: &str =
    "550 5.1.1 <nobody@pf.test>: Recipient address rejected: User unknown in local recipient table";

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("mailerd-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&p).expect("creating the temporary directory");
        chmod(&p, 0o755);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn wait_port(port: u16, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn tail(p: &Path) -> String {
    let s = fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Sends SIGTERM (then SIGKILL) to a process we started, by its PID.
fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private Postfix instance; stopped (master by PID) when dropped.
struct Postfix {
    etc: PathBuf,
    spool: PathBuf,
    maillog: PathBuf,
    mail: PathBuf,
    port: u16,
}

impl Postfix {
    fn start(work: &Path) -> Postfix {
        assert!(
            Path::new("/usr/sbin/postfix").exists(),
            "Postfix is not installed (/usr/sbin/postfix missing): run scripts/deps.sh; this test needs a real Postfix"
        );
        assert!(
            is_root(),
            "this test starts a private Postfix instance and must run as root"
        );
        let pf = Postfix {
            etc: work.join("etc"),
            spool: work.join("spool"),
            maillog: work.join("maillog"),
            mail: work.join("pfmail"),
            port: free_port(),
        };
        let data = work.join("data");
        for d in [&pf.etc, &pf.spool, &data, &pf.mail] {
            fs::create_dir_all(d).expect("postfix dirs");
        }
        // Local delivery to a file or Maildir named by an alias runs as default_privs.
        chmod(&pf.mail, 0o777);
        let status = Command::new("chown")
            .args(["postfix:postfix", &data.display().to_string()])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "chown postfix {}: is Postfix's user there?",
            data.display()
        );
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {maillog}
maillog_file_prefixes = {work}
myhostname = mx.pf.test
mydomain = pf.test
myorigin = $mydomain
mydestination = pf.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps = inline:{{ {{alice={mail}/alice/}} }}
alias_database =
local_recipient_maps = $alias_maps
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
append_dot_mydomain = no
smtputf8_enable = no
",
            spool = pf.spool.display(),
            data = data.display(),
            maillog = pf.maillog.display(),
            work = work.display(),
            mail = pf.mail.display(),
        );
        fs::write(pf.etc.join("main.cf"), main_cf).expect("main.cf");
        let master_cf = format!(
            "127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
",
            port = pf.port
        );
        fs::write(pf.etc.join("master.cf"), master_cf).expect("master.cf");
        let run = |verb: &str| {
            Command::new("/usr/sbin/postfix")
                .arg("-c")
                .arg(&pf.etc)
                .arg(verb)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("running postfix {verb}: {e}"))
        };
        let check = run("check");
        assert!(
            check.status.success(),
            "postfix check failed: {}{}\nmaillog:\n{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr),
            tail(&pf.maillog)
        );
        let started = run("start");
        assert!(
            started.status.success(),
            "Postfix could not be started: {}{}\nmaillog:\n{}",
            String::from_utf8_lossy(&started.stdout),
            String::from_utf8_lossy(&started.stderr),
            tail(&pf.maillog)
        );
        assert!(
            wait_port(pf.port, Duration::from_secs(10)),
            "Postfix started but its smtpd does not answer on 127.0.0.1:{}\nmaillog:\n{}",
            pf.port,
            tail(&pf.maillog)
        );
        pf
    }

    fn master_pid(&self) -> Option<String> {
        fs::read_to_string(self.spool.join("pid/master.pid"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let pid = self.master_pid();
        let _ = Command::new("/usr/sbin/postfix")
            .arg("-c")
            .arg(&self.etc)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(pid) = pid {
            let alive = || Path::new(&format!("/proc/{pid}")).exists();
            let end = Instant::now() + Duration::from_secs(5);
            while alive() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            if alive() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        }
    }
}

/// A minimal SMTP client: one message, every reply checked.
fn send(port: u16, from: &str, to: &[&str], body: &str) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to mailerd");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let mut expect = |w: &mut TcpStream, line: Option<String>, code: &str| {
        if let Some(l) = line {
            w.write_all(l.as_bytes()).expect("write");
        }
        let mut reply = String::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).expect("reading a reply");
            reply.push_str(&l);
            if l.len() < 4 || l.as_bytes()[3] != b'-' {
                break;
            }
        }
        assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
    };
    expect(&mut w, None, "220");
    expect(&mut w, Some("EHLO client.test\r\n".into()), "250");
    expect(&mut w, Some(format!("MAIL FROM:<{from}>\r\n")), "250");
    for t in to {
        expect(&mut w, Some(format!("RCPT TO:<{t}>\r\n")), "250");
    }
    expect(&mut w, Some("DATA\r\n".into()), "354");
    expect(&mut w, Some(format!("{body}.\r\n")), "250");
    expect(&mut w, Some("QUIT\r\n".into()), "221");
}

/// Files under `dir/new` and `dir/cur`, read.
fn maildir_messages(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = fs::read_dir(dir.join(sub)) {
            for e in rd.flatten() {
                if let Ok(s) = fs::read(e.path()) {
                    out.push(String::from_utf8_lossy(&s).into_owned());
                }
            }
        }
    }
    out
}

/// The `queue: delivery status` lines of mailerd's JSON log.
fn status_lines(log: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "queue: delivery status")
        .map(|v| v["fields"].clone())
        .collect()
}

fn queue_json(config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .args(["queue", "--config"])
        .arg(config)
        .args(args)
        .output()
        .expect("running mailerd queue")
}

#[test]
fn postfix_next_hop_delivers_known_user_and_refusal_comes_back_verbatim() {
    let work = TempDir::new("deliver-postfix");
    let pf = Postfix::start(&work.0);

    let data = work.0.join("mailerd");
    let mx = free_port();
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
"pf.test" = "127.0.0.1:{port}"
"#,
            data = data.display(),
            port = pf.port,
        ),
    )
    .expect("mailerd.toml");
    let log = work.0.join("mailerd.log");
    let mut server = Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .args(["serve", "--log-format", "json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("starting mailerd serve");
    struct Guard<'a>(&'a mut Child);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            stop(self.0);
        }
    }
    let server = Guard(&mut server);
    assert!(
        wait_port(mx, Duration::from_secs(15)),
        "mailerd did not listen on {mx}:\n{}",
        tail(&log)
    );

    let token = format!("interop-{}", std::process::id());
    let body = format!(
        "From: <{SENDER}>\r\nTo: <{KNOWN}>, <{UNKNOWN}>\r\nSubject: {token}\r\nMessage-ID: <{token}@mailerd.test>\r\n\r\nhello from mailerd, {token}\r\n"
    );
    send(mx, SENDER, &[KNOWN, UNKNOWN], &body);

    let alice = pf.mail.join("alice");
    let sender_maildir = data.join("mail").join(SENDER);
    let end = Instant::now() + Duration::from_secs(20);
    let (mut delivered, mut notice) = (false, None);
    while Instant::now() < end && !(delivered && notice.is_some()) {
        delivered = maildir_messages(&alice).iter().any(|m| m.contains(&token));
        notice = maildir_messages(&sender_maildir)
            .into_iter()
            .find(|m| m.contains(POSTFIX_REFUSAL));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        delivered,
        "{KNOWN} was not delivered into Postfix's Maildir {}\nPostfix log:\n{}\nmailerd log:\n{}",
        alice.display(),
        tail(&pf.maillog),
        tail(&log)
    );
    let maillog = fs::read_to_string(&pf.maillog).unwrap_or_default();
    assert!(
        maillog
            .lines()
            .any(|l| l.contains("to=<alice@pf.test>") && l.contains("status=sent")),
        "Postfix's log does not show the delivery:\n{maillog}"
    );
    assert!(
        maillog.contains(POSTFIX_REFUSAL.trim_start_matches("550 ")),
        "Postfix's log does not show the refusal:\n{maillog}"
    );

    let lines = status_lines(&log);
    let line = |to: &str| lines.iter().find(|l| l["to"] == to).cloned();
    let known = line(KNOWN).unwrap_or_else(|| panic!("no status line for {KNOWN}: {lines:?}"));
    assert_eq!(known["status"], "delivered", "{known}");
    let reply = known["reply"].as_str().unwrap_or_default();
    assert!(
        reply.starts_with("250 2.0.0 Ok: queued as "),
        "Postfix's 250 reply recorded: {known}"
    );
    let unknown =
        line(UNKNOWN).unwrap_or_else(|| panic!("no status line for {UNKNOWN}: {lines:?}"));
    assert_eq!(unknown["status"], "failed", "{unknown}");
    assert_eq!(
        unknown["reply"], POSTFIX_REFUSAL,
        "Postfix's refusal recorded verbatim"
    );
    assert!(
        unknown["relay"]
            .as_str()
            .is_some_and(|r| r.contains("127.0.0.1")),
        "{unknown}"
    );

    let notice = notice.unwrap_or_else(|| {
        panic!(
            "no failure notice with Postfix's reply in {}\nmailerd log:\n{}",
            sender_maildir.display(),
            tail(&log)
        )
    });
    assert!(notice.contains("multipart/report"), "{notice}");
    let compact = notice.replace("; ", ";");
    assert!(
        compact.contains("Final-Recipient: rfc822;nobody@pf.test"),
        "{notice}"
    );
    assert!(notice.contains("Action: failed"), "{notice}");
    assert!(notice.contains("Status: 5.1.1"), "{notice}");
    assert!(
        !compact.contains("Final-Recipient: rfc822;alice@pf.test"),
        "the delivered recipient is not in the failure notice"
    );

    // The original is gone once its notice is queued, and the notice was delivered.
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let o = queue_json(&config, &["list", "--json", "--all"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        if o.stdout.is_empty() {
            break;
        }
        assert!(
            Instant::now() < end,
            "queue not empty: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    drop(pf);
}
