#!/usr/bin/env bash
# scripts/vm/boot.sh [<vitest args>]: one guest of the VM matrix (run.sh calls it
# once per kernel).
#
# Runs test/vm/**/*.test.ts inside a guest booted on the kernel given by
# TSBPF_VM_KERNEL (a Debian kernel fetched by fetch-kernel.sh), which has what
# the host kernel lacks (kprobes, ftrace: fentry/fexit/fmod_ret, BPF LSM, no
# lockdown). The guest has no disk: its initramfs (busybox + the
# virtio/9p/overlay modules of that kernel) mounts the host's root read-only over
# 9p under a tmpfs overlay, chroots into it and runs vitest on this checkout with
# TSBPF_VM=1; the kernel's config goes to /boot/config-KVER in the overlay and
# its module tree is linked at /lib/modules/KVER. The guest's console streams to
# stdout; the script exits with vitest's exit code inside the guest (125: the
# guest could not set up, 124: timeout, 100: host-side set-up failure).
#
# The kernel is booted through its PVH entry (the uncompressed vmlinux, extracted
# from vmlinuz): no BIOS real mode, no decompressor. Acceleration is KVM
# when /dev/kvm is hardware KVM, and TCG (software emulation) when it is missing
# or is PVM (kvm_pvm, as on this project's cloud machines): PVM runs only guests
# built for it, and an unmodified kernel crawls there (30 s of guest boot took
# 10 minutes), while TCG boots it in seconds.
#
# Environment:
#   TSBPF_VM_KERNEL   kernel image (vmlinuz-KVER) (required)
#   TSBPF_VM_MODDIR   its module tree with modules.dep (default /lib/modules/KVER)
#   TSBPF_VM_KCONFIG  its config (default: config-KVER beside the image)
#   TSBPF_VM_RESULTS  file to write the guest's counts and skip reasons to
#                     (the TSBPF_VM_RESULT / TSBPF_VM_SKIP lines of test/vm/reporter.ts)
#   TSBPF_VM_ACCEL    kvm | tcg | auto (default)
#   TSBPF_VM_TIMEOUT  seconds for the whole guest run (default 1500: a TCG guest with the portable core takes 10-13 minutes)
#   TSBPF_VM_CPU      -cpu model (default with KVM: host,-arch-capabilities, since nested
#                     hypervisors refuse the guest's write of MSR_IA32_ARCH_CAPABILITIES
#                     and QEMU aborts; with TCG: max)
#   TSBPF_VM_MEM      guest memory (default 2G), TSBPF_VM_CPUS (default 2)
#   TSBPF_VM_CMD      shell command to run in the guest instead of the tests (debugging)
#   TSBPF_VM_KEEP=1   keep the work directory (initramfs, vmlinux, console log)
#   CI, FORCE_COLOR, NO_COLOR are passed through to the guest.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
HERE=$REPO/scripts/vm
TIMEOUT=${TSBPF_VM_TIMEOUT:-1500}
START=$(date +%s)

log() { echo "[test:vm] $*" >&2; }
die() {
  log "error: $*"
  exit "${2:-100}"
}

for tool in qemu-system-x86_64 cpio xz; do
  command -v "$tool" >/dev/null 2>&1 || die "missing $tool (run.sh installs it)"
done
[ -x /bin/busybox ] || die "missing /bin/busybox (run.sh installs busybox-static)"
KERNEL=${TSBPF_VM_KERNEL:-}
[ -n "$KERNEL" ] && [ -f "$KERNEL" ] || die "no kernel image '$KERNEL' (TSBPF_VM_KERNEL)"
KVER=${KERNEL##*/vmlinuz-}
MODDIR=${TSBPF_VM_MODDIR:-/lib/modules/$KVER}
MODDIR=$(cd "$MODDIR" && pwd -P) || die "no module tree $MODDIR"
[ -f "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep for kernel $KVER"
KCONFIG=${TSBPF_VM_KCONFIG:-$(dirname "$KERNEL")/config-$KVER}
[ -f "$KCONFIG" ] || die "no kernel config $KCONFIG"

ACCEL=${TSBPF_VM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
  if [ -d /sys/module/kvm_pvm ]; then
    ACCEL=tcg
    log "/dev/kvm is PVM (kvm_pvm), which cannot run a stock kernel at usable speed: using TCG"
  elif [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    ACCEL=kvm
  else
    ACCEL=tcg
    log "no usable /dev/kvm: using TCG (software emulation, slower)"
  fi
fi
case "$ACCEL" in
  kvm) ACCEL_ARGS=(-enable-kvm -cpu "${TSBPF_VM_CPU:-host,-arch-capabilities}") ;;
  tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu "${TSBPF_VM_CPU:-max}") ;;
  *) die "TSBPF_VM_ACCEL must be kvm, tcg or auto" ;;
esac

# ---------------------------------------------------------------- initramfs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tsbpf-vm.XXXXXX")
cleanup() {
  if [ "${TSBPF_VM_KEEP:-}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Modules in load order: each module after its dependencies (from modules.dep).
declare -A seen=()
order=()
add_module() { # $1: path relative to $MODDIR
  local rel=$1 dep
  [ -n "${seen[$rel]:-}" ] && return
  seen[$rel]=1
  for dep in $(awk -v m="$rel:" '$1 == m { for (i = 2; i <= NF; i++) print $i }' "$MODDIR/modules.dep"); do
    add_module "$dep"
  done
  order+=("$rel")
}
for name in virtio_pci 9pnet_virtio 9p overlay; do
  rel=$(awk -F: -v n="$name" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.(xz|zst|gz))?$/, "", f); if (f == n) { print $1; exit } }' "$MODDIR/modules.dep")
  if [ -z "$rel" ]; then
    # Built in (not a module) in this kernel: nothing to load.
    grep -q "/$name.ko" "$MODDIR/modules.builtin" 2>/dev/null || die "kernel $KVER has no module $name"
    continue
  fi
  add_module "$rel"
done

# The uncompressed kernel, for the PVH entry: the payload after the first
# compression magic in the bzImage.
VMLINUX=$WORK/vmlinux
extract() { # $1: magic (printf format), $2...: decompressor
  local magic=$1 off
  shift
  command -v "$1" >/dev/null 2>&1 || return 1
  off=$(LC_ALL=C grep -abo -m1 "$(printf "$magic")" "$KERNEL" 2>/dev/null | head -n 1 | cut -d: -f1 || true)
  [ -n "$off" ] || return 1
  tail -c +$((off + 1)) "$KERNEL" | "$@" >"$VMLINUX" 2>/dev/null || true
  [ "$(head -c 4 "$VMLINUX" | od -An -c | tr -d ' ')" = '177ELF' ]
}
extract '\3757zXZ' xz -dc --single-stream ||
  extract '\050\265\057\375' zstd -dc ||
  extract '\037\213\010' gzip -dc ||
  die "cannot extract vmlinux from $KERNEL (xz, zstd or gzip payload expected)"

IRD=$WORK/initramfs
mkdir -p "$IRD"/{bin,dev,proc,sys,tmp,modules}
cp /bin/busybox "$IRD/bin/busybox"
if ldd /bin/busybox >/dev/null 2>&1; then
  for lib in $(ldd /bin/busybox | grep -o '/[^ ]*'); do
    mkdir -p "$IRD$(dirname "$lib")"
    cp -L "$lib" "$IRD$lib"
  done
fi
: >"$IRD/modules/order"
for rel in "${order[@]}"; do
  base=${rel##*/}
  case "$base" in
    *.ko.xz) xz -dc "$MODDIR/$rel" >"$IRD/modules/${base%.xz}" ;;
    *.ko.zst) zstd -qdc "$MODDIR/$rel" >"$IRD/modules/${base%.zst}" ;;
    *.ko.gz) gzip -dc "$MODDIR/$rel" >"$IRD/modules/${base%.gz}" ;;
    *) cp "$MODDIR/$rel" "$IRD/modules/$base" ;;
  esac
  echo "${base%.ko*}.ko" >>"$IRD/modules/order"
done
install -m 755 "$HERE/init.sh" "$IRD/init"
# The kernel's config and module tree, which the host's /boot and /lib/modules lack.
cp "$KCONFIG" "$IRD/kconfig"
echo "$MODDIR" >"$IRD/moddir"

# What to run in the guest, and with which environment (sourced by a POSIX sh).
squote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
NONCE=$RANDOM$RANDOM$RANDOM
{
  echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp LANG=C.UTF-8"
  echo "export TSBPF_VM=1 TSBPF_VM_REPO=$(squote "$REPO") TSBPF_VM_NONCE=$NONCE"
  for v in CI FORCE_COLOR NO_COLOR TSBPF_VM_CORE; do
    if [ -n "${!v+x}" ]; then echo "export $v=$(squote "${!v}")"; fi
  done
} >"$IRD/vm.env"
if [ -n "${TSBPF_VM_CMD:-}" ]; then
  printf '%s\n' "$TSBPF_VM_CMD" >"$IRD/vm.cmd"
else
  args=""
  for a in "$@"; do args+=" $(squote "$a")"; done
  echo "node node_modules/vitest/vitest.mjs run --config test/vm/vitest.config.ts$args" >"$IRD/vm.cmd"
fi
# The marker carries a nonce so that test output can never fake it.
sed -i "s/TSBPF_VM_EXIT=/TSBPF_VM_EXIT_$NONCE=/" "$IRD/init"
(cd "$IRD" && find . -print0 | cpio --null -o -H newc --quiet) >"$WORK/initramfs.cpio"

# ---------------------------------------------------------------- boot
# lsm=...bpf enables the BPF LSM (Debian's default list has it last; we keep only what the tests need).
APPEND="console=ttyS0 panic=-1 rdinit=/init quiet loglevel=4 lsm=lockdown,capability,yama,bpf mitigations=off"
log "kernel $KERNEL ($KVER) via PVH, $ACCEL, ${#order[@]} modules, repo $REPO, timeout ${TIMEOUT}s"
CONSOLE=$WORK/console.log
# The console streams as it comes, without CRs and without the firmware's
# terminal reset and clear-screen sequences (they would wipe the caller's terminal).
set +e
timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
  "${ACCEL_ARGS[@]}" -m "${TSBPF_VM_MEM:-2G}" -smp "${TSBPF_VM_CPUS:-2}" \
  -nographic -no-reboot -nic none \
  -kernel "$VMLINUX" -initrd "$WORK/initramfs.cpio" -append "$APPEND" \
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
  </dev/null 2>&1 | sed -u -e 's/\r//g' -e 's/\x1bc//g; s/\x1b\[?7l//g; s/\x1b\[2J//g' | tee "$CONSOLE"
status=("${PIPESTATUS[@]}")
set -e
ELAPSED=$(($(date +%s) - START))

rc=$(grep -a -o "TSBPF_VM_EXIT_$NONCE=[0-9]*" "$CONSOLE" | tail -n 1 | cut -d= -f2 || true)
if [ "${status[0]}" = 124 ] || [ "${status[0]}" = 137 ]; then
  log "timeout: the guest did not finish within ${TIMEOUT}s"
  exit 124
fi
if [ -z "$rc" ]; then
  log "the guest stopped without reporting an exit code (qemu exit ${status[0]}) after ${ELAPSED}s"
  exit 125
fi
if [ -n "${TSBPF_VM_RESULTS:-}" ]; then
  grep -a -E "^TSBPF_VM_(RESULT|SKIP)_$NONCE " "$CONSOLE" | sed -e "s/^TSBPF_VM_\([A-Z]*\)_$NONCE /\1 /" >"$TSBPF_VM_RESULTS" || true
fi
log "guest exit code $rc, ${ELAPSED}s in all"
exit "$rc"
