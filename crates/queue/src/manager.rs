//! The queue manager loop: claim, route, deliver, apply, release.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailerd_store::{Applied, Claimed, Lease, NewMessage, RecipientRecord, Store, StoreError};
use mailerd_types::{
    AttemptReport, DeliveryReport, DeliveryRequest, NextHop, Outcome, QueueId, RecipientState,
    RecipientUpdate, RemoteMta,
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::route::Routes;
use crate::schedule::{Next, RetryPolicy};

/// Delivers one request; the `deliver` role implements it (wired by the binary). Outcomes are
/// values: it always answers, with one outcome per recipient of the request.
pub trait Transport: Send + Sync + 'static {
    fn deliver(&self, request: DeliveryRequest) -> impl Future<Output = AttemptReport> + Send;
}

/// Seconds since the epoch. The system clock in production, a settable one in tests.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> u64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default, Clone)]
pub struct FakeClock(Arc<AtomicU64>);

impl FakeClock {
    pub fn new(now: u64) -> Self {
        FakeClock(Arc::new(AtomicU64::new(now)))
    }
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Tuning of the queue manager. Every field has a default.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// This node's name in leases.
    pub node: String,
    /// Messages in delivery at once, whatever the backlog (bounded memory: only these
    /// messages' contents are loaded). Default 1000.
    pub active_window: usize,
    /// Simultaneous transactions per next hop. Default 20.
    pub per_destination: usize,
    /// Lease length in seconds; a crashed node's messages are claimable again after it.
    /// Default 600.
    pub lease_secs: u64,
    /// How long to sleep when nothing is due and nobody kicks. Default 1 s.
    pub idle_poll: Duration,
    pub retry: RetryPolicy,
    /// Remove a message as soon as every recipient was accepted by a next hop (nothing for
    /// notify to say), in the same write as the report that finishes it
    /// ([`Store::apply_and_remove`]), instead of handing it to notify to delete. Default true;
    /// tests that inspect delivered records turn it off.
    pub remove_delivered: bool,
    /// A message still being retried this long after it arrived is announced once to notify
    /// (see [`Manager::with_delayed`]) for its delay notice, at the first temporary failure
    /// past the threshold. `None`: no delay notices. Default 4 hours (standards sec. 1.4).
    pub delay_after: Option<Duration>,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            node: "local".into(),
            active_window: 1000,
            per_destination: 20,
            lease_secs: 600,
            idle_poll: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            remove_delivered: true,
            delay_after: Some(Duration::from_secs(4 * 3600)),
        }
    }
}

/// Wakes the manager early (after a commit, an administrator's retry), and announces to
/// notify a message that an operator finished outside a delivery (`mailerd queue delete
/// --bounce`), through the same "finished" channel the manager uses.
#[derive(Debug, Clone, Default)]
pub struct Kick {
    notify: Arc<Notify>,
    done: Option<mpsc::Sender<QueueId>>,
}

impl Kick {
    pub fn kick(&self) {
        self.notify.notify_one();
    }

    /// Hands a message whose recipients are all final (and that nobody leases) to notify,
    /// as the manager does after a delivery. Waits while notify is behind (bounded channel).
    /// `false` when no notify role listens (the manager was built without
    /// [`Manager::with_done`], or notify stopped); a later start's sweep handles it then.
    pub async fn finished(&self, id: QueueId) -> bool {
        match &self.done {
            Some(done) => done.send(id).await.is_ok(),
            None => false,
        }
    }
}

/// Largest message handed to the manager in memory by [`Intake::commit`]; larger ones are
/// claimed and read back from the store when their delivery starts.
const HANDED_MAX_BYTES: usize = 1 << 20;
/// Most content bytes held by messages handed over and not yet delivered (in KiB).
const HANDED_BUDGET_KIB: usize = 64 << 10;

/// A message committed already leased to this node, with its content: delivered without a
/// claim and a read. Holds its place in the active window and in the memory budget.
struct Handed {
    claimed: Claimed,
    content: Arc<[u8]>,
    _window: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// The way in for new messages, with a fast path for relays: when the manager has room, a
/// message is committed already leased to this node ([`Store::commit_claimed`], one durable
/// write) and handed over with the content the receiver still holds, so its delivery starts
/// at once without a claim (a second write) and a read of what was just written. Postfix's
/// cleanup hands new mail to qmgr's active queue the same way. When the window or the
/// memory budget is full, when the message is large, or when the manager is not running,
/// it is a plain commit and a kick: the message waits in the store to be claimed.
///
/// Crash safety is the claim's: the lease is durable with the message, so after a crash the
/// node's start (`Store::release_node`) or the lease's expiry makes it due again.
#[derive(Clone)]
pub struct Intake {
    /// True while [`Manager::run`] runs: only then is a message handed over (a manager that
    /// is not running, e.g. with delivery turned off, would leave it leased and untouched).
    running: Arc<std::sync::atomic::AtomicBool>,
    window: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    tx: mpsc::Sender<Handed>,
    node: String,
    lease_secs: u64,
    now: Arc<dyn Fn() -> u64 + Send + Sync>,
    kick: Kick,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("node", &self.node)
            .field("window_free", &self.window.available_permits())
            .finish_non_exhaustive()
    }
}

impl Intake {
    /// Commits `msg` durably (as [`Store::commit`]) and gets it delivered: handed to the
    /// manager when it has room, else claimed later (the manager is woken).
    pub async fn commit<S: Store>(
        &self,
        store: &S,
        msg: NewMessage,
    ) -> Result<QueueId, StoreError> {
        let places = if msg.content.len() <= HANDED_MAX_BYTES
            && self.running.load(Ordering::SeqCst)
            && !self.tx.is_closed()
        {
            let kib = u32::try_from(msg.content.len().div_ceil(1024).max(1)).unwrap_or(u32::MAX);
            match (
                self.window.clone().try_acquire_owned(),
                self.bytes.clone().try_acquire_many_owned(kib),
            ) {
                (Ok(w), Ok(b)) => Some((w, b)),
                _ => None,
            }
        } else {
            None
        };
        let Some((window, bytes)) = places else {
            let id = store.commit(msg).await?;
            self.kick.kick();
            return Ok(id);
        };
        let content: Arc<[u8]> = Arc::from(msg.content.as_slice());
        let (id, claimed) = store
            .commit_claimed(msg, &self.node, (self.now)(), self.lease_secs)
            .await?;
        let Some(claimed) = claimed else {
            self.kick.kick();
            return Ok(id);
        };
        let handed = Handed {
            claimed,
            content,
            _window: window,
            _bytes: bytes,
        };
        if let Err(e) = self.tx.try_send(handed) {
            // The manager stopped (or cannot take it): give the lease back so the message is
            // due at once for whoever claims next.
            let handed = match e {
                mpsc::error::TrySendError::Full(h) | mpsc::error::TrySendError::Closed(h) => h,
            };
            if let Err(e) = store.release(&handed.claimed.lease).await {
                tracing::warn!(queue_id = %id, error = %e, "queue: releasing a message not handed over failed; it is due when its lease expires");
            }
            self.kick.kick();
        }
        Ok(id)
    }
}

/// The queue manager.
pub struct Manager<S, T, C> {
    store: Arc<S>,
    transport: Arc<T>,
    clock: Arc<C>,
    routes: Arc<Routes>,
    config: Arc<ManagerConfig>,
    kick: Kick,
    per_destination: Arc<Mutex<HashMap<NextHop, Arc<Semaphore>>>>,
    rng: Arc<AtomicU64>,
    done: Option<mpsc::Sender<QueueId>>,
    delayed: Option<mpsc::Sender<QueueId>>,
    /// Messages in delivery (claimed or handed over), at most [`ManagerConfig::active_window`].
    window: Arc<Semaphore>,
    handed_bytes: Arc<Semaphore>,
    running: Arc<std::sync::atomic::AtomicBool>,
    intake_tx: mpsc::Sender<Handed>,
    intake_rx: Mutex<Option<mpsc::Receiver<Handed>>>,
}

impl<S: Store, T: Transport, C: Clock> Manager<S, T, C> {
    pub fn new(
        store: Arc<S>,
        transport: Arc<T>,
        clock: Arc<C>,
        routes: Routes,
        config: ManagerConfig,
    ) -> Self {
        let seed = clock.now() ^ 0x9e37_79b9_7f4a_7c15;
        let window = config.active_window.max(1);
        let (intake_tx, intake_rx) = mpsc::channel(window);
        Manager {
            store,
            transport,
            clock,
            routes: Arc::new(routes),
            config: Arc::new(config),
            kick: Kick::default(),
            per_destination: Arc::new(Mutex::new(HashMap::new())),
            rng: Arc::new(AtomicU64::new(seed)),
            done: None,
            delayed: None,
            window: Arc::new(Semaphore::new(window)),
            handed_bytes: Arc::new(Semaphore::new(HANDED_BUDGET_KIB)),
            running: Arc::default(),
            intake_tx,
            intake_rx: Mutex::new(Some(intake_rx)),
        }
    }

    /// Sends the id of every message whose recipients all reached a final state (after its
    /// lease is released), for the notify role.
    pub fn with_done(mut self, done: mpsc::Sender<QueueId>) -> Self {
        self.kick.done = Some(done.clone());
        self.done = Some(done);
        self
    }

    /// Sends the id of a message, once its lease is released, when a temporary failure left
    /// it still being retried [`ManagerConfig::delay_after`] or longer after it arrived, its
    /// sender is not the null sender, and it has no delay notice yet
    /// ([`Claimed::delay_notice_at`]): notify decides who gets a delay notice and marks the
    /// message so it is announced no more. Announced again at a later failure if notify did
    /// not mark it (a crash), so a restart cannot lose the notice.
    pub fn with_delayed(mut self, delayed: mpsc::Sender<QueueId>) -> Self {
        self.delayed = Some(delayed);
        self
    }

    /// A handle that wakes the loop.
    pub fn kick_handle(&self) -> Kick {
        self.kick.clone()
    }

    /// The way in for new messages, with the relay's fast path (see [`Intake`]).
    pub fn intake(&self) -> Intake {
        let clock = self.clock.clone();
        Intake {
            running: self.running.clone(),
            window: self.window.clone(),
            bytes: self.handed_bytes.clone(),
            tx: self.intake_tx.clone(),
            node: self.config.node.clone(),
            lease_secs: self.config.lease_secs,
            now: Arc::new(move || clock.now()),
            kick: self.kick.clone(),
        }
    }

    /// Runs until `shutdown` becomes true; then stops claiming and waits for the deliveries in
    /// flight to finish and release their leases.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let window = self.window.clone();
        let mut intake = self
            .intake_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // Hand-overs only while this loop runs, and only to the one run that holds the
        // receiving end.
        self.running.store(intake.is_some(), Ordering::SeqCst);
        let mut tasks = JoinSet::new();
        // Whether to ask the store for due messages at the top of the loop: at start, when
        // woken (a commit that was not handed over, an operator's retry), at every idle poll,
        // and while the last claim filled every free place (a backlog). Not merely because a
        // delivery finished: with the fast path that is most wake-ups, and each claim is a
        // write transaction of the store for nothing.
        let mut claim_now = true;
        let mut next_poll = tokio::time::Instant::now() + self.config.idle_poll;
        loop {
            if *shutdown.borrow() {
                break;
            }
            while tasks.try_join_next().is_some() {}
            if let Some(rx) = intake.as_mut() {
                while let Ok(h) = rx.try_recv() {
                    self.spawn_handed(&mut tasks, h);
                }
            }
            if tokio::time::Instant::now() >= next_poll {
                claim_now = true;
            }
            // The places for this claim are taken first: the intake takes places too, and a
            // claimed message must never wait for one (the messages holding them may be
            // handed over and not started yet).
            let mut places = if claim_now {
                next_poll = tokio::time::Instant::now() + self.config.idle_poll;
                u32::try_from(window.available_permits())
                    .ok()
                    .filter(|&n| n > 0)
                    .and_then(|n| window.clone().try_acquire_many_owned(n).ok())
            } else {
                None
            };
            let free = places.as_ref().map_or(0, |p| p.num_permits());
            let mut claimed = Vec::new();
            if free > 0 {
                match self
                    .store
                    .claim(
                        &self.config.node,
                        self.clock.now(),
                        free,
                        self.config.lease_secs,
                    )
                    .await
                {
                    Ok(c) => claimed = c,
                    Err(e) => tracing::error!(error = %e, "queue: claiming due messages failed"),
                }
            }
            let full_batch = free > 0 && claimed.len() == free;
            // Still wanted when there was no free place: at the next finished delivery.
            claim_now = full_batch || (claim_now && free == 0);
            for c in claimed {
                let Some(permit) = places.as_mut().and_then(|p| p.split(1)) else {
                    tracing::error!(queue_id = %c.lease.id, "queue: a claim returned more than asked; released");
                    let _ = self.store.release(&c.lease).await;
                    continue;
                };
                let this = self.worker();
                tasks.spawn(async move {
                    this.process(c, None).await;
                    drop(permit);
                });
            }
            // Places this claim did not use go back now.
            drop(places);
            if full_batch {
                // More may be due: come back as soon as a slot frees up.
                tokio::select! {
                    _ = tasks.join_next(), if !tasks.is_empty() => {}
                    _ = shutdown.changed() => {}
                    Some(h) = recv_handed(&mut intake) => self.spawn_handed(&mut tasks, h),
                }
                continue;
            }
            tokio::select! {
                _ = self.kick.notify.notified() => claim_now = true,
                _ = tokio::time::sleep_until(next_poll) => claim_now = true,
                _ = shutdown.changed() => {}
                _ = tasks.join_next(), if !tasks.is_empty() => {}
                Some(h) = recv_handed(&mut intake) => self.spawn_handed(&mut tasks, h),
            }
        }
        // Messages handed over but not started: their leases are given back, so they are due
        // for the next claim (this node's next start, or another node).
        self.running.store(false, Ordering::SeqCst);
        if let Some(mut rx) = intake {
            rx.close();
            while let Ok(h) = rx.try_recv() {
                if let Err(e) = self.store.release(&h.claimed.lease).await {
                    tracing::warn!(queue_id = %h.claimed.lease.id, error = %e, "queue: releasing a message not started failed; it is due when its lease expires");
                }
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    fn spawn_handed(&self, tasks: &mut JoinSet<()>, h: Handed) {
        let this = self.worker();
        // Boxed: ~3 KB of state, copied once instead of at every move of the task.
        tasks.spawn(Box::pin(async move {
            let Handed {
                claimed,
                content,
                _window,
                _bytes,
            } = h;
            this.process(claimed, Some(content)).await;
        }));
    }

    fn worker(&self) -> Worker<S, T, C> {
        Worker {
            store: self.store.clone(),
            transport: self.transport.clone(),
            clock: self.clock.clone(),
            routes: self.routes.clone(),
            config: self.config.clone(),
            per_destination: self.per_destination.clone(),
            rng: self.rng.clone(),
            done: self.done.clone(),
            delayed: self.delayed.clone(),
        }
    }
}

/// What one message's delivery task holds.
struct Worker<S, T, C> {
    store: Arc<S>,
    transport: Arc<T>,
    clock: Arc<C>,
    routes: Arc<Routes>,
    config: Arc<ManagerConfig>,
    per_destination: Arc<Mutex<HashMap<NextHop, Arc<Semaphore>>>>,
    rng: Arc<AtomicU64>,
    done: Option<mpsc::Sender<QueueId>>,
    delayed: Option<mpsc::Sender<QueueId>>,
}

impl<S: Store, T: Transport, C: Clock> Worker<S, T, C> {
    /// Delivers a claimed message; `content` when it was handed over with it (not read back).
    async fn process(&self, claimed: Claimed, content: Option<Arc<[u8]>>) {
        let lease = claimed.lease.clone();
        let envelope = claimed.envelope.clone();
        let delay_noticed = claimed.delay_notice_at.is_some();
        let records = match self.deliver_message(claimed, content).await {
            // The report that finished the message removed it, lease included: nothing for
            // notify (the records said so), nothing to release.
            Ok(Round { removed: true, .. }) => return,
            Ok(Round { records, .. }) => records,
            Err(e) => {
                tracing::warn!(queue_id = %lease.id, error = %e, "queue: delivery round ended early");
                None
            }
        };
        let finished = records
            .as_ref()
            .is_some_and(|r| r.iter().all(|r| r.state.is_final()));
        let delayed = !finished
            && !delay_noticed
            && !envelope.is_null_sender()
            && self.config.delay_after.is_some_and(|d| {
                self.clock.now() >= envelope.received_at.saturating_add(d.as_secs())
            })
            && records.as_ref().is_some_and(|r| {
                r.iter()
                    .any(|r| r.state == RecipientState::Deferred && r.attempts > 0)
            });
        if self.config.remove_delivered
            && records
                .as_deref()
                .is_some_and(|r| needs_no_notice(&envelope, r))
        {
            // Every recipient accepted by a next hop: nothing for notify to say (it sends no
            // notice for relayed mail), so the message goes at once, in one write instead
            // of a release here and a delete by notify (Postfix's qmgr does the same). The
            // delete also ends the lease. Usually the finishing report removed it already
            // (`apply_and_remove`); this is for a round that applied no report.
            match self.store.delete(&lease.id).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(queue_id = %lease.id, error = %e, "queue: removing a delivered message failed; notify will")
                }
            }
        }
        if let Err(e) = self.store.release(&lease).await {
            match e {
                StoreError::LeaseLost(_) => {}
                e => {
                    tracing::warn!(queue_id = %lease.id, error = %e, "queue: releasing the lease failed")
                }
            }
        }
        if finished && let Some(done) = &self.done {
            // Bounded: when notify is behind, delivery waits (back-pressure, bounded memory).
            let _ = done.send(lease.id.clone()).await;
        }
        if delayed && let Some(tx) = &self.delayed {
            let _ = tx.send(lease.id.clone()).await;
        }
    }

    /// Delivers the due recipients; the recipients' records after the last report applied
    /// (`None` if no report was applied), and whether the report that finished the message
    /// removed it.
    async fn deliver_message(
        &self,
        claimed: Claimed,
        content: Option<Arc<[u8]>>,
    ) -> Result<Round, StoreError> {
        let Claimed {
            lease,
            envelope,
            recipients,
            ..
        } = claimed;
        let now = self.clock.now();
        let due: Vec<&RecipientRecord> = recipients
            .iter()
            .filter(|r| !r.state.is_final() && r.next_attempt <= now)
            .collect();
        if due.is_empty() {
            return Ok(Round {
                records: Some(recipients),
                removed: false,
            });
        }
        let content: Arc<[u8]> = match content {
            Some(c) => c,
            None => {
                let Some(stored) = self.store.get(&lease.id).await? else {
                    return Ok(Round {
                        records: None,
                        removed: false,
                    });
                };
                Arc::from(stored.content.into_boxed_slice())
            }
        };
        let attempts: HashMap<usize, u32> = due.iter().map(|r| (r.index, r.attempts)).collect();
        let specs: Vec<_> = due
            .iter()
            .filter_map(|r| envelope.recipients.get(r.index).map(|s| (r.index, s)))
            .collect();
        let groups = self.routes.group(specs);
        let mut set = JoinSet::new();
        for (hop, recipients) in groups {
            let request = DeliveryRequest {
                queue_id: lease.id.clone(),
                reverse_path: envelope.reverse_path.clone(),
                ret: envelope.ret,
                envid: envelope.envid.clone(),
                smtputf8: envelope.smtputf8,
                eight_bit: envelope.eight_bit,
                next_hop: hop.clone(),
                attempts: recipients
                    .iter()
                    .filter_map(|r| attempts.get(&r.index))
                    .copied()
                    .max()
                    .unwrap_or(0),
                recipients,
                content: content.clone(),
            };
            let sem = self.destination(&hop);
            let transport = self.transport.clone();
            // Boxed: the SMTP client's state machine is ~9 KB, which spawning would
            // otherwise copy several times (into the task cell, out of the stage).
            set.spawn(Box::pin(async move {
                let _permit = sem.acquire_owned().await;
                transport.deliver(request).await
            }));
        }
        // Every delivery runs to its end even when applying another's report fails: dropping
        // the set would abort sessions in flight (one cut after the final "." would deliver
        // the message again at the next attempt). The first error is returned afterwards.
        let mut last = None;
        let mut removed = false;
        let mut first_error = None;
        while let Some(done) = set.join_next().await {
            let report = match done {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(queue_id = %lease.id, error = %e, "queue: a delivery task failed; its recipients stay due");
                    continue;
                }
            };
            match self
                .apply(
                    &lease,
                    &envelope.reverse_path,
                    envelope.received_at,
                    &attempts,
                    report,
                )
                .await
            {
                Ok(Some(applied)) => {
                    removed |= applied.removed;
                    last = Some(applied.records);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(queue_id = %lease.id, error = %e, "queue: applying a delivery report failed; its recipients stay due");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            // Removed: every recipient was final, so the failed report changed nothing that
            // remained to do; the message is gone either way.
            Some(e) if !removed => Err(e),
            _ => Ok(Round {
                records: last,
                removed,
            }),
        }
    }

    fn destination(&self, hop: &NextHop) -> Arc<Semaphore> {
        let mut m = self
            .per_destination
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.entry(hop.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_destination.max(1))))
            .clone()
    }

    /// Turns outcomes into state changes and applies them in one atomic report. With
    /// [`ManagerConfig::remove_delivered`], the write that applies the report that finishes
    /// the message also removes it when [`needs_no_notice`] holds for the records after it.
    async fn apply(
        &self,
        lease: &Lease,
        reverse_path: &str,
        arrived: u64,
        attempts: &HashMap<usize, u32>,
        report: AttemptReport,
    ) -> Result<Option<Applied>, StoreError> {
        let now = self.clock.now();
        let mut updates = Vec::with_capacity(report.recipients.len());
        for r in report.recipients {
            let tried = attempts.get(&r.index).copied().unwrap_or(0) + 1;
            let mut dsn = None;
            let (state, reply, remote, next_attempt) = match r.outcome {
                Outcome::Delivered {
                    reply,
                    remote_mta,
                    next_hop_dsn,
                } => {
                    dsn = Some(next_hop_dsn);
                    (
                        RecipientState::Delivered,
                        reply.map(|r| r.to_string()),
                        remote_mta,
                        None,
                    )
                }
                Outcome::Permanent(d) => (
                    RecipientState::Failed,
                    Some(detail_text(&d)),
                    d.remote_mta,
                    None,
                ),
                // Our own shutdown ended the session before its end of data: not an
                // attempt. The recipient keeps its state and stays due, so the next start
                // tries it at once instead of after the first retry delay (Postfix's active
                // queue is retried at start the same way).
                Outcome::Stopped(_) => {
                    tracing::info!(queue_id = %lease.id, index = r.index, "queue: delivery cut by shutdown; tried again at the next start");
                    continue;
                }
                Outcome::Temporary(d) => {
                    let random = self.random();
                    match self.config.retry.after_temporary_failure(
                        arrived,
                        now,
                        tried,
                        reverse_path.is_empty(),
                        random,
                    ) {
                        Next::RetryAt(t) => (
                            RecipientState::Deferred,
                            Some(detail_text(&d)),
                            d.remote_mta,
                            Some(t),
                        ),
                        Next::Expire => {
                            tracing::info!(queue_id = %lease.id, index = r.index, "queue: expired after {tried} attempts");
                            (
                                RecipientState::Expired,
                                Some(detail_text(&d)),
                                d.remote_mta,
                                None,
                            )
                        }
                    }
                }
            };
            updates.push(RecipientUpdate {
                index: r.index,
                state,
                reply,
                remote_mta: remote.map(|m| remote_text(&m)),
                attempts: tried,
                next_attempt,
                next_hop_dsn: dsn,
            });
        }
        if updates.is_empty() {
            return Ok(None);
        }
        let changed: Vec<usize> = updates.iter().map(|u| u.index).collect();
        let report = DeliveryReport {
            id: lease.id.clone(),
            updates,
        };
        let applied = if self.config.remove_delivered {
            self.store
                .apply_and_remove(lease, report, now, needs_no_notice)
                .await
        } else {
            self.store
                .apply(lease, report, now)
                .await
                .map(|records| Applied {
                    records,
                    removed: false,
                })
        };
        match applied {
            Ok(applied) => {
                let records = &applied.records;
                // One line per recipient and attempt, like Postfix's `status=` lines: the
                // reply is the next hop's, verbatim.
                for r in records.iter().filter(|r| changed.contains(&r.index)) {
                    tracing::info!(
                        queue_id = %lease.id,
                        to = %r.address,
                        relay = r.remote_mta.as_deref().unwrap_or("none"),
                        attempts = r.attempts,
                        status = r.state.as_str(),
                        reply = r.last_reply.as_deref().unwrap_or(""),
                        removed = applied.removed,
                        "queue: delivery status"
                    );
                }
                Ok(Some(applied))
            }
            Err(StoreError::InvalidReport { id, detail }) => {
                tracing::error!(queue_id = %id, %detail, "queue: transport report rejected by the store");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A uniform value in [0, 1) for jitter (splitmix64; no need for a cryptographic source).
    fn random(&self) -> f64 {
        let mut z = self
            .rng
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What one delivery round of a message left.
struct Round {
    /// The recipients' records after the last report applied (`None` if none was).
    records: Option<Vec<RecipientRecord>>,
    /// The report that finished the message removed it ([`Store::apply_and_remove`]).
    removed: bool,
}

/// Whether a finished message needs nothing from notify: every recipient delivered to a
/// next hop, and none of them a NOTIFY=SUCCESS recipient relayed to a next hop without DSN
/// (that one gets a `relayed` notice). Notify sends notices for failures, expiries, local
/// deliveries and such relays only.
/// The next message handed over, when there is an intake; never otherwise.
async fn recv_handed(rx: &mut Option<mpsc::Receiver<Handed>>) -> Option<Handed> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn needs_no_notice(envelope: &mailerd_types::Envelope, records: &[RecipientRecord]) -> bool {
    !records.is_empty()
        && records.iter().all(|r| {
            let success_asked = envelope
                .recipients
                .get(r.index)
                .and_then(|s| s.notify)
                .is_some_and(|n| n.success && !n.never);
            r.state == RecipientState::Delivered
                && r.remote_mta.is_some()
                && !(success_asked && r.next_hop_dsn == Some(false) && !envelope.is_null_sender())
        })
}

/// The words kept in the status log: the remote reply verbatim (one line), else our status
/// and diagnosis.
fn detail_text(d: &mailerd_types::Detail) -> String {
    match &d.reply {
        Some(r) => r.to_string(),
        None => format!("{} {}", d.status, d.diagnostic),
    }
}

fn remote_text(m: &RemoteMta) -> String {
    match m.addr {
        Some(a) => format!("{} [{}]", m.name, a.ip()),
        None => m.name.clone(),
    }
}
