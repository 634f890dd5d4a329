//! The conformance suite: what every [`Store`] backend must do, as test functions.
//!
//! A backend's tests implement [`Factory`] and call each `pub async fn` here from a
//! `#[tokio::test]` (multi-threaded runtime), or [`run_all`]. The functions panic on the first
//! broken promise, with a message naming it. Time is fake: the suite passes `now` values around
//! 1 000 000.
//!
//! Use [`all_tests!`](crate::all_tests) to get one `#[tokio::test]` per function.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use mailerd_types::{
    DeliveryReport, Envelope, QueueId, RecipientSpec, RecipientState, RecipientUpdate,
};

use crate::{DelayMark, FailOutcome, ListFilter, NewMessage, RecipientRecord, Store, StoreError};

/// Opens stores for the suite.
pub trait Factory: Send + Sync {
    type Store: Store;

    /// Opens the store called `name`, creating it empty on first use. Each suite function uses
    /// its own name. Opening a name again after every handle to it was dropped must show
    /// everything committed through the previous handle (that is the durability test).
    fn open(&self, name: &str) -> impl Future<Output = Self::Store> + Send;
}

/// The base time of the suite (seconds since the epoch).
pub const T0: u64 = 1_000_000;

/// An envelope from `alice@example.org` to the given recipients, received at `T0`.
pub fn envelope(recipients: &[&str]) -> Envelope {
    Envelope {
        reverse_path: "alice@example.org".into(),
        recipients: recipients.iter().map(|r| RecipientSpec::new(*r)).collect(),
        ret: None,
        envid: None,
        smtputf8: false,
        eight_bit: false,
        received_at: T0,
        client: Some("192.0.2.7 client.example".into()),
        auth_user: None,
    }
}

/// A message of `size` bytes whose content depends on `seed` (every byte value appears).
pub fn message(seed: u64, recipients: &[&str], size: usize) -> NewMessage {
    NewMessage {
        envelope: envelope(recipients),
        content: content(seed, size),
    }
}

/// Deterministic content: a header naming the seed, then bytes derived from it, `size` bytes
/// in all (or just the header if it is longer).
pub fn content(seed: u64, size: usize) -> Vec<u8> {
    let mut v = format!("X-Seed: {seed}\r\n\r\n").into_bytes();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push(x as u8);
    }
    v
}

fn deferred(index: usize, attempts: u32, next: u64) -> RecipientUpdate {
    RecipientUpdate {
        index,
        state: RecipientState::Deferred,
        reply: Some("451 4.3.0 try again later".into()),
        remote_mta: Some("mx.example.net [192.0.2.25]".into()),
        attempts,
        next_attempt: Some(next),
        next_hop_dsn: None,
    }
}

fn final_update(index: usize, state: RecipientState, reply: &str) -> RecipientUpdate {
    RecipientUpdate {
        index,
        state,
        reply: Some(reply.into()),
        remote_mta: Some("mx.example.net [192.0.2.25]".into()),
        attempts: 1,
        next_attempt: None,
        next_hop_dsn: None,
    }
}

/// Commit then get returns the exact bytes and envelope, every recipient pending, and one
/// reception record per recipient in the status log.
pub async fn commit_get_round_trip<F: Factory>(f: &F) {
    let s = f.open("commit_get_round_trip").await;
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let mut env = envelope(&["bob@example.net", "carol@example.net", "bob@example.net"]);
    env.envid = Some("env-1".into());
    env.smtputf8 = true;
    env.recipients[1].orcpt = Some(("rfc822".into(), "carol@example.net".into()));
    env.recipients[1].notify = Some(mailerd_types::Notify {
        failure: true,
        delay: true,
        ..Default::default()
    });
    for body in [all_bytes, Vec::new(), b"Subject: x\r\n\r\n.\r\n".to_vec()] {
        let id = s
            .commit(NewMessage {
                envelope: env.clone(),
                content: body.clone(),
            })
            .await
            .expect("commit");
        let m = s.get(&id).await.expect("get").expect("committed message");
        assert_eq!(m.id, id);
        assert_eq!(m.content, body, "content bytes round-trip exactly");
        assert_eq!(m.envelope, env, "envelope round-trips");
        assert!(!m.held);
        assert_eq!(m.lease, None);
        assert_eq!(m.recipients.len(), 3);
        for (i, r) in m.recipients.iter().enumerate() {
            assert_eq!(r.index, i);
            assert_eq!(r.address, env.recipients[i].address);
            assert_eq!(r.state, RecipientState::Pending);
            assert_eq!(r.attempts, 0);
            assert_eq!(r.next_attempt, T0);
        }
        let log = s.status_log(&id).await.expect("status log");
        assert_eq!(log.len(), 3, "one reception record per recipient");
        for (i, rec) in log.iter().enumerate() {
            assert_eq!(rec.seq as usize, i);
            assert_eq!(rec.index, i);
            assert_eq!(rec.state, RecipientState::Pending);
            assert_eq!(rec.at, T0);
        }
    }
    let missing = QueueId("NOSUCHID".into());
    assert!(s.get(&missing).await.expect("get missing").is_none());
    assert!(s.status_log(&missing).await.expect("log").is_empty());
}

/// List shows committed messages in id order, filters on hold and done, and paginates.
pub async fn list_filters_and_pages<F: Factory>(f: &F) {
    let s = f.open("list_filters_and_pages").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            s.commit(message(i, &["bob@example.net"], 100))
                .await
                .expect("commit"),
        );
    }
    let unique: BTreeSet<_> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), 5, "queue ids are unique");
    let all = s.list(&ListFilter::default()).await.expect("list");
    assert!(all.corrupt.is_empty());
    let listed: Vec<_> = all.messages.iter().map(|m| m.id.clone()).collect();
    let sorted: Vec<_> = unique.iter().cloned().collect();
    assert_eq!(listed, sorted, "list is in id order and complete");
    let m0 = &all.messages[0];
    assert_eq!(m0.reverse_path, "alice@example.org");
    assert_eq!(m0.size, 100);
    assert_eq!(m0.received_at, T0);
    assert_eq!(m0.next_attempt, Some(T0));
    assert_eq!(m0.recipients.len(), 1);

    assert!(s.hold(&ids[1]).await.expect("hold"));
    let held = s
        .list(&ListFilter {
            held: Some(true),
            ..Default::default()
        })
        .await
        .expect("list held");
    assert_eq!(
        held.messages.iter().map(|m| &m.id).collect::<Vec<_>>(),
        vec![&ids[1]]
    );
    let not_held = s
        .list(&ListFilter {
            held: Some(false),
            ..Default::default()
        })
        .await
        .expect("list not held");
    assert_eq!(not_held.messages.len(), 4);

    let page1 = s
        .list(&ListFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .expect("page 1");
    assert_eq!(page1.messages.len(), 2);
    let page2 = s
        .list(&ListFilter {
            limit: Some(10),
            after: Some(page1.messages[1].id.clone()),
            ..Default::default()
        })
        .await
        .expect("page 2");
    assert_eq!(page2.messages.len(), 3);
    assert_eq!(page2.messages[0].id, sorted[2]);

    // A done message is listed only with include_done.
    let c = s
        .claim("n1", T0, 10, 60)
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.lease.id == ids[0])
        .expect("first message claimed");
    s.apply(
        &c.lease,
        DeliveryReport {
            id: ids[0].clone(),
            updates: vec![final_update(0, RecipientState::Delivered, "250 ok")],
        },
        T0 + 1,
    )
    .await
    .expect("apply");
    let active = s.list(&ListFilter::default()).await.expect("list");
    assert!(active.messages.iter().all(|m| m.id != ids[0]));
    let with_done = s
        .list(&ListFilter {
            include_done: true,
            ..Default::default()
        })
        .await
        .expect("list");
    let done = with_done
        .messages
        .iter()
        .find(|m| m.id == ids[0])
        .expect("done message listed with include_done");
    assert!(done.is_done());
    assert_eq!(done.next_attempt, None);
}

/// Claim hands out only messages due at `now`, earliest first, at most `max`.
pub async fn claim_respects_due_time_and_max<F: Factory>(f: &F) {
    let s = f.open("claim_respects_due_time_and_max").await;
    let mut ids = Vec::new();
    for i in 0..3u64 {
        let mut m = message(i, &["bob@example.net"], 50);
        m.envelope.received_at = T0 + 10 * i;
        ids.push(s.commit(m).await.expect("commit"));
    }
    assert!(
        s.claim("n1", T0 - 1, 10, 60)
            .await
            .expect("claim")
            .is_empty(),
        "nothing is due before reception"
    );
    let c = s.claim("n1", T0 + 10, 1, 60).await.expect("claim");
    assert_eq!(c.len(), 1, "max is respected");
    assert_eq!(c[0].lease.id, ids[0], "earliest due first");
    assert_eq!(c[0].lease.node, "n1");
    assert_eq!(c[0].lease.expires_at, T0 + 70);
    assert_eq!(c[0].recipients[0].state, RecipientState::Pending);
    assert_eq!(c[0].envelope.recipients[0].address, "bob@example.net");
    let c2 = s.claim("n1", T0 + 10, 10, 10_000).await.expect("claim");
    assert_eq!(c2.len(), 1, "only the second is due at T0+10");
    assert_eq!(c2[0].lease.id, ids[1]);

    // A deferral moves the message's due time.
    s.apply(
        &c[0].lease,
        DeliveryReport {
            id: ids[0].clone(),
            updates: vec![deferred(0, 1, T0 + 1000)],
        },
        T0 + 11,
    )
    .await
    .expect("apply deferral");
    s.release(&c[0].lease).await.expect("release");
    let c3 = s.claim("n1", T0 + 500, 10, 60).await.expect("claim");
    assert_eq!(
        c3.iter().map(|c| &c.lease.id).collect::<Vec<_>>(),
        vec![&ids[2]],
        "deferred message not due before its next attempt; released/leased ones handled"
    );
    let c4 = s.claim("n1", T0 + 1000, 10, 60).await.expect("claim");
    let got: BTreeSet<_> = c4.iter().map(|c| c.lease.id.clone()).collect();
    assert!(
        got.contains(&ids[0]),
        "deferred message due at its next attempt"
    );
    let rec = &c4
        .iter()
        .find(|c| c.lease.id == ids[0])
        .expect("claimed")
        .recipients[0];
    assert_eq!(rec.state, RecipientState::Deferred);
    assert_eq!(rec.attempts, 1);
}

/// One owner at a time: a leased message is not handed out again until the lease expires; then
/// another node takes it over and the first owner's lease is void.
pub async fn lease_exclusivity_and_takeover<F: Factory>(f: &F) {
    let s = f.open("lease_exclusivity_and_takeover").await;
    let id = s
        .commit(message(1, &["bob@example.net", "carol@example.net"], 200))
        .await
        .expect("commit");
    let a = s.claim("node-a", T0, 10, 60).await.expect("claim a");
    assert_eq!(a.len(), 1);
    let lease_a = a[0].lease.clone();
    assert!(
        s.claim("node-b", T0 + 59, 10, 60)
            .await
            .expect("claim b")
            .is_empty(),
        "a live lease excludes other claims"
    );
    assert!(
        s.claim("node-a", T0 + 30, 10, 60)
            .await
            .expect("claim a again")
            .is_empty(),
        "a live lease excludes the owner's own second claim too"
    );
    let renewed = s.renew(&lease_a, T0 + 50, 60).await.expect("renew");
    assert_eq!(renewed.expires_at, T0 + 110);
    assert_eq!(renewed.token, lease_a.token);
    assert!(
        s.claim("node-b", T0 + 100, 10, 60)
            .await
            .expect("claim b")
            .is_empty(),
        "renewal extends exclusivity"
    );
    let b = s.claim("node-b", T0 + 110, 10, 60).await.expect("claim b");
    assert_eq!(b.len(), 1, "an expired lease is taken over");
    let lease_b = b[0].lease.clone();
    assert_eq!(lease_b.node, "node-b");
    assert_ne!(lease_b.token, lease_a.token, "a takeover changes the token");
    let stale = DeliveryReport {
        id: id.clone(),
        updates: vec![final_update(0, RecipientState::Delivered, "250 ok")],
    };
    match s.apply(&lease_a, stale.clone(), T0 + 111).await {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, id),
        other => panic!("stale owner's apply must fail with LeaseLost, got {other:?}"),
    }
    assert!(matches!(
        s.renew(&lease_a, T0 + 111, 60).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(matches!(
        s.release(&lease_a).await,
        Err(StoreError::LeaseLost(_))
    ));
    let m = s.get(&id).await.expect("get").expect("message");
    assert_eq!(m.lease.as_ref(), Some(&lease_b));
    assert_eq!(m.recipients[0].state, RecipientState::Pending);
    s.apply(&lease_b, stale, T0 + 112)
        .await
        .expect("new owner applies");
    s.release(&lease_b).await.expect("release");
    assert_eq!(s.get(&id).await.expect("get").expect("message").lease, None);
    let c = s.claim("node-a", T0 + 112, 10, 60).await.expect("claim");
    assert_eq!(
        c.len(),
        1,
        "released message with a live recipient is due again"
    );
    assert_eq!(c[0].recipients[0].state, RecipientState::Delivered);
    assert_eq!(c[0].recipients[1].state, RecipientState::Pending);
}

/// A restarting node ends its own leases; other nodes' leases stay.
pub async fn release_node_ends_its_leases<F: Factory>(f: &F) {
    let s = f.open("release_node_ends_its_leases").await;
    for i in 0..3 {
        s.commit(message(i, &["bob@example.net"], 10))
            .await
            .expect("commit");
    }
    let a = s.claim("node-a", T0, 2, 600).await.expect("claim a");
    let b = s.claim("node-b", T0, 10, 600).await.expect("claim b");
    assert_eq!((a.len(), b.len()), (2, 1));
    assert_eq!(s.release_node("node-a").await.expect("release node"), 2);
    assert_eq!(s.release_node("node-a").await.expect("again"), 0);
    for c in &a {
        assert!(matches!(
            s.renew(&c.lease, T0 + 1, 60).await,
            Err(StoreError::LeaseLost(_))
        ));
    }
    let again = s.claim("node-a2", T0 + 1, 10, 600).await.expect("claim");
    let got: BTreeSet<_> = again.iter().map(|c| c.lease.id.clone()).collect();
    let want: BTreeSet<_> = a.iter().map(|c| c.lease.id.clone()).collect();
    assert_eq!(
        got, want,
        "released messages are due at once; node-b's is not"
    );
    s.renew(&b[0].lease, T0 + 1, 60)
        .await
        .expect("node-b keeps its lease");
}

/// A message committed with its lease (the relay's fast path) is in the state of one just
/// claimed: leased to the committing node, not claimable by anyone until the lease expires,
/// reported and released with its lease, durable with it.
pub async fn commit_claimed_is_committed_and_leased<F: Factory>(f: &F) {
    let name = "commit_claimed_is_committed_and_leased";
    let (id, lease) = {
        let s = f.open(name).await;
        let msg = message(7, &["bob@example.net", "carol@example.net"], 5000);
        let want = msg.content.clone();
        let (id, claimed) = s
            .commit_claimed(msg, "node-a", T0, 600)
            .await
            .expect("commit_claimed");
        let c = claimed.expect("this backend leases at commit");
        assert_eq!(c.lease.id, id);
        assert_eq!(c.lease.node, "node-a");
        assert_eq!(c.lease.expires_at, T0 + 600);
        assert_eq!(c.delay_notice_at, None);
        assert_eq!(
            c.envelope,
            envelope(&["bob@example.net", "carol@example.net"])
        );
        assert!(
            c.recipients
                .iter()
                .all(|r| r.state == RecipientState::Pending && r.attempts == 0)
        );
        let m = s.get(&id).await.expect("get").expect("stored");
        assert_eq!(m.content, want, "the content is committed");
        assert_eq!(m.lease.as_ref(), Some(&c.lease));
        assert_eq!(m.recipients, c.recipients);
        assert_eq!(
            s.status_log(&id).await.expect("log").len(),
            2,
            "one reception record per recipient"
        );
        assert!(
            s.claim("node-b", T0 + 599, 10, 600)
                .await
                .expect("claim")
                .is_empty(),
            "nobody claims it while the lease runs"
        );
        s.renew(&c.lease, T0 + 1, 600).await.expect("renewable");
        (id, c.lease)
    };
    // Durable with its lease: after a reopen the lease still holds, and releasing it (as the
    // node does at start, release_node) makes the message due at once.
    let s = f.open(name).await;
    let m = s.get(&id).await.expect("get").expect("still stored");
    assert_eq!(m.lease.as_ref().map(|l| l.token), Some(lease.token));
    assert!(
        s.claim("node-b", T0 + 2, 10, 600)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(s.release_node("node-a").await.expect("release node"), 1);
    let again = s.claim("node-b", T0 + 2, 10, 600).await.expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].lease.id, id);
    assert_ne!(
        again[0].lease.token, lease.token,
        "a new claim, a new token"
    );
    // A second message: reported with the lease it was committed with, and removed by the
    // report that finishes it.
    let (id2, c2) = s
        .commit_claimed(message(8, &["dave@example.net"], 100), "node-a", T0, 600)
        .await
        .expect("commit_claimed");
    let c2 = c2.expect("leased");
    let report = DeliveryReport {
        id: id2.clone(),
        updates: vec![final_update(0, RecipientState::Delivered, "250 2.0.0 ok")],
    };
    let applied = s
        .apply_and_remove(&c2.lease, report, T0 + 1, |_, _| true)
        .await
        .expect("apply with the commit's lease");
    assert!(applied.removed);
    assert!(s.get(&id2).await.expect("get").is_none());
    // And one released at once is due for anyone.
    let (id3, c3) = s
        .commit_claimed(message(9, &["erin@example.net"], 100), "node-a", T0, 600)
        .await
        .expect("commit_claimed");
    s.release(&c3.expect("leased").lease)
        .await
        .expect("release");
    let got = s.claim("node-c", T0, 10, 600).await.expect("claim");
    assert_eq!(
        got.iter().map(|c| &c.lease.id).collect::<Vec<_>>(),
        vec![&id3]
    );
}

/// A report under the lease a message was committed with, after the message changed in
/// between, sees the change: held stays held, a released lease is lost, a renewed lease
/// applies with its new expiry kept. (A backend that keeps what it committed at hand for the
/// report that usually follows must never use it once the stored record changed.)
pub async fn report_after_commit_claimed_sees_later_changes<F: Factory>(f: &F) {
    let s = f
        .open("report_after_commit_claimed_sees_later_changes")
        .await;
    let commit = |seed: u64| {
        let s = &s;
        async move {
            let (id, c) = s
                .commit_claimed(message(seed, &["bob@example.net"], 300), "node-a", T0, 600)
                .await
                .expect("commit_claimed");
            (id, c.expect("leased").lease)
        }
    };
    let defer = |id: &QueueId| DeliveryReport {
        id: id.clone(),
        updates: vec![deferred(0, 1, T0 + 300)],
    };

    // Held between the commit and the report: still held after it.
    let (id, lease) = commit(31).await;
    assert!(s.hold(&id).await.expect("hold"));
    let records = s.apply(&lease, defer(&id), T0 + 1).await.expect("apply");
    assert_eq!(records[0].state, RecipientState::Deferred);
    let m = s.get(&id).await.expect("get").expect("stored");
    assert!(m.held, "the hold made after the commit is kept");
    assert_eq!(m.recipients[0].state, RecipientState::Deferred);

    // Released: the commit's lease is lost, nothing changes.
    let (id, lease) = commit(32).await;
    s.release(&lease).await.expect("release");
    match s.apply(&lease, defer(&id), T0 + 1).await {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, id),
        other => panic!("a released lease must be lost, got {other:?}"),
    }
    match s
        .apply_and_remove(&lease, defer(&id), T0 + 1, |_, _| true)
        .await
    {
        Err(StoreError::LeaseLost(_)) => {}
        other => panic!("a released lease must be lost, got {other:?}"),
    }
    let m = s.get(&id).await.expect("get").expect("stored");
    assert_eq!(m.recipients[0].state, RecipientState::Pending);
    assert!(m.lease.is_none());

    // Renewed: the report applies and the renewed expiry stays.
    let (id, lease) = commit(33).await;
    let renewed = s.renew(&lease, T0 + 100, 900).await.expect("renew");
    assert_eq!(renewed.expires_at, T0 + 1000);
    s.apply(&renewed, defer(&id), T0 + 101)
        .await
        .expect("apply");
    let m = s.get(&id).await.expect("get").expect("stored");
    assert_eq!(m.lease.as_ref().map(|l| l.expires_at), Some(T0 + 1000));

    // Unchanged: the report that finishes it removes it.
    let (id, lease) = commit(34).await;
    let report = DeliveryReport {
        id: id.clone(),
        updates: vec![final_update(0, RecipientState::Delivered, "250 2.0.0 ok")],
    };
    let applied = s
        .apply_and_remove(&lease, report, T0 + 1, |_, _| true)
        .await
        .expect("apply_and_remove");
    assert!(applied.removed);
    assert!(s.get(&id).await.expect("get").is_none());
}

/// Apply changes every recipient of the report or none, and appends one status record per
/// update with all its facts.
pub async fn apply_is_atomic_and_logs<F: Factory>(f: &F) {
    let s = f.open("apply_is_atomic_and_logs").await;
    let id = s
        .commit(message(
            7,
            &["bob@example.net", "carol@example.net", "dave@example.net"],
            300,
        ))
        .await
        .expect("commit");
    let lease = s.claim("n1", T0, 1, 600).await.expect("claim")[0]
        .lease
        .clone();
    let before = s.get(&id).await.expect("get").expect("message");
    let log_before = s.status_log(&id).await.expect("log");

    let bad_reports = [
        vec![
            final_update(0, RecipientState::Delivered, "250 ok"),
            final_update(9, RecipientState::Failed, "550 no"),
        ],
        vec![
            final_update(0, RecipientState::Delivered, "250 ok"),
            final_update(0, RecipientState::Failed, "550 no"),
        ],
        vec![
            final_update(0, RecipientState::Delivered, "250 ok"),
            RecipientUpdate {
                next_attempt: None,
                ..deferred(1, 1, 0)
            },
        ],
    ];
    for updates in bad_reports {
        match s
            .apply(
                &lease,
                DeliveryReport {
                    id: id.clone(),
                    updates,
                },
                T0 + 5,
            )
            .await
        {
            Err(StoreError::InvalidReport { .. }) => {}
            other => panic!("invalid report must be refused, got {other:?}"),
        }
        assert_eq!(
            s.get(&id).await.expect("get").expect("message"),
            before,
            "a refused report changes nothing"
        );
        assert_eq!(s.status_log(&id).await.expect("log"), log_before);
    }

    let recs = s
        .apply(
            &lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![
                    final_update(0, RecipientState::Delivered, "250 2.0.0 queued as X"),
                    final_update(1, RecipientState::Failed, "550 5.1.1 user unknown"),
                    deferred(2, 1, T0 + 900),
                ],
            },
            T0 + 6,
        )
        .await
        .expect("apply");
    assert_eq!(recs.len(), 3);
    let m = s.get(&id).await.expect("get").expect("message");
    assert_eq!(m.recipients, recs, "apply returns the new records");
    assert_eq!(m.recipients[0].state, RecipientState::Delivered);
    assert_eq!(
        m.recipients[1].last_reply.as_deref(),
        Some("550 5.1.1 user unknown")
    );
    assert_eq!(m.recipients[1].updated_at, T0 + 6);
    assert_eq!(m.recipients[2].state, RecipientState::Deferred);
    assert_eq!(m.recipients[2].next_attempt, T0 + 900);
    assert_eq!(m.recipients[2].attempts, 1);
    assert_eq!(
        m.recipients[2].remote_mta.as_deref(),
        Some("mx.example.net [192.0.2.25]")
    );

    let log = s.status_log(&id).await.expect("log");
    assert_eq!(
        log.len(),
        3 + 3,
        "three receptions, then one record per update"
    );
    let new = &log[3..];
    for (i, r) in new.iter().enumerate() {
        assert_eq!(r.seq as usize, 3 + i);
        assert_eq!(r.at, T0 + 6);
        assert_eq!(r.index, i);
        assert_eq!(r.recipient, m.recipients[i].address);
        assert_eq!(r.state, m.recipients[i].state);
        assert_eq!(r.reply, m.recipients[i].last_reply);
        assert_eq!(r.remote_mta, m.recipients[i].remote_mta);
        assert_eq!(r.attempts, m.recipients[i].attempts);
    }

    // A final recipient never changes again.
    match s
        .apply(
            &lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![deferred(0, 2, T0 + 2000)],
            },
            T0 + 7,
        )
        .await
    {
        Err(StoreError::InvalidReport { .. }) => {}
        other => panic!("updating a final recipient must be refused, got {other:?}"),
    }
    // A deferred recipient may be deferred again: one more record.
    s.apply(
        &lease,
        DeliveryReport {
            id: id.clone(),
            updates: vec![deferred(2, 2, T0 + 3000)],
        },
        T0 + 8,
    )
    .await
    .expect("second deferral");
    let log = s.status_log(&id).await.expect("log");
    assert_eq!(log.len(), 7);
    assert_eq!(log[6].attempts, 2);
    // Expiry is final and leaves the message done.
    s.apply(
        &lease,
        DeliveryReport {
            id: id.clone(),
            updates: vec![RecipientUpdate {
                index: 2,
                state: RecipientState::Expired,
                reply: Some("retries exhausted".into()),
                remote_mta: None,
                attempts: 2,
                next_attempt: None,
                next_hop_dsn: None,
            }],
        },
        T0 + 9,
    )
    .await
    .expect("expire");
    s.release(&lease).await.expect("release");
    assert!(
        s.claim("n1", u64::MAX / 2, 10, 60)
            .await
            .expect("claim")
            .is_empty(),
        "a message whose recipients are all final is never due"
    );
    assert!(
        s.get(&id).await.expect("get").is_some(),
        "the store does not delete done messages by itself"
    );
}

/// Delete removes message, content and log; the lease on it is void; a second delete says so.
pub async fn delete_removes_everything<F: Factory>(f: &F) {
    let s = f.open("delete_removes_everything").await;
    let keep = s
        .commit(message(1, &["bob@example.net"], 100))
        .await
        .expect("commit");
    let id = s
        .commit(message(2, &["bob@example.net"], 100))
        .await
        .expect("commit");
    let claimed = s.claim("n1", T0, 10, 60).await.expect("claim");
    let lease = claimed
        .iter()
        .find(|c| c.lease.id == id)
        .expect("claimed")
        .lease
        .clone();
    assert!(s.delete(&id).await.expect("delete"));
    assert!(s.get(&id).await.expect("get").is_none());
    assert!(s.status_log(&id).await.expect("log").is_empty());
    let listed = s.list(&ListFilter::default()).await.expect("list");
    assert_eq!(
        listed.messages.iter().map(|m| &m.id).collect::<Vec<_>>(),
        vec![&keep]
    );
    assert!(matches!(
        s.apply(
            &lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![final_update(0, RecipientState::Delivered, "250 ok")],
            },
            T0 + 1,
        )
        .await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(!s.delete(&id).await.expect("second delete"));
    assert!(
        s.claim("n2", T0 + 1000, 10, 60)
            .await
            .expect("claim")
            .iter()
            .all(|c| c.lease.id != id)
    );
}

/// A held message is never claimed; releasing the hold makes it due again.
pub async fn hold_blocks_claims<F: Factory>(f: &F) {
    let s = f.open("hold_blocks_claims").await;
    let id = s
        .commit(message(1, &["bob@example.net"], 100))
        .await
        .expect("commit");
    assert!(s.hold(&id).await.expect("hold"));
    assert!(s.hold(&id).await.expect("hold twice is fine"));
    assert!(s.get(&id).await.expect("get").expect("message").held);
    assert!(
        s.claim("n1", T0 + 100, 10, 60)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(s.release_hold(&id).await.expect("release hold"));
    assert!(!s.get(&id).await.expect("get").expect("message").held);
    assert_eq!(
        s.claim("n1", T0 + 100, 10, 60).await.expect("claim").len(),
        1
    );
    let missing = QueueId("NOSUCHID".into());
    assert!(!s.hold(&missing).await.expect("hold missing"));
    assert!(!s.release_hold(&missing).await.expect("release missing"));
}

/// The operator's retry brings deferred recipients forward (one message or all), without
/// touching attempts, replies, holds or leases.
pub async fn retry_now_and_retry_all<F: Factory>(f: &F) {
    let s = f.open("retry_now_and_retry_all").await;
    let a = s
        .commit(message(1, &["bob@example.net", "carol@example.net"], 10))
        .await
        .expect("commit a");
    let c = s.claim("n1", T0, 10, 600).await.expect("claim");
    assert_eq!(c.len(), 1);
    let report = DeliveryReport {
        id: a.clone(),
        updates: vec![
            deferred(0, 1, T0 + 5000),
            final_update(1, RecipientState::Delivered, "250 ok"),
        ],
    };
    s.apply(&c[0].lease, report, T0 + 1).await.expect("apply");
    s.release(&c[0].lease).await.expect("release");
    let log_len = s.status_log(&a).await.expect("log").len();
    assert!(
        s.claim("n1", T0 + 10, 10, 600)
            .await
            .expect("claim")
            .is_empty()
    );

    assert!(s.retry_now(&a, T0 + 10).await.expect("retry_now"));
    let c = s.claim("n1", T0 + 10, 10, 600).await.expect("claim");
    assert_eq!(c.len(), 1, "retried message is due at once");
    let bob = &c[0].recipients[0];
    assert_eq!(bob.next_attempt, T0 + 10);
    assert_eq!(bob.attempts, 1, "attempts kept");
    assert_eq!(bob.state, RecipientState::Deferred);
    assert_eq!(bob.last_reply.as_deref(), Some("451 4.3.0 try again later"));
    assert_eq!(c[0].recipients[1].state, RecipientState::Delivered);
    assert_eq!(
        s.status_log(&a).await.expect("log").len(),
        log_len,
        "a retry logs nothing"
    );
    // A retry during a delivery leaves the lease alone.
    assert!(s.retry_now(&a, T0 + 11).await.expect("retry_now leased"));
    s.renew(&c[0].lease, T0 + 11, 600)
        .await
        .expect("lease kept");
    s.release(&c[0].lease).await.expect("release");
    assert!(
        !s.retry_now(&QueueId("NOSUCHID".into()), T0)
            .await
            .expect("missing")
    );

    // retry_all: two deferred far ahead, one held (stays held), one never tried.
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            s.commit(message(10 + i, &["dave@example.net"], 10))
                .await
                .expect("commit"),
        );
    }
    let c = s.claim("n1", T0 + 20, 10, 600).await.expect("claim");
    assert_eq!(c.len(), 4);
    for cl in &c {
        if cl.lease.id == a {
            s.release(&cl.lease).await.expect("release a");
            continue;
        }
        let r = DeliveryReport {
            id: cl.lease.id.clone(),
            updates: vec![deferred(0, 1, T0 + 9000)],
        };
        s.apply(&cl.lease, r, T0 + 20).await.expect("defer");
        s.release(&cl.lease).await.expect("release");
    }
    s.hold(&ids[2]).await.expect("hold");
    let fresh = s
        .commit(message(20, &["erin@example.net"], 10))
        .await
        .expect("commit fresh");
    assert_eq!(
        s.retry_all(T0 + 30).await.expect("retry_all"),
        3,
        "the deferred ones (held included); not the one already due"
    );
    assert_eq!(s.retry_all(T0 + 30).await.expect("again"), 0);
    let c = s.claim("n1", T0 + 30, 10, 600).await.expect("claim");
    let got: BTreeSet<_> = c.iter().map(|c| c.lease.id.clone()).collect();
    let want: BTreeSet<_> = [a, ids[0].clone(), ids[1].clone(), fresh]
        .into_iter()
        .collect();
    assert_eq!(got, want, "every live message is due but the held one");
    assert!(s.get(&ids[2]).await.expect("get").expect("held").held);
    drop(s);
    let s = f.open("retry_now_and_retry_all").await;
    let m = s.get(&ids[2]).await.expect("get").expect("message");
    assert_eq!(m.recipients[0].next_attempt, T0 + 30, "durable");
}

/// The operator's failure: every live recipient failed with the given words and logged,
/// never under a current lease; an expired lease is voided.
pub async fn fail_live_respects_leases<F: Factory>(f: &F) {
    let s = f.open("fail_live_respects_leases").await;
    let a = s
        .commit(message(1, &["bob@example.net", "carol@example.net"], 10))
        .await
        .expect("commit");
    let c = s.claim("n1", T0, 10, 60).await.expect("claim");
    let lease = c[0].lease.clone();
    let words = "5.0.0 deleted by the administrator";
    match s.fail_live(&a, words, T0 + 1).await.expect("fail_live") {
        FailOutcome::Leased(l) => assert_eq!(l.token, lease.token),
        other => panic!("a current lease must be respected, got {other:?}"),
    }
    let report = DeliveryReport {
        id: a.clone(),
        updates: vec![final_update(1, RecipientState::Delivered, "250 ok")],
    };
    s.apply(&lease, report, T0 + 2)
        .await
        .expect("delivery goes on");
    s.release(&lease).await.expect("release");
    let before = s.status_log(&a).await.expect("log").len();
    match s.fail_live(&a, words, T0 + 3).await.expect("fail_live") {
        FailOutcome::Failed(r) => {
            assert_eq!(r[0].state, RecipientState::Failed);
            assert_eq!(r[0].last_reply.as_deref(), Some(words));
            assert_eq!(r[0].updated_at, T0 + 3);
            assert_eq!(r[1].state, RecipientState::Delivered, "final ones stay");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    let log = s.status_log(&a).await.expect("log");
    assert_eq!(log.len(), before + 1, "one record per failed recipient");
    let last = log.last().expect("record");
    assert_eq!(
        (last.index, last.state, last.reply.as_deref(), last.at),
        (0, RecipientState::Failed, Some(words), T0 + 3)
    );
    assert!(
        s.claim("n1", T0 + 10, 10, 60)
            .await
            .expect("claim")
            .is_empty()
    );
    let done = s
        .list(&ListFilter {
            include_done: true,
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert!(done.messages.iter().any(|m| m.id == a && m.is_done()));
    assert_eq!(
        s.fail_live(&QueueId("NOSUCHID".into()), words, T0)
            .await
            .expect("missing"),
        FailOutcome::NotFound
    );

    // An expired lease does not block, and its owner is fenced off.
    let b = s
        .commit(message(2, &["dave@example.net"], 10))
        .await
        .expect("commit b");
    let c = s.claim("n1", T0 + 10, 10, 60).await.expect("claim b");
    assert_eq!(c[0].lease.id, b);
    assert!(matches!(
        s.fail_live(&b, words, T0 + 100).await.expect("fail b"),
        FailOutcome::Failed(_)
    ));
    assert!(matches!(
        s.release(&c[0].lease).await,
        Err(StoreError::LeaseLost(_))
    ));
    drop(s);
    let s = f.open("fail_live_respects_leases").await;
    let m = s.get(&b).await.expect("get").expect("b");
    assert_eq!(m.recipients[0].state, RecipientState::Failed, "durable");
}

/// Many tasks committing at once: every commit acknowledged is visible, with its own content.
pub async fn concurrent_commits_all_visible<F: Factory>(f: &F) {
    let s = Arc::new(f.open("concurrent_commits_all_visible").await);
    let tasks = 20u64;
    let per_task = 15u64;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let s = Arc::clone(&s);
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..per_task {
                let seed = t * 1000 + i;
                let id = s
                    .commit(message(seed, &["bob@example.net"], 2000))
                    .await
                    .expect("commit");
                ids.push((seed, id));
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("task"));
    }
    let unique: BTreeSet<_> = all.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(unique.len() as u64, tasks * per_task, "ids are unique");
    for (seed, id) in &all {
        let m = s.get(id).await.expect("get").expect("acknowledged message");
        assert_eq!(m.content, content(*seed, 2000));
    }
    let listed = s.list(&ListFilter::default()).await.expect("list");
    assert_eq!(listed.messages.len() as u64, tasks * per_task);
}

/// Everything survives closing and reopening the store: messages, states, leases, holds, logs.
pub async fn reopen_keeps_everything<F: Factory>(f: &F) {
    let name = "reopen_keeps_everything";
    let (ids, snapshot, logs) = {
        let s = f.open(name).await;
        let mut ids = Vec::new();
        for i in 0..4 {
            ids.push(
                s.commit(message(i, &["bob@example.net", "carol@example.net"], 4000))
                    .await
                    .expect("commit"),
            );
        }
        let c = s.claim("n1", T0, 2, 600).await.expect("claim");
        assert_eq!(c.len(), 2);
        s.apply(
            &c[0].lease,
            DeliveryReport {
                id: c[0].lease.id.clone(),
                updates: vec![
                    final_update(0, RecipientState::Delivered, "250 ok"),
                    deferred(1, 1, T0 + 300),
                ],
            },
            T0 + 2,
        )
        .await
        .expect("apply");
        s.release(&c[0].lease).await.expect("release");
        assert!(s.hold(&ids[3]).await.expect("hold"));
        let mut snapshot = Vec::new();
        let mut logs = Vec::new();
        for id in &ids {
            snapshot.push(s.get(id).await.expect("get").expect("message"));
            logs.push(s.status_log(id).await.expect("log"));
        }
        (ids, snapshot, logs)
    };
    let s = f.open(name).await;
    for (i, id) in ids.iter().enumerate() {
        let m = s.get(id).await.expect("get after reopen").expect("message");
        assert_eq!(m, snapshot[i], "message {id} identical after reopen");
        assert_eq!(s.status_log(id).await.expect("log"), logs[i]);
    }
    let lease = snapshot[1]
        .lease
        .clone()
        .expect("second claim still leased");
    assert!(
        s.claim("n2", T0 + 10, 10, 600)
            .await
            .expect("claim")
            .iter()
            .all(|c| c.lease.id != lease.id),
        "leases survive a restart"
    );
    s.renew(&lease, T0 + 10, 60)
        .await
        .expect("the owner's lease is still valid after reopen");
    let c = s.claim("n2", T0 + 10_000, 10, 60).await.expect("claim");
    let next: BTreeSet<_> = c.iter().map(|c| c.lease.id.clone()).collect();
    assert!(!next.contains(&ids[3]), "hold survives a restart");
    let id_new = s
        .commit(message(99, &["bob@example.net"], 10))
        .await
        .expect("commit after reopen");
    assert!(!ids.contains(&id_new), "ids stay unique across restarts");
    let c2 = s.claim("n3", T0 + 20_000, 10, 60).await.expect("claim");
    let tokens: BTreeSet<_> = c.iter().chain(c2.iter()).map(|c| c.lease.token).collect();
    assert!(
        !tokens.contains(&lease.token),
        "lease tokens stay unique across restarts"
    );
}

/// How many messages the store holds, finished ones included.
async fn stored<S: Store>(s: &S) -> usize {
    let all = ListFilter {
        include_done: true,
        ..Default::default()
    };
    s.list(&all).await.expect("list").messages.len()
}

/// The delay-notice mark: set once, atomically with the notice it commits; a second mark
/// (later, concurrent, or after a reopen) commits nothing; it needs no lease and changes no
/// recipient; it shows in get, list and claim.
pub async fn delay_notice_mark_is_once_and_durable<F: Factory>(f: &F) {
    let name = "delay_notice_mark_is_once_and_durable";
    let (id, notice_id) = {
        let s = f.open(name).await;
        let id = s
            .commit(message(1, &["bob@example.net", "carol@example.net"], 200))
            .await
            .expect("commit");
        let fresh = s.get(&id).await.expect("get").expect("message");
        assert_eq!(fresh.delay_notice_at, None, "a new message is not marked");
        // Marked while a delivery holds the lease: the lease stays valid.
        let c = s.claim("n1", T0, 1, 600).await.expect("claim");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].delay_notice_at, None);
        s.apply(
            &c[0].lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![deferred(0, 1, T0 + 300), deferred(1, 1, T0 + 300)],
            },
            T0 + 1,
        )
        .await
        .expect("apply");
        let before = s.get(&id).await.expect("get").expect("message");
        let log_before = s.status_log(&id).await.expect("log");
        let notice = message(2, &["alice@example.org"], 50);
        let notice_id = match s
            .mark_delay_notice(&id, Some(notice.clone()), T0 + 2)
            .await
            .expect("mark")
        {
            DelayMark::Marked(Some(n)) => n,
            other => panic!("first mark must commit the notice, got {other:?}"),
        };
        let n = s
            .get(&notice_id)
            .await
            .expect("get")
            .expect("notice committed");
        assert_eq!(n.content, notice.content);
        assert_eq!(n.envelope, notice.envelope);
        let after = s.get(&id).await.expect("get").expect("message");
        assert_eq!(after.delay_notice_at, Some(T0 + 2));
        assert_eq!(
            after.recipients, before.recipients,
            "the mark changes no recipient"
        );
        assert_eq!(
            s.status_log(&id).await.expect("log"),
            log_before,
            "and logs nothing"
        );
        s.renew(&c[0].lease, T0 + 3, 600)
            .await
            .expect("the mark does not void the lease");
        s.release(&c[0].lease).await.expect("release");
        let listed = s.list(&ListFilter::default()).await.expect("list");
        let summary = listed.messages.iter().find(|m| m.id == id).expect("listed");
        assert_eq!(summary.delay_notice_at, Some(T0 + 2));
        let c = s.claim("n1", T0 + 300, 10, 600).await.expect("claim");
        let again = c.iter().find(|c| c.lease.id == id).expect("due again");
        assert_eq!(again.delay_notice_at, Some(T0 + 2), "claim shows the mark");
        s.release(&again.lease).await.expect("release");

        let n_before = stored(&s).await;
        assert_eq!(
            s.mark_delay_notice(&id, Some(message(3, &["alice@example.org"], 50)), T0 + 9)
                .await
                .expect("mark again"),
            DelayMark::AlreadyMarked(T0 + 2)
        );
        assert_eq!(
            s.mark_delay_notice(
                &QueueId("NOSUCHID".into()),
                Some(message(4, &["a@b.c"], 10)),
                T0
            )
            .await
            .expect("mark missing"),
            DelayMark::NotFound
        );
        assert_eq!(
            stored(&s).await,
            n_before,
            "a refused mark commits no notice"
        );
        (id, notice_id)
    };
    // After a restart the mark is still there: no second notice.
    let s = Arc::new(f.open(name).await);
    assert_eq!(
        s.get(&id)
            .await
            .expect("get")
            .expect("message")
            .delay_notice_at,
        Some(T0 + 2),
        "the mark survives a reopen"
    );
    assert!(s.get(&notice_id).await.expect("get").is_some());
    assert_eq!(
        s.mark_delay_notice(&id, Some(message(5, &["alice@example.org"], 50)), T0 + 20)
            .await
            .expect("mark after reopen"),
        DelayMark::AlreadyMarked(T0 + 2)
    );
    // Marking without a notice.
    let quiet = s
        .commit(message(6, &["bob@example.net"], 10))
        .await
        .expect("commit");
    assert_eq!(
        s.mark_delay_notice(&quiet, None, T0 + 30)
            .await
            .expect("mark"),
        DelayMark::Marked(None)
    );
    // Concurrent marks of one message: exactly one commits its notice.
    let racy = s
        .commit(message(7, &["bob@example.net"], 10))
        .await
        .expect("commit");
    let n_before = stored(&*s).await;
    let mut handles = Vec::new();
    for i in 0..8u64 {
        let s = Arc::clone(&s);
        let racy = racy.clone();
        handles.push(tokio::spawn(async move {
            s.mark_delay_notice(
                &racy,
                Some(message(100 + i, &["alice@example.org"], 20)),
                T0 + 40 + i,
            )
            .await
            .expect("mark")
        }));
    }
    let mut marked = 0;
    for h in handles {
        match h.await.expect("task") {
            DelayMark::Marked(Some(_)) => marked += 1,
            DelayMark::AlreadyMarked(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(marked, 1, "one of concurrent marks wins");
    assert_eq!(stored(&*s).await, n_before + 1);
}

/// A delivered recipient keeps whether the next hop offered DSN, in its record and in the
/// status log, across a reopen; other updates leave it unset.
pub async fn next_hop_dsn_is_recorded<F: Factory>(f: &F) {
    let name = "next_hop_dsn_is_recorded";
    let id = {
        let s = f.open(name).await;
        let id = s
            .commit(message(
                1,
                &["a@example.net", "b@example.net", "c@example.net"],
                50,
            ))
            .await
            .expect("commit");
        let c = s.claim("n1", T0, 1, 600).await.expect("claim");
        let records = s
            .apply(
                &c[0].lease,
                DeliveryReport {
                    id: id.clone(),
                    updates: vec![
                        RecipientUpdate {
                            next_hop_dsn: Some(false),
                            ..final_update(0, RecipientState::Delivered, "250 ok")
                        },
                        RecipientUpdate {
                            next_hop_dsn: Some(true),
                            ..final_update(1, RecipientState::Delivered, "250 ok")
                        },
                        deferred(2, 1, T0 + 60),
                    ],
                },
                T0 + 1,
            )
            .await
            .expect("apply");
        let got: Vec<_> = records.iter().map(|r| r.next_hop_dsn).collect();
        assert_eq!(got, [Some(false), Some(true), None]);
        id
    };
    let s = f.open(name).await;
    let m = s.get(&id).await.expect("get").expect("message");
    let got: Vec<_> = m.recipients.iter().map(|r| r.next_hop_dsn).collect();
    assert_eq!(got, [Some(false), Some(true), None], "kept across a reopen");
    let log = s.status_log(&id).await.expect("log");
    let logged: Vec<_> = log
        .iter()
        .filter(|r| r.state == RecipientState::Delivered)
        .map(|r| (r.index, r.next_hop_dsn))
        .collect();
    assert_eq!(logged, [(0, Some(false)), (1, Some(true))]);
}

/// A message that a delivery finished after notify looked at it gets no delay mark and no
/// notice: nothing "still trying" can follow its final notice.
pub async fn delay_notice_refused_once_finished<F: Factory>(f: &F) {
    let s = f.open("delay_notice_refused_once_finished").await;
    let id = s
        .commit(message(1, &["a@example.net"], 50))
        .await
        .expect("commit");
    let c = s.claim("n1", T0, 1, 600).await.expect("claim");
    s.apply(
        &c[0].lease,
        DeliveryReport {
            id: id.clone(),
            updates: vec![final_update(0, RecipientState::Delivered, "250 ok")],
        },
        T0 + 1,
    )
    .await
    .expect("apply");
    let before = stored(&s).await;
    let mark = s
        .mark_delay_notice(&id, Some(message(2, &["alice@example.org"], 50)), T0 + 2)
        .await
        .expect("mark");
    assert_eq!(mark, DelayMark::Finished);
    assert_eq!(stored(&s).await, before, "no notice committed");
    let m = s.get(&id).await.expect("get").expect("message");
    assert_eq!(m.delay_notice_at, None);
}

/// A [`crate::RemoveIf`] that holds when every recipient was delivered (and checks it is
/// given the message's envelope).
fn all_delivered(env: &Envelope, records: &[RecipientRecord]) -> bool {
    assert_eq!(
        env.reverse_path, "alice@example.org",
        "remove_if gets the envelope"
    );
    records.iter().all(|r| r.state == RecipientState::Delivered)
}

/// A [`crate::RemoveIf`] that never holds (a notice is due).
fn notice_due(_: &Envelope, _: &[RecipientRecord]) -> bool {
    false
}

/// Apply-and-remove: a report that does not finish the message is a plain apply; the report
/// that finishes it removes message, content, log and lease in the same write, durably.
pub async fn apply_and_remove_removes_finished<F: Factory>(f: &F) {
    let name = "apply_and_remove_removes_finished";
    let s = f.open(name).await;
    let keep = s
        .commit(message(1, &["bob@example.net"], 100))
        .await
        .expect("commit");
    let id = s
        .commit(message(
            2,
            &["bob@example.net", "carol@example.net", "dave@example.net"],
            300,
        ))
        .await
        .expect("commit");
    let lease = s
        .claim("n1", T0, 10, 600)
        .await
        .expect("claim")
        .into_iter()
        .find(|c| c.lease.id == id)
        .expect("claimed")
        .lease;

    // One next hop took bob; carol is deferred: not finished, kept, exactly as apply.
    let a = s
        .apply_and_remove(
            &lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![
                    final_update(0, RecipientState::Delivered, "250 ok"),
                    deferred(1, 1, T0 + 5),
                ],
            },
            T0 + 1,
            all_delivered,
        )
        .await
        .expect("first report");
    assert!(!a.removed, "a message not finished is kept");
    let m = s.get(&id).await.expect("get").expect("kept");
    assert_eq!(
        m.recipients, a.records,
        "the records after the report are returned"
    );
    assert_eq!(m.recipients[0].state, RecipientState::Delivered);
    assert_eq!(m.recipients[1].state, RecipientState::Deferred);
    assert_eq!(m.recipients[2].state, RecipientState::Pending);
    assert_eq!(m.lease.as_ref().map(|l| l.token), Some(lease.token));
    assert_eq!(s.status_log(&id).await.expect("log").len(), 3 + 2);

    // Another hop took dave: carol is still deferred, so still kept.
    let a = s
        .apply_and_remove(
            &lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![final_update(2, RecipientState::Delivered, "250 ok")],
            },
            T0 + 2,
            all_delivered,
        )
        .await
        .expect("second report");
    assert!(!a.removed, "a deferred recipient keeps the message");
    assert!(s.get(&id).await.expect("get").is_some());

    // Carol's retry finishes it: removed in the same write.
    let a = s
        .apply_and_remove(
            &lease,
            DeliveryReport {
                id: id.clone(),
                updates: vec![RecipientUpdate {
                    attempts: 2,
                    ..final_update(1, RecipientState::Delivered, "250 ok")
                }],
            },
            T0 + 6,
            all_delivered,
        )
        .await
        .expect("finishing report");
    assert!(a.removed, "the finishing report removes the message");
    assert_eq!(a.records.len(), 3);
    assert!(
        a.records
            .iter()
            .all(|r| r.state == RecipientState::Delivered)
    );
    assert_eq!(a.records[1].attempts, 2, "the records after the report");
    assert!(s.get(&id).await.expect("get").is_none());
    assert!(s.status_log(&id).await.expect("log").is_empty());
    let listed = s
        .list(&ListFilter {
            include_done: true,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        listed.messages.iter().map(|m| &m.id).collect::<Vec<_>>(),
        vec![&keep],
        "only the other message is left"
    );
    assert!(
        matches!(s.release(&lease).await, Err(StoreError::LeaseLost(_))),
        "the lease went with the message"
    );
    assert!(
        !s.delete(&id).await.expect("delete"),
        "nothing left to delete"
    );
    assert!(
        s.claim("n2", T0 + 100_000, 10, 60)
            .await
            .expect("claim")
            .iter()
            .all(|c| c.lease.id != id)
    );
    drop(s);
    let s = f.open(name).await;
    assert!(
        s.get(&id).await.expect("get").is_none(),
        "the removal is durable"
    );
    assert!(s.get(&keep).await.expect("get").is_some());
}

/// Apply-and-remove keeps a finished message when the caller says a notice is due (or its
/// test fails on these records), as a plain apply would: report applied and logged, lease
/// kept.
pub async fn apply_and_remove_keeps_when_notice_due<F: Factory>(f: &F) {
    let s = f.open("apply_and_remove_keeps_when_notice_due").await;
    let a_id = s
        .commit(message(1, &["bob@example.net"], 100))
        .await
        .expect("commit");
    let b_id = s
        .commit(message(2, &["bob@example.net", "carol@example.net"], 100))
        .await
        .expect("commit");
    let claimed = s.claim("n1", T0, 10, 600).await.expect("claim");
    let lease = |id: &QueueId| {
        claimed
            .iter()
            .find(|c| &c.lease.id == id)
            .expect("claimed")
            .lease
            .clone()
    };
    let (la, lb) = (lease(&a_id), lease(&b_id));

    let a = s
        .apply_and_remove(
            &la,
            DeliveryReport {
                id: a_id.clone(),
                updates: vec![final_update(0, RecipientState::Delivered, "250 ok")],
            },
            T0 + 1,
            notice_due,
        )
        .await
        .expect("apply");
    assert!(!a.removed, "the caller said a notice is due");
    let m = s.get(&a_id).await.expect("get").expect("kept");
    assert_eq!(m.recipients, a.records);
    assert_eq!(m.recipients[0].state, RecipientState::Delivered);
    let log = s.status_log(&a_id).await.expect("log");
    assert_eq!(log.len(), 2, "the report is logged for notify");
    assert_eq!(log[1].state, RecipientState::Delivered);
    s.release(&la).await.expect("the lease is kept");

    // Finished with a failure: the caller's test says no, so it stays for notify's bounce.
    let b = s
        .apply_and_remove(
            &lb,
            DeliveryReport {
                id: b_id.clone(),
                updates: vec![
                    final_update(0, RecipientState::Delivered, "250 ok"),
                    final_update(1, RecipientState::Failed, "550 5.1.1 no such user"),
                ],
            },
            T0 + 1,
            all_delivered,
        )
        .await
        .expect("apply");
    assert!(!b.removed);
    assert!(b.records.iter().all(|r| r.state.is_final()));
    let m = s.get(&b_id).await.expect("get").expect("kept");
    assert_eq!(m.recipients[1].state, RecipientState::Failed);
    assert_eq!(s.status_log(&b_id).await.expect("log").len(), 2 + 2);
    s.release(&lb).await.expect("the lease is kept");
}

/// Apply-and-remove follows apply's refusals: an invalid report or a lost lease changes
/// nothing and removes nothing, even when the report would have finished the message.
pub async fn apply_and_remove_refusals_change_nothing<F: Factory>(f: &F) {
    let s = f.open("apply_and_remove_refusals_change_nothing").await;
    let id = s
        .commit(message(3, &["bob@example.net", "carol@example.net"], 200))
        .await
        .expect("commit");
    let lease_a = s.claim("node-a", T0, 1, 60).await.expect("claim")[0]
        .lease
        .clone();
    let before = s.get(&id).await.expect("get").expect("message");
    let log_before = s.status_log(&id).await.expect("log");
    let finishing = || DeliveryReport {
        id: id.clone(),
        updates: vec![
            final_update(0, RecipientState::Delivered, "250 ok"),
            final_update(1, RecipientState::Delivered, "250 ok"),
        ],
    };

    let bad_reports = [
        vec![
            final_update(0, RecipientState::Delivered, "250 ok"),
            final_update(1, RecipientState::Delivered, "250 ok"),
            final_update(9, RecipientState::Delivered, "250 ok"),
        ],
        vec![
            final_update(0, RecipientState::Delivered, "250 ok"),
            final_update(1, RecipientState::Delivered, "250 ok"),
            final_update(1, RecipientState::Delivered, "250 ok"),
        ],
    ];
    for updates in bad_reports {
        match s
            .apply_and_remove(
                &lease_a,
                DeliveryReport {
                    id: id.clone(),
                    updates,
                },
                T0 + 1,
                all_delivered,
            )
            .await
        {
            Err(StoreError::InvalidReport { .. }) => {}
            other => panic!("invalid report must be refused, got {other:?}"),
        }
        assert_eq!(
            s.get(&id).await.expect("get"),
            Some(before.clone()),
            "a refused report changes and removes nothing"
        );
        assert_eq!(s.status_log(&id).await.expect("log"), log_before);
    }
    let other = QueueId("NOSUCHID".into());
    match s
        .apply_and_remove(
            &lease_a,
            DeliveryReport {
                id: other,
                updates: vec![final_update(0, RecipientState::Delivered, "250 ok")],
            },
            T0 + 1,
            all_delivered,
        )
        .await
    {
        Err(StoreError::InvalidReport { .. }) => {}
        other => panic!("a report for another message must be refused, got {other:?}"),
    }
    assert_eq!(s.get(&id).await.expect("get"), Some(before.clone()));

    // node-b takes over after the lease expired: node-a's finishing report is refused.
    let lease_b = s.claim("node-b", T0 + 60, 1, 60).await.expect("claim")[0]
        .lease
        .clone();
    match s
        .apply_and_remove(&lease_a, finishing(), T0 + 61, all_delivered)
        .await
    {
        Err(StoreError::LeaseLost(lost)) => assert_eq!(lost, id),
        other => panic!("a stale owner must get LeaseLost, got {other:?}"),
    }
    let m = s.get(&id).await.expect("get").expect("not removed");
    assert_eq!(m.recipients, before.recipients, "nothing changed");
    assert_eq!(m.lease.as_ref().map(|l| l.token), Some(lease_b.token));
    assert_eq!(s.status_log(&id).await.expect("log"), log_before);

    // The current owner's finishing report removes it; a second one finds no lease.
    let a = s
        .apply_and_remove(&lease_b, finishing(), T0 + 62, all_delivered)
        .await
        .expect("owner's report");
    assert!(a.removed);
    match s
        .apply_and_remove(&lease_b, finishing(), T0 + 63, all_delivered)
        .await
    {
        Err(StoreError::LeaseLost(_)) => {}
        other => panic!("a removed message's lease is void, got {other:?}"),
    }
}

/// The notices of a finished message and its removal are one write: all notices committed
/// and the message gone (status log and lease too), durably; a second call (another
/// handler, or a retry after a crash) finds no message and commits nothing.
pub async fn finish_with_notices_is_once<F: Factory>(f: &F) {
    let name = "finish_with_notices_is_once";
    let (id, ids) = {
        let s = f.open(name).await;
        let id = s
            .commit(message(1, &["a@example.net", "b@example.net"], 300))
            .await
            .expect("commit");
        let c = s.claim("n1", T0, 1, 600).await.expect("claim");
        let n1 = message(2, &["alice@example.org"], 100);
        let n2 = message(3, &["postmaster@example.org"], 120);
        let ids = s
            .finish_with_notices(&id, vec![n1.clone(), n2.clone()])
            .await
            .expect("finish")
            .expect("the message existed");
        assert_eq!(ids.len(), 2);
        for (nid, n) in ids.iter().zip([&n1, &n2]) {
            let got = s.get(nid).await.expect("get").expect("notice committed");
            assert_eq!(&got.content, &n.content);
            assert_eq!(&got.envelope, &n.envelope);
        }
        assert!(s.get(&id).await.expect("get").is_none(), "message removed");
        assert!(s.status_log(&id).await.expect("log").is_empty());
        assert!(
            s.renew(&c[0].lease, T0 + 1, 600).await.is_err(),
            "its lease is void"
        );
        let before = stored(&s).await;
        let again = s
            .finish_with_notices(&id, vec![message(4, &["alice@example.org"], 100)])
            .await
            .expect("finish again");
        assert_eq!(again, None, "a second call finds nothing");
        assert_eq!(stored(&s).await, before, "and commits nothing");
        (id, ids)
    };
    let s = f.open(name).await;
    assert!(
        s.get(&id).await.expect("get").is_none(),
        "gone after a reopen"
    );
    for nid in &ids {
        assert!(s.get(nid).await.expect("get").is_some(), "notices kept");
    }
}

/// Runs every function of the suite, each on its own store name.
pub async fn run_all<F: Factory>(f: &F) {
    commit_get_round_trip(f).await;
    list_filters_and_pages(f).await;
    claim_respects_due_time_and_max(f).await;
    lease_exclusivity_and_takeover(f).await;
    release_node_ends_its_leases(f).await;
    commit_claimed_is_committed_and_leased(f).await;
    report_after_commit_claimed_sees_later_changes(f).await;
    apply_is_atomic_and_logs(f).await;
    delete_removes_everything(f).await;
    hold_blocks_claims(f).await;
    concurrent_commits_all_visible(f).await;
    reopen_keeps_everything(f).await;
    retry_now_and_retry_all(f).await;
    fail_live_respects_leases(f).await;
    delay_notice_mark_is_once_and_durable(f).await;
    delay_notice_refused_once_finished(f).await;
    finish_with_notices_is_once(f).await;
    next_hop_dsn_is_recorded(f).await;
    apply_and_remove_removes_finished(f).await;
    apply_and_remove_keeps_when_notice_due(f).await;
    apply_and_remove_refusals_change_nothing(f).await;
}

/// Expands to one `#[tokio::test]` per suite function, each calling it with the factory
/// expression given (evaluated afresh in every test).
///
/// ```text
/// mailerd_store::all_tests!(MyFactory::new());
/// ```
#[macro_export]
macro_rules! all_tests {
    ($factory:expr) => {
        $crate::all_tests!(@each $factory;
            commit_get_round_trip,
            list_filters_and_pages,
            claim_respects_due_time_and_max,
            lease_exclusivity_and_takeover,
            release_node_ends_its_leases,
            commit_claimed_is_committed_and_leased,
            report_after_commit_claimed_sees_later_changes,
            apply_is_atomic_and_logs,
            delete_removes_everything,
            hold_blocks_claims,
            concurrent_commits_all_visible,
            reopen_keeps_everything,
            retry_now_and_retry_all,
            fail_live_respects_leases,
            delay_notice_mark_is_once_and_durable,
            delay_notice_refused_once_finished,
            finish_with_notices_is_once,
            next_hop_dsn_is_recorded,
            apply_and_remove_removes_finished,
            apply_and_remove_keeps_when_notice_due,
            apply_and_remove_refusals_change_nothing,
        );
    };
    (@each $factory:expr; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let f = $factory;
                $crate::conformance::$name(&f).await;
            }
        )*
    };
}
