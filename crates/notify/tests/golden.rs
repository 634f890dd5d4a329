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
        let want = if c.kind == NoticeKind::Failure && c.name != "message-too-large" {
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
