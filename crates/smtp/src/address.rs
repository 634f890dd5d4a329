//! Reverse-path and forward-path syntax (RFC 5321 section 4.1.2, RFC 6531 for UTF-8).
//!
//! The parser keeps the mailbox as written (a quoted local part keeps its quotes), drops a
//! source route (`<@a,@b:user@c>`, which RFC 5321 says to accept and ignore) and enforces the
//! length limits of section 4.5.3.1 (local part 64, domain 255, path 256 octets).

/// Why a path is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("path is not enclosed in <>")]
    NoBrackets,
    #[error("path is longer than 256 octets")]
    PathTooLong,
    #[error("local part is longer than 64 octets")]
    LocalTooLong,
    #[error("domain is longer than 255 octets")]
    DomainTooLong,
    #[error("mailbox has no @domain")]
    NoDomain,
    #[error("invalid local part")]
    BadLocalPart,
    #[error("invalid domain")]
    BadDomain,
    #[error("invalid source route")]
    BadRoute,
}

/// MAIL FROM's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    /// `<>`: the null sender of notifications.
    Null,
    Mailbox(Mailbox),
}

/// RCPT TO's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardPath {
    /// `<Postmaster>` without a domain (any case): must always be accepted (RFC 5321 4.5.1).
    Postmaster,
    Mailbox(Mailbox),
}

/// A mailbox `local@domain` as written by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub local: String,
    pub domain: String,
}

impl Mailbox {
    /// `local@domain`.
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }

    /// `true` if any part is not ASCII (needs SMTPUTF8).
    pub fn is_utf8(&self) -> bool {
        !self.local.is_ascii() || !self.domain.is_ascii()
    }

    /// `true` for an address literal domain such as `[192.0.2.1]`.
    pub fn is_address_literal(&self) -> bool {
        self.domain.starts_with('[')
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// RFC 5322 atext, plus UTF-8 (RFC 6531 extends atext with UTF8-non-ascii).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn check_local(local: &str) -> Result<(), AddressError> {
    if local.len() > 64 {
        return Err(AddressError::LocalTooLong);
    }
    if local.is_empty() {
        return Err(AddressError::BadLocalPart);
    }
    if let Some(inner) = local.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or(AddressError::BadLocalPart)?;
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) if (' '..='~').contains(&e) => {}
                    _ => return Err(AddressError::BadLocalPart),
                },
                '"' => return Err(AddressError::BadLocalPart),
                c if c.is_control() => return Err(AddressError::BadLocalPart),
                _ => {}
            }
        }
        return Ok(());
    }
    if local
        .split('.')
        .all(|a| !a.is_empty() && a.chars().all(is_atext))
    {
        Ok(())
    } else {
        Err(AddressError::BadLocalPart)
    }
}

fn check_domain(domain: &str) -> Result<(), AddressError> {
    if domain.len() > 255 {
        return Err(AddressError::DomainTooLong);
    }
    if let Some(lit) = domain.strip_prefix('[') {
        let lit = lit.strip_suffix(']').ok_or(AddressError::BadDomain)?;
        let ok = if let Some(v6) = lit.strip_prefix("IPv6:") {
            v6.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            lit.parse::<std::net::Ipv4Addr>().is_ok()
        };
        return if ok {
            Ok(())
        } else {
            Err(AddressError::BadDomain)
        };
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || !c.is_ascii())
    };
    if domain.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(AddressError::BadDomain)
    }
}

/// Splits `local@domain` at the last `@` outside a quoted local part.
fn parse_mailbox(s: &str) -> Result<Mailbox, AddressError> {
    let at = if s.starts_with('"') {
        // Find the closing quote, honouring backslash escapes.
        let b = s.as_bytes();
        let mut i = 1;
        let mut close = None;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => {
                    close = Some(i);
                    break;
                }
                _ => i += 1,
            }
        }
        let close = close.ok_or(AddressError::BadLocalPart)?;
        if b.get(close + 1) != Some(&b'@') {
            return Err(AddressError::NoDomain);
        }
        close + 1
    } else {
        s.rfind('@').ok_or(AddressError::NoDomain)?
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    check_local(local)?;
    check_domain(domain)?;
    Ok(Mailbox {
        local: local.to_string(),
        domain: domain.to_string(),
    })
}

/// Removes `<` `>` and a source route; returns the inside.
fn strip_path(path: &str) -> Result<&str, AddressError> {
    let inner = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .ok_or(AddressError::NoBrackets)?;
    if path.len() > 256 {
        return Err(AddressError::PathTooLong);
    }
    if inner.starts_with('@') {
        let colon = inner.find(':').ok_or(AddressError::BadRoute)?;
        for hop in inner[..colon].split(',') {
            let d = hop.strip_prefix('@').ok_or(AddressError::BadRoute)?;
            check_domain(d).map_err(|_| AddressError::BadRoute)?;
        }
        return Ok(&inner[colon + 1..]);
    }
    Ok(inner)
}

/// Parses MAIL FROM's `<path>` (the `<` and `>` included).
pub fn parse_reverse_path(path: &str) -> Result<ReversePath, AddressError> {
    let inner = strip_path(path)?;
    if inner.is_empty() {
        return Ok(ReversePath::Null);
    }
    parse_mailbox(inner).map(ReversePath::Mailbox)
}

/// Parses RCPT TO's `<path>`; `<Postmaster>` (any case) is [`ForwardPath::Postmaster`].
pub fn parse_forward_path(path: &str) -> Result<ForwardPath, AddressError> {
    let inner = strip_path(path)?;
    if inner.eq_ignore_ascii_case("postmaster") {
        return Ok(ForwardPath::Postmaster);
    }
    parse_mailbox(inner).map(ForwardPath::Mailbox)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(l: &str, d: &str) -> Mailbox {
        Mailbox {
            local: l.into(),
            domain: d.into(),
        }
    }

    fn check_fwd(input: &str, expected: Result<ForwardPath, AddressError>) {
        assert_eq!(parse_forward_path(input), expected, "{input:?}");
    }

    #[test]
    fn forward_paths() {
        check_fwd("<Postmaster>", Ok(ForwardPath::Postmaster));
        check_fwd("<postmaster>", Ok(ForwardPath::Postmaster));
        check_fwd(
            "<postmaster@example.org>",
            Ok(ForwardPath::Mailbox(mb("postmaster", "example.org"))),
        );
        check_fwd(
            "<a.b+c@x.example>",
            Ok(ForwardPath::Mailbox(mb("a.b+c", "x.example"))),
        );
        check_fwd(
            "<\"john doe\"@example.org>",
            Ok(ForwardPath::Mailbox(mb("\"john doe\"", "example.org"))),
        );
        check_fwd(
            "<@relay.example,@b.example:u@c.example>",
            Ok(ForwardPath::Mailbox(mb("u", "c.example"))),
        );
        check_fwd(
            "<u@[192.0.2.1]>",
            Ok(ForwardPath::Mailbox(mb("u", "[192.0.2.1]"))),
        );
        check_fwd(
            "<u@[IPv6:2001:db8::1]>",
            Ok(ForwardPath::Mailbox(mb("u", "[IPv6:2001:db8::1]"))),
        );
        check_fwd(
            "<用户@例子.广告>",
            Ok(ForwardPath::Mailbox(mb("用户", "例子.广告"))),
        );
        check_fwd("<>", Err(AddressError::NoDomain));
        check_fwd("u@x", Err(AddressError::NoBrackets));
        check_fwd("<u>", Err(AddressError::NoDomain));
        check_fwd("<a..b@x>", Err(AddressError::BadLocalPart));
        check_fwd("<a b@x>", Err(AddressError::BadLocalPart));
        check_fwd("<a@-x.y>", Err(AddressError::BadDomain));
        check_fwd("<a@x..y>", Err(AddressError::BadDomain));
        check_fwd("<a@[300.1.1.1]>", Err(AddressError::BadDomain));
        let long = format!("<{}@x>", "a".repeat(65));
        check_fwd(&long, Err(AddressError::LocalTooLong));
        let long = format!("<a@{}.x>", "b".repeat(260));
        check_fwd(&long, Err(AddressError::PathTooLong));
    }

    #[test]
    fn reverse_paths() {
        assert_eq!(parse_reverse_path("<>"), Ok(ReversePath::Null));
        assert_eq!(
            parse_reverse_path("<a@b.c>"),
            Ok(ReversePath::Mailbox(mb("a", "b.c")))
        );
        assert_eq!(
            parse_reverse_path("<Postmaster>"),
            Err(AddressError::NoDomain)
        );
    }
}
