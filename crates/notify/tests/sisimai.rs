//! Sisimai (Debian's libsisimai-perl), a bounce parser we did not write, reads our failure
//! notices and finds the right recipient, status and reason.
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
