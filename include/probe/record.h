/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The header every ring-buffer record starts with.
 *
 * Identity travels with the record: a short-lived process may be gone from
 * /proc by the time userspace reads about it, so the kernel side fills in
 * pid, tid, cgroup and comm at the moment of the event.
 *
 *   0               8               16              24              32
 *   +-------+---+---+---------------+-------------------------------+
 *   | type  |ver|flg|     size      |            ts_ns              |
 *   +-------+---+---+---------------+-------------------------------+
 *   |      pid      |      tid      |          cgroup_id            |
 *   +---------------+---------------+-------------------------------+
 *   |                         comm[16]                              |
 *   +---------------------------------------------------------------+
 */
#ifndef PROBE_RECORD_H
#define PROBE_RECORD_H

#include "types.h"
#include "limits.h"

/* Each record family owns a range of 16 types, defined in its own header. */
enum probe_rec_type {
	PROBE_REC_PROC_EXIT = 1,	/* a followed process ended (proc.h) */
	PROBE_REC_PROC_FORK = 2,	/* a followed process forked a child */
	PROBE_REC_HTTP_BASE = 16,	/* http.h */
	PROBE_REC_CONN_BASE = 32,	/* conn.h: TCP connections */
	PROBE_REC_DB_BASE = 48,		/* db.h: database queries */
	PROBE_REC_MEM_BASE = 64,	/* mem.h: memory growth and allocations */
	PROBE_REC_TLS_BASE = 80,	/* tls.h: TLS handshakes */
	PROBE_REC_DNS_BASE = 96,	/* dns.h: DNS answers */
};

struct probe_rec_hdr {
	__u16 type;		/* enum probe_rec_type */
	__u8 version;		/* bumped when a record's layout changes */
	__u8 flags;
	__u32 size;		/* bytes in the whole record */
	__u64 ts_ns;		/* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;		/* tgid */
	__u32 tid;
	__u64 cgroup_id;	/* cgroup v2 id of the task */
	char comm[PROBE_COMM_LEN];
};
PROBE_ASSERT_SIZE(struct probe_rec_hdr, 48);

#endif
