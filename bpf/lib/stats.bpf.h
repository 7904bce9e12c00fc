/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Loss counters and ring-buffer wakeups, shared by lib/common.bpf.h and its
 * host stand-in for the fuzzers (tests/fuzz/shim/lib/common.bpf.h), which
 * declare the map macros and helpers this uses before including it.
 */
#ifndef PROBE_BPF_LIB_STATS_H
#define PROBE_BPF_LIB_STATS_H

/*
 * Per-CPU loss and event counters, one array per object. Userspace sums
 * the CPUs; a loss is a number in the output, never silence.
 */
#define PROBE_STATS_MAP(n)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);		\
		__uint(max_entries, (n));				\
		__type(key, __u32);					\
		__type(value, __u64);					\
	} stats SEC(".maps")

static __always_inline void probe_stat_inc(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

/*
 * Wake the consumer only when a batch has built up: a wakeup per record
 * costs ~9 µs here (irq_work + IPI), while userspace polls on a short timer
 * anyway.
 */
#define PROBE_RB_WAKE_BYTES	(64 * 1024)

static __always_inline __u64 probe_rb_flags(void *rb)
{
	return bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= PROBE_RB_WAKE_BYTES ?
	       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif
