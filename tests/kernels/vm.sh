#!/bin/bash
# usage: tests/kernels/vm.sh [-t SECONDS] [-m MB] KERNEL [--] COMMAND [ARG...]
#   KERNEL: 6.1 | 6.12 (Debian 12's kernel and the bookworm 6.12 kernel, fetched with
#   `apt-get download` into $PROBE_KERNEL_CACHE, default /var/cache/probe-kernels) or
#   a Debian kernel package name (linux-image-...-unsigned).
# Boots the kernel in QEMU (TCG, single-threaded: multi-threaded TCG panicked about once
# in 80 boots while the kernel patched its own text), with this machine's / shared
# read-only over 9p under an overlay whose upper layer is a tmpfs, so the command sees
# the host's files (probe, python3, servers) and writes go nowhere. Runs COMMAND as root
# in the current directory with proc, sys, dev, tracefs, bpffs and cgroup2 mounted and
# loopback up, prints its output, and exits with its exit code.
# PROBE_VM_ACCEL picks the accelerator (default tcg,thread=single; "kvm" where /dev/kvm
# runs a stock kernel, which this machine's paravirtual /dev/kvm does not).
# Exit codes of its own: 250 skipped (QEMU or the kernel cannot be had here: prints
# "skipped: why"), 251 the guest never reported (boot failure, panic: the console log
# is printed), 252 timed out (-t, default 900 s).
set -uo pipefail

SKIP=250 NORESULT=251 TIMEDOUT=252
timeout_s=900
mem_mb=2048
while getopts "t:m:" o; do
	case $o in
	t) timeout_s=$OPTARG ;;
	m) mem_mb=$OPTARG ;;
	*) sed -n '2,4p' "$0" >&2; exit 64 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { sed -n '2,4p' "$0" >&2; exit 64; }
want=$1
shift
[ "${1:-}" = "--" ] && shift

cache=${PROBE_KERNEL_CACHE:-/var/cache/probe-kernels}
skip() { echo "skipped: $*"; exit $SKIP; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (Debian package qemu-system-x86)"
[ -x /bin/busybox ] || skip "busybox not installed (Debian package busybox-static)"
[ "$(uname -m)" = x86_64 ] || skip "the matrix boots amd64 kernels; this host is $(uname -m)"
[ "$(id -u)" -eq 0 ] || skip "needs root (apt-get download into $cache, 9p export of /)"

# Resolve the package: the newest 6.1.0-N or 6.12.N+deb12 amd64 kernel apt knows.
case $want in
6.1) pat='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
6.12) pat='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
linux-image-*) pat="^${want//./\\.}\$" ;;
*) echo "vm: unknown kernel '$want' (6.1, 6.12 or a linux-image-* package)" >&2; exit 64 ;;
esac
pkg=$(apt-cache search --names-only "$pat" 2>/dev/null | cut -d' ' -f1 | sort -V | tail -1)
[ -n "$pkg" ] || skip "no package matches $pat in apt's lists (is bookworm-security in sources? run apt-get update)"

mkdir -p "$cache/debs" "$cache/x" || skip "cannot create $cache"
root="$cache/x/$pkg"
if ! [ -d "$root/boot" ]; then
	deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | tail -1)
	if [ -z "$deb" ]; then
		(cd "$cache/debs" && flock /tmp/apt.lock apt-get download -q "$pkg" >/dev/null 2>&1) ||
			skip "apt-get download $pkg failed (offline?)"
		deb=$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | tail -1)
	fi
	rm -rf "$root.tmp" && mkdir -p "$root.tmp" && dpkg-deb -x "$deb" "$root.tmp" &&
		mv "$root.tmp" "$root" || skip "dpkg-deb -x $deb failed"
fi
kver=$(ls "$root/lib/modules" | head -1)
vmlinuz="$root/boot/vmlinuz-$kver"
[ -r "$vmlinuz" ] || skip "$pkg has no $vmlinuz"

# The initramfs: static busybox, the modules for 9p over virtio and overlayfs with
# their dependencies (read from each module's .modinfo; no depmod needed), and init.
moddir="$root/lib/modules/$kver"
initrd="$cache/initrd-$kver.cpio.gz"
init_src="$(dirname "$0")/init.sh"
if ! [ -s "$initrd" ] || [ "$init_src" -nt "$initrd" ] || [ "$0" -nt "$initrd" ]; then
	work=$(mktemp -d) || exit 1
	mkdir -p "$work"/{bin,dev,proc,sys,lib/mod,lower,upper,newroot,out}
	cp /bin/busybox "$work/bin/busybox"
	cp "$init_src" "$work/init" && chmod +x "$work/init"
	declare -A seen=()
	order=()
	modfile() { find "$moddir/kernel" -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" | head -1; }
	add() { # depth-first: dependencies before the module itself
		local m=$1 f deps d
		[ -n "${seen[$m]:-}" ] && return 0
		seen[$m]=1
		f=$(modfile "$m")
		[ -n "$f" ] || return 0 # built in
		case $f in
		*.xz) xz -dc "$f" >"$work/lib/mod/$m.ko" ;;
		*.zst) zstd -qdc "$f" >"$work/lib/mod/$m.ko" ;;
		*) cp "$f" "$work/lib/mod/$m.ko" ;;
		esac
		deps=$(tr '\0' '\n' <"$work/lib/mod/$m.ko" | sed -n 's/^depends=//p' | head -1)
		for d in ${deps//,/ }; do add "${d//-/_}"; done
		order+=("$m")
	}
	for m in virtio_pci 9pnet_virtio 9p overlay; do add "$m"; done
	printf '%s\n' "${order[@]}" >"$work/modules"
	(cd "$work" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$initrd.tmp" && mv "$initrd.tmp" "$initrd"
	rm -rf "$work"
fi

# One run: the command, the directory it runs in, and where its result goes (a host
# directory shared read-write over 9p; everything else the guest writes is discarded).
out=$(mktemp -d /tmp/probe-vm.XXXXXX) || exit 1
trap 'rm -rf "$out"' EXIT
printf '%q ' "$@" >"$out/cmd"
pwd >"$out/cwd"
accel=${PROBE_VM_ACCEL:-tcg,thread=single}
qemu=(qemu-system-x86_64 -accel "$accel" -cpu max -smp 2 -m "$mem_mb"
	-nodefaults -display none -no-reboot
	-serial "file:$out/console" -monitor none
	-kernel "$vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off rdinit=/init"
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap")
start=$(date +%s)
timeout --kill-after=10 "$timeout_s" "${qemu[@]}" </dev/null >"$out/qemu.log" 2>&1
qrc=$?
end=$(date +%s)
[ -f "$out/output" ] && cat "$out/output"
echo "vm: $pkg ($kver): $((end - start)) s under ${accel%%,*}"
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
	echo "vm: timed out after $timeout_s s; console tail:"
	tail -n 30 "$out/console" 2>/dev/null
	exit $TIMEDOUT
fi
if ! [ -s "$out/rc" ]; then
	echo "vm: the guest reported no exit code (qemu exit $qrc); console and qemu tail:"
	tail -n 40 "$out/console" 2>/dev/null
	tail -n 10 "$out/qemu.log" 2>/dev/null
	exit $NORESULT
fi
rc=$(cat "$out/rc")
echo "vm: exit $rc"
exit "$rc"
