/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * features: what the running kernel lets us hook, found by trying it.
 *
 * Every probe loads (and where it matters attaches) a two-instruction
 * program of the hook's type, so "available" means "works here", not
 * "the headers say so". Each absent feature carries the reason.
 */
#ifndef PROBE_LOADER_FEATURES_H
#define PROBE_LOADER_FEATURES_H

enum feature {
	FEAT_BTF,		/* kernel BTF for CO-RE */
	FEAT_TRACEFS,		/* tracefs mounted (tracepoint ids) */
	FEAT_TRACEPOINT,
	FEAT_RAW_TP,
	FEAT_TP_BTF,
	FEAT_UPROBE,
	FEAT_KPROBE,
	FEAT_FENTRY,
	FEAT_RINGBUF,
	FEAT_TASK_STORAGE,	/* task-local storage usable from tracepoints */
	FEAT_UPROBE_MULTI,	/* one link for many uprobe sites (loader/uprobe_multi.h) */
	FEAT_MAX,
};

#define FEAT_WHY_LEN 128

struct features {
	int have[FEAT_MAX];
	char why[FEAT_MAX][FEAT_WHY_LEN];	/* detail, or why not */
};

/* Probe everything; never fails (an unprobeable feature is "absent"). */
void features__probe(struct features *f);
const char *features__name(enum feature feat);

#endif
