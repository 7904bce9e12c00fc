/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The floor under the http signal, for bench-http: empty programs of the
 * same type (tracepoint) on the same tracepoints the socket capture uses
 * (bpf/sockets.bpf.c). What a hooked syscall costs with them attached is
 * what the kernel charges to run any program there; what the probe costs
 * above this row is its own work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define FLOOR(tp, name)			\
	SEC("tracepoint/" tp)		\
	int name(void *ctx)		\
	{				\
		return 0;		\
	}

FLOOR("syscalls/sys_exit_read", floor_exit_read)
FLOOR("syscalls/sys_exit_readv", floor_exit_readv)
FLOOR("syscalls/sys_exit_recvfrom", floor_exit_recvfrom)
FLOOR("syscalls/sys_exit_recvmsg", floor_exit_recvmsg)
FLOOR("syscalls/sys_enter_write", floor_enter_write)
FLOOR("syscalls/sys_enter_writev", floor_enter_writev)
FLOOR("syscalls/sys_enter_sendto", floor_enter_sendto)
FLOOR("syscalls/sys_enter_sendmsg", floor_enter_sendmsg)
FLOOR("syscalls/sys_exit_accept", floor_exit_accept)
FLOOR("syscalls/sys_exit_accept4", floor_exit_accept4)
FLOOR("syscalls/sys_enter_connect", floor_enter_connect)
FLOOR("sock/inet_sock_set_state", floor_sock_state)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
