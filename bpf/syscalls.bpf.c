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
 * Each program comes twice: tp_btf where the kernel has it (the program
 * runs straight from the tracepoint) and a classic tracepoint otherwise
 * (the kernel first builds a trace-event record for it). Userspace loads
 * one set.
 *
 * Every nanosecond here is paid on every syscall of every traced process,
 * so the common path touches only its CPU's slot and one counter cell, with
 * no helper call beyond the clock and the task's ids (include/probe/
 * syscalls.h gives the measured costs behind that layout).
 */
#include "vmlinux.h"
#include "lib/common.bpf.h"
#include "probe/syscalls.h"

/* Counters, one cell per (process, syscall) key: see probe_sc_slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROBE_MAX_SYSCALL_KEYS);
	__type(key, __u32);
	__type(value, struct probe_sc_val);
} sc_cells SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_SYSCALL_KEYS);
	__type(key, struct probe_sc_key);
	__type(value, __u32);
} sc_index SEC(".maps");

/*
 * Unused cells. Userspace fills it at start and gives back the cells of
 * processes that exited, zeroed, after clearing them from every cache. A
 * stack: a freed cell is the next one used, so reuse is the common case
 * and the tests see it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, PROBE_MAX_SYSCALL_KEYS);
	__type(value, __u32);
} sc_free SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_ERRNO_KEYS);
	__type(key, struct probe_sc_err_key);
	__type(value, __u64);
} sc_errnos SEC(".maps");

/* Start times of calls whose task was switched out before they returned. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_MAX_INFLIGHT);
	__type(key, __u32);
	__type(value, __u64);
} sc_spilled SEC(".maps");

PROBE_STATS_MAP(PROBE_SC_STAT_MAX);

/*
 * Written by userspace (the skeleton's .bss). sc_timing is 1 while
 * sys_enter and sched_switch are attached; sc_on_since is when the current
 * timed period began (0 in exact mode): a start time older than that was
 * left behind by an earlier sampled period and is not this call's.
 */
volatile __u64 sc_on_since = 0;
volatile __u32 sc_timing = 0;

struct probe_sc_slot sc_slots[PROBE_SC_MAX_CPUS];

static __always_inline struct probe_sc_slot *sc_slot(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= PROBE_SC_MAX_CPUS)
		return NULL;
	return &sc_slots[cpu];
}

/*
 * The filter verdict, cached in the CPU's slot for the last process seen
 * there, so a run of calls from one process never looks at the filter map.
 */
static __always_inline int sc_wanted(struct probe_sc_slot *s, __u32 tgid)
{
	if (s->verdict_tgid != tgid) {
		s->verdict_tgid = tgid;
		s->verdict = probe_wanted(tgid);
	}
	return s->verdict;
}

/* The key's cell from the index, or a new one; -1 when none is left. */
static __always_inline long sc_cell_slow(struct probe_sc_key *key)
{
	__u32 *c = bpf_map_lookup_elem(&sc_index, key), cell;

	if (c)
		return *c;
	if (bpf_map_pop_elem(&sc_free, &cell)) {
		probe_stat_inc(&stats, PROBE_SC_STAT_KEYS_FULL);
		return -1;
	}
	if (!bpf_map_update_elem(&sc_index, key, &cell, BPF_NOEXIST))
		return cell;
	/* another CPU added the key first: use its cell, give ours back */
	bpf_map_push_elem(&sc_free, &cell, 0);
	c = bpf_map_lookup_elem(&sc_index, key);
	if (c)
		return *c;
	probe_stat_inc(&stats, PROBE_SC_STAT_KEYS_FULL);
	return -1;
}

static __always_inline struct probe_sc_val *sc_val_get(struct probe_sc_slot *s,
						       struct probe_sc_key *key)
{
	__u64 tag = PROBE_SC_CACHE_TAG(key->pid, key->nr), *ent = NULL;
	long cell;
	__u32 c;

	if (s) {
		ent = &s->cache[key->nr & (PROBE_SC_CACHE - 1)];
		if (*ent >> 16 == tag) {
			c = (__u16)*ent;
			return bpf_map_lookup_elem(&sc_cells, &c);
		}
	}
	cell = sc_cell_slow(key);
	if (cell < 0)
		return NULL;
	if (ent)
		*ent = PROBE_SC_CACHE_ENT(key->pid, key->nr, cell);
	c = cell;
	return bpf_map_lookup_elem(&sc_cells, &c);
}

static __always_inline void sc_record(struct probe_sc_slot *s, __u32 tgid, long id, long ret,
				      __u64 start)
{
	struct probe_sc_key key = { .pid = tgid, .nr = (__u32)id };
	struct probe_sc_val *v;

	if (id < 0)
		return;
	if (key.nr >= PROBE_MAX_SYSCALL_NR)
		key.nr = PROBE_MAX_SYSCALL_NR - 1;
	v = sc_val_get(s, &key);
	if (!v)
		return;

	if (start) {
		__u64 d = bpf_ktime_get_ns() - start;
		__u64 b = loglin_index(d, PROBE_SC_SUB_BITS, PROBE_SC_MAX_EXP);

		/*
		 * As a __u32, clang tested one zero-extended copy of b and
		 * indexed with another, and 6.1's verifier does not carry the
		 * bound across ("R6 unbounded memory access"): a 64-bit index
		 * behind a barrier is tested and used in one register.
		 */
		barrier_var(b);
		if (b < PROBE_SC_BUCKETS)
			__sync_fetch_and_add(&v->buckets[b], 1);
	} else {
		__sync_fetch_and_add(&v->untimed, 1);
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

static __always_inline int sc_enter(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct probe_sc_slot *s = sc_slot();

	if (!s) {
		probe_stat_inc(&stats, PROBE_SC_STAT_NO_SLOT);
		return 0;
	}
	if (!sc_wanted(s, pid_tgid >> 32))
		return 0;
	s->tid = (__u32)pid_tgid;
	s->start_ns = bpf_ktime_get_ns();
	return 0;
}

/* The start time of the calling thread's current call, or 0. */
static __always_inline __u64 sc_take_start(struct probe_sc_slot *s, __u32 tid)
{
	__u64 start = 0, *spilled;

	if (!sc_timing)
		return 0;	/* a slot left from a sampled period may be stale */
	if (s->tid == tid && s->start_ns) {
		start = s->start_ns;
		s->start_ns = 0;
	} else {
		/* blocked or migrated mid-call: sched_switch spilled the start */
		spilled = bpf_map_lookup_elem(&sc_spilled, &tid);
		if (spilled) {
			start = *spilled;
			bpf_map_delete_elem(&sc_spilled, &tid);
		}
	}
	return start >= sc_on_since ? start : 0;
}

static __always_inline int sc_exit(long id, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct probe_sc_slot *s = sc_slot();
	__u32 tgid = pid_tgid >> 32;

	if (!s) {
		if (probe_wanted(tgid))
			sc_record(NULL, tgid, id, ret, 0);
		return 0;
	}
	if (!sc_wanted(s, tgid))
		return 0;
	sc_record(s, tgid, id, ret, sc_take_start(s, (__u32)pid_tgid));
	return 0;
}

static __always_inline int sc_switch(__u32 prev)
{
	struct probe_sc_slot *s = sc_slot();

	if (!s || !s->start_ns || s->tid != prev)
		return 0;
	if (bpf_map_update_elem(&sc_spilled, &prev, &s->start_ns, BPF_ANY))
		probe_stat_inc(&stats, PROBE_SC_STAT_INFLIGHT_FULL);
	s->start_ns = 0;
	return 0;
}

#ifdef PROBE_SC_REGS_NR
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_btf)
{
	return sc_enter();
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_btf, struct pt_regs *regs, long ret)
{
	return sc_exit(PROBE_SC_REGS_NR(regs), ret);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch_btf, bool preempt, struct task_struct *prev)
{
	return sc_switch(prev->pid);
}
#endif

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter_tp(struct trace_event_raw_sys_enter *ctx)
{
	return sc_enter();
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_tp(struct trace_event_raw_sys_exit *ctx)
{
	return sc_exit(ctx->id, ctx->ret);
}

SEC("tracepoint/sched/sched_switch")
int sched_switch_tp(struct trace_event_raw_sched_switch *ctx)
{
	return sc_switch(ctx->prev_pid);
}
