/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export/snapshot.h"

#define ARENA_CHUNK	(256 * 1024)

const double snap_quantiles[SNAP_QUANTILES] = { 0.5, 0.9, 0.95, 0.99 };

/* Bump allocation in chunks: a snapshot is freed whole, never piecewise. */
struct snap_chunk {
	struct snap_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct snap_arena {
	struct snap_chunk *head;
};

void *snapshot__alloc(struct snapshot *s, size_t n)
{
	struct snap_chunk *c = s->arena->head;
	size_t align = sizeof(max_align_t), size;
	void *p;

	n = (n + align - 1) / align * align;
	if (!n)
		n = align;
	if (!c || c->size - c->used < n) {
		size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = s->arena->head;
		s->arena->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *snapshot__strdup(struct snapshot *s, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p = snapshot__alloc(s, n);

	if (p)
		memcpy(p, str, n);
	return p;
}

struct snapshot *snapshot__new(uint64_t time_unix_ns, uint64_t start_unix_ns)
{
	struct snapshot *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->arena = calloc(1, sizeof(*s->arena));
	if (!s->arena) {
		free(s);
		return NULL;
	}
	s->time_unix_ns = time_unix_ns;
	s->start_unix_ns = start_unix_ns;
	s->refs = 1;
	return s;
}

struct snapshot *snapshot__get(struct snapshot *s)
{
	if (s)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void snapshot__put(struct snapshot *s)
{
	struct snap_chunk *c, *next;
	size_t i;

	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < s->nmetrics; i++)
		free(s->metrics[i].points);
	free(s->metrics);
	for (c = s->arena->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(s->arena);
	free(s);
}

int snapshot__metric(struct snapshot *s, const char *name, const char *unit, const char *help,
		     enum snap_kind kind, const double *bounds, unsigned int nbounds)
{
	struct snap_metric *m;
	size_t i;

	for (i = 0; i < s->nmetrics; i++)
		if (!strcmp(s->metrics[i].name, name))
			return s->metrics[i].kind == kind ? (int)i : -EEXIST;
	if (nbounds > SNAP_MAX_BOUNDS || (kind == SNAP_HISTOGRAM && nbounds && !bounds))
		return -EINVAL;
	if (s->nmetrics == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct snap_metric *v = realloc(s->metrics, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->metrics = v;
		s->cap = cap;
	}
	m = &s->metrics[s->nmetrics];
	memset(m, 0, sizeof(*m));
	m->name = snapshot__strdup(s, name);
	m->unit = snapshot__strdup(s, unit ? unit : "");
	m->help = snapshot__strdup(s, help ? help : "");
	m->kind = kind;
	if (kind == SNAP_HISTOGRAM && nbounds) {
		double *b = snapshot__alloc(s, nbounds * sizeof(*b));

		if (b)
			memcpy(b, bounds, nbounds * sizeof(*b));
		m->bounds = b;
		m->nbounds = nbounds;
		if (!b)
			return -ENOMEM;
	}
	if (!m->name || !m->unit || !m->help)
		return -ENOMEM;
	return (int)s->nmetrics++;
}

struct snap_point *snapshot__point(struct snapshot *s, int idx, const struct snap_attr *attrs,
				   unsigned int nattrs)
{
	struct snap_metric *m;
	struct snap_point *p;

	if (idx < 0 || (size_t)idx >= s->nmetrics || nattrs > SNAP_MAX_ATTRS) {
		errno = EINVAL;
		return NULL;
	}
	m = &s->metrics[idx];
	if (m->npoints == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct snap_point *v = realloc(m->points, cap * sizeof(*v));

		if (!v)
			return NULL;
		m->points = v;
		m->cap = cap;
	}
	p = &m->points[m->npoints++];
	memset(p, 0, sizeof(*p));
	p->attrs = attrs;
	p->nattrs = nattrs;
	return p;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t utf8_seq(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		       (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/*
 * Labels come from processes (comm, paths) and may hold any byte; both
 * Prometheus and OTLP JSON require UTF-8, and one bad byte would fail a
 * whole scrape. Invalid bytes become '?'.
 */
static void utf8_clean(char *str)
{
	unsigned char *p = (unsigned char *)str;

	while (*p) {
		size_t n = utf8_seq(p);

		if (!n) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

struct snap_attr *snapshot__attrs(struct snapshot *s, const struct snap_attr *attrs,
				  unsigned int n)
{
	struct snap_attr *a = snapshot__alloc(s, (n ? n : 1) * sizeof(*a));
	unsigned int i;

	if (!a)
		return NULL;
	for (i = 0; i < n; i++) {
		char *v = snapshot__strdup(s, attrs[i].value);

		a[i].key = snapshot__strdup(s, attrs[i].key);
		a[i].value = v;
		if (!a[i].key || !v)
			return NULL;
		utf8_clean(v);
	}
	return a;
}

size_t snapshot__points(const struct snapshot *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nmetrics; i++)
		n += s->metrics[i].npoints;
	return n;
}
