/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "view/view.h"
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

/* Indexed by enum view_sec: the order an incident is worked. */
static const struct view_section *const sections[] = {
	[VIEW_SEC_HTTP] = &view_http,
	[VIEW_SEC_TLS] = &view_tls,
	[VIEW_SEC_DB] = &view_db,
	[VIEW_SEC_CONN] = &view_conn,
	[VIEW_SEC_MEM] = &view_mem,
	[VIEW_SEC_ALLOC] = &view_alloc,
	[VIEW_SEC_SYSCALLS] = &view_syscalls,
	[VIEW_SEC_PROBE] = &view_health,
};

/*
 * Rows a section may claim per round when the terminal is short: HTTP
 * first and most, so the first screen of an 80x24 terminal shows the top
 * routes.
 */
static const unsigned int weight[] = {
	[VIEW_SEC_HTTP] = 4, [VIEW_SEC_TLS] = 1, [VIEW_SEC_DB] = 2, [VIEW_SEC_CONN] = 2, [VIEW_SEC_MEM] = 2,
	[VIEW_SEC_ALLOC] = 1, [VIEW_SEC_SYSCALLS] = 2, [VIEW_SEC_PROBE] = 1,
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))
_Static_assert(NSECTIONS == VIEW_SEC_COUNT, "one section per enum view_sec");

int view__parse_sections(const char *list, unsigned int *mask, char *bad, size_t len)
{
	const char *p = list;

	*mask = 0;
	while (p && *p) {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < NSECTIONS; i++)
			if (strlen(sections[i]->name) == n && !strncmp(sections[i]->name, p, n))
				break;
		if (i == NSECTIONS) {
			snprintf(bad, len, "%.*s", (int)(n < 32 ? n : 32), p);
			return -EINVAL;
		}
		*mask |= 1u << i;
		p += n;
		if (*p == ',')
			p++;
	}
	if (!*mask) {
		snprintf(bad, len, "(empty)");
		return -EINVAL;
	}
	return 0;
}

const char *view__window(const struct view_opts *o, char *buf, size_t len)
{
	if (o->summary)
		snprintf(buf, len, "whole run, %.1fs", o->elapsed_ns / 1e9);
	else
		snprintf(buf, len, "last %.0fs", o->span_ns / 1e9);
	return buf;
}

const char *view__rate_window(const struct view_opts *o, char *buf, size_t len)
{
	if (o->summary)
		snprintf(buf, len, "whole run");
	else
		snprintf(buf, len, "last %.3gs", (o->rate_ns ? o->rate_ns : o->span_ns) / 1e9);
	return buf;
}

void view__col(FILE *out, const char *s, unsigned int w)
{
	size_t n = strlen(s);

	if (!w)
		return;
	if (n <= w) {
		fprintf(out, "%-*s", (int)w, s);
		return;
	}
	fprintf(out, "%.*s\u2026", (int)(w - 1), s);
}

void view__col_mid(FILE *out, const char *s, unsigned int w)
{
	size_t n = strlen(s), tail;

	if (w < 3 || n <= w) {
		view__col(out, s, w);
		return;
	}
	tail = (w - 1) / 2;
	fprintf(out, "%.*s\u2026%s", (int)(w - 1 - tail), s, s + n - tail);
}

const char *view__bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double a = b < 0 ? -b : b;
	unsigned int i = 0;

	if (a < 1024) {
		snprintf(buf, len, "%.0fB", b);
		return buf;
	}
	b /= 1024;
	a /= 1024;
	while (a >= 1024 && i < 3) {
		b /= 1024;
		a /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f%s", b, units[i]);
	return buf;
}

static int label_is_number(enum family_id fam, const char *key)
{
	const struct family_desc *d = families__get(fam);
	unsigned int i;

	for (i = 0; d && i < d->nlabels; i++)
		if (!strcmp(d->labels[i].key, key))
			return !!(d->labels[i].flags & LABEL_NUMBER);
	return 0;
}

void view__json_label(cJSON *obj, enum family_id fam, const char *key, const char *value)
{
	char *end;
	long long v;

	if (value && *value && label_is_number(fam, key)) {
		errno = 0;
		v = strtoll(value, &end, 10);
		/* exact in a double: every pid, errno and start time in ticks is */
		if (!*end && !errno && v > -(1LL << 53) && v < (1LL << 53)) {
			cJSON_AddNumberToObject(obj, key, (double)v);
			return;
		}
	}
	cJSON_AddStringToObject(obj, key, value ? value : "");
}

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

struct collect {
	struct view_rows *r;
	uint64_t now;
	const struct view_opts *o;
	int (*keep)(struct view_row *row);
};

static int collect_one(struct series *se, void *arg)
{
	struct collect *c = arg;
	struct view_row row = { .se = se };

	if (view__stats(se, c->now, c->o, &row.vs) || !c->keep(&row))
		return 0;
	if (view__reserve(&c->r->v, &c->r->cap, c->r->n, sizeof(*c->r->v)))
		return 1;
	c->r->v[c->r->n++] = row;
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct view_row *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return x->tie < y->tie ? 1 : x->tie > y->tie ? -1 : 0;
}

size_t view__collect(struct store *st, enum family_id family, uint64_t now,
		     const struct view_opts *o, int (*keep)(struct view_row *row),
		     struct view_rows *out)
{
	struct family *f = families__lookup(st, family);
	struct collect c = { .r = out, .now = now, .o = o, .keep = keep };

	memset(out, 0, sizeof(*out));
	if (f)
		family__for_each(f, collect_one, &c);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), by_key);
	return out->n;
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
	if (view__stats(se, w->now, w->o, &vs) || !vs.counters[ERRNO_COUNT])
		return 0;
	name = strerrorname_np(atoi(e));
	if (!name)
		name = e;
	if (q->obj)
		cJSON_AddNumberToObject(q->obj, name, (double)vs.counters[ERRNO_COUNT]);
	else if (w->len < q->cap)
		w->len += snprintf(q->buf + w->len, q->cap - w->len, "%s%s:%lu",
				   w->len ? " " : "", name, (unsigned long)vs.counters[ERRNO_COUNT]);
	return 0;
}

void view__errnos(struct store *st, enum family_id family, uint64_t now,
		  const struct view_opts *o, const struct view_errnos *q)
{
	struct errno_walk w = { .q = q, .now = now, .o = o };
	struct family *f = families__lookup(st, family);

	if (q->buf && q->cap)
		q->buf[0] = 0;
	if (f && q->pid && q->value)
		family__for_each(f, errno_one, &w);
}

const char *view__dur_prec(uint64_t ns, int digits, char *buf, size_t len)
{
	static const struct { double div; const char *unit; } u[] = {
		{ 1, "ns" }, { 1e3, "us" }, { 1e6, "ms" }, { 1e9, "s" },
	};
	unsigned int i = 0;
	double v;
	int dec;

	while (i < 3 && ns >= u[i + 1].div)
		i++;
	v = ns / u[i].div;
	/* decimals so that `digits` significant digits show (none beyond the integer part) */
	dec = digits - (v >= 100 ? 3 : v >= 10 ? 2 : 1);
	if (dec < 0 || i == 0)
		dec = 0;
	snprintf(buf, len, "%.*f%s", dec, v, u[i].unit);
	return buf;
}

const char *view__dur(uint64_t ns, char *buf, size_t len)
{
	return view__dur_prec(ns, 3, buf, len);
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

cJSON *view__json_latency(cJSON *obj, const char *name, const struct view_stats *vs)
{
	cJSON *lat = cJSON_AddObjectToObject(obj, name);

	if (!lat)
		return NULL;
	cJSON_AddNumberToObject(lat, "count", (double)vs->count);
	cJSON_AddNumberToObject(lat, "p50", (double)vs->p50);
	cJSON_AddNumberToObject(lat, "p90", (double)vs->p90);
	cJSON_AddNumberToObject(lat, "p95", (double)vs->p95);
	cJSON_AddNumberToObject(lat, "p99", (double)vs->p99);
	cJSON_AddNumberToObject(lat, "max", (double)vs->max);
	cJSON_AddNumberToObject(lat, "mean", vs->mean);
	return lat;
}

void view__header(FILE *out, const char *title, uint64_t now, const struct view_opts *o,
		  const char *mode)
{
	(void)now;
	if (o->summary)
		fprintf(out, "=== probe summary: %s, %.1fs (whole-run totals) ===\n", mode,
			o->elapsed_ns / 1e9);
	else
		fprintf(out, "=== %s: %s, up %.0fs; rates last %.3gs, latency and counts last %.0fs ===\n",
			title, mode, o->elapsed_ns / 1e9,
			(o->rate_ns ? o->rate_ns : o->span_ns) / 1e9, o->span_ns / 1e9);
}

/* Columns a UTF-8 line takes (continuation bytes take none). */
static unsigned int line_cols(const char *s, size_t n)
{
	unsigned int c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Write one line, cut to cols columns with a visible "…" when longer (0: as is). */
static void put_line(FILE *out, const char *s, size_t n, unsigned int cols)
{
	size_t i;
	unsigned int c = 0;

	if (!cols || line_cols(s, n) <= cols) {
		fwrite(s, 1, n, out);
		fputc('\n', out);
		return;
	}
	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && ++c == cols)
			break;
	}
	fwrite(s, 1, i, out);
	fputs("\u2026\n", out);
}

struct sec_text {
	char *buf;
	size_t len;
	size_t *line;		/* offsets of line starts */
	unsigned int nlines, give;
};

static void split_lines(struct sec_text *t)
{
	size_t i, start = 0, cap = 0;

	t->nlines = 0;
	t->line = NULL;
	for (i = 0; i <= t->len; i++) {
		if (i < t->len && t->buf[i] != '\n')
			continue;
		if (i == t->len && i == start)
			break;
		if (view__reserve(&t->line, &cap, t->nlines, sizeof(*t->line)))
			break;
		t->line[t->nlines++] = start;
		start = i + 1;
	}
}

static size_t line_len(const struct sec_text *t, unsigned int k)
{
	size_t end = k + 1 < t->nlines ? t->line[k + 1] - 1 : t->len;

	if (end > t->line[k] && t->buf[end - 1] == '\n')
		end--;
	return end - t->line[k];
}

void view__render(FILE *out, struct store *st, uint64_t now, const struct view_opts *o,
		  int json, const char *mode, const char *extra_key, cJSON *extra)
{
	struct sec_text t[NSECTIONS];
	unsigned int budget = 0, left, k;
	size_t i;
	int more;

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
		if (!o->summary) {
			cJSON_AddNumberToObject(obj, "window_s", o->span_ns / 1e9);
			cJSON_AddNumberToObject(obj, "rate_window_s",
						(o->rate_ns ? o->rate_ns : o->span_ns) / 1e9);
		}
		if (extra_key && extra)
			cJSON_AddItemToObject(obj, extra_key, extra);
		else
			cJSON_Delete(extra);
		for (i = 0; i < NSECTIONS; i++)
			if (!(o->hide & (1u << i)))
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
	/* each section into memory first, so the rows can be shared out */
	memset(t, 0, sizeof(t));
	for (i = 0; i < NSECTIONS; i++) {
		FILE *m;

		if (o->hide & (1u << i))
			continue;
		m = open_memstream(&t[i].buf, &t[i].len);
		if (!m)
			continue;
		if (!sections[i]->text(m, st, now, o)) {
			const char *h = sections[i]->hint ? sections[i]->hint(o) : NULL;

			if (h)
				fprintf(m, "%s: %s\n", sections[i]->name, h);
		}
		fclose(m);
		split_lines(&t[i]);
	}
	/*
	 * A terminal of R rows: the header, then rows shared out in rounds, each
	 * section claiming up to its weight per round, in runbook order, until
	 * every line fits or the rows run out. The cursor's line is kept free.
	 */
	if (o->tty && o->rows && !o->summary)
		budget = o->rows > 2 ? o->rows - 2 : 0;
	for (i = 0; i < NSECTIONS; i++)
		t[i].give = budget ? 0 : t[i].nlines;
	left = budget;
	do {
		more = 0;
		for (i = 0; i < NSECTIONS && left; i++) {
			unsigned int want = t[i].nlines - t[i].give, w = weight[i];

			if (!want)
				continue;
			w = w < want ? w : want;
			w = w < left ? w : left;
			t[i].give += w;
			left -= w;
			more = 1;
		}
	} while (more && left);

	if (o->tty && !o->summary)
		fputs("\033[H\033[2J", out);	/* home + clear: redraw in place */
	{
		char *hdr = NULL;
		size_t hlen = 0;
		FILE *m = open_memstream(&hdr, &hlen);

		if (m) {
			view__header(m, "probe", now, o, mode);
			fclose(m);
			put_line(out, hdr, hlen && hdr[hlen - 1] == '\n' ? hlen - 1 : hlen,
				 o->tty ? o->cols : 0);
			free(hdr);
		}
	}
	for (i = 0; i < NSECTIONS; i++) {
		for (k = 0; k < t[i].give && k < t[i].nlines; k++) {
			/* a cut section says so on its last row */
			if (k + 1 == t[i].give && t[i].give < t[i].nlines && k > 0) {
				char cut[96];
				int n = snprintf(cut, sizeof(cut), "  \u2026 %u more line(s): --show %s",
						 t[i].nlines - k, sections[i]->name);

				put_line(out, cut, (size_t)n, o->cols);
				break;
			}
			put_line(out, t[i].buf + t[i].line[k], line_len(&t[i], k),
				 o->tty ? o->cols : 0);
		}
		free(t[i].buf);
		free(t[i].line);
	}
	if (!o->tty || o->summary)
		fputc('\n', out);
	fflush(out);
}
