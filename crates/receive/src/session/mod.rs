//! One SMTP session: the command loop, input/output buffering and the per-verb handlers
//! (one file per verb family).

mod auth;
mod data;
mod ehlo;
mod mail;
mod rcpt;
mod simple;
mod starttls;

use std::net::SocketAddr;
use std::time::Duration;

use crate::commit::Commit;
use mailerd_smtp::{Command, LineEvent, LineReader, MailFrom, Reply, status};
use mailerd_types::RecipientSpec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::config::Role;
use crate::conn::Conn;
use crate::server::Inner;
use crate::shutdown::Shutdown;

/// What to do after a command.
pub(crate) enum Flow {
    Continue,
    Close,
}

/// What waiting for input gave.
pub(crate) enum Input {
    Line(Vec<u8>),
    TooLong,
    Eof,
    Timeout,
    Shutdown,
    /// More bytes arrived in the input buffer.
    Data,
}

/// Facts of the negotiated TLS session.
#[derive(Debug, Clone)]
pub(crate) struct TlsInfo {
    pub version: String,
    pub cipher: String,
}

/// A mail transaction in progress (after MAIL, until DATA ends or RSET).
pub(crate) struct Transaction {
    pub mail: MailFrom,
    pub reverse_path: String,
    pub recipients: Vec<RecipientSpec>,
    /// Header fields to add for this transaction (e.g. a failed BATV check).
    pub marks: Vec<String>,
}

pub(crate) struct Session<'a, S, IO> {
    pub(crate) server: &'a Inner<S>,
    pub(crate) conn: Conn<IO>,
    pub(crate) inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    lines: LineReader,
    pub(crate) peer: SocketAddr,
    pub(crate) role: Role,
    pub(crate) helo: Option<String>,
    pub(crate) esmtp: bool,
    pub(crate) tls: Option<TlsInfo>,
    pub(crate) auth_user: Option<String>,
    pub(crate) tx: Option<Transaction>,
    pub(crate) messages: u32,
    pub(crate) chunks: Option<data::Chunks>,
    errors: u32,
    shutdown: Shutdown,
    started: Instant,
}

impl<'a, S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'a, S, IO> {
    pub(crate) fn new(
        server: &'a Inner<S>,
        io: IO,
        peer: SocketAddr,
        role: Role,
        shutdown: Shutdown,
    ) -> Self {
        Session {
            server,
            conn: Conn::Plain(io),
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            lines: LineReader::new(server.config.limits.max_line_length),
            peer,
            role,
            helo: None,
            esmtp: false,
            tls: None,
            auth_user: None,
            tx: None,
            messages: 0,
            chunks: None,
            errors: 0,
            shutdown,
            started: Instant::now(),
        }
    }

    pub(crate) fn hostname(&self) -> &str {
        &self.server.config.hostname
    }

    /// Queues a reply (sent at the next flush: before we wait for input, as RFC 2920 asks).
    /// Permanent errors count towards `max_errors`; transient ones (such as `452 4.5.3` for a
    /// client that sends more than `max_recipients` and will retry them later) do not.
    pub(crate) fn reply(&mut self, r: Reply) {
        if r.code >= 500 {
            self.errors += 1;
        }
        r.write_to(&mut self.outbuf);
    }

    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if !self.outbuf.is_empty() {
            let out = std::mem::take(&mut self.outbuf);
            self.conn.write_all(&out).await?;
            self.conn.flush().await?;
        }
        Ok(())
    }

    /// Reads more input into `inbuf`, flushing pending replies first.
    pub(crate) async fn read_more(
        &mut self,
        timeout: Duration,
        watch_shutdown: bool,
    ) -> std::io::Result<Input> {
        self.flush().await?;
        let res = tokio::select! {
            r = tokio::time::timeout(timeout, read_into(&mut self.conn, &mut self.inbuf)) => r,
            _ = self.shutdown.wait(), if watch_shutdown => return Ok(Input::Shutdown),
        };
        match res {
            Err(_) => Ok(Input::Timeout),
            Ok(Ok(0)) => Ok(Input::Eof),
            Ok(Ok(_)) => Ok(Input::Data),
            Ok(Err(e)) => Err(e),
        }
    }

    /// The next command line (or AUTH response line).
    pub(crate) async fn next_line(&mut self) -> std::io::Result<Input> {
        let timeout = Duration::from_secs(self.server.config.limits.command_timeout_secs);
        loop {
            // Once shutdown is signalled, a session outside a transaction stops at once.
            if self.tx.is_none() && self.shutdown.is_triggered() {
                return Ok(Input::Shutdown);
            }
            match self.lines.next_line(&mut self.inbuf) {
                Some(LineEvent::Line(l)) => return Ok(Input::Line(l)),
                Some(LineEvent::TooLong) => return Ok(Input::TooLong),
                None => {}
            }
            match self.read_more(timeout, self.tx.is_none()).await? {
                Input::Data => {}
                other => return Ok(other),
            }
        }
    }

    /// Sends a final reply and closes.
    async fn close_with(&mut self, r: Reply) {
        self.reply(r);
        let _ = self.flush().await;
        let _ = self.conn.shutdown().await;
    }

    /// Runs the session to its end and logs one line about it.
    pub(crate) async fn run(mut self, greet_pause: Duration) {
        if let Err(e) = self.run_inner(greet_pause).await {
            tracing::debug!(client = %self.peer, error = %e, "session i/o error");
        }
        tracing::info!(
            client = %self.peer,
            role = %self.role,
            helo = self.helo.as_deref().unwrap_or(""),
            tls = self.tls.as_ref().map(|t| t.version.as_str()).unwrap_or("none"),
            auth_user = self.auth_user.as_deref().unwrap_or(""),
            messages = self.messages,
            errors = self.errors,
            duration_ms = self.started.elapsed().as_millis() as u64,
            "session end"
        );
    }

    async fn run_inner(&mut self, greet_pause: Duration) -> std::io::Result<()> {
        if !greet_pause.is_zero() {
            // Early talkers (RFC 5321 4.3.1: the client waits for the greeting) are mostly
            // spam engines: refuse them.
            match tokio::time::timeout(greet_pause, read_into(&mut self.conn, &mut self.inbuf))
                .await
            {
                Err(_) => {}
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
                Ok(Ok(_)) => {
                    tracing::info!(client = %self.peer, "early talker refused");
                    self.close_with(Reply::new(
                        554,
                        status(5, 5, 0),
                        format!("{} Error: talked before the greeting", self.hostname()),
                    ))
                    .await;
                    return Ok(());
                }
            }
        }
        let greeting = Reply::plain(220, format!("{} ESMTP mailerd", self.hostname()));
        self.reply(greeting);
        loop {
            let input = self.next_line().await?;
            let line = match input {
                Input::Line(l) => l,
                Input::TooLong => {
                    self.reply(Reply::new(500, status(5, 5, 6), "Error: line too long"));
                    continue;
                }
                Input::Eof | Input::Data => return Ok(()),
                Input::Timeout => {
                    self.close_with(Reply::new(
                        421,
                        status(4, 4, 2),
                        format!("{} Error: timeout exceeded", self.hostname()),
                    ))
                    .await;
                    return Ok(());
                }
                Input::Shutdown => {
                    self.close_with(Reply::new(
                        421,
                        status(4, 3, 2),
                        format!(
                            "{} Service shutting down, closing connection",
                            self.hostname()
                        ),
                    ))
                    .await;
                    return Ok(());
                }
            };
            let flow = match mailerd_smtp::parse_command(&line) {
                Ok(cmd) => self.dispatch(cmd).await?,
                Err(e) => {
                    self.reply(e.reply());
                    Flow::Continue
                }
            };
            if let Flow::Close = flow {
                let _ = self.flush().await;
                let _ = self.conn.shutdown().await;
                return Ok(());
            }
            if self.errors >= self.server.config.limits.max_errors {
                self.close_with(Reply::new(
                    421,
                    status(4, 7, 0),
                    format!("{} Error: too many errors", self.hostname()),
                ))
                .await;
                return Ok(());
            }
        }
    }

    async fn dispatch(&mut self, cmd: Command) -> std::io::Result<Flow> {
        match cmd {
            Command::Ehlo(h) => self.ehlo(h, true),
            Command::Helo(h) => self.ehlo(h, false),
            Command::Mail(m) => self.mail(m),
            Command::Rcpt(r) => self.rcpt(r),
            Command::Data => return self.data().await,
            Command::Bdat { size, last } => return self.bdat(size, last).await,
            Command::Rset => self.rset(),
            Command::Noop => self.reply(Reply::new(250, status(2, 0, 0), "Ok")),
            Command::Quit => {
                self.reply(Reply::new(221, status(2, 0, 0), "Bye"));
                return Ok(Flow::Close);
            }
            Command::Vrfy(_) => self.reply(Reply::new(
                252,
                status(2, 5, 2),
                "Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Command::Expn(_) => self.reply(Reply::new(
                502,
                status(5, 5, 1),
                "Error: command not implemented",
            )),
            Command::Help => self.reply(Reply::new(
                214,
                status(2, 0, 0),
                "See RFC 5321 (commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS AUTH)",
            )),
            Command::StartTls => return self.starttls().await,
            Command::Auth { mechanism, initial } => return self.auth(mechanism, initial).await,
        }
        Ok(Flow::Continue)
    }
}

/// Most bytes one read takes from the client.
const READ_CHUNK: usize = 16 * 1024;

/// Reads what the client sent into the spare room of `buf` (grown to at least
/// [`READ_CHUNK`] free bytes, never zeroed): no scratch buffer to clear for every session
/// and no second copy of every byte received.
async fn read_into<IO: AsyncRead + Unpin>(
    conn: &mut IO,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    buf.reserve(READ_CHUNK);
    conn.read_buf(buf).await
}
