//! What a hostile page makes Chromium try on the network, watched in a
//! network namespace of the test's own (`unshare -n`, as root): loopback,
//! and a veth pair whose two ends both live in the namespace, so that
//! Chromium has an interface that can multicast and nothing it sends can
//! leave the machine. `strace` records every packet-sending system call of
//! the scan's process tree.

use std::process::{Command, Stdio};

use beian_audit::output::RecordReport;
use beian_audit::rules::Verdict;

use crate::common::{farm_bin, SITES};

/// Run in the namespace: the farm on a fixed port (the namespace is ours
/// alone), then the scan under `strace`. Paths come in the environment.
const IN_NAMESPACE: &str = r#"
set -eu
ip link set lo up
ip link add ba0 type veth peer name ba1
ip addr add 10.99.0.1/24 dev ba0
ip link set ba1 up
ip link set ba0 up
mkfifo "$TMPDIR/farm.out"
"$FARM" --root "$SITES" --port 8080 > "$TMPDIR/farm.out" &
farm=$!
exec 3< "$TMPDIR/farm.out"
read -r announced <&3
echo "$announced" >&2
set +e
strace -f -qq -e trace=sendto,sendmsg,sendmmsg,connect -o "$TRACE" \
  "$SCAN" scan "$INPUT" --resolve '*=127.0.0.1:8080' --scheme http --timeout 20 \
  --concurrency 2 --no-progress
status=$?
kill "$farm"
exit "$status"
"#;

/// A system call of the trace that sent (or connected) to somewhere other
/// than loopback or a local socket. A UDP `connect` sends nothing (Chromium
/// connects UDP sockets to public addresses only to learn its route), so
/// only TCP-style connects would matter — and Chromium makes none: every
/// connection goes to the guard on 127.0.0.1.
fn leaves_loopback(line: &str) -> bool {
    let sends = line.contains("sendto(") || line.contains("sendmsg(") || line.contains("sendmmsg(");
    let addressed = line.contains("sin_addr=") || line.contains("sin6_addr");
    let loopback = line.contains("inet_addr(\"127.") || line.contains("\"::1\"");
    sends && addressed && !loopback
}

#[test]
fn a_page_handing_chromium_local_ice_candidates_sends_no_multicast_dns() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("in.csv");
    let trace = dir.path().join("scan.strace");
    std::fs::write(
        &input,
        "domain,service_name,icp_number\nhostile-webrtc.test,点对点,京ICP备18090016号-1\n",
    )
    .expect("write input");
    let output = Command::new("unshare")
        .args(["-n", "--", "bash", "-c", IN_NAMESPACE])
        .env("FARM", farm_bin())
        .env("SCAN", env!("CARGO_BIN_EXE_beian-audit"))
        .env("SITES", SITES)
        .env("INPUT", &input)
        .env("TRACE", &trace)
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the scan in a network namespace of its own (needs root, ip, strace): {}\n{stdout}\n{stderr}",
        output.status
    );

    // The page tried: its title names the site only once it has handed
    // Chromium all three candidates (its own, an about:blank frame's and a
    // srcdoc frame's).
    let report: RecordReport = serde_json::from_str(stdout.trim()).expect("one report line");
    assert_eq!(report.verdict, Verdict::Pass, "{stdout}");
    assert!(
        report
            .targets
            .iter()
            .all(|t| t.title.as_deref() == Some("点对点 - 首页")),
        "every target saw the page hand its candidates over: {stdout}"
    );

    let trace = std::fs::read_to_string(&trace).expect("the trace");
    assert!(
        trace.contains("htons(8080)"),
        "the trace saw the guard connect to the farm"
    );
    let mdns: Vec<&str> = trace
        .lines()
        .filter(|l| {
            l.contains("htons(5353)")
                || l.contains("224.0.0.251")
                || l.contains("ff02::fb")
                || l.contains("canary")
        })
        .collect();
    assert_eq!(mdns, Vec::<&str>::new(), "multicast DNS sent");
    let away: Vec<&str> = trace.lines().filter(|l| leaves_loopback(l)).collect();
    assert_eq!(away, Vec::<&str>::new(), "packets sent past loopback");
}
