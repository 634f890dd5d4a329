//! qmail (and netqmail, vpopmail, Yahoo's/others' qmail-derived) bounces.
//!
//! Matches the wording `Hi. This is the qmail-send program at ...`, `I'm afraid I wasn't able
//! to deliver your message to the following addresses.` and the recipient blocks
//! `<addr>:` followed by the remote server's words (`Remote host said: 550 ...`), up to
//! `--- Below this line is a copy of the message.`
//! Qmail has no enhanced status of its own; codes come from the remote reply when quoted.

use super::{Ctx, Found, generic};
use crate::text::contains_ci;

pub fn decode(ctx: &Ctx<'_>) -> Option<Vec<Found>> {
    let h = ctx.low;
    if !(h.contains("this is the qmail-send program")
        || contains_ci(
            h,
            "wasn't able to deliver your message to the following addresses",
        )
        || h.contains("this is the qmail program"))
    {
        return None;
    }
    let mut v = generic::blocks(ctx, "qmail");
    for f in &mut v {
        let d = f.diagnostic.as_deref().unwrap_or("");
        if contains_ci(
            d,
            "i'm not going to try again; this message has been in the queue too long",
        ) || contains_ci(d, "this message has been in the queue too long")
        {
            f.hint = Some(mailerd_types::Reason::Expired);
        }
    }
    Some(v)
}
