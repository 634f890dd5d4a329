//! Command lines and AUTH responses: the line reader, the command parser and the SASL
//! decoders must never panic, and replies to errors must be well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailerd_smtp::{LineEvent, LineReader, parse_command, sasl};

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
    // AUTH responses are network data too.
    if let Ok(decoded) = sasl::decode_response(data) {
        let _ = sasl::decode_plain(&decoded);
        let _ = sasl::decode_login_field(&decoded);
    }
    let _ = sasl::decode_plain(data);
});
