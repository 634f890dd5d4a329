//! Bounce analysis: bytes of any bounce in, facts per recipient out.
//!
//! [`analyze`] reads one message and answers, per recipient: what happened (action, enhanced
//! status, reply code, the remote server's words), why ([`Reason`]), what it means to a person
//! ([`Category`]), whether it is temporary or permanent, whether the address should be
//! suppressed (hard bounce), and whether the bounce itself looks genuine ([`Authenticity`]).
//!
//! It recognises RFC 3464 / RFC 6522 delivery reports (also `message/global-delivery-status`,
//! RFC 6533), ARF feedback reports (RFC 5965), RFC 3834 auto-replies, and the non-standard
//! bounce bodies of the common MTA families (one module per family in `mta/`).
//! Classification of the remote reply into a reason is data-driven: ordered rules in
//! `classify/`, each naming the MTA wording it matches.
//!
//! What it does not do: no I/O, no clock, no network, no storage. It never panics on any input
//! and "not a bounce" is an ordinary answer, not an error. It does not verify DKIM/SPF or look
//! up our own outbound logs; callers that can (receive, the admin API) add that evidence.

pub mod classify;

use mailerd_types::{Category, DsnAction, EnhancedStatus, Reason};

/// What kind of message was analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A failure notice (permanent failure or expiry) for at least one recipient.
    Bounce,
    /// A delay warning: delivery is still being retried.
    Delay,
    /// A success notice (`Action: delivered` / `relayed`).
    Success,
    /// An automatic reply (vacation, out of office).
    AutoReply,
    /// An ARF feedback report (abuse complaint).
    Feedback,
    /// None of the above.
    NotABounce,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bounce => "bounce",
            Kind::Delay => "delay",
            Kind::Success => "success",
            Kind::AutoReply => "auto-reply",
            Kind::Feedback => "feedback",
            Kind::NotABounce => "not-a-bounce",
        }
    }
}

/// Facts about one recipient of a bounce.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecipientReport {
    /// The address that failed (`Final-Recipient`), lower-case domain.
    pub recipient: String,
    /// The address as the sender wrote it (`Original-Recipient`), when given.
    pub original_recipient: Option<String>,
    pub action: Option<DsnAction>,
    /// The enhanced status: from the report, else from the reply text, else the reason's
    /// pseudo status (`5.0.911`).
    pub status: Option<EnhancedStatus>,
    /// The SMTP reply code of the remote server, when known.
    pub reply_code: Option<u16>,
    /// The remote server's words (unfolded), or the reporting MTA's diagnosis.
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    /// `Last-Attempt-Date` (or the family's equivalent) as written.
    pub last_attempt: Option<String>,
    pub reason: Reason,
    pub hard_bounce: bool,
    pub category: Category,
    /// `true` when the failure is permanent (no more retries), `false` when temporary.
    pub permanent: bool,
    /// The MTA family whose format was decoded (`Postfix`, `RFC3464`, ...).
    pub decoded_by: &'static str,
}

/// The returned original message, when the bounce carries it (or its headers).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OriginalMessage {
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
}

/// Is this bounce what it claims to be?
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Genuine,
    Suspicious,
    Unknown,
}

/// The authenticity verdict with the evidence that led to it (standards sec. 7.5, 7.6).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Authenticity {
    pub verdict: Verdict,
    /// Sum of the signal weights (positive = suspicious).
    pub score: i32,
    /// One sentence per signal that fired, for a person.
    pub reasons: Vec<String>,
}

/// Everything the analyzer found in one message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Analysis {
    pub kind: Kind,
    /// `Reporting-MTA` or the family's equivalent.
    pub reporting_mta: Option<String>,
    /// Recipients in the order the bounce lists them.
    pub recipients: Vec<RecipientReport>,
    pub original: Option<OriginalMessage>,
    pub authenticity: Authenticity,
    /// Subject of the bounce itself.
    pub subject: Option<String>,
    /// From of the bounce itself.
    pub from: Option<String>,
}

/// Analyses one message. Never panics; any bytes give an answer.
pub fn analyze(raw: &[u8]) -> Analysis {
    let _ = raw;
    Analysis {
        kind: Kind::NotABounce,
        reporting_mta: None,
        recipients: Vec::new(),
        original: None,
        authenticity: Authenticity {
            verdict: Verdict::Unknown,
            score: 0,
            reasons: Vec::new(),
        },
        subject: None,
        from: None,
    }
}
