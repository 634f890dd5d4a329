//! Golden notices: one per category, plus delay and success, compared byte for byte with the
//! files in `tests/golden/` (regenerate with `UPDATE_GOLDEN=1 cargo test -p mailerd-notify`),
//! and their MIME tree checked with an independent parser (mail-parser): the human part first.

use std::path::PathBuf;

mod common;

use common::{cases, notice};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use mailerd_notify::NoticeKind;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.eml"))
}

#[test]
fn notices_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for c in cases() {
        let got = notice(&c);
        let path = golden_path(c.name);
        if update {
            std::fs::write(&path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        assert!(
            got == want,
            "{} differs from its golden file; if the change is intended, run UPDATE_GOLDEN=1",
            c.name
        );
    }
}

#[test]
fn mime_tree_puts_the_human_part_first() {
    for c in cases() {
        let raw = notice(&c);
        let m = MessageParser::default().parse(&raw).expect("parse");
        let root = &m.parts[0];
        let ct = root.content_type().expect("content type");
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("report")),
            "{}",
            c.name
        );
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        let PartType::Multipart(children) = &root.body else {
            panic!("{}: root is not multipart", c.name)
        };
        assert_eq!(children.len(), 3, "{}", c.name);
        let first = &m.parts[children[0] as usize];
        let fct = first.content_type().expect("ct");
        assert_eq!(
            (fct.ctype(), fct.subtype()),
            ("multipart", Some("alternative")),
            "{}",
            c.name
        );
        let PartType::Multipart(alts) = &first.body else {
            panic!("alternative")
        };
        let plain = m.parts[alts[0] as usize].content_type().expect("ct");
        assert_eq!(plain.subtype(), Some("plain"));
        let second = m.parts[children[1] as usize].content_type().expect("ct");
        assert_eq!(
            (second.ctype(), second.subtype()),
            ("message", Some("delivery-status"))
        );
        let third = m.parts[children[2] as usize].content_type().expect("ct");
        let want = if matches!(c.kind, NoticeKind::Failure | NoticeKind::DoubleBounce)
            && c.name != "message-too-large"
        {
            ("message", "rfc822")
        } else {
            ("text", "rfc822-headers")
        };
        assert_eq!(
            (third.ctype(), third.subtype().unwrap_or("")),
            want,
            "{}",
            c.name
        );
        let text = m.body_text(0).expect("text body");
        if c.kind == NoticeKind::Failure {
            assert!(text.contains(c.category.headline()), "{}: {text}", c.name);
        }
        if let Some(r) = c.reply {
            let first_line = r.split("\r\n").next().unwrap_or("");
            assert!(
                text.contains(first_line),
                "{}: the reply must be quoted verbatim",
                c.name
            );
        }
        assert_eq!(
            m.subject(),
            Some(match c.kind {
                NoticeKind::Failure => "Delivery Status Notification (Failure)",
                NoticeKind::Delay => "Delivery Status Notification (Delay)",
                NoticeKind::Success => "Delivery Status Notification (Success)",
                NoticeKind::DoubleBounce => "Undeliverable notification (double bounce)",
            })
        );
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert!(
            raw.split(|&b| b == b'\n').all(|l| l.len() <= 998),
            "{}: line too long",
            c.name
        );
        assert!(
            !raw.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
            "{}: bare LF",
            c.name
        );
    }
}

/// Our own analyzer reads the delay notice as a delay (soft, still trying), the success
/// notices as successes with their action, and the double bounce as a failure of the address
/// our notice could not reach.
#[test]
fn the_analyzer_reads_delay_success_and_double_bounce_notices() {
    use mailerd_analyze::{Kind, analyze};
    use mailerd_types::DsnAction;
    let cases = cases();
    // (case, kind, recipient, action, status, permanent: only said of failures and delays)
    let expect = [
        (
            "delay",
            Kind::Delay,
            "bob@example.org",
            DsnAction::Delayed,
            "4.3.0",
            Some(false),
        ),
        (
            "success-delivered",
            Kind::Success,
            "bob@example.org",
            DsnAction::Delivered,
            "2.0.0",
            None,
        ),
        (
            "success-relayed",
            Kind::Success,
            "bob@example.org",
            DsnAction::Relayed,
            "2.0.0",
            None,
        ),
        (
            "double-bounce",
            Kind::Bounce,
            "alice@example.test",
            DsnAction::Failed,
            "5.1.1",
            Some(true),
        ),
    ];
    for (name, kind, rcpt, action, status, permanent) in expect {
        let c = cases.iter().find(|c| c.name == name).expect("case");
        let a = analyze(&notice(c));
        assert_eq!(a.kind, kind, "{name}");
        assert_eq!(a.recipients.len(), 1, "{name}");
        let r = &a.recipients[0];
        assert_eq!(r.recipient, rcpt, "{name}");
        assert_eq!(r.action, Some(action), "{name}");
        assert_eq!(
            r.status.map(|s| s.to_string()).as_deref(),
            Some(status),
            "{name}"
        );
        if let Some(p) = permanent {
            assert_eq!(r.permanent, p, "{name}");
        }
        assert_eq!(
            r.hard_bounce,
            name == "double-bounce",
            "{name}: hard bounce"
        );
        // The retry deadline our delay notice writes is read back (and shown by explain).
        assert_eq!(
            r.will_retry_until.as_deref(),
            (name == "delay")
                .then(|| mailerd_types::rfc5322_date(common::NOW + 5 * 86_400))
                .as_deref(),
            "{name}: will retry until"
        );
    }
}
