#!/usr/bin/env bash
# Measure `beian-audit diff` on two scan outputs of N records each (default
# 1,000,000): wall time and peak RSS (`/usr/bin/time -v`), and the heap the
# OLD index takes (its debug log line). README "Week over week" quotes the
# figures.
#
#   scripts/diff-million.sh [N]
#   CARGO_BUILD_JOBS=1 CARGO_TARGET_DIR=/tmp/t scripts/diff-million.sh 1000000
#
# The files are generated (deterministic, seed 15) in a temporary folder and
# removed afterwards: lines shaped like a real scan's (4 targets with their
# facts; a fifth of the records failing with 1 to 4 findings; half with an
# id). NEW is OLD a week later: 2% of the records flip their verdict (so
# 1.6% newly failing, 0.4% fixed), 2% of the failing ones fail differently,
# 1% gone, 1% new. Three runs: the whole diff; OLD empty
# (NEW's streaming alone); NEW empty (OLD's index alone).
set -euo pipefail

N="${1:-1000000}"
cd "$(dirname "$0")/.."
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin beian-audit ${CARGO_BUILD_JOBS:+-j "$CARGO_BUILD_JOBS"} >&2
BIN="$TARGET_DIR/release/beian-audit"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT

python3 - "$N" "$DIR" <<'PY'
import json, random, sys

n, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(15)
CODES = ["icp-not-linked", "icp-number-missing", "icp-link-wrong-url", "title-mismatch",
         "gongan-not-linked", "icp-hidden", "name-restricted-keyword", "ip-not-filed"]

def targets(domain):
    ts = []
    for host in (domain, "www." + domain):
        for device in ("desktop", "mobile"):
            url = f"http://{host}/"
            ts.append({"url": url, "host": host, "device": device, "final_url": url,
                       "status": 200, "addresses": ["203.0.113.7"], "refused_subresources": 0,
                       "title": "例子网络科技有限公司 - 首页", "icp_numbers": ["京ICP备12345678号-1"],
                       "gongan_numbers": [],
                       "links": [{"text": "京ICP备12345678号-1", "href": "https://beian.miit.gov.cn/",
                                  "visible": True, "in_footer": True}],
                       "error": None, "settled": True, "elapsed_ms": rng.randint(300, 3000)})
    return ts

def finding(code, domain, r):
    host = r.choice([domain, "www." + domain])
    target = None if code == "name-restricted-keyword" else \
        f"http://{host}/#{r.choice(['desktop', 'mobile'])}"
    return {"code": code, "rule": "beian-link", "severity": "error", "target": target,
            "message": "the ICP number is not linked; link it to https://beian.miit.gov.cn/",
            "message_zh": "备案号未添加链接；请将其链接至工信部备案系统首页",
            "evidence": {"text": "京ICP备12345678号-1", "href": None}}

def line(i, domain, failing, codes_seed):
    r = random.Random(codes_seed)
    findings = [finding(c, domain, r) for c in r.sample(CODES, r.randint(1, 4))] if failing else []
    rec = {"domain": domain, "id": str(i) if i % 2 == 0 else None, "line": i + 2,
           "verdict": "fail" if failing else "pass", "findings": findings,
           "targets": targets(domain), "elapsed_ms": rng.randint(1000, 9000)}
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n"

with open(f"{out}/old.ndjson", "w") as old, open(f"{out}/new.ndjson", "w") as new:
    for i in range(n):
        domain = f"site{i}.example.cn"
        failing = rng.random() < 0.2
        old.write(line(i, domain, failing, i))
        roll = rng.random()
        if roll < 0.01:
            continue  # gone
        if roll < 0.03:
            now, seed = not failing, i  # newly failing, or fixed
        elif roll < 0.05 and failing:
            now, seed = True, i + n  # failing differently
        else:
            now, seed = failing, i
        new.write(line(i, domain, now, seed))
    for i in range(n, n + n // 100):
        new.write(line(i, f"site{i}.example.cn", rng.random() < 0.2, i))
PY
: > "$DIR/empty.ndjson"
ls -l "$DIR"/*.ndjson >&2

measure() {
    local name="$1" old="$2" new="$3"
    local status=0
    RUST_LOG=beian_audit=debug /usr/bin/time -v "$BIN" diff "$old" "$new" -o "$DIR/diff.ndjson" \
        2> "$DIR/time.txt" || status=$?
    local rss wall heap summary
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$DIR/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$DIR/time.txt")
    heap=$(grep -o 'heap_bytes=[0-9]*' "$DIR/time.txt" | head -1 | cut -d= -f2)
    summary=$(grep '^beian-audit diff:' "$DIR/time.txt" || true)
    printf '%-28s exit %s  wall %s  peak RSS %s KiB  OLD index heap %s bytes (%s a record)\n  %s\n' \
        "$name" "$status" "$wall" "$rss" "${heap:-0}" "$(( ${heap:-0} / N ))" "$summary"
}

echo "beian-audit diff, $N records ($(nproc) cores; $(git rev-parse --short HEAD))"
measure "OLD vs NEW" "$DIR/old.ndjson" "$DIR/new.ndjson"
measure "empty OLD (NEW streamed)" "$DIR/empty.ndjson" "$DIR/new.ndjson"
measure "empty NEW (OLD indexed)" "$DIR/old.ndjson" "$DIR/empty.ndjson"
