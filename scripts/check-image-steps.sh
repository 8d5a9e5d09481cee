#!/usr/bin/env bash
# CI check of the container image without a Docker engine: run the image's
# own install steps (scripts/image-steps.sh, the script the Dockerfile RUNs)
# on this host, then run the worker the way the pod runs it — as uid 10001
# with no capabilities and no_new_privs, on a read-only root filesystem,
# HOME and TMPDIR on a tmpfs standing in for the pod's /tmp emptyDir —
# against the fixture farm, and check what it wrote. While it scans, its
# processes are sampled: their uid, whether Chromium's sandbox is on (its
# renderers live in user namespaces of their own), and their memory (PSS,
# the number behind the Job's memory request).
#
# Needs root (or sudo) for apt-get, a mount namespace and setpriv.
# BEIAN_AUDIT_BIN=path skips the release build and checks that binary.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly UID_GID=10001
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

fail() {
  echo "check-image-steps: FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d)
chmod 755 "$work"
farm_pid=""
sampler_pid=""
cleanup() {
  [ -z "$sampler_pid" ] || kill "$sampler_pid" 2>/dev/null || true
  [ -z "$farm_pid" ] || kill "$farm_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "check-image-steps: kept $work" >&2; else $sudo rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== image steps: install (idempotent: nothing is fetched when present)" >&2
$sudo scripts/image-steps.sh install
echo "== image steps: user ${UID_GID}, into a temp root (this host's users stay untouched)" >&2
$sudo scripts/image-steps.sh --root "$work/root" user
grep -q "^beian:x:${UID_GID}:${UID_GID}::/tmp:/usr/sbin/nologin\$" "$work/root/etc/passwd" ||
  fail "user ${UID_GID} not created as expected: $(cat "$work/root/etc/passwd")"
grep -q "^beian:x:${UID_GID}:\$" "$work/root/etc/group" || fail "group ${UID_GID} not created"
scripts/image-steps.sh verify

echo "== build, as the Dockerfile does" >&2
bin=${BEIAN_AUDIT_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -p beian-audit --bin beian-audit >&2
  bin=target/release/beian-audit
fi
cargo build --locked -p beian-audit-tools --bin fixture-farm >&2
install -m 0755 "$bin" "$work/beian-audit"
install -m 0644 fixtures/records/farm.csv "$work/records.csv"
records=$(($(wc -l <"$work/records.csv") - 1))

target/debug/fixture-farm --root fixtures/sites >"$work/farm.log" 2>&1 &
farm_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/farm.log" && break
  kill -0 "$farm_pid" 2>/dev/null || fail "fixture farm did not start: $(cat "$work/farm.log")"
  sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$work/farm.log" | head -n1)
[ -n "$addr" ] || fail "fixture farm announced no address"

# Every 0.5 s: the processes of uid 10001 — pid, user namespace, PSS (kB),
# command line. Runs as root outside the scan's namespace.
sample() {
  while true; do
    now=$(date +%s.%N)
    for pid in $(pgrep -u "$UID_GID" || true); do
      ns=$(readlink "/proc/$pid/ns/user" 2>/dev/null) || continue
      pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || pss=0
      args=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-300) || continue
      [ -n "$args" ] || continue
      echo "$now $pid $ns ${pss:-0} $args"
    done
    sleep 0.5
  done
}
sample >"$work/samples.txt" &
sampler_pid=$!

echo "== scan as uid ${UID_GID}, read-only root, HOME=TMPDIR=tmpfs, default concurrency" >&2
mkdir -m 755 "$work/scratch"
status=0
# In a private mount namespace: a tmpfs for /tmp's role, then / read-only;
# stdout and stderr are fds opened outside, so they stay writable.
$sudo env UID_GID="$UID_GID" unshare --mount --propagation private sh -c '
  scratch=$1; shift
  mount -t tmpfs -o mode=1777,size=2g tmpfs "$scratch" || exit 90
  mount -o remount,bind,ro / || exit 91
  if touch /.beian-audit-rw-probe 2>/dev/null; then exit 92; fi
  setpriv --reuid="$UID_GID" --regid="$UID_GID" --clear-groups \
    --inh-caps=-all --bounding-set=-all --no-new-privs \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$scratch" TMPDIR="$scratch" \
    CHROME=/usr/lib/chromium/chromium-headless-shell \
    "$@" --summary "$scratch/summary.json"
  status=$?
  cat "$scratch/summary.json" >&3 2>/dev/null
  leftovers=$(find "$scratch" -mindepth 1 -maxdepth 1 ! -name summary.json | wc -l)
  echo "{\"check\":\"tmp-leftovers\",\"count\":$leftovers}" >&4
  exit $status
' sh "$work/scratch" "$work/beian-audit" scan "$work/records.csv" \
  --resolve "*=$addr" --scheme http --log-format json \
  >"$work/out.ndjson" 2>"$work/err.log" 3>"$work/summary.json" 4>"$work/leftovers.json" ||
  status=$?
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""

case $status in
  90 | 91) fail "cannot set up the read-only root (exit $status): run as root with CAP_SYS_ADMIN" ;;
  92) fail "the root filesystem is still writable inside the namespace" ;;
  1) ;; # the farm is built to have findings
  *) fail "scan exited $status; stderr: $(tail -n 20 "$work/err.log")" ;;
esac

python3 - "$work" "$records" "$UID_GID" <<'PY'
import json, sys
from collections import Counter
work, records, uid = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def fail(msg):
    sys.exit(f"check-image-steps: FAIL: {msg}")

lines = open(f"{work}/out.ndjson", encoding="utf-8").read().splitlines()
reports = [json.loads(line) for line in lines]
if len(reports) != records:
    fail(f"{len(reports)} output lines for {records} records")
if sorted(r["line"] for r in reports) != list(range(2, records + 2)):
    fail("not every record has exactly one line")
verdicts = Counter(r["verdict"] for r in reports)
for line in open(f"{work}/err.log", encoding="utf-8"):
    try:
        json.loads(line)
    except ValueError:
        fail(f"stderr line is not JSON: {line!r}")
summary = json.load(open(f"{work}/summary.json"))
if summary["records"] != records or summary["verdicts"] != {k: verdicts.get(k, 0) for k in ("pass", "fail", "error")}:
    fail(f"summary {summary['records']} {summary['verdicts']} != output {dict(verdicts)}")
leftovers = json.load(open(f"{work}/leftovers.json"))["count"]
if leftovers:
    fail(f"{leftovers} files left in TMPDIR (Chromium profiles are removed on close)")

# The samples: "<time> <pid> <userns> <pss-kB> <args…>"
samples = [l.split(" ", 4) for l in open(f"{work}/samples.txt") if l.count(" ") >= 4]
if not samples:
    fail("no process of uid 10001 was seen")
chromium = [s for s in samples if "chromium" in s[4]]
if not chromium:
    fail("no Chromium process ran as uid 10001")
if any("--no-sandbox" in s[4] for s in chromium):
    fail("Chromium ran with --no-sandbox as a non-root user")
browser_ns = {s[2] for s in chromium if "--type=" not in s[4]}
renderer_ns = {s[2] for s in chromium if "--type=renderer" in s[4]}
if not renderer_ns or renderer_ns <= browser_ns:
    fail(f"renderers are not in user namespaces of their own (sandbox off?): {browser_ns} {renderer_ns}")
by_time = Counter()
for t, _pid, _ns, pss, _args in samples:
    by_time[t] += int(pss)
peak = max(by_time.values())
print(
    f"check-image-steps: ok — {records} records as uid {uid} on a read-only root "
    f"({dict(verdicts)}); Chromium sandbox on (renderers in a user namespace of their own); "
    f"peak PSS of the worker and its browsers {peak / 1024:.0f} MiB "
    f"at --concurrency default; {summary['targets']} targets in {summary['elapsed_ms'] / 1000:.1f} s",
    file=sys.stderr,
)
PY
