//! From the evidence about one recipient (status, reply, diagnostic text, remote host) to a
//! [`Reason`], a [`Category`] and temporary-or-permanent.
//!
//! What it does (standards sec. 6.1):
//!
//! 1. A reason the MTA family's decoder already knows for sure ([`Evidence::hint`]) wins;
//!    a generic hint (expired, undefined, onhold, systemerror, networkerror) gives way to a
//!    precise reason in the remote server's words (qmail and Exim append their expiry wording
//!    to every final failure).
//! 2. Text: the diagnostic is unfolded, lower-cased and its e-mail addresses replaced by
//!    `addr`, then matched against the ordered rule table in `rules.rs` (one pass over the text
//!    finds the literal anchors present, only the rules behind them are tried, and the first
//!    rule in table order wins). Text wins over a conflicting code because providers overload
//!    codes; only the weak wordings at the end of the table ("service unavailable", "access
//!    denied", "giving up") give way to a precise enhanced code.
//! 3. The winner is refined with the SMTP stage (read from the text: `in reply to RCPT TO
//!    command`, `after end of data`, ...) and the status, the way Sisimai judges: a "user
//!    unknown" answered after `DATA` without an addressing status (X.1.x), or with X.2.0/X.2.1
//!    when the stage is not RCPT, is a filter's refusal (`filtered`); one answered to `MAIL
//!    FROM` refuses the sender (`rejected`); a size refusal with X.2.3 is `exceedlimit`; a
//!    connection that timed out until the queue gave up is `expired`.
//! 4. No text rule: the enhanced status alone (`codes.rs`, registry plus provider usages,
//!    unknown details falling back to X.Y.0), `expired` for a bare delay notice, then the
//!    basic reply code alone, then `onhold` for words nothing understood, `undefined` for no
//!    evidence at all.
//!
//! Temporary or permanent comes from the `Action` (`delayed` is temporary; `failed` is final
//! even with a 4.x.x status, as after expiry), else from the MTA saying it gave up, else from
//! the reply code's first digit, else from the status class, else from the nature of the
//! reason. The status reported is the given one (replaced by the remote server's own code
//! right after its reply code when that one is more precise or of the other class), else the
//! first one in the text, else the reason's pseudo status `X.0.9NN` (`4.0.9NN` after a 4yz
//! reply or for a delay notice). A hard bounce needs a permanent failure of the address
//! itself (`Reason::is_hard_bounce`), and a domain failure with a 4.x.x status is never one.
//!
//! What it does not do: it parses no message (that is the MTA-family decoders' job), keeps no
//! state, does no I/O, and never panics. It knows nothing of our own transport outcome; the
//! delivery code passes that as a [`Evidence::hint`]. It cannot see the SMTP command a reply
//! answered unless the words say it, which limits the `filtered`/`userunknown` distinction.

mod anchor_table;
mod codes;
mod literal;
mod nfa;
mod rules;

/// The regex crate's reading of a rule phrase (bytes, no Unicode classes): what the
/// classifier's own matchers (`literal`, `nfa`) are tested against.
#[cfg(test)]
fn reference_regex(p: &str) -> regex::bytes::Regex {
    regex::bytes::RegexBuilder::new(p)
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("{p}: {e}"))
}

use mailerd_types::{Category, DsnAction, EnhancedStatus, Reason, SmtpReply};

/// What is known about one recipient's outcome.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    pub action: Option<DsnAction>,
    pub status: Option<EnhancedStatus>,
    pub reply_code: Option<u16>,
    /// The remote server's words or the reporting MTA's diagnosis, unfolded.
    pub diagnostic: &'a str,
    /// The remote server that answered, else (when the bounce does not name it) the
    /// recipient's domain, whose servers did. Some providers' conventions depend on it.
    pub remote_mta: Option<&'a str>,
    /// A reason the MTA family's decoder already knows for sure (e.g. an expiry notice).
    pub hint: Option<Reason>,
    /// The SMTP command the reply answered, when the bounce says so outside the diagnostic
    /// (a Postfix `(in reply to RCPT TO command)` in the human part, a Sendmail transcript),
    /// or [`SmtpCommand::NotStated`] when a bounce names none. `None` (a bare reply, such as
    /// our own client's): only the diagnostic's own words count.
    pub command: Option<SmtpCommand>,
}

/// The SMTP command a remote reply answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpCommand {
    /// The greeting, EHLO or HELO.
    Connect,
    Mail,
    Rcpt,
    Data,
    /// A bounce that does not say which command its reply answered. Like Sisimai, a "user
    /// unknown" then counts as a filter's refusal (`filtered`) unless an addressing status
    /// (X.1.x) says otherwise: a real unknown user is refused at RCPT, and MTAs say so.
    NotStated,
}

/// The command named by the words of a bounce (`in reply to RCPT TO command`, `after end of
/// data`, `>>> RCPT To:`), if one is. `text` must be lower-case.
pub fn command_in(text: &str) -> Option<SmtpCommand> {
    match stage(text) {
        Stage::Connect => Some(SmtpCommand::Connect),
        Stage::Mail => Some(SmtpCommand::Mail),
        Stage::Rcpt => Some(SmtpCommand::Rcpt),
        Stage::Data => Some(SmtpCommand::Data),
        Stage::Unknown | Stage::NotStated => None,
    }
}

/// The classifier's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub reason: Reason,
    pub category: Category,
    pub permanent: bool,
    pub hard_bounce: bool,
    /// The status to report: the given one, else the one in the text, else the pseudo status.
    pub status: Option<EnhancedStatus>,
}

/// The SMTP stage a reply answered, as far as the evidence tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Unknown,
    Connect,
    Mail,
    Rcpt,
    Data,
    /// A bounce that names no command (see [`SmtpCommand::NotStated`]).
    NotStated,
}

/// Classifies one recipient's evidence. Never panics.
pub fn classify(e: &Evidence<'_>) -> Classification {
    let text = normalize(e.diagnostic);
    let stage = match (stage(&text), e.command) {
        (Stage::Unknown, Some(c)) => match c {
            SmtpCommand::Connect => Stage::Connect,
            SmtpCommand::Mail => Stage::Mail,
            SmtpCommand::Rcpt => Stage::Rcpt,
            SmtpCommand::Data => Stage::Data,
            // A refusal worded about the recipient ("invalid recipient", "recipient address
            // rejected", "unknown recipient") answered the recipient, whatever the bounce says.
            SmtpCommand::NotStated if text.contains("recipient") => Stage::Rcpt,
            SmtpCommand::NotStated => Stage::NotStated,
        },
        (s, _) => s,
    };

    // A status written by the reporting MTA is taken unless it is a pseudo status (X.0.9NN is
    // never on the wire; a decoder may pass one through). The remote server's own enhanced
    // code (right after its reply code) is more precise than the reporting MTA's summary in
    // `Status:` (`Status: 5.0.0` with `550 5.1.1 ...`), unless it is only a class-level code
    // (X.Y.0).
    let given = e.status.filter(|s| !is_pseudo(*s));
    let in_reply = reply_status(e.diagnostic).filter(|t| {
        !is_pseudo(*t)
            && !t.is_success()
            && (t.detail != 0 || given.is_none_or(|g| g.subject == 0 && t.subject != 0))
    });
    let anywhere = || {
        EnhancedStatus::find(e.diagnostic)
            .map(|(s, _)| s)
            .filter(|s| !s.is_success() && !is_pseudo(*s))
    };
    // A `Status:` whose class contradicts the reply (`Status: 4.5.0` for `550 5.5.0`) gives way
    // to the reply's own code, even a class-level one.
    let in_reply = in_reply.or_else(|| {
        reply_status(e.diagnostic)
            .filter(|t| !is_pseudo(*t) && given.is_some_and(|g| g.class != t.class))
    });
    let status = match given {
        Some(g) => Some(
            in_reply
                .filter(|t| !g.is_success() && !t.is_success())
                .unwrap_or(g),
        ),
        None => in_reply.or_else(anywhere),
    };
    let reply = e
        .reply_code
        .or_else(|| reply_code_in(e.diagnostic).map(|(c, _)| c));
    let final_ = is_final(e.action, reply, status) || says_final(&text);

    // A success (`Action: delivered`/`relayed`/`expanded`, or a 2.X.X status with no failing
    // action) is a delivery, whatever the words.
    let success = matches!(
        e.action,
        Some(DsnAction::Delivered | DsnAction::Relayed | DsnAction::Expanded)
    ) || (e.action.is_none() && status.is_some_and(|s| s.is_success()));
    let decided = if success {
        (Reason::Delivered, None)
    } else {
        decide(&text, stage, status, reply, e.action, final_, e.remote_mta)
    };
    // A decoder's hint wins, except a generic one (an expiry notice, "undefined") when the
    // remote server's words say more: qmail appends "I'm not going to try again; this message
    // has been in the queue too long" to every final failure, whatever the remote reply was.
    let (mut reason, mut category) = match e.hint {
        Some(h)
            if is_generic(h)
                && !is_generic(decided.0)
                && rules::COMPILED.first(&text).is_some() =>
        {
            decided
        }
        Some(h) => (h, None),
        None => decided,
    };
    if e.hint.is_none() || Some(reason) != e.hint {
        // The own-sending-limit and group categories come from the words; a bare X.5.3 or X.4.6
        // says "too many recipients" / "loop" whatever the text's reason.
        if category.is_none() {
            category = status.and_then(|s| match (s.subject, s.detail) {
                (5, 3) => Some(Category::TooManyRecipients),
                (4, 6) => Some(Category::MailLoop),
                _ => None,
            });
        }
        if reason == Reason::Undefined && !text.trim().is_empty() {
            reason = Reason::OnHold;
        }
    }

    let permanent = permanent(e.action, reply, status, reason, says_final(&text));
    let mut category = category.unwrap_or_else(|| Category::for_reason(reason, permanent));
    // Expiry is final by nature; while still retrying it is a temporary problem.
    if reason == Reason::Expired && !permanent && category == Category::MessageExpired {
        category = Category::TemporaryProblem;
    }
    // Standards sec. 6.2 evaluates "Delivery expired (Action failed + 4.x.x)" before any
    // wording: a recipient the reporting MTA failed with a transient status was retried until
    // its queue gave up (Postfix's `maximal_queue_lifetime`, Exim's "retry timeout exceeded").
    // The remote server's last words still give the reason (Sisimai's convention). A 5yz
    // reply under a `Status: 4.0.0` (Postfix's proxy refusals) was not retried.
    if e.action == Some(DsnAction::Failed)
        && status.is_some_and(|s| s.is_transient())
        && reply.is_none_or(|c| (400..500).contains(&c))
    {
        category = Category::MessageExpired;
    }
    if !reason.is_failure() {
        category = Category::for_reason(reason, permanent);
    }
    let hard_bounce = hard_bounce(reason, permanent, status);
    // A pseudo status passed by a decoder (the MTA family's convention, e.g. Exim's sender
    // refusals) stands when the bounce carries no real one.
    let status = match status {
        Some(s) => Some(s),
        None => e
            .status
            .filter(|s| is_pseudo(*s))
            .or_else(|| reason.pseudo_status(pseudo_permanent(e.action, reply, &text, permanent))),
    };
    Classification {
        reason,
        category,
        permanent,
        hard_bounce,
        status,
    }
}

/// Text rules, then codes (standards sec. 6.1 steps 3-6), with the refinements by stage and
/// status.
fn decide(
    text: &str,
    stage: Stage,
    status: Option<EnhancedStatus>,
    reply: Option<u16>,
    action: Option<DsnAction>,
    final_: bool,
    remote: Option<&str>,
) -> (Reason, Option<Category>) {
    // Weak wordings (the last rules of the table: "service unavailable", "access denied",
    // qmail's "giving up", "does not like recipient") give way to a precise status code.
    let rule = rules::COMPILED.first(text).filter(|r| {
        !(r.weak
            && status
                .filter(|s| s.detail != 0)
                .and_then(|s| codes::from_status(s, final_ || action == Some(DsnAction::Delayed)))
                .is_some())
    });
    if let Some(rule) = rule {
        let sub = status.map(|s| (s.subject, s.detail));
        let reason = match rule.reason {
            // Refused in answer to MAIL FROM: it is the sender that does not exist.
            Reason::UserUnknown | Reason::HostUnknown if stage == Stage::Mail => Reason::Rejected,
            // A mailbox that is "not available" with X.2.1 (mailbox disabled) is suspended.
            Reason::UserUnknown
                if rule.name == "mailbox-not-found"
                    && sub == Some((2, 1))
                    && (text.contains("not available") || text.contains("unavailable")) =>
            {
                Reason::Suspend
            }
            // au/KDDI (ezweb.ne.jp, au.com) answers `550 <addr>: User unknown` for a mailbox that
            // does not exist; its filter's refusal is `550 : User unknown` (rule kddi-filtered).
            Reason::UserUnknown
                if rule.name == "mailbox-not-found"
                    && remote.is_some_and(is_kddi)
                    && text.contains("<addr>: user unknown") =>
            {
                Reason::UserUnknown
            }
            // Sisimai's distinction: a recipient refused after the message was sent (DATA) with
            // no addressing status (X.1.x), or with a mailbox status (X.2.0, X.2.1) when the
            // stage is not known to be RCPT, was refused by a filter. (Sisimai also says so for
            // any other status when the stage is unknown; without the SMTP command in the
            // evidence that would turn most plain "550 User unknown" into `filtered`.)
            Reason::UserUnknown
                if rule.name == "mailbox-not-found"
                    && ((matches!(stage, Stage::Data | Stage::NotStated)
                        && sub.is_none_or(|(s, _)| s != 1))
                        || (stage != Stage::Rcpt
                            && matches!(sub, Some((2, 0)) | Some((2, 1))))) =>
            {
                Reason::Filtered
            }
            // "Not our customer", "no longer on server" with X.1.1 (bad destination mailbox
            // address, Comcast `550 5.1.1 <addr> Not our Customer`): the address does not
            // exist; with 551 or X.1.6 it has moved.
            Reason::HasMoved if sub == Some((1, 1)) => Reason::UserUnknown,
            // The message is larger than the recipient's own limit (X.2.3).
            Reason::MesgTooBig if sub == Some((2, 3)) => Reason::ExceedLimit,
            // A connection that timed out until the queue gave up (or still retries) is an
            // expiry.
            Reason::NetworkError
                if rule.name == "connection"
                    && (final_
                        || action == Some(DsnAction::Delayed)
                        || matches!(sub, Some((4, 1)) | Some((4, 7))))
                    && is_timeout(text) =>
            {
                Reason::Expired
            }
            // A bare "access denied" in answer to MAIL FROM refuses the sender.
            Reason::SecurityError if rule.name == "access-denied" && stage == Stage::Mail => {
                Reason::Rejected
            }
            // A malformed DNS answer that ended the delivery for good (Postfix 5.4.4): the domain
            // cannot be resolved.
            Reason::NetworkError
                if rule.name == "dns-temporary"
                    && text.contains("malformed")
                    && status.is_some_and(|s| s.is_permanent()) =>
            {
                Reason::HostUnknown
            }
            r => r,
        };
        // The rule's category describes the rule's reason; a refusal of the sender found by the
        // refinement is not an address problem.
        let category = rule
            .category
            .filter(|_| reason != Reason::Rejected || rule.reason == reason);
        return (reason, category);
    }
    if stage == Stage::Mail {
        // Nothing in the words, but the server refused the envelope sender.
        return (Reason::Rejected, None);
    }
    if let Some(rc) =
        status.and_then(|s| codes::from_status(s, final_ || action == Some(DsnAction::Delayed)))
    {
        return rc;
    }
    // A delay notice that says nothing more: the message is waiting for its expiry (Sisimai
    // reports these as `expired`; the category stays "temporary problem").
    if action == Some(DsnAction::Delayed) {
        return (Reason::Expired, None);
    }
    if let Some(r) = reply.and_then(codes::from_reply) {
        return (r, None);
    }
    if final_ && status.is_some_and(|s| s.is_transient()) {
        return (Reason::Expired, None);
    }
    (Reason::Undefined, None)
}

/// A host (or recipient domain) of au/KDDI's mobile mail: `ezweb.ne.jp`, `au.com`.
fn is_kddi(host: &str) -> bool {
    // `lsean.ezweb.ne.jp (TCP|...)`: the name is the first word
    let h = host
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    ["ezweb.ne.jp", "au.com"]
        .iter()
        .any(|d| h == *d || h.ends_with(&format!(".{d}")))
}

fn is_timeout(text: &str) -> bool {
    // (Searchers prepared once: `str::contains` prepares its searcher on every call.)
    static WORDS: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "timed out",
            "timeout",
            "did not accept our requests to connect",
            "no answer",
            "unable to connect",
            "establish an smtp connection",
            "not reachable",
            "unreachable",
        ])
    });
    WORDS.any_in(text)
}

/// Reasons that say little: a decoder's hint of one of these gives way to a precise reason
/// found in the remote server's words.
fn is_generic(r: Reason) -> bool {
    matches!(
        r,
        Reason::Expired
            | Reason::Undefined
            | Reason::OnHold
            | Reason::SystemError
            | Reason::NetworkError
    )
}

/// `true` when the reporting MTA says it gave up (qmail `I'm not going to try again`, Gmail
/// `failed permanently`).
fn says_final(text: &str) -> bool {
    static WORDS: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "not going to try again",
            "failed permanently",
            "permanent failure",
            "giving up",
        ])
    });
    WORDS.any_in(text)
}

/// `true` when delivery was given up: `Action: failed`, or a 5yz reply.
fn is_final(action: Option<DsnAction>, reply: Option<u16>, status: Option<EnhancedStatus>) -> bool {
    match action {
        Some(DsnAction::Failed) => true,
        Some(_) => false,
        None => match reply {
            Some(c) => c >= 500,
            None => status.is_some_and(|s| s.is_permanent()),
        },
    }
}

/// Temporary or permanent (standards sec. 6.1 and 3.4): `delayed` is temporary, `failed` is
/// final (also with a 4.x.x status after expiry); else the reply code's first digit, else the
/// status class, else the nature of the reason.
fn permanent(
    action: Option<DsnAction>,
    reply: Option<u16>,
    status: Option<EnhancedStatus>,
    reason: Reason,
    gave_up: bool,
) -> bool {
    match action {
        Some(DsnAction::Delayed) => return false,
        Some(DsnAction::Failed) => return true,
        _ => {}
    }
    if gave_up {
        return true;
    }
    if let Some(c) = reply {
        if (400..500).contains(&c) {
            return false;
        }
        if (500..600).contains(&c) {
            return true;
        }
    }
    if let Some(s) = status {
        if s.is_transient() {
            return false;
        }
        if s.is_permanent() {
            return true;
        }
    }
    !matches!(
        reason,
        Reason::NetworkError
            | Reason::SystemError
            | Reason::SystemFull
            | Reason::Speeding
            | Reason::TooManyConn
    )
}

/// A hard bounce (suppress the address): the reason says the address itself is bad and the
/// failure is final. A domain that merely failed to resolve with a temporary (4.x.x) status
/// is not proof that it does not exist.
fn hard_bounce(reason: Reason, permanent: bool, status: Option<EnhancedStatus>) -> bool {
    if matches!(reason, Reason::HostUnknown | Reason::NotAccept)
        && status.is_some_and(|s| s.is_transient())
    {
        return false;
    }
    reason.is_hard_bounce(permanent)
}

/// The class of a pseudo status: `4.0.9NN` after a 4yz reply or for a delay notice
/// (`Action: delayed`), else `5.0.9NN`.
fn pseudo_permanent(
    action: Option<DsnAction>,
    reply: Option<u16>,
    text: &str,
    permanent: bool,
) -> bool {
    if let Some(c) = reply {
        return !(400..500).contains(&c);
    }
    if action == Some(DsnAction::Delayed) {
        return false;
    }
    // Exim gives up with "retry timeout exceeded" / "all hosts have been failing for a long
    // time" after temporary errors only; Gmail says "temporary failure".
    static TEMPORARY: std::sync::LazyLock<crate::text::Phrases> = std::sync::LazyLock::new(|| {
        crate::text::Phrases::new(&[
            "retry timeout exceeded",
            "have been failing for a long time",
            "technical details of temporary failure",
        ])
    });
    if TEMPORARY.any_in(text) {
        return false;
    }
    permanent || action.is_none()
}

fn is_pseudo(s: EnhancedStatus) -> bool {
    s.subject == 0 && (900..=999).contains(&s.detail)
}

/// Does `text` alone name a reason by one of the table's specific (not weak) wordings? Used
/// by decoders to tell a reason written as a label (`User's mailbox is full: <addr>`) from a
/// label that only introduces the address.
pub fn names_reason(text: &str) -> bool {
    rules::COMPILED
        .first(&normalize(text))
        .is_some_and(|r| !r.weak)
}

/// The diagnostic as the rules read it: multi-line SMTP replies joined, lower-case ASCII,
/// whitespace collapsed, each e-mail address replaced by `addr` (so that local parts such as
/// `spam-report@` or `user-unknown@` cause no false hits).
fn normalize(diag: &str) -> String {
    let joined;
    let src = if diag.contains('\n') || diag.contains('\r') {
        joined = match SmtpReply::parse(diag) {
            Ok(r) => format!("{} {}", r.code, r.text()),
            Err(_) => diag.to_string(),
        };
        joined.as_str()
    } else {
        diag
    };
    let b = src.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut space = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            space = !out.is_empty();
            i += 1;
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        if is_address_byte(c) {
            let rest = b.get(i..).unwrap_or_default();
            let word = rest
                .get(
                    ..rest
                        .iter()
                        .position(|&c| !is_address_byte(c))
                        .unwrap_or(rest.len()),
                )
                .unwrap_or(rest);
            i += word.len();
            if memchr::memchr(b'@', word).is_some() {
                out.extend_from_slice(b"addr");
            } else {
                out.extend(word.iter().map(u8::to_ascii_lowercase));
            }
        } else {
            out.push(c.to_ascii_lowercase());
            i += 1;
        }
    }
    let out = strip_wrapper_hosts(out);
    // Whole words are copied or replaced, so the bytes stay UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Replaces the remote host's name in the reporting MTA's wrapper (`host mx.example.org[...]
/// said:`, Exim `host mx.example.org [...]`, Sendmail `while talking to mx.example.org.`) by
/// `remote`, so that a name such as `spamfilter.example.net` or `blocklist.example` causes no
/// false hit. Names elsewhere (`blocked using zen.spamhaus.org`) are kept: they are evidence.
fn strip_wrapper_hosts(b: Vec<u8>) -> Vec<u8> {
    const LEADS: [&[u8]; 2] = [b"host ", b"talking to "];
    // Searchers built once (`memmem::find` builds one per call, costlier than the search).
    static FIND_LEADS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 2]> =
        std::sync::LazyLock::new(|| LEADS.map(memchr::memmem::Finder::new));
    if !FIND_LEADS.iter().any(|f| f.find(&b).is_some()) {
        return b;
    }
    let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_';
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let lead = LEADS
            .iter()
            .find(|l| b[i..].starts_with(l) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()));
        if let Some(l) = lead {
            out.extend_from_slice(l);
            i += l.len();
            let start = i;
            while i < b.len() && is_name(b[i]) {
                i += 1;
            }
            let name = &b[start..i];
            let dotted = name.iter().filter(|&&c| c == b'.').count() >= 1
                && name.iter().any(|c| c.is_ascii_alphabetic());
            if dotted {
                out.extend_from_slice(b"remote");
            } else {
                out.extend_from_slice(name);
            }
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Bytes of an e-mail address word: ASCII letters, digits, the atext specials, `.` and `@`,
/// and any non-ASCII byte (so that UTF-8 sequences are never split).
#[inline]
fn is_address_byte(c: u8) -> bool {
    ADDRESS_BYTES[usize::from(c)]
}

/// [`is_address_byte`] for every byte (one load per byte in `normalize`'s scan).
static ADDRESS_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = address_byte_test(c as u8);
        c += 1;
    }
    t
};

const fn address_byte_test(c: u8) -> bool {
    // (A `match`, not a search of a byte string, which is a `memchr` call per byte.)
    c.is_ascii_alphanumeric()
        || c >= 0x80
        || matches!(
            c,
            b'.' | b'_'
                | b'%'
                | b'+'
                | b'-'
                | b'='
                | b'!'
                | b'#'
                | b'$'
                | b'&'
                | b'\''
                | b'*'
                | b'/'
                | b'?'
                | b'^'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'@'
        )
}

/// The phrases that name the stage a reply answered, one list per stage (see [`stage`]).
const STAGE_DATA: &[&str] = &[
    "in reply to end of data",
    "in reply to data",
    "after end of data",
    "after data",
    ">>> data",
    "failed after i sent the message",
    "during data",
    "(state 15)",
    "(state 17)",
    "(state 18)",
    // dma: `mx.example.jp [192.0.2.1] did not like our final DATA:`
    "did not like our final data",
    "did not like our data",
];
const STAGE_RCPT: &[&str] = &[
    "in reply to rcpt to",
    "after rcpt",
    ">>> rcpt to",
    "smtp:rcpt",
    "does not like recipient",
    "[rcpt_to]",
    "rejected recipient",
    "most progress was rcpt to",
    "(state 14)",
    "did not like our rcpt to",
];
const STAGE_MAIL: &[&str] = &[
    "in reply to mail from",
    "after mail from",
    "after mail command",
    ">>> mail from",
    "sender was rejected",
    "[mail_from]",
    "did not like our mail from",
];
const STAGE_CONN: &[&str] = &[
    "refused to talk to me",
    "after initial connection",
    "after ehlo",
    "after helo",
    "in reply to ehlo",
    "in reply to helo",
    "my name was rejected",
];

/// The stage the reply answered, from the usual wordings of Postfix (`in reply to end of DATA
/// command`), Exim (`after RCPT TO:`, `after end of data`), Sendmail (`>>> DATA`) and qmail
/// (`failed after I sent the message`, `does not like recipient`).
fn stage(text: &str) -> Stage {
    // The phrases' searchers are built once (a `str::contains` prepares its searcher anew on
    // every call, which costs more than the search on these short texts).
    static FINDERS: std::sync::LazyLock<[Vec<memchr::memmem::Finder<'static>>; 4]> =
        std::sync::LazyLock::new(|| {
            [STAGE_DATA, STAGE_RCPT, STAGE_MAIL, STAGE_CONN]
                .map(|l| l.iter().map(memchr::memmem::Finder::new).collect())
        });
    static ANY: std::sync::LazyLock<crate::text::Literals> = std::sync::LazyLock::new(|| {
        crate::text::Literals::new(
            STAGE_DATA
                .iter()
                .chain(STAGE_RCPT)
                .chain(STAGE_MAIL)
                .chain(STAGE_CONN),
        )
    });
    // The leftmost phrase's list says one stage the text names: the answer is the first (in
    // the order DATA, RCPT, MAIL, connection) of the lists before it that the text names, else
    // that one; the lists after it need no search.
    let Some(first) = ANY.leftmost_pattern(text.as_bytes()) else {
        return Stage::Unknown;
    };
    let [data, rcpt, mail, conn] = &*FINDERS;
    let has =
        |l: &[memchr::memmem::Finder<'static>]| l.iter().any(|f| f.find(text.as_bytes()).is_some());
    let lists = [
        (data, Stage::Data),
        (rcpt, Stage::Rcpt),
        (mail, Stage::Mail),
        (conn, Stage::Connect),
    ];
    let mut end = 0;
    for (l, st) in lists {
        end += l.len();
        if first < end || has(l) {
            return st;
        }
    }
    Stage::Unknown
}

/// The first SMTP reply code standing as a token in the text (`550 ...`, `said: 550-5.1.1`),
/// for diagnostics whose decoder did not pass one.
fn reply_code_in(text: &str) -> Option<(u16, usize)> {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        // Only a position with 4 or 5 can start a code: skip to the next one.
        match b
            .get(i..b.len() - 2)
            .and_then(|r| memchr::memchr2(b'4', b'5', r))
        {
            Some(off) => i += off,
            None => break,
        }
        let ok_before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        if ok_before
            && matches!(b[i], b'4' | b'5')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && b[i + 1] <= b'5'
            && matches!(b.get(i + 3), None | Some(b' ') | Some(b'-'))
        {
            let code = u16::from(b[i] - b'0') * 100
                + u16::from(b[i + 1] - b'0') * 10
                + u16::from(b[i + 2] - b'0');
            return Some((code, i));
        }
        i += 1;
    }
    None
}

/// The enhanced status written right after the first reply code of the text (`550 5.1.1`,
/// `550-'5.7.1`, `550: 5.2.2`), when its class agrees with the code (RFC 2034).
fn reply_status(text: &str) -> Option<EnhancedStatus> {
    let (code, at) = reply_code_in(text)?;
    let rest = text.get(at + 3..)?;
    let skip = rest
        .bytes()
        .take_while(|b| matches!(b, b' ' | b'-' | b'\'' | b'"' | b':' | b'#'))
        .count();
    let rest = rest.get(skip..)?;
    let (s, pos) = EnhancedStatus::find(rest.get(..rest.len().min(12))?)?;
    (pos == 0 && u16::from(s.class.digit()) == code / 100).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `stage` before it read the leftmost phrase's list.
    fn stage_reference(text: &str) -> Stage {
        let has = |l: &[&str]| l.iter().any(|p| text.contains(p));
        if has(STAGE_DATA) {
            Stage::Data
        } else if has(STAGE_RCPT) {
            Stage::Rcpt
        } else if has(STAGE_MAIL) {
            Stage::Mail
        } else if has(STAGE_CONN) {
            Stage::Connect
        } else {
            Stage::Unknown
        }
    }

    proptest::proptest! {
        #[test]
        fn stage_is_unchanged(t in "(in reply to end of data|after data|>>> data|\\(state 14\\)|\\(state 17\\)|in reply to rcpt to|after rcpt|>>> rcpt to|does not like recipient|after mail from|sender was rejected|\\[mail_from\\]|after ehlo|refused to talk to me|my name was rejected|data|rcpt|mail|[a-z]{1,6}| ){0,12}") {
            proptest::prop_assert_eq!(stage(&t), stage_reference(&t));
        }
    }

    #[test]
    fn normalize_strips_addresses_and_joins_lines() {
        assert_eq!(
            normalize("550 5.1.1 <Bob@Example.ORG>: Recipient   address rejected"),
            "550 5.1.1 <addr>: recipient address rejected"
        );
        assert_eq!(
            normalize("550-5.1.1 The email account\r\n550 5.1.1 does not exist."),
            "550 5.1.1 the email account does not exist."
        );
    }

    #[test]
    fn wrapper_host_names_are_not_evidence() {
        assert_eq!(
            normalize("host spamfilter.example.net[192.0.2.1] said: 550 5.1.1 Unknown"),
            "host remote[192.0.2.1] said: 550 5.1.1 unknown"
        );
        assert_eq!(
            normalize("Host or domain name not found"),
            "host or domain name not found"
        );
        assert!(normalize("blocked using zen.spamhaus.org").contains("zen.spamhaus.org"));
    }

    /// `reply_code_in` before it skipped to the candidate digits with memchr.
    fn reply_code_in_reference(text: &str) -> Option<(u16, usize)> {
        let b = text.as_bytes();
        let mut i = 0;
        while i + 3 <= b.len() {
            let ok_before = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
            if ok_before
                && matches!(b[i], b'4' | b'5')
                && b[i + 1].is_ascii_digit()
                && b[i + 2].is_ascii_digit()
                && b[i + 1] <= b'5'
                && matches!(b.get(i + 3), None | Some(b' ') | Some(b'-'))
            {
                let code = u16::from(b[i] - b'0') * 100
                    + u16::from(b[i + 1] - b'0') * 10
                    + u16::from(b[i + 2] - b'0');
                return Some((code, i));
            }
            i += 1;
        }
        None
    }

    #[test]
    fn address_bytes_are_the_atext_specials() {
        for c in 0..=255u8 {
            assert_eq!(is_address_byte(c), address_byte_test(c), "{c}");
            assert_eq!(
                is_address_byte(c),
                c.is_ascii_alphanumeric() || c >= 0x80 || b"._%+-=!#$&'*/?^`{|}~@".contains(&c),
                "{c}"
            );
        }
    }

    /// `normalize` before its address words were scanned with a table and `memchr`.
    fn normalize_reference(diag: &str) -> String {
        let joined;
        let src = if diag.contains('\n') || diag.contains('\r') {
            joined = match SmtpReply::parse(diag) {
                Ok(r) => format!("{} {}", r.code, r.text()),
                Err(_) => diag.to_string(),
            };
            joined.as_str()
        } else {
            diag
        };
        let b = src.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(b.len());
        let mut space = false;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c.is_ascii_whitespace() {
                space = !out.is_empty();
                i += 1;
                continue;
            }
            if space {
                out.push(b' ');
                space = false;
            }
            if address_byte_test(c) {
                let start = i;
                let mut at = false;
                while i < b.len() && address_byte_test(b[i]) {
                    at |= b[i] == b'@';
                    i += 1;
                }
                if at {
                    out.extend_from_slice(b"addr");
                } else {
                    out.extend(b[start..i].iter().map(u8::to_ascii_lowercase));
                }
            } else {
                out.push(c.to_ascii_lowercase());
                i += 1;
            }
        }
        let out = strip_wrapper_hosts(out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    proptest::proptest! {
        #[test]
        fn normalize_is_unchanged(s in "([a-zA-Z0-9._%+=-]{1,12}|@|<|>|\\[|\\]|:|;|,|\\(|\\)| {1,3}|\t|\r?\n|550[ -]|5\\.1\\.1|host |talking to |\u{e9}|\u{2003}|\u{1f600}|\u{0}){0,30}") {
            proptest::prop_assert_eq!(normalize(&s), normalize_reference(&s));
        }

        #[test]
        fn reply_code_in_is_unchanged(s in "([45]{1,3}|[0-9]|[ .:a-z-]|550 ){0,20}") {
            proptest::prop_assert_eq!(reply_code_in(&s), reply_code_in_reference(&s));
        }
    }

    #[test]
    fn reply_code_in_text() {
        assert_eq!(
            reply_code_in("host x[192.0.2.1] said: 550 5.1.1 no").map(|(c, _)| c),
            Some(550)
        );
        assert_eq!(
            reply_status("5.1.0 - Unknown address error 550-'5.7.1 <a>... Access denied'")
                .map(|s| s.to_string()),
            Some("5.7.1".to_string())
        );
        assert_eq!(reply_status("550 4.4.7 QUEUE.Expired"), None);
        assert_eq!(reply_code_in("(554.30)"), None);
        assert_eq!(reply_code_in("in 840 minutes"), None);
    }

    fn reason_of(diag: &str, remote: Option<&str>, command: Option<SmtpCommand>) -> Reason {
        classify(&Evidence {
            action: Some(DsnAction::Failed),
            diagnostic: diag,
            remote_mta: remote,
            command,
            ..Default::default()
        })
        .reason
    }

    /// Notices written in the sender's or the recipient's language, without a status code:
    /// Exchange's and Office 365's localised non-delivery reports, and ISPs' own wordings.
    #[test]
    fn localised_wordings() {
        use Reason as R;
        let cases: &[(&str, Reason)] = &[
            // French
            (
                "L'adresse de messagerie que vous avez entrée est introuvable. Vérifiez l'adresse de messagerie du destinataire et renvoyez le message.",
                R::UserUnknown,
            ),
            ("ivan est introuvable sur example.fr.", R::UserUnknown),
            ("Le destinataire n'existe pas", R::UserUnknown),
            ("Adresse inexistante", R::UserUnknown),
            (
                "La boîte aux lettres du destinataire est pleine et ne peut pas accepter de messages pour l'instant.",
                R::MailboxFull,
            ),
            ("Quota dépassé", R::MailboxFull),
            ("Domaine introuvable", R::HostUnknown),
            ("Le domaine example.fr n’existe pas", R::HostUnknown),
            ("Le message est trop volumineux", R::MesgTooBig),
            // German
            (
                "Die E-Mail-Adresse, die Sie eingegeben haben, wurde nicht gefunden. Überprüfen Sie die E-Mail-Adresse des Empfängers, und senden Sie die Nachricht erneut.",
                R::UserUnknown,
            ),
            ("ivan wurde bei example.de nicht gefunden.", R::UserUnknown),
            ("Der Empfänger existiert nicht", R::UserUnknown),
            (
                "Das Postfach des Empfängers ist voll, und die Nachricht kann derzeit nicht zugestellt werden.",
                R::MailboxFull,
            ),
            ("Die Domain example.de existiert nicht", R::HostUnknown),
            ("Die Nachricht ist zu groß", R::MesgTooBig),
            // Spanish
            (
                "No se encontró la dirección de correo electrónico que escribió.",
                R::UserUnknown,
            ),
            (
                "El usuario no existe en el dominio example.es",
                R::UserUnknown,
            ),
            (
                "El buzón del destinatario está lleno y no puede aceptar mensajes en este momento.",
                R::MailboxFull,
            ),
            ("El dominio no existe", R::HostUnknown),
            ("El mensaje es demasiado grande", R::MesgTooBig),
            // Italian
            (
                "Impossibile trovare l'indirizzo di posta elettronica immesso.",
                R::UserUnknown,
            ),
            ("Destinatario inesistente", R::UserUnknown),
            (
                "La casella postale del destinatario è piena e al momento non può accettare messaggi.",
                R::MailboxFull,
            ),
            ("Dominio inesistente", R::HostUnknown),
            // Portuguese
            (
                "O endereço de email digitado não foi encontrado.",
                R::UserUnknown,
            ),
            (
                "A caixa de correio do destinatário está cheia e não pode aceitar mensagens no momento.",
                R::MailboxFull,
            ),
            ("O domínio não existe", R::HostUnknown),
            // Dutch
            (
                "Het e-mailadres dat u hebt ingevoerd, is niet gevonden.",
                R::UserUnknown,
            ),
            ("Onbekende gebruiker", R::UserUnknown),
            ("Het postvak van de ontvanger is vol", R::MailboxFull),
            ("Bericht is te groot", R::MesgTooBig),
            // Russian
            ("Почтовый ящик не существует", R::UserUnknown),
            ("Такого пользователя нет", R::UserUnknown),
            ("Почтовый ящик переполнен", R::MailboxFull),
            // Japanese
            ("宛先不明のため配送できませんでした。", R::UserUnknown),
            ("指定されたユーザーが存在しません。", R::UserUnknown),
            ("存在しないメールアドレスです", R::UserUnknown),
            ("受信者のメールボックスがいっぱいです", R::MailboxFull),
            ("メールボックスの容量を超えています", R::MailboxFull),
            ("宛先のドメインが存在しません", R::HostUnknown),
            ("メールのサイズが大きすぎます", R::MesgTooBig),
            // Chinese (simplified, traditional)
            ("收件人不存在", R::UserUnknown),
            ("该用户不存在,请检查地址", R::UserUnknown),
            ("收件人郵箱不存在", R::UserUnknown),
            ("收件人邮箱已满", R::MailboxFull),
            ("對方信箱已滿", R::MailboxFull),
            ("域名不存在", R::HostUnknown),
            ("邮件大小超过限制", R::MesgTooBig),
            // Korean
            ("사용자가 존재하지 않습니다", R::UserUnknown),
            ("존재하지 않는 계정입니다", R::UserUnknown),
            ("받는 사람의 메일함이 가득 찼습니다", R::MailboxFull),
            ("도메인이 존재하지 않습니다", R::HostUnknown),
            ("메일 크기가 너무 큽니다", R::MesgTooBig),
            // Polish, Czech, Slovak
            ("Adres odbiorcy nie istnieje.", R::UserUnknown),
            ("Nieznany użytkownik", R::UserUnknown),
            ("Skrzynka pocztowa adresata jest pełna.", R::MailboxFull),
            ("Adresa příjemce neexistuje.", R::UserUnknown),
            ("Neznámý příjemce", R::UserUnknown),
            ("Schránka příjemce je plná.", R::MailboxFull),
            ("Schránka adresáta je plná", R::MailboxFull),
            // Turkish
            ("Kullanıcı bulunamadı", R::UserUnknown),
            ("Alıcının posta kutusu dolu.", R::MailboxFull),
            // Swedish, Danish, Norwegian, Finnish
            ("Mottagaren finns inte.", R::UserUnknown),
            ("Mottagarens brevlåda är full.", R::MailboxFull),
            ("Modtageren findes ikke.", R::UserUnknown),
            ("Modtagerens postkasse er fuld.", R::MailboxFull),
            ("Mottakeren finnes ikke.", R::UserUnknown),
            ("Postkassen er full.", R::MailboxFull),
            ("Vastaanottajaa ei ole olemassa.", R::UserUnknown),
            ("Vastaanottajan postilaatikko on täynnä.", R::MailboxFull),
            // Hungarian
            ("A címzett nem létezik.", R::UserUnknown),
            ("A címzett postafiókja megtelt.", R::MailboxFull),
            // the same languages: domain not found, message too large
            ("Domena nie istnieje.", R::HostUnknown),
            ("Wiadomość jest za duża.", R::MesgTooBig),
            ("Doména neexistuje.", R::HostUnknown),
            ("Zpráva je příliš velká.", R::MesgTooBig),
            ("Alan adı bulunamadı.", R::HostUnknown),
            ("İleti çok büyük.", R::MesgTooBig),
            ("Domänen finns inte.", R::HostUnknown),
            ("Meddelandet är för stort.", R::MesgTooBig),
            ("Domænet findes ikke.", R::HostUnknown),
            ("Meldingen er for stor.", R::MesgTooBig),
            ("Verkkotunnusta ei ole olemassa.", R::HostUnknown),
            ("Viesti on liian suuri.", R::MesgTooBig),
            ("A domain nem létezik.", R::HostUnknown),
            ("Az üzenet túl nagy.", R::MesgTooBig),
        ];
        let rcpt = Some(SmtpCommand::Rcpt);
        let bad: Vec<_> = cases
            .iter()
            .filter(|(text, want)| reason_of(text, None, rcpt) != *want)
            .map(|(text, want)| (*text, *want, reason_of(text, None, rcpt)))
            .collect();
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn older_and_tls_wordings() {
        let cat = |t: &str| {
            classify(&Evidence {
                action: Some(DsnAction::Failed),
                diagnostic: t,
                ..Evidence::default()
            })
            .category
        };
        // Exchange 2003, Lotus Domino
        assert_eq!(
            cat("The recipient name is not recognized"),
            Category::AddressNotFound
        );
        assert_eq!(
            cat("User kim not listed in public Name & Address Book"),
            Category::AddressNotFound
        );
        // Postfix's TLS client, OpenSSL
        assert_eq!(cat("Server certificate not trusted"), Category::TlsRequired);
        assert_eq!(
            cat("TLS handshake: certificate verify failed"),
            Category::TlsRequired
        );
    }

    #[test]
    fn gmail_spam_rate_limits_are_reputation_not_authentication() {
        let of = |t: &str| reason_of(t, None, None);
        assert_eq!(
            of(
                "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating \
                from your SPF domain [example.com 10]. To protect our users from spam, mail sent \
                from your domain has been temporarily rate limited."
            ),
            Reason::Speeding
        );
        assert_eq!(
            of(
                "550-5.7.1 Our system has detected an unusual rate of unsolicited mail \
                originating from your IP address. To protect our users from spam, mail sent \
                from your IP address has been blocked."
            ),
            Reason::BadReputation
        );
        // the receiving server's own disk (Postfix), not the mailbox
        assert_eq!(
            of("452 4.3.1 Insufficient system storage"),
            Reason::SystemFull
        );
        // Postfix reject_unknown_reverse_client_hostname
        assert_eq!(
            of("554 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]"),
            Reason::RequirePtr
        );
        // amavisd-new
        assert_eq!(
            of("554 5.7.0 Reject, id=12345-01 - INFECTED: Eicar-Test-Signature"),
            Reason::VirusDetected
        );
        // Microsoft 365 group restrictions
        let c = classify(&Evidence {
            action: Some(DsnAction::Failed),
            diagnostic: "550 5.7.1 RCPT TO <group@x.test> This group only accepts messages from people in its organization or on its allowed senders list",
            ..Evidence::default()
        });
        assert_eq!(c.category, Category::SenderNotAllowed);
        // Mercury/32's over-quota wording (an unknown-user 550 without it)
        assert_eq!(
            of("550 Mailbox bob is over its storage limit."),
            Reason::MailboxFull
        );
        // A real authentication failure still names SPF as such.
        assert_eq!(
            of(
                "550 5.7.23 The message was rejected because of Sender Policy Framework violation (SPF fail)"
            ),
            Reason::AuthFailure
        );
    }

    #[test]
    fn dma_lookup_failure_is_a_domain_not_found() {
        let r = "There was an error delivering your mail to DNS lookup failure: host example.jp not found";
        assert_eq!(reason_of(r, None, None), Reason::HostUnknown);
        // other DNS trouble stays a temporary network error
        assert_eq!(
            reason_of("DNS lookup failed for example.jp", None, None),
            Reason::NetworkError
        );
    }

    #[test]
    fn dma_names_the_command_it_was_refused_at() {
        let at = |t: &str| command_in(&normalize(t));
        assert_eq!(
            at("mx.example.jp [192.0.2.1] did not like our RCPT TO:\n550 No such user here"),
            Some(SmtpCommand::Rcpt)
        );
        assert_eq!(
            at("mx.example.jp [192.0.2.1] did not like our final DATA:\n554 5.7.1 spam"),
            Some(SmtpCommand::Data)
        );
        assert_eq!(
            at("mx.example.jp [192.0.2.1] did not like our MAIL FROM:\n553 sender refused"),
            Some(SmtpCommand::Mail)
        );
    }

    #[test]
    fn haraka_giving_up_on_every_mx_is_expired() {
        // its report's `Status: 5.1.2 (550 Tried all MXs example.jp)` is no missing domain:
        // no MX took a connection until its retries were spent
        let c = classify(&Evidence {
            action: Some(DsnAction::Failed),
            status: EnhancedStatus::parse("5.1.2").ok(),
            diagnostic: "550 Tried all MXs example.jp",
            ..Default::default()
        });
        assert_eq!(c.reason, Reason::Expired);
        assert_eq!(c.category, Category::MessageExpired);
    }

    #[test]
    fn a_transient_mailbox_status_without_words_is_a_temporary_problem() {
        // Exim's delay warning cuts the reply: the words that named greylisting are gone
        let c = classify(&Evidence {
            action: Some(DsnAction::Delayed),
            status: EnhancedStatus::parse("4.2.0").ok(),
            diagnostic: "SMTP error from remote mail server after RCPT TO:<a@example.jp>: 450 4.2.0 <a@example.jp>: Recipient addr",
            ..Default::default()
        });
        assert_eq!(c.reason, Reason::SystemError);
        assert_eq!(c.category, Category::TemporaryProblem);
        // the permanent codes keep their registry reading
        let c = classify(&Evidence {
            action: Some(DsnAction::Failed),
            status: EnhancedStatus::parse("5.2.1").ok(),
            diagnostic: "550 5.2.1 <a@example.jp>",
            ..Default::default()
        });
        assert_eq!(c.reason, Reason::Suspend);
    }

    #[test]
    fn dma_giving_up_after_its_limit_is_expired() {
        let r = "Could not deliver for the last 432000 seconds. Giving up.";
        assert_eq!(reason_of(r, None, None), Reason::Expired);
        // a specific wording (its own rule), not only the weak `giving up`
        assert!(names_reason(r));
        assert!(!names_reason("Giving up."));
    }

    #[test]
    fn provider_conventions_for_unknown_users() {
        let ns = Some(SmtpCommand::NotStated);
        // au/KDDI: the address in the reply means the mailbox does not exist; none, a filter.
        let kddi = Some("lsean.ezweb.ne.jp (TCP|192.0.2.1|25)");
        assert_eq!(
            reason_of("550 <a@ezweb.ne.jp>: User unknown", kddi, ns),
            Reason::UserUnknown
        );
        assert_eq!(reason_of("550 : User unknown", kddi, ns), Reason::Filtered);
        // Elsewhere, a report naming no command keeps Sisimai's reading (a filter).
        assert_eq!(
            reason_of(
                "550 <a@example.org>: User unknown",
                Some("mx.example.org"),
                ns
            ),
            Reason::Filtered
        );
        // Outlook.com's RCPT answer for a mailbox that does not exist.
        assert_eq!(
            reason_of(
                "550 Requested action not taken: mailbox unavailable (-00:22:-00)",
                None,
                ns
            ),
            Reason::UserUnknown
        );
    }

    #[test]
    fn failed_with_a_transient_status_is_delivery_expired() {
        let status = |t: &str| t.parse::<EnhancedStatus>().ok();
        let failed = |st: &str, diag: &'static str| {
            classify(&Evidence {
                action: Some(DsnAction::Failed),
                status: status(st),
                diagnostic: diag,
                ..Default::default()
            })
        };
        // Retried until the queue gave up: the category says so, the reason keeps the words.
        let c = failed(
            "4.2.2",
            "452 4.2.2 The recipient's inbox is out of storage space.",
        );
        assert_eq!(c.category, Category::MessageExpired);
        assert_eq!(c.reason, Reason::MailboxFull);
        let c = failed(
            "4.4.1",
            "connect to 192.0.2.1[192.0.2.1]:25: Connection refused",
        );
        assert_eq!(c.category, Category::MessageExpired);
        // A 5yz reply under a reporting MTA's `Status: 4.0.0` was not retried.
        let c = failed("4.0.0", "554 Blocked - see https://example.org/dnsbl");
        assert_eq!(c.category, Category::MessageBlocked);
        // Still being retried: a temporary problem, not an expiry.
        let c = classify(&Evidence {
            action: Some(DsnAction::Delayed),
            status: status("4.2.2"),
            diagnostic: "452 4.2.2 The recipient's inbox is out of storage space.",
            ..Default::default()
        });
        assert_eq!(c.category, Category::InboxFull);
    }

    #[test]
    fn a_pseudo_status_from_a_decoder_stands() {
        let c = classify(&Evidence {
            status: Some(EnhancedStatus::new(
                mailerd_types::StatusClass::Permanent,
                0,
                901,
            )),
            reply_code: Some(551),
            diagnostic: "SMTP error from remote mail server after MAIL FROM:<a@b.example> \
                         SIZE=1024: 551 Server access forbidden by invalid RDNS record",
            ..Default::default()
        });
        assert_eq!(c.reason, Reason::RequirePtr);
        assert_eq!(c.status.map(|s| s.to_string()).as_deref(), Some("5.0.901"));
    }

    #[test]
    fn never_panics_on_odd_text() {
        for t in [
            "",
            "@",
            "@@@ <> @x",
            "\u{feff}ümlaut@ü",
            "550-\n550",
            "5.",
            "\r\r\n",
        ] {
            let _ = classify(&Evidence {
                diagnostic: t,
                ..Default::default()
            });
        }
    }
}
