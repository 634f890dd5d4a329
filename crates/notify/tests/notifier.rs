//! The notify task over the in-memory store: finished messages get the notices due, queued
//! with the null sender; the analyzer reads each back as the same recipient, status and
//! category; bounces are never bounced.

use std::sync::Arc;

use mailerd_analyze::{Kind, analyze};
use mailerd_notify::notifier::{Notifier, NotifierConfig};
use mailerd_store::memory::MemoryStore;
use mailerd_store::{NewMessage, Store};
use mailerd_types::{
    Category, DeliveryReport, Envelope, Notify, QueueId, RecipientSpec, RecipientState,
    RecipientUpdate, Ret,
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
