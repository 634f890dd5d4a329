//! EHLO and HELO (RFC 5321 section 4.1.1.1) and the extensions we advertise.

use crate::commit::Commit;
use mailerd_smtp::Reply;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use crate::config::Role;

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    /// `true` when AUTH may be used now: submission role, over TLS.
    pub(crate) fn auth_offered(&self) -> bool {
        self.role == Role::Submission && self.tls.is_some()
    }

    /// `true` when STARTTLS may be used now.
    pub(crate) fn starttls_offered(&self) -> bool {
        self.server.tls.is_some() && self.tls.is_none()
    }

    pub(crate) fn ehlo(&mut self, name: String, esmtp: bool) {
        // EHLO/HELO resets the transaction (RFC 5321 4.1.4).
        self.tx = None;
        self.chunks = None;
        self.esmtp = esmtp;
        self.helo = Some(name);
        if !esmtp {
            self.reply(Reply::plain(250, self.hostname().to_string()));
            return;
        }
        let mut lines = vec![
            self.hostname().to_string(),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.server.config.limits.max_message_size),
            "ENHANCEDSTATUSCODES".to_string(),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "DSN".to_string(),
            "CHUNKING".to_string(),
        ];
        if self.starttls_offered() {
            lines.push("STARTTLS".to_string());
        }
        if self.auth_offered() && self.auth_user.is_none() {
            lines.push("AUTH PLAIN LOGIN".to_string());
        }
        self.reply(Reply::lines(250, lines));
    }
}
