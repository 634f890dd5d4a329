//! The notify task over the in-memory store: finished messages get the notices due, queued
//! with the null sender; the analyzer reads each back as the same recipient, status and
//! category; bounces are never bounced.

use std::sync::Arc;

use mailerd_analyze::{Kind, analyze};
use mailerd_notify::notifier::{Notifier, NotifierConfig};
use mailerd_store::memory::MemoryStore;
use mailerd_store::{NewMessage, Store};
use mailerd_types::{
    Category, DeliveryReport, DsnAction, Envelope, Notify, QueueId, RecipientSpec, RecipientState,
    RecipientUpdate, Ret, rfc5322_date,
};

const T0: u64 = 1_800_000_000;

fn notifier(store: &Arc<MemoryStore>) -> Notifier<MemoryStore> {
    Notifier::new(
        store.clone(),
        NotifierConfig {
            hostname: "mx.example.test".into(),
            ..NotifierConfig::default()
        },
        Arc::new(|| T0 + 60),
    )
}

async fn queued(store: &MemoryStore, sender: &str, rcpts: Vec<RecipientSpec>) -> QueueId {
    let envelope = Envelope {
        reverse_path: sender.into(),
        recipients: rcpts,
        ret: Some(Ret::Full),
        envid: Some("ENV-1".into()),
        smtputf8: false,
        eight_bit: false,
        received_at: T0,
        client: None,
        auth_user: None,
    };
    let content = b"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: Figures\r\nMessage-ID: <m1@example.test>\r\n\r\nHello\r\n".to_vec();
    store
        .commit(NewMessage { envelope, content })
        .await
        .expect("commit")
}

/// Moves recipients to final states as the queue manager would.
async fn finish(store: &MemoryStore, updates: Vec<(usize, RecipientState, &str, Option<&str>)>) {
    let claimed = store.claim("test", T0, 10, 600).await.expect("claim");
    let c = &claimed[0];
    let updates = updates
        .into_iter()
        .map(|(index, state, reply, remote)| RecipientUpdate {
            index,
            state,
            reply: Some(reply.to_string()),
            remote_mta: remote.map(str::to_string),
            attempts: 1,
            next_attempt: None,
            // local delivery (no remote MTA) is final; a next hop here offers no DSN
            next_hop_dsn: (state == RecipientState::Delivered).then_some(remote.is_none()),
        })
        .collect();
    store
        .apply(
            &c.lease,
            DeliveryReport {
                id: c.lease.id.clone(),
                updates,
            },
            T0 + 30,
        )
        .await
        .expect("apply");
    store.release(&c.lease).await.expect("release");
}

#[tokio::test]
async fn one_failure_notice_covers_every_failed_recipient_and_reads_back() {
    let store = Arc::new(MemoryStore::new());
    let id = queued(
        &store,
        "alice@example.test",
        vec![
            RecipientSpec {
                address: "bob@example.org".into(),
                orcpt: Some(("rfc822".into(), "Bob@example.org".into())),
                notify: None,
            },
            RecipientSpec::new("carol@example.net"),
            RecipientSpec::new("dave@example.com"),
        ],
    )
    .await;
    finish(
        &store,
        vec![
            (0, RecipientState::Failed, "552 5.2.2 <bob@example.org>: user is over quota", Some("mx.example.org [192.0.2.1]")),
            (1, RecipientState::Delivered, "250 2.0.0 Ok", Some("mx.example.net [192.0.2.2]")),
            (2, RecipientState::Failed, "5.1.2 Host or domain name not found. Name service error for name=example.com type=MX: Host not found", None),
        ],
    )
    .await;
    let h = notifier(&store).handle(&id).await.expect("handle");
    assert_eq!(h.notices.len(), 1, "one notice for both failures");
    assert!(h.deleted);
    assert!(
        store.get(&id).await.expect("get").is_none(),
        "original removed after the notice is queued"
    );

    let n = store
        .get(&h.notices[0])
        .await
        .expect("get")
        .expect("notice");
    assert_eq!(
        n.envelope.reverse_path, "",
        "notices go out with the null sender"
    );
    assert_eq!(n.envelope.recipients[0].address, "alice@example.test");
    let a = analyze(&n.content);
    assert_eq!(a.kind, Kind::Bounce);
    let got: Vec<(String, String, Category)> = a
        .recipients
        .iter()
        .map(|r| {
            (
                r.recipient.clone(),
                r.status.map(|s| s.to_string()).unwrap_or_default(),
                r.category,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "bob@example.org".into(),
                "5.2.2".into(),
                Category::InboxFull
            ),
            (
                "dave@example.com".into(),
                "5.1.2".into(),
                Category::DomainNotFound
            ),
        ]
    );
    assert_eq!(
        a.recipients[0].original_recipient.as_deref(),
        Some("Bob@example.org")
    );
    let text = String::from_utf8_lossy(&n.content);
    assert!(text.contains("Original-Envelope-Id: ENV-1"));
    assert!(
        text.contains("Content-Type: message/rfc822"),
        "RET=FULL returns the original"
    );
}

#[tokio::test]
async fn bounces_are_never_bounced_and_never_means_never() {
    let store = Arc::new(MemoryStore::new());
    let id = queued(&store, "", vec![RecipientSpec::new("alice@example.org")]).await;
    finish(
        &store,
        vec![(
            0,
            RecipientState::Failed,
            "550 5.1.1 no such user",
            Some("mx.example.org"),
        )],
    )
    .await;
    let h = notifier(&store).handle(&id).await.expect("handle");
    assert_eq!((h.notices.len(), h.double_bounces, h.deleted), (0, 1, true));

    let never = Notify {
        never: true,
        ..Notify::default()
    };
    let id = queued(
        &store,
        "alice@example.test",
        vec![RecipientSpec {
            address: "bob@example.org".into(),
            orcpt: None,
            notify: Some(never),
        }],
    )
    .await;
    finish(
        &store,
        vec![(
            0,
            RecipientState::Failed,
            "550 5.1.1 no such user",
            Some("mx.example.org"),
        )],
    )
    .await;
    let h = notifier(&store).handle(&id).await.expect("handle");
    assert_eq!(h.notices.len(), 0);
    assert!(store.is_empty(), "nothing left: {:?}", store.len());
}

#[tokio::test]
async fn expiry_and_success_notices() {
    let store = Arc::new(MemoryStore::new());
    let success = Notify {
        success: true,
        failure: true,
        ..Notify::default()
    };
    let id = queued(
        &store,
        "alice@example.test",
        vec![
            RecipientSpec::new("slow@example.org"),
            RecipientSpec {
                address: "me@example.test".into(),
                orcpt: None,
                notify: Some(success),
            },
        ],
    )
    .await;
    finish(
        &store,
        vec![
            (
                0,
                RecipientState::Expired,
                "421 4.7.0 Try again later, closing connection.",
                Some("mx.example.org [192.0.2.1]"),
            ),
            (
                1,
                RecipientState::Delivered,
                "250 2.0.0 delivered to Maildir",
                None,
            ),
        ],
    )
    .await;
    let h = notifier(&store).handle(&id).await.expect("handle");
    assert_eq!(h.notices.len(), 2, "a failure notice and a success notice");
    let failure = analyze(
        &store
            .get(&h.notices[0])
            .await
            .expect("get")
            .expect("n")
            .content,
    );
    assert_eq!(
        failure.recipients[0]
            .status
            .map(|s| s.to_string())
            .as_deref(),
        Some("4.4.7")
    );
    assert_eq!(failure.recipients[0].category, Category::MessageExpired);
    let success = analyze(
        &store
            .get(&h.notices[1])
            .await
            .expect("get")
            .expect("n")
            .content,
    );
    assert_eq!(success.kind, Kind::Success);
    assert_eq!(success.recipients[0].recipient, "me@example.test");
}

#[tokio::test]
async fn unfinished_messages_are_left_alone_and_sweep_finds_finished_ones() {
    let store = Arc::new(MemoryStore::new());
    let id = queued(
        &store,
        "alice@example.test",
        vec![
            RecipientSpec::new("a@example.org"),
            RecipientSpec::new("b@example.org"),
        ],
    )
    .await;
    let n = notifier(&store);
    assert!(!n.handle(&id).await.expect("handle").deleted);
    finish(
        &store,
        vec![
            (0, RecipientState::Failed, "550 5.1.1 unknown", None),
            (1, RecipientState::Failed, "550 5.1.1 unknown", None),
        ],
    )
    .await;
    assert_eq!(n.sweep().await.expect("sweep"), 1);
    assert!(store.get(&id).await.expect("get").is_none());
}

/// A message from alice whose one recipient failed for good.
async fn one_failed(store: &MemoryStore) -> QueueId {
    let id = queued(
        store,
        "alice@example.test",
        vec![RecipientSpec::new("a@example.org")],
    )
    .await;
    finish(
        store,
        vec![(0, RecipientState::Failed, "550 5.1.1 unknown", None)],
    )
    .await;
    id
}

/// A stop during the start-up scan ends it between messages: with a large queue the scan
/// must not hold up a stop (what is left is handled at the next start).
#[tokio::test]
async fn the_start_up_scan_stops_on_shutdown() {
    let store = Arc::new(MemoryStore::new());
    let id = one_failed(&store).await;
    let n = Arc::new(notifier(&store));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    stop.send(true).expect("send");
    assert_eq!(n.sweep_until(&shutdown).await.expect("sweep"), 0);
    assert!(
        store.get(&id).await.expect("get").is_some(),
        "left for the next start"
    );
    // and `run` returns at once, its channels never read
    let (_done_tx, done) = tokio::sync::mpsc::channel(1);
    let (_delayed_tx, delayed) = tokio::sync::mpsc::channel(1);
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        n.clone().run(done, delayed, shutdown),
    )
    .await
    .expect("run returns on shutdown");
    assert!(store.get(&id).await.expect("get").is_some());
}

fn config(postmaster: Option<&str>) -> NotifierConfig {
    NotifierConfig {
        hostname: "mx.example.test".into(),
        postmaster: postmaster.map(str::to_string),
        max_lifetime: 5 * 86_400,
        local_domains: vec!["example.test".into()],
        ..NotifierConfig::default()
    }
}

fn spec(address: &str, notify: Option<Notify>) -> RecipientSpec {
    RecipientSpec {
        address: address.into(),
        orcpt: None,
        notify,
    }
}

fn update(
    index: usize,
    state: RecipientState,
    reply: &str,
    remote: Option<&str>,
) -> RecipientUpdate {
    RecipientUpdate {
        index,
        state,
        reply: Some(reply.into()),
        remote_mta: remote.map(str::to_string),
        attempts: 2,
        next_attempt: (state == RecipientState::Deferred).then_some(T0 + 3600),
        next_hop_dsn: None,
    }
}

/// Applies `updates` to message `id` under a lease, as the queue manager would.
async fn apply_to(store: &MemoryStore, id: &QueueId, at: u64, updates: Vec<RecipientUpdate>) {
    let claimed = store.claim("test", at, 100, 600).await.expect("claim");
    let c = claimed
        .iter()
        .find(|c| &c.lease.id == id)
        .expect("message due");
    store
        .apply(
            &c.lease,
            DeliveryReport {
                id: id.clone(),
                updates,
            },
            at,
        )
        .await
        .expect("apply");
    for c in &claimed {
        store.release(&c.lease).await.expect("release");
    }
}

async fn content(store: &MemoryStore, id: &QueueId) -> String {
    String::from_utf8_lossy(&store.get(id).await.expect("get").expect("notice").content)
        .into_owned()
}

fn n(success: bool, failure: bool, delay: bool) -> Option<Notify> {
    Some(Notify {
        never: false,
        success,
        failure,
        delay,
    })
}

#[tokio::test]
async fn relayed_success_notice_only_for_next_hops_without_dsn() {
    let store = Arc::new(MemoryStore::new());
    let id = queued(
        &store,
        "alice@example.test",
        vec![
            spec("plain@example.org", n(true, true, false)),
            spec("dsn@example.net", n(true, true, false)),
            spec("me@example.test", n(true, true, false)),
            spec("unknown@example.com", n(true, true, false)),
        ],
    )
    .await;
    let delivered = |i, dsn: Option<bool>, remote: Option<&str>| RecipientUpdate {
        next_hop_dsn: dsn,
        ..update(
            i,
            RecipientState::Delivered,
            "250 2.0.0 Ok: queued as 4F2B",
            remote,
        )
    };
    apply_to(
        &store,
        &id,
        T0,
        vec![
            delivered(0, Some(false), Some("mx.example.org [192.0.2.1]")),
            delivered(1, Some(true), Some("mx.example.net [192.0.2.2]")),
            delivered(2, Some(true), None),
            // a record from before next_hop_dsn was kept: unknown, no notice
            delivered(3, None, Some("mx.example.com [192.0.2.3]")),
        ],
    )
    .await;
    let h = Notifier::new(store.clone(), config(None), Arc::new(|| T0 + 60))
        .handle(&id)
        .await
        .expect("handle");
    assert_eq!(h.notices.len(), 1, "one success notice");
    let raw = store
        .get(&h.notices[0])
        .await
        .expect("get")
        .expect("notice")
        .content;
    let a = analyze(&raw);
    assert_eq!(a.kind, Kind::Success);
    let got: Vec<_> = a
        .recipients
        .iter()
        .map(|r| (r.recipient.as_str(), r.action))
        .collect();
    assert_eq!(
        got,
        [
            ("plain@example.org", Some(DsnAction::Relayed)),
            ("me@example.test", Some(DsnAction::Delivered)),
        ],
        "relayed for the next hop without DSN, delivered for the mailbox, nothing for the DSN next hop"
    );
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("** Message relayed **"), "{text}");
    assert!(text.contains("handed on to mx.example.org"), "{text}");
    assert!(
        text.contains("Content-Type: text/rfc822-headers"),
        "headers only: no failure"
    );
    assert!(h.deleted);
}

#[tokio::test]
async fn one_delay_notice_per_message_for_the_recipients_that_want_it() {
    let store = Arc::new(MemoryStore::new());
    let id = queued(
        &store,
        "alice@example.test",
        vec![
            spec("slow@example.org", None),
            spec("quiet@example.org", n(false, true, false)),
            spec("asked@example.org", n(false, false, true)),
            spec("done@example.org", None),
        ],
    )
    .await;
    apply_to(
        &store,
        &id,
        T0 + 4 * 3600,
        vec![
            update(
                0,
                RecipientState::Deferred,
                "421 4.7.0 Try again later, closing connection.",
                Some("mx01.mail.example.org [192.0.2.1]"),
            ),
            update(
                1,
                RecipientState::Deferred,
                "451 4.3.0 try later",
                Some("mx.example.org"),
            ),
            update(
                2,
                RecipientState::Deferred,
                "4.4.1 connect to mx.example.org[192.0.2.1]:25: Connection refused",
                None,
            ),
            update(
                3,
                RecipientState::Delivered,
                "250 2.0.0 Ok",
                Some("mx.example.org"),
            ),
        ],
    )
    .await;
    let now = T0 + 4 * 3600 + 5;
    let notifier = Notifier::new(store.clone(), config(None), Arc::new(move || now));
    let notice = notifier
        .handle_delayed(&id)
        .await
        .expect("handle")
        .expect("a delay notice");
    let text = content(&store, &notice).await;
    let m = store.get(&notice).await.expect("get").expect("notice");
    assert!(m.envelope.is_null_sender());
    assert_eq!(m.envelope.recipients[0].address, "alice@example.test");
    assert!(text.contains("Subject: Delivery Status Notification (Delay)"));
    let until = rfc5322_date(T0 + 5 * 86_400);
    assert!(
        text.contains(&format!("Will-Retry-Until: {until}")),
        "arrival + queue lifetime: {text}"
    );
    let flat = text.replace("\r\n", " ");
    assert!(
        flat.contains(&format!("We'll keep trying until {until}.")),
        "the human part names the same date: {text}"
    );
    assert!(text.contains("You don't need to resend it"), "{text}");
    // A failure notice is promised only to a recipient that will get one (NOTIFY absent
    // means FAILURE too; NOTIFY=DELAY alone does not).
    assert!(
        flat.contains(&format!("to slow@example.org. We'll keep trying until {until}. You don't need to resend it; we'll tell you if delivery fails for good.")),
        "{text}"
    );
    assert!(
        flat.contains(&format!(
            "to asked@example.org. We'll keep trying until {until}. You don't need to resend it."
        )),
        "{text}"
    );
    assert_eq!(
        flat.matches("we'll tell you if delivery fails").count(),
        2,
        "text and HTML, slow@ only: {text}"
    );
    assert!(
        text.contains("Diagnostic-Code: smtp; 421 4.7.0 Try again later, closing"),
        "{text}"
    );
    assert!(
        text.contains("Content-Type: text/rfc822-headers"),
        "headers only in a delay notice"
    );
    let a = analyze(text.as_bytes());
    assert_eq!(a.kind, Kind::Delay);
    let got: Vec<_> = a
        .recipients
        .iter()
        .map(|r| {
            (
                r.recipient.as_str(),
                r.action,
                r.status.map(|s| s.to_string()),
                r.permanent,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "slow@example.org",
                Some(DsnAction::Delayed),
                Some("4.7.0".into()),
                false
            ),
            (
                "asked@example.org",
                Some(DsnAction::Delayed),
                Some("4.4.1".into()),
                false
            ),
        ],
        "NOTIFY absent (our user) and NOTIFY=DELAY; not NOTIFY=FAILURE, not the delivered one"
    );
    let original = store
        .get(&id)
        .await
        .expect("get")
        .expect("original stays queued");
    assert_eq!(original.delay_notice_at, Some(now));
    // Announced again (a retry, a restart): nothing more.
    let before = store.len();
    assert_eq!(notifier.handle_delayed(&id).await.expect("again"), None);
    let later = Notifier::new(store.clone(), config(None), Arc::new(move || now + 7200));
    assert_eq!(later.handle_delayed(&id).await.expect("later"), None);
    assert_eq!(store.len(), before, "exactly one delay notice");
}

#[tokio::test]
async fn no_delay_notice_for_others_mail_without_notify_nor_for_notices() {
    let store = Arc::new(MemoryStore::new());
    let relayed = queued(
        &store,
        "carol@elsewhere.org",
        vec![spec("x@example.org", None)],
    )
    .await;
    let bounce = queued(&store, "", vec![spec("y@example.org", None)]).await;
    let authed = {
        let envelope = Envelope {
            reverse_path: "carol@elsewhere.org".into(),
            recipients: vec![spec("z@example.org", None)],
            ret: None,
            envid: None,
            smtputf8: false,
            eight_bit: false,
            received_at: T0,
            client: None,
            auth_user: Some("carol".into()),
        };
        store
            .commit(NewMessage {
                envelope,
                content: b"Subject: s\r\n\r\nx\r\n".to_vec(),
            })
            .await
            .expect("commit")
    };
    for id in [&relayed, &bounce, &authed] {
        apply_to(
            &store,
            id,
            T0 + 5 * 3600,
            vec![update(
                0,
                RecipientState::Deferred,
                "451 4.3.0 later",
                Some("mx.example.org"),
            )],
        )
        .await;
    }
    let notifier = Notifier::new(store.clone(), config(None), Arc::new(|| T0 + 5 * 3600));
    assert_eq!(
        notifier.handle_delayed(&relayed).await.expect("relayed"),
        None,
        "NOTIFY absent on mail relayed for others means FAILURE only"
    );
    assert!(
        store
            .get(&relayed)
            .await
            .expect("get")
            .expect("m")
            .delay_notice_at
            .is_some(),
        "marked all the same: not announced again"
    );
    assert_eq!(
        notifier.handle_delayed(&bounce).await.expect("bounce"),
        None,
        "never for <>"
    );
    assert!(
        notifier
            .handle_delayed(&authed)
            .await
            .expect("authed")
            .is_some(),
        "an authenticated sender is our user"
    );
}

#[tokio::test]
async fn double_bounces_go_to_the_postmaster_and_never_loop() {
    let store = Arc::new(MemoryStore::new());
    let pm = "postmaster@example.test";
    // One of our notices, to a sender whose server refuses it.
    let notice = queued(
        &store,
        "",
        vec![spec("forged@example.org", n(false, false, false))],
    )
    .await;
    apply_to(
        &store,
        &notice,
        T0,
        vec![update(
            0,
            RecipientState::Failed,
            "550 5.1.1 <forged@example.org>: no such user",
            Some("mx.example.org [192.0.2.1]"),
        )],
    )
    .await;
    let notifier = Notifier::new(store.clone(), config(Some(pm)), Arc::new(|| T0 + 60));
    let h = notifier.handle(&notice).await.expect("handle");
    assert_eq!(h.double_bounces, 1);
    assert!(h.deleted, "the failed notice is removed");
    let db = h
        .postmaster_notice
        .clone()
        .expect("reported to the postmaster");
    assert_eq!(h.notices, std::slice::from_ref(&db));
    let m = store.get(&db).await.expect("get").expect("double bounce");
    assert!(m.envelope.is_null_sender(), "a notice: null sender");
    assert_eq!(m.envelope.recipients[0].address, pm);
    assert!(m.envelope.recipients[0].notify.is_some_and(|n| n.never));
    let text = String::from_utf8_lossy(&m.content).into_owned();
    assert!(text.contains("To: <postmaster@example.test>"), "{text}");
    assert!(text.contains("X-Mailerd-Notice: double-bounce"), "{text}");
    assert!(text.contains("Subject: Undeliverable notification (double bounce)"));
    assert!(
        text.contains("550 5.1.1 <forged@example.org>: no such user"),
        "the reply: {text}"
    );
    assert!(
        text.contains("Content-Type: message/rfc822"),
        "the failed notice is attached"
    );
    let a = analyze(&m.content);
    assert_eq!(a.recipients[0].recipient, "forged@example.org");
    assert_eq!(a.recipients[0].action, Some(DsnAction::Failed));

    // The double bounce fails too: only logged, nothing new is written.
    apply_to(
        &store,
        &db,
        T0 + 60,
        vec![update(
            0,
            RecipientState::Failed,
            "550 5.1.1 no postmaster here",
            Some("mx.example.test"),
        )],
    )
    .await;
    let h = notifier.handle(&db).await.expect("handle");
    assert_eq!(
        (
            h.notices.len(),
            h.double_bounces,
            h.postmaster_notice.clone(),
            h.deleted
        ),
        (0, 1, None, true)
    );
    assert!(store.is_empty(), "no loop: nothing queued");

    // Any notice to the postmaster that fails is only logged (reporting it would go there).
    let to_pm = queued(&store, "", vec![spec(pm, None)]).await;
    apply_to(
        &store,
        &to_pm,
        T0,
        vec![update(
            0,
            RecipientState::Failed,
            "552 5.2.2 mailbox full",
            None,
        )],
    )
    .await;
    let h = notifier.handle(&to_pm).await.expect("handle");
    assert_eq!((h.notices.len(), h.double_bounces), (0, 1));
    assert!(store.is_empty());
}

/// A success notice keeps its Status in class 2 (RFC 3464: `relayed` and `delivered` report
/// success), whatever digits the next hop's 250 reply happens to contain: a reply without an
/// enhanced code of its own must not lend a 4.x.x or 5.x.x from its words to the notice.
#[tokio::test]
async fn success_notice_status_is_class_2_whatever_the_reply_says() {
    for reply in [
        "250 Ok (mailer 5.6.3)",
        "250 queued as 4.2.1",
        "250 5.0.0 Ok",
    ] {
        let store = Arc::new(MemoryStore::new());
        let id = queued(
            &store,
            "alice@example.test",
            vec![spec("plain@example.org", n(true, true, false))],
        )
        .await;
        apply_to(
            &store,
            &id,
            T0,
            vec![RecipientUpdate {
                next_hop_dsn: Some(false),
                ..update(
                    0,
                    RecipientState::Delivered,
                    reply,
                    Some("mx.example.org [192.0.2.1]"),
                )
            }],
        )
        .await;
        let h = Notifier::new(store.clone(), config(None), Arc::new(|| T0 + 60))
            .handle(&id)
            .await
            .expect("handle");
        assert_eq!(h.notices.len(), 1, "{reply}: one success notice");
        let text = content(&store, &h.notices[0]).await;
        assert!(text.contains("Action: relayed\r\n"), "{reply}: {text}");
        assert!(
            text.contains("Status: 2.0.0\r\n"),
            "{reply}: the status of a success is 2.x.x: {text}"
        );
    }
}

/// A finished message whose handling fails (the store refuses writes for a while) is tried
/// again after `RETRY_EVERY`, not left until the next start.
#[tokio::test(start_paused = true)]
async fn a_failed_handling_is_tried_again() {
    let store = Arc::new(MemoryStore::new());
    let id = one_failed(&store).await;
    let n = Arc::new(notifier(&store));
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let (done_tx, done) = tokio::sync::mpsc::channel(4);
    let (_delayed_tx, delayed) = tokio::sync::mpsc::channel(4);
    store.fail_writes(true);
    let task = tokio::spawn(n.clone().run(done, delayed, shutdown));
    done_tx.send(id.clone()).await.expect("send");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert!(store.get(&id).await.expect("get").is_some(), "still queued");
    store.fail_writes(false);
    tokio::time::sleep(mailerd_notify::notifier::RETRY_EVERY).await;
    assert!(
        store.get(&id).await.expect("get").is_none(),
        "handled at the retry"
    );
    let notices = store
        .list(&mailerd_store::ListFilter::default())
        .await
        .expect("list");
    assert_eq!(notices.messages.len(), 1, "one failure notice");
    stop.send(true).expect("stop");
    task.await.expect("run");
}
