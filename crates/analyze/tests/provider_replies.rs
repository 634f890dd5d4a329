//! Provider replies beyond the spec's 64 (`tests/data/provider-replies.tsv`): current
//! wordings of Microsoft 365/Outlook.com, Gmail, Yahoo, iCloud, Comcast, Mail.ru, Yandex,
//! Orange, web.de, Mimecast, Proofpoint, Spamhaus, amavisd-new, Postfix's own restrictions,
//! Exim's and qmail's own refusals and others, each wrapped in the RFC 3464 report a Postfix-like MTA would write (failed,
//! `in reply to RCPT TO command`). The `reason` column is the reading we stand by, reviewed
//! line by line; `sisimai` is what Sisimai 4.25 (`../shared/tools/sisimai-oracle`) said of
//! the same report, kept for comparison only (it agrees on 82 of the 134).

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
    }
    assert_eq!(n, 134, "rows");
    assert!(bad.is_empty(), "{bad:#?}");
}
