//! The SMTP client against scripted SMTP peers on loopback TCP, one test per reply class.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use mailerd_deliver::{StaticResolver, TlsPolicy};
use mailerd_types::{NextHop, Notify, Outcome, Ret, Stage};

const EHLO_PIPE: &[&str] = &[
    "PIPELINING",
    "SIZE 10000000",
    "8BITMIME",
    "ENHANCEDSTATUSCODES",
];

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[tokio::test]
async fn delivers_pipelined_and_records_the_final_reply() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO client.test", ehlo(EHLO_PIPE)),
        Step::Expect("MAIL FROM:<alice@sender.test> SIZE=", "250 2.1.0 Ok"),
        Step::Expect("RCPT TO:<bob@example.test>", "250 2.1.5 Ok"),
        Step::Expect("DATA", "354 End data with <CR><LF>.<CR><LF>"),
        Step::Data("250 2.0.0 Ok: queued as 4ABC"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let req = request(
        static_hop(peer.addr),
        &["bob@example.test"],
        "Subject: hi\r\n\r\nhello\r\n",
    );
    let report = d.deliver(&req).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert_eq!(t[0].data[0], b"Subject: hi\r\n\r\nhello\r\n.\r\n");
    assert_eq!(report.recipients.len(), 1);
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("delivered", "2.0.0".into(), Some(250)));
    let Outcome::Delivered {
        reply,
        remote_mta,
        next_hop_dsn,
    } = o
    else {
        unreachable!()
    };
    assert_eq!(
        reply.as_ref().map(|r| r.lines.clone()),
        Some(vec!["2.0.0 Ok: queued as 4ABC".to_string()])
    );
    let mta = remote_mta.as_ref().expect("remote mta");
    assert_eq!(mta.addr, Some(peer_addr(&t, &req)));
    assert!(!next_hop_dsn);
    // QUIT ends the session.
    assert_eq!(t[0].commands.last().map(String::as_str), Some("QUIT"));
}

fn peer_addr(_t: &[Transcript], req: &mailerd_types::DeliveryRequest) -> std::net::SocketAddr {
    match &req.next_hop {
        NextHop::Static { host, port } => std::net::SocketAddr::new(ip(host), *port),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn mixed_rcpt_replies_in_one_transaction() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(EHLO_PIPE)),
        Step::Expect("MAIL FROM:", "250 2.1.0 Ok"),
        Step::Expect("RCPT TO:<ok@example.test>", "250 2.1.5 Ok"),
        Step::Expect("RCPT TO:<busy@example.test>", "450 4.2.1 Mailbox busy, try later"),
        Step::Expect(
            "RCPT TO:<nobody@example.test>",
            "550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Please check the address.",
        ),
        Step::Expect("RCPT TO:<old@example.test>", "552 Too many recipients"),
        Step::Expect("RCPT TO:<full@example.test>", "552 5.2.2 <full@example.test>: user is over quota"),
        Step::Expect("DATA", "354 go ahead"),
        Step::Data("250 2.0.0 Ok: queued"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let req = request(
        static_hop(peer.addr),
        &[
            "ok@example.test",
            "busy@example.test",
            "nobody@example.test",
            "old@example.test",
            "full@example.test",
        ],
        "x\r\n",
    );
    let report = d.deliver(&req).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    let s: Vec<_> = report
        .recipients
        .iter()
        .map(|r| summary(&r.outcome))
        .collect();
    assert_eq!(
        s,
        vec![
            ("delivered", "2.0.0".into(), Some(250)),
            ("temporary", "4.2.1".into(), Some(450)),
            ("permanent", "5.1.1".into(), Some(550)),
            // RFC 5321 4.5.3.1.10: a bare 552 to RCPT is read as 452.
            ("temporary", "4.0.0".into(), Some(552)),
            // ...but an explicit 5.2.2 is the server's word: permanent.
            ("permanent", "5.2.2".into(), Some(552)),
        ]
    );
    let Outcome::Permanent(detail) = &report.recipients[2].outcome else {
        unreachable!()
    };
    let reply = detail.reply.as_ref().expect("reply");
    assert_eq!(reply.lines.len(), 2, "every line of the reply is kept");
    assert_eq!(detail.stage, Stage::Rcpt);
    assert!(
        detail
            .diagnostic
            .contains("said: 550 5.1.1 The email account"),
        "{}",
        detail.diagnostic
    );
    assert!(detail.diagnostic.ends_with("(in reply to RCPT TO command)"));
    assert_eq!(
        report
            .recipients
            .iter()
            .map(|r| r.index)
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}

#[tokio::test]
async fn mail_rejection_applies_to_every_recipient() {
    // Without PIPELINING: no RCPT is sent after the refusal.
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["SIZE 0"])),
        Step::Expect("MAIL FROM:", "550 5.7.1 Sender rejected by policy"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let req = request(
        static_hop(peer.addr),
        &["a@example.test", "b@example.test"],
        "x\r\n",
    );
    let report = d.deliver(&req).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert!(!t[0].commands.iter().any(|c| c.starts_with("RCPT")));
    for r in &report.recipients {
        assert_eq!(
            summary(&r.outcome),
            ("permanent", "5.7.1".into(), Some(550))
        );
    }

    // With PIPELINING: a 4xx to MAIL, the RCPT/DATA replies that follow are ignored.
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(EHLO_PIPE)),
        Step::Expect("MAIL FROM:", "451 4.3.0 Temporary local problem"),
        Step::Expect("RCPT TO:", "503 5.5.1 Need MAIL first"),
        Step::Expect("RCPT TO:", "503 5.5.1 Need MAIL first"),
        Step::Expect("DATA", "503 5.5.1 Need RCPT first"),
    ]])
    .await;
    let req = request(
        static_hop(peer.addr),
        &["a@example.test", "b@example.test"],
        "x\r\n",
    );
    let report = d.deliver(&req).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    for r in &report.recipients {
        assert_eq!(
            summary(&r.outcome),
            ("temporary", "4.3.0".into(), Some(451))
        );
    }
}

#[tokio::test]
async fn reply_after_data_applies_to_the_accepted_recipients() {
    for (final_reply, expected) in [
        (
            "554 5.6.0 Message content rejected",
            ("permanent", "5.6.0", 554),
        ),
        (
            "452 4.3.1 Insufficient system storage",
            ("temporary", "4.3.1", 452),
        ),
    ] {
        let peer = Peer::start(vec![vec![
            Step::Send("220 mx.test ESMTP"),
            Step::Expect("EHLO", ehlo(EHLO_PIPE)),
            Step::Expect("MAIL FROM:", "250 Ok"),
            Step::Expect("RCPT TO:<a@", "250 Ok"),
            Step::Expect("RCPT TO:<x@", "550 5.1.1 no such user"),
            Step::Expect("RCPT TO:<b@", "250 Ok"),
            Step::Expect("DATA", "354 go"),
            Step::Data(final_reply),
        ]])
        .await;
        let d = deliverer(config(), StaticResolver::new());
        let req = request(
            static_hop(peer.addr),
            &["a@example.test", "x@example.test", "b@example.test"],
            "x\r\n",
        );
        let report = d.deliver(&req).await;
        let t = peer.finish().await;
        assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
        let exp = (expected.0, expected.1.to_string(), Some(expected.2));
        assert_eq!(summary(&report.recipients[0].outcome), exp);
        assert_eq!(
            summary(&report.recipients[1].outcome),
            ("permanent", "5.1.1".into(), Some(550))
        );
        assert_eq!(summary(&report.recipients[2].outcome), exp);
    }
}

#[tokio::test]
async fn data_command_refused_applies_to_the_transaction() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["8BITMIME"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:", "250 Ok"),
        Step::Expect("DATA", "554 5.5.0 No valid recipients"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let req = request(static_hop(peer.addr), &["a@example.test"], "x\r\n");
    let report = d.deliver(&req).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    // 8BITMIME offered but the message is 7-bit: no BODY parameter.
    assert_eq!(t[0].commands[1], "MAIL FROM:<alice@sender.test>");
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("permanent", "5.5.0".into(), Some(554))
    );
}

/// Binds two peers on the same port of 127.0.0.1 and 127.0.0.2 (the MX port is global).
async fn two_peers(a: Vec<Vec<Step>>, b: Vec<Vec<Step>>) -> (Peer, Peer) {
    for _ in 0..20 {
        let p1 = Peer::start(a.clone()).await;
        if let Ok(p2) = Peer::start_on("127.0.0.2", p1.addr.port(), b.clone()).await {
            return (p1, p2);
        }
        p1.abort();
    }
    panic!("no common free port on 127.0.0.1 and 127.0.0.2");
}

fn two_mx() -> StaticResolver {
    StaticResolver::new()
        .with_mx(
            "example.test",
            &[(10, "mx1.example.test"), (20, "mx2.example.test")],
        )
        .with_addrs("mx1.example.test", &[ip("127.0.0.1")])
        .with_addrs("mx2.example.test", &[ip("127.0.0.2")])
}

fn full_success(n: usize) -> Vec<Step> {
    let mut s = vec![
        Step::Send("220 mx2.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["SIZE 100000"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
    ];
    for _ in 0..n {
        s.push(Step::Expect("RCPT TO:", "250 Ok"));
    }
    s.push(Step::Expect("DATA", "354 go"));
    s.push(Step::Data("250 2.0.0 Ok: queued on mx2"));
    s
}

#[tokio::test]
async fn reply_421_mid_session_defers_the_rest_and_tries_the_next_mx() {
    let (p1, p2) = two_peers(
        vec![vec![
            Step::Send("220 mx1.test ESMTP"),
            Step::Expect("EHLO", ehlo(&["SIZE 100000"])),
            Step::Expect("MAIL FROM:", "250 Ok"),
            Step::Expect("RCPT TO:<a@", "550 5.1.1 unknown user"),
            Step::Expect("RCPT TO:<b@", "250 Ok"),
            Step::Expect("RCPT TO:<c@", "421 4.3.2 Service shutting down"),
        ]],
        vec![full_success(2)],
    )
    .await;
    let mut cfg = config();
    cfg.smtp_port = p1.addr.port();
    let d = deliverer(cfg, two_mx());
    let req = request(
        NextHop::Mx {
            domain: "example.test".into(),
        },
        &["a@example.test", "b@example.test", "c@example.test"],
        "x\r\n",
    );
    let report = d.deliver(&req).await;
    let t1 = p1.finish().await;
    let t2 = p2.finish().await;
    assert!(t1[0].errors.is_empty(), "{:?}", t1[0].errors);
    assert!(t2[0].errors.is_empty(), "{:?}", t2[0].errors);
    // a was refused for good by mx1: not retried on mx2.
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("permanent", "5.1.1".into(), Some(550))
    );
    for r in &report.recipients[1..] {
        assert_eq!(
            summary(&r.outcome),
            ("delivered", "2.0.0".into(), Some(250))
        );
        let Outcome::Delivered { remote_mta, .. } = &r.outcome else {
            unreachable!()
        };
        assert_eq!(
            remote_mta.as_ref().map(|m| m.name.as_str()),
            Some("mx2.example.test")
        );
    }
    assert_eq!(
        t2[0]
            .commands
            .iter()
            .filter(|c| c.starts_with("RCPT"))
            .count(),
        2
    );
}

#[tokio::test]
async fn connection_refused_tries_the_next_mx_and_421_everywhere_defers() {
    // mx1 has nobody listening; mx2 greets with 421.
    let (p1, p2) = two_peers(
        vec![],
        vec![vec![Step::Send("421 4.7.0 mx2.test Too many connections")]],
    )
    .await;
    let port = p1.addr.port();
    p1.abort();
    let mut cfg = config();
    cfg.smtp_port = port;
    let d = deliverer(cfg, two_mx());
    let req = request(
        NextHop::Mx {
            domain: "example.test".into(),
        },
        &["a@example.test"],
        "x\r\n",
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = d.deliver(&req).await;
    let t2 = p2.finish().await;
    assert_eq!(t2.len(), 1, "mx2 was tried after mx1 refused");
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.7.0".into(), Some(421)));
    assert!(diagnostic(o).contains("mx2.example.test[127.0.0.2] said: 421"));
}

#[tokio::test]
async fn connection_refused_everywhere_is_4_4_1() {
    let p = Peer::start(vec![]).await;
    let addr = p.addr;
    p.abort();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(static_hop(addr), &["a@example.test"], "x\r\n"))
        .await;
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.4.1".into(), None));
    assert_eq!(
        diagnostic(o),
        format!(
            "connect to 127.0.0.1[127.0.0.1]:{}: Connection refused",
            addr.port()
        )
    );
}

#[tokio::test]
async fn dropped_connection_is_temporary_4_4_2() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["SIZE 0"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::CloseAfterCommand,
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let _ = peer.finish().await;
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.4.2".into(), None));
    assert_eq!(
        diagnostic(o),
        "lost connection with 127.0.0.1[127.0.0.1] while sending RCPT TO"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_server_hits_the_mail_timeout() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["SIZE 0"])),
        Step::HangAfterCommand,
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let started = tokio::time::Instant::now();
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let waited = started.elapsed();
    peer.abort();
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.4.2".into(), None));
    assert_eq!(
        diagnostic(o),
        "conversation with 127.0.0.1[127.0.0.1] timed out while sending MAIL FROM"
    );
    // The RFC 5321 4.5.3.2 MAIL timeout (5 minutes) elapsed in paused time.
    assert!(waited >= Duration::from_secs(300), "{waited:?}");
}

#[tokio::test]
async fn starttls_offered_is_used_and_ehlo_repeated() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["STARTTLS", "PIPELINING"])),
        Step::StartTls(tls_server_config()),
        Step::Expect("EHLO client.test", ehlo(&["PIPELINING"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 2.0.0 Ok: queued over TLS"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert!(t[0].tls);
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("delivered", "2.0.0".into(), Some(250))
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered_defers_4_7_4() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
    ]])
    .await;
    let mut cfg = config();
    cfg.tls_policies
        .insert("127.0.0.1".into(), TlsPolicy::Encrypt);
    let d = deliverer(cfg, StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let t = peer.finish().await;
    assert!(!t[0].commands.iter().any(|c| c.starts_with("MAIL")));
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.7.4".into(), None));
    assert_eq!(
        diagnostic(o),
        "TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]"
    );
}

#[tokio::test]
async fn message_larger_than_size_bounces_5_3_4_without_mail() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["SIZE 10", "PIPELINING"])),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test", "b@example.test"],
            "this message is longer than ten bytes\r\n",
        ))
        .await;
    let t = peer.finish().await;
    assert!(!t[0].commands.iter().any(|c| c.starts_with("MAIL")));
    for r in &report.recipients {
        assert_eq!(summary(&r.outcome), ("permanent", "5.3.4".into(), None));
        assert!(diagnostic(&r.outcome).contains("exceeds size limit 10 of server"));
    }
}

#[tokio::test]
async fn smtputf8_message_to_a_server_without_it_bounces_5_6_7() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["8BITMIME"])),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let mut req = request(static_hop(peer.addr), &["jösé@example.test"], "x\r\n");
    req.smtputf8 = true;
    let report = d.deliver(&req).await;
    let t = peer.finish().await;
    assert!(!t[0].commands.iter().any(|c| c.starts_with("MAIL")));
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("permanent", "5.6.7".into(), None));
    assert!(diagnostic(o).starts_with("SMTPUTF8 is required, but was not offered by host"));
}

fn dsn_request(hop: NextHop) -> mailerd_types::DeliveryRequest {
    let mut req = request(hop, &["bob@example.test"], "x\r\n");
    req.ret = Some(Ret::Hdrs);
    req.envid = Some("QQ314159 +x".into());
    req.eight_bit = true;
    req.smtputf8 = true;
    req.recipients[0].spec.notify = Some(Notify {
        success: true,
        failure: true,
        ..Default::default()
    });
    req.recipients[0].spec.orcpt = Some(("rfc822".into(), "Bob+x@Example.test".into()));
    req
}

#[tokio::test]
async fn dsn_parameters_are_passed_only_when_offered() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["DSN", "8BITMIME", "SMTPUTF8"])),
        Step::Expect(
            "MAIL FROM:<alice@sender.test> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159+20+2Bx",
            "250 Ok",
        ),
        Step::Expect(
            "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bx@Example.test",
            "250 Ok",
        ),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 Ok"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d.deliver(&dsn_request(static_hop(peer.addr))).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert!(matches!(
        report.recipients[0].outcome,
        Outcome::Delivered {
            next_hop_dsn: true,
            ..
        }
    ));

    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["8BITMIME", "SMTPUTF8"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 Ok"),
    ]])
    .await;
    let report = d.deliver(&dsn_request(static_hop(peer.addr))).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert_eq!(
        t[0].commands[1],
        "MAIL FROM:<alice@sender.test> BODY=8BITMIME SMTPUTF8"
    );
    assert_eq!(t[0].commands[2], "RCPT TO:<bob@example.test>");
    assert!(matches!(
        report.recipients[0].outcome,
        Outcome::Delivered {
            next_hop_dsn: false,
            ..
        }
    ));
}

async fn sent_bytes(body: &str) -> Vec<u8> {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 Ok"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(static_hop(peer.addr), &["a@example.test"], body))
        .await;
    assert!(matches!(
        report.recipients[0].outcome,
        Outcome::Delivered { .. }
    ));
    let mut t = peer.finish().await;
    t.remove(0).data.remove(0)
}

#[tokio::test]
async fn dot_stuffing_on_the_wire() {
    assert_eq!(
        sent_bytes(".x first line\r\nmid\r\n.\r\n..two\r\nend.\r\n").await,
        b"..x first line\r\nmid\r\n..\r\n...two\r\nend.\r\n.\r\n"
    );
    // No trailing CRLF: exactly one CRLF is added before the end mark.
    assert_eq!(sent_bytes("a\r\n.b").await, b"a\r\n..b\r\n.\r\n");
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test SMTP"),
        Step::Expect("EHLO client.test", "502 5.5.2 Command not recognized"),
        Step::Expect("HELO client.test", "250 mx.test"),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 Ok"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert_eq!(t[0].commands[2], "MAIL FROM:<alice@sender.test>");
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("delivered", String::new(), Some(250))
    );
}

#[tokio::test]
async fn garbage_and_oversized_replies_never_panic() {
    let long: &'static str = Box::leak(format!("250-{}", "x".repeat(10_000)).into_boxed_str());
    for greeting in ["hello there", "999 what", long] {
        let peer = Peer::start(vec![vec![Step::Send(greeting)]]).await;
        let d = deliverer(config(), StaticResolver::new());
        let report = d
            .deliver(&request(
                static_hop(peer.addr),
                &["a@example.test"],
                "x\r\n",
            ))
            .await;
        peer.abort();
        let o = &report.recipients[0].outcome;
        assert_eq!(
            summary(o),
            ("temporary", "4.5.0".into(), None),
            "{greeting:.20}"
        );
        assert!(
            diagnostic(o).contains("protocol error"),
            "{}",
            diagnostic(o)
        );
    }
}

#[tokio::test]
async fn connection_is_reused_with_rset_for_the_next_request() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:<a@", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 2.0.0 first"),
        Step::Expect("RSET", "250 2.0.0 Ok"),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:<b@", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 2.0.0 second"),
    ]])
    .await;
    let mut cfg = config();
    cfg.connection_reuse_time = Duration::from_secs(5);
    let d = deliverer(cfg, StaticResolver::new());
    let r1 = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "1\r\n",
        ))
        .await;
    assert_eq!(d.idle_connections(), 1);
    let r2 = d
        .deliver(&request(
            static_hop(peer.addr),
            &["b@example.test"],
            "2\r\n",
        ))
        .await;
    d.close_idle().await;
    assert_eq!(d.idle_connections(), 0);
    let t = peer.finish().await;
    assert_eq!(t.len(), 1, "one connection for both requests");
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert_eq!(t[0].commands.last().map(String::as_str), Some("QUIT"));
    for (r, text) in [(r1, "2.0.0 first"), (r2, "2.0.0 second")] {
        let Outcome::Delivered { reply, .. } = &r.recipients[0].outcome else {
            panic!("delivered expected: {:?}", r.recipients[0].outcome);
        };
        assert_eq!(reply.as_ref().map(|r| r.lines[0].as_str()), Some(text));
    }
}

#[tokio::test]
async fn a_dead_idle_connection_is_replaced_by_a_new_one() {
    let peer = Peer::start(vec![
        vec![
            Step::Send("220 mx.test ESMTP"),
            Step::Expect("EHLO", ehlo(&[])),
            Step::Expect("MAIL FROM:", "250 Ok"),
            Step::Expect("RCPT TO:", "250 Ok"),
            Step::Expect("DATA", "354 go"),
            Step::Data("250 2.0.0 first"),
            // The server closes the idle connection on the RSET probe.
            Step::CloseAfterCommand,
        ],
        full_success(1),
    ])
    .await;
    let mut cfg = config();
    cfg.connection_reuse_time = Duration::from_secs(5);
    let d = deliverer(cfg, StaticResolver::new());
    let hop = static_hop(peer.addr);
    let r1 = d
        .deliver(&request(hop.clone(), &["a@example.test"], "1\r\n"))
        .await;
    let r2 = d.deliver(&request(hop, &["b@example.test"], "2\r\n")).await;
    d.close_idle().await;
    let t = peer.finish().await;
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].commands.last().map(String::as_str), Some("RSET"));
    for r in [r1, r2] {
        assert!(matches!(r.recipients[0].outcome, Outcome::Delivered { .. }));
    }
}

#[tokio::test]
async fn a_dead_idle_pipelining_connection_is_replaced_without_deferring() {
    // With PIPELINING the RSET probe travels with MAIL, RCPT and DATA; a server that closed
    // the idle connection answers none of them, and the request goes on a new connection
    // instead of being deferred.
    let peer = Peer::start(vec![
        vec![
            Step::Send("220 mx.test ESMTP"),
            Step::Expect("EHLO", ehlo(&["PIPELINING"])),
            Step::Expect("MAIL FROM:", "250 Ok"),
            Step::Expect("RCPT TO:", "250 Ok"),
            Step::Expect("DATA", "354 go"),
            Step::Data("250 2.0.0 first"),
            Step::CloseAfterCommand,
        ],
        full_success(1),
    ])
    .await;
    let mut cfg = config();
    cfg.connection_reuse_time = Duration::from_secs(5);
    let d = deliverer(cfg, StaticResolver::new());
    let hop = static_hop(peer.addr);
    let r1 = d
        .deliver(&request(hop.clone(), &["a@example.test"], "1\r\n"))
        .await;
    let r2 = d.deliver(&request(hop, &["b@example.test"], "2\r\n")).await;
    d.close_idle().await;
    let t = peer.finish().await;
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].commands.last().map(String::as_str), Some("RSET"));
    for r in [r1, r2] {
        assert!(
            matches!(r.recipients[0].outcome, Outcome::Delivered { .. }),
            "{:?}",
            r.recipients[0].outcome
        );
    }
}

#[tokio::test]
async fn failed_opportunistic_handshake_retries_the_target_in_plain_text() {
    let peer = Peer::start(vec![
        vec![
            Step::Send("220 mx.test ESMTP"),
            Step::Expect("EHLO", ehlo(&["STARTTLS"])),
            Step::Expect("STARTTLS", "220 2.0.0 Go ahead"),
            Step::Close,
        ],
        vec![
            Step::Send("220 mx.test ESMTP"),
            Step::Expect("EHLO", ehlo(&["STARTTLS"])),
            Step::Expect("MAIL FROM:", "250 Ok"),
            Step::Expect("RCPT TO:", "250 Ok"),
            Step::Expect("DATA", "354 go"),
            Step::Data("250 2.0.0 Ok: plain"),
        ],
    ])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let t = peer.finish().await;
    assert_eq!(t.len(), 2);
    assert!(t[1].errors.is_empty(), "{:?}", t[1].errors);
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("delivered", "2.0.0".into(), Some(250))
    );
}

#[tokio::test]
async fn required_tls_refused_by_the_server_defers_4_7_4() {
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["STARTTLS"])),
        Step::Expect(
            "STARTTLS",
            "454 4.7.0 TLS not available due to local problem",
        ),
    ]])
    .await;
    let mut cfg = config();
    cfg.tls_policy = TlsPolicy::Encrypt;
    let d = deliverer(cfg, StaticResolver::new());
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    let t = peer.finish().await;
    assert!(!t[0].commands.iter().any(|c| c.starts_with("MAIL")));
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.7.4".into(), Some(454)));
    assert!(
        diagnostic(o).starts_with(
            "TLS is required, but host 127.0.0.1[127.0.0.1] refused to start TLS: 454"
        )
    );
}

#[tokio::test]
async fn more_than_100_recipients_go_in_two_transactions_on_one_connection() {
    let mut script = vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
    ];
    for n in [100, 5] {
        if n == 5 {
            script.push(Step::Expect("RSET", "250 Ok"));
        }
        script.push(Step::Expect("MAIL FROM:", "250 Ok"));
        for _ in 0..n {
            script.push(Step::Expect("RCPT TO:", "250 Ok"));
        }
        script.push(Step::Expect("DATA", "354 go"));
        script.push(Step::Data("250 2.0.0 Ok"));
    }
    let peer = Peer::start(vec![script]).await;
    let rcpts: Vec<String> = (0..105).map(|i| format!("r{i}@example.test")).collect();
    let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    let d = deliverer(config(), StaticResolver::new());
    let report = d
        .deliver(&request(static_hop(peer.addr), &refs, "x\r\n"))
        .await;
    let t = peer.finish().await;
    assert_eq!(t.len(), 1);
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert_eq!(t[0].data.len(), 2);
    assert_eq!(report.recipients.len(), 105);
    assert!(
        report
            .recipients
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Delivered { .. }))
    );
}

#[tokio::test(start_paused = true)]
async fn greeting_and_end_of_data_timeouts_are_configurable() {
    // A server that accepts the connection and never greets.
    let peer = Peer::start(vec![vec![Step::Hang]]).await;
    let mut cfg = config();
    cfg.timeouts.greeting = Duration::from_secs(42);
    cfg.timeouts.data_done = Duration::from_secs(77);
    let d = deliverer(cfg, StaticResolver::new());
    let started = tokio::time::Instant::now();
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    assert!(started.elapsed() >= Duration::from_secs(42));
    assert!(started.elapsed() < Duration::from_secs(60));
    peer.abort();
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.4.2".into(), None));
    assert_eq!(
        diagnostic(o),
        "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting"
    );

    // A server that takes the message and never confirms it.
    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data(""),
        Step::Hang,
    ]])
    .await;
    let started = tokio::time::Instant::now();
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "x\r\n",
        ))
        .await;
    assert!(started.elapsed() >= Duration::from_secs(77));
    peer.abort();
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.4.2".into(), None));
    assert!(
        diagnostic(o)
            .ends_with("timed out while sending end of data -- message may be sent more than once"),
        "{}",
        diagnostic(o)
    );
}

#[tokio::test]
async fn pipelined_mail_refusal_then_hang_up_still_bounces_without_trying_the_next_mx() {
    let (p1, p2) = two_peers(
        vec![vec![
            Step::Send("220 mx1.test ESMTP"),
            Step::Expect("EHLO", ehlo(&["PIPELINING"])),
            Step::Expect("MAIL FROM:", "554 5.7.1 You are not welcome here"),
            Step::Close,
        ]],
        vec![full_success(1)],
    )
    .await;
    let mut cfg = config();
    cfg.smtp_port = p1.addr.port();
    let d = deliverer(cfg, two_mx());
    let req = request(
        NextHop::Mx {
            domain: "example.test".into(),
        },
        &["a@example.test"],
        "x\r\n",
    );
    let report = d.deliver(&req).await;
    let _ = p1.finish().await;
    assert!(
        tokio::time::timeout(Duration::from_millis(100), p2.finish())
            .await
            .is_err(),
        "mx2 must not be contacted"
    );
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("permanent", "5.7.1".into(), Some(554))
    );
}

/// At shutdown (`stop_sessions`, after the grace period) a session still before its final
/// "." ends at once: a server that never greets does not hold the deliverer for its
/// greeting timeout, and the recipient is reported stopped (4.3.2, not an attempt).
#[tokio::test(start_paused = true)]
async fn stopping_ends_a_session_before_its_final_dot() {
    let peer = Peer::start(vec![vec![Step::Hang]]).await;
    let d = std::sync::Arc::new(deliverer(config(), StaticResolver::new()));
    let started = tokio::time::Instant::now();
    let task = {
        let d = d.clone();
        let req = request(static_hop(peer.addr), &["a@example.test"], "x\r\n");
        tokio::spawn(async move { d.deliver(&req).await })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.stop_sessions();
    let report = task.await.expect("delivery task");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not the 5 minutes of the greeting timeout"
    );
    peer.abort();
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("stopped", "4.3.2".into(), None));
    assert_eq!(
        diagnostic(o),
        "delivery to 127.0.0.1[127.0.0.1] stopped while receiving the initial server greeting: mailerd is shutting down"
    );
    // Once stopped, a new request does not start a session at all.
    let peer = Peer::start(vec![vec![Step::Send("220 mx.test ESMTP"), Step::Hang]]).await;
    let report = d
        .deliver(&request(
            static_hop(peer.addr),
            &["b@example.test"],
            "x\r\n",
        ))
        .await;
    peer.abort();
    assert_eq!(
        summary(&report.recipients[0].outcome),
        ("stopped", "4.3.2".into(), None)
    );
}

/// A session waiting for the reply to its final "." is not cut by the stop (the server may
/// have taken the message: cutting would deliver it twice); it waits up to its timeout.
#[tokio::test]
async fn stopping_does_not_cut_the_wait_after_the_final_dot() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (dot_tx, dot_rx) = tokio::sync::oneshot::channel();
    let mut dot_tx = Some(dot_tx);
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.expect("accept");
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b"220 mx.test ESMTP\r\n").await.expect("greet");
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    // The message is here; the reply never comes.
                    if let Some(tx) = dot_tx.take() {
                        let _ = tx.send(());
                    }
                    std::future::pending::<()>().await;
                }
                continue;
            }
            let reply: &[u8] = match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                Some("EHLO") => b"250 mx.test\r\n",
                Some("DATA") => {
                    in_data = true;
                    b"354 go\r\n"
                }
                _ => b"250 Ok\r\n",
            };
            w.write_all(reply).await.expect("reply");
        }
    });
    let mut cfg = config();
    cfg.timeouts.data_done = Duration::from_secs(2);
    let d = std::sync::Arc::new(deliverer(cfg, StaticResolver::new()));
    let task = {
        let d = d.clone();
        let req = request(static_hop(addr), &["a@example.test"], "x\r\n");
        tokio::spawn(async move { d.deliver(&req).await })
    };
    dot_rx.await.expect("the final dot reached the server");
    let stopped_at = tokio::time::Instant::now();
    d.stop_sessions();
    let report = task.await.expect("delivery task");
    assert!(
        stopped_at.elapsed() >= Duration::from_millis(1900),
        "waited for the reply to the final dot"
    );
    server.abort();
    let o = &report.recipients[0].outcome;
    assert_eq!(summary(o), ("temporary", "4.4.2".into(), None));
    assert!(
        diagnostic(o)
            .ends_with("timed out while sending end of data -- message may be sent more than once"),
        "{}",
        diagnostic(o)
    );
}

/// An idle connection is closed with QUIT once its reuse time is up, without waiting for
/// another request to come along.
#[tokio::test]
async fn an_expired_idle_connection_gets_quit() {
    let peer = Peer::start(vec![full_success(1)]).await;
    let mut cfg = config();
    cfg.connection_reuse_time = Duration::from_millis(300);
    let d = deliverer(cfg, StaticResolver::new());
    let r = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test"],
            "1\r\n",
        ))
        .await;
    assert!(matches!(r.recipients[0].outcome, Outcome::Delivered { .. }));
    assert_eq!(d.idle_connections(), 1);
    assert_eq!(d.close_expired_idle().await, 0, "not expired yet");
    assert_eq!(d.idle_connections(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(d.close_expired_idle().await, 1);
    assert_eq!(d.idle_connections(), 0);
    let t = peer.finish().await;
    assert_eq!(t.len(), 1);
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    assert_eq!(t[0].commands.last().map(String::as_str), Some("QUIT"));
}
