/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Kernel-version differences the programs read through, in one place.
 * vmlinux.h describes one kernel (the build host's); the types below are
 * the older layouts as "___old"/"___x" flavours (libbpf drops the suffix
 * when it matches them against the running kernel's BTF), and each helper
 * picks the layout the running kernel has with bpf_core_field_exists() /
 * bpf_core_type_exists(), which libbpf turns into constants at load time so
 * the verifier never walks the other branch.
 */
#ifndef PROBE_BPF_CORE_FIXES_H
#define PROBE_BPF_CORE_FIXES_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/*
 * mm->rss_stat: up to 6.1 a struct mm_rss_stat holding atomic_long_t
 * count[NR_MM_COUNTERS]; from 6.2 an array of percpu_counter whose .count
 * is the folded global value. Both hold what get_mm_counter() returns.
 */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

static __always_inline int probe_mm_rss_is_old(void)
{
	return bpf_core_field_exists(((struct mm_struct___old *)0)->rss_stat.count);
}

/*
 * clang hoists the address arithmetic of both arms of a layout test above
 * the test (it is cheap and cannot fault), which would put the arm that
 * did not relocate (libbpf poisons it) on the path the verifier walks. A
 * barrier_var() on the pointer inside each arm makes every address depend
 * on an asm the compiler may not move, so each arm's relocations stay in it.
 */
#define PROBE_MM_RSS_OLD(var, mm)							\
	struct mm_struct___old *var = (struct mm_struct___old *)(mm);			\
	barrier_var(var)
#define PROBE_MM_RSS_NEW(var, mm)							\
	struct mm_struct *var = (struct mm_struct *)(mm);				\
	barrier_var(var)

/*
 * One counter with CO-RE probe reads (any pointer). member must be a
 * constant: the relocation then names one array element on either layout.
 */
static __always_inline __s64 probe_mm_rss_read(void *mm, const int member)
{
	if (probe_mm_rss_is_old()) {
		PROBE_MM_RSS_OLD(o, mm);
		return BPF_CORE_READ(o, rss_stat.count[member].counter);
	} else {
		PROBE_MM_RSS_NEW(n, mm);
		return BPF_CORE_READ(n, rss_stat[member].count);
	}
}

/*
 * The same with plain loads, for typed (BTF) pointers in tp_btf programs.
 * The old layout is read with a probe read all the same: 6.1's verifier
 * does not walk into an array of a typedef'd struct ("Type 'atomic_long_t'
 * is not a struct").
 */
static __always_inline __s64 probe_mm_rss_load(void *mm, const int member)
{
	if (probe_mm_rss_is_old()) {
		PROBE_MM_RSS_OLD(o, mm);
		return BPF_CORE_READ(o, rss_stat.count[member].counter);
	} else {
		PROBE_MM_RSS_NEW(n, mm);
		return n->rss_stat[member].count;
	}
}
#define PROBE_MM_RSS_READ(mm, member) probe_mm_rss_read(mm, member)
#define PROBE_MM_RSS_LOAD(mm, member) probe_mm_rss_load(mm, member)

/*
 * tcp:tcp_retransmit_skb and tcp:tcp_send_reset were events of the class
 * tcp_event_sk_skb (context struct trace_event_raw_tcp_event_sk_skb) until
 * each got its own class in later kernels (send_reset with a reason,
 * retransmit_skb with an err). Every layout starts skbaddr, skaddr,
 * state; these read the two fields from whichever struct this kernel has.
 */
struct trace_event_raw_tcp_event_sk_skb___x {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
	int state;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_retransmit_skb___x {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
	int state;
} __attribute__((preserve_access_index));

struct trace_event_raw_tcp_send_reset___x {
	struct trace_entry ent;
	const void *skbaddr;
	const void *skaddr;
	int state;
} __attribute__((preserve_access_index));

/*
 * Probe reads, not ctx loads: clang merges the two arms into one load at a
 * computed offset, and the verifier refuses a ctx access at a variable
 * offset; a helper's source pointer may be anything.
 */
#define PROBE_TCP_TP_READ(ctx, own, field)						\
	(bpf_core_type_exists(struct own) ?						\
	 BPF_CORE_READ((struct own *)(ctx), field) :					\
	 BPF_CORE_READ((struct trace_event_raw_tcp_event_sk_skb___x *)(ctx), field))

#define probe_tcp_retrans_sk(ctx)    ((__u64)PROBE_TCP_TP_READ(ctx, trace_event_raw_tcp_retransmit_skb___x, skaddr))
#define probe_tcp_retrans_state(ctx) ((int)PROBE_TCP_TP_READ(ctx, trace_event_raw_tcp_retransmit_skb___x, state))
#define probe_tcp_rst_sk(ctx)        ((__u64)PROBE_TCP_TP_READ(ctx, trace_event_raw_tcp_send_reset___x, skaddr))
#define probe_tcp_rst_state(ctx)     ((int)PROBE_TCP_TP_READ(ctx, trace_event_raw_tcp_send_reset___x, state))

#endif
