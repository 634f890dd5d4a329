//! BATV, Bounce Address Tag Validation (draft-levine-smtp-batv), `prvs=` form.
//!
//! Outbound, the envelope sender `alice@example.test` becomes `prvs=KDDDSSSSSS=alice@example.test`:
//! `K` the key number (0-9), `DDD` the expiry day ((days since 1970-01-01 + validity) mod 1000),
//! `SSSSSS` the first three bytes, in hex, of HMAC-SHA1(key K, "K" "DDD" "alice@example.test").
//! The address is lower-cased before signing (some MTAs change the case of local parts).
//! Inbound, a bounce (null sender) to a tagged address is genuine only if the tag validates; a
//! bounce to an untagged address of a user whose mail we sign is backscatter.

use ring::hmac;

/// The keys and validity period. Keys are secrets from the config; key number = index.
#[derive(Clone)]
pub struct Batv {
    keys: Vec<(u8, hmac::Key)>,
    /// The key used to sign new tags.
    current: u8,
    /// Days a tag stays valid (project default 7).
    validity_days: u16,
}

impl std::fmt::Debug for Batv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batv")
            .field(
                "keys",
                &self.keys.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .field("current", &self.current)
            .field("validity_days", &self.validity_days)
            .finish()
    }
}

/// The result of checking an inbound recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A valid tag; deliver to this untagged address.
    Valid(String),
    /// No tag at all.
    Untagged,
    /// A tag that has expired (or is dated in the future beyond the validity).
    Expired,
    /// A tag with an unknown key or a wrong signature.
    Invalid,
}

/// A BATV configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatvError {
    #[error("batv: key number {0} is out of range 0-9")]
    KeyNumber(u8),
    #[error("batv: key {0} is empty")]
    EmptyKey(u8),
    #[error("batv: the signing key {0} is not among the keys")]
    NoCurrentKey(u8),
    #[error("batv: validity must be 1 to 999 days, got {0}")]
    Validity(u16),
}

impl Batv {
    /// `keys`: (number 0-9, secret). `current`: the number that signs new tags.
    pub fn new(keys: &[(u8, &[u8])], current: u8, validity_days: u16) -> Result<Batv, BatvError> {
        if !(1..=999).contains(&validity_days) {
            return Err(BatvError::Validity(validity_days));
        }
        let mut out = Vec::new();
        for &(n, secret) in keys {
            if n > 9 {
                return Err(BatvError::KeyNumber(n));
            }
            if secret.is_empty() {
                return Err(BatvError::EmptyKey(n));
            }
            out.push((
                n,
                hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret),
            ));
        }
        if !out.iter().any(|(n, _)| *n == current) {
            return Err(BatvError::NoCurrentKey(current));
        }
        Ok(Batv {
            keys: out,
            current,
            validity_days,
        })
    }

    /// Tags an envelope sender at `now` (seconds since the epoch). The null sender and
    /// already-tagged addresses are returned unchanged.
    pub fn sign(&self, sender: &str, now: u64) -> String {
        if sender.is_empty() || split_tag(sender).is_some() {
            return sender.to_string();
        }
        let day = (today(now) + u64::from(self.validity_days)) % 1000;
        let k = self.current;
        let sig = self.signature(k, day as u16, sender).unwrap_or_default();
        format!("prvs={k}{day:03}{sig}={sender}")
    }

    /// Checks an inbound recipient at `now`.
    pub fn check(&self, rcpt: &str, now: u64) -> Check {
        let Some((tag, address)) = split_tag(rcpt) else {
            return Check::Untagged;
        };
        let b = tag.as_bytes();
        let k = b[0] - b'0';
        let day: u16 = tag[1..4].parse().unwrap_or(0);
        let Some(want) = self.signature(k, day, address) else {
            return Check::Invalid;
        };
        if !want.eq_ignore_ascii_case(&tag[4..]) {
            return Check::Invalid;
        }
        // Days left until expiry, modulo 1000 (the day field wraps every 1000 days).
        let left = (u64::from(day) + 1000 - today(now) % 1000) % 1000;
        if left > u64::from(self.validity_days) {
            return Check::Expired;
        }
        Check::Valid(address.to_string())
    }

    fn signature(&self, k: u8, day: u16, address: &str) -> Option<String> {
        let (_, key) = self.keys.iter().find(|(n, _)| *n == k)?;
        let data = format!("{k}{day:03}{}", address.to_ascii_lowercase());
        let tag = hmac::sign(key, data.as_bytes());
        Some(
            tag.as_ref()[..3]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

fn today(now: u64) -> u64 {
    now / 86_400
}

/// `prvs=KDDDSSSSSS=local@domain` → (`KDDDSSSSSS`, `local@domain`); the `prvs` keyword is
/// case-insensitive. `None` for anything else.
pub fn split_tag(address: &str) -> Option<(&str, &str)> {
    let head = address.get(..5)?;
    if !head.eq_ignore_ascii_case("prvs=") {
        return None;
    }
    let rest = &address[5..];
    let (tag, addr) = rest.split_once('=')?;
    let ok = tag.len() == 10
        && tag.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && tag.as_bytes()[4..].iter().all(u8::is_ascii_hexdigit)
        && addr.contains('@');
    ok.then_some((tag, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const NOW: u64 = 20_000 * DAY + 3600;

    fn batv() -> Batv {
        Batv::new(&[(0, b"old secret"), (1, b"new secret")], 1, 7).expect("batv")
    }

    #[test]
    fn signed_sender_validates_and_strips() {
        let b = batv();
        let tagged = b.sign("Alice@Example.test", NOW);
        assert!(tagged.starts_with("prvs=1007"), "{tagged}"); // (20000 + 7) mod 1000 = 7
        assert_eq!(tagged.len(), "prvs=1007abcdef=Alice@Example.test".len());
        assert_eq!(
            b.check(&tagged, NOW),
            Check::Valid("Alice@Example.test".into())
        );
        // a case change by a remote MTA does not break it
        assert_eq!(
            b.check(&tagged.to_uppercase(), NOW + 6 * DAY),
            Check::Valid("ALICE@EXAMPLE.TEST".into())
        );
        assert_eq!(b.sign("", NOW), "");
        assert_eq!(b.sign(&tagged, NOW), tagged, "never tagged twice");
    }

    #[test]
    fn expired_forged_and_untagged_tags_are_told_apart() {
        let b = batv();
        let tagged = b.sign("alice@example.test", NOW);
        assert_eq!(b.check(&tagged, NOW + 8 * DAY), Check::Expired);
        let forged = format!("{}000000={}", &tagged[..9], "alice@example.test");
        assert_eq!(b.check(&forged, NOW), Check::Invalid);
        let other_user = tagged.replace("alice", "mallory");
        assert_eq!(b.check(&other_user, NOW), Check::Invalid);
        let unknown_key = format!("prvs=5{}", &tagged[6..]);
        assert_eq!(b.check(&unknown_key, NOW), Check::Invalid);
        assert_eq!(b.check("alice@example.test", NOW), Check::Untagged);
        assert_eq!(
            b.check("prvs=junk=alice@example.test", NOW),
            Check::Untagged
        );
    }

    #[test]
    fn old_keys_still_validate_and_the_day_wraps() {
        let old = Batv::new(&[(0, b"old secret")], 0, 7).expect("batv");
        let b = batv();
        // tags signed with key 0 before the rotation still validate
        assert!(matches!(
            b.check(&old.sign("a@example.test", NOW), NOW),
            Check::Valid(_)
        ));
        // day 20995 + 7 = 21002 -> expiry day 002, checked on day 20999 (999): 3 days left
        let near_wrap = 20_995 * DAY;
        let t = b.sign("a@example.test", near_wrap);
        assert!(t.starts_with("prvs=1002"), "{t}");
        assert!(matches!(b.check(&t, 20_999 * DAY), Check::Valid(_)));
        assert_eq!(b.check(&t, 21_003 * DAY), Check::Expired);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert_eq!(
            Batv::new(&[(10, b"k")], 10, 7).err(),
            Some(BatvError::KeyNumber(10))
        );
        assert_eq!(
            Batv::new(&[(1, b"")], 1, 7).err(),
            Some(BatvError::EmptyKey(1))
        );
        assert_eq!(
            Batv::new(&[(1, b"k")], 2, 7).err(),
            Some(BatvError::NoCurrentKey(2))
        );
        assert_eq!(
            Batv::new(&[(1, b"k")], 1, 0).err(),
            Some(BatvError::Validity(0))
        );
    }
}
