//! The command line as a user meets it: exit codes 0, 1 and 2, and rows
//! that cannot be read. (What each input format reads, and what
//! `--fail-on` makes of findings, are the unit tests of `input` and
//! `output::summary`; `-o FILE` is run by `resilience.rs`; the refusal of
//! addresses nobody mapped by `guard.rs`.)

use beian_audit::rules::FindingCode::{IcpNumberMissing, InputInvalid};
use beian_audit::rules::Verdict;
use pretty_assertions::assert_eq;

use crate::common::{assert_findings, findings, records, report, FixtureFarm, On, Scan};

#[test]
fn exit_0_when_every_record_passes_and_a_bom_is_skipped() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm).input_file(records("bom.csv")).run();
    output.assert_status(0);
    let reports = output.reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0].domain, "icp-ok.test");
    assert_findings(&reports[0], &[]);
}

#[test]
fn broken_rows_are_reported_one_by_one_and_good_rows_are_scanned() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm)
        .input_file(records("broken-rows.csv"))
        .run();
    output.assert_status(1);
    let reports = output.reports();
    assert_eq!(reports.len(), 6, "one line per row: {reports:#?}");

    let mut invalid: Vec<u64> = Vec::new();
    for report in reports
        .iter()
        .filter(|r| r.findings.iter().any(|f| f.code == InputInvalid))
    {
        assert_eq!(
            findings(report),
            vec![(InputInvalid, None)],
            "line {}: {report:#?}",
            report.line
        );
        assert_eq!(report.verdict, Verdict::Fail, "line {}", report.line);
        assert!(
            report.targets.is_empty(),
            "line {} has targets",
            report.line
        );
        invalid.push(report.line);
    }
    invalid.sort_unstable();
    // bad domain, unparseable ICP number, wrong field count, empty domain
    assert_eq!(invalid, vec![3, 5, 6, 7]);

    let ok = report(&reports, "icp-ok.test");
    assert_eq!(ok.line, 2);
    assert_eq!(ok.id, Some(serde_json::json!("b-02")));
    assert_findings(ok, &[]);
    let missing = report(&reports, "icp-missing.test");
    assert_eq!(missing.line, 4);
    assert_findings(missing, &[(IcpNumberMissing, On::All)]);
}

#[test]
fn exit_2_when_the_scan_cannot_run() {
    let farm = FixtureFarm::start();
    let cases: [(&str, Scan); 4] = [
        (
            "unknown flag",
            Scan::new(&farm)
                .input_file(records("bom.csv"))
                .arg("--no-such-flag"),
        ),
        (
            "bad --fail-on value",
            Scan::new(&farm)
                .input_file(records("bom.csv"))
                .arg("--fail-on")
                .arg("sometimes"),
        ),
        (
            "unreadable input file",
            Scan::new(&farm).input_file("/nonexistent/records.csv"),
        ),
        (
            "no browser at --chrome",
            Scan::new(&farm)
                .input_file(records("bom.csv"))
                .arg("--chrome")
                .arg("/nonexistent/chromium"),
        ),
    ];
    for (case, scan) in cases {
        let output = scan.run();
        assert_eq!(output.status, Some(2), "{case}: stderr:\n{}", output.stderr);
        assert_eq!(output.stdout, "", "{case}: nothing on stdout");
        assert!(!output.stderr.trim().is_empty(), "{case}: stderr says why");
    }
}
