//! Running in production: `--summary FILE` agrees with the JSON lines,
//! `--log-format json` makes every stderr line a JSON object, stdout stays
//! pure JSON lines, and `--evidence DIR` pictures exactly the failing
//! targets (and `report` inlines those pictures).

use std::collections::BTreeMap;
use std::path::Path;

use beian_audit::output::summary::{SummaryReport, VerdictCounts};
use beian_audit::output::RecordReport;
use beian_audit::rules::{FindingCode, Severity, Verdict};
use pretty_assertions::assert_eq;

use crate::common::{FixtureFarm, Scan};

/// A pass, a fail on every target, a fail on the phone only, a warning
/// only, an unreachable site and an unreadable row.
const RECORDS: &str = "domain,service_name,icp_number,gongan_number,ips,hosts,id\n\
    icp-ok.test,清风文化,京ICP备18012345号-1,,,,s-1\n\
    icp-unlinked.test,云朵家居,湘ICP备17093456号-1,,,,s-2\n\
    icp-hidden-mobile.test,白鹭旅行,闽ICP备18061234号-1,,,,s-3\n\
    icp-not-in-footer.test,墨香书院,豫ICP备19115678号-1,,,,s-4\n\
    status-404.test,旧时光博客,皖ICP备16269012号-1,,,,s-5\n\
    ,无域名网站,京ICP备18012345号-1,,,,s-6\n";

fn write_records(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("records.csv");
    std::fs::write(&path, RECORDS).expect("write records.csv");
    path
}

#[test]
fn summary_json_matches_the_output_and_json_logs_keep_every_stderr_line_json() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().unwrap();
    let summary_path = dir.path().join("summary.json");
    let output = Scan::new(&farm)
        .input_file(write_records(dir.path()))
        .arg("--summary")
        .arg(&summary_path)
        .arg("--log-format")
        .arg("json")
        .run();
    output.assert_status(1);
    // stdout: JSON lines of reports and nothing else.
    let reports = output.reports();
    assert_eq!(reports.len(), 6);

    // stderr: every line a JSON object (logs, progress, the summary event).
    let mut messages = Vec::new();
    for line in output.stderr.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
            panic!(
                "stderr line is not JSON ({e}): {line:?}\nstderr:\n{}",
                output.stderr
            )
        });
        assert!(value.is_object(), "{line}");
        messages.push(
            value["fields"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        messages.iter().any(|m| m == "scan finished"),
        "{messages:?}"
    );

    let text = std::fs::read_to_string(&summary_path).unwrap();
    let summary: SummaryReport = serde_json::from_str(&text).unwrap();
    let mut verdicts = VerdictCounts::default();
    let mut codes: BTreeMap<FindingCode, u64> = BTreeMap::new();
    for report in &reports {
        match report.verdict {
            Verdict::Pass => verdicts.pass += 1,
            Verdict::Fail => verdicts.fail += 1,
            Verdict::Error => verdicts.error += 1,
        }
        for finding in &report.findings {
            *codes.entry(finding.code).or_default() += 1;
        }
    }
    assert_eq!(summary.records, reports.len() as u64);
    assert_eq!(summary.total, Some(6), "a file input is counted ahead");
    assert_eq!(summary.verdicts, verdicts);
    assert_eq!(summary.findings, codes);
    assert_eq!(
        summary.targets,
        reports.iter().map(|r| r.targets.len() as u64).sum::<u64>()
    );
    assert!(!summary.interrupted);
    assert!(summary.targets_per_s > 0.0);
    // `reports()` zeroes the timings; read them from the raw lines.
    let raw: Vec<RecordReport> = output
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut slowest: Vec<(u64, String)> = raw
        .iter()
        .flat_map(|r| {
            r.targets
                .iter()
                .map(|t| (t.elapsed_ms, format!("{}#{}", t.url, t.device)))
        })
        .collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    assert_eq!(summary.slowest.len(), 10);
    let got: Vec<u64> = summary.slowest.iter().map(|s| s.elapsed_ms).collect();
    let want: Vec<u64> = slowest.iter().take(10).map(|s| s.0).collect();
    assert_eq!(got, want, "the ten slowest targets, slowest first");
}

#[test]
fn text_logs_end_with_the_summary_table_and_no_progress_means_none() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm)
        .stdin("icp-ok.test\n")
        .arg("--no-progress")
        .run();
    output.assert_status(0);
    assert_eq!(output.reports().len(), 1);
    assert!(
        output
            .stderr
            .contains("beian-audit: 1 records, 4 targets in"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("progress"), "{}", output.stderr);
}

/// Whether the target labelled `label` has an error finding about its page.
fn fails(report: &RecordReport, label: &str) -> bool {
    report.findings.iter().any(|f| {
        f.target.as_deref() == Some(label)
            && f.severity == Severity::Error
            && !matches!(
                f.code,
                FindingCode::SiteUnreachable
                    | FindingCode::AddressRefused
                    | FindingCode::CrawlerError
            )
    })
}

#[test]
fn evidence_pictures_exactly_the_failing_targets_and_report_inlines_them() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence");
    let output = Scan::new(&farm)
        .input_file(write_records(dir.path()))
        .arg("--evidence")
        .arg(&evidence)
        .arg("--no-progress")
        .run();
    output.assert_status(1);
    let reports = output.reports();

    let mut expected_files = Vec::new();
    for report in &reports {
        for target in &report.targets {
            let label = format!("{}#{}", target.url, target.device);
            let shots: Vec<Option<&str>> = report
                .findings
                .iter()
                .filter(|f| f.target.as_deref() == Some(label.as_str()))
                .map(|f| f.evidence.screenshot.as_deref())
                .collect();
            if fails(report, &label) {
                let name = format!("{}-{}-{}.png", report.line, target.host, target.device);
                let want = evidence.canonicalize().unwrap().join(&name);
                assert!(
                    shots.iter().all(|s| *s == want.to_str()),
                    "{label}: every finding names {want:?}: {shots:?}"
                );
                let png = std::fs::read(&want).unwrap();
                assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is a PNG");
                expected_files.push(name);
            } else {
                assert!(
                    shots.iter().all(Option::is_none),
                    "{label} does not fail: {shots:?}"
                );
            }
        }
    }
    expected_files.sort();
    assert_eq!(
        expected_files,
        vec![
            "3-icp-unlinked.test-desktop.png",
            "3-icp-unlinked.test-mobile.png",
            "3-www.icp-unlinked.test-desktop.png",
            "3-www.icp-unlinked.test-mobile.png",
            "4-icp-hidden-mobile.test-mobile.png",
            "4-www.icp-hidden-mobile.test-mobile.png",
        ]
    );
    let mut on_disk: Vec<String> = std::fs::read_dir(&evidence)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk, expected_files,
        "pictures of passing targets are deleted"
    );

    let ndjson = dir.path().join("scan.ndjson");
    std::fs::write(&ndjson, &output.stdout).unwrap();
    let html_path = dir.path().join("report.html");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_beian-audit"))
        .arg("report")
        .arg(&ndjson)
        .arg("-o")
        .arg(&html_path)
        .status()
        .unwrap();
    assert!(status.success());
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(
        html.matches("src=\"data:image/png;base64,").count(),
        expected_files.len()
    );
}
