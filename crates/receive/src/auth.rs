//! Password verification (argon2 PHC hashes) and throttling of failed AUTH attempts.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use tokio::time::Instant;

use crate::config::{AuthThrottleConfig, UserConfig};

/// The accounts that may authenticate, keyed by lower-cased address.
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    users: HashMap<String, (String, bool)>,
}

impl Accounts {
    pub(crate) fn new(users: &[UserConfig]) -> Self {
        Accounts {
            users: users
                .iter()
                .filter_map(|u| {
                    let h = u.password_hash.clone()?;
                    Some((u.address.to_lowercase(), (h, u.disabled)))
                })
                .collect(),
        }
    }

    /// The password checker for a user; `None` for unknown and disabled users (they fail
    /// like a wrong password).
    ///
    /// For those, a check against a dummy hash (argon2 default parameters) is returned, so
    /// that the time of an answer does not tell which accounts exist.
    pub(crate) fn snapshot(&self, username: &str) -> PasswordCheck {
        match self.users.get(&username.to_lowercase()) {
            Some((hash, false)) => PasswordCheck {
                hash: Some(hash.clone()),
            },
            _ => PasswordCheck { hash: None },
        }
    }
}

/// A hash of a random password with argon2's default parameters, made once.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let mut rnd = std::collections::hash_map::RandomState::new().build_hasher();
            rnd.write_u64(0x006d_6169_6c65_7264);
            let secret = format!("{:016x}", rnd.finish());
            let salt = SaltString::encode_b64(secret.as_bytes()).ok()?;
            Argon2::default()
                .hash_password(secret.as_bytes(), &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .as_deref()
}

/// One user's password hash (`None`: no usable account), movable to a blocking thread.
pub(crate) struct PasswordCheck {
    hash: Option<String>,
}

impl PasswordCheck {
    /// Checks a password; slow on purpose (argon2), so call it from a blocking thread.
    pub(crate) fn verify(&self, password: &str) -> bool {
        let (hash, real) = match &self.hash {
            Some(h) => (h.as_str(), true),
            None => match dummy_hash() {
                Some(h) => (h, false),
                None => return false,
            },
        };
        let ok = match PasswordHash::new(hash) {
            Ok(h) => Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok(),
            Err(_) => false,
        };
        ok && real
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Failure counts per client IP and per account.
#[derive(Debug)]
pub(crate) struct AuthThrottle {
    cfg: AuthThrottleConfig,
    by_ip: Mutex<HashMap<IpAddr, Failures>>,
    by_account: Mutex<HashMap<String, Failures>>,
}

/// Keeps the failure maps bounded: beyond this many entries, expired ones are dropped, and if
/// that is not enough, the map is cleared (an attacker flooding it gains only a reset).
const MAX_ENTRIES: usize = 100_000;

impl AuthThrottle {
    pub(crate) fn new(cfg: AuthThrottleConfig) -> Self {
        AuthThrottle {
            cfg,
            by_ip: Mutex::new(HashMap::new()),
            by_account: Mutex::new(HashMap::new()),
        }
    }

    fn memory(&self) -> Duration {
        Duration::from_secs(self.cfg.lockout_secs)
    }

    fn current<K: std::hash::Hash + Eq>(&self, map: &Mutex<HashMap<K, Failures>>, k: &K) -> u32 {
        let map = map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(k) {
            Some(f) if f.last.elapsed() < self.memory() => f.count,
            _ => 0,
        }
    }

    fn bump<K: std::hash::Hash + Eq>(&self, map: &Mutex<HashMap<K, Failures>>, k: K) -> u32 {
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_ENTRIES {
            let mem = self.memory();
            map.retain(|_, f| f.last.elapsed() < mem);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        let mem = self.memory();
        let e = map.entry(k).or_insert(Failures {
            count: 0,
            last: now,
        });
        if e.last.elapsed() >= mem {
            e.count = 0;
        }
        e.count = e.count.saturating_add(1);
        e.last = now;
        e.count
    }

    /// `true` if this client IP is locked out.
    pub(crate) fn ip_locked(&self, ip: IpAddr) -> bool {
        self.current(&self.by_ip, &ip) >= self.cfg.max_failures_per_ip
    }

    /// `true` if this account is locked out.
    pub(crate) fn account_locked(&self, user: &str) -> bool {
        self.current(&self.by_account, &user.to_lowercase()) >= self.cfg.max_failures_per_account
    }

    /// Records a failure; returns how long to wait before answering.
    pub(crate) fn failed(&self, ip: IpAddr, user: Option<&str>) -> Duration {
        let n_ip = self.bump(&self.by_ip, ip);
        let n_acct = user.map_or(0, |u| self.bump(&self.by_account, u.to_lowercase()));
        let n = n_ip.max(n_acct).max(1);
        let shift = (n - 1).min(20);
        let ms = self
            .cfg
            .base_delay_ms
            .saturating_mul(1u64 << shift)
            .min(self.cfg.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// Forgets the account's failures after a success.
    pub(crate) fn succeeded(&self, user: &str) {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&user.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn delays_grow_then_lock_out_then_expire() {
        let t = AuthThrottle::new(AuthThrottleConfig {
            base_delay_ms: 100,
            max_delay_ms: 350,
            max_failures_per_ip: 4,
            max_failures_per_account: 3,
            lockout_secs: 60,
        });
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let d: Vec<u64> = (0..3)
            .map(|_| t.failed(ip, Some("Bob@x")).as_millis() as u64)
            .collect();
        assert_eq!(d, vec![100, 200, 350]);
        assert!(t.account_locked("bob@x"));
        assert!(!t.ip_locked(ip));
        t.failed(ip, None);
        assert!(t.ip_locked(ip));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!t.ip_locked(ip));
        assert!(!t.account_locked("bob@x"));
    }
}
