//! Bounce analysis: bytes of any bounce in, facts per recipient out.
//!
//! [`analyze`] reads one message and answers, per recipient: what happened (action, enhanced
//! status, reply code, the remote server's words), why ([`Reason`]), what it means to a person
//! ([`Category`]), whether it is temporary or permanent, whether the address should be
//! suppressed (hard bounce), and whether the bounce itself looks genuine ([`Authenticity`]).
//!
//! It recognises RFC 3464 / RFC 6522 delivery reports (also `message/global-delivery-status`,
//! RFC 6533), ARF feedback reports (RFC 5965), RFC 3834 auto-replies, and the non-standard
//! bounce bodies of the common MTA families (one module per family in `mta/`).
//! Classification of the remote reply into a reason is data-driven: ordered rules in
//! `classify/`, each naming the MTA wording it matches.
//!
//! The pipeline of [`analyze`], in order (first that yields recipients wins):
//!
//! 1. `mail` reads the message's structure (CR-only line ends and an mbox `From ` line are
//!    fixed first), decoding only what is read; `mime` sorts the parts: delivery-status bodies, feedback report, human text (plain,
//!    else HTML as text), the returned original (message/rfc822, text/rfc822-headers, an
//!    inline copy after a marker line, or a `To:`/`Subject:` summary), foreign attachments.
//! 2. `arf`: a feedback report gives one Feedback row per reported recipient.
//! 3. `mta::amazonses`: an SES JSON notification.
//! 4. `dsn`: RFC 3464 per-recipient groups, completed from the human text where the report
//!    lacks the remote server's words; the remote server's own status wins over `Status:`.
//! 5. `mta`: the family decoders on the human text (qmail, Exim, Sendmail, Exchange, Gmail,
//!    Postfix), then the generic scanner; only for messages that look like bounces (MTA
//!    wording, bounce subjects, a mailer-daemon From, `X-Failed-Recipients`; generic failure
//!    words only from automated senders).
//! 6. A forwarded bounce (the report inside an attached message), then fallbacks:
//!    `X-Failed-Recipients`, the returned original's single To, its envelope recipient.
//! 7. `autoreply`: RFC 3834 auto-replies give one Vacation row for the replier (with its first
//!    paragraph as its words).
//! 8. A server's reply on its own (text with no header that starts with a 4xx/5xx reply or an
//!    enhanced status, as a person pastes it): one row, `decoded_by` `Reply`, for the address
//!    it names (or none).
//! 9. Each row goes to `classify::classify`; challenge-response notices are dropped;
//!    `authenticity` scores the message (unless [`analyze_with`] is told not to: a caller
//!    that does not show the verdict saves that work).
//!
//! What it does not do: no I/O, no clock, no network, no storage. It never panics on any input
//! and "not a bounce" is an ordinary answer, not an error. It does not verify DKIM/SPF or look
//! up our own outbound logs; callers that can (receive, the admin API) add that evidence.

pub mod arf;
pub mod authenticity;
pub mod autoreply;
pub mod classify;
pub mod dsn;
pub mod mail;
pub mod mdn;
pub mod mime;
pub mod mta;
pub mod text;

use mailerd_types::{Category, DsnAction, EnhancedStatus, Reason};

/// What kind of message was analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A failure notice (permanent failure or expiry) for at least one recipient.
    Bounce,
    /// A delay warning: delivery is still being retried.
    Delay,
    /// A success notice (`Action: delivered` / `relayed`).
    Success,
    /// An automatic reply (vacation, out of office).
    AutoReply,
    /// An ARF feedback report (abuse complaint).
    Feedback,
    /// None of the above.
    NotABounce,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bounce => "bounce",
            Kind::Delay => "delay",
            Kind::Success => "success",
            Kind::AutoReply => "auto-reply",
            Kind::Feedback => "feedback",
            Kind::NotABounce => "not-a-bounce",
        }
    }
}

/// Facts about one recipient of a bounce.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecipientReport {
    /// The address that failed (`Final-Recipient`), lower-case domain.
    pub recipient: String,
    /// The address as the sender wrote it (`Original-Recipient`), when given.
    pub original_recipient: Option<String>,
    /// The report's `Action`; for a notice without one, what its words amount to (`failed`
    /// for a bounce's permanent failure, `delayed` in a delay notice), else `None`.
    pub action: Option<DsnAction>,
    /// The enhanced status: from the report, else from the reply text, else the reason's
    /// pseudo status (`5.0.911`).
    pub status: Option<EnhancedStatus>,
    /// The SMTP reply code of the remote server, when known.
    pub reply_code: Option<u16>,
    /// The remote server's words (unfolded), or the reporting MTA's diagnosis.
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    /// `Last-Attempt-Date` (or the family's equivalent) as written.
    pub last_attempt: Option<String>,
    /// `Will-Retry-Until` as written: until when a delayed recipient is retried.
    pub will_retry_until: Option<String>,
    pub reason: Reason,
    pub hard_bounce: bool,
    pub category: Category,
    /// `true` when the failure is permanent (no more retries), `false` when temporary.
    pub permanent: bool,
    /// The MTA family whose format was decoded (`Postfix`, `RFC3464`, ...).
    pub decoded_by: &'static str,
}

/// The returned original message, when the bounce carries it (or its headers).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct OriginalMessage {
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub date: Option<String>,
    /// A `Received:` field of the original records an authenticated submission (RFC 3848
    /// `with ESMTPA`/`ESMTPSA`, Postfix's `(Authenticated sender: ...)`): it was sent by
    /// someone who logged in to an account, not merely forged.
    pub authenticated_submission: bool,
}

/// Is this bounce what it claims to be?
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Genuine,
    Suspicious,
    Unknown,
    /// A bounce of a message not sent by us: mailerd found no valid BATV signature on the
    /// address it came back to (its own `X-Mailerd-BATV` mark). Someone used the address as
    /// the sender of mail of their own.
    Backscatter,
}

/// The authenticity verdict with the evidence that led to it (standards sec. 7.5, 7.6).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Authenticity {
    pub verdict: Verdict,
    /// Sum of the signal weights (positive = suspicious).
    pub score: i32,
    /// One sentence per signal that fired, for a person.
    pub reasons: Vec<String>,
}

/// Everything the analyzer found in one message.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Analysis {
    pub kind: Kind,
    /// `Reporting-MTA` or the family's equivalent.
    pub reporting_mta: Option<String>,
    /// Recipients in the order the bounce lists them.
    pub recipients: Vec<RecipientReport>,
    pub original: Option<OriginalMessage>,
    pub authenticity: Authenticity,
    /// Subject of the bounce itself.
    pub subject: Option<String>,
    /// From of the bounce itself.
    pub from: Option<String>,
    /// Date of the notice itself, as written (unfolded); [`timestamp`] reads it.
    pub date: Option<String>,
}

/// The `decoded_by` of a recipient read from a server's reply given alone (no notice around
/// it, as a person pastes `552 5.2.2 ... over quota`).
pub const DECODED_BY_REPLY: &str = "Reply";

/// Were these recipients read from a server's reply given alone ([`DECODED_BY_REPLY`])? Such
/// an input is no notice: it has no authenticity to judge and is not a bounce of a set.
pub fn is_reply_alone(recipients: &[RecipientReport]) -> bool {
    !recipients.is_empty() && recipients.iter().all(|r| r.decoded_by == DECODED_BY_REPLY)
}

impl Analysis {
    /// [`is_reply_alone`] of this analysis's recipients.
    pub fn is_reply_alone(&self) -> bool {
        is_reply_alone(&self.recipients)
    }
}

/// What [`analyze_with`] works out beyond the facts every caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Assess the bounce's authenticity ([`Analysis::authenticity`]). When `false` it is
    /// left unassessed: [`Verdict::Unknown`], score 0, no reasons (for callers that do not
    /// show it, such as `mailerd explain --format tsv`). Everything else is the same.
    pub authenticity: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { authenticity: true }
    }
}

/// Analyses one message. Never panics; any bytes give an answer.
pub fn analyze(raw: &[u8]) -> Analysis {
    analyze_with(raw, Options::default())
}

/// [`analyze`], doing only what `options` ask for beyond the per-recipient facts.
pub fn analyze_with(raw: &[u8], options: Options) -> Analysis {
    let normalized;
    let mut bytes = raw;
    // CR-only line endings (old Mac): the MIME reader needs LF.
    if !bytes.contains(&b'\n') && bytes.contains(&b'\r') {
        normalized = bytes
            .iter()
            .map(|&c| if c == b'\r' { b'\n' } else { c })
            .collect::<Vec<u8>>();
        bytes = &normalized;
    }
    // An mbox `From ` separator line is not a header.
    if bytes.starts_with(b"From ")
        && let Some(p) = bytes.iter().position(|&c| c == b'\n')
    {
        bytes = bytes.get(p + 1..).unwrap_or(b"");
    }
    match mail::Message::parse(bytes) {
        Some(msg) => analyze_message(&msg, 0, options),
        // Text with no header at all (a notice's or a reply's text, pasted): read as a body.
        None => {
            let mut body = Vec::with_capacity(bytes.len() + 1);
            body.push(b'\n');
            body.extend_from_slice(bytes);
            match mail::Message::parse(&body) {
                Some(msg) => analyze_message(&msg, 0, options),
                None => empty(),
            }
        }
    }
}

fn empty() -> Analysis {
    Analysis {
        kind: Kind::NotABounce,
        reporting_mta: None,
        recipients: Vec::new(),
        original: None,
        authenticity: Authenticity {
            verdict: Verdict::Unknown,
            score: 0,
            reasons: Vec::new(),
        },
        subject: None,
        from: None,
        date: None,
    }
}

/// Seconds since the Unix epoch of an RFC 5322 date (`Mon, 7 Dec 2026 10:00:00 +0000`),
/// when it is one; `None` for anything else.
pub fn timestamp(date: &str) -> Option<i64> {
    mail_parser::DateTime::parse_rfc822(date)
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp())
}

/// The bounce's own headers that matter.
#[derive(Default)]
pub struct Top {
    pub subject: String,
    pub from_addr: String,
    pub from_name: String,
    pub to: Vec<String>,
    pub return_path: Option<String>,
    pub x_failed: Vec<String>,
    pub received_top: Option<String>,
    /// Every `Received:` header, raw, joined (bounded), for host consistency checks.
    pub received_all: String,
    /// Sent by a program: null envelope sender, `Auto-Submitted:` other than `no`, or a
    /// From such as `noreply@`, `mailer@`, `postmaster@`.
    pub automated: bool,
    /// mailerd's own BATV mark (`X-Mailerd-BATV: none (...)` / `fail (...)`), when it is
    /// the one mailerd added on receipt: see [`own_batv_mark`].
    pub batv_mark: Option<String>,
}

/// The `X-Mailerd-BATV:` field mailerd's reception adds to a bounce whose recipient's return
/// path carries no valid signature (`none`: untagged, `fail`: expired or invalid): mailerd
/// writes it right below its own `Received:` field, so one with at most one `Received:`
/// above it in the top header block is ours; one further down came with the message (a
/// sender can write anything) and is not taken. Bounded: the first 64 kB of the header.
pub fn own_batv_mark(raw: &[u8]) -> Option<String> {
    let mark = mailerd_types::BATV_MARK_FIELD.as_bytes();
    let head = raw.get(..raw.len().min(64 << 10)).unwrap_or_default();
    let mut received = 0usize;
    for line in head.split(|&c| c == b'\n') {
        let l = line.strip_suffix(b"\r").unwrap_or(line);
        if l.is_empty() {
            break;
        }
        let name_is = |n: &[u8]| {
            l.len() > n.len() && l[..n.len()].eq_ignore_ascii_case(n) && l[n.len()] == b':'
        };
        if name_is(b"received") {
            received += 1;
            if received > 1 {
                return None;
            }
        } else if name_is(mark) {
            let v = std::str::from_utf8(l.get(mark.len() + 1..)?).ok()?.trim();
            let verdict = v.split_whitespace().next().unwrap_or("");
            return (verdict.eq_ignore_ascii_case("none") || verdict.eq_ignore_ascii_case("fail"))
                .then(|| prefix(v, 300).to_string());
        }
    }
    None
}

/// The bounce's headers that matter; `from_list` is its From, parsed.
fn top_of(msg: &mail::Message<'_>, from_list: Option<&mail_parser::Address<'_>>) -> Top {
    let [delivered_to, return_path, received, auto_submitted] =
        msg.raw_headers(["Delivered-To", "Return-Path", "Received", "Auto-Submitted"]);
    let from = from_list.and_then(|a| a.first());
    let mut to: Vec<String> = msg
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.address.as_deref())
                .map(text::clean_address)
                .collect()
        })
        .unwrap_or_default();
    if let Some(d) = delivered_to {
        to.push(text::clean_address(d));
    }
    let mut x_failed = Vec::new();
    for t in msg.texts_raw("X-Failed-Recipients") {
        for a in text::find_addresses(&t) {
            if !x_failed.contains(&a.addr) {
                x_failed.push(a.addr);
            }
        }
    }
    Top {
        subject: msg.subject().map(|s| s.into_owned()).unwrap_or_default(),
        from_addr: from
            .and_then(|a| a.address.as_deref())
            .map(text::clean_address)
            .unwrap_or_default(),
        from_name: from
            .and_then(|a| a.name.as_deref())
            .unwrap_or("")
            .to_string(),
        to,
        return_path: return_path.map(|s| s.trim().to_string()),
        x_failed,
        received_top: received.map(text::squash),
        automated: {
            let rp = return_path.map(str::trim);
            let null = rp.is_some_and(|r| r.is_empty() || r == "<>" || r == "<\"\">");
            let auto = auto_submitted.is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
            // The From's local part names a program (read only when the envelope and
            // `Auto-Submitted:` do not already say so).
            let robot = || {
                let local = from
                    .and_then(|a| a.address.as_deref())
                    .and_then(|a| a.split('@').next())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                ROBOT.is_match(local.as_bytes())
            };
            null || auto || robot()
        },
        batv_mark: own_batv_mark(msg.raw_bytes()),
        received_all: {
            let mut all = String::new();
            for v in msg.raw_values("Received") {
                if all.len() < 16 << 10 {
                    all.push_str(v);
                    all.push('\n');
                }
            }
            all
        },
    }
}

/// Words of a From local part that names a program rather than a person.
const ROBOT_WORDS: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "daemon",
    "mailer",
    "postmaster",
    "post_master",
    "bounce",
    "admin",
    "root",
    "system",
    "notify",
    "notification",
    "mail",
];

/// Searched in the lower-cased local part, all words in one pass (a local part is short: a
/// substring search per word cost more).
static ROBOT: std::sync::LazyLock<text::Literals> =
    std::sync::LazyLock::new(|| text::Literals::new(ROBOT_WORDS));

/// Subjects that only bounces and delay notices use.
const BOUNCE_SUBJECTS: &[&str] = &[
    "undeliver",
    "delivery status notification",
    "returned mail",
    "delivery failure",
    "delivery failed",
    "failure notice",
    "mail delivery failed",
    "mail delivery problem",
    "non-delivery",
    "nondeliver",
    "non delivery",
    "could not be delivered",
    "couldn't be delivered",
    "delivery notification",
    "mail system error",
    "delayed mail",
    "delivery delayed",
    "warning: could not send",
    "message delayed",
    "failed delivery",
    "mail failure",
    "unzustellbar",
    "nicht zugestellt",
    "non remis",
    "no se pudo entregar",
    "unable to deliver",
    "undelivery",
    "returned to sender",
    "mail could not be",
    "error sending your mail",
    "warning: message",
    // Localised Exchange/Outlook and other NDR subjects.
    "non recapitabile",
    "onbestelbaar",
    "não é possível entregar",
    "nao e possivel entregar",
    "não entregue",
    "no se puede entregar",
    "nie można dostarczyć",
    "niedostarczalna",
    "kézbesíthetetlen",
    "olevererbart",
    "kan ikke leveres",
    "ikke levert",
    "toimittamaton",
    "nedoručitelné",
    "nedoručiteľné",
    "teslim edilemedi",
    "невозможно доставить",
    "не доставлено",
    "無法傳遞",
    "无法送达",
    "配信不能",
    "전달되지 않음",
    "zustellung fehlgeschlagen",
    "échec de la remise",
    "echec de la remise",
    "メールエラー",
    "不達",
    "配信エラー",
    "送信できません",
];

/// Subject words that suggest a bounce only when the message is also automated.
const WEAK_SUBJECTS: &[&str] = &[
    "bounce",
    "rejected",
    "not delivered",
    "message status",
    "returned message",
    "error sending",
    "failed mail",
    "delivery report",
    "delivery error",
    "delivery problem",
    "mail error",
    "message you sent",
    "sending failed",
    "delivery notice",
    "notification of delivery",
    "failed",
    "failure",
    "error",
    "エラー",
    "配信",
];

/// Sentences that only MTAs write in bounces.
const BOUNCE_BODY: &[&str] = &[
    "this is the qmail-send program",
    "this message was created automatically by mail delivery software",
    "----- transcript of session follows -----",
    "diagnostic information for administrators",
    "did not reach the following recipient",
    "delivery has failed to these recipients",
    "this is the mail system at host",
    "could not be delivered to one or more",
    "delivery to the following recipient",
    "your message could not be delivered",
    "permanent fatal errors",
    "the following addresses had",
    "remote server returned '",
    "i'm afraid i wasn't able to deliver",
    "wasn't able to deliver your message",
    "the error that the other server returned was",
    "the response from the remote server was",
    "delivery to the following recipients failed",
    "your message was not delivered",
    "has not yet been delivered",
    "this is an automatically generated delivery status notification",
    "(in reply to rcpt to command)",
    "(in reply to end of data command)",
    "smtp error from remote mail server",
    "unable to deliver your message to",
];

/// Generic failure words: a bounce only when the message is also automated.
const WEAK_BODY: &[&str] = &[
    "undeliverable",
    "could not be delivered",
    "was not delivered",
    "message could not be delivered",
    "unable to deliver",
    "could not deliver",
    "delivery failed",
    "failed to deliver",
    "user unknown",
    "unknown user",
    "no such user",
    "mailbox unavailable",
    "mailbox is full",
    "mailbox full",
    "quota exceeded",
    "over quota",
    "invalid user",
    "invalid recipient",
    "recipient address rejected",
    "returned to sender",
    "could not send message",
    "delivery has been delayed",
    "not a member",
    "said: 5",
    "said: 4",
];

// The phrase sets below are searched exactly in ASCII-lower-cased text with lower-cased
// phrases: the same matches as an ASCII-case-insensitive search of the text, from an automaton
// half the size (cheaper to build) that can use the vectorised prefilter.
static BOUNCE_BODY_AC: std::sync::LazyLock<text::Literals> =
    std::sync::LazyLock::new(|| text::Literals::new(BOUNCE_BODY));
static BOUNCE_SUBJECT_AC: std::sync::LazyLock<text::Literals> =
    std::sync::LazyLock::new(|| text::Literals::new(BOUNCE_SUBJECTS));
static WEAK_SUBJECT_AC: std::sync::LazyLock<text::Literals> =
    std::sync::LazyLock::new(|| text::Literals::new(WEAK_SUBJECTS));
static WEAK_BODY_AC: std::sync::LazyLock<text::Literals> =
    std::sync::LazyLock::new(|| text::Literals::new(WEAK_BODY));

/// The input when it is only a server's reply: at most 4 kB of text, with no header field
/// before it, whose first line starts with a 4xx or 5xx reply code (`550 5.1.1 ...`,
/// `452-4.2.2 ...`) or with an enhanced status alone; its lines joined into one, and that
/// leading status when there is no reply code.
fn bare_reply(raw: &[u8]) -> Option<(String, Option<EnhancedStatus>)> {
    let t = std::str::from_utf8(raw).ok()?.trim();
    if t.is_empty() || t.len() > 4096 {
        return None;
    }
    let first = t.lines().next()?.trim();
    let mut words = first.splitn(2, [' ', '\t', '-']);
    let lead = words.next()?;
    let rest = words.next().unwrap_or("").trim();
    let flat = text::squash(t);
    // Shaped like a reply, not any text that starts with a number: an enhanced status, an
    // address, or words that name a reason (`550 5.1.1 ...`, `550 <a@b> ...`, `550 Unknown
    // user`); an enhanced status alone may stand by itself (`5.1.1`).
    let reply_like = || {
        text::find_status(first, None).is_some()
            || first.contains('@')
            || crate::classify::names_reason(&flat)
    };
    let status = match text::leading_reply_code(first) {
        Some(code) => {
            if !((400..600).contains(&code) && reply_like()) {
                return None;
            }
            None
        }
        None => {
            let s = EnhancedStatus::parse(lead.trim_end_matches([':', ','])).ok()?;
            if s.class == mailerd_types::StatusClass::Success
                || !(rest.is_empty() || crate::classify::names_reason(&flat))
            {
                return None;
            }
            Some(s)
        }
    };
    Some((text::tidy_reply(&flat), status))
}

/// Is this header block, found in a notice's text, the notice's own (a daemon's From and a
/// bounce's Subject)?
fn is_the_notice_itself(o: &mime::Original) -> bool {
    let Some(subject) = o.info.subject.as_deref() else {
        return false;
    };
    (!o.from_addr.is_empty() || !o.from_name.is_empty())
        && is_mailer_daemon(&o.from_addr, &o.from_name)
        && BOUNCE_SUBJECT_AC.is_match(subject.to_ascii_lowercase().as_bytes())
}

fn is_mailer_daemon(addr: &str, name: &str) -> bool {
    let local = addr.split('@').next().unwrap_or("").to_ascii_lowercase();
    let n = name.to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon"
            | "postmaster"
            | "mail-daemon"
            | "mailerdaemon"
            | "mailer_daemon"
            | "maildaemon"
            | "mmdf"
            | "mailer"
            | "bounce"
            | "bounces"
    ) || local.starts_with("mailer-daemon")
        || local.starts_with("postmaster")
        || n.contains("mail delivery")
        || n.contains("mailer-daemon")
        || n.contains("mailer daemon")
        || n.contains("postmaster")
        || n.contains("mail administrator")
        || n.contains("mail system")
}

/// PMDF and its heirs (Sun/Oracle Messaging Server) list a recipient they rewrote to an
/// internal mailbox as `Recipient address: HAASM@host.example` followed by
/// `Original address: user@example`, and the report's `Final-Recipient` is the internal one.
/// The original is the address the sender wrote, so it is the one to report.
fn pmdf_original_address(low: &str, final_addr: &str, orig: Option<&str>) -> Option<String> {
    let orig = orig.filter(|o| o.contains('@') && !o.eq_ignore_ascii_case(final_addr))?;
    let rcpt = format!("recipient address: {}", final_addr.to_ascii_lowercase());
    let at = low.find(&rcpt)? + rcpt.len();
    let next = low.get(at..)?.trim_start_matches([' ', '\t', '\r', '\n']);
    let named = format!("original address: {}", orig.to_ascii_lowercase());
    next.starts_with(&named).then(|| orig.to_string())
}

fn bounce_like(top: &Top, low: &str) -> bool {
    if !top.x_failed.is_empty() || is_mailer_daemon(&top.from_addr, &top.from_name) {
        return true;
    }
    let m = |set: &text::Literals, t: &str| set.is_match(t.as_bytes());
    let head = prefix(low, 8192);
    let subject = top.subject.to_ascii_lowercase();
    if m(&BOUNCE_SUBJECT_AC, &subject) || m(&BOUNCE_BODY_AC, head) {
        return true;
    }
    top.automated && (m(&WEAK_SUBJECT_AC, &subject) || m(&WEAK_BODY_AC, head))
}

/// Wording of challenge-response and sender-verification systems.
const CHALLENGE: &[&str] = &[
    "requires confirmation",
    "not pre-approved",
    "pre-approved senders",
    "challenge-response",
    "challenge response",
    "please confirm that you",
    "verify that you are a real",
    "confirm your message",
    "confirm that you sent",
    "awaiting your confirmation",
    "spamarrest",
    "boxbe",
    "whitelist.aspx",
];

/// Searched exactly in the lower-cased diagnostic (the same matches as an ASCII-case-
/// insensitive search), all phrases in one pass of the packed (SIMD) searcher rather than a
/// substring search per phrase.
static CHALLENGE_LITERALS: std::sync::LazyLock<text::Literals> =
    std::sync::LazyLock::new(|| text::Literals::new(CHALLENGE));

fn is_challenge(diag: &str) -> bool {
    !diag.is_empty() && CHALLENGE_LITERALS.is_match(diag.to_ascii_lowercase().as_bytes())
}

/// A char-boundary-safe prefix of at most `n` bytes.
pub(crate) fn prefix(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = n;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

fn analyze_message(msg: &mail::Message<'_>, depth: u8, options: Options) -> Analysis {
    let from_list = msg.from();
    let top = top_of(msg, from_list.as_ref());
    let parts = mime::collect(msg);
    let text_all: &str = if parts.plain.trim().is_empty() {
        &parts.html_text
    } else {
        &parts.plain
    };
    // Lower-cased once: the phrase searches of the human part read this copy.
    let text_low = text_all.to_ascii_lowercase();
    let cut = mime::split_original_lc(text_all, &text_low);
    let human = match cut {
        Some(c) => text_all.get(..c).unwrap_or(text_all),
        None => text_all,
    };
    let mut original = parts.original.clone();
    if original.is_none()
        && let Some(c) = cut
    {
        original = mime::inline_original(text_all.get(c..).unwrap_or(""));
    }

    if original.is_none() {
        original = mime::summary_original(human);
    }
    // A notice forwarded inline by a person (`---------- Forwarded message ---------` /
    // `From: Mail Delivery Subsystem <mailer-daemon@...>` / `Subject: Delivery Status
    // Notification (Failure)`): the header block found in the text is the notice's own, not
    // the returned original's. (When a daemon sends it, as OCN wraps a Postfix bounce in
    // its own notice, the inner bounce is what was returned.)
    if parts.original.is_none()
        && !top.automated
        && !is_mailer_daemon(&top.from_addr, &top.from_name)
        && original.as_ref().is_some_and(is_the_notice_itself)
    {
        original = None;
    }

    let mut a = empty();
    a.subject = msg.subject().map(|s| s.into_owned());
    a.date = msg.header_raw("Date").map(text::squash);
    a.from =
        mime::display_addr(from_list.as_ref()).or_else(|| msg.header_raw("From").map(text::squash));

    let mut found: Vec<mta::Found> = Vec::new();
    let mut kind_hint: Option<Kind> = None;

    // 1. ARF feedback reports (then Amazon SES JSON notifications).
    if parts.feedback.is_some() || parts.report_type.as_deref() == Some("feedback-report") {
        found = arf::decode(parts.feedback.as_deref().unwrap_or(""), original.as_ref());
        if !found.is_empty() {
            kind_hint = Some(Kind::Feedback);
        }
    }

    // 1a. Disposition notifications (RFC 8098). A Sieve `reject` (RFC 5429) is one of a
    //     message the recipient's filter refused, with the filter's reason as its text; any
    //     other (a read receipt, a "Not read" notice) says nothing about delivery.
    if found.is_empty()
        && kind_hint.is_none()
        && parts.dsn.is_empty()
        && let Some(d) = parts.mdn.as_deref().map(mdn::parse)
        && let Some(rcpt) = d.final_recipient.clone()
    {
        if d.is_refusal(&top.subject, human) {
            let mut f = mta::Found::new(rcpt, "MDN");
            f.original_recipient = d.original_recipient;
            f.action = Some(DsnAction::Failed);
            f.set_diagnostic(&mdn::refusal_text(human));
            f.hint = Some(Reason::Filtered);
            f.own_words = true;
            found.push(f);
        } else {
            kind_hint = Some(Kind::NotABounce);
        }
    }

    // 1b. Amazon SES JSON notifications.
    if found.is_empty()
        && kind_hint.is_none()
        && parts.dsn.is_empty()
        && let Some(v) = {
            let t = prefix(text_all, 256 << 10);
            mta::amazonses::decode_lc(t, text_low.get(..t.len()).unwrap_or(""))
        }
        && !v.is_empty()
    {
        if v.iter().all(|f| f.hint == Some(Reason::Feedback)) {
            kind_hint = Some(Kind::Feedback);
        }
        found = v;
        if kind_hint.is_none() {
            kind_hint = Some(Kind::NotABounce); // decided below from the rows
        }
    }

    // 2. RFC 3464 delivery-status parts (or a report pasted into the text), completed by
    //    the text decoders.
    let mut reports: Vec<dsn::Report> = parts.dsn.iter().map(|b| dsn::parse(b)).collect();
    if reports.iter().all(|r| r.recipients.is_empty()) && dsn::looks_like_dsn(text_all) {
        reports.push(dsn::parse(text_all));
    }
    let mut exclude: Vec<String> = top.to.clone();
    if !top.from_addr.is_empty() {
        exclude.push(top.from_addr.clone());
    }
    // `human` lower-cased (ASCII lower-casing keeps every byte offset).
    let low: &str = text_low.get(..human.len()).unwrap_or(&text_low);
    // `low` with white-space runs collapsed: made on first use, by the decoders or below.
    let flat_cell = std::cell::OnceCell::new();
    let ctx = mta::Ctx {
        human,
        low,
        subject: &top.subject,
        from: &top.from_addr,
        exclude: &exclude,
        x_failed: &top.x_failed,
        flat: Some(&flat_cell),
    };
    let is_bounce = !parts.dsn.is_empty() || bounce_like(&top, low);
    // The text decoders only when the report does not already say everything (they are the
    // costliest step; a complete RFC 3464 report needs no help).
    let report_complete = reports.iter().any(|r| !r.recipients.is_empty())
        && reports
            .iter()
            .flat_map(|r| &r.recipients)
            .all(|p| p.reply_code.is_some() && p.status.is_some() && p.diagnostic.is_some());
    // ... unless the text carries a family's own expiry notice, which the report lacks.
    static EXPIRY_WORDS: std::sync::LazyLock<text::Phrases> = std::sync::LazyLock::new(|| {
        text::Phrases::new(&[
            "cannot send message for",
            "could not be delivered for",
            "retry timeout exceeded",
            "in the queue too long",
        ])
    });
    let report_complete = report_complete && !EXPIRY_WORDS.any_in(low);
    let text_found = if kind_hint.is_none() && is_bounce && !report_complete {
        mta::decode(&ctx)
    } else {
        Vec::new()
    };

    if kind_hint.is_none() {
        for r in &reports {
            if a.reporting_mta.is_none() {
                a.reporting_mta = r.message.reporting_mta.clone();
            }
            for p in &r.recipients {
                let Some(addr) = p.address() else { continue };
                let mut f = mta::Found::new(addr.to_string(), "RFC3464");
                f.original_recipient = p.original_recipient.clone();
                if let Some(orig) =
                    pmdf_original_address(low, addr, p.original_recipient.as_deref())
                {
                    f.recipient = orig;
                }
                f.action = p.action;
                f.status = p.status;
                f.reply_code = p.reply_code;
                f.remote_mta = p.remote_mta.clone();
                f.last_attempt = p.last_attempt.clone();
                f.will_retry_until = p.will_retry_until.clone();
                f.diagnostic = p.diagnostic.as_deref().map(text::tidy_reply);
                f.own_words = p
                    .diagnostic_type
                    .as_deref()
                    .is_some_and(|t| !t.trim().eq_ignore_ascii_case("smtp"));
                // The human part often has the remote server's words the report lacks.
                if let Some(t) = text_found
                    .iter()
                    .find(|t| t.recipient.eq_ignore_ascii_case(&f.recipient))
                    .or_else(|| {
                        (text_found.len() == 1 && r.recipients.len() == 1).then(|| &text_found[0])
                    })
                {
                    if (f.diagnostic.is_none() || f.reply_code.is_none())
                        && (t.reply_code.is_some() || f.diagnostic.is_none())
                    {
                        if let Some(d) = &t.diagnostic {
                            f.diagnostic = Some(d.clone());
                        }
                        f.reply_code = f.reply_code.or(t.reply_code);
                    }
                    if f.status.is_none() {
                        f.status = t.status;
                    }
                    f.hint = f.hint.or(t.hint);
                }
                // The remote server's own status (the one that follows its reply code in the
                // diagnostic) is more precise than the reporting MTA's summary in `Status:`;
                // otherwise a more specific status in the text than a generic X.0.0 / X.Y.0.
                if let Some((rc, rs)) = f.diagnostic.as_deref().and_then(text::find_reply_status) {
                    f.status = Some(rs);
                    // `554 4.4.7 Message expired ... <421 4.4.2 Connection timed out>`: the
                    // leading code is the reporting MTA's; the consistent inner reply is the
                    // remote server's.
                    if f.reply_code
                        .is_some_and(|c| (c / 100) as u8 != rs.class.digit())
                    {
                        f.reply_code = Some(rc);
                    }
                } else if let Some(d) = &f.diagnostic
                    && let Some(ds) = text::find_status(d, f.reply_code)
                {
                    match f.status {
                        None => f.status = Some(ds),
                        Some(s)
                            if s.detail == 0
                                && ds.class == s.class
                                && (ds.detail != 0 || s.subject == 0) =>
                        {
                            f.status = Some(ds)
                        }
                        _ => {}
                    }
                }
                if matches!(
                    f.action,
                    Some(DsnAction::Delivered | DsnAction::Relayed | DsnAction::Expanded)
                ) {
                    f.hint = Some(Reason::Delivered);
                }
                mta::push_merge(&mut found, f);
            }
        }
        if found.is_empty() {
            found = text_found;
        }
    }

    // 3. A forwarded bounce: the report is inside an attached message.
    if found.is_empty()
        && kind_hint.is_none()
        && depth < 2
        && let Some(inner) = msg.parts().find_map(|p| p.message())
    {
        let mut ia = analyze_message(inner, depth + 1, options);
        if !ia.recipients.is_empty() && ia.kind != Kind::AutoReply {
            ia.subject = a.subject.take();
            ia.from = a.from.take();
            return ia;
        }
    }

    // 4. Fallbacks for a bounce where no recipient could be read.
    if found.is_empty() && kind_hint.is_none() && is_bounce {
        let candidates: Vec<String> = if !top.x_failed.is_empty() {
            top.x_failed.clone()
        } else {
            // The returned original's To/Cc when it names one address, else the envelope
            // recipient of its Received: headers when there is exactly one.
            let keep = |v: &Vec<String>| -> Vec<String> {
                v.iter()
                    .filter(|r| !exclude.iter().any(|e| e.eq_ignore_ascii_case(r)))
                    .cloned()
                    .collect()
            };
            let to = original
                .as_ref()
                .filter(|o| !o.is_list)
                .map(|o| keep(&o.recipients))
                .unwrap_or_default();
            let env = original
                .as_ref()
                .map(|o| keep(&o.envelope_for))
                .unwrap_or_default();
            if to.len() == 1 {
                to
            } else if env.len() == 1 {
                env
            } else {
                to.into_iter().take(1).collect()
            }
        };
        for c in candidates {
            found.push(mta::Found::new(c, "Generic"));
        }
        mta::complete(&ctx, &mut found);
    }

    // 5. RFC 3834 auto-replies.
    if found.is_empty() && kind_hint.is_none() {
        let daemon = is_mailer_daemon(&top.from_addr, &top.from_name)
            || text::starts_with_ci(a.from.as_deref().unwrap_or(""), "mailer-daemon");
        if let Some(f) = autoreply::decode(msg, &top, human).filter(|_| !daemon) {
            found.push(f);
            kind_hint = Some(Kind::AutoReply);
        }
    }

    // 6. A server's reply on its own (`552 5.2.2 <a@b>: user is over quota`), as a person
    //    pastes it from a notice or a mail client's error: no header, a few lines that start
    //    with a failure reply code. Explained as that reply; the recipient is the address it
    //    names, if any.
    if found.is_empty()
        && kind_hint.is_none()
        && depth == 0
        && let Some((reply, leading_status)) = bare_reply(msg.raw_bytes())
    {
        let mut f = mta::Found::new(
            text::first_address(&reply)
                .map(|a| a.addr)
                .unwrap_or_default(),
            DECODED_BY_REPLY,
        );
        // A status alone is its own evidence.
        f.status = leading_status;
        f.set_diagnostic(&reply);
        // (No action: a reply alone does not say whether anyone retries it, except X.4.7,
        // "delivery time expired", which is the end of retrying.)
        let expired = f
            .status
            .or(f
                .diagnostic
                .as_deref()
                .and_then(|d| text::find_status(d, text::leading_reply_code(d))))
            .is_some_and(|s| s.subject == 4 && s.detail == 7);
        if expired {
            f.action = Some(DsnAction::Failed);
        }
        let temporary = reply.starts_with('4') && !expired;
        found.push(f);
        kind_hint = Some(if temporary { Kind::Delay } else { Kind::Bounce });
    }

    if a.reporting_mta.is_none() {
        a.reporting_mta = reporting_mta_from_received(top.received_top.as_deref());
    }
    a.original = original.as_ref().map(|o| o.info.clone());

    // Challenge-response systems ("confirm you are a sender") write bounce-shaped notices:
    // the message is held, not refused. Not a failure (standards sec. 5.3 rule 5).
    if kind_hint.is_none() {
        found.retain(|f| !is_challenge(f.diagnostic.as_deref().unwrap_or("")));
    }

    // Classify each recipient.
    // Lower-case with whitespace runs collapsed, so that a folded `(in reply to RCPT\n    TO
    // command)` still reads as one phrase.
    // (`low` is `human` lower-cased; ASCII lower-casing leaves the whitespace as it is.)
    // Made on first use: a message whose recipients all have the remote server's own words
    // and a reason from them (or that has none) never reads it.
    let human_lc = || -> &str { flat_cell.get_or_init(|| text::squash(low)) };
    // The command named anywhere in the part: read once, for every recipient that needs it.
    let command_anywhere = std::cell::OnceCell::new();
    for mut f in found {
        let diag = f.diagnostic.as_deref().unwrap_or("");
        // OpenSMTPD (6.8) reports an envelope it dropped at the end of its queue lifetime with
        // its delay notice: `Action: delayed`, "rcpt: Envelope expired", "this is only a
        // temporary failure report" (its log says "Expire for ..."). Nothing is retried: the
        // recipient failed (Sisimai reads these as final expiries too).
        if f.action == Some(DsnAction::Delayed)
            && diag.trim().eq_ignore_ascii_case("envelope expired")
        {
            f.action = Some(DsnAction::Failed);
        }
        // nullmailer (2.x) writes a notice only when it gives a message up (it moves it to
        // `failed/`, at a permanent error or at the end of `queuelifetime`); when the last
        // reply was a 4xx its nullmailer-dsn words that notice as a delay (`Action: delayed`,
        // "A final delivery status notification will be generated ..."), yet none follows:
        // the recipient failed.
        if f.action == Some(DsnAction::Delayed)
            && human_lc().contains("this is the nullmailer delivery system")
        {
            f.action = Some(DsnAction::Failed);
        }
        let command = if f.own_words {
            None
        } else {
            command_near(human_lc(), &f.recipient, &command_anywhere)
        };
        // The remote host, else the recipient's domain (its servers answered).
        let remote = f
            .remote_mta
            .as_deref()
            .or_else(|| f.recipient.rsplit_once('@').map(|(_, d)| d));
        let evidence = classify::Evidence {
            action: f.action,
            status: f.status,
            reply_code: f.reply_code,
            diagnostic: diag,
            remote_mta: remote,
            hint: f.hint,
            command,
        };
        let mut c = classify::classify(&evidence);
        // Second chance: when the decoder's diagnostic says nothing the rules understand (an
        // intro line such as "For the following reason:" or "There was an error delivering
        // your mail to <...>"), read the human-readable text that follows the recipient.
        if matches!(c.reason, Reason::OnHold | Reason::Undefined) {
            let around = text_after(human_lc(), &f.recipient);
            if !around.is_empty() {
                let again = classify::classify(&classify::Evidence {
                    diagnostic: around,
                    ..evidence
                });
                if !matches!(again.reason, Reason::OnHold | Reason::Undefined) {
                    c = again;
                }
            }
        }
        // A Sieve refusal is the recipient's own filter at work, with its own words: not a
        // block of content or reputation ("Message blocked" would advise the wrong thing).
        if f.decoded_by == "MDN" && c.reason == Reason::Filtered {
            c.category = Category::NotDelivered;
        }
        // Shown and recorded as the remote server wrote it (the rules read it as quoted).
        let (diagnostic, said_by) = match f.diagnostic.as_deref().map(text::quoted_reply) {
            Some((d, h)) => (Some(d), h),
            None => (None, None),
        };
        a.recipients.push(RecipientReport {
            recipient: f.recipient,
            original_recipient: f.original_recipient,
            action: f.action,
            status: c.status,
            reply_code: f.reply_code,
            diagnostic,
            remote_mta: f.remote_mta.or(said_by),
            last_attempt: f.last_attempt,
            // Only a recipient still being retried has a retry deadline worth showing.
            will_retry_until: f
                .will_retry_until
                .filter(|_| f.action == Some(DsnAction::Delayed)),
            reason: c.reason,
            hard_bounce: c.hard_bounce,
            category: c.category,
            // No failure (a delivery, an auto-reply, a feedback report), nothing permanent.
            permanent: c.permanent && c.reason.is_failure(),
            decoded_by: f.decoded_by,
        });
    }

    a.kind = match kind_hint {
        Some(k) if k != Kind::NotABounce => k,
        _ if a.recipients.is_empty() => Kind::NotABounce,
        _ => {
            if a.recipients.iter().all(|r| r.reason == Reason::Delivered) {
                Kind::Success
            } else if a.recipients.iter().all(|r| {
                r.reason == Reason::Delivered
                    || r.action == Some(DsnAction::Delayed)
                    || (r.action.is_none() && !r.permanent)
            }) {
                Kind::Delay
            } else {
                Kind::Bounce
            }
        }
    };
    // A notice without a delivery-status part (qmail, dma, many MTAs' plain text) names no
    // action; what it says of a recipient is one all the same: a bounce reports a permanent
    // failure as `failed`, a delay notice reports `delayed` (Sisimai fills it in likewise).
    for r in a.recipients.iter_mut().filter(|r| r.action.is_none()) {
        r.action = match a.kind {
            Kind::Bounce if r.permanent => Some(DsnAction::Failed),
            Kind::Delay if r.reason.is_failure() => Some(DsnAction::Delayed),
            _ => None,
        };
    }
    if !options.authenticity {
        return a;
    }
    a.authenticity = authenticity::assess(&authenticity::Signals {
        kind: a.kind,
        top: &top,
        parts: &parts,
        human,
        human_low: low,
        original: original.as_ref(),
        reporting_mta: a.reporting_mta.as_deref(),
        recipients: &a.recipients,
        has_dsn: !parts.dsn.is_empty(),
        bounce_subject: a
            .subject
            .as_deref()
            .is_some_and(|s| BOUNCE_SUBJECT_AC.is_match(s.to_ascii_lowercase().as_bytes())),
    });
    a
}

/// `by mx.example.org` of the top `Received:` header.
fn reporting_mta_from_received(r: Option<&str>) -> Option<String> {
    // `Received: from mx.example.net (...) by in.example.org`: the bounce came from the
    // `from` host; `by` is the receiving side (used only when there is no `from`).
    let r = r?;
    let host_after = |kw: &str| -> Option<String> {
        let at = if text::starts_with_ci(r, kw) {
            0
        } else {
            text::find_ci(r, &format!(" {kw}"))? + 1
        };
        let host = r.get(at + kw.len()..)?.split_whitespace().next()?;
        let host = host
            .trim_matches(|c: char| c == '(' || c == ')' || c == ';' || c == '[' || c == ']')
            .trim_end_matches('.');
        (host.contains('.') && host.bytes().any(|c| c.is_ascii_alphabetic()))
            .then(|| host.to_ascii_lowercase())
    };
    host_after("from ").or_else(|| host_after("by "))
}

/// The SMTP command a recipient's failure answered, when the human-readable part names it
/// (Postfix `(in reply to RCPT TO command)`, Exim `after RCPT TO:`, a Sendmail transcript
/// `>>> RCPT To:`, `SMTP:RCPT host ...`): first in the text that follows the recipient's
/// address, else anywhere in the part, else [`classify::SmtpCommand::NotStated`].
/// `human_lc` is lower-case; `anywhere` caches the answer for the whole part.
fn command_near(
    human_lc: &str,
    recipient: &str,
    anywhere: &std::cell::OnceCell<classify::SmtpCommand>,
) -> Option<classify::SmtpCommand> {
    let rcpt = recipient.to_ascii_lowercase();
    if !rcpt.is_empty()
        && let Some(pos) = human_lc.find(&rcpt)
    {
        // A transcript's command line names the address: `>>> RCPT To:<addr>`.
        let mut from = pos.saturating_sub(20);
        while !human_lc.is_char_boundary(from) {
            from -= 1;
        }
        if human_lc
            .get(from..pos)
            .is_some_and(|b| b.trim_end_matches(['<', ' ']).ends_with(">>> rcpt to:"))
        {
            return Some(classify::SmtpCommand::Rcpt);
        }
        let mut end = (pos + 1000).min(human_lc.len());
        while !human_lc.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(c) = human_lc.get(pos..end).and_then(classify::command_in) {
            return Some(c);
        }
    }
    Some(
        *anywhere.get_or_init(|| {
            classify::command_in(human_lc).unwrap_or(classify::SmtpCommand::NotStated)
        }),
    )
}

/// The human-readable text from the recipient's address on (at most 1,500 bytes), or the
/// start of the part when the address is not in it. `human_lc` is lower-case.
fn text_after<'a>(human_lc: &'a str, recipient: &str) -> &'a str {
    let rcpt = recipient.to_ascii_lowercase();
    let start = if rcpt.is_empty() {
        None
    } else {
        human_lc.find(&rcpt)
    }
    .unwrap_or(0);
    let mut end = (start + 1500).min(human_lc.len());
    while !human_lc.is_char_boundary(end) {
        end -= 1;
    }
    human_lc.get(start..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_challenge` before it searched all phrases in one pass: a substring search per
    /// phrase.
    fn is_challenge_reference(diag: &str) -> bool {
        let finders = text::Phrases::new(CHALLENGE);
        !diag.is_empty() && finders.any_in(&diag.to_ascii_lowercase())
    }

    proptest::proptest! {
        /// The robot words found in one pass are those a substring search per word finds.
        #[test]
        fn robot_words_are_unchanged(local in "(noreply|no-reply|donotreply|daemon|mailer|post_master|bounce|admin|root|system|notify|notification|mail|mai|no|[a-z0-9._-]{1,6}|\u{e9}){0,5}") {
            let reference = text::Phrases::new(ROBOT_WORDS);
            proptest::prop_assert_eq!(ROBOT.is_match(local.as_bytes()), reference.any_in(&local));
        }

        #[test]
        fn is_challenge_is_unchanged(d in "(Requires Confirmation|not pre-approved|PRE-APPROVED senders|challenge-response|challenge response|please confirm that you|verify that you are a real|confirm your message|Confirm That You Sent|awaiting your confirmation|spamarrest|BoxBe|whitelist\\.aspx|confirm|challenge|pre-|[a-z]{1,8}| |\u{e9}|550 5\\.7\\.1){0,12}") {
            proptest::prop_assert_eq!(is_challenge(&d), is_challenge_reference(&d));
        }
    }

    /// PMDF's `Recipient address:` / `Original address:` pair: the address the sender wrote
    /// is reported, not the internal mailbox it was rewritten to.
    #[test]
    fn pmdf_rewritten_recipient_reports_the_original_address() {
        let raw = "From: PMDF e-Mail Interconnect <postmaster@mx.example.ch>\r
To: list-bounces@example.org\r
Subject: Delivery Notification: Delivery has failed\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r
\r
--B\r
Content-Type: text/plain\r
\r
Your message cannot be delivered to the following recipients:\r
\r
  Recipient address: JDOE@vms.mx.example.ch\r
  Original address: jane.doe@example.ch\r
%MAIL-E-OPENOUT, error opening !AS as output\r
-SYSTEM-F-EXDISKQUOTA, disk quota exceeded\r
\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns;vms.mx.example.ch\r
\r
Action: failed\r
Status: 5.0.0\r
Original-recipient: rfc822;jane.doe@example.ch\r
Final-recipient: rfc822;JDOE@vms.mx.example.ch\r
\r
--B--\r
";
        let a = analyze(raw.as_bytes());
        let got: Vec<&str> = a.recipients.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(got, ["jane.doe@example.ch"]);
        // Without PMDF's own statement, the report's Final-Recipient stays the recipient.
        let plain = raw.replace("  Original address: jane.doe@example.ch\r\n", "");
        let a = analyze(plain.as_bytes());
        let got: Vec<&str> = a.recipients.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(got, ["JDOE@vms.mx.example.ch"]);
    }

    #[test]
    fn challenge_phrases_are_all_found() {
        for p in CHALLENGE {
            assert!(is_challenge(p), "{p}");
            assert!(
                is_challenge(&format!("x {} y", p.to_ascii_uppercase())),
                "{p}"
            );
        }
        assert!(!is_challenge(""));
        assert!(!is_challenge("550 5.1.1 user unknown"));
    }
}
