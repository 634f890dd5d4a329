//! The human categories a person sees at the top of a bounce.

use std::fmt;

use crate::reason::Reason;

macro_rules! categories {
    ($( $(#[$doc:meta])* $v:ident => $key:literal, $headline:literal, $meaning:literal, $advice:literal; )*) => {
        /// What happened, in the words a person understands at a glance. Each category has a
        /// headline, a one-sentence meaning and what the sender can do (standards sec. 6.2, 6.5).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Category {
            $( $(#[$doc])* $v, )*
        }

        impl Category {
            /// Every category, in declaration order.
            pub const ALL: &'static [Category] = &[$(Category::$v),*];

            /// A stable machine key (`address-not-found`), used in JSON and TSV output.
            pub fn key(self) -> &'static str {
                match self { $(Category::$v => $key,)* }
            }

            /// The headline shown to a person ("Recipient inbox full").
            pub fn headline(self) -> &'static str {
                match self { $(Category::$v => $headline,)* }
            }

            /// One plain sentence on what it means.
            pub fn meaning(self) -> &'static str {
                match self { $(Category::$v => $meaning,)* }
            }

            /// What the sender can do about it.
            pub fn advice(self) -> &'static str {
                match self { $(Category::$v => $advice,)* }
            }

            /// The category for a stable key, as printed by [`Category::key`].
            pub fn from_key(key: &str) -> Option<Category> {
                match key { $($key => Some(Category::$v),)* _ => None }
            }
        }
    };
}

categories! {
    /// The mailbox does not exist, was disabled or moved.
    AddressNotFound => "address-not-found", "Address not found",
        "The recipient's server says this address does not exist or can no longer receive mail.",
        "Check the address for typos, or ask the recipient for their current address.";
    /// The domain after the `@` does not exist or accepts no mail.
    DomainNotFound => "domain-not-found", "Domain not found",
        "The part of the address after the @ does not exist or does not accept mail.",
        "Check the spelling of the domain after the @; if it is right, the recipient's mail setup is broken.";
    /// The recipient's mailbox is full.
    InboxFull => "inbox-full", "Recipient inbox full",
        "The recipient's mailbox is full and cannot take new messages right now.",
        "Tell the recipient another way that their mailbox is full, and resend later.";
    /// Refused for spam, policy, reputation or a block list.
    MessageBlocked => "message-blocked", "Message blocked",
        "The recipient's server refused the message because of its content, its sender or the sending server's reputation.",
        "Remove suspicious links or attachments; if it keeps happening, ask your mail provider to check its sending reputation or reach the recipient another way.";
    /// The message is bigger than the recipient accepts.
    MessageTooLarge => "message-too-large", "Message too large",
        "The message is larger than the recipient's server accepts.",
        "Send smaller attachments, or share a link to the files instead.";
    /// The message had more recipients than the server accepts at once.
    TooManyRecipients => "too-many-recipients", "Too many recipients",
        "The message was addressed to more recipients than the server accepts at once.",
        "Send the message to fewer recipients at a time.";
    /// SPF, DKIM, DMARC or reverse DNS checks failed.
    SenderNotAuthenticated => "sender-not-authenticated", "Sender not authenticated",
        "The recipient's server could not verify that the message really came from the sender's domain (SPF, DKIM, DMARC or reverse DNS failed).",
        "Your mail administrator must fix the domain's email authentication (SPF, DKIM, DMARC); this is not the recipient's fault.";
    /// Too much mail too fast, or too many connections.
    RateLimited => "rate-limited", "Rate limited",
        "The recipient's server is accepting mail from this sender more slowly for now.",
        "Nothing to do now: delivery is retried automatically. If you send in bulk, slow down.";
    /// A temporary problem at either end; retried automatically.
    TemporaryProblem => "temporary-problem", "Temporary problem",
        "There was a temporary problem delivering the message; it is being retried.",
        "No action needed: delivery is retried, and you will be told if it finally fails.";
    /// Retries ran out.
    MessageExpired => "message-expired", "Message expired",
        "The message could not be delivered for days and delivery was given up.",
        "Check the address, or reach the recipient another way, then send the message again.";
    /// The server does not relay for that domain.
    RelayDenied => "relay-denied", "Relay denied",
        "The server that answered does not accept mail for that domain.",
        "Check the domain's spelling; if it is right, the recipient's mail setup (MX) is broken.";
    /// A secure connection was required and could not be had.
    TlsRequired => "tls-required", "TLS required",
        "The two mail servers could not agree on a secure (TLS) connection that one of them requires.",
        "The mail administrators must fix the TLS setup; you cannot fix it from your side.";
    /// The recipient (or group) accepts mail only from approved senders.
    SenderNotAllowed => "sender-not-allowed", "Sender not allowed",
        "The recipient or group only accepts mail from approved senders.",
        "Ask the recipient or the group's owner to allow you as a sender.";
    /// The sender's own account hit a sending limit or was suspended.
    SendingLimit => "sending-limit", "Sending limit reached",
        "Your own account reached a sending limit or was blocked from sending.",
        "Wait before sending more; if you did not send this much mail, your account may be compromised: change its password.";
    /// Mail went around in circles.
    MailLoop => "mail-loop", "Mail loop",
        "The message went around in a loop between mail servers.",
        "Check forwarding rules on both sides: one of them sends mail in circles.";
    /// The message format or content was refused.
    ContentRejected => "content-rejected", "Content rejected",
        "The recipient's server refused the message's format or content.",
        "Resend from a standard mail client without unusual attachments; if it persists, report it to your mail provider.";
    /// A failure that fits no more precise category.
    NotDelivered => "not-delivered", "Message not delivered",
        "There was a problem delivering the message.",
        "Read the server's response below; if it is unclear, contact the recipient another way.";
    /// A success notice.
    Delivered => "delivered", "Message delivered",
        "The message was delivered.",
        "Nothing to do.";
    /// An automatic reply (vacation, out of office), not a failure.
    AutoReply => "auto-reply", "Automatic reply",
        "This is an automatic reply such as an out-of-office notice; the message was delivered.",
        "Nothing to do, unless the reply itself asks you to write elsewhere.";
    /// A feedback (abuse) report, not a failure.
    Feedback => "feedback", "Feedback report",
        "A recipient's provider reports a message as spam, fraud or an opt-out.",
        "Stop sending this kind of mail to that recipient; if you did not send it, your address may be misused.";
}

impl Category {
    /// The default category for a reason; the classifier refines it where the text says more
    /// (too many recipients, TLS, loops, sender not allowed, own sending limit).
    pub fn for_reason(reason: Reason, permanent: bool) -> Category {
        use Category as C;
        match reason {
            Reason::UserUnknown | Reason::HasMoved | Reason::Suspend => C::AddressNotFound,
            Reason::HostUnknown | Reason::NotAccept => C::DomainNotFound,
            Reason::MailboxFull => C::InboxFull,
            Reason::Blocked
            | Reason::SpamDetected
            | Reason::PolicyViolation
            | Reason::Rejected
            | Reason::Filtered
            | Reason::BadReputation
            | Reason::VirusDetected
            | Reason::SecurityError => C::MessageBlocked,
            Reason::AuthFailure | Reason::RequirePtr => C::SenderNotAuthenticated,
            Reason::MesgTooBig | Reason::ExceedLimit => C::MessageTooLarge,
            Reason::TooManyConn | Reason::Speeding => C::RateLimited,
            Reason::Expired => C::MessageExpired,
            Reason::NoRelaying => C::RelayDenied,
            Reason::FailedStartTls => C::TlsRequired,
            Reason::ContentError | Reason::NotCompliantRfc => C::ContentRejected,
            Reason::SystemError
            | Reason::SystemFull
            | Reason::NetworkError
            | Reason::MailerError
            | Reason::SyntaxError
            | Reason::OnHold
            | Reason::Undefined => {
                if permanent {
                    C::NotDelivered
                } else {
                    C::TemporaryProblem
                }
            }
            Reason::Delivered => C::Delivered,
            Reason::Vacation => C::AutoReply,
            Reason::Feedback => C::Feedback,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.headline())
    }
}

impl serde::Serialize for Category {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

impl<'de> serde::Deserialize<'de> for Category {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Category::from_key(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown category {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_texts_are_sentences() {
        for c in Category::ALL {
            assert_eq!(Category::from_key(c.key()), Some(*c));
            assert!(c.meaning().ends_with('.'), "{c:?}");
            assert!(c.advice().ends_with('.'), "{c:?}");
        }
    }

    #[test]
    fn every_reason_has_a_category() {
        for r in Reason::ALL {
            let _ = Category::for_reason(*r, true);
        }
        assert_eq!(
            Category::for_reason(Reason::MailboxFull, true).headline(),
            "Recipient inbox full"
        );
        assert_eq!(
            Category::for_reason(Reason::SystemError, false),
            Category::TemporaryProblem
        );
    }
}
