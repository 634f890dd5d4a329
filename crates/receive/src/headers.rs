//! Header fixes done at reception (Postfix's cleanup): the `Received:` trace header
//! (RFC 5321 section 4.4), and on submission a missing `Date:` and `Message-ID:`
//! (RFC 5322 section 3.6, RFC 6409 section 8).

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// RFC 5322 date-time in UTC for seconds since the Unix epoch:
/// `Sat, 28 Nov 2026 04:05:07 +0000`.
pub(crate) fn rfc5322_date(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!("{weekday}, {d} {mon} {year} {h:02}:{m:02}:{s:02} +0000")
}

/// The facts that go into a Received header.
pub(crate) struct Trace<'a> {
    pub helo: &'a str,
    pub ip: std::net::IpAddr,
    pub hostname: &'a str,
    pub esmtp: bool,
    /// TLS version and cipher suite names.
    pub tls: Option<(&'a str, &'a str)>,
    pub auth_user: Option<&'a str>,
    /// Named only when there is exactly one recipient (as Postfix does, for privacy).
    pub single_recipient: Option<&'a str>,
    pub date: &'a str,
}

/// Characters allowed in a header we write from client-supplied text (HELO, user name).
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '(' || c == ')' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .take(255)
        .collect()
}

/// The `Received:` header, folded, with CRLF at the end.
pub(crate) fn received(t: &Trace<'_>) -> String {
    let literal = match t.ip.to_canonical() {
        std::net::IpAddr::V4(a) => format!("[{a}]"),
        std::net::IpAddr::V6(a) => format!("[IPv6:{a}]"),
    };
    // RFC 3848 protocol names.
    let mut with = String::from(if t.esmtp { "ESMTP" } else { "SMTP" });
    if t.tls.is_some() {
        with.push('S');
    }
    if t.auth_user.is_some() {
        with.push('A');
    }
    let mut h = format!("Received: from {} ({literal})", sanitize(t.helo));
    if let Some((version, cipher)) = t.tls {
        h.push_str(&format!("\r\n\t(using {version} with cipher {cipher})"));
    }
    if let Some(u) = t.auth_user {
        h.push_str(&format!("\r\n\t(Authenticated sender: {})", sanitize(u)));
    }
    h.push_str(&format!("\r\n\tby {} (mailerd) with {with}", t.hostname));
    if let Some(r) = t.single_recipient {
        h.push_str(&format!("\r\n\tfor <{}>", sanitize(r)));
    }
    h.push_str(&format!("; {}\r\n", t.date));
    h
}

/// The header section of a message: up to the first empty line (or everything).
fn header_section(msg: &[u8]) -> &[u8] {
    if msg.starts_with(b"\r\n") {
        return &[];
    }
    match msg.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => &msg[..i + 2],
        None => msg,
    }
}

/// Does the header section have a field with this name (case-insensitive)?
pub(crate) fn has_header(msg: &[u8], name: &str) -> bool {
    count_headers(msg, name) > 0
}

/// How many fields with this name the header section has.
pub(crate) fn count_headers(msg: &[u8], name: &str) -> usize {
    let name = name.as_bytes();
    header_section(msg)
        .split(|&b| b == b'\n')
        .filter(|line| {
            line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name)
                && line[name.len()..].trim_ascii_start().starts_with(b":")
        })
        .count()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new Message-ID: `<time.counter.random@hostname>`.
pub(crate) fn message_id(secs: u64, hostname: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u64(secs);
    format!("<{secs}.{n}.{:016x}@{hostname}>", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_795_838_707),
            "Sat, 28 Nov 2026 04:05:07 +0000"
        );
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn received_header_has_rfc5321_shape() {
        let t = Trace {
            helo: "client.example",
            ip: "192.0.2.1".parse().expect("ip"),
            hostname: "mx.example.org",
            esmtp: true,
            tls: Some(("TLSv1.3", "TLS13_AES_128_GCM_SHA256")),
            auth_user: Some("bob@example.org"),
            single_recipient: Some("alice@example.net"),
            date: "Sat, 28 Nov 2026 04:05:07 +0000",
        };
        assert_eq!(
            received(&t),
            "Received: from client.example ([192.0.2.1])\r\n\t(using TLSv1.3 with cipher TLS13_AES_128_GCM_SHA256)\r\n\t(Authenticated sender: bob@example.org)\r\n\tby mx.example.org (mailerd) with ESMTPSA\r\n\tfor <alice@example.net>; Sat, 28 Nov 2026 04:05:07 +0000\r\n"
        );
    }

    #[test]
    fn finds_headers_only_in_the_header_section() {
        let m = b"Subject: x\r\nmessage-id : <a@b>\r\n\r\nDate: not a header\r\n";
        assert!(has_header(m, "Message-ID"));
        assert!(!has_header(m, "Date"));
        assert_eq!(
            count_headers(b"Received: a\r\nReceived: b\r\n\r\n", "Received"),
            2
        );
        assert!(!has_header(b"\r\nDate: x\r\n", "Date"));
    }
}
