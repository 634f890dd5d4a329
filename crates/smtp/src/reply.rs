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
        let code = [
            b'0' + (code / 100) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ];
        // Formatted once, not once per line.
        let status = self.status.map(|s| s.to_string());
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map_or("", String::as_str);
            out.extend_from_slice(&code);
            out.push(if i + 1 < n { b'-' } else { b' ' });
            if let Some(s) = &status {
                out.extend_from_slice(s.as_bytes());
                if !text.is_empty() {
                    out.push(b' ');
                }
            }
            if text.len() <= MAX_TEXT && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                // Printable ASCII that fits (every reply we make): as is.
                out.extend_from_slice(text.as_bytes());
            } else {
                push_text(out, text);
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Appends `text` with control characters replaced by spaces, cut (at a character boundary)
/// before it would exceed [`MAX_TEXT`] octets.
fn push_text(out: &mut Vec<u8>, text: &str) {
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

    /// The wire form as it was written before the printable-ASCII fast path: every line's
    /// code and status formatted anew, the text character by character.
    fn wire_reference(r: &Reply) -> Vec<u8> {
        let mut out = Vec::new();
        let code = r.code.clamp(200, 599);
        let n = r.lines.len().max(1);
        for i in 0..n {
            let text = r.lines.get(i).map_or("", String::as_str);
            out.extend_from_slice(code.to_string().as_bytes());
            out.push(if i + 1 < n { b'-' } else { b' ' });
            if let Some(s) = r.status {
                out.extend_from_slice(s.to_string().as_bytes());
                if !text.is_empty() {
                    out.push(b' ');
                }
            }
            push_text(&mut out, text);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[test]
    fn fast_path_writes_what_the_character_loop_writes() {
        let long_ascii = "x".repeat(MAX_TEXT);
        let too_long = "y".repeat(MAX_TEXT + 1);
        let mut texts: Vec<String> = vec![
            String::new(),
            "2.0.0 Ok".into(),
            long_ascii,
            too_long,
            format!("{}\u{e9}", "z".repeat(MAX_TEXT - 1)),
            "caf\u{e9} \u{85}next \u{7f}del \ttab".into(),
            "a\r\n250 b".into(),
        ];
        // Every single byte value as a one-character text (control, printable, and the
        // start of multi-byte characters via char::from).
        texts.extend((0u8..=255).map(|b| char::from(b).to_string()));
        for code in [0, 199, 200, 250, 421, 599, 600, 999] {
            for status in [None, Some(status(2, 0, 0)), Some(status(5, 7, 509))] {
                for t in &texts {
                    for lines in [
                        vec![],
                        vec![t.clone()],
                        vec![t.clone(), "PIPELINING".into(), t.clone()],
                    ] {
                        let r = Reply {
                            code,
                            status,
                            lines,
                        };
                        assert_eq!(r.to_wire(), wire_reference(&r), "{r:?}");
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_writes_as_the_character_loop_writes(
            code in 0u16..1000,
            lines in proptest::collection::vec(".{0,450}", 0..4),
        ) {
            let r = Reply { code, status: Some(status(4, 2, 2)), lines };
            proptest::prop_assert_eq!(r.to_wire(), wire_reference(&r));
        }
    }

    #[test]
    fn control_characters_cannot_inject_lines() {
        check(Reply::plain(220, "a\r\n250 b"), "220 a  250 b\r\n");
    }
}
