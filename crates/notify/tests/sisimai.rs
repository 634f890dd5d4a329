//! Sisimai (Debian's libsisimai-perl), a bounce parser we did not write, reads our failure
//! notices and finds the right recipient, status and reason; and reads our delay and success
//! notices as what they are (Sisimai has no "delayed" reason: a delay notice is a soft
//! `expired`; `relayed` and `delivered` are both its `delivered`).
//!
//! `scripts/deps.sh` installs Sisimai; when it is missing this test fails with a clear message
//! rather than passing silently.

use std::process::Command;

mod common;

/// (golden case, Sisimai's reason) for the six categories the issue names.
const EXPECT: &[(&str, &str)] = &[
    ("address-not-found", "userunknown"),
    ("inbox-full", "mailboxfull"),
    ("message-blocked", "blocked"),
    ("domain-not-found", "hostunknown"),
    ("message-too-large", "mesgtoobig"),
    ("message-expired", "expired"),
];

#[test]
fn sisimai_reads_our_failure_notices() {
    let have = Command::new("perl")
        .args(["-MSisimai", "-e1"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        have,
        "Sisimai is not installed: run scripts/deps.sh (Debian package libsisimai-perl)"
    );
    let dir = std::env::temp_dir().join(format!("mailerd-sisimai-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases = common::cases();
    let mut files = Vec::new();
    for (name, _) in EXPECT {
        let c = cases.iter().find(|c| c.name == *name).expect("case");
        let path = dir.join(format!("{name}.eml"));
        std::fs::write(&path, common::notice(c)).expect("write notice");
        files.push(path);
    }
    let out = Command::new("perl")
        .arg("-MSisimai")
        .arg("-e")
        .arg(
            r#"for my $f (@ARGV) { my $v = Sisimai->make($f) || []; for my $r (@$v) {
                 print join("\t", $f, $r->recipient->address, $r->deliverystatus, $r->reason), "\n" } }"#,
        )
        .args(&files)
        .output()
        .expect("run perl");
    assert!(
        out.status.success(),
        "perl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for ((name, reason), path) in EXPECT.iter().zip(&files) {
        let c = cases.iter().find(|c| c.name == *name).expect("case");
        let row = text
            .lines()
            .find(|l| l.starts_with(path.to_string_lossy().as_ref()))
            .unwrap_or_else(|| panic!("Sisimai found nothing in {name}"));
        let f: Vec<&str> = row.split('\t').collect();
        assert_eq!(f[1], "bob@example.org", "{name}: recipient");
        assert_eq!(f[2], c.status, "{name}: status");
        assert_eq!(f[3], *reason, "{name}: reason");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs Sisimai (with delivered notices included) over `files`: per file, the rows
/// (recipient, status, reason, hard bounce 1/0).
fn sisimai_rows(files: &[std::path::PathBuf]) -> Vec<(String, Vec<String>)> {
    let out = Command::new("perl")
        .arg("-MSisimai")
        .arg("-e")
        .arg(
            r#"my $v5 = Sisimai->can('rise') ? 1 : 0;
               for my $f (@ARGV) {
                 my $v = ($v5 ? Sisimai->rise($f, 'delivered' => 1) : Sisimai->make($f, 'delivered' => 1)) || [];
                 for my $r (@$v) {
                   my $hard = $v5 ? ($r->hardbounce ? 1 : 0)
                                  : ((defined $r->softbounce && $r->softbounce eq '0') ? 1 : 0);
                   print join("\t", $f, $r->recipient->address, $r->deliverystatus, $r->reason, $hard), "\n" } }"#,
        )
        .args(files)
        .output()
        .expect("run perl");
    assert!(
        out.status.success(),
        "perl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_string).collect();
            (f.len() == 5).then(|| (f[0].clone(), f[1..].to_vec()))
        })
        .collect()
}

#[test]
fn sisimai_reads_our_delay_and_success_notices() {
    let have = Command::new("perl")
        .args(["-MSisimai", "-e1"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        have,
        "Sisimai is not installed: run scripts/deps.sh (Debian package libsisimai-perl)"
    );
    // (case, status, Sisimai's reason, hard bounce)
    let expect = [
        ("delay", "4.3.0", "expired", "0"),
        ("success-delivered", "2.0.0", "delivered", "0"),
        ("success-relayed", "2.0.0", "delivered", "0"),
    ];
    let dir = std::env::temp_dir().join(format!("mailerd-sisimai-ds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases = common::cases();
    let mut files = Vec::new();
    for (name, ..) in expect {
        let c = cases.iter().find(|c| c.name == name).expect("case");
        let path = dir.join(format!("{name}.eml"));
        std::fs::write(&path, common::notice(c)).expect("write notice");
        files.push(path);
    }
    let rows = sisimai_rows(&files);
    for ((name, status, reason, hard), path) in expect.iter().zip(&files) {
        let found: Vec<&Vec<String>> = rows
            .iter()
            .filter(|(f, _)| f == &path.to_string_lossy())
            .map(|(_, r)| r)
            .collect();
        assert_eq!(found.len(), 1, "{name}: one recipient, got {found:?}");
        assert_eq!(
            found[0],
            &vec![
                "bob@example.org".to_string(),
                status.to_string(),
                reason.to_string(),
                hard.to_string()
            ],
            "{name}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
