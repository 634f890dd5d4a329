//! Matchers without a regex engine for the classifier's phrases that are a few literal strings
//! with assertions at their ends (`\bspf\b`, `not authori[sz]ed`, `address rejected( |\.|$)`),
//! or two such sets with a bounded gap of any bytes but a line feed between them (`mail from
//! .{0,40}(rejected|refused)`).
//!
//! Compiling a regex (parsing, the Thompson NFA, then the lazy DFA's states as a text needs
//! them) costs about 200,000 instructions per phrase, more than a `mailerd explain` run spends
//! searching with it; these matchers cost a few hundred to build. They answer exactly as the
//! regex does (byte-oriented, `unicode(false)`: `\b` is the ASCII word boundary, `.` any byte
//! but `\n`, `^`/`$` the ends of the text); anything else in a phrase makes [`compile`] return
//! `None` and the caller uses the regex.

use memchr::memmem::Finder;

/// At most this many strings per phrase (or per side of a gap).
const MAX_STRINGS: usize = 64;

/// What must hold at one end of a string's occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Free,
    /// `\b`: an ASCII word boundary.
    Word,
    /// `^`: the start of the text.
    TextStart,
    /// `$`: the end of the text.
    TextEnd,
}

/// One string of a phrase with its end assertions. An empty string (an assertion alone, so
/// far) keeps its assertion in `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lit {
    s: String,
    start: Edge,
    end: Edge,
}

/// A compiled phrase.
pub(crate) enum LitPhrase {
    /// Matches where one of the strings occurs with its assertions holding.
    Strings(Vec<Edged>),
    /// Matches where a string of `first` is followed, after at most `max` bytes none of which
    /// is `\n`, by a string of `second`.
    Gap {
        first: Vec<Finder<'static>>,
        max: usize,
        second: Vec<Finder<'static>>,
    },
}

pub(crate) struct Edged {
    finder: Finder<'static>,
    start: Edge,
    end: Edge,
}

fn is_word(b: Option<&u8>) -> bool {
    b.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl Edged {
    fn is_match(&self, h: &[u8]) -> bool {
        let n = self.finder.needle();
        let ok = |p: usize| {
            let e = p + n.len();
            let start_ok = match self.start {
                Edge::Free => true,
                Edge::Word => {
                    is_word(p.checked_sub(1).and_then(|i| h.get(i))) != is_word(n.first())
                }
                Edge::TextStart => p == 0,
                Edge::TextEnd => false,
            };
            let end_ok = match self.end {
                Edge::Free => true,
                Edge::Word => is_word(h.get(e)) != is_word(n.last()),
                Edge::TextEnd => e == h.len(),
                Edge::TextStart => false,
            };
            start_ok && end_ok
        };
        match (self.start, self.end) {
            (Edge::Free, Edge::Free) => self.finder.find(h).is_some(),
            (Edge::TextStart, _) => h.starts_with(n) && ok(0),
            (_, Edge::TextEnd) => h.ends_with(n) && ok(h.len() - n.len()),
            _ => {
                // Every occurrence, overlapping ones too, until one satisfies the assertions.
                let mut pos = 0;
                while let Some(i) = h.get(pos..).and_then(|r| self.finder.find(r)) {
                    if ok(pos + i) {
                        return true;
                    }
                    pos += i + 1;
                }
                false
            }
        }
    }
}

impl LitPhrase {
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let h = text.as_bytes();
        match self {
            LitPhrase::Strings(v) => v.iter().any(|e| e.is_match(h)),
            LitPhrase::Gap { first, max, second } => first.iter().any(|f| {
                let mut pos = 0;
                while let Some(i) = h.get(pos..).and_then(|r| f.find(r)) {
                    let e = pos + i + f.needle().len();
                    let rest = h.get(e..).unwrap_or_default();
                    // The gap may not cross a line feed.
                    let limit =
                        memchr::memchr(b'\n', rest.get(..rest.len().min(*max)).unwrap_or(rest))
                            .unwrap_or(rest.len().min(*max));
                    if second.iter().any(|s| {
                        let w = rest
                            .get(..(limit + s.needle().len()).min(rest.len()))
                            .unwrap_or(rest);
                        s.find(w).is_some()
                    }) {
                        return true;
                    }
                    pos += i + 1;
                }
                false
            }),
        }
    }
}

/// The matcher for `pattern`, when it has one of the two shapes this module handles.
pub(crate) fn compile(pattern: &str) -> Option<LitPhrase> {
    // Repetition (other than the one gap), negated classes and class escapes: the regex's.
    if !pattern.is_ascii()
        || pattern.contains(['*', '+'])
        || pattern.contains("[^")
        || pattern.matches('{').count() > 1
    {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    if let Some((at, end, max)) = find_gap(&chars) {
        let first = free_strings(chars.get(..at)?)?;
        let second = free_strings(chars.get(end..)?)?;
        let finders = |v: Vec<String>| v.iter().map(|s| Finder::new(s).into_owned()).collect();
        return Some(LitPhrase::Gap {
            first: finders(first),
            max,
            second: finders(second),
        });
    }
    let lits = lits_of(&chars)?;
    Some(LitPhrase::Strings(
        lits.into_iter()
            .map(|l| Edged {
                finder: Finder::new(&l.s).into_owned(),
                start: l.start,
                end: l.end,
            })
            .collect(),
    ))
}

/// The strings of a part of a phrase without assertions.
fn free_strings(c: &[char]) -> Option<Vec<String>> {
    let lits = lits_of(c)?;
    lits.into_iter()
        .map(|l| (l.start == Edge::Free && l.end == Edge::Free).then_some(l.s))
        .collect()
}

fn lits_of(c: &[char]) -> Option<Vec<Lit>> {
    let mut pos = 0;
    let set = alternation(c, &mut pos)?;
    (pos == c.len() && !set.is_empty() && set.iter().all(|l| !l.s.is_empty())).then_some(set)
}

/// The one top-level `.{0,N}` of a phrase: where it starts, where it ends, and N.
fn find_gap(c: &[char]) -> Option<(usize, usize, usize)> {
    let mut depth = 0usize;
    let mut i = 0;
    let mut found = None;
    while let Some(&ch) = c.get(i) {
        match ch {
            '\\' => i += 1,
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            '[' => {
                // skip the class (it holds no `.{` of interest)
                while c.get(i).is_some_and(|&x| x != ']') {
                    i += 1;
                }
            }
            '.' if depth == 0 && c.get(i + 1..i + 4) == Some(&['{', '0', ',']) => {
                let mut j = i + 4;
                let mut n = 0usize;
                while let Some(d) = c.get(j).and_then(|x| x.to_digit(10)) {
                    n = n.checked_mul(10)?.checked_add(d as usize)?;
                    j += 1;
                }
                if j == i + 4 || c.get(j) != Some(&'}') || found.is_some() {
                    return None;
                }
                found = Some((i, j + 1, n));
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

fn alternation(c: &[char], pos: &mut usize) -> Option<Vec<Lit>> {
    let mut union = Vec::new();
    loop {
        union.extend(sequence(c, pos)?);
        if union.len() > MAX_STRINGS {
            return None;
        }
        if c.get(*pos) == Some(&'|') {
            *pos += 1;
            continue;
        }
        return Some(union);
    }
}

fn merge(a: Edge, b: Edge) -> Option<Edge> {
    match (a, b) {
        (Edge::Free, x) | (x, Edge::Free) => Some(x),
        (x, y) if x == y => Some(x),
        _ => None,
    }
}

/// `a` followed by `b`; `None` when an assertion would fall between two characters or can
/// never hold (`^` after characters, `$` before them).
fn concat(a: &Lit, b: &Lit) -> Option<Lit> {
    let (start, end) = match (a.s.is_empty(), b.s.is_empty()) {
        (true, true) => (merge(a.start, b.start)?, Edge::Free),
        (true, false) => (merge(a.start, b.start)?, b.end),
        (false, true) => (a.start, merge(a.end, b.start)?),
        (false, false) if a.end == Edge::Free && b.start == Edge::Free => (a.start, b.end),
        (false, false) => return None,
    };
    let mut s = String::with_capacity(a.s.len() + b.s.len());
    s.push_str(&a.s);
    s.push_str(&b.s);
    if (!s.is_empty() && start == Edge::TextEnd) || end == Edge::TextStart {
        return None;
    }
    Some(Lit { s, start, end })
}

fn sequence(c: &[char], pos: &mut usize) -> Option<Vec<Lit>> {
    let empty = Lit {
        s: String::new(),
        start: Edge::Free,
        end: Edge::Free,
    };
    let mut out = vec![empty.clone()];
    while let Some(&ch) = c.get(*pos) {
        let lit = |s: String| Lit {
            s,
            start: Edge::Free,
            end: Edge::Free,
        };
        let mut atom: Vec<Lit> = match ch {
            '|' | ')' => break,
            '(' => {
                *pos += 1;
                if c.get(*pos) == Some(&'?') {
                    if c.get(*pos + 1) != Some(&':') {
                        return None;
                    }
                    *pos += 2;
                }
                let inner = alternation(c, pos)?;
                if c.get(*pos) != Some(&')') {
                    return None;
                }
                *pos += 1;
                inner
            }
            '[' => {
                *pos += 1;
                class(c, pos)?
                    .into_iter()
                    .map(|x| lit(x.to_string()))
                    .collect()
            }
            '\\' => {
                let e = *c.get(*pos + 1)?;
                *pos += 2;
                match e {
                    'b' => vec![Lit {
                        s: String::new(),
                        start: Edge::Word,
                        end: Edge::Free,
                    }],
                    'd' => ('0'..='9').map(|d| lit(d.to_string())).collect(),
                    // (`\<` and `\>` are word-boundary assertions.)
                    e if e.is_ascii_punctuation() && e != '<' && e != '>' => {
                        vec![lit(e.to_string())]
                    }
                    _ => return None,
                }
            }
            '^' => {
                *pos += 1;
                vec![Lit {
                    s: String::new(),
                    start: Edge::TextStart,
                    end: Edge::Free,
                }]
            }
            '$' => {
                *pos += 1;
                vec![Lit {
                    s: String::new(),
                    start: Edge::TextEnd,
                    end: Edge::Free,
                }]
            }
            '.' | ']' | '*' | '+' | '?' | '{' | '}' => return None,
            _ => {
                *pos += 1;
                vec![lit(ch.to_string())]
            }
        };
        match c.get(*pos) {
            Some('?') => {
                *pos += 1;
                if matches!(c.get(*pos), Some('?' | '*' | '+' | '{')) {
                    return None;
                }
                // An optional assertion asserts nothing.
                if atom.iter().any(|l| l.s.is_empty()) {
                    return None;
                }
                atom.push(empty.clone());
            }
            Some('*' | '+' | '{') => return None,
            _ => {}
        }
        // One plain character or string: appended to every string in place.
        if let [b] = &atom[..]
            && b.start == Edge::Free
            && b.end == Edge::Free
            && !b.s.is_empty()
        {
            for a in &mut out {
                if a.end != Edge::Free || (a.s.is_empty() && a.start == Edge::TextEnd) {
                    return None;
                }
                a.s.push_str(&b.s);
            }
            continue;
        }
        if out.len() * atom.len() > MAX_STRINGS {
            return None;
        }
        let mut next = Vec::with_capacity(out.len() * atom.len());
        for a in &out {
            for b in &atom {
                next.push(concat(a, b)?);
            }
        }
        out = next;
    }
    Some(out)
}

/// The characters of a class `[...]` (after its `[`): single characters and ranges, no
/// negation, no escapes.
fn class(c: &[char], pos: &mut usize) -> Option<Vec<char>> {
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let ch = *c.get(*pos)?;
        match ch {
            ']' if !first => {
                *pos += 1;
                return (out.len() <= MAX_STRINGS).then_some(out);
            }
            '^' if first => return None,
            '\\' | '[' | ']' => return None,
            _ => {
                if c.get(*pos + 1) == Some(&'-') && c.get(*pos + 2).is_some_and(|&e| e != ']') {
                    let e = *c.get(*pos + 2)?;
                    if e == '\\' || e == '[' || e < ch || (e as u32 - ch as u32) > 64 {
                        return None;
                    }
                    out.extend(ch..=e);
                    *pos += 3;
                } else {
                    out.push(ch);
                    *pos += 1;
                }
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::reference_regex as reference;

    #[test]
    fn shapes() {
        for p in [
            r"\bspf\b",
            r"\bsbl\b|\bxbl\b|\bpbl\b",
            r"\bdnsbl\b|dnsbl-",
            r"after (ehlo|helo)\b",
            r"address rejected( |\.|$)",
            r"^pipe to \|",
            r"not authori[sz]ed",
            r"\b(sc|dy|ou|mc)-00\d\b",
            r"\[tss0[1-4]\]",
            r"sender.{0,20}invalid",
            r"would exceed (the )?.{0,30}(storage|quota|mailbox)",
            r"spam[- ]?(score|filter|detected|content)",
        ] {
            assert!(compile(p).is_some(), "{p}");
        }
        for p in [
            r"exceeded \d+ hops",
            r"aup#[a-z-]*1260\b",
            r"\bvirus\b[^.]{0,30}\b(reject|block|refus)",
            r"a.{0,3}b.{0,3}c",
            r"[^a]x",
            r"\bx?",
            r"a\bb",
        ] {
            assert!(compile(p).is_none(), "{p}");
        }
    }

    /// Every phrase of the rule table this module compiles answers as the regex does, on
    /// texts made of the phrase's own strings and of bytes that test its assertions.
    #[test]
    fn table_phrases_match_as_the_regex() {
        let mut n = 0;
        for r in super::super::rules::RULES {
            for p in r.patterns {
                let Some(m) = compile(p) else { continue };
                n += 1;
                let re = reference(p);
                let words: Vec<String> = match &m {
                    LitPhrase::Strings(v) => v
                        .iter()
                        .map(|e| String::from_utf8_lossy(e.finder.needle()).into_owned())
                        .collect(),
                    LitPhrase::Gap { first, second, .. } => first
                        .iter()
                        .chain(second)
                        .map(|f| String::from_utf8_lossy(f.needle()).into_owned())
                        .collect(),
                };
                let fill = [
                    "",
                    "a",
                    "_",
                    " ",
                    ".",
                    "\n",
                    "-",
                    "9",
                    "xx yy ",
                    "0123456789abcdef",
                ];
                for w in &words {
                    for a in fill {
                        for b in fill {
                            for t in [
                                format!("{a}{w}{b}"),
                                format!("{a}{w}{b}{w}"),
                                format!("{w}{a}{w}{b}"),
                            ] {
                                assert_eq!(
                                    m.is_match(&t),
                                    re.is_match(t.as_bytes()),
                                    "{p:?} on {t:?}"
                                );
                            }
                        }
                    }
                }
                if let LitPhrase::Gap { first, second, max } = &m {
                    for f in first {
                        for s in second {
                            let (f, s) = (
                                String::from_utf8_lossy(f.needle()),
                                String::from_utf8_lossy(s.needle()),
                            );
                            for k in [0, 1, max.saturating_sub(1), *max, max + 1, max + 5] {
                                for g in ["x", "\n", " "] {
                                    let gap = "y".repeat(k);
                                    for t in [
                                        format!("{f}{gap}{s}"),
                                        format!("{f}{g}{gap}{s}"),
                                        format!("z{f}{gap}{g}{s}z"),
                                        format!("{f}{f}{gap}{s}"),
                                    ] {
                                        assert_eq!(
                                            m.is_match(&t),
                                            re.is_match(t.as_bytes()),
                                            "{p:?} on {t:?}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 0);
    }

    proptest::proptest! {
        /// Random texts over an alphabet that exercises the assertions of the shapes.
        #[test]
        fn random_texts_match_as_the_regex(
            p in proptest::sample::select(vec![
                r"\bspf\b", r"\bsbl\b|\bxbl\b|\bpbl\b", r"\bdnsbl\b|dnsbl-", r"after (ehlo|helo)\b",
                r"address rejected( |\.|$)", r"^pipe to \|", r"not authori[sz]ed",
                r"\b(sc|dy|ou|mc)-00\d\b", r"\[tss0[1-4]\]", r"sender.{0,20}invalid",
                r"ab.{0,3}(c|de)", r"(x|xy)\b", r"\bab|b\b", r"a(b|$)", r"^(a|b)c?",
            ]),
            t in "(spf|sbl|xbl|dnsbl|after |ehlo|helo|address rejected|pipe to |not authori|[sz]ed|sc-00|mc-00|tss0|sender|invalid|ab|de|xy|[a-e_x-z0-9 .|\\[\\]\n-]){0,12}",
        ) {
            let m = compile(p).expect("compiles");
            proptest::prop_assert_eq!(m.is_match(&t), reference(p).is_match(t.as_bytes()), "{:?} on {:?}", p, t);
        }
    }
}
