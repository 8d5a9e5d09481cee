//! The rest of the 核查 checklist end to end, with a real Chromium (#15):
//! names that do not fit the subject type, pre-approval topics in a
//! homepage heading (and silenced by `approvals`), the provider's address
//! ranges, the fix to paste, and a week-over-week `diff` of two scans of a
//! farm whose sites changed in between (`report --baseline` and the CSV on
//! the same two files). `fixtures/README.md` says what each site does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use beian_audit::diff::{Change, RecordChange};
use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode::{
    self, IcpLinkWrongUrl, IcpNotLinked, IcpNumberMissing, IpNotProvider, NameSubjectMismatch,
    PreApprovalTopic,
};
use pretty_assertions::assert_eq;
use rstest::rstest;

use crate::common::{assert_findings, records, report, FixtureFarm, On, Scan, SITES};

/// The shared scan of `checklist.csv` (Chinese headers, `主办单位性质` and
/// `前置审批` among them).
fn checklist_scan() -> &'static [RecordReport] {
    static SCAN: OnceLock<Vec<RecordReport>> = OnceLock::new();
    SCAN.get_or_init(|| {
        let farm = FixtureFarm::start();
        let output = Scan::new(&farm)
            .input_file(records("checklist.csv"))
            .concurrency(4)
            .deadline(Duration::from_secs(300))
            .run();
        output.reports()
    })
}

#[rstest]
// 个人 whose title names a company (有限公司), on each target's title
#[case::individual_named_a_company("subject-individual.test", &[(NameSubjectMismatch, On::All)])]
// 政府机关 may use 人民政府 and 政府: no finding of either site-name code
#[case::government_words_of_a_government("subject-government.test", &[])]
// the h1 names 网络游戏; the record holds no approval (read from the page
// facts' `headings`, which the browser must fill)
#[case::game_heading("topic-game.test", &[(PreApprovalTopic, On::All)])]
// the same page, the record lists 网络游戏 in 前置审批
#[case::game_heading_approved("topic-game-approved.test", &[])]
fn checklist_findings(#[case] domain: &str, #[case] expected: &[(FindingCode, On)]) {
    assert_findings(report(checklist_scan(), domain), expected);
}

#[test]
fn name_subject_mismatch_names_the_word_and_the_subject() {
    let individual = report(checklist_scan(), "subject-individual.test");
    for f in &individual.findings {
        assert_eq!(f.evidence.keyword.as_deref(), Some("有限公司"));
        assert_eq!(f.evidence.expected.as_deref(), Some("个人"));
        assert!(f.message_zh.contains("修改网站名称"), "{}", f.message_zh);
    }
}

#[test]
fn pre_approval_topic_is_read_in_the_heading() {
    let game = report(checklist_scan(), "topic-game.test");
    for f in &game.findings {
        assert_eq!(
            (
                f.evidence.keyword.as_deref(),
                f.evidence.expected.as_deref(),
                f.evidence.reason.as_deref(),
                f.evidence.text.as_deref(),
            ),
            (
                Some("网络游戏"),
                Some("网络游戏"),
                Some("heading"),
                Some("星火互动：精品网络游戏")
            ),
            "{}",
            f.message
        );
    }
}

/// A scan of `icp-ok.test` alone with `--provider-ranges FILE`.
fn provider_scan(ranges: &str) -> RecordReport {
    let farm = FixtureFarm::start();
    let output = Scan::new(&farm)
        .stdin("domain,service_name,icp_number\nicp-ok.test,清风文化,京ICP备18012345号-1\n")
        .arg("--input-format")
        .arg("csv")
        .arg("--provider-ranges")
        .arg(records(ranges))
        .run();
    report(&output.reports(), "icp-ok.test").clone()
}

/// Needs the scan to hand its `--provider-ranges` to the judge
/// (`Judge::with_provider_ranges`).
#[test]
fn served_from_outside_the_provider_ranges() {
    let outside = provider_scan("provider-ranges.txt");
    assert_findings(&outside, &[(IpNotProvider, On::All)]);
    assert!(outside
        .findings
        .iter()
        .all(|f| f.evidence.address.as_deref() == Some("127.0.0.1")));
    assert_findings(&provider_scan("provider-ranges-local.txt"), &[]);
}

#[test]
fn a_bad_provider_ranges_line_stops_the_scan_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_beian-audit"))
        .args(["scan", "--provider-ranges"])
        .arg(records("provider-ranges-bad.txt"))
        .arg(records("checklist.csv"))
        .output()
        .expect("run beian-audit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains("line 4") && stderr.contains("203.0.113.300/24"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

/// The sites that change between the two weeks.
const WEEKLY: [&str; 3] = ["week-breaks.test", "week-fixed.test", "week-still.test"];

/// A farm root of symbolic links: the weekly sites point at their folder
/// (week 1) or its `week2/` (week 2), every other site at itself.
fn link_week(root: &Path, week: u8) {
    for entry in std::fs::read_dir(SITES).expect("fixtures/sites") {
        let entry = entry.expect("a site");
        let name = entry.file_name();
        let link = root.join(&name);
        let _ = std::fs::remove_file(&link);
        let target = if week == 2 && WEEKLY.iter().any(|w| name == *w) {
            entry.path().join("week2")
        } else {
            entry.path()
        };
        std::os::unix::fs::symlink(target, &link).expect("link a site");
    }
}

/// Scan `list` against `farm` and keep its output in `dir/name`.
fn scan_to(farm: &FixtureFarm, list: &str, dir: &Path, name: &str) -> (PathBuf, Vec<RecordReport>) {
    let output = Scan::new(farm)
        .input_file(records(list))
        .concurrency(4)
        .deadline(Duration::from_secs(300))
        .run();
    let path = dir.join(name);
    std::fs::write(&path, &output.stdout).expect("keep the scan's output");
    (path, output.reports())
}

/// `beian-audit ARGS`: exit code, stdout, stderr.
fn beian_audit(args: &[&std::ffi::OsStr]) -> (Option<i32>, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_beian-audit"))
        .args(args)
        .output()
        .expect("run beian-audit");
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The two weeks' scans of the farm, kept for the tests that read them.
struct Weeks {
    /// Holds the files (and the farm's root of links).
    _dir: tempfile::TempDir,
    /// Week 1's output.
    old: PathBuf,
    /// Week 2's output.
    new: PathBuf,
    /// Week 2's reports.
    week2: Vec<RecordReport>,
}

/// Scan `diff-week1.csv`, switch the `week-*` sites to their `week2/`
/// folders, scan `diff-week2.csv` (once for all the tests below).
fn weeks() -> &'static Weeks {
    static WEEKS: OnceLock<Weeks> = OnceLock::new();
    WEEKS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("sites");
        std::fs::create_dir(&root).expect("farm root");
        link_week(&root, 1);
        let farm = FixtureFarm::start_at(&root);
        let (old, _) = scan_to(&farm, "diff-week1.csv", dir.path(), "week1.ndjson");
        link_week(&root, 2);
        let (new, week2) = scan_to(&farm, "diff-week2.csv", dir.path(), "week2.ndjson");
        Weeks {
            _dir: dir,
            old,
            new,
            week2,
        }
    })
}

#[test]
fn a_number_or_link_finding_carries_the_fix_to_paste() {
    let broken = report(&weeks().week2, "week-breaks.test");
    assert!(!broken.findings.is_empty());
    for f in &broken.findings {
        assert_eq!(
            f.evidence.fix.as_deref(),
            Some("<a href=\"https://beian.miit.gov.cn/\" target=\"_blank\">京ICP备2023150011号-1</a>"),
            "{}",
            f.code
        );
    }
}

#[test]
fn a_week_later_diff_reports_every_change_and_fails_on_new_fail() {
    let Weeks { old, new, .. } = weeks();
    let (status, stdout, stderr) =
        beian_audit(&["diff".as_ref(), old.as_os_str(), new.as_os_str()]);
    assert_eq!(status, Some(1), "a new-fail exits 1; stderr:\n{stderr}");
    assert!(
        stderr.contains("1 new-fail, 1 fixed, 1 still-fail, 1 new, 1 gone, 1 unchanged"),
        "{stderr}"
    );
    let lines: Vec<RecordChange> = String::from_utf8(stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a change line"))
        .collect();
    assert_eq!(
        lines.last().map(|c| c.domain.as_str()),
        Some("icp-wrong-link.test"),
        "OLD-only last"
    );
    let by_domain: BTreeMap<&str, &RecordChange> =
        lines.iter().map(|c| (c.domain.as_str(), c)).collect();
    let codes = |pairs: &[beian_audit::diff::CodeTarget]| -> Vec<String> {
        pairs.iter().map(|p| p.code.clone()).collect()
    };
    let four = |code: FindingCode| vec![code.as_str().to_owned(); 4];
    let want = [
        ("icp-ok.test", Change::Unchanged, vec![], vec![]),
        (
            "week-breaks.test",
            Change::NewFail,
            four(IcpNotLinked),
            vec![],
        ),
        ("week-fixed.test", Change::Fixed, vec![], four(IcpNotLinked)),
        (
            "week-still.test",
            Change::StillFail,
            four(IcpLinkWrongUrl),
            four(IcpNotLinked),
        ),
        (
            "icp-missing.test",
            Change::New,
            four(IcpNumberMissing),
            vec![],
        ),
        (
            "icp-wrong-link.test",
            Change::Gone,
            vec![],
            four(IcpLinkWrongUrl),
        ),
    ];
    assert_eq!(lines.len(), want.len());
    for (domain, change, added, removed) in want {
        let line = by_domain
            .get(domain)
            .unwrap_or_else(|| panic!("no change line for {domain}"));
        assert_eq!(
            (line.change, codes(&line.added), codes(&line.removed)),
            (change, added, removed),
            "{domain}"
        );
    }
}

#[test]
fn the_report_marks_and_counts_each_change_against_the_baseline() {
    let Weeks { old, new, .. } = weeks();
    let out = tempfile::tempdir().expect("temp dir");
    let html = out.path().join("report.html");
    let (status, _, stderr) = beian_audit(&[
        "report".as_ref(),
        new.as_os_str(),
        "--baseline".as_ref(),
        old.as_os_str(),
        "-o".as_ref(),
        html.as_os_str(),
    ]);
    assert_eq!(status, Some(0), "{stderr}");
    let page = std::fs::read_to_string(&html).expect("the page");
    for change in Change::ALL {
        assert!(
            page.contains(&format!(
                "id=\"count-change-{}\" data-count=\"1\"",
                change.as_str()
            )),
            "{change} counted once"
        );
    }
    let (status, csv, stderr) = beian_audit(&[
        "report".as_ref(),
        new.as_os_str(),
        "--baseline".as_ref(),
        old.as_os_str(),
        "--format".as_ref(),
        "csv".as_ref(),
    ]);
    assert_eq!(status, Some(0), "{stderr}");
    let csv = String::from_utf8(csv).expect("UTF-8");
    assert!(csv.starts_with("\u{feff}域名,ID,结论,变化,"), "{csv}");
    assert!(
        csv.contains("week-breaks.test,week-breaks,不通过,新增不合规,"),
        "{csv}"
    );
}
