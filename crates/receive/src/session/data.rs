//! DATA (RFC 5321 section 4.1.1.4) and BDAT (RFC 3030): receiving the content, header fixes,
//! durable commit, then 250 (never before the store said Ok).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::commit::Commit;
use mailerd_smtp::{DataError, DataReceiver, Feed, Reply, status};
use mailerd_store::NewMessage;
use mailerd_types::Envelope;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Flow, Input, Session};
use crate::config::Role;
use crate::headers::{self, Trace};

/// Chunks received so far with BDAT.
pub(crate) struct Chunks {
    content: Vec<u8>,
    size: u64,
    /// The previous chunk ended with CR (so a LF may follow in the next one).
    pending_cr: bool,
    bare_newline: bool,
}

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    /// The checks before content may be sent; `Some(reply)` refuses.
    fn content_refusal(&self) -> Option<Reply> {
        match &self.tx {
            None => Some(Reply::new(503, status(5, 5, 1), "Error: need MAIL command")),
            Some(tx) if tx.recipients.is_empty() => Some(Reply::new(
                554,
                status(5, 5, 1),
                "Error: no valid recipients",
            )),
            Some(_) => None,
        }
    }

    pub(crate) async fn data(&mut self) -> std::io::Result<Flow> {
        if self.chunks.is_some() {
            self.reply(Reply::new(503, status(5, 5, 1), "Error: DATA after BDAT"));
            return Ok(Flow::Continue);
        }
        if let Some(r) = self.content_refusal() {
            self.reply(r);
            return Ok(Flow::Continue);
        }
        self.reply(Reply::plain(354, "End data with <CR><LF>.<CR><LF>"));
        let limit = self.server.config.limits.max_message_size;
        let timeout = Duration::from_secs(self.server.config.limits.data_timeout_secs);
        let mut rx = DataReceiver::new(limit);
        let mut content = Vec::new();
        loop {
            match rx.feed(&self.inbuf, &mut content) {
                Feed::Done(n) => {
                    self.inbuf.drain(..n);
                    break;
                }
                Feed::More => self.inbuf.clear(),
            }
            match self.read_more(timeout, false).await? {
                Input::Data => {}
                Input::Timeout => {
                    self.reply(Reply::new(
                        421,
                        status(4, 4, 2),
                        format!("{} Error: timeout exceeded", self.hostname()),
                    ));
                    return Ok(Flow::Close);
                }
                _ => return Ok(Flow::Close),
            }
        }
        let reply = self.finish(content, rx.result()).await;
        self.reply(reply);
        Ok(Flow::Continue)
    }

    pub(crate) async fn bdat(&mut self, size: u64, last: bool) -> std::io::Result<Flow> {
        let limit = self.server.config.limits.max_message_size;
        let timeout = Duration::from_secs(self.server.config.limits.data_timeout_secs);
        let refusal = self.content_refusal();
        if refusal.is_none() && self.chunks.is_none() {
            self.chunks = Some(Chunks {
                content: Vec::new(),
                size: 0,
                pending_cr: false,
                bare_newline: false,
            });
        }
        // The chunk is consumed in any case (RFC 3030 section 3: even when refused).
        let mut left = size;
        loop {
            let take = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.inbuf.len());
            if refusal.is_none()
                && let Some(c) = &mut self.chunks
            {
                let bytes = &self.inbuf[..take];
                for &b in bytes {
                    if c.pending_cr && b != b'\n' || !c.pending_cr && b == b'\n' {
                        c.bare_newline = true;
                    }
                    c.pending_cr = b == b'\r';
                }
                c.size = c.size.saturating_add(take as u64);
                if c.size <= limit {
                    c.content.extend_from_slice(bytes);
                }
            }
            self.inbuf.drain(..take);
            left -= take as u64;
            if left == 0 {
                break;
            }
            match self.read_more(timeout, false).await? {
                Input::Data => {}
                Input::Timeout => {
                    self.reply(Reply::new(
                        421,
                        status(4, 4, 2),
                        format!("{} Error: timeout exceeded", self.hostname()),
                    ));
                    return Ok(Flow::Close);
                }
                _ => return Ok(Flow::Close),
            }
        }
        if let Some(r) = refusal {
            self.reply(r);
            return Ok(Flow::Continue);
        }
        if !last {
            let got = self.chunks.as_ref().map_or(0, |c| c.size);
            if got > limit {
                // Refuse now; the client stops sending (RFC 3030 section 2).
                self.chunks = None;
                self.tx = None;
                self.reply(too_big(limit));
            } else {
                self.reply(Reply::new(
                    250,
                    status(2, 0, 0),
                    format!("Ok: {size} octets received"),
                ));
            }
            return Ok(Flow::Continue);
        }
        let Some(c) = self.chunks.take() else {
            return Ok(Flow::Continue);
        };
        let verdict = if c.bare_newline || c.pending_cr {
            Err(DataError::BareNewline)
        } else if c.size > limit {
            Err(DataError::TooBig { limit })
        } else {
            Ok(())
        };
        let reply = self.finish(c.content, verdict).await;
        self.reply(reply);
        Ok(Flow::Continue)
    }

    /// Ends the transaction: checks, header fixes, commit. Returns the final reply.
    async fn finish(&mut self, content: Vec<u8>, verdict: Result<(), DataError>) -> Reply {
        let Some(tx) = self.tx.take() else {
            return Reply::new(503, status(5, 5, 1), "Error: need MAIL command");
        };
        self.chunks = None;
        match verdict {
            Ok(()) => {}
            Err(DataError::BareNewline) => {
                tracing::warn!(client = %self.peer, "message refused: bare CR or LF in data (possible SMTP smuggling)");
                return Reply::new(
                    550,
                    status(5, 5, 2),
                    "Error: bare <CR> or <LF> received; lines must end with <CR><LF> (RFC 5321 2.3.8)",
                );
            }
            Err(DataError::TooBig { limit }) => return too_big(limit),
        }
        let hops = headers::count_headers(&content, "Received");
        if hops >= self.server.config.limits.max_hops {
            return Reply::new(
                554,
                status(5, 4, 6),
                format!("Error: too many hops ({hops} Received headers): mail loop?"),
            );
        }
        // The return-path verdict mark is ours to write: one that arrives with a message from
        // outside (not a trusted relay network, which may be our own front MX) is removed, so
        // it cannot pass for our verdict.
        let content = if self.server.may_relay_from(self.peer.ip()) {
            content
        } else {
            match headers::without_headers(&content, mailerd_types::BATV_MARK_FIELD) {
                Some(stripped) => {
                    tracing::info!(client = %self.peer, "removed a return-path verdict field that came with the message");
                    stripped
                }
                None => content,
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let date = mailerd_types::rfc5322_date(now);
        let helo = self.helo.clone().unwrap_or_default();
        let single = match tx.recipients.as_slice() {
            [one] => Some(one.address.as_str()),
            _ => None,
        };
        let mut out = headers::received(&Trace {
            helo: &helo,
            ip: self.peer.ip(),
            hostname: self.hostname(),
            esmtp: self.esmtp,
            tls: self
                .tls
                .as_ref()
                .map(|t| (t.version.as_str(), t.cipher.as_str())),
            auth_user: self.auth_user.as_deref(),
            single_recipient: single,
            date: &date,
        })
        .into_bytes();
        // One allocation for the whole stored message (the content is copied in below).
        out.reserve(content.len() + 256);
        for mark in &tx.marks {
            out.extend_from_slice(mark.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if self.role == Role::Submission {
            if !headers::has_header(&content, "Date") {
                out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
            }
            if !headers::has_header(&content, "Message-ID") {
                let id = mailerd_types::new_message_id(now, self.hostname());
                out.extend_from_slice(format!("Message-ID: {id}\r\n").as_bytes());
            }
        }
        out.extend_from_slice(&content);
        drop(content);
        let size = out.len();
        let recipients: Vec<String> = tx.recipients.iter().map(|r| r.address.clone()).collect();
        let envelope = Envelope {
            reverse_path: tx.reverse_path.clone(),
            recipients: tx.recipients,
            ret: tx.mail.ret,
            envid: tx.mail.envid,
            smtputf8: tx.mail.smtputf8,
            eight_bit: matches!(tx.mail.body, Some(mailerd_smtp::Body::EightBitMime)),
            received_at: now,
            client: Some(format!("{helo} [{}]", self.peer.ip())),
            auth_user: self.auth_user.clone(),
        };
        match self
            .server
            .store
            .commit(NewMessage {
                envelope,
                content: out,
            })
            .await
        {
            Ok(id) => {
                self.messages += 1;
                tracing::info!(
                    queue_id = %id,
                    sender = %tx.reverse_path,
                    recipients = %recipients.join(","),
                    nrcpt = recipients.len(),
                    size,
                    client = %self.peer,
                    tls = self.tls.as_ref().map(|t| t.version.as_str()).unwrap_or("none"),
                    auth_user = self.auth_user.as_deref().unwrap_or(""),
                    "message accepted"
                );
                Reply::new(250, status(2, 0, 0), format!("Ok: queued as {id}"))
            }
            Err(e) => {
                tracing::error!(client = %self.peer, error = %e, "store commit failed");
                Reply::new(
                    451,
                    status(4, 3, 0),
                    "Error: local error in processing, try again later",
                )
            }
        }
    }
}

fn too_big(limit: u64) -> Reply {
    Reply::new(
        552,
        status(5, 3, 4),
        format!("Error: message size exceeds fixed limit of {limit} bytes"),
    )
}
