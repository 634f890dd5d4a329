//! DATA framing: never panics, never buffers past the limit, the end of data is only ever
//! found right after CRLF.CRLF (or `.CRLF` at the very start), and however the input is cut
//! into reads the outcome is the same as feeding it one byte at a time (the receiver copies
//! runs of ordinary lines at once; this checks those runs against the plain state machine).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailerd_smtp::{DataReceiver, Feed};

/// Feeds `data` in chunks of `split` bytes: the content, the bytes consumed up to the end of
/// data (if it was found), the verdict and the size.
fn run(
    data: &[u8],
    split: usize,
    limit: u64,
) -> (Vec<u8>, Option<usize>, Result<(), String>, u64) {
    let mut r = DataReceiver::new(limit);
    let mut out = Vec::new();
    let mut consumed = 0;
    let mut done = None;
    for chunk in data.chunks(split) {
        match r.feed(chunk, &mut out) {
            Feed::More => consumed += chunk.len(),
            Feed::Done(n) => {
                done = Some(consumed + n);
                break;
            }
        }
    }
    let verdict = r.result().map_err(|e| e.to_string());
    (out, done, verdict, r.size())
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|&b| usize::from(b) + 1).unwrap_or(1);
    let limit = 300;
    let chunked = run(data, split, limit);
    if let Some(end) = chunked.1 {
        let seen = &data[..end];
        assert!(seen == b".\r\n" || seen.ends_with(b"\r\n.\r\n"));
    }
    assert!(chunked.0.len() as u64 <= limit);
    assert_eq!(chunked, run(data, 1, limit), "chunks of {split} against single bytes");
});
