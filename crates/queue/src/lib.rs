//! The queue manager (Postfix's qmgr): decides *when* and *where* each recipient is tried.
//!
//! Today this crate holds the sans-IO scheduling core:
//! - [`schedule`]: the retry schedule (backoff with jitter, capped), queue lifetime and expiry
//!   (5 days, 2 days for null-sender notices), as pure functions of time;
//! - [`route`]: grouping a message's recipients by next hop (local Maildir, a static route from
//!   `[routes]`, or MX of the domain) so one transaction carries all recipients of a message
//!   for the same next hop.
//!
//! What it deliberately does not do: open sockets, parse SMTP or MIME (that is `deliver`), or
//! read a clock (time is always a parameter, so tests use fake time). The claim/apply loop over
//! the store with an active window and per-destination concurrency is the next step (issue 4).

pub mod route;
pub mod schedule;
