/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The floor under the syscall signal, for bench-syscalls: the same two
 * tp_btf hooks with nothing but what any latency measurement needs (a
 * clock read at enter, another at exit, one add), or with empty bodies.
 * What the signal costs above these rows is its own work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define SLOTS 512

const volatile __u32 target_tgid = 0;	/* only this process is timed */

__u64 start_ns[SLOTS * 8];		/* one cache line per CPU */
__u64 total_ns;
__u64 calls;

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_enter_clock)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu < SLOTS && bpf_get_current_pid_tgid() >> 32 == target_tgid)
		start_ns[cpu * 8] = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_exit_clock)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu < SLOTS && bpf_get_current_pid_tgid() >> 32 == target_tgid &&
	    start_ns[cpu * 8]) {
		__sync_fetch_and_add(&total_ns, bpf_ktime_get_ns() - start_ns[cpu * 8]);
		__sync_fetch_and_add(&calls, 1);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_enter_empty)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_exit_empty)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
