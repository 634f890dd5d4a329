//! Role tests: whole SMTP sessions over in-memory streams with paused time.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use mailerd_receive::{Role, Shutdown, shutdown_channel};
use mailerd_types::{Notify, Ret};
use support::*;
use tokio::time::Instant;

const MSG: &str = "From: a@remote.test\r\nTo: alice@example.test\r\nSubject: hi\r\n\r\nHello.\r\n";

#[tokio::test(start_paused = true)]
async fn ehlo_advertises_extensions_and_auth_only_after_tls_on_submission() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220 mx.example.test ESMTP").await;
    let r = c.expect("EHLO client.test", "250-mx.example.test").await;
    for ext in [
        "PIPELINING",
        "SIZE 26214400",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "STARTTLS",
        "CHUNKING",
    ] {
        assert!(r.contains(ext), "{ext} missing in {r}");
    }
    assert!(!r.contains("AUTH"), "no AUTH on mx: {r}");
    c.expect("HELO client.test", "250 mx.example.test").await;
    c.expect("QUIT", "221 2.0.0").await;

    let (mut c, _) = h.connect(Role::Submission, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    let r = c.expect("EHLO client.test", "250-").await;
    assert!(!r.contains("AUTH"), "no AUTH before TLS: {r}");
    let mut c = c.starttls(&h.tls_connector()).await;
    let r = c.expect("EHLO client.test", "250-").await;
    assert!(r.contains("AUTH PLAIN LOGIN"), "{r}");
    assert!(!r.contains("STARTTLS"), "{r}");
}

#[tokio::test(start_paused = true)]
async fn plain_delivery_to_local_user_is_committed_with_dsn_params_then_250() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect(
        "MAIL FROM:<a@remote.test> RET=HDRS ENVID=abc+2Bdef SIZE=100 BODY=8BITMIME",
        "250 2.1.0",
    )
    .await;
    c.expect(
        "RCPT TO:<alice@Example.TEST> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice+2Bx@example.test",
        "250 2.1.5",
    )
    .await;
    c.expect("RCPT TO:<bob@example.test>", "250 2.1.5").await;
    c.expect("DATA", "354").await;
    c.send(format!("{MSG}..dotted\r\n.\r\n").as_bytes()).await;
    let r = c.expect_reply("250 2.0.0 Ok: queued as ").await;
    let stored = h.store.taken();
    assert_eq!(stored.len(), 1);
    assert_eq!(r, format!("250 2.0.0 Ok: queued as {}", stored[0].0));
    let env = &stored[0].1.envelope;
    assert_eq!(env.reverse_path, "a@remote.test");
    assert_eq!(env.ret, Some(Ret::Hdrs));
    assert_eq!(env.envid.as_deref(), Some("abc+def"));
    assert!(env.eight_bit);
    assert_eq!(env.recipients.len(), 2);
    assert_eq!(env.recipients[0].address, "alice@example.test");
    assert_eq!(
        env.recipients[0].notify,
        Some(Notify {
            success: true,
            failure: true,
            ..Notify::default()
        })
    );
    assert_eq!(
        env.recipients[0].orcpt,
        Some(("rfc822".into(), "alice+x@example.test".into()))
    );
    assert_eq!(env.recipients[1].notify, None);
    let content = String::from_utf8(stored[0].1.content.clone()).expect("utf8");
    assert!(
        content.starts_with("Received: from client.test ([192.0.2.1])\r\n\tby mx.example.test (mailerd) with ESMTP; "),
        "{content}"
    );
    assert!(content.ends_with(&format!("{MSG}.dotted\r\n")), "{content}");
    assert!(
        !content.contains("Message-ID"),
        "mx does not add Message-ID"
    );
    c.expect("QUIT", "221").await;
    assert!(c.closed().await);
}

#[tokio::test(start_paused = true)]
async fn relay_is_refused_from_outside_and_allowed_from_relay_networks() {
    let mut cfg = config();
    cfg.relay_networks = vec!["10.0.0.0/8".into()];
    let h = harness(cfg);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect(
        "RCPT TO:<victim@elsewhere.test>",
        "554 5.7.1 <victim@elsewhere.test>: Relay access denied",
    )
    .await;
    c.expect("RCPT TO:<u@[192.0.2.9]>", "554 5.7.1").await;
    c.expect("DATA", "554 5.5.1").await;
    assert_eq!(h.store.count(), 0);

    let (mut c, _) = h.connect(Role::Mx, "10.1.2.3", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<victim@elsewhere.test>", "250 2.1.5")
        .await;
}

#[tokio::test(start_paused = true)]
async fn rcpt_checks_unknown_disabled_full_and_postmaster() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "503 5.5.1").await;
    c.expect("MAIL FROM:<>", "250").await;
    c.expect("RCPT TO:<nobody@example.test>", "550 5.1.1").await;
    c.expect("RCPT TO:<carol@example.test>", "550 5.2.1").await;
    c.expect("RCPT TO:<dave@example.test>", "552 5.2.2").await;
    c.expect("RCPT TO:<Postmaster>", "250 2.1.5").await;
    c.expect("RCPT TO:<postmaster@example.test>", "250 2.1.5")
        .await;
    c.expect("RCPT TO:<>", "501 5.1.3").await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: x\r\n\r\n.\r\n").await;
    c.expect_reply("250 2.0.0").await;
    let stored = h.store.taken();
    let rcpts: Vec<_> = stored[0]
        .1
        .envelope
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(
        rcpts,
        ["postmaster@example.test", "postmaster@example.test"]
    );
    assert!(stored[0].1.envelope.is_null_sender());
}

#[tokio::test(start_paused = true)]
async fn bad_parameters_get_501_or_555() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("MAIL FROM:<a@remote.test>", "503 5.5.1").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test> RET=FULL RET=HDRS", "501 5.5.4")
        .await;
    c.expect("MAIL FROM:<a@remote.test> ENVID=bad+zz", "501 5.5.4")
        .await;
    c.expect("MAIL FROM:<a@remote.test> XYZZY=1", "555 5.5.4")
        .await;
    c.expect("MAIL FROM:<δ@remote.test>", "553 5.6.7").await;
    c.expect("MAIL FROM:<δ@remote.test> SMTPUTF8", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "503 5.5.1").await;
    c.expect(
        "RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY",
        "501 5.5.4",
    )
    .await;
    c.expect("RCPT TO:<alice@example.test> ORCPT=rfc822;x+", "501 5.5.4")
        .await;
    c.expect("RCPT TO:<alice@example.test> FOO", "555 5.5.4")
        .await;
    c.expect("BOGUS", "500 5.5.2").await;
    c.expect("VRFY alice", "252 2.5.2").await;
    c.expect("NOOP", "250 2.0.0").await;
    c.expect("HELP", "214").await;
    c.expect("RSET", "250 2.0.0").await;
    c.expect("RCPT TO:<alice@example.test>", "503 5.5.1").await;
    let long = format!("NOOP {}", "x".repeat(3000));
    c.expect(&long, "500 5.5.6").await;
    c.expect("NOOP", "250").await;
}

#[tokio::test(start_paused = true)]
async fn too_many_recipients_get_452() {
    let mut cfg = config();
    cfg.limits.max_recipients = 3;
    cfg.limits.max_errors = 3;
    let h = harness(cfg);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    for _ in 0..3 {
        c.expect("RCPT TO:<alice@example.test>", "250").await;
    }
    // Transient refusals do not count as errors: the client sends the rest later.
    for _ in 0..10 {
        c.expect("RCPT TO:<alice@example.test>", "452 4.5.3").await;
    }
    c.expect("DATA", "354").await;
    c.send(b"\r\nx\r\n.\r\n").await;
    c.expect_reply("250 2.0.0").await;
    assert_eq!(h.store.taken()[0].1.envelope.recipients.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn size_limit_refuses_at_mail_and_after_data_without_buffering() {
    let mut cfg = config();
    cfg.limits.max_message_size = 1000;
    let h = harness(cfg);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    let r = c.expect("EHLO client.test", "250").await;
    assert!(r.contains("SIZE 1000"));
    c.expect("MAIL FROM:<a@remote.test> SIZE=1001", "552 5.3.4")
        .await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.expect("DATA", "354").await;
    let line = format!("{}\r\n", "x".repeat(98));
    for _ in 0..200 {
        c.send(line.as_bytes()).await;
    }
    c.send(b".\r\n").await;
    c.expect_reply("552 5.3.4").await;
    assert_eq!(h.store.count(), 0);
    // The session goes on, the transaction is gone.
    c.expect("RCPT TO:<alice@example.test>", "503").await;
    c.expect("NOOP", "250").await;
}

#[tokio::test(start_paused = true)]
async fn smuggling_payloads_are_consumed_to_the_real_end_and_refused() {
    for payload in ["\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r", "\r.\r\n"] {
        let h = harness(config());
        let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
        c.expect_reply("220").await;
        c.expect("EHLO client.test", "250").await;
        c.expect("MAIL FROM:<a@remote.test>", "250").await;
        c.expect("RCPT TO:<alice@example.test>", "250").await;
        c.expect("DATA", "354").await;
        let data = format!(
            "Subject: s\r\n\r\nbody{payload}MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n"
        );
        c.send(data.as_bytes()).await;
        let r = c.expect_reply("550 5.5.2").await;
        assert!(!r.contains('\n'), "a single reply for {payload:?}: {r}");
        assert_eq!(h.store.count(), 0, "{payload:?}");
        c.expect("NOOP", "250 2.0.0").await;
        c.expect("QUIT", "221").await;
    }
}

#[tokio::test(start_paused = true)]
async fn pipelined_commands_get_replies_in_order() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.send(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n").await;
    for expected in ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "354"] {
        c.expect_reply(expected).await;
    }
    c.send(b"Subject: p\r\n\r\nx\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n")
        .await;
    for expected in ["250 2.0.0", "250 2.1.0", "250 2.1.5", "354"] {
        c.expect_reply(expected).await;
    }
    c.send(b".\r\nQUIT\r\n").await;
    c.expect_reply("250 2.0.0").await;
    c.expect_reply("221").await;
    assert_eq!(h.store.count(), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_client_times_out_after_five_minutes() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    let t = Instant::now();
    c.expect_reply("421 4.4.2").await;
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(300) && waited < Duration::from_secs(301),
        "{waited:?}"
    );
    assert!(c.closed().await);
}

#[tokio::test(start_paused = true)]
async fn stalled_data_times_out_after_three_minutes() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: slow\r\n").await;
    let t = Instant::now();
    c.expect_reply("421 4.4.2").await;
    assert!(t.elapsed() >= Duration::from_secs(180) && t.elapsed() < Duration::from_secs(181));
    assert_eq!(h.store.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn early_talker_is_refused() {
    let h = harness(config());
    let (mut c, _) = h.connect_with(listener_for(Role::Mx, 1000), "192.0.2.1", Shutdown::never());
    c.send(b"EHLO spammer.test\r\n").await;
    c.expect_reply("554 5.5.0").await;
    assert!(c.closed().await);
    // A patient client gets the greeting after the pause.
    let (mut c, _) = h.connect_with(listener_for(Role::Mx, 1000), "192.0.2.1", Shutdown::never());
    let t = Instant::now();
    c.expect_reply("220").await;
    assert!(t.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn connection_limits_total_and_per_ip() {
    let mut cfg = config();
    cfg.limits.max_connections = 3;
    cfg.limits.max_connections_per_ip = 2;
    let h = harness(cfg);
    let (mut a, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    a.expect_reply("220").await;
    let (mut b, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    b.expect_reply("220").await;
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("421 4.7.0").await;
    let (mut d, _) = h.connect(Role::Mx, "192.0.2.2", Shutdown::never());
    d.expect_reply("220").await;
    let (mut e, _) = h.connect(Role::Mx, "192.0.2.3", Shutdown::never());
    e.expect_reply("421 4.7.0").await;
    // A slot frees when a session ends.
    a.expect("QUIT", "221").await;
    assert!(a.closed().await);
    tokio::task::yield_now().await;
    let (mut f, task) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    f.expect_reply("220").await;
    drop(f);
    let _ = task.await;
}

#[tokio::test(start_paused = true)]
async fn submission_requires_starttls_then_auth_then_relays_and_fixes_headers() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Submission, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO mua.test", "250").await;
    c.expect(
        "MAIL FROM:<bob@example.test>",
        "530 5.7.0 Must issue a STARTTLS",
    )
    .await;
    c.expect(
        &format!("AUTH PLAIN {}", plain("bob@example.test", PASSWORD)),
        "530 5.7.0",
    )
    .await;
    let mut c = c.starttls(&h.tls_connector()).await;
    c.expect("MAIL FROM:<bob@example.test>", "503 5.5.1").await;
    c.expect("EHLO mua.test", "250").await;
    c.expect(
        "MAIL FROM:<bob@example.test>",
        "530 5.7.0 Authentication required",
    )
    .await;
    c.expect(
        &format!("AUTH PLAIN {}", plain("bob@example.test", PASSWORD)),
        "235 2.7.0",
    )
    .await;
    c.expect("AUTH PLAIN", "503 5.5.1").await;
    c.expect("MAIL FROM:<alice@example.test>", "553 5.7.1")
        .await;
    c.expect("MAIL FROM:<Bob@Example.test>", "250").await;
    c.expect("RCPT TO:<friend@elsewhere.test>", "250 2.1.5")
        .await;
    c.expect("DATA", "354").await;
    c.send(b"From: bob@example.test\r\nSubject: hi\r\n\r\nHello\r\n.\r\n")
        .await;
    c.expect_reply("250 2.0.0 Ok: queued as").await;
    let stored = h.store.taken();
    let env = &stored[0].1.envelope;
    assert_eq!(env.auth_user.as_deref(), Some("bob@example.test"));
    let content = String::from_utf8(stored[0].1.content.clone()).expect("utf8");
    assert!(
        content.contains("(using TLSv1.3 with cipher TLS13_"),
        "{content}"
    );
    assert!(
        content.contains("(Authenticated sender: bob@example.test)"),
        "{content}"
    );
    assert!(content.contains("with ESMTPSA"), "{content}");
    assert!(content.contains("\r\nDate: "), "{content}");
    assert!(content.contains("\r\nMessage-ID: <"), "{content}");
    assert!(content.contains("@mx.example.test>\r\n"), "{content}");
}

#[tokio::test(start_paused = true)]
async fn auth_login_and_existing_headers_are_kept() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Submission, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO mua.test", "250").await;
    let mut c = c.starttls(&h.tls_connector()).await;
    c.expect("EHLO mua.test", "250").await;
    c.expect("AUTH LOGIN", "334 VXNlcm5hbWU6").await;
    c.expect(&b64("bob@example.test"), "334 UGFzc3dvcmQ6").await;
    c.expect(&b64(PASSWORD), "235 2.7.0").await;
    c.expect("MAIL FROM:<bob@example.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <m@x>\r\n\r\nHi\r\n.\r\n")
        .await;
    c.expect_reply("250 2.0.0").await;
    let content = String::from_utf8(h.store.taken()[0].1.content.clone()).expect("utf8");
    assert_eq!(content.matches("Date:").count(), 1, "{content}");
    assert_eq!(content.matches("Message-ID:").count(), 1, "{content}");
}

#[tokio::test(start_paused = true)]
async fn auth_failures_are_delayed_more_each_time_then_locked_out() {
    let mut cfg = config();
    cfg.auth_throttle.base_delay_ms = 1000;
    cfg.auth_throttle.max_delay_ms = 8000;
    cfg.auth_throttle.max_failures_per_account = 3;
    cfg.auth_throttle.max_failures_per_ip = 100;
    cfg.limits.max_errors = 100;
    let h = harness(cfg);
    let (mut c, _) = h.connect(Role::Submission, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO mua.test", "250").await;
    let mut c = c.starttls(&h.tls_connector()).await;
    c.expect("EHLO mua.test", "250").await;
    let mut delays = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        c.expect(
            &format!("AUTH PLAIN {}", plain("bob@example.test", "wrong")),
            "535 5.7.8",
        )
        .await;
        delays.push(t.elapsed().as_secs());
    }
    assert_eq!(delays, [1, 2, 4]);
    // Locked out: even the right password fails now.
    c.expect(
        &format!("AUTH PLAIN {}", plain("bob@example.test", PASSWORD)),
        "535 5.7.8",
    )
    .await;
    // Unknown users and malformed input fail the same way.
    c.expect(
        &format!("AUTH PLAIN {}", plain("nobody@example.test", "x")),
        "535 5.7.8",
    )
    .await;
    c.expect("AUTH PLAIN !!!", "501 5.5.2").await;
    c.expect("AUTH LOGIN", "334").await;
    c.expect("*", "501 5.0.0").await;
    // After the lock-out period the account works again.
    tokio::time::sleep(Duration::from_secs(901)).await;
    let (mut c, _) = h.connect(Role::Submission, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO mua.test", "250").await;
    let mut c = c.starttls(&h.tls_connector()).await;
    c.expect("EHLO mua.test", "250").await;
    c.expect(
        &format!("AUTH PLAIN {}", plain("bob@example.test", PASSWORD)),
        "235 2.7.0",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn disabled_account_cannot_authenticate() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Submission, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO mua.test", "250").await;
    let mut c = c.starttls(&h.tls_connector()).await;
    c.expect("EHLO mua.test", "250").await;
    c.expect(
        &format!("AUTH PLAIN {}", plain("carol@example.test", PASSWORD)),
        "535 5.7.8",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn reply_250_waits_for_the_durable_commit() {
    let h = harness(config());
    h.store.hold.store(true, Ordering::SeqCst);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(MSG.as_bytes()).await;
    c.send(b".\r\n").await;
    let early = tokio::time::timeout(Duration::from_secs(60), c.reply()).await;
    assert!(
        early.is_err(),
        "no reply before the commit returned: {early:?}"
    );
    assert_eq!(h.store.count(), 0);
    h.store.release.notify_one();
    c.expect_reply("250 2.0.0 Ok: queued as ").await;
    assert_eq!(h.store.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn store_failure_gives_451_and_no_250() {
    let h = harness(config());
    h.store.fail.store(true, Ordering::SeqCst);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(MSG.as_bytes()).await;
    c.send(b".\r\n").await;
    c.expect_reply("451 4.3.0").await;
}

#[tokio::test(start_paused = true)]
async fn bdat_chunks_are_assembled_and_committed() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.send(b"BDAT 5\r\nhello").await;
    c.expect_reply("503 5.5.1").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    let part1 = "Subject: chunked\r\n\r\n";
    let part2 = "line with .\r\n.leading dot kept\r\n";
    c.send(format!("BDAT {}\r\n{part1}", part1.len()).as_bytes())
        .await;
    c.expect_reply("250 2.0.0").await;
    c.send(format!("BDAT {} LAST\r\n{part2}", part2.len()).as_bytes())
        .await;
    c.expect_reply("250 2.0.0 Ok: queued as").await;
    let content = String::from_utf8(h.store.taken()[0].1.content.clone()).expect("utf8");
    assert!(content.ends_with(&format!("{part1}{part2}")), "{content}");
    // A bare LF inside BDAT is refused too.
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.send(b"BDAT 4 LAST\r\na\nb\n").await;
    c.expect_reply("550 5.5.2").await;
    assert_eq!(h.store.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn plaintext_pipelined_after_starttls_is_discarded() {
    let h = harness(config());
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.send(b"STARTTLS\r\nMAIL FROM:<injected@x.test>\r\n").await;
    c.expect_reply("220 2.0.0").await;
    let name = rustls_pki_types::ServerName::try_from(HOST).expect("name");
    let tls = h
        .tls_connector()
        .connect(name, c.io)
        .await
        .expect("handshake");
    let mut c = Client::new(tls);
    // The injected MAIL was not executed: RCPT has no transaction, and EHLO is needed again.
    c.expect("RCPT TO:<alice@example.test>", "503 5.5.1").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test>", "250").await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_closes_idle_sessions_and_lets_transactions_finish() {
    let h = harness(config());
    let (trigger, shutdown) = shutdown_channel();
    let (mut idle, _) = h.connect(Role::Mx, "192.0.2.1", shutdown.clone());
    idle.expect_reply("220").await;
    idle.expect("EHLO client.test", "250").await;
    let (mut busy, _) = h.connect(Role::Mx, "192.0.2.2", shutdown.clone());
    busy.expect_reply("220").await;
    busy.expect("EHLO client.test", "250").await;
    busy.expect("MAIL FROM:<a@remote.test>", "250").await;
    trigger.trigger();
    idle.expect_reply("421 4.3.2").await;
    assert!(idle.closed().await);
    busy.expect("RCPT TO:<alice@example.test>", "250").await;
    busy.expect("DATA", "354").await;
    busy.send(MSG.as_bytes()).await;
    busy.send(b".\r\n").await;
    busy.expect_reply("250 2.0.0").await;
    // The transaction is over: the session says goodbye without waiting for a command.
    busy.expect_reply("421 4.3.2").await;
    assert!(busy.closed().await);
    assert_eq!(h.store.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn too_many_errors_close_the_session() {
    let mut cfg = config();
    cfg.limits.max_errors = 3;
    let h = harness(cfg);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("X1", "500").await;
    c.expect("X2", "500").await;
    c.expect("X3", "500").await;
    c.expect_reply("421 4.7.0").await;
    assert!(c.closed().await);
}

/// Deterministic pseudo-random client input built from SMTP fragments and noise: the session
/// must answer and end without panicking, whatever arrives.
#[tokio::test(start_paused = true)]
async fn arbitrary_client_bytes_never_break_the_session() {
    const PIECES: &[&[u8]] = &[
        b"EHLO x\r\n",
        b"HELO \xff\r\n",
        b"MAIL FROM:<a@remote.test> SIZE=9 RET=FULL\r\n",
        b"MAIL FROM:<\"q\\\"x\"@r.test> ENVID=+41\r\n",
        b"RCPT TO:<alice@example.test> NOTIFY=SUCCESS ORCPT=rfc822;a+40b\r\n",
        b"RCPT TO:<Postmaster>\r\n",
        b"RCPT TO:<x@elsewhere.test>\r\n",
        b"DATA\r\n",
        b"BDAT 7\r\n",
        b"BDAT 3 LAST\r\n",
        b"AUTH PLAIN\r\n",
        b"AUTH LOGIN Zm9v\r\n",
        b"STARTTLS\r\n",
        b".\r\n",
        b"..\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b".",
        b"\0\x01\x7f",
        b"RSET\r\n",
        b"NOOP\r\n",
    ];
    let h = harness(config());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..40 {
        let mut input = Vec::new();
        for _ in 0..(next() % 60) {
            let r = next();
            if r % 7 == 0 {
                input.extend((0..(r % 40)).map(|_| (next() & 0xff) as u8));
            } else {
                input.extend_from_slice(PIECES[(r as usize / 7) % PIECES.len()]);
            }
        }
        input.extend_from_slice(b"\r\n.\r\nQUIT\r\n");
        let (mut c, task) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
        c.expect_reply("220").await;
        // Write in a task: the server may close before reading everything.
        let (mut rd, mut wr) = tokio::io::split(c.io);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = wr.write_all(&input).await;
            wr
        });
        let mut sink = Vec::new();
        use tokio::io::AsyncReadExt;
        let _ = rd.read_to_end(&mut sink).await;
        let _ = writer.await;
        task.await.expect("session task must not panic");
        let text = String::from_utf8_lossy(&sink);
        for line in text.lines() {
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            assert!((200..600).contains(&code), "malformed reply line {line:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn announced_size_that_would_overfill_a_mailbox_is_refused_at_rcpt() {
    let mut cfg = config();
    cfg.users[0].quota = Some(1000); // alice, whose mailbox is empty
    let h = harness(cfg);
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<a@remote.test> SIZE=2000", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "552 5.2.2").await;
    c.expect("RSET", "250").await;
    c.expect("MAIL FROM:<a@remote.test> SIZE=900", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250 2.1.5").await;
}

/// A mailbox lookup with return-path tags, as the binary wires BATV.
struct Tags;

impl mailerd_receive::MailboxLookup for Tags {
    fn lookup(&self, address: &str) -> mailerd_receive::MailboxStatus {
        if address == "alice@example.test" {
            mailerd_receive::MailboxStatus::Active
        } else {
            mailerd_receive::MailboxStatus::Unknown
        }
    }

    fn return_path_tag(&self, address: &str, null_sender: bool) -> mailerd_receive::TagCheck {
        use mailerd_receive::TagCheck;
        match address {
            "prvs=1007abcdef=alice@example.test" => TagCheck::Valid("alice@example.test".into()),
            "prvs=1007000000=alice@example.test" => {
                TagCheck::Refuse("Recipient address rejected: bad tag".into())
            }
            "alice@example.test" if null_sender => TagCheck::Mark {
                address: address.into(),
                header: "X-Mailerd-BATV: none (test)".into(),
            },
            _ => TagCheck::NotTagged,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn return_path_tags_are_stripped_refused_or_marked() {
    let h = support::harness_with(config(), std::sync::Arc::new(Tags));
    let (mut c, _) = h.connect(Role::Mx, "192.0.2.1", Shutdown::never());
    c.expect_reply("220").await;
    c.expect("EHLO client.test", "250").await;
    c.expect("MAIL FROM:<>", "250").await;
    c.expect("RCPT TO:<prvs=1007000000=alice@example.test>", "550 5.7.1")
        .await;
    c.expect("RCPT TO:<prvs=1007abcdef=alice@example.test>", "250")
        .await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: bounce\r\n\r\nreturned\r\n.\r\n").await;
    c.expect_reply("250").await;
    c.expect("MAIL FROM:<>", "250").await;
    c.expect("RCPT TO:<alice@example.test>", "250").await;
    c.expect("DATA", "354").await;
    c.send(b"Subject: backscatter\r\n\r\nreturned\r\n.\r\n")
        .await;
    c.expect_reply("250").await;
    let taken = h.store.taken();
    assert_eq!(taken.len(), 2);
    assert_eq!(
        taken[0].1.envelope.recipients[0].address, "alice@example.test",
        "the tag is stripped"
    );
    assert!(!String::from_utf8_lossy(&taken[0].1.content).contains("X-Mailerd-BATV"));
    assert!(
        String::from_utf8_lossy(&taken[1].1.content).contains("X-Mailerd-BATV: none (test)\r\n")
    );
}

/// The return-path verdict field is reception's own: a forged one that comes with a message
/// from outside is removed (with its folded line), so a later `mailerd explain` cannot take it
/// for reception's verdict; one from a trusted relay network (a front MX of ours) is kept.
#[tokio::test(start_paused = true)]
async fn a_verdict_field_that_comes_from_outside_is_removed() {
    let mut cfg = config();
    cfg.relay_networks = vec!["10.0.0.0/8".into()];
    let h = support::harness_with(cfg, std::sync::Arc::new(Tags));
    let forged: &[u8] = b"From: <>\r\nX-Mailerd-BATV: fail (forged)\r\n\tsecond line\r\nSubject: bounce\r\n\r\nX-Mailerd-BATV: in the body\r\n.\r\n";
    for ip in ["192.0.2.1", "10.1.2.3"] {
        let (mut c, _) = h.connect(Role::Mx, ip, Shutdown::never());
        c.expect_reply("220").await;
        c.expect("EHLO client.test", "250").await;
        c.expect("MAIL FROM:<>", "250").await;
        c.expect("RCPT TO:<prvs=1007abcdef=alice@example.test>", "250")
            .await;
        c.expect("DATA", "354").await;
        c.send(forged).await;
        c.expect_reply("250").await;
    }
    let taken = h.store.taken();
    assert_eq!(taken.len(), 2);
    let outside = String::from_utf8_lossy(&taken[0].1.content).into_owned();
    assert!(
        !outside.contains("forged") && !outside.contains("second line"),
        "{outside}"
    );
    assert!(
        outside.contains("\r\nFrom: <>\r\nSubject: bounce\r\n\r\nX-Mailerd-BATV: in the body\r\n"),
        "{outside}"
    );
    let trusted = String::from_utf8_lossy(&taken[1].1.content).into_owned();
    assert!(
        trusted.contains("X-Mailerd-BATV: fail (forged)\r\n\tsecond line\r\n"),
        "{trusted}"
    );
}
