#!/usr/bin/env bash
# tests/bundle.sh: build the offline bundle and prove it works on a host with no Rust and no network.
#
#   bash tests/bundle.sh
#
# Builds with bundle.sh (both musl targets), rebuilds to check the archives are byte-identical,
# unpacks each into an empty directory, verifies checksums, and runs the x86_64 binary with an
# empty PATH (and, where `unshare -n` works, without any network but loopback): --version,
# validate (also from another directory), plan, and a simulator deploy -> status -> delete for
# OCI and KubeVirt. The aarch64 binary runs --version and validate under qemu user emulation.
# Needs what bundle.sh needs plus `file` and qemu-aarch64(-static); .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
steps=0
step() {
  steps=$((steps + 1))
  echo "== $*"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vauto-bundle-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

version=$(tr -d '[:space:]' < VERSION)
commit=$(git rev-parse --short=12 HEAD)
X86=x86_64-unknown-linux-musl
ARM=aarch64-unknown-linux-musl
OUT="$WORK/dist"

# --- bad input: clear message, non-zero exit, nothing written
step "bad input is refused before anything is written"
if out=$(bash bundle.sh --out "$WORK/bad" --target mips-unknown-linux-musl 2>&1); then
  fail "an unknown target was accepted"
fi
grep -q 'unknown target `mips-unknown-linux-musl`' <<<"$out" || fail "unclear unknown-target message: $out"
[ ! -e "$WORK/bad" ] || fail "an unknown target left $WORK/bad behind"
mkdir -p "$WORK/empty"
cp bundle.sh "$WORK/empty/"
if out=$(bash "$WORK/empty/bundle.sh" --out "$WORK/bad" 2>&1); then
  fail "a missing VERSION was accepted"
fi
grep -q 'VERSION is missing' <<<"$out" || fail "unclear missing-VERSION message: $out"
[ ! -e "$WORK/bad" ] && [ ! -e "$WORK/empty/dist" ] || fail "a missing VERSION left files behind"
if out=$(bash bundle.sh --out "$WORK/bad" 'bad/version' 2>&1); then
  fail "a version with a slash was accepted"
fi
grep -q 'invalid version' <<<"$out" || fail "unclear invalid-version message: $out"
[ "$(tr -d '[:space:]' < VERSION)" = "$version" ] || fail "a refused version changed VERSION"

# --- build twice: the same commit gives the same bytes
step "bash bundle.sh (first)"
start=$SECONDS
bash bundle.sh --out "$OUT"
echo "   bundle.sh took $((SECONDS - start)) s"
for t in $X86 $ARM; do
  [ -f "$OUT/vauto-$version-$t.tar.gz" ] || fail "missing $OUT/vauto-$version-$t.tar.gz"
  [ -f "$OUT/vauto-$version-$t.tar.gz.sha256" ] || fail "missing the .sha256 of $t"
done
ls "$OUT"/.*.part >/dev/null 2>&1 && fail "temporary files left in $OUT"
first=$(cd "$OUT" && cat ./*.sha256)
step "bash bundle.sh (second, into another directory)"
bash bundle.sh --out "$WORK/dist2" >/dev/null
second=$(cd "$WORK/dist2" && cat ./*.sha256)
[ "$first" = "$second" ] || fail "two bundles of the same commit differ:
$first
--
$second"
echo "   identical: $(cut -c1-16 <<<"$first" | tr '\n' ' ')"

# --- checksums: good ones pass, a damaged tarball fails loudly
step "sha256sum -c on the tarballs"
(cd "$OUT" && sha256sum -c ./*.sha256) || fail "the .sha256 files do not verify"
cp "$OUT/vauto-$version-$X86.tar.gz" "$OUT/vauto-$version-$X86.tar.gz.sha256" "$WORK/"
printf 'x' | dd of="$WORK/vauto-$version-$X86.tar.gz" bs=1 seek=100 conv=notrunc status=none
if (cd "$WORK" && sha256sum -c "vauto-$version-$X86.tar.gz.sha256") >/dev/null 2>&1; then
  fail "a damaged tarball passed sha256sum -c"
fi

# --- archive layout: fixed owners, sorted, one top directory
step "archive entries"
listing=$(tar -tvzf "$OUT/vauto-$version-$X86.tar.gz")
if grep -v ' 0/0 ' <<<"$listing" | grep -q .; then fail "entries not owned by 0/0:
$listing"; fi
names=$(tar -tzf "$OUT/vauto-$version-$X86.tar.gz")
[ "$names" = "$(LC_ALL=C sort <<<"$names")" ] || fail "entries are not sorted"
for f in vauto README.md VERSION SHA256SUMS projects/demo-oci.yaml specs/a1.yaml \
  completions/vauto.bash completions/_vauto completions/vauto.fish man/vauto.1; do
  grep -qx "vauto-$version-$X86/$f" <<<"$names" || fail "the bundle lacks $f"
done
if grep -v "^vauto-$version-$X86/" <<<"$names" | grep -q .; then fail "entries outside the top directory"; fi
if grep -Eq '/\.vauto/|/keys/|/target/' <<<"$names"; then fail "state or build files in the bundle"; fi

# --- unpack into an empty directory and run with no cargo and no network
unpack() {
  mkdir -p "$WORK/host-$1"
  tar -xzf "$OUT/vauto-$version-$1.tar.gz" -C "$WORK/host-$1"
  echo "$WORK/host-$1/vauto-$version-$1"
}
B=$(unpack $X86)
step "unpacked $X86: checksums, static binary, size"
(cd "$B" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS of the unpacked bundle does not verify"
file "$B/vauto" | grep -q 'statically linked' || fail "not a static, position-dependent executable: $(file "$B/vauto")"
file "$B/vauto" | grep -q 'x86-64' || fail "not x86-64: $(file "$B/vauto")"
size=$(stat -c %s "$B/vauto")
[ "$size" -lt $((15 * 1024 * 1024)) ] || fail "the x86_64 binary is $size bytes (budget 15 MB)"
echo "   x86_64 binary: $size bytes"

# Runs vauto with an empty environment and a PATH without cargo; with no network but
# loopback (which the simulators use) when this host allows a network namespace.
NETNS=()
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
  IP=$(command -v ip)
  NETNS=(unshare -n sh -c "$IP link set lo up && exec \"\$@\"" sh)
  echo "   running in a private network namespace (loopback only)"
else
  echo "   unshare -n is not available: running with an empty PATH only"
fi
offline() {
  local dir=$1
  shift
  (cd "$dir" && "${NETNS[@]}" env -i PATH=/nonexistent HOME="$WORK/home" "$@")
}
mkdir -p "$WORK/home" "$WORK/elsewhere"
offline "$B" /bin/sh -c 'command -v cargo rustc' && fail "cargo is reachable in the offline run"

step "offline: --version, validate, plan"
got=$(offline "$B" ./vauto --version)
[ "$got" = "vauto $version ($X86, commit $commit)" ] || fail "unexpected --version: $got"
offline "$B" ./vauto validate || fail "validate failed inside the bundle"
out=$(offline "$WORK/elsewhere" "$B/vauto" validate 2>&1) || fail "validate from another directory failed: $out"
offline "$B" ./vauto demo-oci a1 plan >/dev/null || fail "plan failed"
# Captured, not piped into grep -q: an early-closing grep would fail the pipe (pipefail).
out=$(offline "$WORK/elsewhere" "$B/vauto" demo-kubevirt web plan -o yaml) || fail "plan from another directory failed"
grep -q '^kind: VirtualMachine$' <<<"$out" || fail "plan -o yaml from another directory printed no VirtualMachine"

step "the x86_64 allocator: mimalloc, arenas committed lazily"
# musl's allocator maps and unmaps memory thousands of times in one validate of many specs
# (docs/benchmarks.md); mimalloc keeps it. Built with eager arena commit (mimalloc's default),
# a one-shot command's peak RSS doubles. 60 specs x 10 replicas with the shipped template.
mkdir -p "$WORK/many/projects" "$WORK/many/specs"
cp -r "$B/templates" "$WORK/many/templates"
printf 'provider: kubevirt\nkubevirt: {namespace: many}\nnetwork:\n  ipam: {range: 10.20.0.0/16, gateway: 10.20.0.1}\n  bridge: br1\n' \
  > "$WORK/many/projects/many.yaml"
for i in $(seq -w 1 60); do
  printf '%s\n' 'replicas: 10' 'cpu: 2' 'memory: 4Gi' \
    'disk: {size: 30Gi, source: {registry: "docker://registry.local/rhel9:9.4"}}' \
    'cloud_init: {template: cloud-init/base.yaml.j2, vars: {packages: [qemu-guest-agent], timezone: UTC}}' \
    > "$WORK/many/specs/s$i.yaml"
done
STRACE=$(command -v strace) || fail "strace is not installed (apt-get install strace)"
[ -x /usr/bin/time ] || fail "/usr/bin/time is not installed (apt-get install time)"
offline "$B" "$STRACE" -f -c -e trace=mmap,munmap,mremap,brk -o "$WORK/strace" \
  ./vauto --config-dir "$WORK/many" validate >/dev/null || fail "validate of 600 instances failed"
calls=$(awk '$NF ~ /^(mmap|munmap|mremap|brk)$/ {n += $4} END {print n + 0}' "$WORK/strace")
[ "$calls" -lt 200 ] || fail "validate made $calls memory syscalls (mimalloc makes about 20, musl's allocator thousands)"
LC_ALL=C /usr/bin/time -f %M -o "$WORK/rss" "$B/vauto" --config-dir "$WORK/many" validate >/dev/null ||
  fail "validate of 600 instances failed"
rss=$(cat "$WORK/rss")
[ "$rss" -lt 10240 ] || fail "validate peaked at $rss kB (budget 10 MB; eager arena commit gives about 13 MB)"
echo "   validate of 600 instances: $calls memory syscalls, peak RSS $rss kB"

step "a release build's template error names the variable, its column and the spec"
# minijinja keeps template sources for errors only in debug mode, which it turns on by itself
# in debug builds alone: the unit tests cannot see a release binary's message.
printf '%s\n' 'replicas: 2' 'cpu: 2' 'memory: 4Gi' \
  'disk: {size: 30Gi, source: {registry: "docker://registry.local/rhel9:9.4"}}' \
  'cloud_init: {template: cloud-init/base.yaml.j2}' > "$WORK/many/specs/s01.yaml"
rc=0
out=$(offline "$B" ./vauto --config-dir "$WORK/many" validate 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "validate with an undefined template variable exited $rc, not 2: $out"
want="error: $WORK/many/templates/cloud-init/base.yaml.j2:6:14: \`vars.timezone\` is undefined (a key of the spec's \`cloud_init.vars\`): the variables are name, index, replica, hostname, static_ip, prefix_len, netmask, gateway, dns, project, spec, ssh_authorized_keys, and vars.NAME for each key of \`cloud_init.vars\` (rendering spec \`s01\`, $WORK/many/specs/s01.yaml)"
[ "$out" = "$want" ] || fail "unexpected template error:
$out
expected:
$want"

step "offline: simulator deploy -> status -> delete (OCI)"
offline "$B" ./vauto demo-oci a1 deploy --wait -q || fail "OCI deploy failed"
out=$(offline "$B" ./vauto demo-oci a1 status -o json) || fail "OCI status failed"
grep -q '"state": "RUNNING"' <<<"$out" || fail "OCI status shows nothing running: $out"
offline "$B" ./vauto demo-oci a1 delete --yes -q || fail "OCI delete failed"
[ "$(offline "$B" ./vauto demo-oci a1 status -o json)" = "[]" ] || fail "OCI status lists instances after delete"

step "offline: simulator deploy -> status -> delete (KubeVirt)"
offline "$B" ./vauto demo-kubevirt web deploy --wait -q || fail "KubeVirt deploy failed"
out=$(offline "$B" ./vauto demo-kubevirt web status -o json) || fail "KubeVirt status failed"
grep -q '"state": "Running"' <<<"$out" || fail "KubeVirt status shows nothing running: $out"
offline "$B" ./vauto demo-kubevirt web delete --yes -q || fail "KubeVirt delete failed"
[ "$(offline "$B" ./vauto demo-kubevirt web status -o json)" = "[]" ] || fail "KubeVirt status lists VMs after delete"
[ -d "$B/.vauto" ] || fail "state was not written beside the bundle"

step "the shipped man page and completions"
grep -q '^\.TH vauto 1' "$B/man/vauto.1" || fail "man/vauto.1 is not a man page"
grep -q 'complete -F' "$B/completions/vauto.bash" || fail "bash completions look wrong"

# --- aarch64 under qemu user emulation
A=$(unpack $ARM)
step "unpacked $ARM: checksums, static binary, --version and validate under qemu"
(cd "$A" && sha256sum -c --quiet SHA256SUMS) || fail "SHA256SUMS of the aarch64 bundle does not verify"
file "$A/vauto" | grep -q 'statically linked' || fail "not a static, position-dependent executable: $(file "$A/vauto")"
file "$A/vauto" | grep -q 'aarch64' || fail "not aarch64: $(file "$A/vauto")"
size=$(stat -c %s "$A/vauto")
[ "$size" -lt $((15 * 1024 * 1024)) ] || fail "the aarch64 binary is $size bytes (budget 15 MB)"
echo "   aarch64 binary: $size bytes"
QEMU=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
[ -n "$QEMU" ] || fail "qemu-aarch64 is not installed (apt-get install qemu-user-static)"
got=$(offline "$A" "$QEMU" ./vauto --version)
[ "$got" = "vauto $version ($ARM, commit $commit)" ] || fail "unexpected aarch64 --version: $got"
offline "$A" "$QEMU" ./vauto validate || fail "aarch64 validate failed"
offline "$A" "$QEMU" ./vauto demo-oci a1 plan >/dev/null || fail "aarch64 plan failed"

echo "PASS: bundle $version ($commit): both targets build reproducibly and run offline"
# A closing line CI readers count: every step above passed (a failure exits at once).
echo "bundle: $steps passed, 0 failed"
