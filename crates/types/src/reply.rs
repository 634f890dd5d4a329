//! SMTP replies (RFC 5321 section 4.2) with RFC 2034 enhanced status codes.

use std::fmt;

use crate::status::EnhancedStatus;

/// One SMTP reply: the three-digit code, the enhanced status code when the server gave one,
/// and every line of text as the server wrote it (without the `NNN-` / `NNN ` prefix).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmtpReply {
    pub code: u16,
    pub status: Option<EnhancedStatus>,
    pub lines: Vec<String>,
}

/// Why text could not be read as an SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyParseError {
    #[error("reply does not start with a three-digit code 2xx-5xx: {0:?}")]
    NoCode(String),
    #[error("reply line {line} has code {found}, expected {expected} as on the first line")]
    MixedCodes {
        line: usize,
        expected: u16,
        found: u16,
    },
}

impl SmtpReply {
    /// A reply with one line of text; the enhanced status, if any, is written before the text.
    pub fn new(code: u16, status: Option<EnhancedStatus>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line = match status {
            Some(s) => format!("{s} {text}"),
            None => text,
        };
        SmtpReply {
            code,
            status,
            lines: vec![line],
        }
    }

    /// Parses a reply in wire form (`550-5.1.1 a\r\n550 5.1.1 b`) or as a single line, as found
    /// in a `Diagnostic-Code: smtp; ...` field. Continuation lines of a wire reply must repeat the
    /// code; lines without any code are taken as text continuations (folded diagnostics).
    pub fn parse(text: &str) -> Result<Self, ReplyParseError> {
        let mut code = None;
        let mut lines = Vec::new();
        for (n, raw) in text
            .split(['\n', '\r'])
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            let l = raw.trim_start();
            match leading_code(l) {
                Some((c, rest)) => {
                    if let Some(first) = code
                        && first != c
                    {
                        return Err(ReplyParseError::MixedCodes {
                            line: n + 1,
                            expected: first,
                            found: c,
                        });
                    }
                    code = Some(c);
                    lines.push(rest.to_string());
                }
                None if code.is_some() => lines.push(l.trim_end().to_string()),
                None => return Err(ReplyParseError::NoCode(truncate(text))),
            }
        }
        let code = code.ok_or_else(|| ReplyParseError::NoCode(truncate(text)))?;
        let status = lines
            .first()
            .and_then(|l| l.split_whitespace().next())
            .and_then(|w| EnhancedStatus::parse(w.trim_end_matches([',', ';', ':'])).ok())
            .filter(|s| s.class.digit() == (code / 100) as u8);
        Ok(SmtpReply {
            code,
            status,
            lines,
        })
    }

    /// All text on one line: continuation lines lose a repeated enhanced status prefix and are
    /// joined with single spaces (the project rule for display, standards sec. 1.3). The first
    /// line keeps its enhanced status.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            let mut l = l.trim();
            if i > 0
                && let Some(s) = self.status
                && let Some(rest) = l.strip_prefix(s.to_string().as_str())
            {
                l = rest.trim_start();
            }
            if l.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(l);
        }
        out
    }

    /// The text without the leading enhanced status.
    pub fn message(&self) -> String {
        let t = self.text();
        match self.status {
            Some(s) => t
                .strip_prefix(s.to_string().as_str())
                .map(|r| r.trim_start().to_string())
                .unwrap_or(t),
            None => t,
        }
    }

    /// The reply as a server writes it: `NNN-line` for all lines but the last, `NNN line` last.
    pub fn to_wire(&self) -> String {
        let mut out = String::new();
        let n = self.lines.len().max(1);
        for i in 0..n {
            let l = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 < n { '-' } else { ' ' };
            out.push_str(&format!("{}{}{}\r\n", self.code, sep, l));
        }
        out
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl fmt::Display for SmtpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.text();
        if t.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} {}", self.code, t)
        }
    }
}

/// `550-text`, `550 text`, `550` -> (550, text). Only 2xx-5xx codes.
fn leading_code(l: &str) -> Option<(u16, &str)> {
    let b = l.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&b[0]) {
        return None;
    }
    let code = u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
    match b.get(3) {
        None => Some((code, "")),
        Some(b'-') | Some(b' ') | Some(b'\t') => Some((code, l[4..].trim_end())),
        _ => None,
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_reply_joins_and_strips_repeated_status() {
        let r = SmtpReply::parse(
            "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n\
             550-5.1.1 double-checking the recipient's email address for typos or\r\n\
             550 5.1.1 unnecessary spaces.",
        )
        .expect("reply");
        assert_eq!(r.code, 550);
        assert_eq!(r.status.map(|s| s.to_string()).as_deref(), Some("5.1.1"));
        assert_eq!(
            r.text(),
            "5.1.1 The email account that you tried to reach does not exist. Please try \
             double-checking the recipient's email address for typos or unnecessary spaces."
        );
        assert!(r.message().starts_with("The email account"));
        assert_eq!(SmtpReply::parse(&r.to_wire()).expect("round trip"), r);
    }

    #[test]
    fn single_line_without_enhanced_code() {
        let r = SmtpReply::parse("552 1 Requested mail action aborted, mailbox not found")
            .expect("reply");
        assert_eq!((r.code, r.status), (552, None));
        assert_eq!(
            r.to_string(),
            "552 1 Requested mail action aborted, mailbox not found"
        );
    }

    #[test]
    fn status_class_must_agree_with_code() {
        let r = SmtpReply::parse("550 4.4.7 QUEUE.Expired; message expired").expect("reply");
        assert_eq!(
            r.status, None,
            "RFC 2034 wants the same class; keep the text, not a status"
        );
        let r = SmtpReply::parse("250").expect("bare code");
        assert_eq!(r.to_string(), "250");
    }

    #[test]
    fn rejects_text_without_code_and_mixed_codes() {
        assert!(SmtpReply::parse("User unknown").is_err());
        assert!(SmtpReply::parse("550-a\n450 b").is_err());
        assert!(SmtpReply::parse("").is_err());
        assert!(SmtpReply::parse("150 nope").is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            if let Ok(r) = SmtpReply::parse(&s) {
                let _ = r.text();
                let _ = r.to_wire();
            }
        }
    }
}
