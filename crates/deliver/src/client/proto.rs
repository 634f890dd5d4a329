//! Sans-IO pieces of the SMTP client: reply lines, EHLO capabilities, command lines with
//! ESMTP parameters (RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN),
//! xtext, and dot-stuffing (RFC 5321 section 4.5.2).

use mailerd_types::{DeliveryRequest, EnhancedStatus, Notify, RecipientSpec, Ret, SmtpReply};

/// Longest reply line we accept (RFC 5321 allows 512 octets; servers exceed it).
pub const MAX_REPLY_LINE: usize = 4096;
/// Most lines in one reply.
pub const MAX_REPLY_LINES: usize = 128;
/// Most bytes in one reply.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Why bytes from the server are not a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("malformed reply line {0:?}")]
    Malformed(String),
    #[error("reply line has code {found}, the reply started with {expected}")]
    MixedCodes { expected: u16, found: u16 },
    #[error("reply too long")]
    TooLong,
}

/// One parsed reply line: the code, whether it is the last line, and its text.
pub fn parse_reply_line(line: &[u8]) -> Result<(u16, bool, String), ReplyError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let bad = || ReplyError::Malformed(String::from_utf8_lossy(&line[..line.len().min(80)]).into());
    if line.len() < 3
        || !line[..3].iter().all(u8::is_ascii_digit)
        || !(b'2'..=b'5').contains(&line[0])
    {
        return Err(bad());
    }
    let code = u16::from(line[0] - b'0') * 100
        + u16::from(line[1] - b'0') * 10
        + u16::from(line[2] - b'0');
    let (last, text) = match line.get(3) {
        None => (true, &line[3..]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(bad()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

/// Collects reply lines into one [`SmtpReply`], enforcing the size bounds.
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    code: Option<u16>,
    lines: Vec<String>,
    bytes: usize,
}

impl ReplyBuilder {
    /// Feeds one line (with or without CRLF). Returns the reply when this was the last line.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<SmtpReply>, ReplyError> {
        self.bytes += line.len();
        if line.len() > MAX_REPLY_LINE
            || self.bytes > MAX_REPLY_BYTES
            || self.lines.len() >= MAX_REPLY_LINES
        {
            return Err(ReplyError::TooLong);
        }
        let (code, last, text) = parse_reply_line(line)?;
        match self.code {
            Some(c) if c != code => {
                return Err(ReplyError::MixedCodes {
                    expected: c,
                    found: code,
                });
            }
            _ => self.code = Some(code),
        }
        self.lines.push(text);
        if !last {
            return Ok(None);
        }
        let lines = std::mem::take(&mut self.lines);
        let status = lines
            .first()
            .and_then(|l| l.split_whitespace().next())
            .and_then(|w| EnhancedStatus::parse(w).ok())
            .filter(|s| u16::from(s.class.digit()) == code / 100);
        self.code = None;
        self.bytes = 0;
        Ok(Some(SmtpReply {
            code,
            status,
            lines,
        }))
    }
}

/// What the server said it supports in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The name the server gave on the first line.
    pub name: String,
    /// `false` after a HELO fallback.
    pub esmtp: bool,
    pub pipelining: bool,
    /// `SIZE n`; `Some(0)` means no fixed limit.
    pub size: Option<u64>,
    pub starttls: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub enhanced_status_codes: bool,
}

impl Capabilities {
    /// Reads an EHLO 250 reply.
    pub fn from_ehlo(reply: &SmtpReply) -> Self {
        let mut caps = Capabilities {
            esmtp: true,
            ..Default::default()
        };
        caps.name = reply
            .lines
            .first()
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(kw) = words.next() else { continue };
            match kw.to_ascii_uppercase().as_str() {
                "PIPELINING" => caps.pipelining = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "STARTTLS" => caps.starttls = true,
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "DSN" => caps.dsn = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                _ => {}
            }
        }
        caps
    }

    /// The message is larger than the server's advertised fixed limit.
    pub fn too_big(&self, len: usize) -> Option<u64> {
        match self.size {
            Some(limit) if limit > 0 && len as u64 > limit => Some(limit),
            _ => None,
        }
    }
}

/// xtext (RFC 3461 section 4): `+`, `=`, controls, space and non-ASCII as `+XX`.
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if (33..=126).contains(&b) && b != b'+' && b != b'=' {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

fn notify_param(n: &Notify) -> Option<String> {
    if n.never {
        return Some("NEVER".into());
    }
    let mut v = Vec::new();
    if n.success {
        v.push("SUCCESS");
    }
    if n.failure {
        v.push("FAILURE");
    }
    if n.delay {
        v.push("DELAY");
    }
    (!v.is_empty()).then(|| v.join(","))
}

/// The message cannot go to a server without SMTPUTF8 (RFC 6531): the sender asked for
/// SMTPUTF8 and an address or the header section really holds non-ASCII text. A message
/// flagged SMTPUTF8 that is all ASCII is sent without the parameter (as Postfix does).
pub fn needs_smtputf8(req: &DeliveryRequest) -> bool {
    if !req.smtputf8 {
        return false;
    }
    let header_end = req
        .content
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(req.content.len());
    !req.reverse_path.is_ascii()
        || req.recipients.iter().any(|r| !r.spec.address.is_ascii())
        || !req.content[..header_end].is_ascii()
}

/// `MAIL FROM:<...>` with the parameters the server supports.
pub fn mail_command(req: &DeliveryRequest, caps: &Capabilities) -> String {
    let mut cmd = format!("MAIL FROM:<{}>", req.reverse_path);
    if caps.size.is_some() {
        cmd.push_str(&format!(" SIZE={}", req.content.len()));
    }
    if req.eight_bit && caps.eight_bit_mime {
        cmd.push_str(" BODY=8BITMIME");
    }
    if req.smtputf8 && caps.smtputf8 {
        cmd.push_str(" SMTPUTF8");
    }
    if caps.dsn {
        match req.ret {
            Some(Ret::Full) => cmd.push_str(" RET=FULL"),
            Some(Ret::Hdrs) => cmd.push_str(" RET=HDRS"),
            None => {}
        }
        if let Some(envid) = &req.envid {
            cmd.push_str(&format!(" ENVID={}", xtext(envid)));
        }
    }
    cmd.push_str("\r\n");
    cmd
}

/// `RCPT TO:<...>` with NOTIFY and ORCPT passed through when the server offers DSN
/// (RFC 3461 section 5.2; never invented when absent).
pub fn rcpt_command(rcpt: &RecipientSpec, caps: &Capabilities) -> String {
    let mut cmd = format!("RCPT TO:<{}>", rcpt.address);
    if caps.dsn {
        if let Some(n) = rcpt.notify.as_ref().and_then(notify_param) {
            cmd.push_str(&format!(" NOTIFY={n}"));
        }
        if let Some((kind, addr)) = &rcpt.orcpt {
            cmd.push_str(&format!(" ORCPT={kind};{}", xtext(addr)));
        }
    }
    cmd.push_str("\r\n");
    cmd
}

/// The message as sent after 354: every line starting with `.` gets another `.` (from the
/// very first byte on), then the end-of-data mark. A CRLF is added only when the content does
/// not already end with one, so the receiver gets exactly the bytes we hold.
pub fn dot_stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 64 + 5);
    // Only lines that start with a dot change: the text between them is copied at once, and
    // they are found with a vectorised search for "\n." (this runs for every message sent).
    if content.first() == Some(&b'.') {
        out.push(b'.');
    }
    let mut from = 0;
    for i in memchr::memmem::find_iter(content, b"\n.") {
        out.extend_from_slice(&content[from..=i]);
        out.push(b'.');
        from = i + 1;
    }
    out.extend_from_slice(&content[from..]);
    if !(content.is_empty() || content.ends_with(b"\r\n")) {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_reply(wire: &str, expected: Result<(u16, Option<&str>, Vec<&str>), ()>) {
        let mut b = ReplyBuilder::default();
        let mut got = Err(());
        for line in wire.split_inclusive('\n') {
            match b.push(line.as_bytes()) {
                Ok(Some(r)) => {
                    got = Ok(r);
                    break;
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        match (got, expected) {
            (Ok(r), Ok((code, st, lines))) => {
                assert_eq!(r.code, code);
                assert_eq!(r.status.map(|s| s.to_string()).as_deref(), st);
                assert_eq!(r.lines, lines);
            }
            (Err(()), Err(())) => {}
            (g, e) => panic!("{wire:?}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn replies() {
        check_reply("250 OK\r\n", Ok((250, None, vec!["OK"])));
        check_reply("250\r\n", Ok((250, None, vec![""])));
        check_reply("250 \n", Ok((250, None, vec![""])));
        check_reply(
            "550-5.1.1 No such\r\n550-5.1.1 user here\r\n550 5.1.1 sorry\r\n",
            Ok((
                550,
                Some("5.1.1"),
                vec!["5.1.1 No such", "5.1.1 user here", "5.1.1 sorry"],
            )),
        );
        check_reply(
            "452 4.5.3 Too many\r\n",
            Ok((452, Some("4.5.3"), vec!["4.5.3 Too many"])),
        );
        check_reply("550 4.4.7 odd\r\n", Ok((550, None, vec!["4.4.7 odd"])));
        check_reply("354 go ahead\r\n", Ok((354, None, vec!["go ahead"])));
        check_reply("250-a\r\n450 b\r\n", Err(()));
        check_reply("hello\r\n", Err(()));
        check_reply("650 no\r\n", Err(()));
        check_reply("25\r\n", Err(()));
        check_reply("250x\r\n", Err(()));
    }

    #[test]
    fn reply_bounds() {
        let mut b = ReplyBuilder::default();
        let long = format!("250-{}\r\n", "x".repeat(MAX_REPLY_LINE));
        assert_eq!(b.push(long.as_bytes()), Err(ReplyError::TooLong));
        let mut b = ReplyBuilder::default();
        let mut res = Ok(None);
        for _ in 0..=MAX_REPLY_LINES {
            res = b.push(b"250-more\r\n");
            if res.is_err() {
                break;
            }
        }
        assert_eq!(res, Err(ReplyError::TooLong));
    }

    proptest::proptest! {
        #[test]
        fn reply_builder_never_panics(lines in proptest::collection::vec(
            proptest::collection::vec(proptest::num::u8::ANY, 0..600), 0..20)) {
            let mut b = ReplyBuilder::default();
            for l in &lines {
                match b.push(l) {
                    Ok(Some(r)) => {
                        proptest::prop_assert!((200..600).contains(&r.code));
                        b = ReplyBuilder::default();
                    }
                    Ok(None) => {}
                    Err(_) => b = ReplyBuilder::default(),
                }
            }
        }

        #[test]
        fn dot_stuffing_round_trips(body in "[.a\r\n]{0,60}") {
            // Unstuff what we send: the receiver gets the body back, CRLF-terminated.
            let wire = dot_stuff(body.as_bytes());
            proptest::prop_assert!(wire.ends_with(b".\r\n"));
            let text = String::from_utf8(wire).expect("ascii");
            let inner = &text[..text.len() - 3];
            let mut back = String::new();
            for line in inner.split_inclusive('\n') {
                back.push_str(line.strip_prefix('.').unwrap_or(line));
            }
            let mut expected = body.clone();
            if !(expected.is_empty() || expected.ends_with("\r\n")) {
                expected.push_str("\r\n");
            }
            proptest::prop_assert_eq!(back, expected);
        }
    }

    #[test]
    fn ehlo_capabilities() {
        let r = SmtpReply {
            code: 250,
            status: None,
            lines: [
                "mx.example.org Hello",
                "PIPELINING",
                "SIZE 1000",
                "starttls",
                "8BITMIME",
                "DSN",
                "SMTPUTF8",
            ]
            .map(String::from)
            .to_vec(),
        };
        let c = Capabilities::from_ehlo(&r);
        assert!(c.pipelining && c.starttls && c.eight_bit_mime && c.dsn && c.smtputf8);
        assert_eq!(c.size, Some(1000));
        assert_eq!(c.name, "mx.example.org");
        assert_eq!(c.too_big(1001), Some(1000));
        assert_eq!(c.too_big(1000), None);
        let c = Capabilities::from_ehlo(&SmtpReply::new(250, None, "x"));
        assert_eq!(c.too_big(usize::MAX), None);
    }

    fn check_stuff(input: &str, expected: &str) {
        assert_eq!(
            String::from_utf8_lossy(&dot_stuff(input.as_bytes())),
            expected,
            "input {input:?}"
        );
    }

    #[test]
    fn dot_stuffing() {
        check_stuff("", ".\r\n");
        check_stuff("a\r\n", "a\r\n.\r\n");
        check_stuff("a", "a\r\n.\r\n");
        check_stuff(".x\r\n", "..x\r\n.\r\n");
        check_stuff("a\r\n.\r\n..b\r\n", "a\r\n..\r\n...b\r\n.\r\n");
        check_stuff("a.b\r\n", "a.b\r\n.\r\n");
        check_stuff("a\r\n.", "a\r\n..\r\n.\r\n");
    }

    #[test]
    fn smtputf8_needed_only_for_non_ascii_envelope_or_headers() {
        let req = |from: &str, to: &str, content: &str, flag: bool| DeliveryRequest {
            queue_id: mailerd_types::QueueId("q".into()),
            reverse_path: from.into(),
            ret: None,
            envid: None,
            smtputf8: flag,
            eight_bit: false,
            next_hop: mailerd_types::NextHop::Local,
            recipients: vec![mailerd_types::RequestRecipient {
                index: 0,
                spec: RecipientSpec::new(to),
            }],
            content: std::sync::Arc::from(content.as_bytes()),
            attempts: 0,
        };
        assert!(!needs_smtputf8(&req(
            "a@x",
            "b@y",
            "S: x\r\n\r\nbody é\r\n",
            true
        )));
        assert!(needs_smtputf8(&req("a@x", "bé@y", "S: x\r\n\r\n", true)));
        assert!(needs_smtputf8(&req("é@x", "b@y", "S: x\r\n\r\n", true)));
        assert!(needs_smtputf8(&req(
            "a@x",
            "b@y",
            "Subject: é\r\n\r\n",
            true
        )));
        assert!(!needs_smtputf8(&req("a@x", "bé@y", "S: x\r\n\r\n", false)));
    }

    #[test]
    fn xtext_encoding() {
        assert_eq!(xtext("bob+sales@example.org"), "bob+2Bsales@example.org");
        assert_eq!(xtext("a=b c"), "a+3Db+20c");
        assert_eq!(xtext("é"), "+C3+A9");
    }

    #[test]
    fn dsn_parameters_only_when_offered() {
        let mut spec = RecipientSpec::new("bob@example.org");
        spec.notify = Some(Notify {
            success: true,
            failure: true,
            ..Default::default()
        });
        spec.orcpt = Some(("rfc822".into(), "Bob+x@example.org".into()));
        let plain = Capabilities::default();
        let dsn = Capabilities {
            dsn: true,
            ..Default::default()
        };
        assert_eq!(rcpt_command(&spec, &plain), "RCPT TO:<bob@example.org>\r\n");
        assert_eq!(
            rcpt_command(&spec, &dsn),
            "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bx@example.org\r\n"
        );
        spec.notify = Some(Notify {
            never: true,
            ..Default::default()
        });
        spec.orcpt = None;
        assert_eq!(
            rcpt_command(&spec, &dsn),
            "RCPT TO:<bob@example.org> NOTIFY=NEVER\r\n"
        );
    }
}
