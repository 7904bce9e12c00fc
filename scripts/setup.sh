#!/bin/bash
# Install what probe needs to build, run and test on Debian 12, then make
# sure tracefs and bpffs are mounted. Idempotent: apt runs only when a
# package is missing. Needs root.
set -euo pipefail

BUILD_PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev pkg-config
	libcjson-dev libaudit-dev libdw-dev
	libmicrohttpd-dev libcurl4-openssl-dev"
TEST_PKGS="libcmocka-dev libclang-rt-14-dev python3 python3-pytest curl nginx-light wrk
	redis-server redis-tools postgresql postgresql-contrib iproute2 iptables procps
	mariadb-server mariadb-client qemu-system-x86 busybox-static
	prometheus python3-yaml systemd tmux openssl libssl-dev wget libgnutls30 util-linux
	prometheus-alertmanager"

want="$BUILD_PKGS"
[ "${1:-}" = "--test" ] && want="$BUILD_PKGS $TEST_PKGS"

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: needs root (apt-get, mount)" >&2
	exit 77
fi

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Servers are started by the tests on 127.0.0.1, not by the packages.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi

if ! [ -d /sys/kernel/tracing/events ]; then
	mount -t tracefs nodev /sys/kernel/tracing
	echo "setup: mounted tracefs on /sys/kernel/tracing"
fi
if ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
	echo "setup: mounted bpffs on /sys/fs/bpf"
fi
