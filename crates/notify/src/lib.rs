//! Delivery Status Notifications: the "Mail Delivery Subsystem" notice a sender receives.
//!
//! [`build`] turns the facts about one message's recipients (status, the remote server's reply,
//! the human [`Category`](mailerd_types::Category)) into an RFC 3464 / RFC 6522
//! `multipart/report; report-type=delivery-status` message:
//! 1. a human part (`multipart/alternative`: text and HTML) with, per recipient, a headline, one
//!    plain sentence on what it means and what to do, and "The response from the remote server
//!    was:" followed by the reply verbatim;
//! 2. `message/delivery-status` (or `message/global-delivery-status`, RFC 6533, when an address
//!    needs UTF-8) with the per-message and per-recipient fields in RFC 3464 order;
//! 3. the original as `message/rfc822` (RET=FULL, or by default below a size limit) or its
//!    header as `text/rfc822-headers`.
//!
//! The wording comes from `types`, the same vocabulary the analyzer reads back, so every notice
//! we write is one we understand. What this crate does not do: decide *whether* a notice is
//! due (NOTIFY rules, null sender: see [`policy`]), send it, or read a clock (times are
//! parameters).
//!
//! [`notifier`] is the role's task: when every recipient of a message is final it writes the
//! notices due (from the store's recipient records and status log, classified with the
//! analyzer's rules), queues them with the null sender, and only then removes the original.
//!
//! [`batv`] signs our users' envelope senders (`prvs=` tags) and validates the tag on a bounce's
//! recipient, which is how backscatter caused by spoofers is refused.

pub mod batv;
pub mod dsn;
pub mod notifier;
pub mod policy;

pub use dsn::{NoticeKind, NoticeRecipient, NoticeRequest, build};
pub use mailerd_types::rfc5322_date;
