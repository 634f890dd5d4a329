//! RCPT TO (RFC 5321 section 4.1.1.3): relay policy, local mailbox checks, recipient limit,
//! NOTIFY and ORCPT kept for the envelope (RFC 3461).

use crate::commit::Commit;
use mailerd_smtp::{ForwardPath, RcptTo, Reply, status};
use mailerd_types::RecipientSpec;
use tokio::io::{AsyncRead, AsyncWrite};

use super::Session;
use crate::mailbox::{MailboxStatus, TagCheck};

impl<S: Commit, IO: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, S, IO> {
    pub(crate) fn rcpt(&mut self, r: RcptTo) {
        let Some(tx) = &self.tx else {
            return self.reply(Reply::new(503, status(5, 5, 1), "Error: need MAIL command"));
        };
        if tx.recipients.len() >= self.server.config.limits.max_recipients {
            return self.reply(Reply::new(
                452,
                status(4, 5, 3),
                "Error: too many recipients",
            ));
        }
        let smtputf8 = tx.mail.smtputf8;
        let address = match &r.forward_path {
            // RFC 5321 4.5.1: <Postmaster> must always be accepted. It is delivered to the
            // postmaster of our first local domain (or our host name).
            ForwardPath::Postmaster => {
                let domain = self
                    .server
                    .local_domains
                    .first()
                    .cloned()
                    .unwrap_or_else(|| self.hostname().to_ascii_lowercase());
                format!("postmaster@{domain}")
            }
            ForwardPath::Mailbox(mb) => {
                if mb.is_utf8() && !smtputf8 {
                    return self.reply(Reply::new(
                        553,
                        status(5, 6, 7),
                        "Error: non-ASCII address requires SMTPUTF8",
                    ));
                }
                let domain = mb.domain.to_lowercase();
                let mut address = format!("{}@{domain}", mb.local);
                if self.server.is_local_domain(&domain) {
                    let null_sender = tx.reverse_path.is_empty();
                    match self.server.mailboxes.return_path_tag(&address, null_sender) {
                        TagCheck::NotTagged => {}
                        TagCheck::Valid(untagged) => address = untagged,
                        TagCheck::Refuse(text) => {
                            let reply =
                                Reply::new(550, status(5, 7, 1), format!("<{address}>: {text}"));
                            return self.refuse(&address, reply);
                        }
                        TagCheck::Mark {
                            address: untagged,
                            header,
                        } => {
                            address = untagged;
                            if let Some(tx) = &mut self.tx
                                && !tx.marks.contains(&header)
                            {
                                tx.marks.push(header);
                            }
                        }
                    }
                    let local_part = address.rsplit_once('@').map(|(l, _)| l).unwrap_or("");
                    if !local_part.eq_ignore_ascii_case("postmaster")
                        && let Some(refusal) = self.check_mailbox(&address)
                    {
                        return self.refuse(&address, refusal);
                    }
                } else if self.auth_user.is_none() && !self.server.may_relay_from(self.peer.ip()) {
                    let reply = Reply::new(
                        554,
                        status(5, 7, 1),
                        format!("<{address}>: Relay access denied"),
                    );
                    return self.refuse(&address, reply);
                }
                address
            }
        };
        self.accept_recipient(address, r);
    }

    /// Refuses a recipient, with one log line (Postfix's `NOQUEUE: reject`).
    fn refuse(&mut self, address: &str, reply: Reply) {
        tracing::info!(
            client = %self.peer,
            helo = self.helo.as_deref().unwrap_or(""),
            sender = self.tx.as_ref().map(|t| t.reverse_path.as_str()).unwrap_or(""),
            recipient = address,
            reply = %reply,
            "recipient refused"
        );
        self.reply(reply);
    }

    fn accept_recipient(&mut self, address: String, r: RcptTo) {
        if let Some(tx) = &mut self.tx {
            tx.recipients.push(RecipientSpec {
                address,
                orcpt: r.orcpt,
                notify: r.notify,
            });
        }
        self.reply(Reply::new(250, status(2, 1, 5), "Ok"));
    }

    fn check_mailbox(&self, address: &str) -> Option<Reply> {
        let size = self.tx.as_ref().and_then(|t| t.mail.size);
        match self.server.mailboxes.lookup_with_size(address, size) {
            MailboxStatus::Active => None,
            MailboxStatus::Unknown => Some(Reply::new(
                550,
                status(5, 1, 1),
                format!(
                    "<{address}>: Recipient address rejected: User unknown in local recipient table"
                ),
            )),
            MailboxStatus::Disabled => Some(Reply::new(
                550,
                status(5, 2, 1),
                format!("<{address}>: Recipient address rejected: Mailbox disabled"),
            )),
            MailboxStatus::OverQuota => Some(Reply::new(
                552,
                status(5, 2, 2),
                format!("<{address}>: Recipient address rejected: Mailbox full"),
            )),
        }
    }
}
