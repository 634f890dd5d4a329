//! Local Maildir delivery through `Deliverer::deliver` on a temporary directory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use mailerd_deliver::{DeliverConfig, Deliverer, Mailbox, MailboxTable, StaticResolver};
use mailerd_types::{NextHop, Outcome, Stage};

fn files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn setup(quota: Option<u64>, temporary: bool) -> (tempfile::TempDir, Deliverer, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("bob").join("Maildir");
    let mut users = MailboxTable::new();
    users.insert(
        "Bob@local.test",
        Mailbox {
            path: md.clone(),
            quota,
        },
    );
    let cfg = DeliverConfig {
        hostname: "mail.local.test".into(),
        over_quota_is_temporary: temporary,
        ..Default::default()
    };
    let d = Deliverer::new(cfg, Arc::new(StaticResolver::new()), Arc::new(users));
    (dir, d, md)
}

const MSG: &str = "Subject: hello\r\n\r\nbody line\r\n";

#[tokio::test]
async fn delivery_writes_one_file_in_new_with_the_added_headers() {
    let (_dir, d, md) = setup(None, false);
    let rep = d
        .deliver(&request(NextHop::Local, &["bob@local.test"], MSG))
        .await;
    assert!(
        matches!(rep.recipients[0].outcome, Outcome::Delivered { .. }),
        "{:?}",
        rep.recipients[0].outcome
    );
    let new = files(&md.join("new"));
    assert_eq!(new.len(), 1);
    assert!(files(&md.join("tmp")).is_empty(), "nothing left in tmp/");
    assert!(files(&md.join("cur")).is_empty());
    let bytes = std::fs::read(&new[0]).expect("read");
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        format!("Return-Path: <alice@sender.test>\r\nDelivered-To: bob@local.test\r\n{MSG}")
    );
    let name = new[0]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.ends_with(&format!(",S={}", bytes.len())),
        "size in the name: {name}"
    );
}

#[tokio::test]
async fn over_quota_is_552_5_2_2_and_writes_nothing() {
    let (_dir, d, md) = setup(Some(150), false);
    let req = request(NextHop::Local, &["bob@local.test"], MSG);
    // The first message fits (about 100 bytes), the second does not.
    let rep = d.deliver(&req).await;
    assert!(matches!(
        rep.recipients[0].outcome,
        Outcome::Delivered { .. }
    ));
    let rep = d.deliver(&req).await;
    let Outcome::Permanent(detail) = &rep.recipients[0].outcome else {
        panic!("permanent expected: {:?}", rep.recipients[0].outcome);
    };
    assert_eq!(detail.status.to_string(), "5.2.2");
    assert_eq!(detail.stage, Stage::Local);
    assert_eq!(
        detail.reply.as_ref().map(|r| r.to_string()).as_deref(),
        Some("552 5.2.2 <bob@local.test>: user is over quota")
    );
    assert_eq!(files(&md.join("new")).len(), 1);
    assert!(files(&md.join("tmp")).is_empty());
}

#[tokio::test]
async fn over_quota_can_be_temporary_452_4_2_2() {
    let (_dir, d, _md) = setup(Some(10), true);
    let rep = d
        .deliver(&request(NextHop::Local, &["bob@local.test"], MSG))
        .await;
    assert_eq!(
        summary(&rep.recipients[0].outcome),
        ("temporary", "4.2.2".into(), Some(452))
    );
}

#[tokio::test]
async fn unknown_local_user_is_5_1_1_and_others_still_delivered() {
    let (_dir, d, md) = setup(None, false);
    let rep = d
        .deliver(&request(
            NextHop::Local,
            &["nobody@local.test", "bob@local.test"],
            MSG,
        ))
        .await;
    assert_eq!(
        summary(&rep.recipients[0].outcome),
        ("permanent", "5.1.1".into(), Some(550))
    );
    assert!(matches!(
        rep.recipients[1].outcome,
        Outcome::Delivered { .. }
    ));
    assert_eq!(files(&md.join("new")).len(), 1);
}

#[tokio::test]
async fn a_message_already_delivered_to_the_recipient_is_a_loop() {
    let (_dir, d, md) = setup(None, false);
    let looped = format!("Delivered-To: bob@local.test\r\n{MSG}");
    let rep = d
        .deliver(&request(NextHop::Local, &["bob@local.test"], &looped))
        .await;
    assert_eq!(
        summary(&rep.recipients[0].outcome),
        ("permanent", "5.4.6".into(), Some(554))
    );
    assert!(files(&md.join("new")).is_empty());
}
