//! The DATA receiver: end-of-data detection, dot-unstuffing, bare CR/LF detection, size limit.
//!
//! Only `CRLF . CRLF` ends the data (RFC 5321 section 4.1.1.4); the start of the data counts as
//! the start of a line, so `.CRLF` right after the 354 is an empty message. A bare LF or a bare
//! CR anywhere in the data (the "SMTP smuggling" payloads `\n.\n`, `\n.\r\n`, `\r.\r`,
//! `\r\n.\r`) never ends the data: the receiver keeps consuming up to the real end and reports
//! [`DataError::BareNewline`], so the server can reject the whole message (as Postfix does with
//! `smtpd_forbid_bare_newline`). Content beyond the size limit is not buffered; the data is
//! still consumed to its end and [`DataError::TooBig`] is reported.

/// Why received data must be refused (after it was consumed to its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("message data contains a bare CR or LF")]
    BareNewline,
    #[error("message exceeds the size limit of {limit} bytes")]
    TooBig { limit: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF or at the start of the data).
    LineStart,
    /// Saw `.` at the start of a line.
    Dot,
    /// Saw `.CR` at the start of a line.
    DotCr,
    /// Inside a line.
    Mid,
    /// Saw CR inside a line (or on an empty line).
    Cr,
    /// The terminating `CRLF.CRLF` was consumed.
    Done,
}

/// What one call of [`DataReceiver::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// All input was consumed; the end was not seen yet.
    More,
    /// The end of data was found after consuming this many bytes of the input; the rest belongs
    /// to the next command (pipelining).
    Done(usize),
}

/// A sans-IO DATA receiver. Feed it bytes as they arrive; it writes the unstuffed content
/// (with CRLF line endings, the final CRLF before the dot included) into the caller's buffer.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    state: State,
    limit: u64,
    size: u64,
    bare_newline: bool,
}

impl DataReceiver {
    /// A receiver that buffers at most `limit` bytes of content.
    pub fn new(limit: u64) -> Self {
        DataReceiver {
            state: State::LineStart,
            limit,
            size: 0,
            bare_newline: false,
        }
    }

    /// The size of the unstuffed content seen so far (also counting what was not buffered).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `true` once the end of data was seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The verdict once done: `Ok` if the content in the buffer is the whole message.
    pub fn result(&self) -> Result<(), DataError> {
        if self.bare_newline {
            Err(DataError::BareNewline)
        } else if self.size > self.limit {
            Err(DataError::TooBig { limit: self.limit })
        } else {
            Ok(())
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        let before = self.size;
        self.size = self.size.saturating_add(bytes.len() as u64);
        if self.size <= self.limit {
            out.extend_from_slice(bytes);
        } else if before < self.limit {
            // Keep the buffer exactly at the limit; the message is refused anyway.
            let room = usize::try_from(self.limit - before).unwrap_or(0);
            out.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
    }

    /// How many bytes at the start of `rest` are content passed through as they are: in the
    /// middle of a line (or at a line start that is not a dot, CR or LF) up to the next CR or
    /// LF, and on over every `CRLF` followed by such an ordinary first byte, so that a run of
    /// ordinary lines is one copy (found with a vectorised search). 0 when the next byte
    /// needs the state machine.
    fn plain_run(&self, rest: &[u8]) -> usize {
        let ordinary = |b: u8| !matches!(b, b'.' | b'\r' | b'\n');
        match self.state {
            State::Mid => {}
            State::LineStart if rest.first().is_some_and(|&b| ordinary(b)) => {}
            _ => return 0,
        }
        let mut end = 0;
        while let Some(k) = memchr::memchr2(b'\r', b'\n', &rest[end..]) {
            let p = end + k;
            let line_ends = rest[p] == b'\r' && rest.get(p + 1) == Some(&b'\n');
            if line_ends && rest.get(p + 2).is_some_and(|&b| ordinary(b)) {
                end = p + 3;
            } else {
                return p;
            }
        }
        rest.len()
    }

    /// Consumes input, appending content to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Feed {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Done {
                return Feed::Done(i);
            }
            let n = self.plain_run(&input[i..]);
            if n > 0 {
                self.emit(out, &input[i..i + n]);
                self.state = State::Mid;
                i += n;
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (State::Done, _) => State::Done,
                (State::LineStart, b'.') => State::Dot,
                (State::LineStart | State::Mid, b'\r') => State::Cr,
                (State::LineStart | State::Mid, b'\n') => {
                    self.bare_newline = true;
                    self.emit(out, b"\n");
                    State::Mid
                }
                (State::LineStart | State::Mid, _) => {
                    self.emit(out, &[b]);
                    State::Mid
                }
                (State::Dot, b'\r') => State::DotCr,
                (State::Dot, b'\n') => {
                    self.bare_newline = true;
                    self.emit(out, b"\n");
                    State::Mid
                }
                (State::Dot, _) => {
                    // Dot-unstuffing: the leading dot is removed.
                    self.emit(out, &[b]);
                    State::Mid
                }
                (State::DotCr, b'\n') => State::Done,
                (State::DotCr, _) => {
                    self.bare_newline = true;
                    self.emit(out, b"\r");
                    if b == b'\r' {
                        State::Cr
                    } else {
                        self.emit(out, &[b]);
                        State::Mid
                    }
                }
                (State::Cr, b'\n') => {
                    self.emit(out, b"\r\n");
                    State::LineStart
                }
                (State::Cr, b'\r') => {
                    self.bare_newline = true;
                    self.emit(out, b"\r");
                    State::Cr
                }
                (State::Cr, _) => {
                    self.bare_newline = true;
                    self.emit(out, &[b'\r', b]);
                    State::Mid
                }
            };
        }
        if self.state == State::Done {
            Feed::Done(i)
        } else {
            Feed::More
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of every size from 1 to 7 and checks content, verdict and how
    /// much input was left for the next command.
    /// Expected content, verdict and the input left after the end of data.
    type Expected<'a> = Option<(&'a [u8], Result<(), DataError>, &'a [u8])>;

    fn check(input: &[u8], limit: u64, expected: Expected<'_>) {
        for chunk in 1..=7 {
            let mut r = DataReceiver::new(limit);
            let mut out = Vec::new();
            let mut rest: Option<Vec<u8>> = None;
            for (n, c) in input.chunks(chunk).enumerate() {
                if let Feed::Done(k) = r.feed(c, &mut out) {
                    let mut tail = c[k..].to_vec();
                    for later in input.chunks(chunk).skip(n + 1) {
                        tail.extend_from_slice(later);
                    }
                    rest = Some(tail);
                    break;
                }
            }
            match expected {
                None => assert!(rest.is_none(), "{input:?} must not end (chunk {chunk})"),
                Some((content, verdict, tail)) => {
                    assert_eq!(
                        rest.as_deref(),
                        Some(tail),
                        "rest of {input:?} (chunk {chunk})"
                    );
                    assert_eq!(out, content, "content of {input:?} (chunk {chunk})");
                    assert_eq!(r.result(), verdict, "verdict of {input:?} (chunk {chunk})");
                }
            }
        }
    }

    #[test]
    fn ends_only_at_crlf_dot_crlf() {
        check(
            b"a\r\nb\r\n.\r\nQUIT\r\n",
            100,
            Some((b"a\r\nb\r\n", Ok(()), b"QUIT\r\n")),
        );
        check(b".\r\n", 100, Some((b"", Ok(()), b"")));
        check(b"a\r\n", 100, None);
        check(b"a\r\n.", 100, None);
        check(b"a\r\n.\r", 100, None);
    }

    #[test]
    fn unstuffs_leading_dots() {
        check(
            b"..x\r\n..\r\n.\r\n",
            100,
            Some((b".x\r\n.\r\n", Ok(()), b"")),
        );
        check(b"a.b\r\n.\r\n", 100, Some((b"a.b\r\n", Ok(()), b"")));
    }

    #[test]
    fn smuggling_payloads_never_end_data_and_are_refused() {
        for payload in [
            &b"\n.\n"[..],
            b"\n.\r\n",
            b"\r.\r",
            b"\r\n.\r",
            b"\r.\r\n",
            b"\n.\rMAIL FROM:<>",
        ] {
            let mut input = b"Subject: x\r\n\r\nbody".to_vec();
            input.extend_from_slice(payload);
            input.extend_from_slice(b"MAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\n");
            // Not ended by the payload itself:
            check(&input, 1000, None);
            input.extend_from_slice(b"smuggled\r\n.\r\nNOOP\r\n");
            let mut r = DataReceiver::new(1000);
            let mut out = Vec::new();
            let fed = r.feed(&input, &mut out);
            assert_eq!(fed, Feed::Done(input.len() - 6), "payload {payload:?}");
            assert_eq!(
                r.result(),
                Err(DataError::BareNewline),
                "payload {payload:?}"
            );
        }
    }

    #[test]
    fn bare_cr_or_lf_anywhere_is_refused() {
        check(
            b"a\nb\r\n.\r\n",
            100,
            Some((b"a\nb\r\n", Err(DataError::BareNewline), b"")),
        );
        check(
            b"a\rb\r\n.\r\n",
            100,
            Some((b"a\rb\r\n", Err(DataError::BareNewline), b"")),
        );
        check(b"\n.\r\n", 100, None);
    }

    #[test]
    fn over_size_content_is_consumed_but_not_buffered() {
        check(
            b"0123456789\r\n.\r\nQUIT\r\n",
            5,
            Some((b"01234", Err(DataError::TooBig { limit: 5 }), b"QUIT\r\n")),
        );
        check(b"01234\r\n.\r\n", 7, Some((b"01234\r\n", Ok(()), b"")));
    }

    proptest::proptest! {
        /// The runs copied at once give exactly what the byte-by-byte state machine gives
        /// (fed one byte at a time, no run spans two bytes of look-ahead).
        #[test]
        fn whole_input_matches_byte_by_byte(
            input in proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', b'.', b'\r', b'\n']), 0..80),
            limit in 0u64..100,
        ) {
            let mut whole = DataReceiver::new(limit);
            let mut out_whole = Vec::new();
            let fed_whole = whole.feed(&input, &mut out_whole);
            let mut single = DataReceiver::new(limit);
            let mut out_single = Vec::new();
            let mut fed_single = Feed::More;
            for (n, b) in input.iter().enumerate() {
                if let Feed::Done(k) = single.feed(std::slice::from_ref(b), &mut out_single) {
                    fed_single = Feed::Done(n + k);
                    break;
                }
            }
            proptest::prop_assert_eq!(fed_whole, fed_single);
            proptest::prop_assert_eq!(out_whole, out_single);
            proptest::prop_assert_eq!(whole.result(), single.result());
            proptest::prop_assert_eq!(whole.size(), single.size());
        }

        #[test]
        fn feed_never_panics_and_never_overfills(
            input in proptest::collection::vec(proptest::sample::select(vec![b'a', b'.', b'\r', b'\n']), 0..64),
            limit in 0u64..20,
        ) {
            let mut r = DataReceiver::new(limit);
            let mut out = Vec::new();
            let _ = r.feed(&input, &mut out);
            proptest::prop_assert!(out.len() as u64 <= limit);
        }
    }
}
