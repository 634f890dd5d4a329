//! Recipient checks for local domains: does the mailbox exist, is it disabled, is it full.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::UserConfig;

/// The state of a local mailbox, as far as accepting mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailboxStatus {
    /// Exists and accepts mail.
    Active,
    /// No such user: `550 5.1.1`.
    Unknown,
    /// The account is disabled: `550 5.2.1`.
    Disabled,
    /// Over quota: `552 5.2.2`.
    OverQuota,
}

/// Looks up local mailboxes. The binary provides one (it knows where mailboxes live and how
/// full they are); [`ConfigMailboxes`] serves the `users` of the configuration.
///
/// Called from async code: keep it quick (a map lookup, a cached size), never blocking on I/O
/// for long.
pub trait MailboxLookup: Send + Sync + 'static {
    /// `address` is `local@domain` with the domain lower-cased; the domain is one of
    /// `local_domains`.
    fn lookup(&self, address: &str) -> MailboxStatus;

    /// Like [`MailboxLookup::lookup`], knowing the message size the client announced with
    /// `SIZE=` (RFC 1870), so a mailbox that this message would overfill can be refused at
    /// RCPT. The default ignores the size.
    fn lookup_with_size(&self, address: &str, size: Option<u64>) -> MailboxStatus {
        let _ = size;
        self.lookup(address)
    }

    /// Return-path tags (BATV): what to do with a local recipient `address` as received, in a
    /// transaction whose reverse-path is null (`null_sender`: a bounce) or not. The default
    /// knows no tags.
    fn return_path_tag(&self, address: &str, null_sender: bool) -> TagCheck {
        let _ = (address, null_sender);
        TagCheck::NotTagged
    }
}

/// The verdict on a recipient's return-path tag (BATV, standards sec. 7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagCheck {
    /// Not a tagged address, and nothing to say: go on with the address as it is.
    NotTagged,
    /// A valid tag: deliver to this untagged address.
    Valid(String),
    /// Refuse the recipient with `550 5.7.1` and this text (a bounce of mail we never sent).
    Refuse(String),
    /// Accept for this (untagged) address, and add this header field to the message so the
    /// user sees it is a bounce of mail we did not send (e.g. `X-Mailerd-BATV: fail ...`).
    Mark { address: String, header: String },
}

/// The current size in bytes of a mailbox, for quota checks.
pub type UsageFn = Arc<dyn Fn(&str) -> u64 + Send + Sync>;

/// [`MailboxLookup`] over the configured users (addresses compared case-insensitively),
/// with mailbox usage from a callback.
pub struct ConfigMailboxes {
    users: HashMap<String, (bool, Option<u64>)>,
    usage: UsageFn,
}

impl ConfigMailboxes {
    /// `usage` returns how many bytes a mailbox holds (compared with the user's quota).
    pub fn new(users: &[UserConfig], usage: UsageFn) -> Self {
        ConfigMailboxes {
            users: users
                .iter()
                .map(|u| (u.address.to_lowercase(), (u.disabled, u.quota)))
                .collect(),
            usage,
        }
    }

    /// Without quota accounting (every mailbox counts as empty).
    pub fn without_usage(users: &[UserConfig]) -> Self {
        Self::new(users, Arc::new(|_| 0))
    }
}

impl MailboxLookup for ConfigMailboxes {
    fn lookup(&self, address: &str) -> MailboxStatus {
        self.lookup_with_size(address, None)
    }

    /// Over quota when the mailbox is full, or when the announced size would overfill it.
    fn lookup_with_size(&self, address: &str, size: Option<u64>) -> MailboxStatus {
        let key = address.to_lowercase();
        match self.users.get(&key) {
            None => MailboxStatus::Unknown,
            Some((true, _)) => MailboxStatus::Disabled,
            Some((false, Some(quota))) => {
                let used = (self.usage)(&key);
                if used >= *quota || used.saturating_add(size.unwrap_or(0)) > *quota {
                    MailboxStatus::OverQuota
                } else {
                    MailboxStatus::Active
                }
            }
            Some((false, None)) => MailboxStatus::Active,
        }
    }
}
