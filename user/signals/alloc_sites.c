/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe/alloc.h"
#include "config.h"
#include "core/families.h"
#include "core/store.h"
#include "core/trend.h"
#include "loader/signals.h"
#include "proc/symbolize.h"
#include "proc/attrib.h"
#include "signals/alloc_sites.h"

#define SITE_BUCKETS	1024
#define MAX_SITES	4096	/* userspace sites over all sessions */
#define MAX_STACKS	8192	/* userspace stacks over all sites */
#define LABEL_MAX	2048	/* a stack's joined frames */
#define OVERFLOW_CALLER	0	/* the per-session site that takes what is past MAX_SITES */

struct stackent {
	struct stackent *next;
	uint32_t stack_id;
	int64_t bytes, count;		/* this read: sampled allocations outstanding */
	char *label;
	struct series *se;
};

struct site {
	struct site *next;
	uint32_t session;
	uint64_t caller;
	char *label;
	struct trend *trend;
	struct trend_result tr;
	int64_t bytes, count;		/* this read, over all stacks */
	uint64_t allocs, frees;		/* since attach */
	uint64_t prev_allocs, prev_frees;
	double young;			/* this scan: bytes younger than min_age */
	uint64_t oldest_ns;		/* this scan: oldest outstanding allocation, 0 if none */
	double old_bytes;
	int scanned;
	struct series *se;
	struct stackent *stacks;
};

struct dump {
	void *keys, *vals;
	size_t cap;
};

struct alloc_sites {
	const struct probe_config *cfg;
	struct store *store;
	struct symbolizer *sym;
	struct alloc_sites_maps maps;
	struct family *site_fam, *stack_fam;
	struct site *buckets[SITE_BUCKETS];
	unsigned int nsites, nstacks;
	struct trend_opts topts;
	struct dump sd, ld;		/* alloc_sites, alloc_live */
	uint64_t lost;			/* stacks past MAX_STACKS */
	uint64_t evicted;		/* allocations the LRU dropped (a lower bound) */
	uint64_t tracked;		/* all sessions, at the last scan */
	struct {
		uint32_t session;
		uint64_t n;
	} per[PROBE_ALLOC_MAX_SESSIONS];	/* the same per session */
};

struct alloc_sites *alloc_sites__new(const struct probe_config *cfg, struct store *store,
				     struct symbolizer *sym, const struct alloc_sites_maps *maps)
{
	struct alloc_sites *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = cfg;
	a->store = store;
	a->sym = sym;
	a->maps = *maps;
	a->site_fam = families__register(store, FAM_ALLOC_SITE, 0);
	a->stack_fam = families__register(store, FAM_ALLOC_STACK, 0);
	if (!a->site_fam || !a->stack_fam) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	/*
	 * The bytes older than min_age of a leaking site rise in a straight
	 * line; steady churn keeps them flat. Judged over the horizon with
	 * the same robust test tier 1 uses for whole processes.
	 */
	a->topts.horizon_s = cfg->alloc.horizon_s;
	a->topts.min_rate = cfg->alloc.min_growth_bps;
	a->topts.min_growth = cfg->alloc.min_growth_bps * cfg->alloc.horizon_s / 2;
	a->topts.min_fit = 0.8;
	a->topts.segments = 3;
	a->topts.coverage = 0.5;
	return a;
}

static void stacks_free(struct alloc_sites *a, struct site *s)
{
	struct stackent *e, *next;

	for (e = s->stacks; e; e = next) {
		next = e->next;
		free(e->label);
		free(e);
		a->nstacks--;
	}
	s->stacks = NULL;
}

static void site_free(struct alloc_sites *a, struct site *s)
{
	stacks_free(a, s);
	trend__free(s->trend);
	free(s->label);
	free(s);
	a->nsites--;
}

void alloc_sites__free(struct alloc_sites *a)
{
	unsigned int i;

	if (!a)
		return;
	for (i = 0; i < SITE_BUCKETS; i++) {
		struct site *s = a->buckets[i], *next;

		for (; s; s = next) {
			next = s->next;
			site_free(a, s);
		}
	}
	free(a->sd.keys);
	free(a->sd.vals);
	free(a->ld.keys);
	free(a->ld.vals);
	free(a);
}

/*
 * Every entry of a hash map into d (grown as needed, up to max entries).
 * Batched where the kernel allows it, else key by key. Count or -errno.
 */
static long map_dump(int fd, size_t ksz, size_t vsz, size_t max, struct dump *d)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint64_t in = 0, out = 0;
	size_t n = 0;
	int first = 1, err;

	if (d->cap < max) {
		void *k = realloc(d->keys, max * ksz), *v;

		if (!k)
			return -ENOMEM;
		d->keys = k;
		v = realloc(d->vals, max * vsz);
		if (!v)
			return -ENOMEM;
		d->vals = v;
		d->cap = max;
	}
	while (n < d->cap) {
		__u32 cnt = (__u32)(d->cap - n < 4096 ? d->cap - n : 4096);

		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, (char *)d->keys + n * ksz,
					   (char *)d->vals + n * vsz, &cnt, &opts);
		n += cnt;
		if (err) {
			if (errno == ENOENT)
				return (long)n;		/* the end */
			if (first && n == 0)
				goto one_by_one;	/* no batch support */
			return -errno;
		}
		first = 0;
		in = out;
	}
	return (long)n;

one_by_one:
	{
		char prev[64], next[64];
		int have = 0;

		if (ksz > sizeof(prev))
			return -EINVAL;
		n = 0;
		while (n < d->cap && !bpf_map_get_next_key(fd, have ? prev : NULL, next)) {
			memcpy(prev, next, ksz);
			have = 1;
			if (bpf_map_lookup_elem(fd, next, (char *)d->vals + n * vsz))
				continue;	/* deleted meanwhile */
			memcpy((char *)d->keys + n * ksz, next, ksz);
			n++;
		}
		return (long)n;
	}
}

static unsigned int site_hash(uint32_t session, uint64_t caller)
{
	uint64_t h = (caller ^ ((uint64_t)session << 40)) * 0x9E3779B97F4A7C15ULL;

	return (unsigned int)(h >> 54) & (SITE_BUCKETS - 1);
}

static struct site *site_find(struct alloc_sites *a, uint32_t session, uint64_t caller)
{
	struct site *s;

	for (s = a->buckets[site_hash(session, caller)]; s; s = s->next)
		if (s->session == session && s->caller == caller)
			return s;
	return NULL;
}

static void frame_label(struct alloc_sites *a, const struct alloc_session *ss, uint64_t addr,
			char *buf, size_t len)
{
	struct sym_frame f;

	/* fills module+offset ("[unknown]+0x...") even when it fails */
	symbolizer__resolve_ex(a->sym, ss->pid, ss->start_time, addr, SYM_RETADDR, &f);
	sym_frame__format(&f, buf, len);
}

static struct site *site_get(struct alloc_sites *a, const struct alloc_session *ss,
			     uint64_t caller)
{
	struct site *s = site_find(a, ss->session, caller);
	char buf[600];
	unsigned int b;

	if (s)
		return s;
	if (a->nsites >= MAX_SITES && caller != OVERFLOW_CALLER)
		return site_get(a, ss, OVERFLOW_CALLER);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->session = ss->session;
	s->caller = caller;
	s->trend = trend__new(&a->topts);
	if (caller == OVERFLOW_CALLER)
		snprintf(buf, sizeof(buf), "(other sites: over %u)", MAX_SITES);
	else
		frame_label(a, ss, caller, buf, sizeof(buf));
	s->label = strdup(buf);
	if (!s->trend || !s->label) {
		trend__free(s->trend);
		free(s->label);
		free(s);
		return NULL;
	}
	b = site_hash(ss->session, caller);
	s->next = a->buckets[b];
	a->buckets[b] = s;
	a->nsites++;
	return s;
}

/* The site's frame, then the stack's frames past the allocator's own. */
static char *stack_label(struct alloc_sites *a, const struct alloc_session *ss, struct site *s,
			 uint32_t stack_id)
{
	uint64_t ips[PROBE_ALLOC_STACK_DEPTH];
	char *out = malloc(LABEL_MAX), frame[600];
	size_t len;
	unsigned int i;

	if (!out)
		return NULL;
	len = (size_t)snprintf(out, LABEL_MAX, "%s", s->label);
	memset(ips, 0, sizeof(ips));
	if (bpf_map_lookup_elem(a->maps.stacks_fd, &stack_id, ips))
		return out;	/* stack gone: the site frame alone */
	/* ips[0] is inside the allocator; ips[1] on are return addresses */
	for (i = 1; i < PROBE_ALLOC_STACK_DEPTH && ips[i] && len < LABEL_MAX - 1; i++) {
		frame_label(a, ss, ips[i], frame, sizeof(frame));
		len += (size_t)snprintf(out + len, LABEL_MAX - len, ";%s", frame);
	}
	return out;
}

static struct stackent *stack_get(struct alloc_sites *a, const struct alloc_session *ss,
				  struct site *s, uint32_t stack_id)
{
	struct stackent *e;

	for (e = s->stacks; e; e = e->next)
		if (e->stack_id == stack_id)
			return e;
	if (a->nstacks >= MAX_STACKS) {
		a->lost++;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->stack_id = stack_id;
	e->label = stack_label(a, ss, s, stack_id);
	if (!e->label) {
		free(e);
		return NULL;
	}
	e->next = s->stacks;
	s->stacks = e;
	a->nstacks++;
	return e;
}

static const struct alloc_session *session_find(const struct alloc_session *ss, unsigned int n,
						uint32_t session)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ss[i].session == session)
			return &ss[i];
	return NULL;
}

/* Age outstanding allocations: bytes younger than min_age and the oldest, per site. */
static void scan_live(struct alloc_sites *a, uint64_t now, const struct alloc_session *ss,
		      unsigned int n)
{
	uint64_t min_age = (uint64_t)a->cfg->alloc.min_age_s * 1000000000ULL;
	int64_t outstanding = 0, ev;
	const struct probe_alloc_addr *k;
	const struct probe_alloc_live *v;
	unsigned int b;
	long cnt, i;

	cnt = map_dump(a->maps.live_fd, sizeof(*k), sizeof(*v), PROBE_ALLOC_MAX_LIVE + 4096, &a->ld);
	if (cnt < 0)
		return;
	k = a->ld.keys;
	v = a->ld.vals;
	memset(a->per, 0, sizeof(a->per));
	for (i = 0; i < (long)n && i < PROBE_ALLOC_MAX_SESSIONS; i++)
		a->per[i].session = ss[i].session;
	for (i = 0; i < cnt; i++) {
		const struct alloc_session *sess = session_find(ss, n, k[i].session);
		struct site *s;

		if (!sess) {
			/* left by a program that ran as its session ended */
			bpf_map_delete_elem(a->maps.live_fd, &k[i]);
			continue;
		}
		if (sess - ss < PROBE_ALLOC_MAX_SESSIONS)
			a->per[sess - ss].n++;
		s = site_find(a, k[i].session, v[i].caller);
		if (!s)
			s = site_find(a, k[i].session, OVERFLOW_CALLER);
		if (!s)
			continue;	/* allocated after this collect's aggregate read */
		if (v[i].ts_ns > now || now - v[i].ts_ns < min_age)
			s->young += (double)v[i].bytes;
		if (!s->oldest_ns || v[i].ts_ns < s->oldest_ns)
			s->oldest_ns = v[i].ts_ns;
	}
	a->tracked = (uint64_t)cnt;
	/*
	 * The sites count every block still charged to them; the LRU map holds
	 * fewer when it pushed some out (those stay charged: a leak is never
	 * freed). Read moments apart, so only a lower bound, kept at its max.
	 */
	for (b = 0; b < SITE_BUCKETS; b++) {
		struct site *s;

		for (s = a->buckets[b]; s; s = s->next)
			if (session_find(ss, n, s->session))
				outstanding += s->count;
	}
	ev = outstanding - cnt;
	if (ev > 0 && (uint64_t)ev > a->evicted)
		a->evicted = (uint64_t)ev;
}

static void site_labels(const struct alloc_session *ss, const struct site *s, char *pid,
			size_t plen, struct label *l)
{
	snprintf(pid, plen, "%d", ss->pid);
	l[0] = (struct label){ "pid", pid };
	l[1] = (struct label){ "comm", ss->comm };
	l[2] = (struct label){ "instance", ss->instance };
	l[3] = (struct label){ "site", s->label };
}

/* The attribution labels after a family's own n. */
static void site_attrib(const struct alloc_session *ss, struct label *l)
{
	if (ss->attr)
		memcpy(l, ss->attr, ATTRIB_NLABELS * sizeof(*l));
	else
		attrib__labels(NULL, 0, 0, l);
}

static void write_site(struct alloc_sites *a, uint64_t now, const struct alloc_session *ss,
		       struct site *s)
{
	double est_total = 0;
	struct stackent *e;
	struct label l[5 + ATTRIB_NLABELS];
	char pid[16];

	site_labels(ss, s, pid, sizeof(pid), l);
	site_attrib(ss, l + 4);
	if (!s->se)
		s->se = family__series(a->site_fam, l, 4 + ATTRIB_NLABELS);
	if (s->se) {
		series__set_gauge(s->se, now, AS_BYTES, (double)s->bytes);
		series__set_gauge(s->se, now, AS_COUNT, (double)s->count);
		series__set_gauge(s->se, now, AS_OLD_BYTES, s->old_bytes);
		series__set_gauge(s->se, now, AS_OLDEST_S,
				  s->oldest_ns && now > s->oldest_ns ? (now - s->oldest_ns) / 1e9 : 0);
		series__set_gauge(s->se, now, AS_GROWTH, s->tr.slope);
		series__set_gauge(s->se, now, AS_SUSPECT, s->tr.suspect ? 1 : 0);
		series__add(s->se, now, AS_ALLOCS, s->allocs - s->prev_allocs);
		series__add(s->se, now, AS_FREES, s->frees - s->prev_frees);
	}
	s->prev_allocs = s->allocs;
	s->prev_frees = s->frees;

	/*
	 * A stack's share of the site: in full mode, an allocation of size
	 * z < sample_bytes is sampled with probability z / sample_bytes, so
	 * each sampled one stands for sample_bytes bytes; larger ones for
	 * themselves. Sampled mode's kernel bytes are already such weights.
	 */
	for (e = s->stacks; e; e = e->next) {
		double est = (double)e->bytes;

		if (a->cfg->alloc.mode == CFG_ALLOC_FULL &&
		    (double)e->count * a->cfg->alloc.sample_bytes > est)
			est = (double)e->count * a->cfg->alloc.sample_bytes;
		if (est > 0)
			est_total += est;
	}
	for (e = s->stacks; e; e = e->next) {
		double est = (double)e->bytes, share;

		if (a->cfg->alloc.mode == CFG_ALLOC_FULL &&
		    (double)e->count * a->cfg->alloc.sample_bytes > est)
			est = (double)e->count * a->cfg->alloc.sample_bytes;
		share = est_total > 0 && est > 0 ? est / est_total : 0;
		if (!e->se) {
			l[4] = (struct label){ "stack", e->label };
			site_attrib(ss, l + 5);
			e->se = family__series(a->stack_fam, l, 5 + ATTRIB_NLABELS);
		}
		if (e->se) {
			series__set_gauge(e->se, now, 0, share * (double)(s->bytes > 0 ? s->bytes : 0));
			series__set_gauge(e->se, now, 1, (double)(e->count > 0 ? e->count : 0));
		}
	}
}

void alloc_sites__collect(struct alloc_sites *a, uint64_t now, const struct alloc_session *ss,
			  unsigned int n, int scan)
{
	const struct probe_alloc_site *k;
	const struct probe_alloc_site_val *v;
	struct probe_alloc_site stale[256];
	unsigned int nstale = 0, i;
	long cnt, j;

	cnt = map_dump(a->maps.sites_fd, sizeof(*k), sizeof(*v), PROBE_ALLOC_MAX_SITES + 1024,
		       &a->sd);
	if (cnt < 0)
		return;
	for (i = 0; i < SITE_BUCKETS; i++) {
		struct site *s;

		for (s = a->buckets[i]; s; s = s->next) {
			struct stackent *e;

			s->bytes = s->count = 0;
			s->allocs = s->frees = 0;
			for (e = s->stacks; e; e = e->next)
				e->bytes = e->count = 0;
			if (scan) {
				s->young = 0;
				s->oldest_ns = 0;
			}
		}
	}
	k = a->sd.keys;
	v = a->sd.vals;
	for (j = 0; j < cnt; j++) {
		const struct alloc_session *sess = session_find(ss, n, k[j].session);
		struct stackent *e;
		struct site *s;

		if (!sess) {
			/* left by a session that ended: delete (a few per round) */
			if (nstale < 256)
				stale[nstale++] = k[j];
			continue;
		}
		s = site_get(a, sess, k[j].caller);
		if (!s)
			continue;
		s->bytes += v[j].bytes;
		s->count += v[j].count;
		s->allocs += v[j].allocs;
		s->frees += v[j].allocs - (uint64_t)v[j].count;	/* tracked, then freed */
		if (k[j].stack_id == PROBE_ALLOC_NO_STACK)
			continue;
		e = stack_get(a, sess, s, k[j].stack_id);
		if (e) {
			e->bytes += v[j].bytes;
			e->count += v[j].count;
		}
	}
	for (i = 0; i < nstale; i++)
		bpf_map_delete_elem(a->maps.sites_fd, &stale[i]);
	if (scan)
		scan_live(a, now, ss, n);

	for (i = 0; i < SITE_BUCKETS; i++) {
		struct site *s;

		for (s = a->buckets[i]; s; s = s->next) {
			const struct alloc_session *sess = session_find(ss, n, s->session);

			if (!sess)
				continue;
			if (scan) {
				double old = (double)s->bytes - s->young;

				s->old_bytes = old > 0 ? old : 0;
				trend__add(s->trend, now / 1e9, s->old_bytes);
				trend__eval(s->trend, &s->tr);
			}
			write_site(a, now, sess, s);
		}
	}
}

/* Delete every key of `session` from a map whose keys start with the session id. */
static uint64_t delete_session(int fd, size_t ksz, size_t vsz, size_t max, struct dump *d,
			       uint32_t session)
{
	uint64_t deleted = 0;
	long cnt, i;

	cnt = map_dump(fd, ksz, vsz, max, d);
	for (i = 0; i < cnt; i++) {
		const void *key = (const char *)d->keys + (size_t)i * ksz;
		uint32_t ks;

		memcpy(&ks, key, sizeof(ks));
		if (ks == session && !bpf_map_delete_elem(fd, key))
			deleted++;
	}
	return deleted;
}

void alloc_sites__end(struct alloc_sites *a, uint32_t session, int exited, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < SITE_BUCKETS; i++) {
		struct site **pp = &a->buckets[i];

		while (*pp) {
			struct site *s = *pp;

			if (s->session != session) {
				pp = &s->next;
				continue;
			}
			/* a process that is gone leaks nothing more: not an alert any longer */
			if (exited && s->se)
				series__set_gauge(s->se, now, AS_SUSPECT, 0);
			*pp = s->next;
			site_free(a, s);
		}
	}
	delete_session(a->maps.sites_fd, sizeof(struct probe_alloc_site),
		       sizeof(struct probe_alloc_site_val), PROBE_ALLOC_MAX_SITES + 1024, &a->sd,
		       session);
	delete_session(a->maps.live_fd, sizeof(struct probe_alloc_addr),
					  sizeof(struct probe_alloc_live),
					  PROBE_ALLOC_MAX_LIVE + 4096, &a->ld, session);
}

uint64_t alloc_sites__lost(const struct alloc_sites *a)
{
	return a->lost + a->evicted;
}

uint64_t alloc_sites__tracked(const struct alloc_sites *a, uint32_t session)
{
	unsigned int i;

	if (!session)
		return a->tracked;
	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS; i++)
		if (a->per[i].session == session)
			return a->per[i].n;
	return 0;
}
