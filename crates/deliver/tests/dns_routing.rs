//! MX routing against a real DNS protocol peer: an in-process hickory-server on
//! 127.0.0.1 with a random port, plus raw UDP peers for SERVFAIL and silence (timeout).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use mailerd_deliver::{
    DeliverConfig, Deliverer, DnsAnswer, HickoryResolver, MxRecord, MxResolver, ResolverSettings,
};
use mailerd_types::{NextHop, Outcome};
use tokio::net::UdpSocket;

fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn rec(owner: &str, data: RData) -> Record {
    Record::from_rdata(name(owner), 300, data)
}

/// Starts the authoritative server for `dns.test.`; keep the returned server alive.
async fn dns_server() -> (Server<Catalog>, SocketAddr) {
    let origin = name("dns.test.");
    let mut zone: InMemoryZoneHandler =
        InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let soa = SOA::new(
        name("ns.dns.test."),
        name("hostmaster.dns.test."),
        1,
        3600,
        600,
        86400,
        60,
    );
    let a = |s: &str| RData::A(A(s.parse().expect("v4")));
    let mx = |p: u16, h: &str| RData::MX(MX::new(p, name(h)));
    let records = vec![
        rec("dns.test.", RData::SOA(soa)),
        // Several preferences, two of them equal.
        rec("multi.dns.test.", mx(10, "mx-a.dns.test.")),
        rec("multi.dns.test.", mx(10, "mx-b.dns.test.")),
        rec("multi.dns.test.", mx(20, "mx-c.dns.test.")),
        rec("mx-a.dns.test.", a("127.0.0.1")),
        rec("mx-b.dns.test.", a("127.0.0.2")),
        rec("mx-c.dns.test.", a("127.0.0.3")),
        // A/AAAA only: implicit MX.
        rec("implicit.dns.test.", a("127.0.0.1")),
        rec(
            "v6.dns.test.",
            RData::AAAA(AAAA("::1".parse().expect("v6"))),
        ),
        // Null MX (RFC 7505).
        rec("nullmx.dns.test.", mx(0, ".")),
        // An MX that is us.
        rec("loop.dns.test.", mx(10, "me.dns.test.")),
        rec("me.dns.test.", a("127.0.0.9")),
        // An MX host that does not exist.
        rec("dangling.dns.test.", mx(10, "gone.dns.test.")),
    ];
    for r in records {
        assert!(zone.upsert_mut(r, 1), "upsert");
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let addr = sock.local_addr().expect("addr");
    let mut server = Server::new(catalog);
    server.register_socket(sock);
    (server, addr)
}

/// A UDP peer that answers every query with SERVFAIL.
async fn servfail_peer() -> (tokio::task::JoinHandle<()>, SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let addr = sock.local_addr().expect("addr");
    let h = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            if n < 12 {
                continue;
            }
            // Header + the question section only.
            let mut end = 12;
            while end < n && buf[end] != 0 {
                end += usize::from(buf[end]) + 1;
            }
            end = (end + 5).min(n);
            let mut resp = buf[..end].to_vec();
            resp[2] = 0x80 | (buf[2] & 0x79); // QR, opcode, RD
            resp[3] = 0x80 | 2; // RA, RCODE=SERVFAIL
            resp[4..6].copy_from_slice(&[0, 1]);
            resp[6..12].fill(0);
            let _ = sock.send_to(&resp, from).await;
        }
    });
    (h, addr)
}

fn resolver(ns: SocketAddr) -> HickoryResolver {
    HickoryResolver::new(&ResolverSettings {
        name_servers: vec![ns],
        timeout: Duration::from_millis(500),
        attempts: 1,
    })
    .expect("resolver")
}

fn deliverer_with(r: HickoryResolver, cfg: DeliverConfig) -> Deliverer {
    Deliverer::new(cfg, Arc::new(r), Arc::new(NoMailboxes))
}

fn mx_request(domain: &str) -> mailerd_types::DeliveryRequest {
    request(
        NextHop::Mx {
            domain: domain.into(),
        },
        &[&format!("bob@{domain}")],
        "x\r\n",
    )
}

#[tokio::test]
async fn resolver_answers_each_class() {
    let (_server, addr) = dns_server().await;
    let r = resolver(addr);
    let DnsAnswer::Records(mut recs) = r.mx("multi.dns.test").await else {
        panic!("mx records expected");
    };
    recs.sort_by(|a, b| (a.preference, &a.exchange).cmp(&(b.preference, &b.exchange)));
    assert_eq!(
        recs,
        vec![
            MxRecord::new(10, "mx-a.dns.test"),
            MxRecord::new(10, "mx-b.dns.test"),
            MxRecord::new(20, "mx-c.dns.test"),
        ]
    );
    assert_eq!(r.mx("implicit.dns.test").await, DnsAnswer::NoData);
    assert_eq!(r.mx("nowhere.dns.test").await, DnsAnswer::NxDomain);
    assert_eq!(
        r.mx("nullmx.dns.test").await,
        DnsAnswer::Records(vec![MxRecord::new(0, ".")])
    );
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    assert_eq!(
        r.addrs("implicit.dns.test").await,
        DnsAnswer::Records(vec![ip("127.0.0.1")])
    );
    assert_eq!(
        r.addrs("v6.dns.test").await,
        DnsAnswer::Records(vec![ip("::1")])
    );
    assert_eq!(r.addrs("nowhere.dns.test").await, DnsAnswer::NxDomain);
}

#[tokio::test]
async fn equal_preference_hosts_come_before_worse_ones() {
    let (_server, addr) = dns_server().await;
    let r = resolver(addr);
    let t = mailerd_deliver::route::resolve_targets(&r, "multi.dns.test", 25, &Default::default())
        .await
        .expect("targets");
    let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    assert!(names[..2].contains(&"mx-a.dns.test") && names[..2].contains(&"mx-b.dns.test"));
    assert_eq!(names[2], "mx-c.dns.test");
    assert_eq!(t[2].addr.to_string(), "127.0.0.3:25");
}

fn only(o: &mailerd_types::AttemptReport) -> &Outcome {
    assert_eq!(o.recipients.len(), 1);
    &o.recipients[0].outcome
}

#[tokio::test]
async fn nxdomain_null_mx_loop_and_dangling_mx_are_permanent() {
    let (_server, addr) = dns_server().await;
    let cfg = DeliverConfig {
        hostname: "client.test".into(),
        listen_addrs: vec!["127.0.0.9".parse().expect("ip")],
        ..Default::default()
    };
    let d = deliverer_with(resolver(addr), cfg);

    let rep = d.deliver(&mx_request("nowhere.dns.test")).await;
    assert_eq!(summary(only(&rep)), ("permanent", "5.1.2".into(), None));
    assert_eq!(
        diagnostic(only(&rep)),
        "Host or domain name not found. Name service error for name=nowhere.dns.test type=MX: Host not found"
    );

    let rep = d.deliver(&mx_request("nullmx.dns.test")).await;
    assert_eq!(summary(only(&rep)), ("permanent", "5.1.10".into(), None));

    let rep = d.deliver(&mx_request("loop.dns.test")).await;
    assert_eq!(summary(only(&rep)), ("permanent", "5.4.6".into(), None));
    assert_eq!(
        diagnostic(only(&rep)),
        "mail for loop.dns.test loops back to myself"
    );

    let rep = d.deliver(&mx_request("dangling.dns.test")).await;
    assert_eq!(summary(only(&rep)), ("permanent", "5.4.4".into(), None));
}

#[tokio::test]
async fn servfail_and_timeout_are_temporary_4_4_3() {
    let (h, addr) = servfail_peer().await;
    let r = resolver(addr);
    assert!(matches!(r.mx("any.test").await, DnsAnswer::TempFail(_)));
    let d = deliverer_with(r, DeliverConfig::default());
    let rep = d.deliver(&mx_request("any.test")).await;
    assert_eq!(summary(only(&rep)), ("temporary", "4.4.3".into(), None));
    h.abort();

    // A name server that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
    let d = deliverer_with(
        resolver(silent.local_addr().expect("addr")),
        DeliverConfig::default(),
    );
    let rep = d.deliver(&mx_request("any.test")).await;
    assert_eq!(summary(only(&rep)), ("temporary", "4.4.3".into(), None));
    assert!(diagnostic(only(&rep)).contains("try again"));
    drop(silent);
}

#[tokio::test]
async fn implicit_mx_delivers_to_the_a_record() {
    let (_server, addr) = dns_server().await;
    let peer = Peer::start(vec![vec![
        Step::Send("220 implicit.dns.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:<bob@implicit.dns.test>", "250 Ok"),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 2.0.0 queued"),
    ]])
    .await;
    let cfg = DeliverConfig {
        hostname: "client.test".into(),
        smtp_port: peer.addr.port(),
        // The peer's transcript ends with the session: no idle connection kept for reuse.
        connection_reuse_time: std::time::Duration::ZERO,
        ..Default::default()
    };
    let d = deliverer_with(resolver(addr), cfg);
    let rep = d.deliver(&mx_request("implicit.dns.test")).await;
    let t = peer.finish().await;
    assert!(t[0].errors.is_empty(), "{:?}", t[0].errors);
    let Outcome::Delivered { remote_mta, .. } = only(&rep) else {
        panic!("delivered expected: {:?}", only(&rep));
    };
    assert_eq!(
        remote_mta.as_ref().map(|m| m.name.as_str()),
        Some("implicit.dns.test")
    );
}
