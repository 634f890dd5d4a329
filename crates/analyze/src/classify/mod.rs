//! From the evidence about one recipient (status, reply, diagnostic text, remote host) to a
//! [`Reason`], a [`Category`] and temporary-or-permanent.

use mailerd_types::{Category, DsnAction, EnhancedStatus, Reason};

/// What is known about one recipient's outcome.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    pub action: Option<DsnAction>,
    pub status: Option<EnhancedStatus>,
    pub reply_code: Option<u16>,
    /// The remote server's words or the reporting MTA's diagnosis, unfolded.
    pub diagnostic: &'a str,
    pub remote_mta: Option<&'a str>,
    /// A reason the MTA family's decoder already knows for sure (e.g. an expiry notice).
    pub hint: Option<Reason>,
}

/// The classifier's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub reason: Reason,
    pub category: Category,
    pub permanent: bool,
    pub hard_bounce: bool,
    /// The status to report: the given one, else the one in the text, else the pseudo status.
    pub status: Option<EnhancedStatus>,
}

/// Classifies one recipient's evidence.
pub fn classify(e: &Evidence<'_>) -> Classification {
    let permanent = e.status.map(|s| s.is_permanent()).unwrap_or(true);
    let reason = e.hint.unwrap_or(Reason::Undefined);
    Classification {
        reason,
        category: Category::for_reason(reason, permanent),
        permanent,
        hard_bounce: reason.is_hard_bounce(permanent),
        status: e.status.or_else(|| reason.pseudo_status(permanent)),
    }
}
