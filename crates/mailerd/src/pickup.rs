//! The maildrop: how `mailerd sendmail` hands a message to a running server (Postfix's
//! maildrop directory and pickup daemon).
//!
//! While `mailerd serve` runs it holds the queue store open for writing, so a second process
//! cannot commit to it. `mailerd sendmail` then writes the message as one file into
//! `data_dir/maildrop/`, durably and atomically: a hidden temporary file (`.tmp.NAME`,
//! created exclusively), `fsync`, `rename` to `NAME`, `fsync` of the directory. A file with a
//! visible name is therefore always complete. The server's pickup task ([`run`]) scans the
//! directory when it starts and then every second, commits each file to the store, and only
//! after the commit returned `Ok` removes the file.
//!
//! Guarantees and limits:
//! - **At least once.** A crash between the commit and the removal queues the message a
//!   second time at the next start (Postfix's pickup has the same window). Nothing is lost.
//! - **Isolated failure.** A file that cannot be decoded, is too large, or is not a regular
//!   file is moved to `maildrop/corrupt/` with a warning, never deleted and never a panic.
//!   A store error leaves the file in place for the next scan.
//! - **Local trust.** Anyone who can write into the directory can inject mail with any
//!   envelope (as with `sendmail -f`). Files are opened without following symbolic links so
//!   that a planted link cannot make the server read another file.
//!
//! File format (version 1): the line `mailerd-maildrop 1 <content length>`, then the
//! envelope as one line of JSON, then exactly `<content length>` bytes of content (CRLF).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailerd_receive::Shutdown;
use mailerd_store::{NewMessage, Store};
use mailerd_types::Envelope;

const MAGIC: &str = "mailerd-maildrop 1";
const TMP_PREFIX: &str = ".tmp.";
/// A temporary file older than this is left over from a crashed `sendmail`.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// Files committed concurrently (so that they share group commits).
const CONCURRENCY: usize = 32;

/// The maildrop directory of a data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("maildrop")
}

/// Creates the maildrop directory if needed: mode 1733 (like `/tmp` without read: anyone may
/// drop a file, nobody but the owner may list or remove others' files).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1733))?;
    }
    Ok(())
}

/// Encodes a message as a maildrop file.
pub fn encode(msg: &NewMessage) -> Result<Vec<u8>, serde_json::Error> {
    let envelope = serde_json::to_string(&msg.envelope)?;
    let mut out = Vec::with_capacity(msg.content.len() + envelope.len() + 64);
    out.extend_from_slice(format!("{MAGIC} {}\n", msg.content.len()).as_bytes());
    out.extend_from_slice(envelope.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&msg.content);
    Ok(out)
}

/// Decodes a maildrop file; the error says what is wrong with it.
pub fn decode(bytes: &[u8]) -> Result<NewMessage, String> {
    let (first, rest) = split_line(bytes).ok_or("no header line")?;
    let first = std::str::from_utf8(first).map_err(|_| "header line is not UTF-8")?;
    let len = first
        .strip_prefix(MAGIC)
        .and_then(|l| l.strip_prefix(' '))
        .ok_or_else(|| format!("not a {MAGIC:?} file"))?;
    let len: usize = len
        .parse()
        .map_err(|_| format!("bad content length {len:?}"))?;
    let (env, content) = split_line(rest).ok_or("no envelope line")?;
    let envelope: Envelope =
        serde_json::from_slice(env).map_err(|e| format!("bad envelope: {e}"))?;
    if content.len() != len {
        return Err(format!(
            "content is {} bytes, header says {len} (truncated?)",
            content.len()
        ));
    }
    if envelope.recipients.is_empty() {
        return Err("no recipients".into());
    }
    Ok(NewMessage {
        envelope,
        content: content.to_vec(),
    })
}

fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&c| c == b'\n')?;
    Some((&b[..i], &b[i + 1..]))
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `msg` into `dir` durably and atomically; returns the file's name (which serves as
/// the message's maildrop id).
pub fn write(dir: &Path, msg: &NewMessage) -> std::io::Result<String> {
    let bytes = encode(msg).map_err(std::io::Error::other)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}.{:09}.{}.{}",
        now.as_secs(),
        now.subsec_nanos(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
    let result = (|| {
        let mut opts = File::options();
        opts.write(true).create_new(true);
        // Readable by the server whatever the caller's umask (the directory is not listable).
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(&name))?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(name)
}

/// Moves a bad file aside into `maildrop/corrupt/`.
fn quarantine(dir: &Path, name: &str, why: &str) {
    let cdir = dir.join("corrupt");
    let moved = std::fs::create_dir_all(&cdir).and_then(|()| {
        std::fs::rename(dir.join(name), cdir.join(name))?;
        File::open(dir)?.sync_all()
    });
    match moved {
        Ok(()) => tracing::warn!(
            file = %name,
            problem = %why,
            "maildrop file refused; moved to {}",
            cdir.display()
        ),
        Err(e) => tracing::error!(
            file = %name,
            problem = %why,
            error = %e,
            "maildrop file refused and could not be moved aside"
        ),
    }
}

/// Reads one maildrop file without following symbolic links, refusing anything but a
/// regular file of at most `max_bytes`.
fn read(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Result<String, std::io::Error>> {
    let mut opts = File::options();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW | O_NONBLOCK (a planted FIFO must not block us).
        opts.custom_flags(0o400000 | 0o4000);
    }
    let f = match opts.open(path) {
        Ok(f) => f,
        // ELOOP: a symbolic link.
        Err(e) if e.raw_os_error() == Some(40) => {
            return Err(Ok("a symbolic link, not a regular file".into()));
        }
        Err(e) => return Err(Err(e)),
    };
    let meta = f.metadata().map_err(Err)?;
    if !meta.is_file() {
        return Err(Ok("not a regular file".into()));
    }
    if meta.len() > max_bytes {
        return Err(Ok(format!(
            "{} bytes, more than the {max_bytes} allowed",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(max_bytes + 1).read_to_end(&mut bytes).map_err(Err)?;
    Ok(bytes)
}

/// What one scan found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    pub queued: usize,
    pub refused: usize,
    pub failed: usize,
}

/// Commits every complete file in `dir` to `store`, removing each once committed.
/// `max_bytes`: the largest file accepted (message size limit plus envelope).
pub async fn scan<S: Store>(store: &Arc<S>, dir: &Path, max_bytes: u64) -> ScanStats {
    let mut stats = ScanStats::default();
    let names = {
        let d = dir.to_path_buf();
        match tokio::task::spawn_blocking(move || list(&d)).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the maildrop");
                return stats;
            }
            Err(e) => {
                tracing::error!(error = %e, "maildrop scan panicked");
                return stats;
            }
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut names = names.into_iter();
    loop {
        while tasks.len() < CONCURRENCY {
            let Some(name) = names.next() else { break };
            let store = Arc::clone(store);
            let dir = dir.to_path_buf();
            tasks.spawn(async move { pick_up(store, dir, name, max_bytes).await });
        }
        match tasks.join_next().await {
            Some(Ok(Outcome::Queued)) => stats.queued += 1,
            Some(Ok(Outcome::Refused)) => stats.refused += 1,
            Some(Ok(Outcome::Failed)) => stats.failed += 1,
            Some(Err(e)) => {
                tracing::error!(error = %e, "maildrop pickup task failed");
                stats.failed += 1;
            }
            None => break,
        }
    }
    stats
}

/// The visible (complete) files, oldest name first; removes stale temporary files.
fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(TMP_PREFIX) {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if stale {
                tracing::warn!(file = %name, "removing a stale temporary maildrop file (an interrupted sendmail)");
                let _ = std::fs::remove_file(entry.path());
            }
            continue;
        }
        if name.starts_with('.') || name == "corrupt" {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

enum Outcome {
    Queued,
    Refused,
    Failed,
}

async fn pick_up<S: Store>(store: Arc<S>, dir: PathBuf, name: String, max_bytes: u64) -> Outcome {
    let path = dir.join(&name);
    let read = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || read(&path, max_bytes)).await
    };
    let bytes = match read {
        Ok(Ok(b)) => b,
        Ok(Err(Ok(why))) => {
            let (d, n) = (dir.clone(), name.clone());
            let _ = tokio::task::spawn_blocking(move || quarantine(&d, &n, &why)).await;
            return Outcome::Refused;
        }
        Ok(Err(Err(e))) => {
            // Gone meanwhile (another scan got it) is not an error.
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(file = %name, error = %e, "cannot read a maildrop file; will retry");
            }
            return Outcome::Failed;
        }
        Err(e) => {
            tracing::error!(file = %name, error = %e, "maildrop read panicked");
            return Outcome::Failed;
        }
    };
    let msg = match decode(&bytes) {
        Ok(m) => m,
        Err(why) => {
            let (d, n) = (dir.clone(), name.clone());
            let _ = tokio::task::spawn_blocking(move || quarantine(&d, &n, &why)).await;
            return Outcome::Refused;
        }
    };
    drop(bytes);
    let sender = msg.envelope.reverse_path.clone();
    let nrcpt = msg.envelope.recipients.len();
    let size = msg.content.len();
    match store.commit(msg).await {
        Ok(id) => {
            tracing::info!(queue_id = %id, maildrop = %name, sender = %sender, nrcpt, size, "message picked up from the maildrop");
            let removed = tokio::task::spawn_blocking(move || std::fs::remove_file(&path)).await;
            if let Ok(Err(e)) = removed {
                tracing::error!(file = %name, queue_id = %id, error = %e, "committed but cannot remove the maildrop file: it will be queued again");
            }
            Outcome::Queued
        }
        Err(e) => {
            tracing::error!(file = %name, error = %e, "cannot commit a maildrop file; will retry");
            Outcome::Failed
        }
    }
}

/// The pickup task: scans `dir` now and then every `interval` until `shutdown`.
pub async fn run<S: Store>(
    store: Arc<S>,
    dir: PathBuf,
    max_bytes: u64,
    interval: Duration,
    mut shutdown: Shutdown,
) {
    loop {
        if shutdown.is_triggered() {
            return;
        }
        scan(&store, &dir, max_bytes).await;
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailerd_store::ListFilter;
    use mailerd_store::memory::MemoryStore;
    use mailerd_types::RecipientSpec;

    fn msg(body: &str) -> NewMessage {
        NewMessage {
            envelope: Envelope {
                reverse_path: "a@example.test".into(),
                recipients: vec![RecipientSpec::new("b@example.test")],
                ret: None,
                envid: None,
                smtputf8: false,
                eight_bit: false,
                received_at: 1,
                client: None,
                auth_user: None,
            },
            content: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn encode_decode_round_trip_and_truncation_is_detected() {
        let m = msg("Subject: x\r\n\r\nhello\n\r\n");
        let b = encode(&m).expect("encode");
        assert_eq!(decode(&b).expect("decode"), m);
        assert!(decode(&b[..b.len() - 1]).unwrap_err().contains("truncated"));
        assert!(decode(b"garbage\n{}\n").is_err());
        assert!(decode(b"").is_err());
    }

    #[tokio::test]
    async fn scan_commits_removes_and_quarantines() {
        let tmp = std::env::temp_dir().join(format!("mailerd-pickup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let d = dir(&tmp);
        create_dir(&d).expect("mkdir");
        write(&d, &msg("one\r\n")).expect("write");
        write(&d, &msg("two\r\n")).expect("write");
        std::fs::write(d.join("bad"), b"not a maildrop file").expect("write bad");
        std::fs::write(d.join(".tmp.partial"), b"mailerd-maildrop 1 9").expect("tmp");
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", d.join("link")).expect("symlink");
        let store = Arc::new(MemoryStore::new());
        let stats = scan(&store, &d, 1 << 20).await;
        assert_eq!(stats.queued, 2, "{stats:?}");
        assert_eq!(stats.refused, if cfg!(unix) { 2 } else { 1 }, "{stats:?}");
        let list = store.list(&ListFilter::default()).await.expect("list");
        assert_eq!(list.messages.len(), 2);
        let left: Vec<String> = std::fs::read_dir(&d)
            .expect("readdir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        assert!(left.contains(&".tmp.partial".to_string()), "{left:?}");
        assert!(left.contains(&"corrupt".to_string()), "{left:?}");
        assert_eq!(left.len(), 2, "{left:?}");
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
