/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Pieces every signal's BPF object shares: the process filter, per-CPU loss
 * counters and ring-buffer submission.
 *
 * Each .bpf.c is its own object with its own copy of these maps; the loader
 * makes them one by reusing the proc object's tracked_pids fd in every
 * other skeleton before load (bpf_map__reuse_fd).
 */
#ifndef PROBE_COMMON_BPF_H
#define PROBE_COMMON_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "probe/limits.h"
#include "probe/record.h"

/* errno values the programs compare against (vmlinux.h has no macros) */
#define E2BIG	7
#define EEXIST	17

/* Set by the loader before load. */
const volatile __u8 filter_pids = 0;	/* 1: only processes in tracked_pids */
const volatile __u32 self_pid = 0;	/* the probe itself: never traced */

/* tgid -> 1 for every followed process (targets and descendants). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_TRACKED);
	__type(key, __u32);
	__type(value, __u8);
} tracked_pids SEC(".maps");

static __always_inline int probe_wanted(__u32 tgid)
{
	if (tgid == self_pid)
		return 0;
	if (!filter_pids)
		return 1;
	return bpf_map_lookup_elem(&tracked_pids, &tgid) != NULL;
}

#include "stats.bpf.h"

static __always_inline void probe_fill_hdr(struct probe_rec_hdr *h, __u16 type,
					   __u8 version, __u32 size)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->type = type;
	h->version = version;
	h->flags = 0;
	h->size = size;
	h->ts_ns = bpf_ktime_get_ns();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#endif
