//! RFC 3464 / RFC 6533 `message/delivery-status` field parser.
//!
//! Reads the per-message group (`Reporting-MTA`, `Arrival-Date`, ...) and the per-recipient
//! groups (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`, `Remote-MTA`, ...),
//! tolerating what real reports do: field names in any case, missing blank lines between
//! groups, `rfc822;addr` / `RFC822; <addr>` / untyped addresses, comments after `Status`,
//! folded `Diagnostic-Code`, and `X-Actual-Recipient`.
//!
//! It does not decide a reason; it only extracts fields.

use std::borrow::Cow;

use mailerd_types::{DsnAction, EnhancedStatus};

use crate::text::{clean_address, find_reply_code, find_status, leading_reply_code, lines, squash};

/// The per-message fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerMessage {
    pub reporting_mta: Option<String>,
    pub arrival_date: Option<String>,
}

/// One per-recipient group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerRecipient {
    pub final_recipient: Option<String>,
    pub original_recipient: Option<String>,
    pub actual_recipient: Option<String>,
    pub action: Option<DsnAction>,
    pub action_raw: Option<String>,
    pub status: Option<EnhancedStatus>,
    pub remote_mta: Option<String>,
    /// The diagnostic with its type (`smtp;`) removed, unfolded.
    pub diagnostic: Option<String>,
    pub diagnostic_type: Option<String>,
    pub reply_code: Option<u16>,
    pub last_attempt: Option<String>,
    pub will_retry_until: Option<String>,
}

impl PerRecipient {
    /// The address to report: `Final-Recipient`, else `X-Actual-Recipient`, else
    /// `Original-Recipient`.
    pub fn address(&self) -> Option<&str> {
        [
            &self.final_recipient,
            &self.actual_recipient,
            &self.original_recipient,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.as_str())
        .find(|s| s.contains('@'))
        .or(self.final_recipient.as_deref().filter(|s| !s.is_empty()))
    }
    fn has_recipient(&self) -> bool {
        self.final_recipient.is_some() || self.original_recipient.is_some()
    }
}

/// A parsed delivery-status body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub message: PerMessage,
    pub recipients: Vec<PerRecipient>,
}

/// Splits a block into unfolded `(name, value)` fields. Lines that are neither a field nor a
/// continuation are ignored; a blank line yields `("", "")` as a group separator.
pub fn fields(body: &str) -> Vec<(String, String)> {
    fields_borrowed(body)
        .into_iter()
        .map(|(n, v)| (n, v.into_owned()))
        .collect()
}

/// [`fields`], each value borrowed from `body` unless it was unfolded from several lines.
fn fields_borrowed(body: &str) -> Vec<(String, Cow<'_, str>)> {
    let mut out: Vec<(String, Cow<'_, str>)> = Vec::new();
    let mut last_was_field = false;
    for line in lines(body) {
        if line.trim().is_empty() {
            out.push((String::new(), Cow::Borrowed("")));
            last_was_field = false;
            continue;
        }
        if (line.starts_with(' ') || line.starts_with('\t')) && last_was_field {
            if let Some((_, v)) = out.last_mut() {
                let v = v.to_mut();
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        match line.split_once(':') {
            Some((n, v))
                if !n.is_empty()
                    && n.len() < 40
                    && n.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') =>
            {
                out.push((n.to_ascii_lowercase(), Cow::Borrowed(v.trim())));
                last_was_field = true;
            }
            _ => {
                // A broken fold (continuation without indentation) of a diagnostic.
                if last_was_field
                    && let Some((n, v)) = out.last_mut()
                    && (n == "diagnostic-code" || n == "x-supplementary-info")
                {
                    let v = v.to_mut();
                    v.push(' ');
                    v.push_str(line.trim());
                    continue;
                }
                last_was_field = false;
            }
        }
    }
    out
}

/// The fields [`parse`] reads the value of.
const READ_FIELDS: &[&str] = &[
    "reporting-mta",
    "arrival-date",
    "original-recipient",
    "final-recipient",
    "x-actual-recipient",
    "action",
    "status",
    "remote-mta",
    "diagnostic-code",
    "last-attempt-date",
    "will-retry-until",
];

/// A delivery-status body's per-recipient groups, built as its fields are read in order.
#[derive(Default)]
struct Groups {
    rep: Report,
    cur: PerRecipient,
}

impl Groups {
    /// Ends the current group: kept if it names a recipient (fields without one are dropped).
    fn flush(&mut self) {
        let cur = std::mem::take(&mut self.cur);
        if cur.has_recipient() {
            self.rep.recipients.push(cur);
        }
    }

    /// Reads one field (`name` lower-cased, "" for a blank line) with its squashed value.
    fn field(&mut self, name: &str, v: String) {
        match name {
            "" if self.cur.has_recipient() => {
                self.flush();
            }
            "reporting-mta" => {
                if self.cur.has_recipient() {
                    self.flush();
                }
                self.rep.message.reporting_mta = Some(strip_type(&v).to_string());
            }
            "arrival-date" => self.rep.message.arrival_date = Some(v),
            "original-recipient" => {
                // Original-Recipient usually precedes Final-Recipient, but may follow it
                // within the same group: only a group that already has it, or one that is
                // complete (has an Action/Status), ends here.
                if self.cur.original_recipient.is_some()
                    || (self.cur.final_recipient.is_some()
                        && (self.cur.action_raw.is_some() || self.cur.status.is_some()))
                {
                    self.flush();
                }
                self.cur.original_recipient = Some(clean_address(&v));
            }
            "final-recipient" => {
                if self.cur.final_recipient.is_some() {
                    self.flush();
                }
                self.cur.final_recipient = Some(clean_address(&v));
            }
            "x-actual-recipient" => self.cur.actual_recipient = Some(clean_address(&v)),
            "action" => {
                // SendGrid writes the non-standard `Action: expired` when it gave up after
                // retrying: a failure (the classifier reads the expiry from the words).
                self.cur.action = v.parse().ok().or_else(|| {
                    v.trim()
                        .eq_ignore_ascii_case("expired")
                        .then_some(DsnAction::Failed)
                });
                self.cur.action_raw = Some(v);
            }
            "status" => {
                self.cur.status = v
                    .split(|c: char| c.is_whitespace() || c == '(' || c == ';' || c == ',')
                    .find(|w| !w.is_empty())
                    .and_then(|w| EnhancedStatus::parse(w.trim_end_matches('.')).ok())
                    .or_else(|| find_status(&v, None));
            }
            "remote-mta" => self.cur.remote_mta = Some(strip_type(&v).to_string()),
            "diagnostic-code" => {
                let (t, d) = split_type(&v);
                self.cur.diagnostic_type = t.map(|s| s.to_string());
                let d = d.trim().to_string();
                self.cur.reply_code = leading_reply_code(&d).or_else(|| find_reply_code(&d));
                if !d.is_empty() {
                    self.cur.diagnostic = Some(d);
                }
            }
            "last-attempt-date" => self.cur.last_attempt = Some(v),
            "will-retry-until" => self.cur.will_retry_until = Some(v),
            _ => {}
        }
    }

    fn finish(mut self) -> Report {
        self.flush();
        self.rep
    }
}

/// Parses a delivery-status body.
pub fn parse(body: &str) -> Report {
    let mut groups = Groups::default();
    for (name, value) in fields_borrowed(body) {
        // Squashed only for the fields read.
        let v = if READ_FIELDS.contains(&name.as_str()) {
            squash(&value)
        } else {
            String::new()
        };
        groups.field(&name, v);
    }
    groups.finish()
}

/// `dns; mx.example.org` -> `mx.example.org`.
fn strip_type(v: &str) -> &str {
    split_type(v).1.trim()
}

/// Splits `type; value`. The type is a single atom without spaces.
fn split_type(v: &str) -> (Option<&str>, &str) {
    if let Some(p) = v.find(';') {
        let t = v[..p].trim();
        if !t.is_empty()
            && t.len() < 20
            && t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            && !t.bytes().all(|c| c.is_ascii_digit())
        {
            return (Some(t), &v[p + 1..]);
        }
    }
    (None, v)
}

/// `true` when a text looks like a delivery-status body (for parts that are mislabelled).
pub fn looks_like_dsn(s: &str) -> bool {
    let mut has_rcpt = false;
    let mut has_other = false;
    // (The field names are lower-case ASCII, shorter than 24 bytes: comparing the line's
    // start ignoring case is comparing its lower-cased first 24 bytes.)
    use crate::text::starts_with_ci;
    for l in lines(s).take(400) {
        if starts_with_ci(l, "final-recipient:") || starts_with_ci(l, "original-recipient:") {
            has_rcpt = true;
        }
        if starts_with_ci(l, "action:")
            || starts_with_ci(l, "status:")
            || starts_with_ci(l, "reporting-mta:")
        {
            has_other = true;
        }
        if has_rcpt && has_other {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `fields` before its values were borrowed.
    fn fields_reference(body: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut last_was_field = false;
        for line in lines(body) {
            if line.trim().is_empty() {
                out.push((String::new(), String::new()));
                last_was_field = false;
                continue;
            }
            if (line.starts_with(' ') || line.starts_with('\t')) && last_was_field {
                if let Some((_, v)) = out.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            match line.split_once(':') {
                Some((n, v))
                    if !n.is_empty()
                        && n.len() < 40
                        && n.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') =>
                {
                    out.push((n.to_ascii_lowercase(), v.trim().to_string()));
                    last_was_field = true;
                }
                _ => {
                    // A broken fold (continuation without indentation) of a diagnostic.
                    if last_was_field
                        && let Some((n, v)) = out.last_mut()
                        && (n == "diagnostic-code" || n == "x-supplementary-info")
                    {
                        v.push(' ');
                        v.push_str(line.trim());
                        continue;
                    }
                    last_was_field = false;
                }
            }
        }
        out
    }

    /// `parse` before it read borrowed values and squashed only the fields it reads.
    fn parse_reference(body: &str) -> Report {
        let mut groups = Groups::default();
        for (name, value) in fields_reference(body) {
            groups.field(&name, squash(&value));
        }
        groups.finish()
    }

    proptest::proptest! {
        #[test]
        fn fields_and_parse_are_unchanged(
            ls in proptest::collection::vec("Final-Recipient: rfc822; [a-z]{1,4}@x\\.example|Original-Recipient: rfc822;a@b|Action: (failed|delayed|expired)|Status: [245]\\.[0-9]\\.[0-9]{1,2}( \\(x\\))?|Diagnostic-Code: smtp; 550 [a-z ]{0,12}|Reporting-MTA: dns; mx\\.example|Remote-MTA: dns; [a-z.]{1,9}|X-Postfix-Queue-ID: [A-F0-9]{3}|X-Actual-Recipient: rfc822; c@d|Last-Attempt-Date: [A-Za-z0-9 ,:]{0,12}|Will-Retry-Until: x|Arrival-Date: y|X-Supplementary-Info: <z>|broken fold [a-z]{1,5}|[ \t]+[a-z0-9 ]{0,10}| *|: no name|bad name: v|STATUS:5\\.1\\.1", 0..14),
            crlf in proptest::bool::ANY,
        ) {
            let text = ls.join(if crlf { "\r\n" } else { "\n" });
            proptest::prop_assert_eq!(fields(&text), fields_reference(&text));
            proptest::prop_assert_eq!(parse(&text), parse_reference(&text));
        }
    }

    fn check(input: &str, expected: &[(&str, &str, &str, Option<u16>)]) {
        let r = parse(input);
        let got: Vec<(String, String, String, Option<u16>)> = r
            .recipients
            .iter()
            .map(|p| {
                (
                    p.address().unwrap_or("").to_string(),
                    p.status.map(|s| s.to_string()).unwrap_or_default(),
                    p.action.map(|a| a.as_str().to_string()).unwrap_or_default(),
                    p.reply_code,
                )
            })
            .collect();
        let want: Vec<(String, String, String, Option<u16>)> = expected
            .iter()
            .map(|(a, s, x, c)| (a.to_string(), s.to_string(), x.to_string(), *c))
            .collect();
        assert_eq!(got, want, "input {input:?}");
    }

    #[test]
    fn standard() {
        check(
            "Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; a@x.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no\n such user\n\nFinal-Recipient: rfc822; b@x.org\nAction: delayed\nStatus: 4.2.2\n",
            &[
                ("a@x.org", "5.1.1", "failed", Some(550)),
                ("b@x.org", "4.2.2", "delayed", None),
            ],
        );
    }

    #[test]
    fn broken() {
        check(
            "reporting-mta: x\nfinal-recipient: RFC822; <A@X.ORG>\naction: Failed\nstatus: 5.0.0 (permanent failure)\nFinal-Recipient: b@y.org\nACTION: failed\nSTATUS: 5.2.2\n",
            &[
                ("A@x.org", "5.0.0", "failed", None),
                ("b@y.org", "5.2.2", "failed", None),
            ],
        );
        check(
            "Final-Recipient: rfc822;a@x.org\nOriginal-Recipient: rfc822;a0@x.org\nAction: failed\nStatus: 5.1.1\n",
            &[("a@x.org", "5.1.1", "failed", None)],
        );
        check(
            "Original-Recipient: rfc822;a@x.org\nFinal-Recipient: rfc822;a@x.org\nAction: failed\nStatus: 5.1.1\n\nOriginal-Recipient: rfc822;b@x.org\nFinal-Recipient: rfc822;b@x.org\nAction: failed\nStatus: 5.1.1\n",
            &[
                ("a@x.org", "5.1.1", "failed", None),
                ("b@x.org", "5.1.1", "failed", None),
            ],
        );
        // SendGrid's non-standard `Action: expired` (given up after retrying).
        check(
            "Final-Recipient: rfc822; a@x.org\nAction: expired\nStatus: \nDiagnostic-Code: Connection timed out\n",
            &[("a@x.org", "", "failed", None)],
        );
    }

    #[test]
    fn fold() {
        let r = parse(
            "Final-Recipient: rfc822; a@x.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550-5.1.1 The email\r\n    account does not exist\r\n",
        );
        assert_eq!(
            r.recipients[0].diagnostic.as_deref(),
            Some("550-5.1.1 The email account does not exist")
        );
    }
}
