//! Killed scans lose nothing, and a resumed one repeats nothing; `--rate`
//! and the per-site cap hold over a whole run. (Sharding is the Indexed
//! Job's test, `job.rs`; a torn last line is `output::resume`'s unit test.)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{input_lines, line_counts, parse, records, FixtureFarm};

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
fn rate_and_per_site_cap_hold_over_the_whole_run() {
    let farm = FixtureFarm::start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    // One slow site (800 ms a homepage) and three quick ones.
    std::fs::write(
        &input,
        "domain,service_name,icp_number\nslow-home.test,慢行书屋,京ICP备18077777号-1\nicp-ok.test,清风文化,京ICP备18012345号-1\nicp-js-injected.test,青木书店,京ICP备19020231号-1\ntitle-js.test,x,京ICP备18012345号-1\n",
    )
    .unwrap();
    let rate: u32 = 2;
    let started = Instant::now();
    let out = scan_command(&farm)
        .arg(&input)
        .args(["--concurrency", "8", "--rate", &rate.to_string()])
        .output()
        .unwrap();
    let run = started.elapsed();
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
    // Rate (burst of one): n loads need n - 1 intervals of 1/rate s, so the
    // run lasts at least that long. Measured over the whole run from outside:
    // a busy machine only makes the run longer, and loads that bunch on the
    // way to the server (a starved CPU delays some and not others) change
    // neither the count nor the run's length.
    let intervals = u32::try_from(homepages.len() - 1).unwrap();
    let least = Duration::from_secs(1) * intervals / rate;
    assert!(
        run >= least,
        "{} loads at --rate {rate} in {run:?} (at least {least:?})",
        homepages.len()
    );
    // Per-site cap: a third homepage request of the slow site can only be
    // sent once one of the first two was answered, 800 ms after the farm
    // logged it; its arrival, on the farm's own clock, cannot come sooner.
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
