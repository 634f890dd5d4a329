//! `mail::Message` reads every corpus file as mail-parser 0.11 did (the parser the analyzer
//! used before it): the same parts in the same order, the same content types, problem flags
//! and decoded bodies, the same attached messages (recursively), and the same values of the
//! headers the analyzer reads.

use std::path::{Path, PathBuf};

use mail_parser::{HeaderName, MessageParser, MimeHeaders, PartType};
use mailerd_analyze::mail::{Body, Message};

fn reference_parser() -> MessageParser {
    MessageParser::new()
        .with_mime_headers()
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .header_text(HeaderName::Subject)
        .header_id(HeaderName::MessageId)
        .header_raw(HeaderName::Other("X-Failed-Recipients".into()))
        .default_header_ignore()
}

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bounces");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("corpus dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "eml" || x == "msg" || x == "txt")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn ctype_of(p: &mail_parser::MessagePart<'_>) -> Option<String> {
    p.content_type()
        .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase())
}

fn addrs(a: Option<&mail_parser::Address<'_>>) -> Vec<(Option<String>, Option<String>)> {
    a.map(|a| {
        a.iter()
            .map(|x| {
                (
                    x.name.as_deref().map(str::to_string),
                    x.address.as_deref().map(str::to_string),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

fn compare(name: &str, want: &mail_parser::Message<'_>, got: &Message<'_>) {
    assert_eq!(
        want.subject().map(str::to_string),
        got.subject().map(|s| s.into_owned()),
        "{name}: subject"
    );
    assert_eq!(
        want.message_id().map(str::to_string),
        got.message_id().map(|s| s.into_owned()),
        "{name}: message-id"
    );
    assert_eq!(
        addrs(want.from()),
        addrs(got.from().as_ref()),
        "{name}: from"
    );
    assert_eq!(addrs(want.to()), addrs(got.to().as_ref()), "{name}: to");
    assert_eq!(addrs(want.cc()), addrs(got.cc().as_ref()), "{name}: cc");
    for h in [
        "Received",
        "Date",
        "Return-Path",
        "List-Id",
        "Auto-Submitted",
        "From",
    ] {
        assert_eq!(want.header_raw(h), got.header_raw(h), "{name}: {h}");
    }
    let got_parts: Vec<_> = got.parts().collect();
    assert_eq!(want.parts.len(), got_parts.len(), "{name}: number of parts");
    for (i, (w, g)) in want.parts.iter().zip(&got_parts).enumerate() {
        let at = format!("{name}: part {i}");
        assert_eq!(
            ctype_of(w),
            g.ctype().map(str::to_string),
            "{at}: content type"
        );
        assert_eq!(w.is_encoding_problem, g.problem(), "{at}: problem");
        assert_eq!(
            w.attachment_name().map(str::to_string),
            g.attachment_name().map(|n| n.into_owned()),
            "{at}: name"
        );
        match (&w.body, g.body()) {
            (PartType::Multipart(_), Body::Multipart) => {}
            (PartType::Text(a), Body::Text(b)) | (PartType::Html(a), Body::Html(b)) => {
                assert_eq!(a.as_ref(), b.as_ref(), "{at}: text")
            }
            (PartType::Binary(a) | PartType::InlineBinary(a), Body::Binary(b)) => {
                assert_eq!(a.as_ref(), b.as_ref(), "{at}: bytes")
            }
            (PartType::Message(a), Body::Message(b)) => compare(&format!("{at} (attached)"), a, b),
            (a, _) => panic!("{at}: body kind differs (mail-parser: {a:?})"),
        }
        if i == 0 {
            let raw = want.raw_message();
            // As the analyzer read it: clamped to the buffer.
            let s = (w.offset_body as usize).min(raw.len());
            let e = (w.offset_end as usize).clamp(s, raw.len());
            assert_eq!(raw.get(s..e), Some(got.root_body_raw()), "{at}: raw body");
        }
    }
}

#[test]
fn every_corpus_file_reads_as_mail_parser_read_it() {
    let parser = reference_parser();
    let files = corpus_files();
    assert!(files.len() > 600, "corpus missing");
    for f in files {
        let raw = std::fs::read(&f).expect("read");
        let name = f.display().to_string();
        let want = parser.parse(&raw[..]);
        let got = Message::parse(&raw[..]);
        match (want, got) {
            (None, None) => {}
            (Some(w), Some(g)) => compare(&name, &w, &g),
            (w, g) => panic!("{name}: parsed {} / {}", w.is_some(), g.is_some()),
        }
    }
}
