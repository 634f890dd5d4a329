//! The golden cases shared by the notice tests.

use mailerd_notify::dsn::DEFAULT_FULL_LIMIT;
use mailerd_notify::{NoticeKind, NoticeRecipient, NoticeRequest, build};
use mailerd_types::{Category, DsnAction, EnhancedStatus, Ret, SmtpReply};

pub const NOW: u64 = 1_772_532_902; // Tue, 03 Mar 2026 10:15:02 +0000
pub const ORIGINAL: &[u8] = b"Return-Path: <alice@example.test>\r\nFrom: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: Quarterly figures\r\nDate: Tue, 03 Mar 2026 10:14:58 +0000\r\nMessage-ID: <orig-4821@example.test>\r\n\r\nHello Bob,\r\n\r\nthe figures are attached.\r\n";

/// One golden case: file stem, kind, category, status, reply (or our diagnosis).
pub struct Case {
    pub name: &'static str,
    pub kind: NoticeKind,
    pub category: Category,
    pub status: &'static str,
    pub reply: Option<&'static str>,
    pub diagnostic: Option<&'static str>,
    pub action: DsnAction,
}

pub fn cases() -> Vec<Case> {
    use Category as C;
    use NoticeKind::*;
    let f = |name, category, status, reply| Case {
        name,
        kind: Failure,
        category,
        status,
        reply: Some(reply),
        diagnostic: None,
        action: DsnAction::Failed,
    };
    vec![
        f(
            "address-not-found",
            C::AddressNotFound,
            "5.1.1",
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 double-checking the recipient's email address for typos or\r\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp",
        ),
        f(
            "inbox-full",
            C::InboxFull,
            "5.2.2",
            "552 5.2.2 <bob@example.org>: user is over quota",
        ),
        f(
            "message-blocked",
            C::MessageBlocked,
            "5.7.1",
            "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
        ),
        Case {
            name: "domain-not-found",
            kind: Failure,
            category: C::DomainNotFound,
            status: "5.1.2",
            reply: None,
            diagnostic: Some(
                "Host or domain name not found. Name service error for name=example.org type=MX: Host not found",
            ),
            action: DsnAction::Failed,
        },
        f(
            "message-too-large",
            C::MessageTooLarge,
            "5.3.4",
            "552 5.3.4 Message size exceeds fixed limit",
        ),
        f(
            "too-many-recipients",
            C::TooManyRecipients,
            "5.5.3",
            "550 5.5.3 Too many recipients",
        ),
        f(
            "sender-not-authenticated",
            C::SenderNotAuthenticated,
            "5.7.26",
            "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all\r\n550 5.7.26 senders to authenticate with either SPF or DKIM.",
        ),
        f(
            "relay-denied",
            C::RelayDenied,
            "5.7.1",
            "554 5.7.1 <bob@example.org>: Relay access denied",
        ),
        f(
            "tls-required",
            C::TlsRequired,
            "5.7.0",
            "530 5.7.0 Must issue a STARTTLS command first",
        ),
        Case {
            name: "message-expired",
            kind: Failure,
            category: C::MessageExpired,
            status: "4.4.7",
            reply: None,
            diagnostic: Some(
                "delivery time expired: connect to mx.example.org[192.0.2.1]:25: Connection timed out",
            ),
            action: DsnAction::Failed,
        },
        Case {
            name: "delay",
            kind: Delay,
            category: C::TemporaryProblem,
            status: "4.3.0",
            reply: Some("421 4.3.0 Temporary System Problem. Try again later."),
            diagnostic: None,
            action: DsnAction::Delayed,
        },
        Case {
            name: "success-delivered",
            kind: Success,
            category: C::Delivered,
            status: "2.0.0",
            reply: Some("250 2.0.0 Ok: queued as 4F2A"),
            diagnostic: None,
            action: DsnAction::Delivered,
        },
        Case {
            name: "double-bounce",
            kind: DoubleBounce,
            category: C::AddressNotFound,
            status: "5.1.1",
            reply: Some("550 5.1.1 <alice@example.test>: Recipient address rejected: User unknown"),
            diagnostic: None,
            action: DsnAction::Failed,
        },
        Case {
            name: "success-relayed",
            kind: Success,
            category: C::Delivered,
            status: "2.0.0",
            reply: Some("250 2.0.0 Ok: queued as 4F2B"),
            diagnostic: None,
            action: DsnAction::Relayed,
        },
    ]
}

pub fn notice(c: &Case) -> Vec<u8> {
    // A double bounce reports one of our notices (here the address-not-found one, sent back to
    // alice, whose server refused it) to the postmaster.
    let double = c.kind == NoticeKind::DoubleBounce;
    let failed_notice = if double {
        cases()
            .iter()
            .find(|c| c.name == "address-not-found")
            .map(notice)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let req = NoticeRequest {
        kind: c.kind,
        reporting_mta: "mx1.example.test",
        sender: if double {
            "postmaster@example.test"
        } else {
            "alice@example.test"
        },
        queue_id: "01JQ7Z4ABC",
        envid: (!double).then_some("QQ314159"),
        ret: if c.name == "message-too-large" {
            Some(Ret::Hdrs)
        } else {
            None
        },
        arrival_date: NOW - 4,
        now: NOW,
        original: if double { &failed_notice } else { ORIGINAL },
        full_limit: DEFAULT_FULL_LIMIT,
        recipients: vec![NoticeRecipient {
            final_recipient: if double {
                "alice@example.test".into()
            } else {
                "bob@example.org".into()
            },
            original_recipient: (!double).then(|| ("rfc822".into(), "Bob@example.org".into())),
            action: c.action,
            status: EnhancedStatus::parse(c.status).expect("status"),
            category: c.category,
            remote_mta: c.reply.map(|_| {
                if double {
                    "mx.example.test".to_string()
                } else {
                    "mx01.mail.example.org".to_string()
                }
            }),
            reply: c.reply.map(|r| SmtpReply::parse(r).expect("reply")),
            diagnostic: c.diagnostic.map(str::to_string),
            last_attempt: Some(NOW - 1),
            will_retry_until: (c.kind == NoticeKind::Delay).then_some(NOW + 5 * 86_400),
            failure_reported: true,
        }],
    };
    build(&req)
}
