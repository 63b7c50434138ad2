#!/usr/bin/env bash
# bundle.sh: build the offline bundle for air-gapped hosts.
#
#   bash bundle.sh [--date] [--target TRIPLE]... [--out DIR] [VERSION]
#
# Builds fully static (musl), stripped, LTO, size-optimised binaries (profile `dist`) and packs, per target,
# dist/vauto-<version>-<target>.tar.gz (+ .sha256 beside it) holding vauto, projects/,
# specs/, templates/, README.md, VERSION, completions/, man/vauto.1 and SHA256SUMS.
# The archive is reproducible: the same commit gives the same bytes.
#
#   VERSION      use this version and write it to ./VERSION (default: read ./VERSION)
#   --date       use today's date as the version, vYYYYMMDD (UTC), and write it to ./VERSION
#   --target T   build only T (repeatable); default: x86_64 and aarch64 musl
#   --out DIR    where the tarballs go (default: dist/)
#
# Installs what it lacks: the Rust targets (rustup target add) and, as root on Debian/Ubuntu,
# musl-tools and gcc-aarch64-linux-gnu (apt-get). Nothing is written to DIR unless every
# target built: tarballs are assembled in a temporary directory and moved in at the end.
set -euo pipefail

SUPPORTED_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

die() {
  echo "bundle.sh: error: $*" >&2
  exit 1
}
usage() {
  sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//'
}

cd "$(dirname "$0")"
ROOT=$(pwd -P)

# --- arguments
version_arg=""
use_date=0
targets=()
out_dir="dist"
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --date) use_date=1 ;;
    --target)
      [ $# -ge 2 ] || die "--target needs a value: one of ${SUPPORTED_TARGETS[*]}"
      targets+=("$2"); shift ;;
    --target=*) targets+=("${1#--target=}") ;;
    --out)
      [ $# -ge 2 ] || die "--out needs a directory"
      out_dir="$2"; shift ;;
    --out=*) out_dir="${1#--out=}" ;;
    -*) die "unknown option \`$1\` (see bash bundle.sh --help)" ;;
    *)
      [ -z "$version_arg" ] || die "more than one version given: \`$version_arg\` and \`$1\`"
      version_arg="$1" ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=("${SUPPORTED_TARGETS[@]}")
for t in "${targets[@]}"; do
  ok=0
  for s in "${SUPPORTED_TARGETS[@]}"; do [ "$t" = "$s" ] && ok=1; done
  [ $ok = 1 ] || die "unknown target \`$t\`: expected one of ${SUPPORTED_TARGETS[*]}"
done

# --- version
if [ $use_date = 1 ]; then
  [ -z "$version_arg" ] || die "give either a VERSION or --date, not both"
  version_arg="v$(date -u +%Y%m%d)"
fi
if [ -n "$version_arg" ]; then
  version="$version_arg"
else
  [ -f VERSION ] || die "VERSION is missing: give one (bash bundle.sh 1.2.0) or create the file VERSION"
  version=$(tr -d '[:space:]' < VERSION)
  [ -n "$version" ] || die "VERSION is empty: give one (bash bundle.sh 1.2.0) or write it into VERSION"
fi
# The version becomes part of file names: keep it to safe characters.
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] ||
  die "invalid version \`$version\`: use letters, digits, '.', '_', '+' and '-' (e.g. 1.2.0 or v20261122)"
[ -f Cargo.toml ] && [ -f src/main.rs ] || die "run bundle.sh from the vauto source tree (no Cargo.toml here)"

# --- temporary files, removed on every exit
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/vauto-bundle.XXXXXX")
out_dir_abs=""
cleanup() {
  rm -rf "$STAGE"
  if [ -n "$out_dir_abs" ]; then rm -f "$out_dir_abs"/.vauto-*.part; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "$version_arg" ] && [ "$(tr -d '[:space:]' < VERSION 2>/dev/null || true)" != "$version" ]; then
  # Atomic: the binary's --version is read from this file by build.rs.
  printf '%s\n' "$version" > "$STAGE/VERSION"
  mv -f "$STAGE/VERSION" VERSION
  echo "== VERSION set to $version"
fi

# --- tools
need() { command -v "$1" >/dev/null 2>&1; }
for tool in cargo rustup tar gzip sha256sum; do
  need "$tool" || die "\`$tool\` is not installed"
done
tar --version 2>/dev/null | grep -q 'GNU tar' || die "GNU tar is needed (for --sort=name and fixed owners)"

apt_missing=()
cc_for() {
  case "$1" in
    x86_64-unknown-linux-musl)
      # ring compiles C and assembly; musl-gcc gives it the musl headers.
      if [ "$(uname -m)" = x86_64 ]; then echo musl-gcc; else echo x86_64-linux-gnu-gcc; fi ;;
    aarch64-unknown-linux-musl)
      if [ "$(uname -m)" = aarch64 ]; then echo cc; else echo aarch64-linux-gnu-gcc; fi ;;
  esac
}
apt_package_for() {
  case "$1" in
    musl-gcc) echo musl-tools ;;
    aarch64-linux-gnu-gcc) echo gcc-aarch64-linux-gnu ;;
    x86_64-linux-gnu-gcc) echo gcc-x86-64-linux-gnu ;;
    *) echo build-essential ;;
  esac
}
for t in "${targets[@]}"; do
  c=$(cc_for "$t")
  need "$c" || apt_missing+=("$(apt_package_for "$c")")
done
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && need apt-get; then
    echo "== installing ${apt_missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    die "missing C toolchain for the targets: install ${apt_missing[*]} (e.g. sudo apt-get install ${apt_missing[*]})"
  fi
fi
installed_targets=$(rustup target list --installed)
for t in "${targets[@]}"; do
  if ! grep -qx "$t" <<<"$installed_targets"; then
    echo "== rustup target add $t"
    rustup target add "$t" >/dev/null || die "cannot install the Rust target \`$t\` (rustup target add $t)"
  fi
done

# --- reproducibility inputs
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || true)
  [ -n "$SOURCE_DATE_EPOCH" ] || die "not a git checkout: set SOURCE_DATE_EPOCH (seconds) for the archive timestamps"
fi
export SOURCE_DATE_EPOCH
if git rev-parse --git-dir >/dev/null 2>&1 && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  echo "warning: the working tree has uncommitted changes; the bundle is built from them, but --version names commit $(git rev-parse --short=12 HEAD)" >&2
fi
CARGO_HOME_DIR=${CARGO_HOME:-$HOME/.cargo}
# Paths of this checkout and of the cargo registry must not end up in the binary.
REMAP="--remap-path-prefix=$ROOT=/vauto --remap-path-prefix=$CARGO_HOME_DIR=/cargo"
CREMAP="-ffile-prefix-map=$ROOT=/vauto -ffile-prefix-map=$CARGO_HOME_DIR=/cargo"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# Cargo.toml's `dist` profile: release (LTO, 1 codegen unit, stripped, panic=abort), size-optimised.
PROFILE=dist

# The files of projects/, specs/ and templates/ that are part of the source (never state,
# keys or local edits that were never added).
shipped_config_files() {
  if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -- projects specs templates
  else
    find projects specs templates -type f | LC_ALL=C sort
  fi
}

# --- build
# Static and position-dependent (not static-pie): a PIE must relocate its whole 1.4 MB of
# pointer tables (.data.rel.ro) at every start, which makes those pages private and resident
# in each process; a fixed-address binary maps them from the file only when read. A one-shot
# `vauto status` peaks at 7.5 MB instead of 9.6 MB (docs/benchmarks.md, "oci status"). The
# cost is that the binary's own image is not randomised (stack, heap and mmaps still are).
# mimalloc (the x86_64 bundle's allocator, Cargo.toml) reserves its arenas without committing
# them: with its default (commit eagerly where the OS overcommits) a one-shot `vauto status`
# peaks at 16.5 MB instead of 8.8 MB (docs/benchmarks.md). Its C code reads this at build time.
MIMALLOC_CFLAGS="-DMI_DEFAULT_ARENA_EAGER_COMMIT=0"
build() {
  local t=$1 env_t c
  env_t=$(tr 'a-z-' 'A-Z_' <<<"$t")
  c=$(cc_for "$t")
  local linker_env=()
  # Rust links musl targets itself (its own crt objects and libc.a); it only needs a linker
  # driver for the target's architecture. musl-gcc must not link: it makes a dynamic binary.
  if [ "$c" != musl-gcc ] && [ "$c" != cc ]; then
    linker_env=("CARGO_TARGET_${env_t}_LINKER=$c")
  fi
  echo "== cargo build --profile $PROFILE --target $t (CC $c)"
  local start=$SECONDS
  env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS "CC_${t//-/_}=$c" \
    "CFLAGS_${t//-/_}=-O2 $CREMAP $MIMALLOC_CFLAGS" \
    "${linker_env[@]}" \
    "CARGO_TARGET_${env_t}_RUSTFLAGS=$REMAP -C target-feature=+crt-static -C relocation-model=static" \
    CARGO_TARGET_DIR="$TARGET_DIR" \
    cargo build --profile "$PROFILE" --locked --target "$t" --bin vauto ||
    die "the release build for \`$t\` failed"
  echo "   built in $((SECONDS - start)) s"
}
for t in "${targets[@]}"; do build "$t"; done

# --- completions and man page, from a binary this host can run
gen_bin=""
for t in "${targets[@]}"; do
  b="$TARGET_DIR/$t/$PROFILE/vauto"
  if "$b" --version >/dev/null 2>&1; then gen_bin=$b; break; fi
done
[ -n "$gen_bin" ] || die "none of the built binaries runs on this host: cannot generate completions and the man page (build the host's target too)"
mkdir -p "$STAGE/gen/completions" "$STAGE/gen/man"
"$gen_bin" completions bash > "$STAGE/gen/completions/vauto.bash"
"$gen_bin" completions zsh > "$STAGE/gen/completions/_vauto"
"$gen_bin" completions fish > "$STAGE/gen/completions/vauto.fish"
"$gen_bin" __man > "$STAGE/gen/man/vauto.1"

# --- pack
mkdir -p "$STAGE/out"
for t in "${targets[@]}"; do
  name="vauto-$version-$t"
  dir="$STAGE/tree/$name"
  bin="$TARGET_DIR/$t/$PROFILE/vauto"
  mkdir -p "$dir"
  if "$bin" --version >/dev/null 2>&1; then
    got=$("$bin" --version)
    [[ "$got" == *"$version ($t, commit "* ]] || die "\`vauto --version\` says \`$got\`: expected version $version for $t"
  fi
  size=$(stat -c %s "$bin")
  [ "$size" -lt $((15 * 1024 * 1024)) ] || die "the $t binary is $size bytes: over the 15 MB budget"
  install -m 0755 "$bin" "$dir/vauto"
  install -m 0644 README.md "$dir/README.md"
  printf '%s\n' "$version" > "$dir/VERSION"
  while IFS= read -r f; do
    install -D -m 0644 "$f" "$dir/$f"
  done < <(shipped_config_files)
  cp -r "$STAGE/gen/completions" "$STAGE/gen/man" "$dir/"
  find "$dir" -type d -exec chmod 0755 {} +
  find "$dir" -type f ! -name vauto -exec chmod 0644 {} +
  (cd "$dir" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort |
    xargs -d '\n' sha256sum > SHA256SUMS)
  chmod 0644 "$dir/SHA256SUMS"
  LC_ALL=C tar --format=gnu --sort=name --mtime="@$SOURCE_DATE_EPOCH" \
    --owner=0 --group=0 --numeric-owner --no-acls --no-xattrs --no-selinux \
    -C "$STAGE/tree" -cf - "$name" | gzip -9 -n > "$STAGE/out/$name.tar.gz"
  (cd "$STAGE/out" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
  echo "== $name.tar.gz: binary $size bytes, archive $(stat -c %s "$STAGE/out/$name.tar.gz") bytes"
done

# --- move into place only now that every target is complete
mkdir -p "$out_dir"
out_dir_abs=$(cd "$out_dir" && pwd -P)
for t in "${targets[@]}"; do
  name="vauto-$version-$t"
  # Same file system rename when possible; the .sha256 follows its tarball.
  cp -f "$STAGE/out/$name.tar.gz" "$out_dir/.$name.tar.gz.part"
  mv -f "$out_dir/.$name.tar.gz.part" "$out_dir/$name.tar.gz"
  cp -f "$STAGE/out/$name.tar.gz.sha256" "$out_dir/.$name.tar.gz.sha256.part"
  mv -f "$out_dir/.$name.tar.gz.sha256.part" "$out_dir/$name.tar.gz.sha256"
  echo "$out_dir/$name.tar.gz  $(cut -d' ' -f1 "$out_dir/$name.tar.gz.sha256")"
done
