//! The durability contract of the queue.
//!
//! A [`Store`] keeps messages (envelope + content) and the state of every recipient. Its first
//! promise: when [`Store::commit`] returns `Ok`, the message, its envelope and every
//! recipient's initial state are on stable storage (fsync), so the SMTP server may answer 250.
//!
//! This crate defines the trait and the record types only; backends live in their own crates
//! (`store-embedded` for one node, later `store-postgres` for several). It does no I/O itself.

use std::future::Future;

use mailerd_types::{Envelope, QueueId};

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
}

/// The queue store. Implementations must be safe to share between tasks.
pub trait Store: Send + Sync + 'static {
    /// Durably stores a new message with every recipient pending. Returns only once the data
    /// is on stable storage; concurrent commits may share one fsync (group commit).
    fn commit(&self, msg: NewMessage) -> impl Future<Output = Result<QueueId, StoreError>> + Send;
}
