//! Message disposition notifications (RFC 8098, `message/disposition-notification`).
//!
//! Most are read receipts (`displayed`) and say nothing about delivery. One kind is a
//! refusal: a Sieve `reject` (RFC 5429) answers a message it refuses after delivery with an
//! MDN whose disposition is `automatic-action/MDN-sent-automatically; deleted`, and whose
//! human-readable part carries the reason the recipient's filter gave (Dovecot Pigeonhole,
//! Cyrus). That one is read as a failure of the recipient named in `Final-Recipient`.
//!
//! It does not judge the reason's words: the caller classifies them.

use crate::text::{contains_ci, first_address, starts_with_ci};

/// The fields of an MDN this reader uses.
#[derive(Debug, Default, PartialEq)]
pub struct Disposition {
    /// `Final-Recipient`'s address.
    pub final_recipient: Option<String>,
    /// `Original-Recipient`'s address.
    pub original_recipient: Option<String>,
    /// `automatic-action` or `manual-action` (lower-case).
    pub action_mode: String,
    /// `displayed`, `deleted`, `dispatched`, `processed`, or RFC 3798's `denied` / `failed`
    /// (lower-case, without a `/modifier`).
    pub kind: String,
}

/// Reads the fields of an MDN body (unfolded by [`crate::dsn::fields`]: the same field
/// syntax as a delivery-status body).
pub fn parse(body: &str) -> Disposition {
    let mut d = Disposition::default();
    let address = |v: &str| {
        let v = v.split_once(';').map_or(v, |(_, a)| a);
        first_address(crate::prefix(v, 512)).map(|a| a.addr)
    };
    for (name, value) in crate::dsn::fields(crate::prefix(body, 64 << 10)) {
        match name.as_str() {
            "final-recipient" => d.final_recipient = address(&value),
            "original-recipient" => d.original_recipient = address(&value),
            "disposition" => {
                let (mode, kind) = value.split_once(';').unwrap_or(("", &value));
                d.action_mode = mode
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                d.kind = kind
                    .split(['/', '(', ' '])
                    .find(|w| !w.is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
            }
            _ => {}
        }
    }
    d
}

impl Disposition {
    /// A refusal by the recipient's filter: deleted (or denied, failed) by an automatic
    /// action, in a notice that says it rejected the message (a mailbox that deletes unread
    /// mail on its own, "Not read: ...", sends `deleted` too, and is no refusal).
    pub fn is_refusal(&self, subject: &str, human: &str) -> bool {
        self.final_recipient.is_some()
            && self.action_mode == "automatic-action"
            && matches!(self.kind.as_str(), "deleted" | "denied" | "failed")
            && (contains_ci(subject, "reject")
                || contains_ci(crate::prefix(human, 4096), "reject")
                || starts_with_ci(subject, "refused"))
    }
}

/// The reason a refusal gives: the human-readable text, at most its first 20 lines.
pub fn refusal_text(human: &str) -> String {
    let mut s = String::new();
    for l in crate::text::lines(human).take(20) {
        let t = l.trim();
        if t.starts_with("-----") {
            break;
        }
        if !t.is_empty() {
            s.push(' ');
            s.push_str(crate::prefix(t, 1024));
        }
    }
    crate::text::squash(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let d = parse(
            "Reporting-UA: mx.example.org; Dovecot Mail Delivery Agent\r\n\
             Final-Recipient: rfc822; bob@example.org\r\n\
             Original-Message-ID: <a@b>\r\n\
             Disposition: automatic-action/MDN-sent-automatically;\r\n deleted\r\n",
        );
        assert_eq!(d.final_recipient.as_deref(), Some("bob@example.org"));
        assert_eq!(d.action_mode, "automatic-action");
        assert_eq!(d.kind, "deleted");
        assert!(d.is_refusal("Automatically rejected mail", ""));
        assert!(!d.is_refusal(
            "Not read: Lunch",
            "Your message was deleted without being read."
        ));
        let r = parse(
            "Final-Recipient: rfc822;bob@example.org\nDisposition: manual-action/MDN-sent-manually; displayed\n",
        );
        assert_eq!(r.kind, "displayed");
        assert!(!r.is_refusal("Rejected", "rejected"));
        // nothing usable: no panic, nothing found
        assert_eq!(parse("Disposition\n:\n;;\n"), Disposition::default());
    }

    proptest::proptest! {
        /// Any text: no panic, and the reading is bounded by the input.
        #[test]
        fn any_text(body in "(?s)[\\PC\r\n:;/ \t]{0,400}", human in "(?s).{0,200}") {
            let d = parse(&body);
            let _ = d.is_refusal(&human, &human);
            proptest::prop_assert!(refusal_text(&human).len() <= human.len() + 1);
        }
    }

    #[test]
    fn text_of_a_refusal() {
        assert_eq!(
            refusal_text(
                "Your message to <b@x> was automatically rejected:\n\nI no longer read\n mail here.\n"
            ),
            "Your message to <b@x> was automatically rejected: I no longer read mail here."
        );
    }
}
