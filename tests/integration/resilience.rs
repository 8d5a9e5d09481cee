//! Killed scans lose nothing; shards cover every record once; `--rate` and
//! the per-site cap hold (read from the farm's own request log).

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use beian_audit::output::RecordReport;

use crate::common::{records, FixtureFarm};

fn scan_command(farm: &FixtureFarm) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_beian-audit"));
    command
        .arg("scan")
        .arg("--resolve")
        .arg(format!("*=127.0.0.1:{}", farm.port()))
        .args([
            "--scheme",
            "http",
            "--browsers",
            "1",
            "--timeout",
            "15",
            "--no-progress",
        ])
        .stdin(Stdio::null());
    command
}

/// The input lines of a record file's records (CSV: after the header).
pub(crate) fn input_lines(csv: &str) -> Vec<u64> {
    let text = std::fs::read_to_string(records(csv)).expect("record file");
    (2..=text.lines().count() as u64).collect()
}

pub(crate) fn parse(text: &str) -> Vec<RecordReport> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// How often each input line occurs in `reports`.
pub(crate) fn line_counts(reports: &[RecordReport]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for r in reports {
        *counts.entry(r.line).or_default() += 1;
    }
    counts
}

#[test]
fn sigterm_then_resume_has_every_record_exactly_once() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let mut first = scan_command(&farm)
        .arg(records("farm.csv"))
        .args(["--concurrency", "2", "--grace", "10", "-o"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first finished records: the scan logs nothing per record
    // (stdout is the file), so watch the file grow, bounded.
    let start = Instant::now();
    while std::fs::read_to_string(&out).map_or(0, |t| t.lines().count()) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no output after 120 s"
        );
        assert!(
            first.try_wait().unwrap().is_none(),
            "the scan ended before it was interrupted"
        );
        // Another process writes the file; there is no event to await here.
        #[expect(
            clippy::disallowed_methods,
            reason = "polling another process's output file"
        )]
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = first.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(130), "an interrupted scan exits 130");
    let partial = parse(&std::fs::read_to_string(&out).unwrap());
    let all = input_lines("farm.csv");
    assert!(
        partial.len() < all.len(),
        "SIGTERM came too late to test anything ({} records)",
        partial.len()
    );
    assert!(
        line_counts(&partial).values().all(|&n| n == 1),
        "the first run repeated a record"
    );

    let second = scan_command(&farm)
        .arg(records("farm.csv"))
        .args(["--concurrency", "4", "--resume", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(second.stdout.is_empty(), "with -o nothing goes to stdout");
    let merged = parse(&std::fs::read_to_string(&out).unwrap());
    let counts = line_counts(&merged);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        all,
        "every record is in the output"
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "a record was repeated: {counts:?}"
    );
}

#[test]
fn resume_drops_a_torn_last_line_and_rescans_its_record() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "domain,service_name,icp_number\nicp-ok.test,清风文化,京ICP备18012345号-1\nicp-unlinked.test,x,京ICP备18012345号-1\n").unwrap();
    let out = dir.path().join("out.ndjson");
    // A hard kill in the middle of writing line 3's record.
    std::fs::write(&out, "{\"domain\":\"icp-unlinked.test\",\"line\":3,\"verd").unwrap();
    let run = scan_command(&farm)
        .arg(&input)
        .args(["--resume", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let reports = parse(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(line_counts(&reports), BTreeMap::from([(2, 1), (3, 1)]));
}

#[test]
fn four_shards_cover_every_record_exactly_once() {
    let farm = FixtureFarm::start();
    let input = records("broken-rows.csv");
    let children: Vec<_> = (0..4)
        .map(|i| {
            scan_command(&farm)
                .arg(&input)
                .args(["--concurrency", "2", "--shard", &format!("{i}/4")])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut merged = Vec::new();
    let mut non_empty = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}", out.status);
        let reports = parse(&String::from_utf8(out.stdout).unwrap());
        non_empty += usize::from(!reports.is_empty());
        merged.extend(reports);
    }
    let whole = scan_command(&farm).arg(&input).output().unwrap();
    let whole = parse(&String::from_utf8(whole.stdout).unwrap());
    assert!(non_empty >= 2, "the hash put everything in one shard");
    let counts = line_counts(&merged);
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert_eq!(
        counts.keys().collect::<Vec<_>>(),
        line_counts(&whole).keys().collect::<Vec<_>>(),
        "the shards together have exactly the records of an unsharded scan"
    );
}

#[test]
fn shard_defaults_come_from_the_indexed_job_environment() {
    let farm = FixtureFarm::start();
    let input = records("broken-rows.csv");
    let by_env: Vec<_> = (0..2)
        .map(|i| {
            let out = scan_command(&farm)
                .arg(&input)
                .env("JOB_COMPLETION_INDEX", i.to_string())
                .env("BEIAN_AUDIT_SHARDS", "2")
                .output()
                .unwrap();
            line_counts(&parse(&String::from_utf8(out.stdout).unwrap()))
        })
        .collect();
    let by_flag = scan_command(&farm)
        .arg(&input)
        .args(["--shard", "0/2"])
        .output()
        .unwrap();
    assert_eq!(
        by_env[0],
        line_counts(&parse(&String::from_utf8(by_flag.stdout).unwrap()))
    );
    assert!(by_env[0].keys().all(|k| !by_env[1].contains_key(k)));
}

#[test]
fn rate_and_per_site_cap_hold_in_the_request_log() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    // One slow site (800 ms a homepage) and three quick ones.
    std::fs::write(
        &input,
        "domain,service_name,icp_number\nslow-home.test,慢行书屋,京ICP备18077777号-1\nicp-ok.test,清风文化,京ICP备18012345号-1\nicp-js-injected.test,青木书店,京ICP备19020231号-1\ntitle-js.test,x,京ICP备18012345号-1\n",
    )
    .unwrap();
    let rate = 4;
    let out = scan_command(&farm)
        .arg(&input)
        .args(["--concurrency", "8", "--rate", &rate.to_string()])
        .output()
        .unwrap();
    let reports = parse(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(reports.len(), 4, "{}", String::from_utf8_lossy(&out.stderr));
    let homepages: Vec<_> = farm
        .requests()
        .into_iter()
        .filter(|r| r.path == "/")
        .collect();
    assert!(
        homepages.len() >= 16,
        "every target loads its homepage: {homepages:?}"
    );
    // Rate: no one-second window holds more than `rate` loads (+1 for a
    // load at each edge of the window).
    let times: Vec<u64> = homepages.iter().map(|r| r.t_ms).collect();
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..].iter().take_while(|u| **u < t + 1000).count();
        assert!(
            in_window <= rate + 1,
            "{in_window} loads within 1 s from {t} ms: {times:?}"
        );
    }
    // Per-site cap: three homepage requests of the slow site arriving within
    // its 800 ms answer time would mean three loads at once.
    let slow: Vec<u64> = homepages
        .iter()
        .filter(|r| r.host.ends_with("slow-home.test"))
        .map(|r| r.t_ms)
        .collect();
    assert_eq!(slow.len(), 4, "{slow:?}");
    for w in slow.windows(3) {
        assert!(
            w[2] - w[0] >= 700,
            "three loads of one site at once: {slow:?}"
        );
    }
}
