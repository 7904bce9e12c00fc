/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "loader/detach.h"
#include "loader/features.h"
#include "loader/signals.h"
#include "loader/bpflog.h"
#include "core/families.h"
#include "core/store.h"

extern const struct signal_ops proc_signal;
extern const struct signal_ops syscalls_signal;
extern const struct signal_ops http_signal;
extern const struct signal_ops conn_signal;
extern const struct signal_ops memgrowth_signal;
extern const struct signal_ops alloc_signal;

/* Order matters: proc creates the pid filter map the others reuse. */
static const struct signal_ops *const table[] = {
	&proc_signal,
	&syscalls_signal,
	&http_signal,
	&conn_signal,
	&memgrowth_signal,
	&alloc_signal,	/* after memgrowth: reads its suspects from the store */
};

#define NSIGNALS (sizeof(table) / sizeof(table[0]))

struct signals {
	struct probe_ctx *ctx;
	struct family *health;
	struct signal_status st[NSIGNALS];
	void *state[NSIGNALS];
	struct signal_counts last[NSIGNALS];
};

const char *signal__state_name(enum signal_state s)
{
	switch (s) {
	case SIG_LIVE: return "live";
	case SIG_OFF: return "off";
	case SIG_UNAVAILABLE: return "unavailable";
	case SIG_FAILED: return "failed";
	}
	return "?";
}

void signal__why(struct signal_status *st, enum signal_state s, const char *fmt, ...)
{
	va_list ap;

	st->state = s;
	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
}

int signal__needs(const struct probe_ctx *ctx, struct signal_status *st, const enum feature *f,
		  unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!ctx->feat->have[f[i]]) {
			signal__why(st, SIG_UNAVAILABLE, "%s", ctx->feat->why[f[i]]);
			return 0;
		}
	return 1;
}

void signal__hook(struct signal_status *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->hook, sizeof(st->hook), fmt, ap);
	va_end(ap);
}

void signal__one_of(struct bpf_program *a, struct bpf_program *b, int use_a)
{
	bpf_program__set_autoload(a, use_a);
	bpf_program__set_autoload(b, !use_a);
}

void signal__btf_or_tp(const struct probe_ctx *ctx, struct bpf_program *btf,
		       struct bpf_program *tp, int on)
{
	int use_btf = ctx->feat->have[FEAT_TP_BTF];

	bpf_program__set_autoload(btf, on && use_btf);
	bpf_program__set_autoload(tp, on && !use_btf);
}

int signal__load(struct bpf_object_skeleton *skel, struct bpf_map *tracked,
		 const struct probe_ctx *ctx, struct signal_status *st, const char *hint)
{
	int err;

	if (ctx->tracked_fd >= 0) {
		err = bpf_map__reuse_fd(tracked, ctx->tracked_fd);
		if (err) {
			signal__why(st, SIG_FAILED, "sharing the pid filter: %s", strerror(-err));
			return err;
		}
	}
	bpflog__begin();
	err = bpf_object__load_skeleton(skel);
	if (err) {
		char why[SIGNAL_WHY_LEN];

		/* The kernel's own words win; a caller's hint only stands in for them. */
		if (!bpflog__reason(why, sizeof(why)))
			signal__why(st, SIG_FAILED, "load: %s: %s", strerror(-err), why);
		else
			signal__why(st, SIG_FAILED, "load: %s%s%s", strerror(-err),
				    hint ? " " : "", hint ? hint : "");
	}
	return err;
}

int signals__percpu_sum(int map_fd, uint32_t idx, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t *vals;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &idx, vals)) {
		int err = -errno;

		free(vals);
		return err;
	}
	*out = 0;
	for (i = 0; i < ncpu; i++)
		*out += vals[i];
	free(vals);
	return 0;
}

struct signals *signals__start(struct probe_ctx *ctx)
{
	struct signals *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		return NULL;
	s->ctx = ctx;
	s->health = families__register(ctx->store, FAM_PROBE_SIGNAL, 0);
	for (i = 0; i < NSIGNALS; i++) {
		struct signal_status *st = &s->st[i];

		table[i]->plan(ctx, st);
		if (st->state != SIG_LIVE)
			continue;
		if (table[i]->start(ctx, &s->state[i], st)) {
			if (st->state == SIG_LIVE)
				signal__why(st, SIG_FAILED, "start failed");
			s->state[i] = NULL;
		}
	}
	return s;
}

void signals__ready(struct signals *s, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < NSIGNALS; i++)
		if (s->state[i] && table[i]->ready)
			table[i]->ready(s->state[i], now_ns);
}

void signals__collect(struct signals *s, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < NSIGNALS; i++) {
		struct signal_counts c = { 0, 0 };
		struct label l = { "signal", table[i]->name };
		struct series *se = s->health ? family__series(s->health, &l, 1) : NULL;

		/* every signal has a series, so "not live" is a 0, not an absence */
		if (se)
			series__set_gauge(se, now_ns, PROBE_SIGNAL_LIVE,
					  s->state[i] && s->st[i].state == SIG_LIVE);
		if (!s->state[i])
			continue;
		if (table[i]->collect)
			table[i]->collect(s->state[i], now_ns);
		table[i]->counts(s->state[i], &c);
		if (se) {
			series__add(se, now_ns, PROBE_SIGNAL_EVENTS, c.events - s->last[i].events);
			series__add(se, now_ns, PROBE_SIGNAL_LOST, c.lost - s->last[i].lost);
		}
		s->last[i] = c;
	}
}

struct stop_job {
	void (*stop)(void *state);
	void *state;
	uint64_t began, ended;	/* CLOCK_MONOTONIC ns, for -v */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void stop_one(void *p)
{
	struct stop_job *j = p;

	j->began = mono_ns();
	if (j->state)
		j->stop(j->state);
	j->ended = mono_ns();
}

void signals__stop(struct signals *s)
{
	struct stop_job stops[NSIGNALS];
	void *jobs[NSIGNALS];
	uint64_t t0 = mono_ns();
	size_t i;

	if (!s)
		return;
	/*
	 * Every signal but proc stops at once (their link releases wait for
	 * kernel grace periods, which then overlap; tracepoint detaches do
	 * not, the kernel holds its event mutex across the wait), and proc's
	 * links are released beside them; proc's stop (its map, the pid
	 * filter the others share) goes last.
	 */
	for (i = 1; i < NSIGNALS; i++)
		stops[i - 1] = (struct stop_job){ table[i]->stop, s->state[i], 0, 0 };
	stops[NSIGNALS - 1] = (struct stop_job){ table[0]->detach, s->state[0], 0, 0 };
	for (i = 0; i < NSIGNALS; i++)
		jobs[i] = &stops[i];
	detach__run(stop_one, jobs, table[0]->detach ? NSIGNALS : NSIGNALS - 1);
	stops[NSIGNALS - 1].began = mono_ns();
	if (s->state[0])
		table[0]->stop(s->state[0]);
	stops[NSIGNALS - 1].ended = mono_ns();
	/* -v: which signal's release the exit waited for (see README, start-up and exit) */
	for (i = 0; s->ctx->verbose && i < NSIGNALS; i++) {
		const struct stop_job *j = &stops[i];
		size_t t = i + 1 < NSIGNALS ? i + 1 : 0;

		if (j->state)
			fprintf(stderr, "probe: exit: %-10s stopped in %6.1f ms (from +%.1f to +%.1f ms)\n",
				table[t]->name, (double)(j->ended - j->began) / 1e6,
				(double)(j->began - t0) / 1e6, (double)(j->ended - t0) / 1e6);
	}
	free(s);
}

unsigned int signals__live(const struct signals *s)
{
	unsigned int n = 0;
	size_t i;

	for (i = 0; i < NSIGNALS; i++)
		n += s->st[i].state == SIG_LIVE;
	return n;
}

void signals__print(FILE *out, const struct signals *s)
{
	size_t i;

	fprintf(out, "%-10s %-12s %-52s %s\n", "SIGNAL", "STATE", "HOOK", "WHY / NOTES");
	for (i = 0; i < NSIGNALS; i++)
		fprintf(out, "%-10s %-12s %-52s %s\n", table[i]->name,
			signal__state_name(s->st[i].state),
			s->st[i].hook[0] ? s->st[i].hook : "-", s->st[i].why);
}

cJSON *signals__json(const struct signals *s)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; arr && i < NSIGNALS; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "signal", table[i]->name);
		cJSON_AddStringToObject(o, "what", table[i]->what);
		cJSON_AddStringToObject(o, "state", signal__state_name(s->st[i].state));
		cJSON_AddBoolToObject(o, "live", s->st[i].state == SIG_LIVE);
		cJSON_AddStringToObject(o, "hook", s->st[i].hook);
		cJSON_AddStringToObject(o, "why", s->st[i].why);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
