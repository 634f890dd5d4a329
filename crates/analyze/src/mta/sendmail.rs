//! Sendmail (and V5 sendmail) bounces without, or in addition to, a delivery-status part.
//!
//! Matches `----- The following addresses had permanent fatal errors -----` followed by
//! `<addr>` and `(reason: 550 5.1.1 ...)`, and the `----- Transcript of session follows -----`
//! with `>>> RCPT To:<addr>` / `<<< 550 ...` and `550 5.1.1 <addr>... User unknown` lines.
//! `Cannot send message for N days` / `could not be delivered for N days` is the format's
//! expiry notice (hint Expired); `Warning: could not send message for past N hours` is a delay.

use mailerd_types::{DsnAction, Reason};

use super::{Ctx, Found, generic, push_merge};
use crate::text::contains_ci;

pub fn decode(ctx: &Ctx<'_>) -> Option<Vec<Found>> {
    static SIGNS: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "----- transcript of session follows -----",
            "following addresses had permanent fatal errors",
            "following addresses had transient non-fatal errors",
        ])
    });
    let h = ctx.low;
    if !SIGNS.any_in(h) {
        return None;
    }
    let mut v = generic::blocks(ctx, "Sendmail");
    // `(reason: )`: Sendmail had no reply to quote (the server closed the connection after
    // its 421); the transcript's `<addr>... Deferred: 421 ...` says what happened.
    for f in &mut v {
        if f.diagnostic.as_deref().is_some_and(is_empty_reason) {
            f.diagnostic = None;
        }
    }
    for f in generic::transcript(ctx, "Sendmail") {
        push_merge(&mut v, f);
    }
    let expired = h.contains("cannot send message for")
        || h.contains("could not be delivered for")
        || contains_ci(ctx.subject, "returned mail: cannot send message for");
    let delayed = contains_ci(ctx.subject, "warning: could not send message")
        || h.contains("warning: could not send message for past")
        || h.contains("following addresses had transient non-fatal errors");
    for f in &mut v {
        if expired {
            f.hint = Some(Reason::Expired);
        } else if delayed {
            f.action = Some(DsnAction::Delayed);
        }
    }
    Some(v)
}

/// `(reason: )` and the like: the parenthesis with nothing in it.
fn is_empty_reason(d: &str) -> bool {
    let t = d
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    crate::text::strip_prefix_ci(t, "reason:")
        .unwrap_or(t)
        .trim()
        .is_empty()
}

#[cfg(test)]
mod tests {
    use super::is_empty_reason;

    #[test]
    fn an_empty_reason_is_no_diagnostic() {
        assert!(is_empty_reason("(reason: )"));
        assert!(is_empty_reason("  (Reason:)"));
        assert!(!is_empty_reason("(reason: 550 5.1.1 User unknown)"));
        assert!(!is_empty_reason("421"));
        assert!(!is_empty_reason("(re"));
    }
}
