//! Any bytes into the analyzer's MIME reader (`mailerd_analyze::mail`): parsing and every
//! accessor (headers, structured values, each part's content type, name, problem flag and
//! decoded body, attached messages down to a few levels) must never panic, and the raw body
//! it hands out must lie within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailerd_analyze::mail::{Body, Message};

fn walk(m: &Message<'_>, depth: usize) {
    let _ = m.subject();
    let _ = m.message_id();
    let _ = (m.from(), m.to(), m.cc());
    let _ = m.raw_headers(["Received", "Date", "X-Failed-Recipients", "Precedence"]);
    let _ = m.raw_values("Received").count();
    let _ = m.texts_raw("X-Failed-Recipients").count();
    assert!(m.root_body_raw().len() <= m.raw_bytes().len());
    for p in m.parts() {
        let _ = p.ctype();
        let _ = p.content_type();
        let _ = p.content_disposition();
        let _ = p.content_id();
        let _ = p.content_transfer_encoding();
        let _ = p.attachment_name();
        let _ = p.problem();
        let _ = p.is_multipart();
        match p.body() {
            Body::Message(inner) if depth < 4 => walk(inner, depth + 1),
            Body::Text(t) | Body::Html(t) => {
                let _ = t.len();
            }
            Body::Binary(b) => {
                let _ = b.len();
            }
            _ => {}
        }
        if let Some(inner) = p.message()
            && depth < 4
        {
            let _ = inner.subject();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(m) = Message::parse(data) {
        walk(&m, 0);
    }
    if let Some(m) = Message::parse_headers(data) {
        walk(&m, 0);
    }
});
