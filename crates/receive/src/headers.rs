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

/// Appends `s` as allowed in a header we write from client-supplied text (HELO, user name):
/// control characters and `(`, `)`, `\` (comment syntax) become `_`, cut at 255 characters.
fn push_sanitized(out: &mut String, s: &str) {
    let plain = |b: u8| (0x20..0x7f).contains(&b) && !matches!(b, b'(' | b')' | b'\\');
    if s.len() <= 255 && s.bytes().all(plain) {
        // Printable ASCII with nothing to replace (every name a well-behaved client sends).
        out.push_str(s);
        return;
    }
    out.extend(s.chars().map(sanitized).take(255));
}

/// A character of client-supplied text as a header we write may carry it.
fn sanitized(c: char) -> char {
    if c.is_control() || c == '(' || c == ')' || c == '\\' {
        '_'
    } else {
        c
    }
}

/// The `Received:` header, folded, with CRLF at the end.
pub(crate) fn received(t: &Trace<'_>) -> String {
    use std::fmt::Write as _;
    let mut h = String::with_capacity(192);
    h.push_str("Received: from ");
    push_sanitized(&mut h, t.helo);
    // Writing to a String cannot fail.
    let _ = match t.ip.to_canonical() {
        std::net::IpAddr::V4(a) => write!(h, " ([{a}])"),
        std::net::IpAddr::V6(a) => write!(h, " ([IPv6:{a}])"),
    };
    if let Some((version, cipher)) = t.tls {
        h.push_str("\r\n\t(using ");
        h.push_str(version);
        h.push_str(" with cipher ");
        h.push_str(cipher);
        h.push(')');
    }
    if let Some(u) = t.auth_user {
        h.push_str("\r\n\t(Authenticated sender: ");
        push_sanitized(&mut h, u);
        h.push(')');
    }
    h.push_str("\r\n\tby ");
    h.push_str(t.hostname);
    // RFC 3848 protocol names.
    h.push_str(" (mailerd) with ");
    h.push_str(if t.esmtp { "ESMTP" } else { "SMTP" });
    if t.tls.is_some() {
        h.push('S');
    }
    if t.auth_user.is_some() {
        h.push('A');
    }
    if let Some(r) = t.single_recipient {
        h.push_str("\r\n\tfor <");
        push_sanitized(&mut h, r);
        h.push('>');
    }
    h.push_str("; ");
    h.push_str(t.date);
    h.push_str("\r\n");
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

/// Does this header line start the field `name` (case-insensitive, blanks before the colon
/// allowed)?
fn starts_field(line: &[u8], name: &[u8]) -> bool {
    line.len() > name.len()
        && line[..name.len()].eq_ignore_ascii_case(name)
        && line[name.len()..].trim_ascii_start().starts_with(b":")
}

/// How many fields with this name the header section has.
pub(crate) fn count_headers(msg: &[u8], name: &str) -> usize {
    let name = name.as_bytes();
    header_section(msg)
        .split(|&b| b == b'\n')
        .filter(|line| starts_field(line, name))
        .count()
}

/// The message without its header fields of this name (case-insensitive), continuation lines
/// included; `None` when it has none (the common case: nothing is copied). Only the header
/// section is looked at; the body is never changed.
pub(crate) fn without_headers(msg: &[u8], name: &str) -> Option<Vec<u8>> {
    let name = name.as_bytes();
    let section = header_section(msg);
    // Byte ranges of the fields to drop: a named line and the folded lines after it.
    let mut drop: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    let mut dropping = false;
    while start < section.len() {
        let end = section[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(section.len(), |i| start + i + 1);
        let line = &section[start..end];
        let folded = matches!(line.first(), Some(b' ' | b'\t'));
        if !folded {
            dropping = starts_field(line, name);
        }
        if dropping {
            match drop.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => drop.push((start, end)),
            }
        }
        start = end;
    }
    if drop.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(msg.len());
    let mut from = 0;
    for (a, b) in drop {
        out.extend_from_slice(&msg[from..a]);
        from = b;
    }
    out.extend_from_slice(&msg[from..]);
    Some(out)
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

    /// The header as it was built before: one `format!` per part, `sanitize` collecting a
    /// new String.
    fn received_reference(t: &Trace<'_>) -> String {
        fn sanitize(s: &str) -> String {
            s.chars().map(sanitized).take(255).collect()
        }
        let literal = match t.ip.to_canonical() {
            std::net::IpAddr::V4(a) => format!("[{a}]"),
            std::net::IpAddr::V6(a) => format!("[IPv6:{a}]"),
        };
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

    fn trace<'a>(
        helo: &'a str,
        user: Option<&'a str>,
        rcpt: Option<&'a str>,
        ip: &str,
        esmtp: bool,
        tls: bool,
    ) -> Trace<'a> {
        Trace {
            helo,
            ip: ip.parse().expect("ip"),
            hostname: "mx.example.org",
            esmtp,
            tls: tls.then_some(("TLSv1.3", "TLS13_AES_128_GCM_SHA256")),
            auth_user: user,
            single_recipient: rcpt,
            date: "Sat, 28 Nov 2026 04:05:07 +0000",
        }
    }

    #[test]
    fn received_is_built_as_before() {
        let long = "h".repeat(255);
        let longer = "h".repeat(256);
        let names = [
            "",
            "client.example",
            "[192.0.2.1]",
            "a(b)c\\d",
            "tab\there",
            "caf\u{e9}.example",
            "\u{85}nel",
            "del\u{7f}",
            long.as_str(),
            longer.as_str(),
            "x\r\nInjected: yes",
        ];
        for ip in ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.7"] {
            for n in names {
                for (esmtp, tls) in [(true, true), (true, false), (false, false)] {
                    for (user, rcpt) in [(None, None), (Some(n), Some(n)), (Some("bob"), None)] {
                        let t = trace(n, user, rcpt, ip, esmtp, tls);
                        assert_eq!(received(&t), received_reference(&t), "{n:?} {ip}");
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_names_give_the_header_as_before(helo in ".{0,300}", user in ".{0,40}", rcpt in ".{0,40}") {
            let t = trace(&helo, Some(&user), Some(&rcpt), "198.51.100.2", true, false);
            proptest::prop_assert_eq!(received(&t), received_reference(&t));
        }
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

    #[test]
    fn named_fields_are_removed_with_their_folded_lines_and_only_from_the_header() {
        let msg = b"From: a@b\r\nX-Mailerd-BATV: fail (forged)\r\n\tmore\r\nSubject: s\r\nx-mailerd-batv : none\r\n\r\nX-Mailerd-BATV: body line\r\n";
        let out = without_headers(msg, "X-Mailerd-BATV").expect("fields present");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "From: a@b\r\nSubject: s\r\n\r\nX-Mailerd-BATV: body line\r\n"
        );
        assert!(
            without_headers(
                b"From: a@b\r\nX-Mailerd-BATVx: 1\r\n\r\nbody\r\n",
                "X-Mailerd-BATV"
            )
            .is_none()
        );
        assert!(without_headers(b"\r\nX-Mailerd-BATV: 1\r\n", "X-Mailerd-BATV").is_none());
        // A header section with no body keeps what is not named.
        let out = without_headers(b"X-Mailerd-BATV: 1\r\nFrom: a@b\r\n", "X-Mailerd-BATV");
        assert_eq!(out.as_deref(), Some(&b"From: a@b\r\n"[..]));
    }
}
