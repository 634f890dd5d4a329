//! Is a bounce what it claims to be? Scores the signals of standards sec. 7.6.
//!
//! Positive weights (suspicious): clickable links outside provider help domains, action
//! buttons/links ("release messages", "verify your account"), attachments that are not report
//! parts, a "Mail Delivery Subsystem"/"MAILER-DAEMON"/"Postmaster" display name from a domain
//! unrelated to the reporting MTA, claims about *incoming* mail, no returned original, and a
//! non-null `Return-Path` on a message posing as a bounce. Negative weights (genuine):
//! an RFC 3464 report whose Final-Recipient is a recipient of the returned original, and a
//! Reporting-MTA consistent with the top `Received:` header.
//!
//! It does not verify DKIM/SPF/DMARC nor consult our outbound logs (no I/O here); callers
//! that can, add that evidence; the one it takes is mailerd's own BATV mark on receipt
//! (`X-Mailerd-BATV`, right below mailerd's `Received:`), which makes a bounce backscatter.
//! Verdict: suspicious at score >= 3, genuine at <= -3 (or a clean standard report),
//! unknown otherwise; backscatter when the mark is there and it is not suspicious.

use crate::mime::{Original, Parts};
use crate::text::contains_ci;
use crate::{Authenticity, Kind, RecipientReport, Top, Verdict};

/// Everything the scorer looks at.
pub struct Signals<'a> {
    pub kind: Kind,
    pub top: &'a Top,
    pub parts: &'a Parts,
    pub human: &'a str,
    /// `human` lower-cased (ASCII).
    pub human_low: &'a str,
    pub original: Option<&'a Original>,
    pub reporting_mta: Option<&'a str>,
    pub recipients: &'a [RecipientReport],
    pub has_dsn: bool,
    /// The Subject is one only bounces and delay notices use ("Undelivered Mail", "Message
    /// delivery failure").
    pub bounce_subject: bool,
}

/// Help domains of providers whose links in a bounce are expected.
const ALLOWED_LINK_DOMAINS: &[&str] = &[
    // the big providers' own sites (phishing uses look-alikes, not these)
    "google.com",
    "microsoft.com",
    "office.com",
    "outlook.com",
    "yahoo.com",
    "apple.com",
    "uribl.com",
    "surbl.org",
    "sorbs.net",
    "barracudacentral.org",
    "abuseat.org",
    "senderscore.org",
    "mailspike.net",
    "support.google.com",
    "aka.ms",
    "learn.microsoft.com",
    "docs.microsoft.com",
    "technet.microsoft.com",
    "go.microsoft.com",
    "postmaster.yahooinc.com",
    "senders.yahooinc.com",
    "help.yahoo.com",
    "postmaster.yahoo.com",
    "support.apple.com",
    "spamhaus.org",
    "www.spamhaus.org",
    "postmaster.live.com",
    "sendersupport.olc.protection.outlook.com",
    "mail.live.com",
    "postmaster.aol.com",
    "help.aol.com",
    "barracudanetworks.com",
    "www.barracudanetworks.com",
    "mimecast.com",
    "spamcop.net",
    "www.spamcop.net",
    "mxtoolbox.com",
    "proofpoint.com",
    "ipremoval.sms.symantec.com",
];

const ACTION_WORDS: &[&str] = &[
    "retry delivery",
    "release message",
    "release your message",
    "retrieve message",
    "retrieve your message",
    "view undelivered",
    "verify your account",
    "verify account",
    "resend",
    "restore mailbox",
    "restore your mailbox",
    "click here",
    "login",
    "log in",
    "sign in",
    "upgrade",
    "review messages",
    "deliver messages",
    "recover message",
];

const INCOMING_CLAIMS: &[&str] = &[
    "pending incoming",
    "incoming messages",
    "undelivered incoming",
    "held in quarantine",
    "messages in quarantine",
    "quarantined messages",
    "verify your account",
    "upgrade mailbox",
    "upgrade your mailbox",
    "mailbox quota reached",
    "messages are pending",
    "messages pending",
    "failed to deliver to your inbox",
    "stuck in your",
];

/// The action words, searched exactly in lower-cased text (the same matches as an ASCII
/// case-insensitive search of the text itself, at the speed of the vectorised prefilter).
static ACTION_QUICK: std::sync::LazyLock<crate::text::Literals> = std::sync::LazyLock::new(|| {
    crate::text::Literals::new(ACTION_WORDS.iter().chain(["<button"].iter()))
});

/// The claims, searched exactly in the lower-cased text (the same matches as an ASCII
/// case-insensitive search of the text).
static INCOMING: std::sync::LazyLock<crate::text::Literals> =
    std::sync::LazyLock::new(|| crate::text::Literals::new(INCOMING_CLAIMS));

fn link_domain(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest
        .split(['/', '?', '#', '"', '\'', '>', '<', ' ', ')'])
        .next()
        .unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    host.split(':').next().unwrap_or(host)
}

fn allowed(host: &str) -> bool {
    let h = host.as_bytes();
    ALLOWED_LINK_DOMAINS
        .iter()
        .any(|d| is_domain_or_sub(h, d.as_bytes()))
}

/// `host` (any case) is `domain` (lower-case) or a name under it (`x.domain`).
fn is_domain_or_sub(host: &[u8], domain: &[u8]) -> bool {
    match host.len().checked_sub(domain.len()) {
        Some(0) => host.eq_ignore_ascii_case(domain),
        Some(k) => {
            host.get(k - 1) == Some(&b'.')
                && host
                    .get(k..)
                    .is_some_and(|t| t.eq_ignore_ascii_case(domain))
        }
        None => false,
    }
}

/// Links in the human part and the HTML (bounded): every `http://` or `https://` (any case),
/// found from the `://` that every link has.
fn links(s: &Signals<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let sep = memchr::memmem::Finder::new("://");
    for hay in [s.human, s.parts.html_raw.as_str()] {
        let hay = crate::prefix(hay, 1 << 20);
        let b = hay.as_bytes();
        for q in sep.find_iter(b) {
            let scheme_at = |n: usize, scheme: &[u8]| {
                q.checked_sub(n)
                    .filter(|&st| b.get(st..q).is_some_and(|w| w.eq_ignore_ascii_case(scheme)))
            };
            let Some(start) = scheme_at(5, b"https").or_else(|| scheme_at(4, b"http")) else {
                continue;
            };
            let r = &hay[start..];
            let end = r
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '>' || c == '<')
                .unwrap_or(r.len())
                .min(2048);
            out.push(crate::prefix(r, end).to_string());
            if out.len() > 50 {
                return out;
            }
        }
    }
    out
}

/// Host names in `Received:` headers: the word after `from` / `by`, and the reverse-DNS
/// name that opens a parenthesis (`(mx.example.org [192.0.2.1])`). Not ids or dates.
fn hosts_in(received: &str) -> impl Iterator<Item = &str> {
    let mut prev = "";
    received.split_whitespace().filter_map(move |w| {
        let take = prev.eq_ignore_ascii_case("from")
            || prev.eq_ignore_ascii_case("by")
            || w.starts_with('(');
        prev = w;
        if !take {
            return None;
        }
        let h = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        (h.contains('.') && h.bytes().any(|c| c.is_ascii_alphabetic())).then_some(h)
    })
}

/// Providers that send their notices from one domain about mail handled by another.
const FAMILIES: &[&[&str]] = &[
    &[
        "google.com",
        "googlemail.com",
        "gmail.com",
        "googlegroups.com",
        "1e100.net",
    ],
    &[
        "outlook.com",
        "hotmail.com",
        "live.com",
        "microsoft.com",
        "office365.com",
        "msn.com",
        "office.com",
    ],
    &[
        "yahoo.com",
        "yahoo.co.jp",
        "yahoodns.net",
        "aol.com",
        "yahooinc.com",
        "ymail.com",
    ],
    &["icloud.com", "me.com", "mac.com", "apple.com"],
];

/// The provider family of a host: its base domain, unified for known multi-domain providers.
fn family(host: &str) -> String {
    let b = base(host);
    for f in FAMILIES {
        if f.contains(&b.as_str()) {
            return f[0].to_string();
        }
    }
    b
}

fn domain_of(addr: &str) -> &str {
    addr.rsplit('@').next().unwrap_or("")
}

/// The registrable-ish tail of a host (last two labels, three under a short second-level
/// label such as `co.jp`), lower-cased.
fn base(host: &str) -> String {
    let h = host.trim_end_matches('.');
    // The starts of the last three labels (a label starts after a dot, or at 0).
    let mut dots = memchr::memrchr_iter(b'.', h.as_bytes()).map(|i| i + 1);
    let last = dots.next();
    let second = dots.next();
    let third = dots.next();
    let start = match (last, second) {
        // n >= 3 labels, a short second-level label and a two-letter top: the last three.
        (Some(l), Some(s)) if l - 1 - s <= 3 && h.len() - l == 2 => third.unwrap_or(0),
        // n >= 3: the last two.
        (Some(_), Some(s)) => s,
        // Two labels or one: all of it.
        _ => 0,
    };
    h.get(start..).unwrap_or(h).to_ascii_lowercase()
}

/// Action words (retry, release, verify, log in), in any case, in the human text or the HTML
/// (the first MiB of each).
fn asks_to_act(s: &Signals<'_>) -> bool {
    let q = &*ACTION_QUICK;
    if q.is_match(crate::prefix(s.human_low, 1 << 20).as_bytes()) {
        return true;
    }
    let html = crate::prefix(&s.parts.html_raw, 1 << 20);
    !html.is_empty() && q.is_match(html.to_ascii_lowercase().as_bytes())
}

/// The first claim about incoming mail in the human text (its first 64 kB).
fn incoming_claim(s: &Signals<'_>) -> Option<&'static str> {
    let h = crate::prefix(s.human, 64 << 10);
    let owned;
    let low = match crate::prefix(s.human_low, 64 << 10) {
        l if l.len() == h.len() => l,
        _ => {
            owned = h.to_ascii_lowercase();
            &owned
        }
    };
    // The claim an ASCII-case-insensitive Aho-Corasick search of `h` (standard semantics)
    // found: the one that ends first.
    INCOMING
        .find_standard(low.as_bytes(), 0)
        .and_then(|m| INCOMING_CLAIMS.get(m.pattern))
        .copied()
}

/// An attachment outside the report parts, of a kind a
/// delivery report never carries: archives, executables, scripts, disk images, web pages,
/// macro-enabled documents. (A web page counts by its file name only: an HTML part without one
/// is the notice's own text.)
fn is_dangerous_attachment(a: &crate::mime::Attachment) -> bool {
    const TYPES: &[&str] = &[
        "application/zip",
        "application/x-zip",
        "application/x-rar",
        "application/vnd.rar",
        "application/x-7z",
        "application/gzip",
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/x-dosexec",
        "application/javascript",
        "application/x-javascript",
        "application/hta",
        "application/x-iso9660-image",
        "application/vnd.ms-word.document.macroenabled",
        "application/vnd.ms-excel.sheet.macroenabled",
        "image/svg+xml",
    ];
    const EXTENSIONS: &[&str] = &[
        "zip", "rar", "7z", "gz", "tgz", "cab", "ace", "arj", "exe", "scr", "com", "pif", "bat",
        "cmd", "msi", "dll", "js", "jse", "vbs", "vbe", "wsf", "hta", "ps1", "jar", "lnk", "iso",
        "img", "vhd", "html", "htm", "shtml", "xhtml", "svg", "docm", "xlsm", "pptm",
    ];
    let ctype = a.content_type.to_ascii_lowercase();
    TYPES.iter().any(|t| ctype.starts_with(t))
        || a.name
            .rsplit_once('.')
            .is_some_and(|(_, ext)| EXTENSIONS.contains(&ext.trim().to_ascii_lowercase().as_str()))
}

pub fn assess(s: &Signals<'_>) -> Authenticity {
    let mut score = 0i32;
    let mut reasons = Vec::new();
    // Anything that poses as a mail system's notice is judged, whether or not a failed
    // recipient was found in it: a fake "mailbox quota exceeded" notice names none.
    // (When only its Subject poses, a notice that does not turn out suspicious is just not
    // a bounce: a list's mail about bounces, say.)
    let not_a_bounce = || Authenticity {
        verdict: Verdict::Unknown,
        score: 0,
        reasons: vec!["Not a bounce: authenticity of bounces does not apply.".into()],
    };
    // A reply pasted alone is no notice: there is nothing to judge.
    if crate::is_reply_alone(s.recipients) {
        return Authenticity {
            verdict: Verdict::Unknown,
            score: 0,
            reasons: vec![
                "A server's reply on its own: there is no notice whose authenticity could be judged."
                    .into(),
            ],
        };
    }
    let named = matches!(s.kind, Kind::Bounce | Kind::Delay)
        || crate::text::contains_ci(&s.top.from_name, "mail delivery")
        || crate::text::contains_ci(&s.top.from_name, "mailer-daemon");
    let posing = named || (s.bounce_subject && s.kind == Kind::NotABounce);
    if !posing && s.kind != Kind::Success {
        return not_a_bounce();
    }

    // Links.
    let ls = links(s);
    let own = [
        Some(family(domain_of(&s.top.from_addr))),
        s.reporting_mta.map(family),
    ];
    let foreign_links: Vec<&String> = ls
        .iter()
        .filter(|u| {
            let d = link_domain(u);
            !allowed(d) && !own.iter().flatten().any(|f| *f == family(d))
        })
        .collect();
    if !foreign_links.is_empty() {
        let host = link_domain(foreign_links[0]).to_string();
        let ip_literal = host.bytes().all(|c| c.is_ascii_digit() || c == b'.');
        score += 2;
        reasons.push(format!(
            "It contains a link to {host}{}, which is not a mail provider's help site.",
            if ip_literal {
                " (a bare IP address)"
            } else {
                ""
            }
        ));
        if asks_to_act(s) {
            score += 3;
            reasons.push("It asks you to click to act (retry, release, verify, log in); real bounces never do.".into());
        }
    }

    // Attachments outside the report parts.
    if !s.parts.foreign.is_empty() {
        score += 3;
        reasons.push(format!(
            "It carries an attachment that is not part of a delivery report: {}.",
            s.parts.foreign[0]
        ));
        // An archive, a program, a script or a web page: what malware and credential
        // phishing attach to fake bounces ("the undelivered message is attached").
        if let Some(a) = s.parts.foreign.iter().find(|a| is_dangerous_attachment(a)) {
            score += 3;
            reasons.push(format!(
                "The attachment {a} is an archive, program or web page; a real bounce returns the message itself, never one of these. Do not open it."
            ));
        }
    }

    // Display name mimicking a mail system, from an unrelated domain.
    let name = s.top.from_name.to_ascii_lowercase();
    let mimics = [
        "mail delivery",
        "mailer-daemon",
        "mailer daemon",
        "postmaster",
        "mail administrator",
        "email quarantine",
        "mail system",
    ]
    .iter()
    .any(|w| name.contains(w));
    let from_dom = domain_of(&s.top.from_addr);
    // A display name that is the address itself ("postmaster@x") mimics nothing.
    let name_is_address = name.contains('@');
    if mimics && !name_is_address && !from_dom.is_empty() {
        let fam = family(from_dom);
        let related = |host: &str| family(host) == fam;
        let mta_related = s.reporting_mta.is_some_and(related);
        let recv_related = hosts_in(&s.top.received_all).any(related);
        let rcpt_related = s
            .recipients
            .iter()
            .any(|r| related(domain_of(&r.recipient)));
        // Only a named host that is unrelated counts; bare IPs say nothing either way.
        let named = |h: &str| h.contains('.') && h.bytes().any(|c| c.is_ascii_alphabetic());
        let no_evidence =
            !s.reporting_mta.is_some_and(named) && !hosts_in(&s.top.received_all).any(named);
        if !mta_related && !recv_related && !rcpt_related && !no_evidence {
            score += 3;
            reasons.push(format!(
                "It is signed \"{}\" but comes from {from_dom}, unrelated to the servers that handled it.",
                s.top.from_name
            ));
        }
    }

    // A display name that claims the recipient's own domain ("example.org Mail Administrator",
    // "Postmaster of example.org") on a notice sent from an unrelated domain: phishing that
    // poses as the reader's own mail service.
    let name_low = s.top.from_name.to_ascii_lowercase();
    if !name_low.is_empty() && !name_low.contains('@') && !from_dom.is_empty() {
        // The domain as a word of the name (`mail.com` is not claimed by "gmail.com").
        let names = |b: &str| {
            name_low.match_indices(b).any(|(i, m)| {
                let edge = |c: Option<char>| {
                    !c.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-')
                };
                edge(name_low[..i].chars().next_back())
                    && edge(name_low[i + m.len()..].chars().next())
            })
        };
        let own_claimed = s.top.to.iter().map(|t| domain_of(t)).find(|d| {
            let b = base(d);
            b.contains('.') && names(&b) && family(d) != family(from_dom)
        });
        if let Some(d) = own_claimed {
            score += 3;
            reasons.push(format!(
                "Its sender's name \"{}\" claims your own domain {d}, but it was sent from {from_dom}.",
                s.top.from_name
            ));
        }
    }

    // Claims about incoming mail.
    if let Some(w) = incoming_claim(s) {
        score += 3;
        reasons.push(format!(
            "It talks about mail coming to you (\"{w}\"); real bounces only report on mail you sent."
        ));
    }

    // No returned original.
    if s.original.is_none() {
        score += 1;
        reasons.push("It does not include the message it says could not be delivered.".into());
    }

    // Non-null envelope sender.
    if let Some(rp) = &s.top.return_path {
        let v = rp.trim().trim_matches(['<', '>']).trim();
        if !v.is_empty() && posing {
            score += 1;
            reasons.push(format!(
                "Its envelope sender is {v}; genuine bounces are sent from the null sender <>."
            ));
        }
    }

    // Genuine structure.
    let mut genuine = 0;
    if s.has_dsn
        && let Some(o) = s.original
    {
        let hit = s.recipients.iter().any(|r| {
            o.recipients
                .iter()
                .any(|x| x.eq_ignore_ascii_case(&r.recipient))
        });
        if hit {
            genuine += 3;
            reasons.push(
                "It is a standard delivery report about a recipient of the returned message."
                    .into(),
            );
        }
    }
    if let (Some(m), Some(r)) = (s.reporting_mta, s.top.received_top.as_deref())
        && m.contains('.')
        && contains_ci(r, &base(m))
    {
        genuine += 3;
        reasons.push(format!(
            "The reporting server {m} is the one that handed the notice over."
        ));
    }
    score -= genuine.min(6);

    let mut verdict = if score >= 3 {
        Verdict::Suspicious
    } else if score <= -3 {
        Verdict::Genuine
    } else {
        Verdict::Unknown
    };
    // mailerd's reception found no valid signature on the return path this came back to:
    // whatever else it is, it is not about mail we sent (a phishing notice stays suspicious).
    if let Some(mark) = &s.top.batv_mark
        && s.kind != Kind::Success
    {
        reasons.push(format!(
            "It was sent to an address of yours without the signature (BATV) your mail always carries \
             (X-Mailerd-BATV: {mark}): it answers a message that was not sent by you. Someone used your \
             address as the sender of their own mail; your account did not send it."
        ));
        if verdict != Verdict::Suspicious {
            verdict = Verdict::Backscatter;
        }
    }
    if !named && s.kind == Kind::NotABounce && verdict != Verdict::Suspicious {
        return not_a_bounce();
    }
    Authenticity {
        verdict,
        score,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_claims_a_domain_only_as_a_whole_word() {
        use crate::Top;
        let top = |name: &str| Top {
            from_name: name.into(),
            from_addr: "admin@phish.example".into(),
            to: vec!["alice@mail.com".into()],
            ..Top::default()
        };
        let claims = |name: &str| {
            let t = top(name);
            let parts = crate::mime::Parts::default();
            let s = Signals {
                kind: Kind::Bounce,
                top: &t,
                parts: &parts,
                human: "",
                human_low: "",
                original: None,
                reporting_mta: None,
                recipients: &[],
                has_dsn: false,
                bounce_subject: true,
            };
            assess(&s)
                .reasons
                .iter()
                .any(|r| r.contains("claims your own domain"))
        };
        assert!(claims("mail.com Mail Administrator"));
        assert!(claims("Postmaster (mail.com)"));
        assert!(!claims("gmail.com Support"));
        assert!(!claims("hotmail.community team"));
    }

    #[test]
    fn dangerous_attachments_by_type_or_name() {
        let d = |content_type: &str, name: &str| {
            super::is_dangerous_attachment(&crate::mime::Attachment {
                content_type: content_type.into(),
                name: name.into(),
            })
        };
        assert!(d("application/zip", "undelivered_message.zip"));
        assert!(d("application/octet-stream", "Message.HTM"));
        assert!(d("application/x-msdownload", ""));
        assert!(d("application/octet-stream", "returned.pdf.exe"));
        assert!(!d("application/ms-tnef", "winmail.dat"));
        assert!(!d("text/plain", "mailheaders-000000022.txt"));
        assert!(!d("multipart/alternative", ""));
        assert!(!d("text/html", ""));
        assert!(!d("message/rfc822", "original.eml"));
    }

    use super::*;

    /// The former `base`: split, then join the last labels.
    fn base_reference(host: &str) -> String {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = h.split('.').collect();
        let n = labels.len();
        if n >= 3 && labels[n - 2].len() <= 3 && labels[n - 1].len() == 2 {
            labels[n - 3..].join(".")
        } else if n >= 2 {
            labels[n - 2..].join(".")
        } else {
            h
        }
    }

    proptest::proptest! {
        #[test]
        fn base_matches_reference(h in "[a-zA-Z.é]{0,12}") {
            proptest::prop_assert_eq!(base(&h), base_reference(&h));
        }
    }

    #[test]
    fn domains() {
        assert_eq!(
            link_domain("https://support.google.com/mail/?p=x"),
            "support.google.com"
        );
        assert!(allowed("support.google.com"));
        assert!(allowed("x.spamhaus.org"));
        assert!(!allowed("evil-spamhaus.org"));
        assert_eq!(base("mx1.mail.example.co.jp"), "example.co.jp");
        assert_eq!(base("mx.example.org"), "example.org");
        for h in [
            "",
            ".",
            "..",
            "a",
            "A.b",
            "x.co.jp",
            "X.Y.CO.JP.",
            "a.b.c",
            "ab.c.de",
            "a..b",
            "mx.mail.EXAMPLE.net",
            "a.bcde.fg",
            "1.2.3.4",
            "é.ü.ab",
            ".co.jp",
        ] {
            assert_eq!(base(h), base_reference(h), "{h:?}");
        }
        for (h, d) in [
            ("x.aka.ms", "aka.ms"),
            ("AKA.MS", "aka.ms"),
            ("xaka.ms", "aka.ms"),
            ("ms", "aka.ms"),
        ] {
            let reference = {
                let h = h.to_ascii_lowercase();
                h == d || h.ends_with(&format!(".{d}"))
            };
            assert_eq!(
                is_domain_or_sub(h.as_bytes(), d.as_bytes()),
                reference,
                "{h:?}"
            );
        }
    }
}
