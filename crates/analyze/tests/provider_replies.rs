//! Provider replies beyond the spec's 64 (`tests/data/provider-replies.tsv`): current
//! wordings of Microsoft 365/Outlook.com, Gmail, Yahoo, iCloud, Comcast, Mail.ru, Yandex,
//! Orange, web.de, Mimecast, Proofpoint, Spamhaus, amavisd-new, Postfix's own restrictions,
//! Exim's and qmail's own refusals and others, each wrapped in the RFC 3464 report a Postfix-like MTA would write (failed,
//! `in reply to RCPT TO command`). The `reason` column is the reading we stand by, reviewed
//! line by line; `sisimai` is what Sisimai 4.25 (`../shared/tools/sisimai-oracle`) said of
//! the same report, kept for comparison only (it agrees on 115 of the 188).
//!
//! Each reply is also read from a second shape, Exim's plain-text notice (no report part):
//! the reason must not depend on the wrapper, except that a vague temporary reason
//! (`systemerror`, `networkerror`) in a notice that gave up reads as `expired`.

use mailerd_analyze::analyze;

fn report(id: &str, reply: &str) -> Vec<u8> {
    // The enhanced status the reply carries, else its class.
    let status = reply
        .split([' ', '-'])
        .find(|w| {
            let p: Vec<&str> = w.split('.').collect();
            p.len() == 3
                && matches!(p[0], "2" | "4" | "5")
                && p[1..]
                    .iter()
                    .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}.0.0", &reply[..1]));
    format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.sender.test (Mail Delivery System)\r\n\
         To: alice@sender.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n\
         --BB\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.sender.test.\r\n\r\n\
         <bob@{id}.test>: host mx.{id}.test[192.0.2.9] said: {reply} (in reply to RCPT TO command)\r\n\r\n\
         --BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.sender.test\r\n\r\n\
         Final-Recipient: rfc822; bob@{id}.test\r\nAction: failed\r\nStatus: {status}\r\n\
         Remote-MTA: dns; mx.{id}.test\r\nDiagnostic-Code: smtp; {reply}\r\n\r\n\
         --BB\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: alice@sender.test\r\n\
         To: bob@{id}.test\r\nSubject: hello\r\n\r\n--BB--\r\n"
    )
    .into_bytes()
}

/// Exim's failure notice: text only, the reply after `SMTP error from remote mail server`.
fn exim_text(id: &str, reply: &str) -> Vec<u8> {
    format!(
        "Return-path: <>\nFrom: Mail Delivery System <Mailer-Daemon@mx.sender.test>\n\
         To: alice@sender.test\nSubject: Mail delivery failed: returning message to sender\n\
         Auto-Submitted: auto-replied\n\n\
         This message was created automatically by mail delivery software.\n\n\
         A message that you sent could not be delivered to one or more of its\n\
         recipients. This is a permanent error. The following address(es) failed:\n\n\
         \x20 bob@{id}.test\n\
         \x20   host mx.{id}.test [192.0.2.9]\n\
         \x20   SMTP error from remote mail server after RCPT TO:<bob@{id}.test>:\n\
         \x20   {reply}\n\n\
         ------ This is a copy of the message, including all the headers. ------\n\n\
         From: alice@sender.test\nTo: bob@{id}.test\nSubject: hello\n\nhi\n"
    )
    .into_bytes()
}

#[test]
fn provider_replies_are_read_as_reviewed() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/provider-replies.tsv"
    );
    let table = std::fs::read_to_string(path).expect("provider-replies.tsv");
    let mut bad = Vec::new();
    let mut n = 0;
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [id, reason, _sisimai, reply] = cols[..] else {
            panic!("malformed row {line:?}");
        };
        n += 1;
        let a = analyze(&report(id, reply));
        let got: Vec<String> = a.recipients.iter().map(|r| r.reason.to_string()).collect();
        if got != [reason] {
            bad.push(format!("{id}: want {reason}, got {got:?} for {reply:?}"));
        }
        let vague = matches!(reason, "systemerror" | "networkerror") && reply.starts_with('4');
        let want = if vague { "expired" } else { reason };
        let e = analyze(&exim_text(id, reply));
        let got: Vec<String> = e.recipients.iter().map(|r| r.reason.to_string()).collect();
        let addr: Vec<&str> = e.recipients.iter().map(|r| r.recipient.as_str()).collect();
        if got != [want] || addr != [format!("bob@{id}.test")] {
            bad.push(format!(
                "{id} (Exim text): want {want}, got {got:?} {addr:?} for {reply:?}"
            ));
        }
    }
    assert_eq!(n, 188, "rows");
    assert!(bad.is_empty(), "{bad:#?}");
}
