//! Local delivery into Maildir (the `maildir(5)` layout: `tmp/`, `new/`, `cur/`).
//!
//! A message is written to `tmp/<unique>`, fsynced, renamed atomically into `new/` and the
//! `new/` directory is fsynced, so a crash leaves either no message or a complete one
//! (`tmp/` leftovers are garbage, never half messages in `new/`). `Return-Path:` and
//! `Delivered-To:` are prepended (RFC 5321 4.4 / Postfix's local delivery).
//!
//! Quota: the sum of the sizes of the files in `cur/` and `new/` (the `,S=<size>` of a name
//! when present, else the file's length) plus the new message must not exceed the quota.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where one local recipient's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The Maildir directory (holding `tmp/`, `new/`, `cur/`; created when missing).
    pub path: PathBuf,
    /// Maximum total size in bytes of `cur/` + `new/`; `None` for no limit.
    pub quota: Option<u64>,
}

/// Maps a recipient address to its mailbox; provided by the binary (from its user table).
pub trait MailboxMap: Send + Sync {
    /// `None`: no such local user (`5.1.1`).
    fn mailbox(&self, address: &str) -> Option<Mailbox>;
}

/// A fixed table of local addresses (compared without regard to case), for a binary whose
/// users are listed in its configuration, and for tests.
#[derive(Debug, Clone, Default)]
pub struct MailboxTable {
    boxes: std::collections::HashMap<String, Mailbox>,
}

impl MailboxTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the mailbox of `address`.
    pub fn insert(&mut self, address: &str, mailbox: Mailbox) {
        self.boxes.insert(address.to_ascii_lowercase(), mailbox);
    }
}

impl MailboxMap for MailboxTable {
    fn mailbox(&self, address: &str) -> Option<Mailbox> {
        self.boxes.get(&address.to_ascii_lowercase()).cloned()
    }
}

/// Settings of local delivery.
#[derive(Debug, Clone, Default)]
pub struct MaildirSettings {
    /// Over quota is `452 4.2.2` (deferred) instead of `552 5.2.2` (bounced).
    pub over_quota_is_temporary: bool,
    /// Host name used in unique file names.
    pub hostname: String,
}

/// The result of a local delivery.
#[derive(Debug)]
pub enum LocalResult {
    /// Written; the path of the file in `new/`.
    Delivered(PathBuf),
    /// The mailbox is full: quota, current use, message size.
    OverQuota { quota: u64, used: u64, size: u64 },
}

/// Why a file system step failed.
#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("cannot create maildir {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot rename {from} to {to}: {source}")]
    Rename {
        from: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read maildir {path}: {source}")]
    Scan {
        path: PathBuf,
        source: std::io::Error,
    },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique file name (`<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>`), after the maildir spec.
fn unique_name(host: &str, size: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let host: String = host
        .chars()
        .map(|c| {
            if c == '/' || c == ':' || c == ',' {
                '_'
            } else {
                c
            }
        })
        .collect();
    let host = if host.is_empty() {
        "localhost".into()
    } else {
        host
    };
    format!(
        "{}.M{}P{}Q{}.{host},S={size}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Size recorded in a maildir file name (`...,S=1234` or `...,S=1234:2,S`).
fn size_from_name(name: &str) -> Option<u64> {
    let i = name.find(",S=")?;
    let rest = &name[i + 3..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Bytes used in `cur/` and `new/`.
pub fn usage(maildir: &Path) -> Result<u64, MaildirError> {
    let mut total = 0u64;
    for sub in ["cur", "new"] {
        let dir = maildir.join(sub);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(MaildirError::Scan { path: dir, source }),
        };
        for entry in rd.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let size = match size_from_name(&name) {
                Some(s) => s,
                None => entry.metadata().map(|m| m.len()).unwrap_or(0),
            };
            total = total.saturating_add(size);
        }
    }
    Ok(total)
}

/// `true` when the message's header already has `Delivered-To: <rcpt>`: it has been
/// delivered to this mailbox before and came back (a forwarding loop, as Postfix's local
/// delivery detects it).
pub fn has_delivered_to(content: &[u8], rcpt: &str) -> bool {
    for line in content.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break; // end of the header section
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if line[..colon].eq_ignore_ascii_case(b"Delivered-To")
            && String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .eq_ignore_ascii_case(rcpt)
        {
            return true;
        }
    }
    false
}

/// The headers prepended to the message.
pub fn delivery_headers(sender: &str, rcpt: &str) -> String {
    format!("Return-Path: <{sender}>\r\nDelivered-To: {rcpt}\r\n")
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Delivers one message (blocking file I/O: call from `spawn_blocking`).
pub fn deliver_blocking(
    settings: &MaildirSettings,
    mailbox: &Mailbox,
    sender: &str,
    rcpt: &str,
    content: &[u8],
) -> Result<LocalResult, MaildirError> {
    let root = &mailbox.path;
    for sub in ["tmp", "new", "cur"] {
        let d = root.join(sub);
        std::fs::create_dir_all(&d).map_err(|source| MaildirError::Create { path: d, source })?;
    }
    let headers = delivery_headers(sender, rcpt);
    let size = (headers.len() + content.len()) as u64;
    if let Some(quota) = mailbox.quota {
        let used = usage(root)?;
        if used.saturating_add(size) > quota {
            return Ok(LocalResult::OverQuota { quota, used, size });
        }
    }
    let name = unique_name(&settings.hostname, size);
    let tmp = root.join("tmp").join(&name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(headers.as_bytes())?;
        f.write_all(content)?;
        f.sync_all()
    };
    if let Err(source) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(MaildirError::Write { path: tmp, source });
    }
    let new = root.join("new").join(&name);
    if let Err(source) = std::fs::rename(&tmp, &new) {
        let _ = std::fs::remove_file(&tmp);
        return Err(MaildirError::Rename {
            from: tmp,
            to: new,
            source,
        });
    }
    let newdir = root.join("new");
    fsync_dir(&newdir).map_err(|source| MaildirError::Write {
        path: newdir,
        source,
    })?;
    Ok(LocalResult::Delivered(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_to_loop_detection() {
        let m = b"Received: x\r\nDelivered-To: Bob@Local.test\r\n\r\nDelivered-To: other\r\n";
        assert!(has_delivered_to(m, "bob@local.test"));
        assert!(
            !has_delivered_to(m, "other"),
            "only the header section counts"
        );
        assert!(!has_delivered_to(b"Subject: x\r\n\r\n", "bob@local.test"));
    }

    #[test]
    fn sizes_from_names() {
        assert_eq!(size_from_name("1.M2P3Q4.host,S=1234"), Some(1234));
        assert_eq!(size_from_name("1.M2P3Q4.host,S=99:2,S"), Some(99));
        assert_eq!(size_from_name("1.M2P3Q4.host"), None);
    }

    #[test]
    fn unique_names_differ_and_carry_the_size() {
        let a = unique_name("h/x", 10);
        let b = unique_name("h/x", 10);
        assert_ne!(a, b);
        assert!(a.ends_with(".h_x,S=10"));
    }
}
