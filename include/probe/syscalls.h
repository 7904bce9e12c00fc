/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Syscall signal: aggregated in the kernel, read by userspace from maps.
 * No ring-buffer record is sent per syscall; at ~1 µs a syscall on these
 * machines one record each would cost more than the syscall.
 */
#ifndef PROBE_SYSCALLS_H
#define PROBE_SYSCALLS_H

#include "types.h"
#include "loglin.h"

/*
 * Kernel-side latency buckets: log-linear with 2^3 sub-buckets per power of
 * two, so a bucket's midpoint is within 1/16 = 6.25 % of any value in it.
 * Coarser than userspace's histogram on purpose: one bucket array lives in
 * every (process, syscall) map value.
 */
#define PROBE_SC_SUB_BITS	3
#define PROBE_SC_MAX_EXP	39	/* ~550 s; larger values share the top bucket */
#define PROBE_SC_BUCKETS	LOGLIN_NBUCKETS(PROBE_SC_SUB_BITS, PROBE_SC_MAX_EXP)

struct probe_sc_key {
	__u32 pid;	/* tgid */
	__u32 nr;	/* syscall number of the task's ABI */
};
PROBE_ASSERT_SIZE(struct probe_sc_key, 8);

/* Timed calls are the sum of the buckets: no separate count to pay for. */
struct probe_sc_val {
	__u64 count;		/* every completed call */
	__u64 errors;		/* calls that returned -errno */
	__u32 buckets[PROBE_SC_BUCKETS];
};
PROBE_ASSERT_SIZE(struct probe_sc_val, 16 + 4 * PROBE_SC_BUCKETS);

/*
 * Per-CPU state: the syscall in flight on this CPU, and the filter verdict
 * for the last process seen here. A task leaves the CPU only through
 * sched_switch, where an in-flight start time is spilled to a tid-keyed
 * hash; so the common case (a call that does not block) costs two array
 * lookups the JIT inlines, and a blocking call pays a hash update instead.
 */
struct probe_sc_cpu {
	__u64 start_ns;		/* 0: nothing in flight */
	__u32 tid;		/* whose call start_ns is */
	__u32 verdict_tgid;	/* process the verdict below is for */
	__u32 verdict;		/* 1: traced */
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_sc_cpu, 24);

struct probe_sc_err_key {
	__u32 pid;
	__u32 nr;
	__s32 err;	/* positive errno */
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_sc_err_key, 16);

/* Per-CPU counters (index into the syscall program's stats array). */
enum probe_sc_stat {
	PROBE_SC_STAT_KEYS_FULL,	/* calls not counted: (pid, nr) map full */
	PROBE_SC_STAT_ERRNO_FULL,	/* errno not counted: errno map full */
	PROBE_SC_STAT_INFLIGHT_FULL,	/* latency lost: in-flight map full */
	PROBE_SC_STAT_MAX,
};

#endif
