#!/bin/busybox sh
# /init of the initramfs tests/kernels/vm.sh builds: load the modules for 9p and
# overlayfs, mount the host's / read-only under a tmpfs overlay, run the command there,
# write its output and exit code to the shared "out" directory, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "init: $*"; poweroff -f; }
while read -r m; do insmod "/lib/mod/$m.ko" || fail "insmod $m failed"; done </modules
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro hostroot /lower || fail "9p mount of / failed"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /out || fail "9p mount of out failed"
mount -t tmpfs -o size=1g tmpfs /upper
mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot ||
	fail "overlay mount failed"
r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
cwd=$(cat /out/cwd)
# A working directory under /tmp or /run (a CI clone, say) would vanish under the
# tmpfs mounted there: hold the overlay's view of it and bind it back on top.
keep=
case "$cwd" in
/tmp/*|/run/*) mkdir -p /keep && mount --bind "$r$cwd" /keep && keep=1 ;;
esac
mount -t tmpfs tmpfs $r/tmp
mount -t tmpfs tmpfs $r/run
[ -n "$keep" ] && mkdir -p "$r$cwd" && mount --bind /keep "$r$cwd"
mount -t tracefs tracefs $r/sys/kernel/tracing
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
mount -t bpf bpf $r/sys/fs/bpf
mount -t cgroup2 cgroup2 $r/sys/fs/cgroup
mkdir -p $r/run/out
mount --bind /out $r/run/out
ip link set lo up
hostname probe-vm
# The command's own exit code, not the pipeline's.
chroot $r /bin/sh -c "cd '$cwd' && export HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin && $(cat /out/cmd)" \
	>/out/output 2>&1 </dev/null
echo $? >/out/rc.tmp
mv /out/rc.tmp /out/rc
sync
umount $r/run/out /out 2>/dev/null
poweroff -f
