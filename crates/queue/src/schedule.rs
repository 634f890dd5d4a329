//! Retry backoff and expiry (RFC 5321 section 4.5.4.1), as pure functions of time.

use std::time::Duration;

/// When to retry and when to give up. Every field has a default; all are configurable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Delays after the 1st, 2nd, ... failed attempt. After the last one, `then_every` applies.
    #[serde(with = "durations")]
    pub backoff: Vec<Duration>,
    /// Interval between attempts once `backoff` is used up.
    #[serde(with = "humantime_serde_compat")]
    pub then_every: Duration,
    /// No delay is ever longer than this (after jitter).
    #[serde(with = "humantime_serde_compat")]
    pub max_delay: Duration,
    /// Each delay is spread by up to this fraction, up or down (0.0 to 0.5), so that messages
    /// deferred together do not all come back in the same second.
    pub jitter: f64,
    /// Maximum time in the queue for a message with a sender; then recipients expire (`4.4.7`).
    #[serde(with = "humantime_serde_compat")]
    pub max_lifetime: Duration,
    /// Maximum time in the queue for a null-sender message (a notice of our own).
    #[serde(with = "humantime_serde_compat")]
    pub max_lifetime_null_sender: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let m = |n: u64| Duration::from_secs(60 * n);
        RetryPolicy {
            backoff: vec![m(5), m(10), m(20), m(40)],
            then_every: m(60),
            max_delay: m(4 * 60),
            jitter: 0.1,
            max_lifetime: m(5 * 24 * 60),
            max_lifetime_null_sender: m(2 * 24 * 60),
        }
    }
}

/// Why a policy is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("retry.jitter must be between 0.0 and 0.5, got {0}")]
    Jitter(f64),
    #[error("retry.{0} must be longer than zero")]
    Zero(&'static str),
    #[error("retry.max_lifetime_null_sender ({0:?}) is longer than retry.max_lifetime ({1:?})")]
    NullSenderLifetime(Duration, Duration),
}

impl RetryPolicy {
    /// Checks the values a config file may get wrong.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(0.0..=0.5).contains(&self.jitter) || self.jitter.is_nan() {
            return Err(PolicyError::Jitter(self.jitter));
        }
        for (name, d) in [
            ("then_every", self.then_every),
            ("max_delay", self.max_delay),
            ("max_lifetime", self.max_lifetime),
            ("max_lifetime_null_sender", self.max_lifetime_null_sender),
        ] {
            if d.is_zero() {
                return Err(PolicyError::Zero(name));
            }
        }
        if self.backoff.iter().any(Duration::is_zero) {
            return Err(PolicyError::Zero("backoff"));
        }
        if self.max_lifetime_null_sender > self.max_lifetime {
            return Err(PolicyError::NullSenderLifetime(
                self.max_lifetime_null_sender,
                self.max_lifetime,
            ));
        }
        Ok(())
    }

    /// The delay before the next attempt after `failed_attempts` failed attempts (1 = the
    /// first attempt failed). `random` is a uniform value in `[0, 1)` supplied by the caller
    /// (so this stays a pure function); 0.5 means no jitter.
    pub fn delay_after(&self, failed_attempts: u32, random: f64) -> Duration {
        let n = failed_attempts.max(1) as usize;
        let base = self.backoff.get(n - 1).copied().unwrap_or(self.then_every);
        let r = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let factor = 1.0 + self.jitter * (2.0 * r - 1.0);
        base.mul_f64(factor.max(0.0)).min(self.max_delay)
    }

    /// The queue lifetime for a message: shorter for the null sender.
    pub fn lifetime(&self, null_sender: bool) -> Duration {
        if null_sender {
            self.max_lifetime_null_sender
        } else {
            self.max_lifetime
        }
    }

    /// What to do after a temporary failure at `now` for a message that arrived at
    /// `arrived` (seconds since the epoch).
    pub fn after_temporary_failure(
        &self,
        arrived: u64,
        now: u64,
        failed_attempts: u32,
        null_sender: bool,
        random: f64,
    ) -> Next {
        let expires = arrived.saturating_add(self.lifetime(null_sender).as_secs());
        if now >= expires {
            return Next::Expire;
        }
        let at = now.saturating_add(self.delay_after(failed_attempts, random).as_secs().max(1));
        // The last attempt happens at expiry time rather than never.
        Next::RetryAt(at.min(expires))
    }
}

/// The scheduler's decision after a temporary failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again at this time (seconds since the epoch).
    RetryAt(u64),
    /// The queue lifetime is over: fail the recipient with `4.4.7` ("Message expired").
    Expire,
}

/// serde for a list of human durations (`["5m", "10m"]`).
mod durations {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for d in v {
            seq.serialize_element(&humantime::format_duration(*d).to_string())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| {
                humantime::parse_duration(s)
                    .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
            })
            .collect()
    }
}

/// serde for one human duration (`"4h"`).
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60;

    #[test]
    fn default_schedule_is_5_10_20_40_then_hourly() {
        let p = RetryPolicy::default();
        let got: Vec<u64> = (1..=7)
            .map(|n| p.delay_after(n, 0.5).as_secs() / MIN)
            .collect();
        assert_eq!(got, vec![5, 10, 20, 40, 60, 60, 60]);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn jitter_stays_within_bounds_and_cap() {
        let p = RetryPolicy::default();
        let lo = p.delay_after(1, 0.0).as_secs();
        let hi = p.delay_after(1, 0.999_999).as_secs();
        assert_eq!(lo, 270, "5 min - 10%");
        assert!((329..=330).contains(&hi), "5 min + 10%: {hi}");
        let capped = RetryPolicy {
            max_delay: Duration::from_secs(7 * MIN),
            ..p.clone()
        };
        assert_eq!(capped.delay_after(3, 0.5).as_secs(), 7 * MIN);
        assert_eq!(
            p.delay_after(1, f64::NAN).as_secs(),
            5 * MIN,
            "garbage randomness means no jitter"
        );
    }

    #[test]
    fn expiry_after_five_days_or_two_for_null_sender() {
        let p = RetryPolicy::default();
        let day = 24 * 60 * MIN;
        assert_eq!(
            p.after_temporary_failure(0, 5 * day, 30, false, 0.5),
            Next::Expire
        );
        assert_eq!(
            p.after_temporary_failure(0, 2 * day, 30, true, 0.5),
            Next::Expire
        );
        assert_eq!(
            p.after_temporary_failure(0, 2 * day, 30, false, 0.5),
            Next::RetryAt(2 * day + 60 * MIN)
        );
        // The last retry is clamped to the expiry time.
        assert_eq!(
            p.after_temporary_failure(0, 5 * day - MIN, 30, false, 0.5),
            Next::RetryAt(5 * day)
        );
    }

    #[test]
    fn config_parses_human_durations_and_rejects_bad_values() {
        let p: RetryPolicy =
            toml::from_str("backoff = [\"1m\", \"2m\"]\nthen_every = \"30m\"\njitter = 0.0")
                .expect("parse");
        assert_eq!(p.delay_after(2, 0.9).as_secs(), 2 * MIN);
        assert_eq!(p.delay_after(9, 0.9).as_secs(), 30 * MIN);
        assert!(toml::from_str::<RetryPolicy>("then_every = \"soon\"").is_err());
        assert!(toml::from_str::<RetryPolicy>("bogus = 1").is_err());
        let bad = RetryPolicy {
            jitter: 0.9,
            ..RetryPolicy::default()
        };
        assert_eq!(bad.validate(), Err(PolicyError::Jitter(0.9)));
        let round: RetryPolicy =
            toml::from_str(&toml::to_string(&RetryPolicy::default()).expect("ser")).expect("de");
        assert_eq!(round, RetryPolicy::default());
    }

    proptest::proptest! {
        #[test]
        fn delays_are_positive_and_capped(n in 0u32..1000, r in proptest::num::f64::ANY) {
            let p = RetryPolicy::default();
            let d = p.delay_after(n, r);
            proptest::prop_assert!(d <= p.max_delay);
            proptest::prop_assert!(d.as_secs() > 0);
        }
    }
}
