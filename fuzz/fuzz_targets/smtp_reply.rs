//! Any text into the SMTP reply and enhanced status parsers: never panic; a parsed reply
//! survives a round trip through its wire form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailerd_types::{EnhancedStatus, SmtpReply};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let _ = EnhancedStatus::find(&s);
    if let Ok(r) = SmtpReply::parse(&s) {
        let again = SmtpReply::parse(&r.to_wire()).expect("wire form of a parsed reply parses");
        assert_eq!(again.code, r.code);
    }
});
