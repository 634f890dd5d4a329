//! `mailerd explain`: read bounces and say, per recipient, what happened and what to do.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use mailerd_analyze::{Analysis, Options, RecipientReport, Verdict, analyze_with};
use mailerd_types::Category;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The answer a person wants.
    Text,
    /// One JSON object per line per recipient.
    Json,
    /// A header, then one row per recipient.
    Tsv,
}

#[derive(clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Files, directories (walked recursively, e.g. a Maildir), mbox files, or `-` for stdin
    /// (a whole notice, its text alone, or just a server's reply such as `550 5.1.1 ...`).
    /// With no path, stdin is read.
    paths: Vec<String>,
}

/// One message to analyse, with the name it is reported under.
struct Input {
    name: String,
    bytes: Vec<u8>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() {
        vec!["-".to_string()]
    } else {
        args.paths
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut failed = 0usize;
    if args.format == Format::Tsv {
        writeln!(
            out,
            "file\tindex\trecipient\tstatus\treason\thardbounce\treplycode\taction\tcategory\tkind"
        )?;
    }
    // The TSV has no authenticity column: it is not worked out for it.
    let options = Options {
        authenticity: args.format != Format::Tsv,
    };
    // After several notices, the text ends with what they add up to.
    let mut summary = super::summary::Summary::default();
    let mut emit = |input_name: &str,
                    bytes: &[u8],
                    out: &mut BufWriter<io::StdoutLock<'_>>|
     -> io::Result<()> {
        let messages = split_mbox(bytes);
        let many = messages.len() > 1;
        let last = messages.len().saturating_sub(1);
        // TSV rows carry the file exactly as given; the recipients of an mbox's messages are
        // numbered on across the file (as the corpora's expected.tsv count them).
        let mut next_index = 1usize;
        for (n, msg) in messages.into_iter().enumerate() {
            let name = if many {
                format!("{input_name}#{}", n + 1)
            } else {
                input_name.to_string()
            };
            let a = analyze_with(msg, options);
            match args.format {
                Format::Tsv => {
                    if !a.recipients.is_empty() || (n == last && next_index == 1) {
                        next_index = write_tsv(out, input_name, &a, next_index)?;
                    }
                }
                Format::Json => write_json(out, &name, &a)?,
                Format::Text if msg.starts_with(COMPOUND_FILE_MAGIC) => {
                    write_outlook_msg_note(out, &name)?;
                }
                Format::Text => {
                    write_text(out, &name, &a)?;
                    summary.add(&a);
                }
            }
        }
        Ok(())
    };
    // The bytes of the file paths: one buffer for all of them.
    let mut buf = Vec::new();
    for p in &paths {
        let mut inputs = Vec::new();
        match collect(p, &mut inputs, &mut buf) {
            Ok(Some(n)) => {
                let bytes = buf.get(..n).unwrap_or_default();
                emit(p, bytes, &mut out).context("writing output")?;
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("mailerd explain: {e:#}");
                failed += 1;
            }
        }
        for input in inputs {
            emit(&input.name, &input.bytes, &mut out).context("writing output")?;
        }
    }
    if args.format == Format::Text {
        summary.write(&mut out).context("writing output")?;
    }
    out.flush().context("writing output")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads a path: `-` is stdin, a directory is walked (sorted, hidden entries and Maildir `tmp/`
/// skipped), anything else is read as a file. A regular file is read into `buf`: `Some(n)`
/// says its bytes are `buf[..n]`; the others' messages are added to `inputs`.
fn collect(p: &str, inputs: &mut Vec<Input>, buf: &mut Vec<u8>) -> anyhow::Result<Option<usize>> {
    if p == "-" {
        let mut bytes = Vec::new();
        io::stdin()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        inputs.push(Input {
            name: "-".into(),
            bytes,
        });
        return Ok(None);
    }
    let path = Path::new(p);
    // Opened first, then the descriptor's metadata: one stat per file. A directory that
    // cannot be opened (no read permission) is still reported by the walk, as before.
    let opened = fs::File::open(path).and_then(|f| f.metadata().map(|m| (Some(f), m)));
    let (file, meta) = match opened {
        Ok(fm) => fm,
        Err(e) => match fs::metadata(path) {
            Ok(m) if m.is_dir() => (None, m),
            _ => return Err(e).with_context(|| format!("cannot read {p}")),
        },
    };
    if meta.is_dir() {
        drop(file);
        let mut errors = Vec::new();
        walk(path, p.trim_end_matches('/'), inputs, &mut errors);
        if let Some(first) = errors.first() {
            for e in &errors {
                eprintln!("mailerd explain: {e}");
            }
            anyhow::bail!(
                "{} unreadable entries under {p} (first: {first})",
                errors.len()
            );
        }
        return Ok(None);
    }
    let read = match file {
        Some(f) if meta.is_file() => read_into(f, &meta, buf).map(Some),
        Some(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map(|_| {
                inputs.push(Input {
                    name: p.to_string(),
                    bytes,
                });
                None
            })
        }
        None => fs::read(path).map(|bytes| {
            inputs.push(Input {
                name: p.to_string(),
                bytes,
            });
            None
        }),
    };
    read.with_context(|| format!("cannot read {p}"))
}

/// Reads an open regular file whose metadata is `meta` into `buf` (grown to the file's size
/// when smaller, never shrunk: one buffer serves every file) and returns the number of bytes
/// read: one `read` of the size, as the size is the stat of the same descriptor (where
/// `fs::read` stats twice and `read_to_end` reads in 8 kB steps at first). Stops at the size
/// (a file growing while it is read is read as it was when opened) or at an early end (one
/// shrinking).
fn read_into(mut file: fs::File, meta: &fs::Metadata, buf: &mut Vec<u8>) -> io::Result<usize> {
    let size = usize::try_from(meta.len()).map_err(io::Error::other)?;
    if buf.len() < size {
        buf.try_reserve_exact(size - buf.len())
            .map_err(io::Error::other)?;
        buf.resize(size, 0);
    }
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..size).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// [`read_into`] a buffer of its own for a regular file, to the end for anything else (a
/// pipe, a device).
fn read_open(mut file: fs::File, meta: &fs::Metadata) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if meta.is_file() {
        let n = read_into(file, meta, &mut bytes)?;
        bytes.truncate(n);
    } else {
        file.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

fn walk(dir: &Path, shown: &str, inputs: &mut Vec<Input>, errors: &mut Vec<String>) {
    let entries = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(format!("cannot read directory {shown}: {e}"));
            return;
        }
    };
    let mut names: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    names.sort();
    // A Maildir's tmp/ holds messages still being written: not mail yet.
    let is_maildir = names.iter().any(|(n, _)| n == "cur") && names.iter().any(|(n, _)| n == "new");
    for (name, path) in names {
        let shown_child = format!("{shown}/{name}");
        if is_maildir && name == "tmp" {
            continue;
        }
        let opened = fs::File::open(&path)
            .and_then(|f| f.metadata().map(|m| (Some(f), m)))
            .or_else(|e| match fs::metadata(&path) {
                Ok(m) if m.is_dir() => Ok((None, m)),
                _ => Err(e),
            });
        match opened {
            Ok((f, m)) if m.is_dir() => {
                drop(f);
                walk(&path, &shown_child, inputs, errors)
            }
            Ok((f, m)) => match f.map_or_else(|| fs::read(&path), |f| read_open(f, &m)) {
                Ok(bytes) => inputs.push(Input {
                    name: shown_child,
                    bytes,
                }),
                Err(e) => errors.push(format!("cannot read {shown_child}: {e}")),
            },
            Err(e) => errors.push(format!("cannot read {shown_child}: {e}")),
        }
    }
}

/// Splits an mbox (messages separated by `From ` lines) into messages. A file that does not
/// start with a `From ` line, or holds a single message, is returned whole.
fn split_mbox(b: &[u8]) -> Vec<&[u8]> {
    if !b.starts_with(b"From ") {
        return vec![b];
    }
    let mut starts = vec![0usize];
    let mut i = 0;
    while let Some(off) = memchr_nl(&b[i..]) {
        let line = i + off + 1;
        if b[line..].starts_with(b"From ") && looks_like_from_line(&b[line..]) {
            starts.push(line);
        }
        i = line;
    }
    if starts.len() == 1 {
        return vec![b];
    }
    starts.push(b.len());
    starts.windows(2).map(|w| &b[w[0]..w[1]]).collect()
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// `From sender date` lines of an mbox have at least three words; a body line that merely
/// begins with "From " ("From what I heard") rarely has a year in it.
fn looks_like_from_line(b: &[u8]) -> bool {
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    let line = String::from_utf8_lossy(&b[..end]);
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 3
        && words.iter().any(|w| {
            w.len() == 4
                && w.chars().all(|c| c.is_ascii_digit())
                && (w.starts_with("19") || w.starts_with("20"))
        })
}

/// An optional value written as itself, or as nothing (without a `String` in between).
struct Blank<T>(Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for Blank<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

/// `s` with tabs and line ends as spaces (borrowed when it has none, as nearly always).
fn tsv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|c| matches!(c, b'\t' | b'\r' | b'\n')) {
        s.replace(['\t', '\r', '\n'], " ").into()
    } else {
        s.into()
    }
}

/// Writes one message's rows, numbering recipients from `first`; returns the next number.
fn write_tsv(out: &mut impl Write, name: &str, a: &Analysis, first: usize) -> io::Result<usize> {
    let name = tsv_field(name);
    if a.recipients.is_empty() {
        writeln!(out, "{name}\t0\t\t\t\t\t\t\t\t{}", a.kind.as_str())?;
        return Ok(first);
    }
    for (i, r) in a.recipients.iter().enumerate() {
        writeln!(
            out,
            "{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            first + i,
            tsv_field(&r.recipient),
            Blank(r.status),
            r.reason,
            u8::from(r.hard_bounce),
            Blank(r.reply_code),
            r.action.map(|a| a.as_str()).unwrap_or(""),
            r.category.key(),
            a.kind.as_str(),
        )?;
    }
    Ok(first + a.recipients.len())
}

fn write_json(out: &mut impl Write, name: &str, a: &Analysis) -> io::Result<()> {
    use serde_json::{Value, json};
    let common = json!({
        "file": name,
        "kind": a.kind.as_str(),
        "reporting_mta": a.reporting_mta,
        "subject": a.subject,
        "from": a.from,
        "date": a.date,
        "original": a.original,
        "authenticity": a.authenticity,
    });
    let rows: Vec<Value> = if a.recipients.is_empty() {
        vec![json!({ "index": 0 })]
    } else {
        a.recipients
            .iter()
            .enumerate()
            .map(|(i, r)| recipient_json(i + 1, r))
            .collect()
    };
    for mut row in rows {
        if let (Value::Object(m), Value::Object(c)) = (&mut row, &common) {
            for (k, v) in c {
                m.insert(k.clone(), v.clone());
            }
        }
        serde_json::to_writer(&mut *out, &row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn recipient_json(index: usize, r: &RecipientReport) -> serde_json::Value {
    serde_json::json!({
        "index": index,
        "recipient": r.recipient,
        "original_recipient": r.original_recipient,
        "action": r.action,
        "status": r.status,
        "status_meaning": r.status.map(|s| s.meaning()),
        "reply_code": r.reply_code,
        "diagnostic": r.diagnostic,
        "remote_mta": r.remote_mta,
        "last_attempt": r.last_attempt,
        "will_retry_until": r.will_retry_until,
        "reason": r.reason,
        "hard_bounce": r.hard_bounce,
        "permanent": r.permanent,
        "category": r.category.key(),
        "headline": r.category.headline(),
        "meaning": r.category.meaning(),
        "advice": r.category.advice(),
        "decoded_by": r.decoded_by,
    })
}

/// The first bytes of a Microsoft compound file: what Outlook for Windows saves a message as
/// (`.msg`), a container of MAPI properties rather than the message as it was mailed.
const COMPOUND_FILE_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// What to do with an Outlook `.msg` file, instead of "not a bounce": it may well be one.
fn write_outlook_msg_note(out: &mut impl Write, name: &str) -> io::Result<()> {
    writeln!(out, "{name}")?;
    writeln!(
        out,
        "  This is an Outlook .msg file (a Microsoft compound document), not a mail message as it \
         was sent; mailerd explain cannot read it."
    )?;
    writeln!(
        out,
        "  To have it explained: in Outlook, forward the notice as an attachment and save that \
         (.eml), or copy the notice's text and run: mailerd explain -"
    )?;
    writeln!(out)?;
    Ok(())
}

fn write_text(out: &mut impl Write, name: &str, a: &Analysis) -> io::Result<()> {
    writeln!(out, "{name}")?;
    let what = match a.kind {
        mailerd_analyze::Kind::Bounce => "a delivery failure notice (bounce)",
        mailerd_analyze::Kind::Delay => "a delivery delay warning",
        mailerd_analyze::Kind::Success => "a delivery success notice",
        mailerd_analyze::Kind::AutoReply => {
            "an automatic reply (e.g. out of office), not a failure"
        }
        mailerd_analyze::Kind::Feedback => "a feedback (abuse) report, not a failure",
        mailerd_analyze::Kind::NotABounce => "not a bounce: no delivery report found in it",
    };
    // A reply pasted alone (`552 5.2.2 ... over quota`): say what it is, not "a bounce".
    let reply_alone = a.is_reply_alone();
    let what = if reply_alone {
        if a.kind == mailerd_analyze::Kind::Delay {
            "a mail server's reply: a temporary refusal"
        } else {
            "a mail server's reply: a refusal"
        }
    } else {
        what
    };
    write!(out, "  This is {what}")?;
    match &a.reporting_mta {
        Some(m) => writeln!(out, ", written by {m}.")?,
        None => writeln!(out, ".")?,
    }
    for r in &a.recipients {
        writeln!(out)?;
        let when = if !r.reason.is_failure() {
            ""
        } else if r.permanent {
            " (permanent)"
        } else {
            " (temporary)"
        };
        let who = if r.recipient.is_empty() {
            "The recipient"
        } else {
            r.recipient.as_str()
        };
        writeln!(out, "  {who}: {}{}", r.category.headline(), when)?;
        writeln!(out, "    What it means: {}", r.category.meaning())?;
        if r.reason.is_failure() {
            if r.permanent {
                writeln!(
                    out,
                    "    Permanent: this will not succeed by retrying unchanged."
                )?;
            } else if reply_alone {
                writeln!(
                    out,
                    "    Temporary: a later attempt may succeed; a sending server normally retries such a refusal for a while."
                )?;
            } else if let Some(until) = &r.will_retry_until {
                writeln!(
                    out,
                    "    Temporary: the sending server keeps retrying until {}.",
                    until.trim()
                )?;
            } else {
                writeln!(
                    out,
                    "    Temporary: the sending server keeps retrying for a while."
                )?;
            }
        }
        // Still being retried: nothing to resend yet; the category's advice is for when the
        // problem lasts (its own wording may say "resend later").
        if r.action == Some(mailerd_types::DsnAction::Delayed)
            && !reply_alone
            && !matches!(
                r.category,
                Category::TemporaryProblem | Category::RateLimited
            )
        {
            writeln!(
                out,
                "    What to do: Nothing to resend: the sending server keeps retrying on its own and tells you if it finally gives up. If the problem lasts: {}",
                r.category.advice()
            )?;
        } else {
            writeln!(out, "    What to do: {}", r.category.advice())?;
        }
        // RFC 3464 `expanded`: a list or alias took it and passes it on to its members, whose
        // own deliveries may be reported apart.
        if r.action == Some(mailerd_types::DsnAction::Expanded) {
            let from = r
                .original_recipient
                .as_deref()
                .filter(|o| !o.eq_ignore_ascii_case(&r.recipient))
                .map(|o| format!(" {o}"))
                .unwrap_or_default();
            writeln!(
                out,
                "    Expanded: the address{from} is a mailing list or alias; the message was passed on to its members."
            )?;
        }
        // Retried until the queue gave up: the last reply's own words may say why, and what
        // would help (a full inbox, a rate limit, a block).
        if r.category == Category::MessageExpired {
            let last = Category::for_reason(r.reason, true);
            if !matches!(
                last,
                Category::MessageExpired | Category::NotDelivered | Category::TemporaryProblem
            ) {
                writeln!(
                    out,
                    "    Why it kept failing: {}. {}",
                    last.headline(),
                    last.advice()
                )?;
            }
        }
        if let Some(d) = &r.diagnostic {
            // Without a reply code the words are the reporting MTA's own (dma's "Could not
            // deliver for the last 432000 seconds. Giving up."), not a server's response.
            if a.kind == mailerd_analyze::Kind::AutoReply {
                writeln!(out, "    What the reply says:")?;
            } else if reply_alone {
                writeln!(out, "    The reply:")?;
            } else if r.reply_code.is_none() {
                writeln!(out, "    What the notice says:")?;
            } else if r.remote_mta.is_some() {
                writeln!(out, "    The response from the remote server was:")?;
            } else {
                writeln!(out, "    The response from the server was:")?;
            }
            writeln!(out, "      {}", d.trim())?;
        }
        let mut facts = Vec::new();
        if let Some(s) = r.status {
            // X.0.9xx is not a registered code: the notice gave none, and the analyzer wrote
            // the placeholder of its reason (Sisimai's convention, kept for the TSV and JSON).
            if s.subject == 0 && (900..=999).contains(&s.detail) {
                facts.push(format!(
                    "status {s} (the notice gives none; a placeholder for the reason)"
                ));
            } else if s.class == mailerd_types::StatusClass::Success && s.subject == 0 {
                // The registry's X.0.0 is "other undefined status"; of a success it says only
                // that it succeeded.
                facts.push(format!("status {s} (success)"));
            } else if s.subject == 1 && s.detail == 10 && r.category == Category::AddressNotFound {
                // RFC 7505 registers X.1.10 for a null MX; Microsoft 365 and Exchange Online
                // answer it for an address they do not know (`RESOLVER.ADR.RecipientNotFound`).
                facts.push(format!(
                    "status {s} (recipient not found, as Microsoft uses it; registered for a null MX)"
                ));
            } else {
                facts.push(format!("status {s} ({})", s.meaning()));
            }
        }
        if let Some(c) = r.reply_code {
            facts.push(format!("reply code {c}"));
        }
        facts.push(format!("reason {}", r.reason));
        if r.hard_bounce {
            facts.push("hard bounce: stop sending to this address".into());
        }
        if let Some(m) = &r.remote_mta {
            facts.push(format!("remote server {m}"));
        }
        writeln!(out, "    Details: {}.", facts.join(", "))?;
    }
    if let Some(o) = &a.original {
        let mut parts = Vec::new();
        if let Some(s) = &o.subject {
            parts.push(format!("subject \"{s}\""));
        }
        if let Some(t) = &o.to {
            parts.push(format!("to {t}"));
        }
        if let Some(d) = &o.date {
            parts.push(format!("sent {d}"));
        }
        if let Some(m) = &o.message_id {
            parts.push(format!("Message-ID {m}"));
        }
        if !parts.is_empty() {
            writeln!(out)?;
            writeln!(out, "  Your original message: {}.", parts.join(", "))?;
        }
        if o.authenticated_submission {
            writeln!(
                out,
                "  It was sent through a logged-in account (its Received headers record an authenticated submission), so it was not forged; if you did not send it, someone else has the account's password."
            )?;
        }
    }
    writeln!(out)?;
    if reply_alone {
        // Nothing to judge: no notice came with it.
        return Ok(());
    }
    let v = match a.authenticity.verdict {
        Verdict::Genuine => "looks genuine",
        Verdict::Suspicious => {
            "is SUSPICIOUS: it may not be a real bounce; do not click links in it"
        }
        Verdict::Unknown => "cannot be confirmed genuine or fake",
        Verdict::Backscatter => {
            "is BACKSCATTER: a bounce of a message you did not send (your address was forged as its sender); you can delete it"
        }
    };
    writeln!(out, "  Authenticity: this notice {v}.")?;
    for reason in &a.authenticity.reasons {
        writeln!(out, "    - {reason}")?;
    }
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailerd_analyze::analyze;

    /// The text output for one message.
    fn text(raw: &str) -> String {
        let mut out = Vec::new();
        write_text(&mut out, "n", &analyze(raw.as_bytes())).unwrap_or(());
        String::from_utf8_lossy(&out).into_owned()
    }

    /// One report with a delivered, a delayed (with `Will-Retry-Until`), a failed and an
    /// expanded recipient: each is told as what it is.
    #[test]
    fn a_mixed_report_tells_each_recipient_as_it_is() {
        let raw = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../analyze/tests/data/notices/mixed-report.eml"
        ))
        .expect("notice file");
        let t = text(&raw);
        for want in [
            "ok@remote.test: Message delivered",
            "status 2.0.0 (success), reply code 250",
            "later@remote.test: Recipient inbox full (temporary)",
            "Temporary: the sending server keeps retrying until Fri, 11 Dec 2026 06:00:00 +0000.",
            "What to do: Nothing to resend: the sending server keeps retrying on its own",
            "gone@remote.test: Address not found (permanent)",
            "Expanded: the address list@sender.test is a mailing list or alias",
        ] {
            assert!(t.contains(want), "{want:?} not in {t}");
        }
    }

    #[test]
    fn an_outlook_msg_file_gets_advice_not_a_verdict() {
        let mut out = Vec::new();
        write_outlook_msg_note(&mut out, "ndr.msg").unwrap_or(());
        let t = String::from_utf8_lossy(&out);
        assert!(
            t.starts_with("ndr.msg\n  This is an Outlook .msg file"),
            "{t}"
        );
        assert!(t.contains("mailerd explain -"), "{t}");
    }

    #[test]
    fn a_reply_alone_is_told_as_a_reply_without_an_authenticity_verdict() {
        let t = text("550 5.1.1 <bob@remote.test>: Recipient address rejected: User unknown\n");
        assert!(
            t.contains("This is a mail server's reply: a refusal."),
            "{t}"
        );
        assert!(
            t.contains("bob@remote.test: Address not found (permanent)"),
            "{t}"
        );
        assert!(!t.contains("Authenticity"), "{t}");
        let t = text("421 4.7.0 Try again later, closing connection.\n");
        assert!(t.contains("a temporary refusal"), "{t}");
        assert!(t.contains("The recipient: "), "{t}");
    }

    #[test]
    fn only_a_reply_is_called_the_servers_response() {
        // dma's notice: the words are its own, no reply is quoted
        let own = text(
            "From: MAILER-DAEMON <>\nTo: a@example.org\nSubject: Mail delivery failed\n\nThis is the DragonFly Mail Agent v0.13 at mx.example.org.\n\nThere was an error delivering your mail to <b@example.net>.\n\nCould not deliver for the last 432000 seconds. Giving up.\n\nMessage headers follow.\n\nFrom: a@example.org\nTo: b@example.net\nSubject: hi\n",
        );
        assert!(
            own.contains("What the notice says:\n      Could not deliver"),
            "{own}"
        );
        assert!(!own.contains("The response from"), "{own}");
        // a report quoting the remote server's reply
        let reply = text(
            "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; b@example.net\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.net\nDiagnostic-Code: smtp; 550 5.1.1 <b@example.net>: user unknown\n--b--\n",
        );
        assert!(
            reply.contains("The response from the remote server was:\n      550 5.1.1"),
            "{reply}"
        );
    }

    #[test]
    fn statuses_are_explained_as_used() {
        // Office 365's 5.1.10 for an unknown address
        let ms = text(
            "From: postmaster@contoso.example\nTo: a@example.org\nSubject: Undeliverable: x\n\nDiagnostic information for administrators:\n\nGenerating server: EX1.contoso.example\n\nb@contoso.example\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n",
        );
        assert!(
            ms.contains("status 5.1.10 (recipient not found, as Microsoft uses it"),
            "{ms}"
        );
        assert!(
            ms.contains("was:\n      550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
            "{ms}"
        );
        // no status in the notice: the placeholder is said to be one
        let none = text(
            "From: MAILER-DAEMON@mx.example.fr\nTo: a@example.org\nSubject: Undeliverable: x\n\nYour message could not be delivered to the following recipients:\n\nb@example.fr\nL'adresse de messagerie que vous avez entrée est introuvable.\n",
        );
        assert!(none.contains("Address not found"), "{none}");
        assert!(
            none.contains("(the notice gives none; a placeholder for the reason)"),
            "{none}"
        );
    }

    #[test]
    fn tsv_numbers_recipients_across_an_mbox() {
        let bounce = |rcpt: &str| {
            format!(
                "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; {rcpt}\nAction: failed\nStatus: 5.1.1\n--b--\n"
            )
        };
        let mut out = Vec::new();
        let a1 = analyze(bounce("a@example.net").as_bytes());
        let a2 = analyze(bounce("b@example.net").as_bytes());
        let next = write_tsv(&mut out, "box", &a1, 1).unwrap_or(0);
        let next = write_tsv(&mut out, "box", &a2, next).unwrap_or(0);
        assert_eq!(next, 3);
        let text = String::from_utf8_lossy(&out);
        let rows: Vec<(&str, &str)> = text
            .lines()
            .map(|l| {
                let mut f = l.split('\t');
                (f.next().unwrap_or(""), f.next().unwrap_or(""))
            })
            .collect();
        assert_eq!(rows, [("box", "1"), ("box", "2")]);
    }

    #[test]
    fn mbox_split_needs_real_from_lines() {
        let one = b"From MAILER-DAEMON Thu Jan  1 00:00:00 2015\nSubject: x\n\nFrom what I hear\n";
        assert_eq!(split_mbox(one).len(), 1);
        let two = b"From a Thu Jan  1 00:00:00 2015\nSubject: x\n\nbody\nFrom b Fri Jan  2 00:00:00 2015\nSubject: y\n\n";
        let parts = split_mbox(two);
        assert_eq!(parts.len(), 2);
        assert!(parts[1].starts_with(b"From b"));
        assert_eq!(split_mbox(b"Subject: x\n\n").len(), 1);
    }
}
