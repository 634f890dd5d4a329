//! The SMTP client (RFC 5321): one transaction for the recipients of a request, tried against
//! each target (MX address) in turn until every recipient has a final answer or the targets
//! run out.
//!
//! Rules kept here:
//! - EHLO, HELO when EHLO is refused; STARTTLS per [`TlsPolicy`]; EHLO again after TLS.
//! - PIPELINING (RFC 2920): MAIL, every RCPT and DATA in one write when offered.
//! - A reply to MAIL or DATA applies to every recipient of the transaction; a reply to RCPT
//!   to that recipient only; a bare 552 to RCPT (or 552 5.5.3) is read as 452 (RFC 5321
//!   4.5.3.1.10), while `552 5.2.2` and other explicit enhanced codes keep their class.
//! - 421 at any point, a failed connect, a lost connection or a timeout: the recipients
//!   without a final answer are deferred and the next target is tried.
//! - Timeouts per RFC 5321 4.5.3.2, configurable in [`Timeouts`].

pub mod proto;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use mailerd_types::{
    DeliveryRequest, Detail, EnhancedStatus, Outcome, RemoteMta, SmtpReply, Stage, StatusClass,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, timeout};
use tokio_rustls::client::TlsStream;

use crate::route::Target;
use crate::tls::{TlsClient, TlsInfo, TlsPolicy};
use proto::{Capabilities, ReplyBuilder, ReplyError, dot_stuff, mail_command, rcpt_command};

/// Client timeouts (RFC 5321 section 4.5.3.2 gives the minimums used as defaults). In the
/// configuration file each is human text (`"5m"`, `"30s"`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    /// TCP connect.
    #[serde(with = "crate::config::duration")]
    pub connect: Duration,
    /// Initial 220 greeting (RFC: 5 min).
    #[serde(with = "crate::config::duration")]
    pub greeting: Duration,
    /// Reply to EHLO/HELO.
    #[serde(with = "crate::config::duration")]
    pub helo: Duration,
    /// Reply to STARTTLS and the TLS handshake.
    #[serde(with = "crate::config::duration")]
    pub starttls: Duration,
    /// Reply to MAIL (RFC: 5 min).
    #[serde(with = "crate::config::duration")]
    pub mail: Duration,
    /// Reply to each RCPT (RFC: 5 min).
    #[serde(with = "crate::config::duration")]
    pub rcpt: Duration,
    /// Reply to DATA (RFC: 2 min).
    #[serde(with = "crate::config::duration")]
    pub data_init: Duration,
    /// Writing each block of the message (RFC: 3 min).
    #[serde(with = "crate::config::duration")]
    pub data_block: Duration,
    /// Reply after the final `.` (RFC: 10 min).
    #[serde(with = "crate::config::duration")]
    pub data_done: Duration,
    /// Reply to RSET and QUIT.
    #[serde(with = "crate::config::duration")]
    pub quit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: min(5),
            helo: min(5),
            starttls: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_done: min(10),
            quit: Duration::from_secs(60),
        }
    }
}

/// Settings of the SMTP client.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The name we give in EHLO/HELO.
    pub helo_name: String,
    pub timeouts: Timeouts,
    /// How long an idle connection is kept for the next request to the same target;
    /// zero disables connection reuse.
    pub reuse_time: Duration,
}

/// What went wrong on the connection itself (as opposed to a reply).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    /// The deliverer is stopping ([`Stop`]) and the message's final "." was not sent yet.
    #[error("stopped: mailerd is shutting down")]
    Stopped,
    #[error("connection closed by the server")]
    Closed,
    #[error("{0}")]
    Reply(#[from] ReplyError),
}

/// The phase of the conversation, for diagnostics in Postfix's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Greeting,
    Helo,
    StartTls,
    Mail,
    Rcpt,
    DataCmd,
    Body,
    DataDone,
}

impl Phase {
    fn while_text(self) -> &'static str {
        match self {
            Phase::Greeting => "receiving the initial server greeting",
            Phase::Helo => "performing the EHLO handshake",
            Phase::StartTls => "performing the STARTTLS handshake",
            Phase::Mail => "sending MAIL FROM",
            Phase::Rcpt => "sending RCPT TO",
            Phase::DataCmd => "sending DATA command",
            Phase::Body => "sending message body",
            Phase::DataDone => "sending end of data -- message may be sent more than once",
        }
    }
    fn in_reply_to(self) -> &'static str {
        match self {
            Phase::Greeting => "in reply to the initial greeting",
            Phase::Helo => "in reply to EHLO command",
            Phase::StartTls => "in reply to STARTTLS command",
            Phase::Mail => "in reply to MAIL FROM command",
            Phase::Rcpt => "in reply to RCPT TO command",
            Phase::DataCmd => "in reply to DATA command",
            Phase::Body | Phase::DataDone => "in reply to end of DATA command",
        }
    }
    fn stage(self) -> Stage {
        match self {
            Phase::Greeting => Stage::Greeting,
            Phase::Helo => Stage::Helo,
            Phase::StartTls => Stage::StartTls,
            Phase::Mail => Stage::Mail,
            Phase::Rcpt => Stage::Rcpt,
            Phase::DataCmd | Phase::Body | Phase::DataDone => Stage::Data,
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

/// Ends the waits of sessions once the deliverer is stopping (`Deliverer::stop_sessions`),
/// except the wait for the reply to the final ".": cutting that one could deliver the
/// message twice. Before it, nothing was accepted, so the recipients are simply deferred.
#[derive(Clone)]
pub(crate) struct Stop(pub(crate) watch::Receiver<bool>);

impl Stop {
    pub(crate) fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// `fut` within `limit`, or [`SessionError::Stopped`] as soon as the stop comes.
    async fn bounded<T>(
        &self,
        limit: Duration,
        fut: impl Future<Output = Result<T, SessionError>>,
    ) -> Result<T, SessionError> {
        let mut rx = self.0.clone();
        let stopped = async move {
            if rx.wait_for(|s| *s).await.is_err() {
                // The deliverer is gone; nobody can stop us any more.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            r = timeout(limit, fut) => r.map_err(|_| SessionError::Timeout)?,
            () = stopped => Err(SessionError::Stopped),
        }
    }
}

/// A connection with a read buffer.
struct Conn {
    stream: Stream,
    rbuf: Vec<u8>,
    stop: Stop,
}

impl Conn {
    async fn read_some(&mut self) -> Result<(), SessionError> {
        // Straight into the buffer's spare room: a stack buffer here would be zeroed on every
        // read and make every future that awaits this one as large as the buffer (each
        // delivery task copied it around: ~10 % of the instructions per relayed message).
        self.rbuf.reserve(4096);
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read_buf(&mut self.rbuf).await?,
            Stream::Tls(s) => s.read_buf(&mut self.rbuf).await?,
            Stream::Gone => 0,
        };
        if n == 0 {
            return Err(SessionError::Closed);
        }
        Ok(())
    }

    async fn read_reply_inner(&mut self) -> Result<SmtpReply, SessionError> {
        let mut b = ReplyBuilder::default();
        loop {
            if let Some(pos) = self.rbuf.iter().position(|&c| c == b'\n') {
                let line: Vec<u8> = self.rbuf.drain(..=pos).collect();
                if let Some(r) = b.push(&line)? {
                    return Ok(r);
                }
                continue;
            }
            if self.rbuf.len() > proto::MAX_REPLY_LINE {
                return Err(ReplyError::TooLong.into());
            }
            self.read_some().await?;
        }
    }

    /// The next reply within `limit`; ends early when the deliverer stops.
    async fn read_reply(&mut self, limit: Duration) -> Result<SmtpReply, SessionError> {
        let stop = self.stop.clone();
        stop.bounded(limit, self.read_reply_inner()).await
    }

    /// The reply to the final "." within `limit`, whether the deliverer stops or not.
    async fn read_final_reply(&mut self, limit: Duration) -> Result<SmtpReply, SessionError> {
        timeout(limit, self.read_reply_inner())
            .await
            .map_err(|_| SessionError::Timeout)?
    }

    async fn write_all(&mut self, data: &[u8], limit: Duration) -> Result<(), SessionError> {
        let fut = async {
            match &mut self.stream {
                Stream::Plain(s) => {
                    s.write_all(data).await?;
                    s.flush().await
                }
                Stream::Tls(s) => {
                    s.write_all(data).await?;
                    s.flush().await
                }
                Stream::Gone => Err(std::io::ErrorKind::NotConnected.into()),
            }
        };
        let stop = self.stop.clone();
        stop.bounded(limit, async { fut.await.map_err(SessionError::from) })
            .await
    }
}

/// What happened on one target.
enum Flow {
    /// Every recipient has its final answer for this request.
    Done,
    /// Recipients without an answer are deferred with this detail; try the next target.
    Next(Detail),
    /// Opportunistic TLS failed after STARTTLS: try the same target again without TLS.
    RetryPlain(Detail),
    /// A reused idle connection did not answer the RSET sent ahead of the transaction (the
    /// server closed it meanwhile): nothing of the transaction was accepted; open a new one.
    Stale,
    /// The deliverer stopped this session before its end of data ([`Stop`]): recipients
    /// without an answer were not tried to the end; no further target.
    Stopped(Detail),
}

/// The SMTP client for one request.
pub(crate) struct Client<'a> {
    pub settings: &'a ClientSettings,
    pub tls: &'a TlsClient,
    pub policy: TlsPolicy,
    pub cache: &'a ConnCache,
    pub stop: Stop,
}

/// What the session learned, for logs.
#[derive(Debug, Default, Clone)]
pub(crate) struct SessionInfo {
    pub tls: Option<TlsInfo>,
}

impl Client<'_> {
    /// Delivers `req` to the targets in order. Returns one outcome per request recipient
    /// (same positions as `req.recipients`), and what is known about the last session.
    pub async fn deliver(
        &self,
        req: &DeliveryRequest,
        targets: &[Target],
    ) -> (Vec<Outcome>, SessionInfo) {
        let mut out: Vec<Option<Outcome>> = vec![None; req.recipients.len()];
        let mut last: Option<Detail> = None;
        let mut info = SessionInfo::default();
        // Whether the recipients still without an answer were left so by the stop.
        let mut stopped = false;
        'targets: for t in targets {
            if out.iter().all(Option::is_some) {
                break;
            }
            if self.stop.is_stopped() {
                stopped = true;
                break;
            }
            let mut policy = self.policy;
            loop {
                let flow = self.attempt(t, req, policy, &mut out, &mut info).await;
                match flow {
                    Flow::Done => break 'targets,
                    Flow::Next(d) => {
                        last = Some(d);
                        continue 'targets;
                    }
                    Flow::RetryPlain(d) => {
                        last = Some(d);
                        policy = TlsPolicy::None;
                    }
                    // `attempt` opens a new connection itself after a stale one; should
                    // one ever come back here, trying the target again is right.
                    Flow::Stale => {}
                    Flow::Stopped(d) => {
                        last = Some(d);
                        stopped = true;
                        break 'targets;
                    }
                }
            }
        }
        let fallback = last.unwrap_or_else(|| {
            if stopped {
                Detail {
                    status: EnhancedStatus::new(StatusClass::Transient, 3, 2),
                    reply: None,
                    remote_mta: None,
                    diagnostic: "delivery not started: mailerd is shutting down".into(),
                    stage: Stage::Connect,
                }
            } else {
                Detail {
                    status: EnhancedStatus::new(StatusClass::Transient, 4, 4),
                    reply: None,
                    remote_mta: None,
                    diagnostic: "no route to any mail exchanger".into(),
                    stage: Stage::Connect,
                }
            }
        });
        // Recipients left without an answer by the stop were not tried to the end: not an
        // attempt.
        let outcomes = out
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| match stopped {
                    true => Outcome::Stopped(fallback.clone()),
                    false => Outcome::Temporary(fallback.clone()),
                })
            })
            .collect();
        (outcomes, info)
    }

    async fn attempt(
        &self,
        t: &Target,
        req: &DeliveryRequest,
        policy: TlsPolicy,
        out: &mut [Option<Outcome>],
        info: &mut SessionInfo,
    ) -> Flow {
        let to = &self.settings.timeouts;
        let mta = RemoteMta {
            name: t.name.clone(),
            addr: Some(t.addr),
        };
        let key = CacheKey {
            name: t.name.clone(),
            addr: t.addr,
            policy,
        };
        let reuse = self.settings.reuse_time > Duration::ZERO;
        if reuse && let Some(idle) = self.cache.take(&key, self.settings.reuse_time) {
            let mut conn = idle.conn;
            let mut phase = Phase::Mail;
            // RSET probes the idle connection and clears any transaction state. With
            // PIPELINING it goes in the same write as MAIL, RCPT and DATA (RFC 2920 allows
            // RSET anywhere in a group): no round trip of its own. Its reply comes first;
            // a connection that gives none is dropped before anything else is read.
            let pipelined = idle.caps.pipelining;
            let alive = pipelined
                || (conn.write_all(b"RSET\r\n", to.quit).await.is_ok()
                    && matches!(conn.read_reply(to.quit).await, Ok(r) if r.is_success()));
            if alive {
                let mut s = Session {
                    conn: &mut conn,
                    t,
                    mta: &mta,
                    to,
                };
                let r = s
                    .after_hello(req, &idle.caps, out, &mut phase, pipelined)
                    .await;
                if !matches!(r, Ok(Flow::Stale)) {
                    info.tls = idle.tls.clone();
                    return self
                        .finish(conn, key, idle.caps, info, r, t, &mta, phase)
                        .await;
                }
            }
        }
        let connect = async { Ok(TcpStream::connect(t.addr).await) };
        let tcp = match self.stop.bounded(to.connect, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Flow::Next(connect_fail(t, &mta, &io_text(&e))),
            Err(SessionError::Stopped) => {
                return fail_flow(t, &mta, Phase::Greeting, &SessionError::Stopped);
            }
            Err(_) => return Flow::Next(connect_fail(t, &mta, "Connection timed out")),
        };
        let _ = tcp.set_nodelay(true);
        let mut conn = Conn {
            stream: Stream::Plain(tcp),
            rbuf: Vec::new(),
            stop: self.stop.clone(),
        };
        let mut phase = Phase::Greeting;
        let mut s = Session {
            conn: &mut conn,
            t,
            mta: &mta,
            to,
        };
        let caps = match s.open(self, policy, info, &mut phase).await {
            Ok(Ok(caps)) => caps,
            Ok(Err(flow)) => return flow,
            Err(e) => return fail_flow(t, &mta, phase, &e),
        };
        let r = s.after_hello(req, &caps, out, &mut phase, false).await;
        self.finish(conn, key, caps, info, r, t, &mta, phase).await
    }

    /// After a transaction: keep a clean connection for reuse, or say QUIT.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        mut conn: Conn,
        key: CacheKey,
        caps: Capabilities,
        info: &SessionInfo,
        r: Result<Flow, SessionError>,
        t: &Target,
        mta: &RemoteMta,
        phase: Phase,
    ) -> Flow {
        match r {
            Ok(Flow::Done) if self.settings.reuse_time > Duration::ZERO => {
                self.cache.put(
                    key,
                    Idle {
                        conn,
                        caps,
                        tls: info.tls.clone(),
                        since: Instant::now(),
                    },
                    self.settings.reuse_time,
                );
                Flow::Done
            }
            Ok(flow) => {
                if conn
                    .write_all(b"QUIT\r\n", self.settings.timeouts.quit)
                    .await
                    .is_ok()
                {
                    let _ = conn.read_reply(self.settings.timeouts.quit).await;
                }
                flow
            }
            Err(e) => fail_flow(t, mta, phase, &e),
        }
    }
}

/// Identifies connections that may be reused for another request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    name: String,
    addr: SocketAddr,
    policy: TlsPolicy,
}

/// An idle connection after a completed transaction.
struct Idle {
    conn: Conn,
    caps: Capabilities,
    tls: Option<TlsInfo>,
    since: Instant,
}

/// Most recipients per transaction (RFC 5321 4.5.3.1.8).
pub const MAX_RCPT_PER_TRANSACTION: usize = 100;

/// Most idle connections kept per target: the queue manager's default concurrency per next
/// hop, so that each of a busy destination's transactions can hand its connection to the
/// next request instead of one in five (with 4, 16 of 20 parallel transactions ended with
/// QUIT and the next request connected again).
const MAX_IDLE_PER_TARGET: usize = 20;

/// Idle SMTP connections kept for a short time after a transaction, so that the next
/// request to the same target skips connect, greeting, EHLO and TLS (Postfix's
/// `smtp_connection_cache_time_limit`). A reused connection is probed with RSET first.
#[derive(Default)]
pub struct ConnCache {
    idle: Mutex<HashMap<CacheKey, Vec<Idle>>>,
}

impl std::fmt::Debug for ConnCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnCache")
    }
}

impl ConnCache {
    fn take(&self, key: &CacheKey, max_age: Duration) -> Option<Idle> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        // Expired connections are dropped (closed without QUIT; the server times them out).
        list.retain(|i| i.since.elapsed() < max_age);
        let found = list.pop();
        if list.is_empty() {
            idle.remove(key);
        }
        found
    }

    fn put(&self, key: CacheKey, conn: Idle, max_age: Duration) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Forget expired connections of every target, so none is held forever.
        idle.retain(|_, v| {
            v.retain(|i| i.since.elapsed() < max_age);
            !v.is_empty()
        });
        let list = idle.entry(key).or_default();
        if list.len() >= MAX_IDLE_PER_TARGET {
            list.remove(0);
        }
        list.push(conn);
    }

    /// Number of idle connections held.
    pub fn idle_count(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.values().map(Vec::len).sum()
    }

    /// Says QUIT on every idle connection and forgets them (for shutdown).
    pub async fn close_all(&self, limit: Duration) {
        let all: Vec<Idle> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.drain().flat_map(|(_, v)| v).collect()
        };
        quit_all(all, limit).await;
    }

    /// Says QUIT on the idle connections kept `max_age` or longer and forgets them, so an
    /// idle connection is closed soon after its time is up rather than at the next request to
    /// any target (the server would otherwise hold it until its own timeout). Returns how
    /// many were closed.
    pub async fn close_expired(&self, max_age: Duration, limit: Duration) -> usize {
        let expired: Vec<Idle> = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            let mut out = Vec::new();
            idle.retain(|_, v| {
                let (old, keep): (Vec<Idle>, Vec<Idle>) = std::mem::take(v)
                    .into_iter()
                    .partition(|i| i.since.elapsed() >= max_age);
                out.extend(old);
                *v = keep;
                !v.is_empty()
            });
            out
        };
        let n = expired.len();
        quit_all(expired, limit).await;
        n
    }
}

/// QUIT on each connection, all at once, each within `limit`.
async fn quit_all(conns: Vec<Idle>, limit: Duration) {
    let quits = conns.into_iter().map(|mut i| async move {
        if i.conn.write_all(b"QUIT\r\n", limit).await.is_ok() {
            let _ = i.conn.read_reply(limit).await;
        }
    });
    join_all(quits).await;
}

/// Runs the futures concurrently to their ends.
async fn join_all<F: Future<Output = ()>>(futs: impl IntoIterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

struct Session<'a> {
    conn: &'a mut Conn,
    t: &'a Target,
    mta: &'a RemoteMta,
    to: &'a Timeouts,
}

fn hostname(t: &Target) -> String {
    format!("{}[{}]", t.name, t.addr.ip())
}

/// An I/O error as a person reads it: `Connection refused`, without `(os error 111)`.
fn io_text(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}

fn connect_fail(t: &Target, mta: &RemoteMta, why: &str) -> Detail {
    Detail {
        status: EnhancedStatus::new(StatusClass::Transient, 4, 1),
        reply: None,
        remote_mta: Some(mta.clone()),
        diagnostic: format!("connect to {}:{}: {why}", hostname(t), t.addr.port()),
        stage: Stage::Connect,
    }
}

/// Where a session that failed with `e` leaves the request: stopped, or on to the next
/// target.
fn fail_flow(t: &Target, mta: &RemoteMta, phase: Phase, e: &SessionError) -> Flow {
    let d = session_fail(t, mta, phase, e);
    match e {
        SessionError::Stopped => Flow::Stopped(d),
        _ => Flow::Next(d),
    }
}

fn session_fail(t: &Target, mta: &RemoteMta, phase: Phase, e: &SessionError) -> Detail {
    let host = hostname(t);
    let (detail, diagnostic) = match e {
        SessionError::Timeout => (
            2,
            format!(
                "conversation with {host} timed out while {}",
                phase.while_text()
            ),
        ),
        SessionError::Reply(r) => (
            0,
            format!(
                "protocol error from {host} while {}: {r}",
                phase.while_text()
            ),
        ),
        SessionError::Closed => (
            2,
            format!("lost connection with {host} while {}", phase.while_text()),
        ),
        SessionError::Io(io) => (
            2,
            format!(
                "lost connection with {host} while {}: {}",
                phase.while_text(),
                io_text(io)
            ),
        ),
        // 4.3.2: the system (ours) is not accepting network messages.
        SessionError::Stopped => (
            2,
            format!(
                "delivery to {host} stopped while {}: mailerd is shutting down",
                phase.while_text()
            ),
        ),
    };
    let subject = match e {
        SessionError::Reply(_) => 5,
        SessionError::Stopped => 3,
        _ => 4,
    };
    Detail {
        status: EnhancedStatus::new(StatusClass::Transient, subject, detail),
        reply: None,
        remote_mta: Some(mta.clone()),
        diagnostic,
        stage: phase.stage(),
    }
}

impl Session<'_> {
    /// The outcome a reply gives: its class decides, its enhanced status is kept, else
    /// `X.0.0`.
    fn reply_outcome(&self, reply: &SmtpReply, phase: Phase) -> Outcome {
        let mut code = reply.code;
        let mut status = reply.status;
        let mut note = "";
        // RFC 5321 4.5.3.1.10: RFC 821 servers said 552 for "too many recipients", so a bare
        // 552 to RCPT (or one whose enhanced code says X.5.3) is read as 452. A server that
        // gives another enhanced code (`552 5.2.2 ... over quota`) states its meaning and is
        // taken at its word.
        let legacy_552 = reply.status.is_none_or(|s| (s.subject, s.detail) == (5, 3));
        if phase == Phase::Rcpt && code == 552 && legacy_552 {
            code = 452;
            status = status.map(|s| s.with_class(StatusClass::Transient));
            note = " (552 to RCPT treated as temporary, RFC 5321 4.5.3.1.10)";
        }
        let class = if code >= 500 {
            StatusClass::Permanent
        } else {
            StatusClass::Transient
        };
        let detail = Detail {
            status: status.unwrap_or(EnhancedStatus::new(class, 0, 0)),
            reply: Some(reply.clone()),
            remote_mta: Some(self.mta.clone()),
            diagnostic: format!(
                "host {} said: {} ({}){note}",
                hostname(self.t),
                reply,
                phase.in_reply_to()
            ),
            stage: phase.stage(),
        };
        if class == StatusClass::Permanent {
            Outcome::Permanent(detail)
        } else {
            Outcome::Temporary(detail)
        }
    }

    fn detail(&self, class: StatusClass, s: u16, d: u16, phase: Phase, diag: String) -> Detail {
        Detail {
            status: EnhancedStatus::new(class, s, d),
            reply: None,
            remote_mta: Some(self.mta.clone()),
            diagnostic: diag,
            stage: phase.stage(),
        }
    }

    fn outcome_detail(o: &Outcome) -> Option<Detail> {
        match o {
            Outcome::Temporary(d) | Outcome::Permanent(d) | Outcome::Stopped(d) => Some(d.clone()),
            Outcome::Delivered { .. } => None,
        }
    }

    async fn quit(&mut self) {
        if self.conn.write_all(b"QUIT\r\n", self.to.quit).await.is_ok() {
            let _ = self.conn.read_reply(self.to.quit).await;
        }
    }

    async fn send(&mut self, data: &[u8], phase: Phase) -> Result<(), SessionError> {
        let limit = match phase {
            Phase::Body => self.to.data_block,
            _ => self.to.quit,
        };
        self.conn.write_all(data, limit).await
    }

    async fn ehlo(
        &mut self,
        client: &Client<'_>,
        phase: &mut Phase,
    ) -> Result<Result<Capabilities, Flow>, SessionError> {
        *phase = Phase::Helo;
        let name = &client.settings.helo_name;
        self.send(format!("EHLO {name}\r\n").as_bytes(), *phase)
            .await?;
        let r = self.conn.read_reply(self.to.helo).await?;
        if r.is_success() {
            return Ok(Ok(Capabilities::from_ehlo(&r)));
        }
        if r.code == 421 {
            return Ok(Err(Flow::Next(self.reply_detail(&r, *phase))));
        }
        self.send(format!("HELO {name}\r\n").as_bytes(), *phase)
            .await?;
        let r = self.conn.read_reply(self.to.helo).await?;
        if r.is_success() {
            return Ok(Ok(Capabilities {
                name: r
                    .lines
                    .first()
                    .and_then(|l| l.split_whitespace().next())
                    .unwrap_or("")
                    .to_string(),
                ..Default::default()
            }));
        }
        Ok(Err(Flow::Next(self.reply_detail(&r, *phase))))
    }

    fn reply_detail(&self, r: &SmtpReply, phase: Phase) -> Detail {
        let o = self.reply_outcome(r, phase);
        let mut d = Self::outcome_detail(&o)
            .unwrap_or_else(|| self.detail(StatusClass::Transient, 0, 0, phase, String::new()));
        // Deferring to the next target: the class must be temporary.
        d.status = d.status.with_class(StatusClass::Transient);
        d
    }

    /// Greeting, EHLO/HELO, STARTTLS per policy. `Err(flow)` when this target cannot be used
    /// (QUIT already sent).
    async fn open(
        &mut self,
        client: &Client<'_>,
        policy: TlsPolicy,
        info: &mut SessionInfo,
        phase: &mut Phase,
    ) -> Result<Result<Capabilities, Flow>, SessionError> {
        let host = hostname(self.t);
        *phase = Phase::Greeting;
        let r = self.conn.read_reply(self.to.greeting).await?;
        if !r.is_success() {
            let d = self.reply_detail(&r, *phase);
            self.quit().await;
            return Ok(Err(Flow::Next(d)));
        }
        let mut caps = match self.ehlo(client, phase).await? {
            Ok(c) => c,
            Err(flow) => {
                self.quit().await;
                return Ok(Err(flow));
            }
        };

        // STARTTLS (RFC 3207).
        if policy != TlsPolicy::None && caps.starttls {
            *phase = Phase::StartTls;
            self.send(b"STARTTLS\r\n", *phase).await?;
            let r = self.conn.read_reply(self.to.starttls).await?;
            if r.code == 220 {
                if !self.conn.rbuf.is_empty() {
                    // Bytes after 220 would be injected into the TLS session (CVE-2011-0411).
                    return Err(ReplyError::Malformed("data after 220 to STARTTLS".into()).into());
                }
                let Stream::Plain(tcp) = std::mem::replace(&mut self.conn.stream, Stream::Gone)
                else {
                    return Err(SessionError::Closed);
                };
                let stop = self.conn.stop.clone();
                let handshake = client.tls.handshake(&self.t.name, self.t.addr.ip(), tcp);
                let hs = stop
                    .bounded(self.to.starttls, async { Ok(handshake.await) })
                    .await;
                match hs {
                    Ok(Ok((tls, tinfo))) => {
                        tracing::info!(
                            target: "mailerd::deliver",
                            relay = %host,
                            "{tinfo}"
                        );
                        info.tls = Some(tinfo);
                        self.conn.stream = Stream::Tls(Box::new(tls));
                    }
                    Ok(Err(e)) => {
                        let d = self.detail(
                            StatusClass::Transient,
                            7,
                            5,
                            *phase,
                            format!("Cannot start TLS: handshake failure with {host}: {e}"),
                        );
                        return Ok(Err(if policy == TlsPolicy::May {
                            Flow::RetryPlain(d)
                        } else {
                            Flow::Next(d)
                        }));
                    }
                    Err(e) => return Err(e),
                }
                caps = match self.ehlo(client, phase).await? {
                    Ok(c) => c,
                    Err(flow) => {
                        self.quit().await;
                        return Ok(Err(flow));
                    }
                };
            } else if policy == TlsPolicy::Encrypt {
                let mut d = self.reply_detail(&r, *phase);
                d.status = EnhancedStatus::new(StatusClass::Transient, 7, 4);
                d.diagnostic =
                    format!("TLS is required, but host {host} refused to start TLS: {r}");
                self.quit().await;
                return Ok(Err(Flow::Next(d)));
            }
            // Opportunistic: a refused STARTTLS leaves the session usable in plain text.
        }
        if policy == TlsPolicy::Encrypt && info.tls.is_none() {
            let d = self.detail(
                StatusClass::Transient,
                7,
                4,
                Phase::StartTls,
                format!("TLS is required, but was not offered by host {host}"),
            );
            self.quit().await;
            return Ok(Err(Flow::Next(d)));
        }
        Ok(Ok(caps))
    }

    /// After EHLO (and TLS), on a fresh or a reused connection: the checks that need no
    /// command, then the mail transaction. Leaves the connection open (the caller sends
    /// QUIT or keeps it for reuse). `rset_first`: a reused connection with PIPELINING,
    /// probed by an RSET at the head of the first command group ([`Flow::Stale`] when it
    /// gets no 2xx reply).
    async fn after_hello(
        &mut self,
        req: &DeliveryRequest,
        caps: &Capabilities,
        out: &mut [Option<Outcome>],
        phase: &mut Phase,
        rset_first: bool,
    ) -> Result<Flow, SessionError> {
        let host = hostname(self.t);
        let pending: Vec<usize> = (0..req.recipients.len())
            .filter(|&i| out[i].is_none())
            .collect();

        // Checks that need no command: they fail the whole request, permanently.
        if let Some(limit) = caps.too_big(req.content.len()) {
            let d = self.detail(
                StatusClass::Permanent,
                3,
                4,
                Phase::Mail,
                format!(
                    "message size {} exceeds size limit {limit} of server {host}",
                    req.content.len()
                ),
            );
            self.fail_all(out, &pending, Outcome::Permanent(d));
            return Ok(Flow::Done);
        }
        if !caps.smtputf8 && proto::needs_smtputf8(req) {
            let d = self.detail(
                StatusClass::Permanent,
                6,
                7,
                Phase::Mail,
                format!("SMTPUTF8 is required, but was not offered by host {host}"),
            );
            self.fail_all(out, &pending, Outcome::Permanent(d));
            return Ok(Flow::Done);
        }

        // RFC 5321 4.5.3.1.8: servers need buffer no more than 100 recipients; larger
        // requests go in several transactions on the same connection.
        for (n, chunk) in pending.chunks(MAX_RCPT_PER_TRANSACTION).enumerate() {
            if n > 0 {
                // The previous transaction may be left open (every RCPT refused).
                *phase = Phase::Mail;
                self.send(b"RSET\r\n", *phase).await?;
                let r = self.conn.read_reply(self.to.mail).await?;
                if !r.is_success() {
                    return Ok(self.defer_next(&r, *phase));
                }
            }
            let rset = rset_first && n == 0;
            match self.transaction(req, caps, chunk, out, phase, rset).await? {
                Flow::Done => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Done)
    }

    fn fail_all(&self, out: &mut [Option<Outcome>], which: &[usize], o: Outcome) {
        for &i in which {
            out[i] = Some(o.clone());
        }
    }

    /// Defers `which` with the reply's detail (a 421 or similar) and moves to the next target.
    fn defer_next(&self, r: &SmtpReply, phase: Phase) -> Flow {
        Flow::Next(self.reply_detail(r, phase))
    }

    async fn transaction(
        &mut self,
        req: &DeliveryRequest,
        caps: &Capabilities,
        pending: &[usize],
        out: &mut [Option<Outcome>],
        phase: &mut Phase,
        rset_first: bool,
    ) -> Result<Flow, SessionError> {
        let pipelining = caps.pipelining;
        let mail = mail_command(req, caps);
        let rcpts: Vec<String> = pending
            .iter()
            .map(|&i| rcpt_command(&req.recipients[i].spec, caps))
            .collect();
        *phase = Phase::Mail;
        if pipelining {
            let mut batch = String::new();
            if rset_first {
                batch.push_str("RSET\r\n");
            }
            batch.push_str(&mail);
            for r in &rcpts {
                batch.push_str(r);
            }
            batch.push_str("DATA\r\n");
            let sent = self.send(batch.as_bytes(), *phase).await;
            if rset_first {
                // The probe: no write or no 2xx to RSET means the idle connection is gone
                // (or going); the server acted on nothing after it that matters (a
                // transaction without its body delivers nothing).
                let alive = sent.is_ok()
                    && matches!(self.conn.read_reply(self.to.quit).await, Ok(r) if r.is_success());
                if !alive {
                    return Ok(Flow::Stale);
                }
            }
            sent?;
        } else {
            self.send(mail.as_bytes(), *phase).await?;
        }
        let mail_reply = self.conn.read_reply(self.to.mail).await?;
        if mail_reply.code == 421 {
            return Ok(self.defer_next(&mail_reply, *phase));
        }
        let mail_ok = mail_reply.is_success();
        if !mail_ok {
            // Decided now: a lost connection while draining the pipelined replies below
            // must not turn this answer into a deferral.
            self.fail_all(out, pending, self.reply_outcome(&mail_reply, Phase::Mail));
            if !pipelining {
                return Ok(Flow::Done);
            }
        }

        *phase = Phase::Rcpt;
        let mut accepted = Vec::new();
        for (k, &i) in pending.iter().enumerate() {
            if !pipelining {
                self.send(rcpts[k].as_bytes(), *phase).await?;
            }
            let r = self.conn.read_reply(self.to.rcpt).await?;
            if r.code == 421 {
                if !mail_ok {
                    return Ok(Flow::Done);
                }
                return Ok(self.defer_next(&r, *phase));
            }
            if !mail_ok {
                continue;
            }
            if r.is_success() {
                accepted.push(i);
            } else {
                out[i] = Some(self.reply_outcome(&r, *phase));
            }
        }

        *phase = Phase::DataCmd;
        if !mail_ok {
            // Pipelined: the replies to RCPT and DATA are consequences of the MAIL refusal.
            let r = self.conn.read_reply(self.to.data_init).await?;
            if r.code == 354 {
                self.send(b".\r\n", Phase::Body).await?;
                let _ = self.conn.read_final_reply(self.to.data_done).await?;
            }
            return Ok(Flow::Done);
        }
        if accepted.is_empty() {
            if pipelining {
                let r = self.conn.read_reply(self.to.data_init).await?;
                if r.code == 354 {
                    // RFC 2920 3.1: a server that accepted DATA without recipients gets an
                    // empty message, which it must refuse.
                    self.send(b".\r\n", Phase::Body).await?;
                    let _ = self.conn.read_final_reply(self.to.data_done).await?;
                }
            }
            return Ok(Flow::Done);
        }
        if !pipelining {
            self.send(b"DATA\r\n", *phase).await?;
        }
        let r = self.conn.read_reply(self.to.data_init).await?;
        if r.code == 421 {
            return Ok(self.defer_next(&r, *phase));
        }
        if r.code != 354 {
            let o = if r.is_success() {
                // A 2xx to DATA is a protocol violation: nothing was sent.
                Outcome::Temporary(self.detail(
                    StatusClass::Transient,
                    5,
                    0,
                    *phase,
                    format!(
                        "host {} said: {r} (unexpected reply to DATA command)",
                        hostname(self.t)
                    ),
                ))
            } else {
                self.reply_outcome(&r, *phase)
            };
            self.fail_all(out, &accepted, o);
            return Ok(Flow::Done);
        }

        *phase = Phase::Body;
        let body = dot_stuff(&req.content);
        for chunk in body.chunks(64 * 1024) {
            self.send(chunk, Phase::Body).await?;
        }
        *phase = Phase::DataDone;
        let r = self.conn.read_final_reply(self.to.data_done).await?;
        if r.code == 421 {
            return Ok(self.defer_next(&r, *phase));
        }
        let o = if r.is_success() {
            Outcome::Delivered {
                reply: Some(r),
                remote_mta: Some(self.mta.clone()),
                next_hop_dsn: caps.dsn,
            }
        } else {
            self.reply_outcome(&r, *phase)
        };
        self.fail_all(out, &accepted, o);
        Ok(Flow::Done)
    }
}

/// The address a [`Target`] connects to, for logs: `name[ip]:port`.
pub fn relay_name(name: &str, addr: SocketAddr) -> String {
    format!("{name}[{}]:{}", addr.ip(), addr.port())
}
