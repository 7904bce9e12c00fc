/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/route.h"

/* A 128-byte target has at most 64 non-empty segments. */
#define MAX_SEGS	128

enum seg_kind { SEG_LITERAL, SEG_ONE, SEG_REST };

struct tmpl_seg {
	enum seg_kind kind;
	char *lit;		/* SEG_LITERAL */
	size_t len;
};

struct tmpl {
	char *text;		/* reported verbatim */
	unsigned int nseg;
	struct tmpl_seg seg[MAX_SEGS];
};

struct route_templates {
	unsigned int n;
	struct tmpl *t;
};

struct span {
	const char *p;
	size_t n;
};

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Split path (starting with '/') into its non-empty segments. */
static unsigned int split(const char *p, size_t len, struct span *segs, unsigned int max)
{
	unsigned int n = 0;
	size_t i = 0;

	while (i < len && n < max) {
		size_t start;

		while (i < len && p[i] == '/')
			i++;
		start = i;
		while (i < len && p[i] != '/')
			i++;
		if (i > start)
			segs[n++] = (struct span){ p + start, i - start };
	}
	return n;
}

void route__templates_free(struct route_templates *t)
{
	unsigned int i, k;

	if (!t)
		return;
	for (i = 0; i < t->n; i++) {
		for (k = 0; k < t->t[i].nseg; k++)
			free(t->t[i].seg[k].lit);
		free(t->t[i].text);
	}
	free(t->t);
	free(t);
}

static int tmpl_compile(struct tmpl *t, const char *text, char *err, size_t errlen)
{
	struct span segs[MAX_SEGS];
	size_t len = strlen(text), i;
	unsigned int n, k;

	if (len == 0 || text[0] != '/' || len >= ROUTE_MAX) {
		snprintf(err, errlen, "route template \"%.64s\": must start with '/' and be "
			 "shorter than %d bytes", text, ROUTE_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x21 || (unsigned char)text[i] >= 0x7f ||
		    text[i] == '?' || text[i] == '#') {
			snprintf(err, errlen, "route template \"%.64s\": only printable ASCII, "
				 "no spaces, '?' or '#'", text);
			return -EINVAL;
		}
	n = split(text, len, segs, MAX_SEGS);
	t->text = strdup(text);
	if (!t->text)
		return -ENOMEM;
	t->nseg = n;
	for (k = 0; k < n; k++) {
		struct tmpl_seg *s = &t->seg[k];
		const char *p = segs[k].p;
		size_t sl = segs[k].n;

		if (sl == 2 && p[0] == '*' && p[1] == '*') {
			if (k != n - 1) {
				snprintf(err, errlen, "route template \"%.64s\": \"**\" must be "
					 "the last segment", text);
				return -EINVAL;
			}
			s->kind = SEG_REST;
		} else if ((sl == 1 && p[0] == '*') || p[0] == ':' ||
			   (sl >= 2 && p[0] == '{' && p[sl - 1] == '}')) {
			s->kind = SEG_ONE;
		} else {
			s->kind = SEG_LITERAL;
			s->lit = strndup(p, sl);
			if (!s->lit)
				return -ENOMEM;
			s->len = sl;
		}
	}
	return 0;
}

struct route_templates *route__templates_new(const char *const *templates, unsigned int n,
					     char *err, size_t errlen)
{
	struct route_templates *t;
	unsigned int i;
	int ret;

	if (n > ROUTE_TEMPLATES_MAX) {
		snprintf(err, errlen, "%u route templates: at most %d", n, ROUTE_TEMPLATES_MAX);
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->t = calloc(n ? n : 1, sizeof(*t->t));
	if (!t->t) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		t->n = i + 1;	/* so free() releases a partly compiled one */
		ret = tmpl_compile(&t->t[i], templates[i], err, errlen);
		if (ret) {
			if (ret == -ENOMEM)
				snprintf(err, errlen, "out of memory");
			route__templates_free(t);
			errno = -ret;
			return NULL;
		}
	}
	return t;
}

/* truncated: segs is a prefix of the real path; only "**" can cover it. */
static int tmpl_match(const struct tmpl *t, const struct span *segs, unsigned int n,
		      int truncated)
{
	unsigned int k;

	for (k = 0; k < t->nseg; k++) {
		const struct tmpl_seg *s = &t->seg[k];

		if (s->kind == SEG_REST)
			return 1;
		if (k >= n)
			return 0;
		if (s->kind == SEG_LITERAL &&
		    (s->len != segs[k].n || memcmp(s->lit, segs[k].p, s->len)))
			return 0;
	}
	return k == n && !truncated;
}

static int is_uuid(const char *p, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (p[i] != '-')
				return 0;
		} else if (!is_hex((unsigned char)p[i])) {
			return 0;
		}
	}
	return 1;
}

/* The placeholder an ID-like segment becomes, or NULL to keep it. */
static const char *placeholder(const char *p, size_t n)
{
	size_t digits = 0, hex = 0, i;
	int at = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x80)
			return "{bytes}";
		digits += is_digit(c);
		hex += is_hex(c);
		at |= c == '@';
	}
	if (digits == n)
		return "{id}";
	if (is_uuid(p, n))
		return "{uuid}";
	if (hex == n && n >= 16)
		return "{hex}";
	if (at || digits >= 4 || (n >= 16 && digits))
		return "{id}";
	return NULL;
}

/* Append s[0..n) to out, always leaving it NUL-terminated. */
static void put(char *out, size_t outlen, size_t *at, const char *s, size_t n)
{
	if (*at + 1 >= outlen)
		return;
	if (n > outlen - 1 - *at)
		n = outlen - 1 - *at;
	memcpy(out + *at, s, n);
	*at += n;
	out[*at] = 0;
}

static int invalid(char *out, size_t outlen)
{
	size_t at = 0;

	if (outlen)
		out[0] = 0;
	put(out, outlen, &at, ROUTE_INVALID, strlen(ROUTE_INVALID));
	return -EINVAL;
}

int route__normalize(const struct route_templates *t, const char *target, size_t len,
		     int truncated, char *out, size_t outlen)
{
	struct span segs[MAX_SEGS];
	size_t i, at = 0;
	unsigned int n, k;
	int slash_end;

	if (!outlen)
		return -EINVAL;
	out[0] = 0;
	/* The query and fragment go first: nothing below ever sees them. */
	for (i = 0; i < len; i++)
		if (target[i] == '?' || target[i] == '#') {
			len = i;
			truncated = 0;	/* cut at a delimiter: the path itself is whole */
			break;
		}
	if (len == 0)
		return invalid(out, outlen);
	for (i = 0; i < len; i++)
		if ((unsigned char)target[i] < 0x21 || target[i] == 0x7f)
			return invalid(out, outlen);

	/* absolute form: scheme://authority/path -> /path */
	for (i = 0; target[0] != '/' && i + 2 < len && i < 8; i++)
		if (target[i] == ':' && target[i + 1] == '/' && target[i + 2] == '/')
			break;
	if (target[0] != '/' && i + 2 < len && i < 8 && i > 0) {
		size_t p = i + 3;

		while (p < len && target[p] != '/')
			p++;
		if (p == len) {
			put(out, outlen, &at, "/", 1);
			return (int)at;
		}
		target += p;
		len -= p;
	}
	if (len == 1 && target[0] == '*') {
		put(out, outlen, &at, "*", 1);
		return (int)at;
	}
	if (target[0] != '/') {
		put(out, outlen, &at, "{authority}", 11);
		return (int)at;
	}

	n = split(target, len, segs, MAX_SEGS);
	slash_end = target[len - 1] == '/' && n > 0;
	for (k = 0; t && k < t->n; k++)
		if (tmpl_match(&t->t[k], segs, n, truncated)) {
			put(out, outlen, &at, t->t[k].text, strlen(t->t[k].text));
			return (int)at;
		}
	if (truncated) {
		/* the last segment is a fragment of the real one */
		if (n && !slash_end)
			n--;
		slash_end = 0;
	}
	for (k = 0; k < n; k++) {
		const char *ph = placeholder(segs[k].p, segs[k].n);

		put(out, outlen, &at, "/", 1);
		if (ph)
			put(out, outlen, &at, ph, strlen(ph));
		else
			put(out, outlen, &at, segs[k].p, segs[k].n);
	}
	if (truncated)
		put(out, outlen, &at, "/{truncated}", 12);
	else if (!n || slash_end)
		put(out, outlen, &at, "/", 1);
	return (int)at;
}

/* --- the per-service cap --- */

struct route_ent {
	struct route_ent *next;
	char *route;
};

struct route_set {
	unsigned int cap, size, nbuckets;
	uint64_t overflowed;
	struct route_ent **buckets;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct route_set *route__set_new(unsigned int cap)
{
	struct route_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cap = cap;
	s->nbuckets = 16;
	while (s->nbuckets < cap && s->nbuckets < (1U << 20))
		s->nbuckets <<= 1;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return NULL;
	}
	return s;
}

void route__set_free(struct route_set *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		struct route_ent *e = s->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->route);
			free(e);
		}
	}
	free(s->buckets);
	free(s);
}

const char *route__set_admit(struct route_set *s, const char *route)
{
	struct route_ent **b = &s->buckets[hash_str(route) & (s->nbuckets - 1)], *e;

	for (e = *b; e; e = e->next)
		if (!strcmp(e->route, route))
			return e->route;
	if (s->size >= s->cap)
		goto overflow;
	e = malloc(sizeof(*e));
	if (!e)
		goto overflow;
	e->route = strdup(route);
	if (!e->route) {
		free(e);
		goto overflow;
	}
	e->next = *b;
	*b = e;
	s->size++;
	return e->route;
overflow:
	s->overflowed++;
	return ROUTE_OVERFLOW;
}

unsigned int route__set_size(const struct route_set *s)
{
	return s->size;
}

uint64_t route__set_overflowed(const struct route_set *s)
{
	return s->overflowed;
}
