#!/bin/busybox sh
# PID 1 of the tsbpf test VM (copied into the initramfs by scripts/vm/boot.sh).
# Loads the virtio/9p/overlay modules, mounts the host's root (9p, read-only)
# under a tmpfs overlay, puts the guest kernel's config and module tree in
# place, mounts the kernel filesystems the tests need, then chroots into it and
# runs the VM test command. Its exit code is printed as "TSBPF_VM_EXIT=<n>" on
# the console, which boot.sh parses; then the VM powers off.
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

finish() {
  echo "TSBPF_VM_EXIT=$1"
  sync
  reboot -f
  sleep 5
  echo b > /proc/sysrq-trigger
}

fail() {
  echo "tsbpf-vm init: $*"
  finish 125
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

for m in $(cat /modules/order); do
  insmod "/modules/$m" || fail "insmod $m failed"
done

mkdir -p /lower /rw /newroot
# The virtio device may still be probing right after insmod: retry for a few seconds.
tries=0
until mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=1048576,cache=loose hostroot /lower; do
  tries=$((tries + 1))
  [ $tries -ge 10 ] && fail "cannot mount the host root over 9p"
  sleep 1
done
mount -t tmpfs -o size=1g,mode=755 tmpfs /rw
mkdir -p /rw/upper /rw/work
# The overlay makes the host root writable in the guest (the writes stay in RAM):
# vite writes its bundled config next to the config file, npm and node write caches.
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "cannot mount the overlay"

R=/newroot
# The guest kernel's config and modules where tools look for them (the host's /boot and /lib/modules are another kernel's).
KVER=$(uname -r)
mkdir -p $R/boot $R/lib/modules
cp /kconfig $R/boot/config-$KVER || fail "cannot copy the kernel config"
[ -e $R/lib/modules/$KVER ] || ln -s "$(cat /moddir)" $R/lib/modules/$KVER
# The kernel's module requests (veth for `ip link add`, sch_* for tc, ...) run its modprobe helper in
# this initramfs, which has no module tree: send them to the new root's modprobe instead.
printf '#!/bin/busybox sh\nexec /bin/busybox chroot /newroot /sbin/modprobe "$@"\n' >/sbin/modprobe-newroot
chmod 755 /sbin/modprobe-newroot
echo /sbin/modprobe-newroot >/proc/sys/kernel/modprobe
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
# /tmp stays the host's (through the overlay): the checkout under test may live there.
mount -t tmpfs tmpfs $R/run
mount -t bpf bpf $R/sys/fs/bpf
mount -t tracefs tracefs $R/sys/kernel/tracing
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t securityfs securityfs $R/sys/kernel/security
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
ip link set lo up 2>/dev/null

echo "tsbpf-vm: kernel $(uname -r), lsm=$(cat $R/sys/kernel/security/lsm 2>/dev/null), lockdown: $(cat $R/sys/kernel/security/lockdown 2>/dev/null)"

# The command, its environment and its directory (written by run.sh).
cp /vm.env $R/tmp/tsbpf-vm.env
cp /vm.cmd $R/tmp/tsbpf-vm.cmd
# Run through a pipe so that the tests see a non-tty stdout (no progress redraws on the serial console).
chroot $R /bin/sh -c '. /tmp/tsbpf-vm.env; cd "$TSBPF_VM_REPO" || { echo 126 > /tmp/tsbpf-vm.rc; exit; }; (. /tmp/tsbpf-vm.cmd); echo $? > /tmp/tsbpf-vm.rc' < /dev/null 2>&1 | cat
rc=$(cat $R/tmp/tsbpf-vm.rc 2>/dev/null)
finish "${rc:-125}"
