//! Notices in shapes the corpora lack (`tests/data/notices/`, see its README): each must
//! yield its failed recipient, the reason and human category its words give, and the part
//! of the text that is the remote server's answer (not the notice's wrapper around it).

use mailerd_analyze::{Kind, analyze};

/// file, recipient, reason, category key, kind, words the diagnostic must hold
const CASES: &[(&str, &str, &str, &str, Kind, &str)] = &[
    (
        "mdaemon",
        "bob@remote.test",
        "userunknown",
        "address-not-found",
        Kind::Bounce,
        "550 5.1.1 <bob@remote.test>: Recipient address rejected",
    ),
    (
        "hmailserver",
        "bob@remote.test",
        "mailboxfull",
        "inbox-full",
        Kind::Bounce,
        "552 5.2.2 <bob@remote.test>: user is over quota",
    ),
    (
        "smartermail",
        "bob@remote.test",
        "blocked",
        "message-blocked",
        Kind::Bounce,
        "blocked using zen.spamhaus.org",
    ),
    (
        "communigate",
        "bob@remote.test",
        "userunknown",
        "address-not-found",
        Kind::Bounce,
        "550 5.1.1 Unknown user",
    ),
    (
        "mailenable",
        "bob@remote.test",
        "userunknown",
        "address-not-found",
        Kind::Bounce,
        "550 5.1.1 No such user",
    ),
    (
        "icewarp",
        "bob@remote.test",
        "spamdetected",
        "message-blocked",
        Kind::Bounce,
        "554 5.7.1 Message rejected because of unacceptable content",
    ),
    (
        "barracuda",
        "bob@remote.test",
        "spamdetected",
        "message-blocked",
        Kind::Bounce,
        "this message looks like spam",
    ),
    (
        "sophos",
        "bob@remote.test",
        "userunknown",
        "address-not-found",
        Kind::Bounce,
        "User unknown",
    ),
    (
        "exchange2010",
        "bob@remote.test",
        "mailboxfull",
        "inbox-full",
        Kind::Bounce,
        "550 5.2.2 STOREDRV.Deliver: mailbox full",
    ),
    (
        "firstclass",
        "bob@remote.test",
        // Sisimai's reading of a bare 550 "Unknown user" with no command named: a filter's
        // refusal; the category a person sees is still "Address not found".
        "filtered",
        "address-not-found",
        Kind::Bounce,
        "550 Unknown user",
    ),
    (
        "mercury",
        "bob@remote.test",
        "mailboxfull",
        "inbox-full",
        Kind::Bounce,
        "550 Mailbox bob is over its storage limit.",
    ),
    (
        "gw-delay",
        "bob@remote.test",
        "systemerror",
        "temporary-problem",
        Kind::Delay,
        "421 4.7.0 Try again later",
    ),
    (
        "kerio",
        "bob@remote.test",
        "userunknown",
        "address-not-found",
        Kind::Bounce,
        "550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown",
    ),
    (
        "postfix-de",
        "carol@remote.test",
        "mailboxfull",
        "inbox-full",
        Kind::Bounce,
        "552 5.2.2 <carol@remote.test>: Mailbox voll",
    ),
    (
        "o365-text",
        "dave@remote.test",
        "securityerror",
        "message-blocked",
        Kind::Bounce,
        "554 5.7.1 <dave@remote.test>: Recipient address rejected: Access denied",
    ),
    (
        "sendmail-delay",
        "ivan@remote.test",
        "expired",
        "temporary-problem",
        Kind::Delay,
        "Deferred: Connection timed out with mx.remote.test",
    ),
    (
        "exchange-de",
        "bob@remote.test",
        "mailboxfull",
        "inbox-full",
        Kind::Bounce,
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException",
    ),
    (
        "exchange-fr",
        "carol@remote.test",
        "userunknown",
        "address-not-found",
        Kind::Bounce,
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound",
    ),
    (
        "exchange-es",
        "dave@remote.test",
        "blocked",
        "message-blocked",
        Kind::Bounce,
        "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    ),
    // The address does not exist, in Chinese and in Russian; with no SMTP command named and
    // a status that is not X.1.x, the reason is Sisimai's `filtered` (as Sisimai says), the
    // category the person sees is the notice's.
    (
        "qq-zh",
        "erin@remote.test",
        "filtered",
        "address-not-found",
        Kind::Bounce,
        "收件人邮箱不存在 (550 Mailbox not found or access denied)",
    ),
    (
        "yandex-ru",
        "frank@remote.test",
        "filtered",
        "address-not-found",
        Kind::Bounce,
        "550 5.7.1 No such user!",
    ),
];

/// Notices that list several recipients, each with its own answer: Stalwart's `- <addr>
/// (host ... rejected command ... with code 550 (5.1.1) '...')` items (one indentation for
/// all, which an indented continuation line must not swallow) and an Exim notice with a
/// retry timeout and cPanel's own sentence.
#[test]
fn lists_of_recipients_each_with_its_answer() {
    let dir = format!("{}/tests/data/notices", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| analyze(&std::fs::read(format!("{dir}/{f}")).expect("notice file"));
    let rows = |f: &str| -> Vec<(String, String, Option<u16>)> {
        read(f)
            .recipients
            .iter()
            .map(|r| (r.recipient.clone(), r.reason.to_string(), r.reply_code))
            .collect()
    };
    let s = |a: &str, r: &str, c: Option<u16>| (a.to_string(), r.to_string(), c);
    assert_eq!(
        rows("stalwart.eml"),
        [
            s("erin@remote.test", "userunknown", Some(550)),
            s("frank@remote.test", "mailboxfull", Some(552))
        ]
    );
    let a = read("stalwart.eml");
    // Stalwart's account of the reply is shown as the server wrote it, its host as the
    // remote MTA.
    let diag: Vec<Option<&str>> = a
        .recipients
        .iter()
        .map(|r| r.diagnostic.as_deref())
        .collect();
    assert_eq!(
        diag,
        [
            Some("550 5.1.1 Mailbox does not exist"),
            Some("552 5.2.2 Mailbox over quota")
        ]
    );
    assert_eq!(
        a.recipients[0].remote_mta.as_deref(),
        Some("mx.remote.test")
    );
    assert_eq!(
        rows("exim-retry.eml"),
        [
            s("grace@remote.test", "expired", None),
            s("heidi@remote.test", "hostunknown", None)
        ]
    );
}

#[test]
fn notices_in_shapes_the_corpora_lack() {
    let dir = format!("{}/tests/data/notices", env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for (file, recipient, reason, category, kind, words) in CASES {
        let raw = std::fs::read(format!("{dir}/{file}.eml")).expect("notice file");
        let a = analyze(&raw);
        let got = a.recipients.first();
        let seen = (
            a.kind,
            got.map(|r| r.recipient.clone()).unwrap_or_default(),
            got.map(|r| r.reason.to_string()).unwrap_or_default(),
            got.map(|r| r.category.key().to_string())
                .unwrap_or_default(),
            got.and_then(|r| r.diagnostic.clone()).unwrap_or_default(),
        );
        if seen.0 != *kind
            || seen.1 != *recipient
            || seen.2 != *reason
            || seen.3 != *category
            || !seen.4.contains(words)
            || a.recipients.len() != 1
        {
            failures.push(format!(
                "{file}: got {seen:?}, {} recipients",
                a.recipients.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// What a person does with a bounce: pastes its text (no header at all) into `mailerd
/// explain -`, or forwards it, attached or inline, with a question above it.
#[test]
fn pasted_and_forwarded_notices() {
    let dir = format!("{}/tests/data/notices", env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| analyze(&std::fs::read(format!("{dir}/{f}")).expect("notice file"));
    for (file, reason, diagnostic) in [
        (
            "pasted-gmail.txt",
            "userunknown",
            "550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown in virtual alias table",
        ),
        (
            "pasted-postfix.txt",
            "mailboxfull",
            "552 5.2.2 <bob@remote.test>: Mailbox full",
        ),
        (
            "fwd-attached.eml",
            "mailboxfull",
            "552 5.2.2 <bob@remote.test>: user is over quota",
        ),
        (
            "fwd-inline.eml",
            "userunknown",
            "550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown in virtual alias table",
        ),
    ] {
        let a = read(file);
        assert_eq!(a.kind, Kind::Bounce, "{file}");
        assert_eq!(a.recipients.len(), 1, "{file}");
        let r = &a.recipients[0];
        assert_eq!(r.recipient, "bob@remote.test", "{file}");
        assert_eq!(r.reason.to_string(), reason, "{file}");
        assert_eq!(r.diagnostic.as_deref(), Some(diagnostic), "{file}");
    }
    // The header block under `Forwarded message` is the notice's own (a daemon's From, a
    // bounce's Subject), not the returned original's.
    let a = read("fwd-inline.eml");
    assert!(a.original.is_none(), "{:?}", a.original);
}

/// An automatic reply carries its own words: where it says to write instead.
#[test]
fn an_automatic_reply_says_what_it_says() {
    let dir = format!("{}/tests/data/notices", env!("CARGO_MANIFEST_DIR"));
    let a = analyze(&std::fs::read(format!("{dir}/autoreply-no-longer.eml")).expect("file"));
    assert_eq!(a.kind, Kind::AutoReply);
    // its words ("no longer in use") do not turn it into a failure
    assert_eq!(a.recipients[0].reason.to_string(), "vacation");
    let d = a.recipients[0].diagnostic.as_deref().unwrap_or_default();
    assert!(
        d.contains("no longer in use") && d.contains("robert@newco.test"),
        "{d}"
    );
}
