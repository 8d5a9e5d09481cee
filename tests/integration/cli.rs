//! The command line as a user meets it: exit codes 0/1/2, `--fail-on`,
//! the input formats, unreadable rows, `-o FILE`, stdout discipline, and
//! the refusal of addresses nobody mapped.

use beian_audit::rules::FindingCode::{
    AddressRefused, GonganNotLinked, GonganNumberWrong, IcpNumberMissing, IcpNumberWrong,
    InputInvalid, SiteUnreachable, TitleMismatch,
};
use beian_audit::rules::Verdict;
use pretty_assertions::assert_eq;

use crate::common::{assert_findings, findings, records, report, FixtureFarm, On, Scan};

/// One record that has warnings only (`gongan-not-linked` on every target).
const WARNINGS_ONLY: &str = "domain,service_name,icp_number,gongan_number\n\
    gongan-unlinked.test,麦田烘焙,琼ICP备19325678号-1,琼公网安备 46010602000456号\n";

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
fn chinese_headers_are_read() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm).input_file(records("zh-headers.csv")).run();
    output.assert_status(1);
    let reports = output.reports();
    assert_eq!(reports.len(), 3, "{reports:#?}");
    // Each finding needs one column: 服务名称, 备案号, 公安备案号.
    assert_findings(
        report(&reports, "title-wrong.test"),
        &[(TitleMismatch, On::All)],
    );
    assert_findings(
        report(&reports, "icp-wrong-number.test"),
        &[(IcpNumberWrong, On::All)],
    );
    assert_findings(
        report(&reports, "gongan-wrong.test"),
        &[(GonganNumberWrong, On::All)],
    );
}

#[test]
fn ndjson_is_read_and_ids_pass_through_untouched() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm).input_file(records("records.ndjson")).run();
    output.assert_status(1);
    let reports = output.reports();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    let ok = report(&reports, "icp-ok.test");
    assert_eq!(ok.id, Some(serde_json::json!(7)));
    assert_findings(ok, &[]);
    let wrong = report(&reports, "icp-wrong-number.test");
    assert_eq!(wrong.id, Some(serde_json::json!("nd-2")));
    assert_findings(wrong, &[(IcpNumberWrong, On::All)]);
}

#[test]
fn a_plain_domain_list_is_read_and_fail_on_never_exits_0() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm)
        .input_file(records("domains.txt"))
        .arg("--fail-on")
        .arg("never")
        .run();
    output.assert_status(0);
    let reports = output.reports();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_findings(report(&reports, "icp-ok.test"), &[]);
    assert_findings(
        report(&reports, "icp-missing.test"),
        &[(IcpNumberMissing, On::All)],
    );
}

#[test]
fn output_file_gets_the_lines_and_stdout_stays_empty() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out.ndjson");
    let output = Scan::new(&farm)
        .stdin(WARNINGS_ONLY)
        .arg("--input-format")
        .arg("csv")
        .arg("-o")
        .arg(&out)
        .run();
    // Warnings only: the default --fail-on error passes.
    output.assert_status(0);
    assert_eq!(output.stdout, "", "stdout must stay empty with -o");
    let written = crate::common::ScanOutput {
        status: output.status,
        stdout: std::fs::read_to_string(&out).expect("-o file written"),
        stderr: output.stderr,
    };
    let reports = written.reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_findings(&reports[0], &[(GonganNotLinked, On::All)]);
}

#[test]
fn fail_on_warning_exits_1_on_warnings() {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm)
        .stdin(WARNINGS_ONLY)
        .arg("--input-format")
        .arg("csv")
        .arg("--fail-on")
        .arg("warning")
        .run();
    output.assert_status(1);
    let reports = output.reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_findings(&reports[0], &[(GonganNotLinked, On::All)]);
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

#[test]
fn hosts_not_mapped_by_resolve_may_not_reach_loopback() {
    let farm = FixtureFarm::start();
    // Per-host rules instead of `*`: `localhost` resolves through the system
    // to 127.0.0.1, which the crawler refuses; the mapped host is visited.
    let output = Scan::new(&farm)
        .resolve_only(&farm, &["icp-ok.test", "www.icp-ok.test"])
        .stdin(
            "domain,service_name,icp_number\n\
             localhost,本机站点,京ICP备18012345号-1\n\
             icp-ok.test,清风文化,京ICP备18012345号-1\n",
        )
        .arg("--input-format")
        .arg("csv")
        .run();
    output.assert_status(1);
    let reports = output.reports();
    assert_findings(report(&reports, "icp-ok.test"), &[]);

    let refused = report(&reports, "localhost");
    assert_eq!(refused.verdict, Verdict::Fail);
    let mut apex = Vec::new();
    let mut www = 0;
    for (code, target) in findings(refused) {
        let target = target.expect("every finding names its target");
        if target.starts_with("http://localhost/") {
            apex.push((code, target));
        } else {
            // The system resolver may not know www.localhost at all (glibc
            // does not), which makes it unreachable rather than refused.
            assert!(
                target.starts_with("http://www.localhost/")
                    && (code == AddressRefused || code == SiteUnreachable),
                "unexpected finding {code} on {target}"
            );
            www += 1;
        }
    }
    assert_eq!(www, 2, "one finding per www.localhost target");
    assert_eq!(
        apex,
        vec![
            (AddressRefused, "http://localhost/#desktop".to_owned()),
            (AddressRefused, "http://localhost/#mobile".to_owned()),
        ]
    );
}
