//! The `deliver` role of mailerd: Postfix's `smtp` and `local` in one crate.
//!
//! [`Deliverer::deliver`] takes a [`DeliveryRequest`] (one message, some of its recipients,
//! one next hop) and answers a [`AttemptReport`] with one [`Outcome`] per recipient:
//! delivered, temporary or permanent failure, with the enhanced status, the remote reply
//! verbatim, the remote MTA and a diagnostic in Postfix's words. A 4xx, a 5xx, NXDOMAIN or a
//! TLS failure is an outcome, never an `Err`.
//!
//! What it does:
//! - [`route`]: MX routing (RFC 5321 section 5.1): preference order, random among equals,
//!   implicit MX on NODATA, null MX (RFC 7505, `5.1.10`), NXDOMAIN (`5.1.2`, with Postfix's
//!   "Host or domain name not found" wording), SERVFAIL/timeout (`4.4.3`), an MX pointing
//!   back at us (`5.4.6`), no address for any MX (`5.4.4`); domain literals need no DNS;
//!   static routes ([`NextHop::Static`]) bypass MX. DNS goes through the [`MxResolver`]
//!   trait ([`HickoryResolver`], or [`StaticResolver`] for tests).
//! - [`client`]: our own SMTP client (RFC 5321): EHLO with HELO fallback, PIPELINING
//!   (RFC 2920), SIZE (RFC 1870, `5.3.4` before sending), 8BITMIME (RFC 6152), SMTPUTF8
//!   (RFC 6531, `5.6.7` when missing), DSN parameters (RFC 3461) passed only to a next hop
//!   that offers DSN, dot-stuffing (RFC 5321 4.5.2), the RFC 5321 4.5.3.2 timeouts, at most
//!   100 recipients per transaction, next MX on a failed connect, a lost connection, a
//!   timeout or a 421; replies are bounded in size and never trusted to be well formed. An
//!   optional small per-target connection cache (RSET between transactions).
//! - [`tls`]: STARTTLS (RFC 3207), opportunistic by default (RFC 7435: any certificate,
//!   fingerprint logged), required per destination ([`TlsPolicy::Encrypt`], `4.7.4`/`4.7.5`).
//! - [`maildir`]: local delivery into Maildir: `tmp/` → fsync → rename into `new/` → fsync
//!   of `new/`; `Return-Path` and `Delivered-To` prepended; quotas (`552 5.2.2`, or
//!   `452 4.2.2` when configured); `Delivered-To` loop detection (`5.4.6`).
//! - One Postfix-style log line per recipient and attempt (`tracing`, target
//!   `mailerd::deliver`): queue id, to, relay, delay, dsn, status, reply.
//!
//! What it does not do: it never writes the queue store (the queue manager applies the
//! report), keeps no retry schedule and no per-destination concurrency limit (the queue
//! manager's job: [`destination_key`] says which requests share a destination), does not
//! verify certificates (no DANE, MTA-STS), does not convert 8-bit content to 7-bit for a
//! server without 8BITMIME (it sends as is, like Postfix), does no DKIM signing, no SMTP AUTH
//! to a relay, no LMTP, no BDAT/CHUNKING.

pub mod client;
pub mod config;
pub mod maildir;
pub mod route;
pub mod tls;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use mailerd_types::{
    AttemptReport, DeliveryRequest, Detail, EnhancedStatus, NextHop, Outcome, RecipientOutcome,
    SmtpReply, Stage, StatusClass,
};

pub use client::{ClientSettings, Timeouts};
pub use maildir::{Mailbox, MailboxMap, MailboxTable, MaildirSettings};
pub use route::{
    DnsAnswer, HickoryResolver, LocalIdentity, MxRecord, MxResolver, ResolverSettings,
    StaticResolver, Target,
};
pub use tls::{TlsClient, TlsPolicy};

/// Configuration of the deliver role (the `[deliver]` table of the configuration file; every
/// field has a default).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverConfig {
    /// Our host name: the EHLO name, and an MX with this name is us (mail loop).
    pub hostname: String,
    /// Addresses we receive mail on: an MX resolving to one of them is us.
    pub listen_addrs: Vec<IpAddr>,
    /// The port of MX hosts (25; tests use another).
    pub smtp_port: u16,
    /// SMTP client timeouts.
    pub timeouts: Timeouts,
    /// The DNS resolver (for [`HickoryResolver::new`]).
    pub dns: ResolverSettings,
    /// TLS policy when none is set for the destination.
    pub tls_policy: TlsPolicy,
    /// TLS policy per destination: the recipient domain for MX routes, the host for static
    /// routes (lower case).
    pub tls_policies: HashMap<String, TlsPolicy>,
    /// Over quota defers (`452 4.2.2`) instead of bouncing (`552 5.2.2`).
    pub over_quota_is_temporary: bool,
    /// How long an SMTP connection stays open after a transaction for the next request to
    /// the same target (RSET, pipelined with MAIL when the server offers PIPELINING); zero
    /// closes it with QUIT at once. Default 2 s (Postfix's
    /// `smtp_connection_cache_time_limit`): a busy destination's next message skips connect,
    /// greeting, EHLO, TLS and QUIT. Call [`Deliverer::close_idle`] at shutdown.
    #[serde(with = "config::duration")]
    pub connection_reuse_time: std::time::Duration,
    /// Most addresses tried per request, over all MX hosts (Postfix's
    /// `smtp_mx_address_limit`).
    pub max_addresses: usize,
}

impl Default for DeliverConfig {
    fn default() -> Self {
        DeliverConfig {
            hostname: "localhost".into(),
            listen_addrs: Vec::new(),
            smtp_port: 25,
            timeouts: Timeouts::default(),
            dns: ResolverSettings::default(),
            tls_policy: TlsPolicy::May,
            tls_policies: HashMap::new(),
            over_quota_is_temporary: false,
            connection_reuse_time: std::time::Duration::from_secs(2),
            max_addresses: 5,
        }
    }
}

/// The key of the destination a request goes to, for the queue manager's per-destination
/// concurrency limits and "unreachable" cache: `mx:<domain>`, `static:<host>:<port>`,
/// `local`.
pub fn destination_key(hop: &NextHop) -> String {
    match hop {
        NextHop::Mx { domain } => format!("mx:{}", domain.to_ascii_lowercase()),
        NextHop::Static { host, port } => format!("static:{}:{port}", host.to_ascii_lowercase()),
        NextHop::Local => "local".into(),
    }
}

/// The deliver role: shared by all delivery tasks (`Arc<Deliverer>`); every call is
/// independent.
pub struct Deliverer {
    config: DeliverConfig,
    resolver: Arc<dyn MxResolver>,
    mailboxes: Arc<dyn MailboxMap>,
    tls: TlsClient,
    cache: client::ConnCache,
    /// Set by [`Deliverer::stop_sessions`].
    stop: tokio::sync::watch::Sender<bool>,
}

impl Deliverer {
    pub fn new(
        config: DeliverConfig,
        resolver: Arc<dyn MxResolver>,
        mailboxes: Arc<dyn MailboxMap>,
    ) -> Self {
        Deliverer {
            config,
            resolver,
            mailboxes,
            tls: TlsClient::opportunistic(),
            cache: client::ConnCache::default(),
            stop: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Ends the SMTP sessions in flight that have not sent their message's final "." yet
    /// (a server that never greets, a slow RCPT, a connect that hangs...), and every later
    /// one at once: their recipients get [`Outcome::Stopped`] (`4.3.2`, "mailerd is shutting
    /// down"; not an attempt) and no further target is tried. A session waiting for the reply to its final "."
    /// keeps waiting (up to its timeout): cutting it could deliver the message twice. For
    /// shutdown, after a grace period in which sessions may finish normally.
    pub fn stop_sessions(&self) {
        self.stop.send_replace(true);
    }

    /// Says QUIT on the idle connections kept for reuse (at shutdown).
    pub async fn close_idle(&self) {
        self.cache.close_all(self.config.timeouts.quit).await;
    }

    /// Says QUIT on the idle connections kept longer than `connection_reuse_time` (the binary
    /// calls it every second); returns how many it closed.
    pub async fn close_expired_idle(&self) -> usize {
        self.cache
            .close_expired(self.config.connection_reuse_time, self.config.timeouts.quit)
            .await
    }

    /// Idle SMTP connections kept for reuse.
    pub fn idle_connections(&self) -> usize {
        self.cache.idle_count()
    }

    pub fn config(&self) -> &DeliverConfig {
        &self.config
    }

    /// Delivers `req` and says what happened to each of its recipients. Never fails: every
    /// problem is an [`Outcome`] in the report, in the order of `req.recipients`.
    pub async fn deliver(&self, req: &DeliveryRequest) -> AttemptReport {
        let start = Instant::now();
        let outcomes: Vec<Outcome> = if req.recipients.is_empty() {
            Vec::new()
        } else {
            match &req.next_hop {
                NextHop::Local => self.deliver_local(req).await,
                NextHop::Mx { domain } => {
                    let me = LocalIdentity {
                        hostname: self.config.hostname.clone(),
                        addrs: self.config.listen_addrs.clone(),
                    };
                    let targets = route::resolve_targets(
                        self.resolver.as_ref(),
                        domain,
                        self.config.smtp_port,
                        &me,
                    )
                    .await;
                    self.deliver_smtp(req, domain, targets).await
                }
                NextHop::Static { host, port } => {
                    let targets = self.static_targets(host, *port).await;
                    self.deliver_smtp(req, host, targets).await
                }
            }
        };
        let delay = start.elapsed();
        let recipients = req
            .recipients
            .iter()
            .zip(outcomes)
            .map(|(r, outcome)| {
                let relay = relay_of(&req.next_hop, &outcome);
                log_outcome(req, &r.spec.address, &relay, delay, &outcome);
                RecipientOutcome {
                    index: r.index,
                    outcome,
                }
            })
            .collect();
        AttemptReport {
            queue_id: req.queue_id.clone(),
            recipients,
        }
    }

    async fn static_targets(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<Target>, route::RouteFailure> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![Target {
                name: bare.to_string(),
                addr: std::net::SocketAddr::new(ip, port),
            }]);
        }
        let a = self.resolver.addrs(bare).await;
        route::plan_targets(
            bare,
            port,
            &LocalIdentity::default(),
            vec![(
                route::MxHost {
                    name: bare.to_ascii_lowercase(),
                    preference: 0,
                },
                a,
            )],
        )
    }

    async fn deliver_smtp(
        &self,
        req: &DeliveryRequest,
        dest: &str,
        targets: Result<Vec<Target>, route::RouteFailure>,
    ) -> Vec<Outcome> {
        let mut targets = match targets {
            Ok(t) => t,
            Err(o) => return vec![*o; req.recipients.len()],
        };
        targets.truncate(self.config.max_addresses.max(1));
        let policy = self
            .config
            .tls_policies
            .get(&dest.to_ascii_lowercase())
            .copied()
            .unwrap_or(self.config.tls_policy);
        let settings = ClientSettings {
            helo_name: self.config.hostname.clone(),
            timeouts: self.config.timeouts.clone(),
            reuse_time: self.config.connection_reuse_time,
        };
        let c = client::Client {
            settings: &settings,
            tls: &self.tls,
            policy,
            cache: &self.cache,
            stop: client::Stop(self.stop.subscribe()),
        };
        let (outcomes, _info) = c.deliver(req, &targets).await;
        outcomes
    }

    async fn deliver_local(&self, req: &DeliveryRequest) -> Vec<Outcome> {
        let settings = MaildirSettings {
            over_quota_is_temporary: self.config.over_quota_is_temporary,
            hostname: self.config.hostname.clone(),
        };
        let mut out = Vec::with_capacity(req.recipients.len());
        for r in &req.recipients {
            let rcpt = r.spec.address.clone();
            let Some(mbox) = self.mailboxes.mailbox(&rcpt) else {
                out.push(local_fail(
                    StatusClass::Permanent,
                    550,
                    (1, 1),
                    format!("<{rcpt}>: unknown user"),
                ));
                continue;
            };
            if maildir::has_delivered_to(&req.content, &rcpt) {
                out.push(local_fail(
                    StatusClass::Permanent,
                    554,
                    (4, 6),
                    format!("mail forwarding loop for {rcpt}"),
                ));
                continue;
            }
            let settings = settings.clone();
            let sender = req.reverse_path.clone();
            let content = req.content.clone();
            let rcpt2 = rcpt.clone();
            let res = tokio::task::spawn_blocking(move || {
                maildir::deliver_blocking(&settings, &mbox, &sender, &rcpt2, &content)
            })
            .await;
            out.push(match res {
                Ok(Ok(maildir::LocalResult::Delivered(_))) => Outcome::Delivered {
                    reply: None,
                    remote_mta: None,
                    next_hop_dsn: true,
                },
                Ok(Ok(maildir::LocalResult::OverQuota { .. })) => {
                    if self.config.over_quota_is_temporary {
                        local_fail(
                            StatusClass::Transient,
                            452,
                            (2, 2),
                            format!("<{rcpt}>: user is over quota"),
                        )
                    } else {
                        local_fail(
                            StatusClass::Permanent,
                            552,
                            (2, 2),
                            format!("<{rcpt}>: user is over quota"),
                        )
                    }
                }
                Ok(Err(e)) => local_fail(
                    StatusClass::Transient,
                    451,
                    (3, 0),
                    format!("maildir delivery failed: {e}"),
                ),
                Err(e) => local_fail(
                    StatusClass::Transient,
                    451,
                    (3, 0),
                    format!("maildir delivery task failed: {e}"),
                ),
            });
        }
        out
    }
}

fn local_fail(class: StatusClass, code: u16, (s, d): (u16, u16), text: String) -> Outcome {
    let status = EnhancedStatus::new(class, s, d);
    let detail = Detail {
        status,
        reply: Some(SmtpReply::new(code, Some(status), text.clone())),
        remote_mta: None,
        diagnostic: text,
        stage: Stage::Local,
    };
    match class {
        StatusClass::Permanent => Outcome::Permanent(detail),
        _ => Outcome::Temporary(detail),
    }
}

/// The `relay=` of the log line: the server that gave this recipient's answer.
fn relay_of(hop: &NextHop, o: &Outcome) -> String {
    let mta = match o {
        Outcome::Delivered { remote_mta, .. } => remote_mta.as_ref(),
        Outcome::Temporary(d) | Outcome::Permanent(d) | Outcome::Stopped(d) => {
            d.remote_mta.as_ref()
        }
    };
    match (mta, hop) {
        (Some(m), _) => match m.addr {
            Some(a) => client::relay_name(&m.name, a),
            None => m.name.clone(),
        },
        (None, NextHop::Local) => "local".into(),
        (None, _) => "none".into(),
    }
}

/// One log line per recipient and attempt, with Postfix's fields:
/// `<queue id>: to=<rcpt>, relay=mx[1.2.3.4]:25, delay=0.5, dsn=2.0.0, status=sent (250 ok)`.
fn log_outcome(
    req: &DeliveryRequest,
    rcpt: &str,
    relay: &str,
    delay: std::time::Duration,
    outcome: &Outcome,
) {
    let (dsn, status, text) = match outcome {
        Outcome::Delivered { reply, .. } => (
            reply
                .as_ref()
                .and_then(|r| r.status)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "2.0.0".into()),
            "sent",
            match reply {
                Some(r) => r.to_string(),
                None if relay == "local" => "delivered to maildir".into(),
                None => String::new(),
            },
        ),
        Outcome::Temporary(d) | Outcome::Stopped(d) => {
            (d.status.to_string(), "deferred", d.diagnostic.clone())
        }
        Outcome::Permanent(d) => (d.status.to_string(), "bounced", d.diagnostic.clone()),
    };
    let delay = format!("{:.2}", delay.as_secs_f64());
    // The text is the record: the same facts as fields would print every one twice in the
    // text format; collectors get them as fields from the queue manager's `queue: delivery
    // status` line (recipient, relay, attempts, state, reply).
    tracing::info!(
        target: "mailerd::deliver",
        queue_id = %req.queue_id,
        "{}: to=<{rcpt}>, relay={relay}, delay={delay}, dsn={dsn}, status={status} ({text})",
        req.queue_id
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queue manager shares one `Deliverer` between tasks and spawns `deliver` futures.
    #[allow(dead_code)]
    fn deliverer_is_shareable_and_its_future_is_send(d: &Deliverer, r: &DeliveryRequest) {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>(_: &T) {}
        send_sync::<Deliverer>();
        let f = d.deliver(r);
        send(&f);
    }

    #[test]
    fn config_from_toml_with_defaults() {
        let cfg: DeliverConfig = toml::from_str(
            r#"
            hostname = "mx.example.org"
            listen_addrs = ["192.0.2.25"]
            tls_policy = "may"
            connection_reuse_time = "2s"
            [tls_policies]
            "bank.example" = "encrypt"
            [timeouts]
            data_done = "15m"
            [dns]
            name_servers = ["127.0.0.1:5353"]
            timeout = "3s"
            "#,
        )
        .expect("config");
        assert_eq!(cfg.hostname, "mx.example.org");
        assert_eq!(cfg.tls_policies["bank.example"], TlsPolicy::Encrypt);
        assert_eq!(cfg.timeouts.data_done, std::time::Duration::from_secs(900));
        assert_eq!(cfg.timeouts.mail, Timeouts::default().mail);
        assert_eq!(cfg.connection_reuse_time, std::time::Duration::from_secs(2));
        assert_eq!(cfg.dns.timeout, std::time::Duration::from_secs(3));
        assert_eq!(cfg.smtp_port, 25);
        // Round trip through the printed defaults (`mailerd config defaults`).
        let text = toml::to_string(&DeliverConfig::default()).expect("print");
        let back: DeliverConfig = toml::from_str(&text).expect("parse");
        assert_eq!(back, DeliverConfig::default());
        assert!(toml::from_str::<DeliverConfig>("smtp_prot = 25").is_err());
    }

    #[test]
    fn destination_keys() {
        let k = |h: NextHop| destination_key(&h);
        assert_eq!(
            k(NextHop::Mx {
                domain: "Example.ORG".into()
            }),
            "mx:example.org"
        );
        assert_eq!(
            k(NextHop::Static {
                host: "relay.test".into(),
                port: 587
            }),
            "static:relay.test:587"
        );
        assert_eq!(k(NextHop::Local), "local");
    }
}
