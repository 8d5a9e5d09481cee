//! Rule `access`, code `ip-not-provider` (服务解析非本接入商, SPEC §6): with
//! `--provider-ranges FILE`, every address a reachable target was served
//! from lies in one of the hosting provider's own ranges.
//!
//! Judged like `ip-not-filed` (`rules::served_ip`): on `page.addresses`, the
//! addresses the network guard connected to for the main document and its
//! redirect hops; an IPv4-mapped IPv6 address counts as its IPv4 form; an
//! address that does not parse is not judged; one finding per target and
//! address. The ranges reach the rule through [`ScanFacts::provider_ranges`]:
//! they are the scan's, not a record's.

use std::net::IpAddr;

use crate::input::Record;
use crate::rules::served_ip::served_from;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};

/// The hosting provider's own address ranges (`--provider-ranges FILE`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderRanges {
    nets: Vec<ipnet::IpNet>,
}

/// A line of a ranges file that is not an address or a range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {text:?} {reason}")]
pub struct ProviderRangesError {
    /// 1-based line number; 0 when the file as a whole is wrong.
    pub line: usize,
    /// The line's text, comment and white space trimmed.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ProviderRanges {
    /// Read a ranges file: one IP address or CIDR range a line; `#` starts
    /// a comment; blank lines are skipped. A file with no range at all is
    /// an error too (every target would be outside it).
    ///
    /// # Errors
    ///
    /// [`ProviderRangesError`] naming the first line that is neither an
    /// address nor a range, or saying that no range was given.
    pub fn parse(text: &str) -> Result<ProviderRanges, ProviderRangesError> {
        let mut nets = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or_default().trim();
            let entry = entry.trim_start_matches('\u{feff}');
            if entry.is_empty() {
                continue;
            }
            let net = match entry.parse::<ipnet::IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => entry
                    .parse::<IpAddr>()
                    .map(ipnet::IpNet::from)
                    .map_err(|_| ProviderRangesError {
                        line: index + 1,
                        text: entry.to_owned(),
                        reason: "is neither an IP address nor a CIDR range",
                    })?,
            };
            nets.push(net);
        }
        if nets.is_empty() {
            return Err(ProviderRangesError {
                line: 0,
                text: String::new(),
                reason: "the file holds no address range",
            });
        }
        Ok(ProviderRanges { nets })
    }

    /// Whether `ip` (IPv4-mapped IPv6 read as IPv4) is inside some range.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// How many ranges there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.nets.len()
    }

    /// Whether there are none (never, once parsed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

/// One `ip-not-provider` per target and address outside every range.
pub(crate) fn check(
    _record: &Record,
    outcomes: &[TargetOutcome],
    facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let Some(ranges) = facts.provider_ranges() else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for (outcome, page) in reachable(outcomes) {
        for ip in served_from(page) {
            if ranges.contains(ip) {
                continue;
            }
            let evidence = Evidence {
                address: Some(ip.to_string()),
                ..Evidence::default()
            };
            findings.push(Finding::new(
                FindingCode::IpNotProvider,
                Some(outcome.label()),
                evidence,
            ));
        }
    }
    findings
}

/// The English and Chinese messages: the address, and what to change.
pub(crate) fn messages(evidence: &Evidence) -> (String, String) {
    let address = evidence.address.as_deref().unwrap_or_default();
    (
        format!(
            "the site is served from {address}, outside the hosting provider's own address \
             ranges (--provider-ranges); serve it from the provider's servers, or move the \
             filing's access (接入) to the provider that serves it"
        ),
        format!(
            "网站解析 IP {address} 不在本接入商的 IP 地址段内（服务解析非本接入商）；\
             请将网站解析至本接入商的服务器，或将备案接入信息变更至实际接入商"
        ),
    )
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::test_support::{codes, page_with_footer, reached, record, Facts};

    #[rstest]
    #[case::address("203.0.113.7", &["203.0.113.7/32"])]
    #[case::range("203.0.113.7/24", &["203.0.113.0/24"])]
    #[case::comments_and_blanks(
        "# our ranges\n\n203.0.113.0/24   # Beijing\n  2001:db8::/32\n",
        &["203.0.113.0/24", "2001:db8::/32"]
    )]
    #[case::crlf_and_bom("\u{feff}198.51.100.0/24\r\n10.0.0.1\r\n", &["198.51.100.0/24", "10.0.0.1/32"])]
    fn ranges_parse(#[case] text: &str, #[case] want: &[&str]) {
        let ranges = ProviderRanges::parse(text).unwrap();
        let got: Vec<String> = ranges.nets.iter().map(ToString::to_string).collect();
        assert_eq!(got, want);
    }

    #[rstest]
    #[case::bad_line("203.0.113.0/24\n# fine\nnot-an-ip\n", 3, "not-an-ip")]
    #[case::bad_prefix("203.0.113.0/33\n", 1, "203.0.113.0/33")]
    #[case::host_name("example.cn\n", 1, "example.cn")]
    #[case::nothing_but_comments("# nothing\n\n", 0, "")]
    fn bad_lines_are_named(#[case] text: &str, #[case] line: usize, #[case] shown: &str) {
        let err = ProviderRanges::parse(text).unwrap_err();
        assert_eq!((err.line, err.text.as_str()), (line, shown));
    }

    /// Facts with provider ranges.
    struct Ranged(ProviderRanges);

    impl ScanFacts for Ranged {
        fn filed_number(&self, _: &str) -> Option<crate::filing::IcpNumber> {
            None
        }

        fn subject_shares_page(&self, _: &crate::filing::IcpNumber, _: &str, _: &str) -> bool {
            false
        }

        fn provider_ranges(&self) -> Option<&ProviderRanges> {
            Some(&self.0)
        }
    }

    fn served_from(addresses: &[&str]) -> TargetOutcome {
        let mut page = page_with_footer("", None);
        page.addresses = addresses.iter().map(|a| (*a).to_owned()).collect();
        reached("example.cn", page)
    }

    #[rstest]
    #[case::inside(&["203.0.113.200"], &[])]
    #[case::outside(&["198.51.100.1"], &["198.51.100.1"])]
    #[case::ipv6_inside(&["2001:db8::7"], &[])]
    #[case::ipv6_bracketed_outside(&["[2001:db9::7]"], &["2001:db9::7"])]
    #[case::ipv4_mapped_inside(&["::ffff:203.0.113.7"], &[])]
    #[case::unparsable_ignored(&["not-an-ip", "203.0.113.7"], &[])]
    #[case::hops_each_once(
        &["198.51.100.1", "203.0.113.7", "198.51.100.2", "198.51.100.1"],
        &["198.51.100.1", "198.51.100.2"]
    )]
    fn served_addresses_are_the_providers(#[case] addresses: &[&str], #[case] outside: &[&str]) {
        let ranges = ProviderRanges::parse("203.0.113.0/24\n2001:db8::/32\n").unwrap();
        let findings = check(
            &record("example.cn"),
            &[served_from(addresses)],
            &Ranged(ranges),
        );
        assert!(codes(&findings)
            .iter()
            .all(|c| *c == FindingCode::IpNotProvider));
        let reported: Vec<_> = findings
            .iter()
            .map(|f| f.evidence.address.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(reported, outside);
    }

    #[test]
    fn without_ranges_nothing_is_judged() {
        let findings = check(
            &record("example.cn"),
            &[served_from(&["198.51.100.1"])],
            &Facts::default(),
        );
        assert_eq!(findings, []);
    }

    #[test]
    fn the_message_names_the_address_and_the_fix() {
        let evidence = Evidence {
            address: Some("198.51.100.1".to_owned()),
            ..Evidence::default()
        };
        let (en, zh) = messages(&evidence);
        assert!(
            en.contains("198.51.100.1") && en.contains("provider"),
            "{en}"
        );
        assert!(
            zh.contains("198.51.100.1") && zh.contains("服务解析非本接入商"),
            "{zh}"
        );
    }
}
