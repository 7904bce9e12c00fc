/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "out/view.h"
#include "core/hist.h"
#include "core/store.h"

extern const struct view_section view_health;
extern const struct view_section view_syscalls;
extern const struct view_section view_http;
extern const struct view_section view_tls;
extern const struct view_section view_conn;
extern const struct view_section view_db;
extern const struct view_section view_mem;
extern const struct view_section view_alloc;

static const struct view_section *const sections[] = {
	&view_health,
	&view_syscalls,
	&view_http,
	&view_tls,
	&view_conn,
	&view_db,
	&view_mem,
	&view_alloc,
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

int view__reserve(void *vp, size_t *cap, size_t n, size_t elem)
{
	void **v = vp, *nv;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

struct errno_walk {
	const struct view_errnos *q;
	uint64_t now;
	const struct view_opts *o;
	size_t len;
};

static int errno_one(struct series *se, void *arg)
{
	struct errno_walk *w = arg;
	const struct view_errnos *q = w->q;
	const char *pid = series__label(se, "pid"), *v = series__label(se, q->key);
	const char *e = series__label(se, "errno"), *name;
	struct view_stats vs;

	if (!pid || !v || !e || strcmp(pid, q->pid) || strcmp(v, q->value))
		return 0;
	if (view__stats(se, w->now, w->o, &vs) || !vs.counters[0])
		return 0;
	name = strerrorname_np(atoi(e));
	if (!name)
		name = e;
	if (q->obj)
		cJSON_AddNumberToObject(q->obj, name, (double)vs.counters[0]);
	else if (w->len < q->cap)
		w->len += snprintf(q->buf + w->len, q->cap - w->len, "%s%s:%lu",
				   w->len ? " " : "", name, (unsigned long)vs.counters[0]);
	return 0;
}

void view__errnos(struct store *st, const char *family, uint64_t now,
		  const struct view_opts *o, const struct view_errnos *q)
{
	struct errno_walk w = { .q = q, .now = now, .o = o };
	struct family *f = store__find_family(st, family);

	if (q->buf && q->cap)
		q->buf[0] = 0;
	if (f && q->pid && q->value)
		family__for_each(f, errno_one, &w);
}

const char *view__dur(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%luns", (unsigned long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2fms", ns / 1e6);
	else
		snprintf(buf, len, "%.2fs", ns / 1e9);
	return buf;
}

int view__stats(struct series *se, uint64_t now, const struct view_opts *o,
		struct view_stats *out)
{
	struct window *w = series__window(se);
	const struct hist *h;
	struct hist *tmp = NULL;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	if (o->summary) {
		h = window__total_hist(w);
		for (i = 0; i < WINDOW_MAX_COUNTERS && i < 8; i++)
			out->counters[i] = window__total_counter(w, i);
		out->seconds = o->elapsed_ns / 1e9;
	} else {
		struct window_read r;
		int err;

		tmp = hist__new();
		if (!tmp)
			return -ENOMEM;
		err = window__read(w, now, o->span_ns, tmp, &r);
		if (err) {
			hist__free(tmp);
			return err;
		}
		for (i = 0; i < WINDOW_MAX_COUNTERS && i < 8; i++)
			out->counters[i] = r.counters[i];
		out->seconds = r.covered_ns / 1e9;
		h = tmp;
	}
	out->count = hist__count(h);
	out->p50 = hist__quantile(h, 0.50);
	out->p90 = hist__quantile(h, 0.90);
	out->p95 = hist__quantile(h, 0.95);
	out->p99 = hist__quantile(h, 0.99);
	out->max = hist__max(h);
	out->mean = hist__mean(h);
	hist__free(tmp);
	return 0;
}

void view__header(FILE *out, const char *title, uint64_t now, const struct view_opts *o,
		  const char *mode)
{
	(void)now;
	if (o->summary)
		fprintf(out, "=== probe summary: %s, %.1fs ===\n", mode, o->elapsed_ns / 1e9);
	else
		fprintf(out, "=== %s: %s, last %.0fs (up %.0fs) ===\n", title, mode,
			o->span_ns / 1e9, o->elapsed_ns / 1e9);
}

void view__render(FILE *out, struct store *st, uint64_t now, const struct view_opts *o,
		  int json, const char *mode, const char *extra_key, cJSON *extra)
{
	size_t i;

	if (json) {
		cJSON *obj = cJSON_CreateObject();
		char *text;

		if (!obj) {
			cJSON_Delete(extra);
			return;
		}
		cJSON_AddStringToObject(obj, "type", o->summary ? "summary" : "interval");
		cJSON_AddStringToObject(obj, "mode", mode);
		cJSON_AddNumberToObject(obj, "elapsed_s", o->elapsed_ns / 1e9);
		if (!o->summary)
			cJSON_AddNumberToObject(obj, "window_s", o->span_ns / 1e9);
		if (extra_key && extra)
			cJSON_AddItemToObject(obj, extra_key, extra);
		else
			cJSON_Delete(extra);
		for (i = 0; i < NSECTIONS; i++)
			sections[i]->json(obj, st, now, o);
		text = cJSON_PrintUnformatted(obj);
		if (text) {
			fprintf(out, "%s\n", text);
			cJSON_free(text);
		}
		cJSON_Delete(obj);
		fflush(out);
		return;
	}
	cJSON_Delete(extra);
	if (o->tty && !o->summary)
		fputs("\033[H\033[2J", out);	/* home + clear: redraw in place */
	view__header(out, "probe", now, o, mode);
	for (i = 0; i < NSECTIONS; i++)
		if (!sections[i]->text(out, st, now, o))
			fprintf(out, "(%s: nothing yet)\n", sections[i]->name);
	fputc('\n', out);
	fflush(out);
}
