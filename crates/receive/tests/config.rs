//! Configuration: defaults, TOML form, validation, TLS from PEM files.

mod support;

use std::sync::Arc;

use mailerd_receive::{
    ConfigMailboxes, MailboxLookup, MailboxStatus, ReceiveConfig, ReceiveError, Receiver, Role,
    TlsConfig,
};
use support::MemStore;

fn receiver(cfg: ReceiveConfig) -> Result<Receiver<MemStore>, ReceiveError> {
    let mailboxes: Arc<dyn MailboxLookup> = Arc::new(ConfigMailboxes::without_usage(&cfg.users));
    Receiver::new(cfg, Arc::new(MemStore::default()), mailboxes)
}

#[test]
fn defaults_are_documented_values_and_round_trip_through_toml() {
    let d = ReceiveConfig::default();
    assert_eq!(d.limits.max_recipients, 100);
    assert_eq!(d.limits.command_timeout_secs, 300);
    assert_eq!(d.limits.data_timeout_secs, 180);
    assert!(
        d.relay_networks.is_empty(),
        "no relaying without AUTH by default"
    );
    assert_eq!(d.listeners.len(), 2);
    let text = toml::to_string(&d).expect("serialize");
    let back: ReceiveConfig = toml::from_str(&text).expect("parse");
    assert_eq!(back, d);
}

#[test]
fn partial_toml_takes_defaults_and_unknown_fields_are_errors() {
    let cfg: ReceiveConfig = toml::from_str(
        r#"
        hostname = "mx.example.org"
        local_domains = ["example.org"]
        relay_networks = ["127.0.0.0/8", "::1/128"]
        [[listeners]]
        address = "127.0.0.1:2525"
        role = "submission"
        [[users]]
        address = "bob@example.org"
        password_hash = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA"
        quota = 1000000
        [limits]
        max_message_size = 1000
        "#,
    )
    .expect("valid config");
    assert_eq!(cfg.listeners[0].role, Role::Submission);
    assert_eq!(cfg.limits.max_message_size, 1000);
    assert_eq!(cfg.limits.max_recipients, 100);
    assert!(!cfg.users[0].disabled);
    let err = toml::from_str::<ReceiveConfig>("hostnme = \"x\"").expect_err("typo refused");
    assert!(err.to_string().contains("hostnme"), "{err}");
}

#[test]
fn invalid_values_are_refused_at_start() {
    let mut cfg = ReceiveConfig {
        relay_networks: vec!["10.0.0.0/33".into()],
        ..ReceiveConfig::default()
    };
    cfg.tls.enabled = false;
    let err = receiver(cfg.clone()).err().expect("bad cidr");
    assert!(err.to_string().contains("relay_networks"), "{err}");
    cfg.relay_networks.clear();
    cfg.limits.max_line_length = 100;
    assert!(receiver(cfg.clone()).is_err());
    cfg.limits.max_line_length = 2048;
    cfg.tls = TlsConfig {
        enabled: true,
        cert_file: Some("/nonexistent/cert.pem".into()),
        key_file: None,
    };
    assert!(matches!(receiver(cfg), Err(ReceiveError::Config(_))));
}

#[test]
fn tls_from_pem_files_or_self_signed() {
    let dir = std::env::temp_dir().join(format!("mailerd-receive-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let ck = rcgen::generate_simple_self_signed(vec!["mx.example.org".to_string()]).expect("cert");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    let mut cfg = ReceiveConfig::default();
    cfg.tls.cert_file = Some(cert.clone());
    cfg.tls.key_file = Some(key.clone());
    assert!(receiver(cfg.clone()).is_ok());
    std::fs::write(&key, "not a key").expect("write key");
    let err = receiver(cfg).err().expect("bad key");
    assert!(matches!(err, ReceiveError::Tls(_)), "{err}");
    assert!(
        receiver(ReceiveConfig::default()).is_ok(),
        "self-signed fallback"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_mailboxes_report_each_state() {
    let cfg = support::config();
    let m = ConfigMailboxes::new(
        &cfg.users,
        Arc::new(|a: &str| if a == "dave@example.test" { 1000 } else { 999 }),
    );
    assert_eq!(m.lookup("Alice@example.test"), MailboxStatus::Active);
    assert_eq!(m.lookup("nobody@example.test"), MailboxStatus::Unknown);
    assert_eq!(m.lookup("carol@example.test"), MailboxStatus::Disabled);
    assert_eq!(m.lookup("dave@example.test"), MailboxStatus::OverQuota);
    let mut users = cfg.users.clone();
    users[0].quota = Some(1500);
    let m = ConfigMailboxes::new(&users, Arc::new(|_: &str| 1000));
    assert_eq!(
        m.lookup_with_size("alice@example.test", Some(500)),
        MailboxStatus::Active
    );
    assert_eq!(
        m.lookup_with_size("alice@example.test", Some(501)),
        MailboxStatus::OverQuota
    );
    assert_eq!(
        m.lookup_with_size("bob@example.test", Some(1 << 40)),
        MailboxStatus::Active
    );
}
