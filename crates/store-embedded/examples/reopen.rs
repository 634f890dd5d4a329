//! Opens a store file and reports how long the open took (after a crash this includes redb's
//! repair) and what the queue holds.
//!
//! ```text
//! cargo run --release -p mailerd-store-embedded --example reopen -- PATH [--read-only]
//! ```

use std::time::Instant;

use mailerd_store::{ListFilter, Store};
use mailerd_store_embedded::EmbeddedStore;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: reopen PATH [--read-only]");
        std::process::exit(2);
    };
    let read_only = args.next().is_some_and(|a| a == "--read-only");
    let t = Instant::now();
    let store = if read_only {
        EmbeddedStore::open_read_only(&path)
    } else {
        EmbeddedStore::open(&path)
    };
    let store = match store {
        Ok(s) => s,
        Err(e) => {
            eprintln!("open failed after {:?}: {e}", t.elapsed());
            std::process::exit(1);
        }
    };
    let opened = t.elapsed();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let t = Instant::now();
    let listed = rt
        .block_on(store.list(&ListFilter {
            include_done: true,
            ..Default::default()
        }))
        .expect("list");
    println!(
        "open={opened:?} list={:?} messages={} corrupt={}",
        t.elapsed(),
        listed.messages.len(),
        listed.corrupt.len()
    );
}
