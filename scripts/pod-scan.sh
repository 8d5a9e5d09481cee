#!/usr/bin/env bash
# A scan in a pod-sized cgroup finds what a free scan finds: scan a records
# file of a fixture farm as is and inside a cgroup with a CPU quota (a
# Kubernetes `200m` pod: --cpus 0.2) and/or a memory limit (--memory 1G),
# alternately for --rounds rounds, and compare the findings record by
# record. Exits 0 when they are identical, 1 when they differ (the
# differences on stderr), 2 when it could not run (no cgroup could be made:
# needs root and a cgroup v1 `cpu`/`memory` controller or a v2 hierarchy
# with them).
#
#   scripts/pod-scan.sh [--cpus C] [--memory BYTES|NM|NG] [--rounds N]
#                       [--sites DIR] [RECORDS.csv]
#
# Defaults: --cpus 0.2 when neither limit is given, 1 round, the fixture
# farm (fixtures/sites) and fixtures/records/farm.csv. Default scan flags on
# every scan (--concurrency, --browsers and --page-memory from the machine:
# inside the cgroup, from its limits); the farm itself runs outside the
# cgroup, as the sites of a real scan are on other machines. Builds the
# release binaries unless BEIAN_AUDIT_BIN and FIXTURE_FARM_BIN are given.
#
# Prints on stderr, for each round, both scans' wall time; then how often
# the quota bit (`throttled periods: N`), the cgroup's peak memory
# (`peak memory: N MiB`), its OOM kills (`oom kills: N`), and the page
# levels the limited scan started at and ended at (`pages: START → END`).
set -euo pipefail
cd "$(dirname "$0")/.."

cpus=
memory=
rounds=1
sites=fixtures/sites
records=fixtures/records/farm.csv
while [ $# -gt 0 ]; do
  case "$1" in
    --cpus) cpus=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --sites) sites=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "pod-scan: unknown argument $1 (see --help)" >&2; exit 2 ;;
    *) records=$1; shift ;;
  esac
done
[ -n "$cpus$memory" ] || cpus=0.2
period=100000
if [ -n "$cpus" ]; then
  quota=$(awk -v c="$cpus" -v p="$period" 'BEGIN { printf "%d", c * p }')
fi
if [ -n "$memory" ]; then
  memory_bytes=$(numfmt --from=iec "$memory")
fi

bin=${BEIAN_AUDIT_BIN:-}
farm_bin=${FIXTURE_FARM_BIN:-}
if [ -z "$bin" ] || [ -z "$farm_bin" ]; then
  cargo build --release --locked --workspace --bins >&2
  bin=${bin:-target/release/beian-audit}
  farm_bin=${farm_bin:-target/release/fixture-farm}
fi

work=$(mktemp -d)
cgroups=()
farm=""
cleanup() {
  [ -n "$farm" ] && kill "$farm" 2>/dev/null || true
  for cg in "${cgroups[@]}"; do
    [ -d "$cg" ] || continue
    # Anything left in the cgroup goes first (a killed scan's Chromium).
    if [ -f "$cg/cgroup.procs" ]; then
      while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done <"$cg/cgroup.procs"
    fi
    sleep 0.2
    rmdir "$cg" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

cannot() {
  echo "pod-scan: cannot make a cgroup with $1 here (root and a cgroup $2 controller needed)" >&2
  exit 2
}

# Make this scan's v1 cgroup of controller $1 (for $2, named when it cannot
# be made) and print its directory.
v1_cgroup() {
  [ -d "/sys/fs/cgroup/$1" ] && [ -w "/sys/fs/cgroup/$1" ] || cannot "$2" "$1"
  # `&&`: errexit does not reach into the command substitution it runs in.
  mkdir "/sys/fs/cgroup/$1/$name" && echo "/sys/fs/cgroup/$1/$name"
}

# The cgroups: one v2 cgroup with both limits where the unified hierarchy
# has the controllers, else one v1 cgroup per controller.
name="beian-audit-pod-$$"
v2=/sys/fs/cgroup
v2_has() { [ -f $v2/cgroup.controllers ] && grep -qw "$1" $v2/cgroup.controllers; }
if { [ -z "$cpus" ] || v2_has cpu; } && { [ -z "$memory" ] || v2_has memory; }; then
  mkdir "$v2/$name"
  cgroups+=("$v2/$name")
  [ -z "$cpus" ] || echo "$quota $period" >"$v2/$name/cpu.max"
  [ -z "$memory" ] || { echo "$memory_bytes" >"$v2/$name/memory.max"; echo 0 >"$v2/$name/memory.swap.max" 2>/dev/null || true; }
  cpu_cg=$v2/$name mem_cg=$v2/$name
else
  if [ -n "$cpus" ]; then
    cpu_cg=$(v1_cgroup cpu "a CPU quota")
    cgroups+=("$cpu_cg")
    echo "$period" >"$cpu_cg/cpu.cfs_period_us"
    echo "$quota" >"$cpu_cg/cpu.cfs_quota_us"
  fi
  if [ -n "$memory" ]; then
    mem_cg=$(v1_cgroup memory "a memory limit")
    cgroups+=("$mem_cg")
    echo "$memory_bytes" >"$mem_cg/memory.limit_in_bytes"
    # No swap to hide in: the limit is the pod's, as on a node without swap.
    echo "$memory_bytes" >"$mem_cg/memory.memsw.limit_in_bytes" 2>/dev/null || true
  fi
fi

"$farm_bin" --root "$sites" >"$work/farm.log" &
farm=$!
until grep -q '^listening on ' "$work/farm.log"; do
  kill -0 "$farm" 2>/dev/null || { echo "fixture farm failed to start" >&2; exit 2; }
  sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$work/farm.log" | head -n1)

scan() { # OUT [in-cgroup]; echoes the wall time in seconds
  local out=$1 start end status=0
  start=$(date +%s.%N)
  if [ "${2:-}" = cgroup ]; then
    # shellcheck disable=SC2016 # $1, $@ are the inner shell's
    sh -c 'for cg in $1; do echo $$ >"$cg/cgroup.procs"; done; shift; exec "$@"' sh "${cgroups[*]}" \
      "$bin" scan "$records" --resolve "*=$addr" --scheme http --no-progress \
      -o "$out" 2>"$out.log" || status=$?
  else
    "$bin" scan "$records" --resolve "*=$addr" --scheme http --no-progress \
      -o "$out" 2>"$out.log" || status=$?
  fi
  end=$(date +%s.%N)
  [ "$status" -le 1 ] || { echo "scan failed ($status):" >&2; tail -20 "$out.log" >&2; exit 2; }
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'
}

limits="${cpus:+${cpus}-CPU quota}${cpus:+${memory:+ and }}${memory:+${memory} memory limit}"
for r in $(seq 1 "$rounds"); do
  # Alternate which goes first, so drifting machine load hits both alike.
  if [ $((r % 2)) -eq 1 ]; then
    free_s=$(scan "$work/free-$r.ndjson")
    pod_s=$(scan "$work/pod-$r.ndjson" cgroup)
  else
    pod_s=$(scan "$work/pod-$r.ndjson" cgroup)
    free_s=$(scan "$work/free-$r.ndjson")
  fi
  echo "round $r: free scan ${free_s} s; scan with a ${limits}: ${pod_s} s" >&2
done

if [ -n "$cpus" ]; then
  # The quota must have bitten, or the comparison proves nothing.
  throttled=$(awk '$1 == "nr_throttled" { print $2 }' "$cpu_cg/cpu.stat" 2>/dev/null || true)
  echo "throttled periods: ${throttled:-unknown}" >&2
fi
if [ -n "$memory" ]; then
  peak=$({ cat "$mem_cg/memory.max_usage_in_bytes" "$mem_cg/memory.peak" 2>/dev/null || true; } | head -n1)
  echo "peak memory: $(( ${peak:-0} / 1048576 )) MiB of $(( memory_bytes / 1048576 )) MiB" >&2
  # v1 memory.oom_control and v2 memory.events both count `oom_kill N`.
  kills=$({ cat "$mem_cg/memory.oom_control" "$mem_cg/memory.events" 2>/dev/null || true; } |
    awk '$1 == "oom_kill" { print $2; exit }')
  echo "oom kills: ${kills:-unknown}" >&2
fi
levels=$({ grep -a -h -E 'scan started|page level changed' "$work"/pod-*.ndjson.log || true; } |
  { grep -a -o 'pages=[0-9]*' || true; } | cut -d= -f2 | tr '\n' ' ')
first_level=$(echo "$levels" | awk '{ print $1 }')
last_level=$(echo "$levels" | awk '{ print $NF }')
ceiling=$({ grep -a -h 'scan started' "$work/pod-1.ndjson.log" || true; } |
  { grep -a -o 'concurrency=[0-9]*' || true; } | cut -d= -f2)
echo "pages: ${first_level:-?} → ${last_level:-?} (ceiling ${ceiling:-?})" >&2

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
status=0
for r in $(seq 1 "$rounds"); do
  findings "$work/free-$r.ndjson" >"$work/free-$r.txt"
  findings "$work/pod-$r.ndjson" >"$work/pod-$r.txt"
  records_n=$(wc -l <"$work/free-$r.txt")
  if diff -u "$work/free-$r.txt" "$work/pod-$r.txt" >"$work/diff.txt"; then
    unsettled=$(grep -c '"settled":false' "$work/pod-$r.ndjson" || true)
    echo "round $r: identical findings for $records_n records (targets read unsettled in the cgroup: $unsettled)" >&2
  else
    echo "round $r: findings differ in the cgroup (- free, + cgroup):" >&2
    cat "$work/diff.txt" >&2
    status=1
  fi
done
exit "$status"
