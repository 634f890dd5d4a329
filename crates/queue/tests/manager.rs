//! The queue manager over the in-memory store, with a scripted transport and fake time:
//! delivery, retry with backoff, expiry, permanent failure, per-destination concurrency and
//! the active window.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailerd_queue::manager::{Clock, FakeClock, Intake, Manager, ManagerConfig, Transport};
use mailerd_queue::route::Routes;
use mailerd_queue::schedule::RetryPolicy;
use mailerd_store::memory::MemoryStore;
use mailerd_store::{DelayMark, ListFilter, NewMessage, Store};
use mailerd_types::{
    AttemptReport, DeliveryRequest, Detail, EnhancedStatus, Envelope, NextHop, Notify, Outcome,
    QueueId, RecipientOutcome, RecipientSpec, RecipientState, RemoteMta, SmtpReply, Stage,
};
use tokio::sync::watch;

const T0: u64 = 1_800_000_000;

/// What the scripted next hop answers, per recipient address, attempt by attempt (the last
/// answer repeats).
#[derive(Default)]
struct Script {
    answers: HashMap<String, Vec<&'static str>>,
    calls: Mutex<Vec<(NextHop, Vec<String>)>>,
    tries: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay: Duration,
    /// Recipients whose next hop does not offer DSN.
    without_dsn: Vec<&'static str>,
}

impl Script {
    fn answer(&self, rcpt: &str) -> Outcome {
        let mut tries = self.tries.lock().expect("lock");
        let n = tries.entry(rcpt.to_string()).or_default();
        let list = self
            .answers
            .get(rcpt)
            .cloned()
            .unwrap_or_else(|| vec!["250 2.0.0 Ok"]);
        let text = list
            .get(*n)
            .or(list.last())
            .copied()
            .unwrap_or("250 2.0.0 Ok");
        *n += 1;
        let reply = SmtpReply::parse(text).expect("scripted reply");
        let remote = Some(RemoteMta {
            name: "mx.example.org".into(),
            addr: None,
        });
        let detail = |reply: SmtpReply| Detail {
            status: reply.status.unwrap_or(
                EnhancedStatus::parse(if reply.is_permanent() {
                    "5.0.0"
                } else {
                    "4.0.0"
                })
                .expect("status"),
            ),
            reply: Some(reply),
            remote_mta: remote.clone(),
            diagnostic: String::new(),
            stage: Stage::Rcpt,
        };
        if reply.is_success() {
            Outcome::Delivered {
                reply: Some(reply),
                remote_mta: remote,
                next_hop_dsn: !self.without_dsn.contains(&rcpt),
            }
        } else if reply.is_transient() {
            Outcome::Temporary(detail(reply))
        } else {
            Outcome::Permanent(detail(reply))
        }
    }
}

struct ScriptedTransport(Arc<Script>);

impl Transport for ScriptedTransport {
    async fn deliver(&self, request: DeliveryRequest) -> AttemptReport {
        let s = &self.0;
        let now = s.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_in_flight.fetch_max(now, Ordering::SeqCst);
        s.calls.lock().expect("lock").push((
            request.next_hop.clone(),
            request
                .recipients
                .iter()
                .map(|r| r.spec.address.clone())
                .collect(),
        ));
        if !s.delay.is_zero() {
            tokio::time::sleep(s.delay).await;
        }
        let recipients = request
            .recipients
            .iter()
            .map(|r| RecipientOutcome {
                index: r.index,
                outcome: s.answer(&r.spec.address),
            })
            .collect();
        s.in_flight.fetch_sub(1, Ordering::SeqCst);
        AttemptReport {
            queue_id: request.queue_id,
            recipients,
        }
    }
}

struct Harness {
    store: Arc<MemoryStore>,
    clock: FakeClock,
    script: Arc<Script>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// These tests inspect the records of delivered messages: keep them.
async fn start(script: Script, mut config: ManagerConfig) -> Harness {
    config.remove_delivered = false;
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::new(T0);
    let script = Arc::new(script);
    let routes = Routes::new(["example.test"], []).expect("routes");
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(script.clone())),
        Arc::new(clock.clone()),
        routes,
        config,
    );
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(rx).await });
    Harness {
        store,
        clock,
        script,
        stop,
        task,
    }
}

fn message(sender: &str, rcpts: &[&str], at: u64, content: &[u8]) -> NewMessage {
    NewMessage {
        envelope: Envelope {
            reverse_path: sender.into(),
            recipients: rcpts.iter().map(|r| RecipientSpec::new(*r)).collect(),
            ret: None,
            envid: None,
            smtputf8: false,
            eight_bit: false,
            received_at: at,
            client: None,
            auth_user: None,
        },
        content: content.to_vec(),
    }
}

async fn commit(store: &MemoryStore, sender: &str, rcpts: &[&str], at: u64) -> QueueId {
    store
        .commit(message(sender, rcpts, at, b"Subject: t\r\n\r\nbody\r\n"))
        .await
        .expect("commit")
}

async fn states(store: &MemoryStore, id: &QueueId) -> Vec<RecipientState> {
    store
        .get(id)
        .await
        .expect("get")
        .expect("message")
        .recipients
        .iter()
        .map(|r| r.state)
        .collect()
}

/// Lets the manager run for `secs` of (paused, auto-advancing) tokio time.
async fn run_for(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

impl Harness {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[tokio::test(start_paused = true)]
async fn delivers_and_groups_recipients_by_next_hop() {
    let h = start(Script::default(), ManagerConfig::default()).await;
    let id = commit(
        &h.store,
        "alice@example.test",
        &["a@x.org", "b@y.org", "c@x.org"],
        T0,
    )
    .await;
    run_for(3).await;
    assert_eq!(
        states(&h.store, &id).await,
        vec![RecipientState::Delivered; 3]
    );
    let calls = h.script.calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 2, "one transaction per next hop: {calls:?}");
    let x = calls
        .iter()
        .find(|(hop, _)| {
            *hop == NextHop::Mx {
                domain: "x.org".into(),
            }
        })
        .expect("x.org");
    assert_eq!(x.1, vec!["a@x.org".to_string(), "c@x.org".to_string()]);
    let log = h.store.status_log(&id).await.expect("log");
    assert_eq!(
        log.iter()
            .filter(|r| r.state == RecipientState::Delivered)
            .count(),
        3
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn temporary_failure_is_retried_after_backoff() {
    let mut script = Script::default();
    script.answers.insert(
        "bob@x.org".into(),
        vec![
            "451 4.3.0 Temporary System Problem. Try again later.",
            "250 2.0.0 Ok",
        ],
    );
    let h = start(script, ManagerConfig::default()).await;
    let id = commit(&h.store, "alice@example.test", &["bob@x.org"], T0).await;
    run_for(3).await;
    let m = h.store.get(&id).await.expect("get").expect("message");
    let r = &m.recipients[0];
    assert_eq!(r.state, RecipientState::Deferred);
    assert!(
        (T0 + 270..=T0 + 330).contains(&r.next_attempt),
        "first retry in 5 min +-10%: {}",
        r.next_attempt - T0
    );
    assert_eq!(
        r.last_reply.as_deref(),
        Some("451 4.3.0 Temporary System Problem. Try again later.")
    );
    // Not before its time...
    h.clock.advance(60);
    run_for(3).await;
    assert_eq!(states(&h.store, &id).await, vec![RecipientState::Deferred]);
    // ...but after it.
    h.clock.advance(300);
    run_for(3).await;
    assert_eq!(states(&h.store, &id).await, vec![RecipientState::Delivered]);
    assert_eq!(
        h.store.get(&id).await.expect("get").expect("m").recipients[0].attempts,
        2
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn permanent_failure_and_expiry_are_final() {
    let mut script = Script::default();
    script.answers.insert(
        "gone@x.org".into(),
        vec!["550 5.1.1 <gone@x.org>: Recipient address rejected: User unknown"],
    );
    script.answers.insert(
        "slow@y.org".into(),
        vec!["421 4.7.0 Try again later, closing connection."],
    );
    let h = start(script, ManagerConfig::default()).await;
    let id = commit(
        &h.store,
        "alice@example.test",
        &["gone@x.org", "slow@y.org"],
        T0,
    )
    .await;
    run_for(3).await;
    assert_eq!(
        states(&h.store, &id).await,
        vec![RecipientState::Failed, RecipientState::Deferred]
    );
    // Keep failing temporarily for five days: retried, then expired.
    for _ in 0..200 {
        h.clock.advance(3600);
        run_for(2).await;
        if states(&h.store, &id).await[1] == RecipientState::Expired {
            break;
        }
    }
    let m = h.store.get(&id).await.expect("get").expect("message");
    assert_eq!(m.recipients[1].state, RecipientState::Expired);
    let age = h.clock.now() - T0;
    assert!(
        (5 * 86_400..5 * 86_400 + 2 * 3600).contains(&age),
        "expired after about 5 days, got {age} s"
    );
    assert!(m.recipients[1].attempts > 5);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn null_sender_expires_after_two_days() {
    let mut script = Script::default();
    script
        .answers
        .insert("alice@x.org".into(), vec!["450 4.2.0 Greylisted"]);
    let h = start(script, ManagerConfig::default()).await;
    let id = commit(&h.store, "", &["alice@x.org"], T0).await;
    for _ in 0..100 {
        h.clock.advance(3600);
        run_for(2).await;
        if states(&h.store, &id).await[0] == RecipientState::Expired {
            break;
        }
    }
    let age = h.clock.now() - T0;
    assert_eq!(states(&h.store, &id).await, vec![RecipientState::Expired]);
    assert!(
        (2 * 86_400..2 * 86_400 + 2 * 3600).contains(&age),
        "null sender expires after 2 days, got {age} s"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn concurrency_per_destination_and_active_window_are_bounded() {
    let script = Script {
        delay: Duration::from_secs(5),
        ..Script::default()
    };
    let config = ManagerConfig {
        per_destination: 3,
        active_window: 8,
        ..ManagerConfig::default()
    };
    let h = start(script, config).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            commit(
                &h.store,
                "alice@example.test",
                &[&format!("r{i}@x.org")],
                T0,
            )
            .await,
        );
    }
    run_for(120).await;
    for id in &ids {
        assert_eq!(states(&h.store, id).await, vec![RecipientState::Delivered]);
    }
    assert_eq!(
        h.script.max_in_flight.load(Ordering::SeqCst),
        3,
        "at most 3 transactions to x.org at once"
    );
    let list = h
        .store
        .list(&ListFilter {
            include_done: true,
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert!(
        list.messages.iter().all(|m| m.lease.is_none()),
        "every lease is released"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn active_window_bounds_messages_in_flight_whatever_the_backlog() {
    let script = Script {
        delay: Duration::from_secs(5),
        ..Script::default()
    };
    let config = ManagerConfig {
        per_destination: 20,
        active_window: 4,
        ..ManagerConfig::default()
    };
    let h = start(script, config).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            commit(
                &h.store,
                "alice@example.test",
                &[&format!("r@d{i}.org")],
                T0,
            )
            .await,
        );
    }
    run_for(200).await;
    for id in &ids {
        assert_eq!(states(&h.store, id).await, vec![RecipientState::Delivered]);
    }
    assert_eq!(
        h.script.max_in_flight.load(Ordering::SeqCst),
        4,
        "never more than the window in delivery"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn finished_messages_are_announced_once_their_lease_is_released() {
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::new(T0);
    let mut script = Script::default();
    script.answers.insert(
        "later@x.org".into(),
        vec!["451 4.3.0 try later", "250 2.0.0 Ok"],
    );
    let routes = Routes::new(["example.test"], []).expect("routes");
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(Arc::new(script))),
        Arc::new(clock.clone()),
        routes,
        ManagerConfig {
            remove_delivered: false,
            ..ManagerConfig::default()
        },
    )
    .with_done(tx);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(stop_rx).await });
    let a = commit(&store, "alice@example.test", &["now@x.org"], T0).await;
    let b = commit(&store, "alice@example.test", &["later@x.org"], T0).await;
    run_for(3).await;
    assert_eq!(
        rx.try_recv().ok(),
        Some(a.clone()),
        "the delivered message is announced"
    );
    assert!(rx.try_recv().is_err(), "the deferred one is not finished");
    let m = store
        .get(&a)
        .await
        .expect("get")
        .expect("still stored until notify removes it");
    assert!(m.lease.is_none(), "announced after its lease is released");
    clock.advance(400);
    run_for(3).await;
    assert_eq!(rx.try_recv().ok(), Some(b));
    let _ = stop.send(true);
    let _ = task.await;
}

#[tokio::test(start_paused = true)]
async fn relayed_messages_are_removed_at_once_others_go_to_notify() {
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::new(T0);
    let mut script = Script::default();
    script
        .answers
        .insert("gone@x.org".into(), vec!["550 5.1.1 no such user"]);
    let routes = Routes::new(["example.test"], []).expect("routes");
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(Arc::new(script))),
        Arc::new(clock.clone()),
        routes,
        ManagerConfig::default(),
    )
    .with_done(tx);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(stop_rx).await });
    let relayed = commit(
        &store,
        "alice@example.test",
        &["a@x.org", "b@y.org", "c@z.org"],
        T0,
    )
    .await;
    let failed = commit(&store, "alice@example.test", &["gone@x.org"], T0).await;
    // Three next hops, one refusal: whichever report comes last finishes the message, and
    // its records say a notice is due, so it is kept with every report logged.
    let mixed = commit(
        &store,
        "alice@example.test",
        &["a@y.org", "gone@x.org", "c@z.org"],
        T0,
    )
    .await;
    run_for(3).await;
    assert!(
        store.get(&relayed).await.expect("get").is_none(),
        "accepted by the next hops: removed by the manager"
    );
    let mut announced = vec![
        rx.try_recv().expect("a failure is notify's"),
        rx.try_recv().expect("a partial failure is notify's"),
    ];
    announced.sort();
    let mut expected = vec![failed.clone(), mixed.clone()];
    expected.sort();
    assert_eq!(announced, expected);
    assert!(rx.try_recv().is_err(), "the removed one is not announced");
    assert!(store.get(&failed).await.expect("get").is_some());
    let m = store
        .get(&mixed)
        .await
        .expect("get")
        .expect("kept for notify");
    assert_eq!(
        m.recipients.iter().map(|r| r.state).collect::<Vec<_>>(),
        vec![
            RecipientState::Delivered,
            RecipientState::Failed,
            RecipientState::Delivered
        ]
    );
    assert_eq!(m.lease, None, "released");
    let log = store.status_log(&mixed).await.expect("log");
    assert_eq!(log.len(), 3 + 3, "receptions, then every report's record");
    let _ = stop.send(true);
    let _ = task.await;
}

#[tokio::test(start_paused = true)]
async fn delayed_messages_are_announced_past_the_threshold_until_marked() {
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::new(T0);
    let mut script = Script::default();
    for r in ["slow@x.org", "notice@x.org"] {
        script.answers.insert(r.into(), vec!["451 4.3.0 try later"]);
    }
    let routes = Routes::new(["example.test"], []).expect("routes");
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(8);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(Arc::new(script))),
        Arc::new(clock.clone()),
        routes,
        ManagerConfig {
            delay_after: Some(Duration::from_secs(3600)),
            retry: RetryPolicy {
                jitter: 0.0,
                ..RetryPolicy::default()
            },
            ..ManagerConfig::default()
        },
    )
    .with_done(done_tx)
    .with_delayed(tx);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(stop_rx).await });
    let slow = commit(&store, "alice@example.test", &["slow@x.org"], T0).await;
    let notice = commit(&store, "", &["notice@x.org"], T0).await;
    run_for(3).await;
    assert!(rx.try_recv().is_err(), "deferred before the threshold");
    // second attempt (due at T0+300), still under an hour
    clock.set(T0 + 400);
    run_for(3).await;
    assert!(
        rx.try_recv().is_err(),
        "deferred again, still under an hour"
    );
    // third attempt (due at T0+400+600), past the hour
    clock.set(T0 + 3700);
    run_for(3).await;
    assert_eq!(
        rx.try_recv().ok(),
        Some(slow.clone()),
        "announced past the threshold"
    );
    assert!(
        rx.try_recv().is_err(),
        "a null-sender message is never announced for a delay notice"
    );
    let m = store.get(&slow).await.expect("get").expect("message");
    assert!(m.lease.is_none(), "announced after its lease is released");
    // Not marked (notify did not run): announced again at the next failure.
    clock.set(T0 + 3700 + 1300);
    run_for(3).await;
    assert_eq!(rx.try_recv().ok(), Some(slow.clone()));
    // Marked: never again.
    assert_eq!(
        store
            .mark_delay_notice(&slow, None, clock.now())
            .await
            .expect("mark"),
        DelayMark::Marked(None)
    );
    clock.set(T0 + 3 * 3600);
    run_for(3).await;
    assert_eq!(
        states(&store, &slow).await,
        [RecipientState::Deferred],
        "still tried"
    );
    assert!(
        store.get(&slow).await.expect("get").expect("m").recipients[0].attempts >= 5,
        "the attempt after the mark happened"
    );
    assert!(rx.try_recv().is_err(), "a marked message is not announced");
    assert!(done_rx.try_recv().is_err(), "nothing finished");
    assert!(store.get(&notice).await.expect("get").is_some());
    let _ = stop.send(true);
    let _ = task.await;
}

#[tokio::test(start_paused = true)]
async fn no_delay_announcements_when_delay_notices_are_off() {
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::new(T0);
    let mut script = Script::default();
    script
        .answers
        .insert("slow@x.org".into(), vec!["451 4.3.0 try later"]);
    let routes = Routes::new(["example.test"], []).expect("routes");
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(Arc::new(script))),
        Arc::new(clock.clone()),
        routes,
        ManagerConfig {
            delay_after: None,
            ..ManagerConfig::default()
        },
    )
    .with_delayed(tx);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(stop_rx).await });
    let slow = commit(&store, "alice@example.test", &["slow@x.org"], T0 - 86_400).await;
    run_for(3).await;
    assert_eq!(states(&store, &slow).await, [RecipientState::Deferred]);
    assert!(rx.try_recv().is_err(), "delay_after = off: no announcement");
    let _ = stop.send(true);
    let _ = task.await;
}

#[tokio::test(start_paused = true)]
async fn success_relayed_to_a_next_hop_without_dsn_goes_to_notify() {
    let store = Arc::new(MemoryStore::new());
    let clock = FakeClock::new(T0);
    let script = Script {
        without_dsn: vec!["plain@x.org"],
        ..Script::default()
    };
    let routes = Routes::new(["example.test"], []).expect("routes");
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(Arc::new(script))),
        Arc::new(clock.clone()),
        routes,
        ManagerConfig::default(),
    )
    .with_done(tx);
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(stop_rx).await });
    let success = Notify {
        success: true,
        ..Notify::default()
    };
    let commit_notify = |rcpt: &'static str| {
        let store = store.clone();
        async move {
            let mut spec = RecipientSpec::new(rcpt);
            spec.notify = Some(success);
            store
                .commit(NewMessage {
                    envelope: Envelope {
                        reverse_path: "alice@example.test".into(),
                        recipients: vec![spec],
                        ret: None,
                        envid: None,
                        smtputf8: false,
                        eight_bit: false,
                        received_at: T0,
                        client: None,
                        auth_user: None,
                    },
                    content: b"Subject: t\r\n\r\nbody\r\n".to_vec(),
                })
                .await
                .expect("commit")
        }
    };
    let plain = commit_notify("plain@x.org").await;
    let dsn = commit_notify("dsn@x.org").await;
    let silent = commit(&store, "alice@example.test", &["plain@x.org"], T0).await;
    run_for(3).await;
    assert_eq!(
        rx.try_recv().ok(),
        Some(plain.clone()),
        "NOTIFY=SUCCESS relayed without DSN: notify owes a relayed notice"
    );
    assert!(rx.try_recv().is_err(), "only that one");
    let m = store
        .get(&plain)
        .await
        .expect("get")
        .expect("kept for notify");
    assert_eq!(m.recipients[0].next_hop_dsn, Some(false), "recorded");
    assert!(
        store.get(&dsn).await.expect("get").is_none(),
        "the DSN next hop reports success itself: removed at once"
    );
    assert!(
        store.get(&silent).await.expect("get").is_none(),
        "no NOTIFY=SUCCESS: nothing to say, removed at once"
    );
    let _ = stop.send(true);
    let _ = task.await;
}

/// The memory store, counting the reads and claims the manager makes, and failing the first
/// `apply` when armed (a full disk, say).
#[derive(Default)]
struct Instrumented {
    inner: MemoryStore,
    fail_first_apply: std::sync::atomic::AtomicBool,
    gets: AtomicUsize,
    claimed: AtomicUsize,
}

impl Store for Instrumented {
    async fn commit(&self, msg: NewMessage) -> Result<QueueId, mailerd_store::StoreError> {
        self.inner.commit(msg).await
    }
    async fn commit_claimed(
        &self,
        msg: NewMessage,
        node: &str,
        now: u64,
        lease_duration: u64,
    ) -> Result<(QueueId, Option<mailerd_store::Claimed>), mailerd_store::StoreError> {
        self.inner
            .commit_claimed(msg, node, now, lease_duration)
            .await
    }
    async fn get(
        &self,
        id: &QueueId,
    ) -> Result<Option<mailerd_store::StoredMessage>, mailerd_store::StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(
        &self,
        filter: &ListFilter,
    ) -> Result<mailerd_store::MessageList, mailerd_store::StoreError> {
        self.inner.list(filter).await
    }
    async fn claim(
        &self,
        node: &str,
        now: u64,
        max: usize,
        lease_duration: u64,
    ) -> Result<Vec<mailerd_store::Claimed>, mailerd_store::StoreError> {
        let c = self.inner.claim(node, now, max, lease_duration).await?;
        self.claimed.fetch_add(c.len(), Ordering::SeqCst);
        Ok(c)
    }
    async fn renew(
        &self,
        lease: &mailerd_store::Lease,
        now: u64,
        lease_duration: u64,
    ) -> Result<mailerd_store::Lease, mailerd_store::StoreError> {
        self.inner.renew(lease, now, lease_duration).await
    }
    async fn apply(
        &self,
        lease: &mailerd_store::Lease,
        report: mailerd_types::DeliveryReport,
        now: u64,
    ) -> Result<Vec<mailerd_store::RecipientRecord>, mailerd_store::StoreError> {
        if self.fail_first_apply.swap(false, Ordering::SeqCst) {
            return Err(mailerd_store::StoreError::Backend("disk full".into()));
        }
        self.inner.apply(lease, report, now).await
    }
    async fn apply_and_remove(
        &self,
        lease: &mailerd_store::Lease,
        report: mailerd_types::DeliveryReport,
        now: u64,
        remove_if: mailerd_store::RemoveIf,
    ) -> Result<mailerd_store::Applied, mailerd_store::StoreError> {
        if self.fail_first_apply.swap(false, Ordering::SeqCst) {
            return Err(mailerd_store::StoreError::Backend("disk full".into()));
        }
        self.inner
            .apply_and_remove(lease, report, now, remove_if)
            .await
    }
    async fn release(&self, lease: &mailerd_store::Lease) -> Result<(), mailerd_store::StoreError> {
        self.inner.release(lease).await
    }
    async fn release_node(&self, node: &str) -> Result<usize, mailerd_store::StoreError> {
        self.inner.release_node(node).await
    }
    async fn status_log(
        &self,
        id: &QueueId,
    ) -> Result<Vec<mailerd_store::StatusRecord>, mailerd_store::StoreError> {
        self.inner.status_log(id).await
    }
    async fn delete(&self, id: &QueueId) -> Result<bool, mailerd_store::StoreError> {
        self.inner.delete(id).await
    }
    async fn hold(&self, id: &QueueId) -> Result<bool, mailerd_store::StoreError> {
        self.inner.hold(id).await
    }
    async fn release_hold(&self, id: &QueueId) -> Result<bool, mailerd_store::StoreError> {
        self.inner.release_hold(id).await
    }
    async fn mark_delay_notice(
        &self,
        id: &QueueId,
        notice: Option<NewMessage>,
        now: u64,
    ) -> Result<DelayMark, mailerd_store::StoreError> {
        self.inner.mark_delay_notice(id, notice, now).await
    }
}

/// Answers at once for `fast.test` and after ten seconds for `slow.test`; counts the sessions
/// to `slow.test` (each one a delivery of the message to that next hop).
struct TwoSpeeds {
    slow_sessions: Arc<AtomicUsize>,
}

impl Transport for TwoSpeeds {
    async fn deliver(&self, request: DeliveryRequest) -> AttemptReport {
        if request
            .recipients
            .iter()
            .any(|r| r.spec.address.ends_with("@slow.test"))
        {
            self.slow_sessions.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        AttemptReport {
            queue_id: request.queue_id,
            recipients: request
                .recipients
                .iter()
                .map(|r| RecipientOutcome {
                    index: r.index,
                    outcome: Outcome::Delivered {
                        reply: SmtpReply::parse("250 2.0.0 Ok").ok(),
                        remote_mta: Some(RemoteMta {
                            name: "mx.example.org".into(),
                            addr: None,
                        }),
                        next_hop_dsn: true,
                    },
                })
                .collect(),
        }
    }
}

/// When applying one next hop's report fails, the sessions still in flight to other next
/// hops run to their end (aborting one after its final "." would deliver the message twice)
/// and their reports are applied; the failed report's recipients stay due.
#[tokio::test(start_paused = true)]
async fn a_failed_apply_does_not_abort_deliveries_in_flight() {
    let store = Arc::new(Instrumented {
        fail_first_apply: true.into(),
        ..Instrumented::default()
    });
    let slow_sessions = Arc::new(AtomicUsize::new(0));
    let transport = Arc::new(TwoSpeeds {
        slow_sessions: slow_sessions.clone(),
    });
    let clock = FakeClock::new(T0);
    let routes = Routes::new(["example.test"], []).expect("routes");
    let config = ManagerConfig {
        remove_delivered: false,
        ..ManagerConfig::default()
    };
    let manager = Manager::new(
        store.clone(),
        transport.clone(),
        Arc::new(clock.clone()),
        routes,
        config,
    );
    let id = commit(
        &store.inner,
        "s@example.test",
        &["a@fast.test", "b@slow.test"],
        T0,
    )
    .await;
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(rx).await });
    run_for(30).await;
    let _ = stop.send(true);
    let _ = task.await;
    // the slow session ran to its end although the fast one's report could not be applied,
    // so the slow next hop got the message once, not a second time at the next attempt
    assert_eq!(slow_sessions.load(Ordering::SeqCst), 1);
    let m = store.inner.get(&id).await.expect("get").expect("message");
    let state = |addr: &str| {
        m.recipients
            .iter()
            .find(|r| r.address == addr)
            .map(|r| r.state)
    };
    assert_eq!(state("b@slow.test"), Some(RecipientState::Delivered));
}

/// Starts a manager over an [`Instrumented`] store (relayed messages removed, as in
/// production), lets its loop start, and returns its intake.
async fn start_instrumented(
    script: Arc<Script>,
    config: ManagerConfig,
) -> (
    Arc<Instrumented>,
    Intake,
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let store = Arc::new(Instrumented::default());
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(script)),
        Arc::new(FakeClock::new(T0)),
        Routes::new(["example.test"], []).expect("routes"),
        config,
    );
    let intake = manager.intake();
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(async move { manager.run(rx).await });
    // The intake hands messages over only once the loop runs.
    tokio::time::sleep(Duration::from_millis(1)).await;
    (store, intake, stop, task)
}

fn new_message(rcpt: &str, content: &[u8]) -> NewMessage {
    message("alice@example.test", &[rcpt], T0, content)
}

/// The relay's fast path: a message given to the intake while the manager has room is
/// committed leased and delivered from the content handed over, with no claim and no read of
/// the store; the report that finishes it removes it.
#[tokio::test(start_paused = true)]
async fn intake_hands_new_messages_over_without_claim_or_read() {
    let script = Arc::new(Script::default());
    let (store, intake, stop, task) =
        start_instrumented(script.clone(), ManagerConfig::default()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let msg = new_message(&format!("r{i}@d{i}.org"), b"Subject: t\r\n\r\nbody\r\n");
        ids.push(intake.commit(&*store, msg).await.expect("commit"));
    }
    run_for(5).await;
    assert_eq!(
        script.calls.lock().expect("lock").len(),
        3,
        "each delivered once"
    );
    assert_eq!(store.gets.load(Ordering::SeqCst), 0, "no content read back");
    assert_eq!(store.claimed.load(Ordering::SeqCst), 0, "no claim");
    for id in &ids {
        assert!(store.inner.get(id).await.expect("get").is_none(), "removed");
    }
    let _ = stop.send(true);
    let _ = task.await;
}

/// With the active window full, new messages are committed plainly and claimed when a place
/// frees up: the window still bounds the messages in delivery, and nothing is lost.
#[tokio::test(start_paused = true)]
async fn intake_falls_back_to_claims_when_the_window_is_full() {
    let script = Arc::new(Script {
        delay: Duration::from_secs(5),
        ..Script::default()
    });
    let config = ManagerConfig {
        active_window: 1,
        ..ManagerConfig::default()
    };
    let (store, intake, stop, task) = start_instrumented(script.clone(), config).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let msg = new_message(&format!("r{i}@d{i}.org"), b"x\r\n");
        ids.push(intake.commit(&*store, msg).await.expect("commit"));
    }
    run_for(60).await;
    assert_eq!(script.calls.lock().expect("lock").len(), 3);
    assert_eq!(
        script.max_in_flight.load(Ordering::SeqCst),
        1,
        "the window holds"
    );
    assert_eq!(
        store.claimed.load(Ordering::SeqCst),
        2,
        "two waited to be claimed"
    );
    assert_eq!(store.gets.load(Ordering::SeqCst), 2, "and were read back");
    for id in &ids {
        assert!(store.inner.get(id).await.expect("get").is_none());
    }
    let _ = stop.send(true);
    let _ = task.await;
}

/// After the manager stopped, the intake commits without a lease: the message is due for the
/// next claim (the next start), not held by a lease nobody serves.
#[tokio::test(start_paused = true)]
async fn intake_after_shutdown_leaves_messages_due() {
    let script = Arc::new(Script::default());
    let (store, intake, stop, task) =
        start_instrumented(script.clone(), ManagerConfig::default()).await;
    let _ = stop.send(true);
    let _ = task.await;
    let id = intake
        .commit(&*store, new_message("r@d.org", b"x\r\n"))
        .await
        .expect("commit");
    let m = store.inner.get(&id).await.expect("get").expect("stored");
    assert_eq!(m.lease, None);
    let c = store.inner.claim("next", T0, 10, 60).await.expect("claim");
    assert_eq!(c.len(), 1);
    assert!(script.calls.lock().expect("lock").is_empty());
}

/// A message that nobody announces (committed by another process, or whose retry time
/// came) is claimed at the next idle poll even while handed-over messages keep the manager
/// busy: finished deliveries do not trigger claims, so the poll must not be put off by them.
#[tokio::test(start_paused = true)]
async fn the_idle_poll_claims_while_the_fast_path_is_busy() {
    let script = Arc::new(Script::default());
    let (store, intake, stop, task) =
        start_instrumented(script.clone(), ManagerConfig::default()).await;
    // Once the manager's first claim has run: committed behind its back, no kick, no
    // hand-over.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let quiet = store
        .inner
        .commit(new_message("quiet@elsewhere.org", b"x\r\n"))
        .await
        .expect("commit");
    for i in 0..40 {
        let msg = new_message(&format!("r{i}@busy.org"), b"x\r\n");
        intake.commit(&*store, msg).await.expect("commit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        store.inner.get(&quiet).await.expect("get").is_none(),
        "claimed at an idle poll and delivered"
    );
    assert_eq!(
        store.claimed.load(Ordering::SeqCst),
        1,
        "only it was claimed"
    );
    let _ = stop.send(true);
    let _ = task.await;
}

/// A manager that is not running (delivery turned off, or not started yet) is handed nothing:
/// the message is committed without a lease, so operators' commands and other nodes see it
/// as any queued message.
#[tokio::test(start_paused = true)]
async fn intake_without_a_running_manager_commits_plainly() {
    let store = Arc::new(Instrumented::default());
    let manager = Manager::new(
        store.clone(),
        Arc::new(ScriptedTransport(Arc::new(Script::default()))),
        Arc::new(FakeClock::new(T0)),
        Routes::new(["example.test"], []).expect("routes"),
        ManagerConfig::default(),
    );
    let id = manager
        .intake()
        .commit(&*store, new_message("r@d.org", b"x\r\n"))
        .await
        .expect("commit");
    let m = store.inner.get(&id).await.expect("get").expect("stored");
    assert_eq!(m.lease, None, "not leased to a manager that is not running");
}
