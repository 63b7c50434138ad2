#!/usr/bin/env bash
# The standalone Kubernetes simulator (`vauto sim serve kubevirt`) under real load, to show it
# is not the bottleneck (issue "simulators as rehearsal environments", Measure):
#   (1) `kubectl apply -f` of 400 objects (vauto's plan of 100 replicas: Secret, NAD,
#       DataVolume, VirtualMachine each), then `kubectl delete -f` of them;
#   (2) vauto's own 100-replica deploy against the same served simulator;
#   (3) 1000 VirtualMachines created with `kubectl create -f`, then `kubectl get vm`.
# For each: wall time of the client, the simulator's CPU time (utime+stime from
# /proc/PID/stat) over the step, that CPU per object, and the simulator's peak RSS (VmHWM).
# Usage: benches/sim.sh        Env: BIN= the vauto binary (default target/release/vauto,
#        built when missing), KUBECTL= (default kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/vauto}
KUBECTL=${KUBECTL:-kubectl}
[ -x "$BIN" ] || cargo build --release --quiet --bin vauto
work=$(mktemp -d)
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill -INT "$SERVE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
TICK=$(getconf CLK_TCK)

mkdir -p "$work/cfg/projects" "$work/cfg/specs"
cp -r templates "$work/cfg/"
cat >"$work/cfg/projects/bench.yaml" <<'YAML'
provider: kubevirt
sim: true
kubevirt:
  namespace: default
network:
  ipam:
    range: 10.20.0.0/16
    gateway: 10.20.0.1
    dns: [10.20.0.1]
  bridge: br1
YAML
cat >"$work/cfg/specs/web.yaml" <<'YAML'
replicas: 100
cpu: 1
memory: 1Gi
disk:
  size: 10Gi
  source:
    http: "https://images.example/rhel9.qcow2"
cloud_init:
  template: cloud-init/base.yaml.j2
  vars:
    packages: [qemu-guest-agent]
    timezone: UTC
YAML

"$BIN" sim serve kubevirt --state-dir "$work/state" >"$work/serve.out" 2>"$work/serve.err" &
SERVE_PID=$!
for _ in $(seq 1 100); do grep -q '^Serving' "$work/serve.out" 2>/dev/null && break; sleep 0.05; done
export KUBECONFIG=$work/state/sim/kube/kubeconfig
K=("$KUBECTL" --cache-dir "$work/kcache")

cpu() { awk '{print $14 + $15}' "/proc/$SERVE_PID/stat"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status"; }
# step NAME OBJECTS CMD...: runs CMD, prints one table row.
step() {
  local name=$1 objects=$2; shift 2
  local c0 t0 t1 c1
  c0=$(cpu); t0=$(date +%s.%N)
  "$@" >"$work/step.out" 2>&1 || { echo "step $name failed:" >&2; tail -5 "$work/step.out" >&2; exit 1; }
  t1=$(date +%s.%N); c1=$(cpu)
  awk -v n="$name" -v o="$objects" -v w="$(echo "$t1 - $t0" | bc)" -v c="$(( (c1 - c0) * 1000 / TICK ))" -v r="$(hwm)" \
    'BEGIN { printf "| %-40s | %6d | %8.2f s | %7d ms | %6.2f ms | %7.1f MB |\n", n, o, w, c, (o ? c / o : 0), r / 1024 }'
}

(cd "$work/cfg" && "$BIN" --state-dir "$work/state" bench web plan -o yaml) >"$work/plan.yaml"
echo "| step | objects | client wall | simulator CPU | CPU / object | simulator peak RSS |"
echo "|---|---:|---:|---:|---:|---:|"
step "kubectl apply -f (400 objects)" 400 "${K[@]}" apply -f "$work/plan.yaml"
step "kubectl delete -f (400 objects)" 400 "${K[@]}" delete -f "$work/plan.yaml" --wait=false
step "vauto deploy --replicas 100 (400 objects)" 400 env -C "$work/cfg" "$BIN" --state-dir "$work/state" bench web deploy --parallel 16
grep -q '^deploy: 100 instances: 100 created; 400 objects: 400 created' "$work/step.out" || { echo "deploy did not create 400 objects:" >&2; tail -3 "$work/step.out" >&2; exit 1; }
step "vauto delete --yes (400 objects)" 400 env -C "$work/cfg" "$BIN" --state-dir "$work/state" bench web delete --yes
for i in $(seq 1 1000); do
  printf 'apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: vm-%04d\nspec:\n  runStrategy: Always\n  template:\n    spec:\n      domain:\n        devices: {}\n        resources:\n          requests:\n            memory: 1Gi\n---\n' "$i"
done >"$work/vms.yaml"
step "kubectl create -f (1000 VMs)" 1000 "${K[@]}" create --validate=false -f "$work/vms.yaml"
sleep 5
step "kubectl get vm (1000 VMs, running)" 1000 "${K[@]}" get vm
step "idle 5 s with 1000 VMs" 0 sleep 5
