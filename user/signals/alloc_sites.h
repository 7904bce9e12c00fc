/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alloc_sites: the userspace half of the allocator signal's aggregates.
 *
 * Every collect it reads the kernel's (session, caller, stack) aggregates
 * and folds them into call sites (session, caller: exact in "full" mode)
 * with their sampled stacks; every scan it reads the outstanding
 * allocations themselves to age them. Per site it keeps a trend of the
 * bytes older than min_age_s: a site whose old bytes keep growing is a
 * leak suspect. Callers and stacks are symbolized once, when first seen,
 * while the process is alive. Results go to the store:
 *
 *   alloc_site   {pid, comm, instance, site}         bytes, count, old_bytes,
 *                                                    oldest_s, growth_bps, suspect;
 *                                                    counters allocs, frees
 *   alloc_stack  {pid, comm, instance, site, stack}  bytes (estimated share of
 *                                                    the site's), sampled
 *
 * "instance" tells apart processes that had the same pid (start time in
 * clock ticks, plus ".N" after the N-th exec), so a reused pid never
 * inherits its predecessor's rows. A stack is its frames, innermost first
 * (the allocating call site itself), joined by ';'.
 */
#ifndef PROBE_SIGNALS_ALLOC_SITES_H
#define PROBE_SIGNALS_ALLOC_SITES_H

#include <stdint.h>

struct alloc_sites;
struct store;
struct probe_config;
struct symbolizer;

/* What alloc_sites needs to know of a traced process. */
struct alloc_session {
	uint32_t session;
	int pid;
	uint64_t start_time;		/* for the symbolizer: clock ticks */
	const char *comm;
	const char *instance;
	const struct label *attr;	/* ATTRIB_NLABELS container and pod labels (proc/attrib.h); NULL: empty */
};

struct alloc_sites_maps {
	int live_fd, sites_fd, stacks_fd;
};

/* NULL + errno. The symbolizer and store are borrowed. */
struct alloc_sites *alloc_sites__new(const struct probe_config *cfg, struct store *store,
				     struct symbolizer *sym, const struct alloc_sites_maps *maps);
void alloc_sites__free(struct alloc_sites *a);

/*
 * Read the kernel aggregates of these sessions (entries of other sessions
 * are stale and deleted), age outstanding allocations when `scan` is set,
 * judge the trends and write the store.
 */
void alloc_sites__collect(struct alloc_sites *a, uint64_t now_ns,
			  const struct alloc_session *sessions, unsigned int n, int scan);

/*
 * A session ended. Its rows stay in the store with their last values;
 * `exited`: the process is gone, so its sites are no longer suspects.
 * Kernel entries of the session are deleted, userspace state freed.
 */
void alloc_sites__end(struct alloc_sites *a, uint32_t session, int exited, uint64_t now_ns);

/* Losses seen in userspace: sites or stacks beyond the caps, evicted allocations. */
uint64_t alloc_sites__lost(const struct alloc_sites *a);
/* Outstanding allocations tracked in the kernel at the last scan (session 0: all). */
uint64_t alloc_sites__tracked(const struct alloc_sites *a, uint32_t session);

#endif
