//! Accuracy on `testdata/bounces-generated/`: bounces written by real MTAs (Postfix, Exim,
//! ...) run by `scripts/gen-mta-bounces.sh` against a scripted next hop, labelled from the
//! script's cases (never from our output). Per MTA, each measure has a ratchet: what the
//! analyzer scored when it was last raised. Never lower one; raise them as the analyzer
//! improves. An MTA's delay warnings (module `MTA-warnings`) are scored apart from its
//! failure notices.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use mailerd_analyze::analyze;

/// Per MTA: found, status, reason, hardbounce, action, category, kind (percent of expected
/// rows).
const RATCHETS: &[(&str, [f64; 7])] = &[
    ("courier", [100.0, 100.0, 94.3, 100.0, 100.0, 100.0, 100.0]),
    (
        "courier-warnings",
        [100.0, 100.0, 85.7, 100.0, 100.0, 100.0, 100.0],
    ),
    ("dma", [100.0, 100.0, 97.1, 100.0, 100.0, 100.0, 100.0]),
    ("exim", [100.0, 100.0, 97.2, 100.0, 100.0, 100.0, 100.0]),
    (
        "exim-warnings",
        [100.0, 100.0, 87.5, 100.0, 100.0, 100.0, 100.0],
    ),
    ("haraka", [100.0, 96.8, 90.3, 96.8, 100.0, 100.0, 100.0]),
    (
        "nullmailer",
        [100.0, 100.0, 90.0, 96.7, 100.0, 100.0, 100.0],
    ),
    ("opensmtpd", [100.0, 100.0, 94.4, 97.2, 100.0, 100.0, 100.0]),
    (
        "opensmtpd-warnings",
        [100.0, 100.0, 87.5, 100.0, 100.0, 100.0, 100.0],
    ),
    ("postfix", [100.0, 100.0, 91.7, 100.0, 100.0, 100.0, 100.0]),
    (
        "postfix-retry",
        [100.0, 100.0, 91.7, 100.0, 100.0, 100.0, 100.0],
    ),
    (
        "postfix-retry-warnings",
        [100.0, 100.0, 87.5, 100.0, 100.0, 100.0, 100.0],
    ),
    ("sendmail", [100.0, 100.0, 83.3, 100.0, 100.0, 100.0, 100.0]),
    (
        "sendmail-warnings",
        [100.0, 100.0, 87.5, 100.0, 100.0, 100.0, 100.0],
    ),
];

const MEASURES: [&str; 7] = [
    "found",
    "status",
    "reason",
    "hardbounce",
    "action",
    "category",
    "kind",
];

/// What the analyzer said of one recipient: address, status, reason, hardbounce, action,
/// category, and the notice's kind.
type Got = (String, String, String, String, String, String, &'static str);

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/bounces-generated")
}

/// Scores per MTA (the `module` column of expected.tsv).
fn scores() -> BTreeMap<String, [f64; 7]> {
    let text = std::fs::read_to_string(dir().join("expected.tsv")).expect("expected.tsv");
    let mut lines = text.lines();
    let cols: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let mut files: HashMap<String, Vec<Got>> = HashMap::new();
    let mut counts: BTreeMap<String, ([usize; 7], usize)> = BTreeMap::new();
    for line in lines {
        let row: HashMap<&str, &str> = cols.iter().copied().zip(line.split('\t')).collect();
        let file = row["file"];
        let got = files.entry(file.to_string()).or_insert_with(|| {
            let bytes = std::fs::read(dir().join(file)).expect("corpus file");
            let a = analyze(&bytes);
            a.recipients
                .iter()
                .map(|r| {
                    (
                        r.recipient.to_ascii_lowercase(),
                        r.status.map(|s| s.to_string()).unwrap_or_default(),
                        r.reason.to_string(),
                        u8::from(r.hard_bounce).to_string(),
                        r.action.map(|a| a.as_str()).unwrap_or("").to_string(),
                        r.category.key().to_string(),
                        a.kind.as_str(),
                    )
                })
                .collect()
        });
        let c = counts.entry(row["module"].to_string()).or_default();
        c.1 += 1;
        // By address: which order a bounce lists its recipients in is not what is measured
        // here (Exim lists them in one order in its text and in the other in its report).
        let want = row["recipient"].to_ascii_lowercase();
        let Some(g) = got.iter().find(|g| g.0 == want) else {
            continue;
        };
        let hits = [
            true,
            g.1 == row["status"],
            g.2 == row["reason"],
            g.3 == row["hardbounce"],
            g.4 == row["action"],
            g.5 == row["category"],
            g.6 == row["kind"],
        ];
        for (n, hit) in c.0.iter_mut().zip(hits) {
            *n += usize::from(hit);
        }
    }
    counts
        .into_iter()
        .map(|(mta, (hits, rows))| {
            let pct = hits.map(|h| (1000.0 * h as f64 / rows as f64).round() / 10.0);
            (mta, pct)
        })
        .collect()
}

#[test]
fn generated_corpus_does_not_regress() {
    let got = scores();
    for (mta, s) in &got {
        eprintln!("{mta}: {s:?} ({MEASURES:?})");
        assert!(
            RATCHETS.iter().any(|(m, _)| m == mta),
            "{mta} has rows but no ratchet"
        );
    }
    for (mta, floors) in RATCHETS {
        let s = got.get(*mta).unwrap_or_else(|| panic!("no rows for {mta}"));
        for ((what, got), floor) in MEASURES.iter().zip(s).zip(floors) {
            assert!(
                got >= floor,
                "{mta} {what} {got:.1}% fell under the ratchet {floor}%"
            );
        }
    }
}
