//! `mailerd sendmail`: the sendmail-compatible injection command for local programs (cron, web
//! applications): reads a message on stdin and queues it.
//!
//! ```text
//! mailerd sendmail [-t] [-i] [-f sender] [-F name] [--config FILE] [rcpt...]
//! ```
//! The binary also behaves this way when it is invoked under the name `sendmail` (a symbolic
//! link `/usr/sbin/sendmail -> mailerd`).
//!
//! - Without `-i` (`-oi`), a line holding a single `.` ends the input (no dot unstuffing,
//!   like sendmail and Postfix). `-t` takes recipients from `To:`, `Cc:` and `Bcc:` (added to
//!   those on the command line, as Postfix does) and removes `Bcc:`. Addresses without a domain
//!   get `@hostname`.
//! - `-f` sets the envelope sender (default `$USER@hostname`, the login name otherwise);
//!   `-F` the full name of a `From:` header added when there is none. `Date:`,
//!   `Message-ID:` are added when missing, a `Received:` header always. Line ends become CRLF
//!   (a lone CR too); an mbox `From ` first line is dropped.
//! - `-N`, `-R`, `-V` set the DSN `NOTIFY`, `RET` and `ENVID`. Common no-op flags are accepted
//!   and ignored: `-oi` aside, every `-o...`, `-bm`, `-v`, `-U`, `-n`, `-m`, `-B type`,
//!   `-h hops`, `-L tag`, `-X file`, `-C file`. `-bs`, `-bp`, `-q` and other modes are
//!   refused with exit 64.
//! - Hand-off: if the queue can be opened for writing (no server running), the message is
//!   committed to it directly; if the server holds it, the message is written atomically into
//!   `data_dir/maildrop/` where the server's pickup task queues it (see [`crate::pickup`]).
//!   Either way the message is on stable storage before the exit status 0.
//! - Exit status (sysexits): 0 queued; 64 `EX_USAGE` bad flags or no recipients; 65
//!   `EX_DATAERR` message too large or a bad address; 75 `EX_TEMPFAIL` cannot queue now;
//!   78 `EX_CONFIG` bad configuration.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use mailerd_store::{NewMessage, Store, StoreError};
use mailerd_store_embedded::{EmbeddedStore, Options};
use mailerd_types::{Envelope, Notify, RecipientSpec, Ret};

use crate::config::{self, Config};

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_TEMPFAIL: u8 = 75;
const EX_CONFIG: u8 = 78;

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// sendmail flags and recipients: [-t] [-i] [-f sender] [-F name] [--config FILE] [rcpt...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Parsed command line.
#[derive(Debug, Default, PartialEq)]
struct Opts {
    config: Option<PathBuf>,
    extract: bool,
    ignore_dots: bool,
    sender: Option<String>,
    full_name: Option<String>,
    verbose: bool,
    notify: Option<Notify>,
    ret: Option<Ret>,
    envid: Option<String>,
    recipients: Vec<String>,
}

/// A usage error (exit 64).
#[derive(Debug, PartialEq)]
struct Usage(String);

fn parse_args(args: &[String]) -> Result<Opts, Usage> {
    let mut o = Opts::default();
    let mut it = args.iter().peekable();
    // A flag's value: the rest of this argument, or the next one.
    fn value<'a>(
        flag: &str,
        rest: &'a str,
        it: &mut std::iter::Peekable<std::slice::Iter<'a, String>>,
    ) -> Result<String, Usage> {
        if !rest.is_empty() {
            return Ok(rest.to_string());
        }
        it.next()
            .cloned()
            .ok_or_else(|| Usage(format!("option -{flag} needs a value")))
    }
    while let Some(a) = it.next() {
        if a == "--" {
            o.recipients.extend(it.by_ref().cloned());
            break;
        }
        if let Some(v) = a.strip_prefix("--config=") {
            o.config = Some(PathBuf::from(v));
            continue;
        }
        if a == "--config" {
            let v = it
                .next()
                .ok_or_else(|| Usage("--config needs a file".into()))?;
            o.config = Some(PathBuf::from(v));
            continue;
        }
        if a.starts_with("--") {
            return Err(Usage(format!("unknown option {a}")));
        }
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty()) else {
            o.recipients.push(a.clone());
            continue;
        };
        for (i, c) in flags.char_indices() {
            let rest = &flags[i + c.len_utf8()..];
            match c {
                't' => o.extract = true,
                'i' => o.ignore_dots = true,
                'v' => o.verbose = true,
                'U' | 'n' | 'm' => {}
                'f' | 'r' => {
                    o.sender = Some(value("f", rest, &mut it)?);
                    break;
                }
                'F' => {
                    o.full_name = Some(value("F", rest, &mut it)?);
                    break;
                }
                'o' => {
                    match rest {
                        "i" => o.ignore_dots = true,
                        // -o alone takes the next argument as its option.
                        "" => {
                            let v = value("o", rest, &mut it)?;
                            if v == "i" {
                                o.ignore_dots = true;
                            }
                        }
                        // -oem, -odb, -odi, -oXvalue, ...: accepted and ignored.
                        _ => {}
                    }
                    break;
                }
                'b' => {
                    match rest {
                        "m" | "" => {}
                        other => {
                            return Err(Usage(format!(
                                "-b{other} is not supported (only -bm, delivery mode; use `mailerd queue list` for -bp)"
                            )));
                        }
                    }
                    break;
                }
                'q' => {
                    return Err(Usage(
                        "-q (a queue run) is not supported: the server runs its queue itself"
                            .into(),
                    ));
                }
                'B' | 'h' | 'L' | 'X' | 'C' => {
                    value(&c.to_string(), rest, &mut it)?;
                    break;
                }
                'N' => {
                    o.notify = Some(parse_notify(&value("N", rest, &mut it)?)?);
                    break;
                }
                'R' => {
                    let v = value("R", rest, &mut it)?;
                    o.ret = Some(match v.to_ascii_lowercase().as_str() {
                        "full" => Ret::Full,
                        "hdrs" => Ret::Hdrs,
                        _ => return Err(Usage(format!("-R {v}: use full or hdrs"))),
                    });
                    break;
                }
                'V' => {
                    let v = value("V", rest, &mut it)?;
                    if v.is_empty()
                        || v.len() > 100
                        || v.bytes().any(|b| !(0x21..=0x7e).contains(&b))
                    {
                        return Err(Usage(format!(
                            "-V {v:?}: an envelope id is 1 to 100 printable ASCII characters"
                        )));
                    }
                    o.envid = Some(v);
                    break;
                }
                other => return Err(Usage(format!("unknown option -{other}"))),
            }
        }
    }
    Ok(o)
}

fn parse_notify(v: &str) -> Result<Notify, Usage> {
    let mut n = Notify::default();
    for w in v.split(',') {
        match w.trim().to_ascii_lowercase().as_str() {
            "never" => n.never = true,
            "success" => n.success = true,
            "failure" => n.failure = true,
            "delay" => n.delay = true,
            _ => {
                return Err(Usage(format!(
                    "-N {v}: use never or a list of success, failure, delay"
                )));
            }
        }
    }
    if n.never && (n.success || n.failure || n.delay) {
        return Err(Usage(format!("-N {v}: never excludes the others")));
    }
    Ok(n)
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sendmail: {msg}");
    ExitCode::from(code)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    Ok(run_with(&args.args))
}

/// Entry point with the raw arguments (after `sendmail` or the program name).
pub fn run_with(args: &[String]) -> ExitCode {
    let opts = match parse_args(args) {
        Ok(o) => o,
        Err(Usage(m)) => {
            eprintln!("sendmail: {m}");
            eprintln!(
                "usage: mailerd sendmail [-t] [-i] [-f sender] [-F name] [--config FILE] [rcpt...]"
            );
            return ExitCode::from(EX_USAGE);
        }
    };
    let config = match &opts.config {
        Some(p) => match config::load(p) {
            Ok(c) => c,
            Err(e) => return fail(EX_CONFIG, format!("{e:#}")),
        },
        None => Config::default(),
    };
    let mut input = Vec::new();
    let max = config.limits.max_message_size;
    if let Err(e) = std::io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut input)
    {
        return fail(
            EX_TEMPFAIL,
            format!("cannot read the message from stdin: {e}"),
        );
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let msg = match compose(&opts, &config, &input, now, &Local::current()) {
        Ok(m) => m,
        Err(Compose::Usage(m)) => return fail(EX_USAGE, m),
        Err(Compose::Data(m)) => return fail(EX_DATAERR, m),
    };
    if msg.content.len() as u64 > max {
        return fail(
            EX_DATAERR,
            format!("message too large: the limit is {max} bytes (limits.max_message_size)"),
        );
    }
    match hand_off(&config, msg) {
        Ok(where_) => {
            if opts.verbose {
                eprintln!("sendmail: {where_}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(EX_TEMPFAIL, format!("{e:#}; the message was not queued")),
    }
}

/// Commits directly if the queue is free, else drops the message into the maildrop.
fn hand_off(config: &Config, msg: NewMessage) -> anyhow::Result<String> {
    use anyhow::Context;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.data_dir.display()))?;
    let path = config.queue_path();
    let options = Options {
        cache_bytes: 16 << 20,
        ..Options::default()
    };
    let direct_error = match EmbeddedStore::open_with(&path, options) {
        Ok(store) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            let id = rt
                .block_on(store.commit(msg))
                .with_context(|| format!("cannot commit to the queue {}", path.display()))?;
            drop(store);
            return Ok(format!("queued as {id} (directly into {})", path.display()));
        }
        Err(StoreError::InUse(_)) => None,
        Err(e) => Some(e),
    };
    // The server runs (or the queue cannot be opened by this user): the maildrop.
    let dir = crate::pickup::dir(&config.data_dir);
    let dropped = crate::pickup::create_dir(&dir)
        .and_then(|()| crate::pickup::write(&dir, &msg))
        .with_context(|| format!("cannot write into the maildrop {}", dir.display()));
    match (dropped, direct_error) {
        (Ok(name), None) => Ok(format!(
            "dropped as {name} into {} for the running server",
            dir.display()
        )),
        (Ok(name), Some(e)) => {
            eprintln!(
                "sendmail: warning: cannot open the queue {} ({e}); left the message in the maildrop as {name} for the server to pick up",
                path.display()
            );
            Ok(format!("dropped as {name} into {}", dir.display()))
        }
        (Err(d), Some(e)) => {
            Err(d.context(format!("cannot open the queue {} ({e})", path.display())))
        }
        (Err(d), None) => Err(d),
    }
}

/// Facts about the invoking user.
#[derive(Debug, Clone)]
struct Local {
    login: String,
    uid: Option<u32>,
}

impl Local {
    fn current() -> Local {
        #[cfg(unix)]
        let uid = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").ok().map(|m| m.uid())
        };
        #[cfg(not(unix))]
        let uid = None;
        let login = ["USER", "LOGNAME"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|l| valid_local_part(l))
            .or_else(|| uid.and_then(passwd_name).filter(|l| valid_local_part(l)))
            .unwrap_or_else(|| match uid {
                Some(u) => format!("uid{u}"),
                None => "nobody".into(),
            });
        Local { login, uid }
    }
}

fn passwd_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

fn valid_local_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+=".contains(&b))
}

enum Compose {
    Usage(String),
    Data(String),
}

/// Checks an address from the command line or a header: no spaces, controls or brackets.
fn check_address(a: &str) -> Result<(), String> {
    if a.is_empty() || a.len() > 320 {
        return Err(format!("{a:?} is not an address"));
    }
    if a.chars().any(|c| {
        c.is_control()
            || c.is_whitespace()
            || c == char::REPLACEMENT_CHARACTER
            || "<>()[]\\,;\"".contains(c)
    }) {
        return Err(format!("{a:?} is not an address"));
    }
    if a.matches('@').count() > 1 || a.starts_with('@') || a.ends_with('@') {
        return Err(format!("{a:?} is not an address"));
    }
    Ok(())
}

/// `user` → `user@hostname`.
fn qualify(a: &str, hostname: &str) -> String {
    if a.contains('@') {
        a.to_string()
    } else {
        format!("{a}@{hostname}")
    }
}

/// Builds the queued message from the command line, configuration and stdin.
fn compose(
    opts: &Opts,
    config: &Config,
    input: &[u8],
    now: u64,
    local: &Local,
) -> Result<NewMessage, Compose> {
    let hostname = &config.hostname;
    // The envelope sender.
    let sender = match &opts.sender {
        Some(s) => {
            let s = s.trim();
            let s = s
                .strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .unwrap_or(s);
            if s.is_empty() {
                String::new()
            } else {
                check_address(s).map_err(|e| Compose::Data(format!("-f: {e}")))?;
                qualify(s, hostname)
            }
        }
        None => format!("{}@{hostname}", local.login),
    };
    let lines = split_lines(input, !opts.ignore_dots);
    let (mut headers, body) = split_message(lines);
    // Recipients.
    let mut rcpts: Vec<String> = Vec::new();
    for arg in &opts.recipients {
        if arg.chars().any(char::is_control) {
            return Err(Compose::Data(format!("{arg:?} is not an address")));
        }
        for a in split_addresses(arg) {
            rcpts.push(a);
        }
    }
    if opts.extract {
        for h in &headers {
            if let Some(value) = header_value(h, &["to", "cc", "bcc"]) {
                rcpts.extend(split_addresses(&value));
            }
        }
        headers.retain(|h| header_value(h, &["bcc"]).is_none());
    }
    let mut recipients: Vec<RecipientSpec> = Vec::new();
    for a in rcpts {
        check_address(&a).map_err(Compose::Data)?;
        let a = qualify(&a, hostname);
        if !recipients
            .iter()
            .any(|r| r.address.eq_ignore_ascii_case(&a))
        {
            let mut r = RecipientSpec::new(a);
            r.notify = opts.notify;
            recipients.push(r);
        }
    }
    if recipients.is_empty() {
        return Err(Compose::Usage(if opts.extract {
            "no recipients: none on the command line, none in To:, Cc: or Bcc:".into()
        } else {
            "no recipients given (name them as arguments, or use -t to read To:, Cc:, Bcc:)".into()
        }));
    }
    if recipients.len() > config.limits.max_recipients {
        return Err(Compose::Data(format!(
            "{} recipients, more than limits.max_recipients = {}",
            recipients.len(),
            config.limits.max_recipients
        )));
    }
    // Headers we add.
    let date = mailerd_types::rfc5322_date(now);
    let has = |name: &str| headers.iter().any(|h| header_value(h, &[name]).is_some());
    let mut out: Vec<u8> = Vec::with_capacity(input.len() + 512);
    let uid = local
        .uid
        .map(|u| format!(", from userid {u}"))
        .unwrap_or_default();
    let for_ = match recipients.as_slice() {
        [one] => format!("\r\n\tfor <{}>", one.address),
        _ => String::new(),
    };
    out.extend_from_slice(
        format!("Received: by {hostname} (mailerd sendmail{uid}){for_}; {date}\r\n").as_bytes(),
    );
    let mut added = Vec::new();
    if !has("from") {
        let from_addr = if sender.is_empty() {
            format!("{}@{hostname}", local.login)
        } else {
            sender.clone()
        };
        let line = match &opts.full_name {
            Some(name) => {
                let clean: String = name
                    .chars()
                    .filter(|c| !c.is_control())
                    .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
                    .collect();
                format!("From: \"{}\" <{from_addr}>", clean.trim())
            }
            None => format!("From: {from_addr}"),
        };
        added.push(line);
    }
    if !has("date") {
        added.push(format!("Date: {date}"));
    }
    if !has("message-id") {
        added.push(format!(
            "Message-ID: {}",
            mailerd_types::new_message_id(now, hostname)
        ));
    }
    for h in &headers {
        for l in h {
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
    }
    for l in &added {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    for l in &body {
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    let eight_bit = !out.is_ascii();
    let smtputf8 = !sender.is_ascii() || recipients.iter().any(|r| !r.address.is_ascii());
    let envelope = Envelope {
        reverse_path: sender,
        recipients,
        ret: opts.ret,
        envid: opts.envid.clone(),
        smtputf8,
        eight_bit,
        received_at: now,
        client: Some(match local.uid {
            Some(u) => format!("local sendmail (uid {u}, {})", local.login),
            None => format!("local sendmail ({})", local.login),
        }),
        auth_user: None,
    };
    Ok(NewMessage {
        envelope,
        content: out,
    })
}

/// Splits input into lines without their ends (LF, CRLF or a lone CR), stopping at a line
/// holding a single `.` when `dot_ends`.
fn split_lines(input: &[u8], dot_ends: bool) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < input.len() {
        let end = match input[i] {
            b'\n' => Some((i, i + 1)),
            b'\r' if input.get(i + 1) == Some(&b'\n') => Some((i, i + 2)),
            b'\r' => Some((i, i + 1)),
            _ => None,
        };
        if let Some((e, next)) = end {
            let line = &input[start..e];
            if dot_ends && line == b"." {
                return lines;
            }
            lines.push(line);
            start = next;
            i = next;
        } else {
            i += 1;
        }
    }
    if start < input.len() {
        let line = &input[start..];
        if !(dot_ends && line == b".") {
            lines.push(line);
        }
    }
    lines
}

/// A header field: its first line and continuation lines.
type Header<'a> = Vec<&'a [u8]>;

fn is_field_start(l: &[u8]) -> bool {
    match l.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(i) => l[..i].iter().all(|&b| (33..=126).contains(&b)),
    }
}

/// Splits lines into header fields and body. The header section ends at the first empty
/// line or at the first line that is not a field (which then starts the body). A first
/// line `From ...` (an mbox separator) is dropped.
fn split_message(lines: Vec<&[u8]>) -> (Vec<Header<'_>>, Vec<&[u8]>) {
    let mut lines = lines.into_iter().peekable();
    if lines.peek().is_some_and(|l| l.starts_with(b"From ")) {
        lines.next();
    }
    let mut headers: Vec<Header<'_>> = Vec::new();
    let mut body = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
        if (l[0] == b' ' || l[0] == b'\t') && !headers.is_empty() {
            if let Some(h) = headers.last_mut() {
                h.push(l);
            }
        } else if is_field_start(l) {
            headers.push(vec![l]);
        } else {
            body.push(l);
            break;
        }
    }
    body.extend(lines);
    (headers, body)
}

/// The unfolded value of a header if its name is one of `names` (lowercase).
fn header_value(h: &Header<'_>, names: &[&str]) -> Option<String> {
    let first = h.first()?;
    let colon = first.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&first[..colon]).ok()?.trim();
    if !names.iter().any(|n| name.eq_ignore_ascii_case(n)) {
        return None;
    }
    let mut v = String::from_utf8_lossy(&first[colon + 1..]).into_owned();
    for l in &h[1..] {
        v.push(' ');
        v.push_str(&String::from_utf8_lossy(l));
    }
    Some(v)
}

/// The addresses in an address list (`a@x, "B, b" <b@y>, group: c@z;` → a@x, b@y, c@z).
/// Comments and display names are dropped.
fn split_addresses(list: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut angle: Option<String> = None;
    let mut in_angle = false;
    let mut quoted = false;
    let mut comment = 0usize;
    let mut chars = list.chars();
    let mut flush = |cur: &mut String, angle: &mut Option<String>| {
        let a = match angle.take() {
            Some(a) => a,
            None => cur.trim().to_string(),
        };
        cur.clear();
        let a = a.trim().to_string();
        if !a.is_empty() {
            out.push(a);
        }
    };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        if comment > 0 {
            match c {
                '\\' => {
                    chars.next();
                }
                '(' => comment += 1,
                ')' => comment -= 1,
                _ => {}
            }
            continue;
        }
        if in_angle {
            if c == '>' {
                in_angle = false;
            } else if let Some(a) = angle.as_mut() {
                a.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' => comment = 1,
            '<' => {
                in_angle = true;
                angle = Some(String::new());
            }
            // A group's display name ends with ':'; its list ends with ';'.
            ':' => cur.clear(),
            ',' | ';' => flush(&mut cur, &mut angle),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut angle);
    // Source routes (<@a,@b:c@d>) keep the final address.
    out.into_iter()
        .map(|a| match a.rsplit_once(':') {
            Some((_, last)) if a.starts_with('@') => last.to_string(),
            _ => a,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn local() -> Local {
        Local {
            login: "cron".into(),
            uid: Some(1000),
        }
    }

    fn config() -> Config {
        Config {
            hostname: "host.example".into(),
            ..Config::default()
        }
    }

    fn compose_ok(a: &[&str], input: &str) -> NewMessage {
        let o = parse_args(&args(a)).expect("args");
        match compose(&o, &config(), input.as_bytes(), 1_795_838_707, &local()) {
            Ok(m) => m,
            Err(Compose::Usage(m) | Compose::Data(m)) => panic!("compose failed: {m}"),
        }
    }

    fn content(m: &NewMessage) -> String {
        String::from_utf8(m.content.clone()).expect("utf8")
    }

    #[test]
    fn parses_flags_like_sendmail() {
        let o = parse_args(&args(&[
            "-oi",
            "-odb",
            "-oem",
            "-bm",
            "-v",
            "-oXfoo",
            "-fme@x.test",
            "-F",
            "Me Myself",
            "--config",
            "/c.toml",
            "-t",
            "a@b.test",
        ]))
        .expect("parses");
        assert!(o.ignore_dots && o.extract && o.verbose);
        assert_eq!(o.sender.as_deref(), Some("me@x.test"));
        assert_eq!(o.full_name.as_deref(), Some("Me Myself"));
        assert_eq!(o.config, Some(PathBuf::from("/c.toml")));
        assert_eq!(o.recipients, vec!["a@b.test"]);
        let o = parse_args(&args(&["-ti", "-f", "x@y.test", "--", "-odd@x.test"])).expect("ok");
        assert!(o.extract && o.ignore_dots);
        assert_eq!(o.recipients, vec!["-odd@x.test"]);
        let o = parse_args(&args(&["-N", "success,delay", "-R", "hdrs", "-V", "abc"])).expect("ok");
        assert_eq!(o.ret, Some(Ret::Hdrs));
        assert!(o.notify.is_some_and(|n| n.success && n.delay && !n.failure));
        for bad in [
            &["-Z"][..],
            &["-f"],
            &["-bp"],
            &["-q1h"],
            &["--frobnicate"],
            &["-N", "sometimes"],
        ] {
            assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_single_dot_ends_input_unless_i() {
        let m = compose_ok(&["a@b.test"], "Subject: s\n\nline\n.\nafter\n");
        let c = content(&m);
        assert!(c.ends_with("\r\n\r\nline\r\n"), "{c}");
        let m = compose_ok(&["-i", "a@b.test"], "Subject: s\n\nline\n.\nafter\n");
        assert!(content(&m).ends_with("line\r\n.\r\nafter\r\n"));
        let m = compose_ok(&["-oi", "a@b.test"], "Subject: s\n\n..x\n.");
        assert!(content(&m).ends_with("..x\r\n.\r\n"));
    }

    #[test]
    fn adds_missing_headers_and_converts_to_crlf() {
        let m = compose_ok(
            &["-F", "Cron \"Daemon\"", "root"],
            "Subject: hi\n\nbody\rmore\n",
        );
        let c = content(&m);
        assert!(c.starts_with("Received: by host.example (mailerd sendmail, from userid 1000)\r\n\tfor <root@host.example>; Sat, 28 Nov 2026 04:05:07 +0000\r\n"), "{c}");
        assert!(c.contains("\r\nSubject: hi\r\n"), "{c}");
        assert!(
            c.contains("\r\nFrom: \"Cron 'Daemon'\" <cron@host.example>\r\n"),
            "{c}"
        );
        assert!(
            c.contains("\r\nDate: Sat, 28 Nov 2026 04:05:07 +0000\r\n"),
            "{c}"
        );
        assert!(c.contains("\r\nMessage-ID: <1795838707."), "{c}");
        assert!(c.ends_with("\r\n\r\nbody\r\nmore\r\n"), "{c}");
        assert!(!c.replace("\r\n", "").contains(['\r', '\n']), "{c:?}");
        assert_eq!(m.envelope.reverse_path, "cron@host.example");
        assert_eq!(m.envelope.recipients[0].address, "root@host.example");
        // Present headers are kept, not duplicated.
        let m = compose_ok(
            &["-f", "<>", "a@b.test"],
            "From: x@y.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <a@b>\n\nb\n",
        );
        let c = content(&m);
        assert_eq!(c.matches("From:").count(), 1);
        assert_eq!(c.matches("Date:").count(), 1);
        assert_eq!(c.matches("Message-ID:").count(), 1);
        assert_eq!(m.envelope.reverse_path, "");
    }

    #[test]
    fn t_reads_to_cc_bcc_and_removes_bcc() {
        let m = compose_ok(
            &["-t", "extra@c.test"],
            "To: \"Doe, J\" <j@a.test>, k@a.test (Kay)\nCc: grp: l@a.test, m@a.test;\nBcc: hidden@a.test,\n  hidden2@a.test\nSubject: s\n\nTo: not@header.test\n",
        );
        let rcpts: Vec<_> = m
            .envelope
            .recipients
            .iter()
            .map(|r| r.address.as_str())
            .collect();
        assert_eq!(
            rcpts,
            [
                "extra@c.test",
                "j@a.test",
                "k@a.test",
                "l@a.test",
                "m@a.test",
                "hidden@a.test",
                "hidden2@a.test"
            ]
        );
        let c = content(&m);
        assert!(!c.contains("hidden"), "{c}");
        assert!(c.contains("To: not@header.test"), "{c}");
    }

    #[test]
    fn no_recipients_is_a_usage_error_and_bad_addresses_are_refused() {
        let o = parse_args(&args(&["-t"])).expect("args");
        assert!(matches!(
            compose(&o, &config(), b"Subject: x\n\nbody\n", 0, &local()),
            Err(Compose::Usage(_))
        ));
        let o = parse_args(&args(&[])).expect("args");
        assert!(matches!(
            compose(&o, &config(), b"x", 0, &local()),
            Err(Compose::Usage(_))
        ));
        let o = parse_args(&args(&["a@b.test\r\nBcc: x"])).expect("args");
        assert!(matches!(
            compose(&o, &config(), b"x", 0, &local()),
            Err(Compose::Data(_))
        ));
        // A non-UTF-8 argument arrives with U+FFFD in it.
        let o = parse_args(&args(&["a\u{FFFD}@b.test"])).expect("args");
        assert!(matches!(
            compose(&o, &config(), b"x", 0, &local()),
            Err(Compose::Data(_))
        ));
        let o = parse_args(&args(&["-f", "a b@c", "x@y.test"])).expect("args");
        assert!(matches!(
            compose(&o, &config(), b"x", 0, &local()),
            Err(Compose::Data(_))
        ));
    }

    #[test]
    fn body_only_input_and_mbox_from_line() {
        let m = compose_ok(
            &["a@b.test"],
            "From someone Sat Nov 28\nhello world\nsecond\n",
        );
        let c = content(&m);
        assert!(c.contains("\r\n\r\nhello world\r\nsecond\r\n"), "{c}");
        assert!(!c.contains("From someone"), "{c}");
    }
}
