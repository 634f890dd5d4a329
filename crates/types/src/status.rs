//! RFC 3463 enhanced status codes and the IANA registry (RFC 5248).

use std::fmt;
use std::str::FromStr;

/// The class digit of an enhanced status code (RFC 3463 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatusClass {
    /// `2`: the action succeeded.
    Success,
    /// `4`: persistent transient failure; the same request may succeed later.
    Transient,
    /// `5`: permanent failure; the request will not succeed unchanged.
    Permanent,
}

impl StatusClass {
    /// The digit as written on the wire.
    pub fn digit(self) -> u8 {
        match self {
            StatusClass::Success => 2,
            StatusClass::Transient => 4,
            StatusClass::Permanent => 5,
        }
    }

    /// The class for a digit, if it is one of 2, 4, 5.
    pub fn from_digit(d: u8) -> Option<Self> {
        match d {
            2 => Some(StatusClass::Success),
            4 => Some(StatusClass::Transient),
            5 => Some(StatusClass::Permanent),
            _ => None,
        }
    }
}

/// An enhanced mail system status code, `class.subject.detail` (RFC 3463).
///
/// Subject and detail are kept as numbers of up to three digits; codes beyond the registry
/// (Microsoft's `5.7.606`, Sisimai's pseudo codes `5.0.911`) are valid values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedStatus {
    pub class: StatusClass,
    pub subject: u16,
    pub detail: u16,
}

/// Why a string is not an enhanced status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid enhanced status code {0:?}: expected class.subject.detail such as 5.1.1")]
pub struct StatusParseError(pub String);

impl EnhancedStatus {
    pub const fn new(class: StatusClass, subject: u16, detail: u16) -> Self {
        EnhancedStatus {
            class,
            subject,
            detail,
        }
    }

    /// `true` for class 5.
    pub fn is_permanent(&self) -> bool {
        self.class == StatusClass::Permanent
    }

    /// `true` for class 4.
    pub fn is_transient(&self) -> bool {
        self.class == StatusClass::Transient
    }

    /// `true` for class 2.
    pub fn is_success(&self) -> bool {
        self.class == StatusClass::Success
    }

    /// The same subject and detail with another class (`5.2.2` -> `4.2.2`).
    pub fn with_class(self, class: StatusClass) -> Self {
        EnhancedStatus { class, ..self }
    }

    /// Parses exactly `D.DDD.DDD` (class 2, 4 or 5; subject and detail 1 to 3 digits).
    pub fn parse(s: &str) -> Result<Self, StatusParseError> {
        Self::parse_bytes(s.as_bytes()).ok_or_else(|| StatusParseError(s.to_string()))
    }

    fn parse_bytes(b: &[u8]) -> Option<Self> {
        let mut parts = b.split(|&c| c == b'.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() || class.len() != 1 {
            return None;
        }
        let class = StatusClass::from_digit(class[0].wrapping_sub(b'0'))?;
        Some(EnhancedStatus {
            class,
            subject: number(subject)?,
            detail: number(detail)?,
        })
    }

    /// Finds the first enhanced status code standing as a token in free text, such as the
    /// `5.1.1` in `550-5.1.1 The email account ...` or in `#5.1.1 smtp;550`.
    ///
    /// A dotted quad (an IPv4 address) or a version number with more parts is not taken.
    pub fn find(text: &str) -> Option<(Self, usize)> {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if (c == b'2' || c == b'4' || c == b'5')
                && (i == 0 || !is_token_byte(b[i - 1]))
                && b.get(i + 1) == Some(&b'.')
            {
                let mut j = i + 2;
                let s0 = j;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if (1..=3).contains(&(j - s0)) && b.get(j) == Some(&b'.') {
                    j += 1;
                    let d0 = j;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    let after_ok = match b.get(j) {
                        None => true,
                        Some(&b'.') => !b.get(j + 1).is_some_and(|d| d.is_ascii_digit()),
                        Some(&n) => !(n.is_ascii_alphanumeric() || n == b'-' || n == b'_'),
                    };
                    if (1..=3).contains(&(j - d0))
                        && after_ok
                        && let Some(s) = Self::parse_bytes(&b[i..j])
                    {
                        return Some((s, i));
                    }
                }
            }
            i += 1;
        }
        None
    }

    /// What the code means, from the IANA registry. Unknown details fall back to the
    /// subject's `X.Y.0` meaning and unknown subjects to the class (RFC 3463 section 2).
    pub fn meaning(&self) -> &'static str {
        if let Some(m) = registry(self.subject, self.detail) {
            return m;
        }
        if let Some(m) = registry(self.subject, 0) {
            return m;
        }
        match self.class {
            StatusClass::Success => "Success",
            StatusClass::Transient => "Persistent transient failure",
            StatusClass::Permanent => "Permanent failure",
        }
    }

    /// `true` when `subject.detail` is in the IANA registry.
    pub fn is_registered(&self) -> bool {
        registry(self.subject, self.detail).is_some()
    }
}

/// Bytes that, right before a digit, make it part of a larger token (`x5.1.1`, `1.5.1.1`).
fn is_token_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'_'
}

fn number(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 3 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written by hand into a stack buffer: this runs for most replies and log lines.
        // Like the `write!` it replaces, it takes no width or fill from the formatter.
        fn push(buf: &mut [u8; 13], at: &mut usize, n: u16) {
            let mut digits = [0u8; 5];
            let mut i = digits.len();
            let mut n = n;
            loop {
                i -= 1;
                digits[i] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            for &d in &digits[i..] {
                buf[*at] = d;
                *at += 1;
            }
        }
        // "c.sssss.ddddd": at most 13 bytes.
        let mut buf = [0u8; 13];
        buf[0] = b'0' + self.class.digit();
        buf[1] = b'.';
        let mut at = 2;
        push(&mut buf, &mut at, self.subject);
        buf[at] = b'.';
        at += 1;
        push(&mut buf, &mut at, self.detail);
        f.write_str(std::str::from_utf8(&buf[..at]).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for EnhancedStatus {
    type Err = StatusParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s.trim())
    }
}

impl serde::Serialize for EnhancedStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EnhancedStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EnhancedStatus::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The IANA "Enumerated Status Codes" registry, subject and detail only.
fn registry(subject: u16, detail: u16) -> Option<&'static str> {
    Some(match (subject, detail) {
        (0, 0) => "Other undefined status",
        (1, 0) => "Other address status",
        (1, 1) => "Bad destination mailbox address",
        (1, 2) => "Bad destination system address",
        (1, 3) => "Bad destination mailbox address syntax",
        (1, 4) => "Destination mailbox address ambiguous",
        (1, 5) => "Destination address valid",
        (1, 6) => "Destination mailbox has moved, no forwarding address",
        (1, 7) => "Bad sender's mailbox address syntax",
        (1, 8) => "Bad sender's system address",
        (1, 9) => "Message relayed to non-compliant mailer",
        (1, 10) => "Recipient address has null MX",
        (2, 0) => "Other or undefined mailbox status",
        (2, 1) => "Mailbox disabled, not accepting messages",
        (2, 2) => "Mailbox full",
        (2, 3) => "Message length exceeds administrative limit",
        (2, 4) => "Mailing list expansion problem",
        (3, 0) => "Other or undefined mail system status",
        (3, 1) => "Mail system full",
        (3, 2) => "System not accepting network messages",
        (3, 3) => "System not capable of selected features",
        (3, 4) => "Message too big for system",
        (3, 5) => "System incorrectly configured",
        (3, 6) => "Requested priority was changed",
        (4, 0) => "Other or undefined network or routing status",
        (4, 1) => "No answer from host",
        (4, 2) => "Bad connection",
        (4, 3) => "Directory server failure",
        (4, 4) => "Unable to route",
        (4, 5) => "Mail system congestion",
        (4, 6) => "Routing loop detected",
        (4, 7) => "Delivery time expired",
        (5, 0) => "Other or undefined protocol status",
        (5, 1) => "Invalid command",
        (5, 2) => "Syntax error",
        (5, 3) => "Too many recipients",
        (5, 4) => "Invalid command arguments",
        (5, 5) => "Wrong protocol version",
        (5, 6) => "Authentication exchange line is too long",
        (6, 0) => "Other or undefined media error",
        (6, 1) => "Media not supported",
        (6, 2) => "Conversion required and prohibited",
        (6, 3) => "Conversion required but not supported",
        (6, 4) => "Conversion with loss performed",
        (6, 5) => "Conversion failed",
        (6, 6) => "Message content not available",
        (6, 7) => "Non-ASCII addresses not permitted for that sender/recipient",
        (6, 8) => "UTF-8 string reply is required, but not permitted by the SMTP client",
        (6, 9) => "UTF-8 header message cannot be transferred to one or more recipients",
        (6, 10) => "UTF-8 string reply is required, but not permitted by the SMTP client",
        (7, 0) => "Other or undefined security status",
        (7, 1) => "Delivery not authorized, message refused",
        (7, 2) => "Mailing list expansion prohibited",
        (7, 3) => "Security conversion required but not possible",
        (7, 4) => "Security features not supported",
        (7, 5) => "Cryptographic failure",
        (7, 6) => "Cryptographic algorithm not supported",
        (7, 7) => "Message integrity failure",
        (7, 8) => "Authentication credentials invalid",
        (7, 9) => "Authentication mechanism is too weak",
        (7, 10) => "Encryption needed",
        (7, 11) => "Encryption required for requested authentication mechanism",
        (7, 12) => "A password transition is needed",
        (7, 13) => "User account disabled",
        (7, 14) => "Trust relationship required",
        (7, 15) => "Priority level is too low",
        (7, 16) => "Message is too big for the specified priority",
        (7, 17) => "Mailbox owner has changed",
        (7, 18) => "Domain owner has changed",
        (7, 19) => "RRVS test cannot be completed",
        (7, 20) => "No passing DKIM signature found",
        (7, 21) => "No acceptable DKIM signature found",
        (7, 22) => "No valid author-matched DKIM signature found",
        (7, 23) => "SPF validation failed",
        (7, 24) => "SPF validation error",
        (7, 25) => "Reverse DNS validation failed",
        (7, 26) => "Multiple authentication checks failed",
        (7, 27) => "Sender address has null MX",
        (7, 28) => "Mail flood detected",
        (7, 29) => "ARC validation failure",
        (7, 30) => "REQUIRETLS support required",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_writes_what_write_wrote() {
        let old = |e: &EnhancedStatus| format!("{}.{}.{}", e.class.digit(), e.subject, e.detail);
        let edges = [0u16, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535];
        for class in [
            StatusClass::Success,
            StatusClass::Transient,
            StatusClass::Permanent,
        ] {
            for subject in (0..1000).chain(edges) {
                for detail in [0u16, 7, 10, 99, 100, 999, 65535] {
                    let e = EnhancedStatus::new(class, subject, detail);
                    assert_eq!(e.to_string(), old(&e));
                    let e = EnhancedStatus::new(class, detail, subject);
                    assert_eq!(e.to_string(), old(&e));
                }
            }
        }
    }

    fn st(s: &str) -> EnhancedStatus {
        EnhancedStatus::parse(s).expect("valid status")
    }

    #[test]
    fn parses_and_prints_round_trip() {
        for s in ["5.1.1", "4.4.7", "2.0.0", "5.7.606", "5.0.911", "4.7.650"] {
            assert_eq!(st(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_codes() {
        for s in [
            "", "5", "5.1", "3.1.1", "5.1.1.1", "5.1234.1", "5..1", "x.1.1", "5.1.a",
        ] {
            assert!(EnhancedStatus::parse(s).is_err(), "{s:?} should not parse");
        }
    }

    #[test]
    fn finds_codes_in_reply_text_but_not_ip_addresses() {
        let f = |t: &str| EnhancedStatus::find(t).map(|(s, _)| s.to_string());
        assert_eq!(f("550-5.1.1 The email account"), Some("5.1.1".into()));
        assert_eq!(f("#5.1.1 smtp;550"), Some("5.1.1".into()));
        assert_eq!(f("blocked from 192.0.2.1 (5.7.1)"), Some("5.7.1".into()));
        assert_eq!(f("host 192.0.2.5 said: 550 no"), None);
        assert_eq!(f("version 4.4.7.1"), None);
        assert_eq!(f("Status: 4.4.7."), Some("4.4.7".into()));
        assert_eq!(f("x5.1.1"), None);
    }

    #[test]
    fn meaning_falls_back_to_subject_then_class() {
        assert_eq!(st("5.1.1").meaning(), "Bad destination mailbox address");
        assert_eq!(
            st("5.7.606").meaning(),
            "Other or undefined security status"
        );
        assert_eq!(st("5.9.9").meaning(), "Permanent failure");
        assert!(st("4.2.2").is_transient());
    }

    proptest::proptest! {
        #[test]
        fn parse_and_find_never_panic(s in ".{0,64}") {
            let _ = EnhancedStatus::parse(&s);
            let _ = EnhancedStatus::find(&s);
        }
    }
}
