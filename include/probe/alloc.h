/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Allocator signal (tier 3 of memory growth): outstanding allocations of
 * chosen processes, from uprobes on their libc's malloc family and free.
 *
 * Everything is aggregated in kernel maps; no ring-buffer record is sent
 * per call (a record with a wakeup costs more than the malloc it reports).
 *
 *   alloc_call_*    thread -> the call between entry and return (size,
 *                   caller): task storage, or a tid-keyed LRU hash
 *   alloc_live      (session, address) -> one outstanding allocation (LRU)
 *   alloc_sites     (session, caller, stack id) -> outstanding bytes, counts
 *   alloc_stacks    stack id -> user stack (sampled allocations only)
 *   alloc_seen      per CPU, direct-mapped: call sites that have a stack
 *   alloc_hits      per CPU, per session slot: probe hits, for the cost
 *
 * A "session" is one attachment to one process instance, carried in the
 * uprobe's attach cookie: a reused pid gets a new session, so nothing of
 * its predecessor can be attributed to it. The cookie also carries which
 * allocator function the probe sits on, and the session's slot (0..63) in
 * the per-session arrays. Per-call work is kept to array lookups where it
 * can be: every probe hit already costs a trap of several microseconds.
 *
 * Sampling by bytes: an allocation of size s is sampled with probability
 * min(1, s / sample_bytes). Sampled allocations get a user stack (5 µs
 * here); every allocation keeps its immediate caller, so the allocating
 * function is known even without frame pointers: at the uretprobe the
 * kernel has put the return address back into the instruction pointer,
 * which is the caller, with no user memory to read. The stack is taken
 * there too, so with frame pointers it starts at the caller. The first allocation from each call site is
 * always sampled, so every site has at least one full stack. In "sampled" mode only sampled allocations are
 * tracked at all, each weighing max(s, sample_bytes) bytes (an unbiased
 * estimate of the bytes it stands for).
 */
#ifndef PROBE_ALLOC_H
#define PROBE_ALLOC_H

#include "types.h"

/* Map sizes. */
#define PROBE_ALLOC_MAX_LIVE	262144	/* outstanding allocations tracked (LRU) */
#define PROBE_ALLOC_MAX_SITES	16384	/* (session, caller, stack) aggregates */
#define PROBE_ALLOC_MAX_STACKS	8192	/* distinct sampled stacks */
#define PROBE_ALLOC_MAX_INFLIGHT 16384	/* threads inside an allocator call */
#define PROBE_ALLOC_MAX_SESSIONS 64	/* processes traced at once (slots) */
#define PROBE_ALLOC_SEEN_SLOTS	4096	/* per CPU: call sites remembered as sampled */
#define PROBE_ALLOC_STACK_DEPTH	32	/* frames kept per stack */

/* stack id of an allocation that was not sampled */
#define PROBE_ALLOC_NO_STACK	0xffffffffU

/* Which function a probe sits on: bits 32..39 of the attach cookie. */
enum probe_alloc_kind {
	PROBE_ALLOC_MALLOC,		/* malloc(size) */
	PROBE_ALLOC_CALLOC,		/* calloc(n, size) */
	PROBE_ALLOC_REALLOC,		/* realloc(ptr, size) */
	PROBE_ALLOC_REALLOCARRAY,	/* reallocarray(ptr, n, size) */
	PROBE_ALLOC_POSIX_MEMALIGN,	/* posix_memalign(&ptr, align, size) */
	PROBE_ALLOC_ALIGNED_ALLOC,	/* aligned_alloc(align, size) */
	PROBE_ALLOC_MEMALIGN,		/* memalign(align, size) */
	PROBE_ALLOC_VALLOC,		/* valloc(size) */
	PROBE_ALLOC_FREE,		/* free(ptr) */
	PROBE_ALLOC_NKINDS,
};

/* Attach cookie: session in bits 0..31, kind in 32..39, slot in 40..47. */
#define PROBE_ALLOC_COOKIE(session, kind, slot) \
	((__u64)(slot) << 40 | (__u64)(kind) << 32 | (__u32)(session))

/* alloc_live key */
struct probe_alloc_addr {
	__u32 session;
	__u32 pad;
	__u64 addr;
};
PROBE_ASSERT_SIZE(struct probe_alloc_addr, 16);

/* alloc_live value */
struct probe_alloc_live {
	__u64 bytes;		/* size, or the sampled-mode weight */
	__u64 ts_ns;		/* birth: bpf_ktime_get_ns() at return; a realloc keeps the old block's */
	__u64 caller;		/* return address into the allocating code */
	__u32 stack_id;		/* or PROBE_ALLOC_NO_STACK */
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_alloc_live, 32);

/* alloc_sites key */
struct probe_alloc_site {
	__u32 session;
	__u32 stack_id;		/* or PROBE_ALLOC_NO_STACK */
	__u64 caller;
};
PROBE_ASSERT_SIZE(struct probe_alloc_site, 16);

/*
 * alloc_sites value; updated with atomics from every CPU. Tracked
 * allocations freed since attach = allocs - count: not kept apart, one
 * atomic less on every free.
 */
struct probe_alloc_site_val {
	__s64 bytes;		/* outstanding */
	__s64 count;		/* outstanding allocations */
	__u64 allocs;		/* allocations tracked since attach */
	__u64 first_ns;		/* first allocation seen */
};
PROBE_ASSERT_SIZE(struct probe_alloc_site_val, 32);

/* alloc_call_* value: one allocator call between entry and return */
struct probe_alloc_call {
	__u64 size;		/* requested bytes */
	__u64 old_ptr;		/* realloc's input pointer */
	__u64 memptr;		/* posix_memalign's output slot */
	__u64 sp;		/* stack pointer at entry: a deeper entry is a nested call */
	__u64 entry_ns;		/* realloc only: frees the old block only if tracked before */
	__u32 session;
	__u16 kind;
	__u8 depth;		/* allocator calls nested inside this one; 0: none in flight */
	__u8 sampled;		/* by bytes at entry */
};
PROBE_ASSERT_SIZE(struct probe_alloc_call, 48);

/* Per-session hit counters (per-CPU array by slot: summed by userspace). */
struct probe_alloc_hits {
	__u64 enter;		/* allocator entries (nested ones included) */
	__u64 ret;		/* allocator returns */
	__u64 free;		/* free() calls with a non-NULL pointer */
	__u64 sampled;		/* allocations that took a stack */
};
PROBE_ASSERT_SIZE(struct probe_alloc_hits, 32);

/* Per-CPU counters (index into the alloc program's stats array). */
enum probe_alloc_stat {
	PROBE_ALLOC_STAT_FREE_UNTRACKED, /* frees of addresses not tracked (older than the attach, evicted, sampled out) */
	PROBE_ALLOC_STAT_LIVE_FULL,	/* allocations not tracked: alloc_live update failed */
	PROBE_ALLOC_STAT_SITES_FULL,	/* allocations not aggregated: alloc_sites full */
	PROBE_ALLOC_STAT_STACK_LOST,	/* sampled allocations without a stack (map full, collision) */
	PROBE_ALLOC_STAT_INFLIGHT_FULL,	/* calls lost: alloc_inflight update failed */
	PROBE_ALLOC_STAT_RET_ORPHAN,	/* returns without an entry (attached mid-call) */
	PROBE_ALLOC_STAT_STALE_CALL,	/* an entry found a call whose return was never seen */
	PROBE_ALLOC_STAT_ADDR_REUSED,	/* an address returned while still tracked (its free was missed) */
	PROBE_ALLOC_STAT_MAX,
};

#endif
