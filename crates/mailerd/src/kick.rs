//! A store that gives every new message to the queue manager's [`Intake`] (committed already
//! leased and handed over with its content when the manager has room, else committed and the
//! manager woken), wakes the manager after a delay notice committed with its mark, release of
//! a hold and operator's retry, so the mail is tried at once instead of at the next idle
//! poll, and hands a message an operator failed (`queue delete --bounce`) to notify.
//! Everything else is delegation.

use std::sync::Arc;

use mailerd_queue::manager::{Intake, Kick};
use mailerd_store::{
    Applied, Claimed, DelayMark, FailOutcome, Lease, ListFilter, MessageList, NewMessage,
    RecipientRecord, RemoveIf, StatusRecord, Store, StoreError, StoredMessage,
};
use mailerd_types::{DeliveryReport, QueueId};

pub struct KickStore<S> {
    inner: Arc<S>,
    kick: Kick,
    intake: Intake,
}

impl<S> KickStore<S> {
    pub fn new(inner: Arc<S>, kick: Kick, intake: Intake) -> Self {
        KickStore {
            inner,
            kick,
            intake,
        }
    }
}

impl<S: Store> Store for KickStore<S> {
    async fn commit(&self, msg: NewMessage) -> Result<QueueId, StoreError> {
        self.intake.commit(&*self.inner, msg).await
    }
    async fn commit_claimed(
        &self,
        msg: NewMessage,
        node: &str,
        now: u64,
        lease_duration: u64,
    ) -> Result<(QueueId, Option<Claimed>), StoreError> {
        self.inner
            .commit_claimed(msg, node, now, lease_duration)
            .await
    }
    async fn mark_delay_notice(
        &self,
        id: &QueueId,
        notice: Option<NewMessage>,
        now: u64,
    ) -> Result<DelayMark, StoreError> {
        let m = self.inner.mark_delay_notice(id, notice, now).await?;
        if matches!(m, DelayMark::Marked(Some(_))) {
            self.kick.kick();
        }
        Ok(m)
    }
    async fn finish_with_notices(
        &self,
        id: &QueueId,
        notices: Vec<NewMessage>,
    ) -> Result<Option<Vec<QueueId>>, StoreError> {
        let ids = self.inner.finish_with_notices(id, notices).await?;
        if ids.as_ref().is_some_and(|v| !v.is_empty()) {
            self.kick.kick();
        }
        Ok(ids)
    }
    async fn get(&self, id: &QueueId) -> Result<Option<StoredMessage>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(&self, filter: &ListFilter) -> Result<MessageList, StoreError> {
        self.inner.list(filter).await
    }
    async fn claim(
        &self,
        node: &str,
        now: u64,
        max: usize,
        lease_duration: u64,
    ) -> Result<Vec<Claimed>, StoreError> {
        self.inner.claim(node, now, max, lease_duration).await
    }
    async fn renew(
        &self,
        lease: &Lease,
        now: u64,
        lease_duration: u64,
    ) -> Result<Lease, StoreError> {
        self.inner.renew(lease, now, lease_duration).await
    }
    async fn apply(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        self.inner.apply(lease, report, now).await
    }
    async fn apply_and_remove(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
        remove_if: RemoveIf,
    ) -> Result<Applied, StoreError> {
        self.inner
            .apply_and_remove(lease, report, now, remove_if)
            .await
    }
    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.inner.release(lease).await
    }
    async fn release_node(&self, node: &str) -> Result<usize, StoreError> {
        self.inner.release_node(node).await
    }
    async fn status_log(&self, id: &QueueId) -> Result<Vec<StatusRecord>, StoreError> {
        self.inner.status_log(id).await
    }
    async fn delete(&self, id: &QueueId) -> Result<bool, StoreError> {
        self.inner.delete(id).await
    }
    async fn hold(&self, id: &QueueId) -> Result<bool, StoreError> {
        self.inner.hold(id).await
    }
    async fn release_hold(&self, id: &QueueId) -> Result<bool, StoreError> {
        let r = self.inner.release_hold(id).await?;
        self.kick.kick();
        Ok(r)
    }
    async fn retry_now(&self, id: &QueueId, now: u64) -> Result<bool, StoreError> {
        let r = self.inner.retry_now(id, now).await?;
        self.kick.kick();
        Ok(r)
    }
    async fn retry_all(&self, now: u64) -> Result<usize, StoreError> {
        let n = self.inner.retry_all(now).await?;
        self.kick.kick();
        Ok(n)
    }
    async fn fail_live(
        &self,
        id: &QueueId,
        reply: &str,
        now: u64,
    ) -> Result<FailOutcome, StoreError> {
        let outcome = self.inner.fail_live(id, reply, now).await?;
        if let FailOutcome::Failed(records) = &outcome
            && records.iter().all(|rec| rec.state.is_final())
            && !self.kick.finished(id.clone()).await
        {
            tracing::warn!(queue_id = %id, "no notify role listens: the notice waits for the next start");
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailerd_queue::manager::{Manager, ManagerConfig, SystemClock, Transport};
    use mailerd_queue::route::Routes;
    use mailerd_store::memory::MemoryStore;
    use mailerd_types::{AttemptReport, DeliveryRequest, Envelope, RecipientSpec};

    struct Never;

    impl Transport for Never {
        async fn deliver(&self, request: DeliveryRequest) -> AttemptReport {
            AttemptReport {
                queue_id: request.queue_id,
                recipients: Vec::new(),
            }
        }
    }

    /// The trait's default bodies still work when a wrapper forgets a method, only worse:
    /// `commit_claimed`'s default commits without a lease, which would silently turn the
    /// relay's fast path off. The wrapper must pass it through.
    #[tokio::test]
    async fn the_fast_path_passes_through() {
        let store = Arc::new(MemoryStore::new());
        let manager = Manager::new(
            store.clone(),
            Arc::new(Never),
            Arc::new(SystemClock),
            Routes::new(["example.test"], []).expect("routes"),
            ManagerConfig::default(),
        );
        let k = KickStore::new(store, manager.kick_handle(), manager.intake());
        let msg = NewMessage {
            envelope: Envelope {
                reverse_path: "a@example.test".into(),
                recipients: vec![RecipientSpec::new("b@example.org")],
                ret: None,
                envid: None,
                smtputf8: false,
                eight_bit: false,
                received_at: 1,
                client: None,
                auth_user: None,
            },
            content: b"x\r\n".to_vec(),
        };
        let (id, claimed) = k
            .commit_claimed(msg, "node", 1, 60)
            .await
            .expect("commit_claimed");
        let c = claimed.expect("leased at commit, not a plain commit");
        assert_eq!(c.lease.id, id);
    }
}
