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
#include "limits.h"

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

/*
 * A call is counted once: in a latency bucket when it was timed, else in
 * `untimed`. calls = untimed + sum(buckets), which saves the exit path an
 * atomic add per call.
 */
struct probe_sc_val {
	__u64 untimed;		/* completed calls with no start time */
	__u64 errors;		/* calls that returned -errno */
	__u32 buckets[PROBE_SC_BUCKETS];
};
PROBE_ASSERT_SIZE(struct probe_sc_val, 16 + 4 * PROBE_SC_BUCKETS);

/*
 * Where a (process, syscall) key's counters live: a cell of the sc_cells
 * array. The sc_index hash maps keys to cells; each CPU keeps the last
 * cells it used in a small direct-mapped cache (indexed by syscall number)
 * so the common exit never touches the hash. Measured here, the hash
 * lookup cost ~45 ns of a ~140 ns exit program.
 *
 * An entry is one u64, written whole, so a reader never sees half of one:
 * tgid << 32 | nr << 16 | cell. tgid 0 (no process) marks an empty entry.
 */
#define PROBE_SC_CACHE		64
_Static_assert(PROBE_MAX_SYSCALL_KEYS <= 65536, "a cell number must fit the cache's 16 bits");
#define PROBE_SC_CACHE_TAG(tgid, nr)	((__u64)(tgid) << 16 | (__u16)(nr))
#define PROBE_SC_CACHE_ENT(tgid, nr, cell) \
	(PROBE_SC_CACHE_TAG(tgid, nr) << 16 | (__u16)(cell))

/*
 * One CPU's state: the syscall in flight on it, the filter verdict for the
 * last process seen there, and its cell cache. A task leaves the CPU only
 * through sched_switch, where an in-flight start time is spilled to a
 * tid-keyed hash; so a call that does not block touches this slot and its
 * cell only. The slots are a plain global array indexed by CPU, not a
 * per-CPU map, which measured ~10-20 ns dearer per hook here.
 */
struct probe_sc_slot {
	__u64 start_ns;		/* 0: nothing in flight */
	__u32 tid;		/* whose call start_ns is */
	__u32 verdict_tgid;	/* process the verdict below is for */
	__u32 verdict;		/* 1: traced */
	__u32 pad[11];
	__u64 cache[PROBE_SC_CACHE];
} __attribute__((aligned(64)));	/* cache lines of their own: no false sharing */
PROBE_ASSERT_SIZE(struct probe_sc_slot, 64 + 8 * PROBE_SC_CACHE);

/* CPUs with a slot; calls on higher CPUs are counted but never timed. */
#define PROBE_SC_MAX_CPUS	512

/*
 * Where sys_exit's typed pt_regs give the syscall number: tp_btf hooks are
 * used there (no trace-event record is built before the program runs),
 * classic tracepoints elsewhere.
 */
#if defined(__TARGET_ARCH_x86) || defined(__x86_64__)
#define PROBE_SC_REGS_NR(regs)	((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64) || defined(__aarch64__)
#define PROBE_SC_REGS_NR(regs)	((regs)->syscallno)
#endif

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
	PROBE_SC_STAT_NO_SLOT,		/* calls not timed: CPU beyond PROBE_SC_MAX_CPUS */
	PROBE_SC_STAT_MAX,
};

#endif
