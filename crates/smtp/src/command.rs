//! SMTP command lines (RFC 5321 section 4.1) with the ESMTP parameters we support:
//! SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461),
//! AUTH (RFC 4954) and BDAT (RFC 3030, parsed only).
//!
//! Every parameter may appear at most once; a duplicate or an invalid value is a
//! [`CommandError::BadParamValue`] (501), an unknown keyword an [`CommandError::UnknownParam`]
//! (555), as RFC 5321 section 4.1.1.11 and RFC 3461 section 4 ask.

use mailerd_types::{Notify, Ret};

use crate::address::{self, AddressError, ForwardPath, ReversePath};
use crate::reply::{Reply, status};
use crate::xtext;

/// `BODY=` of MAIL FROM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    SevenBit,
    EightBitMime,
}

/// MAIL FROM with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFrom {
    pub reverse_path: ReversePath,
    pub size: Option<u64>,
    pub body: Option<Body>,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    /// `ENVID=`, xtext-decoded.
    pub envid: Option<String>,
    /// `AUTH=` (RFC 4954 section 5), xtext-decoded; `<>` stays `<>`.
    pub auth: Option<String>,
}

/// RCPT TO with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptTo {
    pub forward_path: ForwardPath,
    pub notify: Option<Notify>,
    /// `ORCPT=`: address type and xtext-decoded address.
    pub orcpt: Option<(String, String)>,
}

/// SASL mechanisms we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    Plain,
    Login,
}

/// One parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    Mail(MailFrom),
    Rcpt(RcptTo),
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy(String),
    Expn(String),
    Help,
    StartTls,
    Auth {
        mechanism: AuthMechanism,
        /// The initial response as sent (base64, or `=` for an empty one).
        initial: Option<String>,
    },
}

/// Why a command line was refused; each maps to one reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("command not recognized")]
    Unknown,
    #[error("command line is not valid UTF-8 or contains control characters")]
    BadBytes,
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    #[error("bad address syntax: {0}")]
    Address(#[from] AddressError),
    #[error("unsupported parameter {0}")]
    UnknownParam(String),
    #[error("invalid or repeated parameter {0}")]
    BadParamValue(String),
    #[error("unsupported authentication mechanism")]
    UnknownMechanism,
}

impl CommandError {
    /// The reply for this error.
    pub fn reply(&self) -> Reply {
        match self {
            CommandError::Unknown => {
                Reply::new(500, status(5, 5, 2), "Error: command not recognized")
            }
            CommandError::BadBytes => Reply::new(
                500,
                status(5, 5, 2),
                "Error: bad characters in command line",
            ),
            CommandError::Syntax(what) => {
                Reply::new(501, status(5, 5, 4), format!("Syntax: {what}"))
            }
            CommandError::Address(e) => {
                Reply::new(501, status(5, 1, 3), format!("Bad address syntax: {e}"))
            }
            CommandError::UnknownParam(p) => {
                Reply::new(555, status(5, 5, 4), format!("Unsupported option: {p}"))
            }
            CommandError::BadParamValue(p) => {
                Reply::new(501, status(5, 5, 4), format!("Bad parameter syntax: {p}"))
            }
            CommandError::UnknownMechanism => {
                Reply::new(504, status(5, 5, 4), "Unsupported authentication mechanism")
            }
        }
    }
}

/// Parses one command line (without its CRLF).
pub fn parse_command(line: &[u8]) -> Result<Command, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::BadBytes)?;
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CommandError::BadBytes);
    }
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let arg = rest.trim();
    let no_arg = |cmd: Command| {
        if arg.is_empty() {
            Ok(cmd)
        } else {
            Err(CommandError::Syntax("no argument expected"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" | "HELO" => {
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                return Err(CommandError::Syntax("EHLO hostname"));
            }
            if verb.eq_ignore_ascii_case("EHLO") {
                Ok(Command::Ehlo(arg.to_string()))
            } else {
                Ok(Command::Helo(arg.to_string()))
            }
        }
        "MAIL" => parse_mail(rest),
        "RCPT" => parse_rcpt(rest),
        "DATA" => no_arg(Command::Data),
        "RSET" => no_arg(Command::Rset),
        "QUIT" => no_arg(Command::Quit),
        "STARTTLS" => no_arg(Command::StartTls),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" if !arg.is_empty() => Ok(Command::Vrfy(arg.to_string())),
        "EXPN" if !arg.is_empty() => Ok(Command::Expn(arg.to_string())),
        "VRFY" | "EXPN" => Err(CommandError::Syntax("VRFY address")),
        "BDAT" => parse_bdat(arg),
        "AUTH" => parse_auth(arg),
        _ => Err(CommandError::Unknown),
    }
}

fn parse_bdat(arg: &str) -> Result<Command, CommandError> {
    let mut words = arg.split_ascii_whitespace();
    let size = words
        .next()
        .filter(|w| !w.is_empty() && w.len() <= 19 && w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse::<u64>().ok())
        .ok_or(CommandError::Syntax("BDAT size [LAST]"))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => return Err(CommandError::Syntax("BDAT size [LAST]")),
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax("BDAT size [LAST]"));
    }
    Ok(Command::Bdat { size, last })
}

fn parse_auth(arg: &str) -> Result<Command, CommandError> {
    let mut words = arg.split_ascii_whitespace();
    let mech = words
        .next()
        .ok_or(CommandError::Syntax("AUTH mechanism [initial-response]"))?;
    let mechanism = if mech.eq_ignore_ascii_case("PLAIN") {
        AuthMechanism::Plain
    } else if mech.eq_ignore_ascii_case("LOGIN") {
        AuthMechanism::Login
    } else {
        return Err(CommandError::UnknownMechanism);
    };
    let initial = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(CommandError::Syntax("AUTH mechanism [initial-response]"));
    }
    Ok(Command::Auth { mechanism, initial })
}

/// Splits `FROM:<path> params` after the verb. Tolerates one space after the colon, as many
/// clients send `MAIL FROM: <a@b>`.
fn split_path<'a>(rest: &'a str, keyword: &str) -> Result<(&'a str, &'a str), CommandError> {
    let syntax = if keyword == "FROM:" {
        "MAIL FROM:<address>"
    } else {
        "RCPT TO:<address>"
    };
    let k = rest
        .get(..keyword.len())
        .ok_or(CommandError::Syntax(syntax))?;
    if !k.eq_ignore_ascii_case(keyword) {
        return Err(CommandError::Syntax(syntax));
    }
    let after = rest[keyword.len()..].trim_start_matches(' ');
    if !after.starts_with('<') {
        return Err(CommandError::Syntax(syntax));
    }
    // The path ends at the first '>' outside a quoted string.
    let b = after.as_bytes();
    let mut in_quote = false;
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b'>' if !in_quote => break,
            _ => {}
        }
        i += 1;
    }
    if i >= b.len() {
        return Err(CommandError::Syntax(syntax));
    }
    let (path, params) = after.split_at(i + 1);
    if !params.is_empty() && !params.starts_with(' ') {
        return Err(CommandError::Syntax(syntax));
    }
    Ok((path, params.trim()))
}

/// Splits `KEY=VALUE KEY2` into pairs; keys upper-cased.
fn params(s: &str) -> impl Iterator<Item = (String, Option<&str>)> {
    s.split_ascii_whitespace().map(|p| match p.split_once('=') {
        Some((k, v)) => (k.to_ascii_uppercase(), Some(v)),
        None => (p.to_ascii_uppercase(), None),
    })
}

fn is_esmtp_keyword(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Decodes an xtext value that must be printable (RFC 3461: ENVID and ORCPT are printable
/// US-ASCII; RFC 6533 allows UTF-8 as well).
fn printable_xtext(v: &str, key: &str) -> Result<String, CommandError> {
    let bytes = xtext::decode(v).map_err(|_| CommandError::BadParamValue(key.to_string()))?;
    let s = String::from_utf8(bytes).map_err(|_| CommandError::BadParamValue(key.to_string()))?;
    if s.chars().any(char::is_control) {
        return Err(CommandError::BadParamValue(key.to_string()));
    }
    Ok(s)
}

fn parse_mail(rest: &str) -> Result<Command, CommandError> {
    let (path, ps) = split_path(rest, "FROM:")?;
    let reverse_path = address::parse_reverse_path(path)?;
    let mut m = MailFrom {
        reverse_path,
        size: None,
        body: None,
        smtputf8: false,
        ret: None,
        envid: None,
        auth: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in params(ps) {
        if !is_esmtp_keyword(&k) {
            return Err(CommandError::BadParamValue(k));
        }
        if seen.contains(&k) {
            return Err(CommandError::BadParamValue(k));
        }
        seen.push(k.clone());
        let bad = || CommandError::BadParamValue(k.clone());
        match (k.as_str(), v) {
            ("SIZE", Some(v)) => {
                if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                // A number too large for u64 is still "too big", not a syntax error.
                m.size = Some(v.parse::<u64>().unwrap_or(u64::MAX));
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => m.body = Some(Body::SevenBit),
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                m.body = Some(Body::EightBitMime)
            }
            ("SMTPUTF8", None) => m.smtputf8 = true,
            ("RET", Some(v)) if v.eq_ignore_ascii_case("FULL") => m.ret = Some(Ret::Full),
            ("RET", Some(v)) if v.eq_ignore_ascii_case("HDRS") => m.ret = Some(Ret::Hdrs),
            ("ENVID", Some(v)) => {
                if v.is_empty() || v.len() > 100 {
                    return Err(bad());
                }
                m.envid = Some(printable_xtext(v, &k)?);
            }
            ("AUTH", Some(v)) => {
                if v == "<>" {
                    m.auth = Some("<>".into());
                } else {
                    m.auth = Some(printable_xtext(v, &k)?);
                }
            }
            ("SIZE" | "BODY" | "SMTPUTF8" | "RET" | "ENVID" | "AUTH", _) => return Err(bad()),
            _ => return Err(CommandError::UnknownParam(k)),
        }
    }
    Ok(Command::Mail(m))
}

fn parse_notify(v: &str) -> Option<Notify> {
    let mut n = Notify::default();
    let mut count = 0;
    for word in v.split(',') {
        count += 1;
        let flag = match word.to_ascii_uppercase().as_str() {
            "NEVER" => &mut n.never,
            "SUCCESS" => &mut n.success,
            "FAILURE" => &mut n.failure,
            "DELAY" => &mut n.delay,
            _ => return None,
        };
        if *flag {
            return None;
        }
        *flag = true;
    }
    // NEVER must stand alone.
    if n.never && count > 1 {
        return None;
    }
    Some(n)
}

fn parse_rcpt(rest: &str) -> Result<Command, CommandError> {
    let (path, ps) = split_path(rest, "TO:")?;
    let forward_path = address::parse_forward_path(path)?;
    let mut r = RcptTo {
        forward_path,
        notify: None,
        orcpt: None,
    };
    for (k, v) in params(ps) {
        let bad = || CommandError::BadParamValue(k.clone());
        match (k.as_str(), v) {
            ("NOTIFY", Some(v)) if r.notify.is_none() => {
                r.notify = Some(parse_notify(v).ok_or_else(bad)?);
            }
            ("ORCPT", Some(v)) if r.orcpt.is_none() => {
                if v.len() > 500 {
                    return Err(bad());
                }
                let (kind, addr) = v.split_once(';').ok_or_else(bad)?;
                if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(bad());
                }
                let addr = printable_xtext(addr, &k)?;
                if addr.is_empty() {
                    return Err(bad());
                }
                r.orcpt = Some((kind.to_string(), addr));
            }
            ("NOTIFY" | "ORCPT", _) => return Err(bad()),
            _ if !is_esmtp_keyword(&k) => return Err(bad()),
            _ => return Err(CommandError::UnknownParam(k)),
        }
    }
    Ok(Command::Rcpt(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Mailbox;

    fn check(input: &str, expected: Result<Command, CommandError>) {
        assert_eq!(parse_command(input.as_bytes()), expected, "{input:?}");
    }

    fn mb(l: &str, d: &str) -> Mailbox {
        Mailbox {
            local: l.into(),
            domain: d.into(),
        }
    }

    fn mail(path: ReversePath) -> MailFrom {
        MailFrom {
            reverse_path: path,
            size: None,
            body: None,
            smtputf8: false,
            ret: None,
            envid: None,
            auth: None,
        }
    }

    fn rcpt(path: ForwardPath) -> RcptTo {
        RcptTo {
            forward_path: path,
            notify: None,
            orcpt: None,
        }
    }

    #[test]
    fn simple_verbs() {
        check(
            "EHLO client.example",
            Ok(Command::Ehlo("client.example".into())),
        );
        check("helo x", Ok(Command::Helo("x".into())));
        check("EHLO", Err(CommandError::Syntax("EHLO hostname")));
        check("DATA", Ok(Command::Data));
        check("data x", Err(CommandError::Syntax("no argument expected")));
        check("RSET", Ok(Command::Rset));
        check("NOOP whatever", Ok(Command::Noop));
        check("QUIT", Ok(Command::Quit));
        check("STARTTLS", Ok(Command::StartTls));
        check("HELP", Ok(Command::Help));
        check("VRFY bob", Ok(Command::Vrfy("bob".into())));
        check("FOO", Err(CommandError::Unknown));
        check("", Err(CommandError::Unknown));
        check("NOOP\0", Err(CommandError::BadBytes));
        assert_eq!(parse_command(b"NOOP \xff"), Err(CommandError::BadBytes));
        check(
            "BDAT 100 LAST",
            Ok(Command::Bdat {
                size: 100,
                last: true,
            }),
        );
        check(
            "BDAT 0",
            Ok(Command::Bdat {
                size: 0,
                last: false,
            }),
        );
        check("BDAT x", Err(CommandError::Syntax("BDAT size [LAST]")));
    }

    #[test]
    fn auth_command() {
        check(
            "AUTH PLAIN AGJvYgBzZWNyZXQ=",
            Ok(Command::Auth {
                mechanism: AuthMechanism::Plain,
                initial: Some("AGJvYgBzZWNyZXQ=".into()),
            }),
        );
        check(
            "auth login",
            Ok(Command::Auth {
                mechanism: AuthMechanism::Login,
                initial: None,
            }),
        );
        check("AUTH CRAM-MD5", Err(CommandError::UnknownMechanism));
    }

    #[test]
    fn mail_from_paths_and_params() {
        check("MAIL FROM:<>", Ok(Command::Mail(mail(ReversePath::Null))));
        check(
            "mail from: <a@b.c>",
            Ok(Command::Mail(mail(ReversePath::Mailbox(mb("a", "b.c"))))),
        );
        let mut m = mail(ReversePath::Mailbox(mb("a", "b.c")));
        m.size = Some(1000);
        m.body = Some(Body::EightBitMime);
        m.smtputf8 = true;
        m.ret = Some(Ret::Hdrs);
        m.envid = Some("QQ314159 x=y".into());
        check(
            "MAIL FROM:<a@b.c> SIZE=1000 BODY=8bitmime SMTPUTF8 RET=hdrs ENVID=QQ314159+20x+3Dy",
            Ok(Command::Mail(m)),
        );
        check(
            "MAIL FROM:<a@b.c> SIZE=1 SIZE=2",
            Err(CommandError::BadParamValue("SIZE".into())),
        );
        check(
            "MAIL FROM:<a@b.c> RET=NONE",
            Err(CommandError::BadParamValue("RET".into())),
        );
        check(
            "MAIL FROM:<a@b.c> ENVID=a+2b",
            Err(CommandError::BadParamValue("ENVID".into())),
        );
        check(
            "MAIL FROM:<a@b.c> SIZE=x",
            Err(CommandError::BadParamValue("SIZE".into())),
        );
        check(
            "MAIL FROM:<a@b.c> BODY=BINARYMIME",
            Err(CommandError::BadParamValue("BODY".into())),
        );
        check(
            "MAIL FROM:<a@b.c> FOO=bar",
            Err(CommandError::UnknownParam("FOO".into())),
        );
        check(
            "MAIL FROM:a@b.c",
            Err(CommandError::Syntax("MAIL FROM:<address>")),
        );
        check(
            "MAIL TO:<a@b.c>",
            Err(CommandError::Syntax("MAIL FROM:<address>")),
        );
        check(
            "MAIL FROM:<a@b.c>x",
            Err(CommandError::Syntax("MAIL FROM:<address>")),
        );
        check(
            "MAIL FROM:<a@b.c> SIZE=99999999999999999999",
            Ok(Command::Mail(MailFrom {
                size: Some(u64::MAX),
                ..mail(ReversePath::Mailbox(mb("a", "b.c")))
            })),
        );
    }

    #[test]
    fn rcpt_to_postmaster_is_not_the_null_path() {
        check(
            "RCPT TO:<Postmaster>",
            Ok(Command::Rcpt(rcpt(ForwardPath::Postmaster))),
        );
        check(
            "RCPT TO:<>",
            Err(CommandError::Address(AddressError::NoDomain)),
        );
    }

    #[test]
    fn rcpt_dsn_params() {
        let mut r = rcpt(ForwardPath::Mailbox(mb("bob", "example.org")));
        r.notify = Some(Notify {
            success: true,
            failure: true,
            ..Notify::default()
        });
        r.orcpt = Some(("rfc822".into(), "bob+sales@example.org".into()));
        check(
            "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,failure ORCPT=rfc822;bob+2Bsales@example.org",
            Ok(Command::Rcpt(r)),
        );
        for bad in [
            "NOTIFY=NEVER,SUCCESS",
            "NOTIFY=",
            "NOTIFY=SUCCESS,SUCCESS",
            "NOTIFY=SOMETIMES",
        ] {
            check(
                &format!("RCPT TO:<b@c.d> {bad}"),
                Err(CommandError::BadParamValue("NOTIFY".into())),
            );
        }
        check(
            "RCPT TO:<b@c.d> NOTIFY=NEVER NOTIFY=NEVER",
            Err(CommandError::BadParamValue("NOTIFY".into())),
        );
        for bad in [
            "ORCPT=rfc822",
            "ORCPT=;x",
            "ORCPT=rfc822;a+2",
            "ORCPT=rfc822;",
        ] {
            check(
                &format!("RCPT TO:<b@c.d> {bad}"),
                Err(CommandError::BadParamValue("ORCPT".into())),
            );
        }
        check(
            "RCPT TO:<b@c.d> XFOO",
            Err(CommandError::UnknownParam("XFOO".into())),
        );
    }

    #[test]
    fn errors_map_to_replies() {
        assert_eq!(CommandError::Unknown.reply().code, 500);
        assert_eq!(CommandError::UnknownParam("X".into()).reply().code, 555);
        assert_eq!(CommandError::BadParamValue("X".into()).reply().code, 501);
        assert_eq!(
            CommandError::Syntax("x").reply().to_wire(),
            b"501 5.5.4 Syntax: x\r\n"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let _ = parse_command(&bytes);
        }

        #[test]
        fn parse_never_panics_on_command_shapes(
            verb in proptest::sample::select(vec!["MAIL FROM:", "RCPT TO:", "AUTH ", "BDAT "]),
            rest in "[<>@\".a-zA-Z0-9=;+, \\\\:-]{0,60}",
        ) {
            let _ = parse_command(format!("{verb}{rest}").as_bytes());
        }
    }
}
