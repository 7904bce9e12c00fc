/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * proc signal: owns the pid filter. Under --pid it seeds tracked_pids with
 * the targets and their existing descendants (after attaching the fork
 * hook, so no child slips between the /proc walk and the hook), and knows
 * when every followed process is gone. Host-wide it still reports exits,
 * so names come from the kernel's record and per-pid state is dropped.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "proc.skel.h"
#include "loader/detach.h"
#include "probe/proc.h"
#include "config.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "proc/names.h"

struct proc_state {
	struct probe_ctx *ctx;
	struct proc_bpf *skel;
	struct ring_buffer *rb;
	int pidfds[64];
	unsigned int nroots;
	unsigned int roots_alive;
	uint64_t exits, forks;
};

/* tp_btf where the kernel allows it (signal__btf_or_tp) */
static void proc_plan(const struct probe_ctx *ctx, struct signal_status *st)
{
	int btf = ctx->feat->have[FEAT_TP_BTF];

	signal__hook(st, "%s sched/sched_process_{fork,exit}", btf ? "tp_btf" : "tracepoint");
	if (!btf && !ctx->feat->have[FEAT_TRACEPOINT]) {
		signal__why(st, SIG_UNAVAILABLE, "%s", ctx->feat->why[FEAT_TRACEPOINT]);
		return;
	}
	if (!SIGNAL_NEEDS(ctx, st, FEAT_RINGBUF))
		return;
	signal__why(st, SIG_LIVE, "%s", ctx->filter ? "follows --pid targets and their children"
		    : "process exits (names, pid reuse)");
}

static int on_record(void *arg, void *data, size_t len)
{
	struct proc_state *ps = arg;
	const struct probe_rec_hdr *h = data;

	if (len < sizeof(*h) || h->size > len)
		return 0;
	if (h->type == PROBE_REC_PROC_EXIT) {
		ps->exits++;
		names__set(ps->ctx->names, (int)h->pid, h->comm);
	} else if (h->type == PROBE_REC_PROC_FORK) {
		ps->forks++;
	}
	return 0;
}

static void on_pidfd(int fd, void *arg)
{
	struct proc_state *ps = arg;
	unsigned int i;

	for (i = 0; i < ps->nroots; i++)
		if (ps->pidfds[i] == fd) {
			fprintf(stderr, "probe: pid %d (%s) exited\n", ps->ctx->pids[i],
				names__get(ps->ctx->names, ps->ctx->pids[i]));
			loop__del_fd(ps->ctx->loop, fd);
			close(fd);
			ps->pidfds[i] = -1;
			ps->roots_alive--;
		}
}

/* Parent pid from /proc/PID/stat; the comm field may hold spaces and ')'. */
static int read_ppid(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = -1;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (p && sscanf(p + 1, " %*c %d", &ppid) != 1)
		ppid = -1;
	return ppid;
}

static int tracked(int fd, int pid)
{
	__u8 v;
	__u32 k = (__u32)pid;

	return bpf_map_lookup_elem(fd, &k, &v) == 0;
}

static int track(int fd, int pid)
{
	__u32 k = (__u32)pid;
	__u8 one = 1;

	return bpf_map_update_elem(fd, &k, &one, BPF_ANY) ? -errno : 0;
}

/* Add every existing descendant of a tracked process (fixpoint over /proc). */
static int seed_descendants(int fd)
{
	int added, rounds = 0, err = 0;

	do {
		struct dirent *de;
		DIR *d = opendir("/proc");

		if (!d)
			return -errno;
		added = 0;
		while ((de = readdir(d))) {
			int pid = atoi(de->d_name), ppid;

			if (pid <= 0 || tracked(fd, pid))
				continue;
			ppid = read_ppid(pid);
			if (ppid > 0 && tracked(fd, ppid)) {
				err = track(fd, pid);
				if (err)
					break;
				added++;
			}
		}
		closedir(d);
	} while (added && !err && ++rounds < 64);
	return err;
}

/*
 * Its links go with everyone else's: released alone after the others they
 * cost one grace period after another (detach, then the tracepoint's
 * unregistration), while beside them the waits are shared.
 */
static void proc_detach(void *state)
{
	struct proc_state *ps = state;

	if (ps)
		detach__skeleton(ps->skel->skeleton);
}

static void proc_stop(void *state)
{
	struct proc_state *ps = state;
	unsigned int i;

	if (!ps)
		return;
	for (i = 0; i < ps->nroots; i++)
		if (ps->pidfds[i] >= 0) {
			loop__del_fd(ps->ctx->loop, ps->pidfds[i]);
			close(ps->pidfds[i]);
		}
	ring_buffer__free(ps->rb);
	proc_bpf__destroy(ps->skel);
	free(ps);
}

static int proc_start(struct probe_ctx *ctx, void **state, struct signal_status *st)
{
	struct proc_state *ps = calloc(1, sizeof(*ps));
	unsigned int i;
	int err;

	if (!ps)
		return -ENOMEM;
	ps->ctx = ctx;
	for (i = 0; i < 64; i++)
		ps->pidfds[i] = -1;
	ps->skel = proc_bpf__open();
	if (!ps->skel) {
		err = -errno;
		signal__why(st, SIG_FAILED, "open: %s", strerror(-err));
		goto err_free;
	}
	ps->skel->rodata->filter_pids = ctx->filter;
	ps->skel->rodata->self_pid = (__u32)ctx->self_pid;
	signal__btf_or_tp(ctx, ps->skel->progs.sched_process_fork_btf,
			  ps->skel->progs.sched_process_fork, 1);
	signal__btf_or_tp(ctx, ps->skel->progs.sched_process_exit_btf,
			  ps->skel->progs.sched_process_exit, 1);
	err = proc_bpf__load(ps->skel);
	if (err) {
		signal__why(st, SIG_FAILED, "load: %s", strerror(-err));
		goto err_free;
	}
	err = proc_bpf__attach(ps->skel);
	if (err) {
		signal__why(st, SIG_FAILED, "attach: %s", strerror(-err));
		goto err_free;
	}
	ctx->tracked_fd = bpf_map__fd(ps->skel->maps.tracked_pids);

	if (ctx->filter) {
		for (i = 0; i < ctx->npids; i++) {
			err = track(ctx->tracked_fd, ctx->pids[i]);
			if (err) {
				signal__why(st, SIG_FAILED, "tracking pid %d: %s",
					    ctx->pids[i], strerror(-err));
				goto err_free;
			}
		}
		err = seed_descendants(ctx->tracked_fd);
		if (err) {
			signal__why(st, SIG_FAILED, "walking /proc for children: %s",
				    strerror(-err));
			goto err_free;
		}
	}
	if (ctx->check_only) {
		*state = ps;
		return 0;
	}
	ps->rb = ring_buffer__new(bpf_map__fd(ps->skel->maps.proc_events), on_record, ps, NULL);
	if (!ps->rb) {
		err = -errno;
		signal__why(st, SIG_FAILED, "ring buffer: %s", strerror(-err));
		goto err_free;
	}
	err = loop__add_ringbuf(ctx->loop, ps->rb);
	if (err)
		goto err_free;
	/* pidfds tell the loop the moment a target exits, without polling /proc. */
	for (i = 0; ctx->filter && i < ctx->npids && i < 64; i++) {
		int fd = (int)syscall(SYS_pidfd_open, ctx->pids[i], 0);

		ps->pidfds[i] = fd;
		if (fd >= 0 && loop__add_fd(ctx->loop, fd, on_pidfd, ps) == 0)
			ps->roots_alive++;
		else if (fd >= 0)
			close(fd);
	}
	ps->nroots = ctx->filter ? ctx->npids : 0;
	ctx->targets_left = ctx->filter ? (int)ps->roots_alive : 1;
	*state = ps;
	return 0;

err_free:
	ctx->tracked_fd = -1;
	proc_stop(ps);
	return err;
}

/* Under --pid: how many followed processes are still alive. */
static int count_alive(int fd)
{
	__u32 key, next, *prev = NULL;
	int alive = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (names__alive((int)key))
			alive++;
	}
	return alive;
}

static void proc_collect(void *state, uint64_t now_ns)
{
	struct proc_state *ps = state;

	(void)now_ns;
	if (!ps->ctx->filter)
		return;
	/* Roots first (cheap); once they are gone, descendants decide. */
	ps->ctx->targets_left = ps->roots_alive ? (int)ps->roots_alive :
				count_alive(ps->ctx->tracked_fd);
}

static void proc_counts(void *state, struct signal_counts *c)
{
	struct proc_state *ps = state;
	int fd = bpf_map__fd(ps->skel->maps.stats);
	uint64_t full = 0, drop = 0;

	signals__percpu_sum(fd, PROBE_PROC_STAT_TRACK_FULL, &full);
	signals__percpu_sum(fd, PROBE_PROC_STAT_RB_DROP, &drop);
	c->events = ps->exits + ps->forks;
	c->lost = full + drop;
}

const struct signal_ops proc_signal = {
	.name = "proc",
	.what = "process lifecycle: the --pid filter, forks and exits",
	.plan = proc_plan,
	.start = proc_start,
	.collect = proc_collect,
	.counts = proc_counts,
	.detach = proc_detach,
	.stop = proc_stop,
};
