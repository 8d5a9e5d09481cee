//! Which addresses the guard refuses, as one table: [`SPECIAL`].
//!
//! The rows are the IANA special-purpose address registries (IPv4 and
//! IPv6, as of 2025) plus the few ranges that are not in them but that no
//! public website is served from (IPv4 multicast, the deprecated IPv6
//! site-local and IPv4-compatible prefixes, and IPv6 space IANA has not
//! allocated). An address takes the treatment of the most specific row
//! that holds it; an address no row holds is allowed.
//!
//! A range is refused when the registry calls it not globally reachable:
//! a connection there stays inside the network the crawler runs in, or
//! goes nowhere. A few ranges the registry calls globally reachable are
//! refused too, because no website is served from them and refusing costs
//! nothing: the anycast and service addresses inside `192.0.0.0/24` and
//! `2001::/23` (PCP, TURN, AMT, AS112) and the ORCHID and drone-ID
//! identifiers there (identifiers, not locators).
//!
//! Some IPv6 ranges carry an IPv4 address. A network that translates or
//! tunnels them (NAT64, SIIT, 6to4, Teredo) delivers the connection to
//! that IPv4 address, so such an address is refused when the IPv4 address
//! it carries is, and allowed when it is public, as the IPv4 address
//! itself would be.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use Embedding::{Last32, SixToFour, Teredo};
use Treatment::{Allow, Embeds, Refuse};

/// What the guard does with the addresses of one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Treatment {
    /// Refused: not globally reachable, or nothing public is served there.
    Refuse,
    /// Allowed: a globally reachable range inside a refused one.
    Allow,
    /// Refused when the IPv4 address it carries is refused.
    Embeds(Embedding),
}

/// Where an IPv6 range carries its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedding {
    /// In the last 32 bits (IPv4-mapped, IPv4-translated, IPv4-compatible,
    /// NAT64 well-known prefix).
    Last32,
    /// In bits 16 to 48, after `2002:` (6to4, RFC 3056).
    SixToFour,
    /// Teredo (RFC 4380): the server in bits 32 to 64, the client (its
    /// NAT's public side, where the relay sends the packets) in the last
    /// 32 bits, inverted. Both are checked: either one is a machine the
    /// connection's packets are sent to.
    Teredo,
}

/// One row of [`SPECIAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    /// The network.
    net: Net,
    /// What the registry calls it.
    name: &'static str,
    treatment: Treatment,
}

/// A network: its address as bits, and its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4(u32, u8),
    V6(u128, u8),
}

impl Net {
    /// The prefix length when the network holds `ip`.
    fn contains(self, ip: IpAddr) -> Option<u8> {
        match (self, ip) {
            (Net::V4(bits, len), IpAddr::V4(ip)) => {
                (prefix_of(u128::from(ip.to_bits()), len, 32) == u128::from(bits)).then_some(len)
            }
            (Net::V6(bits, len), IpAddr::V6(ip)) => {
                (prefix_of(ip.to_bits(), len, 128) == bits).then_some(len)
            }
            _ => None,
        }
    }
}

/// `bits` (an address `width` bits wide) with everything after the first
/// `len` bits cleared.
fn prefix_of(bits: u128, len: u8, width: u8) -> u128 {
    let host = u32::from(width - len);
    // A /0 keeps nothing (and a 128-bit shift would overflow).
    bits.checked_shr(host).map_or(0, |kept| kept << host)
}

const fn v4(octets: [u8; 4], len: u8, name: &'static str, treatment: Treatment) -> Range {
    Range {
        net: Net::V4(u32::from_be_bytes(octets), len),
        name,
        treatment,
    }
}

const fn v6(s: [u16; 8], len: u8, name: &'static str, treatment: Treatment) -> Range {
    let ip = Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    Range {
        net: Net::V6(ip.to_bits(), len),
        name,
        treatment,
    }
}

/// Every range the guard treats specially. The IANA registries are
/// <https://www.iana.org/assignments/iana-ipv4-special-registry> and
/// <https://www.iana.org/assignments/iana-ipv6-special-registry>.
// One row a line, so that the table reads (and diffs) as a table.
#[rustfmt::skip]
const SPECIAL: &[Range] = &[
    // IPv4 special-purpose registry.
    v4([0, 0, 0, 0], 8, "this network (RFC 791)", Refuse),
    v4([10, 0, 0, 0], 8, "private-use (RFC 1918)", Refuse),
    v4([100, 64, 0, 0], 10, "shared address space, CGNAT (RFC 6598)", Refuse),
    v4([127, 0, 0, 0], 8, "loopback (RFC 1122)", Refuse),
    v4([169, 254, 0, 0], 16, "link-local, cloud metadata (RFC 3927)", Refuse),
    v4([172, 16, 0, 0], 12, "private-use (RFC 1918)", Refuse),
    v4([192, 0, 0, 0], 24, "IETF protocol assignments (RFC 6890)", Refuse),
    v4([192, 0, 2, 0], 24, "documentation TEST-NET-1 (RFC 5737)", Refuse),
    v4([192, 88, 99, 0], 24, "6to4 relay anycast, deprecated (RFC 7526)", Refuse),
    v4([192, 168, 0, 0], 16, "private-use (RFC 1918)", Refuse),
    v4([198, 18, 0, 0], 15, "benchmarking (RFC 2544)", Refuse),
    v4([198, 51, 100, 0], 24, "documentation TEST-NET-2 (RFC 5737)", Refuse),
    v4([203, 0, 113, 0], 24, "documentation TEST-NET-3 (RFC 5737)", Refuse),
    // Not in the special-purpose registry, but never a website: the
    // multicast registry's whole block.
    v4([224, 0, 0, 0], 4, "multicast (RFC 5771)", Refuse),
    v4([240, 0, 0, 0], 4, "reserved (RFC 1112)", Refuse),
    v4([255, 255, 255, 255], 32, "limited broadcast (RFC 919)", Refuse),
    // IPv6: only 2000::/3 is allocated for global unicast (IANA IPv6
    // address space registry); the rest is reserved, local or multicast.
    v6([0, 0, 0, 0, 0, 0, 0, 0], 0, "not global unicast (RFC 4291)", Refuse),
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, "global unicast (RFC 4291)", Allow),
    // IPv6 special-purpose registry.
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified (RFC 4291)", Refuse),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback (RFC 4291)", Refuse),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped (RFC 4291)", Embeds(Last32)),
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, "IPv4-translated, SIIT (RFC 2765)", Embeds(Last32)),
    // Deprecated and out of the registry, but a stack that still knows it
    // reaches the IPv4 address.
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible, deprecated (RFC 4291)", Embeds(Last32)),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64 well-known prefix (RFC 6052)", Embeds(Last32)),
    // Where a local-use translator puts the IPv4 address is the network's
    // own choice, so there is nothing to check it by.
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64 local-use (RFC 8215)", Refuse),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only (RFC 6666)", Refuse),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF protocol assignments (RFC 2928)", Refuse),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo (RFC 4380)", Embeds(Teredo)),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "benchmarking (RFC 5180)", Refuse),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "ORCHID, deprecated (RFC 4843)", Refuse),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2 (RFC 7343)", Refuse),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation (RFC 3849)", Refuse),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4 (RFC 3056)", Embeds(SixToFour)),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation (RFC 9637)", Refuse),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "SRv6 SIDs (RFC 9602)", Refuse),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local (RFC 4193)", Refuse),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local (RFC 4291)", Refuse),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local, deprecated (RFC 3879)", Refuse),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast (RFC 4291)", Refuse),
];

/// The most specific row of [`SPECIAL`] that holds `ip`.
fn row(ip: IpAddr) -> Option<&'static Range> {
    SPECIAL
        .iter()
        .filter_map(|r| r.net.contains(ip).map(|len| (len, r)))
        .max_by_key(|&(len, _)| len)
        .map(|(_, r)| r)
}

/// The IPv4 addresses an address of an [`Embedding`] range carries.
fn embedded(ip: Ipv6Addr, embedding: Embedding) -> Vec<Ipv4Addr> {
    let bits = ip.to_bits();
    #[expect(
        clippy::cast_possible_truncation,
        reason = "the cast keeps the 32 bits shifted to the low end"
    )]
    let word = |shift: u32| Ipv4Addr::from_bits((bits >> shift) as u32);
    match embedding {
        Embedding::Last32 => vec![word(0)],
        Embedding::SixToFour => vec![word(80)],
        Embedding::Teredo => vec![word(64), Ipv4Addr::from_bits(!word(0).to_bits())],
    }
}

/// Whether the guard refuses `ip`: an address no public website is served
/// from (loopback, private, link-local, CGNAT, documentation, multicast and
/// the rest of the IANA special-purpose registries), or an IPv6 address
/// carrying such an IPv4 address (IPv4-mapped, IPv4-translated,
/// IPv4-compatible, NAT64, 6to4, Teredo).
#[must_use]
pub fn is_internal(ip: IpAddr) -> bool {
    refusal(ip).is_some()
}

/// The name of the range that refuses `ip` (for an IPv6 address carrying
/// an IPv4 address, the IPv4 address's range), or `None` when `ip` is
/// allowed.
#[must_use]
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    let range = row(ip)?;
    match (range.treatment, ip) {
        (Treatment::Allow, _) => None,
        (Treatment::Embeds(embedding), IpAddr::V6(v6)) => embedded(v6, embedding)
            .into_iter()
            .find_map(|v4| refusal(IpAddr::V4(v4))),
        // Only IPv6 rows embed, so an IPv4 address meets `Embeds` only if
        // a row were wrong; refusing is then the side to err on.
        (Treatment::Refuse | Treatment::Embeds(_), _) => Some(range.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    // IPv4: an address inside each range, and the nearest outside.
    #[case::this_network("0.0.0.0", true)]
    #[case::this_network_last("0.255.255.255", true)]
    #[case::after_this_network("1.0.0.1", false)]
    #[case::private_10("10.0.0.5", true)]
    #[case::after_private_10("11.0.0.1", false)]
    #[case::cgnat("100.64.0.1", true)]
    #[case::cgnat_last("100.127.255.255", true)]
    #[case::before_cgnat("100.63.255.255", false)]
    #[case::after_cgnat("100.128.0.1", false)]
    #[case::loopback("127.0.0.1", true)]
    #[case::loopback_other("127.5.6.7", true)]
    #[case::after_loopback("128.0.0.1", false)]
    #[case::metadata("169.254.169.254", true)]
    #[case::after_link_local("169.255.0.1", false)]
    #[case::private_172("172.16.3.4", true)]
    #[case::private_172_last("172.31.255.255", true)]
    #[case::before_private_172("172.15.255.255", false)]
    #[case::after_private_172("172.32.0.1", false)]
    #[case::ietf_protocol("192.0.0.9", true)]
    #[case::after_ietf_protocol("192.0.1.1", false)]
    #[case::test_net_1("192.0.2.1", true)]
    #[case::relay_6to4("192.88.99.1", true)]
    #[case::after_relay_6to4("192.88.100.1", false)]
    #[case::private_192("192.168.1.1", true)]
    #[case::after_private_192("192.169.0.1", false)]
    #[case::benchmarking("198.18.0.1", true)]
    #[case::benchmarking_last("198.19.255.255", true)]
    #[case::after_benchmarking("198.20.0.1", false)]
    #[case::test_net_2("198.51.100.1", true)]
    #[case::test_net_3("203.0.113.7", true)]
    #[case::after_test_net_3("203.0.114.1", false)]
    #[case::before_multicast("223.255.255.255", false)]
    #[case::multicast("224.0.0.1", true)]
    #[case::multicast_last("239.255.255.255", true)]
    #[case::reserved("240.0.0.1", true)]
    #[case::broadcast("255.255.255.255", true)]
    #[case::public_v4("8.8.8.8", false)]
    #[case::public_cn("114.114.114.114", false)]
    // IPv6 special-purpose registry.
    #[case::v6_unspecified("::", true)]
    #[case::v6_loopback("::1", true)]
    #[case::v6_discard_only("100::1", true)]
    #[case::v6_ietf_protocol("2001:1::1", true)]
    #[case::v6_ietf_protocol_last("2001:1ff:ffff::1", true)]
    #[case::v6_after_ietf_protocol("2001:200::1", false)]
    #[case::v6_benchmarking("2001:2::1", true)]
    #[case::v6_orchid("2001:10::1", true)]
    #[case::v6_orchid_v2("2001:20::1", true)]
    #[case::v6_documentation("2001:db8::1", true)]
    #[case::v6_after_documentation("2001:db9::1", false)]
    #[case::v6_documentation_3fff("3fff:fff:ffff::1", true)]
    #[case::v6_after_documentation_3fff("3fff:1000::1", false)]
    #[case::v6_srv6("5f00::1", true)]
    #[case::v6_unique_local("fd00::1", true)]
    #[case::v6_unique_local_fc("fc00::1", true)]
    #[case::v6_link_local("fe80::1", true)]
    #[case::v6_link_local_last("febf::1", true)]
    #[case::v6_site_local("fec0::1", true)]
    #[case::v6_multicast("ff02::1", true)]
    #[case::v6_unallocated("4000::1", true)]
    #[case::v6_public("2400:3200::1", false)]
    #[case::v6_public_cn("240e::1", false)]
    #[case::v6_last_global("3ffe::1", false)]
    // IPv6 carrying IPv4: refused with the IPv4 address it carries.
    #[case::mapped_loopback("::ffff:127.0.0.1", true)]
    #[case::mapped_private("::ffff:10.1.2.3", true)]
    #[case::mapped_metadata("::ffff:169.254.169.254", true)]
    #[case::mapped_public("::ffff:8.8.8.8", false)]
    #[case::translated_loopback("::ffff:0:7f00:1", true)]
    #[case::translated_public("::ffff:0:808:808", false)]
    #[case::compatible_loopback("::127.0.0.1", true)]
    #[case::compatible_public("::8.8.8.8", false)]
    #[case::nat64_private("64:ff9b::a00:1", true)]
    #[case::nat64_metadata("64:ff9b::169.254.169.254", true)]
    #[case::nat64_public("64:ff9b::808:808", false)]
    #[case::nat64_local_use("64:ff9b:1::808:808", true)]
    #[case::nat64_other("64:ff9b:2::808:808", true)]
    #[case::sixtofour_loopback("2002:7f00:1::", true)]
    #[case::sixtofour_private("2002:a00:1::1", true)]
    #[case::sixtofour_relay("2002:c058:6301::1", true)]
    #[case::sixtofour_public("2002:0808:0808::", false)]
    // Teredo 2001:0:SERVER:flags:port:~CLIENT; server 65.54.227.120.
    #[case::teredo_public("2001:0:4136:e378:8000:63bf:f7f7:f7f7", false)]
    #[case::teredo_documentation_client("2001:0:4136:e378:8000:63bf:3fff:fdd2", true)]
    #[case::teredo_private_client("2001:0:4136:e378:8000:63bf:f5ff:fffe", true)]
    #[case::teredo_loopback_server("2001:0:7f00:1:8000:63bf:f7f7:f7f7", true)]
    fn internal_addresses(#[case] ip: &str, #[case] internal: bool) {
        let ip: IpAddr = ip.parse().unwrap();
        assert_eq!(is_internal(ip), internal, "{ip}: {:?}", refusal(ip));
    }

    #[rstest]
    #[case::ietf_row_not_teredo("2001:1::1", "IETF protocol assignments (RFC 2928)")]
    #[case::benchmarking_not_ietf("2001:2::1", "benchmarking (RFC 5180)")]
    #[case::loopback_not_compatible("::1", "loopback (RFC 4291)")]
    #[case::embedded_names_the_v4_range("2002:7f00:1::", "loopback (RFC 1122)")]
    #[case::teredo_client(
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "documentation TEST-NET-1 (RFC 5737)"
    )]
    fn the_most_specific_row_decides(#[case] ip: &str, #[case] name: &str) {
        assert_eq!(refusal(ip.parse().unwrap()), Some(name));
    }

    #[test]
    fn rows_are_networks_each_listed_once() {
        for (i, range) in SPECIAL.iter().enumerate() {
            let (bits, len, width) = match range.net {
                Net::V4(bits, len) => (u128::from(bits), len, 32),
                Net::V6(bits, len) => (bits, len, 128),
            };
            assert!(len <= width, "{}", range.name);
            assert_eq!(
                prefix_of(bits, len, width),
                bits,
                "host bits set: {}",
                range.name
            );
            assert!(
                SPECIAL[..i].iter().all(|other| other.net != range.net),
                "listed twice: {}",
                range.name
            );
        }
    }
}
