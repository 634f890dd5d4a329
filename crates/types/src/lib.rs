//! The one vocabulary of mailerd.
//!
//! Every role (receive, queue, deliver, notify, analyze) speaks about mail outcomes with the
//! types defined here, so that the notices mailerd writes use exactly the words the analyzer
//! reads back:
//!
//! - [`EnhancedStatus`]: RFC 3463 enhanced status codes (`5.1.1`), parsed and printed, with the
//!   IANA registry meanings (RFC 5248) and the "fall back to X.Y.0, then to the class" rule.
//! - [`SmtpReply`]: an SMTP reply (RFC 5321 section 4.2): code, optional enhanced status and
//!   every line of text, parsed from wire form or from a `Diagnostic-Code` value.
//! - [`Reason`]: why a message was not delivered, in Sisimai's vocabulary (`userunknown`,
//!   `mailboxfull`, ...), with its hard/soft nature and pseudo status.
//! - [`Category`]: what a person sees ("Address not found", "Recipient inbox full", ...), with a
//!   one-sentence meaning and what to do about it.
//! - [`DsnAction`]: the RFC 3464 `Action` values.
//! - [`DeliveryRequest`], [`AttemptReport`], [`Outcome`]: what queue asks deliver and what
//!   deliver answers (outcomes are values, not errors).
//! - [`rfc5322_date`], [`new_message_id`]: the header values every role that writes mail needs.
//! - [`Envelope`], [`RecipientSpec`], [`QueueId`]: what the queue stores about a message;
//!   [`RecipientState`], [`DeliveryReport`]: how a delivery attempt changes a recipient in the
//!   store (the queue turns an `AttemptReport` into a `DeliveryReport`).
//!
//! This crate does no I/O and has no knowledge of any protocol state machine; it is data and
//! small pure functions only.

mod category;
mod delivery;
mod dsn;
mod envelope;
mod reason;
mod reply;
mod rfc5322;
mod status;

pub use category::Category;
pub use delivery::{
    AttemptReport, DeliveryRequest, Detail, NextHop, Outcome, RecipientOutcome, RemoteMta,
    RequestRecipient, Stage,
};
pub use dsn::DsnAction;
pub use envelope::{
    DeliveryReport, Envelope, Notify, QueueId, RecipientSpec, RecipientState, RecipientUpdate, Ret,
};
pub use reason::Reason;
pub use reply::{ReplyParseError, SmtpReply};
pub use rfc5322::{new_message_id, rfc5322_date};
pub use status::{EnhancedStatus, StatusClass, StatusParseError};

/// The header field in which mailerd's reception records its verdict on a bounce's return
/// path when that path carries no valid BATV signature (`none` or `fail`, with the reason).
/// Reception writes it right below its own `Received:` field and removes any that arrive with
/// a message from outside; the analyzer reads it to call a bounce backscatter.
pub const BATV_MARK_FIELD: &str = "X-Mailerd-BATV";
