//! One corpus sample per MTA family / provider of the Sisimai set: the decoder that reads the
//! family's wording must yield the failed recipient, the enhanced status (when the bounce
//! carries a real one; pseudo statuses `X.0.9NN` are the classifier's) and the reply code.
//! The expected values agree with `testdata/bounces/sisimai/expected.tsv`; the recipient
//! (not in that file) was checked by reading each sample.
//!
//! Label disagreements, kept out of this list on purpose:
//! - `lhost-qmail-25.eml` lists two failed recipients (`mailboxfull@`, `userunknown@`), each
//!   with its own `Remote host said:`; Sisimai's label has only the first. We report both.
//! - `rhost-cox-01.eml` is an mbox of two bounces; `mailerd explain` reports them as
//!   `#1`/`#2`, the label expects two rows under the file name.
//! - `lhost-fml-02.eml` (a list's "you are not a member" notice) names no failed address; we
//!   take the list's control address from the instructions, Sisimai the list address.

use mailerd_analyze::{Kind, analyze};

fn check(file: &str, recipient: &str, status: &str, reply: &str, kind: Kind) {
    let path = format!(
        "{}/../../testdata/bounces/sisimai/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let a = analyze(&raw);
    assert_eq!(a.kind, kind, "{file}: kind");
    let r = a
        .recipients
        .first()
        .unwrap_or_else(|| panic!("{file}: no recipient"));
    assert_eq!(r.recipient, recipient, "{file}: recipient");
    if !status.is_empty() {
        assert_eq!(
            r.status.map(|s| s.to_string()).unwrap_or_default(),
            status,
            "{file}: status"
        );
    }
    assert_eq!(
        r.reply_code.map(|c| c.to_string()).unwrap_or_default(),
        reply,
        "{file}: reply code"
    );
}

#[test]
fn one_sample_per_family() {
    let kinds = [
        (
            "maildir/bsd/arf-01.eml",
            "redacted@example.net",
            "",
            "",
            Kind::Feedback,
        ),
        (
            "maildir/bsd/lhost-activehunter-02.eml",
            "kijitora@example.ed.jp",
            "",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-amavis-01.eml",
            "neko@example.co.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-amazonses-02.eml",
            "this-local-part-does-not-exist-on-the-server@docomo.ne.jp",
            "5.3.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-amazonworkmail-01.eml",
            "kijitora@example.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-apachejames-01.eml",
            "000000000000@vtext.example.com",
            "",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-barracuda-01.eml",
            "kijitora@example.org",
            "5.7.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-bigfoot-02.eml",
            "kijitora@example.org",
            "5.7.1",
            "553",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-biglobe-01.eml",
            "postmaster@mxr.biglobe.ne.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-courier-03.eml",
            "kijitora@example.jp",
            "5.7.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-domino-02.eml",
            "kijitora@example.co.jp",
            "5.0.0",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-dragonfly-02.eml",
            "pseudo-local-part@outlook.example.com",
            "5.7.509",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-einsundeins-02.eml",
            "kijitora@example.org",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-exchange2003-01.eml",
            "kijitora@example.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-exchange2007-02.eml",
            "kijitora@example.edu",
            "5.2.2",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-exim-01.eml",
            "kijitora@example.ed.jp",
            "5.7.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-ezweb-02.eml",
            "this-local-part-does-not-exist-on-the-server@ezweb.ne.jp",
            "5.0.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-gmail-01.eml",
            "userunknown@example.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-gmx-01.eml",
            "shironeko@example.jp",
            "5.2.2",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-googlegroups-02.eml",
            "libsisimai@googlegroups.com",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-googleworkspace-01.eml",
            "neko-nyaan-cat-meeting@google-groups.example.com",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-imailserver-02.eml",
            "kijitora@example.co.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-interscanmss-02.eml",
            "kijitora@neko.example.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-kddi-01.eml",
            "kijitora@x0000000000000.dion.ne.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-mailfoundry-01.eml",
            "kijitora@example.org",
            "",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-mailmarshalsmtp-02.eml",
            "kijitora@nyaan.example.com",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-mailru-01.eml",
            "kijitora@example.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-mcafee-01.eml",
            "kijitora@example.co.jp",
            "",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-messagingserver-03.eml",
            "sabineko@example.org",
            "5.7.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-mfilter-01.eml",
            "kijitora@example.com",
            "",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-mxlogic-02.eml",
            "kijitora@example.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-notes-01.eml",
            "kijitora@u1.example.co.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-office365-02.eml",
            "kijitora@example.onmicrosoft.com",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-opensmtpd-02.eml",
            "mailboxfull@example.jp",
            "5.2.2",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-outlook-01.eml",
            "kijitora@example.jp",
            "5.2.2",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-postfix-02.eml",
            "filtered@example.co.jp",
            "5.2.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-powermta-02.eml",
            "kijitora@example.com",
            "5.0.0",
            "554",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-qmail-01.eml",
            "kijitora@example.ne.jp",
            "5.5.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-receivingses-02.eml",
            "userunknown@neko.example.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-sendgrid-01.eml",
            "kijitora@example.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-sendmail-01.eml",
            "userunknown@bouncehammer.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-surfcontrol-01.eml",
            "kijitora@example.com",
            "5.0.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-v5sendmail-03.eml",
            "kijitora@example.org",
            "",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-verizon-01.eml",
            "0000000000@vzwpix.com",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-x1-01.eml",
            "kijitora@example.co.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-x2-01.eml",
            "kijitora@example.co.jp",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-x3-01.eml",
            "kijitora@example.com",
            "5.3.0",
            "553",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-x4-01.eml",
            "kijitora@example.com",
            "",
            "",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-x5-01.eml",
            "kijitora@neko.example.org",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-x6-02.eml",
            "kijitora@libsisimai.org",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-yahoo-01.eml",
            "kijitora@example.org",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-yandex-02.eml",
            "mikeneko@example.jp",
            "5.2.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/lhost-zoho-01.eml",
            "kijitora@example.co.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rfc3464-01.eml",
            "userunknown@bouncehammer.jp",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rfc3834-03.eml",
            "kijitora@apple.example.com",
            "",
            "",
            Kind::AutoReply,
        ),
        (
            "maildir/bsd/rhost-aol-03.eml",
            "sabineko@example.jp",
            "5.2.2",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-apple-02.eml",
            "kijitora@apple.example.com",
            "5.7.1",
            "554",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-facebook-04.eml",
            "kijitora@facebook.com",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-franceptt-01.eml",
            "pseudo-local-part-kijitora-nyaaan@orange.fr",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-godaddy-02.eml",
            "kijitora@example.com",
            "5.1.3",
            "553",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-google-01.eml",
            "shironeko@example.ne.jp",
            "5.2.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-gsuite-01.eml",
            "kijitora@example.de",
            "5.1.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-iua-01.eml",
            "neko@email.example.ua",
            "5.0.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-kddi-02.eml",
            "otsu-sakaba-hunter-neko-nyaaaaaaan@au.com",
            "5.1.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-messagelabs-01.eml",
            "kijitora@example.messagelabs.com",
            "5.0.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-microsoft-02.eml",
            "kijitora@example.org",
            "5.4.1",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-mimecast-01.eml",
            "sabatora@example.com",
            "5.0.0",
            "554",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-nttdocomo-01.eml",
            "azumakuniyuki@ntt.docomo.example.ne.jp",
            "5.2.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-outlook-01.eml",
            "kijitora@example.jp",
            "5.2.2",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-spectrum-01.eml",
            "theusername@charter.net",
            "5.1.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-tencent-01.eml",
            "nekochan@qq.example.cn",
            "5.0.0",
            "550",
            Kind::Bounce,
        ),
        (
            "maildir/bsd/rhost-yahooinc-01.eml",
            "kijitora@aol.example.jp",
            "5.7.9",
            "554",
            Kind::Bounce,
        ),
    ];
    for (file, recipient, status, reply, kind) in kinds {
        check(file, recipient, status, reply, kind);
    }
}

/// The same bounce with LF, CRLF and CR-only line endings gives the same answer.
#[test]
fn line_endings_do_not_matter() {
    for name in [
        "lhost-postfix-01.eml",
        "lhost-exim-01.eml",
        "lhost-qmail-01.eml",
        "arf-01.eml",
    ] {
        let mut answers = Vec::new();
        for dir in ["bsd", "dos", "mac"] {
            let path = format!(
                "{}/../../testdata/bounces/sisimai/maildir/{dir}/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let Ok(raw) = std::fs::read(&path) else {
                continue;
            };
            let a = analyze(&raw);
            answers.push(
                a.recipients
                    .iter()
                    .map(|r| (r.recipient.clone(), r.status, r.reply_code))
                    .collect::<Vec<_>>(),
            );
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "{name}: {answers:?}"
        );
    }
}

/// Each decoder module is the one that reads its family's sample.
#[test]
fn each_module_reads_its_family() {
    for (file, module, recipient) in [
        ("maildir/bsd/arf-01.eml", "ARF", "redacted@example.net"),
        (
            "maildir/bsd/lhost-activehunter-02.eml",
            "Sendmail",
            "kijitora@example.ed.jp",
        ),
        (
            "maildir/bsd/lhost-amavis-01.eml",
            "RFC3464",
            "neko@example.co.jp",
        ),
        (
            "maildir/bsd/lhost-amazonses-09.eml",
            "AmazonSES",
            "bounce@simulator.amazonses.com",
        ),
        (
            "maildir/bsd/lhost-exim-01.eml",
            "Exim",
            "kijitora@example.ed.jp",
        ),
        (
            "maildir/bsd/lhost-exchange2003-01.eml",
            "Exchange",
            "kijitora@example.jp",
        ),
        (
            "maildir/bsd/lhost-gmail-09.eml",
            "Gmail",
            "kijitora@9jo.example.jp",
        ),
        (
            "maildir/bsd/lhost-qmail-01.eml",
            "qmail",
            "kijitora@example.ne.jp",
        ),
        (
            "maildir/bsd/rfc3834-03.eml",
            "RFC3834",
            "kijitora@apple.example.com",
        ),
        (
            "maildir/bsd/lhost-x3-01.eml",
            "Generic",
            "kijitora@example.com",
        ),
    ] {
        let path = format!(
            "{}/../../testdata/bounces/sisimai/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let a = analyze(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")));
        let r = a
            .recipients
            .first()
            .unwrap_or_else(|| panic!("{file}: nothing"));
        assert_eq!(
            (r.decoded_by, r.recipient.as_str()),
            (module, recipient),
            "{file}"
        );
    }
}

/// Postfix text without a delivery-status part (old Postfix, or the part stripped).
#[test]
fn postfix_text_only() {
    let m = "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nTo: alice@example.org\nSubject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n                   The mail system\n\n<bob@example.net> (expanded from <team@example.org>): host\n    mx.example.net[192.0.2.1] said: 552 5.2.2 <bob@example.net>: Mailbox full\n    (in reply to RCPT TO command)\n";
    let a = analyze(m.as_bytes());
    let r = &a.recipients[0];
    assert_eq!(r.decoded_by, "Postfix");
    assert_eq!(r.recipient, "bob@example.net");
    assert_eq!(r.original_recipient.as_deref(), Some("team@example.org"));
    assert_eq!(r.status.map(|s| s.to_string()).as_deref(), Some("5.2.2"));
    assert_eq!(r.reply_code, Some(552));
    assert_eq!(r.remote_mta.as_deref(), Some("mx.example.net"));
}
