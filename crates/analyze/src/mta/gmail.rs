//! Gmail / Google Workspace bounces written as text (older Gmail, and the text part of the
//! current ones).
//!
//! Matches `Delivery to the following recipient failed permanently:` /
//! `Delivery to the following recipients failed.` / `Delivery to the following recipient has
//! been delayed:`, the indented address lines that follow, and the server's words after
//! `The error that the other server returned was:` or `Technical details of permanent
//! (temporary) failure:`.

use super::{Ctx, Found, generic, push_merge};
use crate::text::{first_address, lines, squash};

pub fn decode(ctx: &Ctx<'_>) -> Option<Vec<Found>> {
    let h = ctx.low;
    static START: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| {
            memchr::memmem::Finder::new("delivery to the following recipient")
        });
    let start = START.find(h.as_bytes())?;
    let mut out = Vec::new();
    // The indented addresses after the announcement, up to the next non-address paragraph.
    let rest = ctx.human.get(start..)?;
    let mut seen_address = false;
    for l in lines(rest).skip(1).take(200) {
        let t = l.trim();
        if t.is_empty() {
            if seen_address {
                break;
            }
            continue;
        }
        match first_address(t) {
            Some(a) if a.start <= 1 && !ctx.excluded(&a.addr) => {
                seen_address = true;
                push_merge(&mut out, Found::new(a.addr, "Gmail"));
            }
            _ => break,
        }
    }
    let details = [
        "technical details of permanent failure:",
        "technical details of temporary failure:",
    ]
    .iter()
    .find_map(|p| h.find(p).map(|at| at + p.len()))
    .and_then(|at| ctx.human.get(at..))
    .map(|t| {
        let mut s = String::new();
        for l in lines(t).take(12) {
            if l.trim().starts_with("-----") {
                break;
            }
            s.push(' ');
            s.push_str(l.trim());
        }
        squash(&s)
    });
    let said = generic::said_text(ctx).or(details);
    if out.len() == 1
        && let Some(s) = said
    {
        out[0].set_diagnostic(&s);
    }
    Some(out)
}
