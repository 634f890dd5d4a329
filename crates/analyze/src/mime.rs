//! Walks the MIME structure of a message (read by [`crate::mail`]) and sorts its parts into what the
//! decoders need: delivery-status bodies, the feedback report, the human-readable text, the
//! returned original (message/rfc822, text/rfc822-headers or an inline copy) and the parts
//! that are not part of any report (for the authenticity check).
//!
//! It does not interpret any of them.

use crate::OriginalMessage;
use crate::mail::{Body, Message, PartRef};
use crate::text::{contains_ci, find_ci, html_to_text, lines, starts_with_ci};

/// The parts of a message, sorted by role.
#[derive(Debug, Default)]
pub struct Parts {
    pub report_type: Option<String>,
    pub root_type: String,
    /// Bodies of message/delivery-status and message/global-delivery-status parts.
    pub dsn: Vec<String>,
    /// Body of a message/feedback-report part.
    pub feedback: Option<String>,
    /// Body of a message/disposition-notification part (RFC 8098).
    pub mdn: Option<String>,
    /// Plain text parts outside the returned message, concatenated.
    pub plain: String,
    /// HTML parts outside the returned message, converted to text: only when the plain text
    /// parts are empty (or white space), else left empty.
    pub html_text: String,
    /// Raw HTML (for link detection).
    pub html_raw: String,
    /// Headers of the returned original, when found as a part.
    pub original: Option<Original>,
    /// Parts that are not report parts.
    pub foreign: Vec<Attachment>,
}

/// A part outside the report: its content type and file name (empty when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub content_type: String,
    pub name: String,
}

impl std::fmt::Display for Attachment {
    /// `type/subtype (file name)`, or the type alone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.is_empty() {
            f.write_str(&self.content_type)
        } else {
            write!(f, "{} ({})", self.content_type, self.name)
        }
    }
}

/// The returned original message's headers.
#[derive(Debug, Default, Clone)]
pub struct Original {
    pub info: OriginalMessage,
    /// Every address in To/Cc (lower-case).
    pub recipients: Vec<String>,
    /// The top `Received:` header, unfolded.
    pub received_top: Option<String>,
    /// Envelope recipients named by `Received: ... for <a@b>` clauses, in order, unique.
    pub envelope_for: Vec<String>,
    /// Mailing-list or news mail (`List-Id`, `List-Post`, `Precedence: list`, `Newsgroups`,
    /// ...): its To is the list, not the member whose address failed. (Newsletters sent one
    /// copy per recipient, with only `List-Unsubscribe`/`Precedence: bulk`, are not.)
    pub is_list: bool,
    /// The first From's address and display name, as parsed (empty when absent).
    pub from_addr: String,
    pub from_name: String,
}

const REPORT_TYPES: &[&str] = &[
    "text/plain",
    "text/html",
    "message/delivery-status",
    "message/global-delivery-status",
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/global-headers",
    "message/feedback-report",
    "message/disposition-notification",
];

fn ctype_of<'m>(p: &PartRef<'m>) -> &'m str {
    p.ctype().unwrap_or("text/plain")
}

/// Sorts the parts of a parsed message.
pub fn collect(msg: &Message<'_>) -> Parts {
    let mut out = Parts::default();
    if let Some(root) = msg.root() {
        out.root_type = ctype_of(&root).to_string();
        if let Some(ct) = root.content_type() {
            out.report_type = ct.attribute("report-type").map(|s| s.to_ascii_lowercase());
        }
    }
    let plain_limit = 4 << 20;
    // Where each HTML part is in `html_raw`: converted to text only when it is needed.
    let mut html_parts: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, p) in msg.parts().enumerate() {
        if p.is_multipart() {
            continue;
        }
        let ct = ctype_of(&p);
        match ct {
            "message/delivery-status"
            | "message/global-delivery-status"
            | "text/delivery-status" => {
                out.dsn.push(report_text(&p));
            }
            "message/feedback-report" => {
                if out.feedback.is_none() {
                    out.feedback = Some(report_text(&p));
                }
            }
            "message/disposition-notification" => {
                if out.mdn.is_none() {
                    out.mdn = Some(report_text(&p));
                }
            }
            "message/rfc822" | "message/global" | "message/partial" | "message/rfc822-headers" => {
                if out.original.is_none() {
                    match p.message() {
                        Some(m) => {
                            out.original = Some(original_of(m));
                        }
                        None => {
                            out.original = original_from_bytes(&part_bytes(&p));
                        }
                    }
                }
            }
            "text/rfc822-headers" | "message/global-headers" | "text/rfc822-header" => {
                if out.original.is_none() {
                    out.original = original_from_bytes(&part_bytes(&p));
                }
            }
            "text/html" if i == 0 || !is_attachment_like(&p) => {
                if out.html_raw.len() < plain_limit
                    && let Body::Html(h) | Body::Text(h) = p.body()
                {
                    html_parts.push(out.html_raw.len()..out.html_raw.len() + h.len());
                    out.html_raw.push_str(&h);
                }
            }
            t if t.starts_with("text/") && (i == 0 || !is_attachment_like(&p)) => {
                if out.plain.len() < plain_limit {
                    match p.body() {
                        Body::Text(s) | Body::Html(s) => {
                            out.plain.push_str(&s);
                            out.plain.push('\n');
                        }
                        Body::Binary(b) => {
                            out.plain.push_str(&lossy(&b));
                            out.plain.push('\n');
                        }
                        Body::Multipart | Body::Message(_) => {}
                    }
                }
            }
            _ => {
                // Inline images referenced by the HTML (logos, icons) are decoration.
                let inline_image = ct.starts_with("image/") && p.content_id().is_some();
                if !inline_image && (!REPORT_TYPES.contains(&ct) || is_attachment_like(&p)) {
                    out.foreign.push(Attachment {
                        content_type: ct.to_string(),
                        name: p.attachment_name().unwrap_or_default().to_string(),
                    });
                }
            }
        }
    }
    // The HTML as text is read only when there is no plain text (the text decoders read the
    // plain text when there is any): left empty otherwise.
    if out.plain.trim().is_empty() {
        for r in html_parts {
            out.html_text
                .push_str(&html_to_text(out.html_raw.get(r).unwrap_or("")));
            out.html_text.push('\n');
        }
    }
    // A multipart whose boundary is missing or wrong: no parts are found; read the raw body
    // as text so that the decoders still see it.
    if out.plain.trim().is_empty() && out.html_text.trim().is_empty() && out.dsn.is_empty() {
        let b = msg.root_body_raw();
        if !b.is_empty() {
            let cap = b.len().min(plain_limit);
            out.plain = lossy(&b[..cap]).into_owned();
            out.foreign
                .retain(|f| !f.content_type.starts_with("multipart/"));
        }
    }
    out
}

/// A named part or one with `Content-Disposition: attachment`.
fn is_attachment_like(p: &PartRef<'_>) -> bool {
    p.content_disposition().is_some_and(|d| d.is_attachment())
        || p.attachment_name().is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            !(n.ends_with(".txt") || n.ends_with(".eml") || n.ends_with(".msg"))
        })
}

/// The text of a report part. When its base64 transfer encoding was broken (the part is
/// flagged and read as raw text), decode it leniently ourselves.
fn report_text(p: &PartRef<'_>) -> String {
    let problem = p.problem();
    let body = p.body();
    if let Body::Text(s) | Body::Html(s) = &body
        && !problem
    {
        // Already UTF-8: the copy `from_utf8_lossy` would make, without validating it again.
        return s.to_string();
    }
    let raw = body_bytes(&body);
    let b64 = p
        .content_transfer_encoding()
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("base64"));
    if problem && b64 {
        return lossy(&lenient_base64(raw)).into_owned();
    }
    lossy(raw).into_owned()
}

/// [`String::from_utf8_lossy`], with the common case (valid UTF-8, mostly ASCII) checked by
/// the word-at-a-time `str::from_utf8` rather than its chunk-by-chunk walk.
fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Base64 that skips anything outside the alphabet and stops at padding.
pub fn lenient_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The bytes of a decoded body (an attached message's: its buffer).
fn body_bytes<'b>(b: &'b Body<'_>) -> &'b [u8] {
    match b {
        Body::Text(s) | Body::Html(s) => s.as_bytes(),
        Body::Binary(b) => b,
        Body::Message(m) => m.raw_bytes(),
        Body::Multipart => b"",
    }
}

fn part_bytes<'m>(p: &PartRef<'m>) -> std::borrow::Cow<'m, [u8]> {
    match p.body() {
        Body::Text(std::borrow::Cow::Borrowed(s)) | Body::Html(std::borrow::Cow::Borrowed(s)) => {
            std::borrow::Cow::Borrowed(s.as_bytes())
        }
        Body::Text(s) | Body::Html(s) => std::borrow::Cow::Owned(s.into_owned().into_bytes()),
        Body::Binary(b) => b,
        Body::Message(m) => std::borrow::Cow::Borrowed(m.raw_bytes()),
        Body::Multipart => std::borrow::Cow::Borrowed(b""),
    }
}

fn addr_list(a: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address.as_deref())
            .map(crate::text::clean_address)
            .collect()
    })
    .unwrap_or_default()
}

/// `Name <addr>` (or the address alone) for each address of a header, joined.
pub fn display_addr(a: Option<&mail_parser::Address<'_>>) -> Option<String> {
    let a = a?;
    // Each address as `Name <addr>`, `addr` or `Name`, the non-empty ones joined by ", ".
    let mut out = String::new();
    for x in a.iter() {
        let piece: [&str; 4] = match (&x.name, &x.address) {
            (Some(n), Some(ad)) => [n, " <", ad, ">"],
            (None, Some(ad)) => [ad, "", "", ""],
            (Some(n), None) => [n, "", "", ""],
            (None, None) => ["", "", "", ""],
        };
        if piece.iter().all(|p| p.is_empty()) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        piece.iter().for_each(|p| out.push_str(p));
    }
    (!out.is_empty()).then_some(out)
}

/// Does this `Received:` value record an authenticated submission: the RFC 3848 protocol
/// names `ESMTPA`/`ESMTPSA` (and `LMTPA`/`LMTPSA`) after `with`, or Postfix's
/// `(Authenticated sender: name)`?
fn is_authenticated_submission(received: &str) -> bool {
    if find_ci(received, "(authenticated sender:").is_some() {
        return true;
    }
    // (No lower-cased copy: every Received of every returned original comes through here.)
    let b = received.as_bytes();
    let mut from = 0;
    while let Some(p) = received.get(from..).and_then(|r| find_ci(r, "with ")) {
        let start = from + p + 5;
        let end = b
            .get(start..)
            .and_then(|r| r.iter().position(|c| !c.is_ascii_alphanumeric()))
            .map_or(b.len(), |e| start + e);
        let proto = received.get(start..end).unwrap_or("");
        if [
            "esmtpa",
            "esmtpsa",
            "lmtpa",
            "lmtpsa",
            "utf8smtpa",
            "utf8smtpsa",
        ]
        .iter()
        .any(|x| proto.eq_ignore_ascii_case(x))
        {
            return true;
        }
        from = start;
    }
    false
}

/// Reads the interesting headers of a (returned) message.
pub fn original_of(m: &Message<'_>) -> Original {
    let [
        date,
        received,
        list_id,
        list_post,
        mailing_list,
        been_there,
        mailman,
        newsgroups,
        precedence,
    ] = m.raw_headers([
        "Date",
        "Received",
        "List-Id",
        "List-Post",
        "Mailing-List",
        "X-BeenThere",
        "X-Mailman-Version",
        "Newsgroups",
        "Precedence",
    ]);
    let to = m.to();
    let mut recipients = addr_list(to.as_ref());
    recipients.extend(addr_list(m.cc().as_ref()));
    let from = m.from();
    let first_from = from.as_ref().and_then(|f| f.first());
    let from_addr = first_from
        .and_then(|a| a.address.as_deref())
        .unwrap_or("")
        .to_string();
    let from_name = first_from
        .and_then(|a| a.name.as_deref())
        .unwrap_or("")
        .to_string();
    let mut info = OriginalMessage {
        message_id: m.message_id().map(|s| format!("<{s}>")),
        from: display_addr(from.as_ref()),
        to: display_addr(to.as_ref()),
        subject: m.subject().map(|s| s.into_owned()),
        date: date.map(|s| s.trim().to_string()),
        authenticated_submission: false,
    };
    let received_top = received.map(crate::text::squash);
    let mut envelope_for: Vec<String> = Vec::new();
    for v in m.raw_values("Received") {
        if !info.authenticated_submission && is_authenticated_submission(v) {
            info.authenticated_submission = true;
        }
        if let Some(p) = find_ci(v, "for ") {
            let rest = v.get(p + 4..).unwrap_or("").trim_start();
            if let Some(a) =
                crate::text::first_address(crate::prefix(rest, 200)).filter(|a| a.start <= 1)
                && !envelope_for.contains(&a.addr)
            {
                envelope_for.push(a.addr);
            }
        }
    }
    let is_list = [
        list_id,
        list_post,
        mailing_list,
        been_there,
        mailman,
        newsgroups,
    ]
    .iter()
    .any(|h| h.is_some())
        || precedence.is_some_and(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "list"
        });
    Original {
        info,
        recipients,
        received_top,
        envelope_for,
        is_list,
        from_addr,
        from_name,
    }
}

/// Parses a header block (and possibly a body) given as bytes.
pub fn original_from_bytes(raw: &[u8]) -> Option<Original> {
    let trimmed = trim_leading_blank(raw);
    let m = Message::parse_headers(trimmed)?;
    let o = original_of(&m);
    let i = &o.info;
    if i.message_id.is_none()
        && i.from.is_none()
        && i.to.is_none()
        && i.subject.is_none()
        && o.envelope_for.is_empty()
    {
        return None;
    }
    Some(o)
}

fn trim_leading_blank(b: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < b.len() && (b[i] == b'\n' || b[i] == b'\r' || b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    b.get(i..).unwrap_or(b"")
}

/// Markers that introduce the returned message inside a plain text bounce.
const ORIGINAL_MARKERS: &[&str] = &[
    "------ this is a copy of the message",
    "------ this is a copy of the body",
    "--- below this line is a copy of the message",
    "----- original message -----",
    "-----original message-----",
    "----- unsent message follows -----",
    "----- message header follows -----",
    "------ original message header",
    "----- original message follows",
    "original message follows",
    "------ returned message -----",
    "----- returned message",
    "--- original message ---",
    "original message as received",
    "a copy of the original message below",
    "message headers follow",
    "original message headers:",
    "this is a copy of the headers",
    "the message header is enclosed",
    "----- the header of the original message",
    "--- begin of original message",
    "-------- original message --------",
    "----- message text follows -----",
    "--- the header of the original message is following",
    "the header of the original message is",
    "----- original message headers -----",
    "received message headers",
    "------ this is a copy of your message",
    "------ the message we were unable to deliver follows",
];

/// Words of a short separator line (`------ Original message ------`, `Original message
/// headers:`) that introduces the copy.
const ORIGINAL_WORDS: &[&str] = &[
    "original message",
    "returned message",
    "unsent message",
    "copy of the message",
    "copy of your message",
    "message headers",
    "original headers",
];

/// The markers and words, searched exactly in the lower-cased text: the same matches as an
/// ASCII case-insensitive search of the text (the patterns are lower-case).
static ORIGINAL: std::sync::LazyLock<crate::text::Literals> = std::sync::LazyLock::new(|| {
    crate::text::Literals::new(ORIGINAL_MARKERS.iter().chain(ORIGINAL_WORDS))
});

/// Where the copy of the original starts in a plain text bounce: the first marker line,
/// else the first block of at least three consecutive header lines that starts with
/// `Return-Path:`/`Received:`.
pub fn split_original(text: &str) -> Option<usize> {
    split_original_lc(text, &text.to_ascii_lowercase())
}

/// [`split_original`] given also `low`, the text lower-cased (ASCII).
pub fn split_original_lc(text: &str, low: &str) -> Option<usize> {
    let owned;
    let low = if low.len() == text.len() {
        low
    } else {
        owned = text.to_ascii_lowercase();
        &owned
    };
    let mut marker: Option<usize> = None;
    // The full search only when some marker occurs at all, and only from the leftmost one
    // (no match starts before it, so the same matches are found).
    if let Some(from) = ORIGINAL
        .leftmost_start(low.as_bytes())
        .filter(|&f| f <= low.len())
    {
        // (The matches of an Aho-Corasick automaton with the standard semantics, which this
        // search used before.)
        for m in ORIGINAL.standard_iter(low.as_bytes(), from) {
            // Marker lines are short: look for the line bounds within a small window only,
            // so that a huge single line cannot make this quadratic.
            let mut w0 = m.start.saturating_sub(256);
            while !text.is_char_boundary(w0) {
                w0 += 1;
            }
            let before = text.get(w0..m.start).unwrap_or("");
            let ls = match before.rfind('\n') {
                Some(p) => w0 + p + 1,
                None if w0 == 0 => 0,
                None => continue,
            };
            let mut w1 = (m.end + 256).min(text.len());
            while !text.is_char_boundary(w1) {
                w1 -= 1;
            }
            let after = text.get(m.start..w1).unwrap_or("");
            let le = match after.find('\n') {
                Some(p) => m.start + p,
                None if m.end + 256 >= text.len() => text.len(),
                None => continue,
            };
            let line = &text[ls..le];
            let t = line.trim();
            let id = m.pattern;
            let ok = if id < ORIGINAL_MARKERS.len() {
                marker_stands(
                    text.as_bytes().get(ls..m.start).unwrap_or_default(),
                    m.end - m.start,
                )
            } else {
                (t.len() < 90
                    && (t.starts_with('-') || t.starts_with('=') || t.ends_with(':'))
                    && !contains_ci(t, "received at")
                    && !contains_ci(t, "following")
                    && !contains_ci(t, "recipient")
                    && !contains_ci(t, " not "))
                    // A word ends before a marker that holds it (`Original message
                    // follows.`, `a copy of the original message below`), so the search
                    // reports the word and never the marker: look for one on the line.
                    || marker_on_line(low.get(ls..le).unwrap_or(""))
            };
            if ok && t.len() > 8 {
                marker = Some(ls);
                break;
            }
        }
    }
    let limit = marker.unwrap_or(text.len());
    let mut header_start: Option<usize> = None;
    let mut header_run = 0;
    let mut offset = 0usize;
    for line in crate::text::split_lf(text.get(..limit).unwrap_or(text)) {
        let start = offset;
        offset += line.len() + 1;
        let l = line.trim_end_matches('\r');
        if is_header_line(l) {
            if header_run == 0 {
                header_start = Some(start);
            }
            header_run += 1;
            if header_run >= 3
                && let Some(h) = header_start
            {
                let first = text.get(h..).unwrap_or("");
                if starts_with_ci(first, "return-path:") || starts_with_ci(first, "received:") {
                    return Some(h);
                }
            }
        } else if !(l.starts_with(' ') || l.starts_with('\t')) || header_run == 0 {
            header_run = 0;
        }
    }
    marker
}

/// Whether `line` (lower-cased) holds a marker as a marker line would: led only by blanks or
/// `>`, or a long one anywhere (the rule for a marker the search reports itself).
fn marker_on_line(line: &str) -> bool {
    static MARKERS: std::sync::LazyLock<crate::text::Literals> =
        std::sync::LazyLock::new(|| crate::text::Literals::new(ORIGINAL_MARKERS));
    MARKERS.standard_iter(line.as_bytes(), 0).any(|m| {
        marker_stands(
            line.as_bytes().get(..m.start).unwrap_or_default(),
            m.end - m.start,
        )
    })
}

/// A marker of `len` bytes after `lead` on its line introduces the copy: it leads the line
/// (after blanks or `>`), or is long enough to say so anywhere.
fn marker_stands(lead: &[u8], len: usize) -> bool {
    len > 24 || lead.iter().all(|&c| c == b' ' || c == b'\t' || c == b'>')
}

fn is_header_line(l: &str) -> bool {
    // Only a colon within the first 40 bytes can qualify: the search stops there (a line with
    // no colon is not read to its end).
    let head = l.as_bytes().get(..l.len().min(40)).unwrap_or_default();
    match memchr::memchr(b':', head) {
        Some(p) if p > 1 && p < 40 => l[..p]
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-'),
        _ => false,
    }
}

/// Finds the original's headers inside the tail of a plain text bounce.
pub fn inline_original(tail: &str) -> Option<Original> {
    // skip the marker line itself
    let body = match tail.find('\n') {
        Some(p) if !is_header_line(lines(tail).next().unwrap_or("")) => &tail[p + 1..],
        _ => tail,
    };
    let start = lines(body)
        .scan(0usize, |off, l| {
            let s = *off;
            *off += l.len() + 1;
            Some((s, l))
        })
        .take(40)
        .find(|(_, l)| is_header_line(l.trim_start().trim_start_matches('>')))
        .map(|(s, _)| s)?;
    let block = body.get(start..)?;
    // unindent "    Received: ..." style quoted headers
    let cut = find_ci(block, "\n\n").unwrap_or(block.len().min(64 << 10));
    let head = block.get(..cut.min(64 << 10)).unwrap_or(block);
    let unindented: String = if head.starts_with([' ', '\t', '>']) {
        lines(head)
            .map(|l| l.trim_start().trim_start_matches('>'))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        head.to_string()
    };
    original_from_bytes(format!("{unindented}\n\n").as_bytes())
}

/// A summary of the original in the human text (`  To: a@b` / `  Subject: x` / `  Sent: ...`
/// lines, as Exchange, qmail-ish and many others write), read as the original's headers.
pub fn summary_original(human: &str) -> Option<Original> {
    let ls: Vec<&str> = lines(human).take(3000).collect();
    let i = ls
        .iter()
        .position(|l| starts_with_ci(l.trim_start(), "subject:"))?;
    let mut s = i;
    while s > 0 && i - s < 6 && is_header_line(ls[s - 1].trim_start()) {
        s -= 1;
    }
    let mut e = i + 1;
    while e < ls.len() && e - i < 6 && is_header_line(ls[e].trim_start()) {
        e += 1;
    }
    let block: Vec<&str> = ls[s..e].iter().map(|l| l.trim_start()).collect();
    if !block.iter().any(|l| starts_with_ci(l, "to:")) {
        return None;
    }
    let mut text = block.join("\n");
    text.push_str("\n\n");
    original_from_bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticated_submissions_in_received() {
        for yes in [
            "from [192.0.2.7] by smtp.example.org with ESMTPSA id 4ABC for <b@x>; Mon, 7 Dec 2026",
            "from pc (pc [192.0.2.7]) (Authenticated sender: alice) by mx.example.org (Postfix)",
            "from [10.0.0.2] by mail.example.org with esmtpa (Exim 4.96)",
        ] {
            assert!(is_authenticated_submission(yes), "{yes}");
        }
        for no in [
            "from mx.example.org by mx.remote.test with ESMTPS id 1",
            "from a by b with SMTP; authenticated-results are elsewhere",
            "from x (authenticated bits) by y with ESMTP",
        ] {
            assert!(!is_authenticated_submission(no), "{no}");
        }
    }

    proptest::proptest! {
        /// The markers' matches are those of the Aho-Corasick automaton (standard semantics)
        /// this search used before, on texts made of the markers' own pieces.
        #[test]
        fn original_markers_match_as_the_automaton(
            t in "(original message|----- |-----|message headers|returned message|copy of the message|follows|headers:| |\n|x|-){0,24}",
            from in 0usize..20,
        ) {
            let ac = aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(ORIGINAL_MARKERS.iter().chain(ORIGINAL_WORDS))
                .expect("builds");
            let from = from.min(t.len());
            let want: Vec<(usize, usize, usize)> = ac
                .find_iter(aho_corasick::Input::new(&t).span(from..t.len()))
                .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
                .collect();
            let got: Vec<(usize, usize, usize)> = ORIGINAL
                .standard_iter(t.as_bytes(), from)
                .map(|m| (m.pattern, m.start, m.end))
                .collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    proptest::proptest! {
        /// `lossy` is `String::from_utf8_lossy`.
        #[test]
        fn lossy_is_from_utf8_lossy(b in proptest::collection::vec(proptest::num::u8::ANY, 0..64), t in "\\PC{0,20}") {
            proptest::prop_assert_eq!(lossy(&b), String::from_utf8_lossy(&b));
            let mut m = t.clone().into_bytes();
            m.extend_from_slice(&b);
            proptest::prop_assert_eq!(lossy(&m), String::from_utf8_lossy(&m));
            proptest::prop_assert_eq!(lossy(t.as_bytes()), String::from_utf8_lossy(t.as_bytes()));
        }
    }

    /// The HTML parts as text, as `collect` made them before it made them only when the plain
    /// text is empty: every non-attachment HTML part's `html_to_text`, each followed by a line
    /// feed (within the same bound as `html_raw`).
    fn html_text_reference(msg: &Message<'_>) -> String {
        let mut raw = String::new();
        let mut text = String::new();
        for (i, p) in msg.parts().enumerate() {
            if p.is_multipart() || ctype_of(&p) != "text/html" {
                continue;
            }
            if (i == 0 || !is_attachment_like(&p))
                && let Body::Html(h) | Body::Text(h) = &p.body()
                && raw.len() < 4 << 20
            {
                raw.push_str(h);
                text.push_str(&html_to_text(h));
                text.push('\n');
            }
        }
        text
    }

    #[test]
    fn html_text_is_made_when_there_is_no_plain_text() {
        let html_only = "From: a@b.example\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/html\n\n<p>User <b>unknown</b></p>\n--X\nContent-Type: text/html\n\n<div>second &amp; part</div>\n--X\nContent-Type: text/html\nContent-Disposition: attachment; filename=x.html\n\n<p>attached</p>\n--X--\n";
        let blank_plain = "From: a@b.example\nContent-Type: multipart/alternative; boundary=X\n\n--X\nContent-Type: text/plain\n\n  \n--X\nContent-Type: text/html\n\n<p>Mailbox full</p>\n--X--\n";
        let both = "From: a@b.example\nContent-Type: multipart/alternative; boundary=X\n\n--X\nContent-Type: text/plain\n\nMailbox full\n--X\nContent-Type: text/html\n\n<p>Mailbox full</p>\n--X--\n";
        let root_html = "From: a@b.example\nContent-Type: text/html\n\n<html><body>Delivery failed</body></html>\n";
        for raw in [html_only, blank_plain, both, root_html] {
            let m = Message::parse(raw.as_bytes()).expect("parses");
            let p = collect(&m);
            let want = html_text_reference(&m);
            assert!(!want.trim().is_empty(), "{raw:?}");
            if p.plain.trim().is_empty() {
                assert_eq!(p.html_text, want, "{raw:?}");
            } else {
                assert_eq!(p.html_text, "", "{raw:?}");
            }
        }
    }

    fn check_b64(input: &str, expected: &str) {
        assert_eq!(
            String::from_utf8_lossy(&lenient_base64(input.as_bytes())),
            expected
        );
    }

    #[test]
    fn lenient_base64_decodes_through_noise() {
        check_b64("QWN0aW9uOiBmYWlsZWQ=", "Action: failed");
        check_b64("QWN0a W9uO\r\n*iBmYWlsZWQ", "Action: failed");
        check_b64("", "");
    }

    /// The search for the colon stops after 40 bytes; the answer is the one of a search of
    /// the whole line.
    fn is_header_line_reference(l: &str) -> bool {
        match l.find(':') {
            Some(p) if p > 1 && p < 40 => l[..p]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-'),
            _ => false,
        }
    }

    proptest::proptest! {
        #[test]
        fn header_line_test_is_unchanged(l in "([a-zA-Z-]{0,45}|[ :\u{e9}>]){0,4}") {
            proptest::prop_assert_eq!(is_header_line(&l), is_header_line_reference(&l));
        }
    }

    /// `display_addr` before it wrote into one String.
    fn display_addr_reference(a: Option<&mail_parser::Address<'_>>) -> Option<String> {
        let v: Vec<String> = a?
            .iter()
            .map(|x| match (&x.name, &x.address) {
                (Some(n), Some(ad)) => format!("{n} <{ad}>"),
                (None, Some(ad)) => ad.to_string(),
                (Some(n), None) => n.to_string(),
                (None, None) => String::new(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        (!v.is_empty()).then(|| v.join(", "))
    }

    #[test]
    fn display_addr_is_unchanged() {
        for h in [
            "a@b.example",
            "Bob <bob@b.example>, carol@c.example",
            "\"\" <>",
            "<>",
            "Group: a@b.example, \"X\" <x@y.example>;, z@z.example",
            "undisclosed-recipients:;",
            "\"Only Name\"",
            "=?utf-8?q?J=C3=B6rg?= <j@example.org>",
            "",
        ] {
            let raw = format!("From: {h}\nTo: {h}\n\nbody\n");
            let m = Message::parse(raw.as_bytes()).expect("parses");
            assert_eq!(
                display_addr(m.from().as_ref()),
                display_addr_reference(m.from().as_ref()),
                "{h:?}"
            );
            assert_eq!(
                display_addr(m.to().as_ref()),
                display_addr_reference(m.to().as_ref()),
                "{h:?}"
            );
        }
    }

    #[test]
    fn copy_markers() {
        let t = "Sorry.\n\nThe following addresses did NOT receive a copy of your message:\n\n> a@b.example\n\n--- Below this line is a copy of the message.\nTo: x@y.example\n";
        let cut = split_original(t);
        assert_eq!(
            cut.and_then(|c| t.get(c..)).map(|s| &s[..12]),
            Some("--- Below th")
        );
        assert_eq!(split_original("no marker here\n"), None);
        // a marker that holds a shorter separator word ("original message"), which the
        // search reports in its place
        for (t, at) in [
            (
                "Mailbox full\n\nOriginal message follows.\n\nFrom: a@b\n",
                14,
            ),
            (
                "Failed.\nPlease find a copy of the original message below.\nTo: x@y\n",
                8,
            ),
        ] {
            assert_eq!(split_original(t), Some(at), "{t:?}");
        }
        // a sentence that only mentions it stays human text
        assert_eq!(
            split_original("We could not deliver the original message to anyone today\n"),
            None
        );
    }
}
