//! RFC 3461 section 4 `xtext`: the encoding of ENVID and ORCPT values.
//!
//! `xchar` is any ASCII 33..=126 except `+` and `=`, written literally; every other byte is
//! `+` followed by two upper-case hex digits. The decoder is strict: lower-case hex, a `+`
//! without two hex digits, or a byte outside `xchar` is an error (the server answers 501).

/// Why a value is not valid xtext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XtextError {
    #[error("invalid xtext: '+' at offset {0} is not followed by two upper-case hex digits")]
    BadHexchar(usize),
    #[error("invalid xtext: byte 0x{byte:02x} at offset {offset} must be hex-encoded")]
    BadChar { byte: u8, offset: usize },
}

/// `true` for bytes that xtext writes literally.
fn is_xchar(b: u8) -> bool {
    (33..=126).contains(&b) && b != b'+' && b != b'='
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes xtext into bytes.
pub fn decode(s: &str) -> Result<Vec<u8>, XtextError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'+' {
            let hi = b.get(i + 1).copied().and_then(hex_value);
            let lo = b.get(i + 2).copied().and_then(hex_value);
            match (hi, lo) {
                (Some(h), Some(l)) => out.push(h << 4 | l),
                _ => return Err(XtextError::BadHexchar(i)),
            }
            i += 3;
        } else if is_xchar(c) {
            out.push(c);
            i += 1;
        } else {
            return Err(XtextError::BadChar { byte: c, offset: i });
        }
    }
    Ok(out)
}

/// Encodes bytes as xtext (upper-case hex for everything outside `xchar`).
pub fn encode(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if is_xchar(b) {
            out.push(char::from(b));
        } else {
            out.push('+');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(encoded: &str, decoded: Result<&[u8], XtextError>) {
        assert_eq!(
            decode(encoded),
            decoded.map(<[u8]>::to_vec),
            "decoding {encoded:?}"
        );
    }

    #[test]
    fn decodes_spec_examples() {
        check("bob+2Bsales@example.org", Ok(b"bob+sales@example.org"));
        check("a+3Db+20c", Ok(b"a=b c"));
        check("", Ok(b""));
    }

    #[test]
    fn rejects_bad_xtext() {
        check("a+2b", Err(XtextError::BadHexchar(1)));
        check("a+2", Err(XtextError::BadHexchar(1)));
        check("+", Err(XtextError::BadHexchar(0)));
        check(
            "a=b",
            Err(XtextError::BadChar {
                byte: b'=',
                offset: 1,
            }),
        );
        check(
            "a b",
            Err(XtextError::BadChar {
                byte: b' ',
                offset: 1,
            }),
        );
        check(
            "é",
            Err(XtextError::BadChar {
                byte: 0xc3,
                offset: 0,
            }),
        );
    }

    #[test]
    fn encodes_spec_examples() {
        assert_eq!(encode(b"bob+sales@example.org"), "bob+2Bsales@example.org");
        assert_eq!(encode(b"a=b c"), "a+3Db+20c");
    }

    proptest::proptest! {
        #[test]
        fn xtext_round_trips(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let e = encode(&bytes);
            proptest::prop_assert!(e.bytes().all(|b| (33..=126).contains(&b) && b != b'='));
            proptest::prop_assert_eq!(decode(&e), Ok(bytes));
        }

        #[test]
        fn decode_never_panics(s in ".{0,64}") {
            let _ = decode(&s);
        }
    }
}
