//! The configuration of the receiving side. Every field has a default (see [`ReceiveConfig::default`])
//! and a doc line; the binary loads it from the `[receive]` table of the TOML file.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Configuration of the SMTP server role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiveConfig {
    /// Our host name, used in the greeting, the EHLO reply, Received headers and generated
    /// Message-IDs. Default: `"localhost"`.
    pub hostname: String,
    /// Listening sockets and their role. Default: `0.0.0.0:25` as `mx` and `0.0.0.0:587` as
    /// `submission`.
    pub listeners: Vec<ListenerConfig>,
    /// Domains we accept mail for from anyone (case-insensitive). Default: empty.
    pub local_domains: Vec<String>,
    /// Local accounts: who may AUTH, and whose mailboxes exist. Default: empty.
    pub users: Vec<UserConfig>,
    /// Client networks allowed to relay without AUTH, in CIDR form (`192.0.2.0/24`, `::1/128`),
    /// like Postfix's `mynetworks`. Default: empty, so only authenticated clients relay; add
    /// `127.0.0.0/8` and `::1/128` to let local programs relay.
    pub relay_networks: Vec<String>,
    /// STARTTLS. Default: enabled with a generated self-signed certificate.
    pub tls: TlsConfig,
    /// Size, count and time limits.
    pub limits: Limits,
    /// Throttling of failed AUTH attempts.
    pub auth_throttle: AuthThrottleConfig,
}

impl Default for ReceiveConfig {
    fn default() -> Self {
        ReceiveConfig {
            hostname: "localhost".into(),
            listeners: vec![
                ListenerConfig {
                    address: SocketAddr::from(([0, 0, 0, 0], 25)),
                    role: Role::Mx,
                    greet_pause_ms: None,
                },
                ListenerConfig {
                    address: SocketAddr::from(([0, 0, 0, 0], 587)),
                    role: Role::Submission,
                    greet_pause_ms: None,
                },
            ],
            local_domains: Vec::new(),
            users: Vec::new(),
            relay_networks: Vec::new(),
            tls: TlsConfig::default(),
            limits: Limits::default(),
            auth_throttle: AuthThrottleConfig::default(),
        }
    }
}

/// What a listener is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Port 25: mail from other MTAs for our local domains; relaying only from
    /// `relay_networks`. AUTH is not offered.
    Mx,
    /// Port 587 (RFC 6409): our users send mail; STARTTLS then AUTH are required before MAIL.
    Submission,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Mx => "mx",
            Role::Submission => "submission",
        })
    }
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Address and port to bind, e.g. `"0.0.0.0:25"`.
    pub address: SocketAddr,
    /// `mx` or `submission`.
    pub role: Role,
    /// How long to wait before the greeting, refusing clients that talk first (`554 5.5.0`).
    /// Default (absent): 500 ms on `mx`, 0 (off) on `submission`.
    #[serde(default)]
    pub greet_pause_ms: Option<u64>,
}

impl ListenerConfig {
    /// The greet pause in effect.
    pub fn greet_pause(&self) -> std::time::Duration {
        let ms = self.greet_pause_ms.unwrap_or(match self.role {
            Role::Mx => 500,
            Role::Submission => 0,
        });
        std::time::Duration::from_millis(ms)
    }
}

/// A local account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The mailbox address, which is also the AUTH user name (`bob@example.org`).
    pub address: String,
    /// Argon2 password hash in PHC form (`$argon2id$v=19$...`); absent: the user cannot AUTH.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Mailbox quota in bytes; absent: unlimited.
    #[serde(default)]
    pub quota: Option<u64>,
    /// A disabled account neither receives (`550 5.2.1`) nor authenticates. Default: false.
    #[serde(default)]
    pub disabled: bool,
}

/// STARTTLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Offer STARTTLS. Default: true. Without TLS, AUTH is never offered, so submission
    /// cannot be used.
    pub enabled: bool,
    /// PEM certificate chain. Default: absent; then a self-signed certificate for `hostname`
    /// is generated at start (and logged as such).
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Default: absent.
    pub key_file: Option<PathBuf>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            enabled: true,
            cert_file: None,
            key_file: None,
        }
    }
}

/// Limits (RFC 5321 section 4.5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest accepted message in bytes, advertised with SIZE; beyond: `552 5.3.4`.
    /// Default: 26214400 (25 MiB).
    pub max_message_size: u64,
    /// Recipients per transaction; beyond: `452 4.5.3`. Default: 100 (the RFC minimum).
    pub max_recipients: usize,
    /// Simultaneous connections in total; beyond: `421 4.7.0`. Default: 200.
    pub max_connections: usize,
    /// Simultaneous connections per client IP; beyond: `421 4.7.0`. Default: 20.
    pub max_connections_per_ip: usize,
    /// Longest command line, CRLF included; beyond: `500 5.5.6`. Default: 2048 (RFC 3461
    /// asks for at least 1036 with DSN parameters).
    pub max_line_length: usize,
    /// Waiting for a command, seconds (RFC 5321 4.5.3.2.7: at least 5 minutes). Default: 300.
    pub command_timeout_secs: u64,
    /// Waiting for each block of DATA, seconds (4.5.3.2.5: 3 minutes). Default: 180.
    pub data_timeout_secs: u64,
    /// TLS handshake after STARTTLS, seconds. Default: 60.
    pub tls_handshake_timeout_secs: u64,
    /// Erroneous commands tolerated per session before `421 4.7.0` and close. Default: 20.
    pub max_errors: u32,
    /// Maximum `Received:` headers before a message is refused as looping (`554 5.4.6`).
    /// Default: 100 (RFC 5321 6.3).
    pub max_hops: usize,
    /// On shutdown, how long sessions may finish their transaction, seconds; outgoing SMTP
    /// sessions that have not sent their final "." by then are ended too (their recipients
    /// are tried again at the next start). Default: 30.
    pub shutdown_grace_secs: u64,
    /// On submission, refuse a MAIL FROM other than the authenticated user's own address
    /// (or `<>`) with `553 5.7.1`, like Postfix's `reject_sender_login_mismatch`.
    /// Default: true.
    pub sender_login_match: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 200,
            max_connections_per_ip: 20,
            max_line_length: 2048,
            command_timeout_secs: 300,
            data_timeout_secs: 180,
            tls_handshake_timeout_secs: 60,
            max_errors: 20,
            max_hops: 100,
            shutdown_grace_secs: 30,
            sender_login_match: true,
        }
    }
}

/// Failed AUTH handling: each failure delays the `535 5.7.8` reply by `base_delay_ms`
/// doubled per earlier failure (up to `max_delay_ms`); after too many failures the client IP or
/// the account is locked out (every AUTH fails) for `lockout_secs`. Failures are forgotten
/// `lockout_secs` after the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthThrottleConfig {
    /// Delay after the first failure, milliseconds. Default: 1000.
    pub base_delay_ms: u64,
    /// Longest delay, milliseconds. Default: 30000.
    pub max_delay_ms: u64,
    /// Failures from one client IP before it is locked out. Default: 10.
    pub max_failures_per_ip: u32,
    /// Failures for one account before it is locked out. Default: 5.
    pub max_failures_per_account: u32,
    /// Lock-out duration and failure memory, seconds. Default: 900.
    pub lockout_secs: u64,
}

impl Default for AuthThrottleConfig {
    fn default() -> Self {
        AuthThrottleConfig {
            base_delay_ms: 1000,
            max_delay_ms: 30_000,
            max_failures_per_ip: 10,
            max_failures_per_account: 5,
            lockout_secs: 900,
        }
    }
}
