//! The Postfix-style log line written for every recipient of every attempt.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use mailerd_deliver::StaticResolver;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

#[tokio::test]
async fn one_line_per_recipient_with_postfix_fields() {
    let buf = Buf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_ansi(false)
        .without_time()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let peer = Peer::start(vec![vec![
        Step::Send("220 mx.test ESMTP"),
        Step::Expect("EHLO", ehlo(&["PIPELINING"])),
        Step::Expect("MAIL FROM:", "250 Ok"),
        Step::Expect("RCPT TO:<a@", "250 2.1.5 Ok"),
        Step::Expect(
            "RCPT TO:<x@",
            "550 5.1.1 <x@example.test>: Recipient address rejected",
        ),
        Step::Expect("DATA", "354 go"),
        Step::Data("250 2.0.0 Ok: queued as 7F3A"),
    ]])
    .await;
    let d = deliverer(config(), StaticResolver::new());
    let _ = d
        .deliver(&request(
            static_hop(peer.addr),
            &["a@example.test", "x@example.test"],
            "x\r\n",
        ))
        .await;
    let port = peer.addr.port();
    let _ = peer.finish().await;
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("to=<")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    let relay = format!("relay=127.0.0.1[127.0.0.1]:{port}");
    assert!(
        lines[0].contains(&format!("4QxY1z2AbC: to=<a@example.test>, {relay}, delay=")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(", dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 7F3A)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains(", dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <x@example.test>: Recipient address rejected (in reply to RCPT TO command))"),
        "{}",
        lines[1]
    );
}
