//! The queue manager (Postfix's qmgr): decides *when* and *where* each recipient is tried.
//!
//! Today this crate holds the sans-IO scheduling core:
//! - [`schedule`]: the retry schedule (backoff with jitter, capped), queue lifetime and expiry
//!   (5 days, 2 days for null-sender notices), as pure functions of time;
//! - [`route`]: grouping a message's recipients by next hop (local Maildir, a static route from
//!   `[routes]`, or MX of the domain) so one transaction carries all recipients of a message
//!   for the same next hop.
//!
//! - [`manager`]: the loop that claims due messages from the [`Store`](mailerd_store::Store)
//!   under a lease, groups their live recipients by next hop, hands one [`DeliveryRequest`]
//!   per group to a [`Transport`](manager::Transport) (the `deliver` role, wired by the binary)
//!   under per-destination concurrency limits and an active window, and applies each
//!   [`AttemptReport`] to the store atomically as state changes (delivered, failed, deferred with
//!   the next attempt time, or expired), logging one `queue: delivery status` line per
//!   recipient with the next hop's reply verbatim. A message every recipient of which a next
//!   hop accepted is removed at once (nothing for notify to say); any other finished message
//!   is handed to notify, which sends its notices and removes it. [`Kick`](manager::Kick)
//!   wakes the loop (new mail, an operator's retry) and hands notify the messages an operator
//!   failed (`mailerd queue delete --bounce`).
//!
//! What it deliberately does not do: open sockets, parse SMTP or MIME (that is `deliver`),
//! write notices (that is `notify`, from the status log), or read the wall clock directly (a
//! [`Clock`](manager::Clock) is passed in, so tests use fake time).
//!
//! [`DeliveryRequest`]: mailerd_types::DeliveryRequest
//! [`AttemptReport`]: mailerd_types::AttemptReport

pub mod manager;
pub mod route;
pub mod schedule;
