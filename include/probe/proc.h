/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Process lifecycle records: what --pid follows, and when it ends. */
#ifndef PROBE_PROC_H
#define PROBE_PROC_H

#include "record.h"

#define PROBE_PROC_VERSION 1

/* type PROBE_REC_PROC_FORK: hdr.pid is the parent */
struct probe_proc_fork {
	struct probe_rec_hdr hdr;
	__u32 child_pid;
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_proc_fork, 56);

/* type PROBE_REC_PROC_EXIT: the last thread of hdr.pid is gone */
struct probe_proc_exit {
	struct probe_rec_hdr hdr;
	__s32 exit_code;	/* as wait(2) encodes it */
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_proc_exit, 56);

/* Per-CPU counters the proc program keeps (index into its stats array). */
enum probe_proc_stat {
	PROBE_PROC_STAT_FORKS,		/* children added to the tracked set */
	PROBE_PROC_STAT_TRACK_FULL,	/* children lost: tracked set full */
	PROBE_PROC_STAT_RB_DROP,	/* records lost: ring buffer full */
	PROBE_PROC_STAT_MAX,
};

#endif
