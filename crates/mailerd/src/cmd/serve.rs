//! `mailerd serve`: run the mail system until SIGTERM or SIGINT.
//!
//! Wiring, in the order of the flow: the store (queue file), the queue manager with the
//! deliver role as its transport, the notify role fed by the manager's "finished" channel,
//! the SMTP server, and the control socket. Receive and notify commit through a store wrapper
//! that wakes the manager, so new mail is tried at once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use mailerd_deliver::{Deliverer, HickoryResolver, Mailbox, MailboxTable};
use mailerd_notify::notifier::{Notifier, NotifierConfig};
use mailerd_queue::manager::{Clock, Manager, ManagerConfig, SystemClock, Transport};
use mailerd_queue::route::Routes;
use mailerd_receive::{ConfigMailboxes, Receiver, shutdown_channel};
use mailerd_store::Store;
use mailerd_store_embedded::EmbeddedStore;
use mailerd_types::{AttemptReport, DeliveryRequest, NextHop};

use crate::config::{self, Config};
use crate::kick::KickStore;

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file. Without one, mailerd runs on its embedded default: data in
    /// ./mailerd-data, listeners on 127.0.0.1:2525 (mx) and :2587 (submission), a self-signed
    /// certificate.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, value_enum, default_value_t = crate::logging::Format::Text)]
    log_format: crate::logging::Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let _logs = crate::logging::init(args.log_format);
    let config = match &args.config {
        Some(p) => config::load(p)?,
        None => {
            let c = Config::default();
            tracing::info!(
                data_dir = %c.data_dir.display(),
                listeners = %c.listen.iter().map(|l| format!("{} ({})", l.address, l.role)).collect::<Vec<_>>().join(", "),
                "no --config given: running on the embedded default (self-signed certificate, local domain \"localhost\"); `mailerd config defaults` prints every setting"
            );
            c
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads())
        .enable_all()
        .build()
        .context("starting the runtime")?;
    // On a worker, not on this thread: `block_on` would run the server's own loop (accepts,
    // finished sessions) here, and every wake-up of it would cross threads.
    runtime
        .block_on(async { tokio::spawn(serve(config)).await })
        .context("server task")??;
    Ok(ExitCode::SUCCESS)
}

/// The deliver role as the queue manager's transport. With BATV on, mail from our local
/// domains leaves with a signed return path.
struct DeliverTransport {
    deliverer: Arc<Deliverer>,
    batv: Option<mailerd_notify::batv::Batv>,
    local_domains: Vec<String>,
}

impl Transport for DeliverTransport {
    async fn deliver(&self, mut request: DeliveryRequest) -> AttemptReport {
        if let Some(batv) = &self.batv
            && request.next_hop != NextHop::Local
            && let Some((_, domain)) = request.reverse_path.rsplit_once('@')
            && self
                .local_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        {
            request.reverse_path = batv.sign(&request.reverse_path, SystemClock.now());
        }
        self.deliverer.deliver(&request).await
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
    let path = config.queue_path();
    let store = open_store(path.clone()).await?;
    let store = Arc::new(store);
    let node = config
        .queue
        .node
        .clone()
        .unwrap_or_else(|| config.hostname.clone());
    let released = store
        .release_node(&node)
        .await
        .context("releasing this node's old leases")?;
    if released > 0 {
        tracing::info!(
            released,
            "queue: deliveries interrupted by the last stop are due again"
        );
    }

    // deliver
    let mut mailboxes = MailboxTable::new();
    for u in &config.user {
        mailboxes.insert(
            &u.address,
            Mailbox {
                path: config.maildir(&u.address),
                quota: u.quota.map(|q| q.0),
            },
        );
    }
    // RFC 5321 4.5.1: postmaster@ every local domain is accepted, so it must also be
    // deliverable. Without a [[user]] of its own it shares one Maildir, that of
    // postmaster@ the first local domain (where double bounces go by default).
    if let Some(first) = config.local_domains.first() {
        let shared = config.maildir(&format!("postmaster@{first}"));
        for domain in &config.local_domains {
            let address = format!("postmaster@{domain}");
            if !config
                .user
                .iter()
                .any(|u| u.address.eq_ignore_ascii_case(&address))
            {
                mailboxes.insert(
                    &address,
                    Mailbox {
                        path: shared.clone(),
                        quota: None,
                    },
                );
            }
        }
    }
    let deliver_config = config.deliver();
    let resolver =
        HickoryResolver::new(&deliver_config.dns).context("setting up the DNS resolver")?;
    let deliverer = Arc::new(Deliverer::new(
        deliver_config,
        Arc::new(resolver),
        Arc::new(mailboxes),
    ));

    // queue
    let routes = Routes::new(
        config.local_domains.iter().map(String::as_str),
        config.routes.iter().map(|(d, t)| (d.as_str(), t.as_str())),
    )
    .context("routes")?;
    let manager_config = ManagerConfig {
        node,
        active_window: config.queue.active_window,
        per_destination: config.queue.per_destination,
        retry: config.retry.clone(),
        delay_after: config.notify.delay_after,
        ..ManagerConfig::default()
    };
    let (done_tx, done_rx) = tokio::sync::mpsc::channel(1024);
    let (delayed_tx, delayed_rx) = tokio::sync::mpsc::channel(1024);
    let clock = Arc::new(SystemClock);
    let batv = config.batv.build().map_err(|e| anyhow::anyhow!(e))?;
    let transport = DeliverTransport {
        deliverer: deliverer.clone(),
        batv: batv.clone(),
        local_domains: config.local_domains.clone(),
    };
    let manager = Manager::new(
        store.clone(),
        Arc::new(transport),
        clock.clone(),
        routes,
        manager_config,
    )
    .with_done(done_tx)
    .with_delayed(delayed_tx);
    let kstore = Arc::new(KickStore::new(
        store.clone(),
        manager.kick_handle(),
        manager.intake(),
    ));

    // notify
    let notifier = Arc::new(Notifier::new(
        kstore.clone(),
        NotifierConfig {
            hostname: config.hostname.clone(),
            postmaster: config.postmaster(),
            max_lifetime: config.retry.max_lifetime.as_secs(),
            local_domains: config.local_domains.clone(),
            ..NotifierConfig::default()
        },
        Arc::new(move || clock.now()),
    ));

    // receive
    let maildrop = crate::pickup::dir(&config.data_dir);
    crate::pickup::create_dir(&maildrop)
        .with_context(|| format!("creating the maildrop {}", maildrop.display()))?;
    let receive = config.receive();
    let maildirs: std::collections::HashMap<String, PathBuf> = config
        .user
        .iter()
        .map(|u| (u.address.to_ascii_lowercase(), config.maildir(&u.address)))
        .collect();
    let usage = Arc::new(move |address: &str| {
        maildirs
            .get(&address.to_ascii_lowercase())
            .and_then(|p| mailerd_deliver::maildir::usage(p).ok())
            .unwrap_or(0)
    });
    let mailboxes = crate::batv::BatvMailboxes {
        inner: ConfigMailboxes::new(&config.receive().users, usage),
        batv,
        enforce: config.batv.enforce,
        now: Arc::new(|| SystemClock.now()),
    };
    let receiver = Receiver::new(receive, kstore.clone(), Arc::new(mailboxes))
        .context("starting the SMTP server")?;

    let (trigger, shutdown) = shutdown_channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let manager_task = {
        let rx = stop_rx.clone();
        let deliver = config.queue.deliver;
        if !deliver {
            tracing::warn!("queue.deliver = false: mail is accepted and queued, not delivered");
        }
        tokio::spawn(async move {
            if deliver {
                manager.run(rx).await
            }
        })
    };
    let notify_task = {
        let rx = stop_rx.clone();
        tokio::spawn(async move { notifier.run(done_rx, delayed_rx, rx).await })
    };
    let control = tokio::spawn(crate::control::serve(
        crate::control::socket_path(&config.data_dir),
        kstore.clone(),
        stop_rx,
    ));
    // Idle outgoing connections kept for reuse are closed (QUIT) soon after their time is up.
    let reaper = {
        let deliverer = deliverer.clone();
        let mut stop = stop_tx.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        deliverer.close_expired_idle().await;
                    }
                    _ = stop.changed() => break,
                }
            }
        })
    };
    let stop_on_signal = stop_tx.clone();
    let stopping_deliverer = deliverer.clone();
    let grace = std::time::Duration::from_secs(config.limits.shutdown_grace_secs);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutting down: no new connections; sessions and deliveries in flight finish"
        );
        trigger.trigger();
        let _ = stop_on_signal.send(true);
        // Outgoing sessions get the same grace as incoming ones; then those that have not
        // sent their final "." end (tried again at the next start), so a next hop that never
        // answers cannot hold the shutdown for its timeouts (minutes).
        tokio::time::sleep(grace).await;
        tracing::info!(
            "shutting down: ending the outgoing sessions still before their end of data"
        );
        stopping_deliverer.stop_sessions();
    });
    // The pickup task: messages `mailerd sendmail` dropped while we hold the queue.
    let pickup = tokio::spawn(crate::pickup::run(
        kstore.clone(),
        maildrop,
        // The message limit plus room for the envelope line.
        config.limits.max_message_size.saturating_mul(2) + (1 << 20),
        std::time::Duration::from_secs(1),
        shutdown.clone(),
    ));
    tracing::info!(hostname = %config.hostname, queue = %path.display(), "mailerd started");
    let served = receiver.serve(shutdown).await.context("SMTP server");
    if served.is_err() {
        // An early server error: the shutdown signal may never fire.
        pickup.abort();
        let _ = stop_tx.send(true);
    }
    // After a shutdown the pickup finishes the scan in progress (commit, then remove).
    let _ = pickup.await;
    served?;
    drop(receiver);
    for (name, task) in [("queue manager", manager_task), ("notify", notify_task)] {
        if let Err(e) = task.await {
            tracing::warn!(error = %e, "{name} task ended abnormally");
        }
    }
    match control.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "control socket"),
        Err(e) => tracing::warn!(error = %e, "control socket task"),
        Ok(Ok(())) => {}
    }
    let _ = reaper.await;
    deliverer.close_idle().await;
    let st = store.writer_stats();
    tracing::info!(
        batches = st.batches,
        ops = st.ops,
        largest_batch = st.largest_batch,
        failed_batches = st.failed_batches,
        work_ms = st.work_micros / 1000,
        commit_ms = st.commit_micros / 1000,
        flushes = st.flushes,
        unflushed_batches = st.unflushed_batches,
        "queue writer: group commits since start"
    );
    drop(kstore);
    // The last handle: finishes writes in flight and closes the file.
    drop(store);
    tracing::info!("mailerd stopped");
    Ok(())
}

/// Opens the queue; a `mailerd sendmail` committing directly holds it for a moment, so a
/// store in use is retried for a few seconds before giving up.
async fn open_store(path: PathBuf) -> anyhow::Result<EmbeddedStore> {
    let mut attempts = 0;
    loop {
        let p = path.clone();
        let opened = tokio::task::spawn_blocking(move || EmbeddedStore::open(p))
            .await
            .context("opening the queue")?;
        match opened {
            Err(mailerd_store::StoreError::InUse(_)) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            r => return r.with_context(|| format!("opening the queue {}", path.display())),
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops mailerd");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
