//! Test helpers shared by the role tests (in-memory streams, paused time) and the TCP tests
//! (real clients on loopback): an in-memory store, a configuration with users, an SMTP client
//! over any stream.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use mailerd_receive::{
    ConfigMailboxes, ListenerConfig, MailboxLookup, ReceiveConfig, Receiver, Role, Shutdown,
    UserConfig,
};
use mailerd_store::{
    Claimed, Lease, ListFilter, MessageList, NewMessage, RecipientRecord, StatusRecord, Store,
    StoreError, StoredMessage,
};
use mailerd_types::{DeliveryReport, QueueId};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A store that keeps messages in memory and can be told to fail.
#[derive(Default)]
pub struct MemStore {
    pub messages: Mutex<Vec<(QueueId, NewMessage)>>,
    pub fail: AtomicBool,
    next: AtomicU64,
}

impl MemStore {
    pub fn taken(&self) -> Vec<(QueueId, NewMessage)> {
        std::mem::take(&mut *self.messages.lock().expect("lock"))
    }

    pub fn count(&self) -> usize {
        self.messages.lock().expect("lock").len()
    }
}

impl Store for MemStore {
    async fn commit(&self, msg: NewMessage) -> Result<QueueId, StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("disk on fire".into()));
        }
        let id = QueueId(format!(
            "Q{:05}",
            self.next.fetch_add(1, Ordering::SeqCst) + 1
        ));
        self.messages.lock().expect("lock").push((id.clone(), msg));
        Ok(id)
    }

    // The receive role only commits; the rest of the contract is not needed here.
    async fn get(&self, _: &QueueId) -> Result<Option<StoredMessage>, StoreError> {
        Err(unsupported())
    }
    async fn list(&self, _: &ListFilter) -> Result<MessageList, StoreError> {
        Err(unsupported())
    }
    async fn claim(&self, _: &str, _: u64, _: usize, _: u64) -> Result<Vec<Claimed>, StoreError> {
        Err(unsupported())
    }
    async fn renew(&self, _: &Lease, _: u64, _: u64) -> Result<Lease, StoreError> {
        Err(unsupported())
    }
    async fn apply(
        &self,
        _: &Lease,
        _: DeliveryReport,
        _: u64,
    ) -> Result<Vec<RecipientRecord>, StoreError> {
        Err(unsupported())
    }
    async fn release(&self, _: &Lease) -> Result<(), StoreError> {
        Err(unsupported())
    }
    async fn status_log(&self, _: &QueueId) -> Result<Vec<StatusRecord>, StoreError> {
        Err(unsupported())
    }
    async fn delete(&self, _: &QueueId) -> Result<bool, StoreError> {
        Err(unsupported())
    }
    async fn hold(&self, _: &QueueId) -> Result<bool, StoreError> {
        Err(unsupported())
    }
    async fn release_hold(&self, _: &QueueId) -> Result<bool, StoreError> {
        Err(unsupported())
    }
}

fn unsupported() -> StoreError {
    StoreError::Backend("not supported by the receive tests' store".into())
}

/// A cheap argon2id hash (tests must be fast; production hashes use the defaults).
pub fn hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).expect("params");
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
    a.hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string()
}

pub const HOST: &str = "mx.example.test";
pub const PASSWORD: &str = "correct horse";

/// example.test is local with alice (active), bob (password, can AUTH), carol (disabled),
/// dave (over quota).
pub fn config() -> ReceiveConfig {
    let user = |a: &str, pw: bool, disabled: bool, quota: Option<u64>| UserConfig {
        address: a.into(),
        password_hash: pw.then(|| hash(PASSWORD)),
        quota,
        disabled,
    };
    let mut c = ReceiveConfig {
        hostname: HOST.into(),
        local_domains: vec!["example.test".into()],
        users: vec![
            user("alice@example.test", false, false, None),
            user("bob@example.test", true, false, None),
            user("carol@example.test", true, true, None),
            user("dave@example.test", false, false, Some(1000)),
        ],
        ..ReceiveConfig::default()
    };
    c.listeners.clear();
    c
}

/// Everything a test needs: the server, its store, and the TLS trust anchor.
pub struct Harness {
    pub receiver: Receiver<MemStore>,
    pub store: Arc<MemStore>,
    pub cert: CertificateDer<'static>,
}

pub fn harness(config: ReceiveConfig) -> Harness {
    let store = Arc::new(MemStore::default());
    let (tls, cert) = mailerd_receive::tls::self_signed(HOST).expect("self-signed cert");
    // dave's mailbox holds 5000 bytes, over his 1000-byte quota.
    let mailboxes: Arc<dyn MailboxLookup> = Arc::new(ConfigMailboxes::new(
        &config.users,
        Arc::new(|a: &str| if a.starts_with("dave@") { 5000 } else { 0 }),
    ));
    let receiver =
        Receiver::with_tls(config, store.clone(), mailboxes, Some(tls)).expect("valid config");
    Harness {
        receiver,
        store,
        cert,
    }
}

pub fn listener_for(role: Role, greet_pause_ms: u64) -> ListenerConfig {
    ListenerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        role,
        greet_pause_ms: Some(greet_pause_ms),
    }
}

impl Harness {
    /// A session over an in-memory stream, as from client address `ip`.
    pub fn connect(
        &self,
        role: Role,
        ip: &str,
        shutdown: Shutdown,
    ) -> (Client<tokio::io::DuplexStream>, tokio::task::JoinHandle<()>) {
        self.connect_with(listener_for(role, 0), ip, shutdown)
    }

    pub fn connect_with(
        &self,
        l: ListenerConfig,
        ip: &str,
        shutdown: Shutdown,
    ) -> (Client<tokio::io::DuplexStream>, tokio::task::JoinHandle<()>) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let peer = SocketAddr::new(ip.parse().expect("ip"), 40000);
        let r = self.receiver.clone();
        let task = tokio::spawn(async move { r.handle_connection(b, peer, &l, shutdown).await });
        (Client::new(a), task)
    }

    pub fn tls_connector(&self) -> tokio_rustls::TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.clone()).expect("root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    }
}

/// A minimal SMTP client for tests.
pub struct Client<T> {
    pub io: T,
    buf: Vec<u8>,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Client<T> {
    pub fn new(io: T) -> Self {
        Client {
            io,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// Reads one complete reply (all its lines, CRLF-joined without the last CRLF); empty
    /// string at EOF.
    pub async fn reply(&mut self) -> String {
        loop {
            let mut start = 0;
            while let Some(i) = self.buf[start..].iter().position(|&b| b == b'\n') {
                let line = &self.buf[start..start + i + 1];
                if line.len() < 4 || line[3] == b' ' || line[3] == b'\r' {
                    let all: Vec<u8> = self.buf.drain(..start + i + 1).collect();
                    return String::from_utf8_lossy(&all).trim_end().to_string();
                }
                start += i + 1;
            }
            let mut chunk = [0u8; 4096];
            match self.io.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    let rest: Vec<u8> = self.buf.drain(..).collect();
                    return String::from_utf8_lossy(&rest).trim_end().to_string();
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends a command line and returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// Sends a command and asserts the reply starts with `expected`.
    pub async fn expect(&mut self, line: &str, expected: &str) -> String {
        let r = self.cmd(line).await;
        assert!(
            r.starts_with(expected),
            "{line:?}: expected {expected:?}, got {r:?}"
        );
        r
    }

    pub async fn expect_reply(&mut self, expected: &str) -> String {
        let r = self.reply().await;
        assert!(r.starts_with(expected), "expected {expected:?}, got {r:?}");
        r
    }

    /// `true` once the server closed the connection.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(self.io.read(&mut b).await, Ok(0) | Err(_))
    }

    /// STARTTLS, then the TLS handshake: a client over TLS.
    pub async fn starttls(
        mut self,
        connector: &tokio_rustls::TlsConnector,
    ) -> Client<tokio_rustls::client::TlsStream<T>> {
        self.expect("STARTTLS", "220 2.0.0").await;
        let name = ServerName::try_from(HOST).expect("name");
        let tls = connector
            .connect(name, self.io)
            .await
            .expect("tls handshake");
        Client::new(tls)
    }
}

/// Base64 of `\0user\0password` for AUTH PLAIN.
pub fn plain(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
