//! End to end through the real binary: `mailerd serve` with a generated configuration on free
//! loopback ports, driven by clients we did not write (Python's smtplib, swaks) and by
//! `mailerd sendmail`, `mailerd queue list`, `mailerd config check`, `mailerd passwd`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const SMTPLIB_MX: &str = r#"
import json, smtplib, sys
host, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
res = {}
s = smtplib.SMTP(host, port, local_hostname="client.test", timeout=30)
s.ehlo("client.test")
msg = ("From: x@remote.test\r\nTo: bob@example.test\r\nSubject: e2e " + token +
       "\r\n\r\nhello bob, " + token + "\r\n")
s.mail("x@remote.test")
code, resp = s.rcpt("bob@example.test")
res["rcpt"] = "%d %s" % (code, resp.decode())
code, resp = s.data(msg.encode())
res["data"] = "%d %s" % (code, resp.decode())
s.mail("x@remote.test")
code, resp = s.rcpt("someone@elsewhere.test")
res["relay"] = "%d %s" % (code, resp.decode())
s.rset()
s.mail("x@remote.test")
code, resp = s.rcpt("nobody@example.test")
res["unknown"] = "%d %s" % (code, resp.decode())
s.quit()
print(json.dumps(res))
"#;

/// Python's smtplib on the mx listener: mail to a local user is queued (and listed by
/// `queue list --json` under the id of the 250 reply); relaying is refused with `554 5.7.1`
/// and an unknown local user with `550 5.1.1`.
#[test]
fn smtplib_mx_queues_local_mail_refuses_relay_and_unknown_users() {
    require_tool("python3", &["-c", "import smtplib"]);
    let setup = Setup::new("smtplib", "");
    let server = setup.start();
    let token = format!("tok-{}", std::process::id());
    let o = run(
        Command::new("python3").args([
            "-c",
            SMTPLIB_MX,
            "127.0.0.1",
            &setup.mx.port().to_string(),
            &token,
        ]),
        b"",
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "smtplib script failed: {}", text(&o));
    let res: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let field = |k: &str| res[k].as_str().unwrap_or_default().to_string();
    assert!(field("rcpt").starts_with("250"), "{res}");
    let data = field("data");
    assert!(data.starts_with("250 2.0.0"), "{res}");
    let id = data
        .rsplit(' ')
        .next()
        .expect("queue id in the 250 reply")
        .to_string();
    assert!(field("relay").starts_with("554 5.7.1"), "{res}");
    assert!(field("unknown").starts_with("550 5.1.1"), "{res}");
    let m = setup.wait_for_message(Duration::from_secs(5), "from smtplib", |m| {
        m["id"].as_str() == Some(id.as_str())
    });
    assert_eq!(recipients(&m), ["bob@example.test"]);
    assert_eq!(m["reverse_path"], "x@remote.test");
    assert_eq!(setup.queue_list().len(), 1, "only the accepted message");
    let (st, log) = server.terminate();
    assert!(st.success(), "exit {st}: {log}");
}

fn swaks(args: &[&str]) -> std::process::Output {
    run(
        Command::new("swaks")
            .args(["--helo", "client.test", "--timeout", "30"])
            .args(args),
        b"",
        Duration::from_secs(60),
    )
}

/// swaks on submission: STARTTLS, then AUTH PLAIN with a user whose hash `mailerd passwd`
/// made, then relaying to a remote domain is accepted and queued. On mx, without AUTH, the
/// same relay is refused (`554 5.7.1`) and an unknown user gets `550 5.1.1`.
#[test]
fn swaks_starttls_auth_plain_relays_on_submission_only() {
    require_tool("swaks", &["--version"]);
    let setup = Setup::new("swaks", "");
    let server = setup.start();
    let sub = setup.submission.to_string();
    let mx = setup.mx.to_string();

    let o = swaks(&[
        "--server",
        &sub,
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        PASSWORD,
        "--from",
        "alice@example.test",
        "--to",
        "carol@elsewhere.test",
        "--header",
        "Subject: swaks relay",
    ]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("250 2.0.0 Ok: queued as"), "{out}");
    assert!(out.contains("235 "), "AUTH succeeded: {out}");
    let m = setup.wait_for_message(Duration::from_secs(5), "relayed by alice", |m| {
        recipients(m) == ["carol@elsewhere.test"]
    });
    assert_eq!(m["reverse_path"], "alice@example.test");

    // Wrong password: refused.
    let o = swaks(&[
        "--server",
        &sub,
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "alice@example.test",
        "--auth-password",
        "wrong",
        "--to",
        "carol@elsewhere.test",
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("535 5.7.8"), "{}", text(&o));

    let o = swaks(&["--server", &mx, "--to", "carol@elsewhere.test"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("554 5.7.1"), "{}", text(&o));
    let o = swaks(&["--server", &mx, "--to", "nobody@example.test"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("550 5.1.1"), "{}", text(&o));
    let o = swaks(&["--server", &mx, "--to", "bob@example.test"]);
    assert!(o.status.success(), "{}", text(&o));

    assert_eq!(setup.queue_list().len(), 2, "alice's relay and bob's mail");
    let (st, log) = server.terminate();
    assert!(st.success(), "exit {st}: {log}");
}

/// `mailerd config check` names every error with its key path and exits 1; a good file is
/// `ok`.
#[test]
fn config_check_reports_errors_with_paths() {
    let dir = TempDir::new("config");
    let bad = dir.0.join("bad.toml");
    std::fs::write(
        &bad,
        "relay_networks = [\"10.0.0.0/33\"]\nlocal_domains = [\"example.test\"]\n[[user]]\naddress = \"bob@elsewhere.test\"\npassword_hash = \"plaintext\"\n[routes]\n\"x.test\" = \"a b\"\n",
    )
    .expect("write");
    let o = run(
        Command::new(BIN).args(["config", "check"]).arg(&bad),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "relay_networks[0]",
        "user[0].address",
        "user[0].password_hash",
        "routes.\"x.test\"",
        "4 error(s)",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let o = run(
        Command::new(BIN)
            .args(["config", "check"])
            .arg(dir.0.join("missing.toml")),
        b"",
        Duration::from_secs(30),
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing.toml"),
        "{}",
        text(&o)
    );

    let setup = Setup::new("config-ok", "");
    let o = run(
        Command::new(BIN)
            .args(["config", "check"])
            .arg(&setup.config),
        b"",
        Duration::from_secs(30),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(": ok"),
        "{}",
        text(&o)
    );
}

fn sendmail(setup: &Setup, args: &[&str], input: &str) -> std::process::Output {
    let mut full = vec!["sendmail", "--config"];
    let config = setup.config.to_string_lossy().into_owned();
    full.push(&config);
    full.extend_from_slice(args);
    run(
        Command::new(BIN).args(&full).env("USER", "cron"),
        input.as_bytes(),
        Duration::from_secs(60),
    )
}

/// `mailerd sendmail` while the server runs goes through the maildrop and the server's
/// pickup; while it is stopped it commits directly. Both messages are in the queue, with the
/// headers sendmail adds, and the maildrop is left empty.
#[test]
fn sendmail_uses_the_maildrop_while_serving_and_commits_directly_when_stopped() {
    let setup = Setup::new("sendmail", "");
    let server = setup.start();
    let o = sendmail(
        &setup,
        &["-t", "-oi", "-F", "Cron Daemon"],
        "To: bob@example.test\nBcc: alice@example.test\nSubject: running\n\nvia maildrop\n.\nstill body\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    let m = setup.wait_for_message(Duration::from_secs(10), "from the maildrop", |m| {
        m["reverse_path"] == "cron@mx.example.test"
    });
    assert_eq!(recipients(&m), ["bob@example.test", "alice@example.test"]);
    let id = m["id"].as_str().expect("id").to_string();
    assert!(files_in(&setup.maildrop()).is_empty(), "maildrop emptied");
    let show = setup.mailerd(&["queue", "show", &id, "--json"], b"");
    assert!(show.status.success(), "{}", text(&show));
    let log = server.wait_for_log("picked up from the maildrop", Duration::from_secs(5));
    assert!(log.contains("picked up from the maildrop"), "{log}");
    let (st, log) = server.terminate();
    assert!(st.success(), "exit {st}: {log}");

    // Stopped: committed directly, nothing left in the maildrop.
    let o = sendmail(
        &setup,
        &["-f", "ops@example.test", "bob@example.test"],
        "Subject: stopped\n\nline\n.\nnot read\n",
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        files_in(&setup.maildrop()).is_empty(),
        "direct commit, no maildrop file"
    );
    let list = setup.queue_list();
    assert_eq!(list.len(), 2, "{list:#?}");
    let direct = list
        .iter()
        .find(|m| m["reverse_path"] == "ops@example.test")
        .expect("the direct message");
    assert_eq!(recipients(direct), ["bob@example.test"]);

    // Invoked as `sendmail` (a symbolic link), the binary is sendmail.
    let link = setup.dir.0.join("sendmail");
    std::os::unix::fs::symlink(BIN, &link).expect("symlink");
    let o = run(
        Command::new(&link)
            .args(["-oi", "-f", "link@example.test", "--config"])
            .arg(&setup.config)
            .arg("bob"),
        b"Subject: via link\n\nbody\n",
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", text(&o));
    let m = setup.wait_for_message(Duration::from_secs(5), "from the link", |m| {
        m["reverse_path"] == "link@example.test"
    });
    assert_eq!(
        recipients(&m),
        ["bob@mx.example.test"],
        "bare user: @hostname"
    );

    // Usage errors and an unusable data_dir.
    let o = sendmail(&setup, &[], "Subject: x\n\nno recipients\n");
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no recipients"));
    let o = sendmail(&setup, &["-t"], "Subject: x\n\nno recipients\n");
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    let o = sendmail(&setup, &["-Q", "bob@example.test"], "x\n");
    assert_eq!(o.status.code(), Some(64), "{}", text(&o));
    let blocked = setup.dir.0.join("blocked");
    std::fs::write(&blocked, b"a file where a directory should be").expect("write");
    let cfg = setup.dir.0.join("blocked.toml");
    std::fs::write(&cfg, format!("data_dir = \"{}/sub\"\n", blocked.display())).expect("write");
    let o = run(
        Command::new(BIN)
            .args(["sendmail", "--config"])
            .arg(&cfg)
            .arg("root@localhost"),
        b"Subject: x\n\nbody\n",
        Duration::from_secs(30),
    );
    assert_eq!(o.status.code(), Some(75), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not queued"),
        "{}",
        text(&o)
    );
}

/// SIGTERM stops the server gracefully (exit 0); the store opens again, read-only and
/// read-write (a second start), with the message accepted before. A maildrop file left
/// while the server was stopped is queued at start; a bad one is moved to `corrupt/`.
#[test]
fn sigterm_shuts_down_gracefully_and_the_store_reopens() {
    require_tool("swaks", &["--version"]);
    let setup = Setup::new("sigterm", "");
    let server = setup.start();
    let o = swaks(&[
        "--server",
        &setup.mx.to_string(),
        "--to",
        "bob@example.test",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (st, log) = server.terminate();
    assert!(st.success(), "exit {st}: {log}");
    assert!(log.contains("mailerd stopped"), "{log}");
    assert_eq!(setup.queue_list().len(), 1, "read-only reopen");
    // Left in the maildrop while stopped: picked up at start; garbage is moved aside.
    let content = b"Subject: left over\r\n\r\nbody\r\n";
    let envelope = serde_json::json!({
        "reverse_path": "left@example.test",
        "recipients": [{"address": "bob@example.test", "orcpt": null, "notify": null}],
        "ret": null, "envid": null, "smtputf8": false, "eight_bit": false,
        "received_at": 1_800_000_000u64, "client": null, "auth_user": null
    });
    let mut file = format!("mailerd-maildrop 1 {}\n{envelope}\n", content.len()).into_bytes();
    file.extend_from_slice(content);
    std::fs::write(setup.maildrop().join("1.left"), file).expect("write maildrop file");
    std::fs::write(setup.maildrop().join("2.garbage"), b"not a maildrop file").expect("write");
    let again = setup.start();
    setup.wait_for_message(Duration::from_secs(10), "left in the maildrop", |m| {
        m["reverse_path"] == "left@example.test"
    });
    assert_eq!(setup.queue_list().len(), 2, "read-write reopen");
    assert!(files_in(&setup.maildrop()).is_empty());
    assert_eq!(files_in(&setup.maildrop().join("corrupt")), ["2.garbage"]);
    let (st, log) = again.terminate();
    assert!(st.success(), "exit {st}: {log}");
}

const SMTPLIB_BOUNCE: &str = r#"
import smtplib, sys
host, port = sys.argv[1], int(sys.argv[2])
bounce = (
    "From: MAILER-DAEMON@mx.remote.test\r\nTo: alice@example.test\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.remote.test.\r\n\r\n"
    "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.remote.test\r\n\r\n"
    "Final-Recipient: rfc822; nobody@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@remote.test>: User unknown\r\n\r\n"
    "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.test\r\n"
    "To: nobody@remote.test\r\nSubject: cheap pills\r\n--b--\r\n")
s = smtplib.SMTP(host, port, local_hostname="mx.remote.test", timeout=30)
s.sendmail("", ["alice@example.test"], bounce.encode())
s.quit()
"#;

/// With BATV on, a bounce (null sender) that Python's smtplib sends to a local user's
/// untagged address is delivered marked (`X-Mailerd-BATV: none`), and `mailerd explain` of
/// the delivered file calls it backscatter.
#[test]
fn a_bounce_to_an_unsigned_return_path_is_explained_as_backscatter() {
    require_tool("python3", &["-c", "import smtplib"]);
    let setup = Setup::new(
        "batv",
        "[batv]\nenabled = true\nkeys = [{ number = 0, secret = \"e2e-secret\" }]\n",
    );
    // deliver locally (the shared setup keeps mail queued)
    let cfg = std::fs::read_to_string(&setup.config).expect("config");
    std::fs::write(
        &setup.config,
        cfg.replace("deliver = false", "deliver = true"),
    )
    .expect("config");
    let server = setup.start();
    let o = run(
        Command::new("python3").args([
            "-c",
            SMTPLIB_BOUNCE,
            "127.0.0.1",
            &setup.mx.port().to_string(),
        ]),
        b"",
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "smtplib script failed: {}", text(&o));
    let new = setup.data_dir.join("mail/alice@example.test/new");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let file = loop {
        if let Some(f) = files_in(&new).into_iter().next() {
            break new.join(f);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing delivered to {}: {}",
            new.display(),
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let stored = std::fs::read_to_string(&file).expect("delivered message");
    assert!(stored.contains("X-Mailerd-BATV: none"), "{stored}");
    let path = file.to_string_lossy().into_owned();
    let explain = |args: &[&str]| {
        run(
            Command::new(BIN).arg("explain").args(args),
            b"",
            Duration::from_secs(60),
        )
    };
    let t = explain(&[&path]);
    let out = text(&t);
    assert!(t.status.success(), "{out}");
    assert!(out.contains("is BACKSCATTER"), "{out}");
    let j = explain(&["--format", "json", &path]);
    let v: serde_json::Value =
        serde_json::from_slice(&j.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&j)));
    assert_eq!(v["authenticity"]["verdict"], "backscatter", "{v}");
    assert_eq!(v["recipient"], "nobody@remote.test", "{v}");
    let (st, log) = server.terminate();
    assert!(st.success(), "exit {st}: {log}");
}
