/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP connection records: outbound connects, their outcome, and the life of
 * the connections they open.
 *
 * The kernel keeps one owner entry per socket from the moment it enters
 * SYN_SENT (in the connecting task's context) until it reaches CLOSE. Every
 * later event about that socket (SYN-ACK, RST, retransmit, timer) happens in
 * softirq or timer context where "current" is whoever was interrupted, so
 * each record's header carries the OWNER's identity (pid, tid, cgroup, comm
 * at connect time), not the current task's.
 *
 * One record layout for every event; hdr.type says which:
 *
 *   START    socket entered SYN_SENT                    -> connecting + 1
 *   DONE     connect outcome: ok (ESTABLISHED) or fail  -> connecting - 1, active + 1 if ok
 *   END      connection released: our side closed it,
 *            or it died (reset, timeout)                -> active - 1, dur_ns = lifetime
 *   RETRANS  a segment (or SYN) was retransmitted
 *   RST_IN   an RST arrived on an established connection
 *   RST_OUT  we sent an RST on a connection of ours
 *
 *   0               48        56        64              80
 *   +---------------+---------+---------+---------------+
 *   | probe_rec_hdr |  sock   | dur_ns  |   daddr[16]   |
 *   +---------------+---------+---------+---------------+
 *   80      82      84       86        87      88      92      96
 *   +-------+-------+--------+---------+-------+-------+-------+
 *   | dport | sport | family | outcome | state |  err  |  pad  |
 *   +-------+-------+--------+---------+-------+-------+-------+
 */
#ifndef PROBE_CONN_H
#define PROBE_CONN_H

#include "record.h"

#define PROBE_CONN_VERSION 1

enum probe_conn_rec_type {
	PROBE_REC_CONN_START = PROBE_REC_CONN_BASE,
	PROBE_REC_CONN_DONE,
	PROBE_REC_CONN_END,
	PROBE_REC_CONN_RETRANS,
	PROBE_REC_CONN_RST_IN,
	PROBE_REC_CONN_RST_OUT,
};

/* DONE: how the connect ended. The errno in `err` gives the detail. */
enum probe_conn_outcome {
	PROBE_CONN_OK = 0,		/* ESTABLISHED */
	PROBE_CONN_FAILED = 1,		/* SYN_SENT -> CLOSE, err = sk_err (0: closed by the caller) */
	PROBE_CONN_FAILED_LOCAL = 2,	/* connect() failed in the syscall, err = its errno;
					 * with sock == 0 it never reached SYN_SENT */
};

struct probe_conn_rec {
	struct probe_rec_hdr hdr;	/* the socket's owner, see above */
	__u64 sock;		/* kernel socket address: a key, never dereferenced; 0 if none */
	__u64 dur_ns;		/* DONE: SYN_SENT -> outcome; END: ESTABLISHED -> end */
	__u8 daddr[16];		/* AF_INET: first 4 bytes */
	__u16 dport;		/* host order */
	__u16 sport;		/* host order; 0 in START (bound after SYN_SENT) */
	__u16 family;		/* AF_INET or AF_INET6 */
	__u8 outcome;		/* DONE: enum probe_conn_outcome */
	__u8 state;		/* TCP state the socket was in (END: the state it left) */
	__s32 err;		/* positive errno: sk_err, or connect()'s return */
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_conn_rec, 96);

/*
 * Owner entry, keyed by socket address (also read by userspace to rebuild
 * its gauges after a counted loss).
 */
struct probe_conn_sock {
	__u64 t_start;		/* SYN_SENT */
	__u64 t_est;		/* ESTABLISHED; 0 while connecting */
	__u64 t_end;		/* released (END sent); 0 while active */
	__u64 cgroup_id;
	__u32 pid;		/* tgid */
	__u32 tid;
	char comm[PROBE_COMM_LEN];
	__u8 daddr[16];
	__u16 dport;
	__u16 family;
	__s32 soft_err;		/* sk_err_soft when connect() returned: an ICMP error
				 * handled while connect() held the socket */
	__u32 flags;		/* PROBE_CONN_F_*, copied into each record's hdr.flags */
	__u32 pad;
};
PROBE_ASSERT_SIZE(struct probe_conn_sock, 88);

/*
 * Open before the probe started, entered into the owner map by userspace:
 * when it was established is unknown, so its lifetime is not measured.
 */
#define PROBE_CONN_F_PREEXISTING	0x1

/*
 * What the iter/tcp walk at start reports for each full TCP socket in
 * ESTABLISHED, CLOSE_WAIT or LISTEN, so userspace can follow connections
 * that are older than the probe.
 */
struct probe_conn_seen {
	__u64 sock;		/* socket address: the owner map's key */
	__u64 ino;		/* socket inode (find the process in /proc/PID/fd); 0: none */
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;		/* host order */
	__u16 dport;		/* host order */
	__u16 family;
	__u8 state;
	__u8 pad;
};
PROBE_ASSERT_SIZE(struct probe_conn_seen, 56);

/*
 * Outbound sockets between SYN_SENT and CLOSE. A plain hash, not LRU: every
 * TCP socket that enters SYN_SENT leaves through CLOSE before it is freed
 * (the kernel warns otherwise), so entries cannot leak, and a full map is a
 * counted refusal (PROBE_CONN_STAT_SOCKS_FULL) rather than a silent
 * eviction that would leave a connection counted active forever.
 */
#define PROBE_MAX_CONN_SOCKS	32768
/* threads inside connect(): LRU, a thread killed mid-call must not pin a slot */
#define PROBE_MAX_CONN_CALLS	4096
#define PROBE_CONN_RINGBUF_BYTES	(1U << 21)

/* Per-CPU counters (index into the tcp program's stats array). */
enum probe_conn_stat {
	PROBE_CONN_STAT_SOCKS_FULL,	/* connects not followed: owner map full */
	PROBE_CONN_STAT_RB_DROP,	/* records lost: ring buffer full */
	PROBE_CONN_STAT_CALLS_FULL,	/* connect() calls not followed (errno of a local failure lost) */
	PROBE_CONN_STAT_MAX,
};

#endif
