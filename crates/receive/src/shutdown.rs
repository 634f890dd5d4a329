//! The shutdown signal: one trigger, any number of waiters.

use tokio::sync::watch;

/// The sending side: call [`ShutdownTrigger::trigger`] once to stop the server.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// The waiting side, cloned into every task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new shutdown signal.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Signals shutdown to every [`Shutdown`].
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// A signal that never fires (for tests and one-off sessions).
    pub fn never() -> Shutdown {
        // With the sender gone, `wait` pends forever, which is what "never" means.
        let (_, rx) = watch::channel(false);
        Shutdown(rx)
    }

    /// `true` once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when triggered; pends forever if the trigger was dropped untriggered.
    pub async fn wait(&mut self) {
        if self.0.wait_for(|&v| v).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
