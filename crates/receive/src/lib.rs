//! mailerd's SMTP server role (Postfix's smtpd + cleanup): listeners, sessions, STARTTLS,
//! AUTH, relay policy, recipient checks, limits, header fixes, and the durable hand-off to the
//! store — `250` after DATA only once [`mailerd_store::Store::commit`] returned `Ok`. The
//! server needs nothing else of the store: it is generic over [`Commit`], which every
//! [`mailerd_store::Store`] implements.
//!
//! How the binary starts it:
//! ```no_run
//! # use std::sync::Arc;
//! # async fn run<S: mailerd_store::Store>(store: Arc<S>) -> Result<(), mailerd_receive::ReceiveError> {
//! use mailerd_receive::{ConfigMailboxes, ReceiveConfig, Receiver, shutdown_channel};
//! let config = ReceiveConfig::default();
//! let mailboxes = Arc::new(ConfigMailboxes::without_usage(&config.users));
//! let receiver = Receiver::new(config, store, mailboxes)?;
//! let (trigger, shutdown) = shutdown_channel();
//! // on SIGTERM: trigger.trigger();
//! receiver.serve(shutdown).await?;
//! # drop(trigger); Ok(()) }
//! ```
//!
//! Policy in one place:
//! - Never an open relay: a recipient outside `local_domains` is accepted only from an
//!   authenticated client or a client in `relay_networks`; otherwise `554 5.7.1`.
//! - `mx` role: mail for local domains; unknown users `550 5.1.1`, disabled `550 5.2.1`, full
//!   `552 5.2.2` (via [`MailboxLookup`]); `<Postmaster>` always accepted.
//! - `submission` role (RFC 6409): STARTTLS, then AUTH PLAIN/LOGIN, before MAIL (`530 5.7.0`);
//!   MAIL FROM must be the authenticated user's address (`553 5.7.1`, `limits.sender_login_match`);
//!   missing `Date:` and `Message-ID:` are added.
//! - Limits: SIZE (`552 5.3.4`), recipients (`452 4.5.3`), connections in total and per IP
//!   (`421 4.7.0`), RFC 5321 4.5.3.2 timeouts (`421 4.4.2`), line length (`500 5.5.6`),
//!   early talkers (`554 5.5.0`), AUTH failures (delayed `535 5.7.8`, then lock-out), errors
//!   per session (`421 4.7.0`), hop count (`554 5.4.6`). Per-client limits count an IPv6
//!   client by its /64. Concurrent argon2 checks are bounded by the number of cores.
//! - DATA refuses bare CR/LF (SMTP smuggling) with `550 5.5.2` after reading to the real end.
//!
//! RFCs: 5321 (SMTP), 1870 (SIZE), 2034 (ENHANCEDSTATUSCODES), 2920 (PIPELINING),
//! 3030 (CHUNKING/BDAT), 3207 (STARTTLS), 3461 (DSN parameters, stored in the envelope),
//! 3848 (`with ESMTPSA`), 4954 (AUTH), 6152 (8BITMIME), 6409 (submission), 6531 (SMTPUTF8).
//!
//! What it does not do: deliver, queue, bounce (other roles); SPF/DKIM/DMARC checks, DNS
//! blocklists, reverse-DNS of clients, implicit TLS (port 465),
//! client certificates, REQUIRETLS, BINARYMIME.

mod auth;
mod commit;
mod config;
mod conn;
mod error;
mod headers;
mod mailbox;
mod net;
mod server;
mod session;
mod shutdown;
pub mod tls;

pub use commit::Commit;
pub use config::{
    AuthThrottleConfig, Limits, ListenerConfig, ReceiveConfig, Role, TlsConfig, UserConfig,
};
pub use error::ReceiveError;
pub use mailbox::{ConfigMailboxes, MailboxLookup, MailboxStatus, TagCheck, UsageFn};
pub use net::{Cidr, CidrError};
pub use server::{Receiver, listener};
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_channel};
