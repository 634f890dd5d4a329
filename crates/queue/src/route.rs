//! Which next hop each recipient goes to, and grouping so that one transaction carries all
//! recipients of a message for the same next hop.

use std::collections::BTreeMap;

use mailerd_types::{NextHop, RecipientSpec, RequestRecipient};

/// The routing table: local domains and static routes (`[routes]` in the config).
#[derive(Debug, Clone, Default)]
pub struct Routes {
    local_domains: Vec<String>,
    /// Lower-case domain (or `*`) → (host, port).
    statics: BTreeMap<String, (String, u16)>,
}

/// A static route that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route for {domain:?}: {problem}")]
pub struct RouteError {
    pub domain: String,
    pub problem: String,
}

impl Routes {
    /// Builds the table. Route targets are `host`, `host:port`, `[ip]:port` or `ip:port`
    /// (port 25 when absent).
    pub fn new<'a>(
        local_domains: impl IntoIterator<Item = &'a str>,
        routes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Routes, RouteError> {
        let mut statics = BTreeMap::new();
        for (domain, target) in routes {
            let hop = parse_target(target).ok_or_else(|| RouteError {
                domain: domain.to_string(),
                problem: format!("{target:?} is not host, host:port or [address]:port"),
            })?;
            statics.insert(domain.trim().to_ascii_lowercase(), hop);
        }
        Ok(Routes {
            local_domains: local_domains
                .into_iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect(),
            statics,
        })
    }

    /// The next hop for one address: local domains first, then a static route for the exact
    /// domain, then for a parent domain written `.example.org`, then `*`, else MX.
    pub fn next_hop(&self, address: &str) -> NextHop {
        let domain = address
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if self.local_domains.contains(&domain) {
            return NextHop::Local;
        }
        if let Some((host, port)) = self.statics.get(&domain) {
            return NextHop::Static {
                host: host.clone(),
                port: *port,
            };
        }
        let mut rest = domain.as_str();
        while let Some(i) = rest.find('.') {
            rest = &rest[i..];
            if let Some((host, port)) = self.statics.get(rest) {
                return NextHop::Static {
                    host: host.clone(),
                    port: *port,
                };
            }
            rest = &rest[1..];
        }
        if let Some((host, port)) = self.statics.get("*") {
            return NextHop::Static {
                host: host.clone(),
                port: *port,
            };
        }
        NextHop::Mx { domain }
    }

    /// Groups recipients by next hop, in order of first appearance; within a group the
    /// recipients keep their order.
    pub fn group<'a>(
        &self,
        recipients: impl IntoIterator<Item = (usize, &'a RecipientSpec)>,
    ) -> Vec<(NextHop, Vec<RequestRecipient>)> {
        let mut groups: Vec<(NextHop, Vec<RequestRecipient>)> = Vec::new();
        for (index, spec) in recipients {
            let hop = self.next_hop(&spec.address);
            let r = RequestRecipient {
                index,
                spec: spec.clone(),
            };
            match groups.iter_mut().find(|(h, _)| *h == hop) {
                Some((_, v)) => v.push(r),
                None => groups.push((hop, vec![r])),
            }
        }
        groups
    }
}

fn parse_target(t: &str) -> Option<(String, u16)> {
    let t = t.trim();
    if let Some(rest) = t.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 25,
            None => return None,
        };
        return (!host.is_empty()).then(|| (host.to_string(), port));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()?),
        Some(_) => return None, // a bare IPv6 address needs brackets
        None => (t, 25),
    };
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    ok.then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        Routes::new(
            ["example.test"],
            [
                ("partner.test", "[192.0.2.7]:2526"),
                (".corp.test", "relay.corp.test"),
                ("*", "127.0.0.1:2526"),
            ],
        )
        .expect("routes")
    }

    fn check(address: &str, expected: NextHop) {
        assert_eq!(routes().next_hop(address), expected, "{address}");
    }

    #[test]
    fn local_then_exact_then_parent_then_default() {
        check("alice@Example.TEST", NextHop::Local);
        check(
            "bob@partner.test",
            NextHop::Static {
                host: "192.0.2.7".into(),
                port: 2526,
            },
        );
        check(
            "carol@eu.corp.test",
            NextHop::Static {
                host: "relay.corp.test".into(),
                port: 25,
            },
        );
        check(
            "dave@elsewhere.test",
            NextHop::Static {
                host: "127.0.0.1".into(),
                port: 2526,
            },
        );
        let mx_only = Routes::new(["example.test"], []).expect("routes");
        assert_eq!(
            mx_only.next_hop("erin@Mail.Org."),
            NextHop::Mx {
                domain: "mail.org".into()
            }
        );
    }

    #[test]
    fn bad_targets_are_refused() {
        for t in ["", "host:port", "[::1", "::1:25", "a b"] {
            assert!(Routes::new([], [("x.test", t)]).is_err(), "{t:?}");
        }
        assert!(Routes::new([], [("x.test", "[::1]:2525")]).is_ok());
    }

    #[test]
    fn grouping_keeps_order_and_shares_transactions() {
        let r = Routes::new(["example.test"], []).expect("routes");
        let specs: Vec<RecipientSpec> = ["a@x.org", "b@example.test", "c@x.org", "d@y.org"]
            .into_iter()
            .map(RecipientSpec::new)
            .collect();
        let groups = r.group(specs.iter().enumerate());
        let shape: Vec<(NextHop, Vec<usize>)> = groups
            .iter()
            .map(|(h, v)| (h.clone(), v.iter().map(|r| r.index).collect()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (
                    NextHop::Mx {
                        domain: "x.org".into()
                    },
                    vec![0, 2]
                ),
                (NextHop::Local, vec![1]),
                (
                    NextHop::Mx {
                        domain: "y.org".into()
                    },
                    vec![3]
                ),
            ]
        );
    }
}
