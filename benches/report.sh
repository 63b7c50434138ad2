#!/usr/bin/env bash
# Benchmark: `vauto report` over a 1,000,000-line journal (issue "Operations").
# Target: under 2 s wall time (release build) on the 2-core CI machine; the journal is
# streamed, so peak RSS should stay flat whatever the journal's size.
# Usage: benches/report.sh [path/to/vauto] [lines]   (default: target/release/vauto, 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/vauto}")
LINES=${2:-1000000}
[ -x "$BIN" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/state"

# A capacity hunt over the last 23 hours: 4 specs, 3 ADs, mostly "Out of host capacity",
# some throttling and transient errors, a launch now and then, plus result lines.
start=$(( $(date -u +%s) - 23 * 3600 ))
awk -v n="$LINES" -v start="$start" 'BEGIN {
  srand(42);
  split("a1 a1-big e2 web", specs, " ");
  for (i = 0; i < n; i++) {
    t = start + int(i * (23 * 3600) / n);
    ts = strftime("%Y-%m-%dT%H:%M:%S", t, 1) sprintf(".%03dZ", i % 1000);
    s = specs[(i % 4) + 1];
    ad = "Uocm:PHX-AD-" ((i % 3) + 1);
    r = rand();
    if (i % 1000 == 999) {
      printf "{\"ts\":\"%s\",\"event\":\"result\",\"project\":\"lab\",\"spec\":\"%s\",\"instance\":\"%s-01\",\"provider\":\"oci\",\"action\":\"deploy\",\"attempt\":%d,\"ad\":\"%s\",\"outcome\":\"success\",\"kind\":\"Instance\",\"message\":\"launched\",\"duration_ms\":%d}\n", ts, s, s, i, ad, 5000;
      continue;
    }
    if (r < 0.002) { o = "success"; m = "launched" }
    else if (r < 0.02) { o = "throttled"; m = "too many requests (429 `TooManyRequests`)" }
    else if (r < 0.03) { o = "transient"; m = "server error (502)" }
    else { o = "capacity"; m = "out of capacity (500 `InternalError`: Out of host capacity)" }
    printf "{\"ts\":\"%s\",\"event\":\"attempt\",\"project\":\"lab\",\"spec\":\"%s\",\"instance\":\"%s-01\",\"provider\":\"oci\",\"action\":\"deploy\",\"attempt\":%d,\"ad\":\"%s\",\"outcome\":\"%s\",\"message\":\"%s\",\"duration_ms\":%d}\n", ts, s, s, i, ad, o, m, 200 + (i % 700);
  }
}' > "$work/state/journal.jsonl"
# A few malformed lines: they must be counted, not fatal.
printf 'garbage\n{"ts":"x"}\n' >> "$work/state/journal.jsonl"
size=$(du -h "$work/state/journal.jsonl" | cut -f1)
echo "journal: $(wc -l < "$work/state/journal.jsonl") lines, $size"

cd "$work"
for fmt in table json; do
  for run in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$BIN" report --state-dir "$work/state" -o "$fmt" > "$work/out"
    read -r secs kb < "$work/time"
    echo "report -o $fmt run $run: ${secs} s wall, $((kb / 1024)) MB peak RSS"
  done
done
# What was measured: the first tables of the report.
"$BIN" report --state-dir "$work/state" | head -n 20
