#!/usr/bin/env bash
# Conformance of the Kubernetes simulator with the real kubectl (issue 15).
#
#   tests/conformance/kubectl.sh [KUBECTL...]
#
# For each kubectl given (default: `kubectl` and the oldest `kubectl.1.NN` of the Google
# Cloud CLI's bin/ folder when present), starts `vauto sim serve kubevirt` on a fresh state
# folder, drives it with that kubectl and prints one line per check: `ok NAME` or
# `FAIL NAME: why`. Exits non-zero when any check fails. Each check states what a real API
# server answers and where that behaviour is documented.
#
# Environment: VAUTO (default: target/debug/vauto, or $CARGO_TARGET_DIR/debug/vauto).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VAUTO=${VAUTO:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/vauto}
GCLOUD_BIN=/usr/lib/google-cloud-sdk/bin

if [ $# -gt 0 ]; then
  CLIENTS=("$@")
else
  # `kubectl` (on the Google Cloud CLI image, a dispatcher that runs the release matching
  # the server's minor version), then the newest and the oldest of the versioned ones.
  CLIENTS=()
  command -v kubectl >/dev/null && CLIENTS+=("$(command -v kubectl)")
  versioned=$(ls "$GCLOUD_BIN"/kubectl.1.* 2>/dev/null | sort -t. -k3 -n)
  newest=$(echo "$versioned" | tail -1)
  oldest=$(echo "$versioned" | head -1)
  [ -n "$newest" ] && CLIENTS+=("$newest")
  [ -n "$oldest" ] && [ "$oldest" != "$newest" ] && CLIENTS+=("$oldest")
fi
if [ ${#CLIENTS[@]} -eq 0 ]; then
  echo "FAIL setup: no kubectl found (install Debian's kubernetes-client)"
  exit 1
fi
[ -x "$VAUTO" ] || { echo "FAIL setup: no vauto binary at $VAUTO (cargo build first)"; exit 1; }

FAILED=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }
skip() { echo "skip $1: $2"; }

# expect NAME WANT_STATUS(0|nonzero) GREP_PATTERN -- COMMAND...: runs COMMAND, checks its
# exit status and that its combined output matches the extended regular expression.
expect() {
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$want" = 0 ] && [ $status -ne 0 ]; then
    fail "$name" "exit $status: $(echo "$out" | head -3 | tr '\n' ' ')"
  elif [ "$want" != 0 ] && [ $status -eq 0 ]; then
    fail "$name" "succeeded, expected a refusal: $(echo "$out" | head -3 | tr '\n' ' ')"
  elif ! echo "$out" | grep -Eq -- "$pattern"; then
    fail "$name" "output does not match /$pattern/: $(echo "$out" | head -5 | tr '\n' ' ')"
  else
    ok "$name"
  fi
}

# The first line (header) of a command's output, with runs of spaces squeezed.
header() { "$@" 2>&1 | head -1 | tr -s ' '; }

run_suite() {
  local K=$1
  local DIR SERVE_PID
  DIR=$(mktemp -d)
  local version
  version=$("$K" version --client -o json 2>/dev/null | grep -o '"gitVersion": *"[^"]*"' | head -1 | cut -d'"' -f4)
  echo "== $K ($version)"

  "$VAUTO" sim serve kubevirt --state-dir "$DIR" --listen 127.0.0.1:0 >"$DIR/serve.out" 2>"$DIR/serve.err" &
  SERVE_PID=$!
  for _ in $(seq 1 100); do
    grep -q '^Serving until Ctrl-C\.$' "$DIR/serve.out" 2>/dev/null && break
    sleep 0.1
  done
  local url kubeconfig
  url=$(sed -n 's/^url: //p' "$DIR/serve.out")
  kubeconfig=$(sed -n 's/^kubeconfig: //p' "$DIR/serve.out")
  if [ -z "$url" ] || [ ! -f "$kubeconfig" ] || ! grep -qx "export KUBECONFIG=$kubeconfig" "$DIR/serve.out"; then
    fail serve "vauto sim serve did not announce itself: $(cat "$DIR/serve.out" "$DIR/serve.err" | head -5 | tr '\n' ' ')"
    stop_serve "$SERVE_PID"
    rm -rf "$DIR"
    return
  fi
  ok serve
  export KUBECONFIG=$kubeconfig
  # A private discovery cache per run, so no answer of an earlier run is reused.
  local k=("$K" --cache-dir "$DIR/kube-cache")

  # HTTPS with the generated CA: client-go sends a bearer token only over TLS
  # (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#putting-a-bearer-token-in-a-request).
  [[ $url == https://127.0.0.1:* ]] && ok https-url || fail https-url "url is $url"
  expect version 0 '"serverVersion"' -- "${k[@]}" version -o json

  # Discovery short names and categories, as `kubectl api-resources` shows them on a cluster
  # with KubeVirt and CDI (KubeVirt crds.go: vm/vms, vmi/vmis, category all).
  expect api-resources 0 'virtualmachines +vm,vms +kubevirt.io/v1 +true +VirtualMachine' -- "${k[@]}" api-resources
  expect short-names 0 'No resources found|NAME' -- "${k[@]}" get vm,vmi,dv,net-attach-def,secret
  expect get-nodes 0 '^worker-0 +Ready' -- "${k[@]}" get no --no-headers
  expect get-namespace 0 '^default +Active' -- "${k[@]}" get ns default --no-headers
  # The kube-apiserver's printer columns for storage classes (default marked, sorted by name).
  [ "$(header "${k[@]}" get sc)" = "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE" ] &&
    ok sc-columns || fail sc-columns "$(header "${k[@]}" get sc)"
  expect sc-wffc-row 0 '^lvms-vg1 +topolvm.io +Delete +WaitForFirstConsumer +true +[0-9a-z]+$' \
    -- "${k[@]}" get sc --no-headers
  expect sc-default-row 0 '^ocs-storagecluster-ceph-rbd \(default\) +openshift-storage.rbd.csi.ceph.com +Delete +Immediate +true +[0-9a-z]+$' \
    -- "${k[@]}" get sc --no-headers
  sc_order=$("${k[@]}" get sc -o name 2>&1 | tr '\n' ' ')
  [ "$sc_order" = "storageclass.storage.k8s.io/lvms-vg1 storageclass.storage.k8s.io/ocs-storagecluster-ceph-rbd " ] &&
    ok sc-order || fail sc-order "$sc_order"

  # A VM with a pod network only, which the simulator boots; created without client-side
  # validation so that these checks do not depend on the OpenAPI documents.
  cat >"$DIR/w1.yaml" <<'EOF'
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: w1
spec:
  runStrategy: Always
  template:
    spec:
      domain:
        devices: {}
        resources:
          requests:
            memory: 1Gi
EOF
  # `kubectl get -w` lists, then watches from the list's resourceVersion
  # (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
  "${k[@]}" get vm -w >"$DIR/watch.out" 2>&1 &
  local watch_pid=$!
  sleep 1
  expect create-vm 0 'virtualmachine.kubevirt.io/w1 created' -- "${k[@]}" create --validate=false -f "$DIR/w1.yaml"
  # `kubectl wait` watches until the Ready condition is True
  # (https://kubernetes.io/docs/reference/kubectl/generated/kubectl_wait/).
  expect wait-ready 0 'virtualmachine.kubevirt.io/w1 condition met' -- "${k[@]}" wait --for=condition=Ready vm/w1 --timeout=60s
  sleep 1
  kill "$watch_pid" 2>/dev/null
  wait "$watch_pid" 2>/dev/null
  if head -1 "$DIR/watch.out" | grep -Eq '^NAME +AGE +STATUS +READY' && grep -Eq '^w1 +[0-9a-z]+ +Running +True' "$DIR/watch.out"; then
    ok get-watch
  else
    fail get-watch "$(head -5 "$DIR/watch.out" | tr '\n' '|')"
  fi

  # Printer columns of the real CRDs (KubeVirt crds.go additionalPrinterColumns; CDI's
  # DataVolume kubebuilder printcolumn markers).
  [ "$(header "${k[@]}" get vm)" = "NAME AGE STATUS READY" ] && ok vm-columns || fail vm-columns "$(header "${k[@]}" get vm)"
  [ "$(header "${k[@]}" get vmi)" = "NAME AGE PHASE IP NODENAME READY" ] && ok vmi-columns || fail vmi-columns "$(header "${k[@]}" get vmi)"
  expect vm-row 0 '^w1 +[0-9a-z]+ +Running +True$' -- "${k[@]}" get vm w1 --no-headers
  expect vmi-row 0 '^w1 +[0-9a-z]+ +Running +[0-9.]+ +worker-[0-9] +True$' -- "${k[@]}" get vmi w1 --no-headers
  # KubeVirt runs each VMI in a virt-launcher pod (https://kubevirt.io/user-guide/architecture/).
  expect launcher-pod 0 '^virt-launcher-w1-[a-z0-9]{5} +1/1 +Running' -- "${k[@]}" get po --no-headers
  # Category `all` includes VMs and VMIs (KubeVirt crds.go Categories).
  expect get-all 0 'virtualmachine.kubevirt.io/w1' -- "${k[@]}" get all
  expect describe-vm 0 'Name: +w1' -- "${k[@]}" describe vm w1
  expect describe-vmi 0 'Phase: +Running' -- "${k[@]}" describe vmi w1

  # A DataVolume; CDI columns PHASE PROGRESS RESTARTS AGE.
  cat >"$DIR/dv.yaml" <<'EOF'
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata:
  name: d1
spec:
  source:
    http:
      url: https://images.example/disk.qcow2
  storage:
    resources:
      requests:
        storage: 1Gi
EOF
  expect create-dv 0 'datavolume.cdi.kubevirt.io/d1 created' -- "${k[@]}" create --validate=false -f "$DIR/dv.yaml"
  [ "$(header "${k[@]}" get dv)" = "NAME PHASE PROGRESS RESTARTS AGE" ] && ok dv-columns || fail dv-columns "$(header "${k[@]}" get dv)"
  expect describe-dv 0 'Name: +d1' -- "${k[@]}" describe dv d1

  # Patches on a custom resource: JSON merge patch and JSON patch are accepted
  # (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#advanced-topics:
  # "strategic merge patch is not supported" for custom resources).
  expect patch-merge 0 'virtualmachine.kubevirt.io/w1 patched' -- "${k[@]}" patch vm w1 --type=merge -p '{"metadata":{"labels":{"tier":"web"}}}'
  expect patch-merge-stored 0 '^web$' -- "${k[@]}" get vm w1 -o 'jsonpath={.metadata.labels.tier}'
  # [kstrict] JSON patch.
  expect patch-json 0 'virtualmachine.kubevirt.io/w1 patched' -- "${k[@]}" patch vm w1 --type=json -p '[{"op":"add","path":"/metadata/labels/zone","value":"a"}]'
  expect patch-json-stored 0 '^a$' -- "${k[@]}" get vm w1 -o 'jsonpath={.metadata.labels.zone}'
  # [kstrict] The default (strategic) patch type is refused on custom resources with 415.
  expect patch-strategic-refused 1 'UnsupportedMediaType|unknown format|not supported' -- "${k[@]}" patch vm w1 -p '{"metadata":{"labels":{"x":"y"}}}'

  # [kstrict] delete --dry-run=server answers as a delete but keeps the object
  # (https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run).
  expect delete-dry-run 0 'deleted \(server dry run\)' -- "${k[@]}" delete vm w1 --dry-run=server
  expect delete-dry-run-kept 0 '^w1 ' -- "${k[@]}" get vm w1 --no-headers
  # [kstrict] --cascade=orphan sends propagationPolicy=Orphan: the VM goes, its VMI stays
  # (https://kubernetes.io/docs/concepts/architecture/garbage-collection/#orphaned-dependents).
  # (Recreated when the dry run above really deleted it, so this check stands on its own.)
  "${k[@]}" get vm w1 >/dev/null 2>&1 || {
    "${k[@]}" create --validate=false -f "$DIR/w1.yaml" >/dev/null 2>&1
    "${k[@]}" wait --for=condition=Ready vm/w1 --timeout=60s >/dev/null 2>&1
  }
  expect delete-orphan 0 'virtualmachine.kubevirt.io "w1" deleted' -- "${k[@]}" delete vm w1 --cascade=orphan --wait=false
  sleep 1
  expect delete-orphan-vmi-kept 0 '^w1 ' -- "${k[@]}" get vmi w1 --no-headers

  # [kstrict] `kubectl explain` reads the OpenAPI v3 documents (schemas of the real CRDs);
  # kubectl before 1.29 first reads /openapi/v2 as protobuf (gnostic openapi.v2.Document,
  # kube-openapi pkg/handler), and `--output=plaintext-openapiv2` explains from it alone.
  expect explain 0 'runStrategy' -- "${k[@]}" explain vm.spec
  expect explain-v2 0 'runStrategy.*<string>' -- "${k[@]}" explain vm.spec --output=plaintext-openapiv2
  # [kstrict] `kubectl auth can-i` posts a SelfSubjectAccessReview
  # (https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access).
  expect auth-can-i 0 '^yes$' -- "${k[@]}" auth can-i create vm
  # The read-only context of `vauto sim serve` may read and is refused writes with 403
  # Forbidden (https://kubernetes.io/docs/reference/access-authn-authz/rbac/).
  expect auth-can-i-readonly 1 '^no$' -- "${k[@]}" --context vauto-sim-readonly auth can-i create vm
  expect readonly-get 0 '^w1 ' -- "${k[@]}" --context vauto-sim-readonly get vmi w1 --no-headers
  expect readonly-delete-forbidden 1 'Forbidden|forbidden' -- "${k[@]}" --context vauto-sim-readonly delete vmi w1
  # [kstrict] A create in a namespace that does not exist is 404 NotFound
  # (https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/).
  expect create-missing-namespace 1 'namespaces "nope" not found' -- "${k[@]}" create --validate=false -n nope -f "$DIR/w1.yaml"

  # A manifest with a field the schema does not know is refused by `kubectl apply`'s default
  # validation (--validate=strict): the PATCH operation in /openapi/v2 takes
  # `fieldValidation`, so kubectl sends fieldValidation=Strict and the server answers 400
  # "strict decoding error" (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
  sed 's/^  name: w1$/  name: typo/; s/^  runStrategy: Always$/  runStrategy: Always\n  runStrategi: Halted/' "$DIR/w1.yaml" >"$DIR/typo.yaml"
  expect apply-unknown-field 1 'strict decoding error: unknown field "spec.runStrategi"' -- "${k[@]}" apply -f "$DIR/typo.yaml"
  expect apply-unknown-field-not-created 1 'virtualmachines.kubevirt.io "typo" not found' -- "${k[@]}" get vm typo

  # [kstrict for validation] `kubectl apply -f` of vauto's own manifests (client-side
  # validation against the OpenAPI documents, then create), and `kubectl diff` of the same
  # manifests shows nothing (exit 0: https://kubernetes.io/docs/reference/kubectl/generated/kubectl_diff/).
  mkdir -p "$DIR/cfg/projects" "$DIR/cfg/specs"
  cp -r "$ROOT/templates" "$DIR/cfg/"
  cat >"$DIR/cfg/projects/conf.yaml" <<'EOF'
provider: kubevirt
sim: true
kubevirt:
  namespace: default
network:
  ipam:
    range: 192.168.10.0/24
    gateway: 192.168.10.1
    dns: [192.168.10.1]
  bridge: br1
EOF
  cat >"$DIR/cfg/specs/web.yaml" <<'EOF'
replicas: 2
cpu: 1
memory: 2Gi
disk:
  size: 10Gi
  source:
    http: "https://images.example/rhel9.qcow2"
EOF
  if (cd "$DIR/cfg" && "$VAUTO" --state-dir "$DIR" conf web plan -o yaml >"$DIR/plan.yaml" 2>"$DIR/plan.err"); then
    ok plan-yaml
    expect apply 0 'virtualmachine.kubevirt.io/[a-z0-9-]+ created' -- "${k[@]}" apply -f "$DIR/plan.yaml"
    # Without client-side validation (no OpenAPI needed): created, or unchanged when the
    # check above already created them.
    expect apply-unvalidated 0 'virtualmachine.kubevirt.io/web-01 (created|unchanged)' -- "${k[@]}" apply --validate=false -f "$DIR/plan.yaml"
    expect diff 0 '^$' -- "${k[@]}" diff -f "$DIR/plan.yaml"
    # A change shows as a diff, exit 1 (same page).
    sed 's/runStrategy: Always/runStrategy: Halted/' "$DIR/plan.yaml" >"$DIR/plan-halted.yaml"
    expect diff-changed 1 '^\+ +runStrategy: Halted' -- "${k[@]}" diff -f "$DIR/plan-halted.yaml"
    # vauto and kubectl share the served state: vauto's status sees what kubectl applied.
    expect vauto-sees-applied 0 'web-01' -- env -C "$DIR/cfg" "$VAUTO" --state-dir "$DIR" conf web status
  else
    fail plan-yaml "$(head -3 "$DIR/plan.err" | tr '\n' ' ')"
  fi

  stop_serve "$SERVE_PID"
  rm -rf "$DIR"
}

# Ctrl-C, then SIGTERM after 5 s (a background job of a script may ignore SIGINT).
stop_serve() {
  kill -INT "$1" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

for client in "${CLIENTS[@]}"; do
  run_suite "$client"
done
exit $FAILED
