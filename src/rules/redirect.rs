//! Rule `redirect` (A 跳转 B): a target that ends on another registrable
//! domain gets a `redirected-offsite` warning naming it. The beian-link rule
//! then expects the landing domain's number (see `beian_link`).
//!
//! "Another" means neither the record's registrable domain nor the target
//! host's own (an extra `hosts` entry may sit on a different domain and is
//! not a redirect when it stays there). Public-suffix aware via `psl`.

use std::net::IpAddr;

use url::{Host, Url};

use crate::input::Record;
use crate::rules::{reachable, Evidence, Finding, FindingCode, ScanFacts, TargetOutcome};
use crate::targets::Target;

/// One `redirected-offsite` warning per target that landed off-site.
pub(crate) fn check(
    record: &Record,
    outcomes: &[TargetOutcome],
    facts: &dyn ScanFacts,
) -> Vec<Finding> {
    reachable(outcomes)
        .filter_map(|(outcome, page)| {
            let landing = offsite_domain(record, &outcome.target, &page.final_url)?;
            let evidence = Evidence {
                expected: facts.filed_number(&landing).map(|n| n.to_string()),
                domain: Some(landing),
                final_url: Some(page.final_url.clone()),
                ..Evidence::default()
            };
            Some(Finding::new(
                FindingCode::RedirectedOffsite,
                Some(outcome.label()),
                evidence,
            ))
        })
        .collect()
}

/// The registrable domain of `host` (`www.a.com.cn` → `a.com.cn`), lower
/// case. An IP address, or a name the public-suffix list cannot split
/// (`localhost`), is its own registrable domain.
pub fn registrable_domain(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return bare.to_owned();
    }
    psl::domain_str(&host).map_or_else(|| host.clone(), str::to_owned)
}

/// The registrable domain `final_url` is on, when that is neither the
/// record's nor `target`'s own; `None` when the page stayed on-site or the
/// URL has no host (`about:blank`, `data:`).
#[must_use]
pub fn offsite_domain(record: &Record, target: &Target, final_url: &str) -> Option<String> {
    let url = Url::parse(final_url).ok()?;
    let landing = match url.host()? {
        Host::Domain(name) => registrable_domain(name),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => ip.to_string(),
    };
    let home = [
        registrable_domain(&record.ascii_domain),
        registrable_domain(&target.host),
    ];
    (!home.contains(&landing)).then_some(landing)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::rules::test_support::{
        codes, icp, landing_on, page_with_footer, reached, record, Facts,
    };

    #[rstest]
    #[case::apex_to_www("example.cn", "example.cn", "https://www.example.cn/", None)]
    #[case::deep_path_same_domain(
        "example.cn",
        "www.example.cn",
        "https://example.cn/zh/index.html",
        None
    )]
    #[case::public_suffix_com_cn("a.com.cn", "a.com.cn", "https://www.b.com.cn/", Some("b.com.cn"))]
    #[case::subdomain_of_same_com_cn("a.com.cn", "a.com.cn", "https://shop.a.com.cn/", None)]
    #[case::other_domain(
        "example.cn",
        "www.example.cn",
        "https://WWW.Other.com/x?y",
        Some("other.com")
    )]
    #[case::idn_landing(
        "example.cn",
        "example.cn",
        "https://www.例子.中国/",
        Some("xn--fsqu00a.xn--fiqs8s")
    )]
    #[case::ip_landing(
        "example.cn",
        "example.cn",
        "http://203.0.113.9:8080/",
        Some("203.0.113.9")
    )]
    #[case::extra_host_on_its_own_domain(
        "example.cn",
        "m.example-mobile.cn",
        "https://m.example-mobile.cn/",
        None
    )]
    #[case::no_host("example.cn", "example.cn", "about:blank", None)]
    #[case::unknown_tld_fixture("a.test", "a.test", "http://www.b.test/", Some("b.test"))]
    fn offsite_is_another_registrable_domain(
        #[case] domain: &str,
        #[case] host: &str,
        #[case] final_url: &str,
        #[case] expected: Option<&str>,
    ) {
        let target = Target {
            host: host.to_owned(),
            device: crate::targets::Device::Mobile,
        };
        assert_eq!(
            offsite_domain(&record(domain), &target, final_url).as_deref(),
            expected
        );
    }

    #[test]
    fn warning_names_landing_domain_and_its_filed_number() {
        let page = landing_on(page_with_footer("", None), "https://www.other.cn/home");
        let facts = Facts {
            filed: vec![("other.cn".to_owned(), icp("沪ICP备87654321号-2"))],
            shared_page: false,
        };
        let findings = check(
            &record("example.cn"),
            &[reached("example.cn", page)],
            &facts,
        );
        assert_eq!(codes(&findings), [FindingCode::RedirectedOffsite]);
        let evidence = &findings[0].evidence;
        assert_eq!(evidence.domain.as_deref(), Some("other.cn"));
        assert_eq!(
            evidence.final_url.as_deref(),
            Some("https://www.other.cn/home")
        );
        assert_eq!(evidence.expected.as_deref(), Some("沪ICP备87654321号-2"));
    }

    #[test]
    fn staying_on_site_gives_nothing() {
        let page = landing_on(page_with_footer("", None), "https://www.example.cn/");
        let findings = check(
            &record("example.cn"),
            &[reached("example.cn", page)],
            &Facts::default(),
        );
        assert_eq!(codes(&findings), []);
    }
}
