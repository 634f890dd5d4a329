//! The analyzer must answer for any bytes: every corpus file truncated at several points and
//! with random bytes flipped, plus a synthetic 20 MB bounce analysed in bounded time.
//! No panics allowed; results are not checked here (the corpus scores do that), except that
//! leaving authenticity out (`analyze_with`) changes nothing else.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mailerd_analyze::{Options, Verdict, analyze, analyze_with};

fn corpus_files() -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                walk(&e, out);
            } else if !e.extension().is_some_and(|x| x == "tsv" || x == "md") {
                out.push(e);
            }
        }
    }
    // the shared corpora's copies, the bounces real MTAs wrote for us
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let mut out = Vec::new();
    walk(&root.join("bounces"), &mut out);
    walk(&root.join("bounces-generated"), &mut out);
    // and the notices written for the shapes the corpora lack
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/notices"),
        &mut out,
    );
    out
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

#[test]
fn truncated_corpus_files_do_not_panic() {
    let files = corpus_files();
    assert!(files.len() > 100, "corpus not found: {}", files.len());
    for f in &files {
        let Ok(b) = std::fs::read(f) else { continue };
        let n = b.len();
        for cut in [n / 10, n / 2, n * 9 / 10, 1, 7, 333, n.saturating_sub(1)] {
            let _ = analyze(&b[..cut.min(n)]);
        }
    }
}

#[test]
fn mutated_corpus_files_do_not_panic() {
    let files = corpus_files();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (i, f) in files.iter().enumerate() {
        let Ok(mut b) = std::fs::read(f) else {
            continue;
        };
        if b.is_empty() {
            continue;
        }
        // Fewer rounds per file in debug builds keep the test quick.
        let rounds = if cfg!(debug_assertions) { 2 } else { 8 };
        for _ in 0..rounds {
            let flips = 1 + rng.below(16);
            for _ in 0..flips {
                let at = rng.below(b.len());
                b[at] = match rng.below(4) {
                    0 => rng.next() as u8,
                    1 => b'\n',
                    2 => 0xC3, // a lone UTF-8 lead byte
                    _ => b':',
                };
            }
            // (the notice's Date, whatever it became, goes through the date reader too)
            if let Some(d) = analyze(&b).date {
                let _ = mailerd_analyze::timestamp(&d);
            }
        }
        // Every 10th file also with its line breaks turned into CR only.
        if i % 10 == 0 {
            let cr: Vec<u8> = b
                .iter()
                .map(|&c| if c == b'\n' { b'\r' } else { c })
                .collect();
            let _ = analyze(&cr);
        }
    }
}

#[test]
fn garbage_does_not_panic() {
    let mut rng = Rng(42);
    for len in [0usize, 1, 2, 3, 10, 100, 1000, 10_000] {
        let b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let a = analyze(&b);
        // random bytes are not a bounce
        assert!(
            a.recipients.is_empty(),
            "{len} random bytes gave {:?}",
            a.recipients
        );
    }
    for s in [
        &b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822;\nAction:\nStatus: 5.\n--x--"[..],
        b"From: MAILER-DAEMON@x.org\nSubject: Undelivered\n\n<@>: said: 550 5.1.1 <a@>\n",
        b"Subject: \xff\xfe\n\n\xff\xfe\xfd said: 5",
        b"\r\r\r\r",
        b"From \n",
    ] {
        let _ = analyze(s);
    }
}

/// A 20 MB bounce: a Postfix-style text part with a huge body, a delivery-status part, and a
/// huge base64 attachment. Must finish in bounded time (a sanity guard, generous for debug).
#[test]
fn twenty_megabytes_in_bounded_time() {
    let mut m = String::with_capacity(21 << 20);
    m.push_str("From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\nTo: sender@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\n");
    m.push_str("<a@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 unknown (in reply to RCPT TO command)\r\n\r\n");
    let line =
        "said: 550 lorem ipsum <x@example.net> dolor sit amet http://example.com/ ------ \r\n";
    while m.len() < 8 << 20 {
        m.push_str(line);
    }
    m.push_str("--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n");
    m.push_str("--BB\r\nContent-Type: application/octet-stream; name=\"x.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    let b64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    while m.len() < 20 << 20 {
        m.push_str(b64);
    }
    m.push_str("--BB--\r\n");
    let t = Instant::now();
    let a = analyze(m.as_bytes());
    let took = t.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(a.recipients.len(), 1);
    assert_eq!(a.recipients[0].recipient, "a@example.net");

    // The same size as one plain text body without any structure.
    let mut p = String::with_capacity(21 << 20);
    p.push_str("From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\n");
    let l2 = "<b@example.net>: 550 5.1.1 no such user Original message follows: To: a@b.c\n";
    while p.len() < 20 << 20 {
        p.push_str(l2);
    }
    let t = Instant::now();
    let _ = analyze(p.as_bytes());
    let took = t.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // One 20 MB line full of markers, addresses and codes: no quadratic scans.
    let mut q = String::with_capacity(21 << 20);
    q.push_str("From: MAILER-DAEMON@mx.example.org\nSubject: failure notice\n\n");
    let l3 =
        "----- original message ----- a@b.example said: 550 5.1.1 <c@d.example> http://x.example/ ";
    while q.len() < 20 << 20 {
        q.push_str(l3);
    }
    let t = Instant::now();
    let _ = analyze(q.as_bytes());
    let took = t.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// Inputs the fuzzer found (`fuzz/`), kept as regression tests.
#[test]
fn fuzzer_findings_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let findings: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("fuzz-"))
        })
        .collect();
    assert!(!findings.is_empty(), "the fuzz findings are in tests/data");
    for path in findings {
        let raw = std::fs::read(&path).expect("fuzz finding");
        let a = mailerd_analyze::analyze(&raw);
        let _ = a.kind;
    }
}

#[test]
fn without_authenticity_every_other_fact_is_the_same() {
    let mut assessed = 0;
    for f in corpus_files() {
        let raw = std::fs::read(&f).expect("corpus file");
        let full = analyze(&raw);
        let mut lean = analyze_with(
            &raw,
            Options {
                authenticity: false,
            },
        );
        assert_eq!(lean.authenticity.verdict, Verdict::Unknown, "{f:?}");
        assert_eq!(lean.authenticity.score, 0, "{f:?}");
        assert!(lean.authenticity.reasons.is_empty(), "{f:?}");
        assessed += usize::from(full.authenticity.verdict != Verdict::Unknown);
        lean.authenticity = full.authenticity.clone();
        assert_eq!(lean, full, "{f:?}");
    }
    // The corpus has verdicts to leave out, or this test would prove nothing.
    assert!(assessed > 100, "only {assessed} files had a verdict");
}
