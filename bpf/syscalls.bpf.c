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
 * The start time lives in task-local storage where the kernel has it, else
 * in a tid-keyed LRU hash; the loader keeps one pair of programs and turns
 * the other off before load.
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
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} sc_start_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_MAX_INFLIGHT);
	__type(key, __u32);
	__type(value, __u64);
} sc_start_tid SEC(".maps");

PROBE_STATS_MAP(PROBE_SC_STAT_MAX);

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

		__sync_fetch_and_add(&v->lat_count, 1);
		__sync_fetch_and_add(&v->lat_sum_ns, d);
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

/* --- variant 1: start time in task-local storage --- */

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter_task(struct trace_event_raw_sys_enter *ctx)
{
	__u64 *ts;

	if (!probe_wanted(bpf_get_current_pid_tgid() >> 32))
		return 0;
	ts = bpf_task_storage_get(&sc_start_task, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_task(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 *ts, start = 0;

	if (!probe_wanted(tgid))
		return 0;
	ts = bpf_task_storage_get(&sc_start_task, bpf_get_current_task_btf(), 0, 0);
	if (ts) {
		start = *ts;
		*ts = 0;
	}
	sc_record(tgid, ctx->id, ctx->ret, start);
	return 0;
}

/* --- variant 2: start time in a tid-keyed LRU hash (older kernels) --- */

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter_hash(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	__u64 now;

	if (!probe_wanted(pid_tgid >> 32))
		return 0;
	now = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&sc_start_tid, &tid, &now, BPF_ANY))
		probe_stat_inc(&stats, PROBE_SC_STAT_INFLIGHT_FULL);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_hash(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	__u64 *ts, start = 0;

	if (!probe_wanted(tgid))
		return 0;
	ts = bpf_map_lookup_elem(&sc_start_tid, &tid);
	if (ts) {
		start = *ts;
		bpf_map_delete_elem(&sc_start_tid, &tid);
	}
	sc_record(tgid, ctx->id, ctx->ret, start);
	return 0;
}
