//! The single-node queue store: one [redb] file, one writer thread, group commit.
//!
//! [`EmbeddedStore`] implements [`mailerd_store::Store`] and passes its conformance suite.
//!
//! - **Durability.** Every change runs in a redb write transaction committed with
//!   `Durability::Immediate`: the call returns after the fsync. The one exception is a
//!   group of the queue manager's bookkeeping only (claims, renewals, releases, delivery
//!   reports): it is committed without an fsync and made durable by the next commit that
//!   has one, within [`Options::bookkeeping_flush`] (100 ms); a crash in between makes those
//!   messages be delivered again, it loses none. redb's commit is atomic (a
//!   checksummed, copy-on-write root switch), so a crash or SIGKILL leaves either the whole
//!   transaction or none of it; there are no torn messages. A crash test kills a committing
//!   child process with SIGKILL and checks every acknowledged message (`tests/crash.rs`).
//! - **Group commit.** All writes (commits, claims, reports, holds, deletes) go to one thread
//!   over a bounded channel. The thread takes everything waiting (up to a count and byte
//!   limit), runs it in one transaction with one fsync, then answers every caller. When
//!   flushes are slow it lingers briefly so that callers just answered join the next flush
//!   ([`Options::linger`]). Measured with 5 KB messages (`examples/commit_bench.rs`): one
//!   committer ~1 700 commits/s on a quiet disk; 20 committers 12 000-16 000/s on a quiet
//!   disk, 2 500-4 400/s when every flush costs 4-8 ms, 5 700-9 600/s with a queue manager
//!   delivering and deleting at the same time (the file then stops growing).
//! - **Reads** (`get`, `list`, `status_log`) run on tokio's blocking pool in their own read
//!   transactions (snapshots), concurrently with the writer, at most
//!   [`Options::max_readers`] at a time (a queue manager with a thousand deliveries in flight
//!   would otherwise grow the blocking pool to hundreds of threads, each with its own malloc
//!   arena: measured +270 MB of RSS over a 1M-message backlog).
//! - **Memory** is bounded whatever the number of queued messages: redb's page cache
//!   ([`Options::cache_bytes`]), the batch limits and the readers above; nothing loads the
//!   whole queue (`bench/queue-rss.sh`).
//! - **Integrity.** Records are JSON; the content carries a length and a 64-bit checksum in
//!   its message record. A record that does not decode or check is reported as
//!   [`StoreError::Corrupt`] (by `get`), listed in `MessageList::corrupt` (by `list`) and moved
//!   to a quarantine table (by `claim`, so it stops being scheduled). Nothing corrupt is ever
//!   deleted except by an explicit `delete`.
//! - **Several processes.** By default the server's handle locks the file exclusively (one
//!   fsync per group commit). Another process that opens it, read-only or not, gets
//!   [`StoreError::InUse`]: the command line then asks the running server (control socket /
//!   admin API), and opens the file itself only when no server runs.
//!   With [`Options::shared_readers`] the server opens the file in redb's `SingleWriter` mode
//!   instead, and any number of processes may [`EmbeddedStore::open_read_only`] it while the
//!   server writes (`mailerd queue list` reads the file directly and sees every commit), at
//!   the price of a second fsync per group commit. A second writer is refused in both modes;
//!   changes while the server runs always go through the server.
//!
//! It does not: share a queue between nodes (that is `store-postgres`), schedule deliveries
//! (the queue manager decides `now`, `max` and retry times), or have a clock.

mod record;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mailerd_store::{
    Applied, Claimed, CorruptRecord, DelayMark, FailOutcome, Lease, ListFilter, MessageList,
    MessageSummary, NewMessage, RecipientRecord, RemoveIf, StatusRecord, Store, StoreError,
    StoredMessage,
};
use mailerd_types::{DeliveryReport, QueueId};
use redb::{
    Builder, ConcurrencyMode, Database, DatabaseError, ReadOnlyDatabase, ReadTransaction,
    ReadableDatabase, ReadableTable,
};
use tokio::sync::{Semaphore, mpsc, oneshot};

use record::{CONTENT, LOG, MESSAGES, MessageMeta, QUARANTINE, corrupt, decode_status};
use writer::{BatchLimits, LeaseAsk, Op, Reply, Request, StatsCell};

/// Tuning of an [`EmbeddedStore`]. The defaults suit a single server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Memory redb may use to cache pages (read cache and write buffer). It fills up to this
    /// size once the file is larger, so it is most of the store's share of RSS with a big
    /// backlog. The kernel's page cache holds the file too, so a miss here costs a `pread`
    /// from memory, not a disk read. Default 64 MiB.
    pub cache_bytes: usize,
    /// Most operations in one group commit.
    pub max_batch_ops: usize,
    /// Most content bytes in one group commit (a batch holds at least one operation).
    pub max_batch_bytes: usize,
    /// Write requests that may wait for the writer; further callers wait for room
    /// (back-pressure, bounded memory).
    pub queue_depth: usize,
    /// Let other processes read the store while this one writes
    /// ([`EmbeddedStore::open_read_only`], redb's `SingleWriter` mode). redb then commits in
    /// two phases: two fsyncs per group commit instead of one, which halves commit throughput
    /// when the disk's flushes are slow (measured: 8 ms instead of 4 ms per group commit on a
    /// busy VM disk; about 10 % when flushes are fast). Default `false`: the file is locked
    /// exclusively and readers in other processes get [`StoreError::InUse`].
    pub shared_readers: bool,
    /// Verify the checksum of every page when opening (reads the whole file). Without it a
    /// file damaged below redb (disk, another program) is only noticed when the damaged page
    /// is read, as an error or a panic of the writer thread (commits then fail with
    /// [`StoreError::Closed`]; the process goes on).
    pub verify_on_open: bool,
    /// When a group commit took over a millisecond (slow flushes), the writer waits up to
    /// this long (and at most half the last commit's time) for more requests, as long as
    /// they keep arriving, so that callers just answered share the next flush instead of
    /// alternating in two half-size groups. `None` never waits.
    pub linger: Option<Duration>,
    /// Reads (`get`, `list`, `status_log`) running at once on tokio's blocking pool; more
    /// wait for a slot. Default 16.
    pub max_readers: usize,
    /// A batch holding only the queue manager's bookkeeping (claims, lease renewals and
    /// releases, delivery reports) is committed without an fsync and becomes durable with
    /// the next batch that needs one, or this long after at the latest (an empty durable
    /// commit when nothing else comes). A crash loses at most that much bookkeeping and no
    /// mail: the messages concerned are delivered again. Everything else (new messages,
    /// notices, operator commands) is durable when its call returns, always. `None`: every
    /// batch is durable. Default 100 ms; off with [`Options::shared_readers`] (redb commits
    /// without an fsync only in a file one process owns).
    pub bookkeeping_flush: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_bytes: 64 << 20,
            max_batch_ops: 1024,
            max_batch_bytes: 32 << 20,
            queue_depth: 4096,
            shared_readers: false,
            verify_on_open: false,
            linger: Some(Duration::from_millis(2)),
            max_readers: 16,
            bookkeeping_flush: Some(Duration::from_millis(100)),
        }
    }
}

enum Db {
    ReadWrite(Arc<Database>),
    ReadOnly(Arc<ReadOnlyDatabase>),
}

impl Db {
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        match self {
            Db::ReadWrite(db) => db.begin_read(),
            Db::ReadOnly(db) => db.begin_read(),
        }
        .map_err(backend)
    }
}

/// The writer thread and the way to reach it.
struct Writer {
    tx: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<StatsCell>,
}

/// Counters of the group-commit writer since the store was opened (for metrics and benches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterStats {
    /// Transactions run (group commits), durable or not (see `unflushed_batches`).
    pub batches: u64,
    /// Write operations (commits, claims, reports, ...) in them.
    pub ops: u64,
    /// Batches whose transaction failed (every operation in it failed).
    pub failed_batches: u64,
    /// The most operations one batch held.
    pub largest_batch: u64,
    /// Time spent running operations inside transactions, in microseconds.
    pub work_micros: u64,
    /// Time spent committing them (page writes and the fsync), in microseconds.
    pub commit_micros: u64,
    /// Batches of bookkeeping only committed without an fsync ([`Options::bookkeeping_flush`]).
    pub unflushed_batches: u64,
    /// Durable commits (fsyncs): the other batches, plus the empty commits that made
    /// unflushed batches durable when nothing else came.
    pub flushes: u64,
}

/// The embedded queue store. Share it as `Arc<EmbeddedStore>`; dropping the last handle
/// finishes the writes in flight, stops the writer thread and closes the file.
pub struct EmbeddedStore {
    path: PathBuf,
    db: Arc<Db>,
    writer: Option<Writer>,
    readers: Arc<Semaphore>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .field("read_only", &self.writer.is_none())
            .finish()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(format!(
            "{} is open in another process (a running server: ask it instead)",
            path.display()
        )),
        DatabaseError::RepairAborted => StoreError::Backend(format!(
            "{} was not closed cleanly and no server has it open: it needs one read-write open \
             (starting the server) to recover",
            path.display()
        )),
        DatabaseError::Storage(redb::StorageError::Io(io)) => StoreError::Io(io),
        e => StoreError::Backend(format!("opening {}: {e}", path.display())),
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path` for reading and writing, with
    /// default [`Options`]. After a crash, redb repairs its allocator state here (time grows
    /// with the file size).
    pub fn open(path: impl AsRef<Path>) -> Result<EmbeddedStore, StoreError> {
        Self::open_with(path, Options::default())
    }

    /// [`EmbeddedStore::open`] with explicit tuning.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: Options,
    ) -> Result<EmbeddedStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Builder::new()
            .set_cache_size(options.cache_bytes)
            .set_check_integrity_on_open(options.verify_on_open)
            .set_concurrency_mode(if options.shared_readers {
                ConcurrencyMode::SingleWriter
            } else {
                ConcurrencyMode::ExclusiveWriter
            })
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        let db = Arc::new(db);
        let counters = writer::load_counters(&db).map_err(backend)?;
        let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
        let limits = BatchLimits {
            max_ops: options.max_batch_ops.max(1),
            max_bytes: options.max_batch_bytes,
            linger: options.linger,
            bookkeeping_flush: options
                .bookkeeping_flush
                .filter(|_| !options.shared_readers),
        };
        let wdb = Arc::clone(&db);
        let stats = Arc::new(StatsCell::default());
        let wstats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(wdb, rx, counters, limits, wstats))?;
        Ok(EmbeddedStore {
            path,
            db: Arc::new(Db::ReadWrite(db)),
            writer: Some(Writer {
                tx: Some(tx),
                thread: Some(thread),
                stats,
            }),
            readers: Arc::new(Semaphore::new(options.max_readers.max(1))),
        })
    }

    /// Opens an existing store file read-only, alongside a server that opened it with
    /// [`Options::shared_readers`] (or none; a server with an exclusive lock makes this fail
    /// with [`StoreError::InUse`]). Every read sees the latest commit. Changes fail with
    /// [`StoreError::ReadOnly`]. A file left by a crash needs one read-write open (the server
    /// starting) to be repaired before it can be opened read-only.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<EmbeddedStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Builder::new()
            .set_cache_size(64 << 20)
            .set_concurrency_mode(ConcurrencyMode::SingleWriter)
            .open_read_only(&path)
            .map_err(|e| open_error(&path, e))?;
        Ok(EmbeddedStore {
            path,
            db: Arc::new(Db::ReadOnly(Arc::new(db))),
            writer: None,
            readers: Arc::new(Semaphore::new(Options::default().max_readers)),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// What the group-commit writer did so far (zeros when read-only).
    pub fn writer_stats(&self) -> WriterStats {
        let Some(w) = &self.writer else {
            return WriterStats::default();
        };
        let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        WriterStats {
            batches: get(&w.stats.batches),
            ops: get(&w.stats.ops),
            failed_batches: get(&w.stats.failed_batches),
            largest_batch: get(&w.stats.largest_batch),
            work_micros: get(&w.stats.work_micros),
            commit_micros: get(&w.stats.commit_micros),
            unflushed_batches: get(&w.stats.unflushed_batches),
            flushes: get(&w.stats.flushes),
        }
    }

    async fn write(&self, op: Op) -> Result<Reply, StoreError> {
        let tx = self
            .writer
            .as_ref()
            .ok_or(StoreError::ReadOnly)?
            .tx
            .as_ref()
            .ok_or(StoreError::Closed)?;
        let (reply, rx) = oneshot::channel();
        tx.send(Request { op, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        // Bounded: the blocking pool grows a thread per waiting read otherwise.
        let permit = Arc::clone(&self.readers)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Closed)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let txn = db.begin_read()?;
            f(&txn)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        if let Some(w) = &mut self.writer {
            // Closing the channel lets the writer drain what is queued and stop.
            w.tx.take();
            if let Some(t) = w.thread.take()
                && t.join().is_err()
            {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

fn unexpected(what: &str) -> StoreError {
    StoreError::Backend(format!(
        "writer answered {what} with the wrong kind of reply"
    ))
}

fn read_message(txn: &ReadTransaction, id: &str) -> Result<Option<StoredMessage>, StoreError> {
    let messages = txn.open_table(MESSAGES).map_err(backend)?;
    let raw = messages.get(id).map_err(backend)?;
    let Some(raw) = raw else {
        let q = txn.open_table(QUARANTINE).map_err(backend)?;
        if let Some(g) = q.get(id).map_err(backend)? {
            let (why, _) = g.value();
            return Err(corrupt(id, format!("quarantined: {why}")));
        }
        return Ok(None);
    };
    let meta = MessageMeta::decode(id, raw.value())?;
    let contents = txn.open_table(CONTENT).map_err(backend)?;
    let content = contents
        .get(id)
        .map_err(backend)?
        .ok_or_else(|| corrupt(id, "content record missing"))?
        .value()
        .to_vec();
    meta.check_content(id, &content)?;
    Ok(Some(StoredMessage {
        id: QueueId(id.to_string()),
        envelope: meta.envelope,
        content,
        recipients: meta.recipients,
        held: meta.held,
        lease: meta.lease,
        delay_notice_at: meta.delay_notice_at,
    }))
}

fn summary(id: &str, meta: MessageMeta) -> MessageSummary {
    MessageSummary {
        id: QueueId(id.to_string()),
        next_attempt: meta.next_attempt(),
        reverse_path: meta.envelope.reverse_path,
        received_at: meta.envelope.received_at,
        size: meta.content_len,
        held: meta.held,
        lease: meta.lease,
        recipients: meta.recipients,
        delay_notice_at: meta.delay_notice_at,
    }
}

fn list_messages(txn: &ReadTransaction, filter: &ListFilter) -> Result<MessageList, StoreError> {
    let messages = txn.open_table(MESSAGES).map_err(backend)?;
    let quarantine = txn.open_table(QUARANTINE).map_err(backend)?;
    let after = filter.after.as_ref().map(|q| q.0.as_str()).unwrap_or("");
    let limit = filter.limit.unwrap_or(usize::MAX);
    let mut out = MessageList::default();
    for entry in messages.range(after..).map_err(backend)? {
        if out.messages.len() >= limit {
            break;
        }
        let (k, v) = entry.map_err(backend)?;
        let id = k.value();
        if filter.after.is_some() && id == after {
            continue;
        }
        let meta = match MessageMeta::decode(id, v.value()) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(queue_id = %id, error = %e, "corrupt message record skipped");
                out.corrupt.push(CorruptRecord {
                    id: id.to_string(),
                    detail: e.to_string(),
                });
                continue;
            }
        };
        if filter.held.is_some_and(|h| h != meta.held) {
            continue;
        }
        if !filter.include_done && meta.next_attempt().is_none() {
            continue;
        }
        out.messages.push(summary(id, meta));
    }
    for entry in quarantine.iter().map_err(backend)? {
        let (k, v) = entry.map_err(backend)?;
        let (why, _) = v.value();
        out.corrupt.push(CorruptRecord {
            id: k.value().to_string(),
            detail: format!("quarantined: {why}"),
        });
    }
    Ok(out)
}

fn read_log(txn: &ReadTransaction, id: &str) -> Result<Vec<StatusRecord>, StoreError> {
    let log = txn.open_table(LOG).map_err(backend)?;
    let mut out = Vec::new();
    for entry in log.range((id, 0u32)..=(id, u32::MAX)).map_err(backend)? {
        let (_, v) = entry.map_err(backend)?;
        out.push(decode_status(id, v.value())?);
    }
    Ok(out)
}

impl Store for EmbeddedStore {
    async fn commit(&self, msg: NewMessage) -> Result<QueueId, StoreError> {
        match self.write(Op::Commit { msg, lease: None }).await? {
            Reply::Committed(id, _) => Ok(id),
            _ => Err(unexpected("commit")),
        }
    }

    async fn commit_claimed(
        &self,
        msg: NewMessage,
        node: &str,
        now: u64,
        lease_duration: u64,
    ) -> Result<(QueueId, Option<Claimed>), StoreError> {
        let lease = Some(LeaseAsk {
            node: node.to_string(),
            now,
            duration: lease_duration,
        });
        match self.write(Op::Commit { msg, lease }).await? {
            Reply::Committed(id, claimed) => Ok((id, claimed)),
            _ => Err(unexpected("commit_claimed")),
        }
    }

    async fn mark_delay_notice(
        &self,
        id: &QueueId,
        notice: Option<NewMessage>,
        now: u64,
    ) -> Result<DelayMark, StoreError> {
        let op = Op::MarkDelayNotice {
            id: id.clone(),
            notice,
            now,
        };
        match self.write(op).await? {
            Reply::DelayMark(m) => Ok(m),
            _ => Err(unexpected("mark_delay_notice")),
        }
    }

    async fn get(&self, id: &QueueId) -> Result<Option<StoredMessage>, StoreError> {
        let id = id.0.clone();
        self.read(move |txn| read_message(txn, &id)).await
    }

    async fn list(&self, filter: &ListFilter) -> Result<MessageList, StoreError> {
        let filter = filter.clone();
        self.read(move |txn| list_messages(txn, &filter)).await
    }

    async fn claim(
        &self,
        node: &str,
        now: u64,
        max: usize,
        lease_duration: u64,
    ) -> Result<Vec<Claimed>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let op = Op::Claim {
            node: node.to_string(),
            now,
            max,
            lease_duration,
        };
        match self.write(op).await? {
            Reply::Claimed(c) => Ok(c),
            _ => Err(unexpected("claim")),
        }
    }

    async fn renew(
        &self,
        lease: &Lease,
        now: u64,
        lease_duration: u64,
    ) -> Result<Lease, StoreError> {
        let op = Op::Renew {
            lease: lease.clone(),
            now,
            lease_duration,
        };
        match self.write(op).await? {
            Reply::Lease(l) => Ok(l),
            _ => Err(unexpected("renew")),
        }
    }

    async fn apply(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        let op = Op::Apply {
            lease: lease.clone(),
            report,
            now,
            remove_if: None,
        };
        match self.write(op).await? {
            Reply::Applied(a) => Ok(a.records),
            _ => Err(unexpected("apply")),
        }
    }

    async fn apply_and_remove(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
        remove_if: RemoveIf,
    ) -> Result<Applied, StoreError> {
        let op = Op::Apply {
            lease: lease.clone(),
            report,
            now,
            remove_if: Some(remove_if),
        };
        match self.write(op).await? {
            Reply::Applied(a) => Ok(a),
            _ => Err(unexpected("apply_and_remove")),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        match self.write(Op::Release(lease.clone())).await? {
            Reply::Done => Ok(()),
            _ => Err(unexpected("release")),
        }
    }

    async fn release_node(&self, node: &str) -> Result<usize, StoreError> {
        match self.write(Op::ReleaseNode(node.to_string())).await? {
            Reply::Count(n) => Ok(n),
            _ => Err(unexpected("release_node")),
        }
    }

    async fn status_log(&self, id: &QueueId) -> Result<Vec<StatusRecord>, StoreError> {
        let id = id.0.clone();
        self.read(move |txn| read_log(txn, &id)).await
    }

    async fn delete(&self, id: &QueueId) -> Result<bool, StoreError> {
        match self.write(Op::Delete(id.clone())).await? {
            Reply::Found(f) => Ok(f),
            _ => Err(unexpected("delete")),
        }
    }

    async fn finish_with_notices(
        &self,
        id: &QueueId,
        notices: Vec<NewMessage>,
    ) -> Result<Option<Vec<QueueId>>, StoreError> {
        let op = Op::FinishWithNotices {
            id: id.clone(),
            notices,
        };
        match self.write(op).await? {
            Reply::Finished(ids) => Ok(ids),
            _ => Err(unexpected("finish_with_notices")),
        }
    }

    async fn hold(&self, id: &QueueId) -> Result<bool, StoreError> {
        match self.write(Op::Hold(id.clone(), true)).await? {
            Reply::Found(f) => Ok(f),
            _ => Err(unexpected("hold")),
        }
    }

    async fn release_hold(&self, id: &QueueId) -> Result<bool, StoreError> {
        match self.write(Op::Hold(id.clone(), false)).await? {
            Reply::Found(f) => Ok(f),
            _ => Err(unexpected("release_hold")),
        }
    }

    async fn retry_now(&self, id: &QueueId, now: u64) -> Result<bool, StoreError> {
        match self.write(Op::RetryNow(id.clone(), now)).await? {
            Reply::Found(f) => Ok(f),
            _ => Err(unexpected("retry_now")),
        }
    }

    async fn retry_all(&self, now: u64) -> Result<usize, StoreError> {
        match self.write(Op::RetryAll(now)).await? {
            Reply::Count(n) => Ok(n),
            _ => Err(unexpected("retry_all")),
        }
    }

    async fn fail_live(
        &self,
        id: &QueueId,
        reply: &str,
        now: u64,
    ) -> Result<FailOutcome, StoreError> {
        let op = Op::FailLive {
            id: id.clone(),
            reply: reply.to_string(),
            now,
        };
        match self.write(op).await? {
            Reply::Fail(o) => Ok(o),
            _ => Err(unexpected("fail_live")),
        }
    }
}

#[cfg(test)]
mod corruption_tests {
    //! Corrupt records are reported and quarantined, never a panic, never silently deleted.
    //! These tests damage the file through redb directly, below the store's API.

    use mailerd_store::conformance::{T0, message};
    use redb::ReadableTable;

    use super::*;
    use crate::record::QUARANTINE;

    fn raw_db(path: &Path) -> Database {
        Builder::new()
            .set_concurrency_mode(ConcurrencyMode::SingleWriter)
            .open(path)
            .expect("raw open")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn corrupt_records_are_reported_and_quarantined() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("q.redb");
        let (a, b, c) = {
            let s = EmbeddedStore::open(&path).expect("open");
            let a = s
                .commit(message(1, &["x@example.net"], 500))
                .await
                .expect("a");
            let b = s
                .commit(message(2, &["y@example.net"], 500))
                .await
                .expect("b");
            let c = s
                .commit(message(3, &["z@example.net"], 500))
                .await
                .expect("c");
            (a, b, c)
        };
        {
            let db = raw_db(&path);
            let txn = db.begin_write().expect("txn");
            {
                let mut m = txn.open_table(MESSAGES).expect("messages");
                m.insert(a.0.as_str(), &b"{not json"[..]).expect("damage a");
                let mut content = txn.open_table(CONTENT).expect("content");
                let mut bytes = content
                    .get(b.0.as_str())
                    .expect("get")
                    .expect("b content")
                    .value()
                    .to_vec();
                bytes[100] ^= 0x20;
                content
                    .insert(b.0.as_str(), bytes.as_slice())
                    .expect("damage b");
                let mut log = txn.open_table(LOG).expect("log");
                log.insert((c.0.as_str(), 0u32), &b"\xff"[..])
                    .expect("damage c's log");
            }
            txn.commit().expect("commit damage");
        }

        let s = EmbeddedStore::open(&path).expect("reopen");
        assert!(matches!(s.get(&a).await, Err(StoreError::Corrupt { .. })));
        match s.get(&b).await {
            Err(StoreError::Corrupt { detail, .. }) => assert!(detail.contains("checksum")),
            other => panic!("tampered content must be reported, got {other:?}"),
        }
        assert!(s.get(&c).await.expect("c readable").is_some());
        assert!(matches!(
            s.status_log(&c).await,
            Err(StoreError::Corrupt { .. })
        ));

        let listed = s.list(&ListFilter::default()).await.expect("list");
        let ids: Vec<_> = listed.messages.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, vec![b.clone(), c.clone()], "corrupt record skipped");
        assert_eq!(listed.corrupt.len(), 1);
        assert_eq!(listed.corrupt[0].id, a.0);

        // Claiming walks past the corrupt record and moves it aside.
        let claimed = s.claim("n1", T0, 10, 60).await.expect("claim");
        assert_eq!(claimed.len(), 2);
        assert!(claimed.iter().all(|c| c.lease.id != a));
        match s.get(&a).await {
            Err(StoreError::Corrupt { detail, .. }) => assert!(detail.contains("quarantined")),
            other => panic!("quarantined record must be reported, got {other:?}"),
        }
        assert!(matches!(s.hold(&a).await, Err(StoreError::Corrupt { .. })));
        let listed = s.list(&ListFilter::default()).await.expect("list");
        assert_eq!(listed.corrupt.len(), 1, "quarantined record still reported");
        assert!(
            s.claim("n1", T0 + 1000, 10, 60)
                .await
                .expect("claim")
                .iter()
                .all(|c| c.lease.id != a)
        );
        drop(s);

        // Kept, byte for byte, with its content.
        {
            let db = raw_db(&path);
            let txn = db.begin_read().expect("read");
            let q = txn.open_table(QUARANTINE).expect("quarantine");
            let g = q.get(a.0.as_str()).expect("get").expect("quarantined a");
            let (why, raw) = g.value();
            assert_eq!(raw, b"{not json");
            assert!(!why.is_empty());
            let content = txn.open_table(CONTENT).expect("content");
            assert!(content.get(a.0.as_str()).expect("get").is_some());
        }

        // Only an explicit delete removes it.
        let s = EmbeddedStore::open(&path).expect("reopen");
        assert!(s.delete(&a).await.expect("delete"));
        assert!(s.get(&a).await.expect("get").is_none());
        let listed = s.list(&ListFilter::default()).await.expect("list");
        assert!(listed.corrupt.is_empty());
    }
}
