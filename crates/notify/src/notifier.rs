//! The notify task: when a message is finished, write the notices due and queue them.
//!
//! A message is finished when every recipient is delivered, failed or expired. Then, from the
//! stored recipient records (last reply, remote MTA, attempts) and the envelope's DSN
//! parameters, it decides per recipient ([`policy::decide`](crate::policy::decide)), builds at
//! most one failure notice and one success notice ([`build`](crate::build)), commits them to
//! the store with the null sender, and only then deletes the original. A crash between the
//! two steps sends a notice twice rather than never (at-least-once).
//!
//! Failures of null-sender messages (a notice that could not be delivered) are never bounced:
//! they are logged as double bounces for the postmaster.

use std::sync::Arc;

use mailerd_analyze::classify::{Evidence, SmtpCommand, classify};
use mailerd_store::{ListFilter, NewMessage, RecipientRecord, Store, StoreError, StoredMessage};
use mailerd_types::{
    Category, DsnAction, EnhancedStatus, Envelope, Notify, QueueId, RecipientSpec, RecipientState,
    SmtpReply, StatusClass,
};
use tokio::sync::{mpsc, watch};

use crate::dsn::{DEFAULT_FULL_LIMIT, NoticeKind, NoticeRecipient, NoticeRequest, build};
use crate::policy::{Decision, Event, decide};

/// Settings of the notify role.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Reporting-MTA and `MAILER-DAEMON@hostname`.
    pub hostname: String,
    /// Return the whole original in failure notices up to this size.
    pub full_limit: usize,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            hostname: "localhost".into(),
            full_limit: DEFAULT_FULL_LIMIT,
        }
    }
}

/// The notify role.
pub struct Notifier<S> {
    store: Arc<S>,
    config: NotifierConfig,
    now: Arc<dyn Fn() -> u64 + Send + Sync>,
}

/// What handling one finished message did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// Queue ids of the notices committed.
    pub notices: Vec<QueueId>,
    /// Failed recipients of a null-sender message (double bounces), logged only.
    pub double_bounces: usize,
    /// The original was removed.
    pub deleted: bool,
}

impl<S: Store> Notifier<S> {
    /// `now` gives seconds since the epoch (the system clock, or a fake one in tests).
    pub fn new(
        store: Arc<S>,
        config: NotifierConfig,
        now: Arc<dyn Fn() -> u64 + Send + Sync>,
    ) -> Self {
        Notifier { store, config, now }
    }

    /// Handles the finished messages left from before a restart, then every id received on
    /// `done`, until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        mut done: mpsc::Receiver<QueueId>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        if let Err(e) = self.sweep().await {
            tracing::error!(error = %e, "notify: scanning finished messages failed");
        }
        // Messages are handled concurrently (each waits for two durable writes; group commit
        // shares the fsyncs), at most `CONCURRENCY` at a time.
        const CONCURRENCY: usize = 64;
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                id = done.recv() => match id {
                    Some(id) => {
                        let Ok(permit) = slots.clone().acquire_owned().await else { break };
                        let this = self.clone();
                        tasks.spawn(async move {
                            if let Err(e) = this.handle(&id).await {
                                tracing::error!(queue_id = %id, error = %e, "notify: handling a finished message failed; it stays queued");
                            }
                            drop(permit);
                        });
                    }
                    None => break,
                },
                _ = shutdown.changed() => break,
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Handles every finished message in the store (after a restart).
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut after = None;
        loop {
            let page = self
                .store
                .list(&ListFilter {
                    include_done: true,
                    after: after.clone(),
                    limit: Some(1000),
                    ..ListFilter::default()
                })
                .await?;
            let Some(last) = page.messages.last() else {
                break;
            };
            after = Some(last.id.clone());
            for m in page.messages.iter().filter(|m| m.is_done()) {
                self.handle(&m.id).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Writes the notices for one message if it is finished, then deletes it.
    pub async fn handle(&self, id: &QueueId) -> Result<Handled, StoreError> {
        let mut out = Handled::default();
        let Some(m) = self.store.get(id).await? else {
            return Ok(out);
        };
        if !m.recipients.iter().all(|r| r.state.is_final()) {
            return Ok(out);
        }
        let now = (self.now)();
        let null_sender = m.envelope.is_null_sender();
        let looks_like_notice = looks_like_notice(&m.content);
        let mut failed = Vec::new();
        let mut succeeded = Vec::new();
        for r in &m.recipients {
            let spec = m.envelope.recipients.get(r.index);
            let notify = spec.and_then(|s| s.notify);
            let event = match r.state {
                RecipientState::Failed | RecipientState::Expired => Event::Failed,
                RecipientState::Delivered if r.remote_mta.is_none() => Event::Delivered,
                // Accepted by a next hop: with DSN there it reports success itself; we do not
                // record whether it offered DSN yet, so no success notice (conservative).
                _ => continue,
            };
            match decide(event, notify, null_sender, looks_like_notice) {
                Decision::Sender if event == Event::Failed => {
                    failed.push(notice_recipient(r, spec))
                }
                Decision::Sender => succeeded.push(notice_recipient(r, spec)),
                Decision::PostmasterOnly => {
                    out.double_bounces += 1;
                    tracing::warn!(
                        queue_id = %id, recipient = %r.address, reply = r.last_reply.as_deref().unwrap_or(""),
                        "notify: undeliverable notice or NOTIFY=NEVER failure (double bounce): not bounced, logged for the postmaster"
                    );
                }
                Decision::Nothing => {}
            }
        }
        for (kind, recipients) in [
            (NoticeKind::Failure, failed),
            (NoticeKind::Success, succeeded),
        ] {
            if recipients.is_empty() {
                continue;
            }
            let notice = self.notice(&m, kind, recipients, now);
            let qid = self.store.commit(notice).await?;
            tracing::info!(queue_id = %id, notice = %qid, to = %m.envelope.reverse_path, kind = ?kind, "notify: notice queued");
            out.notices.push(qid);
        }
        out.deleted = self.store.delete(id).await?;
        Ok(out)
    }

    fn notice(
        &self,
        m: &StoredMessage,
        kind: NoticeKind,
        recipients: Vec<NoticeRecipient>,
        now: u64,
    ) -> NewMessage {
        let req = NoticeRequest {
            kind,
            reporting_mta: &self.config.hostname,
            sender: &m.envelope.reverse_path,
            queue_id: &m.id.0,
            envid: m.envelope.envid.as_deref(),
            ret: m.envelope.ret,
            arrival_date: m.envelope.received_at,
            now,
            original: &m.content,
            full_limit: self.config.full_limit,
            recipients,
        };
        let content = build(&req);
        NewMessage {
            envelope: Envelope {
                reverse_path: String::new(),
                recipients: vec![RecipientSpec {
                    address: m.envelope.reverse_path.clone(),
                    orcpt: None,
                    notify: Some(Notify {
                        never: true,
                        ..Notify::default()
                    }),
                }],
                ret: None,
                envid: None,
                smtputf8: !m.envelope.reverse_path.is_ascii(),
                eight_bit: !content.is_ascii(),
                received_at: now,
                client: Some("notify".into()),
                auth_user: None,
            },
            content,
        }
    }
}

/// The facts of one recipient for a notice, classified with the analyzer's rules (the same
/// vocabulary the analyzer reads back).
fn notice_recipient(r: &RecipientRecord, spec: Option<&RecipientSpec>) -> NoticeRecipient {
    let text = r.last_reply.clone().unwrap_or_default();
    let reply = SmtpReply::parse(&text).ok();
    let found = reply
        .as_ref()
        .and_then(|p| p.status)
        .or_else(|| EnhancedStatus::find(&text).map(|(s, _)| s));
    let remote = r
        .remote_mta
        .as_deref()
        .map(|m| m.split(" [").next().unwrap_or(m).to_string());
    let (action, status, category) = match r.state {
        RecipientState::Delivered => (
            DsnAction::Delivered,
            found.unwrap_or(EnhancedStatus::new(StatusClass::Success, 0, 0)),
            Category::Delivered,
        ),
        RecipientState::Expired => (
            DsnAction::Failed,
            EnhancedStatus::new(StatusClass::Transient, 4, 7),
            Category::MessageExpired,
        ),
        _ => {
            let c = classify(&Evidence {
                action: Some(DsnAction::Failed),
                status: found,
                reply_code: reply.as_ref().map(|p| p.code),
                diagnostic: &text,
                remote_mta: remote.as_deref(),
                hint: None,
                // Our own client's refusals are nearly always answers to RCPT TO (a DATA refusal
                // says so in its words); the status log keeps the reply, not the command.
                command: reply.as_ref().map(|_| SmtpCommand::Rcpt),
            });
            let status =
                found
                    .or(c.status)
                    .unwrap_or(EnhancedStatus::new(StatusClass::Permanent, 0, 0));
            (DsnAction::Failed, status, c.category)
        }
    };
    // Our own diagnosis ("5.1.2 Host or domain name not found...") is not a server reply.
    let (reply, diagnostic) = match reply {
        // An expiry is our own verdict: say so in our words, with the last reply in them, so
        // that a reader (and a parser) sees "expired", not the last temporary error alone.
        Some(p) if r.state == RecipientState::Expired => (
            None,
            // (the reply code and words, without its enhanced code: the status of an expiry
            // is 4.4.7, and a parser must not take the last reply's code for it)
            Some(format!(
                "delivery time expired: delivery was retried until the queue lifetime ran out; the last reply was: {} {}",
                p.code,
                p.message()
            )),
        ),
        None if r.state == RecipientState::Expired => (
            None,
            Some(if text.is_empty() {
                "delivery time expired: delivery was retried until the queue lifetime ran out"
                    .to_string()
            } else {
                format!(
                    "delivery time expired: delivery was retried until the queue lifetime ran out; the last error was: {text}"
                )
            }),
        ),
        Some(p) => (Some(p), None),
        None if text.is_empty() => (None, None),
        None => {
            let d = match found {
                Some(s) => text
                    .strip_prefix(&s.to_string())
                    .map(str::trim_start)
                    .unwrap_or(&text)
                    .to_string(),
                None => text.clone(),
            };
            (None, Some(d))
        }
    };
    NoticeRecipient {
        final_recipient: r.address.clone(),
        original_recipient: spec.and_then(|s| s.orcpt.clone()),
        action,
        status,
        category,
        remote_mta: remote,
        reply,
        diagnostic,
        last_attempt: Some(r.updated_at),
        will_retry_until: None,
    }
}

/// A message that is itself a notification by its content: `multipart/report` or an
/// `Auto-Submitted` other than `no` in the header (the loop guard of standards sec. 1.1).
fn looks_like_notice(content: &[u8]) -> bool {
    let end = content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(content.len().min(64 * 1024));
    let head = String::from_utf8_lossy(&content[..end]).to_ascii_lowercase();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.lines().any(|l| {
        let l = l.trim_end();
        (l.starts_with("content-type:") && l.contains("multipart/report"))
            || (l.starts_with("auto-submitted:")
                && l.split(':').nth(1).is_some_and(|v| v.trim() != "no"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_recognised_by_their_header() {
        assert!(looks_like_notice(
            b"Content-Type: multipart/report;\r\n report-type=delivery-status\r\n\r\nx"
        ));
        assert!(looks_like_notice(b"Auto-Submitted: auto-replied\r\n\r\n"));
        assert!(!looks_like_notice(
            b"Auto-Submitted: no\r\nSubject: hi\r\n\r\nContent-Type: multipart/report"
        ));
        assert!(!looks_like_notice(b"Subject: hi\r\n\r\n"));
    }
}
