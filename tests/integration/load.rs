//! A pod's limits never change a finding: `scripts/pod-scan.sh` scans
//! `fixtures/records/load.csv` (a client-rendered app, a timer-injected
//! footer, a fade-in, a script-forwarding apex and an unlinked number) once
//! as is and once inside a cgroup with a 0.2-CPU quota (a `200m` pod) or a
//! 1 GiB memory limit, with default flags, and compares the findings record
//! by record. Making the cgroup needs root and cgroup `cpu` and `memory`
//! controllers (v1 or v2), as the test command's machines have.

use std::process::Command;

use crate::common::farm_bin;

/// Run `scripts/pod-scan.sh ARGS fixtures/records/load.csv`, check it found
/// the same findings inside the pod, and return its stderr.
fn pod_scan(args: &[&str]) -> String {
    let out = Command::new("scripts/pod-scan.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg("fixtures/records/load.csv")
        .env("BEIAN_AUDIT_BIN", env!("CARGO_BIN_EXE_beian-audit"))
        .env("FIXTURE_FARM_BIN", farm_bin())
        .output()
        .expect("run scripts/pod-scan.sh");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains("identical findings for 5 records"),
        "stderr:\n{stderr}"
    );
    stderr
}

/// The number after `prefix` on the line that starts with it.
fn number_after(stderr: &str, prefix: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let rest = l.strip_prefix(prefix)?;
        let digits: String = rest
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

#[test]
fn a_scan_in_a_200m_cpu_quota_finds_what_an_unthrottled_scan_finds() {
    let stderr = pod_scan(&["--cpus", "0.2"]);
    let throttled = number_after(&stderr, "throttled periods: ").unwrap_or(0);
    assert!(throttled > 0, "the quota never bit: stderr:\n{stderr}");
}

/// In a 1 GiB pod the scan reads the limit (8 pages at most, at 128 MiB a
/// page), stays inside it and is never OOM-killed.
#[test]
fn a_scan_in_a_1_gib_pod_reads_the_limit_and_stays_inside_it() {
    let stderr = pod_scan(&["--memory", "1G"]);
    assert!(
        stderr.contains("(ceiling 8)"),
        "the limit did not set the ceiling: stderr:\n{stderr}"
    );
    assert_eq!(
        number_after(&stderr, "oom kills: "),
        Some(0),
        "stderr:\n{stderr}"
    );
    let peak = number_after(&stderr, "peak memory: ").expect("the cgroup's peak");
    assert!(peak > 0 && peak <= 1024, "stderr:\n{stderr}");
}
