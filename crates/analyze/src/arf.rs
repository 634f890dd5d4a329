//! ARF feedback reports (RFC 5965, `multipart/report; report-type=feedback-report`).
//!
//! One row per reported recipient, with reason Feedback: the recipients are the
//! `Original-Rcpt-To:` (or `Removal-Recipient:`) fields of the `message/feedback-report` part,
//! else the To of the reported original. It does not read the feedback type into a reason.

use mailerd_types::Reason;

use crate::dsn::fields;
use crate::mime::Original;
use crate::mta::{Found, push_merge};
use crate::text::clean_address;

/// Decodes a feedback report body (possibly empty) and the reported message's headers.
pub fn decode(report: &str, original: Option<&Original>) -> Vec<Found> {
    let mut out = Vec::new();
    let mut rcpt = Vec::new();
    let mut removal = Vec::new();
    let mut arrival = None;
    for (n, v) in fields(report) {
        match n.as_str() {
            "original-rcpt-to" => rcpt.push(clean_address(&v)),
            "removal-recipient" => removal.push(clean_address(&v)),
            "arrival-date" | "received-date" => arrival = Some(v),
            _ => {}
        }
    }
    let mut list: Vec<String> = if !rcpt.is_empty() {
        rcpt
    } else if !removal.is_empty() {
        removal
    } else {
        original.map(|o| o.recipients.clone()).unwrap_or_default()
    };
    if list.is_empty() {
        // A report whose original lost its To: still is one report.
        list.push(String::new());
    }
    for a in list.into_iter().filter(|a| a.is_empty() || a.contains('@')) {
        let mut f = Found::new(a, "ARF");
        f.hint = Some(Reason::Feedback);
        f.last_attempt = arrival.clone();
        push_merge(&mut out, f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(report: &str, expected: &[&str]) {
        let got: Vec<String> = decode(report, None)
            .into_iter()
            .map(|f| f.recipient)
            .collect();
        assert_eq!(got, expected, "input {report:?}");
    }

    #[test]
    fn recipients() {
        check(
            "Feedback-Type: abuse\nOriginal-Rcpt-To: a@x.org\nOriginal-Rcpt-To: <b@X.org>\n",
            &["a@x.org", "b@x.org"],
        );
        check(
            "Feedback-Type: opt-out\nRemoval-Recipient: c@y.org\n",
            &["c@y.org"],
        );
        check("Feedback-Type: abuse\n", &[""]);
    }
}
