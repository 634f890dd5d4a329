//! Exim bounces and delay warnings.
//!
//! Matches `This message was created automatically by mail delivery software.`, the list after
//! `The following address(es) failed:` (address lines indented by two spaces, the reason
//! indented below, e.g. `SMTP error from remote mail server after RCPT TO:<a>: host x [ip]:
//! 550 5.1.1 ...`), `X-Failed-Recipients:`, and the delay warning `Message delayed` /
//! `has not yet been delivered to all of its recipients`. `retry timeout exceeded` is the
//! format's own expiry notice (hint Expired).

use mailerd_types::{DsnAction, EnhancedStatus, Reason, StatusClass};

use super::{Ctx, Found, generic};
use crate::text::contains_ci;

pub fn decode(ctx: &Ctx<'_>) -> Option<Vec<Found>> {
    static SIGNS: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "the following address(es) failed",
            "could not be delivered to one or more of its recipients",
        ])
    });
    static DELAYED: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "has not yet been delivered to all of its recipients",
            "message delayed",
        ])
    });
    let h = ctx.low;
    let sig = contains_ci(
        h,
        "this message was created automatically by mail delivery software",
    ) || SIGNS.any_in(h)
        || !ctx.x_failed.is_empty();
    if !sig {
        return None;
    }
    let delayed = DELAYED.any_in(h) || contains_ci(ctx.subject, "warning: message");
    let mut v = generic::blocks(ctx, "Exim");
    if v.is_empty() {
        v = generic::transcript(ctx, "Exim");
    }
    if !ctx.x_failed.is_empty() {
        // X-Failed-Recipients is authoritative for the set; keep the body's details.
        let mut out = Vec::new();
        let same_len = v.len() == ctx.x_failed.len();
        for (i, a) in ctx.x_failed.iter().enumerate() {
            let f = v
                .iter()
                .find(|f| f.recipient.eq_ignore_ascii_case(a))
                .cloned()
                .or_else(|| {
                    // the body names the address differently (after rewriting): same position
                    same_len.then(|| v.get(i).cloned()).flatten().map(|mut f| {
                        f.recipient = a.clone();
                        f
                    })
                })
                .unwrap_or_else(|| {
                    let mut f = Found::new(a.clone(), "Exim");
                    if ctx.x_failed.len() == 1
                        && let Some(s) = generic::said_text(ctx)
                    {
                        f.set_diagnostic(&s);
                    }
                    f
                });
            super::push_merge(&mut out, f);
        }
        v = out;
    }
    for f in &mut v {
        let d = f.diagnostic.as_deref().unwrap_or("");
        if contains_ci(d, "retry timeout exceeded")
            || contains_ci(
                d,
                "retry time not reached for any host after a long failure period",
            )
        {
            f.hint = Some(Reason::Expired);
        }
        // The sender was refused (`SMTP error from remote mail server after MAIL FROM:`): the
        // failure says nothing about the recipient. With no enhanced code in the reply, the
        // status is Sisimai's `onhold` pseudo status for Exim (X.0.901); the reason still comes
        // from the words.
        if f.status.is_none() && contains_ci(d, "after mail from") {
            let class = if delayed || f.reply_code.is_some_and(|c| c < 500) {
                StatusClass::Transient
            } else {
                StatusClass::Permanent
            };
            f.status = Some(EnhancedStatus::new(class, 0, 901));
        }
        // Exim sends a failure notice ("This is a permanent error") after a temporary (4yz)
        // reply only when the address's retry time ran out: an expiry.
        if !delayed
            && f.hint.is_none()
            && f.reply_code.is_some_and(|c| (400..500).contains(&c))
            && h.contains("this is a permanent error")
        {
            f.hint = Some(Reason::Expired);
        }
        if delayed {
            f.action = Some(DsnAction::Delayed);
        }
    }
    Some(v)
}
