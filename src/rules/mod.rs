//! The rules engine: record + page facts → findings. Pure: no browser, no
//! tokio, no clock. Each rule lives in its own module with one `check`.
//!
//! Owns the judgement of SPEC §1–2; knows nothing of how pages are rendered
//! (it reads `page::PageSnapshot`) nor of how findings are written.

mod beian_link;
pub mod finding;
mod fix;
pub(crate) use fix::escape as escape_html;
mod gongan;
mod name_subject;
mod no_page;
pub mod occurrence;
mod pre_approval;
pub mod provider;
mod redirect;
mod served_ip;
mod site_name;
mod title_match;

#[cfg(test)]
pub(crate) mod test_support;

use std::time::Duration;

pub use finding::{messages, Evidence, Finding, FindingCode, RuleId, Severity, Verdict};
pub use occurrence::{Occurrence, Shown};
pub use provider::ProviderRanges;
pub use redirect::{offsite_domain, registrable_domain};

use crate::filing::IcpNumber;
use crate::input::Record;
use crate::page::{PageSnapshot, TargetFailure, Unreachable};
use crate::targets::Target;

/// One target's result: the page facts, or why there are none.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// The host and device.
    pub target: Target,
    /// The URL that was navigated (after the `--scheme auto` fallback).
    pub url: String,
    /// What the browser saw, or why it saw nothing.
    pub result: Result<PageSnapshot, TargetFailure>,
    /// Wall time spent on this target.
    pub elapsed: Duration,
    /// When `result` is a failure, the facts that could still be read (the
    /// final URL, status and addresses of an HTTP error page); never judged.
    pub partial: Option<PageSnapshot>,
    /// Why https failed when `--scheme auto` fell back to http (`url` is
    /// then the http one); `None` when no fallback happened.
    pub https_error: Option<Unreachable>,
    /// The target URL whose render this target shares: its navigation
    /// reached the page that target had already rendered (an apex that
    /// redirects to `www.`); `None` when it rendered its own page.
    pub shared_render: Option<String>,
    /// What the page of `result` shows, recognised once by
    /// [`TargetOutcome::new`] (empty when there is no page): the rules
    /// judge it, the output lists it.
    pub shown: Shown,
}

impl TargetOutcome {
    /// The outcome of `target` navigated at `url`: `result`, and what its
    /// page shows; no fallback, no shared render, no partial page.
    #[must_use]
    pub fn new(
        target: Target,
        url: String,
        result: Result<PageSnapshot, TargetFailure>,
        elapsed: Duration,
    ) -> TargetOutcome {
        let shown = result.as_ref().map(Shown::of).unwrap_or_default();
        TargetOutcome {
            target,
            url,
            result,
            elapsed,
            partial: None,
            https_error: None,
            shared_render: None,
            shown,
        }
    }

    /// The finding `target` label: the URL with `#desktop` or `#mobile`.
    #[must_use]
    pub fn label(&self) -> String {
        format!("{}#{}", self.url, self.target.device)
    }
}

/// Facts about the whole scan that some rules need beyond one record.
pub trait ScanFacts {
    /// The filed ICP number of the scan's record whose registrable domain is
    /// `registrable_domain`, if the scan has one.
    fn filed_number(&self, registrable_domain: &str) -> Option<IcpNumber>;

    /// Whether another record of the scan (not `domain`) with subject number
    /// `subject` has a target that ended on `final_url`.
    fn subject_shares_page(&self, subject: &IcpNumber, domain: &str, final_url: &str) -> bool;

    /// The hosting provider's own address ranges (`--provider-ranges`),
    /// when the scan has them.
    fn provider_ranges(&self) -> Option<&ProviderRanges> {
        None
    }
}

/// Every finding of `record`, given its targets' outcomes, in SPEC order.
///
/// Findings come ordered by rule (SPEC §1's order, then `input` and
/// `crawler`), and within a rule by target (record-level findings first, then
/// the targets in the order of `outcomes`).
pub fn evaluate(
    record: &Record,
    outcomes: &[TargetOutcome],
    facts: &dyn ScanFacts,
) -> Vec<Finding> {
    let mut findings = no_page::check(record, outcomes, facts);
    findings.extend(title_match::check(record, outcomes, facts));
    findings.extend(beian_link::check(record, outcomes, facts));
    findings.extend(gongan::check(record, outcomes, facts));
    findings.extend(redirect::check(record, outcomes, facts));
    findings.extend(served_ip::check(record, outcomes, facts));
    findings.extend(provider::check(record, outcomes, facts));
    findings.extend(site_name::check(record, outcomes, facts));
    findings.extend(name_subject::check(record, outcomes, facts));
    findings.extend(pre_approval::check(record, outcomes, facts));
    fix::attach(record, &mut findings);
    // `address-refused` and `crawler-error` come from no_page (one
    // finding per failed target) but belong to later rules: sort stably.
    findings.sort_by_key(|f| {
        let place = f
            .target
            .as_ref()
            .and_then(|label| outcomes.iter().position(|o| &o.label() == label));
        (f.rule, place)
    });
    findings
}

/// The targets that produced a page, with the page.
pub(crate) fn reachable(
    outcomes: &[TargetOutcome],
) -> impl Iterator<Item = (&TargetOutcome, &PageSnapshot)> {
    outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok().map(|page| (o, page)))
}

#[cfg(test)]
mod tests {
    use super::test_support::{
        failed, filed, landing_on, outcome, page_with_footer, reached, Facts, MIIT,
    };
    use super::*;
    use crate::page::Unreachable;
    use crate::targets::Device;
    use FindingCode::{
        AddressRefused, CrawlerError, IcpNotLinked, IpNotFiled, NameRestrictedKeyword,
        RedirectedOffsite, SiteUnreachable, TitleMismatch,
    };

    const FILED: &str = "京ICP备12345678号-1";

    fn summary(findings: &[Finding]) -> Vec<(FindingCode, Option<&str>)> {
        findings
            .iter()
            .map(|f| (f.code, f.target.as_deref()))
            .collect()
    }

    #[test]
    fn unreachable_target_gets_only_site_unreachable() {
        let record = Record {
            service_name: Some("例子网".to_owned()),
            gongan_number: Some(
                crate::filing::GonganNumber::parse("京公网安备11010502030143号").unwrap(),
            ),
            ips: vec!["203.0.113.0/24".parse().unwrap()],
            ..filed("example.cn", FILED)
        };
        let outcomes = [failed(
            "example.cn",
            TargetFailure::Unreachable(Unreachable::Dns {
                detail: "net::ERR_NAME_NOT_RESOLVED".to_owned(),
            }),
        )];
        let findings = evaluate(&record, &outcomes, &Facts::default());
        assert_eq!(
            summary(&findings),
            [(SiteUnreachable, Some("https://example.cn/#desktop"))]
        );
        assert_eq!(Verdict::of(&findings), Verdict::Fail);
    }

    #[test]
    fn findings_come_in_rule_order_then_target_order() {
        let record = Record {
            service_name: Some("中国例子网".to_owned()),
            ips: vec!["203.0.113.0/24".parse().unwrap()],
            ..filed("example.cn", FILED)
        };
        let mut served_elsewhere = page_with_footer(FILED, None);
        served_elsewhere.title = "中国例子网".to_owned();
        served_elsewhere.addresses = vec!["198.51.100.1".to_owned()];
        let mut offsite = landing_on(page_with_footer(FILED, Some(MIIT)), "https://other.cn/");
        offsite.title = "别处".to_owned();
        let outcomes = [
            failed(
                "example.cn",
                TargetFailure::AddressRefused {
                    host: "example.cn".to_owned(),
                    address: "10.0.0.1".to_owned(),
                },
            ),
            outcome("example.cn", Device::Mobile, Ok(served_elsewhere)),
            reached("www.example.cn", offsite),
            outcome(
                "www.example.cn",
                Device::Mobile,
                Err(TargetFailure::Crawler {
                    reason: "browser crashed".to_owned(),
                }),
            ),
        ];
        let findings = evaluate(&record, &outcomes, &Facts::default());
        let apex_mobile = Some("https://example.cn/#mobile");
        assert_eq!(
            summary(&findings),
            [
                (TitleMismatch, Some("https://www.example.cn/#desktop")),
                (IcpNotLinked, apex_mobile),
                (RedirectedOffsite, Some("https://www.example.cn/#desktop")),
                (AddressRefused, Some("https://example.cn/#desktop")),
                (IpNotFiled, apex_mobile),
                (NameRestrictedKeyword, None),
                (NameRestrictedKeyword, apex_mobile),
                (CrawlerError, Some("https://www.example.cn/#mobile")),
            ]
        );
    }

    #[test]
    fn crawler_errors_alone_give_verdict_error() {
        let outcomes = [failed(
            "example.cn",
            TargetFailure::Crawler {
                reason: "protocol error".to_owned(),
            },
        )];
        let findings = evaluate(&filed("example.cn", FILED), &outcomes, &Facts::default());
        assert_eq!(
            summary(&findings),
            [(CrawlerError, Some("https://example.cn/#desktop"))]
        );
        assert_eq!(Verdict::of(&findings), Verdict::Error);
    }

    #[test]
    fn a_correct_site_passes() {
        let mut page = page_with_footer(FILED, Some(MIIT));
        page.title = "例子网 - 首页".to_owned();
        let record = Record {
            service_name: Some("例子网".to_owned()),
            ..filed("example.cn", FILED)
        };
        let outcomes: Vec<_> = crate::targets::expand(&record)
            .into_iter()
            .map(|t| outcome(&t.host, t.device, Ok(page.clone())))
            .collect();
        let findings = evaluate(&record, &outcomes, &Facts::default());
        assert_eq!(summary(&findings), []);
        assert_eq!(Verdict::of(&findings), Verdict::Pass);
    }
}
