//! Building one notice: headers, human part, `message/delivery-status`, returned original.

use std::fmt::Write as _;

use mailerd_types::{Category, DsnAction, EnhancedStatus, Ret, SmtpReply};

use mailerd_types::rfc5322_date;

/// Which notice to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Some recipients failed for good: "Delivery Status Notification (Failure)".
    Failure,
    /// Still retrying: "Delivery Status Notification (Delay)".
    Delay,
    /// Delivered or relayed, when NOTIFY=SUCCESS asked: "Delivery Status Notification (Success)".
    Success,
    /// One of our own notices (a null-sender message) could not be delivered: the report to
    /// the postmaster, with the undeliverable notice attached. Never sent to anyone else, and
    /// marked `X-Mailerd-Notice: double-bounce` so that its own failure is only logged.
    DoubleBounce,
}

impl NoticeKind {
    fn subject(self) -> &'static str {
        match self {
            NoticeKind::Failure => "Delivery Status Notification (Failure)",
            NoticeKind::Delay => "Delivery Status Notification (Delay)",
            NoticeKind::Success => "Delivery Status Notification (Success)",
            NoticeKind::DoubleBounce => "Undeliverable notification (double bounce)",
        }
    }
}

/// The header that marks a double-bounce notice (see [`NoticeKind::DoubleBounce`]).
pub const DOUBLE_BOUNCE_HEADER: &str = "X-Mailerd-Notice";

/// What to report about one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeRecipient {
    /// The address we tried (`Final-Recipient`).
    pub final_recipient: String,
    /// From ORCPT: address type and the decoded address (`Original-Recipient`).
    pub original_recipient: Option<(String, String)>,
    pub action: DsnAction,
    pub status: EnhancedStatus,
    /// What a person is told: headline, meaning, advice.
    pub category: Category,
    /// The server that answered (`Remote-MTA`), a host name.
    pub remote_mta: Option<String>,
    /// The remote server's reply, verbatim.
    pub reply: Option<SmtpReply>,
    /// Our own diagnosis when no server answered (DNS, connection, expiry).
    pub diagnostic: Option<String>,
    pub last_attempt: Option<u64>,
    /// For delays: when we give up.
    pub will_retry_until: Option<u64>,
    /// For delays: a failure notice would follow if delivery fails for good (the recipient's
    /// NOTIFY includes FAILURE, or is absent), so the notice can say so.
    pub failure_reported: bool,
}

/// Everything needed to write one notice about one message.
#[derive(Debug, Clone)]
pub struct NoticeRequest<'a> {
    pub kind: NoticeKind,
    /// Our host name: `Reporting-MTA`, `MAILER-DAEMON@` and the Message-ID's right side.
    pub reporting_mta: &'a str,
    /// The notice's recipient (`To:`): the original message's envelope sender, or the
    /// postmaster for a double bounce.
    pub sender: &'a str,
    /// The original's queue id (for the Message-ID and `X-Mailerd-Queue-ID`).
    pub queue_id: &'a str,
    /// ENVID of the original, decoded.
    pub envid: Option<&'a str>,
    pub ret: Option<Ret>,
    /// When we received the original (seconds since the epoch).
    pub arrival_date: u64,
    /// Now, for `Date` and the Message-ID.
    pub now: u64,
    /// The original message, CRLF line endings.
    pub original: &'a [u8],
    /// Above this size a failure notice returns only the header (RET=FULL included).
    pub full_limit: usize,
    pub recipients: Vec<NoticeRecipient>,
}

/// Default `full_limit`: return the whole original up to 256 KiB.
pub const DEFAULT_FULL_LIMIT: usize = 256 * 1024;

/// Writes the notice, CRLF line endings, ready to be queued with `MAIL FROM:<>`.
pub fn build(req: &NoticeRequest<'_>) -> Vec<u8> {
    let global = req.recipients.iter().any(|r| {
        !r.final_recipient.is_ascii()
            || r.original_recipient
                .as_ref()
                .is_some_and(|(_, a)| !a.is_ascii())
    });
    let (orig_head, _) = split_header(req.original);
    let orig_message_id = header_value(orig_head, "message-id");
    let orig_subject = header_value(orig_head, "subject");

    let text = human_text(req, orig_subject.as_deref());
    let html = human_html(req, orig_subject.as_deref());
    let status = delivery_status(req, global);
    let return_full = matches!(req.kind, NoticeKind::Failure | NoticeKind::DoubleBounce)
        && req.ret != Some(Ret::Hdrs)
        && req.original.len() <= req.full_limit;
    let returned: &[u8] = if return_full { req.original } else { orig_head };

    // A boundary that occurs in none of the parts.
    let mut boundary = format!("=_mailerd_{}_{}", sanitize_token(req.queue_id), req.now);
    let mut alt = format!("{boundary}_alt");
    let mut n = 0;
    while [
        text.as_bytes(),
        html.as_bytes(),
        status.as_bytes(),
        returned,
    ]
    .iter()
    .any(|p| contains(p, boundary.as_bytes()))
    {
        n += 1;
        boundary = format!("=_mailerd_{}_{}_{n}", sanitize_token(req.queue_id), req.now);
        alt = format!("{boundary}_alt");
    }

    let mut m = String::with_capacity(4096 + text.len() * 2);
    let _ = write!(m, "Date: {}\r\n", rfc5322_date(req.now));
    let _ = write!(
        m,
        "From: Mail Delivery Subsystem <MAILER-DAEMON@{}>\r\n",
        req.reporting_mta
    );
    let _ = write!(m, "To: <{}>\r\n", req.sender);
    let _ = write!(m, "Subject: {}\r\n", req.kind.subject());
    let _ = write!(
        m,
        "Message-ID: <{}.{}.{}@{}>\r\n",
        sanitize_token(req.queue_id),
        req.now,
        match req.kind {
            NoticeKind::Failure => "failure",
            NoticeKind::Delay => "delay",
            NoticeKind::Success => "success",
            NoticeKind::DoubleBounce => "double-bounce",
        },
        req.reporting_mta
    );
    if let Some(id) = &orig_message_id {
        let _ = write!(m, "In-Reply-To: {id}\r\nReferences: {id}\r\n");
    }
    m.push_str("Auto-Submitted: auto-replied\r\n");
    if req.kind == NoticeKind::DoubleBounce {
        let _ = write!(m, "{DOUBLE_BOUNCE_HEADER}: double-bounce\r\n");
    }
    if req.kind == NoticeKind::Failure {
        let failed: Vec<&str> = req
            .recipients
            .iter()
            .filter(|r| r.action == DsnAction::Failed)
            .map(|r| r.final_recipient.as_str())
            .collect();
        if !failed.is_empty() {
            m.push_str(&fold_header("X-Failed-Recipients", &failed.join(", ")));
        }
    }
    m.push_str("MIME-Version: 1.0\r\n");
    let _ = write!(
        m,
        "Content-Type: multipart/report; report-type={};\r\n boundary=\"{boundary}\"\r\n\r\n",
        if global {
            "global-delivery-status"
        } else {
            "delivery-status"
        }
    );
    m.push_str("This is a MIME-encapsulated message.\r\n\r\n");

    // 1. the human part, text first then HTML (a mail client shows the last alternative it
    //    understands; both say the same)
    let _ = write!(
        m,
        "--{boundary}\r\nContent-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n"
    );
    let _ = write!(m, "--{alt}\r\n");
    m.push_str(&text_part("text/plain", &text));
    let _ = write!(m, "--{alt}\r\n");
    m.push_str(&text_part("text/html", &html));
    let _ = write!(m, "--{alt}--\r\n\r\n");

    // 2. the machine part
    let _ = write!(m, "--{boundary}\r\n");
    if global {
        m.push_str("Content-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    } else {
        m.push_str(
            "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        );
    }
    m.push_str(&status);
    m.push_str("\r\n");

    // 3. the original
    let _ = write!(m, "--{boundary}\r\n");
    let cte = if returned.is_ascii() { "7bit" } else { "8bit" };
    if return_full {
        let _ = write!(
            m,
            "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
        );
    } else {
        let _ = write!(
            m,
            "Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
        );
    }
    let mut out = m.into_bytes();
    out.extend_from_slice(returned);
    if !returned.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// One plain sentence for a recipient, in the words of the standards spec sec. 6.5.
fn sentence(kind: NoticeKind, r: &NoticeRecipient) -> String {
    let rcpt = &r.final_recipient;
    match kind {
        NoticeKind::Delay => match r.will_retry_until {
            Some(t) if r.failure_reported => format!(
                "There was a temporary problem delivering your message to {rcpt}. We'll keep trying until {}. You don't need to resend it; we'll tell you if delivery fails for good.",
                rfc5322_date(t)
            ),
            Some(t) => format!(
                "There was a temporary problem delivering your message to {rcpt}. We'll keep trying until {}. You don't need to resend it.",
                rfc5322_date(t)
            ),
            None => format!(
                "There was a temporary problem delivering your message to {rcpt}. We'll keep trying."
            ),
        },
        NoticeKind::Success if r.action == DsnAction::Relayed => format!(
            "Your message to {rcpt} was handed on to {}, which does not send delivery confirmations, so this is the last report you will get.",
            r.remote_mta.as_deref().unwrap_or("the next server")
        ),
        NoticeKind::Success => format!("Your message was delivered to {rcpt}."),
        NoticeKind::DoubleBounce => format!(
            "A delivery notice for {rcpt} could not be delivered. Notices are never bounced (RFC 5321 section 6.1), so this report to the postmaster is the only one; the undeliverable notice is attached."
        ),
        NoticeKind::Failure => match r.category {
            Category::AddressNotFound => format!(
                "Your message wasn't delivered to {rcpt} because the address couldn't be found or can't receive mail."
            ),
            Category::DomainNotFound => format!(
                "Your message wasn't delivered to {rcpt} because the domain after the @ doesn't exist or doesn't accept mail."
            ),
            Category::InboxFull => format!(
                "Your message couldn't be delivered to {rcpt} because their mailbox is full."
            ),
            Category::MessageBlocked => {
                format!("Your message to {rcpt} was blocked by the recipient's mail server.")
            }
            Category::MessageTooLarge => {
                format!("Your message to {rcpt} is larger than the recipient's server accepts.")
            }
            Category::TooManyRecipients => format!(
                "Your message to {rcpt} had more recipients than the server accepts at once."
            ),
            Category::SenderNotAuthenticated => format!(
                "The server for {rcpt} couldn't verify that the message really came from your domain."
            ),
            Category::MessageExpired => {
                format!("We couldn't deliver your message to {rcpt}: we kept trying, and gave up.")
            }
            Category::TlsRequired => format!(
                "Your message wasn't delivered to {rcpt}: the recipient's server requires a secure connection setting ours couldn't agree on."
            ),
            Category::RelayDenied => format!(
                "Your message wasn't delivered to {rcpt}: the server for that domain refused to accept mail for it."
            ),
            Category::SenderNotAllowed => format!(
                "Your message wasn't delivered to {rcpt}: the recipient only accepts mail from approved senders."
            ),
            Category::SendingLimit => format!(
                "Your message wasn't delivered to {rcpt}: your account reached a sending limit."
            ),
            Category::MailLoop => format!(
                "Your message wasn't delivered to {rcpt}: it went around in a loop between mail servers."
            ),
            Category::RateLimited | Category::TemporaryProblem => format!(
                "Your message wasn't delivered to {rcpt}: the recipient's server kept refusing it for now, and we gave up."
            ),
            _ => format!("There was a problem delivering your message to {rcpt}."),
        },
    }
}

fn headline(kind: NoticeKind, r: &NoticeRecipient) -> &'static str {
    match kind {
        NoticeKind::Failure => r.category.headline(),
        NoticeKind::Delay => "Delivery delayed",
        NoticeKind::Success if r.action == DsnAction::Relayed => "Message relayed",
        NoticeKind::Success => "Message delivered",
        NoticeKind::DoubleBounce => "Undeliverable notification (double bounce)",
    }
}

/// How the returned message's subject is introduced.
fn subject_label(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::DoubleBounce => "The undeliverable notice's subject",
        _ => "Your message's subject",
    }
}

/// What the reader can do, for the kinds that ask something of them.
fn advice(kind: NoticeKind, r: &NoticeRecipient) -> Option<String> {
    match kind {
        NoticeKind::Failure => Some(r.category.advice().to_string()),
        NoticeKind::DoubleBounce => Some(format!(
            "If {} is a real correspondent, check why their server refuses our notices; if the address was forged (backscatter), nothing needs doing.",
            r.final_recipient
        )),
        NoticeKind::Delay | NoticeKind::Success => None,
    }
}

/// The server's words, or our own diagnosis when no server answered.
fn response(r: &NoticeRecipient) -> Option<(bool, Vec<String>)> {
    if let Some(reply) = &r.reply {
        let lines = reply
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                format!(
                    "{}{}{}",
                    reply.code,
                    if i + 1 < reply.lines.len() { '-' } else { ' ' },
                    l
                )
            })
            .collect();
        return Some((true, lines));
    }
    r.diagnostic.as_ref().map(|d| (false, vec![d.clone()]))
}

fn human_text(req: &NoticeRequest<'_>, subject: Option<&str>) -> String {
    let mut t = String::new();
    for r in &req.recipients {
        let _ = write!(t, "** {} **\r\n\r\n", headline(req.kind, r));
        let _ = write!(t, "{}\r\n\r\n", wrap(&sentence(req.kind, r), 72));
        if let Some(a) = advice(req.kind, r) {
            let _ = write!(t, "{}\r\n\r\n", wrap(&format!("What you can do: {a}"), 72));
        }
        if let Some((remote, lines)) = response(r) {
            let who = if remote {
                "The response from the remote server was:"
            } else {
                "What happened:"
            };
            let _ = write!(t, "{who}\r\n");
            for l in lines {
                let _ = write!(t, "{l}\r\n");
            }
            t.push_str("\r\n");
        }
    }
    if let Some(s) = subject {
        let _ = write!(t, "{}: {}\r\n", subject_label(req.kind), one_line(s));
    }
    let _ = write!(
        t,
        "Reported by {} (queue id {}).\r\n",
        req.reporting_mta, req.queue_id
    );
    t
}

fn human_html(req: &NoticeRequest<'_>, subject: Option<&str>) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\r\n",
    );
    for r in &req.recipients {
        let _ = write!(
            h,
            "<h2>{}</h2>\r\n<p>{}</p>\r\n",
            esc(headline(req.kind, r)),
            esc(&sentence(req.kind, r))
        );
        if let Some(a) = advice(req.kind, r) {
            let _ = write!(h, "<p><b>What you can do:</b> {}</p>\r\n", esc(&a));
        }
        if let Some((remote, lines)) = response(r) {
            let who = if remote {
                "The response from the remote server was:"
            } else {
                "What happened:"
            };
            let _ = write!(h, "<p>{who}</p>\r\n<pre>");
            for l in lines {
                let _ = write!(h, "{}\r\n", esc(&l));
            }
            h.push_str("</pre>\r\n");
        }
    }
    if let Some(s) = subject {
        let _ = write!(
            h,
            "<p>{}: {}</p>\r\n",
            subject_label(req.kind),
            esc(&one_line(s))
        );
    }
    let _ = write!(
        h,
        "<p style=\"color:#666\">Reported by {} (queue id {}).</p>\r\n</body></html>\r\n",
        esc(req.reporting_mta),
        esc(req.queue_id)
    );
    h
}

/// The `message/delivery-status` body (RFC 3464 section 2), fields in the RFC's order.
fn delivery_status(req: &NoticeRequest<'_>, global: bool) -> String {
    let mut s = String::new();
    if let Some(e) = req.envid {
        s.push_str(&fold_header("Original-Envelope-Id", e));
    }
    let _ = write!(s, "Reporting-MTA: dns; {}\r\n", req.reporting_mta);
    let _ = write!(
        s,
        "X-Mailerd-Queue-ID: {}\r\n",
        sanitize_token(req.queue_id)
    );
    let _ = write!(s, "Arrival-Date: {}\r\n", rfc5322_date(req.arrival_date));
    for r in &req.recipients {
        s.push_str("\r\n");
        if let Some((ty, addr)) = &r.original_recipient {
            let ty = if !addr.is_ascii() && global {
                "utf-8"
            } else {
                ty.as_str()
            };
            s.push_str(&fold_header("Original-Recipient", &format!("{ty};{addr}")));
        }
        let ty = if r.final_recipient.is_ascii() {
            "rfc822"
        } else {
            "utf-8"
        };
        s.push_str(&fold_header(
            "Final-Recipient",
            &format!("{ty};{}", r.final_recipient),
        ));
        let _ = write!(s, "Action: {}\r\n", r.action);
        let _ = write!(s, "Status: {}\r\n", r.status);
        if let Some(m) = &r.remote_mta {
            let _ = write!(s, "Remote-MTA: dns; {m}\r\n");
        }
        if let Some(reply) = &r.reply {
            // RFC 3464 sec. 9.2: a multi-line reply is one field, each line a continuation.
            let mut v = String::from("smtp; ");
            for (i, l) in reply.lines.iter().enumerate() {
                if i > 0 {
                    v.push_str("\r\n ");
                }
                let _ = write!(
                    v,
                    "{}{}{}",
                    reply.code,
                    if i + 1 < reply.lines.len() { '-' } else { ' ' },
                    l
                );
            }
            s.push_str(&fold_header("Diagnostic-Code", &v));
        } else if let Some(d) = &r.diagnostic {
            s.push_str(&fold_header(
                "Diagnostic-Code",
                &format!("X-mailerd; {}", one_line(d)),
            ));
        }
        if let Some(t) = r.last_attempt {
            let _ = write!(s, "Last-Attempt-Date: {}\r\n", rfc5322_date(t));
        }
        if r.action == DsnAction::Delayed
            && let Some(t) = r.will_retry_until
        {
            let _ = write!(s, "Will-Retry-Until: {}\r\n", rfc5322_date(t));
        }
    }
    s
}

/// `Name: value` folded at spaces so that lines stay under 78 characters where possible
/// (never splitting a word); existing CRLF+space continuations are kept.
fn fold_header(name: &str, value: &str) -> String {
    let mut out = String::with_capacity(name.len() + value.len() + 8);
    let mut line_len = name.len() + 2;
    out.push_str(name);
    out.push_str(": ");
    for (i, physical) in value.split("\r\n").enumerate() {
        let physical = if i > 0 {
            out.push_str("\r\n ");
            line_len = 1;
            physical.trim_start()
        } else {
            physical
        };
        let mut first = true;
        for word in physical.split(' ') {
            if !first {
                if line_len + 1 + word.len() > 78 && line_len > 1 {
                    out.push_str("\r\n ");
                    line_len = 1;
                } else {
                    out.push(' ');
                    line_len += 1;
                }
            }
            out.push_str(word);
            line_len += word.len();
            first = false;
        }
    }
    out.push_str("\r\n");
    out
}

/// A text part: 7bit when it is ASCII with short lines, else quoted-printable UTF-8.
fn text_part(ctype: &str, body: &str) -> String {
    if body.is_ascii() && body.split("\r\n").all(|l| l.len() <= 998) {
        format!(
            "Content-Type: {ctype}; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}\r\n"
        )
    } else {
        format!(
            "Content-Type: {ctype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n",
            quoted_printable(body)
        )
    }
}

/// RFC 2045 quoted-printable with soft line breaks at 76 characters; CRLF line breaks kept.
fn quoted_printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for (i, line) in s.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let bytes = line.as_bytes();
        let mut col = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let piece_len = if literal { 1 } else { 3 };
            if col + piece_len > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            if literal {
                out.push(b as char);
            } else {
                let _ = write!(out, "={b:02X}");
            }
            col += piece_len;
        }
    }
    out
}

/// Word-wraps prose at `width` columns with CRLF line breaks (a longer word stays whole).
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0;
    for word in s.split_whitespace() {
        let w = word.chars().count();
        if col > 0 && col + 1 + w > width {
            out.push_str("\r\n");
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keeps a queue id usable inside a Message-ID and a MIME boundary.
fn sanitize_token(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The header block of a message (up to and including the blank line's first CRLF) and body.
fn split_header(m: &[u8]) -> (&[u8], &[u8]) {
    if let Some(i) = m.windows(4).position(|w| w == b"\r\n\r\n") {
        return (&m[..i + 2], &m[i + 4..]);
    }
    if let Some(i) = m.windows(2).position(|w| w == b"\n\n") {
        return (&m[..i + 1], &m[i + 2..]);
    }
    (m, &[])
}

/// The unfolded value of the first header with this (lower-case) name.
fn header_value(head: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let mut value: Option<String> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_words_and_continuations() {
        let f = fold_header(
            "Diagnostic-Code",
            "smtp; 550-5.1.1 first line\r\n 550 5.1.1 second line",
        );
        assert_eq!(
            f,
            "Diagnostic-Code: smtp; 550-5.1.1 first line\r\n 550 5.1.1 second line\r\n"
        );
        let long = "word ".repeat(40);
        let f = fold_header("X", long.trim());
        assert!(f.split("\r\n").all(|l| l.len() <= 78), "{f}");
        assert_eq!(
            f.replace("\r\n ", " ").trim_end(),
            format!("X: {}", long.trim())
        );
    }

    #[test]
    fn quoted_printable_is_ascii_with_short_lines() {
        let q = quoted_printable(&format!("caf\u{e9} = {}", "x".repeat(200)));
        assert!(q.is_ascii());
        assert!(q.split("\r\n").all(|l| l.len() <= 76));
        assert!(q.starts_with("caf=C3=A9 =3D "));
    }

    #[test]
    fn header_values_unfold() {
        let h = b"Subject: a\r\n b\r\nMessage-ID: <x@y>\r\n\r\n";
        assert_eq!(header_value(h, "subject").as_deref(), Some("a b"));
        assert_eq!(header_value(h, "message-id").as_deref(), Some("<x@y>"));
        assert_eq!(header_value(h, "to"), None);
    }
}
