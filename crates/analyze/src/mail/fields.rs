//! The structured values of the few header fields the analyzer reads, from the field's raw
//! value (after the colon, up to and including its last line end): Content-Type and
//! Content-Disposition (type, subtype, parameters), unstructured text (Subject,
//! Content-Transfer-Encoding), message ids, address lists (From, To, Cc).
//!
//! Each value in its plain form (the common case: no comments, no quoted-pair escapes, no
//! RFC 2047 encoded words, no RFC 2231 parameter continuations, no groups, folding only
//! where it cannot change the result) is read here, borrowing from the message bytes, to
//! the very value mail-parser 0.11 gives for it; anything else is handed to mail-parser's
//! parser for that field (on that field's bytes alone), so that the answers stay the ones
//! the analyzer always had. Proptests compare both on generated values.

use std::borrow::Cow;

use mail_parser::parsers::MessageStream;
use mail_parser::{Addr, Address, Attribute, ContentType, HeaderValue};

/// The value without its last line end (and the CR before it); `None` when the value does
/// not end with one (mail-parser reads such a value as empty, or differently).
fn body(v: &[u8]) -> Option<&[u8]> {
    let v = v.strip_suffix(b"\n")?;
    Some(v.strip_suffix(b"\r").unwrap_or(v))
}

fn ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// A folded line end (`\n` or `\r\n`, then a space or tab) at `i`: its length.
fn fold_at(v: &[u8], i: usize) -> Option<usize> {
    let n = if v.get(i) == Some(&b'\r') { 1 } else { 0 };
    (v.get(i + n) == Some(&b'\n') && v.get(i + n + 1).copied().is_some_and(ws)).then_some(n + 2)
}

fn has_encoded_word(v: &[u8]) -> bool {
    memchr::memchr_iter(b'=', v).any(|i| v.get(i + 1) == Some(&b'?'))
}

fn str_of(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

// ----------------------------------------------------------------------------------------
// Content-Type, Content-Disposition.

/// A Content-Type or Content-Disposition value.
pub fn content_type(v: &[u8]) -> Option<ContentType<'_>> {
    match simple_content_type(v) {
        Some(ct) => ct,
        None => match MessageStream::new(v).parse_content_type() {
            HeaderValue::ContentType(c) => Some(c),
            _ => None,
        },
    }
}

fn token_char(c: u8) -> bool {
    c.is_ascii_graphic()
        && !matches!(
            c,
            b';' | b'/' | b'"' | b'=' | b'\\' | b'(' | b')' | b'*' | b'\''
        )
}

/// `Some(answer)` when the value is plain: `type[/subtype]` then `; name=value` parameters
/// (value a token or a quoted string without escapes), folding only after a `;`.
fn simple_content_type(v: &[u8]) -> Option<Option<ContentType<'_>>> {
    let v = body(v)?;
    if !v.is_ascii() || has_encoded_word(v) {
        return None;
    }
    // ASCII: every byte offset is a char boundary.
    let text = str_of(v)?;
    let str_of = |b: &[u8]| -> Option<&str> {
        let s = b.as_ptr() as usize - v.as_ptr() as usize;
        text.get(s..s + b.len())
    };
    let mut i = 0;
    let skip = |i: &mut usize, fold: bool| -> Option<()> {
        loop {
            match v.get(*i) {
                Some(&c) if ws(c) => *i += 1,
                Some(b'\r' | b'\n') if fold => *i += fold_at(v, *i)?,
                Some(b'\r' | b'\n') => return None,
                _ => return Some(()),
            }
        }
    };
    let token = |i: &mut usize| -> &[u8] {
        let s = *i;
        while v.get(*i).copied().is_some_and(token_char) {
            *i += 1;
        }
        &v[s..*i]
    };
    skip(&mut i, true)?;
    if i == v.len() {
        // Nothing: no content type.
        return Some(None);
    }
    let t = token(&mut i);
    if t.is_empty() {
        return None;
    }
    skip(&mut i, false)?;
    let mut sub = None;
    if v.get(i) == Some(&b'/') {
        i += 1;
        skip(&mut i, false)?;
        let s = token(&mut i);
        if s.is_empty() {
            return None;
        }
        sub = Some(lower(str_of(s)?));
        skip(&mut i, false)?;
    }
    let mut attributes: Vec<Attribute<'_>> = Vec::new();
    loop {
        match v.get(i) {
            None => break,
            Some(b';') => i += 1,
            _ => return None,
        }
        skip(&mut i, true)?;
        if i == v.len() {
            break;
        }
        if v.get(i) == Some(&b';') {
            continue;
        }
        let name = token(&mut i);
        if name.is_empty() {
            return None;
        }
        skip(&mut i, false)?;
        if v.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        skip(&mut i, false)?;
        let value = if v.get(i) == Some(&b'"') {
            let s = i + 1;
            let e = s + memchr::memchr(b'"', v.get(s..)?)?;
            let q = v.get(s..e)?;
            if q.is_empty() || q.iter().any(|&c| matches!(c, b'\\' | b'\r' | b'\n')) {
                return None;
            }
            i = e + 1;
            q
        } else {
            let s = i;
            // `=` may be part of an unquoted value (`boundary==_x`).
            while v
                .get(i)
                .copied()
                .is_some_and(|c| token_char(c) || c == b'=' || c == b'/')
            {
                i += 1;
            }
            if i == s {
                return None;
            }
            &v[s..i]
        };
        skip(&mut i, false)?;
        attributes.push(Attribute {
            name: lower(str_of(name)?),
            value: Cow::Borrowed(str_of(value)?),
        });
    }
    Some(Some(ContentType {
        c_type: lower(str_of(t)?),
        c_subtype: sub,
        attributes: (!attributes.is_empty()).then_some(attributes),
    }))
}

// ----------------------------------------------------------------------------------------
// Unstructured text.

/// An unstructured value (Subject, Content-Transfer-Encoding): each line's text without the
/// white space around it, the lines joined by a space, encoded words decoded.
pub fn unstructured(v: &[u8]) -> Option<Cow<'_, str>> {
    match simple_unstructured(v) {
        Some(t) => t,
        None => match MessageStream::new(v).parse_unstructured() {
            HeaderValue::Text(t) => Some(t),
            _ => None,
        },
    }
}

fn simple_unstructured(v: &[u8]) -> Option<Option<Cow<'_, str>>> {
    let v = body(v)?;
    if has_encoded_word(v) {
        return None;
    }
    let text = str_of(v)?;
    let mut one: Option<&str> = None;
    let mut many: Option<String> = None;
    for line in text.split('\n') {
        let t = line.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
        if t.is_empty() {
            continue;
        }
        if t.contains('\r') {
            return None;
        }
        match (&mut many, one) {
            (Some(m), _) => {
                m.push(' ');
                m.push_str(t);
            }
            (None, Some(first)) => {
                let mut m = String::with_capacity(first.len() + 1 + t.len());
                m.push_str(first);
                m.push(' ');
                m.push_str(t);
                many = Some(m);
            }
            (None, None) => one = Some(t),
        }
    }
    Some(match many {
        Some(m) => Some(Cow::Owned(m)),
        None => one.map(Cow::Borrowed),
    })
}

// ----------------------------------------------------------------------------------------
// Message ids.

/// A Message-ID or Content-ID: the id inside the angle brackets.
pub fn id(v: &[u8]) -> Option<Cow<'_, str>> {
    match simple_id(v) {
        Some(t) => t,
        None => match MessageStream::new(v).parse_id() {
            HeaderValue::Text(t) => Some(t),
            _ => None,
        },
    }
}

/// `<id>` with white space around it only.
fn simple_id(v: &[u8]) -> Option<Option<Cow<'_, str>>> {
    let v = body(v)?;
    let t = v.trim_ascii();
    let inner = t.strip_prefix(b"<")?.strip_suffix(b">")?;
    if inner.is_empty()
        || inner
            .iter()
            .any(|&c| c.is_ascii_whitespace() || c == b'<' || c == b'>')
    {
        return None;
    }
    Some(Some(Cow::Borrowed(str_of(inner)?)))
}

// ----------------------------------------------------------------------------------------
// Address lists.

/// An address list (From, To, Cc).
pub fn address(v: &[u8]) -> Option<Address<'_>> {
    match simple_address(v) {
        Some(a) => a,
        None => match MessageStream::new(v).parse_address() {
            HeaderValue::Address(a) => Some(a),
            _ => None,
        },
    }
}

/// Bytes that end or structure a name or address in mail-parser's reading (or that this
/// reading leaves to it).
fn special(c: u8) -> bool {
    matches!(
        c,
        b'"' | b'\\' | b'(' | b')' | b',' | b';' | b':' | b'<' | b'>' | b'[' | b']' | b'\r' | b'\n'
    )
}

/// Comma-separated `addr`, `<addr>`, `Name <addr>` or `"Name" <addr>` entries (a bare word
/// without `@` is a name), folding only between entries and around the angle brackets.
fn simple_address(v: &[u8]) -> Option<Option<Address<'_>>> {
    let v = body(v)?;
    if has_encoded_word(v) {
        return None;
    }
    let text = str_of(v)?;
    let b = text.as_bytes();
    let mut out: Vec<Addr<'_>> = Vec::new();
    let mut i = 0;
    let skip = |i: &mut usize| -> Option<()> {
        loop {
            match b.get(*i) {
                Some(&c) if ws(c) => *i += 1,
                Some(b'\r' | b'\n') => *i += fold_at(b, *i)?,
                _ => return Some(()),
            }
        }
    };
    loop {
        skip(&mut i)?;
        match b.get(i) {
            None => break,
            Some(b',') => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let name: Option<&str>;
        if b.get(i) == Some(&b'"') {
            let s = i + 1;
            let e = s + memchr::memchr(b'"', b.get(s..)?)?;
            let q = b.get(s..e)?;
            if q.iter().any(|&c| matches!(c, b'\\' | b'\r' | b'\n')) {
                return None;
            }
            name = (!q.is_empty()).then(|| &text[s..e]);
            i = e + 1;
            skip(&mut i)?;
            if b.get(i) != Some(&b'<') {
                return None;
            }
        } else if b.get(i) == Some(&b'<') {
            name = None;
        } else {
            // A word run: up to `<`, `,` or the end, on this line.
            let s = i;
            while let Some(&c) = b.get(i) {
                if c == b'<' || c == b',' {
                    break;
                }
                if special(c) {
                    return None;
                }
                i += 1;
            }
            let run = text[s..i].trim_end_matches([' ', '\t']);
            if b.get(i) == Some(&b'<') {
                name = Some(run);
            } else {
                // A bare word: an address when it has an `@`, else a name.
                out.push(if run.contains('@') {
                    Addr {
                        name: None,
                        address: Some(Cow::Borrowed(run)),
                    }
                } else {
                    Addr {
                        name: Some(Cow::Borrowed(run)),
                        address: None,
                    }
                });
                continue;
            }
        }
        // `<addr>`.
        let s = i + 1;
        let e = s + memchr::memchr(b'>', b.get(s..)?)?;
        let a = b.get(s..e)?;
        if a.is_empty() || a.iter().any(|&c| c.is_ascii_whitespace() || special(c)) {
            return None;
        }
        i = e + 1;
        skip(&mut i)?;
        if !matches!(b.get(i), None | Some(b',')) {
            return None;
        }
        out.push(Addr {
            name: name.map(Cow::Borrowed),
            address: Some(Cow::Borrowed(&text[s..e])),
        });
    }
    Some((!out.is_empty()).then_some(Address::List(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_ct(v: &[u8]) -> Option<ContentType<'_>> {
        match MessageStream::new(v).parse_content_type() {
            HeaderValue::ContentType(c) => Some(c),
            _ => None,
        }
    }

    proptest::proptest! {
        #[test]
        fn content_type_is_mail_parsers(v in "( |\t|\r\n |\n\t|;|/|=|\"|[A-Za-z]{1,6}|-|_|\\.|[0-9]|\\*|\\(|\\\\|'|=\\?|\u{e9}){0,20}(\r\n|\n|)") {
            let b = v.as_bytes();
            if let Some(ours) = simple_content_type(b) {
                proptest::prop_assert_eq!(ours, reference_ct(b), "{:?}", v);
            }
        }

        #[test]
        fn content_type_of_common_shapes(t in "(text|Multipart|message)", s in "(plain|Mixed|rfc822|delivery-status)", p in "(; ?(charset|Boundary|name|report-type) ?= ?(\"[^\"\\\\\r\n]{0,12}\"|[A-Za-z0-9=_./-]{0,12})){0,3}", fold in proptest::bool::ANY) {
            let v = format!(" {t}/{s}{}{p}\n", if fold { ";\n\t" } else { "" });
            let b = v.as_bytes();
            proptest::prop_assert_eq!(content_type(b), reference_ct(b), "{:?}", v);
        }

        #[test]
        fn unstructured_is_mail_parsers(v in "( |\t|\r|\r\n |\n\t|\n |[A-Za-z]{1,6}|:|=\\?|\u{e9}|\u{3042}){0,16}(\r\n|\n|)") {
            let b = v.as_bytes();
            if let Some(ours) = simple_unstructured(b) {
                let want = match MessageStream::new(b).parse_unstructured() {
                    HeaderValue::Text(t) => Some(t),
                    _ => None,
                };
                proptest::prop_assert_eq!(ours, want, "{:?}", v);
            }
        }

        #[test]
        fn id_is_mail_parsers(v in "( |\t|\r|\n |<|>|[a-z0-9.@$-]{1,8}){0,8}(\r\n|\n|)") {
            let b = v.as_bytes();
            if let Some(ours) = simple_id(b) {
                let want = match MessageStream::new(b).parse_id() {
                    HeaderValue::Text(t) => Some(t),
                    _ => None,
                };
                proptest::prop_assert_eq!(ours, want, "{:?}", v);
            }
        }

        #[test]
        fn address_is_mail_parsers(v in "( |\t|\r\n |\n\t|,|<|>|\"|@|[A-Za-z0-9.-]{1,6}|\\(|:|;|=\\?|\u{e9}){0,20}(\r\n|\n|)") {
            let b = v.as_bytes();
            if let Some(ours) = simple_address(b) {
                let want = match MessageStream::new(b).parse_address() {
                    HeaderValue::Address(a) => Some(a),
                    _ => None,
                };
                proptest::prop_assert_eq!(ours, want, "{:?}", v);
            }
        }

        #[test]
        fn address_of_common_shapes(n in "(\"[A-Za-z .@-]{0,10}\" ?|[A-Za-z]{1,5}( [A-Za-z@.]{1,5}){0,2} ?|)", a in "[a-z0-9.+-]{1,8}@[a-z0-9.-]{1,8}", angle in proptest::bool::ANY, more in "(,\n? ?[a-z]{1,4}@[a-z]{1,4}){0,2}") {
            let v = if angle || !n.is_empty() { format!(" {n}<{a}>{more}\n") } else { format!(" {a}{more}\n") };
            let b = v.as_bytes();
            let want = match MessageStream::new(b).parse_address() {
                HeaderValue::Address(a) => Some(a),
                _ => None,
            };
            proptest::prop_assert_eq!(address(b), want, "{:?}", v);
        }
    }
}
