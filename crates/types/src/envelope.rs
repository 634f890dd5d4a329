//! The envelope of a queued message: who sent it, to whom, and the RFC 3461 DSN requests.

use std::fmt;

/// A queue identifier: unique per message in a store, printable, sortable by creation time.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct QueueId(pub String);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `RET=` of MAIL FROM (RFC 3461 section 4.3): what a failure notice returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ret {
    Full,
    Hdrs,
}

/// `NOTIFY=` of RCPT TO (RFC 3461 section 4.1). `None` in [`RecipientSpec::notify`] means the
/// parameter was absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Notify {
    pub never: bool,
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

/// One envelope recipient with its DSN parameters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecipientSpec {
    /// The forward-path as received (`bob@example.org`).
    pub address: String,
    /// `ORCPT=` as received: address type and the xtext-decoded address (`rfc822`, `bob@...`).
    pub orcpt: Option<(String, String)>,
    pub notify: Option<Notify>,
}

impl RecipientSpec {
    pub fn new(address: impl Into<String>) -> Self {
        RecipientSpec {
            address: address.into(),
            orcpt: None,
            notify: None,
        }
    }
}

/// The SMTP envelope of a message and the facts of its reception.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// The reverse-path; empty for the null sender `<>` (a notification).
    pub reverse_path: String,
    pub recipients: Vec<RecipientSpec>,
    pub ret: Option<Ret>,
    /// `ENVID=`, xtext-decoded.
    pub envid: Option<String>,
    /// `SMTPUTF8` was given on MAIL FROM.
    pub smtputf8: bool,
    /// `BODY=8BITMIME` was given.
    pub eight_bit: bool,
    /// Seconds since the Unix epoch when the message was accepted.
    pub received_at: u64,
    /// The client's address and HELO name, for logs and Received headers.
    pub client: Option<String>,
    /// The authenticated user, if the client used AUTH.
    pub auth_user: Option<String>,
}

impl Envelope {
    /// `true` for the null reverse-path `<>`: never bounce such a message.
    pub fn is_null_sender(&self) -> bool {
        self.reverse_path.is_empty()
    }
}

/// The state of one recipient of a queued message (invariant 2: exactly one at a time).
///
/// `Pending` and `Deferred` are live (the message will be tried again); `Delivered`, `Failed`
/// and `Expired` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecipientState {
    /// Not tried yet (or to be tried again as soon as possible).
    Pending,
    /// A temporary failure; tried again at the recipient's next attempt time.
    Deferred,
    /// Accepted by the next hop or placed in a mailbox.
    Delivered,
    /// A permanent failure.
    Failed,
    /// Retries ran out.
    Expired,
}

impl RecipientState {
    /// `true` for the states a recipient never leaves: delivered, failed, expired.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RecipientState::Delivered | RecipientState::Failed | RecipientState::Expired
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Deferred => "deferred",
            RecipientState::Delivered => "delivered",
            RecipientState::Failed => "failed",
            RecipientState::Expired => "expired",
        }
    }
}

impl fmt::Display for RecipientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one delivery attempt did to one recipient, as `deliver` reports it and `queue` applies
/// it to the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecipientUpdate {
    /// The recipient's position in [`Envelope::recipients`] (addresses may repeat; positions
    /// do not).
    pub index: usize,
    pub state: RecipientState,
    /// The reply that decided it (`550 5.1.1 <bob@example.org>: user unknown`) or a local
    /// explanation (`connection refused by mx.example.org`).
    pub reply: Option<String>,
    /// The host that answered (`mx.example.org [192.0.2.1]`), if any.
    pub remote_mta: Option<String>,
    /// Delivery attempts made for this recipient so far, this one included.
    pub attempts: u32,
    /// Seconds since the Unix epoch before which the recipient is not tried again; required
    /// for `Deferred`, ignored for final states.
    pub next_attempt: Option<u64>,
    /// For `Delivered`: whether the next hop that took the message offered the DSN extension
    /// (RFC 3461). With DSN the next hop owes the sender any success notice; without it a
    /// NOTIFY=SUCCESS recipient gets a `relayed` notice from us. `Some(true)` for local
    /// delivery (final: we report `delivered`). `None` when it does not apply or is unknown.
    #[serde(default)]
    pub next_hop_dsn: Option<bool>,
}

/// The outcome of a delivery attempt for some recipients of one message. The store applies it
/// atomically: every update or none (invariant 3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeliveryReport {
    pub id: QueueId,
    pub updates: Vec<RecipientUpdate>,
}
