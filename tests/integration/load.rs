//! Load never changes a finding: `scripts/cpu-quota-scan.sh` scans
//! `fixtures/records/load.csv` (a client-rendered app, a timer-injected
//! footer, a fade-in, a script-forwarding apex and an unlinked number) once
//! as is and once inside a cgroup with a 0.2-CPU quota (a `200m` pod), with
//! default flags, and compares the findings record by record. Making the
//! cgroup needs root and a cgroup `cpu` controller (v1 or v2), as the
//! test command's machines have.

use std::process::Command;

use crate::common::farm_bin;

#[test]
fn a_scan_in_a_200m_cpu_quota_finds_what_an_unthrottled_scan_finds() {
    let out = Command::new("scripts/cpu-quota-scan.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["fixtures/records/load.csv", "0.2"])
        .env("BEIAN_AUDIT_BIN", env!("CARGO_BIN_EXE_beian-audit"))
        .env("FIXTURE_FARM_BIN", farm_bin())
        .output()
        .expect("run scripts/cpu-quota-scan.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains("identical findings for 5 records"),
        "stderr:\n{stderr}"
    );
    let throttled: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("throttled periods: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(throttled > 0, "the quota never bit: stderr:\n{stderr}");
}
