//! The configuration file: one TOML file, every key with a default.
//!
//! ```toml
//! hostname = "mx.example.test"      # EHLO, Received, Reporting-MTA, MAILER-DAEMON@hostname
//! data_dir = "/var/lib/mailerd"
//! local_domains = ["example.test"]
//! relay_networks = []               # CIDRs that may relay without AUTH (Postfix mynetworks)
//! [[listen]]
//! address = "127.0.0.1:2525"
//! role = "mx"                       # mail for local domains; relays only for authenticated users
//! [[listen]]
//! address = "127.0.0.1:2587"
//! role = "submission"               # STARTTLS, then AUTH required; relays anywhere
//! [[user]]
//! address = "alice@example.test"
//! password_hash = "$argon2id$..."   # `mailerd passwd` prints one
//! quota = "50 MiB"
//! [routes]                          # static next hops; domains not listed go by MX
//! "*" = "127.0.0.1:2526"
//! ```
//!
//! Each role owns its section's type (`receive`: `tls`, `limits`, `auth_throttle`; `queue`:
//! `retry`); this module composes them, reads the file, and checks it, reporting every error
//! with its path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mailerd_deliver::DeliverConfig;
use mailerd_queue::route::Routes;
use mailerd_queue::schedule::RetryPolicy;
use mailerd_receive::{
    AuthThrottleConfig, Cidr, Limits, ListenerConfig, ReceiveConfig, Role, TlsConfig, UserConfig,
};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Our host name: greeting, EHLO, Received, Reporting-MTA, MAILER-DAEMON@hostname.
    /// Default: "localhost".
    pub hostname: String,
    /// Where the queue and the mailboxes live. Default: "./mailerd-data".
    pub data_dir: PathBuf,
    /// Domains whose mail is delivered here (to the `[[user]]` mailboxes). Default: ["localhost"].
    pub local_domains: Vec<String>,
    /// Client networks (CIDR) allowed to relay without AUTH, like Postfix's mynetworks.
    /// Default: none: only authenticated clients relay.
    pub relay_networks: Vec<String>,
    /// Threads running the SMTP sessions, deliveries and the queue manager (tokio workers).
    /// The queue's writer thread comes on top of them. Default 0: one less than the CPUs
    /// (at least one), which leaves the writer a CPU of its own; measured on 2 CPUs, one
    /// worker relays the same mail with 13 % less CPU than two (`bench/relay.sh`, see
    /// BENCHMARKS.md). The environment's `TOKIO_WORKER_THREADS` does not apply.
    pub threads: usize,
    /// Listening sockets. Default: 127.0.0.1:2525 as mx, 127.0.0.1:2587 as submission.
    pub listen: Vec<ListenerConfig>,
    /// Local accounts (mailboxes, AUTH). Default: none.
    pub user: Vec<User>,
    /// Static next hops by recipient domain (`"example.org"`, `".example.org"` for
    /// subdomains, `"*"` for everything else): `host`, `host:port` or `[address]:port`.
    /// Domains not listed go by MX. Default: none.
    pub routes: BTreeMap<String, String>,
    /// STARTTLS: certificate and key files; without them a self-signed certificate is made.
    pub tls: TlsConfig,
    /// Size, count and time limits of the SMTP server.
    pub limits: Limits,
    /// Throttling of failed AUTH attempts.
    pub auth_throttle: AuthThrottleConfig,
    /// Retry schedule and queue lifetime.
    pub retry: RetryPolicy,
    /// The queue manager: how much is in delivery at once.
    pub queue: QueueSection,
    /// The SMTP client and local delivery (`hostname` and `listen_addrs` here are ignored:
    /// they come from the top-level `hostname` and `listen`).
    pub deliver: DeliverConfig,
    /// Signed return paths (BATV) against backscatter.
    pub batv: crate::batv::BatvConfig,
    /// Delay notices and where double bounces go.
    pub notify: NotifySection,
}

/// `[notify]`: the notices mailerd writes besides failure notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySection {
    /// One "Delivery Status Notification (Delay)" per message still being retried this long
    /// after it arrived (sent at the first temporary failure past it), to recipients that
    /// asked (NOTIFY=DELAY, or NOTIFY absent for our own users). A duration ("4h", "30m") or
    /// "off" (or 0). Default "4h".
    #[serde(with = "delay_after_serde")]
    pub delay_after: Option<std::time::Duration>,
    /// Where a notice that could not be delivered (a double bounce) is reported. Default:
    /// postmaster@ the first local domain. "" reports to nobody (logged only).
    pub postmaster: Option<String>,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            delay_after: Some(std::time::Duration::from_secs(4 * 3600)),
            postmaster: None,
        }
    }
}

/// `delay_after`: a human duration, "off", or 0 (off).
mod delay_after_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&humantime::format_duration(*d)),
            None => s.serialize_str("off"),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Secs(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let d = match Repr::deserialize(d)? {
            Repr::Secs(n) => Duration::from_secs(n),
            Repr::Text(t) if matches!(t.trim(), "off" | "0" | "") => Duration::ZERO,
            Repr::Text(t) => humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{t:?}: {e} (a duration such as \"4h\", or \"off\")"
                ))
            })?,
        };
        Ok((!d.is_zero()).then_some(d))
    }
}

/// `[queue]`: the queue manager's limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// Messages in delivery at once, whatever the backlog (bounded memory). Default 1000.
    pub active_window: usize,
    /// Simultaneous SMTP transactions per next hop. Default 20.
    pub per_destination: usize,
    /// This node's name in leases; unique per running instance. Default: the hostname.
    pub node: Option<String>,
    /// Deliver queued mail. `false` accepts and queues only (maintenance, staging, or to
    /// measure reception alone, as Postfix's hold queue); `mailerd queue` still works.
    /// Default true.
    pub deliver: bool,
}

impl Default for QueueSection {
    fn default() -> Self {
        QueueSection {
            active_window: 1000,
            per_destination: 20,
            node: None,
            deliver: true,
        }
    }
}

/// A local account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The mailbox address, `local@domain` (domain among `local_domains`).
    pub address: String,
    /// argon2 PHC string from `mailerd passwd`; absent: the user cannot AUTH.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Mailbox quota: bytes or a size such as "50 MiB"; absent: unlimited.
    #[serde(default)]
    pub quota: Option<Size>,
    /// A disabled mailbox refuses mail with `550 5.2.1`.
    #[serde(default)]
    pub disabled: bool,
}

/// A size in bytes, written as a number or a string with a unit ("50 MiB", "10MB", "512k").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SizeRepr", into = "SizeRepr")]
pub struct Size(pub u64);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum SizeRepr {
    Bytes(u64),
    Text(String),
}

impl TryFrom<SizeRepr> for Size {
    type Error = String;
    fn try_from(r: SizeRepr) -> Result<Size, String> {
        match r {
            SizeRepr::Bytes(n) => Ok(Size(n)),
            SizeRepr::Text(s) => parse_size(&s).map(Size),
        }
    }
}

impl From<Size> for SizeRepr {
    fn from(s: Size) -> SizeRepr {
        SizeRepr::Bytes(s.0)
    }
}

/// "50 MiB" → 52428800. Units: B, k/K/KiB (1024), KB (1000), M/MiB, MB, G/GiB, GB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as \"50 MiB\""))?;
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "k" | "K" | "KiB" | "kiB" => 1 << 10,
        "KB" | "kB" => 1000,
        "M" | "MiB" => 1 << 20,
        "MB" => 1_000_000,
        "G" | "GiB" => 1 << 30,
        "GB" => 1_000_000_000,
        u => {
            return Err(format!(
                "{s:?}: unknown unit {u:?} (use B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as u64)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            hostname: "localhost".into(),
            data_dir: PathBuf::from("./mailerd-data"),
            local_domains: vec!["localhost".into()],
            relay_networks: Vec::new(),
            listen: vec![
                mailerd_receive::listener(([127, 0, 0, 1], 2525).into(), Role::Mx),
                mailerd_receive::listener(([127, 0, 0, 1], 2587).into(), Role::Submission),
            ],
            user: Vec::new(),
            routes: BTreeMap::new(),
            tls: TlsConfig::default(),
            limits: Limits::default(),
            auth_throttle: AuthThrottleConfig::default(),
            retry: RetryPolicy::default(),
            queue: QueueSection::default(),
            deliver: DeliverConfig::default(),
            batv: crate::batv::BatvConfig::default(),
            notify: NotifySection::default(),
            threads: 0,
        }
    }
}

impl Config {
    /// The number of worker threads `serve` runs: [`Config::threads`], or when 0 one less
    /// than the CPUs this process may use, at least one.
    pub fn worker_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism()
                .map(|n| n.get().saturating_sub(1))
                .unwrap_or(1)
                .max(1),
            n => n,
        }
    }

    /// The receive role's view of the configuration.
    pub fn receive(&self) -> ReceiveConfig {
        ReceiveConfig {
            hostname: self.hostname.clone(),
            listeners: self.listen.clone(),
            local_domains: self.local_domains.clone(),
            users: self
                .user
                .iter()
                .map(|u| UserConfig {
                    address: u.address.clone(),
                    password_hash: u.password_hash.clone(),
                    quota: u.quota.map(|q| q.0),
                    disabled: u.disabled,
                })
                .collect(),
            relay_networks: self.relay_networks.clone(),
            tls: self.tls.clone(),
            limits: self.limits.clone(),
            auth_throttle: self.auth_throttle.clone(),
        }
    }

    /// The deliver role's view: our host name and listening addresses from the top level.
    pub fn deliver(&self) -> DeliverConfig {
        let mut d = self.deliver.clone();
        d.hostname = self.hostname.clone();
        d.listen_addrs = self
            .listen
            .iter()
            .map(|l| l.address.ip())
            .filter(|ip| !ip.is_unspecified())
            .collect();
        d
    }

    /// The Maildir of a local user: `data_dir/mail/<address>/`.
    pub fn maildir(&self, address: &str) -> PathBuf {
        let safe: String = address
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '+') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.data_dir.join("mail").join(safe)
    }

    /// Where double bounces go: `notify.postmaster`, else postmaster@ the first local domain
    /// (else @hostname); `None` when set to "".
    pub fn postmaster(&self) -> Option<String> {
        match &self.notify.postmaster {
            Some(p) if p.trim().is_empty() => None,
            Some(p) => Some(p.trim().to_string()),
            None => Some(format!(
                "postmaster@{}",
                self.local_domains.first().unwrap_or(&self.hostname)
            )),
        }
    }

    /// The queue file inside `data_dir`.
    pub fn queue_path(&self) -> PathBuf {
        self.data_dir.join("queue.redb")
    }

    /// Every problem a parsed configuration has, each prefixed with its key path.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.hostname.is_empty()
            || self
                .hostname
                .contains(|c: char| c.is_whitespace() || c == '@')
        {
            p.push(format!("hostname: {:?} is not a host name", self.hostname));
        }
        if self.data_dir.as_os_str().is_empty() {
            p.push("data_dir: must not be empty".into());
        }
        for (i, d) in self.local_domains.iter().enumerate() {
            if d.is_empty() || d.contains(|c: char| c.is_whitespace() || c == '@') {
                p.push(format!("local_domains[{i}]: {d:?} is not a domain"));
            }
        }
        for (i, n) in self.relay_networks.iter().enumerate() {
            if let Err(e) = Cidr::parse(n) {
                p.push(format!("relay_networks[{i}]: {e}"));
            }
        }
        if self.listen.is_empty() {
            p.push("listen: at least one listener is needed".into());
        }
        for (i, a) in self.listen.iter().enumerate() {
            if self.listen[..i].iter().any(|b| b.address == a.address) {
                p.push(format!(
                    "listen[{i}].address: {} is listed twice",
                    a.address
                ));
            }
        }
        for (i, u) in self.user.iter().enumerate() {
            match u.address.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() => {
                    if !self
                        .local_domains
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(domain))
                    {
                        p.push(format!(
                            "user[{i}].address: {:?} is not in local_domains",
                            u.address
                        ));
                    }
                }
                _ => p.push(format!(
                    "user[{i}].address: {:?} is not local@domain",
                    u.address
                )),
            }
            if self.user[..i]
                .iter()
                .any(|v| v.address.eq_ignore_ascii_case(&u.address))
            {
                p.push(format!(
                    "user[{i}].address: {:?} is listed twice",
                    u.address
                ));
            }
            if let Some(h) = &u.password_hash
                && let Err(e) = argon2::password_hash::PasswordHash::new(h)
            {
                p.push(format!("user[{i}].password_hash: not a PHC hash string ({e}); make one with `mailerd passwd`"));
            }
        }
        for (domain, target) in &self.routes {
            if let Err(e) = Routes::new([], [(domain.as_str(), target.as_str())]) {
                p.push(format!("routes.\"{domain}\": {}", e.problem));
            }
        }
        if let Err(e) = self.retry.validate() {
            p.push(e.to_string());
        }
        if let Err(e) = self.batv.build() {
            p.push(e);
        }
        if let Some(pm) = &self.notify.postmaster {
            let pm = pm.trim();
            let address = pm
                .rsplit_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty());
            if !pm.is_empty()
                && (pm.contains(|c: char| c.is_whitespace() || c == '<' || c == '>') || !address)
            {
                p.push(format!(
                    "notify.postmaster: {pm:?} is not an address (local@domain)"
                ));
            }
        }
        if self.queue.active_window == 0 || self.queue.per_destination == 0 {
            p.push("queue: active_window and per_destination must be positive".into());
        }
        let l = &self.limits;
        if l.max_line_length < 512 {
            p.push("limits.max_line_length: must be at least 512 (RFC 5321)".into());
        }
        if l.max_recipients < 100 {
            p.push(format!(
                "limits.max_recipients: {} is below the RFC 5321 minimum of 100",
                l.max_recipients
            ));
        }
        if l.max_connections == 0 || l.max_connections_per_ip == 0 {
            p.push("limits: max_connections and max_connections_per_ip must be positive".into());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            p.push("tls: cert_file and key_file go together".into());
        }
        for (key, f) in [
            ("tls.cert_file", &self.tls.cert_file),
            ("tls.key_file", &self.tls.key_file),
        ] {
            if let Some(f) = f
                && std::fs::metadata(f).is_err()
            {
                p.push(format!("{key}: cannot read {}", f.display()));
            }
        }
        p
    }
}

/// Parses TOML text, collecting every error: each top-level key is read on its own so that one
/// bad value does not hide the others; then the semantic checks of [`Config::problems`].
pub fn parse(text: &str) -> Result<Config, Vec<String>> {
    let table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return Err(vec![format!("syntax: {}", one_line(&e.to_string()))]),
    };
    let mut errors = Vec::new();
    let known = [
        "hostname",
        "data_dir",
        "local_domains",
        "relay_networks",
        "threads",
        "listen",
        "user",
        "routes",
        "tls",
        "limits",
        "auth_throttle",
        "retry",
        "queue",
        "deliver",
        "batv",
        "notify",
    ];
    for key in table.keys() {
        if !known.contains(&key.as_str()) {
            errors.push(format!("{key}: unknown key (known: {})", known.join(", ")));
        }
    }
    // Each known key alone into a Config, so its error carries its own path.
    for key in known {
        if let Some(v) = table.get(key) {
            let mut one = toml::Table::new();
            one.insert(key.to_string(), v.clone());
            if let Err(e) = Config::deserialize(toml::Value::Table(one)) {
                errors.push(format!("{key}: {}", one_line(e.message())));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let config = Config::deserialize(toml::Value::Table(table))
        .map_err(|e| vec![one_line(&e.to_string())])?;
    let problems = config.problems();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))?;
    parse(&text).map_err(|errors| {
        anyhow::anyhow!(
            "{} has {} error(s):\n  {}",
            path.display(),
            errors.len(),
            errors.join("\n  ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_example_parses() {
        let c = parse(
            r#"
hostname = "mx.example.test"
data_dir = "/var/lib/mailerd"
local_domains = ["example.test"]
[[listen]]
address = "127.0.0.1:2525"
role = "mx"
[[listen]]
address = "127.0.0.1:2587"
role = "submission"
[[user]]
address = "alice@example.test"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$7+Yb8PBuWH5oHBg0L3LNj5E0cLrNOtDJyHPSPLaMOXk"
quota = "50 MiB"
[routes]
"*" = "127.0.0.1:2526"
"#,
        )
        .expect("valid");
        assert_eq!(c.user[0].quota, Some(Size(50 << 20)));
        assert_eq!(c.receive().users[0].quota, Some(50 << 20));
        assert_eq!(c.listen[1].role, Role::Submission);
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let errors = parse(
            r#"
hostnme = "typo"
relay_networks = ["10.0.0.0/33"]
local_domains = ["example.test"]
[[user]]
address = "bob@elsewhere.test"
quota = "lots"
[routes]
"x.test" = "a b"
[retry]
jitter = 3.0
"#,
        )
        .expect_err("invalid");
        let all = errors.join("\n");
        assert!(all.contains("hostnme: unknown key"), "{all}");
        assert!(all.contains("user:"), "{all}");
        assert!(all.contains("lots"), "{all}");
        // type errors stop before semantic checks; fix the types and see the rest
        let errors = parse(
            "relay_networks = [\"10.0.0.0/33\"]\nlocal_domains = [\"example.test\"]\n[[user]]\naddress = \"bob@elsewhere.test\"\n[routes]\n\"x.test\" = \"a b\"\n[retry]\njitter = 3.0\n",
        )
        .expect_err("invalid");
        let all = errors.join("\n");
        for want in [
            "relay_networks[0]",
            "user[0].address",
            "routes.\"x.test\"",
            "retry.jitter",
        ] {
            assert!(all.contains(want), "missing {want} in:\n{all}");
        }
    }

    #[test]
    fn notify_section_delay_after_and_postmaster() {
        let d = Config::default();
        assert_eq!(
            d.notify.delay_after,
            Some(std::time::Duration::from_secs(4 * 3600))
        );
        assert_eq!(d.postmaster().as_deref(), Some("postmaster@localhost"));
        let c = parse(
            "local_domains = [\"example.test\", \"b.test\"]\n[notify]\ndelay_after = \"2s\"\n",
        )
        .expect("valid");
        assert_eq!(
            c.notify.delay_after,
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(c.postmaster().as_deref(), Some("postmaster@example.test"));
        for off in ["\"off\"", "0", "\"0\""] {
            let c = parse(&format!("[notify]\ndelay_after = {off}\n")).expect("valid");
            assert_eq!(c.notify.delay_after, None, "{off}");
        }
        let c = parse("[notify]\npostmaster = \"\"\n").expect("valid");
        assert_eq!(
            c.postmaster(),
            None,
            "empty: double bounces are only logged"
        );
        let c = parse("[notify]\npostmaster = \"hostmaster@example.org\"\n").expect("valid");
        assert_eq!(c.postmaster().as_deref(), Some("hostmaster@example.org"));
        let errors = parse("[notify]\ndelay_after = \"soon\"\npostmaster = \"nobody\"\n")
            .expect_err("invalid");
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("notify:") && e.contains("soon")),
            "{errors:?}"
        );
        let errors = parse("[notify]\npostmaster = \"nobody\"\n").expect_err("invalid");
        assert!(
            errors.iter().any(|e| e.starts_with("notify.postmaster")),
            "{errors:?}"
        );
    }

    #[test]
    fn worker_threads_default_leaves_the_writer_a_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let auto = Config::default().worker_threads();
        assert_eq!(auto, cpus.saturating_sub(1).max(1));
        let set = parse("threads = 3\n").expect("threads parses");
        assert_eq!(set.threads, 3);
        assert_eq!(set.worker_threads(), 3);
    }

    #[test]
    fn defaults_round_trip_and_sizes_parse() {
        let text = toml::to_string(&Config::default()).expect("serialize");
        assert_eq!(parse(&text).expect("defaults parse"), Config::default());
        assert_eq!(parse_size("50 MiB"), Ok(50 << 20));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1.5 GiB"), Ok(3 << 29));
        assert!(parse_size("many").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
