/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * selfstats: probe's own figures for export: CPU time and resident memory,
 * start time and how long start-up took, and each of its BPF programs' run
 * time and run count from the kernel's program statistics when they are on
 * (kernel.bpf_stats_enabled, or held on by probe with export.bpf_stats).
 * Read on the event loop when a snapshot is built.
 */
#ifndef PROBE_EXPORT_SELFSTATS_H
#define PROBE_EXPORT_SELFSTATS_H

#include <stdint.h>

struct snapshot;

struct self_info {
	uint64_t start_unix_ns;		/* when probe started */
	double startup_s;		/* from main() to ready */
	int bpf_stats;			/* read program stats at all */
	int bpf_stats_held;		/* probe holds them on (BPF_ENABLE_STATS) */
};

/* Append the metrics; 0 or -ENOMEM. */
int selfstats__add(struct snapshot *s, const struct self_info *i);

#endif
