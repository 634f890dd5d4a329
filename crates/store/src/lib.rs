//! The durability contract of the queue.
//!
//! A [`Store`] keeps messages (envelope + content) and the state of every recipient. Its first
//! promise: when [`Store::commit`] returns `Ok`, the message, its envelope and every
//! recipient's initial state are on stable storage (fsync), so the SMTP server may answer 250
//! (invariant 1).
//!
//! The rest of the contract serves the queue manager:
//! - [`Store::claim`] hands out messages that are due, each owned by one node through a
//!   [`Lease`] with an expiry (invariant 5). An expired lease may be taken over by anyone; the
//!   lease's `token` then changes, so the old owner's later [`Store::apply`] or
//!   [`Store::release`] fails with [`StoreError::LeaseLost`] instead of clobbering the new
//!   owner's work (fencing).
//! - [`Store::release_node`] lets a restarting node end the leases it held before, so its
//!   messages in flight are retried at once instead of after the leases expire.
//! - [`Store::apply`] applies a [`DeliveryReport`] atomically, every update or none, and appends
//!   one [`StatusRecord`] per recipient update (invariant 2). Delivery status notifications are
//!   built from [`Store::status_log`] only.
//! - [`Store::apply_and_remove`] is [`Store::apply`] that, when the report finishes the
//!   message and the caller's [`RemoveIf`] says nothing is owed for it (no notice), also
//!   removes the message in the same atomic, durable write: a relayed message costs two
//!   writes (reception, report) instead of three (reception, report, delete).
//! - [`Store::mark_delay_notice`] records, durably and atomically with the notice itself, that
//!   a message's one delay notice was written, so a restart never sends a second.
//! - [`Store::list`], [`Store::get`], [`Store::hold`], [`Store::release_hold`],
//!   [`Store::delete`], [`Store::retry_now`], [`Store::retry_all`] and [`Store::fail_live`]
//!   serve the operator (`mailerd queue ...`).
//!
//! Time is always a parameter (seconds since the Unix epoch): a store has no clock, so tests
//! and the queue manager drive it with fake time.
//!
//! A store never deletes a message by itself, not even when every recipient is final: the
//! queue manager or notify deletes it once nothing more is owed for it (with
//! [`Store::apply_and_remove`], in the write that finishes it). Records that cannot be decoded are
//! reported ([`StoreError::Corrupt`], [`MessageList::corrupt`]) and quarantined, never deleted
//! and never a panic (invariant 7).
//!
//! [`rules`] holds the state rules every backend shares (what is due, which reports are
//! valid, what they change); [`memory::MemoryStore`] is the whole contract in memory, for the
//! tests of the roles that use a store.
//!
//! This crate defines the trait, the record types and (feature `conformance`) the
//! `conformance` suite every backend's tests run. Backends live in their own crates
//! (`store-embedded` for one node, later `store-postgres` for several). It does no I/O itself.
//! It does not schedule: retry times, expiry and the active window are the queue manager's.

use std::future::Future;

use mailerd_types::{DeliveryReport, Envelope, QueueId, RecipientState};
use serde::{Deserialize, Serialize};

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod memory;
pub mod rules;

/// A message ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub envelope: Envelope,
    /// The message content as it will be delivered (headers added by receive included), with
    /// CRLF line endings.
    pub content: Vec<u8>,
}

/// Why a store operation failed. Protocol outcomes are not errors; these are.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("store backend failed: {0}")]
    Backend(String),
    #[error("corrupt record {id}: {detail}")]
    Corrupt { id: String, detail: String },
    #[error("store is shutting down")]
    Closed,
    /// The caller's lease on the message expired and was taken over, or was released, or the
    /// message was deleted: the caller no longer owns it.
    #[error("lease on {0} lost")]
    LeaseLost(QueueId),
    /// A delivery report that cannot be applied (unknown recipient, a recipient already in a
    /// final state, a deferral without a next attempt time, ...). Nothing was changed.
    #[error("invalid delivery report for {id}: {detail}")]
    InvalidReport { id: QueueId, detail: String },
    /// The store was opened read-only (for example by `mailerd queue list` next to a running
    /// server) and cannot change anything.
    #[error("store is open read-only")]
    ReadOnly,
    /// Another process has the store open for writing.
    #[error("store is in use by another process: {0}")]
    InUse(String),
}

/// One recipient of a queued message and where its delivery stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientRecord {
    /// Position in [`Envelope::recipients`]; [`mailerd_types::RecipientUpdate::index`] refers
    /// to it.
    pub index: usize,
    /// The forward-path (`bob@example.org`); the DSN parameters stay in the envelope.
    pub address: String,
    pub state: RecipientState,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Seconds since the epoch before which this recipient is not tried (meaningful while
    /// pending or deferred).
    pub next_attempt: u64,
    /// The reply of the last attempt, if any.
    pub last_reply: Option<String>,
    /// The host that gave [`Self::last_reply`].
    pub remote_mta: Option<String>,
    /// When the state last changed (seconds since the epoch).
    pub updated_at: u64,
    /// When delivered: whether the next hop offered DSN (see
    /// [`mailerd_types::RecipientUpdate::next_hop_dsn`]). `None` otherwise, and in records
    /// written before this was kept (treated as unknown: no success notice).
    #[serde(default)]
    pub next_hop_dsn: Option<bool>,
}

/// One entry of a message's status log: one recipient changed state (or was tried again).
/// Notifications (DSNs) and delivery logs are built from these records only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRecord {
    /// Position in the log of this message, from 0, in order of appending.
    pub seq: u32,
    /// Seconds since the epoch: the `now` of the operation that appended it.
    pub at: u64,
    /// Position of the recipient in the envelope.
    pub index: usize,
    pub recipient: String,
    pub state: RecipientState,
    pub reply: Option<String>,
    pub remote_mta: Option<String>,
    pub attempts: u32,
    /// When delivered: whether the next hop offered DSN.
    #[serde(default)]
    pub next_hop_dsn: Option<bool>,
}

/// Ownership of one message by one node until `expires_at` (invariant 5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    pub id: QueueId,
    /// The owning node, as given to [`Store::claim`].
    pub node: String,
    /// Changes at every claim of the message: proves which claim a later call comes from.
    pub token: u64,
    /// Seconds since the epoch; at and after this time anyone may claim the message again.
    pub expires_at: u64,
}

/// A message handed out by [`Store::claim`]. The content is fetched with [`Store::get`] when
/// the delivery actually starts, so claiming many messages keeps memory bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub lease: Lease,
    pub envelope: Envelope,
    pub recipients: Vec<RecipientRecord>,
    /// When the message's delay notice was written ([`Store::mark_delay_notice`]), if it was.
    pub delay_notice_at: Option<u64>,
}

/// Everything the store knows about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub id: QueueId,
    pub envelope: Envelope,
    /// The exact bytes given to [`Store::commit`].
    pub content: Vec<u8>,
    pub recipients: Vec<RecipientRecord>,
    pub held: bool,
    /// The current lease, expired or not, if the message was claimed and not released.
    pub lease: Option<Lease>,
    /// When the message's delay notice was written ([`Store::mark_delay_notice`]), if it was.
    pub delay_notice_at: Option<u64>,
}

/// One line of `mailerd queue list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSummary {
    pub id: QueueId,
    /// The reverse-path; empty for the null sender.
    pub reverse_path: String,
    /// Seconds since the epoch when the message was accepted.
    pub received_at: u64,
    /// Content size in bytes.
    pub size: u64,
    pub held: bool,
    pub lease: Option<Lease>,
    /// The earliest next attempt among live recipients; `None` when every recipient is final.
    pub next_attempt: Option<u64>,
    pub recipients: Vec<RecipientRecord>,
    /// When the message's delay notice was written, if it was.
    #[serde(default)]
    pub delay_notice_at: Option<u64>,
}

impl MessageSummary {
    /// `true` when every recipient is delivered, failed or expired.
    pub fn is_done(&self) -> bool {
        self.recipients.iter().all(|r| r.state.is_final())
    }
}

/// Which messages [`Store::list`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListFilter {
    /// `Some(true)`: held messages only; `Some(false)`: not held only; `None`: both.
    pub held: Option<bool>,
    /// Include messages whose recipients are all final (kept until the queue manager deletes
    /// them).
    pub include_done: bool,
    /// Only messages whose id sorts strictly after this one (pagination).
    pub after: Option<QueueId>,
    /// At most this many messages.
    pub limit: Option<usize>,
}

/// A record the store could not decode; it is kept aside, not deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorruptRecord {
    pub id: String,
    pub detail: String,
}

/// The answer to [`Store::list`]: messages in id order (which is arrival order), and the
/// records that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageList {
    pub messages: Vec<MessageSummary>,
    pub corrupt: Vec<CorruptRecord>,
}

/// What [`Store::fail_live`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOutcome {
    /// No such message.
    NotFound,
    /// A delivery is in flight under this lease (not expired at `now`): nothing changed.
    /// Hold the message and ask again once the lease is released.
    Leased(Lease),
    /// Every live recipient is now failed; the message's records after the change (every
    /// recipient is final: the message awaits its notices).
    Failed(Vec<RecipientRecord>),
}

/// What [`Store::mark_delay_notice`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DelayMark {
    /// No such message: nothing was committed.
    NotFound,
    /// The message was already marked at this time: nothing was committed.
    AlreadyMarked(u64),
    /// Every recipient of the message is final (a delivery finished it after the caller
    /// looked): nothing was committed, so no "still trying" can follow its final notice.
    Finished,
    /// The message is now marked; the notice, if one was given, was committed with this id.
    Marked(Option<QueueId>),
}

/// Decides, from a message's envelope and its recipients' records after a report was applied
/// (every one of them final), that nothing more is owed for the message, so that
/// [`Store::apply_and_remove`] may remove it. A plain function, so that a backend can run it
/// where it applies the report (the redb store's writer thread).
pub type RemoveIf = fn(&Envelope, &[RecipientRecord]) -> bool;

/// What [`Store::apply_and_remove`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The recipients' records after the report, as [`Store::apply`] returns them.
    pub records: Vec<RecipientRecord>,
    /// The report finished the message and the caller's [`RemoveIf`] held: the message, its
    /// content and its status log are gone, in the same write as the report; the lease is void.
    pub removed: bool,
}

/// The error of an operator method a backend does not implement (the default bodies).
fn unsupported(what: &str) -> StoreError {
    StoreError::Backend(format!("this store does not support {what}"))
}

/// The queue store. Implementations must be safe to share between tasks (`Arc<S>`).
///
/// Every method that changes something is durable when it returns `Ok`; a backend may share
/// one fsync between concurrent calls (group commit). Calls that return `Err` changed nothing.
/// One relaxation: the queue manager's bookkeeping ([`Store::claim`], [`Store::renew`],
/// [`Store::release`], [`Store::apply`], [`Store::apply_and_remove`]) may become durable a
/// bounded moment after it returns (the embedded store: with its next durable write, within
/// 100 ms), always in order and atomically. A crash in between can only undo that
/// bookkeeping: the messages concerned are still stored and are delivered again (at least
/// once), none is lost. Everything that creates or removes mail for any other reason (commits,
/// notices, operator commands) is durable when it returns.
pub trait Store: Send + Sync + 'static {
    /// Durably stores a new message with every recipient pending and due at
    /// `envelope.received_at`, and appends one `Pending` status record per recipient (the
    /// reception). Returns only once the data is on stable storage; concurrent commits may
    /// share one fsync (group commit).
    fn commit(&self, msg: NewMessage) -> impl Future<Output = Result<QueueId, StoreError>> + Send;

    /// [`Store::commit`], and in the same durable write, leases the new message to `node`
    /// until `now + lease_duration` as [`Store::claim`] would, so that the node that received
    /// it can deliver it at once, from the content it still holds, without a claim and a read
    /// (the fast path of a relay). The message is then in the same state as one just claimed:
    /// nobody else claims it before the lease expires; [`Store::release`] makes it due.
    ///
    /// `Ok((id, None))` means committed but not leased: the caller falls back to claiming it.
    /// That is what the default body does (a plain [`Store::commit`]); backends override it.
    fn commit_claimed(
        &self,
        msg: NewMessage,
        node: &str,
        now: u64,
        lease_duration: u64,
    ) -> impl Future<Output = Result<(QueueId, Option<Claimed>), StoreError>> + Send {
        let _ = (node, now, lease_duration);
        async move { Ok((self.commit(msg).await?, None)) }
    }

    /// The message, its content and recipients; `Ok(None)` if there is no such message.
    /// [`StoreError::Corrupt`] if its records cannot be read back intact.
    fn get(
        &self,
        id: &QueueId,
    ) -> impl Future<Output = Result<Option<StoredMessage>, StoreError>> + Send;

    /// Messages matching `filter`, in id order. Unreadable records are skipped and reported
    /// in [`MessageList::corrupt`].
    fn list(
        &self,
        filter: &ListFilter,
    ) -> impl Future<Output = Result<MessageList, StoreError>> + Send;

    /// Up to `max` messages due at `now`, leased to `node` until `now + lease_duration`.
    ///
    /// Due means: not held, at least one live recipient whose next attempt is `<= now`, and
    /// no lease or an expired one (`expires_at <= now`). Earliest due first. Each claim gives
    /// the lease a new token, so a previous owner's lease is void.
    fn claim(
        &self,
        node: &str,
        now: u64,
        max: usize,
        lease_duration: u64,
    ) -> impl Future<Output = Result<Vec<Claimed>, StoreError>> + Send;

    /// Extends a lease still held to `now + lease_duration`.
    fn renew(
        &self,
        lease: &Lease,
        now: u64,
        lease_duration: u64,
    ) -> impl Future<Output = Result<Lease, StoreError>> + Send;

    /// Applies a delivery report atomically under `lease`: every update or none. Appends one
    /// [`StatusRecord`] per update, stamped `now`. The lease is kept (a message may get
    /// several reports, one per destination); end it with [`Store::release`].
    ///
    /// Fails with [`StoreError::LeaseLost`] if `lease` is no longer the message's lease, and
    /// [`StoreError::InvalidReport`] if an update names an unknown recipient or one already
    /// final, names a recipient twice, or defers without a next attempt time.
    fn apply(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
    ) -> impl Future<Output = Result<Vec<RecipientRecord>, StoreError>> + Send;

    /// [`Store::apply`], and then, in the same atomic and durable write, when every recipient
    /// is final after the report and `remove_if(envelope, records)` holds, removes the message,
    /// its content and its status log as [`Store::delete`] does ([`Applied::removed`]).
    /// Otherwise exactly [`Store::apply`]. A refused report ([`StoreError::LeaseLost`],
    /// [`StoreError::InvalidReport`]) changes nothing and removes nothing.
    ///
    /// The default body calls [`Store::apply`] then [`Store::delete`] (two writes, not
    /// atomic: a crash between them leaves a finished message for notify, as before); a
    /// backend overrides it to do both in one write.
    fn apply_and_remove(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
        remove_if: RemoveIf,
    ) -> impl Future<Output = Result<Applied, StoreError>> + Send {
        async move {
            let id = lease.id.clone();
            let records = self.apply(lease, report, now).await?;
            let finished = records.iter().all(|r| r.state.is_final());
            let mut removed = false;
            if finished && let Some(m) = self.get(&id).await? {
                removed = remove_if(&m.envelope, &records) && self.delete(&id).await?;
            }
            Ok(Applied { records, removed })
        }
    }

    /// Ends ownership; the message is due again at its earliest live recipient's next attempt.
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends every lease held by `node`, expired or not, and returns how many. A node calls it
    /// when it starts, so that the deliveries it had in flight when it stopped are retried at
    /// once rather than after their leases expire. Node names must therefore be unique per
    /// running instance.
    fn release_node(&self, node: &str) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The status log of a message in order; empty if there is no such message.
    fn status_log(
        &self,
        id: &QueueId,
    ) -> impl Future<Output = Result<Vec<StatusRecord>, StoreError>> + Send;

    /// Removes the message, its content and its status log. `Ok(false)` if there was no such
    /// message. A lease on it is void afterwards.
    fn delete(&self, id: &QueueId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Puts the message on hold: it is not claimed until [`Store::release_hold`]. A current
    /// lease stays valid (the delivery in flight finishes). `Ok(false)` if no such message.
    fn hold(&self, id: &QueueId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Takes the message off hold. `Ok(false)` if no such message.
    fn release_hold(&self, id: &QueueId) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks message `id` as having had its delay notice ("still trying", RFC 3464 `Action:
    /// delayed`) at `now` and, in the same atomic and durable write, commits `notice` (as
    /// [`Store::commit`] would) when one is given. A message is marked at most once: if it was
    /// already marked, or does not exist, nothing is committed. So a delay notice is written
    /// exactly once per message whatever crashes or restarts happen, and two concurrent
    /// callers cannot both send one. `notice: None` marks without a notice (none was due).
    /// A message whose recipients are all final is not marked ([`DelayMark::Finished`]).
    /// The mark needs no lease and changes no recipient state; it goes with the message.
    fn mark_delay_notice(
        &self,
        id: &QueueId,
        notice: Option<NewMessage>,
        now: u64,
    ) -> impl Future<Output = Result<DelayMark, StoreError>> + Send;

    /// Commits `notices` (as [`Store::commit`] would) and removes message `id` (content,
    /// status log, lease) in one atomic, durable write, so the notices about a finished
    /// message are written exactly once whatever crashes happen: before the write nothing is
    /// sent, after it the message is gone. `Ok(None)`, and nothing committed, when there is no
    /// such message (another caller finished it first). The ids of the notices otherwise, in
    /// order. The default body takes several writes; backends should override it.
    fn finish_with_notices(
        &self,
        id: &QueueId,
        notices: Vec<NewMessage>,
    ) -> impl Future<Output = Result<Option<Vec<QueueId>>, StoreError>> + Send {
        async move {
            if self.get(id).await?.is_none() {
                return Ok(None);
            }
            let mut ids = Vec::with_capacity(notices.len());
            for n in notices {
                ids.push(self.commit(n).await?);
            }
            self.delete(id).await?;
            Ok(Some(ids))
        }
    }

    /// Makes every live recipient of the message due at `now` at the latest (an operator's
    /// "retry now"): a deferred recipient waiting for a later attempt is brought forward; its
    /// attempt count and last reply stay. The hold flag and a current lease are unchanged (a
    /// held message stays held; a delivery in flight finishes first). Appends nothing to the
    /// status log. `Ok(false)` if no such message.
    fn retry_now(
        &self,
        id: &QueueId,
        now: u64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = (id, now);
        async { Err(unsupported("retry_now")) }
    }

    /// [`Store::retry_now`] for every message; returns how many messages had a recipient
    /// brought forward.
    fn retry_all(&self, now: u64) -> impl Future<Output = Result<usize, StoreError>> + Send {
        let _ = now;
        async { Err(unsupported("retry_all")) }
    }

    /// Fails every live (pending or deferred) recipient of the message with `reply` (an
    /// operator's decision, e.g. `5.0.0 deleted by the administrator`), stamped `now`, with
    /// one [`StatusRecord`] each, so that notify sends the sender a failure notice from the
    /// status log as for any failure. Respects leases: while a lease is current at `now` it
    /// changes nothing and answers [`FailOutcome::Leased`]; an expired lease is voided (its
    /// owner's later calls fail with [`StoreError::LeaseLost`]).
    fn fail_live(
        &self,
        id: &QueueId,
        reply: &str,
        now: u64,
    ) -> impl Future<Output = Result<FailOutcome, StoreError>> + Send {
        let _ = (id, reply, now);
        async { Err(unsupported("fail_live")) }
    }
}
