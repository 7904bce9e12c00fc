/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * http signal: HTTP/1.x requests from the socket capture (bpf/sockets.bpf.c),
 * one record per request, aggregated per route and per client peer.
 *
 * Store families:
 *   http_server  labels comm, exe, method, route, status_class
 *                counters requests, errors_4xx, errors_5xx; histogram of
 *                durations (ns, first request byte -> first response byte)
 *   http_client  labels comm, exe, host, peer, method, status_class, route
 *                same counters and histogram, timed from the request write
 *                to the response read; host is the provider: the SNI of a
 *                TLS call (signals/tls.c), else the Host header, else the
 *                peer; route is the path normalized as a server's routes
 *   http_stats   label what; counter count: what the kernel side could not
 *                parse or time (unparsed, orphan responses, ...), for the view
 *
 * The service is the process's comm and executable name (read by the
 * kernel once per connection: short-lived clients are gone from /proc by
 * the time their records are read). Routes come from
 * core/route.c (templates from the config first, then heuristics); each
 * service keeps at most signals.http.max_routes distinct routes, the rest
 * go to the route "{overflow}" and are counted (http_stats what=route_overflow).
 * A target longer than the kernel's kept prefix (PROBE_HTTP_PATH_LEN) loses
 * its last, partial segment and ends in "/{truncated}" (core/route.h), so it
 * never merges with a shorter route; each such request is counted
 * (http_stats what=route_cut).
 *
 * At a busy server's rate (tens of thousands of records a second) building
 * label sets for every record would cost more than the capture. A small
 * direct-mapped cache maps a record's raw identity (process, role, method,
 * status class, raw target or peer) to its series; it is flushed on every
 * collect, so a series pointer never outlives a second (the store only
 * drops series idle for much longer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockets.skel.h"
#include "probe/dns.h"
#include "probe/http.h"
#include "probe/sockets.h"
#include "config.h"
#include "core/families.h"
#include "core/route.h"
#include "core/store.h"
#include "loader/detach.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/peer_names.h"
#include "signals/dbquery.h"
#include "signals/dns.h"
#include "signals/tls.h"

#define FAST_SLOTS	4096
/* cgroup and generation (16), fixed part (8), host and path with their lengths, address */
#define FAST_KEY_MAX	(16 + 8 + PROBE_HTTP_PATH_LEN + PROBE_HTTP_HOST_LEN + 24)
#define SERVICE_SLOTS	1024
#define SWEEP_ROUNDS	30	/* collects between sweeps of dead processes' fds */
#define BATCH		1024
/* the largest record */
#define STAGE_REC	(sizeof(struct probe_http_req) > sizeof(struct probe_dns_answer) ? \
		 sizeof(struct probe_http_req) : sizeof(struct probe_dns_answer))
#define STAGE_MAX	(1U << 17)	/* records held back per drain: more than 8 MiB of rings holds */

/* Kernel counters shown in http_stats, by the name the view prints. */
static const struct {
	enum probe_sock_stat idx;
	const char *what;
} kstats[] = {
	{ PROBE_SOCK_STAT_HTTP_UNPARSED, "unparsed" },
	{ PROBE_SOCK_STAT_HTTP_UNANSWERED, "unanswered" },
	{ PROBE_SOCK_STAT_HTTP_ORPHAN, "orphan_responses" },
	{ PROBE_SOCK_STAT_HTTP_FIFO_FULL, "pipeline_overflow" },
	{ PROBE_SOCK_STAT_HTTP_RB_DROP, "ringbuf_drops" },
	{ PROBE_SOCK_STAT_READ_FAULT, "read_faults" },
	{ PROBE_SOCK_STAT_NOT_PARSED, "other_protocol_sockets" },
	{ PROBE_SOCK_STAT_DNS_RECORDS, "dns_answers" },
	{ PROBE_SOCK_STAT_DNS_RB_DROP, "dns_ringbuf_drops" },
};
#define NKSTATS (sizeof(kstats) / sizeof(kstats[0]))

static const char *const method_names[PROBE_HTTP_M_MAX] = {
	"?", "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
};

struct fast_ent {
	uint64_t hash;
	struct series *se;
	uint16_t keylen;
	uint8_t overflow;	/* the route was refused by the per-service cap */
	unsigned char key[FAST_KEY_MAX];
};

struct service {
	struct service *next;
	char *key;		/* comm \x1f exe */
	struct route_set *routes;
};

/* A record held back until its drain ends (see stage_flush()). */
struct staged {
	uint32_t len;
	uint32_t pad;
	unsigned char data[STAGE_REC];
};

struct stage_key {
	uint64_t ts;
	uint32_t idx;	/* arrival order: ties keep it */
	uint32_t pad;
};

struct http_state {
	struct probe_ctx *ctx;
	struct sockets_bpf *skel;
	struct bpf_link *io_links[PROBE_SOCK_HOOK_MAX];	/* sock_read/write on each tracepoint */
	int raw;			/* on raw_syscalls instead (hooks_raw) */
	struct ring_buffer *rb;		/* reads every CPU's ring */
	int *ring_fds;
	unsigned int nrings;
	struct family *server, *client, *stats;
	struct route_templates *tmpl;
	struct fast_ent *fast;
	struct service *services[SERVICE_SLOTS];
	unsigned int nservices;
	uint64_t kprev[PROBE_SOCK_STAT_MAX];	/* kernel counters at the last collect */
	uint64_t records, bad_records;
	uint64_t dns_unparsed, dns_unparsed_shown;
	struct dbquery *db;		/* database records from the same rings */
	struct tls *tls;		/* libssl uprobes: TLS handshakes, plaintext into the rings */
	uint64_t route_overflow, route_overflow_shown;
	/* requests whose target the kernel cut (PROBE_HTTP_F_PATH_TRUNC) */
	uint64_t route_cut, route_cut_shown;
	uint64_t swept, swept_http, swept_unanswered, swept_unanswered_shown;
	uint64_t evicted, evicted_shown;
	uint64_t round;
	unsigned int max_routes;
	struct staged *stage;		/* this drain's records, in arrival order */
	struct stage_key *keys;
	unsigned int nstage, stage_cap;
};

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;

	while (n--)
		h = (h ^ *s++) * 1099511628211ULL;
	return h;
}


/*
 * The routes admitted so far for one service's side: what it serves and
 * what it calls are capped apart, so a busy client cannot push the
 * service's own routes to overflow.
 */
static struct route_set *service_routes(struct http_state *s, const char *comm, const char *exe,
					int client)
{
	char key[2 * PROBE_COMM_LEN + 4];
	struct service **b, *sv;

	snprintf(key, sizeof(key), "%s\x1f%s\x1f%c", comm, exe, client ? 'c' : 's');
	b = &s->services[fnv1a(key, strlen(key), 1469598103934665603ULL) % SERVICE_SLOTS];
	for (sv = *b; sv; sv = sv->next)
		if (!strcmp(sv->key, key))
			return sv->routes;
	/* beyond the services cap every route of a new service is overflow */
	if (s->nservices >= SERVICE_SLOTS * 4)
		return NULL;
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return NULL;
	sv->key = strdup(key);
	sv->routes = route__set_new(s->max_routes);
	if (!sv->key || !sv->routes) {
		free(sv->key);
		route__set_free(sv->routes);
		free(sv);
		return NULL;
	}
	sv->next = *b;
	*b = sv;
	s->nservices++;
	return sv->routes;
}

/* Printable ASCII only: labels end up in JSON and on terminals. */
static void sanitize(char *dst, size_t dlen, const char *src, size_t n)
{
	size_t i;

	if (!dlen)
		return;
	if (n > dlen - 1)
		n = dlen - 1;
	for (i = 0; i < n && src[i]; i++)
		dst[i] = (unsigned char)src[i] > 0x20 && (unsigned char)src[i] < 0x7f ? src[i] : '?';
	dst[i] = 0;
}

static const char *status_class(unsigned int status)
{
	static const char *const names[] = { "?", "1xx", "2xx", "3xx", "4xx", "5xx" };

	return status / 100 <= 5 ? names[status / 100] : "?";
}

/*
 * The series a record belongs to, the slow way: labels, route, store.
 * *overflow: the route went to ROUTE_OVERFLOW because of the cap.
 */
static struct series *series_for(struct http_state *s, const struct probe_http_req *r,
				 uint8_t *overflow)
{
	char comm[PROBE_COMM_LEN + 1], exe[PROBE_COMM_LEN + 1], route[ROUTE_MAX];
	char peer[INET6_ADDRSTRLEN + 16], host[PEER_NAMES_TEXT_MAX];
	const char *rt;
	struct route_set *set;
	struct label l[7 + ATTRIB_NLABELS];

	sanitize(comm, sizeof(comm), r->hdr.comm, PROBE_COMM_LEN);
	sanitize(exe, sizeof(exe), r->exe, PROBE_COMM_LEN);
	if (!exe[0])
		snprintf(exe, sizeof(exe), "?");
	l[0] = (struct label){ "comm", comm };
	l[1] = (struct label){ "exe", exe };
	if (r->role == PROBE_ROLE_SERVER) {
		route__normalize(s->tmpl, r->path, r->path_len < PROBE_HTTP_PATH_LEN ?
				 r->path_len : PROBE_HTTP_PATH_LEN,
				 !!(r->flags & PROBE_HTTP_F_PATH_TRUNC), route, sizeof(route));
		set = service_routes(s, comm, exe, 0);
		rt = set ? route__set_admit(set, route) : ROUTE_OVERFLOW;
		*overflow = !strcmp(rt, ROUTE_OVERFLOW);
		l[2] = (struct label){ "method", method_names[r->method] };
		l[3] = (struct label){ "route", rt };
		l[4] = (struct label){ "status_class", status_class(r->status) };
		attrib__labels(s->ctx->attrib, r->hdr.cgroup_id, (int)r->hdr.pid, l + 5);
		return family__series(s->server, l, 5 + ATTRIB_NLABELS);
	}
	peer_names__addr(peer, sizeof(peer), r->family, r->raddr, r->rport);
	/* the Host header, else the name the process resolved the address from */
	if (r->host_len)
		sanitize(host, sizeof(host), r->host, r->host_len);
	else
		peer_names__format(s->ctx->peers, host, sizeof(host), r->family, r->raddr,
				   r->rport);
	/* per provider and route: the client's calls are normalized as a server's routes */
	route__normalize(s->tmpl, r->path, r->path_len < PROBE_HTTP_PATH_LEN ?
			 r->path_len : PROBE_HTTP_PATH_LEN,
			 !!(r->flags & PROBE_HTTP_F_PATH_TRUNC), route, sizeof(route));
	set = service_routes(s, comm, exe, 1);
	rt = set ? route__set_admit(set, route) : ROUTE_OVERFLOW;
	l[2] = (struct label){ "host", host };
	l[3] = (struct label){ "peer", peer };
	l[4] = (struct label){ "method", method_names[r->method] };
	l[5] = (struct label){ "status_class", status_class(r->status) };
	l[6] = (struct label){ "route", rt };
	attrib__labels(s->ctx->attrib, r->hdr.cgroup_id, (int)r->hdr.pid, l + 7);
	return family__series(s->client, l, 7 + ATTRIB_NLABELS);
}

/*
 * What identifies a record's series, as raw bytes: the cache key. The
 * cgroup and the pod-name generation make a process's series change when
 * it changes container or when its pod's name becomes known.
 */
static size_t fast_key(struct http_state *s, const struct probe_http_req *r, unsigned char *k)
{
	uint64_t gen = attrib__generation(s->ctx->attrib);
	size_t n = 0, len;

	memcpy(k, &r->hdr.cgroup_id, 8);
	memcpy(k + 8, &gen, 8);
	k += 16;
	memcpy(k, &r->hdr.pid, 4);
	k[4] = r->role;
	k[5] = r->method;
	k[6] = (unsigned char)(r->status / 100);
	k[7] = r->flags & PROBE_HTTP_F_PATH_TRUNC;
	n = 8;
	if (r->role == PROBE_ROLE_SERVER) {
		len = r->path_len < PROBE_HTTP_PATH_LEN ? r->path_len : PROBE_HTTP_PATH_LEN;
		memcpy(k + n, r->path, len);
		return 16 + n + len;
	}
	len = r->host_len < PROBE_HTTP_HOST_LEN ? r->host_len : PROBE_HTTP_HOST_LEN;
	k[n++] = (unsigned char)len;
	memcpy(k + n, r->host, len);
	n += len;
	len = r->path_len < PROBE_HTTP_PATH_LEN ? r->path_len : PROBE_HTTP_PATH_LEN;
	k[n++] = (unsigned char)len;
	memcpy(k + n, r->path, len);
	n += len;
	k[n++] = r->family;
	memcpy(k + n, r->raddr, 16);
	n += 16;
	memcpy(k + n, &r->rport, 2);
	return 16 + n + 2;
}

static int http_record(struct http_state *s, const void *data, size_t len)
{
	const struct probe_http_req *r = data;
	unsigned char key[FAST_KEY_MAX];
	struct fast_ent *e;
	struct series *se;
	size_t klen;
	uint64_t h;

	if (dbquery__is_record(data, len))
		return dbquery__record(s->db, data, len);
	if (tls__is_record(data, len))
		return tls__record(s->tls, data, len);
	if (dns__is_record(data, len)) {
		if (dns__record(s->ctx->peers, data, len) == -EINVAL)
			s->dns_unparsed++;
		return 0;
	}
	if (len < sizeof(*r) || r->hdr.type != PROBE_REC_HTTP_REQ ||
	    r->hdr.version != PROBE_HTTP_VERSION || r->hdr.size != sizeof(*r) ||
	    r->method >= PROBE_HTTP_M_MAX || !r->method ||
	    (r->role != PROBE_ROLE_SERVER && r->role != PROBE_ROLE_CLIENT)) {
		s->bad_records++;
		return 0;
	}
	s->records++;
	klen = fast_key(s, r, key);
	h = fnv1a(key, klen, 1469598103934665603ULL);
	e = &s->fast[h % FAST_SLOTS];
	if (!e->se || e->hash != h || e->keylen != klen || memcmp(e->key, key, klen)) {
		uint8_t overflow = 0;

		se = series_for(s, r, &overflow);
		if (!se)
			return 0;
		e->hash = h;
		e->se = se;
		e->overflow = overflow;
		e->keylen = (uint16_t)klen;
		memcpy(e->key, key, klen);
	}
	se = e->se;
	s->route_overflow += e->overflow;
	s->route_cut += !!(r->flags & PROBE_HTTP_F_PATH_TRUNC);
	series__add(se, r->hdr.ts_ns, HTTP_REQUESTS, 1);
	if (r->status >= 400 && r->status < 500)
		series__add(se, r->hdr.ts_ns, HTTP_ERRORS_4XX, 1);
	else if (r->status >= 500)
		series__add(se, r->hdr.ts_ns, HTTP_ERRORS_5XX, 1);
	series__observe_n(se, r->hdr.ts_ns, r->duration_ns, 1);
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct stage_key *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * After each drain of every CPU's ring: the records in the order of their
 * own time stamps. Read ring by ring, which route or series wins a cap
 * would depend on which CPU's ring was read first (a server moved from
 * CPU 1 to CPU 0 has its later requests read before its earlier ones).
 */
static void stage_flush(void *arg)
{
	struct http_state *s = arg;
	unsigned int i;

	if (!s->nstage)
		return;
	for (i = 0; i < s->nstage; i++) {
		const struct probe_rec_hdr *h = (const void *)s->stage[i].data;

		s->keys[i] = (struct stage_key){ h->ts_ns, i, 0 };
	}
	qsort(s->keys, s->nstage, sizeof(*s->keys), key_cmp);
	for (i = 0; i < s->nstage; i++) {
		const struct staged *r = &s->stage[s->keys[i].idx];

		http_record(s, r->data, r->len);
	}
	s->nstage = 0;
}

static int stage_grow(struct http_state *s)
{
	unsigned int cap = s->stage_cap ? s->stage_cap * 2 : 1024;
	struct staged *st;
	struct stage_key *k;

	if (cap > STAGE_MAX)
		return -ENOSPC;
	st = realloc(s->stage, cap * sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->stage = st;
	k = realloc(s->keys, cap * sizeof(*k));
	if (!k)
		return -ENOMEM;
	s->keys = k;
	s->stage_cap = cap;
	return 0;
}

/* A ring-buffer record: held back until the drain ends (stage_flush()). */
static int on_record(void *arg, void *data, size_t len)
{
	struct http_state *s = arg;
	struct staged *r;

	if (len < sizeof(struct probe_rec_hdr) || len > STAGE_REC) {
		s->bad_records++;
		return 0;
	}
	if (s->nstage == s->stage_cap && stage_grow(s)) {
		/* no room to hold it back: in order up to here, then this one */
		stage_flush(s);
		return http_record(s, data, len);
	}
	r = &s->stage[s->nstage++];
	r->len = (uint32_t)len;
	memcpy(r->data, data, len);
	return 0;
}

/*
 * Whether the capture hooks raw_syscalls (sock_enter_btf, sock_exit_btf):
 * by default under --pid, where the syscalls signal's raw_syscalls
 * programs already run on every syscall of the host, on x86-64 (the
 * programs pick syscalls by number) with tp_btf; signals.http.raw_syscalls
 * says otherwise. Elsewhere the eleven syscalls:* tracepoints, which cost
 * nothing on the syscalls they do not match but are perf trace events,
 * each released at exit under the kernel's event_mutex (~45 ms). Measured
 * under --pid: exit 0.32 s instead of 0.77 s; a getppid loop elsewhere on
 * the host 491 ns a call instead of 395 (167 with no probe).
 */
static int hooks_raw(const struct probe_ctx *ctx)
{
#if defined(__x86_64__)
	const struct probe_config *cfg = ctx->cfg;

	if (!ctx->feat->have[FEAT_TP_BTF] || cfg->http.raw_syscalls == CFG_OFF)
		return 0;
	return cfg->http.raw_syscalls == CFG_ON ||
	       (ctx->filter && cfg->syscalls.enabled != CFG_OFF);
#else
	(void)ctx;
	return 0;
#endif
}

static void http_plan(const struct probe_ctx *ctx, struct signal_status *st)
{
	signal__hook(st, "%s: exit read,readv,recvfrom,recvmsg,accept(4); enter write,writev,"
		     "sendto,sendmsg,connect; %sinet_sock_set_state",
		     hooks_raw(ctx) ? "tp_btf raw_syscalls" : "syscalls",
		     ctx->feat->have[FEAT_TP_BTF] ? "tp_btf " : "sock:");
	if (ctx->cfg->http.enabled == CFG_OFF) {
		signal__why(st, SIG_OFF, "signals.http.enabled is false");
		return;
	}
	if (!SIGNAL_NEEDS(ctx, st, FEAT_BTF, FEAT_TRACEPOINT, FEAT_RINGBUF))
		return;
	signal__why(st, SIG_LIVE, "HTTP/1.x over TCP in clear text, server and client side%s; "
		    "not seen: TLS other than OpenSSL's (library or linked in) and GnuTLS's, "
		    "HTTP/2, Unix sockets; "
		    "DB queries (client side): PostgreSQL, Redis, MySQL; "
		    "peer names from DNS answers",
		    ctx->filter ? "" : ", host-wide");
}

/*
 * Per-CPU ring size: PROBE_HTTP_RINGBUF_BYTES over all CPUs, at least
 * 256 KiB each (~800 records: 8 ms of a busy CPU, drained every 100 ms
 * or sooner when 64 KiB are waiting), a power of two.
 */
static __u32 ring_bytes(int ncpu)
{
	__u32 per = PROBE_HTTP_RINGBUF_BYTES / (__u32)ncpu, sz = 256 * 1024;

	while (sz < per)
		sz <<= 1;
	return sz;
}

/* One ring per CPU; rb reads them all. */
static int rings_create(struct http_state *s, int ncpu)
{
	__u32 sz = ring_bytes(ncpu);
	int i, fd, err;

	s->ring_fds = calloc((size_t)ncpu, sizeof(*s->ring_fds));
	if (!s->ring_fds)
		return -ENOMEM;
	for (i = 0; i < ncpu; i++)
		s->ring_fds[i] = -1;
	s->nrings = (unsigned int)ncpu;
	for (i = 0; i < ncpu; i++) {
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "http_ring", 0, 0, sz, NULL);
		if (fd < 0)
			return -errno;
		s->ring_fds[i] = fd;
		if (s->ctx->check_only)
			continue;
		if (!s->rb) {
			s->rb = ring_buffer__new(fd, on_record, s, NULL);
			if (!s->rb)
				return -errno;
		} else {
			err = ring_buffer__add(s->rb, fd, on_record, s);
			if (err)
				return err;
		}
	}
	return 0;
}

/* After load: each CPU's ring at its index in the outer map. */
static int rings_insert(struct http_state *s)
{
	int outer = bpf_map__fd(s->skel->maps.http_rings);
	unsigned int i;

	for (i = 0; i < s->nrings; i++)
		if (bpf_map_update_elem(outer, &i, &s->ring_fds[i], BPF_ANY))
			return -errno;
	return 0;
}

/*
 * The read and the write program on each of their tracepoints, with the
 * hook's number as the attach cookie (bpf/sockets.bpf.c).
 */
static int io_attach(struct http_state *s)
{
	static const char *const tps[PROBE_SOCK_HOOK_MAX] = {
		[PROBE_SOCK_HOOK_READ] = "sys_exit_read",
		[PROBE_SOCK_HOOK_READV] = "sys_exit_readv",
		[PROBE_SOCK_HOOK_RECVFROM] = "sys_exit_recvfrom",
		[PROBE_SOCK_HOOK_RECVMSG] = "sys_exit_recvmsg",
		[PROBE_SOCK_HOOK_WRITE] = "sys_enter_write",
		[PROBE_SOCK_HOOK_WRITEV] = "sys_enter_writev",
		[PROBE_SOCK_HOOK_SENDTO] = "sys_enter_sendto",
		[PROBE_SOCK_HOOK_SENDMSG] = "sys_enter_sendmsg",
	};
	unsigned int i;

	for (i = 0; i < PROBE_SOCK_HOOK_MAX; i++) {
		LIBBPF_OPTS(bpf_tracepoint_opts, opts, .bpf_cookie = i);

		struct bpf_program *prog = i < PROBE_SOCK_HOOK_WRITE ? s->skel->progs.sock_read :
								       s->skel->progs.sock_write;

		s->io_links[i] = bpf_program__attach_tracepoint_opts(prog, "syscalls", tps[i], &opts);
		if (!s->io_links[i]) {
			int err = -errno;

			s->io_links[i] = NULL;
			return err;
		}
	}
	return 0;
}

static void http_stop(void *state)
{
	struct http_state *s = state;
	unsigned int i;

	if (!s)
		return;
	ring_buffer__free(s->rb);
	for (i = 0; s->ring_fds && i < s->nrings; i++)
		if (s->ring_fds[i] >= 0)
			close(s->ring_fds[i]);
	free(s->ring_fds);
	detach__links(s->io_links, PROBE_SOCK_HOOK_MAX);
	if (s->skel)
		detach__skeleton(s->skel->skeleton);
	sockets_bpf__destroy(s->skel);
	route__templates_free(s->tmpl);
	for (i = 0; i < SERVICE_SLOTS; i++) {
		struct service *sv = s->services[i], *next;

		for (; sv; sv = next) {
			next = sv->next;
			route__set_free(sv->routes);
			free(sv->key);
			free(sv);
		}
	}
	free(s->fast);
	free(s->stage);
	free(s->keys);
	tls__free(s->tls);
	dbquery__free(s->db);
	free(s);
}

static int http_start(struct probe_ctx *ctx, void **state, struct signal_status *st)
{
	const struct probe_config *cfg = ctx->cfg;
	struct http_state *s = calloc(1, sizeof(*s));
	const char *tmpl[ROUTE_TEMPLATES_MAX];
	unsigned int conns, i;
	char why[200];
	int err, ncpu, want_tls;

	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	s->max_routes = cfg->http.max_routes;
	s->fast = calloc(FAST_SLOTS, sizeof(*s->fast));
	if (!s->fast) {
		err = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < cfg->http.routes.n; i++)
		tmpl[i] = cfg->http.routes.v[i];
	s->tmpl = route__templates_new(tmpl, cfg->http.routes.n, why, sizeof(why));
	if (!s->tmpl) {
		err = -errno;
		signal__why(st, SIG_FAILED, "route templates: %s", why);
		goto err_free;
	}
	s->server = families__register(ctx->store, FAM_HTTP_SERVER, cfg->store.max_series);
	s->client = families__register(ctx->store, FAM_HTTP_CLIENT, cfg->store.max_series);
	s->stats = families__register(ctx->store, FAM_HTTP_STATS, 0);
	s->db = dbquery__new(ctx);
	if (!s->server || !s->client || !s->stats || !s->db) {
		err = -ENOMEM;
		goto err_free;
	}

	s->skel = sockets_bpf__open();
	if (!s->skel) {
		err = -errno;
		signal__why(st, SIG_FAILED, "open: %s", strerror(-err));
		goto err_free;
	}
	s->skel->rodata->filter_pids = ctx->filter;
	s->skel->rodata->self_pid = (__u32)ctx->self_pid;
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		err = ncpu ? ncpu : -EINVAL;
		signal__why(st, SIG_FAILED, "counting CPUs: %s", strerror(-err));
		goto err_free;
	}
	/*
	 * The outer map's template is CPU 0's ring, created here at its size
	 * (libbpf 1.1 cannot resize a BTF-declared inner map).
	 */
	err = rings_create(s, ncpu);
	if (err) {
		signal__why(st, SIG_FAILED, "ring buffers: %s", strerror(-err));
		goto err_free;
	}
	bpf_map__set_max_entries(s->skel->maps.http_rings, (__u32)ncpu);
	err = bpf_map__set_inner_map_fd(s->skel->maps.http_rings, s->ring_fds[0]);
	if (err) {
		signal__why(st, SIG_FAILED, "ring buffers: %s", strerror(-err));
		goto err_free;
	}
	/* every fd seen gets a small entry; HTTP connections a large one */
	conns = cfg->http.max_connections;
	bpf_map__set_max_entries(s->skel->maps.http_conns, conns);
	bpf_map__set_max_entries(s->skel->maps.conns,
				 conns * 4 > PROBE_SOCK_MAX_FDS ? conns * 4 : PROBE_SOCK_MAX_FDS);
	signal__btf_or_tp(ctx, s->skel->progs.inet_sock_set_state_btf,
			  s->skel->progs.inet_sock_set_state, 1);
	s->raw = hooks_raw(ctx);
	signal__one_of(s->skel->progs.sock_enter_btf, s->skel->progs.sock_write, s->raw);
	signal__one_of(s->skel->progs.sock_exit_btf, s->skel->progs.sock_read, s->raw);
	bpf_program__set_autoload(s->skel->progs.sys_exit_accept, !s->raw);
	bpf_program__set_autoload(s->skel->progs.sys_exit_accept4, !s->raw);
	bpf_program__set_autoload(s->skel->progs.sys_enter_connect, !s->raw);
	/*
	 * Without TLS the capture runs on in clear text, and says so. Every
	 * libssl read and write is a uprobe trap (at their common callee
	 * where found, else single-stepped at the wrappers: tls.c); an HTTPS
	 * server kept two thirds of its throughput here with both sides
	 * traced, so host-wide, where every process on the host would pay it
	 * unasked, TLS waits for a yes.
	 */
	want_tls = ctx->cfg->http.tls == CFG_ON || (ctx->cfg->http.tls == CFG_AUTO && ctx->filter);
	tls__autoload(s->skel, ctx, want_tls);
	err = signal__load(s->skel->skeleton, s->skel->maps.tracked_pids, ctx, st,
			   "(needs bpf_task_pt_regs, Linux 5.15+)");
	if (err)
		goto err_free;
	err = dbquery__seed_ports(&cfg->conn.ports, bpf_map__fd(s->skel->maps.db_ports));
	if (err) {
		signal__why(st, SIG_FAILED, "database ports: %s", strerror(-err));
		goto err_free;
	}
	err = sockets_bpf__attach(s->skel);
	if (!err && !s->raw)
		err = io_attach(s);
	if (err) {
		signal__why(st, SIG_FAILED, "attach: %s", strerror(-err));
		goto err_free;
	}
	err = rings_insert(s);
	if (err) {
		signal__why(st, SIG_FAILED, "ring buffers: %s", strerror(-err));
		goto err_free;
	}
	s->tls = want_tls ? tls__new(ctx, s->skel) : NULL;
	snprintf(st->why + strlen(st->why), sizeof(st->why) - strlen(st->why), "; %s",
		 s->tls ? tls__note(s->tls) : !want_tls ?
		 "TLS: off host-wide (a uprobe trap per libssl read and write): on under "
		 "--pid or with signals.http.tls=true" : "TLS: off (out of memory)");
	if (!ctx->check_only) {
		err = loop__add_ringbuf_then(ctx->loop, s->rb, stage_flush, s);
		if (err) {
			signal__why(st, SIG_FAILED, "event loop: %s", strerror(-err));
			goto err_free;
		}
	}
	*state = s;
	return 0;

err_free:
	http_stop(s);
	return err;
}

static int alive(uint32_t pid)
{
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/*
 * Entries of processes that exited without closing their sockets stay in
 * the kernel's LRU maps until pushed out. Removing them here keeps the
 * eviction count meaning "live state pushed out", and counts requests a
 * dead process left unanswered. Returns the live entries left.
 */
static uint64_t sweep_map(struct http_state *s, int fd, size_t vsize, int http)
{
	__u64 keys[BATCH], dead[BATCH], in, out;
	unsigned char *vals = malloc(BATCH * vsize);
	uint64_t live = 0;
	int first = 1, more = 1;
	__u32 n, i, ndead;

	if (!vals)
		return 0;
	while (more) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int err;

		n = BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, &opts);
		if (err && errno != ENOENT)
			break;
		more = !err;
		first = 0;
		in = out;
		for (i = 0, ndead = 0; i < n; i++) {
			if (alive(keys[i] >> 32)) {
				live++;
				continue;
			}
			dead[ndead++] = keys[i];
			if (http)
				s->swept_unanswered +=
					((struct probe_http_conn *)(vals + i * vsize))->count;
		}
		for (i = 0; i < ndead; i++)
			if (!bpf_map_delete_elem(fd, &dead[i])) {
				if (http)
					s->swept_http++;
				else
					s->swept++;
			}
	}
	free(vals);
	return live;
}

static void add_stat(struct http_state *s, uint64_t now, const char *what, uint64_t delta)
{
	struct label l = { "what", what };
	struct series *se;

	if (!delta)
		return;
	se = family__series(s->stats, &l, 1);
	if (se)
		series__add(se, now, STATS_COUNT, delta);
}

static void http_collect(void *state, uint64_t now)
{
	struct http_state *s = state;
	int fd = bpf_map__fd(s->skel->maps.stats);
	uint64_t v[PROBE_SOCK_STAT_MAX];
	unsigned int i;

	s->round++;
	/* series pointers are not kept across collects (see the top) */
	memset(s->fast, 0, FAST_SLOTS * sizeof(*s->fast));
	if (s->round % SWEEP_ROUNDS == 0) {
		uint64_t live;

		sweep_map(s, bpf_map__fd(s->skel->maps.conns), sizeof(struct probe_conn), 0);
		live = sweep_map(s, bpf_map__fd(s->skel->maps.http_conns),
				 sizeof(struct probe_http_conn), 1);
		if (!signals__percpu_sum(fd, PROBE_SOCK_STAT_HTTP_NEW, &v[0]) &&
		    !signals__percpu_sum(fd, PROBE_SOCK_STAT_HTTP_DEL, &v[1]) &&
		    v[0] > v[1] + s->swept_http + live)
			s->evicted = v[0] - v[1] - s->swept_http - live;
	}
	for (i = 0; i < PROBE_SOCK_STAT_MAX; i++)
		if (signals__percpu_sum(fd, i, &v[i]))
			v[i] = s->kprev[i];
	for (i = 0; i < NKSTATS; i++)
		add_stat(s, now, kstats[i].what, v[kstats[i].idx] - s->kprev[kstats[i].idx]);
	add_stat(s, now, "unanswered", s->swept_unanswered - s->swept_unanswered_shown);
	add_stat(s, now, "route_overflow", s->route_overflow - s->route_overflow_shown);
	add_stat(s, now, "dns_unparsed", s->dns_unparsed - s->dns_unparsed_shown);
	s->dns_unparsed_shown = s->dns_unparsed;
	add_stat(s, now, "route_cut", s->route_cut - s->route_cut_shown);
	if (s->evicted > s->evicted_shown)
		add_stat(s, now, "state_evictions", s->evicted - s->evicted_shown);
	s->swept_unanswered_shown = s->swept_unanswered;
	s->route_overflow_shown = s->route_overflow;
	s->route_cut_shown = s->route_cut;
	if (s->evicted > s->evicted_shown)
		s->evicted_shown = s->evicted;
	dbquery__collect(s->db, now, v, s->kprev);
	memcpy(s->kprev, v, sizeof(v));
	tls__collect(s->tls, now);
}

static void http_counts(void *state, struct signal_counts *c)
{
	static const enum probe_sock_stat lost[] = {
		PROBE_SOCK_STAT_HTTP_RB_DROP, PROBE_SOCK_STAT_HTTP_FIFO_FULL,
		PROBE_SOCK_STAT_HTTP_ORPHAN, PROBE_SOCK_STAT_READ_FAULT,
		PROBE_SOCK_STAT_DB_RB_DROP, PROBE_SOCK_STAT_DB_FIFO_FULL,
		PROBE_SOCK_STAT_DB_STATE_DROP, PROBE_SOCK_STAT_DNS_RB_DROP,
	};
	struct http_state *s = state;
	int fd = bpf_map__fd(s->skel->maps.stats);
	unsigned int i;
	uint64_t v, db_records, db_bad, tls_records, tls_lost;

	dbquery__counts(s->db, &db_records, &db_bad);
	c->events = s->records + db_records;
	c->lost = s->bad_records + db_bad;
	tls__counts(s->tls, &tls_records, &tls_lost);
	c->events += tls_records;
	c->lost += tls_lost;
	for (i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
		if (!signals__percpu_sum(fd, lost[i], &v))
			c->lost += v;
}

const struct signal_ops http_signal = {
	.name = "http",
	.what = "HTTP/1.x requests per route and per client peer: rate, errors, latency",
	.plan = http_plan,
	.start = http_start,
	.collect = http_collect,
	.counts = http_counts,
	.stop = http_stop,
};
