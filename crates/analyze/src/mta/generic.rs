//! The generic fallback for any bounce written for people.
//!
//! Recognises recipients that head a block of text — `<addr>: host x said: 550 ...`
//! (Postfix, qmail style), `  addr` followed by an indented diagnostic (Exim style),
//! `addr on <date>` (Exchange 2003), `addr: reason` — and SMTP transcripts
//! (`>>> RCPT TO:<addr>` / `<<< 550 ...`, `550 5.1.1 <addr>... User unknown`). The diagnostic
//! is the rest of the block; reply code and enhanced status are read from it.
//! Also understands the wording `The response from the remote server was:`,
//! `The error that the other server returned was:`, `Remote Server returned '...'`.
//!
//! It does not recognise addresses that appear only inside running prose unless nothing else
//! is found and the address stands in angle brackets next to an `NNN X.Y.Z` reply.

use super::{Ctx, Found, push_merge};
use crate::text::{
    find_addresses, find_ci, first_address, lines, squash, starts_with_ci, strip_prefix_ci,
};

const MAX_LINES: usize = 3000;

/// The address that begins a line (after `<`, quotes, bullets or a `Recipient:`-style label),
/// and the text after it.
pub fn leading_address(line: &str) -> Option<(String, &str)> {
    // Every address found below is in `line`: a line without '@' (most of them) has none.
    memchr::memchr(b'@', line.as_bytes())?;
    let mut t = line.trim_start();
    // a quoted list item: `> a@b`
    if let Some(r) = t.strip_prefix("> ") {
        t = r.trim_start();
    }
    if let Some(r) = address_at_start(t) {
        return Some(r);
    }
    // `Label: addr` — `Undeliverable Address: a@b`, `Recipient: [SMTP:a@b]`,
    // `Delivery failed 20 attempts: a@b`.
    // the colon ASCII or full-width (`收件人：a@b`, Chinese and Japanese notices)
    let head = crate::prefix(t, 64);
    let (p, colon) = match (head.find(':'), head.find('：')) {
        (Some(a), Some(b)) if b < a => (b, '：'.len_utf8()),
        (Some(a), _) => (a, 1),
        (None, Some(b)) => (b, '：'.len_utf8()),
        (None, None) => return None,
    };
    let label = t.get(..p)?;
    let low = label.to_ascii_lowercase();
    if label.is_empty()
        || label.starts_with(['>', '<'])
        || low.contains("rcpt to")
        || label.contains('@')
        || label.contains('<')
        || low.trim() == "to"
        || low.trim() == "cc"
        || [
            "from",
            "sender",
            "reply",
            "return",
            "date",
            "subject",
            "message-id",
            "received",
            "by",
            "envelope",
            "contact",
            "postmaster",
            "admin",
            "help",
            "support",
            "report",
        ]
        .iter()
        .any(|w| low.contains(w))
    {
        return None;
    }
    let (a, rest) = address_at_start(t.get(p + colon..)?.trim_start())?;
    let local = a.split('@').next().unwrap_or("").to_ascii_lowercase();
    if local == "postmaster" || local == "mailer-daemon" {
        return None;
    }
    Some((a, rest))
}

/// The label of a `Label: addr` line when the label itself names a reason
/// ([`crate::classify::names_reason`]), as in `User's mailbox is full: <addr>`.
fn reason_label(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let p = crate::prefix(t, 64).find(':')?;
    let label = t.get(..p)?.trim();
    if label.contains('@') || label.len() < 8 {
        return None;
    }
    crate::classify::names_reason(label).then_some(label)
}

fn address_at_start(t: &str) -> Option<(String, &str)> {
    let mut t = t;
    for p in [
        "recipient address:",
        "recipient:",
        "original recipient:",
        "failed recipient:",
        "address:",
        "rcpt to:",
        "* ",
        "- ",
        "o ",
        "•",
    ] {
        if let Some(r) = strip_prefix_ci(t, p) {
            t = r.trim_start();
            break;
        }
    }
    let mut t = t.trim_start_matches(['<', '"', '\'', '(', '[']);
    for p in ["smtp:", "smtp=", "rfc822;", "mailto:"] {
        if let Some(r) = strip_prefix_ci(t, p) {
            t = r.trim_start().trim_start_matches('<');
        }
    }
    let first = first_address(crate::prefix(t, 300))?;
    if first.start != 0 {
        return None;
    }
    let rest = t.get(first.end..)?;
    let next = rest.chars().next();
    if !matches!(
        next,
        None | Some('>' | ':' | '.' | ' ' | '\t' | ',' | ';' | '(' | '"' | '\'' | ']' | ')' | '\r')
    ) {
        return None;
    }
    let rest = rest.trim_start_matches(['>', '"', '\'', ']', ')']);
    Some((first.addr, rest))
}

/// An address that a wrapped sentence happens to put at the start of a line (`... e.g., if` /
/// `mike.fox@yale.edu fails, try ...` in a notice's advice) is an example, not a recipient: the
/// line before is prose that runs on (several words, no address, no closing `:` or `.`) and
/// the words after the address go on in lower case.
fn continues_sentence(prev: &str, rest: &str) -> bool {
    let p = prev.trim();
    let runs_on = p
        .split_whitespace()
        .last()
        .is_some_and(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == ','))
        && p.split_whitespace().count() >= 4
        && !p.contains('@');
    let r = rest.trim_start();
    let goes_on = r
        .split_whitespace()
        .next()
        .is_some_and(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_lowercase() || c == ','));
    runs_on && goes_on
}

/// The width of a line's leading blanks: a line indented deeper than a block's address line
/// continues the block (Exim's `    host ...`); one indented alike starts the next item of
/// the same list (Stalwart's `    - <addr> (host ... rejected ...)` lines).
fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

fn is_blank(l: &str) -> bool {
    l.trim().is_empty()
}

/// Lines that end a recipient block besides a blank line.
fn is_section_line(l: &str) -> bool {
    let t = l.trim();
    t.starts_with("-----") || t.starts_with("=====") || t.starts_with("______")
}

/// Scans for recipient blocks. Returns recipients in order.
pub fn blocks(ctx: &Ctx<'_>, decoded_by: &'static str) -> Vec<Found> {
    let ls: Vec<&str> = lines(ctx.human).take(MAX_LINES).collect();
    let mut out: Vec<Found> = Vec::new();
    let mut i = 0;
    while i < ls.len() {
        let line = ls[i];
        let low_line = line.trim_start();
        // header-like summary lines of the bounce (Exchange "To: sender") are not recipients
        if starts_with_ci(low_line, "from:")
            || starts_with_ci(low_line, "sender:")
            || starts_with_ci(low_line, "reply-to:")
            || starts_with_ci(low_line, "return-path:")
            || starts_with_ci(low_line, "mail from:")
        {
            i += 1;
            continue;
        }
        if let Some((addr, rest)) = leading_address(line) {
            if ctx.excluded(&addr)
                || is_role_of_bounce(&addr, ctx)
                || (i > 0 && continues_sentence(ls[i - 1], rest))
            {
                i += 1;
                continue;
            }
            let mut f = Found::new(addr, decoded_by);
            let mut diag = String::from(crate::prefix(
                rest.trim_start_matches([':', '.', ' ', '>']),
                4096,
            ));
            let bare = diag.trim().is_empty();
            let indent = indent_of(line);
            let mut j = i + 1;
            // A lone address line may be followed by a blank line and then its reason.
            let mut n = 0;
            while j < ls.len() && n < 25 {
                let l = ls[j];
                if is_blank(l) {
                    if diag.trim().is_empty()
                        && n == 0
                        && j + 1 < ls.len()
                        && !is_blank(ls[j + 1])
                        && leading_address(ls[j + 1]).is_none()
                        && (ls[j + 1].starts_with(' ') || ls[j + 1].starts_with('\t'))
                    {
                        j += 1;
                        continue;
                    }
                    break;
                }
                // A line that names the same address again (`550: <addr>: User unknown`) is the
                // reply about it, not a new block.
                if is_section_line(l)
                    || leading_address(l).is_some_and(|(a, _)| {
                        !ctx.excluded(&a) && !a.eq_ignore_ascii_case(&f.recipient)
                    }) && (!l.starts_with("    ") || indent_of(l) <= indent)
                {
                    break;
                }
                if diag.len() < 4096 {
                    diag.push(' ');
                    diag.push_str(crate::prefix(l.trim(), 4096));
                }
                j += 1;
                n += 1;
            }
            // `User's mailbox is full: <addr>` (nothing after the address) followed by general
            // text (`Unable to deliver mail.`): the label is the reason. When the lines after
            // say one themselves, they are kept as they are; when there are none, the reason
            // paragraph of `mta::decode` reads the label with what follows the block.
            if bare
                && !diag.trim().is_empty()
                && let Some(label) = reason_label(line)
                && !crate::classify::names_reason(&diag)
            {
                diag = format!("{label}.{diag}");
            }
            // `<final> (expanded from <alias>)` / `(expanded from: alias)`: the alias is the
            // address the sender wrote.
            if let Some(p) = crate::text::find_ci(&diag, "expanded from") {
                let rest = diag.get(p + 13..).unwrap_or("");
                if let Some(a) = first_address(crate::prefix(rest, 200)).filter(|a| a.start < 4) {
                    f.original_recipient = Some(a.addr);
                }
            }
            f.set_diagnostic(&diag);
            push_merge(&mut out, f);
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

fn is_role_of_bounce(addr: &str, ctx: &Ctx<'_>) -> bool {
    let local = addr.split('@').next().unwrap_or("").to_ascii_lowercase();
    (local == "mailer-daemon" || local == "postmaster") && addr.eq_ignore_ascii_case(ctx.from)
}

/// SMTP transcripts: `>>> RCPT TO:<addr>` then `<<< 550 ...`; and `550 5.1.1 <addr>... text`.
pub fn transcript(ctx: &Ctx<'_>, decoded_by: &'static str) -> Vec<Found> {
    let ls: Vec<&str> = lines(ctx.human).take(MAX_LINES).collect();
    let mut out: Vec<Found> = Vec::new();
    // The remote server's refusal of MAIL FROM or DATA in the current conversation
    // (`While talking to x:` / `>>> MAIL From:<s>` / `<<< 550 ...`): it is the reason for every
    // recipient summarised below it.
    let mut session_reply: Option<&str> = None;
    let mut after_mail_from = false;
    let mut i = 0;
    while i < ls.len() {
        let t = crate::prefix(ls[i].trim(), 4096);
        let cmd = t.trim_start_matches(['>', ' ']);
        if crate::text::starts_with_ci(t, "while talking to")
            || crate::text::starts_with_ci(t, "... while talking to")
        {
            session_reply = None;
            after_mail_from = false;
        } else if t.starts_with(">>>") {
            // MAIL FROM, DATA, end of data: a refusal there concerns every recipient
            after_mail_from = !crate::text::starts_with_ci(cmd, "rcpt to:");
        } else if t.starts_with("<<<") && after_mail_from && session_reply.is_none() {
            let body = t.trim_start_matches(['<', ' ']);
            if crate::text::leading_reply_code(body).is_some_and(|c| c >= 500) {
                session_reply = Some(body);
            }
        }
        let rcpt_at = find_ci(cmd, "rcpt to:").filter(|&p| p < 24);
        if let Some(p) = rcpt_at
            && let Some(a) = first_address(cmd.get(p..).unwrap_or(""))
        {
            let mut diag = String::new();
            let mut j = i + 1;
            while j < ls.len() && j < i + 6 {
                let n = ls[j].trim();
                let body = n.trim_start_matches(['<', '>', ' ']);
                let body = strip_prefix_ci(body, "received")
                    .map(|r| r.trim_start_matches(['<', '>', ' ', ':']))
                    .unwrap_or(body);
                if n.starts_with("<<<")
                    || (crate::text::leading_reply_code(body).is_some() && diag.is_empty())
                {
                    diag.push(' ');
                    diag.push_str(body);
                    j += 1;
                } else {
                    break;
                }
            }
            if !diag.is_empty() && !ctx.excluded(&a.addr) {
                let mut f = Found::new(a.addr, decoded_by);
                f.set_diagnostic(&diag);
                push_merge(&mut out, f);
            }
            i = j;
            continue;
        }
        // `550 5.1.1 <addr>... User unknown` (sendmail), `550 <addr>: Recipient address rejected`
        if let Some(code) = crate::text::leading_reply_code(t)
            && code >= 400
            && let Some(a) = first_address(t)
        {
            let before = t.get(..a.start).unwrap_or("");
            if before.len() < 24 && before.ends_with('<') && !ctx.excluded(&a.addr) {
                let mut f = Found::new(a.addr, decoded_by);
                // `554 <a@b>... 550 Host unknown`: the remote server's own code
                // follows the local one.
                let after = t.get(a.end..).unwrap_or("");
                let after = after.trim_start_matches(['>', '.', ' ', ':']);
                if let Some(inner) = crate::text::leading_reply_code(after) {
                    f.reply_code = Some(inner);
                    f.set_diagnostic(t);
                } else if let Some(r) = session_reply {
                    // `554 <a@b>... Remote protocol error` after the server refused MAIL FROM
                    f.set_diagnostic(r);
                } else {
                    f.set_diagnostic(t);
                }
                push_merge(&mut out, f);
            }
        }
        // `<a@b>... Deferred: 421 4.7.0 ...` (sendmail's own line for a recipient it kept
        // for a retry): the remote server's last reply.
        if t.starts_with('<')
            && let Some(a) = first_address(t)
            && a.start <= 1
            && let Some(rest) = t.get(a.end..)
            && let Some(said) =
                strip_prefix_ci(rest.trim_start_matches(['>', '.', ' ']), "deferred:")
            && crate::text::leading_reply_code(said.trim()).is_some_and(|c| c >= 400)
            && !ctx.excluded(&a.addr)
        {
            let mut f = Found::new(a.addr, decoded_by);
            f.set_diagnostic(said.trim());
            push_merge(&mut out, f);
        }
        i += 1;
    }
    out
}

/// Phrases after which the remote server's words follow.
const SAID: &[&str] = &[
    "the response from the remote server was:",
    "the error that the other server returned was:",
    "remote server returned '",
    "remote host said:",
    "the remote server responded with:",
    // Cisco AsyncOS (IronPort): `The following message to <a@b> was undeliverable.` /
    // `The reason for the problem:` / `5.1.0 - Unknown address error 550-'...'`; the reason
    // line is read first, so that a notice without a reply shows its reason, not the address.
    "the reason for the problem:",
    "the following message to <",
    // Barracuda `Your message to: a@b` / `was blocked by our Spam Firewall ...` and, a
    // paragraph further, `Reason: Message content rejected: ...`: a line of its own.
    "\nreason: ",
];

/// The remote server's words after one of the `SAID` phrases, if any.
pub fn said_text(ctx: &Ctx<'_>) -> Option<String> {
    static SAID_FINDERS: std::sync::LazyLock<crate::text::Phrases> =
        std::sync::LazyLock::new(|| crate::text::Phrases::new(SAID));
    for (p, at) in SAID.iter().zip(SAID_FINDERS.each_first(ctx.low)) {
        if let Some(at) = at {
            let rest = ctx.human.get(at + p.len()..)?;
            let mut s = String::new();
            for (n, l) in lines(rest).enumerate() {
                if n > 0 && l.trim().is_empty() && !s.trim().is_empty() {
                    break;
                }
                s.push(' ');
                s.push_str(crate::prefix(l.trim(), 4096));
                if n > 8 || s.len() > 4096 {
                    break;
                }
            }
            let s = squash(s.trim_end_matches(['\'', ' ']));
            if !s.is_empty() {
                return Some(s);
            }
        }
    }
    None
}

/// Addresses in angle brackets on a line that also carries an `NNN X.Y.Z` reply.
pub fn near_reply(ctx: &Ctx<'_>, decoded_by: &'static str) -> Vec<Found> {
    let mut out = Vec::new();
    for l in lines(ctx.human).take(MAX_LINES) {
        // a reply line is short; a runaway line is looked at only in its head
        let l = crate::prefix(l, 4096);
        let Some(code) = crate::text::find_reply_code(l) else {
            continue;
        };
        if code < 400 {
            continue;
        }
        for a in find_addresses(l) {
            let bracketed = l.get(..a.start).is_some_and(|b| b.ends_with('<'));
            if bracketed && !ctx.excluded(&a.addr) && !is_role_of_bounce(&a.addr, ctx) {
                let mut f = Found::new(a.addr, decoded_by);
                f.set_diagnostic(l);
                push_merge(&mut out, f);
            }
        }
    }
    out
}

/// Phrases of running prose after which the failed address follows.
const PROSE: &[&str] = &[
    "delivering your mail to ",
    "deliver your mail to ",
    "your mail to ",
    "rejected recipient ",
    "recipient address rejected: ",
    "following recipient failed: ",
    "undeliverable to ",
    "unable to deliver your message to ",
    "unable to deliver message to ",
    "could not be delivered to ",
    "couldn't be delivered to ",
    "not be delivered to ",
    "was not delivered to ",
    // Gmail's current notice: `Your message wasn't delivered to a@b because ...`
    "wasn't delivered to ",
    "delivery to ",
    "failed to deliver to ",
    "could not deliver mail to ",
    "your message to ",
    "message to ",
    "undeliverable address ",
    "user unknown ",
    "no such user ",
    "mailbox full ",
    "unknown user ",
];

/// An address right after one of the `PROSE` phrases (`undeliverable to a@b`).
pub fn prose(ctx: &Ctx<'_>, decoded_by: &'static str) -> Vec<Found> {
    static PROSE_LITERALS: std::sync::LazyLock<crate::text::Literals> =
        std::sync::LazyLock::new(|| crate::text::Literals::new(PROSE));
    let low = ctx.low.as_bytes();
    // Only the lines where some phrase starts can give an address (a phrase holds no line
    // feed): the next occurrence in the lower-cased text says which line to read next.
    let same = low.len() == ctx.human.len();
    let mut next: Option<usize> = Some(0);
    let mut offset = 0usize;
    let mut out = Vec::new();
    for raw in crate::text::split_lf(ctx.human).take(MAX_LINES) {
        let start = offset;
        offset += raw.len() + 1;
        if same {
            if next.is_some_and(|n| n < start) {
                next = PROSE_LITERALS.leftmost_start_from(low, start);
            }
            match next {
                None => break,
                Some(n) if n >= start + raw.len() => continue,
                Some(_) => {}
            }
        }
        prose_line(
            ctx,
            raw.strip_suffix('\r').unwrap_or(raw),
            decoded_by,
            &mut out,
        );
    }
    out
}

/// [`prose`] on one line: the address right after the first phrase followed by one.
fn prose_line(ctx: &Ctx<'_>, l: &str, decoded_by: &'static str, out: &mut Vec<Found>) {
    let l = crate::prefix(l, 4096);
    for p in PROSE {
        let Some(at) = find_ci(l, p) else { continue };
        let rest = l.get(at + p.len()..).unwrap_or("").trim_start();
        let rest = rest.trim_start_matches(['<', '"', '\'', '(', '[']);
        if let Some(a) = first_address(crate::prefix(rest, 200)).filter(|a| a.start == 0) {
            if !ctx.excluded(&a.addr) && !is_role_of_bounce(&a.addr, ctx) {
                let mut f = Found::new(a.addr, decoded_by);
                f.set_diagnostic(l);
                push_merge(out, f);
            }
            return;
        }
    }
}

/// Bare local parts listed under a `... following recipients ...:` line, as AOL writes them
/// (`\tscreenname`): the address is the local part at the bounce's own domain.
pub fn bare_names(ctx: &Ctx<'_>, decoded_by: &'static str) -> Vec<Found> {
    let mut out = Vec::new();
    let domain = ctx.from.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    if domain.is_empty() || !domain.contains('.') {
        return out;
    }
    let mut armed = false;
    for l in lines(ctx.human).take(MAX_LINES) {
        let t = l.trim();
        if t.ends_with(':') && crate::text::contains_ci(t, "following recipient") {
            armed = true;
            continue;
        }
        if !armed {
            continue;
        }
        if t.is_empty() {
            if !out.is_empty() {
                break;
            }
            continue;
        }
        let bare = (l.starts_with(' ') || l.starts_with('\t'))
            && t.len() <= 64
            && t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || c == b'-');
        if !bare {
            break;
        }
        push_merge(
            &mut out,
            Found::new(format!("{t}@{}", domain.to_ascii_lowercase()), decoded_by),
        );
    }
    out
}

/// The generic decoder: blocks, then transcript lines, then addresses near a reply.
pub fn decode(ctx: &Ctx<'_>) -> Vec<Found> {
    let mut out = blocks(ctx, "Generic");
    let tr = transcript(ctx, "Generic");
    if out.is_empty() {
        out = tr;
    } else {
        for f in tr {
            if out
                .iter()
                .any(|e| e.recipient.eq_ignore_ascii_case(&f.recipient))
            {
                push_merge(&mut out, f);
            }
        }
    }
    if out.is_empty() {
        out = near_reply(ctx, "Generic");
    }
    if out.is_empty() {
        out = prose(ctx, "Generic");
    }
    if out.is_empty() {
        out = bare_names(ctx, "Generic");
    }
    // Complete missing codes from the server's words when there is one recipient.
    if out.len() == 1
        && let Some(s) = said_text(ctx)
    {
        let f = &mut out[0];
        if f.reply_code.is_none() && f.status.is_none() {
            f.set_diagnostic(&s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `prose` before it skipped the lines where no phrase starts: every line read.
    fn prose_reference(ctx: &Ctx<'_>, decoded_by: &'static str) -> Vec<Found> {
        let mut out = Vec::new();
        for l in lines(ctx.human).take(MAX_LINES) {
            prose_line(ctx, l, decoded_by, &mut out);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn prose_is_unchanged(
            parts in proptest::collection::vec("(Delivering your mail to |Your MAIL to |undeliverable to |Couldn't be delivered to |message to |user unknown |<|\"|bob@x\\.example|al@y\\.example|postmaster@z\\.example|[a-z]{1,6}| |\n|\r\n|\u{e9}|:)", 0..80),
            long in 0usize..3,
        ) {
            let mut human = parts.concat();
            if long == 1 {
                human = format!("{}{human}", "x".repeat(4100));
            }
            let low = human.to_ascii_lowercase();
            let exclude = vec!["al@y.example".to_string()];
            let ctx = Ctx {
                exclude: &exclude,
                ..Ctx::text_only(&human, &low)
            };
            proptest::prop_assert_eq!(prose(&ctx, "Generic"), prose_reference(&ctx, "Generic"));
        }
    }

    /// [`decode`] of a notice's human text from `mailer-daemon@example.org` to
    /// `sender@example.jp` (an address the decoder must not take for a recipient).
    fn decode_text(human: &str) -> Vec<Found> {
        let ex = vec!["sender@example.jp".to_string()];
        let low = human.to_ascii_lowercase();
        let ctx = Ctx {
            from: "mailer-daemon@example.org",
            exclude: &ex,
            ..Ctx::text_only(human, &low)
        };
        decode(&ctx)
    }

    fn check(human: &str, expected: &[(&str, Option<u16>, &str)]) {
        let got: Vec<(String, Option<u16>, String)> = decode_text(human)
            .into_iter()
            .map(|f| {
                (
                    f.recipient,
                    f.reply_code,
                    f.status.map(|s| s.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        let want: Vec<(String, Option<u16>, String)> = expected
            .iter()
            .map(|(a, c, s)| (a.to_string(), *c, s.to_string()))
            .collect();
        assert_eq!(got, want, "input {human:?}");
    }

    fn diagnostics(human: &str) -> Vec<String> {
        decode_text(human)
            .into_iter()
            .map(|f| f.diagnostic.unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_label_that_names_the_reason_is_read() {
        // the label is the reason, the line after is general text
        assert_eq!(
            diagnostics("User's mailbox is full: <a@example.jp>\nUnable to deliver mail.\n"),
            ["User's mailbox is full. Unable to deliver mail."]
        );
        // a descriptive label is not a reason: the lines after are kept alone
        assert_eq!(
            diagnostics("Recipient address: <a@example.jp>\nUnable to deliver mail.\n"),
            ["Unable to deliver mail."]
        );
        // the lines after say the reason themselves: the label is not added
        assert_eq!(
            diagnostics("Undeliverable: <a@example.jp>\n    550 5.1.1 no such user\n"),
            ["550 5.1.1 no such user"]
        );
    }

    #[test]
    fn postfix_style() {
        check(
            "I'm sorry.\n\n<kijitora@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1\n    <kijitora@example.jp>: User unknown (in reply to RCPT TO command)\n",
            &[("kijitora@example.jp", Some(550), "5.1.1")],
        );
    }

    #[test]
    fn ironport_reason_line() {
        let d = diagnostics(
            "This is a delay notice. The following message to <d@slow.example> has been delayed.\nThe reason for the problem:\n4.4.1 - Unable to connect to the remote host\n\nIt will be retried.\n",
        );
        assert_eq!(d, ["4.4.1 - Unable to connect to the remote host"]);
    }

    #[test]
    fn exim_style() {
        check(
            "failed:\n\n  a@example.org\n    SMTP error from remote mail server after RCPT TO:<a@example.org>:\n    host x [1.2.3.4]: 550 5.2.2 full\n\n  b@example.org\n    unrouteable address\n",
            &[
                ("a@example.org", Some(550), "5.2.2"),
                ("b@example.org", None, ""),
            ],
        );
    }

    #[test]
    fn transcript_style() {
        check(
            "   ----- Transcript of session follows -----\n... while talking to mx:\n>>> MAIL From:<sender@example.jp>\n<<< 250 ok\n>>> RCPT To:<x@example.net>\n<<< 550 5.1.1 <x@example.net>... User unknown\n",
            &[("x@example.net", Some(550), "5.1.1")],
        );
    }

    #[test]
    fn sender_is_not_a_recipient() {
        check("To: sender@example.jp\nSubject: hi\n", &[]);
    }
}
