//! Test peers: a scripted SMTP server on loopback TCP and request builders.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use mailerd_deliver::{DeliverConfig, Deliverer, Mailbox, MailboxMap, StaticResolver};
use mailerd_types::{DeliveryRequest, NextHop, Outcome, QueueId, RecipientSpec, RequestRecipient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One step of a server script.
#[derive(Clone)]
pub enum Step {
    /// Write this reply now (lines separated by `\r\n`; the final CRLF is added).
    Send(&'static str),
    /// Read one command line, check it starts with the prefix (case-insensitive), reply.
    Expect(&'static str, &'static str),
    /// Read the message up to `\r\n.\r\n` (or `.\r\n` at the very start), then reply
    /// (nothing when the reply is empty).
    Data(&'static str),
    /// Expect STARTTLS, reply 220 and run the TLS handshake with this config.
    StartTls(Arc<rustls::ServerConfig>),
    /// Read one command line and close the connection without answering.
    CloseAfterCommand,
    /// Read one command line and never answer.
    HangAfterCommand,
    /// Close the connection now.
    Close,
    /// Never answer again.
    Hang,
}

/// What the server saw on one connection.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    /// Command lines without CRLF.
    pub commands: Vec<String>,
    /// Raw bytes received after each 354, including the end-of-data mark.
    pub data: Vec<Vec<u8>>,
    /// Script mismatches.
    pub errors: Vec<String>,
    pub tls: bool,
}

pub struct Peer {
    pub addr: SocketAddr,
    handle: JoinHandle<Vec<Transcript>>,
}

impl Peer {
    /// Serves one connection per script, in order, on `ip:port` (`port` 0 for any).
    pub async fn start_on(ip: &str, port: u16, scripts: Vec<Vec<Step>>) -> std::io::Result<Peer> {
        let listener = TcpListener::bind((ip, port)).await?;
        let addr = listener.local_addr()?;
        let handle = tokio::spawn(async move {
            let mut out = Vec::new();
            for script in scripts {
                let Ok((tcp, _)) = listener.accept().await else {
                    break;
                };
                // Without Nagle, every reply reaches the client at once: with paused time,
                // a reply held back by the kernel would let the clock jump to a timeout.
                let _ = tcp.set_nodelay(true);
                out.push(serve(Box::new(tcp), script).await);
            }
            out
        });
        Ok(Peer { addr, handle })
    }

    pub async fn start(scripts: Vec<Vec<Step>>) -> Peer {
        Self::start_on("127.0.0.1", 0, scripts)
            .await
            .expect("bind loopback")
    }

    /// The transcripts of the connections served so far (waits for the scripts to end).
    pub async fn finish(self) -> Vec<Transcript> {
        self.handle.await.expect("peer task")
    }

    /// Stops the peer and returns nothing (for peers that hang).
    pub fn abort(self) {
        self.handle.abort();
    }
}

struct Conn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
}

impl Conn {
    async fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 4096];
        match self.io.read(&mut tmp).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..p + 2).collect();
                return Some(String::from_utf8_lossy(&l[..p]).into_owned());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn data(&mut self) -> Option<Vec<u8>> {
        loop {
            if self.buf.starts_with(b".\r\n") {
                return Some(self.buf.drain(..3).collect());
            }
            if let Some(p) = self.buf.windows(5).position(|w| w == b"\r\n.\r\n") {
                return Some(self.buf.drain(..p + 5).collect());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn reply(&mut self, r: &str) {
        let _ = self.io.write_all(format!("{r}\r\n").as_bytes()).await;
        let _ = self.io.flush().await;
    }
}

async fn serve(io: Box<dyn Io>, script: Vec<Step>) -> Transcript {
    let mut c = Conn {
        io,
        buf: Vec::new(),
    };
    let mut t = Transcript::default();
    for step in script {
        match step {
            Step::Send(r) => c.reply(r).await,
            Step::Expect(prefix, r) => {
                let Some(l) = c.line().await else {
                    t.errors.push(format!("eof, expected {prefix}"));
                    return t;
                };
                if !l
                    .to_ascii_uppercase()
                    .starts_with(&prefix.to_ascii_uppercase())
                {
                    t.errors.push(format!("expected {prefix}, got {l}"));
                }
                t.commands.push(l);
                c.reply(r).await;
            }
            Step::Data(r) => {
                let Some(d) = c.data().await else {
                    t.errors.push("eof in data".into());
                    return t;
                };
                t.data.push(d);
                if !r.is_empty() {
                    c.reply(r).await;
                }
            }
            Step::StartTls(cfg) => {
                let Some(l) = c.line().await else {
                    t.errors.push("eof, expected STARTTLS".into());
                    return t;
                };
                t.commands.push(l);
                c.reply("220 2.0.0 Ready to start TLS").await;
                let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                match acceptor.accept(c.io).await {
                    Ok(tls) => {
                        c = Conn {
                            io: Box::new(tls),
                            buf: Vec::new(),
                        };
                        t.tls = true;
                    }
                    Err(e) => {
                        t.errors.push(format!("tls: {e}"));
                        return t;
                    }
                }
            }
            Step::CloseAfterCommand => {
                if let Some(l) = c.line().await {
                    t.commands.push(l);
                }
                return t;
            }
            Step::Close => return t,
            Step::Hang => std::future::pending::<()>().await,
            Step::HangAfterCommand => {
                if let Some(l) = c.line().await {
                    t.commands.push(l);
                }
                std::future::pending::<()>().await;
            }
        }
    }
    // After the script: answer QUIT, note anything else.
    while let Some(l) = c.line().await {
        let up = l.to_ascii_uppercase();
        t.commands.push(l);
        if up.starts_with("QUIT") {
            c.reply("221 2.0.0 Bye").await;
            break;
        }
        t.errors.push(format!("unscripted command {up}"));
        c.reply("500 5.5.1 unscripted").await;
    }
    t
}

/// A TLS server config with a fresh self-signed certificate.
pub fn tls_server_config() -> Arc<rustls::ServerConfig> {
    let ck = rcgen::generate_simple_self_signed(vec!["mx.test".to_string()]).expect("cert");
    let cert = ck.cert.der().clone();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(rustls_pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("server config");
    Arc::new(cfg)
}

/// The usual EHLO reply with the given extension lines.
pub fn ehlo(ext: &'static [&'static str]) -> &'static str {
    let mut s = String::from("250-mx.test Hello");
    for e in ext {
        s.push_str("\r\n250-");
        s.push_str(e);
    }
    // Turn the last '-' into ' '.
    let i = s.rfind("250-").expect("line");
    s.replace_range(i..i + 4, "250 ");
    Box::leak(s.into_boxed_str())
}

pub fn request(hop: NextHop, rcpts: &[&str], content: &str) -> DeliveryRequest {
    DeliveryRequest {
        queue_id: QueueId("4QxY1z2AbC".into()),
        reverse_path: "alice@sender.test".into(),
        ret: None,
        envid: None,
        smtputf8: false,
        eight_bit: false,
        next_hop: hop,
        recipients: rcpts
            .iter()
            .enumerate()
            .map(|(i, r)| RequestRecipient {
                index: i,
                spec: RecipientSpec::new(*r),
            })
            .collect(),
        content: Arc::from(content.as_bytes()),
        attempts: 0,
    }
}

pub fn static_hop(addr: SocketAddr) -> NextHop {
    NextHop::Static {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

pub struct NoMailboxes;
impl MailboxMap for NoMailboxes {
    fn mailbox(&self, _: &str) -> Option<Mailbox> {
        None
    }
}

pub fn deliverer(config: DeliverConfig, resolver: StaticResolver) -> Deliverer {
    Deliverer::new(config, Arc::new(resolver), Arc::new(NoMailboxes))
}

/// One connection per request (each test scripts whole sessions, QUIT included); the
/// connection reuse tests turn reuse on themselves.
pub fn config() -> DeliverConfig {
    DeliverConfig {
        hostname: "client.test".into(),
        connection_reuse_time: std::time::Duration::ZERO,
        ..Default::default()
    }
}

/// `(kind, status, reply code)` of an outcome, for compact assertions.
pub fn summary(o: &Outcome) -> (&'static str, String, Option<u16>) {
    match o {
        Outcome::Delivered { reply, .. } => (
            "delivered",
            reply
                .as_ref()
                .and_then(|r| r.status)
                .map(|s| s.to_string())
                .unwrap_or_default(),
            reply.as_ref().map(|r| r.code),
        ),
        Outcome::Temporary(d) => (
            "temporary",
            d.status.to_string(),
            d.reply.as_ref().map(|r| r.code),
        ),
        Outcome::Permanent(d) => (
            "permanent",
            d.status.to_string(),
            d.reply.as_ref().map(|r| r.code),
        ),
        Outcome::Stopped(d) => (
            "stopped",
            d.status.to_string(),
            d.reply.as_ref().map(|r| r.code),
        ),
    }
}

pub fn diagnostic(o: &Outcome) -> String {
    match o {
        Outcome::Temporary(d) | Outcome::Permanent(d) | Outcome::Stopped(d) => d.diagnostic.clone(),
        Outcome::Delivered { .. } => String::new(),
    }
}
