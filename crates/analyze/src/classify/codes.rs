//! Reasons from codes alone: the enhanced status (standards sec. 4 and the provider usages
//! listed there) and, last, the basic SMTP reply code (sec. 6.1 step 5).

use mailerd_types::{Category, EnhancedStatus, Reason, StatusClass};

use Reason as R;

/// The reason an enhanced status code means on its own, with a more precise category where
/// the code says more than the reason. `final_` is `true` when delivery was given up
/// (`Action: failed`) or is waiting for its expiry (`Action: delayed`), which turns "no answer
/// from host" (X.4.1) into an expiry, as Sisimai reports it.
pub(crate) fn from_status(s: EnhancedStatus, final_: bool) -> Option<(Reason, Option<Category>)> {
    // An unknown detail falls back to the subject's X.Y.0 meaning (RFC 3463 section 2).
    exact(s, final_).or_else(|| exact(EnhancedStatus { detail: 0, ..s }, final_))
}

fn exact(s: EnhancedStatus, final_: bool) -> Option<(Reason, Option<Category>)> {
    let temp = s.class == StatusClass::Transient;
    let c = |r: Reason| Some((r, None));
    let cc = |r: Reason, k: Category| Some((r, Some(k)));
    match (s.subject, s.detail) {
        // Microsoft: 4.4.316 / 5.4.316 connection refused until expiry, 5.1.351 recipient
        // rejected by the remote server, 5.1.8 bad outbound sender, 5.1.90 daily limit,
        // 5.7.5xx authentication, 5.7.606-649 banned IPs, 4.7.650 reputation, 5.7.7xx
        // tenant abuse, 4.7.321/5.7.321-325 STARTTLS and certificates, 5.7.12x-136 group
        // restrictions, 5.7.64 relay.
        (4, 316) => {
            if temp {
                c(R::NetworkError)
            } else {
                c(R::Expired)
            }
        }
        (1, 351) => c(R::UserUnknown),
        (1, 8) => c(R::Rejected),
        (1, 90) => cc(R::TooManyConn, Category::SendingLimit),
        (7, 501..=503) if !temp => c(R::SpamDetected),
        (7, 504) | (7, 505) if !temp => c(R::Filtered),
        (7, 506) | (7, 507) if !temp => c(R::Blocked),
        (7, 508) if !temp => c(R::TooManyConn),
        (7, 509) => c(R::AuthFailure),
        (7, 510) if !temp => c(R::NotAccept),
        (7, 511) if !temp => c(R::Rejected),
        (7, 500..=599) if temp => c(R::Blocked),
        (7, 500..=599) => c(R::SecurityError),
        (7, 606..=649) => c(R::Blocked),
        (7, 850..=899) if temp => c(R::Blocked),
        (4, 312) => c(R::NetworkError),
        (0, 350) | (6, 11) => c(R::ContentError),
        // Microsoft 5.4.1 "Relay Access Denied" (the registry's "no answer from host" is 4.4.1).
        (4, 1) if !temp => c(R::NoRelaying),
        (7, 650..=699) => cc(R::BadReputation, Category::RateLimited),
        (7, 700..=749) => cc(R::TooManyConn, Category::SendingLimit),
        (7, 750..=799) => cc(R::Rejected, Category::SendingLimit),
        (7, 321..=330) => c(R::FailedStartTls),
        (7, 124) | (7, 133..=136) => cc(R::Rejected, Category::SenderNotAllowed),
        (7, 64) => c(R::NoRelaying),
        // Gmail: 5.4.5 daily sending quota, 4.7.28 unusual rate, 4.7.29 TLS for bulk senders,
        // 4.7.30/4.7.32 authentication of bulk senders.
        (4, 5) if !temp => cc(R::TooManyConn, Category::SendingLimit),
        (7, 28) => c(R::Speeding),
        // Yahoo/AOL `554 5.7.9 Message not accepted for policy reasons` (the registry's "mechanism
        // too weak" is never what a receiving MX means by it).
        (7, 9) => c(R::PolicyViolation),
        (7, 29) => c(R::FailedStartTls),
        (7, 30) if temp => c(R::AuthFailure),
        (7, 32) => c(R::AuthFailure),
        // The registry (RFC 3463, 5248 and later).
        (1, 0) | (1, 1) | (1, 3) | (1, 4) => c(R::UserUnknown),
        (1, 2) => c(R::HostUnknown),
        (1, 6) => c(R::HasMoved),
        (1, 7) => c(R::Rejected),
        (1, 9) => c(R::SystemError),
        (1, 10) => c(R::NotAccept),
        // A transient mailbox status with nothing more to go on (Exim cuts a delay warning's
        // reply after ~50 characters: `450 4.2.0 <a@b>: Recipient addr`) is a mailbox that
        // cannot take the message now, not a filter nor a closed account: a temporary
        // problem of the recipient's system.
        (2, 0) | (2, 1) if temp => c(R::SystemError),
        (2, 0) => c(R::Filtered),
        (2, 1) => c(R::Suspend),
        (2, 2) => c(R::MailboxFull),
        (2, 3) => c(R::ExceedLimit),
        (2, 4) => c(R::Filtered),
        (3, 0) => c(R::SystemError),
        (3, 1) => c(R::SystemFull),
        (3, 2) | (3, 3) | (3, 5) => c(R::SystemError),
        (3, 4) => c(R::MesgTooBig),
        (4, 0) if !temp => c(R::NetworkError),
        (4, 1) => {
            if final_ {
                c(R::Expired)
            } else {
                c(R::NetworkError)
            }
        }
        (4, 2) | (4, 3) => c(R::NetworkError),
        (4, 4) => {
            if temp {
                c(R::NetworkError)
            } else {
                c(R::HostUnknown)
            }
        }
        (4, 5) => c(R::SystemError),
        (4, 6) => cc(R::NetworkError, Category::MailLoop),
        (4, 7) => c(R::Expired),
        (5, 3) => cc(R::TooManyConn, Category::TooManyRecipients),
        (5, 0) if !temp => c(R::SystemError),
        (5, 1) | (5, 2) | (5, 4) => c(R::SyntaxError),
        (5, 5) => c(R::SystemError),
        (5, 6) => c(R::SecurityError),
        (6, _) => c(R::ContentError),
        (7, 1) | (7, 2) => {
            if temp {
                c(R::Blocked)
            } else {
                c(R::SecurityError)
            }
        }
        (7, 10) | (7, 11) => c(R::FailedStartTls),
        (7, 13) => c(R::Suspend),
        (7, 16) => c(R::MesgTooBig),
        (7, 17) | (7, 18) => c(R::HasMoved),
        (7, 20..=24) | (7, 26) => c(R::AuthFailure),
        (7, 25) => c(R::RequirePtr),
        (7, 27) => c(R::Rejected),
        (7, 30) => c(R::FailedStartTls),
        (7, 0) | (7, 3..=8) | (7, 12) | (7, 14) | (7, 15) | (7, 19) => c(R::SecurityError),
        _ => None,
    }
}

/// The reason a basic SMTP reply code means when neither text nor enhanced status decided
/// (standards sec. 6.1 step 5): low confidence by design.
pub(crate) fn from_reply(code: u16) -> Option<Reason> {
    Some(match code {
        550 | 553 => R::UserUnknown,
        551 => R::HasMoved,
        552 => R::MailboxFull,
        554 => R::Blocked,
        571 => R::Blocked,
        521 | 556 => R::NotAccept,
        530 | 535 | 538 => R::SecurityError,
        500..=504 => R::SyntaxError,
        421 => R::SystemError,
        450 | 451 | 452 | 454 => R::SystemError,
        _ => return None,
    })
}
