#!/usr/bin/env bash
# Remake the README's pictures from a real scan of the fixture farm
# (fixtures/records/farm.csv), as a newcomer sees them:
#   progress            the progress bar on a terminal, mid-scan (tmux pane)
#   summary             the end-of-scan summary on stderr (the same pane)
#   docs/evidence.png   --evidence's picture of a failing target
#   docs/report.png     `beian-audit report` of the scan, in headless Chromium
# The two text pictures go into README.md between their
# `<!-- picture:NAME:start -->` / `<!-- picture:NAME:end -->` markers.
# Timings differ run to run; nothing checks these files for drift.
#
# Needs what scripts/demo.sh needs, plus tmux; pngquant (optional) makes
# the PNGs smaller (the committed ones went through it). Usage: scripts/readme-pictures.sh [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[ "${1:-}" = --keep ] && keep=true

scripts/install-deps.sh
command -v tmux >/dev/null || { echo "readme-pictures: needs tmux (apt-get install tmux)" >&2; exit 2; }
cargo build --release --locked --workspace --bins >&2
bin=$PWD/target/release/beian-audit
shell=/usr/lib/chromium/chromium-headless-shell

work=$(mktemp -d)
socket="beian-readme-$$"
farm=""
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  [ -n "$farm" ] && kill "$farm" 2>/dev/null || true
  if $keep; then echo "readme-pictures: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Wait (at most $2 tenths of a second) until the command $1 succeeds.
await() {
  local tries=$2
  until eval "$1"; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || { echo "readme-pictures: gave up waiting for: $1" >&2; exit 1; }
    sleep 0.1
  done
}

target/release/fixture-farm --root fixtures/sites >"$work/farm.log" &
farm=$!
await 'grep -q "^listening on " "$work/farm.log"' 100
addr=$(sed -n 's/^listening on //p' "$work/farm.log" | head -n1)

# The scan on a terminal: a tmux pane of 100×18, stderr on the pane (the bar
# and the summary), the JSON lines in a file. The pane stays after the scan.
records=fixtures/records/farm.csv
total=$(($(wc -l <"$records") - 1))
tmux -L "$socket" new-session -d -s scan -x 100 -y 18 \
  "cd '$work' && $bin scan '$PWD/$records' --resolve '*=$addr' --scheme http \
     -o results.ndjson --evidence evidence; \
   echo \$? >'$work/status'; exec sleep 3600"

# Mid-scan: once about 40% of the records are written.
await '[ -f "$work/results.ndjson" ] && [ "$(wc -l <"$work/results.ndjson")" -ge $((total * 2 / 5)) ]' 3000
tmux -L "$socket" capture-pane -p -J -t scan | sed -e 's/[[:space:]]*$//' -e '/^$/d' >"$work/progress.txt"

await '[ -s "$work/status" ]' 3000
status=$(cat "$work/status")
[ "$status" -le 1 ] || { echo "readme-pictures: the scan exited $status" >&2; exit 1; }
tmux -L "$socket" capture-pane -p -J -S - -t scan | sed -e 's/[[:space:]]*$//' -e '/^$/d' >"$work/summary.txt"

mkdir -p docs

# Evidence: the phone picture of a footer that shows the number unlinked.
evidence=$(ls "$work"/evidence/*-icp-unlinked.test-mobile.png | head -n1)
cp "$evidence" docs/evidence.png

# The report page, rendered as a browser shows it (the top of the page:
# totals, filters, the first records with their inlined pictures).
(cd "$work" && "$bin" report results.ndjson -o report.html)
sandbox=()
[ "$(id -u)" -ne 0 ] || sandbox=(--no-sandbox)
"$shell" "${sandbox[@]}" --headless --hide-scrollbars --window-size=1100,1400 \
  --screenshot="$work/report.png" "file://$work/report.html" >/dev/null 2>&1
cp "$work/report.png" docs/report.png

if command -v pngquant >/dev/null; then
  pngquant --force --skip-if-larger --strip --quality 70-95 --ext .png docs/evidence.png docs/report.png || true
fi

# Paste the text blocks into README.md between their markers.
for name in progress summary; do
  awk -v name="$name" -v file="$work/$name.txt" '
    $0 == "<!-- picture:" name ":start -->" {
      print; print "```text"; while ((getline line < file) > 0) print line; print "```"; skip = 1; next
    }
    $0 == "<!-- picture:" name ":end -->" { skip = 0 }
    !skip
  ' README.md >"$work/README.md"
  cat "$work/README.md" >README.md
done

ls -l docs/evidence.png docs/report.png >&2
