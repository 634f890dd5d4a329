//! Header fixes done at reception (Postfix's cleanup): the `Received:` trace header
//! (RFC 5321 section 4.4), and on submission a missing `Date:` and `Message-ID:`
//! (RFC 5322 section 3.6, RFC 6409 section 8).

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

#[cfg(test)]
mod tests {
    use super::*;

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
