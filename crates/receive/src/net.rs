//! CIDR networks for `relay_networks`.

use std::net::IpAddr;

/// An IP network `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a CIDR string is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network {0:?}: expected CIDR such as 192.0.2.0/24 or ::1/128")]
pub struct CidrError(pub String);

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a host network).
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let err = || CidrError(s.to_string());
        let (a, p) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().map_err(|_| err())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().map_err(|_| err())?,
            None => max,
        };
        if prefix > max {
            return Err(err());
        }
        Ok(Cidr { addr, prefix })
    }

    /// `true` if `ip` is inside (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The key under which a client is counted for per-client limits and AUTH throttling: its
/// IPv4 address, or its IPv6 /64 (one customer usually holds a whole /64, so counting single
/// IPv6 addresses would be no limit at all).
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(a) => IpAddr::V4(a),
        IpAddr::V6(a) => {
            let masked = u128::from(a) & (u128::MAX << 64);
            IpAddr::V6(masked.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(net: &str, ip: &str, expected: bool) {
        let n = Cidr::parse(net).expect("valid cidr");
        let ip: IpAddr = ip.parse().expect("valid ip");
        assert_eq!(n.contains(ip), expected, "{ip} in {net}");
    }

    #[test]
    fn networks_contain_addresses() {
        check("127.0.0.0/8", "127.1.2.3", true);
        check("127.0.0.0/8", "128.0.0.1", false);
        check("127.0.0.0/8", "::ffff:127.0.0.1", true);
        check("192.0.2.7", "192.0.2.7", true);
        check("192.0.2.7", "192.0.2.8", false);
        check("0.0.0.0/0", "203.0.113.9", true);
        check("::1/128", "::1", true);
        check("2001:db8::/32", "2001:db8:1::5", true);
        check("2001:db8::/32", "2001:db9::5", false);
        check("10.0.0.0/8", "::1", false);
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        let k = |s: &str| client_key(s.parse().expect("ip")).to_string();
        assert_eq!(k("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
        assert_eq!(k("::ffff:192.0.2.1"), "192.0.2.1");
        assert!(Cidr::parse("example.org").is_err());
    }
}
