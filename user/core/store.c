/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"

struct series {
	struct series *next;		/* hash chain */
	uint64_t hash;
	char *key;			/* canonical "k=v\x1fk=v" */
	unsigned int nlabels;
	struct label labels[STORE_MAX_LABELS];	/* point into strs */
	char *strs;
	struct window *win;
	double gauges[STORE_MAX_GAUGES];
	uint64_t last_update;
};

struct family {
	struct family *next;
	struct store *store;
	struct family_desc d;
	struct series **buckets;
	unsigned int nbuckets;		/* power of two */
	unsigned int size;
	struct series *overflow;
	uint64_t overflowed;
};

struct store {
	struct store_opts opts;
	struct family *families;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct store *store__new(const struct store_opts *opts)
{
	struct store *s;

	if (!opts || !opts->slot_ns || !opts->nslots) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->opts = *opts;
	return s;
}

static void series_free(struct series *se)
{
	if (!se)
		return;
	window__free(se->win);
	free(se->key);
	free(se->strs);
	free(se);
}

static void family_free(struct family *f)
{
	unsigned int i;

	for (i = 0; i < f->nbuckets; i++) {
		struct series *se = f->buckets[i], *next;

		for (; se; se = next) {
			next = se->next;
			series_free(se);
		}
	}
	series_free(f->overflow);
	free(f->buckets);
	free(f);
}

void store__free(struct store *s)
{
	struct family *f, *next;

	if (!s)
		return;
	for (f = s->families; f; f = next) {
		next = f->next;
		family_free(f);
	}
	free(s);
}

struct family *store__find_family(const struct store *s, const char *name)
{
	struct family *f;

	for (f = s->families; f; f = f->next)
		if (!strcmp(f->d.name, name))
			return f;
	return NULL;
}

struct family *store__family(struct store *s, const struct family_desc *d)
{
	struct family *f = store__find_family(s, d->name);

	if (f)
		return f;
	if (d->ncounters > WINDOW_MAX_COUNTERS || d->ngauges > STORE_MAX_GAUGES ||
	    !d->max_series) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->nbuckets = 64;
	f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
	if (!f->buckets) {
		free(f);
		return NULL;
	}
	f->store = s;
	f->d = *d;
	f->next = s->families;
	s->families = f;
	return f;
}

/*
 * Canonical key: labels in the order given (each family's writers use one
 * fixed order), "key=value" joined by 0x1f. Control bytes inside keys and
 * values become '?', here as in the stored labels, so no value can forge a
 * separator and two label sets never share a key.
 */
static void copy_clean(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
}

static char *make_key(const struct label *labels, unsigned int n)
{
	size_t len = 1, off = 0;
	unsigned int i;
	char *key;

	for (i = 0; i < n; i++)
		len += strlen(labels[i].key) + strlen(labels[i].value) + 2;
	key = malloc(len);
	if (!key)
		return NULL;
	for (i = 0; i < n; i++) {
		size_t kl = strlen(labels[i].key), vl = strlen(labels[i].value);

		copy_clean(key + off, labels[i].key, kl);
		off += kl;
		key[off++] = '=';
		copy_clean(key + off, labels[i].value, vl);
		off += vl;
		if (i + 1 < n)
			key[off++] = 0x1f;
	}
	key[off] = 0;
	return key;
}

static struct series *series_new(struct family *f, const struct label *labels,
				 unsigned int n, char *key)
{
	struct series *se = calloc(1, sizeof(*se));
	size_t len = 0, off = 0;
	unsigned int i;

	if (!se)
		return NULL;
	for (i = 0; i < n; i++)
		len += strlen(labels[i].key) + strlen(labels[i].value) + 2;
	se->strs = malloc(len ? len : 1);
	se->win = window__new(f->store->opts.nslots, f->store->opts.slot_ns,
			      f->d.ncounters);
	if (!se->strs || !se->win) {
		free(se->strs);
		window__free(se->win);
		free(se);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		size_t kl = strlen(labels[i].key) + 1, vl = strlen(labels[i].value) + 1;
		char *p;

		memcpy(se->strs + off, labels[i].key, kl);
		se->labels[i].key = se->strs + off;
		off += kl;
		memcpy(se->strs + off, labels[i].value, vl);
		p = se->strs + off;
		se->labels[i].value = p;
		off += vl;
		for (; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	se->nlabels = n;
	se->key = key;
	se->hash = fnv1a(key);
	return se;
}

static void family_grow(struct family *f)
{
	unsigned int n = f->nbuckets * 2, i;
	struct series **b = calloc(n, sizeof(*b));

	if (!b)
		return;	/* longer chains, still correct */
	for (i = 0; i < f->nbuckets; i++) {
		struct series *se = f->buckets[i], *next;

		for (; se; se = next) {
			next = se->next;
			se->next = b[se->hash & (n - 1)];
			b[se->hash & (n - 1)] = se;
		}
	}
	free(f->buckets);
	f->buckets = b;
	f->nbuckets = n;
}

static struct series *family_overflow(struct family *f)
{
	static const struct label ov = { "overflow", "true" };
	char *key;

	f->overflowed++;
	if (f->overflow)
		return f->overflow;
	key = make_key(&ov, 1);
	if (!key)
		return NULL;
	f->overflow = series_new(f, &ov, 1, key);
	if (!f->overflow)
		free(key);
	return f->overflow;
}

struct series *family__series(struct family *f, const struct label *labels, unsigned int n)
{
	struct series *se;
	uint64_t h;
	char *key;

	if (n > STORE_MAX_LABELS) {
		errno = EINVAL;
		return NULL;
	}
	key = make_key(labels, n);
	if (!key)
		return NULL;
	h = fnv1a(key);
	for (se = f->buckets[h & (f->nbuckets - 1)]; se; se = se->next)
		if (se->hash == h && !strcmp(se->key, key)) {
			free(key);
			return se;
		}
	if (f->size >= f->d.max_series) {
		free(key);
		return family_overflow(f);
	}
	se = series_new(f, labels, n, key);
	if (!se) {
		free(key);
		return NULL;
	}
	if (f->size >= f->nbuckets)
		family_grow(f);
	se->next = f->buckets[h & (f->nbuckets - 1)];
	f->buckets[h & (f->nbuckets - 1)] = se;
	f->size++;
	return se;
}

uint64_t family__overflowed(const struct family *f)
{
	return f->overflowed;
}

const struct family_desc *family__desc(const struct family *f)
{
	return &f->d;
}

unsigned int family__size(const struct family *f)
{
	return f->size + (f->overflow != NULL);
}

int series__observe_n(struct series *se, uint64_t now_ns, uint64_t value, uint64_t n)
{
	se->last_update = now_ns;
	return window__observe_n(se->win, now_ns, value, n);
}

void series__add(struct series *se, uint64_t now_ns, unsigned int counter, uint64_t n)
{
	se->last_update = now_ns;
	window__add(se->win, now_ns, counter, n);
}

void series__set_gauge(struct series *se, uint64_t now_ns, unsigned int gauge, double v)
{
	if (gauge >= STORE_MAX_GAUGES)
		return;
	se->last_update = now_ns;
	se->gauges[gauge] = v;
}

double series__gauge(const struct series *se, unsigned int gauge)
{
	return gauge < STORE_MAX_GAUGES ? se->gauges[gauge] : 0;
}

struct window *series__window(struct series *se)
{
	return se->win;
}

const char *series__label(const struct series *se, const char *key)
{
	unsigned int i;

	for (i = 0; i < se->nlabels; i++)
		if (!strcmp(se->labels[i].key, key))
			return se->labels[i].value;
	return NULL;
}

unsigned int series__labels(const struct series *se, const struct label **labels)
{
	*labels = se->labels;
	return se->nlabels;
}

uint64_t series__last_update(const struct series *se)
{
	return se->last_update;
}

int family__for_each(struct family *f, series_fn fn, void *arg)
{
	unsigned int i;
	int ret;

	for (i = 0; i < f->nbuckets; i++) {
		struct series *se = f->buckets[i], *next;

		for (; se; se = next) {
			next = se->next;	/* fn may not free, but be safe */
			ret = fn(se, arg);
			if (ret)
				return ret;
		}
	}
	if (f->overflow)
		return fn(f->overflow, arg);
	return 0;
}

unsigned int store__expire(struct store *s, uint64_t now_ns, uint64_t idle_ns)
{
	unsigned int dropped = 0, i;
	struct family *f;

	if (now_ns < idle_ns)
		return 0;
	for (f = s->families; f; f = f->next) {
		/* Below three quarters of its cap a family keeps everything, so a
		 * summary still shows a process that went quiet. */
		if (f->size < f->d.max_series - f->d.max_series / 4)
			continue;
		for (i = 0; i < f->nbuckets; i++) {
			struct series **pp = &f->buckets[i];

			while (*pp) {
				struct series *se = *pp;

				if (se->last_update + idle_ns < now_ns) {
					*pp = se->next;
					series_free(se);
					f->size--;
					dropped++;
				} else {
					pp = &se->next;
				}
			}
		}
	}
	return dropped;
}

uint64_t store__slot_ns(const struct store *s)
{
	return s->opts.slot_ns;
}

uint64_t store__span_ns(const struct store *s)
{
	return s->opts.slot_ns * s->opts.nslots;
}
