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
    let h = ctx.low;
    if !(h.contains("this is the mail system at host")
        || h.contains("(in reply to rcpt to command)")
        || h.contains("(in reply to end of data command)")
        || h.contains("(in reply to mail from command)"))
    {
        return None;
    }
    Some(generic::blocks(ctx, "Postfix"))
}
