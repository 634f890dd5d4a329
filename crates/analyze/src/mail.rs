//! A lazy, zero-copy reader of Internet messages (RFC 5322 header blocks, RFC 2045/2046 MIME
//! structure) for the analyzer: just what `mime`, `autoreply` and the pipeline read.
//!
//! [`Message::parse`] does one pass over the bytes that delimits the header blocks (each
//! header is a name and the range of its raw value, nothing converted) and walks multipart
//! bodies by boundary with `memmem`, nesting `message/rfc822` parts as they come. Nothing
//! else is done up front: a header is unfolded and decoded (RFC 2047 encoded words, address
//! lists, Message-ID, Content-Type parameters) only when it is read, and a part's transfer
//! encoding (base64, quoted-printable, 7bit/8bit/binary) and charset only when its body is read
//! ([`Part::body`]). A `message/rfc822` part sent base64 or quoted-printable is decoded and
//! parsed only when it is looked at.
//!
//! Its answers are the ones mail-parser 0.11 gave the analyzer before (the structure it finds
//! in broken messages included: a boundary is recognised anywhere, not only at a line start; a
//! part whose closing boundary is missing, or whose base64 or quoted-printable is invalid, is
//! kept as raw text and flagged [`Part::problem`]), so that the analyzer's output is unchanged.
//! Charsets are converted by mail-parser's decoders (every charset it knows, ISO-2022-JP,
//! windows-125x, KOI8, UTF-16, ...). The structured values of the few header fields read
//! (Subject, From/To/Cc, Message-ID, Content-Type/Disposition) are read by `fields` when
//! they are written plainly, else by mail-parser's parser for that field, on that field's
//! bytes alone.
//!
//! What it does not do: it writes nothing, keeps no copy of a part's bytes, reads no header
//! it is not asked for, and does not validate messages. It never panics; nesting deeper than
//! [`MAX_NESTING`] levels is read as a leaf part, so that stack use and time stay bounded
//! (at most `MAX_NESTING` boundary searches over the input per level).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::rc::Rc;

mod fields;
use mail_parser::{Address, ContentType};

/// Multipart and message nesting read as structure; deeper parts are leaves.
pub const MAX_NESTING: usize = 64;

/// Encoded `message/rfc822` parts inside each other that are still parsed as messages
/// (mail-parser's limit).
const MAX_ENCODED_NESTING: usize = 3;

/// The bytes a message's offsets index: the input, or a decoded `message/rfc822` part.
#[derive(Clone, Debug)]
enum Buf<'a> {
    Borrowed(&'a [u8]),
    Shared(Rc<[u8]>),
}

impl Buf<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Buf::Borrowed(b) => b,
            Buf::Shared(b) => b,
        }
    }
}

/// One header field: where its name and raw value (after the colon, up to and including the
/// line end that ends it) are in the buffer.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
    /// Which of [`NAMES`] it is (0: another).
    id: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    None,
    Base64,
    QuotedPrintable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mime {
    Multipart,
    Digest,
    TextPlain,
    TextHtml,
    TextOther,
    Message,
    Other,
}

#[derive(Debug)]
enum Kind<'a> {
    /// A multipart container (its parts follow it in the list).
    Multipart,
    /// A leaf: its raw body is `body` in the buffer.
    Leaf {
        mime: Mime,
        enc: Encoding,
        structural_problem: bool,
    },
    /// A `message/rfc822` part written as is: its message was parsed with the structure.
    Inline(Option<Box<Message<'a>>>),
}

/// One part of a message: its header fields, its raw body range and what it is.
#[derive(Debug)]
pub struct Part<'a> {
    fields: (u32, u32),
    body: (usize, usize),
    /// Where the `--boundary` that ends the body starts (`usize::MAX`: none).
    dash: usize,
    kind: Kind<'a>,
    /// A `message/rfc822` part in base64 or quoted-printable, decoded and parsed on demand.
    encoded: OnceCell<Option<Box<Message<'static>>>>,
    depth: usize,
    /// `type/subtype` of the Content-Type, ASCII lower-cased (`None`: no Content-Type).
    ctype: Option<Box<str>>,
    /// Its `charset` and `name` parameters.
    charset: Option<Box<str>>,
    name: Option<Box<str>>,
}

/// A parsed message: its parts in depth-first order, the root first (the parts of an
/// attached message are that message's own, not these).
#[derive(Debug)]
pub struct Message<'a> {
    buf: Buf<'a>,
    fields: Vec<Field>,
    parts: Vec<Part<'a>>,
    /// Where the root's body ends (the raw body of a part that is not multipart).
    root_end: usize,
    /// Where the root's header block starts (0, or the attached message's start in the
    /// buffer of the message that carries it).
    root_start: usize,
}

/// What a part's body is, decoded.
pub enum Body<'m> {
    Multipart,
    Text(Cow<'m, str>),
    Html(Cow<'m, str>),
    Binary(Cow<'m, [u8]>),
    Message(&'m Message<'m>),
}

/// A part seen from its message.
#[derive(Clone, Copy)]
pub struct PartRef<'m> {
    msg: &'m Message<'m>,
    part: &'m Part<'m>,
}

// ----------------------------------------------------------------------------------------
// Header blocks.

/// The header names the analyzer reads (lower-case): each field is matched against them
/// once, when its block is read, and a lookup compares indexes (`id` 0: none of these).
const NAMES: &[&str] = &[
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "subject",
    "from",
    "to",
    "cc",
    "message-id",
    "date",
    "received",
    "list-id",
    "list-post",
    "mailing-list",
    "x-beenthere",
    "x-mailman-version",
    "newsgroups",
    "precedence",
    "delivered-to",
    "return-path",
    "auto-submitted",
    "x-failed-recipients",
    "x-autoreply",
    "x-autorespond",
    "x-apple-action",
    "x-auto-response",
];

/// Of [`NAMES`], those mail-parser knows: it reads them with white space inside the name
/// removed (`Sub ject:` is a Subject), names of at most 34 bytes only. It compares other
/// names as written.
const KNOWN: &[&str] = &[
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "subject",
    "from",
    "to",
    "cc",
    "message-id",
    "date",
    "received",
    "list-id",
    "list-post",
    "delivered-to",
    "return-path",
    "auto-submitted",
];

/// For each name length, the [`NAMES`] indexes of that length (at most 8).
static BY_LEN: [[u8; 8]; 26] = {
    let mut t = [[0u8; 8]; 26];
    let mut i = 0;
    while i < NAMES.len() {
        let l = NAMES[i].len();
        let mut k = 0;
        while t[l][k] != 0 {
            k += 1;
        }
        t[l][k] = i as u8 + 1;
        i += 1;
    }
    t
};

/// The [`NAMES`] index of `name` (ASCII case ignored), 0 when it is none of them. `name`
/// has no white space (a field's name with white space inside is squeezed first).
fn id_of(name: &[u8]) -> u8 {
    let Some(candidates) = BY_LEN.get(name.len()) else {
        return 0;
    };
    for &id in candidates {
        if id == 0 {
            break;
        }
        if NAMES
            .get(id as usize - 1)
            .is_some_and(|n| eq_lower(name, n.as_bytes()))
        {
            return id;
        }
    }
    0
}

/// `name` is `lower` ignoring ASCII case, `lower` being lower-case letters and `-` and
/// `name` of the same length without white space: setting bit 0x20 of each byte of `name`
/// lower-cases its letters and changes no other byte into a letter or `-` (only CR, 0x0D,
/// would become `-`, and it is white space). Eight bytes at a time.
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    let mut a = name.chunks_exact(8);
    let mut b = lower.chunks_exact(8);
    for (x, y) in (&mut a).zip(&mut b) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        if x | 0x2020_2020_2020_2020 != y {
            return false;
        }
    }
    a.remainder()
        .iter()
        .zip(b.remainder())
        .all(|(x, y)| x | 0x20 == *y)
}

/// The [`NAMES`] index of a field's name as written (`spaced`: with white space inside).
fn field_id(raw: &[u8], spaced: bool) -> u8 {
    if !spaced {
        return id_of(raw);
    }
    let squeezed: Vec<u8> = raw
        .iter()
        .filter(|c| !c.is_ascii_whitespace())
        .copied()
        .collect();
    match id_of(&squeezed) {
        0 => 0,
        id if squeezed.len() <= 34 && KNOWN.contains(&NAMES[id as usize - 1]) => id,
        _ => 0,
    }
}

/// A header name to look for: one of [`NAMES`] (compared by index), else compared as
/// written, ignoring ASCII case.
#[derive(Clone, Copy)]
struct Name<'n> {
    id: u8,
    name: &'n str,
}

impl<'n> Name<'n> {
    fn new(name: &'n str) -> Self {
        Name {
            id: id_of(name.as_bytes()),
            name,
        }
    }

    fn is(self, buf: &[u8], f: &Field) -> bool {
        match self.id {
            0 => buf
                .get(f.name.0 as usize..f.name.1 as usize)
                .is_some_and(|raw| raw.eq_ignore_ascii_case(self.name.as_bytes())),
            id => f.id == id,
        }
    }
}

/// Reads a header block from `pos`: appends its fields and returns where the body starts and
/// whether the block ended with an empty line (`false`: the input ended first).
fn header_block(data: &[u8], mut pos: usize, out: &mut Vec<Field>) -> (usize, bool) {
    loop {
        // White space before a name is skipped; an empty line ends the block.
        loop {
            match data.get(pos) {
                None => return (pos, false),
                Some(b'\n') => return (pos + 1, true),
                Some(c) if !c.is_ascii_whitespace() => break,
                Some(_) => pos += 1,
            }
        }
        // The name: up to the first colon after some text (a colon before any is skipped);
        // a line without one is dropped.
        let mut from = pos;
        let (ns, ne) = loop {
            let rest = data.get(from..).unwrap_or_default();
            let (end, at_colon) = match memchr::memchr2(b':', b'\n', rest) {
                Some(k) => (from + k, rest.get(k) == Some(&b':')),
                None => (data.len(), false),
            };
            let region = data.get(from..end).unwrap_or_default();
            let token = region
                .iter()
                .position(|c| !c.is_ascii_whitespace())
                .map(|s| {
                    let e = region
                        .iter()
                        .rposition(|c| !c.is_ascii_whitespace())
                        .map_or(s + 1, |e| e + 1);
                    (from + s, from + e)
                });
            if at_colon {
                pos = end + 1;
                match token {
                    Some(t) => break Some(t),
                    // A colon before any text: skipped.
                    None => from = end + 1,
                }
            } else if end == data.len() {
                // The input ends: a name without a colon still is a (valueless) field.
                pos = end;
                break token;
            } else {
                // A line end: the line is dropped.
                pos = end + 1;
                break None;
            }
        }
        .map_or((0, 0), |t| t);
        if ne == 0 {
            continue;
        }
        let spaced = data
            .get(ns..ne)
            .is_some_and(|n| n.iter().any(u8::is_ascii_whitespace));
        // The value: up to the line end not followed by a space or tab.
        let vs = pos;
        let ve = loop {
            match memchr::memchr(b'\n', data.get(pos..).unwrap_or_default()) {
                Some(p) => {
                    pos += p + 1;
                    if matches!(data.get(pos), Some(b' ' | b'\t')) {
                        pos += 1;
                    } else {
                        break pos;
                    }
                }
                None => {
                    pos = data.len();
                    break pos;
                }
            }
        };
        out.push(Field {
            name: (ns as u32, ne as u32),
            value: (vs as u32, ve as u32),
            id: field_id(data.get(ns..ne).unwrap_or_default(), spaced),
        });
    }
}

// ----------------------------------------------------------------------------------------
// Structure.

fn content_type_of<'x>(buf: &'x [u8], fields: &[Field]) -> Option<ContentType<'x>> {
    let n = Name::new("Content-Type");
    let f = fields.iter().rev().find(|f| n.is(buf, f))?;
    fields::content_type(buf.get(f.value.0 as usize..f.value.1 as usize)?)
}

fn mime_of(ct: Option<&ContentType<'_>>, parent: Mime) -> Mime {
    match ct {
        Some(ct) => match ct.ctype() {
            "multipart" => match ct.subtype() {
                Some("digest") => Mime::Digest,
                _ => Mime::Multipart,
            },
            "text" => match ct.subtype() {
                Some("plain") => Mime::TextPlain,
                Some("html") => Mime::TextHtml,
                _ => Mime::TextOther,
            },
            "message" if matches!(ct.subtype(), Some("rfc822" | "global")) => Mime::Message,
            _ => Mime::Other,
        },
        None if parent == Mime::Digest => Mime::Message,
        None => Mime::TextPlain,
    }
}

fn encoding_of(buf: &[u8], fields: &[Field]) -> Encoding {
    let n = Name::new("Content-Transfer-Encoding");
    let Some(f) = fields.iter().rev().find(|f| n.is(buf, f)) else {
        return Encoding::None;
    };
    let v = buf
        .get(f.value.0 as usize..f.value.1 as usize)
        .unwrap_or_default();
    match fields::unstructured(v) {
        Some(t) if t.eq_ignore_ascii_case("base64") => Encoding::Base64,
        Some(t) if t.eq_ignore_ascii_case("quoted-printable") => Encoding::QuotedPrintable,
        _ => Encoding::None,
    }
}

/// How an entity's reading ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    /// At the terminating boundary (`--boundary` read; the position is after it).
    Boundary,
    /// The input ended (or, at the top, the message is complete): reading stops.
    Stop,
}

struct Walker<'d> {
    data: &'d [u8],
    pos: usize,
}

impl Walker<'_> {
    /// After `--boundary`: `--` ends the multipart; otherwise the line end is skipped.
    fn multipart_end(&mut self) -> bool {
        let d = self.data;
        match (d.get(self.pos), d.get(self.pos + 1)) {
            (Some(b'\r'), Some(b'\n')) => {
                self.pos += 2;
                false
            }
            (Some(b'-'), Some(b'-')) => {
                self.pos += 2;
                true
            }
            (Some(b'\n'), _) => {
                self.pos += 1;
                false
            }
            (Some(a), _) if a.is_ascii_whitespace() => {
                self.pos += 1;
                self.skip_crlf();
                false
            }
            _ => false,
        }
    }

    fn skip_crlf(&mut self) {
        while let Some(&c) = self.data.get(self.pos) {
            match c {
                b'\r' | b' ' | b'\t' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    break;
                }
                _ => break,
            }
        }
    }

    /// The next `--boundary` from the position (anywhere, not only at a line start): where
    /// it starts.
    fn find(&self, needle: &Boundary) -> Option<usize> {
        if needle.needle().len() <= 2 {
            return None;
        }
        let hay = self.data.get(self.pos..)?;
        needle.find(hay).map(|p| self.pos + p)
    }

    /// The end of a body that runs up to `--boundary` at `dash`: before the line end that
    /// precedes it when it starts a line, else right before it.
    fn body_end(&self, start: usize, dash: usize) -> usize {
        if dash == start {
            return start;
        }
        if self.data.get(dash - 1) == Some(&b'\n') {
            if dash >= 2 + start && self.data.get(dash - 2) == Some(&b'\r') {
                dash - 2
            } else {
                dash - 1
            }
        } else {
            dash
        }
    }
}

struct Builder<'a> {
    fields: Vec<Field>,
    parts: Vec<Part<'a>>,
    depth: usize,
}

/// `--` and a multipart's boundary, with its own search: the occurrences of the needle's
/// first byte that is not a dash (the rarest in text, usually) are tried, each confirmed by
/// comparing the needle there. (A `memmem::Finder` cost about 3,000 instructions to build per
/// multipart, more than its searches in the bodies of a bounce.)
struct Boundary {
    needle: Vec<u8>,
    /// Index in `needle` of the byte searched for.
    key: usize,
}

impl Boundary {
    fn new(boundary: &str) -> Boundary {
        let mut needle = Vec::with_capacity(boundary.len() + 2);
        needle.extend_from_slice(b"--");
        needle.extend_from_slice(boundary.as_bytes());
        let key = needle.iter().position(|&c| c != b'-').unwrap_or(0);
        Boundary { needle, key }
    }

    fn needle(&self) -> &[u8] {
        &self.needle
    }

    /// The first occurrence of the needle in `hay`.
    fn find(&self, hay: &[u8]) -> Option<usize> {
        let k = *self.needle.get(self.key)?;
        memchr::memchr_iter(k, hay.get(self.key..)?)
            .find(|&p| hay.get(p..).is_some_and(|h| h.starts_with(&self.needle)))
    }
}

impl<'a> Builder<'a> {
    fn part(&self, fields: (usize, usize), body: (usize, usize), kind: Kind<'a>) -> Part<'a> {
        Part {
            fields: (fields.0 as u32, fields.1 as u32),
            body,
            dash: usize::MAX,
            kind,
            encoded: OnceCell::new(),
            depth: self.depth,
            ctype: None,
            charset: None,
            name: None,
        }
    }

    /// Reads one entity (header block and body) at the walker's position; its body ends at
    /// `terminator` (`--boundary`; `None`: at the end of the input).
    fn entity(
        &mut self,
        w: &mut Walker<'_>,
        terminator: Option<&Boundary>,
        parent: Mime,
        nesting: usize,
        shared: &Buf<'a>,
    ) -> End {
        let f0 = self.fields.len();
        let (body_start, complete) = header_block(w.data, w.pos, &mut self.fields);
        w.pos = body_start;
        if !complete {
            // The fields read stay for a message that has only headers.
            return End::Stop;
        }
        let f1 = self.fields.len();
        let fields = self.fields.get(f0..f1).unwrap_or_default();
        let ct = content_type_of(w.data, fields);
        let ct = ct.as_ref();
        let mut mime = mime_of(ct, parent);
        let info = |p: &mut Part<'a>| {
            if let Some(ct) = ct {
                let (t, sub) = (ct.ctype(), ct.subtype().unwrap_or(""));
                let mut s = String::with_capacity(t.len() + 1 + sub.len());
                s.push_str(t);
                s.push('/');
                s.push_str(sub);
                s.make_ascii_lowercase();
                p.ctype = Some(s.into_boxed_str());
                p.charset = ct.attribute("charset").map(Into::into);
                p.name = ct.attribute("name").map(Into::into);
            }
        };
        if matches!(mime, Mime::Multipart | Mime::Digest)
            && let Some(b) = ct.and_then(|c| c.attribute("boundary"))
        {
            let own = Boundary::new(b);
            if nesting < MAX_NESTING
                && let Some(at) = w.find(&own)
            {
                w.pos = at + own.needle().len();
                let me = self.parts.len();
                let mut p = self.part((f0, f1), (body_start, 0), Kind::Multipart);
                info(&mut p);
                self.parts.push(p);
                w.skip_crlf();
                loop {
                    if self.entity(w, Some(&own), mime, nesting + 1, shared) == End::Stop {
                        self.set_end(me, w.pos);
                        return End::Stop;
                    }
                    if w.multipart_end() {
                        // Then the enclosing boundary.
                        if let Some(outer) = terminator
                            && let Some(at) = w.find(outer)
                        {
                            let end = last_line_end(w.data, w.pos, at);
                            self.set_end(me, end);
                            w.pos = at + outer.needle().len();
                            return End::Boundary;
                        }
                        self.set_end(me, w.pos);
                        return End::Stop;
                    }
                }
            }
            mime = Mime::TextOther;
        }
        let enc = encoding_of(w.data, fields);
        if mime == Mime::Message && enc == Encoding::None && nesting < MAX_NESTING {
            let me = self.parts.len();
            let mut p = self.part((f0, f1), (body_start, 0), Kind::Inline(None));
            info(&mut p);
            self.parts.push(p);
            let mut inner = Builder {
                fields: Vec::new(),
                parts: Vec::new(),
                depth: self.depth,
            };
            let end = inner.entity(w, terminator, Mime::Message, nesting + 1, shared);
            let part_end = match (end, terminator) {
                (End::Boundary, Some(t)) => {
                    w.body_end(body_start, w.pos.saturating_sub(t.needle().len()))
                }
                _ => w.pos,
            };
            let nested = (!inner.parts.is_empty()).then(|| {
                let root_end = inner.parts.first().map_or(part_end, |p| p.body.1);
                Box::new(Message {
                    buf: shared.clone(),
                    fields: inner.fields,
                    parts: inner.parts,
                    root_end,
                    root_start: body_start,
                })
            });
            if let Some(p) = self.parts.get_mut(me) {
                p.body.1 = part_end;
                p.kind = Kind::Inline(nested);
            }
            return end;
        }
        // A leaf: its body runs to the terminator.
        let mut structural_problem = false;
        let mut dash = usize::MAX;
        let (end, body_end) = match terminator {
            Some(t) => match w.find(t) {
                Some(at) => {
                    dash = at;
                    let e = w.body_end(body_start, at);
                    w.pos = at + t.needle().len();
                    (End::Boundary, e)
                }
                None => {
                    structural_problem = true;
                    w.pos = w.data.len();
                    (End::Stop, w.data.len())
                }
            },
            None => {
                w.pos = w.data.len();
                (End::Stop, w.data.len())
            }
        };
        let mut p = self.part(
            (f0, f1),
            (body_start, body_end),
            Kind::Leaf {
                mime,
                enc,
                structural_problem,
            },
        );
        p.dash = dash;
        info(&mut p);
        self.parts.push(p);
        end
    }

    fn set_end(&mut self, part: usize, end: usize) {
        if let Some(p) = self.parts.get_mut(part) {
            p.body.1 = end;
        }
    }
}

/// Where the line before `at` ends (its line feed, or the CR of its CRLF), searching from
/// `from`; `from` itself when no line ends in between.
fn last_line_end(data: &[u8], from: usize, at: usize) -> usize {
    match memchr::memrchr(b'\n', data.get(from..at).unwrap_or_default()) {
        Some(p) => {
            let nl = from + p;
            if nl > from && data.get(nl - 1) == Some(&b'\r') {
                nl - 1
            } else {
                nl
            }
        }
        None => from,
    }
}

impl<'a> Message<'a> {
    /// Parses a message: `None` when it has no header at all.
    pub fn parse(raw: &'a [u8]) -> Option<Message<'a>> {
        Self::parse_buf(Buf::Borrowed(raw), 0)
    }

    fn parse_buf(buf: Buf<'a>, depth: usize) -> Option<Message<'a>> {
        let handle = buf.clone();
        let data = handle.bytes();
        let mut w = Walker { data, pos: 0 };
        let mut b = Builder {
            fields: Vec::new(),
            parts: Vec::new(),
            depth,
        };
        b.entity(&mut w, None, Mime::Message, 0, &buf);
        let (fields, mut parts, len) = (b.fields, b.parts, data.len());
        // The root of a message read on its own runs to the end of its bytes.
        if let Some(root) = parts.first_mut() {
            root.body.1 = len;
        }
        if parts.is_empty() {
            if fields.is_empty() {
                return None;
            }
            // Only headers: one empty part, flagged.
            let mut p = Builder {
                fields: Vec::new(),
                parts: Vec::new(),
                depth,
            }
            .part(
                (0, fields.len()),
                (len, len),
                Kind::Leaf {
                    mime: Mime::TextPlain,
                    enc: Encoding::None,
                    structural_problem: true,
                },
            );
            p.dash = usize::MAX;
            parts.push(p);
        }
        Some(Message {
            buf,
            fields,
            parts,
            root_end: len,
            root_start: 0,
        })
    }

    /// The header block alone (what follows it is not read): `None` when it has no header.
    pub fn parse_headers(raw: &'a [u8]) -> Option<Message<'a>> {
        let mut fields = Vec::new();
        let (body, _) = header_block(raw, 0, &mut fields);
        if fields.is_empty() {
            return None;
        }
        let n = fields.len();
        let p = Builder {
            fields: Vec::new(),
            parts: Vec::new(),
            depth: 0,
        }
        .part(
            (0, n),
            (body, raw.len()),
            Kind::Leaf {
                mime: Mime::TextPlain,
                enc: Encoding::None,
                structural_problem: true,
            },
        );
        Some(Message {
            buf: Buf::Borrowed(raw),
            fields,
            parts: vec![p],
            root_end: raw.len(),
            root_start: 0,
        })
    }

    fn data(&self) -> &[u8] {
        self.buf.bytes()
    }

    fn root_fields(&self) -> &[Field] {
        let (a, b) = self.parts.first().map_or((0, 0), |p| p.fields);
        self.fields.get(a as usize..b as usize).unwrap_or_default()
    }

    fn value_of(&self, f: &Field) -> &[u8] {
        self.data()
            .get(f.value.0 as usize..f.value.1 as usize)
            .unwrap_or_default()
    }

    fn last(&self, name: &str) -> Option<&[u8]> {
        let data = self.data();
        let n = Name::new(name);
        self.root_fields()
            .iter()
            .rev()
            .find(|f| n.is(data, f))
            .map(|f| self.value_of(f))
    }

    /// The raw value of the last header named `name` (ASCII case ignored), with its leading
    /// white space and line end, `None` when there is none or it is not UTF-8.
    pub fn header_raw(&self, name: &str) -> Option<&str> {
        self.last(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// [`Message::header_raw`] for several names, in one pass over the headers.
    pub fn raw_headers<const N: usize>(&self, names: [&str; N]) -> [Option<&str>; N] {
        let mut out = [None; N];
        let data = self.data();
        let names = names.map(Name::new);
        if names.iter().all(|n| n.id != 0) {
            // Every name is one of `NAMES`: a field's index says which slot it fills.
            let mut slot_of = [usize::MAX; NAMES.len() + 1];
            for (i, n) in names.iter().enumerate() {
                if let Some(s) = slot_of.get_mut(n.id as usize)
                    && *s == usize::MAX
                {
                    *s = i;
                }
            }
            for f in self.root_fields() {
                if f.id != 0
                    && let Some(slot) = slot_of.get(f.id as usize).and_then(|&s| out.get_mut(s))
                {
                    *slot = std::str::from_utf8(self.value_of(f)).ok();
                }
            }
            // A name asked twice: the later slots as the first.
            for i in 0..N {
                if let Some(j) = (0..i).find(|&j| names[j].id == names[i].id) {
                    out[i] = out[j];
                }
            }
            return out;
        }
        for f in self.root_fields() {
            for (slot, n) in out.iter_mut().zip(names) {
                if n.is(data, f) {
                    *slot = std::str::from_utf8(self.value_of(f)).ok();
                }
            }
        }
        out
    }

    /// The raw values of every header named `name`, in order (values that are not UTF-8
    /// skipped).
    pub fn raw_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        let data = self.data();
        let n = Name::new(name);
        self.root_fields()
            .iter()
            .filter(move |f| n.is(data, f))
            .filter_map(move |f| std::str::from_utf8(self.value_of(f)).ok())
    }

    /// Every header named `name`, its value with the surrounding white space removed
    /// (folding kept), converted to UTF-8 lossily; empty values skipped.
    pub fn texts_raw<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Cow<'s, str>> + 's {
        let data = self.data();
        let n = Name::new(name);
        self.root_fields()
            .iter()
            .filter(move |f| n.is(data, f))
            .filter_map(move |f| {
                let v = self.value_of(f);
                let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
                let s = v.iter().position(|c| !ws(c))?;
                let e = v.iter().rposition(|c| !ws(c))? + 1;
                Some(String::from_utf8_lossy(v.get(s..e).unwrap_or_default()))
            })
    }

    /// The Subject, unfolded, encoded words decoded.
    pub fn subject(&self) -> Option<Cow<'_, str>> {
        fields::unstructured(self.last("Subject")?)
    }

    /// The Message-ID without its angle brackets.
    pub fn message_id(&self) -> Option<Cow<'_, str>> {
        fields::id(self.last("Message-ID")?)
    }

    fn address(&self, name: &str) -> Option<Address<'_>> {
        fields::address(self.last(name)?)
    }

    /// The From addresses.
    pub fn from(&self) -> Option<Address<'_>> {
        self.address("From")
    }

    /// The To addresses.
    pub fn to(&self) -> Option<Address<'_>> {
        self.address("To")
    }

    /// The Cc addresses.
    pub fn cc(&self) -> Option<Address<'_>> {
        self.address("Cc")
    }

    /// The parts, the root first.
    pub fn parts<'s>(&'s self) -> impl Iterator<Item = PartRef<'s>> + 's {
        let msg: &'s Message<'s> = self;
        msg.parts.iter().map(move |part| PartRef { msg, part })
    }

    /// The root part.
    pub fn root<'s>(&'s self) -> Option<PartRef<'s>> {
        let msg: &'s Message<'s> = self;
        msg.parts.first().map(|part| PartRef { msg, part })
    }

    /// The bytes the message was read from (for an attached message written as is, those of
    /// the message that carries it).
    pub fn raw_bytes(&self) -> &[u8] {
        self.data()
    }

    /// The root part's raw body (not decoded), as the analyzer read it through mail-parser
    /// (kept so that its answers stay the same): the body's offsets in the buffer applied to
    /// the message's own bytes (from its header block to the root's end). For a message
    /// read on its own (and a decoded attached one) that is the body; for an attached
    /// message written as is it is nearly always empty.
    pub fn root_body_raw(&self) -> &[u8] {
        let data = self.data();
        let own_start = self.root_start.min(data.len());
        let own = data
            .get(own_start..self.root_end.clamp(own_start, data.len()))
            .unwrap_or_default();
        let start = self.parts.first().map_or(0, |p| p.body.0).min(own.len());
        let end = self
            .parts
            .first()
            .map_or(0, |p| p.body.1)
            .clamp(start, own.len());
        own.get(start..end).unwrap_or_default()
    }
}

impl<'m> PartRef<'m> {
    fn fields(&self) -> &'m [Field] {
        let (a, b) = self.part.fields;
        self.msg
            .fields
            .get(a as usize..b as usize)
            .unwrap_or_default()
    }

    fn last(&self, name: &str) -> Option<&'m [u8]> {
        let data = self.msg.data();
        let n = Name::new(name);
        self.fields()
            .iter()
            .rev()
            .find(|f| n.is(data, f))
            .map(|f| self.msg.value_of(f))
    }

    fn parsed_ct(&self, name: &str) -> Option<ContentType<'m>> {
        fields::content_type(self.last(name)?)
    }

    /// The Content-Type.
    pub fn content_type(&self) -> Option<ContentType<'m>> {
        self.parsed_ct("Content-Type")
    }

    /// The Content-Disposition.
    pub fn content_disposition(&self) -> Option<ContentType<'m>> {
        self.parsed_ct("Content-Disposition")
    }

    /// The Content-ID (without angle brackets).
    pub fn content_id(&self) -> Option<Cow<'m, str>> {
        fields::id(self.last("Content-ID")?)
    }

    /// The Content-Transfer-Encoding as written (unfolded).
    pub fn content_transfer_encoding(&self) -> Option<Cow<'m, str>> {
        fields::unstructured(self.last("Content-Transfer-Encoding")?)
    }

    /// `filename` of the Content-Disposition, else `name` of the Content-Type.
    pub fn attachment_name(&self) -> Option<Cow<'m, str>> {
        self.content_disposition()
            .and_then(|d| d.attribute("filename").map(|f| Cow::Owned(f.to_string())))
            .or_else(|| self.part.name.as_deref().map(Cow::Borrowed))
    }

    /// `type/subtype` of the Content-Type, ASCII lower-cased; `None` without one.
    pub fn ctype(&self) -> Option<&'m str> {
        self.part.ctype.as_deref()
    }

    pub fn is_multipart(&self) -> bool {
        matches!(self.part.kind, Kind::Multipart)
    }

    fn raw(&self) -> &'m [u8] {
        let data = self.msg.data();
        let (s, e) = self.part.body;
        let s = s.min(data.len());
        data.get(s..e.clamp(s, data.len())).unwrap_or_default()
    }

    /// The part could not be read as what it says: a closing boundary missing, invalid
    /// base64 or quoted-printable, an attached message that is not one.
    pub fn problem(&self) -> bool {
        match &self.part.kind {
            Kind::Multipart => false,
            Kind::Inline(m) => m.is_none(),
            Kind::Leaf {
                mime,
                enc,
                structural_problem,
            } => {
                if *structural_problem {
                    return true;
                }
                if !self.decodes(*enc) {
                    return true;
                }
                *mime == Mime::Message && *enc != Encoding::None && self.encoded().is_none()
            }
        }
    }

    fn decodes(&self, enc: Encoding) -> bool {
        match enc {
            Encoding::None => true,
            Encoding::Base64 => base64_valid(self.encoded_input()),
            Encoding::QuotedPrintable => quoted_printable_valid(self.encoded_input()),
        }
    }

    /// The attached message, when this part is one (what [`Part::body`] gives as
    /// [`Body::Message`], without decoding any other part's body).
    pub fn message(&self) -> Option<&'m Message<'m>> {
        match &self.part.kind {
            Kind::Inline(m) => m.as_deref(),
            Kind::Leaf {
                mime: Mime::Message,
                structural_problem: false,
                ..
            } => self.encoded(),
            _ => None,
        }
    }

    /// The bytes the transfer decoders read: the raw body and, when a boundary ends it, the
    /// boundary's first `-` (see [`base64`] and [`quoted_printable`]).
    fn encoded_input(&self) -> &'m [u8] {
        let data = self.msg.data();
        let s = self.part.body.0.min(data.len());
        let e = match self.part.dash {
            usize::MAX => self.part.body.1,
            d => d + 1,
        };
        data.get(s..e.clamp(s, data.len())).unwrap_or_default()
    }

    fn quoted_printable(&self) -> Option<Vec<u8>> {
        quoted_printable(self.encoded_input(), self.part.dash != usize::MAX)
    }

    fn encoded(&self) -> Option<&'m Message<'m>> {
        let Kind::Leaf { enc, .. } = self.part.kind else {
            return None;
        };
        self.part
            .encoded
            .get_or_init(|| {
                if self.part.depth + 1 > MAX_ENCODED_NESTING {
                    return None;
                }
                let bytes = match enc {
                    Encoding::Base64 => base64(self.encoded_input())?,
                    Encoding::QuotedPrintable => self.quoted_printable()?,
                    Encoding::None => return None,
                };
                let buf: Rc<[u8]> = Rc::from(bytes);
                Message::parse_buf(Buf::Shared(buf), self.part.depth + 1)
                    .map(|m| Box::new(m.into_static()))
            })
            .as_deref()
    }

    /// The body, decoded as mail-parser gave it: text parts converted from their charset
    /// (or as UTF-8, lossily), other leaves' bytes decoded, an attached message parsed.
    pub fn body(&self) -> Body<'m> {
        match &self.part.kind {
            Kind::Multipart => Body::Multipart,
            Kind::Inline(Some(m)) => Body::Message(m),
            Kind::Inline(None) => Body::Text(self.empty_message_text()),
            Kind::Leaf {
                mime,
                enc,
                structural_problem,
            } => {
                let decoded: Option<Cow<'m, [u8]>> = if *structural_problem {
                    None
                } else {
                    match enc {
                        Encoding::None => Some(Cow::Borrowed(self.raw())),
                        Encoding::Base64 => base64(self.encoded_input()).map(Cow::Owned),
                        Encoding::QuotedPrintable => self.quoted_printable().map(Cow::Owned),
                    }
                };
                let Some(bytes) = decoded else {
                    // Read as raw text.
                    return Body::Text(self.text(Cow::Borrowed(self.raw())));
                };
                match mime {
                    Mime::TextHtml => Body::Html(self.text(bytes)),
                    Mime::TextPlain | Mime::TextOther => Body::Text(self.text(bytes)),
                    Mime::Message => match self.encoded() {
                        Some(m) => Body::Message(m),
                        None => Body::Binary(bytes),
                    },
                    _ => Body::Binary(bytes),
                }
            }
        }
    }

    /// An attached message without a header block (its input ended first), as text.
    fn empty_message_text(&self) -> Cow<'m, str> {
        String::from_utf8_lossy(self.raw())
    }

    fn text(&self, bytes: Cow<'m, [u8]>) -> Cow<'m, str> {
        let charset = self.part.charset.as_deref();
        // ASCII in a charset that writes ASCII as ASCII reads as it is.
        if charset.is_some_and(ascii_compatible) && bytes.is_ascii() {
            return match bytes {
                Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()),
                Cow::Owned(b) => Cow::Owned(String::from_utf8(b).unwrap_or_default()),
            };
        }
        let decoder = charset
            .and_then(|c| mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()));
        match (bytes, decoder) {
            (Cow::Borrowed(b), Some(d)) => Cow::Owned(d(b)),
            (Cow::Owned(b), Some(d)) => Cow::Owned(d(&b)),
            (Cow::Borrowed(b), None) => match std::str::from_utf8(b) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(b),
            },
            (Cow::Owned(b), None) => Cow::Owned(match String::from_utf8(b) {
                Ok(s) => s,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }),
        }
    }
}

/// Charsets whose decoders read ASCII bytes as those characters (checked by a test against
/// the decoders): ASCII text in them needs no conversion.
const ASCII_COMPATIBLE: &[&str] = &[
    "us-ascii",
    "ascii",
    "utf-8",
    "utf8",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-15",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "latin1",
    "koi8-r",
];

fn ascii_compatible(charset: &str) -> bool {
    ASCII_COMPATIBLE
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset))
}

impl Message<'_> {
    fn into_static(self) -> Message<'static> {
        // Only messages over a shared buffer are made 'static (those of a decoded part).
        let buf = match self.buf {
            Buf::Shared(b) => Buf::Shared(b),
            Buf::Borrowed(b) => Buf::Shared(Rc::from(b)),
        };
        Message {
            buf,
            fields: self.fields,
            parts: self.parts.into_iter().map(Part::into_static).collect(),
            root_end: self.root_end,
            root_start: self.root_start,
        }
    }
}

impl Part<'_> {
    fn into_static(self) -> Part<'static> {
        Part {
            fields: self.fields,
            body: self.body,
            dash: self.dash,
            kind: match self.kind {
                Kind::Multipart => Kind::Multipart,
                Kind::Leaf {
                    mime,
                    enc,
                    structural_problem,
                } => Kind::Leaf {
                    mime,
                    enc,
                    structural_problem,
                },
                Kind::Inline(m) => Kind::Inline(m.map(|m| Box::new(m.into_static()))),
            },
            encoded: self.encoded,
            depth: self.depth,
            ctype: self.ctype,
            charset: self.charset,
            name: self.name,
        }
    }
}

// ----------------------------------------------------------------------------------------
// Transfer encodings.

const B64_INVALID: u8 = 0xff;

static B64: [u8; 256] = {
    let mut t = [B64_INVALID; 256];
    let mut i = 0u8;
    while i < 64 {
        let c = match i {
            0..=25 => b'A' + i,
            26..=51 => b'a' + (i - 26),
            52..=61 => b'0' + (i - 52),
            62 => b'+',
            _ => b'/',
        };
        t[c as usize] = i;
        i += 1;
    }
    t
};

/// The base64 body of a part, `None` when it is not valid. White space is skipped, `=` ends
/// a group (the bits read so far give their bytes) and decoding goes on after it; a single
/// `-` is skipped (the last byte of `input` is the first `-` of the closing boundary, when
/// there is one), two in a row, or any other byte, make it invalid. Bits left over at the
/// end without `=` are dropped.
pub fn base64(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut n = 0u8;
    let mut last = b'\n';
    let mut rest = input;
    loop {
        // Whole groups of four at a time while nothing is pending.
        if n == 0 {
            while let [a, b, c, d, tail @ ..] = rest {
                let (a, b, c, d) = (
                    B64[*a as usize],
                    B64[*b as usize],
                    B64[*c as usize],
                    B64[*d as usize],
                );
                if (a | b | c | d) >= 64 {
                    break;
                }
                let w = (u32::from(a) << 18)
                    | (u32::from(b) << 12)
                    | (u32::from(c) << 6)
                    | u32::from(d);
                out.extend_from_slice(&[(w >> 16) as u8, (w >> 8) as u8, w as u8]);
                last = b'A';
                rest = tail;
            }
        }
        let Some((&c, tail)) = rest.split_first() else {
            break;
        };
        rest = tail;
        let v = B64[c as usize];
        if v < 64 {
            acc = (acc << 6) | u32::from(v);
            n += 1;
            if n == 4 {
                out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
                n = 0;
                acc = 0;
            }
        } else {
            match c {
                b'=' => {
                    match n {
                        1 => out.push((acc << 2) as u8),
                        2 => out.push((acc >> 4) as u8),
                        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
                        _ => {}
                    }
                    n = 0;
                    acc = 0;
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'-' if last != b'-' => {}
                _ => return None,
            }
        }
        last = c;
    }
    Some(out)
}

/// [`base64`] is `Some`, without decoding.
fn base64_valid(input: &[u8]) -> bool {
    let mut last = b'\n';
    for &c in input {
        if B64[c as usize] == B64_INVALID {
            match c {
                b'=' | b' ' | b'\t' | b'\r' | b'\n' => {}
                b'-' if last != b'-' => {}
                _ => return false,
            }
        }
        last = c;
    }
    true
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// [`quoted_printable`] is `Some`, without decoding: `=` is invalid right after `=` (white
/// space and CRs between them included) or after `=` and one hex digit (line ends between
/// them included).
fn quoted_printable_valid(input: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'=', input.get(i..).unwrap_or_default()) {
        // After `=`.
        let mut j = i + p + 1;
        let mut hex1 = false;
        loop {
            let Some(&c) = input.get(j) else {
                return true;
            };
            j += 1;
            match c {
                b'=' => return false,
                b'\n' if !hex1 => break,
                b'\n' | b'\r' => {}
                c if hex1 => {
                    let _ = c;
                    break;
                }
                c if hex(c).is_some() => hex1 = true,
                c if c.is_ascii_whitespace() => {}
                _ => break,
            }
        }
        i = j;
    }
    true
}

/// The quoted-printable body of a part, `None` when it is invalid (`=` after `=` or after
/// `=X`). `=XX` is a byte, `=` at a line end joins the lines, white space before a line end
/// is dropped, a line end is written CRLF once a CR has been seen, `=` followed by anything
/// else is kept as is. When `input` ends with the first `-` of a closing boundary, that `-`
/// and the line end before it are not part of the body.
pub fn quoted_printable(input: &[u8], at_boundary: bool) -> Option<Vec<u8>> {
    #[derive(PartialEq)]
    enum St {
        Plain,
        Eq,
        Hex1(u8),
    }
    let mut out = Vec::with_capacity(input.len());
    let mut st = St::Plain;
    let mut ws = 0usize;
    let mut crlf: &[u8] = b"\n";
    // The byte before this one (an invalid second hex digit is kept with it).
    let mut prev = 0u8;
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        if st == St::Plain {
            // A run of plain bytes is copied at once.
            let rest = input.get(i..).unwrap_or_default();
            let n = memchr::memchr3(b'=', b'\n', b'\r', rest).unwrap_or(rest.len());
            if let Some(run) = rest.get(..n)
                && let Some(&last) = run.last()
            {
                out.extend_from_slice(run);
                let trailing = run
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_whitespace())
                    .count();
                ws = if trailing == n { ws + n } else { trailing };
                prev = last;
                i += n;
                continue;
            }
        }
        i += 1;
        match c {
            b'=' => {
                if st == St::Plain {
                    st = St::Eq;
                } else {
                    return None;
                }
            }
            b'\n' => {
                if st == St::Eq {
                    st = St::Plain;
                } else {
                    if ws > 0 {
                        out.truncate(out.len().saturating_sub(ws));
                    }
                    out.extend_from_slice(crlf);
                }
                ws = 0;
            }
            b'\r' => crlf = b"\r\n",
            _ => match st {
                St::Plain => {
                    if c.is_ascii_whitespace() {
                        ws += 1;
                    } else {
                        ws = 0;
                    }
                    out.push(c);
                }
                St::Eq => {
                    if let Some(h) = hex(c) {
                        st = St::Hex1(h);
                    } else if !c.is_ascii_whitespace() {
                        st = St::Plain;
                        out.extend_from_slice(&[b'=', c]);
                        ws = 0;
                    }
                }
                St::Hex1(h) => {
                    st = St::Plain;
                    match hex(c) {
                        Some(l) => out.push((h << 4) | l),
                        None => out.extend_from_slice(&[b'=', prev, c]),
                    }
                    ws = 0;
                }
            },
        }
        prev = c;
    }
    if at_boundary {
        // The boundary's first `-` (and, when the boundary starts a line, the line end
        // before it) are not the body's.
        let before = input
            .len()
            .checked_sub(2)
            .and_then(|p| input.get(p))
            .copied();
        let n = if before == Some(b'\n') {
            crlf.len() + 1
        } else {
            1
        };
        if let Some(l) = out.len().checked_sub(n) {
            out.truncate(l);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::parsers::MessageStream;

    /// mail-parser's own MIME decoder on `data`, up to `--B1`: `None` when it flags the part.
    fn reference(data: &[u8], qp: bool) -> Option<Vec<u8>> {
        let mut s = MessageStream::new(data);
        let (end, bytes) = if qp {
            s.decode_quoted_printable_mime(b"B1")
        } else {
            s.decode_base64_mime(b"B1")
        };
        (end != usize::MAX).then(|| bytes.into_owned())
    }

    fn ours(data: &[u8], qp: bool) -> Option<Vec<u8>> {
        // The decoders read up to the boundary's first `-`.
        let dash = memchr::memmem::find(data, b"--B1")?;
        let input = &data[..dash + 1];
        if qp {
            assert_eq!(
                quoted_printable(input, true).is_some(),
                quoted_printable_valid(input)
            );
            quoted_printable(input, true)
        } else {
            assert_eq!(base64(input).is_some(), base64_valid(input));
            base64(input)
        }
    }

    proptest::proptest! {
        #[test]
        fn base64_is_mail_parsers(body in "([A-Za-z0-9+/]{1,8}|=|-|--|\r|\n| |\t|\\?|B1){0,24}", line in proptest::bool::ANY) {
            let data = format!("{body}{}--B1\n", if line { "\n" } else { "" });
            proptest::prop_assert_eq!(ours(data.as_bytes(), false), reference(data.as_bytes(), false));
        }

        #[test]
        fn quoted_printable_is_mail_parsers(body in "([a-z0-9]{1,4}|[A-F0-9]{1,2}|=|==|-|\r|\n|\r\n| |\t|\u{c}|B1){0,24}", line in proptest::bool::ANY) {
            let data = format!("{body}{}--B1\n", if line { "\n" } else { "" });
            // mail-parser subtracts past zero when a body shorter than the line end it
            // removes ends at the boundary (a panic in a debug build; in a release build the
            // wrapped length leaves the body as it is, which is what ours does): those inputs
            // are skipped.
            let r = std::panic::catch_unwind(|| reference(data.as_bytes(), true));
            if let Ok(r) = r {
                proptest::prop_assert_eq!(ours(data.as_bytes(), true), r);
            }
        }

        /// A header block is delimited where mail-parser delimits it: the same names, the
        /// same raw values and the same body start.
        #[test]
        fn header_blocks_are_mail_parsers(block in "([A-Za-z-]{1,6}|:| |\t|\r|\n|\n |x y){0,30}", body in "[a-z\n]{0,6}") {
            let raw = format!("{block}\n\n{body}");
            let want = mail_parser::MessageParser::new().default_header_ignore().parse(raw.as_bytes());
            let got = Message::parse(raw.as_bytes());
            proptest::prop_assert_eq!(want.is_some(), got.is_some());
            if let (Some(w), Some(g)) = (want, got) {
                let w: Vec<(String, &[u8])> = w.parts[0]
                    .headers
                    .iter()
                    .map(|h| (h.name.as_str().to_string(), &raw.as_bytes()[h.offset_start as usize..h.offset_end as usize]))
                    .collect();
                let data = g.data();
                let gv: Vec<(String, &[u8])> = g
                    .root_fields()
                    .iter()
                    .map(|f| (String::from_utf8_lossy(&data[f.name.0 as usize..f.name.1 as usize]).into_owned(), g.value_of(f)))
                    .collect();
                proptest::prop_assert_eq!(w.len(), gv.len());
                for ((wn, wv), (gn, gv)) in w.iter().zip(&gv) {
                    proptest::prop_assert_eq!(wv, gv);
                    // Known names come back canonical: compare ignoring case and spaces.
                    let squeeze = |s: &str| s.chars().filter(|c| !c.is_ascii_whitespace()).collect::<String>().to_ascii_lowercase();
                    proptest::prop_assert_eq!(squeeze(wn), squeeze(gn));
                }
            }
        }
    }

    #[test]
    fn raw_headers_read_as_one_lookup_per_name() {
        let raw = b"Received: a\nX-Other: b\nreceived: c\nSubject: s\nX-BeenThere: l\n\nbody\n";
        let m = Message::parse(raw).expect("parses");
        let names = [
            "Received",
            "Subject",
            "Received",
            "X-Other",
            "Date",
            "X-BeenThere",
        ];
        let got = m.raw_headers(names);
        for (n, g) in names.iter().zip(got) {
            assert_eq!(g, m.header_raw(n), "{n}");
        }
        let known = ["Received", "Subject", "Received", "Date", "X-BeenThere"];
        let got = m.raw_headers(known);
        for (n, g) in known.iter().zip(got) {
            assert_eq!(g, m.header_raw(n), "{n}");
        }
    }

    /// `eq_lower` is `eq_ignore_ascii_case` for names without white space.
    #[test]
    fn eq_lower_is_case_insensitive_equality() {
        for n in NAMES {
            assert_eq!(n.to_ascii_lowercase(), *n, "NAMES are lower-case");
            assert!(
                n.bytes().all(|c| c.is_ascii_lowercase() || c == b'-'),
                "{n}"
            );
            let mut probe = n.as_bytes().to_vec();
            for i in 0..probe.len() {
                let orig = probe[i];
                for c in 0u8..=255 {
                    if c.is_ascii_whitespace() {
                        continue;
                    }
                    probe[i] = c;
                    assert_eq!(
                        eq_lower(&probe, n.as_bytes()),
                        probe.eq_ignore_ascii_case(n.as_bytes()),
                        "{n} {c}"
                    );
                }
                probe[i] = orig;
            }
        }
    }

    #[test]
    fn every_name_is_found_by_length() {
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(id_of(n.to_ascii_uppercase().as_bytes()), i as u8 + 1, "{n}");
            assert_eq!(id_of(n.as_bytes()), i as u8 + 1, "{n}");
        }
        assert_eq!(id_of(b"X-Other"), 0);
        assert_eq!(id_of(b""), 0);
        assert_eq!(id_of(&[b'a'; 40]), 0);
    }

    #[test]
    fn ascii_compatible_charsets_read_ascii_as_is() {
        let ascii: Vec<u8> = (0u8..128).collect();
        let text = std::str::from_utf8(&ascii).expect("ascii");
        for c in ASCII_COMPATIBLE {
            if let Some(d) = mail_parser::decoders::charsets::map::charset_decoder(c.as_bytes()) {
                assert_eq!(d(&ascii), text, "{c}");
            }
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut m = String::new();
        for i in 0..2000 {
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=x{i}y\n\n--x{i}y\n"
            ));
        }
        m.push_str("\nend\n");
        let msg = Message::parse(m.as_bytes()).expect("parses");
        assert!(msg.parts().count() <= MAX_NESTING + 2);
        let mut r = String::new();
        for _ in 0..2000 {
            r.push_str("Content-Type: message/rfc822\n\n");
        }
        let msg = Message::parse(r.as_bytes()).expect("parses");
        assert!(msg.parts().count() <= 2);
    }
}
