//! Any bytes into the bounce analyzer: it must never panic, and every recipient it reports
//! must be consistent (a permanent failure has a permanent status when it has one).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let a = mailerd_analyze::analyze(data);
    if let Some(d) = &a.date {
        let _ = mailerd_analyze::timestamp(d);
    }
    for r in &a.recipients {
        let _ = r.category.headline();
        let _ = r.status.map(|s| s.to_string());
    }
});
