/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * conn_seed: outbound TCP connections that were open before the probe
 * started. Without them, attaching to a running service would show its
 * connection pool as empty until every connection was replaced.
 *
 * Once, after the tracepoints are attached: the iter/tcp program lists the
 * TCP sockets of each network namespace the wanted processes live in,
 * /proc/PID/fd maps socket inodes to their processes, and every
 * ESTABLISHED or CLOSE_WAIT socket whose local port is not a listener's
 * (so it was connected, not accepted) enters the kernel's owner map marked
 * PROBE_CONN_F_PREEXISTING. A second walk then removes any that closed
 * while the first was being read (their CLOSE came before their entry).
 */
#ifndef PROBE_SIGNALS_CONN_SEED_H
#define PROBE_SIGNALS_CONN_SEED_H

#include <stdint.h>

struct bpf_program;

struct conn_seed_opts {
	struct bpf_program *iter;	/* the loaded iter/tcp program */
	int socks_fd;			/* conn_socks */
	int tracked_fd;			/* --pid: the followed processes; else -1 */
	int self_pid;			/* never seeded */
	uint64_t now_ns;		/* CLOCK_MONOTONIC, stands in for "established" */
};

/*
 * Returns how many connections were entered, or a negative errno when the
 * walk itself failed (the signal then runs without them).
 */
int conn_seed__run(const struct conn_seed_opts *o);

#endif
