//! `crawler-error` end to end (SPEC §2; See: #3): the *browser* dies under
//! every attempt at one record's targets, so the crawler gives up on them
//! after its retries, while the records before and after it are judged as
//! usual.
//!
//! `browser-dies.test` never answers, so each of its renders is still in
//! flight when the test SIGKILLs the browser it runs on. The scan's own
//! debug log (`page opened`, with the browser's pid and the URL) says when
//! and which: no sleeping, no guessing. `--concurrency 1` keeps the other
//! records' pages off the doomed browsers.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::Command;
use std::time::Duration;

use beian_audit::output::RecordReport;
use beian_audit::rules::FindingCode::{CrawlerError, IcpNotLinked};
use beian_audit::rules::Verdict;
use pretty_assertions::assert_eq;

use crate::common::{
    assert_findings, expand, findings, records, report, FixtureFarm, On, Sandbox, Watchdog,
};

/// The domain whose browser is killed under every attempt.
const DOOMED: &str = "browser-dies.test";

/// Attempts per target: the first and the scan's two crawler retries.
const ATTEMPTS: usize = 3;

/// SIGKILL `pid`; whether the signal was delivered.
fn kill(pid: u32) -> bool {
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_target_whose_browser_dies_under_every_attempt_is_a_crawler_error() {
    let farm = FixtureFarm::start();
    let sandbox = Sandbox::new();
    let mut command = sandbox.command(&farm, &records("browser-dies.csv"), "http");
    command
        .args(["--log-format", "json"])
        .args(["--browsers", "1", "--concurrency", "1", "--timeout", "15"])
        .env(
            "RUST_LOG",
            "beian_audit=info,beian_audit::browser=debug,chromiumoxide=off,warn",
        );
    let mut child = command.spawn().expect("spawn beian-audit");
    let mut watchdog = Watchdog::arm(child.id(), Duration::from_secs(180));
    let mut stdout = child.stdout.take().expect("stdout");
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("read stdout");
        text
    });

    // Each `page opened` of the doomed site: kill the browser it is on.
    let mut killed = Vec::new();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let line = line.expect("read stderr");
        log.push_str(&line);
        log.push('\n');
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let fields = &event["fields"];
        let doomed = fields["url"]
            .as_str()
            .is_some_and(|url| url.contains(&format!("{DOOMED}/")));
        if fields["message"] == "page opened" && doomed {
            let pid = fields["pid"].as_u64().expect("page opened has a pid");
            let pid = u32::try_from(pid).expect("a pid");
            assert!(kill(pid), "kill -9 {pid}; stderr:\n{log}");
            killed.push(pid);
        }
    }
    let status = child.wait().expect("wait");
    watchdog.disarm();
    let stdout = stdout.join().expect("stdout thread");

    // README "Exit status": a crawler-error is an error-severity finding.
    assert_eq!(status.code(), Some(1), "exit status; stderr:\n{log}");
    let reports: Vec<RecordReport> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let mut lines: Vec<u64> = reports.iter().map(|r| r.line).collect();
    lines.sort_unstable();
    assert_eq!(lines, vec![2, 3, 4], "every record exactly once");

    let doomed = report(&reports, DOOMED);
    assert_eq!(
        findings(doomed),
        expand(DOOMED, &[(CrawlerError, On::All)]),
        "stderr:\n{log}"
    );
    assert_eq!(doomed.verdict, Verdict::Error);
    for finding in &doomed.findings {
        let reason = finding.evidence.reason.as_deref().unwrap_or_default();
        assert!(
            reason.contains("browser crashed"),
            "a browser death, not another crawler failure: {reason:?}"
        );
    }
    assert_findings(report(&reports, "icp-ok.test"), &[]);
    assert_findings(
        report(&reports, "icp-unlinked.test"),
        &[(IcpNotLinked, On::All)],
    );

    // Every attempt of every target ran on a browser of its own, and died.
    let mut distinct = killed.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        (killed.len(), distinct.len()),
        (4 * ATTEMPTS, 4 * ATTEMPTS),
        "browsers killed: {killed:?}"
    );
    assert!(
        log.contains("replaced a dead Chromium"),
        "the scan replaced its killed browsers; stderr:\n{log}"
    );
    let left = sandbox.await_no_processes(Duration::from_secs(5));
    assert!(
        left.is_empty(),
        "processes of the scan outlived it: {left:?}"
    );
}
