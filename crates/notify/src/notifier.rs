//! The notify task: write the notices due and queue them.
//!
//! A message is finished when every recipient is delivered, failed or expired. Then, from the
//! stored recipient records (last reply, remote MTA, attempts, whether the next hop offered
//! DSN) and the envelope's DSN parameters, it decides per recipient
//! ([`policy::decide`](crate::policy::decide)), builds at most one failure notice and one
//! success notice (`delivered` for local delivery, `relayed` for a next hop without DSN; a
//! next hop with DSN reports success itself) ([`build`](crate::build)), and commits them, with
//! the null sender, in the same atomic write that removes the original
//! ([`Store::finish_with_notices`]): a crash leaves either the message (handled again) or its
//! notices, so each notice is sent exactly once.
//!
//! A message the queue manager announces as delayed (still retried past `delay_after`) gets
//! one delay notice listing its deferred recipients that want one (NOTIFY=DELAY, or NOTIFY
//! absent for our own users), with `Will-Retry-Until` = arrival + queue lifetime. The notice is
//! committed together with the message's delay mark ([`Store::mark_delay_notice`]), so a
//! message gets at most one, across restarts too.
//!
//! Failures of null-sender messages (a notice that could not be delivered) are never bounced:
//! they are logged and reported to the postmaster in one double-bounce notice
//! ([`NoticeKind::DoubleBounce`]). A failed double-bounce notice, or any failed notice to the
//! postmaster, is only logged: no loop.

use std::sync::Arc;

use mailerd_analyze::classify::{Classification, Evidence, SmtpCommand, classify};
use mailerd_store::{
    DelayMark, ListFilter, NewMessage, RecipientRecord, Store, StoreError, StoredMessage,
};
use mailerd_types::{
    Category, DsnAction, EnhancedStatus, Envelope, Notify, QueueId, RecipientSpec, RecipientState,
    SmtpReply, StatusClass,
};
use tokio::sync::{mpsc, watch};

use crate::dsn::{
    DEFAULT_FULL_LIMIT, DOUBLE_BOUNCE_HEADER, NoticeKind, NoticeRecipient, NoticeRequest, build,
};
use crate::policy::{Decision, Event, decide};

/// Settings of the notify role.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Reporting-MTA and `MAILER-DAEMON@hostname`.
    pub hostname: String,
    /// Return the whole original in failure notices up to this size.
    pub full_limit: usize,
    /// Where double bounces are reported; `None`: they are only logged.
    pub postmaster: Option<String>,
    /// The queue lifetime of a message with a sender, in seconds: a delay notice's
    /// `Will-Retry-Until` is the arrival plus this. Default 5 days.
    pub max_lifetime: u64,
    /// Our domains: a sender in one of them is one of our users (an absent NOTIFY then asks
    /// for delay notices too), as is any authenticated sender.
    pub local_domains: Vec<String>,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            hostname: "localhost".into(),
            full_limit: DEFAULT_FULL_LIMIT,
            postmaster: None,
            max_lifetime: 5 * 86_400,
            local_domains: Vec::new(),
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
    /// Failed recipients of a null-sender message (double bounces); each is logged.
    pub double_bounces: usize,
    /// The queue id of the double-bounce notice to the postmaster, if one was written (it is
    /// also in [`Self::notices`]).
    pub postmaster_notice: Option<QueueId>,
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
    /// `done` (finished messages) and `delayed` (messages due a delay notice), until
    /// `shutdown`. A finished message whose handling fails is tried again every
    /// [`RETRY_EVERY`]. A delayed message missed by a crash is announced again by the queue
    /// manager at its next temporary failure, so no sweep is needed for delays.
    pub async fn run(
        self: Arc<Self>,
        mut done: mpsc::Receiver<QueueId>,
        mut delayed: mpsc::Receiver<QueueId>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        match self.sweep_until(&shutdown).await {
            Ok(n) if n > 0 => tracing::info!(
                handled = n,
                "notify: finished messages left from before the restart handled"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "notify: scanning finished messages failed"),
        }
        if *shutdown.borrow() {
            return;
        }
        // Messages are handled concurrently (each waits for a durable write; group commit
        // shares the fsyncs), at most `CONCURRENCY` at a time.
        const CONCURRENCY: usize = 64;
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        let mut delayed_open = true;
        // Finished messages whose handling failed (a store error: a full disk, say) are tried
        // again every RETRY_EVERY; beyond RETRY_CAP of them the rest wait for the next start's
        // scan (memory stays bounded).
        let retry: Arc<std::sync::Mutex<std::collections::VecDeque<QueueId>>> = Arc::default();
        let mut retry_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + RETRY_EVERY, RETRY_EVERY);
        retry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            while tasks.try_join_next().is_some() {}
            tokio::select! {
                _ = retry_tick.tick() => {
                    let due: Vec<QueueId> = retry
                        .lock()
                        .map(|mut q| q.drain(..).collect())
                        .unwrap_or_default();
                    for id in due {
                        let Ok(permit) = slots.clone().acquire_owned().await else { break };
                        let this = self.clone();
                        let retry = retry.clone();
                        tasks.spawn(async move {
                            this.handle_or_retry(&id, &retry).await;
                            drop(permit);
                        });
                    }
                }
                id = delayed.recv(), if delayed_open => match id {
                    Some(id) => {
                        let Ok(permit) = slots.clone().acquire_owned().await else { break };
                        let this = self.clone();
                        tasks.spawn(async move {
                            if let Err(e) = this.handle_delayed(&id).await {
                                tracing::error!(queue_id = %id, error = %e, "notify: writing a delay notice failed; retried at the next deferral");
                            }
                            drop(permit);
                        });
                    }
                    None => delayed_open = false,
                },
                id = done.recv() => match id {
                    Some(id) => {
                        let Ok(permit) = slots.clone().acquire_owned().await else { break };
                        let this = self.clone();
                        let retry = retry.clone();
                        tasks.spawn(async move {
                            this.handle_or_retry(&id, &retry).await;
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

    /// [`Notifier::handle`]; on failure the message is queued for another try (or, with the
    /// retry list full, left for the next start's scan).
    async fn handle_or_retry(
        &self,
        id: &QueueId,
        retry: &std::sync::Mutex<std::collections::VecDeque<QueueId>>,
    ) {
        if let Err(e) = self.handle(id).await {
            let queued = retry
                .lock()
                .map(|mut q| {
                    let room = q.len() < RETRY_CAP;
                    if room {
                        q.push_back(id.clone());
                    }
                    room
                })
                .unwrap_or(false);
            if queued {
                tracing::error!(queue_id = %id, error = %e, "notify: handling a finished message failed; tried again in {}s", RETRY_EVERY.as_secs());
            } else {
                tracing::error!(queue_id = %id, error = %e, "notify: handling a finished message failed; it stays queued until the next start");
            }
        }
    }

    /// Handles every finished message in the store (after a restart).
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let (_keep, never) = watch::channel(false);
        self.sweep_until(&never).await
    }

    /// [`Notifier::sweep`], stopping between messages once `shutdown` is set (a scan of a
    /// large queue must not hold up a stop). A message whose handling fails is logged and
    /// stays queued; the scan goes on. The error of a store scan itself is returned.
    pub async fn sweep_until(&self, shutdown: &watch::Receiver<bool>) -> Result<usize, StoreError> {
        let mut n = 0;
        let mut after = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
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
                if *shutdown.borrow() {
                    return Ok(n);
                }
                match self.handle(&m.id).await {
                    Ok(_) => n += 1,
                    Err(e) => {
                        tracing::error!(queue_id = %m.id, error = %e, "notify: handling a finished message failed; it stays queued")
                    }
                }
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
        let own_user = self.own_user(&m.envelope);
        let mut failed = Vec::new();
        let mut succeeded = Vec::new();
        let mut to_postmaster = Vec::new();
        for r in &m.recipients {
            let spec = m.envelope.recipients.get(r.index);
            let notify = spec.and_then(|s| s.notify);
            let event = match r.state {
                RecipientState::Failed | RecipientState::Expired => Event::Failed,
                RecipientState::Delivered if r.remote_mta.is_none() => Event::Delivered,
                // Accepted by a next hop without DSN: it will not report success, we do
                // (`relayed`, RFC 3461 section 5.2.2.1).
                RecipientState::Delivered if r.next_hop_dsn == Some(false) => Event::Relayed,
                // A next hop with DSN got NOTIFY and reports success itself; unknown (records
                // from before this was kept): no notice rather than a wrong one.
                _ => continue,
            };
            match decide(event, notify, null_sender, looks_like_notice, own_user) {
                Decision::Sender => {
                    let n = notice_recipient(r, spec);
                    match event {
                        Event::Failed => failed.push(n),
                        Event::Relayed => succeeded.push(NoticeRecipient {
                            action: DsnAction::Relayed,
                            ..n
                        }),
                        _ => succeeded.push(n),
                    }
                }
                Decision::Postmaster => {
                    out.double_bounces += 1;
                    let last_resort = self.is_last_resort(&m, r);
                    tracing::warn!(
                        queue_id = %id, recipient = %r.address, reply = r.last_reply.as_deref().unwrap_or(""),
                        reported_to = if last_resort { "nobody (a notice to the postmaster failed)" } else { self.config.postmaster.as_deref().unwrap_or("nobody (no postmaster configured)") },
                        "notify: undeliverable notification (double bounce): never bounced"
                    );
                    if !last_resort {
                        to_postmaster.push(notice_recipient(r, spec));
                    }
                }
                Decision::LogOnly => {
                    tracing::info!(
                        queue_id = %id, recipient = %r.address, reply = r.last_reply.as_deref().unwrap_or(""),
                        "notify: failed with NOTIFY=NEVER: no notice"
                    );
                }
                Decision::Nothing => {}
            }
        }
        // Every notice and the removal of the message in one atomic write: a crash leaves
        // either the message (handled again at the next start) or the notices, never both.
        let mut notices = Vec::new();
        let mut about = Vec::new();
        for (kind, recipients) in [
            (NoticeKind::Failure, failed),
            (NoticeKind::Success, succeeded),
        ] {
            if recipients.is_empty() {
                continue;
            }
            let to = m.envelope.reverse_path.as_str();
            notices.push(self.notice(&m, kind, recipients, now, to));
            about.push((kind, to.to_string()));
        }
        if !to_postmaster.is_empty()
            && let Some(pm) = &self.config.postmaster
        {
            notices.push(self.notice(&m, NoticeKind::DoubleBounce, to_postmaster, now, pm));
            about.push((NoticeKind::DoubleBounce, pm.clone()));
        }
        let Some(ids) = self.store.finish_with_notices(id, notices).await? else {
            // Another handler finished it first (and wrote its notices).
            return Ok(out);
        };
        for (qid, (kind, to)) in ids.into_iter().zip(about) {
            if kind == NoticeKind::DoubleBounce {
                tracing::info!(queue_id = %id, notice = %qid, to = %to, "notify: double bounce reported to the postmaster");
                out.postmaster_notice = Some(qid.clone());
            } else {
                tracing::info!(queue_id = %id, notice = %qid, to = %to, kind = ?kind, "notify: notice queued");
            }
            out.notices.push(qid);
        }
        out.deleted = true;
        Ok(out)
    }

    /// Writes the delay notice of a message still being retried, once: its deferred
    /// recipients that want one are listed, and the notice is committed with the message's
    /// delay mark. The id of the notice, if one was written. A message already marked,
    /// finished, or gone gets nothing; one whose recipients want no delay notice is marked
    /// without one (it is not announced again).
    pub async fn handle_delayed(&self, id: &QueueId) -> Result<Option<QueueId>, StoreError> {
        let Some(m) = self.store.get(id).await? else {
            return Ok(None);
        };
        if m.delay_notice_at.is_some() || m.recipients.iter().all(|r| r.state.is_final()) {
            return Ok(None);
        }
        let now = (self.now)();
        let null_sender = m.envelope.is_null_sender();
        let looks_like_notice = looks_like_notice(&m.content);
        let own_user = self.own_user(&m.envelope);
        let until = m
            .envelope
            .received_at
            .saturating_add(self.config.max_lifetime);
        let recipients: Vec<NoticeRecipient> = m
            .recipients
            .iter()
            .filter(|r| r.state == RecipientState::Deferred)
            .filter_map(|r| {
                let spec = m.envelope.recipients.get(r.index);
                let notify = spec.and_then(|s| s.notify);
                (decide(
                    Event::Delayed,
                    notify,
                    null_sender,
                    looks_like_notice,
                    own_user,
                ) == Decision::Sender)
                    .then(|| delay_recipient(r, spec, until))
            })
            .collect();
        let notice = (!recipients.is_empty()).then(|| {
            self.notice(
                &m,
                NoticeKind::Delay,
                recipients,
                now,
                &m.envelope.reverse_path,
            )
        });
        match self.store.mark_delay_notice(id, notice, now).await? {
            DelayMark::Marked(Some(qid)) => {
                tracing::info!(queue_id = %id, notice = %qid, to = %m.envelope.reverse_path, kind = ?NoticeKind::Delay, "notify: notice queued");
                Ok(Some(qid))
            }
            DelayMark::Marked(None) => {
                tracing::debug!(queue_id = %id, "notify: delayed, but no recipient asked for a delay notice");
                Ok(None)
            }
            DelayMark::AlreadyMarked(_) | DelayMark::NotFound | DelayMark::Finished => Ok(None),
        }
    }

    /// The sender is one of ours: authenticated, or in a local domain.
    fn own_user(&self, envelope: &Envelope) -> bool {
        envelope.auth_user.is_some()
            || envelope
                .reverse_path
                .rsplit_once('@')
                .is_some_and(|(_, d)| {
                    self.config
                        .local_domains
                        .iter()
                        .any(|l| l.eq_ignore_ascii_case(d))
                })
    }

    /// A failed notification that must not be reported again: a double-bounce notice itself,
    /// or any notice to the postmaster (reporting it would go to the same address).
    fn is_last_resort(&self, m: &StoredMessage, r: &RecipientRecord) -> bool {
        m.envelope.is_null_sender()
            && (is_double_bounce_notice(&m.content)
                || self
                    .config
                    .postmaster
                    .as_deref()
                    .is_some_and(|pm| pm.eq_ignore_ascii_case(&r.address)))
    }

    fn notice(
        &self,
        m: &StoredMessage,
        kind: NoticeKind,
        recipients: Vec<NoticeRecipient>,
        now: u64,
        to: &str,
    ) -> NewMessage {
        let req = NoticeRequest {
            kind,
            reporting_mta: &self.config.hostname,
            sender: to,
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
                    address: to.to_string(),
                    orcpt: None,
                    notify: Some(Notify {
                        never: true,
                        ..Notify::default()
                    }),
                }],
                ret: None,
                envid: None,
                smtputf8: !to.is_ascii(),
                eight_bit: !content.is_ascii(),
                received_at: now,
                client: Some("notify".into()),
                auth_user: None,
            },
            content,
        }
    }
}

/// What the status log kept of a recipient's last attempt: the reply's words, the reply when
/// they parse as one, the enhanced status found in them, and the remote host's name.
struct LastReply {
    text: String,
    reply: Option<SmtpReply>,
    found: Option<EnhancedStatus>,
    remote: Option<String>,
}

impl LastReply {
    fn of(r: &RecipientRecord) -> Self {
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
        LastReply {
            text,
            reply,
            found,
            remote,
        }
    }

    /// Classifies it with the analyzer's rules, as the analyzer will read the notice back.
    fn classify(&self, action: DsnAction) -> Classification {
        classify(&Evidence {
            action: Some(action),
            status: self.found,
            reply_code: self.reply.as_ref().map(|p| p.code),
            diagnostic: &self.text,
            remote_mta: self.remote.as_deref(),
            hint: None,
            // Our own client's refusals are nearly always answers to RCPT TO (a DATA refusal
            // says so in its words); the status log keeps the reply, not the command.
            command: self.reply.as_ref().map(|_| SmtpCommand::Rcpt),
        })
    }
}

/// The facts of one deferred recipient for a delay notice: `Action: delayed`, the 4.x.x of
/// the last reply (`4.0.0` without one), the reply verbatim, and when we give up.
fn delay_recipient(
    r: &RecipientRecord,
    spec: Option<&RecipientSpec>,
    will_retry_until: u64,
) -> NoticeRecipient {
    let last = LastReply::of(r);
    let c = last.classify(DsnAction::Delayed);
    let LastReply {
        text,
        reply,
        found,
        remote,
    } = last;
    // A delay is temporary whatever the words say: keep the status class consistent with the
    // action (standards sec. 3.4).
    let status = found
        .filter(|s| s.class == StatusClass::Transient)
        .unwrap_or(EnhancedStatus::new(StatusClass::Transient, 0, 0));
    let (reply, diagnostic) = split_diagnostic(reply, &text, found);
    NoticeRecipient {
        final_recipient: r.address.clone(),
        original_recipient: spec.and_then(|s| s.orcpt.clone()),
        action: DsnAction::Delayed,
        status,
        category: c.category,
        remote_mta: remote,
        reply,
        diagnostic,
        last_attempt: Some(r.updated_at),
        will_retry_until: Some(will_retry_until),
        // NOTIFY absent means at least FAILURE (RFC 3461 section 4.1).
        failure_reported: spec
            .and_then(|s| s.notify)
            .is_none_or(|n| n.failure && !n.never),
    }
}

/// A server's reply, or else our own diagnosis (without a leading enhanced status, which the
/// `Status` field carries).
fn split_diagnostic(
    reply: Option<SmtpReply>,
    text: &str,
    found: Option<EnhancedStatus>,
) -> (Option<SmtpReply>, Option<String>) {
    match reply {
        Some(p) => (Some(p), None),
        None if text.is_empty() => (None, None),
        None => {
            let d = match found {
                Some(s) => text
                    .strip_prefix(&s.to_string())
                    .map(str::trim_start)
                    .unwrap_or(text)
                    .to_string(),
                None => text.to_string(),
            };
            (None, Some(d))
        }
    }
}

/// The facts of one recipient for a notice, classified with the analyzer's rules (the same
/// vocabulary the analyzer reads back).
fn notice_recipient(r: &RecipientRecord, spec: Option<&RecipientSpec>) -> NoticeRecipient {
    let last = LastReply::of(r);
    let found = last.found;
    let (action, status, category) = match r.state {
        // A success is 2.x.x whatever digits the reply's words contain ("250 5.0.0 Ok" from a
        // broken server, "queued as 4.2.1"): keep the status class consistent with the action
        // (standards sec. 3.4), as for delays.
        RecipientState::Delivered => (
            DsnAction::Delivered,
            found
                .filter(|s| s.class == StatusClass::Success)
                .unwrap_or(EnhancedStatus::new(StatusClass::Success, 0, 0)),
            Category::Delivered,
        ),
        RecipientState::Expired => (
            DsnAction::Failed,
            EnhancedStatus::new(StatusClass::Transient, 4, 7),
            Category::MessageExpired,
        ),
        _ => {
            let c = last.classify(DsnAction::Failed);
            let status =
                found
                    .or(c.status)
                    .unwrap_or(EnhancedStatus::new(StatusClass::Permanent, 0, 0));
            (DsnAction::Failed, status, c.category)
        }
    };
    let LastReply {
        text,
        reply,
        remote,
        ..
    } = last;
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
        other => split_diagnostic(other, &text, found),
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
        failure_reported: false,
    }
}

/// How often finished messages whose handling failed are tried again.
pub const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// At most this many such messages are remembered (the rest wait for the next start).
const RETRY_CAP: usize = 10_000;

/// One of our double-bounce notices, by its marker header.
fn is_double_bounce_notice(content: &[u8]) -> bool {
    let end = content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(content.len().min(64 * 1024));
    let head = String::from_utf8_lossy(&content[..end]).to_ascii_lowercase();
    let marker = format!(
        "{}: double-bounce",
        DOUBLE_BOUNCE_HEADER.to_ascii_lowercase()
    );
    head.lines().any(|l| l.trim_end() == marker)
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
