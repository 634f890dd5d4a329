//! DATA framing: never panics, never buffers past the limit, and the end of data is only ever
//! found right after CRLF.CRLF (or `.CRLF` at the very start).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailerd_smtp::{DataReceiver, Feed};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|&b| usize::from(b) + 1).unwrap_or(1);
    let limit = 300;
    let mut r = DataReceiver::new(limit);
    let mut out = Vec::new();
    let mut consumed = 0;
    for chunk in data.chunks(split) {
        match r.feed(chunk, &mut out) {
            Feed::More => consumed += chunk.len(),
            Feed::Done(n) => {
                consumed += n;
                let seen = &data[..consumed];
                assert!(seen == b".\r\n" || seen.ends_with(b"\r\n.\r\n"));
                break;
            }
        }
    }
    assert!(out.len() as u64 <= limit);
});
