#!/usr/bin/env bash
# npm run test:vm [-- <vitest args>]
#
# The kernel matrix: boots each of Debian's kernels 5.10 (bullseye), 6.1
# (bookworm), 6.12 (trixie) and the newest 7.x (sid) once in QEMU
# (scripts/vm/boot.sh) and runs test/vm/ and the portable core of host tests
# there in one vitest process. Kernels
# are fetched with apt-get download under a private apt state
# (scripts/vm/fetch-kernel.sh) and cached in /var/cache/tsbpf-vm. Each guest
# reports its pass/skip/fail counts; the run ends with one line per kernel and
# exits non-zero when any guest failed.
#
# Environment:
#   TSBPF_VM_KERNELS  comma-separated series (default 5.10,6.1,6.12,7.x)
#   TSBPF_VM_KERNEL   one kernel image instead of the matrix (its modules in
#                     TSBPF_VM_MODDIR or /lib/modules/KVER)
#   TSBPF_VM_CORE     0: only test/vm/**, without the portable core of host
#                     tests (test/vm/vitest.config.ts)
#   TSBPF_VM_CACHE    where fetched kernels are kept (default /var/cache/tsbpf-vm)
#   and everything boot.sh reads (TSBPF_VM_ACCEL, TSBPF_VM_TIMEOUT, ...).
#
# Installs what is missing with apt (qemu-system-x86, busybox-static, cpio,
# xz-utils, zstd).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KERNELS=${TSBPF_VM_KERNELS:-5.10,6.1,6.12,7.x}

log() { echo "[test:vm] $*" >&2; }
die() {
  log "error: $*"
  exit "${2:-100}"
}

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
# Any busybox will do: a dynamic one goes into the initramfs with its libraries.
[ -x /bin/busybox ] || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
command -v depmod >/dev/null 2>&1 || need+=(kmod)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need[*]}: run as root, or install them with apt-get"
  command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get"
  log "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 900 apt-get update -qq >/dev/null || die "apt-get update failed"
  # Without recommends: no firmware, no GUI bits.
  timeout 1200 apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi

if [ -n "${TSBPF_VM_KERNEL:-}" ]; then
  exec bash "$HERE/boot.sh" "$@"
fi

RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/tsbpf-vm-matrix.XXXXXX")
trap 'rm -rf "$RESULTS"' EXIT
trap 'exit 130' INT TERM
MATRIX_START=$(date +%s)
summary=()
worst=0
IFS=, read -r -a series <<<"$KERNELS"
for s in "${series[@]}"; do
  t0=$(date +%s)
  if ! dir=$(bash "$HERE/fetch-kernel.sh" "$s"); then
    summary+=("$(printf '%-5s %-24s fetch failed' "$s" -)")
    worst=100
    continue
  fi
  kver=$(cat "$dir/kver")
  t1=$(date +%s)
  log "=== kernel $s ($kver) ==="
  set +e
  TSBPF_VM_KERNEL=$dir/vmlinuz-$kver TSBPF_VM_MODDIR=$dir/lib/modules/$kver TSBPF_VM_KCONFIG=$dir/config-$kver \
    TSBPF_VM_RESULTS=$RESULTS/$s bash "$HERE/boot.sh" "$@"
  rc=$?
  set -e
  t2=$(date +%s)
  counts=$(sed -n 's/^RESULT //p' "$RESULTS/$s" 2>/dev/null | tail -n 1)
  [ -n "$counts" ] || counts="no result"
  line=$(printf '%-5s %-24s %s, exit %s, %ss (fetch %ss)' "$s" "$kver" "$counts" "$rc" $((t2 - t1)) $((t1 - t0)))
  summary+=("$line")
  if [ -s "$RESULTS/$s" ] && grep -q '^SKIP ' "$RESULTS/$s"; then
    log "kernel $s: skipped tests:"
    sed -n 's/^SKIP /[test:vm]   /p' "$RESULTS/$s" >&2
  fi
  [ "$rc" = 0 ] || worst=$rc
done
log "=== matrix: ${#series[@]} kernels in $(($(date +%s) - MATRIX_START))s ==="
for line in "${summary[@]}"; do log "$line"; done
exit "$worst"
