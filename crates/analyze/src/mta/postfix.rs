//! Postfix bounce text (the human part of its reports, and old Postfix without a
//! delivery-status part).
//!
//! Matches `This is the mail system at host <host>.` and the recipient blocks
//! `<addr>: host mx.example.org[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)`,
//! `<addr> (expanded from <alias>): ...`, `<addr>: delivery temporarily suspended: ...`, and
//! the delay notice `####### THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE.`
//! (marked delayed by the common delay-wording pass).

use super::{Ctx, Found, generic};

pub fn decode(ctx: &Ctx<'_>) -> Option<Vec<Found>> {
    static MARKS: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "this is the mail system at host",
            "(in reply to rcpt to command)",
            "(in reply to end of data command)",
            "(in reply to mail from command)",
        ])
    });
    if !MARKS.any_in(ctx.low) {
        return None;
    }
    Some(generic::blocks(ctx, "Postfix"))
}
