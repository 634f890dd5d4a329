//! Server replies in wire form (RFC 5321 section 4.2, RFC 2034 enhanced status codes).

use mailerd_types::{EnhancedStatus, StatusClass};

/// A reply the server sends: code, optional enhanced status (repeated on every line, as RFC 2034
/// asks) and one or more lines of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub status: Option<EnhancedStatus>,
    pub lines: Vec<String>,
}

/// Builds an enhanced status from its three numbers; `class` must be 2, 4 or 5 (anything else
/// is taken as 5, the safe side).
pub const fn status(class: u8, subject: u16, detail: u16) -> EnhancedStatus {
    let class = match class {
        2 => StatusClass::Success,
        4 => StatusClass::Transient,
        _ => StatusClass::Permanent,
    };
    EnhancedStatus::new(class, subject, detail)
}

/// The longest text we put on one reply line, so that a line stays well under the 512 octets
/// of RFC 5321 section 4.5.3.1.5.
const MAX_TEXT: usize = 400;

impl Reply {
    /// A one-line reply with an enhanced status code.
    pub fn new(code: u16, st: EnhancedStatus, text: impl Into<String>) -> Self {
        Reply {
            code,
            status: Some(st),
            lines: vec![text.into()],
        }
    }

    /// A reply without enhanced status (greeting, EHLO, 354, 334).
    pub fn plain(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            status: None,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply without enhanced status (EHLO).
    pub fn lines(code: u16, lines: Vec<String>) -> Self {
        Reply {
            code,
            status: None,
            lines,
        }
    }

    /// `true` for 4xx and 5xx.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The reply as bytes: `NNN-` on every line but the last, `NNN ` on the last, CRLF after
    /// each. Control characters in the text are replaced by spaces (a reply must not be able to
    /// inject lines) and over-long text is cut.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_to(&mut out);
        out
    }

    /// Appends the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let code = self.code.clamp(200, 599);
        let n = self.lines.len().max(1);
        let empty = String::new();
        for i in 0..n {
            let text = self.lines.get(i).unwrap_or(&empty);
            out.extend_from_slice(code.to_string().as_bytes());
            out.push(if i + 1 < n { b'-' } else { b' ' });
            if let Some(s) = self.status {
                out.extend_from_slice(s.to_string().as_bytes());
                if !text.is_empty() {
                    out.push(b' ');
                }
            }
            let mut len = 0;
            for ch in text.chars() {
                let ch = if ch.is_control() { ' ' } else { ch };
                len += ch.len_utf8();
                if len > MAX_TEXT {
                    break;
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.to_wire();
        f.write_str(String::from_utf8_lossy(&w).trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(reply: Reply, expected: &str) {
        assert_eq!(String::from_utf8_lossy(&reply.to_wire()), expected);
    }

    #[test]
    fn formats_one_line_with_enhanced_status() {
        check(
            Reply::new(550, status(5, 1, 1), "<x@y>: Recipient address rejected"),
            "550 5.1.1 <x@y>: Recipient address rejected\r\n",
        );
    }

    #[test]
    fn formats_multi_line_repeating_code_and_status() {
        let r = Reply {
            code: 554,
            status: Some(status(5, 7, 1)),
            lines: vec!["a".into(), "b".into()],
        };
        check(r, "554-5.7.1 a\r\n554 5.7.1 b\r\n");
        check(
            Reply::lines(250, vec!["mx.example".into(), "PIPELINING".into()]),
            "250-mx.example\r\n250 PIPELINING\r\n",
        );
    }

    #[test]
    fn control_characters_cannot_inject_lines() {
        check(Reply::plain(220, "a\r\n250 b"), "220 a  250 b\r\n");
    }
}
