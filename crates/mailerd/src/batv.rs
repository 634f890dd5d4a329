//! BATV wiring: our users' outbound envelope senders are signed (`prvs=`), and bounces to
//! them are checked at RCPT time (standards sec. 7.2). The tag format and its checks are the
//! notify role's (`mailerd_notify::batv`); this module only connects them to receive and
//! deliver, which do not know each other.

use std::sync::Arc;

use mailerd_notify::batv::{Batv, Check, split_tag};
use mailerd_receive::{MailboxLookup, MailboxStatus, TagCheck};
use serde::{Deserialize, Serialize};

/// `[batv]`: signing of return paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatvConfig {
    /// Sign the envelope sender of mail from our local domains to other hosts. Default false.
    pub enabled: bool,
    /// Refuse (`550 5.7.1`) bounces to our users whose tag is missing, expired or invalid.
    /// When false they are accepted and marked with an `X-Mailerd-BATV` header. Turn it on
    /// only after `validity_days` of signing, so that bounces of mail sent before are valid.
    /// Default false.
    pub enforce: bool,
    /// Secrets by key number (0-9); several keys allow rotation. Required when enabled.
    pub keys: Vec<BatvKey>,
    /// The key number that signs new tags. Default 0.
    pub signing_key: u8,
    /// Days a tag stays valid. Default 7.
    pub validity_days: u16,
}

/// One BATV key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatvKey {
    pub number: u8,
    pub secret: String,
}

impl Default for BatvConfig {
    fn default() -> Self {
        BatvConfig {
            enabled: false,
            enforce: false,
            keys: Vec::new(),
            signing_key: 0,
            validity_days: 7,
        }
    }
}

impl BatvConfig {
    /// The signer, when enabled.
    pub fn build(&self) -> Result<Option<Batv>, String> {
        if !self.enabled {
            return Ok(None);
        }
        let keys: Vec<(u8, &[u8])> = self
            .keys
            .iter()
            .map(|k| (k.number, k.secret.as_bytes()))
            .collect();
        Batv::new(&keys, self.signing_key, self.validity_days)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// Mailbox lookups plus the BATV check of local recipients.
pub struct BatvMailboxes<M> {
    pub inner: M,
    pub batv: Option<Batv>,
    pub enforce: bool,
    pub now: Arc<dyn Fn() -> u64 + Send + Sync>,
}

impl<M: MailboxLookup> MailboxLookup for BatvMailboxes<M> {
    fn lookup(&self, address: &str) -> MailboxStatus {
        self.inner.lookup(address)
    }

    fn lookup_with_size(&self, address: &str, size: Option<u64>) -> MailboxStatus {
        self.inner.lookup_with_size(address, size)
    }

    fn return_path_tag(&self, address: &str, null_sender: bool) -> TagCheck {
        let Some(batv) = &self.batv else {
            return TagCheck::NotTagged;
        };
        let is_postmaster = |a: &str| {
            a.split('@')
                .next()
                .is_some_and(|l| l.eq_ignore_ascii_case("postmaster"))
        };
        match batv.check(address, (self.now)()) {
            Check::Valid(untagged) => TagCheck::Valid(untagged),
            Check::Untagged if !null_sender || is_postmaster(address) => TagCheck::NotTagged,
            Check::Untagged => self.verdict(
                address.to_string(),
                "none",
                "a bounce to an address whose mail is always sent with a signed return path (BATV); this is not a bounce of mail sent by us",
            ),
            Check::Expired | Check::Invalid => {
                let untagged = split_tag(address).map(|(_, a)| a.to_string()).unwrap_or_else(|| address.to_string());
                self.verdict(untagged, "fail", "the return-path tag (BATV) is expired or invalid; this is not a bounce of mail sent by us")
            }
        }
    }
}

impl<M> BatvMailboxes<M> {
    fn verdict(&self, address: String, result: &str, why: &str) -> TagCheck {
        if self.enforce {
            TagCheck::Refuse(format!("Recipient address rejected: {why}"))
        } else {
            TagCheck::Mark {
                address,
                header: format!("{}: {result} ({why})", mailerd_types::BATV_MARK_FIELD),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Everyone;
    impl MailboxLookup for Everyone {
        fn lookup(&self, _: &str) -> MailboxStatus {
            MailboxStatus::Active
        }
    }

    fn boxes(enforce: bool) -> (BatvMailboxes<Everyone>, Batv) {
        let cfg = BatvConfig {
            enabled: true,
            enforce,
            keys: vec![BatvKey {
                number: 1,
                secret: "s3cret".into(),
            }],
            signing_key: 1,
            validity_days: 7,
        };
        let batv = cfg.build().expect("valid").expect("enabled");
        (
            BatvMailboxes {
                inner: Everyone,
                batv: Some(batv.clone()),
                enforce,
                now: Arc::new(|| 1_800_000_000),
            },
            batv,
        )
    }

    #[test]
    fn valid_tags_are_stripped_and_backscatter_is_refused_or_marked() {
        let (m, batv) = boxes(true);
        let tagged = batv.sign("alice@example.test", 1_800_000_000);
        assert_eq!(
            m.return_path_tag(&tagged, true),
            TagCheck::Valid("alice@example.test".into())
        );
        assert!(matches!(
            m.return_path_tag("alice@example.test", true),
            TagCheck::Refuse(_)
        ));
        assert_eq!(
            m.return_path_tag("alice@example.test", false),
            TagCheck::NotTagged,
            "ordinary mail"
        );
        assert_eq!(
            m.return_path_tag("postmaster@example.test", true),
            TagCheck::NotTagged
        );
        let forged = format!("{}000000=alice@example.test", &tagged[..9]);
        assert!(matches!(
            m.return_path_tag(&forged, true),
            TagCheck::Refuse(_)
        ));

        let (m, _) = boxes(false);
        match m.return_path_tag(&forged, true) {
            TagCheck::Mark { address, header } => {
                assert_eq!(address, "alice@example.test");
                assert!(header.starts_with("X-Mailerd-BATV: fail"));
            }
            other => panic!("expected a mark, got {other:?}"),
        }
    }

    #[test]
    fn disabled_or_misconfigured() {
        assert!(matches!(BatvConfig::default().build(), Ok(None)));
        let bad = BatvConfig {
            enabled: true,
            ..BatvConfig::default()
        };
        assert!(bad.build().is_err(), "enabled without keys");
    }
}
