#!/usr/bin/env bash
# Benchmark: `vauto daemon` at rest (issue "Operations").
# Targets: idle RSS under 15 MB; CPU over 60 s idle about 0.
# Setup: one project with a webhook receiver (so the notification task exists), a daily
# report and a spec with two schedules that do not fire during the run, --listen on.
# Measures VmRSS/VmHWM from /proc after 5 s, utime+stime over the next 60 s, and the whole
# run with /usr/bin/time -f "%e %U %S %M" (elapsed, user, system, max RSS KB).
# Usage: benches/daemon.sh [path/to/vauto] [idle seconds]   (default: target/release/vauto, 60)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/vauto}")
IDLE=${2:-60}
[ -x "$BIN" ] || { cargo build --release --quiet; BIN=$(realpath target/release/vauto); }
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/projects" "$work/specs" "$work/templates"
cp -r templates/. "$work/templates/"
cat > "$work/projects/bench.yaml" <<'YAML'
provider: oci
sim: true
oci: {subnet: "public subnet-main-vcn"}
notify:
  webhook: http://127.0.0.1:9/bench-hook
  daily_report: "0 7 1 1 *"
  timezone: Asia/Seoul
YAML
cat > "$work/specs/a1.yaml" <<'YAML'
shape: VM.Standard.A1.Flex
ocpus: 2
memory_gb: 12
image: {os: Canonical Ubuntu, os_version: "22.04"}
ssh: {authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY bench"]}
schedules:
  - {cron: "0 3 1 1 *", action: stop}
  - {cron: "0 4 1 1 *", action: start, timezone: Europe/Berlin}
YAML
port=$((20000 + RANDOM % 20000))
cd "$work"
/usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$BIN" daemon --listen "127.0.0.1:$port" > "$work/out.txt" 2>&1 &
tpid=$!
sleep 5
pid=$(pgrep -P "$tpid" -x vauto || true)
[ -n "$pid" ] || { echo "daemon did not start:"; cat "$work/out.txt"; exit 1; }
curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
t0=$(ticks)
sleep "$IDLE"
t1=$(ticks)
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$tpid" || true; pid=
read -r el us sy maxrss < "$work/time.txt"
echo "binary:        $BIN ($(du -h "$BIN" | cut -f1))"
echo "idle RSS:      $((rss0 / 1024)).$(( (rss0 % 1024) * 10 / 1024 )) MB after 5 s, $((rss1 / 1024)).$(( (rss1 % 1024) * 10 / 1024 )) MB after ${IDLE} s more (peak $((hwm / 1024)) MB, $threads threads)"
echo "idle CPU:      $((t1 - t0)) ticks of 1/$hz s over ${IDLE} s"
echo "/usr/bin/time: elapsed ${el}s user ${us}s sys ${sy}s max RSS ${maxrss} KB"
