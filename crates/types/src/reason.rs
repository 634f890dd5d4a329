//! Why a message was (not) delivered, in Sisimai's vocabulary.

use std::fmt;
use std::str::FromStr;

use crate::status::{EnhancedStatus, StatusClass};

macro_rules! reasons {
    ($( $(#[$doc:meta])* $v:ident => $name:literal, $pseudo:literal; )*) => {
        /// The reason for a delivery outcome. Names are Sisimai's (the de facto vocabulary of
        /// bounce analysis), so results can be compared with Sisimai's directly.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $( $(#[$doc])* $v, )*
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$v),*];

            /// The lower-case name, as printed and parsed (`userunknown`).
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$v => $name,)* }
            }

            /// The detail of the pseudo status `X.0.9NN` used when a bounce carries no enhanced
            /// status code (the convention of Sisimai, kept so results stay comparable).
            fn pseudo_detail(self) -> u16 {
                match self { $(Reason::$v => $pseudo,)* }
            }
        }

        impl FromStr for Reason {
            type Err = UnknownReason;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($name => Ok(Reason::$v),)*
                    _ => Err(UnknownReason(s.to_string())),
                }
            }
        }
    };
}

reasons! {
    /// The mailbox does not exist (`550 5.1.1 User unknown`).
    UserUnknown => "userunknown", 911;
    /// The mailbox is full or over quota (`552 5.2.2`).
    MailboxFull => "mailboxfull", 922;
    /// The recipient domain does not exist or has no mail host (NXDOMAIN).
    HostUnknown => "hostunknown", 912;
    /// The sending IP or host was refused (block lists, rDNS, reputation of the connection).
    Blocked => "blocked", 971;
    /// The content was judged to be spam.
    SpamDetected => "spamdetected", 980;
    /// A local policy of the recipient's site refused the message.
    PolicyViolation => "policyviolation", 972;
    /// The envelope sender was refused.
    Rejected => "rejected", 918;
    /// A filter of the recipient refused the message (user-level rules, "account closed").
    Filtered => "filtered", 910;
    /// Delivery was retried until the queue lifetime ran out.
    Expired => "expired", 947;
    /// The message exceeds the size the recipient accepts per message.
    MesgTooBig => "mesgtoobig", 934;
    /// The message exceeds a limit of the recipient's mailbox (size per mailbox, attachments).
    ExceedLimit => "exceedlimit", 923;
    /// An error inside the remote mail system.
    SystemError => "systemerror", 930;
    /// The remote mail system's storage is full.
    SystemFull => "systemfull", 931;
    /// A network or DNS problem between the servers.
    NetworkError => "networkerror", 944;
    /// The server refused to relay for the recipient's domain.
    NoRelaying => "norelaying", 909;
    /// The host does not accept mail at all (null MX, 521/556).
    NotAccept => "notaccept", 932;
    /// Too many connections or messages in one connection.
    TooManyConn => "toomanyconn", 945;
    /// A security check failed (authentication required, certificates, virus policy).
    SecurityError => "securityerror", 970;
    /// SPF, DKIM or DMARC failed.
    AuthFailure => "authfailure", 973;
    /// The sending IP or domain has a bad reputation.
    BadReputation => "badreputation", 975;
    /// The sending IP has no (or a mismatching) PTR record.
    RequirePtr => "requireptr", 973;
    /// The message does not comply with RFC 5322 / RFC 5321.
    NotCompliantRfc => "notcompliantrfc", 974;
    /// An SMTP command was not understood (syntax error).
    SyntaxError => "syntaxerror", 902;
    /// The mailbox is suspended or disabled (may come back).
    Suspend => "suspend", 921;
    /// The mailbox has moved, with no forwarding address.
    HasMoved => "hasmoved", 916;
    /// The content was refused (headers, encoding, attachments).
    ContentError => "contenterror", 960;
    /// A virus was found in the message.
    VirusDetected => "virusdetected", 971;
    /// The sender is sending too fast (rate limited).
    Speeding => "speeding", 946;
    /// STARTTLS could not be negotiated but was required.
    FailedStartTls => "failedstarttls", 975;
    /// The reason cannot be decided; the message is held.
    OnHold => "onhold", 901;
    /// A local mailer program failed (pipe, procmail).
    MailerError => "mailererror", 939;
    /// The bounce gave no usable reason.
    Undefined => "undefined", 900;
    /// Delivered successfully (a success DSN).
    Delivered => "delivered", 0;
    /// An auto-reply (vacation, out of office): the message was delivered.
    Vacation => "vacation", 0;
    /// An ARF feedback report (abuse, fraud, opt-out): not a delivery failure.
    Feedback => "feedback", 0;
}

/// A reason name that is not in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown reason {0:?}")]
pub struct UnknownReason(pub String);

impl Reason {
    /// `true` when this reason is a delivery failure (not a success, auto-reply or report).
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            Reason::Delivered | Reason::Vacation | Reason::Feedback
        )
    }

    /// A hard bounce: resending to the same address can never succeed, so the address should be
    /// suppressed. Only for permanent failures whose cause is the address itself.
    pub fn is_hard_bounce(self, permanent: bool) -> bool {
        permanent
            && matches!(
                self,
                Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved | Reason::NotAccept
            )
    }

    /// The pseudo status `5.0.9NN` (or `4.0.9NN`) for a bounce that carries no status code.
    pub fn pseudo_status(self, permanent: bool) -> Option<EnhancedStatus> {
        let d = self.pseudo_detail();
        if d == 0 {
            return None;
        }
        let class = if permanent {
            StatusClass::Permanent
        } else {
            StatusClass::Transient
        };
        Some(EnhancedStatus::new(class, 0, d))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Reason::ALL {
            assert_eq!(r.as_str().parse::<Reason>(), Ok(*r));
        }
        assert_eq!(Reason::ALL.len(), 35);
        assert!("nonsense".parse::<Reason>().is_err());
    }

    #[test]
    fn hard_bounces_are_permanent_address_problems() {
        assert!(Reason::UserUnknown.is_hard_bounce(true));
        assert!(!Reason::UserUnknown.is_hard_bounce(false));
        assert!(!Reason::MailboxFull.is_hard_bounce(true));
        assert_eq!(
            Reason::Filtered
                .pseudo_status(true)
                .map(|s| s.to_string())
                .as_deref(),
            Some("5.0.910")
        );
        assert_eq!(
            Reason::Expired
                .pseudo_status(false)
                .map(|s| s.to_string())
                .as_deref(),
            Some("4.0.947")
        );
        assert_eq!(Reason::Vacation.pseudo_status(true), None);
    }
}
