//! The single writer: one thread owns every write transaction and batches whatever requests
//! are waiting into one transaction and one fsync (group commit).
//!
//! Each operation validates before it writes, so an operation refused (lease lost, invalid
//! report, ...) changes nothing and does not disturb the others of its batch. A failure of the
//! transaction itself (i/o, commit) fails every operation of the batch: none of them was
//! acknowledged, none is visible.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mailerd_store::{
    Applied, Claimed, DelayMark, FailOutcome, Lease, NewMessage, RemoveIf, StoreError, rules,
};
use mailerd_types::{DeliveryReport, QueueId};
use redb::{Database, ReadableTable, Table, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use crate::record::{
    CONTENT, COUNTERS, DUE, LOG, MESSAGES, MessageMeta, NEXT_SEQ, NEXT_TOKEN, QUARANTINE, corrupt,
    encode_status, queue_id,
};

/// The largest content the store accepts (redb values stop at 3 GiB; receive's SIZE limit is
/// far below).
const MAX_CONTENT: usize = 1 << 30;

/// A write operation.
pub(crate) enum Op {
    /// A commit; with `lease`, leased in the same write (`Store::commit_claimed`).
    Commit {
        msg: NewMessage,
        lease: Option<LeaseAsk>,
    },
    Claim {
        node: String,
        now: u64,
        max: usize,
        lease_duration: u64,
    },
    Renew {
        lease: Lease,
        now: u64,
        lease_duration: u64,
    },
    /// [`mailerd_store::Store::apply`], or `apply_and_remove` with `remove_if`.
    Apply {
        lease: Lease,
        report: DeliveryReport,
        now: u64,
        remove_if: Option<RemoveIf>,
    },
    Release(Lease),
    ReleaseNode(String),
    Delete(QueueId),
    Hold(QueueId, bool),
    RetryNow(QueueId, u64),
    RetryAll(u64),
    FailLive {
        id: QueueId,
        reply: String,
        now: u64,
    },
    MarkDelayNotice {
        id: QueueId,
        notice: Option<NewMessage>,
        now: u64,
    },
    FinishWithNotices {
        id: QueueId,
        notices: Vec<NewMessage>,
    },
}

/// The lease [`Op::Commit`] gives the new message: to `node` until `now + duration`.
pub(crate) struct LeaseAsk {
    pub node: String,
    pub now: u64,
    pub duration: u64,
}

impl Op {
    /// Whether the caller needs this operation on stable storage before it is answered.
    ///
    /// Everything does except the queue manager's bookkeeping: claims, lease renewals and
    /// releases, and delivery reports (also those that remove a finished message). Losing
    /// the last few milliseconds of those to a crash loses no mail: the messages concerned
    /// are still stored, leased or due, and are delivered again (at least once, as Postfix,
    /// which removes a delivered queue file without syncing its directory). A batch of such
    /// operations only is committed without an fsync; it becomes durable with the next
    /// batch that needs one, or at most [`BatchLimits::bookkeeping_flush`] later.
    fn needs_flush(&self) -> bool {
        !matches!(
            self,
            Op::Claim { .. } | Op::Renew { .. } | Op::Apply { .. } | Op::Release(_)
        )
    }

    /// Bytes this operation adds to a batch (bounds a transaction's size).
    fn weight(&self) -> usize {
        match self {
            Op::Commit { msg, .. } => msg.content.len() + 512,
            Op::MarkDelayNotice {
                notice: Some(m), ..
            } => m.content.len() + 512,
            Op::FinishWithNotices { notices, .. } => {
                notices.iter().map(|m| m.content.len() + 512).sum::<usize>() + 512
            }
            _ => 512,
        }
    }
}

/// What an operation answers.
pub(crate) enum Reply {
    Id(QueueId),
    Committed(QueueId, Option<Claimed>),
    Claimed(Vec<Claimed>),
    Lease(Lease),
    Applied(Applied),
    Done,
    Found(bool),
    Count(usize),
    Fail(FailOutcome),
    DelayMark(DelayMark),
    Finished(Option<Vec<QueueId>>),
}

pub(crate) struct Request {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Reply, StoreError>>,
}

/// Limits of one group commit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub max_ops: usize,
    pub max_bytes: usize,
    /// Longest wait for more requests before a transaction; `None`: never wait.
    pub linger: Option<Duration>,
    /// Longest time a batch of bookkeeping only ([`Op::needs_flush`] false) may stay
    /// without an fsync: the next durable commit (of a later batch, or an empty one when
    /// nothing else comes) happens within it. `None`: every batch is committed durably.
    pub bookkeeping_flush: Option<Duration>,
}

/// Linger only when the last transaction took at least this long (a slow flush).
const LINGER_ABOVE: Duration = Duration::from_millis(1);
/// Granularity of the linger.
const LINGER_STEP: Duration = Duration::from_micros(100);

/// The store-wide counters, cached by the writer and saved with every batch that used them.
pub(crate) struct Counters {
    pub next_seq: u64,
    pub next_token: u64,
}

pub(crate) fn load_counters(db: &Database) -> Result<Counters, redb::Error> {
    let txn = db.begin_write()?;
    let counters = {
        let mut t = txn.open_table(COUNTERS)?;
        let seq = t.get(NEXT_SEQ)?.map(|g| g.value()).unwrap_or(1);
        let token = t.get(NEXT_TOKEN)?.map(|g| g.value()).unwrap_or(1);
        // Create every table so that readers (also read-only processes) find them.
        txn.open_table(MESSAGES)?;
        txn.open_table(CONTENT)?;
        txn.open_table(DUE)?;
        txn.open_table(LOG)?;
        txn.open_table(QUARANTINE)?;
        t.insert(NEXT_SEQ, seq)?;
        t.insert(NEXT_TOKEN, token)?;
        Counters {
            next_seq: seq,
            next_token: token,
        }
    };
    txn.commit()?;
    Ok(counters)
}

/// What the writer has done since the store was opened.
#[derive(Debug, Default)]
pub(crate) struct StatsCell {
    pub batches: AtomicU64,
    pub ops: AtomicU64,
    pub failed_batches: AtomicU64,
    pub largest_batch: AtomicU64,
    /// Microseconds spent running operations (before the commit).
    pub work_micros: AtomicU64,
    /// Microseconds spent in redb's commit (page writes and the fsync).
    pub commit_micros: AtomicU64,
    /// Batches committed without an fsync (bookkeeping only).
    pub unflushed_batches: AtomicU64,
    /// Durable commits (with an fsync): every other batch, plus the empty commits that made
    /// unflushed batches durable when nothing else came.
    pub flushes: AtomicU64,
}

/// The writer thread's loop: runs until every sender is gone and the channel is drained.
pub(crate) fn run(
    db: Arc<Database>,
    mut rx: mpsc::Receiver<Request>,
    mut counters: Counters,
    limits: BatchLimits,
    stats: Arc<StatsCell>,
) {
    let mut last_commit = Duration::ZERO;
    let mut recent = Recent::default();
    // Since when batches committed without an fsync wait for one (see `Op::needs_flush`).
    let mut unflushed_since: Option<Instant> = None;
    // Only to wait for a request with a deadline (tokio's channel has no blocking timeout).
    let timer = match limits.bookkeeping_flush {
        Some(_) => tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(
                |e| tracing::error!(error = %e, "store writer: no timer, every commit is durable"),
            )
            .ok(),
        None => None,
    };
    let window = limits.bookkeeping_flush.filter(|_| timer.is_some());
    loop {
        let first = match (unflushed_since, window, &timer) {
            (Some(since), Some(window), Some(timer)) => {
                let left = window.saturating_sub(since.elapsed());
                match timer.block_on(async { tokio::time::timeout(left, rx.recv()).await }) {
                    Ok(Some(r)) => Some(r),
                    Ok(None) => None,
                    Err(_) => {
                        // Quiet for the whole window: make the bookkeeping durable.
                        flush(&db, &stats);
                        unflushed_since = None;
                        continue;
                    }
                }
            }
            _ => rx.blocking_recv(),
        };
        let Some(first) = first else {
            // Every sender is gone: nothing may stay unflushed when the file is closed.
            if unflushed_since.is_some() {
                flush(&db, &stats);
            }
            break;
        };
        let mut bytes = first.op.weight();
        let mut batch = vec![first];
        let full = |batch: &Vec<Request>, bytes: usize| {
            batch.len() >= limits.max_ops || bytes >= limits.max_bytes
        };
        let drain =
            |batch: &mut Vec<Request>, bytes: &mut usize, rx: &mut mpsc::Receiver<Request>| {
                let before = batch.len();
                while !full(batch, *bytes) {
                    match rx.try_recv() {
                        Ok(r) => {
                            *bytes += r.op.weight();
                            batch.push(r);
                        }
                        Err(_) => break,
                    }
                }
                batch.len() > before
            };
        drain(&mut batch, &mut bytes, &mut rx);
        // When the disk's flushes are slow, callers answered by the previous batch are about
        // to come back: wait a little while they keep arriving, so that they share this
        // flush instead of waiting for the next one (PostgreSQL's commit_delay, adaptive).
        if let Some(max) = limits.linger.filter(|_| last_commit >= LINGER_ABOVE) {
            let deadline = Instant::now() + max.min(last_commit / 2);
            while !full(&batch, bytes) && Instant::now() < deadline {
                std::thread::sleep(LINGER_STEP);
                if !drain(&mut batch, &mut bytes, &mut rx) {
                    break;
                }
            }
        }
        let (ops, replies): (Vec<Op>, Vec<_>) = batch.into_iter().map(|r| (r.op, r.reply)).unzip();
        let n = ops.len() as u64;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.ops.fetch_add(n, Ordering::Relaxed);
        stats.largest_batch.fetch_max(n, Ordering::Relaxed);
        // Durable unless it is bookkeeping only and the unflushed window has time left.
        let durable = match window {
            None => true,
            Some(window) => {
                ops.iter().any(Op::needs_flush)
                    || unflushed_since.is_some_and(|since| since.elapsed() >= window)
            }
        };
        let started = Instant::now();
        let result = run_batch(&db, &mut counters, &mut recent, ops, &stats, durable);
        last_commit = started.elapsed();
        match result {
            Ok(results) => {
                if durable {
                    stats.flushes.fetch_add(1, Ordering::Relaxed);
                    unflushed_since = None;
                } else {
                    stats.unflushed_batches.fetch_add(1, Ordering::Relaxed);
                    unflushed_since.get_or_insert(started);
                }
                for (reply, result) in replies.into_iter().zip(results) {
                    // The caller may have gone away (cancelled); its write stands regardless.
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                // Rolled back: what was cached from it was never stored.
                recent.clear();
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, ops = replies.len(), "store batch failed");
                let detail = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Backend(detail.clone())));
                }
            }
        }
    }
}

/// The tables of one write transaction.
struct Tables<'t> {
    messages: Table<'t, &'static str, &'static [u8]>,
    content: Table<'t, &'static str, &'static [u8]>,
    due: Table<'t, (u64, &'static str), ()>,
    log: Table<'t, (&'static str, u32), &'static [u8]>,
    quarantine: Table<'t, &'static str, (&'static str, &'static [u8])>,
}

type OpResult = Result<Result<Reply, StoreError>, redb::Error>;

/// Makes the batches committed without an fsync durable: an empty transaction, committed
/// with `Durability::Immediate`, persists every commit before it. A failure is logged (the
/// next durable commit tries again).
fn flush(db: &Database, stats: &StatsCell) {
    let started = Instant::now();
    let result: Result<(), redb::Error> = db
        .begin_write()
        .map_err(redb::Error::from)
        .and_then(|txn| txn.commit().map_err(redb::Error::from));
    match result {
        Ok(()) => {
            stats.flushes.fetch_add(1, Ordering::Relaxed);
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            stats.commit_micros.fetch_add(micros, Ordering::Relaxed);
        }
        Err(e) => tracing::error!(error = %e, "store: flushing bookkeeping failed"),
    }
}

fn run_batch(
    db: &Database,
    counters: &mut Counters,
    recent: &mut Recent,
    ops: Vec<Op>,
    stats: &StatsCell,
    durable: bool,
) -> Result<Vec<Result<Reply, StoreError>>, redb::Error> {
    let started = Instant::now();
    let mut txn: WriteTransaction = db.begin_write()?;
    if !durable {
        // Refused only for multi-process files (`Options::shared_readers` turns the window
        // off): then it simply stays durable.
        let _ = txn.set_durability(redb::Durability::None);
    }
    let seq0 = counters.next_seq;
    let token0 = counters.next_token;
    let mut results = Vec::with_capacity(ops.len());
    {
        let mut t = Tables {
            messages: txn.open_table(MESSAGES)?,
            content: txn.open_table(CONTENT)?,
            due: txn.open_table(DUE)?,
            log: txn.open_table(LOG)?,
            quarantine: txn.open_table(QUARANTINE)?,
        };
        for op in ops {
            let r = match op {
                Op::Commit { msg, lease } => {
                    commit_leased(&mut t, counters, Some(&mut *recent), msg, lease.as_ref())
                        .map(|r| r.map(|(id, claimed)| Reply::Committed(id, claimed)))
                }
                Op::Claim {
                    node,
                    now,
                    max,
                    lease_duration,
                } => claim(&mut t, counters, &node, now, max, lease_duration),
                Op::Renew {
                    lease,
                    now,
                    lease_duration,
                } => renew(&mut t, &lease, now, lease_duration),
                Op::Apply {
                    lease,
                    report,
                    now,
                    remove_if,
                } => apply(&mut t, recent, &lease, report, now, remove_if),
                Op::Release(lease) => release(&mut t, &lease),
                Op::ReleaseNode(node) => release_node(&mut t, &node),
                Op::Delete(id) => delete(&mut t, &id),
                Op::Hold(id, on) => hold(&mut t, &id, on),
                Op::RetryNow(id, now) => retry_now(&mut t, &id, now),
                Op::RetryAll(now) => retry_all(&mut t, now),
                Op::FailLive { id, reply, now } => fail_live(&mut t, &id, &reply, now),
                Op::MarkDelayNotice { id, notice, now } => {
                    mark_delay_notice(&mut t, counters, &id, notice, now)
                }
                Op::FinishWithNotices { id, notices } => {
                    finish_with_notices(&mut t, counters, &id, notices)
                }
            };
            results.push(r?);
        }
        if counters.next_seq != seq0 || counters.next_token != token0 {
            let mut c = txn.open_table(COUNTERS)?;
            c.insert(NEXT_SEQ, counters.next_seq)?;
            c.insert(NEXT_TOKEN, counters.next_token)?;
        }
    }
    let committing = Instant::now();
    // Durability::Immediate (the default) returns after the fsync; Durability::None at once.
    txn.commit()?;
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    stats
        .work_micros
        .fetch_add(micros(committing - started), Ordering::Relaxed);
    stats
        .commit_micros
        .fetch_add(micros(committing.elapsed()), Ordering::Relaxed);
    Ok(results)
}

/// Reads and decodes a message record. `Ok(Err(..))` for a refusal.
fn load(t: &Tables<'_>, id: &str) -> Result<Option<Result<MessageMeta, StoreError>>, redb::Error> {
    Ok(t.messages
        .get(id)?
        .map(|raw| MessageMeta::decode(id, raw.value())))
}

/// Encodes, then writes a message record and moves its schedule entry from `old_due` to its
/// new due time. Refused (nothing written) only if the record cannot be encoded.
fn save(
    t: &mut Tables<'_>,
    id: &str,
    old_due: Option<u64>,
    meta: &MessageMeta,
) -> Result<Result<(), StoreError>, redb::Error> {
    let raw = match meta.encode() {
        Ok(raw) => raw,
        Err(e) => return Ok(Err(e)),
    };
    put(t, id, old_due, meta, &raw)?;
    Ok(Ok(()))
}

/// Writes an encoded message record and moves its schedule entry.
fn put(
    t: &mut Tables<'_>,
    id: &str,
    old_due: Option<u64>,
    meta: &MessageMeta,
    raw: &[u8],
) -> Result<(), redb::Error> {
    t.messages.insert(id, raw)?;
    let new_due = meta.due();
    if old_due != new_due {
        if let Some(d) = old_due {
            t.due.remove((d, id))?;
        }
        if let Some(d) = new_due {
            t.due.insert((d, id), ())?;
        }
    }
    Ok(())
}

/// Message records written by [`commit_leased`] with a lease (the relay's fast path), kept
/// decoded for the report that usually follows within milliseconds: [`apply`] takes the
/// cached record instead of decoding the stored one (a JSON decode was a tenth of the writer
/// thread's work per relayed message). Safe without any invalidation: the cached record is
/// used only when the stored bytes are exactly the bytes it was encoded to, so any change
/// made since (renew, release, hold, ...) makes it miss. Bounded to [`RECENT_MAX`] entries,
/// oldest evicted; cleared when a batch is rolled back.
#[derive(Default)]
pub(crate) struct Recent {
    map: HashMap<String, (Vec<u8>, MessageMeta)>,
    order: VecDeque<String>,
}

/// About 2 KB each: a few MB at most, far more than the deliveries in flight.
const RECENT_MAX: usize = 1024;

impl Recent {
    fn insert(&mut self, id: &str, raw: Vec<u8>, meta: MessageMeta) {
        while self.map.len() >= RECENT_MAX {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => self.map.clear(),
            }
        }
        // Ids taken by `apply` stay in `order` until evicted: keep it bounded too.
        if self.order.len() >= 4 * RECENT_MAX {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
        self.map.insert(id.to_string(), (raw, meta));
        self.order.push_back(id.to_string());
    }

    /// The cached record of `id` if `stored` is exactly what it was encoded to.
    fn take(&mut self, id: &str, stored: &[u8]) -> Option<MessageMeta> {
        match self.map.remove(id) {
            Some((raw, meta)) if raw == stored => Some(meta),
            _ => None,
        }
    }

    fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// The message leased by `lease`, if the lease is still its lease. With `recent`, the record
/// [`Recent`] holds is used instead of decoding the stored one when it is current.
fn load_leased(
    t: &Tables<'_>,
    recent: Option<&mut Recent>,
    lease: &Lease,
) -> Result<Result<MessageMeta, StoreError>, redb::Error> {
    let id = &lease.id.0;
    let Some(raw) = t.messages.get(id.as_str())? else {
        return Ok(Err(StoreError::LeaseLost(lease.id.clone())));
    };
    let cached = recent.and_then(|r| r.take(id, raw.value()));
    let meta = match cached.map_or_else(|| MessageMeta::decode(id, raw.value()), Ok) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    Ok(
        if meta.lease.as_ref().map(|l| l.token) == Some(lease.token) {
            Ok(meta)
        } else {
            Err(StoreError::LeaseLost(lease.id.clone()))
        },
    )
}

macro_rules! refuse {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        }
    };
}

fn commit(t: &mut Tables<'_>, counters: &mut Counters, msg: NewMessage) -> OpResult {
    Ok(commit_leased(t, counters, None, msg, None)?.map(|(id, _)| Reply::Id(id)))
}

/// Writes a new message; with `lease`, leased as a claim would (the `Claimed` is returned).
fn commit_leased(
    t: &mut Tables<'_>,
    counters: &mut Counters,
    recent: Option<&mut Recent>,
    msg: NewMessage,
    lease: Option<&LeaseAsk>,
) -> Result<Result<(QueueId, Option<Claimed>), StoreError>, redb::Error> {
    let NewMessage { envelope, content } = msg;
    if content.len() > MAX_CONTENT {
        // Refused here: a value redb cannot store would fail the whole batch.
        return Ok(Err(StoreError::Backend(format!(
            "message of {} bytes exceeds the store's limit of {MAX_CONTENT}",
            content.len()
        ))));
    }
    let at = envelope.received_at;
    let id = queue_id(at, counters.next_seq);
    counters.next_seq += 1;
    let mut meta = MessageMeta::new(envelope, &content);
    // Encode everything before writing anything: a refusal must leave no trace.
    let mut log = Vec::with_capacity(meta.recipients.len());
    for rec in rules::reception_log(&meta.recipients, at) {
        log.push((rec.seq, refuse!(encode_status(&rec))));
    }
    meta.log_len = log.len() as u32;
    let lease = lease.map(|ask| Lease {
        id: QueueId(id.clone()),
        node: ask.node.clone(),
        token: counters.next_token,
        expires_at: ask.now.saturating_add(ask.duration),
    });
    if lease.is_some() {
        counters.next_token += 1;
    }
    meta.lease = lease.clone();
    let raw = refuse!(meta.encode());
    t.content.insert(id.as_str(), content.as_slice())?;
    for (seq, rec) in &log {
        t.log.insert((id.as_str(), *seq), rec.as_slice())?;
    }
    put(t, &id, None, &meta, &raw)?;
    if let (Some(recent), Some(_)) = (recent, &lease) {
        recent.insert(&id, raw, meta.clone());
    }
    let claimed = lease.map(|lease| Claimed {
        lease,
        envelope: meta.envelope,
        recipients: meta.recipients,
        delay_notice_at: None,
    });
    Ok(Ok((QueueId(id), claimed)))
}

fn mark_delay_notice(
    t: &mut Tables<'_>,
    counters: &mut Counters,
    id: &QueueId,
    notice: Option<NewMessage>,
    now: u64,
) -> OpResult {
    let mut meta = match load(t, &id.0)? {
        None => return Ok(Ok(Reply::DelayMark(DelayMark::NotFound))),
        Some(m) => refuse!(m),
    };
    if let Some(at) = meta.delay_notice_at {
        return Ok(Ok(Reply::DelayMark(DelayMark::AlreadyMarked(at))));
    }
    if meta.recipients.iter().all(|r| r.state.is_final()) {
        return Ok(Ok(Reply::DelayMark(DelayMark::Finished)));
    }
    meta.delay_notice_at = Some(now);
    // Encode the mark before writing anything; `commit` refuses before it writes too, so a
    // refusal of either leaves no trace.
    let raw = refuse!(meta.encode());
    let notice_id = match notice {
        Some(n) => match refuse!(commit(t, counters, n)?) {
            Reply::Id(nid) => Some(nid),
            _ => None,
        },
        None => None,
    };
    let due = meta.due();
    put(t, &id.0, due, &meta, &raw)?;
    Ok(Ok(Reply::DelayMark(DelayMark::Marked(notice_id))))
}

fn claim(
    t: &mut Tables<'_>,
    counters: &mut Counters,
    node: &str,
    now: u64,
    max: usize,
    lease_duration: u64,
) -> OpResult {
    let mut out = Vec::new();
    let mut taken = BTreeSet::new();
    // Walk the schedule in chunks: entries found stale or corrupt are fixed as we go and do
    // not count against `max`.
    let mut from: Option<(u64, String)> = None;
    while out.len() < max {
        let mut candidates: Vec<(u64, String)> = Vec::new();
        {
            let range = match &from {
                None => t.due.range((0u64, "")..(now.saturating_add(1), ""))?,
                Some((d, id)) => t
                    .due
                    .range((*d, id.as_str())..(now.saturating_add(1), ""))?,
            };
            for entry in range {
                let (k, _) = entry?;
                let (d, id) = k.value();
                if from.as_ref().is_some_and(|(fd, fid)| *fd == d && fid == id) {
                    continue;
                }
                candidates.push((d, id.to_string()));
                if candidates.len() >= (max - out.len()) + 16 {
                    break;
                }
            }
        }
        let Some(last) = candidates.last().cloned() else {
            break;
        };
        for (d, id) in candidates {
            if out.len() >= max {
                break;
            }
            if taken.contains(&id) {
                // Claimed earlier in this call with a zero-length lease.
                continue;
            }
            let raw = t.messages.get(id.as_str())?.map(|g| g.value().to_vec());
            let Some(raw) = raw else {
                tracing::warn!(queue_id = %id, "schedule entry without a message; dropped");
                t.due.remove((d, id.as_str()))?;
                continue;
            };
            let mut meta = match MessageMeta::decode(&id, &raw) {
                Ok(m) => m,
                Err(e) => {
                    let why = e.to_string();
                    tracing::warn!(queue_id = %id, error = %why, "corrupt message record quarantined");
                    t.quarantine
                        .insert(id.as_str(), (why.as_str(), raw.as_slice()))?;
                    t.messages.remove(id.as_str())?;
                    t.due.remove((d, id.as_str()))?;
                    continue;
                }
            };
            if meta.due() != Some(d) {
                tracing::warn!(queue_id = %id, "stale schedule entry repaired");
                t.due.remove((d, id.as_str()))?;
                if let Some(nd) = meta.due() {
                    t.due.insert((nd, id.as_str()), ())?;
                }
                if meta.due().is_none_or(|nd| nd > now) {
                    continue;
                }
            }
            let old_due = meta.due();
            let lease = Lease {
                id: QueueId(id.clone()),
                node: node.to_string(),
                token: counters.next_token,
                expires_at: now.saturating_add(lease_duration),
            };
            counters.next_token += 1;
            meta.lease = Some(lease.clone());
            let raw = match meta.encode() {
                Ok(raw) => raw,
                Err(e) => {
                    tracing::error!(queue_id = %id, error = %e, "cannot encode a claim; skipped");
                    continue;
                }
            };
            put(t, &id, old_due, &meta, &raw)?;
            taken.insert(id.clone());
            out.push(Claimed {
                lease,
                envelope: meta.envelope,
                recipients: meta.recipients,
                delay_notice_at: meta.delay_notice_at,
            });
        }
        from = Some(last);
    }
    Ok(Ok(Reply::Claimed(out)))
}

fn renew(t: &mut Tables<'_>, lease: &Lease, now: u64, lease_duration: u64) -> OpResult {
    let mut meta = refuse!(load_leased(t, None, lease)?);
    let old_due = meta.due();
    let mut new = lease.clone();
    if let Some(l) = &meta.lease {
        new.node = l.node.clone();
    }
    new.expires_at = now.saturating_add(lease_duration);
    meta.lease = Some(new.clone());
    refuse!(save(t, &lease.id.0, old_due, &meta)?);
    Ok(Ok(Reply::Lease(new)))
}

fn apply(
    t: &mut Tables<'_>,
    recent: &mut Recent,
    lease: &Lease,
    report: DeliveryReport,
    now: u64,
    remove_if: Option<RemoveIf>,
) -> OpResult {
    let id = lease.id.clone();
    let invalid = |detail: String| {
        Ok(Err(StoreError::InvalidReport {
            id: id.clone(),
            detail,
        }))
    };
    if report.id != lease.id {
        return invalid(format!(
            "report is for {} but the lease for {}",
            report.id, id
        ));
    }
    let mut meta = refuse!(load_leased(t, Some(recent), lease)?);
    // Validate everything before changing anything.
    if let Err(detail) = rules::check_report(&meta.recipients, &report) {
        return invalid(detail);
    }
    let old_due = meta.due();
    let log = rules::apply_report(&mut meta.recipients, report, now, meta.log_len);
    let finished = meta.recipients.iter().all(|r| r.state.is_final());
    if remove_if.is_some_and(|remove_if| finished && remove_if(&meta.envelope, &meta.recipients)) {
        // The report finishes the message and nothing is owed for it: remove it instead of
        // writing the report, in this transaction (the report's records would go with it).
        // Not logged here (the writer thread is every commit's critical path): the queue
        // manager's status line says `removed`.
        remove(t, &id.0, old_due)?;
        return Ok(Ok(Reply::Applied(Applied {
            records: meta.recipients,
            removed: true,
        })));
    }
    meta.log_len += log.len() as u32;
    let mut encoded = Vec::with_capacity(log.len());
    for rec in &log {
        encoded.push((rec.seq, refuse!(encode_status(rec))));
    }
    // `save` encodes before it writes; after it, only writes that cannot be refused.
    refuse!(save(t, &id.0, old_due, &meta)?);
    for (seq, raw) in &encoded {
        t.log.insert((id.0.as_str(), *seq), raw.as_slice())?;
    }
    Ok(Ok(Reply::Applied(Applied {
        records: meta.recipients,
        removed: false,
    })))
}

fn release(t: &mut Tables<'_>, lease: &Lease) -> OpResult {
    let mut meta = refuse!(load_leased(t, None, lease)?);
    let old_due = meta.due();
    meta.lease = None;
    refuse!(save(t, &lease.id.0, old_due, &meta)?);
    Ok(Ok(Reply::Done))
}

fn release_node(t: &mut Tables<'_>, node: &str) -> OpResult {
    // A full scan: this runs once when a node starts.
    let mut owned = Vec::new();
    for entry in t.messages.iter()? {
        let (k, v) = entry?;
        let id = k.value();
        // Corrupt records are skipped here; claim quarantines them.
        if let Ok(m) = MessageMeta::decode(id, v.value())
            && m.lease.as_ref().is_some_and(|l| l.node == node)
        {
            owned.push((id.to_string(), m));
        }
    }
    let n = owned.len();
    let mut encoded = Vec::with_capacity(n);
    for (id, mut meta) in owned {
        let old_due = meta.due();
        meta.lease = None;
        let raw = refuse!(meta.encode());
        encoded.push((id, old_due, meta, raw));
    }
    for (id, old_due, meta, raw) in &encoded {
        put(t, id, *old_due, meta, raw)?;
    }
    Ok(Ok(Reply::Count(n)))
}

/// Commits the notices and deletes the message in this transaction; refused (nothing
/// written) for a notice the store cannot hold, and nothing done for a missing message.
fn finish_with_notices(
    t: &mut Tables<'_>,
    counters: &mut Counters,
    id: &QueueId,
    notices: Vec<NewMessage>,
) -> OpResult {
    let exists =
        t.messages.get(id.0.as_str())?.is_some() || t.quarantine.get(id.0.as_str())?.is_some();
    if !exists {
        return Ok(Ok(Reply::Finished(None)));
    }
    // `commit` refuses only an oversized content (checked here first, so that no notice is
    // written before a refusal) or a record that cannot be encoded.
    if let Some(n) = notices.iter().find(|n| n.content.len() > MAX_CONTENT) {
        return Ok(Err(StoreError::Backend(format!(
            "notice of {} bytes exceeds the store's limit of {MAX_CONTENT}",
            n.content.len()
        ))));
    }
    let mut ids = Vec::with_capacity(notices.len());
    for n in notices {
        match refuse!(commit(t, counters, n)?) {
            Reply::Id(nid) => ids.push(nid),
            _ => return Ok(Err(StoreError::Backend("commit answered no id".into()))),
        }
    }
    match refuse!(delete(t, id)?) {
        Reply::Found(_) => Ok(Ok(Reply::Finished(Some(ids)))),
        _ => Ok(Err(StoreError::Backend("delete answered nothing".into()))),
    }
}

fn delete(t: &mut Tables<'_>, id: &QueueId) -> OpResult {
    let id = id.0.as_str();
    let meta = t
        .messages
        .remove(id)?
        .map(|raw| MessageMeta::decode(id, raw.value()));
    let quarantined = t.quarantine.remove(id)?.is_some();
    let found = match meta {
        None => quarantined,
        Some(Ok(m)) => {
            if let Some(d) = m.due() {
                t.due.remove((d, id))?;
            }
            true
        }
        Some(Err(_)) => {
            // The due time cannot be known from a corrupt record: find its entry by scanning.
            t.due.retain(|(_, k), ()| k != id)?;
            true
        }
    };
    if found {
        tracing::info!(queue_id = %id, "message deleted");
    }
    remove_data(t, id)?;
    Ok(Ok(Reply::Found(found)))
}

/// Removes a message whose record was read intact (due at `due`): record, schedule entry,
/// content and status log.
fn remove(t: &mut Tables<'_>, id: &str, due: Option<u64>) -> Result<(), redb::Error> {
    t.messages.remove(id)?;
    if let Some(d) = due {
        t.due.remove((d, id))?;
    }
    remove_data(t, id)
}

/// Removes a message's content and status log.
fn remove_data(t: &mut Tables<'_>, id: &str) -> Result<(), redb::Error> {
    t.content.remove(id)?;
    t.log.retain_in((id, 0u32)..=(id, u32::MAX), |_, _| false)?;
    Ok(())
}

fn hold(t: &mut Tables<'_>, id: &QueueId, on: bool) -> OpResult {
    let mut meta = match load(t, &id.0)? {
        None => {
            if t.quarantine.get(id.0.as_str())?.is_some() {
                return Ok(Err(corrupt(&id.0, "quarantined")));
            }
            return Ok(Ok(Reply::Found(false)));
        }
        Some(m) => refuse!(m),
    };
    let old_due = meta.due();
    meta.held = on;
    refuse!(save(t, &id.0, old_due, &meta)?);
    Ok(Ok(Reply::Found(true)))
}

fn retry_now(t: &mut Tables<'_>, id: &QueueId, now: u64) -> OpResult {
    let mut meta = match load(t, &id.0)? {
        None => {
            if t.quarantine.get(id.0.as_str())?.is_some() {
                return Ok(Err(corrupt(&id.0, "quarantined")));
            }
            return Ok(Ok(Reply::Found(false)));
        }
        Some(m) => refuse!(m),
    };
    let old_due = meta.due();
    if rules::retry_now(&mut meta.recipients, now) > 0 {
        refuse!(save(t, &id.0, old_due, &meta)?);
    }
    Ok(Ok(Reply::Found(true)))
}

fn retry_all(t: &mut Tables<'_>, now: u64) -> OpResult {
    // A full scan, like release_node: an operator's command, not a hot path.
    let mut changed = Vec::new();
    for entry in t.messages.iter()? {
        let (k, v) = entry?;
        let id = k.value();
        // Corrupt records are skipped here; claim quarantines them.
        if let Ok(mut m) = MessageMeta::decode(id, v.value()) {
            let old_due = m.due();
            if rules::retry_now(&mut m.recipients, now) > 0 {
                changed.push((id.to_string(), old_due, m));
            }
        }
    }
    let mut encoded = Vec::with_capacity(changed.len());
    for (id, old_due, meta) in changed {
        let raw = refuse!(meta.encode());
        encoded.push((id, old_due, meta, raw));
    }
    for (id, old_due, meta, raw) in &encoded {
        put(t, id, *old_due, meta, raw)?;
    }
    Ok(Ok(Reply::Count(encoded.len())))
}

fn fail_live(t: &mut Tables<'_>, id: &QueueId, reply: &str, now: u64) -> OpResult {
    let mut meta = match load(t, &id.0)? {
        None => {
            if t.quarantine.get(id.0.as_str())?.is_some() {
                return Ok(Err(corrupt(&id.0, "quarantined")));
            }
            return Ok(Ok(Reply::Fail(FailOutcome::NotFound)));
        }
        Some(m) => refuse!(m),
    };
    if let Some(l) = meta
        .lease
        .as_ref()
        .filter(|l| rules::lease_current(Some(l), now))
    {
        return Ok(Ok(Reply::Fail(FailOutcome::Leased(l.clone()))));
    }
    let old_due = meta.due();
    meta.lease = None;
    let log = rules::fail_live(&mut meta.recipients, reply, now, meta.log_len);
    meta.log_len += log.len() as u32;
    let mut encoded = Vec::with_capacity(log.len());
    for rec in &log {
        encoded.push((rec.seq, refuse!(encode_status(rec))));
    }
    refuse!(save(t, &id.0, old_due, &meta)?);
    for (seq, raw) in &encoded {
        t.log.insert((id.0.as_str(), *seq), raw.as_slice())?;
    }
    Ok(Ok(Reply::Fail(FailOutcome::Failed(meta.recipients))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(seed: u64) -> MessageMeta {
        let msg = mailerd_store::conformance::message(seed, &["bob@example.net"], 100);
        MessageMeta::new(msg.envelope, &msg.content)
    }

    #[test]
    fn recent_serves_only_the_exact_bytes_and_only_once() {
        let mut r = Recent::default();
        let m = meta(1);
        let raw = m.encode().expect("encode");
        r.insert("A", raw.clone(), m.clone());
        let mut other = raw.clone();
        other[0] ^= 1;
        assert_eq!(r.take("A", &other), None, "changed bytes: not served");
        assert_eq!(r.take("A", &raw), None, "a miss drops the entry");
        r.insert("A", raw.clone(), m.clone());
        assert_eq!(r.take("B", &raw), None);
        assert_eq!(r.take("A", &raw), Some(m));
        assert_eq!(r.take("A", &raw), None, "taken once");
    }

    #[test]
    fn recent_is_bounded() {
        let mut r = Recent::default();
        let m = meta(2);
        let raw = m.encode().expect("encode");
        for i in 0..(10 * RECENT_MAX) {
            r.insert(&format!("{i:08}"), raw.clone(), m.clone());
            if i % 3 == 0 {
                assert!(r.take(&format!("{i:08}"), &raw).is_some());
            }
            assert!(r.len() <= RECENT_MAX);
            assert!(r.order.len() <= 4 * RECENT_MAX + 1);
        }
        // The newest are kept, the oldest evicted.
        let last = 10 * RECENT_MAX - 2; // not taken in the loop (not a multiple of 3)
        assert!(r.take(&format!("{last:08}"), &raw).is_some());
        assert!(r.take("00000001", &raw).is_none());
    }

    /// What `Recent` relies on: decoding the bytes a record was encoded to gives that record.
    #[test]
    fn a_record_decodes_to_itself() {
        for seed in 0..50 {
            let mut m = meta(seed);
            m.lease = Some(Lease {
                id: mailerd_types::QueueId(format!("{seed:020}")),
                node: "node-a".into(),
                token: seed * 7 + 1,
                expires_at: 1_700_000_000 + seed,
            });
            m.delay_notice_at = (seed % 2 == 0).then_some(seed);
            let raw = m.encode().expect("encode");
            assert_eq!(MessageMeta::decode("x", &raw).expect("decode"), m);
        }
    }
}
