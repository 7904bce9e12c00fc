/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * syscalls signal: reads the kernel's per (process, syscall) aggregates once
 * a second, turns them into deltas against the previous read, and writes
 * the store. Latency buckets are the kernel's coarse log-linear buckets
 * (include/probe/syscalls.h), recorded at their midpoints: the syscall
 * percentiles carry that bound (6.25 %), not the store histogram's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe/syscalls.h"	/* before the skeleton: its .bss uses the slot type */
#include "syscalls.skel.h"
#include "config.h"
#include "core/families.h"
#include "core/store.h"
#include "loader/detach.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/syscall_names.h"

/* Previous read of one kernel key, for deltas. */
struct prev {
	struct prev *next;
	uint64_t key;		/* (pid << 32 | nr), or errno key hash */
	uint64_t a[4];
	uint32_t buckets[PROBE_SC_BUCKETS];
	uint64_t seen;		/* collect round that last saw it */
};

#define PREV_BUCKETS 4096

struct sc_state {
	struct probe_ctx *ctx;
	int baseline;		/* reading what came before the run: no series written */
	struct syscalls_bpf *skel;
	/* the loaded program set: tp_btf, or classic tracepoints without it */
	struct bpf_program *p_enter, *p_exit, *p_switch;
	struct bpf_link *enter;		/* these two attached only while latency is measured */
	struct bpf_link *sched;
	struct bpf_link *exit;
	struct family *fam, *errfam;
	struct prev *prev[PREV_BUCKETS];
	uint64_t round;
	uint64_t calls;
	unsigned int ncpus;		/* possible CPUs: slots to clear a cache entry in */
	uint64_t period_start;		/* sampled: when the current period began */
	uint64_t attach_failures;	/* sampled periods left untimed */
	int latency;			/* enum cfg_latency */
};

static const char *const lat_names[] = { "exact", "sampled", "off" };

/* tp_btf where the kernel has it and sys_exit's pt_regs name the syscall */
static int use_btf(const struct probe_ctx *ctx)
{
#ifdef PROBE_SC_REGS_NR
	return ctx->feat->have[FEAT_TP_BTF];
#else
	(void)ctx;
	return 0;
#endif
}

static void sc_plan(const struct probe_ctx *ctx, struct signal_status *st)
{
	const struct probe_config *cfg = ctx->cfg;

	signal__hook(st, "%s raw_syscalls/sys_exit%s", use_btf(ctx) ? "tp_btf" : "tracepoint",
		     cfg->syscalls.latency == CFG_LAT_OFF ? "" : ", sys_enter, sched/sched_switch");
	if (cfg->syscalls.enabled == CFG_OFF) {
		signal__why(st, SIG_OFF, "signals.syscalls.enabled is false");
		return;
	}
	if (cfg->syscalls.enabled == CFG_AUTO && !ctx->filter) {
		signal__why(st, SIG_OFF, "host-wide raw_syscalls costs every process on the host "
			    "(~9%% of a busy server's throughput): on under --pid, or set "
			    "signals.syscalls.enabled=true");
		return;
	}
	if (!SIGNAL_NEEDS(ctx, st, FEAT_TRACEPOINT))
		return;
	signal__why(st, SIG_LIVE, "latency %s%s", lat_names[cfg->syscalls.latency],
		    ctx->filter ? "" : ", host-wide");
}

static void detach_enter(struct sc_state *s)
{
	s->skel->bss->sc_timing = 0;
	bpf_link__destroy(s->enter);
	bpf_link__destroy(s->sched);
	s->enter = NULL;
	s->sched = NULL;
}

/*
 * Latency on: sched_switch first, so no call starts unspilled. A sampled
 * period ignores start times from before it began (left in slots or the
 * spill map by an earlier period, whose calls may have ended untimed).
 */
static int attach_enter(struct sc_state *s)
{
	int err;

	if (s->enter)
		return 0;
	if (s->latency == CFG_LAT_SAMPLED)
		s->skel->bss->sc_on_since = loop__now_ns();
	s->sched = bpf_program__attach(s->p_switch);
	if (!s->sched) {
		err = -errno;
		goto err_detach;
	}
	s->skel->bss->sc_timing = 1;
	s->enter = bpf_program__attach(s->p_enter);
	if (!s->enter) {
		err = -errno;
		goto err_detach;
	}
	return 0;

err_detach:
	s->enter = NULL;
	detach_enter(s);
	return err;
}

static void sc_stop(void *state)
{
	struct sc_state *s = state;
	unsigned int i;

	if (!s)
		return;
	if (s->skel)
		detach_enter(s);
	bpf_link__destroy(s->exit);
	if (s->skel)
		detach__skeleton(s->skel->skeleton);
	syscalls_bpf__destroy(s->skel);
	for (i = 0; i < PREV_BUCKETS; i++) {
		struct prev *p = s->prev[i], *next;

		for (; p; p = next) {
			next = p->next;
			free(p);
		}
	}
	free(s);
}

/* Every counter cell starts free. */
static int cells_init(struct sc_state *s)
{
	int fd = bpf_map__fd(s->skel->maps.sc_free);
	__u32 cell;

	for (cell = 0; cell < PROBE_MAX_SYSCALL_KEYS; cell++)
		if (bpf_map_update_elem(fd, NULL, &cell, BPF_ANY))
			return -errno;
	return 0;
}

/*
 * A dead process's key: drop it from every CPU's cache first (so no exit
 * finds the cell through it), then from the index, and give the cell back
 * zeroed.
 */
static void cell_release(struct sc_state *s, const struct probe_sc_key *key, __u32 cell)
{
	static const struct probe_sc_val zero;
	__u64 tag = PROBE_SC_CACHE_TAG(key->pid, key->nr);
	unsigned int cpu;

	for (cpu = 0; cpu < s->ncpus && cpu < PROBE_SC_MAX_CPUS; cpu++) {
		__u64 *ent = &s->skel->bss->sc_slots[cpu].cache[key->nr & (PROBE_SC_CACHE - 1)];

		if (*ent >> 16 == tag)
			__atomic_store_n(ent, 0, __ATOMIC_RELAXED);
	}
	bpf_map_delete_elem(bpf_map__fd(s->skel->maps.sc_index), key);
	bpf_map_update_elem(bpf_map__fd(s->skel->maps.sc_cells), &cell, &zero, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(s->skel->maps.sc_free), NULL, &cell, BPF_ANY);
}

static int sc_start(struct probe_ctx *ctx, void **state, struct signal_status *st)
{
	struct sc_state *s = calloc(1, sizeof(*s));
	struct bpf_program *prog;
	int err;

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->latency = ctx->cfg->syscalls.latency;
	err = libbpf_num_possible_cpus();
	s->ncpus = err > 0 ? (unsigned int)err : PROBE_SC_MAX_CPUS;
	s->fam = families__register(ctx->store, FAM_SYSCALL, 0);
	s->errfam = families__register(ctx->store, FAM_SYSCALL_ERRNO, 0);
	if (!s->fam || !s->errfam) {
		err = -ENOMEM;
		goto err_free;
	}
	s->skel = syscalls_bpf__open();
	if (!s->skel) {
		err = -errno;
		signal__why(st, SIG_FAILED, "open: %s", strerror(-err));
		goto err_free;
	}
	if (use_btf(ctx)) {
#ifdef PROBE_SC_REGS_NR
		s->p_enter = s->skel->progs.sys_enter_btf;
		s->p_exit = s->skel->progs.sys_exit_btf;
		s->p_switch = s->skel->progs.sched_switch_btf;
#endif
	} else {
		s->p_enter = s->skel->progs.sys_enter_tp;
		s->p_exit = s->skel->progs.sys_exit_tp;
		s->p_switch = s->skel->progs.sched_switch_tp;
	}
	bpf_object__for_each_program(prog, s->skel->obj)
		bpf_program__set_autoload(prog, prog == s->p_enter || prog == s->p_exit ||
					  prog == s->p_switch);
	s->skel->rodata->filter_pids = ctx->filter;
	s->skel->rodata->self_pid = (__u32)ctx->self_pid;
	err = signal__load(s->skel->skeleton, s->skel->maps.tracked_pids, ctx, st, NULL);
	if (err)
		goto err_free;
	err = cells_init(s);
	if (err) {
		signal__why(st, SIG_FAILED, "filling the free-cell queue: %s", strerror(-err));
		goto err_free;
	}
	s->exit = bpf_program__attach(s->p_exit);
	if (!s->exit) {
		err = -errno;
		signal__why(st, SIG_FAILED, "attach sys_exit: %s", strerror(-err));
		goto err_free;
	}
	if (s->latency != CFG_LAT_OFF) {
		s->period_start = loop__now_ns();
		err = attach_enter(s);
		if (err) {
			signal__why(st, SIG_FAILED, "attach sys_enter/sched_switch: %s",
				    strerror(-err));
			goto err_free;
		}
	}
	*state = s;
	return 0;

err_free:
	sc_stop(s);
	return err;
}

static struct prev *prev_get(struct sc_state *s, uint64_t key)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ULL;
	struct prev **pp = &s->prev[h >> 52 & (PREV_BUCKETS - 1)], *p;

	for (p = *pp; p; p = p->next)
		if (p->key == key)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->key = key;
	p->next = *pp;
	*pp = p;
	return p;
}

/* Forget keys not seen this round: their kernel entries were deleted. */
static void prev_sweep(struct sc_state *s)
{
	unsigned int i;

	for (i = 0; i < PREV_BUCKETS; i++) {
		struct prev **pp = &s->prev[i];

		while (*pp) {
			struct prev *p = *pp;

			if (p->seen != s->round) {
				*pp = p->next;
				free(p);
			} else {
				pp = &p->next;
			}
		}
	}
}

/*
 * The kernel's buckets (6.25 %) go into the series' finer histogram: the
 * calls at their bucket's midpoint, except one call of the highest bucket
 * at its upper bound and one of the lowest at its lower bound. So the
 * reported max is never below the true max (the bucket's bound is all the
 * kernel knows: at most 6.25 % above), the min never above the true min,
 * and no percentile falls outside them.
 */
static void observe_buckets(struct series *se, uint64_t now, const __u32 *cur, const __u32 *old)
{
	int lo = -1, hi = -1, i;

	for (i = 0; i < PROBE_SC_BUCKETS; i++)
		if (cur[i] != old[i]) {
			if (lo < 0)
				lo = i;
			hi = i;
		}
	for (i = lo; lo >= 0 && i <= hi; i++) {
		uint32_t d = cur[i] - old[i];
		uint64_t lower = loglin_lower((unsigned int)i, PROBE_SC_SUB_BITS);
		uint64_t width = loglin_width((unsigned int)i, PROBE_SC_SUB_BITS);

		if (!d)
			continue;
		if (i == hi && d) {
			series__observe_n(se, now, lower + width - 1, 1);
			d--;
		}
		if (i == lo && d) {
			series__observe_n(se, now, lower, 1);
			d--;
		}
		if (d)
			series__observe_n(se, now, lower + width / 2, d);
	}
}

static void pid_label(char *buf, size_t len, uint32_t pid)
{
	snprintf(buf, len, "%u", pid);
}

static void collect_calls(struct sc_state *s, uint64_t now)
{
	int fd = bpf_map__fd(s->skel->maps.sc_index);
	int cells_fd = bpf_map__fd(s->skel->maps.sc_cells);
	struct probe_sc_key key, next, *prevk = NULL;
	struct probe_sc_val v;
	struct probe_sc_key dead[256];
	__u32 dead_cell[256], cell;
	struct prev *dead_prev[256];
	unsigned int ndead = 0, i;

	while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
		struct label l[3 + ATTRIB_NLABELS];
		struct series *se;
		struct prev *p;
		char pidbuf[16];
		uint64_t calls;	/* untimed + every bucket, as deltas */
		int alive;

		key = next;
		prevk = &key;
		/* Before the read: a process found dead here made its last call already. */
		alive = names__alive((int)key.pid);
		if (bpf_map_lookup_elem(fd, &key, &cell) ||
		    bpf_map_lookup_elem(cells_fd, &cell, &v))
			continue;	/* deleted meanwhile */
		p = prev_get(s, (uint64_t)key.pid << 32 | key.nr);
		if (!p)
			continue;
		p->seen = s->round;
		calls = v.untimed - p->a[0];
		for (i = 0; i < PROBE_SC_BUCKETS; i++)
			calls += (uint32_t)(v.buckets[i] - p->buckets[i]);
		if (calls && !s->baseline) {
			pid_label(pidbuf, sizeof(pidbuf), key.pid);
			l[0] = (struct label){ "pid", pidbuf };
			l[1] = (struct label){ "comm", names__get(s->ctx->names, (int)key.pid) };
			l[2] = (struct label){ "syscall", syscall_names__get(key.nr) };
			/* counted in the kernel by pid: attributed by the pid's cgroup */
			attrib__labels(s->ctx->attrib, 0, (int)key.pid, l + 3);
			se = family__series(s->fam, l, 3 + ATTRIB_NLABELS);
			if (se) {
				series__add(se, now, SYSCALL_CALLS, calls);
				series__add(se, now, SYSCALL_ERRORS, v.errors - p->a[1]);
				observe_buckets(se, now, v.buckets, p->buckets);
			}
			s->calls += calls;
		}
		p->a[0] = v.untimed;
		p->a[1] = v.errors;
		memcpy(p->buckets, v.buckets, sizeof(v.buckets));
		/* The process is gone and its last calls are read: free the key. */
		if (!alive && ndead < 256) {
			dead[ndead] = key;
			dead_cell[ndead] = cell;
			dead_prev[ndead++] = p;
		}
	}
	for (i = 0; i < ndead; i++) {
		cell_release(s, &dead[i], dead_cell[i]);
		/* a reused pid's key starts again from a zeroed cell */
		memset(dead_prev[i]->a, 0, sizeof(dead_prev[i]->a));
		memset(dead_prev[i]->buckets, 0, sizeof(dead_prev[i]->buckets));
	}
}

static void collect_errnos(struct sc_state *s, uint64_t now, int fd);

/*
 * The run starts: a call that began earlier (in flight while the other
 * signals loaded, or before the probe existed) is counted but not timed,
 * and calls that ended before it are left out (read as a baseline), so no
 * reported time exceeds the time the run covers.
 */
static void sc_ready(void *state, uint64_t now)
{
	struct sc_state *s = state;

	if (!s->skel)
		return;
	if (s->skel->bss->sc_on_since < now)
		s->skel->bss->sc_on_since = now;
	s->baseline = 1;
	collect_calls(s, now);
	collect_errnos(s, now, bpf_map__fd(s->skel->maps.sc_errnos));
	s->baseline = 0;
}

static void collect_errnos(struct sc_state *s, uint64_t now, int fd)
{
	struct probe_sc_err_key key, next, *prevk = NULL;
	struct probe_sc_err_key dead[256];
	unsigned int ndead = 0, i;
	uint64_t v;

	while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
		char pidbuf[16], errbuf[16];
		struct label l[4 + ATTRIB_NLABELS];
		struct prev *p;
		int alive;

		key = next;
		prevk = &key;
		alive = names__alive((int)key.pid);
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		/* errno keys live in their own id space (top bit set); pid < 2^22,
		 * nr < 2^10 and errno < 2^12 pack exactly */
		p = prev_get(s, (1ULL << 63) | ((uint64_t)key.pid << 22 | key.nr) << 12 |
			     ((uint32_t)key.err & 0xfff));
		if (!p)
			continue;
		p->seen = s->round;
		if (v != p->a[0]) {
			struct series *se;

			pid_label(pidbuf, sizeof(pidbuf), key.pid);
			snprintf(errbuf, sizeof(errbuf), "%d", key.err);
			l[0] = (struct label){ "pid", pidbuf };
			l[1] = (struct label){ "comm", names__get(s->ctx->names, (int)key.pid) };
			l[2] = (struct label){ "syscall", syscall_names__get(key.nr) };
			l[3] = (struct label){ "errno", errbuf };
			attrib__labels(s->ctx->attrib, 0, (int)key.pid, l + 4);
			se = s->baseline ? NULL : family__series(s->errfam, l, 4 + ATTRIB_NLABELS);
			if (se)
				series__add(se, now, SYSCALL_ERRNO_CALLS, v - p->a[0]);
			p->a[0] = v;
		}
		if (!alive && ndead < 256)
			dead[ndead++] = key;
	}
	for (i = 0; i < ndead; i++)
		bpf_map_delete_elem(fd, &dead[i]);
}

/*
 * sampled: latency on for sample_on_s out of every sample_period_s, timed
 * from the start of each period (collect runs about once a second, so a
 * period and its on-time are that precise).
 */
static void duty_cycle(struct sc_state *s, uint64_t now)
{
	const struct probe_config *cfg = s->ctx->cfg;
	uint64_t since = now - s->period_start;

	if (!s->enter && since >= cfg->syscalls.sample_period_s * 1000000000ULL) {
		int err;

		s->period_start = now;
		err = attach_enter(s);
		/* latency stays off this period; said once, not every period */
		if (err && !s->attach_failures++)
			fprintf(stderr, "probe: syscalls: sampled latency: attaching sys_enter: %s\n",
				strerror(-err));
	} else if (s->enter && since >= cfg->syscalls.sample_on_s * 1000000000ULL) {
		detach_enter(s);
	}
}

static void sc_collect(void *state, uint64_t now)
{
	struct sc_state *s = state;

	s->round++;
	if (s->latency == CFG_LAT_SAMPLED)
		duty_cycle(s, now);
	collect_calls(s, now);
	collect_errnos(s, now, bpf_map__fd(s->skel->maps.sc_errnos));
	prev_sweep(s);
}

static void sc_counts(void *state, struct signal_counts *c)
{
	struct sc_state *s = state;
	int fd = bpf_map__fd(s->skel->maps.stats);
	uint64_t v;
	unsigned int i;

	c->events = s->calls;
	c->lost = 0;
	for (i = 0; i < PROBE_SC_STAT_MAX; i++)
		if (!signals__percpu_sum(fd, i, &v))
			c->lost += v;
}

const struct signal_ops syscalls_signal = {
	.name = "syscalls",
	.what = "per process and syscall: calls, errors by errno, latency",
	.plan = sc_plan,
	.start = sc_start,
	.collect = sc_collect,
	.ready = sc_ready,
	.counts = sc_counts,
	.stop = sc_stop,
};
