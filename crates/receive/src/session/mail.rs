//! MAIL FROM (RFC 5321 section 4.1.1.2) with SIZE, BODY, SMTPUTF8, RET, ENVID.

use crate::commit::Commit;
use mailerd_smtp::{MailFrom, Reply, ReversePath, status};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Session, Transaction};
use crate::config::Role;

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    pub(crate) fn mail(&mut self, m: MailFrom) {
        if self.helo.is_none() {
            return self.reply(Reply::new(
                503,
                status(5, 5, 1),
                "Error: send HELO/EHLO first",
            ));
        }
        if self.tx.is_some() {
            return self.reply(Reply::new(
                503,
                status(5, 5, 1),
                "Error: nested MAIL command",
            ));
        }
        if self.role == Role::Submission {
            if self.tls.is_none() {
                return self.reply(Reply::new(
                    530,
                    status(5, 7, 0),
                    "Must issue a STARTTLS command first",
                ));
            }
            if self.auth_user.is_none() {
                return self.reply(Reply::new(530, status(5, 7, 0), "Authentication required"));
            }
        }
        let max = self.server.config.limits.max_message_size;
        if m.size.is_some_and(|s| s > max) {
            return self.reply(Reply::new(
                552,
                status(5, 3, 4),
                format!("Message size exceeds fixed limit of {max} bytes"),
            ));
        }
        let reverse_path = match &m.reverse_path {
            ReversePath::Null => String::new(),
            ReversePath::Mailbox(mb) => {
                if mb.is_utf8() && !m.smtputf8 {
                    return self.reply(Reply::new(
                        553,
                        status(5, 6, 7),
                        "Error: non-ASCII address requires SMTPUTF8",
                    ));
                }
                let address = mb.address();
                if self.role == Role::Submission
                    && self.server.config.limits.sender_login_match
                    && let Some(user) = &self.auth_user
                    && !address.eq_ignore_ascii_case(user)
                {
                    return self.reply(Reply::new(
                        553,
                        status(5, 7, 1),
                        format!("<{address}>: Sender address rejected: not owned by user {user}"),
                    ));
                }
                address
            }
        };
        self.tx = Some(Transaction {
            mail: m,
            reverse_path,
            recipients: Vec::new(),
            marks: Vec::new(),
        });
        self.reply(Reply::new(250, status(2, 1, 0), "Ok"));
    }
}
