/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Process lifecycle: keeps the --pid set closed under fork, and tells
 * userspace when a followed process is gone (so names are resolved from
 * the record, and stale per-pid state is dropped before a pid is reused).
 */
#include "vmlinux.h"
#include "lib/common.bpf.h"
#include "probe/proc.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} proc_events SEC(".maps");

PROBE_STATS_MAP(PROBE_PROC_STAT_MAX);

static __always_inline int proc_forked(__u32 child)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_proc_fork *r;
	__u8 one = 1;

	if (!filter_pids || !probe_wanted(tgid))
		return 0;
	/*
	 * A new thread also comes through here with its tid as child_pid.
	 * The entry is harmless (lookups are by tgid) and removed when the
	 * thread exits, so a reused tid never inherits tracking.
	 */
	if (bpf_map_update_elem(&tracked_pids, &child, &one, BPF_NOEXIST) == -E2BIG) {
		probe_stat_inc(&stats, PROBE_PROC_STAT_TRACK_FULL);
		return 0;
	}
	probe_stat_inc(&stats, PROBE_PROC_STAT_FORKS);

	r = bpf_ringbuf_reserve(&proc_events, sizeof(*r), 0);
	if (!r) {
		probe_stat_inc(&stats, PROBE_PROC_STAT_RB_DROP);
		return 0;
	}
	probe_fill_hdr(&r->hdr, PROBE_REC_PROC_FORK, PROBE_PROC_VERSION, sizeof(*r));
	r->child_pid = child;
	r->pad = 0;
	bpf_ringbuf_submit(r, probe_rb_flags(&proc_events));
	return 0;
}

static __always_inline int proc_exited(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	struct probe_proc_exit *r;

	if (tid != tgid)
		bpf_map_delete_elem(&tracked_pids, &tid);
	/*
	 * The group is dead once its live count is zero; do_exit() drops it
	 * before this tracepoint fires. The last thread out need not be the
	 * leader.
	 */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (!probe_wanted(tgid))
		return 0;
	bpf_map_delete_elem(&tracked_pids, &tgid);

	r = bpf_ringbuf_reserve(&proc_events, sizeof(*r), 0);
	if (!r) {
		probe_stat_inc(&stats, PROBE_PROC_STAT_RB_DROP);
		return 0;
	}
	probe_fill_hdr(&r->hdr, PROBE_REC_PROC_EXIT, PROBE_PROC_VERSION, sizeof(*r));
	r->exit_code = BPF_CORE_READ(task, exit_code);
	r->pad = 0;
	bpf_ringbuf_submit(r, probe_rb_flags(&proc_events));
	return 0;
}

/*
 * Two hook sets with the same bodies; the loader loads one. tp_btf (raw,
 * BTF-typed) is preferred: a program on a classic tracepoint is a perf
 * event, and releasing the last one on a trace event holds the kernel's
 * event_mutex across two RCU grace periods (~50 ms each here, one trace
 * event after another, at exit), which a raw tracepoint link does not.
 */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return proc_forked(child->pid);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit_btf)
{
	return proc_exited();
}

SEC("tracepoint/sched/sched_process_fork")
int sched_process_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	return proc_forked(ctx->child_pid);
}

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(void *ctx)
{
	return proc_exited();
}
