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
