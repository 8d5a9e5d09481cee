//! The network guard: a filed domain must not steer the crawler into the
//! network it runs in.
//!
//! The guard owns the crawler's only way out: every connection a browser
//! makes, for the page and for every sub-resource, redirect hop, frame and
//! WebSocket, goes through its forward proxy ([`proxy`]). For each one the
//! guard resolves the host itself, applies `--resolve`, refuses internal
//! addresses unless `--allow-private`, and connects to exactly the address
//! it checked. It knows nothing of Chromium or of the rules: it answers
//! "may this host be reached, and where", and remembers what it answered
//! so the renderer can tell a refused page from an unreachable one.
//!
//! What is internal is one table in `special.rs` ([`is_internal`]): the
//! IANA special-purpose address registries, and for the IPv6 forms that
//! carry an IPv4 address (IPv4-mapped, NAT64, 6to4, Teredo…) the verdict
//! of the IPv4 address they carry, which is where a translating network
//! delivers them.
//!
//! [`check`] is the same decision for one host, taken before a target is
//! rendered at all: a refused host then costs no browser page.

pub mod proxy;
mod relay;
mod special;

use std::io;
use std::net::{IpAddr, SocketAddr};

use futures::future::BoxFuture;

pub use proxy::{Exchange, Outcome, Proxy, ProxyConfig, Session};
pub use special::{is_internal, refusal};

/// `--resolve HOST=ADDR:PORT`: send connections for `host` (`*` for every
/// host name) to `addr` instead of what DNS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRule {
    /// The host (ASCII, lower case) or `*`.
    pub host: String,
    /// Where its connections go.
    pub addr: SocketAddr,
}

impl ResolveRule {
    /// Whether this rule maps `host` (normalised: lower case, no trailing
    /// dot, no brackets). `*` maps host names only: an IP-literal host has
    /// nothing to resolve, so it is never mapped and always checked.
    fn maps(&self, host: &str) -> bool {
        if self.host == "*" {
            host.parse::<IpAddr>().is_err()
        } else {
            self.host == host
        }
    }
}

/// What the guard lets through, frozen for the whole scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// `--resolve` rules, first match wins.
    pub resolve: Vec<ResolveRule>,
    /// `--allow-private`: internal addresses are not refused.
    pub allow_private: bool,
}

impl Policy {
    /// Where `--resolve` sends `host`, if a rule maps it.
    #[must_use]
    pub fn mapping(&self, host: &str) -> Option<SocketAddr> {
        let host = normalise(host);
        self.resolve.iter().find(|r| r.maps(&host)).map(|r| r.addr)
    }
}

/// Looks host names up. The guard's only source of addresses, so that a
/// test can script the answers (a name that rebinds between look-ups).
pub trait Resolver: Send + Sync {
    /// Every address `host` resolves to (`port` is a hint for the system
    /// resolver; the guard connects to the port it was asked for).
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The system's resolver (`getaddrinfo` on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str, port: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in tokio::net::lookup_host((host, port)).await? {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            Ok(ips)
        })
    }
}

/// Why the guard lets no connection go to a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The host is, or resolves to, an internal address (the first one
    /// found among its answers).
    Refused {
        /// The internal address.
        address: IpAddr,
    },
    /// The host does not resolve.
    Unresolved {
        /// What the resolver said.
        detail: String,
    },
}

/// The addresses a connection for `host:port` may go to, in the order to
/// try them; every one of them passed `policy`.
///
/// A host mapped by `--resolve` goes to its mapped address (allowed, even
/// when internal). Any other host is looked up once; when any of its
/// addresses is internal the host is refused whole (unless
/// `allow_private`), so that no later choice among them can reach inside.
///
/// # Errors
///
/// [`Denial::Refused`] when the host is, or resolves to, an internal
/// address (and `allow_private` is off); [`Denial::Unresolved`] when it
/// does not resolve.
pub async fn admit(
    policy: &Policy,
    resolver: &dyn Resolver,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, Denial> {
    let host = normalise(host);
    if let Some(addr) = policy.mapping(&host) {
        return Ok(vec![addr]);
    }
    let ips = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolver
            .lookup(&host, port)
            .await
            .map_err(|e| Denial::Unresolved {
                detail: e.to_string(),
            })?,
    };
    if ips.is_empty() {
        return Err(Denial::Unresolved {
            detail: "no addresses".to_owned(),
        });
    }
    if !policy.allow_private {
        if let Some(&address) = ips.iter().find(|ip| is_internal(**ip)) {
            return Err(Denial::Refused { address });
        }
    }
    Ok(ips
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// A host as the guard compares it: lower case, without a trailing dot or
/// IPv6 brackets.
pub(crate) fn normalise(host: &str) -> String {
    let host = host.strip_suffix('.').unwrap_or(host);
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Whether `--resolve` maps `host`.
#[must_use]
pub fn is_mapped(host: &str, rules: &[ResolveRule]) -> bool {
    let host = normalise(host);
    rules.iter().any(|r| r.maps(&host))
}

/// Check `host` before rendering it: `Ok` to go on, or why no connection
/// may go to it (`fault::denied` says what that means for a target).
///
/// The proxy enforces the same policy on every connection; this early
/// check only spares a browser page for a host that would be refused.
///
/// # Errors
///
/// [`Denial::Refused`] for an internal address, [`Denial::Unresolved`]
/// for a host that does not resolve.
pub async fn check(host: &str, rules: &[ResolveRule], allow_private: bool) -> Result<(), Denial> {
    if is_mapped(host, rules) || allow_private {
        return Ok(());
    }
    let policy = Policy {
        resolve: rules.to_vec(),
        allow_private,
    };
    admit(&policy, &SystemResolver, host, 443).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn rule(host: &str, addr: &str) -> ResolveRule {
        ResolveRule {
            host: host.to_owned(),
            addr: addr.parse().unwrap(),
        }
    }

    #[rstest]
    #[case::exact("a.test", &[rule("a.test", "127.0.0.1:1")], Some("127.0.0.1:1"))]
    #[case::other_host("b.test", &[rule("a.test", "127.0.0.1:1")], None)]
    #[case::wildcard("b.test", &[rule("*", "127.0.0.1:2")], Some("127.0.0.1:2"))]
    #[case::first_match_wins("a.test", &[rule("a.test", "127.0.0.1:1"), rule("*", "127.0.0.1:2")], Some("127.0.0.1:1"))]
    #[case::trailing_dot_and_case("A.Test.", &[rule("a.test", "127.0.0.1:1")], Some("127.0.0.1:1"))]
    #[case::wildcard_skips_ipv4_literal("127.0.0.1", &[rule("*", "127.0.0.1:2")], None)]
    #[case::wildcard_skips_ipv6_literal("[::1]", &[rule("*", "127.0.0.1:2")], None)]
    #[case::explicit_ip_literal("127.0.0.1", &[rule("127.0.0.1", "127.0.0.1:3")], Some("127.0.0.1:3"))]
    fn resolve_rules_map_hosts(
        #[case] host: &str,
        #[case] rules: &[ResolveRule],
        #[case] expected: Option<&str>,
    ) {
        let policy = Policy {
            resolve: rules.to_vec(),
            allow_private: false,
        };
        assert_eq!(policy.mapping(host), expected.map(|a| a.parse().unwrap()));
        assert_eq!(is_mapped(host, rules), expected.is_some());
    }

    /// Answers every look-up with the same addresses.
    struct Fixed(Vec<IpAddr>);

    impl Resolver for Fixed {
        fn lookup<'a>(&'a self, _: &'a str, _: u16) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
            Box::pin(async move { Ok(self.0.clone()) })
        }
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[rstest]
    #[case::public(&["8.8.8.8"], false, Ok(vec!["8.8.8.8:80"]))]
    #[case::private(&["10.0.0.1"], false, Err("10.0.0.1"))]
    #[case::any_private_refuses_all(&["8.8.8.8", "169.254.169.254"], false, Err("169.254.169.254"))]
    #[case::mapped_v6_loopback(&["::ffff:127.0.0.1"], false, Err("::ffff:127.0.0.1"))]
    #[case::sixtofour_loopback(&["2400:3200::1", "2002:7f00:1::"], false, Err("2002:7f00:1::"))]
    #[case::sixtofour_public(&["2002:808:808::1"], false, Ok(vec!["[2002:808:808::1]:80"]))]
    #[case::allowed_translated_loopback(&["::ffff:0:7f00:1"], true, Ok(vec!["[::ffff:0:7f00:1]:80"]))]
    #[case::allowed_private(&["8.8.8.8", "10.0.0.1"], true, Ok(vec!["8.8.8.8:80", "10.0.0.1:80"]))]
    #[tokio::test]
    async fn admit_checks_every_answer(
        #[case] answer: &[&str],
        #[case] allow_private: bool,
        #[case] expected: Result<Vec<&str>, &str>,
    ) {
        let policy = Policy {
            resolve: Vec::new(),
            allow_private,
        };
        let got = admit(&policy, &Fixed(ips(answer)), "x.test", 80).await;
        let expected = expected
            .map(|v| {
                v.iter()
                    .map(|a| a.parse().unwrap())
                    .collect::<Vec<SocketAddr>>()
            })
            .map_err(|a| Denial::Refused {
                address: a.parse().unwrap(),
            });
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn mapped_addresses_are_allowed_only_for_their_host() {
        let policy = Policy {
            resolve: vec![rule("a.test", "127.0.0.1:8080")],
            allow_private: false,
        };
        let resolver = Fixed(ips(&["127.0.0.1"]));
        assert_eq!(
            admit(&policy, &resolver, "a.test", 443).await,
            Ok(vec!["127.0.0.1:8080".parse().unwrap()])
        );
        for host in ["127.0.0.1", "b.test", "www.a.test"] {
            assert!(
                matches!(
                    admit(&policy, &resolver, host, 8080).await,
                    Err(Denial::Refused { .. })
                ),
                "{host}"
            );
        }
    }

    #[tokio::test]
    async fn an_empty_answer_is_unresolved() {
        let got = admit(&Policy::default(), &Fixed(Vec::new()), "x.test", 80).await;
        assert!(matches!(got, Err(Denial::Unresolved { .. })), "{got:?}");
    }

    #[tokio::test]
    async fn localhost_is_refused_unless_mapped_or_allowed() {
        let refused = check("localhost", &[], false).await;
        assert!(
            matches!(refused, Err(Denial::Refused { .. })),
            "{refused:?}"
        );
        assert_eq!(check("localhost", &[], true).await, Ok(()));
        let rule = rule("localhost", "127.0.0.1:1");
        assert_eq!(check("localhost", &[rule], false).await, Ok(()));
    }
}
