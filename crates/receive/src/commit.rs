//! What receive needs of the store: the durable commit, and nothing else.

use std::future::Future;

use mailerd_store::{NewMessage, Store, StoreError};
use mailerd_types::QueueId;

/// The one store operation the SMTP server uses: [`Store::commit`]. Every [`Store`] is a
/// `Commit`; tests may implement just this.
pub trait Commit: Send + Sync + 'static {
    /// Durably stores a new message; `Ok` only once it is on stable storage.
    fn commit(&self, msg: NewMessage) -> impl Future<Output = Result<QueueId, StoreError>> + Send;
}

impl<S: Store> Commit for S {
    fn commit(&self, msg: NewMessage) -> impl Future<Output = Result<QueueId, StoreError>> + Send {
        Store::commit(self, msg)
    }
}
