/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * memgrowth signal: which processes grow without bound (tier 1, always
 * on), and which code the growth comes from (tier 2, for chosen ones).
 *
 * Once a second it reads every process's latest memory counters from the
 * kernel (include/probe/mem.h), feeds the private memory (anonymous
 * resident + swapped) to a trend detector per process instance, and
 * writes three families:
 *
 *   mem_growth {pid, comm}       every process: rss_bytes, rss_anon_bytes,
 *                                heap_bytes, anon_bytes, growth_bytes_per_s,
 *                                fit, suspect (1/0), alive (0 once it exited)
 *   mem_leak {pid, start, comm}  the alert input, for suspects and tier-2
 *                                processes: growth rate, outstanding bytes,
 *                                growth duration, bytes sampled
 *   mem_stack {pid, start, comm, kind, stack}
 *                                tier 2: bytes and samples per stack
 *
 * `start` is the process start time in clock ticks (/proc/PID/stat field
 * 22): with pid it names one process instance, so a reused pid never
 * inherits stacks. Other signals read `suspect` from mem_growth (the store
 * is the bus); nothing here calls them.
 *
 * Tier 2 runs for at most tier2_max_pids processes: --pid targets and
 * their descendants (tier2 "auto"), then suspects by growth rate, each
 * kept tier2_hold_s after it stops being suspect. The kernel samples only
 * processes in its gate map, checked against the start time.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "memgrowth.skel.h"
#include "probe/mem.h"
#include "config.h"
#include "core/families.h"
#include "core/store.h"
#include "core/trend.h"
#include "loader/detach.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/symbolize.h"
#include "signals/mem_stacks.h"

#define MPROC_BUCKETS	4096
#define TREND_SEGMENTS	4
#define TREND_COVERAGE	0.9

struct mproc {
	struct mproc *next;
	uint32_t pid;
	uint64_t start_ns;		/* identity, with pid */
	uint64_t start_ticks;
	uint64_t execs;
	uint64_t round;			/* collect round that last saw it */
	char comm[PROBE_COMM_LEN + 1];
	char start[24];
	struct probe_mem_proc v;	/* the last value read */
	struct trend *trend;
	struct trend_result tr;
	double value;			/* private bytes judged: anon resident + swapped */
	int root;			/* a --pid target */
	int gated;			/* in the kernel's gate map */
	int leak_written;		/* has a mem_leak series to close */
	uint64_t hold_until;		/* tier 2 kept until then (ns) */
	struct mem_stacks *stacks;
	/*
	 * Its container and pod labels (proc/attrib.h), kept here so the
	 * series of an exited process close under the labels they had. Read
	 * when first seen, after each exec (a container's first program runs
	 * after runc moved it into the container's cgroup) and when pod names
	 * change (generation).
	 */
	struct label attr[ATTRIB_NLABELS];
	char attr_val[ATTRIB_NLABELS][K8S_NAME_LEN];
	uint64_t attr_gen;
};

struct mg_state {
	struct probe_ctx *ctx;
	const struct probe_config *cfg;
	struct memgrowth_bpf *skel;
	struct bpf_link *links[8];
	unsigned int nlinks;
	struct bpf_link *fault;		/* attached while some process is gated */
	struct ring_buffer *rb;
	struct family *growth, *leak, *stackfam;
	struct symbolizer *sym;
	struct trend_opts topts;
	struct mproc *procs[MPROC_BUCKETS];
	uint64_t round;
	uint64_t ns_per_tick;
	uint64_t events, samples, lost;	/* lost: samples userspace could not attribute */
	int fault_err;
};

static const char *const tier2_names[] = { "auto", "suspects", "off" };

/* Tier 2's BPF half reads x86-64 registers (bpf/memgrowth.bpf.c): elsewhere it is built empty. */
#if defined(__x86_64__)
#define MG_TIER2_ARCH	1
#else
#define MG_TIER2_ARCH	0
#endif

/*
 * Someone watching a --pid wants an answer within a minute: there the
 * horizon is the shorter of horizon_s and pid_horizon_s.
 */
static double horizon_of(const struct probe_ctx *ctx)
{
	const struct probe_config *cfg = ctx->cfg;

	if (ctx->filter && cfg->memgrowth.pid_horizon_s < cfg->memgrowth.horizon_s)
		return cfg->memgrowth.pid_horizon_s;
	return cfg->memgrowth.horizon_s;
}

static void mg_plan(const struct probe_ctx *ctx, struct signal_status *st)
{
	const struct probe_config *cfg = ctx->cfg;

	if (ctx->feat->have[FEAT_TP_BTF])
		signal__hook(st, "tp_btf rss_stat, sched/sched_process_{exec,exit}; raw_tp "
			     "page_fault_user; tp syscalls/sys_exit_{brk,mmap,munmap,mremap}");
	else
		signal__hook(st, "raw_tp rss_stat, page_fault_user; tp syscalls/sys_exit_{brk,"
			     "mmap,munmap,mremap}, sched/sched_process_{exec,exit}");
	if (cfg->memgrowth.enabled == CFG_OFF) {
		signal__why(st, SIG_OFF, "signals.memgrowth.enabled is false");
		return;
	}
	if (!SIGNAL_NEEDS(ctx, st, FEAT_RAW_TP, FEAT_TRACEPOINT, FEAT_RINGBUF))
		return;
	signal__why(st, SIG_LIVE, "%s, horizon %gs; tier 2 (stacks): %s",
		    ctx->filter ? "followed processes" : "host-wide", horizon_of(ctx),
		    MG_TIER2_ARCH ? tier2_names[cfg->memgrowth.tier2] :
		    "unavailable on this architecture (x86-64 registers and page-fault codes)");
}

/* --- process table --- */

static struct mproc **bucket(struct mg_state *s, uint32_t pid)
{
	return &s->procs[(pid * 2654435761u) % MPROC_BUCKETS];
}

static struct mproc *mproc_find(struct mg_state *s, uint32_t pid)
{
	struct mproc *p;

	for (p = *bucket(s, pid); p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static struct mproc *mproc_new(struct mg_state *s, uint32_t pid, const struct probe_mem_proc *v)
{
	struct mproc *p = calloc(1, sizeof(*p)), **b = bucket(s, pid);
	unsigned int i;

	if (!p)
		return NULL;
	p->trend = trend__new(&s->topts);
	if (!p->trend) {
		free(p);
		return NULL;
	}
	p->pid = pid;
	p->start_ns = v->start_ns;
	p->start_ticks = v->start_ns / s->ns_per_tick;
	p->execs = v->execs;
	snprintf(p->start, sizeof(p->start), "%" PRIu64, p->start_ticks);
	for (i = 0; i < s->ctx->npids; i++)
		if ((uint32_t)s->ctx->pids[i] == pid)
			p->root = 1;
	p->next = *b;
	*b = p;
	return p;
}

static void pid_str(char *buf, size_t len, uint32_t pid)
{
	snprintf(buf, len, "%u", pid);
}

static void mproc_attrib(struct mg_state *s, struct mproc *p)
{
	unsigned int i;

	p->attr_gen = attrib__generation(s->ctx->attrib);
	attrib__labels(s->ctx->attrib, 0, (int)p->pid, p->attr);
	for (i = 0; i < ATTRIB_NLABELS; i++) {
		snprintf(p->attr_val[i], sizeof(p->attr_val[i]), "%s", p->attr[i].value);
		p->attr[i].value = p->attr_val[i];
	}
}

static void write_growth(struct mg_state *s, struct mproc *p, uint64_t now, int alive)
{
	char pid[16];
	struct label l[2 + ATTRIB_NLABELS] = { { "pid", pid }, { "comm", p->comm } };
	const struct trend_result *tr = &p->tr;
	struct series *se;

	pid_str(pid, sizeof(pid), p->pid);
	memcpy(l + 2, p->attr, sizeof(p->attr));
	se = family__series(s->growth, l, 2 + ATTRIB_NLABELS);
	if (!se)
		return;
	series__set_gauge(se, now, MG_RSS, (double)(p->v.rss[PROBE_MEM_RSS_FILE] +
		p->v.rss[PROBE_MEM_RSS_ANON] + p->v.rss[PROBE_MEM_RSS_SHMEM]));
	series__set_gauge(se, now, MG_RSS_ANON, (double)p->v.rss[PROBE_MEM_RSS_ANON]);
	series__set_gauge(se, now, MG_HEAP, (double)p->v.heap_bytes);
	series__set_gauge(se, now, MG_ANON, p->v.data_bytes > p->v.heap_bytes ?
			  (double)(p->v.data_bytes - p->v.heap_bytes) : 0);
	series__set_gauge(se, now, MG_RATE, tr->slope);
	series__set_gauge(se, now, MG_FIT, tr->fit);
	series__set_gauge(se, now, MG_SUSPECT, tr->suspect);
	series__set_gauge(se, now, MG_ALIVE, alive);
}

static void write_leak(struct mg_state *s, struct mproc *p, uint64_t now)
{
	char pid[16];
	struct label l[3 + ATTRIB_NLABELS] = { { "pid", pid }, { "start", p->start },
					       { "comm", p->comm } };
	const struct trend_result *tr = &p->tr;
	struct series *se;

	if (!tr->suspect && !p->gated && !p->leak_written)
		return;
	pid_str(pid, sizeof(pid), p->pid);
	memcpy(l + 3, p->attr, sizeof(p->attr));
	se = family__series(s->leak, l, 3 + ATTRIB_NLABELS);
	if (!se)
		return;
	p->leak_written = tr->suspect || p->gated;
	series__set_gauge(se, now, ML_RATE, tr->slope);
	series__set_gauge(se, now, ML_OUTSTANDING,
			  tr->suspect ? fmax(p->value - tr->baseline, 0) : 0);
	series__set_gauge(se, now, ML_GROWTH_S, tr->suspect ? fmax(now / 1e9 - tr->since_s, 0) : 0);
	series__set_gauge(se, now, ML_SUSPECT, tr->suspect);
	series__set_gauge(se, now, ML_TIER2, p->gated);
	series__set_gauge(se, now, ML_SAMPLED, p->stacks ? (double)mem_stacks__bytes(p->stacks) : 0);
	series__set_gauge(se, now, ML_FIT, tr->fit);
	series__set_gauge(se, now, ML_RSS, (double)(p->v.rss[PROBE_MEM_RSS_FILE] +
		p->v.rss[PROBE_MEM_RSS_ANON] + p->v.rss[PROBE_MEM_RSS_SHMEM]));
}

static void gate_set(struct mg_state *s, struct mproc *p, int on)
{
	int fd = bpf_map__fd(s->skel->maps.mem_gate);
	__u32 key = p->pid;

	if (on) {
		/* Marks at today's sizes: only growth from now on is sampled. */
		struct probe_mem_gate g = {
			.start_ns = p->start_ns,
			.hwm = {
				[PROBE_MEM_KIND_BRK] = p->v.heap_bytes,
				[PROBE_MEM_KIND_MMAP] = p->v.data_bytes > p->v.heap_bytes ?
					p->v.data_bytes - p->v.heap_bytes : 0,
				[PROBE_MEM_KIND_FAULT] = p->v.rss[PROBE_MEM_RSS_ANON],
			},
		};

		if (!p->stacks)
			p->stacks = mem_stacks__new((int)p->pid, p->start_ticks);
		if (!p->stacks || bpf_map_update_elem(fd, &key, &g, BPF_ANY))
			return;		/* ENOMEM / map full: retried next round */
		p->gated = 1;
	} else {
		bpf_map_delete_elem(fd, &key);
		p->gated = 0;
	}
}

/* The process instance is gone (exit, or its pid now names another one). */
static void mproc_retire(struct mg_state *s, struct mproc *p, uint64_t now)
{
	struct mproc **pp = bucket(s, p->pid);

	if (p->gated)
		gate_set(s, p, 0);
	/* Close its series: nothing of it is suspect any more. */
	memset(&p->tr, 0, sizeof(p->tr));
	write_growth(s, p, now, 0);
	write_leak(s, p, now);
	if (p->stacks)
		mem_stacks__flush(p->stacks, s->stackfam, p->comm, p->attr, now);
	if (s->sym)
		symbolizer__forget(s->sym, (int)p->pid);
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	mem_stacks__free(p->stacks);
	trend__free(p->trend);
	free(p);
}

/* --- tier 2 --- */

static int on_sample(void *arg, void *data, size_t len)
{
	struct mg_state *s = arg;
	const struct probe_mem_sample *r = data;
	struct mproc *p;

	if (len < sizeof(*r) || r->hdr.type != PROBE_REC_MEM_SAMPLE ||
	    r->hdr.size != sizeof(*r)) {
		s->lost++;
		return 0;
	}
	p = mproc_find(s, r->hdr.pid);
	/* Not (or no longer) sampled: a record that raced the gate change. */
	if (!p || p->start_ns != r->start_ns || !p->stacks) {
		s->lost++;
		return 0;
	}
	if (mem_stacks__add(p->stacks, s->sym, r, loop__now_ns()))
		s->lost++;
	else
		s->samples++;
	return 0;
}

struct cand {
	struct mproc *p;
	int prio;
};

static int by_prio(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->prio != y->prio)
		return y->prio - x->prio;
	return (x->p->tr.slope < y->p->tr.slope) - (x->p->tr.slope > y->p->tr.slope);
}

/*
 * Choose who is sampled: --pid targets (4), suspects (3), recent suspects
 * still held (2), other followed processes (1); the top tier2_max_pids.
 */
static void tier2_select(struct mg_state *s, uint64_t now)
{
	const struct probe_config *cfg = s->cfg;
	unsigned int i, n = 0, cap = 0, max = cfg->memgrowth.tier2_max_pids, chosen = 0;
	struct cand *c = NULL;
	struct mproc *p;
	int any;

	for (i = 0; i < MPROC_BUCKETS; i++)
		for (p = s->procs[i]; p; p = p->next)
			cap++;
	if (MG_TIER2_ARCH && cfg->memgrowth.tier2 != CFG_T2_OFF && cap)
		c = calloc(cap, sizeof(*c));
	for (i = 0; c && i < MPROC_BUCKETS; i++)
		for (p = s->procs[i]; p; p = p->next) {
			int prio = 0;

			if (cfg->memgrowth.tier2 == CFG_T2_AUTO && s->ctx->filter)
				prio = p->root ? 4 : 1;
			if (p->tr.suspect) {
				p->hold_until = now + cfg->memgrowth.tier2_hold_s * 1000000000ULL;
				prio = prio > 3 ? prio : 3;
			} else if (now < p->hold_until) {
				prio = prio > 2 ? prio : 2;
			}
			if (prio)
				c[n++] = (struct cand){ p, prio };
		}
	if (n)
		qsort(c, n, sizeof(*c), by_prio);
	/* Ungate first, so the gate map has room for the newly chosen. */
	for (i = max < n ? max : n; i < n; i++)
		if (c[i].p->gated)
			gate_set(s, c[i].p, 0);
	for (i = 0; i < MPROC_BUCKETS; i++)
		for (p = s->procs[i]; p; p = p->next) {
			unsigned int k;
			int want = 0;

			for (k = 0; k < n && k < max; k++)
				want |= c[k].p == p;
			if (!want && p->gated)
				gate_set(s, p, 0);
		}
	for (i = 0; i < n && i < max; i++) {
		if (!c[i].p->gated)
			gate_set(s, c[i].p, 1);
		chosen += c[i].p->gated;
	}
	free(c);

	any = chosen > 0;
	if (any && !s->fault) {
		s->fault = bpf_program__attach(s->skel->progs.page_fault_user);
		if (!s->fault)
			s->fault_err = -errno;	/* brk/mmap samples still come */
	} else if (!any && s->fault) {
		bpf_link__destroy(s->fault);
		s->fault = NULL;
	}
}

/* --- collect --- */

static void mg_collect(void *state, uint64_t now)
{
	struct mg_state *s = state;
	int fd = bpf_map__fd(s->skel->maps.mem_procs);
	__u32 key, next, *prevk = NULL;
	struct probe_mem_proc v;
	unsigned int i;

	s->round++;
	while (bpf_map_get_next_key(fd, prevk, &next) == 0) {
		uint64_t before, after;
		struct mproc *p;

		key = next;
		prevk = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;	/* deleted meanwhile: the process exited */
		p = mproc_find(s, key);
		if (p && p->start_ns != v.start_ns) {
			mproc_retire(s, p, now);	/* the pid was reused */
			p = NULL;
		}
		if (!p) {
			p = mproc_new(s, key, &v);
			if (p)
				mproc_attrib(s, p);
		}
		if (!p || p->round == s->round)
			continue;
		if (p->attr_gen != attrib__generation(s->ctx->attrib))
			mproc_attrib(s, p);
		if (v.execs != p->execs) {
			/* A new program in the same process: its memory starts over. */
			trend__reset(p->trend);
			if (p->stacks)
				mem_stacks__flush(p->stacks, s->stackfam, p->comm, p->attr, now);
			mem_stacks__free(p->stacks);
			p->stacks = NULL;
			if (p->gated)
				gate_set(s, p, 0);
			p->execs = v.execs;
			attrib__forget_pid(s->ctx->attrib, (int)p->pid);
			mproc_attrib(s, p);
		}
		before = p->v.rss_events + p->v.vm_events;
		after = v.rss_events + v.vm_events;
		s->events += after >= before ? after - before : after;
		p->v = v;
		p->round = s->round;
		memcpy(p->comm, v.comm, PROBE_COMM_LEN);
		p->comm[PROBE_COMM_LEN] = 0;
		if (!p->comm[0])
			snprintf(p->comm, sizeof(p->comm), "%s",
				 names__get(s->ctx->names, (int)key));
		p->value = (double)(v.rss[PROBE_MEM_RSS_ANON] + v.rss[PROBE_MEM_RSS_SWAP]);
		trend__add(p->trend, now / 1e9, p->value);
		trend__eval(p->trend, &p->tr);
		write_growth(s, p, now, 1);
	}
	/* Not in the map any more: exited (the kernel deletes at group exit). */
	for (i = 0; i < MPROC_BUCKETS; i++) {
		struct mproc *p = s->procs[i], *nx;

		for (; p; p = nx) {
			nx = p->next;
			if (p->round != s->round)
				mproc_retire(s, p, now);
		}
	}
	tier2_select(s, now);
	for (i = 0; i < MPROC_BUCKETS; i++) {
		struct mproc *p;

		for (p = s->procs[i]; p; p = p->next) {
			if (p->stacks)
				mem_stacks__flush(p->stacks, s->stackfam, p->comm, p->attr, now);
			write_leak(s, p, now);
		}
	}
}

static void mg_counts(void *state, struct signal_counts *c)
{
	struct mg_state *s = state;
	int fd = bpf_map__fd(s->skel->maps.stats);
	static const unsigned int losses[] = {
		PROBE_MEM_STAT_PROCS_FULL, PROBE_MEM_STAT_RB_DROP, PROBE_MEM_STAT_STACK_SHORT,
	};
	uint64_t v;
	unsigned int i;

	c->events = s->events + s->samples;
	c->lost = s->lost;
	/* NO_OWNER is not a loss: an mm with no owner is being torn down. */
	for (i = 0; i < sizeof(losses) / sizeof(losses[0]); i++)
		if (!signals__percpu_sum(fd, losses[i], &v))
			c->lost += v;
}

static void mg_stop(void *state)
{
	struct mg_state *s = state;
	unsigned int i;

	if (!s)
		return;
	bpf_link__destroy(s->fault);
	detach__links(s->links, s->nlinks);
	ring_buffer__free(s->rb);
	if (s->skel)
		detach__skeleton(s->skel->skeleton);
	memgrowth_bpf__destroy(s->skel);
	for (i = 0; i < MPROC_BUCKETS; i++) {
		struct mproc *p = s->procs[i], *nx;

		for (; p; p = nx) {
			nx = p->next;
			mem_stacks__free(p->stacks);
			trend__free(p->trend);
			free(p);
		}
	}
	symbolizer__free(s->sym);
	free(s);
}

static unsigned int log2u(unsigned long v)
{
	unsigned int r = 0;

	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

static int mg_start(struct probe_ctx *ctx, void **state, struct signal_status *st)
{
	const struct probe_config *cfg = ctx->cfg;
	struct mg_state *s = calloc(1, sizeof(*s));
	struct bpf_program *prog;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	int err;

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->cfg = cfg;
	s->ns_per_tick = tck > 0 ? 1000000000ULL / (uint64_t)tck : 10000000ULL;
	s->topts = (struct trend_opts){
		.horizon_s = horizon_of(ctx),
		.min_rate = cfg->memgrowth.min_rate_bytes_s,
		.min_growth = cfg->memgrowth.min_growth_bytes,
		.min_fit = cfg->memgrowth.min_fit,
		.segments = TREND_SEGMENTS,
		.coverage = TREND_COVERAGE,
	};
	s->growth = families__register(ctx->store, FAM_MEM_GROWTH, 0);
	s->leak = families__register(ctx->store, FAM_MEM_LEAK, 0);
	s->stackfam = families__register(ctx->store, FAM_MEM_STACK, 0);
	if (!s->growth || !s->leak || !s->stackfam) {
		err = -ENOMEM;
		goto err_free;
	}
	s->skel = memgrowth_bpf__open();
	if (!s->skel) {
		err = -errno;
		signal__why(st, SIG_FAILED, "open: %s", strerror(-err));
		goto err_free;
	}
	s->skel->rodata->filter_pids = ctx->filter;
	s->skel->rodata->self_pid = (__u32)ctx->self_pid;
	s->skel->rodata->page_shift = log2u(page > 0 ? (unsigned long)page : 4096);
	s->skel->rodata->sample_bytes = cfg->memgrowth.sample_bytes;
	/* One rss_stat program loads: typed loads where tp_btf works. */
	signal__btf_or_tp(ctx, s->skel->progs.rss_stat_btf, s->skel->progs.rss_stat_raw, 1);
	signal__btf_or_tp(ctx, s->skel->progs.sched_process_exec_btf,
			  s->skel->progs.sched_process_exec, 1);
	signal__btf_or_tp(ctx, s->skel->progs.sched_process_exit_btf,
			  s->skel->progs.sched_process_exit, 1);
	err = signal__load(s->skel->skeleton, s->skel->maps.tracked_pids, ctx, st, NULL);
	if (err)
		goto err_free;
	/* Everything but page_fault_user, which follows the gate map. */
	bpf_object__for_each_program(prog, s->skel->obj) {
		if (prog == s->skel->progs.page_fault_user || !bpf_program__autoload(prog))
			continue;
		if (s->nlinks == sizeof(s->links) / sizeof(s->links[0])) {
			err = -E2BIG;
			signal__why(st, SIG_FAILED, "more programs than link slots");
			goto err_free;
		}
		s->links[s->nlinks] = bpf_program__attach(prog);
		if (!s->links[s->nlinks]) {
			err = -errno;
			signal__why(st, SIG_FAILED, "attach %s: %s", bpf_program__name(prog),
				    strerror(-err));
			goto err_free;
		}
		s->nlinks++;
	}
	if (!ctx->check_only) {
		s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.mem_samples), on_sample, s,
					 NULL);
		if (!s->rb) {
			err = -errno;
			signal__why(st, SIG_FAILED, "ring buffer: %s", strerror(-err));
			goto err_free;
		}
		err = loop__add_ringbuf(ctx->loop, s->rb);
		if (err) {
			signal__why(st, SIG_FAILED, "ring buffer: %s", strerror(-err));
			goto err_free;
		}
		/* Without it, stacks stay addresses (module+offset needs it too). */
		s->sym = symbolizer__new();
	}
	*state = s;
	return 0;

err_free:
	mg_stop(s);
	return err;
}

const struct signal_ops memgrowth_signal = {
	.name = "memgrowth",
	.what = "memory growth per process (trend, suspects) and where it grows (stacks)",
	.plan = mg_plan,
	.start = mg_start,
	.collect = mg_collect,
	.counts = mg_counts,
	.stop = mg_stop,
};
