//! Assertions on reports: a record's findings as (code, target) pairs.

use std::fmt::Write as _;

use beian_audit::output::RecordReport;
use beian_audit::rules::{FindingCode, Severity, Verdict};
use beian_audit::targets::Device;
use pretty_assertions::assert_eq;

/// The one report for `domain`.
///
/// # Panics
///
/// When there is none, or more than one.
pub(crate) fn report<'r>(reports: &'r [RecordReport], domain: &str) -> &'r RecordReport {
    let mut found = reports.iter().filter(|r| r.domain == domain);
    let report = found
        .next()
        .unwrap_or_else(|| panic!("no report for {domain}"));
    assert!(found.next().is_none(), "several reports for {domain}");
    report
}

/// The finding-target label SPEC §4 gives a host on a device, for `http`.
pub(crate) fn label(host: &str, device: Device) -> String {
    format!("http://{host}/#{device}")
}

/// Which of a record's targets an expected finding is on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum On {
    /// The record itself (`target: null`).
    Record,
    /// All four targets: apex and `www.`, desktop and mobile.
    All,
    /// Both hosts on the phone.
    Mobile,
}

/// The (code, target) pairs `expected` stands for on `domain`'s record,
/// sorted.
pub(crate) fn expand(
    domain: &str,
    expected: &[(FindingCode, On)],
) -> Vec<(FindingCode, Option<String>)> {
    let www = format!("www.{domain}");
    let mut pairs = Vec::new();
    for &(code, on) in expected {
        let devices: &[Device] = match on {
            On::Record => {
                pairs.push((code, None));
                continue;
            }
            On::All => &Device::ALL,
            On::Mobile => &[Device::Mobile],
        };
        for host in [domain, www.as_str()] {
            for &device in devices {
                pairs.push((code, Some(label(host, device))));
            }
        }
    }
    pairs.sort();
    pairs
}

/// The (code, target) pairs of a report's findings, sorted.
pub(crate) fn findings(report: &RecordReport) -> Vec<(FindingCode, Option<String>)> {
    let mut pairs: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.code, f.target.clone()))
        .collect();
    pairs.sort();
    pairs
}

/// Assert that `report` has exactly the findings `expected` (as a multiset
/// of code and target), and the verdict they imply.
pub(crate) fn assert_findings(report: &RecordReport, expected: &[(FindingCode, On)]) {
    let want = expand(&report.domain, expected);
    assert_eq!(
        findings(report),
        want,
        "findings of {} (left: got, right: expected); targets:\n{}",
        report.domain,
        describe_targets(report)
    );
    let errors = want
        .iter()
        .filter(|(code, _)| code.severity() == Severity::Error)
        .count();
    let verdict = if errors == 0 {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    assert_eq!(report.verdict, verdict, "verdict of {}", report.domain);
}

/// One line per target with the facts that explain findings.
pub(crate) fn describe_targets(report: &RecordReport) -> String {
    let mut text = String::new();
    for t in &report.targets {
        let _ = writeln!(
            text,
            "  {}#{} status={:?} final={:?} title={:?} icp={:?} gongan={:?} error={:?} links={:?}",
            t.url,
            t.device,
            t.status,
            t.final_url,
            t.title,
            t.icp_numbers,
            t.gongan_numbers,
            t.error,
            t.links
        );
    }
    text
}
