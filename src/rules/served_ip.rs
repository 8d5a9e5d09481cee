//! Rule `access` (解析 IP 与备案 IP 不一致): where the record lists its filed
//! server addresses, every address a reachable target was served from lies
//! in one of them. (`address-refused`, also of this rule, comes from
//! `no_page`, since a refused target has no page.)
//!
//! Addresses are compared as IPs: an IPv4-mapped IPv6 address counts as its
//! IPv4 form; an address that does not parse is not judged.

use std::net::IpAddr;

use crate::input::Record;
use crate::page::PageSnapshot;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// One `ip-not-filed` per target and address outside `record.ips`.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    _facts: &dyn ScanFacts,
) -> Vec<Finding> {
    if record.ips.is_empty() {
        return Vec::new();
    }
    let filed = record
        .ips
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let mut findings = Vec::new();
    for (outcome, page) in reachable(outcomes) {
        for ip in served_from(page) {
            if record.ips.iter().any(|net| net.contains(&ip)) {
                continue;
            }
            let evidence = Evidence {
                address: Some(ip.to_string()),
                expected: Some(filed.clone()),
                ..Evidence::default()
            };
            findings.push(Finding::new(
                FindingCode::IpNotFiled,
                Some(outcome.label()),
                evidence,
            ));
        }
    }
    findings
}

/// The addresses `page` was served from, each once, in the order the guard
/// connected to them: IPv4-mapped IPv6 as IPv4, brackets dropped, an
/// address that does not parse left out. `ip-not-filed` and
/// `ip-not-provider` judge these.
pub(crate) fn served_from(page: &PageSnapshot) -> Vec<IpAddr> {
    let mut seen = Vec::new();
    for address in &page.addresses {
        let bare = address.trim().trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            if !seen.contains(&ip) {
                seen.push(ip);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::input::Record;
    use crate::rules::test_support::{codes, page_with_footer, reached, record, Facts};

    fn with_ips(ips: &[&str]) -> Record {
        Record {
            ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
            ..record("example.cn")
        }
    }

    fn served_from(addresses: &[&str]) -> TargetOutcome {
        let mut page = page_with_footer("", None);
        page.addresses = addresses.iter().map(|a| (*a).to_owned()).collect();
        reached("example.cn", page)
    }

    #[rstest]
    #[case::no_ips_filed(&[], &["198.51.100.1"], &[])]
    #[case::single_address_filed(&["203.0.113.7/32"], &["203.0.113.7"], &[])]
    #[case::inside_range(&["203.0.113.0/24"], &["203.0.113.200"], &[])]
    #[case::outside(&["203.0.113.0/24"], &["198.51.100.1"], &["198.51.100.1"])]
    #[case::ipv6_inside(&["2001:db8::/32"], &["2001:db8::7"], &[])]
    #[case::ipv6_bracketed_outside(&["203.0.113.7/32"], &["[2001:db8::7]"], &["2001:db8::7"])]
    #[case::ipv4_mapped(&["203.0.113.7/32"], &["::ffff:203.0.113.7"], &[])]
    #[case::unparsable_ignored(&["203.0.113.7/32"], &["not-an-ip", "203.0.113.7"], &[])]
    #[case::each_bad_address_once(
        &["203.0.113.7/32"], &["198.51.100.1", "203.0.113.7", "198.51.100.2", "198.51.100.1"],
        &["198.51.100.1", "198.51.100.2"]
    )]
    fn served_addresses_are_filed(
        #[case] ips: &[&str],
        #[case] addresses: &[&str],
        #[case] unfiled: &[&str],
    ) {
        let findings = check(&with_ips(ips), &[served_from(addresses)], &Facts::default());
        assert!(codes(&findings)
            .iter()
            .all(|c| *c == FindingCode::IpNotFiled));
        let reported: Vec<_> = findings
            .iter()
            .map(|f| f.evidence.address.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(reported, unfiled);
    }

    #[test]
    fn evidence_lists_the_filed_addresses() {
        let rec = with_ips(&["203.0.113.0/24", "2001:db8::/32"]);
        let findings = check(&rec, &[served_from(&["198.51.100.1"])], &Facts::default());
        assert_eq!(
            findings[0].evidence.expected.as_deref(),
            Some("203.0.113.0/24 2001:db8::/32")
        );
    }
}
