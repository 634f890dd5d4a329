//! SASL PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login) decoding, as used by SMTP
//! AUTH (RFC 4954). Verification of the credentials is the server's business.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why an AUTH response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("authentication response is not valid base64")]
    Base64,
    #[error("authentication response is malformed")]
    Malformed,
    #[error("authentication exchange cancelled by the client")]
    Cancelled,
}

/// Credentials from a PLAIN or LOGIN exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authorization identity (PLAIN only; empty when absent).
    pub authzid: String,
    /// The authentication identity: the user name.
    pub username: String,
    pub password: String,
}

/// Decodes one base64 client response; `*` cancels the exchange (RFC 4954 section 4) and `=`
/// is an empty response.
pub fn decode_response(line: &[u8]) -> Result<Vec<u8>, SaslError> {
    let line = line.trim_ascii();
    if line == b"*" {
        return Err(SaslError::Cancelled);
    }
    if line == b"=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(line).map_err(|_| SaslError::Base64)
}

fn text(b: &[u8]) -> Result<String, SaslError> {
    let s = std::str::from_utf8(b).map_err(|_| SaslError::Malformed)?;
    if s.contains('\0') {
        return Err(SaslError::Malformed);
    }
    Ok(s.to_string())
}

/// Decodes a PLAIN message `authzid NUL authcid NUL passwd` (already base64-decoded).
pub fn decode_plain(msg: &[u8]) -> Result<Credentials, SaslError> {
    let mut parts = msg.split(|&b| b == 0);
    let (Some(z), Some(c), Some(p), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    if c.is_empty() {
        return Err(SaslError::Malformed);
    }
    Ok(Credentials {
        authzid: text(z)?,
        username: text(c)?,
        password: text(p)?,
    })
}

/// Decodes a LOGIN user name or password (already base64-decoded).
pub fn decode_login_field(field: &[u8]) -> Result<String, SaslError> {
    text(field)
}

/// Base64 of a server challenge (`Username:` / `Password:` for LOGIN).
pub fn encode_challenge(s: &str) -> String {
    STANDARD.encode(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_round_trip() {
        let msg = decode_response(b"AGJvYgBzZWNyZXQ=").expect("base64");
        assert_eq!(
            decode_plain(&msg),
            Ok(Credentials {
                authzid: String::new(),
                username: "bob".into(),
                password: "secret".into()
            })
        );
        assert_eq!(decode_plain(b"\0\0x"), Err(SaslError::Malformed));
        assert_eq!(decode_plain(b"a\0b"), Err(SaslError::Malformed));
        assert_eq!(decode_response(b"*"), Err(SaslError::Cancelled));
        assert_eq!(decode_response(b"!!"), Err(SaslError::Base64));
        assert_eq!(encode_challenge("Username:"), "VXNlcm5hbWU6");
    }
}
