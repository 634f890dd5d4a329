//! What `queue` asks `deliver` to do, and what `deliver` answers. Outcomes are values: a 4xx,
//! a 5xx, NXDOMAIN or a TLS failure is an [`Outcome`], never an error.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::envelope::{QueueId, RecipientSpec, Ret};
use crate::reply::SmtpReply;
use crate::status::EnhancedStatus;

/// Where a group of recipients goes next.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum NextHop {
    /// Resolve the domain's MX records (RFC 5321 section 5.1).
    Mx { domain: String },
    /// A static route (`[routes]` in the config): host or address with port, no MX lookup.
    Static { host: String, port: u16 },
    /// Local delivery into the recipient's Maildir.
    Local,
}

/// One recipient of a request, with its position in the message's recipient list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestRecipient {
    /// Index in the stored envelope's recipient list.
    pub index: usize,
    pub spec: RecipientSpec,
}

/// Deliver one message to some of its recipients, all going to the same next hop, in one
/// transaction.
#[derive(Debug, Clone)]
pub struct DeliveryRequest {
    pub queue_id: QueueId,
    pub reverse_path: String,
    pub ret: Option<Ret>,
    pub envid: Option<String>,
    pub smtputf8: bool,
    pub eight_bit: bool,
    pub next_hop: NextHop,
    pub recipients: Vec<RequestRecipient>,
    /// The message content, CRLF line endings, shared with the queue's cache.
    pub content: Arc<[u8]>,
    /// How many times delivery was attempted before this request.
    pub attempts: u32,
}

/// Where in the exchange an outcome was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Dns,
    Connect,
    Greeting,
    Helo,
    StartTls,
    Mail,
    Rcpt,
    Data,
    /// Local (Maildir) delivery.
    Local,
    /// Decided by the queue (expiry, administrator bounce).
    Queue,
}

/// The server that answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteMta {
    /// Host name (the MX name or static route host).
    pub name: String,
    pub addr: Option<SocketAddr>,
}

/// Everything known about one non-delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Detail {
    /// The enhanced status to report: the server's, else one we chose (e.g. `4.4.1`).
    pub status: EnhancedStatus,
    /// The remote server's reply, verbatim (every line), when a server answered.
    pub reply: Option<SmtpReply>,
    pub remote_mta: Option<RemoteMta>,
    /// Our own diagnosis when no server answered (`connect to mx.example.org[192.0.2.1]:25:
    /// Connection refused`), or context for a reply.
    pub diagnostic: String,
    pub stage: Stage,
}

/// The outcome for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Accepted by the next hop or written to the mailbox.
    Delivered {
        reply: Option<SmtpReply>,
        remote_mta: Option<RemoteMta>,
        /// The next hop offered DSN (so `delivered`/`relayed` in a success notice).
        next_hop_dsn: bool,
    },
    /// Try again later (4xx, connection or DNS trouble).
    Temporary(Detail),
    /// Will never succeed unchanged (5xx, NXDOMAIN, null MX).
    Permanent(Detail),
    /// No answer: our own delivery was stopped (shutdown) before the message was handed over.
    /// Not an attempt: the recipient stays as it was, due again at once. The detail says
    /// where it stopped.
    Stopped(Detail),
}

/// The outcome for one recipient of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecipientOutcome {
    pub index: usize,
    pub outcome: Outcome,
}

/// What `deliver` answers for one request; `queue` applies it to the store atomically.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttemptReport {
    pub queue_id: QueueId,
    pub recipients: Vec<RecipientOutcome>,
}
