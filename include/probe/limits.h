/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Sizes shared by BPF maps and the userspace that reads them. */
#ifndef PROBE_LIMITS_H
#define PROBE_LIMITS_H

#define PROBE_COMM_LEN		16
/* processes followed under --pid: the targets, their threads and descendants */
#define PROBE_MAX_TRACKED	8192
/* (process, syscall) pairs aggregated in the kernel */
#define PROBE_MAX_SYSCALL_KEYS	8192
/* (process, syscall, errno) triples */
#define PROBE_MAX_ERRNO_KEYS	4096
/* threads with a syscall in flight, when task storage is missing */
#define PROBE_MAX_INFLIGHT	16384
/* syscall numbers we keep per-arch stats for; larger ones share the last slot */
#define PROBE_MAX_SYSCALL_NR	1024

#define PROBE_RINGBUF_BYTES	(1U << 22)

#endif
