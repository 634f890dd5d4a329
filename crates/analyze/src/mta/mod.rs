//! Decoders for bounce bodies that are not (only) RFC 3464: one module per MTA family,
//! plus a generic fallback.
//!
//! Each decoder gets the human-readable part of the bounce (the text before the returned
//! original) and returns the recipients it recognises, in order, with what it could read
//! about each. Decoders are tried in order; the first one that recognises its family's
//! wording and yields recipients wins. The generic scanner runs last.
//!
//! Decoders never decide a reason unless the format itself says so (an expiry notice), which
//! they pass as a hint to the classifier.

pub mod amazonses;
pub mod exchange;
pub mod exim;
pub mod generic;
pub mod gmail;
pub mod postfix;
pub mod qmail;
pub mod sendmail;

use mailerd_types::{DsnAction, EnhancedStatus, Reason};

use crate::text::{find_reply_code, find_status, leading_reply_code};

/// What a decoder found about one recipient.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub recipient: String,
    pub original_recipient: Option<String>,
    pub action: Option<DsnAction>,
    pub status: Option<EnhancedStatus>,
    pub reply_code: Option<u16>,
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    pub last_attempt: Option<String>,
    /// `Will-Retry-Until` of a delayed recipient, as written.
    pub will_retry_until: Option<String>,
    pub hint: Option<Reason>,
    pub decoded_by: &'static str,
    /// The diagnostic is the reporting MTA's own judgement (`Diagnostic-Code: X-Postfix; ...`,
    /// a local delivery), not a remote server's reply: no SMTP command applies to it.
    pub own_words: bool,
}

impl Found {
    pub fn new(recipient: String, decoded_by: &'static str) -> Self {
        Found {
            recipient,
            decoded_by,
            ..Found::default()
        }
    }

    /// Sets the diagnostic and reads the reply code and enhanced status out of it, unless
    /// they are already known.
    pub fn set_diagnostic(&mut self, d: &str) {
        // A diagnostic is a few lines; anything longer is a runaway block (bounded work).
        let d = crate::text::squash(crate::prefix(d, 4096));
        if d.is_empty() {
            return;
        }
        self.fill_codes(&d);
        self.diagnostic = Some(d);
    }

    /// Reads a reply code and enhanced status from `d` where still missing.
    pub fn fill_codes(&mut self, d: &str) {
        if self.reply_code.is_none() {
            self.reply_code = leading_reply_code(d).or_else(|| find_reply_code(d));
        }
        if self.status.is_none() {
            self.status = find_status(d, self.reply_code);
        }
    }
}

/// What the decoders know about the message around the text.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The text before the returned original.
    pub human: &'a str,
    /// `human` in ASCII lower case (same byte offsets), for fast phrase search.
    pub low: &'a str,
    pub subject: &'a str,
    /// The bounce's From address, lower-case.
    pub from: &'a str,
    /// Addresses that are never a failed recipient here (the bounce's own From and To).
    pub exclude: &'a [String],
    /// Addresses of the `X-Failed-Recipients:` header(s).
    pub x_failed: &'a [String],
    /// Where `low` with white-space runs squashed is kept once made ([`Ctx::flat`]), shared
    /// with the caller's later reading of the same text; `None`: made on each use.
    pub flat: Option<&'a std::cell::OnceCell<String>>,
}

impl<'a> Ctx<'a> {
    /// The context of a notice's text alone (`low` is `human` lower-cased): no subject, From,
    /// excluded addresses or `X-Failed-Recipients:`. For tests and tools; fields can be set
    /// over it (`Ctx { from, ..Ctx::text_only(human, low) }`).
    pub fn text_only(human: &'a str, low: &'a str) -> Ctx<'a> {
        Ctx {
            human,
            low,
            subject: "",
            from: "",
            exclude: &[],
            x_failed: &[],
            flat: None,
        }
    }

    /// `low` with every white-space run as one space (wrapped phrases read as one line).
    pub fn flat(&self) -> std::borrow::Cow<'a, str> {
        match self.flat {
            Some(cell) => std::borrow::Cow::Borrowed(
                cell.get_or_init(|| crate::text::squash(self.low)).as_str(),
            ),
            None => std::borrow::Cow::Owned(crate::text::squash(self.low)),
        }
    }
}

impl Ctx<'_> {
    pub fn excluded(&self, addr: &str) -> bool {
        self.exclude.iter().any(|e| e.eq_ignore_ascii_case(addr))
    }
}

/// A family decoder: `None` when the text is not in its family's wording.
type Decoder = fn(&Ctx<'_>) -> Option<Vec<Found>>;

/// Runs the family decoders, then the generic one.
pub fn decode(ctx: &Ctx<'_>) -> Vec<Found> {
    let decoders: [Decoder; 6] = [
        qmail::decode,
        exim::decode,
        sendmail::decode,
        exchange::decode,
        gmail::decode,
        postfix::decode,
    ];
    let mut out = Vec::new();
    for d in decoders {
        if let Some(v) = d(ctx)
            && !v.is_empty()
        {
            out = v;
            break;
        }
    }
    if out.is_empty() {
        out = generic::decode(ctx);
    }
    // Someone who wrote to themselves: the bounce's To may be the failed recipient too.
    if out.is_empty() && ctx.exclude.len() > 1 {
        let only_from = [ctx.from.to_string()];
        let relaxed = Ctx {
            exclude: &only_from,
            ..*ctx
        };
        return decode(&relaxed);
    }
    complete(ctx, &mut out);
    mark_delays(ctx, &mut out);
    for f in &mut out {
        if f.remote_mta.is_none() {
            f.remote_mta = f.diagnostic.as_deref().and_then(remote_host);
        }
    }
    out
}

/// Wording of delay warnings ("still retrying, nothing to do"), any family.
const DELAY_WORDS: &[&str] = &[
    "warning message only",
    "this is a warning only",
    "this is just a warning",
    "is a warning only",
    "has been delayed",
    "has not yet been delivered",
    "will continue to attempt",
    "will continue trying",
    "will be retried",
    "still being retried",
    "delivery is delayed",
    "you do not need to resend",
];

/// Wording that a delivery was given up.
const FINAL_WORDS: &[&str] = &[
    "failed permanently",
    "permanent error",
    "permanent fatal",
    "could not be delivered",
    "i've given up",
    "giving up",
];

/// A text bounce that says it is only a delay warning: recipients without an action are
/// `delayed` (the format says so; the classifier decides the reason).
fn mark_delays(ctx: &Ctx<'_>, out: &mut [Found]) {
    static DELAY: std::sync::LazyLock<crate::text::Phrases> =
        std::sync::LazyLock::new(|| crate::text::Phrases::new(DELAY_WORDS));
    static FINAL: std::sync::LazyLock<crate::text::Phrases> =
        std::sync::LazyLock::new(|| crate::text::Phrases::new(FINAL_WORDS));
    let head = crate::prefix(ctx.low, 16 << 10);
    let delayed = DELAY.any_in(head) && !FINAL.any_in(head);
    if delayed {
        for f in out.iter_mut().filter(|f| f.action.is_none()) {
            f.action = Some(DsnAction::Delayed);
        }
    } else if out.iter().any(|f| f.action.is_none()) {
        // A notice that says it gave up (`your message could not be delivered to one or
        // more recipients`) and nothing of retrying: its recipients failed, whatever the
        // nature of the reply (Postfix's `mail for x loops back to myself` has no code).
        // Read with line breaks as spaces: the words are often wrapped.
        let flat = ctx.flat();
        let flat = crate::prefix(&flat, 16 << 10);
        if FINAL.any_in(flat) && !DELAY.any_in(flat) {
            for f in out.iter_mut().filter(|f| f.action.is_none()) {
                f.action = Some(DsnAction::Failed);
            }
        }
    }
}

/// The remote host in a diagnostic: `host mx.example.org[192.0.2.1] said:`,
/// `host mx.example.org [192.0.2.1]:`, `while talking to mx.example.org:`.
pub fn remote_host(diag: &str) -> Option<String> {
    for p in ["host ", "while talking to "] {
        let Some(at) = crate::text::find_ci(diag, p) else {
            continue;
        };
        let rest = diag.get(at + p.len()..)?;
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-' || *c == '_')
            .collect();
        let word = word.trim_end_matches('.');
        if word.contains('.') && word.bytes().any(|c| c.is_ascii_alphabetic()) {
            return Some(word.to_ascii_lowercase());
        }
    }
    None
}

/// The reply on line `i` (code `code`) that names a recipient. One line of a multi-line reply
/// (`550-...` lines, then `550 ...`) stands for the whole reply: IMail quotes
/// `550-REJECTED - Blacklisted URL ...` and names the recipient only in a later line
/// (`550-F=[s@x] T=[r@y] ...`). Otherwise the line, with the next one when it is indented.
fn reply_at(ls: &[&str], i: usize, code: u16) -> String {
    if let Some((a, b)) = reply_lines(ls, i, code) {
        return ls[a..=b]
            .iter()
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join(" ");
    }
    let mut d = ls[i].trim().to_string();
    if let Some(n) = ls.get(i + 1)
        && n.starts_with(' ')
        && !n.trim().is_empty()
    {
        d.push(' ');
        d.push_str(n.trim());
    }
    d
}

/// The first and last line of the multi-line reply with code `code` (RFC 5321 4.2.1:
/// `NNN-text` lines, then one `NNN text`) that line `i` belongs to, when it is one of at least
/// two such lines. At most 30 lines.
fn reply_lines(ls: &[&str], i: usize, code: u16) -> Option<(usize, usize)> {
    let part = |l: &str, sep: u8| {
        leading_reply_code(l) == Some(code) && l.trim_start().as_bytes().get(3) == Some(&sep)
    };
    let (cont, last) = (|l: &str| part(l, b'-'), |l: &str| part(l, b' '));
    let line = ls.get(i)?;
    if !cont(line) && !last(line) {
        return None;
    }
    let mut a = i;
    while a > 0 && i - a < 30 && cont(ls[a - 1]) {
        a -= 1;
    }
    let mut b = i;
    while cont(ls[b]) && b - a < 30 && ls.get(b + 1).is_some_and(|n| cont(n) || last(n)) {
        b += 1;
    }
    (b > a).then_some((a, b))
}

/// Fills in reply codes and statuses a decoder could not tie to a recipient: a line that
/// names the recipient and carries a reply; for a single recipient, the server's words after
/// `... said:`-style phrases, else the first `NNN X.Y.Z` line of the text.
pub fn complete(ctx: &Ctx<'_>, out: &mut [Found]) {
    let missing = |f: &Found| f.reply_code.is_none() && f.status.is_none();
    if !out.iter().any(missing) {
        return;
    }
    let ls: Vec<&str> = crate::text::lines(ctx.human).take(3000).collect();
    // bounded work: a per-recipient search only for reasonably sized lists
    for f in out.iter_mut().filter(|f| missing(f)).take(100) {
        // (Lower-cased once, not once per line.)
        let rlow = f.recipient.to_ascii_lowercase();
        for (i, l) in ls.iter().enumerate() {
            if crate::text::contains_ci(l, &rlow)
                && let Some(c) = find_reply_code(l)
                && c >= 400
            {
                f.set_diagnostic(&reply_at(&ls, i, c));
                break;
            }
        }
    }
    if out.len() == 1
        && missing(&out[0])
        && let Some(s) = generic::said_text(ctx)
    {
        out[0].set_diagnostic(&s);
    }
    if out.len() == 1 && missing(&out[0]) {
        // the first `NNN X.Y.Z` reply in the text, else the first line that starts with a
        // failure reply code
        let with_status = ls.iter().map(|l| l.trim()).find(|t| {
            find_reply_code(t).is_some_and(|c| c >= 400 && find_status(t, Some(c)).is_some())
        });
        let leading = || {
            ls.iter()
                .map(|l| l.trim())
                .find(|t| leading_reply_code(t).is_some_and(|c| c >= 400))
        };
        if let Some(t) = with_status.or_else(leading) {
            out[0].set_diagnostic(t);
        }
    }
    own_words(&ls, out);
}

/// The reporting MTA's own words ([`reason_parts`]) for a single recipient: its diagnostic
/// when it has none, or in place of one that is only the notice's wrapper sentence (dma:
/// `There was an error delivering your mail to <addr>.`, no reply quoted) when those words
/// (`DNS lookup failure: host x not found`) name a reason.
fn own_words(ls: &[&str], out: &mut [Found]) {
    let [f] = out else { return };
    let wrapper_only = f.reply_code.is_none() && f.status.is_none();
    if f.diagnostic.is_some() && !wrapper_only {
        return;
    }
    let Some((own, after)) = reason_parts(ls, &f.recipient) else {
        return;
    };
    let p = join_parts(&own, &after);
    // (Cheapest tests first: naming a reason runs the rule table.)
    let replace = match f.diagnostic.as_deref() {
        None => true,
        Some(d) => {
            p.len() > d.len()
                && crate::classify::names_reason(&p)
                && !crate::classify::names_reason(d)
        }
    };
    if !replace {
        return;
    }
    // The rest of the recipient's line is only the wrapper (`There was an error delivering
    // your mail to`) when it names no reason and the lines after it do: those lines alone.
    if !own.is_empty()
        && !after.is_empty()
        && crate::classify::names_reason(&after)
        && !crate::classify::names_reason(&own)
    {
        f.set_diagnostic(&after);
    } else {
        f.set_diagnostic(&p);
    }
}

fn join_parts(own: &str, after: &str) -> String {
    match (own.is_empty(), after.is_empty()) {
        (true, _) => after.to_string(),
        (_, true) => own.to_string(),
        _ => format!("{own} {after}"),
    }
}

/// The reporting MTA's own words about one recipient when no reply is quoted: the lines
/// right after the line that names the recipient (else the paragraph before it), without the
/// address-only lines and separators. At most a few lines.
///
/// In two parts: the rest of the recipient's own line, and the lines after it (or, when both
/// are missing, the paragraph before it; or the notice's first paragraphs when no line names
/// the recipient). Never both empty.
fn reason_parts(ls: &[&str], recipient: &str) -> Option<(String, String)> {
    let rlow = recipient.to_ascii_lowercase();
    let Some(at) = ls.iter().position(|l| crate::text::contains_ci(l, &rlow)) else {
        // The text does not name the recipient (it came from a header or the original):
        // the first paragraph of the notice is the MTA's explanation.
        // Skip salutations ("Hello a@b,"): paragraphs of some substance, at most two.
        let mut out = String::new();
        let mut para = String::new();
        let mut taken = 0;
        for l in ls.iter().map(|l| l.trim()).chain(std::iter::once("")) {
            if l.is_empty() {
                if para.len() >= 30 {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(&para);
                    taken += 1;
                    if taken == 2 || out.len() > 200 {
                        break;
                    }
                }
                para.clear();
                continue;
            }
            if !para.is_empty() {
                para.push(' ');
            }
            para.push_str(crate::prefix(l, 1024));
        }
        return (!out.is_empty()).then(|| (String::new(), out));
    };
    let useful = |l: &str| {
        let t = l.trim().trim_matches(['<', '>', '*', '-', '=', ' ', '\t']);
        !t.is_empty() && !t.eq_ignore_ascii_case(recipient) && t.len() > 3
    };
    // the rest of the recipient's own line (`User mailbox exceeds allowed size: a@b`)
    let own = ls[at].replace(recipient, " ");
    let own = own
        .trim()
        .trim_matches(['<', '>', ':', '：', '*', '-', ' ', '\t', '.']);
    let own = if own.chars().count() > 8 { own } else { "" };
    let mut out = String::new();
    let mut n = 0;
    let mut started = false;
    for l in ls.iter().skip(at + 1).take(12) {
        if l.trim().is_empty() {
            // A heading of its own gives way to its paragraph: a short line that ends in a
            // colon (`because:`, `Reason:`) or is written without Latin letters (QQ's
            // `退信原因`, "reason for the bounce").
            let heading = n == 1
                && out.chars().count() <= 24
                && (out.ends_with(':')
                    || out.ends_with('：')
                    || !out.bytes().any(|b| b.is_ascii_alphabetic()))
                && !crate::classify::names_reason(&out);
            if started && !heading {
                break;
            }
            if heading {
                out.clear();
                n = 0;
                started = false;
            }
            continue;
        }
        if l.trim().starts_with("-----") || l.trim().starts_with("=====") {
            if started {
                break;
            }
            continue;
        }
        if useful(l) {
            started = true;
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(l.trim());
            n += 1;
            if n >= 4 {
                break;
            }
        }
    }
    if own.is_empty() && out.is_empty() {
        // the paragraph before the recipient line
        let mut before: Vec<&str> = Vec::new();
        for l in ls[..at].iter().rev().take(8) {
            if l.trim().is_empty() {
                if !before.is_empty() {
                    break;
                }
                continue;
            }
            if useful(l) {
                before.push(l.trim());
            }
        }
        before.reverse();
        out = before.join(" ");
    }
    let out = out.trim();
    (!own.is_empty() || !out.is_empty()).then(|| (own.to_string(), out.to_string()))
}

/// The most recipients read from one message.
pub const MAX_RECIPIENTS: usize = 2000;

/// Adds or merges a recipient into a list (same address, case-insensitive): keeps the first
/// position, completes missing facts.
pub fn push_merge(list: &mut Vec<Found>, f: Found) {
    // bounded work: no bounce lists more recipients than this
    if list.len() >= MAX_RECIPIENTS {
        return;
    }
    if let Some(e) = list
        .iter_mut()
        .find(|e| e.recipient.eq_ignore_ascii_case(&f.recipient))
    {
        // The first mention without a reply code or status (Exchange's summary line `addr
        // (addr)` or a display name) gives way to a later block that has the server's reply.
        let uncoded = |x: &Found| x.reply_code.is_none() && x.status.is_none();
        if e.diagnostic.is_none() || (uncoded(e) && !uncoded(&f) && f.diagnostic.is_some()) {
            e.diagnostic = f.diagnostic;
        }
        if e.reply_code.is_none() {
            e.reply_code = f.reply_code;
        }
        if e.status.is_none() {
            e.status = f.status;
        }
        if e.remote_mta.is_none() {
            e.remote_mta = f.remote_mta;
        }
        if e.hint.is_none() {
            e.hint = f.hint;
        }
        return;
    }
    list.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `complete` before the recipient was lower-cased once per recipient.
    fn complete_reference(ctx: &Ctx<'_>, out: &mut [Found]) {
        let missing = |f: &Found| f.reply_code.is_none() && f.status.is_none();
        if !out.iter().any(missing) {
            return;
        }
        let ls: Vec<&str> = crate::text::lines(ctx.human).take(3000).collect();
        // bounded work: a per-recipient search only for reasonably sized lists
        for f in out.iter_mut().filter(|f| missing(f)).take(100) {
            for (i, l) in ls.iter().enumerate() {
                if crate::text::contains_ci(l, &f.recipient.to_ascii_lowercase())
                    && let Some(c) = find_reply_code(l)
                    && c >= 400
                {
                    f.set_diagnostic(&reply_at(&ls, i, c));
                    break;
                }
            }
        }
        if out.len() == 1
            && missing(&out[0])
            && let Some(s) = generic::said_text(ctx)
        {
            out[0].set_diagnostic(&s);
        }
        if out.len() == 1 && missing(&out[0]) {
            // the first `NNN X.Y.Z` reply in the text, else the first line that starts with a
            // failure reply code
            let with_status = ls.iter().map(|l| l.trim()).find(|t| {
                find_reply_code(t).is_some_and(|c| c >= 400 && find_status(t, Some(c)).is_some())
            });
            let leading = || {
                ls.iter()
                    .map(|l| l.trim())
                    .find(|t| leading_reply_code(t).is_some_and(|c| c >= 400))
            };
            if let Some(t) = with_status.or_else(leading) {
                out[0].set_diagnostic(t);
            }
        }
        own_words(&ls, out);
    }

    proptest::proptest! {
        #[test]
        fn complete_is_unchanged(
            parts in proptest::collection::vec("(Bob@X\\.example|bob@x\\.example|al@y\\.example|550 5\\.1\\.1 user unknown|550-blocked|451 4\\.7\\.1 try later|said: |[a-z]{1,6}| |\n|\n |\r\n|\u{e9}|:)", 0..60),
            rcpts in proptest::collection::vec("(bob@x\\.example|Al@Y\\.example|c@z\\.example)", 1..3),
        ) {
            let human = parts.concat();
            let got = completed(&human, &rcpts, complete);
            let want = completed(&human, &rcpts, complete_reference);
            proptest::prop_assert_eq!(got, want);
        }
    }

    /// `how` (`complete` or its reference) over `human` for these recipients.
    fn completed(human: &str, rcpts: &[String], how: fn(&Ctx<'_>, &mut [Found])) -> Vec<Found> {
        let low = human.to_ascii_lowercase();
        let ctx = Ctx::text_only(human, &low);
        let mut out: Vec<Found> = rcpts
            .iter()
            .map(|r| Found::new(r.clone(), "Generic"))
            .collect();
        how(&ctx, &mut out);
        out
    }

    fn check(diag: &str, expected: Option<&str>) {
        assert_eq!(remote_host(diag).as_deref(), expected, "input {diag:?}");
    }

    #[test]
    fn a_multi_line_reply_is_read_whole() {
        let human = "Body of message generated response:\n\
                     550-REJECTED - Blacklisted URL in message.\n\
                     550-F=[s@example.org] T=[r@example.jp] S=[HOT\n\
                     550 DEALS\n\
                     \n\
                     550 5.1.1 other@example.jp unknown\n";
        let rcpts = ["r@example.jp".to_string(), "other@example.jp".to_string()];
        let out = completed(human, &rcpts, complete);
        assert_eq!(
            out[0].diagnostic.as_deref(),
            Some(
                "550-REJECTED - Blacklisted URL in message. \
                 550-F=[s@example.org] T=[r@example.jp] S=[HOT 550 DEALS"
            )
        );
        // a one-line reply stays one line
        assert_eq!(
            out[1].diagnostic.as_deref(),
            Some("550 5.1.1 other@example.jp unknown")
        );
    }

    #[test]
    fn the_reporting_mtas_own_words_after_a_wrapper_sentence() {
        let human = "There was an error delivering your mail to <a@example.jp>.\n\n\
                     DNS lookup failure: host example.jp not found\n\n\
                     Message headers follow.\n";
        let mut out = vec![Found::new("a@example.jp".into(), "Generic")];
        out[0].set_diagnostic("There was an error delivering your mail to <a@example.jp>.");
        let ls: Vec<&str> = crate::text::lines(human).collect();
        own_words(&ls, &mut out);
        assert_eq!(
            out[0].diagnostic.as_deref(),
            Some("DNS lookup failure: host example.jp not found")
        );
        // a diagnostic that names a reason already is kept
        let mut kept = vec![Found::new("a@example.jp".into(), "Generic")];
        kept[0].set_diagnostic("mailbox full");
        own_words(&ls, &mut kept);
        assert_eq!(kept[0].diagnostic.as_deref(), Some("mailbox full"));
    }

    #[test]
    fn remote_hosts() {
        check(
            "host mx.example.org[192.0.2.1] said: 550 5.1.1 unknown",
            Some("mx.example.org"),
        );
        check(
            "SMTP error from remote mail server after RCPT TO:<a@b.c>: host MX.Example.JP [192.0.2.20]: 550",
            Some("mx.example.jp"),
        );
        check(
            "... while talking to mail.example.com.:",
            Some("mail.example.com"),
        );
        check("host unknown", None);
    }
}
