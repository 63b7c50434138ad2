#!/usr/bin/env bash
# Benchmarks against the built-in simulators, each run as its own process on 127.0.0.1:
#   kube: KubeVirt deploy of 100 replicas (400 objects) with 20 ms per request, --parallel 1
#         (serial: one request at a time) vs the default and wider; target >= 8x faster, < 3 s,
#         < 50 MB peak RSS (issue "KubeVirt provider", item 8), >= 10x at the default (issue 13);
#         then `kubectl apply -f` and `kubectl create -f` of the same 400 manifests (vauto's
#         plan) through the same simulator, target >= 10x (issue 13).
#   oci:  (a) one `vauto status` beside `oci compute instance list` (OCI CLI from PyPI), target
#         >= 50x less wall time and >= 10x less memory; (b) status of 1000 instances with 20 ms
#         per request, target < 2 s (issue "OCI Compute provider", item 10).
#   kubestatus: KubeVirt `status` of 1000 VMs (two specs of 500, pod network: 3000 objects and
#         8000 Events) with 20 ms per request, beside `kubectl get vm,vmi,dv -o json` on the same
#         simulator in the same run; target < 1 s and faster than kubectl (issue 13, point 5).
# Usage: benches/providers.sh [kube|oci|kubestatus|all]     (default all)
# Env:   SIMSERVER=, BIN= use these binaries instead of building release ones;
#        SHIPPED_BIN= the offline bundle's static binary for (a) (default: built with
#        `bundle.sh --target <this machine's musl target>` and unpacked);
#        OCI_CLI=path/to/oci (default: `oci` on PATH, else /tmp/ocicli/bin/oci; install with
#        `python3 -m venv /tmp/ocicli && /tmp/ocicli/bin/pip install oci-cli`); RUNS=3 repeats;
#        KUBECTL= (default `kubectl` on PATH) for kube and kubestatus.
# Every server is stopped on exit and also stops by itself after 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
RUNS=${RUNS:-3}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The simulator server is a bench target; building it unifies dev-dependency features into the
# library, so build it first and the product binary afterwards, then keep a copy of the latter.
# SIMSERVER=... and BIN=... skip the build (e.g. to try the script with debug binaries).
if [ -z "${SIMSERVER:-}" ] || [ -z "${BIN:-}" ]; then
  echo "building (release)..." >&2
  SIMSERVER=$(cargo build --release --quiet --bench simserver --message-format=json |
    jq -r 'select(.target.name == "simserver" and .executable != null) | .executable')
  cargo build --release --quiet --bin vauto
  cp "${CARGO_TARGET_DIR:-target}/release/vauto" "$work/vauto"
  BIN=$work/vauto
fi

# start_sim KIND STATE_DIR ARGS... -> sets SIM_URL, SIM_CONFIG, SIM_PID
start_sim() {
  local kind=$1 dir=$2; shift 2
  local out="$dir.out"
  mkdir -p "$(dirname "$dir")"
  "$SIMSERVER" "$kind" --state-dir "$dir" "$@" > "$out" 2>&1 &
  SIM_PID=$!
  pids+=("$SIM_PID")
  for _ in $(seq 1 100); do
    grep -q '^config ' "$out" 2>/dev/null && break
    sleep 0.05
  done
  SIM_URL=$(awk '$1 == "url" {print $2}' "$out")
  SIM_CONFIG=$(awk '$1 == "config" {print $2}' "$out")
  [ -n "$SIM_CONFIG" ] || { echo "simulator did not start:" >&2; cat "$out" >&2; exit 1; }
}
stop_sim() { kill -TERM "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; }

# timed OUT_FILE CMD... : runs CMD (bounded to 5 minutes) under /usr/bin/time; "wall user sys kB".
# Wall time comes from $EPOCHREALTIME (µs; it includes starting `time` and `timeout`, ≈ 1 ms),
# since /usr/bin/time's %e has 10 ms resolution and a one-shot status takes less.
timed() {
  local t=$1; shift
  local t0=$EPOCHREALTIME rc=0
  LC_ALL=C /usr/bin/time -f "%U %S %M" -o "$t.raw" timeout 300 "$@" || rc=$?
  local t1=$EPOCHREALTIME
  echo "$(awk "BEGIN{printf \"%.3f\", ${t1/,/.} - ${t0/,/.}}") $(cat "$t.raw")" > "$t"
  return "$rc"
}
mb() { awk "BEGIN{printf \"%.1f\", $1/1024}"; }
median() { sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

SSH='ssh: {authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk0Qp3ZxXb5dYk2mQy6c0r3Wm6TqzV2H0ZsO0xJcXbY bench"]}'

# kube_bench_project CFG: projects/bench.yaml for the running Kubernetes simulator, with ipam
kube_bench_project() {
  cat > "$1/projects/bench.yaml" <<YAML
provider: kubevirt
kubevirt: {kubeconfig: $SIM_CONFIG, namespace: default}
network:
  ipam: {range: 10.10.0.0/23, gateway: 10.10.0.1, dns: [10.10.0.1]}
  bridge: br1
YAML
}

bench_kube() {
  local cfg=$work/kcfg
  mkdir -p "$cfg/projects" "$cfg/specs" "$cfg/templates"
  cat > "$cfg/specs/web.yaml" <<YAML
replicas: 100
cpu: 1
memory: 1Gi
disk: {size: 10Gi, source: {registry: "docker://registry.local/rhel9:9.4"}}
$SSH
YAML
  echo
  echo "## kubevirt deploy: 100 replicas (400 objects), 20 ms per request, median of $RUNS (--parallel 1: one run)"
  printf '| %-14s | %8s | %8s | %8s | %12s | %7s |\n' run "wall s" "user s" "sys s" "peak RSS MB" speedup
  printf '|%s|%s|%s|%s|%s|%s|\n' ---------------- ---------- ---------- ---------- -------------- ---------
  local base="" default_wall=""
  for par in 1 default 16 32; do
    local n=$RUNS; [ "$par" = 1 ] && n=1
    local walls=() rss=() users=() syss=()
    for r in $(seq 1 "$n"); do
      local d=$work/kube-$par-$r
      start_sim kube "$d/sim" --latency 20ms
      kube_bench_project "$cfg"
      local flags=(); [ "$par" != default ] && flags=(--parallel "$par")
      if ! timed "$d/time" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench web deploy -q \
          "${flags[@]}" > "$d/stdout" 2> "$d/stderr"; then
        echo "deploy failed (--parallel $par):" >&2; tail -5 "$d/stderr" >&2; exit 1
      fi
      cat "$d/stdout" "$d/stderr" | grep -Eq 'deploy: 100 instances: 100 created; 400 objects: 400 created in' ||
        { echo "unexpected summary:" >&2; tail -3 "$d/stdout"; tail -3 "$d/stderr" >&2; exit 1; }
      stop_sim
      read -r w u s k < "$d/time"
      walls+=("$w"); users+=("$u"); syss+=("$s"); rss+=("$k")
    done
    local w u s k
    w=$(printf '%s\n' "${walls[@]}" | median)
    u=$(printf '%s\n' "${users[@]}" | median)
    s=$(printf '%s\n' "${syss[@]}" | median)
    k=$(printf '%s\n' "${rss[@]}" | sort -g | tail -1)
    [ -z "$base" ] && base=$w
    [ "$par" = default ] && default_wall=$w
    local label="--parallel $par"; [ "$par" = default ] && label="default (8)"
    printf '| %-14s | %8s | %8s | %8s | %12s | %6.1fx |\n' "$label" "$w" "$u" "$s" "$(mb "$k")" \
      "$(awk "BEGIN{print $base/$w}")"
  done
  local peer_walls=()
  # The peers: kubectl apply -f and create -f of the same 400 manifests (vauto's plan) through
  # the same simulator with the same 20 ms, discovery (and apply's OpenAPI) cached first.
  local kubectl=${KUBECTL:-kubectl}
  if command -v "$kubectl" > /dev/null; then
    for verb in apply create; do
      local d=$work/kube-kubectl-$verb
      start_sim kube "$d/sim" --latency 20ms
      kube_bench_project "$cfg"
      "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench web plan -o yaml > "$d/plan.yaml"
      local K=("$kubectl" --kubeconfig "$SIM_CONFIG" --cache-dir "$work/kcache-$verb")
      "${K[@]}" get vm,dv,secrets,net-attach-def > /dev/null 2>&1 || true
      [ "$verb" = apply ] && { "${K[@]}" apply --dry-run=client -f "$d/plan.yaml" > /dev/null 2>&1 || true; }
      if ! timed "$d/time" "${K[@]}" "$verb" -f "$d/plan.yaml" > "$d/stdout" 2> "$d/stderr"; then
        echo "kubectl $verb failed:" >&2; tail -5 "$d/stderr" >&2; exit 1
      fi
      [ "$(grep -c ' created$' "$d/stdout")" = 400 ] ||
        { echo "kubectl $verb did not create 400 objects:" >&2; tail -3 "$d/stdout" >&2; exit 1; }
      stop_sim
      local w u s k
      read -r w u s k < "$d/time"
      printf '| %-14s | %8s | %8s | %8s | %12s | %6.1fx |\n' "kubectl $verb" "$w" "$u" "$s" "$(mb "$k")" \
        "$(awk "BEGIN{print $base/$w}")"
      peer_walls+=("kubectl $verb=$w")
    done
    echo "default (8) is $(awk "BEGIN{printf \"%.1f\", ${peer_walls[0]#*=}/$default_wall}")x faster than kubectl apply, $(awk "BEGIN{printf \"%.1f\", ${peer_walls[1]#*=}/$default_wall}")x than kubectl create"
  else
    echo "(no kubectl: set KUBECTL to compare with kubectl apply/create)"
  fi
  echo "(peak RSS: the largest of the runs; kubectl: one run each)"
}

OCI_SPEC='replicas: 3
shape: VM.Standard.A1.Flex
ocpus: 2
memory_gb: 12
image: {os: Canonical Ubuntu, os_version: "22.04", name_contains: [aarch64]}
placement: {availability_domains: all}'

# oci_project CFG: writes projects/bench.yaml for the running OCI simulator
oci_project() {
  mkdir -p "$1/projects" "$1/specs" "$1/templates"
  cat > "$1/projects/bench.yaml" <<YAML
provider: oci
oci:
  config_file: $SIM_CONFIG
  endpoint: $SIM_URL
  subnet: "public subnet-main-vcn"
YAML
  printf '%s\n%s\n' "$OCI_SPEC" "$SSH" > "$1/specs/a1.yaml"
}

bench_oci() {
  local oci_cli=${OCI_CLI:-$(command -v oci || echo /tmp/ocicli/bin/oci)}
  [ -x "$oci_cli" ] || { echo "no OCI CLI at $oci_cli (pip install oci-cli, or set OCI_CLI)" >&2; exit 1; }
  local tenancy=ocid1.tenancy.oc1..aaaaaaaasimtenancy0000000000000000000000000000000000
  export SUPPRESS_LABEL_WARNING=True OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING=True

  # (a) three instances, no added latency: process cost of one status vs one CLI list, for
  # the binary the offline bundle ships (static musl, what operators install) and for the
  # plain `cargo build --release` one (glibc, dynamically linked).
  local shipped=${SHIPPED_BIN:-}
  if [ -z "$shipped" ]; then
    echo "building the offline bundle for $(uname -m)..." >&2
    bash bundle.sh --target "$(uname -m)-unknown-linux-musl" --out "$work/dist" > "$work/bundle.log" 2>&1 ||
      { echo "bundle.sh failed:" >&2; tail -5 "$work/bundle.log" >&2; exit 1; }
    mkdir -p "$work/shipped"
    tar -xzf "$work"/dist/vauto-*.tar.gz -C "$work/shipped"
    shipped=$(echo "$work"/shipped/*/vauto)
  fi
  local d=$work/oci-a cfg=$work/ocfg-a
  start_sim oci "$d/sim" --provision-delay 100ms
  oci_project "$cfg"
  "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench a1 deploy -q > /dev/null 2>&1
  sleep 0.3
  local vw=() vu=() vs=() vk=() sw=() su=() ss=() sk=() cw=() cu=() cs=() ck=()
  for r in $(seq 1 "$RUNS"); do
    timed "$d/tv" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench a1 status > "$d/vout"
    grep -c '┆ RUNNING ┆' "$d/vout" | grep -qx 3 || { echo "vauto status did not show 3 running:" >&2; cat "$d/vout" >&2; exit 1; }
    timed "$d/ts" "$shipped" --config-dir "$cfg" --state-dir "$d/state" bench a1 status > "$d/sout"
    grep -c '┆ RUNNING ┆' "$d/sout" | grep -qx 3 || { echo "shipped vauto status did not show 3 running:" >&2; cat "$d/sout" >&2; exit 1; }
    timed "$d/tc" "$oci_cli" compute instance list --all --endpoint "$SIM_URL" --config-file "$SIM_CONFIG" \
      --profile DEFAULT --compartment-id "$tenancy" > "$d/cout" 2> "$d/cerr"
    [ "$(jq '.data | length' "$d/cout")" = 3 ] || { echo "oci list did not show 3:" >&2; cat "$d/cout" "$d/cerr" >&2; exit 1; }
    read -r w u s k < "$d/tv"; vw+=("$w"); vu+=("$u"); vs+=("$s"); vk+=("$k")
    read -r w u s k < "$d/ts"; sw+=("$w"); su+=("$u"); ss+=("$s"); sk+=("$k")
    read -r w u s k < "$d/tc"; cw+=("$w"); cu+=("$u"); cs+=("$s"); ck+=("$k")
  done
  stop_sim
  local a b
  echo
  echo "## oci status (a): 3 instances, no added latency, median of $RUNS"
  printf '| %-44s | %8s | %8s | %8s | %12s |\n' command "wall s" "user s" "sys s" "peak RSS MB"
  printf '|%s|%s|%s|%s|%s|\n' ---------------------------------------------- ---------- ---------- ---------- --------------
  printf '| %-44s | %8s | %8s | %8s | %12s |\n' "vauto bench a1 status (bundle, static)" \
    "$(printf '%s\n' "${sw[@]}" | median)" "$(printf '%s\n' "${su[@]}" | median)" \
    "$(printf '%s\n' "${ss[@]}" | median)" "$(mb "$(printf '%s\n' "${sk[@]}" | median)")"
  printf '| %-44s | %8s | %8s | %8s | %12s |\n' "vauto bench a1 status (cargo --release)" \
    "$(printf '%s\n' "${vw[@]}" | median)" "$(printf '%s\n' "${vu[@]}" | median)" \
    "$(printf '%s\n' "${vs[@]}" | median)" "$(mb "$(printf '%s\n' "${vk[@]}" | median)")"
  printf '| %-44s | %8s | %8s | %8s | %12s |\n' "oci compute instance list --all" \
    "$(printf '%s\n' "${cw[@]}" | median)" "$(printf '%s\n' "${cu[@]}" | median)" \
    "$(printf '%s\n' "${cs[@]}" | median)" "$(mb "$(printf '%s\n' "${ck[@]}" | median)")"
  local which arr
  for which in bundle release; do
    [ "$which" = bundle ] && arr=("${sw[@]}") || arr=("${vw[@]}")
    a=$(printf '%s\n' "${arr[@]}" | median); b=$(printf '%s\n' "${cw[@]}" | median)
    echo "$which: wall time ratio $(awk "BEGIN{printf \"%.0f\", $b/$a}")x"
    [ "$which" = bundle ] && arr=("${sk[@]}") || arr=("${vk[@]}")
    a=$(printf '%s\n' "${arr[@]}" | median); b=$(printf '%s\n' "${ck[@]}" | median)
    echo "$which: peak RSS ratio  $(awk "BEGIN{printf \"%.1f\", $b/$a}")x"
  done

  # (b) 1000 instances with 20 ms per request. The simulated subnet is a /24, so launch 200
  # through the API at full speed, then copy them in the state file to 1000 with unique
  # OCIDs, names and addresses before restarting the simulator with the latency.
  d=$work/oci-b; cfg=$work/ocfg-b
  start_sim oci "$d/sim" --provision-delay 100ms
  oci_project "$cfg"
  timed "$d/tseed" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench a1 deploy -q \
    --replicas 200 --parallel 32 > /dev/null 2> "$d/seed.err" ||
    { echo "launching 200 instances failed:" >&2; tail -5 "$d/seed.err" >&2; exit 1; }
  stop_sim
  local state=$d/sim/sim/oci/state.json
  jq '.instances as $a | .retry_tokens = {} | .next_seq = 100000 | .instances = [range(1000) as $j
      | ($j | tostring | ("000" + .)[-4:]) as $n | $a[$j % ($a | length)]
      | .id |= .[:-4] + $n | .vnic_id |= .[:-4] + $n | .vnic_attachment_id |= .[:-4] + $n
      | .display_name = "a1-\($n)" | .hostname_label = "a1-\($n)" | .freeform_tags["v-auto/name"] = "a1-\($n)"
      | .private_ip = "10.0.\($j / 250 | floor).\($j % 250 + 2)"
      | .public_ip = "203.0.\(113 + ($j / 250 | floor)).\($j % 250 + 2)"]' "$state" > "$state.tmp"
  mv "$state.tmp" "$state"
  start_sim oci "$d/sim" --provision-delay 100ms --latency 20ms
  oci_project "$cfg" # the new server listens on a new port
  local bw=() bk=() bu=()
  for r in $(seq 1 "$RUNS"); do
    timed "$d/tb" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench a1 status -o json > "$d/bout"
    [ "$(jq '[.[] | select(.ip != null)] | length' "$d/bout")" = 1000 ] ||
      { echo "status did not show 1000 instances with addresses" >&2; head -c 600 "$d/bout" >&2; exit 1; }
    read -r w u s k < "$d/tb"; bw+=("$w"); bu+=("$u"); bk+=("$k")
  done
  stop_sim
  echo
  echo "## oci status (b): 1000 instances, 20 ms per request, median of $RUNS (200 launched in $(cut -d' ' -f1 "$d/tseed") s, copied to 1000)"
  printf '| %-44s | %8s | %8s | %12s |\n' command "wall s" "user s" "peak RSS MB"
  printf '|%s|%s|%s|%s|\n' ---------------------------------------------- ---------- ---------- --------------
  printf '| %-44s | %8s | %8s | %12s |\n' "vauto bench a1 status -o json" \
    "$(printf '%s\n' "${bw[@]}" | median)" "$(printf '%s\n' "${bu[@]}" | median)" \
    "$(mb "$(printf '%s\n' "${bk[@]}" | median)")"
}

bench_kubestatus() {
  local kubectl=${KUBECTL:-kubectl}
  command -v "$kubectl" > /dev/null || { echo "no kubectl (set KUBECTL)" >&2; exit 1; }
  local cfg=$work/kscfg d=$work/kubestatus
  mkdir -p "$cfg/projects" "$cfg/specs" "$cfg/templates" "$d"
  # Two specs of 500 (a spec has at most 999 replicas); the pod network (no ipam), so each
  # instance is a Secret, a DataVolume and a VirtualMachine (and its VMI).
  for spec in a b; do
    cat > "$cfg/specs/$spec.yaml" <<YAML
replicas: 500
cpu: 1
memory: 1Gi
disk: {size: 10Gi, source: {registry: "docker://registry.local/rhel9:9.4"}}
$SSH
YAML
  done
  kube_project() {
    cat > "$cfg/projects/bench.yaml" <<YAML
provider: kubevirt
kubevirt: {kubeconfig: $SIM_CONFIG, namespace: default}
YAML
  }
  # Seed at full speed with short imports and boots, then serve the same state with 20 ms.
  start_sim kube "$d/sim" --import-duration 1s --boot-duration 1s
  kube_project
  for spec in a b; do
    "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench "$spec" deploy -q --parallel 32 \
      > "$d/seed.out" 2> "$d/seed.err" ||
      { echo "seeding spec $spec failed:" >&2; tail -5 "$d/seed.err" >&2; exit 1; }
  done
  sleep 2.5
  # The controllers are lazy: one read makes every VM run and records its Events.
  "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench status -o json > "$d/warm.json"
  stop_sim
  start_sim kube "$d/sim" --latency 20ms
  kube_project
  export KUBECONFIG=$SIM_CONFIG
  local K=("$kubectl" --cache-dir "$work/kcache")
  # kubectl's discovery, cached once (vauto does none), and a check that every VM runs.
  "${K[@]}" get vm -o json > "$d/kwarm.json"
  [ "$(jq '[.items[] | select(.status.printableStatus == "Running")] | length' "$d/kwarm.json")" = 1000 ] ||
    { echo "not 1000 running VMs" >&2; exit 1; }
  local events
  events=$("${K[@]}" get events -o json | jq '.items | length')
  local tw=() tk=() jw=() jk=() ew=() ek=() cw=() ck=()
  for r in $(seq 1 "$RUNS"); do
    timed "$d/tt" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench status > "$d/tout"
    grep -q '^status: 1000 instances: 1000 Running$' "$d/tout" ||
      { echo "vauto status did not show 1000 running:" >&2; tail -3 "$d/tout" >&2; exit 1; }
    timed "$d/tj" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench status -o json > "$d/jout"
    [ "$(jq '[.[] | select(.state == "Running" and .ip != null and (.events | length) == 1)] | length' "$d/jout")" = 1000 ] ||
      { echo "vauto status -o json did not show 1000 running with an address and an event" >&2; exit 1; }
    timed "$d/te" "$BIN" --config-dir "$cfg" --state-dir "$d/state" bench status --events 0 > "$d/eout"
    grep -q '^status: 1000 instances: 1000 Running$' "$d/eout" ||
      { echo "vauto status --events 0 did not show 1000 running" >&2; exit 1; }
    timed "$d/tc" "${K[@]}" get vm,vmi,dv -o json > "$d/cout"
    [ "$(jq '.items | length' "$d/cout")" = 3000 ] ||
      { echo "kubectl did not list 3000 objects" >&2; exit 1; }
    read -r w u s k < "$d/tt"; tw+=("$w"); tk+=("$k")
    read -r w u s k < "$d/tj"; jw+=("$w"); jk+=("$k")
    read -r w u s k < "$d/te"; ew+=("$w"); ek+=("$k")
    read -r w u s k < "$d/tc"; cw+=("$w"); ck+=("$k")
  done
  stop_sim
  echo
  echo "## kubevirt status: 1000 VMs ($events Events in the namespace), 20 ms per request, median of $RUNS"
  printf '| %-44s | %8s | %12s |\n' command "wall s" "peak RSS MB"
  printf '|%s|%s|%s|\n' ---------------------------------------------- ---------- --------------
  row() { printf '| %-44s | %8s | %12s |\n' "$1" "$(printf '%s\n' "${@:2:$(( ($# - 1) / 2 ))}" | median)" \
    "$(mb "$(printf '%s\n' "${@:$(( ($# - 1) / 2 + 2 ))}" | median)")"; }
  row "vauto bench status" "${tw[@]}" "${tk[@]}"
  row "vauto bench status -o json" "${jw[@]}" "${jk[@]}"
  row "vauto bench status --events 0" "${ew[@]}" "${ek[@]}"
  row "kubectl get vm,vmi,dv -o json" "${cw[@]}" "${ck[@]}"
  echo "runs (wall s): status ${tw[*]}; -o json ${jw[*]}; --events 0 ${ew[*]}; kubectl ${cw[*]}"
}

case $what in
  kube) bench_kube ;;
  oci) bench_oci ;;
  kubestatus) bench_kubestatus ;;
  all) bench_kube; bench_oci; bench_kubestatus ;;
  *) echo "usage: benches/providers.sh [kube|oci|kubestatus|all]" >&2; exit 2 ;;
esac
