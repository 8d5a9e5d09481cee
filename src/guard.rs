//! The network guard: a filed domain must not steer the crawler into the
//! network it runs in. Before a host is rendered, the crawler resolves it
//! itself and refuses internal addresses (unless `--allow-private`, or the
//! host is mapped by `--resolve`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::browser::launch::ResolveRule;
use crate::page::{TargetFailure, Unreachable};

/// Whether `ip` is an address no public website is served from: loopback,
/// private (RFC 1918, unique-local), link-local, CGNAT, multicast,
/// unspecified, documentation, benchmarking, broadcast and reserved ranges,
/// and IPv4-mapped/compatible forms of those.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            is_internal_v6(v6)
        }
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 may embed an internal v4
        // IPv4-compatible ::a.b.c.d (deprecated) of an internal address.
        || (s[..6].iter().all(|&x| x == 0) && is_internal_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            (s[6] & 0xff) as u8,
            (s[7] >> 8) as u8,
            (s[7] & 0xff) as u8,
        )))
}

/// Whether `--resolve` maps `host`.
pub fn is_mapped(host: &str, rules: &[ResolveRule]) -> bool {
    rules.iter().any(|r| r.host == "*" || r.host == host)
}

/// Check `host` before rendering it: `Ok` to go on, or the failure that
/// ends the target (DNS failure, or an internal address refused).
pub async fn check(host: &str, rules: &[ResolveRule], allow_private: bool) -> Result<(), TargetFailure> {
    if is_mapped(host, rules) || allow_private {
        return Ok(());
    }
    let addrs = tokio::net::lookup_host((host, 443)).await.map_err(|e| {
        TargetFailure::Unreachable(Unreachable::Dns {
            detail: format!("{host}: {e}"),
        })
    })?;
    for addr in addrs {
        if is_internal(addr.ip()) {
            return Err(TargetFailure::AddressRefused {
                host: host.to_owned(),
                address: addr.ip().to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::loopback("127.0.0.1", true)]
    #[case::loopback_other("127.5.6.7", true)]
    #[case::rfc1918_10("10.0.0.5", true)]
    #[case::rfc1918_172("172.16.3.4", true)]
    #[case::rfc1918_192("192.168.1.1", true)]
    #[case::metadata("169.254.169.254", true)]
    #[case::cgnat("100.64.0.1", true)]
    #[case::unspecified("0.0.0.0", true)]
    #[case::multicast("224.0.0.1", true)]
    #[case::documentation_v4("203.0.113.7", true)]
    #[case::broadcast("255.255.255.255", true)]
    #[case::public_v4("8.8.8.8", false)]
    #[case::public_cn("114.114.114.114", false)]
    #[case::not_cgnat("100.128.0.1", false)]
    #[case::v6_loopback("::1", true)]
    #[case::v6_unique_local("fd00::1", true)]
    #[case::v6_link_local("fe80::1", true)]
    #[case::v6_mapped_loopback("::ffff:127.0.0.1", true)]
    #[case::v6_mapped_private("::ffff:10.1.2.3", true)]
    #[case::v6_mapped_public("::ffff:8.8.8.8", false)]
    #[case::v6_documentation("2001:db8::1", true)]
    #[case::v6_public("2400:3200::1", false)]
    fn internal_addresses(#[case] ip: &str, #[case] internal: bool) {
        assert_eq!(is_internal(ip.parse().unwrap()), internal, "{ip}");
    }

    #[tokio::test]
    async fn localhost_is_refused_unless_mapped_or_allowed() {
        let refused = check("localhost", &[], false).await;
        assert!(matches!(refused, Err(TargetFailure::AddressRefused { .. })), "{refused:?}");
        assert_eq!(check("localhost", &[], true).await, Ok(()));
        let rule = ResolveRule {
            host: "localhost".to_owned(),
            addr: "127.0.0.1:1".parse().unwrap(),
        };
        assert_eq!(check("localhost", &[rule], false).await, Ok(()));
    }
}
