//! Microsoft Exchange (2003, 2007+) and Office 365 / Outlook.com non-delivery reports.
//!
//! Matches `Diagnostic information for administrators:` followed by `Generating server:` and
//! recipient blocks `addr` / `Remote Server returned '550 5.1.1 ...'` or
//! `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`, and Exchange 2003's
//! `did not reach the following recipient(s):` / `addr on <date>` / `<host #5.1.1 smtp;550 ...>`.

use super::{Ctx, Found, generic};

pub fn decode(ctx: &Ctx<'_>) -> Option<Vec<Found>> {
    static SIGNS: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "diagnostic information for administrators",
            "did not reach the following recipient",
            "delivery has failed to these recipients or groups",
            "remote server returned '",
        ])
    });
    if !SIGNS.any_in(ctx.low) {
        return None;
    }
    let v = generic::blocks(ctx, "Exchange");
    Some(v)
}
