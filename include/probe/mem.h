/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Memory growth signal (tiers 1 and 2): the map values and the stack
 * sample record both sides compile.
 *
 * Tier 1 keeps, per process, the latest value of the kernel's own memory
 * counters (never a record per event): resident pages by kind from
 * kmem:rss_stat, and the heap (brk) and private writable mappings from
 * the brk/mmap/munmap/mremap syscall exits. Userspace reads the map once
 * a second and runs the trend detector.
 *
 * Tier 2 samples user stacks where a selected process's memory grows past
 * its high-water mark, by bytes: every sample_bytes of such growth of one
 * kind (brk, anonymous mapping, first-touch page fault) produce one record
 * weighted by those bytes.
 * Frame pointers cannot be trusted there (glibc's allocator uses rbp as a
 * general register, and the fault that makes a heap page resident is
 * usually inside malloc), so a record carries the user registers and a
 * copy of the top of the user stack, and userspace unwinds it with the
 * binaries' CFI.
 *
 * Record types: PROBE_REC_MEM_BASE + 0..7 are this header's;
 * PROBE_REC_MEM_BASE + 8..15 are left to the allocator family (alloc.h).
 */
#ifndef PROBE_MEM_H
#define PROBE_MEM_H

#include "record.h"

#define PROBE_MEM_VERSION	1

enum probe_mem_rec_type {
	PROBE_REC_MEM_SAMPLE = PROBE_REC_MEM_BASE + 0,	/* struct probe_mem_sample */
};

/* processes with tier-1 state in the kernel (host-wide) */
#define PROBE_MAX_MEM_PROCS	16384
/* processes tier 2 may sample at once */
#define PROBE_MAX_MEM_T2	64
/* bytes of user stack copied per sample; 8 KiB as for DWARF call graphs */
#define PROBE_MEM_STACK_BYTES	8192
#define PROBE_MEM_STACK_CHUNK	512

/* Indices into probe_mem_proc.rss: the kernel's MM_* counters */
enum probe_mem_rss {
	PROBE_MEM_RSS_FILE,
	PROBE_MEM_RSS_ANON,
	PROBE_MEM_RSS_SWAP,	/* swap entries, not resident */
	PROBE_MEM_RSS_SHMEM,
	PROBE_MEM_RSS_MAX,
};

/* Map value, key = tgid. Each field is the latest value seen. */
struct probe_mem_proc {
	__u64 start_ns;		/* group leader's start_boottime; (pid, start) is the identity */
	__u64 rss[PROBE_MEM_RSS_MAX];	/* bytes, per enum probe_mem_rss */
	__u64 heap_bytes;	/* brk - start_brk, at the last brk/mmap/munmap/mremap exit */
	__u64 data_bytes;	/* VmData: private writable non-stack mappings (heap included) */
	__u64 rss_events;	/* rss_stat events seen */
	__u64 vm_events;	/* brk/mmap/munmap/mremap exits seen */
	__u64 execs;		/* execve()s since the entry was made: a new program */
	char comm[PROBE_COMM_LEN];	/* the process's (group leader's), as of the last exec */
};
PROBE_ASSERT_SIZE(struct probe_mem_proc, 96);

/* Kinds of growth tier 2 samples */
enum probe_mem_kind {
	PROBE_MEM_KIND_BRK,	/* the heap grew (brk) */
	PROBE_MEM_KIND_MMAP,	/* private writable mappings grew (mmap, mremap) */
	PROBE_MEM_KIND_FAULT,	/* a write fault in an anonymous mapping, anon RSS at a peak */
	PROBE_MEM_KIND_MAX,
};

/*
 * Tier-2 gate, key = tgid: only processes listed here are sampled, and
 * only while start_ns matches (a reused pid is never sampled by mistake).
 *
 * Only growth past a high-water mark counts, per kind: the heap's size,
 * the mappings' size, the anonymous resident size. Memory a process frees
 * and takes again (an allocator returning arenas, a collector's saw-tooth)
 * stays under its mark and costs one comparison, so sampling follows net
 * growth, not allocation or page-fault churn. Userspace sets the marks to
 * the current sizes when it opens the gate.
 *
 * Growth past a mark accumulates in pending; a sample is taken when
 * pending reaches sample_bytes, at most one per PROBE_MEM_MIN_GAP_NS per
 * process (bytes keep accumulating meanwhile), and carries all of pending
 * as its weight. Updates are not atomic: threads racing may lose a few
 * bytes of weight, never a process's identity.
 */
#define PROBE_MEM_MIN_GAP_NS	10000000ULL	/* <= 100 samples/s per process */

struct probe_mem_gate {
	__u64 start_ns;
	__u64 hwm[PROBE_MEM_KIND_MAX];		/* high-water mark, bytes */
	__u64 pending[PROBE_MEM_KIND_MAX];	/* growth past the mark, not sampled yet */
	__u64 total[PROBE_MEM_KIND_MAX];	/* growth past the mark since the gate opened */
	__u64 last_ns;				/* last sample */
	__u64 samples;				/* records sent */
};
PROBE_ASSERT_SIZE(struct probe_mem_gate, 8 + 3 * 8 * PROBE_MEM_KIND_MAX + 16);

/* x86-64 user registers a sample carries, in DWARF numbering where it has one */
enum probe_mem_reg {
	PROBE_MEM_REG_IP,
	PROBE_MEM_REG_SP,
	PROBE_MEM_REG_BP,
	PROBE_MEM_REG_BX,
	PROBE_MEM_REG_R12,
	PROBE_MEM_REG_R13,
	PROBE_MEM_REG_R14,
	PROBE_MEM_REG_R15,
	PROBE_MEM_NREGS,
};

/* uretprobe return addresses carried per sample (innermost first) */
#define PROBE_MEM_MAX_URET	4

/*
 * type PROBE_REC_MEM_SAMPLE: one stack sample, weighted by bytes.
 *
 *   hdr (48) | start_ns | bytes | addr | kind, stack_len | regs[8]
 *   | nuret, pad | uret_slot[4] | uret_ret[4] | stack[8192]
 *
 * stack holds stack_len bytes read from regs[SP] upwards (shorter when the
 * stack ends sooner); the record is always sizeof(struct probe_mem_sample).
 *
 * A uretprobe (another tool's, or the allocator signal's) replaces the
 * return address of a probed function on the user stack with a trampoline
 * and keeps the real one in the kernel. Unwinding would stop there, so the
 * sample carries, for up to PROBE_MEM_MAX_URET active ones, the slot's
 * address and the real return address; userspace puts them back in its
 * copy. (For a chained instance, recursion into a probed function, the
 * kernel has already stored the real address, not its trampoline.)
 */
struct probe_mem_sample {
	struct probe_rec_hdr hdr;
	__u64 start_ns;
	__u64 bytes;		/* growth this sample stands for */
	__u64 addr;		/* faulting address, new brk, or new mapping's size */
	__u32 kind;		/* enum probe_mem_kind */
	__u32 stack_len;
	__u64 regs[PROBE_MEM_NREGS];
	__u32 nuret;		/* uret_* entries filled */
	__u32 pad;
	__u64 uret_slot[PROBE_MEM_MAX_URET];	/* user address of the hijacked slot */
	__u64 uret_ret[PROBE_MEM_MAX_URET];	/* the return address it held */
	__u8 stack[PROBE_MEM_STACK_BYTES];
};
PROBE_ASSERT_SIZE(struct probe_mem_sample,
		  48 + 32 + 8 * PROBE_MEM_NREGS + 8 + 16 * PROBE_MEM_MAX_URET +
		  PROBE_MEM_STACK_BYTES);

/* Per-CPU counters (index into the memgrowth program's stats array). */
enum probe_mem_stat {
	PROBE_MEM_STAT_PROCS_FULL,	/* updates lost: per-process map full */
	PROBE_MEM_STAT_NO_OWNER,	/* rss changes of an mm with no owner task */
	PROBE_MEM_STAT_RB_DROP,		/* samples lost: ring buffer full */
	PROBE_MEM_STAT_STACK_SHORT,	/* samples whose stack copy failed entirely */
	PROBE_MEM_STAT_SAMPLES,		/* samples sent */
	PROBE_MEM_STAT_MAX,
};

#endif
