//! MX routing (RFC 5321 section 5.1, RFC 7505): from a domain to an ordered list of
//! addresses to try.
//!
//! The DNS is reached through the [`MxResolver`] trait so that unit tests use a
//! [`StaticResolver`] table and the binary uses [`HickoryResolver`] (which tests point at an
//! in-process DNS server). The ordering and classification logic ([`order_mx`],
//! [`plan_targets`]) is sans-IO.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use mailerd_types::{Detail, EnhancedStatus, Outcome, Stage, StatusClass};
use rand::Rng;
use rand::seq::SliceRandom;

/// A boxed future, so that [`MxResolver`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One MX record. `exchange` is the host name without the trailing dot; an empty exchange
/// (`MX 0 .`) is a null MX (RFC 7505).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxRecord {
    pub preference: u16,
    pub exchange: String,
}

impl MxRecord {
    pub fn new(preference: u16, exchange: impl Into<String>) -> Self {
        let exchange: String = exchange.into();
        MxRecord {
            preference,
            exchange: exchange.trim_end_matches('.').to_ascii_lowercase(),
        }
    }
}

/// The answer to one DNS question, classified the way delivery needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer<T> {
    /// At least one record of the asked type.
    Records(T),
    /// The name exists but has no record of this type (NODATA).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// SERVFAIL, timeout, refused, network trouble: try again later. The text says what.
    TempFail(String),
}

/// DNS look-ups needed for delivery.
pub trait MxResolver: Send + Sync {
    /// The MX records of `domain`, in any order.
    fn mx<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, DnsAnswer<Vec<MxRecord>>>;
    /// The A and AAAA addresses of `host`.
    fn addrs<'a>(&'a self, host: &'a str) -> BoxFuture<'a, DnsAnswer<Vec<IpAddr>>>;
}

/// A fixed table, for tests and for sites without DNS. Names not in the table are NXDOMAIN;
/// a name with addresses but no MX entry answers NODATA to MX.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    mx: HashMap<String, DnsAnswer<Vec<MxRecord>>>,
    addrs: HashMap<String, DnsAnswer<Vec<IpAddr>>>,
}

impl StaticResolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds MX records for `domain`.
    pub fn with_mx(mut self, domain: &str, records: &[(u16, &str)]) -> Self {
        let recs = records.iter().map(|(p, h)| MxRecord::new(*p, *h)).collect();
        self.mx.insert(norm(domain), DnsAnswer::Records(recs));
        self
    }

    /// Sets the MX answer for `domain` (e.g. `TempFail`).
    pub fn with_mx_answer(mut self, domain: &str, answer: DnsAnswer<Vec<MxRecord>>) -> Self {
        self.mx.insert(norm(domain), answer);
        self
    }

    /// Adds addresses for `host`.
    pub fn with_addrs(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.addrs
            .insert(norm(host), DnsAnswer::Records(addrs.to_vec()));
        self
    }

    /// Sets the address answer for `host`.
    pub fn with_addrs_answer(mut self, host: &str, answer: DnsAnswer<Vec<IpAddr>>) -> Self {
        self.addrs.insert(norm(host), answer);
        self
    }

    fn exists(&self, name: &str) -> bool {
        self.mx.contains_key(name) || self.addrs.contains_key(name)
    }
}

impl MxResolver for StaticResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, DnsAnswer<Vec<MxRecord>>> {
        let d = norm(domain);
        let answer = match self.mx.get(&d) {
            Some(a) => a.clone(),
            None if self.exists(&d) => DnsAnswer::NoData,
            None => DnsAnswer::NxDomain,
        };
        Box::pin(async move { answer })
    }

    fn addrs<'a>(&'a self, host: &'a str) -> BoxFuture<'a, DnsAnswer<Vec<IpAddr>>> {
        let h = norm(host);
        let answer = match self.addrs.get(&h) {
            Some(a) => a.clone(),
            None if self.exists(&h) => DnsAnswer::NoData,
            None => DnsAnswer::NxDomain,
        };
        Box::pin(async move { answer })
    }
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Settings of the real resolver.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResolverSettings {
    /// Name servers to ask (ip:port); empty means the system configuration (`/etc/resolv.conf`).
    pub name_servers: Vec<SocketAddr>,
    /// Time to wait for one answer.
    #[serde(with = "crate::config::duration")]
    pub timeout: Duration,
    /// How many times to ask each name server.
    pub attempts: usize,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        ResolverSettings {
            name_servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}

/// Why the resolver could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    #[error("cannot build the DNS resolver: {0}")]
    Build(String),
}

/// [`MxResolver`] on hickory-resolver.
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl HickoryResolver {
    pub fn new(settings: &ResolverSettings) -> Result<Self, ResolverError> {
        let mut opts = ResolverOpts::default();
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        opts.ndots = 0;
        let builder = if settings.name_servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| ResolverError::Build(e.to_string()))?
        } else {
            let servers = settings
                .name_servers
                .iter()
                .map(|sa| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = sa.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = sa.port();
                    NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
                })
                .collect();
            let cfg = ResolverConfig::from_parts(None, vec![], servers);
            Resolver::builder_with_config(cfg, TokioRuntimeProvider::default())
        };
        let inner = builder
            .with_options(opts)
            .build()
            .map_err(|e| ResolverError::Build(e.to_string()))?;
        Ok(HickoryResolver { inner })
    }
}

fn classify<T>(e: &NetError) -> DnsAnswer<T> {
    if e.is_nx_domain() {
        DnsAnswer::NxDomain
    } else if e.is_no_records_found() {
        DnsAnswer::NoData
    } else {
        DnsAnswer::TempFail(e.to_string())
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

impl MxResolver for HickoryResolver {
    fn mx<'a>(&'a self, domain: &'a str) -> BoxFuture<'a, DnsAnswer<Vec<MxRecord>>> {
        Box::pin(async move {
            match self.inner.mx_lookup(fqdn(domain)).await {
                Ok(lookup) => {
                    let recs: Vec<MxRecord> = lookup
                        .answers()
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::MX(mx) => {
                                Some(MxRecord::new(mx.preference, mx.exchange.to_ascii()))
                            }
                            _ => None,
                        })
                        .collect();
                    if recs.is_empty() {
                        DnsAnswer::NoData
                    } else {
                        DnsAnswer::Records(recs)
                    }
                }
                Err(e) => classify(&e),
            }
        })
    }

    fn addrs<'a>(&'a self, host: &'a str) -> BoxFuture<'a, DnsAnswer<Vec<IpAddr>>> {
        Box::pin(async move {
            match self.inner.lookup_ip(fqdn(host)).await {
                Ok(lookup) => {
                    let ips: Vec<IpAddr> = lookup.iter().collect();
                    if ips.is_empty() {
                        DnsAnswer::NoData
                    } else {
                        DnsAnswer::Records(ips)
                    }
                }
                Err(e) => classify(&e),
            }
        })
    }
}

/// Who we are, to detect an MX that points back at us (RFC 5321 section 5.1).
#[derive(Debug, Clone, Default)]
pub struct LocalIdentity {
    /// Our host name (`myhostname`).
    pub hostname: String,
    /// The addresses we listen on for SMTP.
    pub addrs: Vec<IpAddr>,
}

impl LocalIdentity {
    fn is_us_name(&self, host: &str) -> bool {
        !self.hostname.is_empty() && norm(host) == norm(&self.hostname)
    }
    fn is_us_addr(&self, ip: &IpAddr) -> bool {
        self.addrs.contains(ip)
    }
}

/// One host to try: the MX name and its preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    pub name: String,
    pub preference: u16,
}

/// Sorts MX records by preference and shuffles those of equal preference (RFC 5321 5.1).
/// A null MX (RFC 7505) is `Err(NullMx)` when it is the only record; beside other
/// records it is ignored.
pub fn order_mx(mut records: Vec<MxRecord>, rng: &mut impl Rng) -> Result<Vec<MxHost>, NullMx> {
    // RFC 7505 section 3: a null MX is the only MX of the domain; if other records are there
    // too, ignore the null one.
    let null = records.iter().any(|r| r.exchange.is_empty());
    records.retain(|r| !r.exchange.is_empty());
    if records.is_empty() && null {
        return Err(NullMx);
    }
    records.shuffle(rng);
    // Stable sort keeps the random order among equal preferences.
    records.sort_by_key(|r| r.preference);
    Ok(records
        .into_iter()
        .map(|r| MxHost {
            name: r.exchange,
            preference: r.preference,
        })
        .collect())
}

/// The domain published a null MX (RFC 7505).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullMx;

/// Where to connect: the host name (for logs, TLS SNI and `remote-MTA`) and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub addr: SocketAddr,
}

/// A route that cannot be used now (DNS failure, null MX, loop): the outcome for every
/// recipient of the request.
pub type RouteFailure = Box<Outcome>;

fn dns_detail(class: StatusClass, subject: u16, detail: u16, diagnostic: String) -> Detail {
    Detail {
        status: EnhancedStatus::new(class, subject, detail),
        reply: None,
        remote_mta: None,
        diagnostic,
        stage: Stage::Dns,
    }
}

fn perm(subject: u16, detail: u16, diagnostic: String) -> RouteFailure {
    Box::new(Outcome::Permanent(dns_detail(
        StatusClass::Permanent,
        subject,
        detail,
        diagnostic,
    )))
}

fn temp(subject: u16, detail: u16, diagnostic: String) -> RouteFailure {
    Box::new(Outcome::Temporary(dns_detail(
        StatusClass::Transient,
        subject,
        detail,
        diagnostic,
    )))
}

/// The outcome of the MX question alone, before addresses are looked up: the hosts to try in
/// order, or why there are none. Implicit MX (RFC 5321 5.1) on NODATA.
pub fn classify_mx(
    domain: &str,
    answer: DnsAnswer<Vec<MxRecord>>,
    rng: &mut impl Rng,
) -> Result<Vec<MxHost>, RouteFailure> {
    match answer {
        DnsAnswer::Records(recs) => order_mx(recs, rng).map_err(|NullMx| {
            perm(
                1,
                10,
                format!("Domain {domain} does not accept mail (nullMX)"),
            )
        }),
        DnsAnswer::NoData => Ok(vec![MxHost {
            name: norm(domain),
            preference: 0,
        }]),
        DnsAnswer::NxDomain => Err(perm(
            1,
            2,
            format!(
                "Host or domain name not found. Name service error for name={domain} type=MX: \
                 Host not found"
            ),
        )),
        DnsAnswer::TempFail(why) => Err(temp(
            4,
            3,
            format!(
                "Host or domain name not found. Name service error for name={domain} type=MX: \
                 Host not found, try again ({why})"
            ),
        )),
    }
}

/// Resolves a domain to the ordered list of addresses to try, applying null MX, implicit MX,
/// NXDOMAIN/SERVFAIL classification and mail loop detection.
pub async fn resolve_targets(
    resolver: &dyn MxResolver,
    domain: &str,
    port: u16,
    me: &LocalIdentity,
) -> Result<Vec<Target>, RouteFailure> {
    if let Some(ip) = address_literal(domain) {
        // `user@[192.0.2.1]`: no DNS (RFC 5321 4.1.3).
        if me.is_us_addr(&ip) {
            return Err(perm(
                4,
                6,
                format!("mail for {domain} loops back to myself"),
            ));
        }
        return Ok(vec![Target {
            name: domain.to_string(),
            addr: SocketAddr::new(ip, port),
        }]);
    }
    let answer = resolver.mx(domain).await;
    let hosts = classify_mx(domain, answer, &mut rand::rng())?;
    let mut looked_up = Vec::with_capacity(hosts.len());
    for h in &hosts {
        let a = if me.is_us_name(&h.name) {
            DnsAnswer::Records(Vec::new())
        } else {
            resolver.addrs(&h.name).await
        };
        looked_up.push((h.clone(), a));
    }
    plan_targets(domain, port, me, looked_up)
}

/// The address of a domain literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
pub fn address_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
        .unwrap_or(inner);
    inner.parse().ok()
}

/// Sans-IO part of [`resolve_targets`]: given the ordered MX hosts and the answers to their
/// address questions, the list of targets, or why there is none.
///
/// An MX that is us (our host name, or one of our addresses) cuts the list: hosts of equal
/// or worse preference are dropped (RFC 5321 5.1); if nothing better remains, the mail loops
/// (`5.4.6`).
pub fn plan_targets(
    domain: &str,
    port: u16,
    me: &LocalIdentity,
    hosts: Vec<(MxHost, DnsAnswer<Vec<IpAddr>>)>,
) -> Result<Vec<Target>, RouteFailure> {
    let mut cut: Option<u16> = None;
    for (h, a) in &hosts {
        let us = me.is_us_name(&h.name)
            || matches!(a, DnsAnswer::Records(ips) if ips.iter().any(|ip| me.is_us_addr(ip)));
        if us {
            cut = Some(cut.map_or(h.preference, |c| c.min(h.preference)));
        }
    }
    let mut targets = Vec::new();
    let mut temp_fail: Option<String> = None;
    let mut last_missing: Option<(String, &'static str)> = None;
    for (h, a) in hosts {
        if cut.is_some_and(|c| h.preference >= c) {
            continue;
        }
        match a {
            DnsAnswer::Records(ips) => targets.extend(ips.into_iter().map(|ip| Target {
                name: h.name.clone(),
                addr: SocketAddr::new(ip, port),
            })),
            DnsAnswer::NoData => {
                last_missing = Some((h.name, "Host found but no data record of requested type"))
            }
            DnsAnswer::NxDomain => last_missing = Some((h.name, "Host not found")),
            DnsAnswer::TempFail(why) => {
                temp_fail = Some(format!(
                    "Host or domain name not found. Name service error for name={} type=A: \
                     Host not found, try again ({why})",
                    h.name
                ))
            }
        }
    }
    if !targets.is_empty() {
        // Two MX names for one address: try the address once, at its best place.
        let mut seen = std::collections::HashSet::new();
        targets.retain(|t| seen.insert(t.addr));
        return Ok(targets);
    }
    if cut.is_some() {
        return Err(perm(
            4,
            6,
            format!("mail for {domain} loops back to myself"),
        ));
    }
    if let Some(why) = temp_fail {
        return Err(temp(4, 3, why));
    }
    let (name, why) = last_missing.unwrap_or_else(|| (domain.to_string(), "Host not found"));
    Err(perm(
        4,
        4,
        format!("Host or domain name not found. Name service error for name={name} type=A: {why}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn status(o: &Outcome) -> String {
        match o {
            Outcome::Temporary(d) | Outcome::Permanent(d) | Outcome::Stopped(d) => {
                d.status.to_string()
            }
            Outcome::Delivered { .. } => "2.0.0".into(),
        }
    }

    fn check(answer: DnsAnswer<Vec<MxRecord>>, expected: Result<Vec<&str>, &str>) {
        let got = classify_mx("example.org", answer, &mut StdRng::seed_from_u64(7));
        match (got, expected) {
            (Ok(hosts), Ok(names)) => {
                let got: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
                assert_eq!(got, names);
            }
            (Err(o), Err(st)) => assert_eq!(status(&o), st),
            (g, e) => panic!("got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn mx_classification() {
        let recs = |r: &[(u16, &str)]| {
            DnsAnswer::Records(r.iter().map(|(p, h)| MxRecord::new(*p, *h)).collect())
        };
        check(
            recs(&[(20, "b.example.org."), (10, "a.example.org.")]),
            Ok(vec!["a.example.org", "b.example.org"]),
        );
        check(DnsAnswer::NoData, Ok(vec!["example.org"]));
        check(recs(&[(0, ".")]), Err("5.1.10"));
        check(
            recs(&[(0, "."), (10, "mx.example.org")]),
            Ok(vec!["mx.example.org"]),
        );
        check(DnsAnswer::NxDomain, Err("5.1.2"));
        check(DnsAnswer::TempFail("SERVFAIL".into()), Err("4.4.3"));
    }

    #[test]
    fn nxdomain_diagnostic_in_postfix_words() {
        let Err(o) = classify_mx("nope.test", DnsAnswer::NxDomain, &mut rand::rng()) else {
            panic!("permanent expected");
        };
        let Outcome::Permanent(d) = *o else {
            panic!("permanent expected");
        };
        assert_eq!(
            d.diagnostic,
            "Host or domain name not found. Name service error for name=nope.test type=MX: Host not found"
        );
        assert_eq!(d.stage, Stage::Dns);
    }

    #[test]
    fn equal_preferences_are_shuffled_but_order_by_preference_holds() {
        let recs = vec![
            MxRecord::new(10, "a"),
            MxRecord::new(10, "b"),
            MxRecord::new(5, "first"),
            MxRecord::new(30, "last"),
        ];
        let mut seen = std::collections::HashSet::new();
        for seed in 0..64 {
            let hosts = order_mx(recs.clone(), &mut StdRng::seed_from_u64(seed)).expect("hosts");
            let names: Vec<String> = hosts.into_iter().map(|h| h.name).collect();
            assert_eq!(names[0], "first");
            assert_eq!(names[3], "last");
            seen.insert(names[1].clone());
        }
        assert_eq!(
            seen.len(),
            2,
            "both equal-preference hosts come first sometimes"
        );
    }

    fn host(n: &str, p: u16) -> MxHost {
        MxHost {
            name: n.into(),
            preference: p,
        }
    }

    #[test]
    fn mx_pointing_at_us_cuts_worse_hosts_or_loops() {
        let me = LocalIdentity {
            hostname: "mail.us.test".into(),
            addrs: vec![ip("192.0.2.25")],
        };
        // A better host remains: use it only.
        let t = plan_targets(
            "d.test",
            25,
            &me,
            vec![
                (
                    host("better.test", 5),
                    DnsAnswer::Records(vec![ip("192.0.2.1")]),
                ),
                (host("mail.us.test", 10), DnsAnswer::Records(vec![])),
                (
                    host("worse.test", 20),
                    DnsAnswer::Records(vec![ip("192.0.2.2")]),
                ),
            ],
        )
        .expect("targets");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "better.test");
        // We are the best MX by address: loop.
        let o = plan_targets(
            "d.test",
            25,
            &me,
            vec![(
                host("alias.test", 10),
                DnsAnswer::Records(vec![ip("192.0.2.25")]),
            )],
        )
        .expect_err("loop");
        assert_eq!(status(&o), "5.4.6");
        assert!(
            matches!(*o, Outcome::Permanent(ref d) if d.diagnostic == "mail for d.test loops back to myself")
        );
    }

    #[test]
    fn hosts_without_addresses() {
        let me = LocalIdentity::default();
        let o = plan_targets(
            "d.test",
            25,
            &me,
            vec![(host("mx.d.test", 10), DnsAnswer::NxDomain)],
        )
        .expect_err("none");
        assert_eq!(status(&o), "5.4.4");
        let o = plan_targets(
            "d.test",
            25,
            &me,
            vec![
                (host("mx.d.test", 10), DnsAnswer::NxDomain),
                (
                    host("mx2.d.test", 20),
                    DnsAnswer::TempFail("timeout".into()),
                ),
            ],
        )
        .expect_err("none");
        assert_eq!(status(&o), "4.4.3");
        let t = plan_targets(
            "d.test",
            2525,
            &me,
            vec![
                (host("mx.d.test", 10), DnsAnswer::NxDomain),
                (
                    host("mx2.d.test", 20),
                    DnsAnswer::Records(vec![ip("192.0.2.7"), ip("2001:db8::7")]),
                ),
            ],
        )
        .expect("targets");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].addr.to_string(), "[2001:db8::7]:2525");
        // Two names for one address: tried once.
        let t = plan_targets(
            "d.test",
            25,
            &me,
            vec![
                (
                    host("a.d.test", 10),
                    DnsAnswer::Records(vec![ip("192.0.2.7")]),
                ),
                (
                    host("b.d.test", 20),
                    DnsAnswer::Records(vec![ip("192.0.2.7")]),
                ),
            ],
        )
        .expect("targets");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "a.d.test");
    }

    #[test]
    fn address_literals() {
        assert_eq!(address_literal("[192.0.2.1]"), Some(ip("192.0.2.1")));
        assert_eq!(
            address_literal("[IPv6:2001:db8::1]"),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(address_literal("example.org"), None);
        assert_eq!(address_literal("[example.org]"), None);
    }

    #[tokio::test]
    async fn address_literal_needs_no_dns_but_may_loop() {
        let me = LocalIdentity {
            hostname: "me.test".into(),
            addrs: vec![ip("192.0.2.25")],
        };
        let r = StaticResolver::new();
        let t = resolve_targets(&r, "[192.0.2.1]", 25, &me)
            .await
            .expect("target");
        assert_eq!(t[0].addr.to_string(), "192.0.2.1:25");
        let o = resolve_targets(&r, "[192.0.2.25]", 25, &me)
            .await
            .expect_err("loop");
        assert_eq!(status(&o), "5.4.6");
    }

    #[tokio::test]
    async fn static_resolver_answers() {
        let r = StaticResolver::new()
            .with_mx("d.test", &[(10, "mx.d.test")])
            .with_addrs("mx.d.test", &[ip("127.0.0.1")])
            .with_addrs("a-only.test", &[ip("127.0.0.2")]);
        assert_eq!(r.mx("a-only.test").await, DnsAnswer::NoData);
        assert_eq!(r.mx("none.test").await, DnsAnswer::NxDomain);
        let t = resolve_targets(&r, "d.test", 25, &LocalIdentity::default())
            .await
            .expect("targets");
        assert_eq!(t[0].addr.to_string(), "127.0.0.1:25");
        let t = resolve_targets(&r, "a-only.test", 25, &LocalIdentity::default())
            .await
            .expect("implicit mx");
        assert_eq!(t[0].name, "a-only.test");
    }
}
