/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * signal: one observable thing (syscalls, HTTP, ...) with its BPF half and
 * its userspace half. Each signal describes itself with signal_ops; the
 * table in signals.c runs them all the same way:
 *
 *   plan    -> from features + config only: would it run, on which hook,
 *              or why not (no side effects; --check and start both use it)
 *   start   -> open the skeleton, set rodata, pick programs (autoload),
 *              share the pid filter map, load, attach, register ring buffers
 *   collect -> every second: read maps, write the store
 *   ready   -> (optional) every signal is started: the run's clock starts
 *   counts  -> events seen and lost, for the probe's own health series
 *   detach  -> (optional) release the links only, maps and state kept: run
 *              beside the other signals' stops when stop itself must wait
 *              for them (proc: its map is the filter the others share)
 *   stop    -> detach and free everything (links, maps, memory)
 *
 * A signal that cannot start reports why and the others keep running.
 */
#ifndef PROBE_LOADER_SIGNAL_H
#define PROBE_LOADER_SIGNAL_H

#include <stdint.h>

#include "loader/features.h"

struct probe_config;
struct features;
struct store;
struct loop;
struct names;
struct peer_names;
struct attrib;

struct probe_ctx {
	const struct probe_config *cfg;
	const struct features *feat;
	struct store *store;
	struct loop *loop;
	struct names *names;
	struct peer_names *peers;	/* names from DNS answers (proc/peer_names.h); NULL: none */
	struct attrib *attrib;	/* container and pod labels (proc/attrib.h); NULL: none */
	int filter;		/* --pid mode: only followed processes */
	int tracked_fd;		/* the shared tracked_pids map (proc signal's), or -1 */
	int self_pid;
	int check_only;		/* --check: start and stop, report */
	int verbose;		/* -v: probe-site details on stderr */
	const int *pids;	/* --pid targets */
	unsigned int npids;
	int targets_left;	/* set by proc: followed processes still alive */
};

enum signal_state {
	SIG_LIVE,		/* attached and running */
	SIG_OFF,		/* disabled by config or mode */
	SIG_UNAVAILABLE,	/* this kernel lacks what it needs */
	SIG_FAILED,		/* should have worked; load or attach failed */
};

#define SIGNAL_HOOK_LEN	128
#define SIGNAL_WHY_LEN	384

struct signal_status {
	enum signal_state state;
	char hook[SIGNAL_HOOK_LEN];	/* what it attaches to */
	char why[SIGNAL_WHY_LEN];	/* reason when not live; notes when live */
};

struct signal_counts {
	uint64_t events;	/* records or calls seen */
	uint64_t lost;		/* ring buffer full, map full, evicted in flight */
};

struct signal_ops {
	const char *name;
	const char *what;
	void (*plan)(const struct probe_ctx *ctx, struct signal_status *st);
	int (*start)(struct probe_ctx *ctx, void **state, struct signal_status *st);
	void (*collect)(void *state, uint64_t now_ns);
	void (*ready)(void *state, uint64_t now_ns);
	void (*counts)(void *state, struct signal_counts *c);
	void (*detach)(void *state);
	void (*stop)(void *state);
};

const char *signal__state_name(enum signal_state s);
/* printf into st->why / st->hook */
void signal__why(struct signal_status *st, enum signal_state s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void signal__hook(struct signal_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Whether the kernel has each of the n features f[] a signal needs: 1, or
 * 0 with st unavailable and the first missing one's reason as its why.
 */
int signal__needs(const struct probe_ctx *ctx, struct signal_status *st, const enum feature *f,
		  unsigned int n);
#define SIGNAL_NEEDS(ctx, st, ...)						\
	signal__needs(ctx, st, (const enum feature[]){ __VA_ARGS__ },		\
		      sizeof((const enum feature[]){ __VA_ARGS__ }) / sizeof(enum feature))

struct bpf_object_skeleton;
struct bpf_map;
struct bpf_program;

/* Load a or b (use_a says which), never both: two ways to one event. */
void signal__one_of(struct bpf_program *a, struct bpf_program *b, int use_a);
/*
 * The tp_btf program of an event where the kernel has tp_btf, else its
 * classic tracepoint program; neither when !on (an event this kernel
 * lacks). tp_btf first: a classic tracepoint is a perf event, released at
 * exit with two grace periods under a kernel-wide mutex; a raw tracepoint
 * link is not.
 */
void signal__btf_or_tp(const struct probe_ctx *ctx, struct bpf_program *btf,
		       struct bpf_program *tp, int on);

/*
 * Load a signal's skeleton with its tracked_pids map shared with the proc
 * signal's (under --pid); on failure st says why in the kernel's words (the
 * verifier's complaint or the CO-RE relocation that failed, from libbpf's
 * log; hint, if any, only when the log named nothing) and the error is
 * returned.
 */
int signal__load(struct bpf_object_skeleton *skel, struct bpf_map *tracked,
		 const struct probe_ctx *ctx, struct signal_status *st, const char *hint);


#endif
