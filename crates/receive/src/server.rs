//! Listeners, connection limits and the drain on shutdown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::commit::Commit;
use mailerd_smtp::{Reply, status};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::auth::{Accounts, AuthThrottle};
use crate::config::{ListenerConfig, ReceiveConfig, Role};
use crate::error::ReceiveError;
use crate::mailbox::MailboxLookup;
use crate::net::Cidr;
use crate::session::Session;
use crate::shutdown::Shutdown;
use crate::tls;

/// Everything sessions share.
pub(crate) struct Inner<S> {
    pub(crate) config: ReceiveConfig,
    pub(crate) store: Arc<S>,
    pub(crate) mailboxes: Arc<dyn MailboxLookup>,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) accounts: Accounts,
    pub(crate) throttle: AuthThrottle,
    pub(crate) relay_networks: Vec<Cidr>,
    /// Bounds concurrent argon2 checks (CPU and memory heavy) to the number of cores.
    pub(crate) password_checks: Arc<Semaphore>,
    pub(crate) local_domains: Vec<String>,
    connections: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl<S> Inner<S> {
    pub(crate) fn is_local_domain(&self, domain: &str) -> bool {
        self.local_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    pub(crate) fn may_relay_from(&self, ip: IpAddr) -> bool {
        self.relay_networks.iter().any(|n| n.contains(ip))
    }
}

/// Holds one slot of the per-IP connection count.
struct IpSlot<'a, S> {
    inner: &'a Inner<S>,
    ip: IpAddr,
}

impl<S> Drop for IpSlot<'_, S> {
    fn drop(&mut self) {
        let mut m = self.inner.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// The SMTP server. Cheap to clone (a handle on shared state).
pub struct Receiver<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Receiver<S> {
    fn clone(&self) -> Self {
        Receiver {
            inner: self.inner.clone(),
        }
    }
}

impl<S: Commit> Receiver<S> {
    /// Validates the configuration and prepares TLS (loading the certificate, or generating
    /// a self-signed one when none is configured).
    pub fn new(
        config: ReceiveConfig,
        store: Arc<S>,
        mailboxes: Arc<dyn MailboxLookup>,
    ) -> Result<Self, ReceiveError> {
        let tls = tls::server_config(&config.tls, &config.hostname)?;
        Self::with_tls(config, store, mailboxes, tls)
    }

    /// Like [`Receiver::new`] with a ready rustls configuration (`None`: no STARTTLS).
    pub fn with_tls(
        config: ReceiveConfig,
        store: Arc<S>,
        mailboxes: Arc<dyn MailboxLookup>,
        tls: Option<Arc<ServerConfig>>,
    ) -> Result<Self, ReceiveError> {
        let relay_networks = config
            .relay_networks
            .iter()
            .map(|n| Cidr::parse(n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ReceiveError::Config(format!("receive.relay_networks: {e}")))?;
        if config.hostname.is_empty() || config.hostname.contains(char::is_whitespace) {
            return Err(ReceiveError::Config(format!(
                "receive.hostname: {:?} is not a host name",
                config.hostname
            )));
        }
        let l = &config.limits;
        if l.max_line_length < 512 {
            return Err(ReceiveError::Config(
                "receive.limits.max_line_length: must be at least 512 (RFC 5321)".into(),
            ));
        }
        if l.max_connections == 0 || l.max_connections_per_ip == 0 || l.max_recipients == 0 {
            return Err(ReceiveError::Config(
                "receive.limits: max_connections, max_connections_per_ip and max_recipients must be positive".into(),
            ));
        }
        if tls.is_none() && config.listeners.iter().any(|l| l.role == Role::Submission) {
            tracing::warn!(
                "TLS is disabled: AUTH is never offered, so submission listeners accept no mail"
            );
        }
        let inner = Inner {
            accounts: Accounts::new(&config.users),
            throttle: AuthThrottle::new(config.auth_throttle.clone()),
            local_domains: config
                .local_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            password_checks: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            tls: tls.map(TlsAcceptor::from),
            relay_networks,
            config,
            store,
            mailboxes,
        };
        Ok(Receiver {
            inner: Arc::new(inner),
        })
    }

    /// The configuration in effect.
    pub fn config(&self) -> &ReceiveConfig {
        &self.inner.config
    }

    /// Binds every configured listener and serves until `shutdown` fires, then drains.
    pub async fn serve(&self, shutdown: Shutdown) -> Result<(), ReceiveError> {
        let bound = self.bind().await?;
        self.serve_on(bound, shutdown).await;
        Ok(())
    }

    /// Binds every configured listener without serving yet (so the caller can learn the
    /// actual ports, e.g. with port 0, or drop privileges) — then call [`Receiver::serve_on`].
    pub async fn bind(&self) -> Result<Vec<(TcpListener, ListenerConfig)>, ReceiveError> {
        let mut bound = Vec::new();
        for l in &self.inner.config.listeners {
            let sock = TcpListener::bind(l.address)
                .await
                .map_err(|source| ReceiveError::Bind {
                    addr: l.address,
                    source,
                })?;
            let local = sock.local_addr().unwrap_or(l.address);
            tracing::info!(address = %local, role = %l.role, "listening");
            bound.push((sock, l.clone()));
        }
        Ok(bound)
    }

    /// Serves already-bound listeners (tests bind port 0) until `shutdown` fires. Then stops
    /// accepting, lets sessions finish their transaction (they answer `421 4.3.2` at their
    /// next command) for at most `limits.shutdown_grace_secs`, and aborts the rest.
    pub async fn serve_on(
        &self,
        listeners: Vec<(TcpListener, ListenerConfig)>,
        shutdown: Shutdown,
    ) {
        let (tx, mut rx) = mpsc::channel(64);
        let mut accepters = JoinSet::new();
        for (sock, l) in listeners {
            let tx = tx.clone();
            accepters.spawn(async move {
                loop {
                    match sock.accept().await {
                        Ok((stream, peer)) => {
                            if tx.send((stream, peer, l.clone())).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
        drop(tx);
        let mut sessions = JoinSet::new();
        let mut stop = shutdown.clone();
        loop {
            tokio::select! {
                _ = stop.wait() => break,
                got = rx.recv() => {
                    let Some((stream, peer, l)) = got else { break };
                    let _ = stream.set_nodelay(true);
                    let this = self.clone();
                    let sd = shutdown.clone();
                    // Boxed: a session's state machine is ~5 KB, which spawning would
                    // otherwise copy several times.
                    sessions.spawn(Box::pin(async move {
                        this.handle_connection(stream, peer, &l, sd).await
                    }));
                }
                Some(done) = sessions.join_next(), if !sessions.is_empty() => {
                    // A panic is a bug; it ends that session only (invariant 7).
                    if let Err(e) = done && e.is_panic() {
                        tracing::error!(error = %e, "session task panicked");
                    }
                }
            }
        }
        accepters.abort_all();
        drop(rx);
        let grace = Duration::from_secs(self.inner.config.limits.shutdown_grace_secs);
        let drained = tokio::time::timeout(grace, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                remaining = sessions.len(),
                "shutdown grace period over: closing remaining sessions"
            );
            sessions.abort_all();
            while sessions.join_next().await.is_some() {}
        }
        tracing::info!("smtp server stopped");
    }

    /// Runs one SMTP session over any stream (role tests use `tokio::io::duplex`), applying
    /// the connection limits first.
    pub async fn handle_connection<IO>(
        &self,
        mut io: IO,
        peer: SocketAddr,
        listener: &ListenerConfig,
        shutdown: Shutdown,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let inner = &*self.inner;
        let Ok(_permit) = inner.connections.clone().try_acquire_owned() else {
            tracing::warn!(client = %peer, "connection refused: too many connections");
            refuse(
                &mut io,
                Reply::new(
                    421,
                    status(4, 7, 0),
                    format!("{} Error: too many connections", inner.config.hostname),
                ),
            )
            .await;
            return;
        };
        let ip = crate::net::client_key(peer.ip());
        let admitted = {
            let mut m = inner.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            let n = m.entry(ip).or_insert(0);
            if *n >= inner.config.limits.max_connections_per_ip {
                false
            } else {
                *n += 1;
                true
            }
        };
        if !admitted {
            tracing::warn!(client = %peer, "connection refused: too many connections from this address");
            refuse(
                &mut io,
                Reply::new(
                    421,
                    status(4, 7, 0),
                    format!(
                        "{} Error: too many connections from {ip}",
                        inner.config.hostname
                    ),
                ),
            )
            .await;
            return;
        }
        let _slot = IpSlot { inner, ip };
        Session::new(inner, io, peer, listener.role, shutdown)
            .run(listener.greet_pause())
            .await;
    }
}

async fn refuse<IO: AsyncWrite + Unpin>(io: &mut IO, reply: Reply) {
    let _ = io.write_all(&reply.to_wire()).await;
    let _ = io.shutdown().await;
}

/// The role of a listener, for tests that build one by hand.
pub fn listener(address: SocketAddr, role: Role) -> ListenerConfig {
    ListenerConfig {
        address,
        role,
        greet_pause_ms: None,
    }
}
