//! Throughput check: analyses every file under the given directories N times, in memory.
//! `cargo run --release -p mailerd-analyze --example bench -- testdata/bounces 20`
use std::time::Instant;

fn walk(p: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                walk(&e.path(), out);
            }
        }
    } else if let Ok(b) = std::fs::read(p) {
        let name = p.to_string_lossy();
        if !name.ends_with(".tsv") && !name.ends_with(".md") {
            out.push(b);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("testdata/bounces");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut files = Vec::new();
    walk(std::path::Path::new(dir), &mut files);
    let t = Instant::now();
    let mut rows = 0usize;
    for _ in 0..n {
        for f in &files {
            rows += mailerd_analyze::analyze(f).recipients.len();
        }
    }
    let el = t.elapsed().as_secs_f64();
    let total = files.len() * n;
    println!(
        "{} files x {n} = {total} analyses in {el:.3}s: {:.0} emails/s ({rows} rows)",
        files.len(),
        total as f64 / el
    );
}
