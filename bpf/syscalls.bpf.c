/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Syscall signal: per (process, syscall) counts, errors by errno and a
 * latency histogram, aggregated in the kernel.
 *
 * Counting needs only sys_exit (it carries both the number and the return
 * value), so the enter hook exists for latency alone. Userspace attaches it
 * always ("exact"), part of the time ("sampled": counts stay exact, latency
 * comes from the sampled periods), or never ("off").
 *
 * Timing uses a per-CPU slot, spilled to a tid-keyed hash when the task is
 * switched out mid-call (struct probe_sc_cpu says why). Measured here, a
 * task-local-storage or hash lookup on every call costs ~100-200 ns more.
 */
#include "vmlinux.h"
#include "lib/common.bpf.h"
#include "probe/syscalls.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_SYSCALL_KEYS);
	__type(key, struct probe_sc_key);
	__type(value, struct probe_sc_val);
} sc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_ERRNO_KEYS);
	__type(key, struct probe_sc_err_key);
	__type(value, __u64);
} sc_errnos SEC(".maps");

/* A zeroed value to insert from: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_sc_val);
} sc_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_sc_cpu);
} sc_cpu SEC(".maps");

/* Start times of calls whose task was switched out before they returned. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_MAX_INFLIGHT);
	__type(key, __u32);
	__type(value, __u64);
} sc_spilled SEC(".maps");

PROBE_STATS_MAP(PROBE_SC_STAT_MAX);

/*
 * Set by userspace (the skeleton's .bss) while sys_enter is attached, so
 * an exit with no start in this CPU's slot looks for a spilled one only
 * when there can be one.
 */
volatile __u32 sc_timing = 0;

static __always_inline struct probe_sc_val *sc_val_get(struct probe_sc_key *key)
{
	struct probe_sc_val *v = bpf_map_lookup_elem(&sc_stats, key);
	__u32 zero = 0;

	if (v)
		return v;
	v = bpf_map_lookup_elem(&sc_zero, &zero);
	if (!v)
		return NULL;
	/* -EEXIST from a racing CPU is fine: the lookup below finds its entry */
	bpf_map_update_elem(&sc_stats, key, v, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&sc_stats, key);
	if (!v)
		probe_stat_inc(&stats, PROBE_SC_STAT_KEYS_FULL);
	return v;
}

static __always_inline void sc_record(__u32 tgid, long id, long ret, __u64 start)
{
	struct probe_sc_key key = { .pid = tgid, .nr = (__u32)id };
	struct probe_sc_val *v;

	if (id < 0)
		return;
	if (key.nr >= PROBE_MAX_SYSCALL_NR)
		key.nr = PROBE_MAX_SYSCALL_NR - 1;
	v = sc_val_get(&key);
	if (!v)
		return;
	__sync_fetch_and_add(&v->count, 1);

	if (start) {
		__u64 d = bpf_ktime_get_ns() - start;
		__u32 b = loglin_index(d, PROBE_SC_SUB_BITS, PROBE_SC_MAX_EXP);

		if (b < PROBE_SC_BUCKETS)
			__sync_fetch_and_add(&v->buckets[b], 1);
	}

	/* -4095..-1 is the kernel's errno range; mmap returns high addresses */
	if (ret < 0 && ret >= -4095) {
		struct probe_sc_err_key ek = {
			.pid = tgid, .nr = key.nr, .err = (__s32)-ret,
		};
		__u64 one = 1, *c;

		__sync_fetch_and_add(&v->errors, 1);
		c = bpf_map_lookup_elem(&sc_errnos, &ek);
		if (c)
			__sync_fetch_and_add(c, 1);
		else if (bpf_map_update_elem(&sc_errnos, &ek, &one, BPF_NOEXIST) == -E2BIG)
			probe_stat_inc(&stats, PROBE_SC_STAT_ERRNO_FULL);
	}
}

static __always_inline struct probe_sc_cpu *sc_cpu_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sc_cpu, &zero);
}

/* The filter verdict, cached per CPU for the last process seen. */
static __always_inline int sc_wanted(struct probe_sc_cpu *c, __u32 tgid)
{
	if (!filter_pids)
		return tgid != self_pid;
	if (c->verdict_tgid != tgid) {
		c->verdict_tgid = tgid;
		c->verdict = probe_wanted(tgid);
	}
	return c->verdict;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct probe_sc_cpu *c = sc_cpu_get();

	if (!c || !sc_wanted(c, pid_tgid >> 32))
		return 0;
	c->tid = (__u32)pid_tgid;
	c->start_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), start = 0, *spilled;
	__u32 tid = (__u32)pid_tgid;
	struct probe_sc_cpu *c = sc_cpu_get();

	if (!c || !sc_wanted(c, pid_tgid >> 32))
		return 0;
	if (c->tid == tid && c->start_ns) {
		start = c->start_ns;
		c->start_ns = 0;
	} else if (sc_timing) {
		/* blocked or migrated mid-call: sched_switch spilled the start */
		spilled = bpf_map_lookup_elem(&sc_spilled, &tid);
		if (spilled) {
			start = *spilled;
			bpf_map_delete_elem(&sc_spilled, &tid);
		}
	}
	sc_record(pid_tgid >> 32, ctx->id, ctx->ret, start);
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int sched_switch(struct trace_event_raw_sched_switch *ctx)
{
	struct probe_sc_cpu *c = sc_cpu_get();
	__u32 prev = ctx->prev_pid;

	if (!c || !c->start_ns || c->tid != prev)
		return 0;
	if (bpf_map_update_elem(&sc_spilled, &prev, &c->start_ns, BPF_ANY))
		probe_stat_inc(&stats, PROBE_SC_STAT_INFLIGHT_FULL);
	c->start_ns = 0;
	return 0;
}
