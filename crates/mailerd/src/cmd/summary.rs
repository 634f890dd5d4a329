//! The summary `mailerd explain` prints after several notices (text format): how many of
//! each kind and verdict, the failed recipients by category, the hard bounces, and what the
//! whole set suggests — the questions a person with a folder full of bounces asks: is my
//! address being forged, is my account sending spam, is this phishing, whom must I stop
//! mailing. It counts what the analyzer found; it does not look at the messages again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use mailerd_analyze::{Analysis, Kind, Verdict};
use mailerd_types::Category;

/// At most this many hard-bounced addresses are listed by name.
const LISTED: usize = 10;

/// This many notices within 24 hours are called a flood.
const FLOOD_PER_DAY: usize = 20;

#[derive(Default)]
pub struct Summary {
    messages: usize,
    kinds: BTreeMap<&'static str, usize>,
    genuine: usize,
    backscatter: usize,
    suspicious: usize,
    unknown: usize,
    /// Undelivered recipients (every row; failed or still being retried) and per category.
    failed: usize,
    delayed: usize,
    categories: BTreeMap<&'static str, usize>,
    distinct_failed: BTreeSet<String>,
    failed_domains: BTreeSet<String>,
    hard: BTreeSet<String>,
    /// Failures whose category says the receivers refused the sender or its content.
    refused_as_spam: usize,
    /// Bounces and delays whose verdict is not backscatter or suspicious.
    plain_bounces: usize,
    /// Of those, the ones whose returned message was submitted after a login.
    logged_in: usize,
    /// When the notices (bounces and delays of any verdict) were written, as far as their
    /// `Date` says (seconds since the epoch).
    dates: Vec<i64>,
}

impl Summary {
    pub fn add(&mut self, a: &Analysis) {
        self.messages += 1;
        *self.kinds.entry(kind_name(a.kind)).or_default() += 1;
        // A server's reply given alone is no notice: it has no verdict and is no bounce of
        // the set, but its recipient is counted below.
        let notice = matches!(a.kind, Kind::Bounce | Kind::Delay) && !a.is_reply_alone();
        match a.authenticity.verdict {
            Verdict::Genuine if notice => self.genuine += 1,
            Verdict::Backscatter => self.backscatter += 1,
            Verdict::Suspicious => self.suspicious += 1,
            _ if notice => self.unknown += 1,
            _ => {}
        }
        if notice && matches!(a.authenticity.verdict, Verdict::Genuine | Verdict::Unknown) {
            self.plain_bounces += 1;
            if a.original
                .as_ref()
                .is_some_and(|o| o.authenticated_submission)
            {
                self.logged_in += 1;
            }
        }
        if notice && let Some(t) = a.date.as_deref().and_then(mailerd_analyze::timestamp) {
            self.dates.push(t);
        }
        // A phishing notice's "recipients" are part of the lure, and a backscatter notice's
        // are the forger's targets: neither are failures of your mail (counted above).
        if matches!(
            a.authenticity.verdict,
            Verdict::Suspicious | Verdict::Backscatter
        ) {
            return;
        }
        for r in &a.recipients {
            if !r.reason.is_failure() {
                continue;
            }
            self.failed += 1;
            if r.action == Some(mailerd_types::DsnAction::Delayed) {
                self.delayed += 1;
            }
            *self.categories.entry(r.category.headline()).or_default() += 1;
            let addr = r.recipient.to_ascii_lowercase();
            if let Some((_, d)) = addr.rsplit_once('@').filter(|(_, d)| !d.is_empty()) {
                self.failed_domains.insert(d.to_string());
            }
            // The addresses to stop mailing: hard bounces, and any address or domain said not
            // to exist for good (a text notice's unknown user is Sisimai's `filtered`, not a
            // hard bounce, when it names no SMTP command).
            let gone = r.hard_bounce
                || (r.permanent
                    && matches!(
                        r.category,
                        Category::AddressNotFound | Category::DomainNotFound
                    ));
            // (a reply that names no address has nobody to list)
            if gone && !addr.is_empty() {
                self.hard.insert(addr.clone());
            }
            if matches!(
                r.category,
                Category::MessageBlocked
                    | Category::ContentRejected
                    | Category::SenderNotAuthenticated
                    | Category::RateLimited
            ) {
                self.refused_as_spam += 1;
            }
            if !addr.is_empty() {
                self.distinct_failed.insert(addr);
            }
        }
    }

    /// Writes the summary; nothing when fewer than two messages were read.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        if self.messages < 2 {
            return Ok(());
        }
        writeln!(out, "Summary of {} messages", self.messages)?;
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, n)| format!("{n} {}", plural(k, *n)))
            .collect();
        writeln!(out, "  Kinds: {}.", kinds.join(", "))?;
        let notices = self.genuine + self.backscatter + self.suspicious + self.unknown;
        if notices > 0 {
            let mut v = Vec::new();
            for (n, what) in [
                (self.genuine, "look genuine"),
                (self.backscatter, "backscatter"),
                (self.suspicious, "SUSPICIOUS"),
                (self.unknown, "cannot be confirmed"),
            ] {
                if n > 0 {
                    v.push(format!("{n} {what}"));
                }
            }
            writeln!(out, "  Authenticity of the notices: {}.", v.join(", "))?;
        }
        if self.failed > 0 {
            let mut by: Vec<(&&str, &usize)> = self.categories.iter().collect();
            by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let list: Vec<String> = by.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let delayed = if self.delayed > 0 {
                format!(", {} of them still being retried", self.delayed)
            } else {
                String::new()
            };
            let at = if self.distinct_failed.is_empty() {
                "no address named".to_string()
            } else {
                format!(
                    "{} at {}",
                    counted(
                        self.distinct_failed.len(),
                        "distinct address",
                        "distinct addresses"
                    ),
                    counted(self.failed_domains.len(), "domain", "domains")
                )
            };
            writeln!(
                out,
                "  Undelivered recipients: {}{delayed} ({at}): {}.",
                self.failed,
                list.join(", ")
            )?;
        }
        let span = self.span();
        if let Some((first, last, busiest)) = span {
            write!(
                out,
                "  Dates of the notices: {} to {}",
                mailerd_types::rfc5322_date(first),
                mailerd_types::rfc5322_date(last)
            )?;
            if self.dates.len() > 1 {
                write!(out, "; at most {busiest} within 24 hours")?;
            }
            writeln!(out, ".")?;
        }
        if !self.hard.is_empty() {
            let shown: Vec<&str> = self.hard.iter().take(LISTED).map(String::as_str).collect();
            let more = self.hard.len().saturating_sub(LISTED);
            write!(
                out,
                "  Addresses that do not exist, stop mailing them: {}",
                shown.join(", ")
            )?;
            if more > 0 {
                write!(out, " and {more} more")?;
            }
            writeln!(out, ".")?;
        }
        let advice = self.advice(span.map(|(_, _, busiest)| busiest));
        if !advice.is_empty() {
            writeln!(out, "  What this suggests:")?;
            for a in advice {
                writeln!(out, "    - {a}")?;
            }
        }
        writeln!(out)?;
        Ok(())
    }

    /// The first and last notice dates, and the most notices within any 24 hours.
    fn span(&self) -> Option<(u64, u64, usize)> {
        let mut d = self.dates.clone();
        d.sort_unstable();
        let (first, last) = (*d.first()?, *d.last()?);
        let mut busiest = 0;
        let mut start = 0;
        for (end, t) in d.iter().enumerate() {
            while t - d[start] >= 86_400 {
                start += 1;
            }
            busiest = busiest.max(end + 1 - start);
        }
        Some((
            u64::try_from(first).unwrap_or(0),
            u64::try_from(last).unwrap_or(0),
            busiest,
        ))
    }

    /// What the set suggests; `busiest` is the most notices within 24 hours, when dated.
    fn advice(&self, busiest: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        // Many notices in one day: a flood, whatever its cause.
        if let Some(busiest) = busiest.filter(|&b| b >= FLOOD_PER_DAY) {
            out.push(format!(
                "{busiest} notices arrived within 24 hours: a flood. The points below say whether \
                 it is phishing, your address forged, or mail sent from your account."
            ));
        }
        if self.suspicious > 0 {
            out.push(format!(
                "{} of these {} like phishing: do not click their links, open their \
                 attachments or sign in from them; delete them.",
                self.suspicious,
                if self.suspicious == 1 {
                    "notices looks"
                } else {
                    "notices look"
                }
            ));
        }
        if self.backscatter > 0 {
            out.push(format!(
                "{} {} of mail you did not send (they came back to return paths without \
                 mailerd's signature): your address is being forged as the sender of someone \
                 else's mail. That does not mean your account was used. Publish SPF, DKIM and \
                 a DMARC policy of p=reject for your domain so that receivers refuse the \
                 forgeries instead of bouncing them, and set `[batv] enforce = true` so that \
                 mailerd refuses such bounces when they arrive.",
                self.backscatter,
                if self.backscatter == 1 {
                    "is a bounce"
                } else {
                    "are bounces"
                }
            ));
        }
        // Returned messages that were submitted after a login: not forgery.
        if self.logged_in > 0 {
            out.push(format!(
                "{} of the returned messages {} sent by someone logged in to an account (their \
                 Received headers record an authenticated submission). If you did not send \
                 them, the account's password is known to someone else: change it now, revoke \
                 app passwords and open sessions, and remove forwarding rules you did not make.",
                self.logged_in,
                if self.logged_in == 1 { "was" } else { "were" }
            ));
        }
        // Many ordinary bounces: forged or sent from the account, and how to tell.
        if self.plain_bounces >= 5 && self.failed_domains.len() >= 5 {
            out.push(format!(
                "{} bounces of messages to {} different domains. If those messages \
                 are not in your Sent folder or your server's log, your address is being \
                 forged (publish SPF, DKIM and DMARC with p=reject; with mailerd, turn on \
                 [batv]). If they are, your account or a device using it is sending them: \
                 change its password now, revoke app passwords and open sessions, remove \
                 forwarding rules you did not make, and check the log for who authenticated.",
                self.plain_bounces,
                self.failed_domains.len()
            ));
        }
        if self.failed >= 3 && self.refused_as_spam * 2 >= self.failed {
            out.push(format!(
                "{} of the {} failures are refusals of your mail as spam, for its reputation \
                 or its authentication: check the sending server's IP address on block lists \
                 and your domain's SPF, DKIM and DMARC records.",
                self.refused_as_spam, self.failed
            ));
        }
        if self.hard.len() >= 3 {
            out.push(format!(
                "Remove the {} addresses that do not exist from your address book and lists: \
                 mailing them again harms your sending reputation.",
                self.hard.len()
            ));
        }
        out
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Bounce => "bounce",
        Kind::Delay => "delay warning",
        Kind::Success => "success notice",
        Kind::AutoReply => "automatic reply",
        Kind::Feedback => "feedback report",
        Kind::NotABounce => "not a bounce",
    }
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural(what: &str, n: usize) -> String {
    match (what, n) {
        (w, 1) => w.to_string(),
        ("not a bounce", _) => "not bounces".into(),
        ("automatic reply", _) => "automatic replies".into(),
        (w, _) => format!("{w}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailerd_analyze::analyze;

    fn bounce(rcpt: &str, reply: &str) -> Vec<u8> {
        format!(
            "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.sender.test (Mail Delivery System)\r\n\
             To: alice@sender.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\n<{rcpt}>: host mx said: {reply}\r\n\r\n\
             --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.sender.test\r\n\r\n\
             Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {}\r\n\
             Diagnostic-Code: smtp; {reply}\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
             From: alice@sender.test\r\nTo: {rcpt}\r\nSubject: hi\r\n\r\n--B--\r\n",
            &reply[4..9]
        )
        .into_bytes()
    }

    /// [`bounce`] as mailerd's reception delivers it when the return path had no valid
    /// signature: marked (backscatter).
    fn marked(rcpt: &str, reply: &str) -> Vec<u8> {
        let mut m = b"Received: from mx.remote.test by mx.sender.test (mailerd) with ESMTP; Mon, 7 Dec 2026 10:00:00 +0000\r\nX-Mailerd-BATV: none (no signature)\r\n".to_vec();
        m.extend(bounce(rcpt, reply));
        m
    }

    fn summary(msgs: &[Vec<u8>]) -> String {
        let mut s = Summary::default();
        for m in msgs {
            s.add(&analyze(m));
        }
        let mut out = Vec::new();
        s.write(&mut out).expect("write to a Vec");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn one_message_has_no_summary() {
        assert_eq!(summary(&[bounce("a@b.test", "550 5.1.1 User unknown")]), "");
    }

    #[test]
    fn a_flood_of_bounces_is_counted_and_explained() {
        let msgs: Vec<Vec<u8>> = (0..6)
            .map(|i| bounce(&format!("u{i}@d{i}.test"), "550 5.1.1 User unknown"))
            .chain([bounce("x@d9.test", "552 5.2.2 Mailbox full")])
            .collect();
        let s = summary(&msgs);
        assert!(
            s.starts_with("Summary of 7 messages\n  Kinds: 7 bounces.\n"),
            "{s}"
        );
        assert!(
            s.contains("Undelivered recipients: 7 (7 distinct addresses at 7 domains): Address not found 6, Recipient inbox full 1."),
            "{s}"
        );
        assert!(
            s.contains("Addresses that do not exist, stop mailing them: u0@d0.test, u1@d1.test"),
            "{s}"
        );
        assert!(
            s.contains("7 bounces of messages to 7 different domains. If those"),
            "{s}"
        );
        assert!(
            s.contains("Remove the 6 addresses that do not exist"),
            "{s}"
        );
        assert!(
            !s.contains("phishing") && !s.contains("forged as the sender of"),
            "{s}"
        );
    }

    #[test]
    fn backscatter_is_explained_as_a_forged_address_and_not_listed_as_hard_bounces() {
        let marked = |rcpt: &str| marked(rcpt, "550 5.1.1 User unknown");
        let s = summary(&[marked("a@d1.test"), marked("b@d2.test")]);
        assert!(s.contains("2 backscatter"), "{s}");
        assert!(s.contains("2 are bounces of mail you did not send"), "{s}");
        assert!(s.contains("[batv] enforce = true"), "{s}");
        assert!(!s.contains("do not exist"), "{s}");
    }

    /// A text notice's unknown user (Sisimai's `filtered` when no SMTP command is named) is
    /// still an address to stop mailing.
    #[test]
    fn a_text_notices_unknown_user_is_an_address_to_stop_mailing() {
        let notice = |rcpt: &str| {
            format!(
                "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.sender.test\r\nTo: alice@sender.test\r\n\
                 Subject: Undeliverable: hi\r\n\r\nYour message could not be delivered to the \
                 following recipients:\r\n\r\n{rcpt}: 550 Unknown user\r\n"
            )
            .into_bytes()
        };
        let s = summary(&[notice("gone@d1.test"), notice("left@d2.test")]);
        assert!(
            s.contains(
                "Addresses that do not exist, stop mailing them: gone@d1.test, left@d2.test."
            ),
            "{s}"
        );
    }

    /// Backscatter refused as spam is not "your mail refused as spam", and a reply given
    /// alone is no notice and names nobody to list.
    #[test]
    fn backscatter_and_replies_alone_are_not_counted_as_your_failures() {
        let marked = |rcpt: &str| marked(rcpt, "554 5.7.1 Message rejected as spam");
        let msgs: Vec<Vec<u8>> = (0..4)
            .map(|i| marked(&format!("v{i}@d{i}.test")))
            .chain([b"550 5.1.1 User unknown\n".to_vec()])
            .collect();
        let s = summary(&msgs);
        assert!(
            s.contains("Authenticity of the notices: 4 backscatter."),
            "{s}"
        );
        assert!(!s.contains("refusals of your mail as spam"), "{s}");
        assert!(!s.contains("stop mailing them"), "{s}");
        assert!(
            s.contains("Undelivered recipients: 1 (no address named)"),
            "{s}"
        );
    }

    /// The notices' own dates give the span and the busiest day; 20 in a day is a flood.
    #[test]
    fn dates_give_the_span_and_a_flood() {
        let dated = |i: usize, hour: usize| {
            let mut m = format!("Date: Mon, 7 Dec 2026 {hour:02}:00:00 +0000\r\n").into_bytes();
            m.extend(bounce(&format!("u{i}@d{i}.test"), "550 5.1.1 User unknown"));
            m
        };
        let few: Vec<Vec<u8>> = (0..3).map(|i| dated(i, 10 + i)).collect();
        let s = summary(&few);
        assert!(
            s.contains("Dates of the notices: Mon, 07 Dec 2026 10:00:00 +0000 to Mon, 07 Dec 2026 12:00:00 +0000; at most 3 within 24 hours."),
            "{s}"
        );
        assert!(!s.contains("a flood"), "{s}");
        let many: Vec<Vec<u8>> = (0..20).map(|i| dated(i, i)).collect();
        let s = summary(&many);
        assert!(
            s.contains("20 notices arrived within 24 hours: a flood."),
            "{s}"
        );
    }

    /// Bounces of messages that were submitted after a login: the account sent them.
    #[test]
    fn returned_messages_sent_after_a_login_point_at_the_account() {
        let logged = |i: usize| {
            String::from_utf8(bounce(&format!("u{i}@d{i}.test"), "550 5.1.1 User unknown"))
                .expect("utf-8")
                .replace(
                    "From: alice@sender.test\r\nTo:",
                    "Received: from [192.0.2.7] by smtp.sender.test with ESMTPSA id 1; Mon, 7 Dec 2026 10:00:00 +0000\r\nFrom: alice@sender.test\r\nTo:",
                )
                .into_bytes()
        };
        let s = summary(&[
            logged(1),
            logged(2),
            bounce("x@d3.test", "550 5.1.1 User unknown"),
        ]);
        assert!(
            s.contains("2 of the returned messages were sent by someone logged in to an account"),
            "{s}"
        );
        let s = summary(&[
            bounce("x@d3.test", "550 5.1.1 User unknown"),
            bounce("y@d4.test", "550 5.1.1 User unknown"),
        ]);
        assert!(!s.contains("logged in"), "{s}");
    }

    #[test]
    fn refusals_as_spam_are_pointed_out() {
        let msgs: Vec<Vec<u8>> = (0..3)
            .map(|i| {
                bounce(
                    &format!("u{i}@d{i}.test"),
                    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
                )
            })
            .collect();
        let s = summary(&msgs);
        assert!(
            s.contains("3 of the 3 failures are refusals of your mail as spam"),
            "{s}"
        );
    }
}
