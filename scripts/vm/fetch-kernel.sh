#!/usr/bin/env bash
# scripts/vm/fetch-kernel.sh SERIES  (5.10 | 6.1 | 6.12 | 7.x)
#
# Fetches Debian's kernel of SERIES for the test VM (scripts/vm/run.sh) and
# prints the directory that holds it:
#   DIR/vmlinuz-KVER, DIR/config-KVER, DIR/lib/modules/KVER (with modules.dep)
#
# The packages come from Debian's archive with `apt-get download` under a
# private sources list, state and cache directory (-o Dir::Etc::SourceList=...,
# Dir::State, Dir::Cache): the machine's own apt configuration is read (for the
# archive's address) but never changed, and nothing is installed. The newest
# linux-image-amd64 of the series' suites is resolved to its ABI package
# (linux-image-KVER) and every linux-*-KVER package it depends on (sid splits
# the image into linux-binary-* and linux-modules-*); they are unpacked with
# dpkg-deb -x and depmod writes modules.dep, as the package's postinst would.
#
# Cached under $TSBPF_VM_CACHE (default /var/cache/tsbpf-vm), outside the
# repository; a series already there is not fetched again unless
# TSBPF_VM_REFRESH=1.
set -euo pipefail

SERIES=${1:?usage: fetch-kernel.sh 5.10|6.1|6.12|7.x}
CACHE=${TSBPF_VM_CACHE:-/var/cache/tsbpf-vm}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { echo "[test:vm] $*" >&2; }
die() {
  log "error: $*"
  exit 100
}

# Series -> Debian suites (with their security pocket where the suite has one).
case "$SERIES" in
  5.10) SUITES="bullseye bullseye-security" ;;
  6.1) SUITES="bookworm bookworm-security" ;;
  6.12) SUITES="trixie trixie-security" ;;
  7.x | 7) SERIES=7.x SUITES="sid" ;;
  *) die "unknown kernel series '$SERIES' (5.10, 6.1, 6.12 or 7.x)" ;;
esac

OUT=$CACHE/kernels/$SERIES
if [ "${TSBPF_VM_REFRESH:-}" != 1 ] && [ -f "$OUT/kver" ]; then
  KVER=$(cat "$OUT/kver")
  if [ -f "$OUT/vmlinuz-$KVER" ] && [ -f "$OUT/lib/modules/$KVER/modules.dep" ]; then
    echo "$OUT"
    exit 0
  fi
fi

[ "$(id -u)" = 0 ] || die "fetching kernel $SERIES needs root (apt-get download into $CACHE)"
for tool in apt-get apt-cache dpkg-deb depmod; do
  command -v "$tool" >/dev/null 2>&1 || die "fetching kernel $SERIES needs $tool"
done
[ -f "$KEYRING" ] || die "no $KEYRING (package debian-archive-keyring)"

# The archive's address as this machine's apt knows it (deb822 .sources or
# one-line .list files); its -security twin serves the security suites.
archive_uri() { # $1: debian | debian-security
  local want=$1 u
  for u in $(
    sed -n -e 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
    sed -n -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
  ); do
    case "$u" in */"$want" | */"$want"/) echo "${u%/}" && return ;; esac
  done
  if [ "$want" = debian-security ]; then
    u=$(archive_uri debian) && echo "${u%/debian}/debian-security" && return
  fi
  return 1
}
MAIN=$(archive_uri debian) || die "no Debian archive (a URI ending in /debian) in this machine's apt sources"
SECURITY=$(archive_uri debian-security)

APT=$CACHE/apt/$SERIES
mkdir -p "$APT/state/lists/partial" "$APT/cache/archives/partial" "$APT/debs"
{
  for s in $SUITES; do
    case "$s" in
      *-security) echo "deb [signed-by=$KEYRING] $SECURITY $s main" ;;
      *) echo "deb [signed-by=$KEYRING] $MAIN $s main" ;;
    esac
  done
} >"$APT/sources.list"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State=$APT/state" -o Dir::State::status=/dev/null -o "Dir::Cache=$APT/cache"
  -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root
)
log "kernel $SERIES: apt-get update ($SUITES, private sources list in $APT)"
timeout 600 apt-get "${APT_OPTS[@]}" -qq update >/dev/null || die "apt-get update for $SUITES failed"

# linux-image-amd64 -> linux-image-KVER (the newest of the suites).
IMAGE=$(apt-cache "${APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$IMAGE" ] || die "no linux-image-amd64 in $SUITES"
KVER=${IMAGE#linux-image-}
case "$KVER" in
  "${SERIES%.x}".*) ;;
  *) die "$SUITES's linux-image-amd64 is $KVER, not series $SERIES" ;;
esac

# The image and every linux-*-KVER package it depends on, transitively.
pkgs=()
declare -A seen=()
want() {
  local p=$1 d
  [ -n "${seen[$p]:-}" ] && return
  seen[$p]=1
  pkgs+=("$p")
  for d in $(apt-cache "${APT_OPTS[@]}" depends "$p" 2>/dev/null | sed -n 's/^ *|\?Depends: \(linux-[a-z]*-[^ ]*\)$/\1/p'); do
    case "$d" in *-"$KVER") want "$d" ;; esac
  done
}
want "$IMAGE"
log "kernel $SERIES: apt-get download ${pkgs[*]}"
rm -f "$APT/debs/"*.deb
(cd "$APT/debs" && timeout 900 apt-get "${APT_OPTS[@]}" -qq download "${pkgs[@]}" >/dev/null) || die "apt-get download ${pkgs[*]} failed"

mkdir -p "$CACHE/kernels"
TMP=$(mktemp -d "$CACHE/kernels/.unpack.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
for deb in "$APT/debs/"*.deb; do dpkg-deb -x "$deb" "$TMP/root"; done
# The unpacked tree is the cache; the packages themselves are not needed again.
rm -f "$APT/debs/"*.deb
R=$TMP/root
mkdir -p "$TMP/out"
for f in vmlinuz config System.map; do
  for d in "$R/boot" "$R/usr/lib/linux-image-$KVER" "$R/usr/lib/modules/$KVER"; do
    [ -f "$d/$f-$KVER" ] && cp "$d/$f-$KVER" "$TMP/out/$f-$KVER" && break
    [ -f "$d/$f" ] && cp "$d/$f" "$TMP/out/$f-$KVER" && break
  done
done
mkdir -p "$TMP/out/lib/modules"
for m in "$R/lib/modules/$KVER" "$R/usr/lib/modules/$KVER"; do
  [ -d "$m" ] && mv "$m" "$TMP/out/lib/modules/$KVER" && break
done
[ -d "$TMP/out/lib/modules/$KVER" ] || die "no modules for $KVER in ${pkgs[*]}"
[ -f "$TMP/out/vmlinuz-$KVER" ] || die "no vmlinuz for $KVER in ${pkgs[*]}"
[ -f "$TMP/out/config-$KVER" ] || die "no config for $KVER in ${pkgs[*]}"
depmod -b "$TMP/out" "$KVER" || die "depmod for $KVER failed"
echo "$KVER" >"$TMP/out/kver"
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv "$TMP/out" "$OUT"
log "kernel $SERIES: $KVER in $OUT"
echo "$OUT"
