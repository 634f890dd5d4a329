//! `mailerd serve`: run the mail system until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use mailerd_receive::{ConfigMailboxes, Receiver, shutdown_channel};
use mailerd_store_embedded::EmbeddedStore;

use crate::config::{self, Config};

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
    crate::logging::init(args.log_format);
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
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data_dir {}", config.data_dir.display()))?;
    let path = config.queue_path();
    let store = open_store(path.clone()).await?;
    let store = Arc::new(store);
    let maildrop = crate::pickup::dir(&config.data_dir);
    crate::pickup::create_dir(&maildrop)
        .with_context(|| format!("creating the maildrop {}", maildrop.display()))?;
    let receive = config.receive();
    let mailboxes = Arc::new(ConfigMailboxes::without_usage(&receive.users));
    let receiver =
        Receiver::new(receive, store.clone(), mailboxes).context("starting the SMTP server")?;
    let (trigger, shutdown) = shutdown_channel();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: no new connections; sessions finish their transaction");
        trigger.trigger();
    });
    // The pickup task: messages `mailerd sendmail` dropped while we hold the queue.
    let pickup = tokio::spawn(crate::pickup::run(
        store.clone(),
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
    }
    // After a shutdown the pickup finishes the scan in progress (commit, then remove).
    let _ = pickup.await;
    served?;
    drop(receiver);
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
