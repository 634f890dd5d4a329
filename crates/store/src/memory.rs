//! [`MemoryStore`]: the whole contract in memory, for the tests of the roles that use a store
//! (receive, queue, notify) — not for production: nothing survives the process.
//!
//! It passes the conformance suite (clones share one state, so "reopening" is cloning) and
//! can be told to fail writes ([`MemoryStore::fail_writes`]), to test how a role behaves when
//! the store is broken (receive must then answer 451, not 250).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mailerd_types::{DeliveryReport, Envelope, QueueId};

use crate::{
    Applied, Claimed, DelayMark, FailOutcome, Lease, ListFilter, MessageList, MessageSummary,
    NewMessage, RecipientRecord, RemoveIf, StatusRecord, Store, StoreError, StoredMessage, rules,
};

#[derive(Debug, Clone)]
struct Entry {
    envelope: Envelope,
    content: Arc<Vec<u8>>,
    recipients: Vec<RecipientRecord>,
    held: bool,
    lease: Option<Lease>,
    log: Vec<StatusRecord>,
    delay_notice_at: Option<u64>,
}

impl Entry {
    fn due(&self) -> Option<u64> {
        rules::due_at(&self.recipients, self.held, self.lease.as_ref())
    }
}

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    next_token: u64,
    messages: BTreeMap<QueueId, Entry>,
    fail_writes: bool,
}

/// A store in memory. Clones share the same messages.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// While `fail` is true, every change fails with [`StoreError::Backend`] and changes
    /// nothing; reads still work.
    pub fn fail_writes(&self, fail: bool) {
        self.lock().fail_writes = fail;
    }

    /// Number of messages stored.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock (a bug in a test) leaves the state consistent: every
        // change below is computed first and stored last.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let st = self.lock();
        if st.fail_writes {
            return Err(StoreError::Backend("injected write failure".into()));
        }
        Ok(st)
    }
}

/// Stores a new message (the body of [`Store::commit`]).
fn insert(st: &mut State, msg: NewMessage) -> QueueId {
    st.next_seq += 1;
    let id = QueueId(format!(
        "{:010X}{:010X}",
        msg.envelope.received_at, st.next_seq
    ));
    let recipients = rules::initial_recipients(&msg.envelope);
    let log = rules::reception_log(&recipients, msg.envelope.received_at);
    st.messages.insert(
        id.clone(),
        Entry {
            envelope: msg.envelope,
            content: Arc::new(msg.content),
            recipients,
            held: false,
            lease: None,
            log,
            delay_notice_at: None,
        },
    );
    id
}

fn leased<'a>(st: &'a mut State, lease: &Lease) -> Result<&'a mut Entry, StoreError> {
    match st.messages.get_mut(&lease.id) {
        Some(e) if e.lease.as_ref().map(|l| l.token) == Some(lease.token) => Ok(e),
        _ => Err(StoreError::LeaseLost(lease.id.clone())),
    }
}

/// The body of [`Store::apply`] and [`Store::apply_and_remove`]: validates, applies, and
/// removes the message when it is finished and `remove_if` holds, all under one lock.
fn apply_report(
    st: &mut State,
    lease: &Lease,
    report: DeliveryReport,
    now: u64,
    remove_if: Option<RemoveIf>,
) -> Result<Applied, StoreError> {
    let invalid = |detail: String| StoreError::InvalidReport {
        id: lease.id.clone(),
        detail,
    };
    if report.id != lease.id {
        return Err(invalid(format!(
            "report is for {} but the lease for {}",
            report.id, lease.id
        )));
    }
    let e = leased(st, lease)?;
    rules::check_report(&e.recipients, &report).map_err(invalid)?;
    let log = rules::apply_report(&mut e.recipients, report, now, e.log.len() as u32);
    e.log.extend(log);
    let records = e.recipients.clone();
    let removed = remove_if.is_some_and(|remove_if| {
        records.iter().all(|r| r.state.is_final()) && remove_if(&e.envelope, &records)
    });
    if removed {
        st.messages.remove(&lease.id);
    }
    Ok(Applied { records, removed })
}

impl Store for MemoryStore {
    async fn commit(&self, msg: NewMessage) -> Result<QueueId, StoreError> {
        let mut st = self.write()?;
        Ok(insert(&mut st, msg))
    }

    async fn commit_claimed(
        &self,
        msg: NewMessage,
        node: &str,
        now: u64,
        lease_duration: u64,
    ) -> Result<(QueueId, Option<Claimed>), StoreError> {
        let mut st = self.write()?;
        let id = insert(&mut st, msg);
        let token = st.next_token;
        st.next_token += 1;
        let lease = Lease {
            id: id.clone(),
            node: node.to_string(),
            token,
            expires_at: now.saturating_add(lease_duration),
        };
        let e = st
            .messages
            .get_mut(&id)
            .ok_or_else(|| StoreError::Backend("a message just inserted is missing".into()))?;
        e.lease = Some(lease.clone());
        let claimed = Claimed {
            lease,
            envelope: e.envelope.clone(),
            recipients: e.recipients.clone(),
            delay_notice_at: None,
        };
        Ok((id, Some(claimed)))
    }

    async fn mark_delay_notice(
        &self,
        id: &QueueId,
        notice: Option<NewMessage>,
        now: u64,
    ) -> Result<DelayMark, StoreError> {
        let mut st = self.write()?;
        match st.messages.get_mut(id) {
            None => return Ok(DelayMark::NotFound),
            Some(e) => {
                if let Some(at) = e.delay_notice_at {
                    return Ok(DelayMark::AlreadyMarked(at));
                }
                if e.recipients.iter().all(|r| r.state.is_final()) {
                    return Ok(DelayMark::Finished);
                }
                e.delay_notice_at = Some(now);
            }
        }
        Ok(DelayMark::Marked(notice.map(|n| insert(&mut st, n))))
    }

    async fn get(&self, id: &QueueId) -> Result<Option<StoredMessage>, StoreError> {
        Ok(self.lock().messages.get(id).map(|e| StoredMessage {
            id: id.clone(),
            envelope: e.envelope.clone(),
            content: e.content.as_ref().clone(),
            recipients: e.recipients.clone(),
            held: e.held,
            lease: e.lease.clone(),
            delay_notice_at: e.delay_notice_at,
        }))
    }

    async fn list(&self, filter: &ListFilter) -> Result<MessageList, StoreError> {
        let st = self.lock();
        let messages = st
            .messages
            .iter()
            .filter(|(id, _)| filter.after.as_ref().is_none_or(|a| *id > a))
            .filter(|(_, e)| filter.held.is_none_or(|h| h == e.held))
            .filter(|(_, e)| filter.include_done || rules::next_attempt(&e.recipients).is_some())
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(|(id, e)| MessageSummary {
                id: id.clone(),
                reverse_path: e.envelope.reverse_path.clone(),
                received_at: e.envelope.received_at,
                size: e.content.len() as u64,
                held: e.held,
                lease: e.lease.clone(),
                next_attempt: rules::next_attempt(&e.recipients),
                recipients: e.recipients.clone(),
                delay_notice_at: e.delay_notice_at,
            })
            .collect();
        Ok(MessageList {
            messages,
            corrupt: Vec::new(),
        })
    }

    async fn claim(
        &self,
        node: &str,
        now: u64,
        max: usize,
        lease_duration: u64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let mut st = self.write()?;
        let mut due: Vec<(u64, QueueId)> = st
            .messages
            .iter()
            .filter_map(|(id, e)| e.due().filter(|d| *d <= now).map(|d| (d, id.clone())))
            .collect();
        due.sort();
        due.truncate(max);
        let mut out = Vec::with_capacity(due.len());
        for (_, id) in due {
            let token = st.next_token;
            st.next_token += 1;
            let Some(e) = st.messages.get_mut(&id) else {
                continue;
            };
            let lease = Lease {
                id,
                node: node.to_string(),
                token,
                expires_at: now.saturating_add(lease_duration),
            };
            e.lease = Some(lease.clone());
            out.push(Claimed {
                lease,
                envelope: e.envelope.clone(),
                recipients: e.recipients.clone(),
                delay_notice_at: e.delay_notice_at,
            });
        }
        Ok(out)
    }

    async fn renew(
        &self,
        lease: &Lease,
        now: u64,
        lease_duration: u64,
    ) -> Result<Lease, StoreError> {
        let mut st = self.write()?;
        let e = leased(&mut st, lease)?;
        let l = e.lease.get_or_insert_with(|| lease.clone());
        l.expires_at = now.saturating_add(lease_duration);
        Ok(l.clone())
    }

    async fn apply(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        Ok(apply_report(&mut *self.write()?, lease, report, now, None)?.records)
    }

    async fn apply_and_remove(
        &self,
        lease: &Lease,
        report: DeliveryReport,
        now: u64,
        remove_if: RemoveIf,
    ) -> Result<Applied, StoreError> {
        apply_report(&mut *self.write()?, lease, report, now, Some(remove_if))
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut st = self.write()?;
        leased(&mut st, lease)?.lease = None;
        Ok(())
    }

    async fn release_node(&self, node: &str) -> Result<usize, StoreError> {
        let mut st = self.write()?;
        let mut n = 0;
        for e in st.messages.values_mut() {
            if e.lease.as_ref().is_some_and(|l| l.node == node) {
                e.lease = None;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn status_log(&self, id: &QueueId) -> Result<Vec<StatusRecord>, StoreError> {
        Ok(self
            .lock()
            .messages
            .get(id)
            .map(|e| e.log.clone())
            .unwrap_or_default())
    }

    async fn delete(&self, id: &QueueId) -> Result<bool, StoreError> {
        Ok(self.write()?.messages.remove(id).is_some())
    }

    async fn finish_with_notices(
        &self,
        id: &QueueId,
        notices: Vec<NewMessage>,
    ) -> Result<Option<Vec<QueueId>>, StoreError> {
        let mut st = self.write()?;
        if st.messages.remove(id).is_none() {
            return Ok(None);
        }
        Ok(Some(
            notices.into_iter().map(|n| insert(&mut st, n)).collect(),
        ))
    }

    async fn hold(&self, id: &QueueId) -> Result<bool, StoreError> {
        Ok(self
            .write()?
            .messages
            .get_mut(id)
            .map(|e| e.held = true)
            .is_some())
    }

    async fn release_hold(&self, id: &QueueId) -> Result<bool, StoreError> {
        Ok(self
            .write()?
            .messages
            .get_mut(id)
            .map(|e| e.held = false)
            .is_some())
    }

    async fn retry_now(&self, id: &QueueId, now: u64) -> Result<bool, StoreError> {
        Ok(self
            .write()?
            .messages
            .get_mut(id)
            .map(|e| rules::retry_now(&mut e.recipients, now))
            .is_some())
    }

    async fn retry_all(&self, now: u64) -> Result<usize, StoreError> {
        Ok(self
            .write()?
            .messages
            .values_mut()
            .map(|e| rules::retry_now(&mut e.recipients, now))
            .filter(|n| *n > 0)
            .count())
    }

    async fn fail_live(
        &self,
        id: &QueueId,
        reply: &str,
        now: u64,
    ) -> Result<FailOutcome, StoreError> {
        let mut st = self.write()?;
        let Some(e) = st.messages.get_mut(id) else {
            return Ok(FailOutcome::NotFound);
        };
        if let Some(l) = e
            .lease
            .as_ref()
            .filter(|l| rules::lease_current(Some(l), now))
        {
            return Ok(FailOutcome::Leased(l.clone()));
        }
        e.lease = None;
        let log = rules::fail_live(&mut e.recipients, reply, now, e.log.len() as u32);
        e.log.extend(log);
        Ok(FailOutcome::Failed(e.recipients.clone()))
    }
}

#[cfg(test)]
mod conformance_tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::MemoryStore;
    use crate::conformance::Factory;

    /// Stores by name; "reopening" hands out a clone sharing the same state.
    #[derive(Default)]
    struct Memory(Mutex<HashMap<String, MemoryStore>>);

    impl Factory for Memory {
        type Store = MemoryStore;

        async fn open(&self, name: &str) -> MemoryStore {
            let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(name.to_string()).or_default().clone()
        }
    }

    crate::all_tests!(Memory::default());

    #[tokio::test]
    async fn injected_write_failure_changes_nothing() {
        use crate::Store;
        let s = MemoryStore::new();
        s.fail_writes(true);
        let r = s
            .commit(crate::conformance::message(1, &["bob@example.net"], 10))
            .await;
        assert!(matches!(r, Err(crate::StoreError::Backend(_))));
        assert!(s.is_empty());
        s.fail_writes(false);
        s.commit(crate::conformance::message(1, &["bob@example.net"], 10))
            .await
            .expect("commit");
        assert_eq!(s.len(), 1);
    }
}
