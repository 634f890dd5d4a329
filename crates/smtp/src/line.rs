//! Splitting the input stream into command lines, with a length limit.
//!
//! A command line ends at LF; a CR right before it is removed. An over-long line is discarded up
//! to its end and reported once as [`LineEvent::TooLong`] (the server answers `500 5.5.6`),
//! without buffering more than the limit.

/// What [`LineReader::next_line`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A complete line without its line ending.
    Line(Vec<u8>),
    /// A line longer than the limit was discarded.
    TooLong,
}

/// Cuts command lines out of an input buffer.
#[derive(Debug, Clone)]
pub struct LineReader {
    max: usize,
    discarding: bool,
}

impl LineReader {
    /// `max` is the longest accepted line including CRLF.
    pub fn new(max: usize) -> Self {
        LineReader {
            max: max.max(3),
            discarding: false,
        }
    }

    /// The limit, including CRLF.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Takes the next line out of `buf` (the consumed bytes are removed). Returns `None` when
    /// `buf` holds no complete line yet; then the caller reads more and calls again. While an
    /// over-long line is being discarded, `buf` is emptied as it fills.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> Option<LineEvent> {
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let mut line: Vec<u8> = buf.drain(..=i).collect();
                if self.discarding {
                    self.discarding = false;
                    return Some(LineEvent::TooLong);
                }
                if line.len() > self.max {
                    return Some(LineEvent::TooLong);
                }
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(LineEvent::Line(line))
            }
            None => {
                if buf.len() > self.max {
                    self.discarding = true;
                    buf.clear();
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(max: usize, chunks: &[&[u8]], expected: &[LineEvent]) {
        let mut r = LineReader::new(max);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for c in chunks {
            buf.extend_from_slice(c);
            while let Some(ev) = r.next_line(&mut buf) {
                got.push(ev);
            }
            assert!(buf.len() <= max + c.len());
        }
        assert_eq!(got, expected);
    }

    fn line(s: &str) -> LineEvent {
        LineEvent::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn splits_pipelined_and_split_lines() {
        check(
            512,
            &[b"EHLO a\r\nMAIL FROM:<>\r\nRC", b"PT TO:<b@c>\r\n"],
            &[line("EHLO a"), line("MAIL FROM:<>"), line("RCPT TO:<b@c>")],
        );
        check(512, &[b"NOOP\n"], &[line("NOOP")]);
    }

    #[test]
    fn over_long_lines_are_reported_once_and_skipped() {
        let long = vec![b'A'; 100];
        check(
            20,
            &[&long, &long, b"\r\nNOOP\r\n"],
            &[LineEvent::TooLong, line("NOOP")],
        );
        check(
            10,
            &[b"0123456789AB\r\nQUIT\r\n"],
            &[LineEvent::TooLong, line("QUIT")],
        );
    }
}
