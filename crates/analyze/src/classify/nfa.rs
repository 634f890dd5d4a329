//! A small byte-oriented regex matcher (a Thompson NFA run as a Pike VM) for the classifier's
//! phrases that are neither a few literal strings nor one of `literal`'s shapes: repetition
//! (`\d+`, `[a-z-]*`, `( \S+)?`), negated classes (`[^.]{0,30}`), `\s`/`\S`.
//!
//! A lazy DFA of `regex-automata` costs about 200,000 instructions to build (parse, Thompson
//! NFA, then its states as a text needs them), more than a `mailerd explain` run spends
//! searching with it; this program costs a few thousand to build, and runs in time linear in
//! the text (each step advances every live thread by one byte at most once). It answers
//! exactly as `regex` with `unicode(false)` does (byte-oriented: `.` any byte but `\n`, a
//! negated class any byte outside it, `\b` the ASCII word boundary, `\s` ASCII whitespace,
//! `^`/`$` the ends of the text); any syntax it does not know makes [`compile`] return `None`
//! and the caller uses the regex engine.

/// At most this many instructions per program (counted repetitions are unrolled).
const MAX_INSTS: usize = 4096;

/// A set of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Bytes([u64; 4]);

impl Bytes {
    fn range(lo: u8, hi: u8) -> Bytes {
        let mut b = Bytes::default();
        for c in lo..=hi {
            b.add(c);
        }
        b
    }

    fn add(&mut self, c: u8) {
        self.0[usize::from(c >> 6)] |= 1 << (c & 63);
    }

    fn has(&self, c: u8) -> bool {
        self.0[usize::from(c >> 6)] & (1 << (c & 63)) != 0
    }

    fn union(&mut self, o: &Bytes) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
    }

    fn negate(&mut self) {
        for a in &mut self.0 {
            *a = !*a;
        }
    }

    fn digit() -> Bytes {
        Bytes::range(b'0', b'9')
    }

    fn word() -> Bytes {
        let mut b = Bytes::range(b'0', b'9');
        b.union(&Bytes::range(b'a', b'z'));
        b.union(&Bytes::range(b'A', b'Z'));
        b.add(b'_');
        b
    }

    fn space() -> Bytes {
        let mut b = Bytes::default();
        for c in [b'\t', b'\n', 0x0b, 0x0c, b'\r', b' '] {
            b.add(c);
        }
        b
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Start,
    End,
    Word,
    NotWord,
}

#[derive(Debug, Clone)]
enum Node {
    Set(Bytes),
    Look(Look),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy)]
enum Inst {
    /// Consume a byte of the set, then go on at the given instruction.
    Set(Bytes, u32),
    Split(u32, u32),
    Jmp(u32),
    Look(Look, u32),
    Match,
}

/// A compiled phrase.
pub(crate) struct Program {
    insts: Vec<Inst>,
    /// The bytes a match can begin with (a superset): where no thread is alive, the search
    /// skips to the next such byte.
    first: Bytes,
    /// The empty text may match at the start (then no position is skipped).
    nullable: bool,
}

/// The program for `pattern`, when its syntax is the subset this module knows.
pub(crate) fn compile(pattern: &str) -> Option<Program> {
    if !pattern.is_ascii() {
        return None;
    }
    let b = pattern.as_bytes();
    let mut pos = 0;
    let node = alternation(b, &mut pos, 0)?;
    if pos != b.len() {
        return None;
    }
    let mut c = Compiler { insts: Vec::new() };
    let start = c.node(&node)?;
    let end = c.push(Inst::Match)?;
    c.patch(&start.holes, end);
    // The program begins at instruction 0 (`start.entry` is always 0).
    if start.entry != 0 {
        return None;
    }
    let mut p = Program {
        insts: c.insts,
        first: Bytes::default(),
        nullable: false,
    };
    let (first, nullable) = p.first_bytes();
    p.first = first;
    p.nullable = nullable;
    Some(p)
}

fn alternation(b: &[u8], pos: &mut usize, depth: u32) -> Option<Node> {
    if depth > 32 {
        return None;
    }
    let mut alts = vec![concat(b, pos, depth)?];
    while b.get(*pos) == Some(&b'|') {
        *pos += 1;
        alts.push(concat(b, pos, depth)?);
    }
    Some(if alts.len() == 1 {
        alts.pop()?
    } else {
        Node::Alt(alts)
    })
}

fn concat(b: &[u8], pos: &mut usize, depth: u32) -> Option<Node> {
    let mut items = Vec::new();
    while let Some(&c) = b.get(*pos) {
        let atom = match c {
            b'|' | b')' => break,
            b'(' => {
                *pos += 1;
                if b.get(*pos) == Some(&b'?') {
                    if b.get(*pos + 1) != Some(&b':') {
                        return None;
                    }
                    *pos += 2;
                }
                let inner = alternation(b, pos, depth + 1)?;
                if b.get(*pos) != Some(&b')') {
                    return None;
                }
                *pos += 1;
                inner
            }
            b'[' => {
                *pos += 1;
                Node::Set(class(b, pos)?)
            }
            b'.' => {
                *pos += 1;
                let mut s = Bytes::default();
                s.add(b'\n');
                s.negate();
                Node::Set(s)
            }
            b'^' => {
                *pos += 1;
                Node::Look(Look::Start)
            }
            b'$' => {
                *pos += 1;
                Node::Look(Look::End)
            }
            b'\\' => {
                let e = *b.get(*pos + 1)?;
                *pos += 2;
                match e {
                    b'b' => Node::Look(Look::Word),
                    b'B' => Node::Look(Look::NotWord),
                    _ => Node::Set(escape(e)?),
                }
            }
            b'*' | b'+' | b'?' | b'{' | b']' | b'}' => return None,
            _ => {
                *pos += 1;
                let mut s = Bytes::default();
                s.add(c);
                Node::Set(s)
            }
        };
        let atom = match quantifier(b, pos)? {
            Some((min, max)) => {
                if matches!(atom, Node::Look(_)) {
                    return None;
                }
                Node::Repeat {
                    node: Box::new(atom),
                    min,
                    max,
                }
            }
            None => atom,
        };
        items.push(atom);
    }
    Some(Node::Concat(items))
}

/// The set of an escape outside or inside a class: `\d \D \w \W \s \S`, `\n \t \r`, or an
/// escaped punctuation character.
fn escape(e: u8) -> Option<Bytes> {
    let mut s = match e {
        b'd' | b'D' => Bytes::digit(),
        b'w' | b'W' => Bytes::word(),
        b's' | b'S' => Bytes::space(),
        b'n' => Bytes::range(b'\n', b'\n'),
        b't' => Bytes::range(b'\t', b'\t'),
        b'r' => Bytes::range(b'\r', b'\r'),
        e if e.is_ascii_punctuation() && e != b'<' && e != b'>' => Bytes::range(e, e),
        _ => return None,
    };
    if matches!(e, b'D' | b'W' | b'S') {
        s.negate();
    }
    Some(s)
}

/// A class `[...]` after its `[`: optional `^`, then characters, ranges and class escapes.
fn class(b: &[u8], pos: &mut usize) -> Option<Bytes> {
    let mut set = Bytes::default();
    let negated = b.get(*pos) == Some(&b'^');
    if negated {
        *pos += 1;
    }
    let mut first = true;
    loop {
        let c = *b.get(*pos)?;
        match c {
            b']' if !first => {
                *pos += 1;
                break;
            }
            b'[' => return None,
            b'\\' => {
                let e = *b.get(*pos + 1)?;
                *pos += 2;
                let s = escape(e)?;
                if b.get(*pos) == Some(&b'-') && b.get(*pos + 1) != Some(&b']') {
                    return None;
                }
                set.union(&s);
            }
            // `&&`, `--` and `~~` are set operations in the regex syntax.
            b'&' | b'-' | b'~' if b.get(*pos + 1) == Some(&c) => return None,
            _ => {
                if b.get(*pos + 1) == Some(&b'-') && b.get(*pos + 2).is_some_and(|&e| e != b']') {
                    let e = *b.get(*pos + 2)?;
                    if e == b'\\' || e == b'[' || e < c {
                        return None;
                    }
                    set.union(&Bytes::range(c, e));
                    *pos += 3;
                    if b.get(*pos) == Some(&b'-') && b.get(*pos + 1) != Some(&b']') {
                        return None;
                    }
                } else {
                    set.add(c);
                    *pos += 1;
                }
            }
        }
        first = false;
    }
    if negated {
        set.negate();
    }
    Some(set)
}

/// A quantifier at `pos`, if any: `(min, max)`. A lazy `?` after it changes nothing for a
/// yes/no match.
fn quantifier(b: &[u8], pos: &mut usize) -> Option<Option<(u32, Option<u32>)>> {
    let q = match b.get(*pos) {
        Some(b'?') => (0, Some(1)),
        Some(b'*') => (0, None),
        Some(b'+') => (1, None),
        Some(b'{') => {
            let mut i = *pos + 1;
            let num = |i: &mut usize| -> Option<u32> {
                let s = *i;
                let mut n: u32 = 0;
                while let Some(d) = b.get(*i).filter(|c| c.is_ascii_digit()) {
                    n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
                    *i += 1;
                }
                (*i > s).then_some(n)
            };
            let min = num(&mut i)?;
            let max = match b.get(i) {
                Some(b'}') => Some(min),
                Some(b',') => {
                    i += 1;
                    if b.get(i) == Some(&b'}') {
                        None
                    } else {
                        Some(num(&mut i)?)
                    }
                }
                _ => return None,
            };
            if b.get(i) != Some(&b'}') || max.is_some_and(|m| m < min) {
                return None;
            }
            *pos = i;
            (min, max)
        }
        _ => return Some(None),
    };
    *pos += 1;
    if b.get(*pos) == Some(&b'?') {
        *pos += 1;
    }
    // A quantifier of a quantifier (`a**`) is not valid syntax.
    if matches!(b.get(*pos), Some(b'*' | b'+' | b'?' | b'{')) {
        return None;
    }
    Some(Some(q))
}

/// A compiled fragment: its first instruction and the jumps left to patch to what follows.
struct Frag {
    entry: u32,
    holes: Vec<Hole>,
}

#[derive(Clone, Copy)]
enum Hole {
    /// The next of a `Set`, `Look` or `Jmp`.
    Next(u32),
    /// The second branch of a `Split`.
    Split2(u32),
}

struct Compiler {
    insts: Vec<Inst>,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> Option<u32> {
        if self.insts.len() >= MAX_INSTS {
            return None;
        }
        self.insts.push(i);
        u32::try_from(self.insts.len() - 1).ok()
    }

    fn pc(&self) -> u32 {
        self.insts.len() as u32
    }

    fn patch(&mut self, holes: &[Hole], to: u32) {
        for h in holes {
            match *h {
                Hole::Next(at) => {
                    if let Some(Inst::Set(_, n) | Inst::Look(_, n) | Inst::Jmp(n)) =
                        self.insts.get_mut(at as usize)
                    {
                        *n = to;
                    }
                }
                Hole::Split2(at) => {
                    if let Some(Inst::Split(_, n)) = self.insts.get_mut(at as usize) {
                        *n = to;
                    }
                }
            }
        }
    }

    /// An empty fragment: a jump to what follows.
    fn empty(&mut self) -> Option<Frag> {
        let at = self.push(Inst::Jmp(0))?;
        Some(Frag {
            entry: at,
            holes: vec![Hole::Next(at)],
        })
    }

    fn node(&mut self, n: &Node) -> Option<Frag> {
        match n {
            Node::Set(s) => {
                let at = self.push(Inst::Set(*s, 0))?;
                Some(Frag {
                    entry: at,
                    holes: vec![Hole::Next(at)],
                })
            }
            Node::Look(l) => {
                let at = self.push(Inst::Look(*l, 0))?;
                Some(Frag {
                    entry: at,
                    holes: vec![Hole::Next(at)],
                })
            }
            Node::Concat(items) => {
                let Some((first, rest)) = items.split_first() else {
                    return self.empty();
                };
                let f = self.node(first)?;
                let entry = f.entry;
                let mut holes = f.holes;
                for it in rest {
                    let pc = self.pc();
                    self.patch(&holes, pc);
                    holes = self.node(it)?.holes;
                }
                Some(Frag { entry, holes })
            }
            Node::Alt(alts) => {
                // Split(a, next split) ... the last alternative without a split.
                let mut holes = Vec::new();
                let mut entry = None;
                let mut prev_split: Option<u32> = None;
                for (k, a) in alts.iter().enumerate() {
                    let here = if k + 1 < alts.len() {
                        let s = self.push(Inst::Split(0, 0))?;
                        Some(s)
                    } else {
                        None
                    };
                    let start_of_this = here.unwrap_or(self.pc());
                    if let Some(p) = prev_split {
                        self.patch(&[Hole::Split2(p)], start_of_this);
                    }
                    entry.get_or_insert(start_of_this);
                    let body_at = self.pc();
                    if let Some(s) = here
                        && let Some(Inst::Split(a1, _)) = self.insts.get_mut(s as usize)
                    {
                        *a1 = body_at;
                    }
                    let f = self.node(a)?;
                    holes.extend(f.holes);
                    prev_split = here;
                }
                Some(Frag {
                    entry: entry?,
                    holes,
                })
            }
            Node::Repeat { node, min, max } => {
                let mut entry = None;
                let mut holes: Vec<Hole> = Vec::new();
                let mut start_piece = |c: &mut Compiler, holes: &mut Vec<Hole>| {
                    let pc = c.pc();
                    c.patch(holes, pc);
                    holes.clear();
                    entry.get_or_insert(pc);
                };
                for _ in 0..*min {
                    start_piece(self, &mut holes);
                    holes = self.node(node)?.holes;
                }
                match max {
                    None => {
                        // L: Split(body, out); body; Jmp L
                        start_piece(self, &mut holes);
                        let l = self.push(Inst::Split(0, 0))?;
                        let f = self.node(node)?;
                        let j = self.push(Inst::Jmp(l))?;
                        self.patch(&f.holes, j);
                        if let Some(Inst::Split(a, _)) = self.insts.get_mut(l as usize) {
                            *a = f.entry;
                        }
                        holes.push(Hole::Split2(l));
                    }
                    Some(m) => {
                        let mut outs = Vec::new();
                        for _ in *min..*m {
                            start_piece(self, &mut holes);
                            let s = self.push(Inst::Split(0, 0))?;
                            let f = self.node(node)?;
                            if let Some(Inst::Split(a, _)) = self.insts.get_mut(s as usize) {
                                *a = f.entry;
                            }
                            outs.push(Hole::Split2(s));
                            holes = f.holes;
                        }
                        holes.extend(outs);
                    }
                }
                match entry {
                    Some(e) => Some(Frag { entry: e, holes }),
                    // `x{0}`: matches the empty text.
                    None => self.empty(),
                }
            }
        }
    }
}

/// A set of instruction indices with insertion order (a sparse set).
struct Threads {
    dense: Vec<u32>,
    sparse: Vec<u32>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            dense: Vec::with_capacity(n),
            sparse: vec![0; n],
        }
    }

    fn insert(&mut self, pc: u32) -> bool {
        let Some(&s) = self.sparse.get(pc as usize) else {
            return false;
        };
        if self.dense.get(s as usize) == Some(&pc) {
            return false;
        }
        if let Some(slot) = self.sparse.get_mut(pc as usize) {
            *slot = self.dense.len() as u32;
        }
        self.dense.push(pc);
        true
    }
}

fn is_word(b: Option<&u8>) -> bool {
    b.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

impl Program {
    /// The bytes the start's threads can consume first, and whether the start reaches the
    /// match without consuming any (assertions taken as holding: a superset).
    fn first_bytes(&self) -> (Bytes, bool) {
        let mut seen = vec![false; self.insts.len()];
        let mut stack = vec![0u32];
        let mut first = Bytes::default();
        let mut nullable = false;
        while let Some(pc) = stack.pop() {
            let Some(s) = seen.get_mut(pc as usize) else {
                continue;
            };
            if *s {
                continue;
            }
            *s = true;
            match self.insts.get(pc as usize) {
                Some(Inst::Set(b, _)) => first.union(b),
                Some(Inst::Split(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Jmp(n) | Inst::Look(_, n)) => stack.push(*n),
                Some(Inst::Match) => nullable = true,
                None => {}
            }
        }
        (first, nullable)
    }

    /// Adds the thread at `pc` and every thread its empty moves reach at position `at` of
    /// `h`; `true` when one of them is the match.
    fn add(&self, set: &mut Threads, stack: &mut Vec<u32>, pc: u32, h: &[u8], at: usize) -> bool {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !set.insert(pc) {
                continue;
            }
            match self.insts.get(pc as usize) {
                Some(Inst::Match) => return true,
                Some(Inst::Set(..)) | None => {}
                Some(Inst::Jmp(n)) => stack.push(*n),
                Some(Inst::Split(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Look(l, n)) => {
                    let before = at.checked_sub(1).and_then(|i| h.get(i));
                    let ok = match l {
                        Look::Start => at == 0,
                        Look::End => at == h.len(),
                        Look::Word => is_word(before) != is_word(h.get(at)),
                        Look::NotWord => is_word(before) == is_word(h.get(at)),
                    };
                    if ok {
                        stack.push(*n);
                    }
                }
            }
        }
        false
    }

    /// Does the phrase match somewhere in `text`?
    pub(crate) fn is_match(&self, text: &str) -> bool {
        let h = text.as_bytes();
        let n = self.insts.len();
        let mut cur = Threads::new(n);
        let mut next = Threads::new(n);
        let mut stack = Vec::new();
        let mut at = 0;
        loop {
            if cur.dense.is_empty() && !self.nullable {
                // No thread alive: a match can only begin at a byte of `first`.
                match h
                    .get(at..)
                    .and_then(|r| r.iter().position(|&c| self.first.has(c)))
                {
                    Some(k) => at += k,
                    None => return false,
                }
            }
            if self.add(&mut cur, &mut stack, 0, h, at) {
                return true;
            }
            let Some(&c) = h.get(at) else {
                return false;
            };
            stack.clear();
            next.dense.clear();
            for &pc in &cur.dense {
                if let Some(Inst::Set(b, to)) = self.insts.get(pc as usize)
                    && b.has(c)
                    && self.add(&mut next, &mut stack, *to, h, at + 1)
                {
                    return true;
                }
            }
            std::mem::swap(&mut cur, &mut next);
            at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::reference_regex as reference;

    const SHAPES: &[&str] = &[
        r"exceeded \d+ hops",
        r"aup#[a-z-]*1260\b",
        r"\bvirus\b[^.]{0,30}\b(reject|block|refus)",
        r"a.{0,3}b.{0,3}c",
        r"[^a]x",
        r"\bx?",
        r"a\bb",
        r"^[a-z0-9.-]+\.[a-z]{2,} does not exist",
        r"(user|mailbox)( \S+)? (does not|not) exist",
        r"too many (concurrent |smtp )*(connections|sessions)",
        r"\b(ofr|lpn)[0-9]*_(101|999)\b",
        r"\bipbl[01]{4,5}\b",
        r"x{0}y",
        r"(a|)b",
        r"a\s+b\S",
        r"(a*)*b",
        r"\Bab",
        r"$",
        r"^$",
        r"a|^b|c$",
    ];

    #[test]
    fn shapes_match_as_the_regex() {
        for p in SHAPES {
            let prog = compile(p).unwrap_or_else(|| panic!("{p}"));
            let re = reference(p);
            for t in [
                "",
                "exceeded 12 hops",
                "exceeded hops",
                "aup#x-y1260 z",
                "aup#1260x",
                "a virus was found, rejected",
                "virus x. reject",
                "ab c",
                "axb",
                "x",
                "a b",
                "mx.example.org does not exist",
                "mailbox foo@bar not exist",
                "user does not exist",
                "too many concurrent smtp connections",
                "ofr123_101 ",
                "ipbl0101",
                "y",
                "b",
                "a \t b!",
                "aab",
                "xab",
                "c",
            ] {
                assert_eq!(
                    prog.is_match(t),
                    re.is_match(t.as_bytes()),
                    "{p:?} on {t:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_syntax_is_left_to_the_regex() {
        for p in [
            r"(?i)x",
            r"\x41",
            r"[[:alpha:]]",
            r"a**",
            r"[a-c-e]",
            r"\pL",
            r"é",
            r"a{2,1}",
        ] {
            assert!(compile(p).is_none(), "{p}");
        }
    }

    /// Every phrase of the rule table this module compiles answers as the regex does.
    #[test]
    fn table_phrases_match_as_the_regex() {
        let mut n = 0;
        let fill = [
            "", "a", "_", " ", ".", "\n", "-", "9", "12 ", "x.y ", "addr", "\u{e9}",
        ];
        for r in super::super::rules::RULES {
            for p in r.patterns {
                let Some(prog) = compile(p) else { continue };
                n += 1;
                let re = reference(p);
                let words = super::super::rules::anchors(p).unwrap_or_default();
                for w in &words {
                    for a in fill {
                        for b in fill {
                            for t in [
                                format!("{a}{w}{b}"),
                                format!("{w}{a}{b}{w}"),
                                format!("{a}{b} {w} {b}{a}"),
                            ] {
                                assert_eq!(
                                    prog.is_match(&t),
                                    re.is_match(t.as_bytes()),
                                    "{p:?} on {t:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 0);
    }

    proptest::proptest! {
        #[test]
        fn random_texts_match_as_the_regex(
            p in proptest::sample::select(SHAPES.to_vec()),
            t in "(exceeded|hops|aup#|1260|virus|reject|user|mailbox|does not|not|exist|too many|concurrent |smtp |connections|ofr|_101|ipbl|[01]{1,5}|[a-c xy._#-]|[0-9]{1,3}|\n|\t|\u{e9}){0,16}",
        ) {
            let prog = compile(p).expect("compiles");
            proptest::prop_assert_eq!(prog.is_match(&t), reference(p).is_match(t.as_bytes()), "{:?} on {:?}", p, t);
        }
    }
}
