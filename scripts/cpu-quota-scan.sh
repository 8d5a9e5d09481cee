#!/usr/bin/env bash
# Load never changes a finding: scan a records file of the fixture farm
# twice — once as is, once inside a cgroup with a CPU quota (default 0.2
# CPU, a Kubernetes `200m` pod) — and compare the findings record by record.
# Exits 0 when they are identical, 1 when they differ (the differences on
# stderr), 2 when it could not run (no cgroup could be made: needs root and
# a cgroup v1 `cpu` or a v2 hierarchy with the `cpu` controller).
#
#   scripts/cpu-quota-scan.sh [RECORDS.csv] [CPUS]
#
# Default flags on both scans (--concurrency and --browsers from the
# machine: inside the cgroup, from its quota); the farm itself runs outside
# the cgroup, as the sites of a real scan are on other machines. Builds the
# release binaries unless BEIAN_AUDIT_BIN and FIXTURE_FARM_BIN are given.
set -euo pipefail
cd "$(dirname "$0")/.."

records=${1:-fixtures/records/farm.csv}
cpus=${2:-0.2}
period=100000
quota=$(awk -v c="$cpus" -v p="$period" 'BEGIN { printf "%d", c * p }')

bin=${BEIAN_AUDIT_BIN:-}
farm_bin=${FIXTURE_FARM_BIN:-}
if [ -z "$bin" ] || [ -z "$farm_bin" ]; then
  cargo build --release --locked --workspace --bins >&2
  bin=${bin:-target/release/beian-audit}
  farm_bin=${farm_bin:-target/release/fixture-farm}
fi

work=$(mktemp -d)
cgroup=""
farm=""
cleanup() {
  [ -n "$farm" ] && kill "$farm" 2>/dev/null || true
  if [ -n "$cgroup" ] && [ -d "$cgroup" ]; then
    # Anything left in the cgroup goes first (a killed scan's Chromium).
    if [ -f "$cgroup/cgroup.procs" ]; then
      while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$cgroup/cgroup.procs"
    fi
    sleep 0.2
    rmdir "$cgroup" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A cgroup with the quota: v2 (cpu.max) where the unified hierarchy has the
# cpu controller, else v1 (cpu.cfs_quota_us).
name="beian-audit-quota-$$"
if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
  cgroup=/sys/fs/cgroup/$name
  mkdir "$cgroup"
  echo "$quota $period" >"$cgroup/cpu.max"
elif [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
  cgroup=/sys/fs/cgroup/cpu/$name
  mkdir "$cgroup"
  echo "$period" >"$cgroup/cpu.cfs_period_us"
  echo "$quota" >"$cgroup/cpu.cfs_quota_us"
else
  echo "cpu-quota-scan: cannot make a cgroup with a CPU quota here (root and a cgroup cpu controller needed)" >&2
  exit 2
fi

"$farm_bin" --root fixtures/sites >"$work/farm.log" &
farm=$!
until grep -q '^listening on ' "$work/farm.log"; do
  kill -0 "$farm" 2>/dev/null || { echo "fixture farm failed to start" >&2; exit 2; }
  sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$work/farm.log" | head -n1)

scan() { # OUT [in-cgroup]
  local out=$1 start status=0
  start=$(date +%s)
  if [ "${2:-}" = cgroup ]; then
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cgroup" \
      "$bin" scan "$records" --resolve "*=$addr" --scheme http --no-progress \
      -o "$out" 2>"$out.log" || status=$?
  else
    "$bin" scan "$records" --resolve "*=$addr" --scheme http --no-progress \
      -o "$out" 2>"$out.log" || status=$?
  fi
  [ "$status" -le 1 ] || { echo "scan failed ($status):" >&2; tail -20 "$out.log" >&2; exit 2; }
  echo $(($(date +%s) - start))
}

free_s=$(scan "$work/free.ndjson")
echo "unthrottled scan: ${free_s} s" >&2
quota_s=$(scan "$work/quota.ndjson" cgroup)
echo "scan with a ${cpus}-CPU quota: ${quota_s} s" >&2
# The quota must have bitten, or the comparison proves nothing.
throttled=$(awk '$1 == "nr_throttled" { print $2 }' "$cgroup/cpu.stat" 2>/dev/null || true)
echo "throttled periods: ${throttled:-unknown}" >&2

# Findings as "domain verdict code target" lines, sorted: what must not change.
findings() {
  python3 - "$1" <<'EOF'
import json, sys
rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    codes = sorted(f"{f['code']}@{f.get('target') or '-'}" for f in r["findings"])
    rows.append(f"{r['domain']} {r['verdict']} {' '.join(codes)}")
print("\n".join(sorted(rows)))
EOF
}
findings "$work/free.ndjson" >"$work/free.txt"
findings "$work/quota.ndjson" >"$work/quota.txt"
records_n=$(wc -l <"$work/free.txt")
if diff -u "$work/free.txt" "$work/quota.txt" >"$work/diff.txt"; then
  unsettled=$(grep -c '"settled":false' "$work/quota.ndjson" || true)
  echo "identical findings for $records_n records (targets read unsettled under the quota: $unsettled)" >&2
else
  echo "findings differ under the quota (- unthrottled, + quota):" >&2
  cat "$work/diff.txt" >&2
  exit 1
fi
