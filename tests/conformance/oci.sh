#!/usr/bin/env bash
# Conformance of the OCI simulator with the real OCI CLI and Python SDK (issue 15, point 4).
#
# Starts `vauto sim serve oci` on a free port with a fresh state dir, then drives it with the
# `oci` CLI (PyPI oci-cli) and the Python SDK (tests/conformance/oci_sdk.py). Every check
# prints `ok NAME` or `FAIL NAME: why`; the comment above each names where the real
# behaviour is documented. Exits non-zero when any check fails.
#
#   VENV=/path/to/venv bash tests/conformance/oci.sh   # venv with `pip install oci-cli`
#
# Environment: VENV (default /tmp/ocicli), VAUTO (default target/debug/vauto under
# $CARGO_TARGET_DIR or ./target), SIMSERVER (optional: a benches/simserver binary to use
# instead of `vauto sim serve oci`, for development).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
VENV=${VENV:-/tmp/ocicli}
OCI=$VENV/bin/oci
PY=$VENV/bin/python
VAUTO=${VAUTO:-${CARGO_TARGET_DIR:-$root/target}/debug/vauto}
[ -x "$OCI" ] || { echo "FAIL setup: no OCI CLI at $OCI (python3 -m venv \$VENV && \$VENV/bin/pip install oci-cli)"; exit 1; }

work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- the simulator -------------------------------------------------------------------------
state=$work/state
if [ -n "${SIMSERVER:-}" ]; then
  "$SIMSERVER" oci --state-dir "$state" --provision-delay 2s --transition-delay 2s > "$work/sim.out" 2>&1 &
else
  "$VAUTO" sim serve oci --state-dir "$state" --listen 127.0.0.1:0 > "$work/sim.out" 2>&1 &
fi
sim_pid=$!
for _ in $(seq 1 200); do
  grep -Eq '^config:? ' "$work/sim.out" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || break
  sleep 0.05
done
URL=$(awk '$1 == "url:" || $1 == "url" {print $2}' "$work/sim.out")
CFG=$(awk '$1 == "config:" || $1 == "config" {print $2}' "$work/sim.out")
if [ -z "$URL" ] || [ -z "$CFG" ]; then
  echo "FAIL setup: the simulator did not start:"; sed 's/^/  /' "$work/sim.out"; exit 1
fi
export OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING=True SUPPRESS_LABEL_WARNING=True
TENANCY=$(awk -F= '$1 == "tenancy" {print $2}' "$CFG")

failures=0
ok() { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }
# oci ARGS...: the CLI against the simulator; stdout in $work/out, stderr in $work/err.
oci() {
  "$OCI" --endpoint "$URL" --config-file "$CFG" --profile DEFAULT "$@" > "$work/out" 2> "$work/err"
}
# field JQ: a field of the last CLI answer.
field() { jq -r "$1" "$work/out" 2>/dev/null; }
why() { printf '%s' "$1; stderr: $(tr '\n' ' ' < "$work/err" | cut -c1-300)"; }

# --- discovery: AD, image, subnet ----------------------------------------------------------
# ListAvailabilityDomains (Identity API), ListImages filtered by shape, ListSubnets.
oci iam availability-domain list --compartment-id "$TENANCY"
AD=$(field '.data[0].name')
oci compute image list --compartment-id "$TENANCY" --shape VM.Standard.E2.1.Micro --all
IMAGE=$(field '.data[0].id')
oci network subnet list --compartment-id "$TENANCY" --all
SUBNET=$(field '.data[0].id')
if [ -n "$AD" ] && [ "$AD" != null ] && [ -n "$IMAGE" ] && [ "$IMAGE" != null ] && [ -n "$SUBNET" ] && [ "$SUBNET" != null ]; then
  ok discovery
else
  fail discovery "$(why "AD=$AD image=$IMAGE subnet=$SUBNET")"
fi

# --- launch --wait-for-state RUNNING -------------------------------------------------------
# LaunchInstance returns the instance PROVISIONING; the CLI then polls GetInstance until
# lifecycleState is RUNNING (oci-cli compute_cli.py launch_instance: oci.wait_until on
# 'lifecycle_state').
ids=()
for n in 1 2 3; do
  if oci compute instance launch --compartment-id "$TENANCY" --availability-domain "$AD" \
      --shape VM.Standard.E2.1.Micro --image-id "$IMAGE" --subnet-id "$SUBNET" \
      --display-name "conf-$n" --wait-for-state RUNNING --wait-interval-seconds 1 \
      && [ "$(field '.data."lifecycle-state"')" = RUNNING ]; then
    ids+=("$(field '.data.id')")
  else
    fail "launch-wait-running-$n" "$(why "state $(field '.data."lifecycle-state"')")"
  fi
done
[ "${#ids[@]}" = 3 ] && ok launch-wait-for-state-running
ID=${ids[0]:-none}

# --- list with paging ----------------------------------------------------------------------
# List calls page with `limit` and the `opc-next-page` header, which the CLI prints as
# "opc-next-page" and takes back with --page; --all follows every page (OCI API
# "List Pagination": docs.oracle.com/iaas/Content/API/Concepts/usingapi.htm#nine).
if oci compute instance list --compartment-id "$TENANCY" --all && [ "$(field '.data | length')" = 3 ]; then
  ok list-all
else
  fail list-all "$(why "got $(field '.data | length') items")"
fi
if oci compute instance list --compartment-id "$TENANCY" --limit 2 && [ "$(field '.data | length')" = 2 ]; then
  next=$(field '."opc-next-page"')
  if [ -n "$next" ] && [ "$next" != null ] &&
      oci compute instance list --compartment-id "$TENANCY" --limit 2 --page "$next" &&
      [ "$(field '.data | length')" = 1 ] && [ "$(field '."opc-next-page" // "none"')" = none ]; then
    ok list-limit-page
  else
    fail list-limit-page "$(why "second page: $(field '.data | length') items, next $(field '."opc-next-page"')")"
  fi
else
  fail list-limit-page "$(why "first page: $(field '.data | length') items")"
fi

# --- get, with an etag ---------------------------------------------------------------------
# GetInstance answers the instance and an `etag` header (GetInstanceResponse.etag), which
# the CLI prints beside "data".
if oci compute instance get --instance-id "$ID" && [ "$(field '.data.id')" = "$ID" ] &&
    [ "$(field '.etag // ""')" != "" ]; then
  ok get-with-etag
  etag_running=$(field '.etag')
else
  fail get-with-etag "$(why "id $(field '.data.id') etag $(field '.etag')")"
  etag_running=
fi

# --- If-Match mismatch: 412 NoEtagMatch ----------------------------------------------------
# "412 NoEtagMatch: The ETag specified in the request does not match the ETag for the
# resource" (docs.oracle.com/iaas/Content/API/References/apierrors.htm). The action is not
# performed: the instance stays RUNNING.
if oci compute instance action --instance-id "$ID" --action STOP --if-match 0000stale0000; then
  fail if-match-mismatch "the action with a stale etag succeeded"
elif grep -q '"code": "NoEtagMatch"' "$work/err" && grep -q '"status": 412' "$work/err" &&
    oci compute instance get --instance-id "$ID" && [ "$(field '.data."lifecycle-state"')" = RUNNING ]; then
  ok if-match-mismatch
else
  fail if-match-mismatch "$(why "expected 412 NoEtagMatch and no change")"
fi

# --- power actions with --wait-for-state ---------------------------------------------------
# InstanceAction (Core API reference): STOP/SOFTSTOP from RUNNING go STOPPING then STOPPED;
# START goes STARTING then RUNNING; RESET/SOFTRESET/DIAGNOSTICREBOOT reboot a RUNNING
# instance. The CLI polls GetInstance (compute_cli.py instance_action: 'lifecycle_state').
# The first action carries the etag read above, which must still match.
step=0
for pair in STOP:STOPPED START:RUNNING SOFTSTOP:STOPPED START:RUNNING SOFTRESET:RUNNING \
    RESET:RUNNING DIAGNOSTICREBOOT:RUNNING SENDDIAGNOSTICINTERRUPT:RUNNING; do
  action=${pair%%:*} want=${pair##*:}
  step=$((step + 1))
  extra=()
  [ "$step" = 1 ] && [ -n "$etag_running" ] && extra=(--if-match "$etag_running")
  if oci compute instance action --instance-id "$ID" --action "$action" "${extra[@]}" \
      --wait-for-state "$want" --wait-interval-seconds 1 &&
      [ "$(field '.data."lifecycle-state"')" = "$want" ]; then
    ok "action-$action-wait-$want"
  else
    fail "action-$action-wait-$want" "$(why "state $(field '.data."lifecycle-state"')")"
  fi
done

# An action the state does not allow is 409 IncorrectState (API Errors: "The requested state
# for the resource conflicts with its current state"): START is fine on RUNNING, but a RESET
# of a STOPPED instance is refused.
oci compute instance action --instance-id "${ids[1]:-none}" --action STOP --wait-for-state STOPPED --wait-interval-seconds 1
if oci compute instance action --instance-id "${ids[1]:-none}" --action RESET; then
  fail action-incorrect-state "RESET of a STOPPED instance succeeded"
elif grep -q '"code": "IncorrectState"' "$work/err" && grep -q '"status": 409' "$work/err"; then
  ok action-incorrect-state
else
  fail action-incorrect-state "$(why "expected 409 IncorrectState")"
fi

# --- update --------------------------------------------------------------------------------
# UpdateInstance: displayName and freeformTags change, and so does the etag.
oci compute instance get --instance-id "$ID"; before=$(field '.etag')
if oci compute instance update --instance-id "$ID" --display-name conf-renamed \
    --freeform-tags '{"team": "conformance"}' --force &&
    [ "$(field '.data."display-name"')" = conf-renamed ] &&
    [ "$(field '.data."freeform-tags".team')" = conformance ] && [ "$(field '.etag')" != "$before" ]; then
  ok update-display-name-tags-etag
else
  fail update-display-name-tags-etag "$(why "name $(field '.data."display-name"') etag $before -> $(field '.etag')")"
fi

# --- terminate --wait-for-state SUCCEEDED (work request) -----------------------------------
# TerminateInstance answers 204 with `opc-work-request-id`; with --wait-for-state the CLI
# polls GetWorkRequest until `status` is SUCCEEDED (compute_cli.py terminate_instance), and
# the instance is then TERMINATED.
if oci compute instance terminate --instance-id "$ID" --force --wait-for-state SUCCEEDED \
    --wait-interval-seconds 1 && [ "$(field '.data.status')" = SUCCEEDED ] &&
    [ "$(field '.data."percent-complete" == 100')" = true ] &&
    [ "$(field '.data.resources[0].identifier')" = "$ID" ] &&
    oci compute instance get --instance-id "$ID" && [ "$(field '.data."lifecycle-state"')" = TERMINATED ]; then
  ok terminate-wait-work-request-succeeded
else
  fail terminate-wait-work-request-succeeded "$(why "work request $(field '.data.status // .data."lifecycle-state"')")"
fi

# --- an unserved route ---------------------------------------------------------------------
# "404 NotFound: There is no operation supported at the URI path and HTTP method you
# specified in the request" (API Errors); NotAuthorizedOrNotFound would mean a missing
# resource or policy on a real route.
# (raw-request takes the whole URL and refuses --endpoint.)
if "$OCI" --config-file "$CFG" --profile DEFAULT raw-request --http-method GET --target-uri "$URL/20160918/volumes?compartmentId=$TENANCY" > "$work/out" 2> "$work/err" &&
    [ "$(field '.status')" = "404 Not Found" ] && [ "$(field '.data.code')" = NotFound ]; then
  ok unserved-route-404-notfound
else
  fail unserved-route-404-notfound "$(why "status $(field '.status') code $(field '.data.code')")"
fi
# An unknown OCID on a served route stays NotAuthorizedOrNotFound.
if oci compute instance get --instance-id ocid1.instance.oc1.sim-region-1.nope; then
  fail unknown-ocid-404 "found an unknown instance"
elif grep -q '"code": "NotAuthorizedOrNotFound"' "$work/err" && grep -q '"status": 404' "$work/err"; then
  ok unknown-ocid-404
else
  fail unknown-ocid-404 "$(why "expected 404 NotAuthorizedOrNotFound")"
fi

# --- lights out: resources vauto did not create --------------------------------------------
# The README recipe "Lights out for resources vauto did not create", with the real CLI making
# the resources: LaunchInstance with freeform tags, CreateAutonomousDatabase and
# CreateInstancePool (the CLI's --wait-for-state polls GetAutonomousDatabase /
# GetInstancePool for lifecycleState), then vauto on a `select:` spec, then the CLI's own
# StopAutonomousDatabase and SoftstopInstancePool waits.
lights=$work/lights
mkdir -p "$lights/projects" "$lights/specs"
printf 'provider: oci\nsim: true\n' > "$lights/projects/dev.yaml"
printf 'select:\n  tags: {env: dev}\n  kinds: [instance, instance_pool, autonomous_database]\n' > "$lights/specs/dev-lights.yaml"
lv() { "$VAUTO" --config-dir "$lights" --state-dir "$state" "$@" > "$work/out" 2> "$work/err"; }
if oci compute instance launch --compartment-id "$TENANCY" --availability-domain "$AD" \
    --shape VM.Standard.E2.1.Micro --image-id "$IMAGE" --subnet-id "$SUBNET" \
    --display-name dev-web --freeform-tags '{"env": "dev"}' --wait-for-state RUNNING --wait-interval-seconds 1 &&
  oci db autonomous-database create --compartment-id "$TENANCY" --db-name devdb --display-name devdb \
    --cpu-core-count 1 --data-storage-size-in-tbs 1 --admin-password 'Sim-Only-Passw0rd' \
    --freeform-tags '{"env": "dev"}' --wait-for-state AVAILABLE --wait-interval-seconds 1 &&
  ADB=$(field '.data.id') &&
  oci compute-management instance-pool create --compartment-id "$TENANCY" \
    --instance-configuration-id ocid1.instanceconfiguration.oc1..conformance --size 1 --display-name dev-pool \
    --placement-configurations "[{\"availabilityDomain\": \"$AD\", \"primarySubnetId\": \"$SUBNET\"}]" \
    --freeform-tags '{"env": "dev"}' --wait-for-state RUNNING --wait-interval-seconds 1 &&
  POOL=$(field '.data.id'); then
  ok lights-cli-creates-pool-and-database
else
  fail lights-cli-creates-pool-and-database "$(why "create failed")"
fi
if lv dev dev-lights plan && [ "$(grep -c '^  ' "$work/out")" = 3 ] &&
  lv dev dev-lights stop --soft --wait && grep -q '^stop: 3 resources: 3 stopped' "$work/out" &&
  oci db autonomous-database get --autonomous-database-id "$ADB" && [ "$(field '.data."lifecycle-state"')" = STOPPED ] &&
  oci compute-management instance-pool get --instance-pool-id "$POOL" && [ "$(field '.data."lifecycle-state"')" = STOPPED ] &&
  [ "$(field '.data."freeform-tags".env')" = dev ]; then
  ok lights-vauto-stops-what-it-selected
else
  fail lights-vauto-stops-what-it-selected "$(why "$(tr '\n' ' ' < "$work/out" | cut -c1-300)")"
fi
if lv dev dev-lights start --wait && grep -q '^start: 3 resources: 3 started' "$work/out" &&
  oci db autonomous-database stop --autonomous-database-id "$ADB" --wait-for-state STOPPED --wait-interval-seconds 1 &&
  oci compute-management instance-pool softstop --instance-pool-id "$POOL" --wait-for-state STOPPED --wait-interval-seconds 1 &&
  [ "$(field '.data."lifecycle-state"')" = STOPPED ]; then
  ok lights-cli-stop-and-softstop-waits
else
  fail lights-cli-stop-and-softstop-waits "$(why "state $(field '.data."lifecycle-state"')")"
fi
# ListContainerInstances answers a ContainerInstanceCollection (`data.items`).
if oci container-instances container-instance list --compartment-id "$TENANCY" && [ "$(field '.data.items | length')" = 0 ]; then
  ok lights-container-instance-collection
else
  fail lights-container-instance-collection "$(why "items $(field '.data.items | length')")"
fi

# --- the Python SDK ------------------------------------------------------------------------
"$PY" "$here/oci_sdk.py" "$URL" "$CFG" "$AD" "$IMAGE" "$SUBNET" > "$work/sdk.out" 2>&1
sdk_rc=$?
cat "$work/sdk.out"
sdk_failures=$(grep -c '^FAIL ' "$work/sdk.out")
failures=$((failures + sdk_failures))
if [ "$sdk_rc" != 0 ] && [ "$sdk_failures" = 0 ]; then
  fail sdk "oci_sdk.py exited $sdk_rc"
fi

if [ "$failures" != 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all OCI conformance checks passed"
