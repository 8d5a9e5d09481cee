//! Browsers are recycled (See: #7): a scan of `farm.csv` that replaces its
//! browsers every 3 pages, with pages in flight on them, gives exactly the
//! findings of the shared scan that never does (`sites.rs`), fails no
//! target, closes each old browser after its last page and leaves no
//! Chromium behind.

use std::collections::BTreeSet;
use std::time::Duration;

use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode;
use pretty_assertions::assert_eq;

use crate::common::{farm_scan, findings, records, run_to_end, Finished, FixtureFarm, Sandbox};

/// `--recycle-pages` of the scan.
const RECYCLE_PAGES: u64 = 3;

/// The `fields` of every JSON log line whose message is `message`.
fn events(log: &str, message: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|event| event["fields"].clone())
        .filter(|fields| fields["message"] == message)
        .collect()
}

fn pid(fields: &serde_json::Value, key: &str) -> u64 {
    fields[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {fields}"))
}

#[test]
fn recycled_browsers_fail_no_target_and_leave_nothing_behind() {
    let farm = FixtureFarm::start();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&farm, &records("farm.csv"), "http");
    command
        .args(["--log-format", "json"])
        .args(["--browsers", "2", "--concurrency", "4", "--timeout", "15"])
        .args(["--recycle-pages", &RECYCLE_PAGES.to_string()])
        .env(
            "RUST_LOG",
            "beian_audit=info,beian_audit::browser=debug,chromiumoxide=off,warn",
        );
    let child = command.spawn().expect("spawn beian-audit");
    let Finished {
        status,
        stdout,
        stderr: log,
    } = run_to_end(child, Duration::from_secs(600));
    assert_eq!(status.code(), Some(1), "exit status; stderr:\n{log}");

    let reports: Vec<RecordReport> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let lines: Vec<u64> = reports.iter().map(|r| r.line).collect();
    let unique: BTreeSet<u64> = lines.iter().copied().collect();
    assert_eq!(lines.len(), unique.len(), "a record twice: {lines:?}");
    let baseline = &farm_scan().reports;
    assert_eq!(reports.len(), baseline.len(), "every record once");
    for want in baseline {
        let got = reports
            .iter()
            .find(|r| r.line == want.line)
            .unwrap_or_else(|| panic!("no record for line {}", want.line));
        assert_eq!(
            (&got.domain, findings(got), got.verdict),
            (&want.domain, findings(want), want.verdict),
            "findings with recycling (left) and without (right)"
        );
        assert!(
            got.findings
                .iter()
                .all(|f| f.code != FindingCode::CrawlerError),
            "{}: a crawler-error",
            got.domain
        );
    }

    // The log: browsers were recycled for their pages, each old one closed
    // after its last page (not at the end by `close`), many pids over time.
    let recycled = events(&log, "recycling a Chromium");
    assert!(
        recycled.len() >= 5,
        "only {} recycles; stderr:\n{log}",
        recycled.len()
    );
    for fields in &recycled {
        assert_eq!(fields["reason"], "pages", "{fields}");
        assert!(
            fields["pages"].as_u64() >= Some(RECYCLE_PAGES),
            "recycled early: {fields}"
        );
    }
    let old: BTreeSet<u64> = recycled.iter().map(|f| pid(f, "pid")).collect();
    let closed: BTreeSet<u64> = events(&log, "recycled Chromium closed")
        .iter()
        .map(|f| pid(f, "pid"))
        .collect();
    assert_eq!(closed, old, "every recycled browser closed on its own");
    let pids: BTreeSet<u64> = recycled
        .iter()
        .flat_map(|f| [pid(f, "pid"), pid(f, "new_pid")])
        .collect();
    assert!(pids.len() > recycled.len(), "distinct browsers: {pids:?}");

    let left = sandbox.await_no_processes(Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "processes of the scan outlived it: {left:?}"
    );
}
