//! Command lines: the line reader and the command parser must never panic, and replies to
//! errors must be well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailerd_smtp::{LineEvent, LineReader, parse_command};

fuzz_target!(|data: &[u8]| {
    let mut reader = LineReader::new(512);
    let mut buf = Vec::new();
    for chunk in data.chunks(37) {
        buf.extend_from_slice(chunk);
        while let Some(ev) = reader.next_line(&mut buf) {
            if let LineEvent::Line(line) = ev {
                assert!(line.len() <= 512);
                if let Err(e) = parse_command(&line) {
                    let wire = e.reply().to_wire();
                    assert!(wire.ends_with(b"\r\n"));
                }
            }
        }
    }
    let _ = parse_command(data);
});
