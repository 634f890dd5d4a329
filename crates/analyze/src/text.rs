//! Small text helpers shared by the decoders: case-insensitive search, line handling,
//! unfolding, e-mail address extraction, SMTP reply code and enhanced status extraction,
//! and a cheap HTML-to-text conversion.
//!
//! Everything here is char-boundary safe (no slicing at computed byte offsets without
//! `get(..)`) and linear in the input size. Nothing here knows about any MTA family.

use mailerd_types::EnhancedStatus;

/// A fixed list of phrases searched exactly in text already lower-cased (ASCII), built once
/// (in a `LazyLock`) at a small cost: a packed (Teddy) searcher of the lower-cased phrases,
/// which scans with vector instructions, where an Aho-Corasick automaton of the same phrases
/// cost about 600,000 instructions to build (more than a whole `mailerd explain` run searches
/// with it). Matches in the lower-cased text are those of an ASCII-case-insensitive search of
/// the text itself (the byte offsets are the same). Should the packed searcher be unavailable
/// (no vector instructions, too many phrases), an Aho-Corasick automaton takes its place.
pub struct Literals {
    /// The phrases, lower-cased, in the order given (a match's `pattern` indexes this).
    pats: Vec<Vec<u8>>,
    /// For each byte, the phrases that begin with it (in list order).
    by_first: Vec<Vec<u32>>,
    /// The length of the shortest phrase.
    min_len: usize,
    packed: Option<aho_corasick::packed::Searcher>,
    fallback: Option<aho_corasick::AhoCorasick>,
}

/// A phrase found by [`Literals`]: its index in the list and its byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LitMatch {
    pub pattern: usize,
    pub start: usize,
    pub end: usize,
}

impl Literals {
    pub fn new<I, P>(patterns: I) -> Literals
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let pats: Vec<Vec<u8>> = patterns
            .into_iter()
            .map(|p| p.as_ref().to_ascii_lowercase())
            .collect();
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .heuristic_pattern_limits(false)
            .builder()
            .extend(&pats)
            .build();
        let fallback = match packed {
            Some(_) => None,
            None => aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(&pats)
                .ok(),
        };
        let mut by_first: Vec<Vec<u32>> = vec![Vec::new(); 256];
        for (i, p) in pats.iter().enumerate() {
            if let (Some(&b), Ok(i)) = (p.first(), u32::try_from(i))
                && let Some(l) = by_first.get_mut(usize::from(b))
            {
                l.push(i);
            }
        }
        let min_len = pats.iter().map(Vec::len).min().unwrap_or(0);
        Literals {
            pats,
            by_first,
            min_len,
            packed,
            fallback,
        }
    }

    /// The leftmost occurrence of a phrase at or after `from` (leftmost-first: of the phrases
    /// starting there, the first in the list).
    fn leftmost(&self, low: &[u8], from: usize) -> Option<LitMatch> {
        if from > low.len() {
            return None;
        }
        let m = match (&self.packed, &self.fallback) {
            (Some(p), _) => p.find_in(low, aho_corasick::Span::from(from..low.len()))?,
            (None, Some(ac)) => ac
                .try_find(aho_corasick::Input::new(low).span(from..low.len()))
                .ok()??,
            (None, None) => return None,
        };
        Some(LitMatch {
            pattern: m.pattern().as_usize(),
            start: m.start(),
            end: m.end(),
        })
    }

    /// Does any phrase occur in `low`?
    pub fn is_match(&self, low: &[u8]) -> bool {
        self.leftmost(low, 0).is_some()
    }

    /// Where the leftmost occurrence of any phrase in `low` starts.
    pub fn leftmost_start(&self, low: &[u8]) -> Option<usize> {
        self.leftmost(low, 0).map(|m| m.start)
    }

    /// The phrase (its index in the list) of the leftmost occurrence in `low` (leftmost-first:
    /// of the phrases starting there, the first in the list).
    pub fn leftmost_pattern(&self, low: &[u8]) -> Option<usize> {
        self.leftmost(low, 0).map(|m| m.pattern)
    }

    /// Where the leftmost occurrence of any phrase in `low` at or after `from` starts.
    pub fn leftmost_start_from(&self, low: &[u8], from: usize) -> Option<usize> {
        self.leftmost(low, from).map(|m| m.start)
    }

    /// The match an Aho-Corasick automaton with the standard semantics reports searching
    /// `low` from `from`: of the occurrences starting at or after `from`, one that ends first;
    /// of those, the longest; of equal phrases, the first in the list.
    ///
    /// Every occurrence starts at or after the leftmost one's start, and one that ends no
    /// later than the best found so far starts before that one's end (by the shortest
    /// phrase's length, to end earlier or be longer): only those few positions are compared
    /// with the phrases that begin with the byte there.
    pub fn find_standard(&self, low: &[u8], from: usize) -> Option<LitMatch> {
        let first = self.leftmost(low, from)?;
        let mut best = first;
        let mut i = first.start;
        while i + self.min_len.max(1) <= best.end {
            let rest = low.get(i..).unwrap_or_default();
            let cands = rest
                .first()
                .and_then(|&b| self.by_first.get(usize::from(b)))
                .map_or(&[][..], |v| &v[..]);
            for &id in cands {
                let id = id as usize;
                let Some(p) = self.pats.get(id) else { continue };
                let end = i + p.len();
                if rest.starts_with(p) && (end, i, id) < (best.end, best.start, best.pattern) {
                    best = LitMatch {
                        pattern: id,
                        start: i,
                        end,
                    };
                }
            }
            i += 1;
        }
        Some(best)
    }

    /// The successive matches of [`Literals::find_standard`] from `from`, each search
    /// resuming at the previous match's end (the non-overlapping matches of an Aho-Corasick
    /// automaton with the standard semantics).
    pub fn standard_iter<'a>(
        &'a self,
        low: &'a [u8],
        from: usize,
    ) -> impl Iterator<Item = LitMatch> + 'a {
        let mut at = Some(from);
        std::iter::from_fn(move || {
            let m = self.find_standard(low, at?)?;
            // (Phrases are not empty, so the search moves forward.)
            at = (m.end > m.start).then_some(m.end);
            Some(m)
        })
    }
}

/// Substring searchers for a fixed list of phrases, prepared once (in a `LazyLock`): a
/// `str::find`/`contains` with a `&str` prepares its searcher anew on every call, which costs
/// more than the search itself on the short texts of a bounce.
pub struct Phrases(Vec<memchr::memmem::Finder<'static>>);

impl Phrases {
    pub fn new(list: &[&'static str]) -> Phrases {
        Phrases(
            list.iter()
                .map(|&p| memchr::memmem::Finder::new(p))
                .collect(),
        )
    }

    /// Does any phrase occur in `hay`?
    pub fn any_in(&self, hay: &str) -> bool {
        self.0.iter().any(|f| f.find(hay.as_bytes()).is_some())
    }

    /// For each phrase in order, its first occurrence in `hay`, if any.
    pub fn each_first<'a>(&'a self, hay: &'a str) -> impl Iterator<Item = Option<usize>> + 'a {
        self.0.iter().map(move |f| f.find(hay.as_bytes()))
    }
}

/// Byte offset of the first ASCII-case-insensitive occurrence of `needle` (which must be
/// lower-case ASCII) in `hay`.
pub fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() {
        return Some(0);
    }
    if h.len() < n.len() {
        return None;
    }
    let first = n[0];
    let first_up = first.to_ascii_uppercase();
    let mut i = 0;
    let last = h.len() - n.len();
    while i <= last {
        // The next possible start (vectorised), then the comparison there.
        i += memchr::memchr2(first, first_up, h.get(i..=last)?)?;
        if h.get(i..i + n.len())?
            .iter()
            .zip(n)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
        {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `true` when `hay` contains `needle` (lower-case ASCII) ignoring ASCII case.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle).is_some()
}

/// `true` when `s` starts with `prefix` (lower-case ASCII) ignoring ASCII case.
pub fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.as_bytes()[..prefix.len()]
            .iter()
            .zip(prefix.as_bytes())
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// The rest of `s` after `prefix` (case-insensitive), if `s` starts with it.
pub fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if starts_with_ci(s, prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// Splits text into lines on LF, CRLF or lone CR.
pub fn lines(s: &str) -> impl Iterator<Item = &str> {
    split_lf(s).map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// `s.split('\n')`, with the line feeds found by the vectorised `memchr`.
pub fn split_lf(s: &str) -> SplitLf<'_> {
    SplitLf { rest: Some(s) }
}

/// The iterator of [`split_lf`].
pub struct SplitLf<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SplitLf<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let r = self.rest?;
        match memchr::memchr(b'\n', r.as_bytes()) {
            Some(p) => {
                // `p` is the byte of an ASCII '\n': both sides are char boundaries.
                self.rest = r.get(p + 1..);
                r.get(..p)
            }
            None => {
                self.rest = None;
                Some(r)
            }
        }
    }
}

/// Removes the repeated `NNN-X.Y.Z` prefixes of a multi-line reply that was unfolded into
/// one line (`550-5.1.1 The account 550-5.1.1 does not exist` -> `550-5.1.1 The account does
/// not exist`), keeping the first.
pub fn tidy_reply(s: &str) -> String {
    let Some((code, st)) = find_reply_status(s) else {
        return s.to_string();
    };
    let code_s = code.to_string();
    let st_s = st.to_string();
    let dash = format!("{code_s}-{st_s}");
    let words: Vec<&str> = s.split(' ').collect();
    let mut out = String::with_capacity(s.len());
    let mut seen = false;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        // `550-5.1.1` or `550 5.1.1` (two words) or a bare `550-`
        let (is_prefix, width) = if w == dash {
            (true, 1)
        } else if w == code_s && words.get(i + 1) == Some(&st_s.as_str()) {
            (true, 2)
        } else if w.len() == 4 && w.starts_with(&code_s) && w.ends_with('-') {
            (seen, 1)
        } else {
            (false, 1)
        };
        if is_prefix && seen {
            i += width;
            continue;
        }
        if is_prefix {
            seen = true;
        }
        for x in &words[i..(i + width).min(words.len())] {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(x);
        }
        i += width;
    }
    out
}

/// [`tidy_reply`] for a reply without an enhanced status (for display only: the rules read
/// such replies as written): `553-you are trying 553-to use me`
/// -> `553-you are trying to use me` when the text starts with the code.
fn tidy_bare_reply(s: &str) -> String {
    let Some(code) = leading_reply_code(s) else {
        return s.to_string();
    };
    let dash = format!("{code}-");
    if s.get(..4) != Some(dash.as_str()) {
        return s.to_string();
    }
    let code_s = &dash[..3];
    let words: Vec<&str> = s.split(' ').collect();
    // The last line's `553 ` (the code as a word of its own, once, after the dashed ones).
    let last = words.iter().rposition(|w| *w == code_s).filter(|&i| i > 0);
    let mut out = String::with_capacity(s.len());
    for (i, w) in words.into_iter().enumerate() {
        let w = if i > 0 {
            w.strip_prefix(dash.as_str()).unwrap_or(w)
        } else {
            w
        };
        if (w.is_empty() && i > 0) || Some(i) == last {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// A reply quoted by a reporting MTA's own words, as the remote server wrote it: Postfix's
/// `host mx.example.org[192.0.2.1] said: ` lead and its `(in reply to RCPT TO command)` tail
/// taken off (the lead's host returned), and the repeated prefixes of a multi-line reply
/// dropped ([`tidy_reply`]). The classification reads the words as written; this is what
/// is shown and recorded.
pub fn quoted_reply(s: &str) -> (String, Option<String>) {
    let mut rest = s.trim();
    let mut host = None;
    if let Some(r) = strip_prefix_ci(rest, "host ")
        && let Some((h, after)) = r.split_once(' ')
        && let Some(after) = strip_prefix_ci(after, "said: ")
    {
        let name = h.split('[').next().unwrap_or(h).trim_end_matches('.');
        if !name.is_empty() {
            host = Some(name.to_ascii_lowercase());
        }
        rest = after.trim_start();
    }
    // Stalwart's `(host 'mx.b.test' rejected command 'RCPT TO:<a@b.test>' with code 550
    // (5.1.1) 'Mailbox does not exist')`: the host, and the reply as a server writes it.
    let stalwart = stalwart_reply(rest);
    if let Some((h, reply)) = &stalwart {
        host = Some(h.to_ascii_lowercase());
        rest = reply;
    }
    // Sendmail's summary: `(reason: 554 5.7.1 Message rejected as spam)`.
    if let Some(r) = strip_prefix_ci(rest, "(reason: ")
        && let Some(inner) = r.strip_suffix(')')
        && !inner.contains('(')
    {
        rest = inner.trim();
    }
    // Office 365 puts the remote host on its own line above: `mx.b.test` / `Remote Server
    // returned '...'`.
    if let Some((h, r)) = rest.split_once(' ')
        && starts_with_ci(r, "remote server returned '")
        && is_host_name(h)
    {
        host = Some(h.trim_end_matches('.').to_ascii_lowercase());
        rest = r;
    }
    // Exchange / Office 365: `Remote Server returned '550 5.1.1 ...'`, `Remote Server at H
    // (192.0.2.1) returned '...'`; only when that is the whole text (a delay notice lists
    // several attempts, each with its date, and is shown as written).
    if let Some(r) = strip_prefix_ci(rest, "remote server ")
        && let Some(q) = r.find("returned '")
        && let Some(inner) = r[q + 10..].strip_suffix('\'')
        && !inner.contains("returned '")
    {
        let at = r[..q].trim();
        if let Some(h) = strip_prefix_ci(at, "at ") {
            let name = h
                .split([' ', '(', '['])
                .next()
                .unwrap_or("")
                .trim_end_matches('.');
            if !name.is_empty() {
                host = Some(name.to_ascii_lowercase());
            }
        }
        if at.is_empty() || host.is_some() {
            rest = inner.trim();
        }
    }
    // A label before the reply, when a reply follows: `Remote server returned: 550 5.2.1 ...`
    // (and `replied:`), MailEnable `Reason: Remote SMTP Server Returned: 550 ...`, Mercury
    // `Error: 550 ...`; a transcript line's `<-- 550 ...` (MDaemon, after its time stamp) or
    // `<<< 550 ...`.
    let starts_with_reply = |r: &str| {
        r.as_bytes().get(..4).is_some_and(|c| {
            matches!(c[0], b'2' | b'4' | b'5')
                && c[1..3].iter().all(u8::is_ascii_digit)
                && matches!(c[3], b' ' | b'-')
        })
    };
    fn after_label(t: &str) -> Option<&str> {
        [
            "reason: ",
            "error: ",
            "remote server returned: ",
            "remote server replied: ",
            "remote smtp server returned: ",
        ]
        .iter()
        .find_map(|l| strip_prefix_ci(t, l))
        .map(str::trim_start)
    }
    // One label, or two (`Reason: Remote SMTP Server Returned: 550 ...`), and only when a
    // reply follows them.
    if let Some(r) = after_label(rest) {
        if starts_with_reply(r) {
            rest = r;
        } else if let Some(r2) = after_label(r).filter(|r2| starts_with_reply(r2)) {
            rest = r2;
        }
    }
    if !starts_with_reply(rest)
        && let Some(at) = crate::prefix(rest, 80)
            .find("<-- ")
            .or_else(|| crate::prefix(rest, 80).find("<<< "))
        && starts_with_reply(&rest[at + 4..])
    {
        rest = &rest[at + 4..];
    }
    // hMailServer's block: `Error Type: SMTP Remote server (192.0.2.9) issued an error.
    // hMailServer sent: RCPT TO:<a@b> Remote server replied: 552 5.2.2 ...`, and Kerio
    // Connect's `... issued an error. hop count: 1 Error description: 550 5.1.1 ...`, a
    // sentence in the notice's language before `Remote server said: 550 ...`: the
    // reply after that label (its first in the first 400 bytes), when nothing before it is a
    // reply.
    if !starts_with_reply(rest) && find_reply_code(rest).is_some() {
        let head = crate::prefix(rest, 400);
        let found = [
            "remote server replied: ",
            "error description: ",
            "remote server said: ",
        ]
        .iter()
        .find_map(|l| find_ci(head, l).map(|at| at + l.len()));
        if let Some(at) = found
            && starts_with_reply(rest[at..].trim_start())
            && find_reply_code(&rest[..at]).is_none()
        {
            // Kerio names the server: `Remote server 192.0.2.5 (mx.b.test) issued an error.`
            if host.is_none()
                && let Some(h) = issuing_host(&rest[..at])
            {
                host = Some(h);
            }
            rest = rest[at..].trim_start();
        }
    }
    if rest.ends_with(" command)")
        && let Some(at) = rest.rfind("(in reply to ")
    {
        rest = rest[..at].trim_end();
    }
    let tidy = if find_reply_status(rest).is_some() {
        tidy_reply(rest)
    } else {
        tidy_bare_reply(rest)
    };
    (tidy, host)
}

/// The host name in `Remote server 192.0.2.5 (mx.b.test) issued an error.` (Kerio Connect);
/// none when the parentheses hold only an address (hMailServer's `Remote server (192.0.2.9)`).
fn issuing_host(s: &str) -> Option<String> {
    let at = find_ci(s, "remote server ")?;
    let t = &s[at + 14..];
    let end = find_ci(crate::prefix(t, 120), " issued an error")?;
    let t = &t[..end];
    let inner = t.rsplit_once('(')?.1.strip_suffix(')')?;
    let name = inner.trim().trim_end_matches('.');
    (is_host_name(name) && name.bytes().any(|b| b.is_ascii_alphabetic()))
        .then(|| name.to_ascii_lowercase())
}

/// A dotted name of letters, digits and hyphens (`mx.b.test`, or an IPv4 address).
fn is_host_name(h: &str) -> bool {
    h.contains('.')
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Stalwart's account of a reply, `(host 'H' rejected command 'C' with code 550 (5.1.1)
/// 'text')` (the status optional): the host and `550 5.1.1 text`.
fn stalwart_reply(s: &str) -> Option<(String, String)> {
    let t = s.strip_prefix('(').unwrap_or(s);
    let t = strip_prefix_ci(t, "host '")?;
    let (h, t) = t.split_once('\'')?;
    if h.is_empty() || h.contains(' ') {
        return None;
    }
    let at = find_ci(crate::prefix(t, 400), " with code ")?;
    let t = &t[at + 11..];
    let code = t
        .get(..3)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))?;
    let mut t = t[3..].trim_start();
    let mut status = "";
    if let Some(r) = t.strip_prefix('(')
        && let Some((st, after)) = r.split_once(')')
        && EnhancedStatus::parse(st).is_ok()
    {
        status = st;
        t = after.trim_start();
    }
    let text = t.strip_suffix(')').unwrap_or(t).trim_end();
    let text = text.strip_prefix('\'')?.strip_suffix('\'')?;
    let reply = [code, status, text]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    Some((h.to_string(), reply))
}

/// Collapses runs of whitespace (including folded line breaks) into one space and trims.
pub fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    squash_into(s, &mut out);
    out
}

/// Byte classes for [`squash_into`]: 0 a byte of a word, 1 ASCII whitespace (U+0009..U+000D,
/// U+0020), 2 the lead byte of a multi-byte character that may be whitespace (U+0085, U+00A0,
/// U+1680, U+2000..U+205F, U+3000).
static SQUASH_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'\t' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[0x0b] = 1;
    t[0x0c] = 1;
    t[b'\r' as usize] = 1;
    t[b' ' as usize] = 1;
    t[0xc2] = 2;
    t[0xe1] = 2;
    t[0xe2] = 2;
    t[0xe3] = 2;
    t
};

/// The number of bytes of class 0 (see [`SQUASH_CLASS`]) at the start of `r`: eight bytes at
/// a time while they are all printable ASCII other than the space (0x21..=0x7E, all class 0),
/// else byte by byte.
fn word_run(r: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut k = 0;
    while let Some(c) = r.get(k..k + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // A byte's high bit is set when it is below 0x21 (the lowest such byte, which no
        // borrow reaches) or at least 0x80: zero means eight bytes of 0x21..=0x7F.
        if (x.wrapping_sub(0x21 * ONES) | x) & (0x80 * ONES) != 0
            && let Some(j) = c.iter().position(|&b| SQUASH_CLASS[usize::from(b)] != 0)
        {
            return k + j;
        }
        k += 8;
    }
    let rest = r.get(k..).unwrap_or_default();
    k + rest
        .iter()
        .position(|&b| SQUASH_CLASS[usize::from(b)] != 0)
        .unwrap_or(rest.len())
}

/// [`squash`], appending to `out` (which should be empty: a word is preceded by a space
/// whenever `out` is not). The words are exactly those of `str::split_whitespace` (Unicode
/// `White_Space`), found byte by byte: the ASCII whitespace bytes directly, a multi-byte
/// character only decoded when its lead byte could start a whitespace character. A stretch
/// of words separated by single spaces is already in its squashed form and is copied at once.
pub fn squash_into(s: &str, out: &mut String) {
    let b = s.as_bytes();
    let n = b.len();
    let class = |i: usize| b.get(i).map_or(1, |&c| SQUASH_CLASS[c as usize]);
    // The width of the whitespace character at `i`, 0 when it is not whitespace.
    let ws_width = |i: usize| match class(i) {
        0 => 0,
        1 => 1,
        _ => match s.get(i..).and_then(|r| r.chars().next()) {
            Some(ch) if ch.is_whitespace() => ch.len_utf8(),
            _ => 0,
        },
    };
    let mut i = 0;
    while i < n {
        let w = ws_width(i);
        if w > 0 {
            i += w;
            continue;
        }
        let start = i;
        loop {
            i += word_run(b.get(i..).unwrap_or_default());
            if i >= n {
                break;
            }
            if class(i) == 2 {
                if ws_width(i) == 0 {
                    // A multi-byte character that is not whitespace: part of the word.
                    i += 1;
                    continue;
                }
                break;
            }
            // One space between two words stays as it is.
            if b.get(i) == Some(&b' ') && ws_width(i + 1) == 0 {
                i += 1;
                continue;
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s.get(start..i).unwrap_or(""));
    }
}

#[inline]
fn is_local_byte(c: u8) -> bool {
    // (A `match`, not a search of a byte string, which is a `memchr` call per byte.)
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'.'
        )
}

#[inline]
fn is_domain_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_'
}

/// An address found in text, with its byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAddr {
    pub addr: String,
    pub start: usize,
    pub end: usize,
}

/// Finds every plausible `local@domain` address in `s`, in order. The local part is ASCII
/// (quoted local parts are not taken), the domain has a dot or is a bracketed literal.
/// The domain is lower-cased, the local part kept.
pub fn find_addresses(s: &str) -> Vec<FoundAddr> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some((a, next)) = next_address(s, i) {
        out.push(a);
        i = next;
    }
    out
}

/// The first address [`find_addresses`] finds in `s` (its first element), without looking
/// for the others.
pub fn first_address(s: &str) -> Option<FoundAddr> {
    next_address(s, 0).map(|(a, _)| a)
}

/// The first address of `s` whose `@` is at or after byte `i`, and where the search for the
/// next one resumes.
fn next_address(s: &str, mut i: usize) -> Option<(FoundAddr, usize)> {
    let b = s.as_bytes();
    while let Some(off) = b.get(i..).and_then(|r| memchr::memchr(b'@', r)) {
        let at = i + off;
        i = at + 1;
        let mut ls = at;
        while ls > 0 && is_local_byte(b[ls - 1]) {
            ls -= 1;
        }
        // a local part does not start or end with a dot
        while ls < at && b[ls] == b'.' {
            ls += 1;
        }
        if ls == at {
            continue;
        }
        let mut de = at + 1;
        if b.get(de) == Some(&b'[') {
            while de < b.len() && b[de] != b']' && de - at < 80 {
                de += 1;
            }
            if b.get(de) != Some(&b']') {
                continue;
            }
            de += 1;
        } else {
            while de < b.len() && is_domain_byte(b[de]) {
                de += 1;
            }
            while de > at + 1 && (b[de - 1] == b'.' || b[de - 1] == b'-') {
                de -= 1;
            }
        }
        // An address inside a link (`https://x.example/verify?email=a@b`): the "local part"
        // the scan took is the URL up to the `@`; the address is what follows its last
        // path or query separator.
        if let Some(local) = s.get(ls..at)
            && (local.contains("//") || (local.contains('/') && local.contains('?')))
            && let Some(p) = local.rfind(['/', '?', '=', '&'])
        {
            ls += p + 1;
            while ls < at && b[ls] == b'.' {
                ls += 1;
            }
            if ls == at {
                continue;
            }
        }
        // `'bob@example.org'` (CommuniGate, SmarterMail, Exchange): the apostrophes quote the
        // address, they are not part of its local part.
        if matches!(b.get(ls), Some(b'\'' | b'`')) && b.get(de) == Some(&b'\'') && ls + 1 < at {
            ls += 1;
        }
        let (Some(local), Some(domain)) = (s.get(ls..at), s.get(at + 1..de)) else {
            continue;
        };
        if domain.is_empty()
            || local.len() > 128
            || (!domain.contains('.') && !domain.starts_with('['))
            || domain.starts_with('.')
            || domain.contains("..")
        {
            continue;
        }
        let tld = domain.rsplit('.').next().unwrap_or("");
        if !domain.starts_with('[')
            && (tld.is_empty() || tld.bytes().all(|c| c.is_ascii_digit()) && !is_ipv4(domain))
        {
            // a message-id fragment such as `123.456`
            continue;
        }
        let mut addr = String::with_capacity(local.len() + 1 + domain.len());
        addr.push_str(local);
        addr.push('@');
        addr.push_str(domain);
        if let Some(d) = addr.get_mut(local.len() + 1..) {
            d.make_ascii_lowercase();
        }
        return Some((
            FoundAddr {
                addr,
                start: ls,
                end: de,
            },
            de.max(at + 1),
        ));
    }
    None
}

fn is_ipv4(d: &str) -> bool {
    d.split('.').count() == 4
        && d.split('.')
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Normalises an address written in a report field: drops an address type (`rfc822;`),
/// angle brackets, quotes around the whole, a trailing comment, and lower-cases the domain.
pub fn clean_address(v: &str) -> String {
    let mut s = v.trim();
    if let Some(p) = s.find(';') {
        let t = &s[..p];
        if !t.contains('@') && !t.contains('<') {
            s = s[p + 1..].trim();
        }
    }
    if let Some(a) = s.find('<')
        && let Some(e) = s[a..].find('>')
    {
        let inner = s[a + 1..a + e].trim();
        if inner.contains('@') || !s[..a].contains('@') {
            s = inner;
        }
    }
    let s = s.split_whitespace().next().unwrap_or("");
    let s = s.trim_matches(|c| c == '"' || c == '\'' || c == '<' || c == '>' || c == ',');
    let mut out = s.to_string();
    if let Some(at) = s.rfind('@')
        && let Some(domain) = out.get_mut(at + 1..)
    {
        domain.make_ascii_lowercase();
    }
    out
}

/// A three-digit SMTP reply code 2yz..5yz standing as a token in `s`, preferring one that is
/// followed by an enhanced status or begins the text.
pub fn find_reply_code(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let mut best: Option<u16> = None;
    let mut i = 0;
    while i + 3 <= b.len() {
        // Only a position with 2, 4 or 5 can start a code: skip to the next one.
        match b
            .get(i..b.len() - 2)
            .and_then(|r| memchr::memchr3(b'2', b'4', b'5', r))
        {
            Some(off) => i += off,
            None => break,
        }
        let c = b[i];
        // Exchange writes the reply after a `#`: `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not
        // found ##` (taken only with the enhanced status after it, below).
        let hash_lead = i >= 1 && b[i - 1] == b'#' && (i == 1 || b[i - 2].is_ascii_whitespace());
        if matches!(c, b'2' | b'4' | b'5')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && (i == 0
                || !is_token(b[i - 1])
                || hash_lead
                || (b[i - 1] == b':' && i >= 2 && b[i - 2] == b' '))
            && b.get(i + 3).is_none_or(|&n| {
                n == b' '
                    || n == b'-'
                    || n == b'\t'
                    || n == b'\r'
                    || n == b'\n'
                    || n == b';'
                    || n == b':'
                    || n == b','
                    || n == b')'
                    || n == b'"'
                    || n == b'\''
            })
        {
            let code = u16::from(c - b'0') * 100
                + u16::from(b[i + 1] - b'0') * 10
                + u16::from(b[i + 2] - b'0');
            if (b[i + 1] <= b'5') && is_plausible_code(code) {
                // A code followed by `-X.Y.Z`/` X.Y.Z` of the same class is the best evidence.
                let rest = s.get(i + 4..).unwrap_or("");
                let strong = i == 0
                    || rest
                        .trim_start()
                        .as_bytes()
                        .first()
                        .is_some_and(|&d| d == c)
                        && rest.trim_start().as_bytes().get(1) == Some(&b'.');
                if strong {
                    return Some(code);
                }
                if best.is_none() && !hash_lead && b.get(i + 3) != Some(&b':') {
                    // reject times like 12:55 handled by the preceding byte check; keep first
                    best = Some(code);
                }
            }
        }
        i += 1;
    }
    best
}

fn is_plausible_code(code: u16) -> bool {
    matches!(code / 10, 21..=25 | 42 | 44 | 45 | 50 | 52 | 53 | 54 | 55)
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || c == b'.'
        || c == b'-'
        || c == b'_'
        || c == b'/'
        || c == b':'
        || c == b'#'
        || c == b'+'
        || c == b'='
        || c == b'@'
}

/// The first SMTP reply with an enhanced status in `s`: a code `NNN` followed (after `-`,
/// spaces or a quote) by `X.Y.Z` of the same class, as in `550-5.1.1`, `550 5.7.1`,
/// `550-'5.2.2`. Returns the code and the status.
pub fn find_reply_status(s: &str) -> Option<(u16, EnhancedStatus)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 3 < b.len() {
        let c = b[i];
        if matches!(c, b'4' | b'5' | b'2')
            && b[i + 1].is_ascii_digit()
            && b[i + 2].is_ascii_digit()
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric() && b[i - 1] != b'.')
            && matches!(b[i + 3], b' ' | b'-')
        {
            let mut j = i + 3;
            while j < b.len() && j < i + 6 && matches!(b[j], b' ' | b'-' | b'\'' | b'"') {
                j += 1;
            }
            if b.get(j) == Some(&c) && b.get(j + 1) == Some(&b'.') {
                let end = b[j..]
                    .iter()
                    .position(|&x| !(x.is_ascii_digit() || x == b'.'))
                    .map(|p| j + p)
                    .unwrap_or(b.len());
                let tok = s.get(j..end).unwrap_or("").trim_end_matches('.');
                if let Ok(st) = EnhancedStatus::parse(tok) {
                    let code = u16::from(c - b'0') * 100
                        + u16::from(b[i + 1] - b'0') * 10
                        + u16::from(b[i + 2] - b'0');
                    return Some((code, st));
                }
            }
        }
        i += 1;
    }
    None
}

/// A reply code at the very start of `s` (after whitespace), as in `550 5.1.1 ...`.
pub fn leading_reply_code(s: &str) -> Option<u16> {
    let t = s.trim_start();
    let b = t.as_bytes();
    if b.len() >= 3
        && matches!(b[0], b'2' | b'4' | b'5')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b.get(3)
            .is_none_or(|&n| !n.is_ascii_alphanumeric() && n != b'.')
    {
        let code =
            u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
        if is_plausible_code(code) {
            return Some(code);
        }
    }
    None
}

/// The first enhanced status in `s` whose class is 4 or 5 (and matches the reply class when a
/// reply code is known).
pub fn find_status(s: &str, reply: Option<u16>) -> Option<EnhancedStatus> {
    let mut rest = s;
    let mut base = 0usize;
    for _ in 0..32 {
        let (st, at) = EnhancedStatus::find(rest)?;
        let ok_class = !st.is_success() || reply.is_some_and(|c| c / 100 == 2);
        let ok_reply = reply.is_none_or(|c| (c / 100) as u8 == st.class.digit());
        // skip things that look like version numbers `v5.1.1` or IPs handled by find()
        if ok_class && ok_reply {
            return Some(st);
        }
        let next = at + 1;
        base += next;
        rest = s.get(base..)?;
    }
    None
}

/// Converts HTML to plain text cheaply: drops tags, scripts and styles, turns block tags into
/// line breaks, and decodes the few common entities.
pub fn html_to_text(h: &str) -> String {
    let mut out = String::with_capacity(h.len() / 2);
    let b = h.as_bytes();
    let mut i = 0;
    let mut last = 0;
    // Each tag, from the next '<' (found with memchr).
    while let Some(off) = b.get(i..).and_then(|r| memchr::memchr(b'<', r)) {
        i += off;
        if let Some(s) = h.get(last..i) {
            push_entities(&mut out, s);
        }
        let end = b
            .get(i..)
            .and_then(|r| memchr::memchr(b'>', r))
            .map(|p| i + p + 1)
            .unwrap_or(b.len());
        let tag = h.get(i + 1..end.saturating_sub(1)).unwrap_or("");
        // The tag's name lower-cased (its leading ASCII letters and digits), in a small
        // buffer: a name longer than it is none of the names below.
        let t = tag.trim_start_matches('/');
        let k = t.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let mut buf = [0u8; 12];
        let name = match (buf.get_mut(..k), t.as_bytes().get(..k)) {
            (Some(dst), Some(src)) => {
                dst.copy_from_slice(src);
                dst.make_ascii_lowercase();
                std::str::from_utf8(dst).unwrap_or("")
            }
            _ => "",
        };
        let mut next = end;
        if (name == "script" || name == "style") && !tag.starts_with('/') {
            let closing = if name == "script" {
                "</script"
            } else {
                "</style"
            };
            if let Some(p) = find_ci(h.get(end..).unwrap_or(""), closing) {
                next = end + p;
            } else {
                next = b.len();
            }
        }
        if matches!(
            name,
            "br" | "p"
                | "div"
                | "tr"
                | "li"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "table"
                | "pre"
                | "blockquote"
                | "hr"
        ) {
            out.push('\n');
        } else if matches!(name, "td" | "th") {
            out.push(' ');
        }
        i = next;
        last = next;
    }
    if let Some(s) = h.get(last..) {
        push_entities(&mut out, s);
    }
    out
}

fn push_entities(out: &mut String, s: &str) {
    if !s.contains('&') {
        out.push_str(s);
        return;
    }
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let r = &rest[p..];
        // (Only a ';' within the first 9 bytes counts: the search stops there.)
        let end = memchr::memchr(b';', r.as_bytes().get(..r.len().min(9)).unwrap_or_default());
        match end.map(|e| &r[..=e]) {
            Some("&lt;") => out.push('<'),
            Some("&gt;") => out.push('>'),
            Some("&amp;") => out.push('&'),
            Some("&quot;") => out.push('"'),
            Some("&#39;") | Some("&apos;") => out.push('\''),
            Some("&nbsp;") | Some("&#160;") => out.push(' '),
            _ => {
                out.push('&');
                rest = &r[1..];
                continue;
            }
        }
        rest = &r[end.unwrap_or(0) + 1..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `word_run` is the length of the leading run of class-0 bytes.
        #[test]
        fn word_run_is_the_class_0_prefix(
            b in proptest::collection::vec(proptest::prop_oneof![
                4 => 0x21u8..0x7f,
                1 => proptest::num::u8::ANY,
                1 => proptest::sample::select(vec![b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r', 0xc2, 0xe1, 0xe2, 0xe3, 0x7f, 0x80, 0x20, 0x21, 0]),
            ], 0..40)
        ) {
            let want = b.iter().position(|&c| SQUASH_CLASS[usize::from(c)] != 0).unwrap_or(b.len());
            proptest::prop_assert_eq!(word_run(&b), want);
        }

        /// Long words (the eight-byte steps), with non-ASCII and whitespace inside.
        #[test]
        fn squash_matches_split_whitespace_on_long_words(s in "([a-zA-Z0-9.@<>=/-]{1,30}|[ \t\r\n]{1,2}|\u{a0}|\u{2003}|\u{e9}|\u{1f600}|\u{7f}|\u{1}){0,40}") {
            proptest::prop_assert_eq!(squash(&s), squash_reference(&s));
        }
    }

    fn squash_reference(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn squash_is_split_whitespace_joined() {
        for s in [
            "",
            " ",
            "a",
            "  a \t b\r\n  c  ",
            "x\u{0b}y\u{0c}z",
            "a\u{85}b\u{a0}c\u{1680}d\u{2000}e\u{200a}f\u{2028}g\u{2029}h\u{202f}i\u{205f}j\u{3000}k",
            "\u{e9}t\u{e9} \u{2009}\u{200b}caf\u{e9}\u{1f600} \u{3001}",
            "\u{1c}\u{1f}",
        ] {
            assert_eq!(squash(s), squash_reference(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn squash_matches_split_whitespace(s in "(\\PC|\\s|[\u{85}\u{a0}\u{1680}\u{2000}-\u{200b}\u{2028}\u{2029}\u{202f}\u{205f}\u{3000}\u{180e}]){0,60}") {
            proptest::prop_assert_eq!(squash(&s), squash_reference(&s));
        }
    }

    proptest::proptest! {
        /// Longer texts of words and whitespace runs (the stretches copied at once).
        #[test]
        fn squash_matches_split_whitespace_on_prose(s in "([a-zA-Z.,:<>@-]{1,6}|[ \t\r\n]{1,3}| |\u{a0}|\u{2003}|\u{3000}|\u{e9}|\u{e1}\u{85}|\u{2028}){0,80}") {
            proptest::prop_assert_eq!(squash(&s), squash_reference(&s));
        }

        #[test]
        fn first_address_is_the_first_found(s in "([a-zA-Z0-9.+_-]{1,8}|@|[.<>\\[\\] :;]|\u{e9}|[0-9]{1,3}){0,40}") {
            let all = find_addresses(&s);
            proptest::prop_assert_eq!(first_address(&s), all.into_iter().next());
        }
    }

    /// `find_reply_code` before it skipped to the candidate digits with memchr.
    fn find_reply_code_reference(s: &str) -> Option<u16> {
        let b = s.as_bytes();
        let mut best: Option<u16> = None;
        let mut i = 0;
        while i + 3 <= b.len() {
            let c = b[i];
            let hash_lead =
                i >= 1 && b[i - 1] == b'#' && (i == 1 || b[i - 2].is_ascii_whitespace());
            if matches!(c, b'2' | b'4' | b'5')
                && b[i + 1].is_ascii_digit()
                && b[i + 2].is_ascii_digit()
                && (i == 0
                    || !is_token(b[i - 1])
                    || hash_lead
                    || (b[i - 1] == b':' && i >= 2 && b[i - 2] == b' '))
                && b.get(i + 3)
                    .is_none_or(|&n| b" -\t\r\n;:,)\"'".contains(&n))
            {
                let code = u16::from(c - b'0') * 100
                    + u16::from(b[i + 1] - b'0') * 10
                    + u16::from(b[i + 2] - b'0');
                if (b[i + 1] <= b'5') && is_plausible_code(code) {
                    let rest = s.get(i + 4..).unwrap_or("");
                    let strong = i == 0
                        || rest
                            .trim_start()
                            .as_bytes()
                            .first()
                            .is_some_and(|&d| d == c)
                            && rest.trim_start().as_bytes().get(1) == Some(&b'.');
                    if strong {
                        return Some(code);
                    }
                    if best.is_none() && !hash_lead && b.get(i + 3) != Some(&b':') {
                        best = Some(code);
                    }
                }
            }
            i += 1;
        }
        best
    }

    /// `html_to_text` before it found tags with memchr and kept the name in a buffer.
    fn html_to_text_reference(h: &str) -> String {
        let mut out = String::with_capacity(h.len() / 2);
        let b = h.as_bytes();
        let mut i = 0;
        let mut last = 0;
        while i < b.len() {
            if b[i] == b'<' {
                if let Some(s) = h.get(last..i) {
                    push_entities_reference(&mut out, s);
                }
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'>')
                    .map(|p| i + p + 1)
                    .unwrap_or(b.len());
                let tag = h.get(i + 1..end.saturating_sub(1)).unwrap_or("");
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                let mut next = end;
                if (name == "script" || name == "style") && !tag.starts_with('/') {
                    let closing = format!("</{name}");
                    next = match find_ci(h.get(end..).unwrap_or(""), &closing) {
                        Some(p) => end + p,
                        None => b.len(),
                    };
                }
                if matches!(
                    name.as_str(),
                    "br" | "p"
                        | "div"
                        | "tr"
                        | "li"
                        | "h1"
                        | "h2"
                        | "h3"
                        | "h4"
                        | "table"
                        | "pre"
                        | "blockquote"
                        | "hr"
                ) {
                    out.push('\n');
                } else if matches!(name.as_str(), "td" | "th") {
                    out.push(' ');
                }
                i = next;
                last = next;
            } else {
                i += 1;
            }
        }
        if let Some(s) = h.get(last..) {
            push_entities_reference(&mut out, s);
        }
        out
    }

    fn push_entities_reference(out: &mut String, s: &str) {
        let mut rest = s;
        while let Some(p) = rest.find('&') {
            out.push_str(&rest[..p]);
            let r = &rest[p..];
            let end = r.find(';').filter(|&e| e <= 8);
            match end.map(|e| &r[..=e]) {
                Some("&lt;") => out.push('<'),
                Some("&gt;") => out.push('>'),
                Some("&amp;") => out.push('&'),
                Some("&quot;") => out.push('"'),
                Some("&#39;") | Some("&apos;") => out.push('\''),
                Some("&nbsp;") | Some("&#160;") => out.push(' '),
                _ => {
                    out.push('&');
                    rest = &r[1..];
                    continue;
                }
            }
            rest = &r[end.unwrap_or(0) + 1..];
        }
        out.push_str(rest);
    }

    proptest::proptest! {
        #[test]
        fn html_to_text_is_unchanged(h in "(<|>|/|</?(script|STYLE|br|Blockquote|td|p|x|averyverylongtagname)|&(lt|amp|nbsp|#39|x)?;?|[ a-z;\\n]|\\u{e9}){0,40}") {
            proptest::prop_assert_eq!(html_to_text(&h), html_to_text_reference(&h));
        }
    }

    #[test]
    fn local_bytes_are_the_atext_specials() {
        for c in 0..=255u8 {
            assert_eq!(
                is_local_byte(c),
                c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&c),
                "{c}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn split_lf_is_split_on_line_feed(s in "([a\\r\\n]|\\u{e9}|\\n\\n){0,12}") {
            proptest::prop_assert_eq!(split_lf(&s).collect::<Vec<_>>(), s.split('\n').collect::<Vec<_>>());
        }

        #[test]
        fn find_reply_code_is_unchanged(s in "([245]{1,3}|[0-9]|[ .:;#a-z-]|5\\.1\\.1|550 ){0,20}") {
            proptest::prop_assert_eq!(find_reply_code(&s), find_reply_code_reference(&s));
        }
    }

    /// The phrase lists of the tests of [`Literals`]: prefixes, suffixes and repeats of one
    /// another, so that the choice among overlapping occurrences matters.
    const LIT_LISTS: &[&[&str]] = &[
        &["ab", "abc", "bc", "c-d", "abcab", "bca", "ab"],
        &[
            "original message",
            "message",
            "original",
            "age",
            "--- original message ---",
        ],
        &["aa", "aaa", "a-a", "aa"],
    ];

    fn standard_reference(pats: &[&str], low: &str, from: usize) -> Vec<LitMatch> {
        let ac = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(pats)
            .expect("builds");
        ac.find_iter(aho_corasick::Input::new(low).span(from..low.len()))
            .map(|m| LitMatch {
                pattern: m.pattern().as_usize(),
                start: m.start(),
                end: m.end(),
            })
            .collect()
    }

    proptest::proptest! {
        /// `Literals` answers as the Aho-Corasick automata it replaced: the standard
        /// semantics' successive matches, the leftmost start, whether any phrase occurs.
        #[test]
        fn literals_answer_as_aho_corasick(
            which in 0..LIT_LISTS.len(),
            t in "(ab|bc|c-d|a|b|c|-|original|message| |---|age|x){0,30}",
            from in 0usize..8,
        ) {
            let pats = LIT_LISTS[which];
            let set = Literals::new(pats);
            let low = t.as_bytes();
            let from = from.min(low.len());
            let got: Vec<LitMatch> = set.standard_iter(low, from).collect();
            proptest::prop_assert_eq!(got, standard_reference(pats, &t, from));
            let lf = aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(pats)
                .expect("builds");
            proptest::prop_assert_eq!(set.leftmost_start(low), lf.find(low).map(|m| m.start()));
            proptest::prop_assert_eq!(set.is_match(low), lf.is_match(low));
        }
    }

    #[test]
    fn literals_on_long_texts_and_the_fallback() {
        // Long enough for the vectorised search (not only its short-text fallback).
        let t = format!(
            "{}abcab{}original message{}c-d",
            "x".repeat(100),
            "y ".repeat(80),
            "z".repeat(70)
        );
        for pats in LIT_LISTS {
            let set = Literals::new(*pats);
            assert_eq!(
                set.standard_iter(t.as_bytes(), 0).collect::<Vec<_>>(),
                standard_reference(pats, &t, 0),
                "{pats:?}"
            );
        }
        // An empty phrase: no packed searcher, the automaton answers.
        let set = Literals::new(["", "ab"]);
        assert!(set.packed.is_none());
        assert!(set.is_match(b"x"));
        // Upper-case phrases are searched lower-cased.
        assert_eq!(
            Literals::new(["Original"]).leftmost_start(b"an original"),
            Some(3)
        );
    }

    fn check_addrs(input: &str, expected: &[&str]) {
        let got: Vec<String> = find_addresses(input).into_iter().map(|a| a.addr).collect();
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn addresses() {
        check_addrs("<Bob@Example.ORG>: host said", &["Bob@example.org"]);
        check_addrs("RCPT TO:<a.b+c@x.co.jp>", &["a.b+c@x.co.jp"]);
        check_addrs("no address here @ all", &[]);
        check_addrs("user@localhost", &[]);
        check_addrs(
            "x@[192.0.2.1] and y@z.example.",
            &["x@[192.0.2.1]", "y@z.example"],
        );
        check_addrs("日本語 user@例.jp", &[]);
        // apostrophes that quote an address are not part of it; one inside a local part is
        check_addrs(
            "Failed to deliver to 'bob@remote.test' and `c@d.test'",
            &["bob@remote.test", "c@d.test"],
        );
        // (an unpaired apostrophe is a legal local-part character: kept)
        check_addrs(
            "o'brien@remote.test 'e@f.test",
            &["o'brien@remote.test", "'e@f.test"],
        );
        // an address in a link is the one after the URL's last separator
        check_addrs(
            "https://verify.example/upgrade?email=alice@sender.test and http://x.example/u/bob@y.test",
            &["alice@sender.test", "bob@y.test"],
        );
        check_addrs("see http://x.example/u/.bob@y.test", &["bob@y.test"]);
    }

    fn check_clean(input: &str, expected: &str) {
        assert_eq!(clean_address(input), expected, "input {input:?}");
    }

    #[test]
    fn clean() {
        check_clean("rfc822; bob@EXAMPLE.org", "bob@example.org");
        check_clean("RFC822; <Bob@x.org>", "Bob@x.org");
        check_clean("rfc822;a@b.c", "a@b.c");
        check_clean("<a@b.c> (comment)", "a@b.c");
        check_clean("a@b.c", "a@b.c");
    }

    fn check_code(input: &str, expected: Option<u16>) {
        assert_eq!(find_reply_code(input), expected, "input {input:?}");
    }

    #[test]
    fn reply_codes() {
        check_code("550 5.1.1 unknown", Some(550));
        // Exchange: `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`, only with its status.
        check_code(
            "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##",
            Some(550),
        );
        check_code("x@y.example\n#554 5.2.2 mailbox full; STOREDRV", Some(554));
        check_code("#550 not found", None);
        check_code("queue#550 5.1.1", None);
        check_code("(#5.1.1)", None);
        check_code("host said: 552-5.2.2 full", Some(552));
        check_code("at 12:55:01 port 25", None);
        check_code("Error 550 user unknown", Some(550));
        check_code("SIZE=1234 5000", None);
    }

    #[test]
    fn tidy() {
        assert_eq!(
            tidy_reply("550-5.1.1 The email account 550-5.1.1 does not exist 550 5.1.1 https://x"),
            "550-5.1.1 The email account does not exist https://x"
        );
        assert_eq!(tidy_reply("550 user unknown"), "550 user unknown");
        // No enhanced status: the dashed prefixes and the last line's code go.
        assert_eq!(
            tidy_bare_reply("553-you are trying 553-to use me as a relay 553 (#5.7.1)"),
            "553-you are trying to use me as a relay (#5.7.1)"
        );
        assert_eq!(tidy_bare_reply("550 see 550 here"), "550 see 550 here");
    }

    #[test]
    fn quoted_replies() {
        assert_eq!(
            quoted_reply(
                "host mx.example.org[192.0.2.1] said: 550 5.1.1 <a@b.c>: no such user (in reply to RCPT TO command)"
            ),
            (
                "550 5.1.1 <a@b.c>: no such user".into(),
                Some("mx.example.org".into())
            )
        );
        assert_eq!(
            quoted_reply("550 user unknown (in reply to end of DATA command)"),
            ("550 user unknown".into(), None)
        );
        // Not Postfix's lead: left as written.
        assert_eq!(
            quoted_reply("host is down (said the admin)"),
            ("host is down (said the admin)".into(), None)
        );
        // Exchange / Office 365
        assert_eq!(
            quoted_reply(
                "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'"
            ),
            (
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup".into(),
                None
            )
        );
        assert_eq!(
            quoted_reply("Remote Server at mx.fabrikam.com (198.51.100.9) returned '550 5.1.1 no'"),
            ("550 5.1.1 no".into(), Some("mx.fabrikam.com".into()))
        );
        // Sendmail
        assert_eq!(
            quoted_reply("(reason: 554 5.7.1 Message rejected as spam)"),
            ("554 5.7.1 Message rejected as spam".into(), None)
        );
        assert_eq!(
            quoted_reply("(reason: 550 (x) no)"),
            ("(reason: 550 (x) no)".into(), None)
        );
        assert_eq!(
            quoted_reply("Remote server returned: 550 5.2.1 <e@x.example>: mailbox disabled"),
            ("550 5.2.1 <e@x.example>: mailbox disabled".into(), None)
        );
        assert_eq!(
            quoted_reply("Remote server returned: timeout"),
            ("Remote server returned: timeout".into(), None)
        );
        // labels and transcript arrows before a reply
        for (given, reply) in [
            (
                "Error: 550 Mailbox bob is over its storage limit.",
                "550 Mailbox bob is over its storage limit.",
            ),
            (
                "Reason: Remote SMTP Server Returned: 550 5.1.1 No such user",
                "550 5.1.1 No such user",
            ),
            (
                "Mon 2026-12-07 10:00:00.330: <-- 550 5.1.1 <b@x.example>: User unknown",
                "550 5.1.1 <b@x.example>: User unknown",
            ),
            ("<<< 552 5.2.2 Mailbox full", "552 5.2.2 Mailbox full"),
            (
                "Error Type: SMTP Remote server (192.0.2.9) issued an error. hMailServer sent: RCPT TO:<b@x.example> Remote server replied: 552 5.2.2 over quota",
                "552 5.2.2 over quota",
            ),
        ] {
            assert_eq!(quoted_reply(given), (reply.into(), None), "{given}");
        }
        // a label without a reply after it stays, also before a second label
        assert_eq!(
            quoted_reply("Reason: Message content rejected"),
            ("Reason: Message content rejected".into(), None)
        );
        assert_eq!(
            quoted_reply("Reason: Remote host closed the connection"),
            ("Reason: Remote host closed the connection".into(), None)
        );
        // several attempts: as written
        let two = "Remote Server at a.example (192.0.2.1) returned '400 4.4.7 Message delayed' 12/7/2026 8:55:00 AM - Remote Server at a.example (192.0.2.1) returned '451 4.7.0 Try later'";
        assert_eq!(quoted_reply(two), (two.into(), None));
    }

    #[test]
    fn reply_statuses() {
        let f = |s: &str| find_reply_status(s).map(|(c, st)| format!("{c} {st}"));
        assert_eq!(f("550-5.1.1 The email"), Some("550 5.1.1".into()));
        assert_eq!(
            f("5.1.0 - Unknown address error 550-'5.2.2 <a@b.c>... Mailbox Full'"),
            Some("550 5.2.2".into())
        );
        assert_eq!(f("554 mx.example.com not accepting"), None);
        assert_eq!(f("at 12:550 4.1.1"), None);
    }

    #[test]
    fn statuses() {
        assert_eq!(
            find_status("550 5.1.1 x", Some(550)).map(|s| s.to_string()),
            Some("5.1.1".into())
        );
        assert_eq!(
            find_status("version 2.0.1 then 4.2.2", None).map(|s| s.to_string()),
            Some("4.2.2".into())
        );
    }

    #[test]
    fn html() {
        assert_eq!(
            html_to_text("<p>a&amp;b</p><script>x</script>c"),
            "\na&b\nc"
        );
        assert_eq!(find_ci("Hello World", "world"), Some(6));
        assert!(!contains_ci("é", "e"));
    }
}
