//! SMTP wire grammar for mailerd, sans-IO: no sockets, no tasks, no clock.
//!
//! What it does:
//! - [`line::LineReader`]: cuts command lines out of the input stream with a length limit.
//! - [`command::parse_command`]: parses a command line into a [`Command`], with the ESMTP
//!   parameters SIZE (RFC 1870), BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
//!   RET/ENVID/NOTIFY/ORCPT (RFC 3461, with [`xtext`]), AUTH (RFC 4954) and BDAT (RFC 3030).
//!   `<Postmaster>` is kept apart from the null path `<>` (RFC 5321 section 4.5.1).
//! - [`data::DataReceiver`]: DATA framing (RFC 5321 section 4.1.1.4 and 4.5.2): only
//!   `CRLF.CRLF` ends the data, dot-unstuffing, a size limit without over-buffering, and bare
//!   CR / bare LF detection against SMTP smuggling.
//! - [`reply::Reply`]: reply formatting (RFC 5321 section 4.2, multi-line, RFC 2034 enhanced
//!   status codes on every line).
//! - [`sasl`]: decoding of AUTH PLAIN (RFC 4616) and LOGIN responses.
//!
//! What it does not do: decide anything (policy, sequencing, which reply a valid command
//! gets) — that is the server's (`mailerd-receive`) job; nor the client side of SMTP.
//!
//! Nothing here panics on any input bytes; the parsers are fuzzed (`fuzz/`).

pub mod address;
pub mod command;
pub mod data;
pub mod line;
pub mod reply;
pub mod sasl;
pub mod xtext;

pub use address::{ForwardPath, Mailbox, ReversePath};
pub use command::{AuthMechanism, Body, Command, CommandError, MailFrom, RcptTo, parse_command};
pub use data::{DataError, DataReceiver, Feed};
pub use line::{LineEvent, LineReader};
pub use reply::{Reply, status};
