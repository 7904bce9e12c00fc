/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * conn signal: outbound TCP connects and the connections they open, per
 * (process, destination), with the destination's kind from the config's
 * port table.
 *
 * Records (include/probe/conn.h) drive everything: counters and the
 * connect-duration and lifetime histograms go straight to the store, and
 * the gauges (active, connecting, and the highest of each) are kept here
 * per destination and written to the store once a second. The highest
 * values are exact because records arrive in event order and every change
 * is seen, not sampled.
 *
 * Gauges built from events drift if events are lost. The kernel's owner
 * map is the truth, so after a counted ring-buffer loss the gauges are
 * rebuilt from it.
 *
 * Store families (labels pid, comm, dest, kind in all three, so readers can
 * join them; a database query family keyed the same way can join too):
 *   tcp_connect        counters by outcome, histogram of connect duration (ok only)
 *   tcp_connect_errno  failed connects by errno
 *   tcp_conn           opens, closes, resets, retransmits, lifetime histogram,
 *                      gauges active / active_highest / connecting / connecting_highest
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tcp.skel.h"
#include "probe/conn.h"
#include "config.h"
#include "core/dbports.h"
#include "core/families.h"
#include "core/store.h"
#include "loader/detach.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "loader/tracefs.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/peer_names.h"
#include "signals/conn_seed.h"

/* One (process, destination) pair: its labels and its gauges. */
struct dest {
	struct dest *next;
	uint32_t pid;
	uint16_t family, dport;
	uint8_t daddr[16];
	char pidstr[12];
	char comm[PROBE_COMM_LEN];
	char addr[PEER_NAMES_TEXT_MAX];	/* "10.0.0.5:5432", "[::1]:6379", "db.example:5432" */
	const char *kind;
	/* attribution labels (proc/attrib.h), as of pod-name generation gen */
	char attr_val[ATTRIB_NLABELS][K8S_NAME_LEN];
	const char *attr_key[ATTRIB_NLABELS];
	uint64_t gen;
	int64_t active, connecting;
	int64_t active_hi, connecting_hi;
	uint64_t last_event;		/* ns: idle ones are forgotten */
	int gauges_dirty;
};

#define DEST_BUCKETS	4096
#define DEST_MAX	16384
#define DEST_IDLE_NS	(300ULL * 1000000000ULL)

struct conn_state {
	struct probe_ctx *ctx;
	struct tcp_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *links[6];
	unsigned int nlinks;
	struct family *connect_fam, *errno_fam, *conn_fam;
	struct dest *dests[DEST_BUCKETS];
	unsigned int ndests;
	uint64_t records, bad_records, dest_full;
	uint64_t rb_lost_seen;		/* kernel drops already reconciled */
};

static int event_exists(const char *sys, const char *ev)
{
	return tracefs__event_id(sys, ev) >= 0;
}

/*
 * The socket and TCP events from tp_btf where the kernel allows it
 * (signal__btf_or_tp); the connect syscall events exist only as classic
 * tracepoints.
 */
static void conn_plan(const struct probe_ctx *ctx, struct signal_status *st)
{
	/* (the hook column holds 127 characters: iter/tcp runs once, at start) */
	if (ctx->feat->have[FEAT_TP_BTF])
		signal__hook(st, "tp_btf inet_sock_set_state, tcp_{retransmit_skb,receive_reset,"
			     "send_reset}; tp syscalls/sys_{enter,exit}_connect; iter/tcp");
	else
		signal__hook(st, "tracepoint sock/inet_sock_set_state, tcp/{retransmit_skb,"
			     "receive_reset,send_reset}, syscalls/sys_{enter,exit}_connect; "
			     "iter/tcp");
	if (ctx->cfg->conn.enabled == CFG_OFF) {
		signal__why(st, SIG_OFF, "signals.conn.enabled is false");
		return;
	}
	if (!SIGNAL_NEEDS(ctx, st, FEAT_TRACEPOINT, FEAT_RINGBUF))
		return;
	if (!event_exists("sock", "inet_sock_set_state")) {
		signal__why(st, SIG_UNAVAILABLE, "no sock/inet_sock_set_state tracepoint");
		return;
	}
	signal__why(st, SIG_LIVE, "outbound TCP connects and connections%s%s%s%s",
		    ctx->filter ? "" : ", host-wide",
		    event_exists("tcp", "tcp_retransmit_skb") ? "" : "; no retransmits (no tcp_retransmit_skb)",
		    event_exists("tcp", "tcp_receive_reset") && event_exists("tcp", "tcp_send_reset") ?
		    "" : "; resets missing (no tcp_{receive,send}_reset)",
		    event_exists("syscalls", "sys_enter_connect") ? "" :
		    "; no errno for connects failing inside connect()");
}

/* ---- destinations ---- */

static uint64_t dest_hash(uint32_t pid, uint16_t family, const uint8_t *a, uint16_t port)
{
	uint64_t h = 1469598103934665603ULL;
	unsigned int i;

	h = (h ^ pid) * 1099511628211ULL;
	h = (h ^ ((uint32_t)family << 16 | port)) * 1099511628211ULL;
	for (i = 0; i < 16; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	return h;
}

static void dest_labels(const struct dest *d, struct label *l)
{
	l[0] = (struct label){ "pid", d->pidstr };
	l[1] = (struct label){ "comm", d->comm };
	l[2] = (struct label){ "dest", d->addr };
	l[3] = (struct label){ "kind", d->kind };
}

/* The attribution labels, after a family's own. */
static void dest_attrib(const struct dest *d, struct label *l)
{
	unsigned int i;

	for (i = 0; i < ATTRIB_NLABELS; i++)
		l[i] = (struct label){ d->attr_key[i], d->attr_val[i] };
}

static void dest_set_attrib(struct conn_state *s, struct dest *d, const struct probe_conn_rec *r)
{
	struct label l[ATTRIB_NLABELS];
	unsigned int i;

	d->gen = attrib__generation(s->ctx->attrib);
	attrib__labels(s->ctx->attrib, r->hdr.cgroup_id, (int)r->hdr.pid, l);
	for (i = 0; i < ATTRIB_NLABELS; i++) {
		d->attr_key[i] = l[i].key;
		snprintf(d->attr_val[i], sizeof(d->attr_val[i]), "%s", l[i].value);
	}
}

/*
 * Find or add the destination a record is about. When the table is full
 * (counted in dest_full) it fills and returns *tmp instead: counters still
 * reach the store through its labels, but its gauges are not kept.
 */
static struct dest *dest_get(struct conn_state *s, const struct probe_conn_rec *r,
			     struct dest *tmp)
{
	const struct dbports *ports = &s->ctx->cfg->conn.ports;
	uint64_t h = dest_hash(r->hdr.pid, r->family, r->daddr, r->dport);
	struct dest **pp = &s->dests[h & (DEST_BUCKETS - 1)], *d;
	const char *name;

	for (d = *pp; d; d = d->next)
		if (d->pid == r->hdr.pid && d->family == r->family && d->dport == r->dport &&
		    !memcmp(d->daddr, r->daddr, 16)) {
			/* pod names known since: label its series anew */
			if (d->gen != attrib__generation(s->ctx->attrib))
				dest_set_attrib(s, d, r);
			return d;
		}
	if (s->ndests < DEST_MAX)
		d = calloc(1, sizeof(*d));
	if (!d) {
		s->dest_full++;
		memset(tmp, 0, sizeof(*tmp));
		d = tmp;
	}
	d->pid = r->hdr.pid;
	d->family = r->family;
	d->dport = r->dport;
	memcpy(d->daddr, r->daddr, 16);
	snprintf(d->pidstr, sizeof(d->pidstr), "%u", r->hdr.pid);
	/* The process's name when it is still there, else the connecting thread's. */
	name = names__alive((int)r->hdr.pid) ? names__get(s->ctx->names, (int)r->hdr.pid) : "?";
	if (!strcmp(name, "?"))
		name = r->hdr.comm;
	snprintf(d->comm, sizeof(d->comm), "%.*s", PROBE_COMM_LEN - 1, name);
	peer_names__format(s->ctx->peers, d->addr, sizeof(d->addr), r->family, r->daddr, r->dport);
	d->kind = dbports__kind(ports, r->dport);
	if (!d->kind)
		d->kind = "other";
	dest_set_attrib(s, d, r);
	if (d != tmp) {
		d->next = *pp;
		*pp = d;
		s->ndests++;
	}
	return d;
}

static struct series *dest_series(struct family *f, const struct dest *d)
{
	struct label l[4 + ATTRIB_NLABELS];

	dest_labels(d, l);
	dest_attrib(d, l + 4);
	return f ? family__series(f, l, 4 + ATTRIB_NLABELS) : NULL;
}

static void gauge_move(int64_t *v, int64_t *hi, int delta)
{
	*v += delta;
	if (*v < 0)
		*v = 0;	/* its start was lost; the rebuild after a loss fixes the rest */
	if (*v > *hi)
		*hi = *v;
}

/* ---- records ---- */

static unsigned int reason_of(int outcome, int err)
{
	if (outcome == PROBE_CONN_FAILED && err == 0)
		return CC_ABORTED;	/* the caller closed it before any answer */
	switch (err) {
	case ECONNREFUSED:
		return CC_REFUSED;
	case ETIMEDOUT:
		return CC_TIMEOUT;
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return CC_UNREACHABLE;
	}
	return CC_OTHER;
}

static void count_errno(struct conn_state *s, const struct dest *d, uint64_t now, int err)
{
	struct label l[5 + ATTRIB_NLABELS];
	struct series *se;
	char buf[16];

	if (!err || !s->errno_fam)
		return;
	dest_labels(d, l);
	snprintf(buf, sizeof(buf), "%d", err);
	l[4] = (struct label){ "errno", buf };
	dest_attrib(d, l + 5);
	se = family__series(s->errno_fam, l, 5 + ATTRIB_NLABELS);
	if (se)
		series__add(se, now, CE_CONNECTS, 1);
}

static void on_done(struct conn_state *s, struct dest *d, const struct probe_conn_rec *r,
		    uint64_t now)
{
	struct series *cs = dest_series(s->connect_fam, d), *ks;

	/* sock == 0: failed before SYN_SENT, so no START announced it */
	if (r->sock)
		gauge_move(&d->connecting, &d->connecting_hi, -1);
	else if (cs)
		series__add(cs, now, CC_ATTEMPTS, 1);
	if (r->outcome == PROBE_CONN_OK) {
		gauge_move(&d->active, &d->active_hi, +1);
		if (cs) {
			series__add(cs, now, CC_ESTABLISHED, 1);
			series__observe_n(cs, now, r->dur_ns, 1);
		}
		ks = dest_series(s->conn_fam, d);
		if (ks)
			series__add(ks, now, KC_OPENS, 1);
		return;
	}
	if (cs) {
		series__add(cs, now, CC_FAILED, 1);
		series__add(cs, now, reason_of(r->outcome, r->err), 1);
	}
	count_errno(s, d, now, r->err);
}

static int on_record(void *arg, void *data, size_t len)
{
	struct conn_state *s = arg;
	const struct probe_conn_rec *r = data;
	uint64_t now = loop__now_ns();
	struct dest tmp, *d;
	struct series *se;

	if (len < sizeof(*r) || r->hdr.size != sizeof(*r) ||
	    r->hdr.version != PROBE_CONN_VERSION) {
		s->bad_records++;
		return 0;
	}
	s->records++;
	d = dest_get(s, r, &tmp);
	d->last_event = now;
	d->gauges_dirty = 1;
	switch (r->hdr.type) {
	case PROBE_REC_CONN_START:
		gauge_move(&d->connecting, &d->connecting_hi, +1);
		se = dest_series(s->connect_fam, d);
		if (se)
			series__add(se, now, CC_ATTEMPTS, 1);
		break;
	case PROBE_REC_CONN_DONE:
		on_done(s, d, r, now);
		break;
	case PROBE_REC_CONN_END:
		gauge_move(&d->active, &d->active_hi, -1);
		se = dest_series(s->conn_fam, d);
		if (se) {
			series__add(se, now, KC_CLOSES, 1);
			if (r->err)
				series__add(se, now, KC_ERRORS, 1);
			/* opened before the probe: its lifetime is unknown */
			if (!(r->hdr.flags & PROBE_CONN_F_PREEXISTING))
				series__observe_n(se, now, r->dur_ns, 1);
		}
		break;
	case PROBE_REC_CONN_RETRANS:
	case PROBE_REC_CONN_RST_IN:
	case PROBE_REC_CONN_RST_OUT:
		se = dest_series(s->conn_fam, d);
		if (se)
			series__add(se, now, r->hdr.type == PROBE_REC_CONN_RETRANS ? KC_RETRANSMITS :
				    r->hdr.type == PROBE_REC_CONN_RST_IN ? KC_RESETS_IN :
				    KC_RESETS_OUT, 1);
		break;
	default:
		s->bad_records++;
		break;
	}
	/* d == &tmp: the table is full (counted); counters went through, gauges cannot */
	return 0;
}

/* ---- gauges ---- */

static void write_gauges(struct conn_state *s, struct dest *d, uint64_t now)
{
	struct series *se = dest_series(s->conn_fam, d);

	if (!se)
		return;
	series__set_gauge(se, now, KG_ACTIVE, (double)d->active);
	series__set_gauge(se, now, KG_ACTIVE_HIGHEST, (double)d->active_hi);
	series__set_gauge(se, now, KG_CONNECTING, (double)d->connecting);
	series__set_gauge(se, now, KG_CONNECTING_HIGHEST, (double)d->connecting_hi);
	d->gauges_dirty = 0;
}

/*
 * Set every gauge from the kernel's owner map: what is open and what is
 * still connecting right now. Used after records were lost.
 */
static void rebuild_gauges(struct conn_state *s, uint64_t now)
{
	int fd = bpf_map__fd(s->skel->maps.conn_socks);
	__u64 key, next, *prev = NULL;
	struct probe_conn_sock o;
	unsigned int i;

	/* Records already in the ring describe changes the map already shows. */
	ring_buffer__consume(s->rb);
	for (i = 0; i < DEST_BUCKETS; i++) {
		struct dest *d;

		for (d = s->dests[i]; d; d = d->next) {
			d->active = 0;
			d->connecting = 0;
			d->gauges_dirty = 1;
		}
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct probe_conn_rec r = { .family = 0 };
		struct dest tmp, *d;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &o))
			continue;
		r.hdr.pid = o.pid;
		memcpy(r.hdr.comm, o.comm, sizeof(r.hdr.comm));
		memcpy(r.daddr, o.daddr, sizeof(r.daddr));
		r.dport = o.dport;
		r.family = o.family;
		d = dest_get(s, &r, &tmp);
		if (d == &tmp)
			continue;
		d->last_event = now;
		if (!o.t_est)
			gauge_move(&d->connecting, &d->connecting_hi, +1);
		else if (!o.t_end)
			gauge_move(&d->active, &d->active_hi, +1);
	}
}

static void conn_collect(void *state, uint64_t now)
{
	struct conn_state *s = state;
	uint64_t lost = 0;
	unsigned int i;

	if (!s->rb)
		return;
	if (!signals__percpu_sum(bpf_map__fd(s->skel->maps.stats), PROBE_CONN_STAT_RB_DROP,
				 &lost) && lost != s->rb_lost_seen) {
		s->rb_lost_seen = lost;
		rebuild_gauges(s, now);
	}
	for (i = 0; i < DEST_BUCKETS; i++) {
		struct dest **pp = &s->dests[i];

		while (*pp) {
			struct dest *d = *pp;

			if (d->gauges_dirty || d->active || d->connecting)
				write_gauges(s, d, now);
			/* Nothing open: forget it once its process is gone or it idles. */
			if (!d->active && !d->connecting &&
			    (!names__alive((int)d->pid) || now - d->last_event > DEST_IDLE_NS)) {
				*pp = d->next;
				free(d);
				s->ndests--;
			} else {
				pp = &d->next;
			}
		}
	}
}

/* ---- lifecycle ---- */

static void conn_stop(void *state)
{
	struct conn_state *s = state;
	unsigned int i;

	if (!s)
		return;
	detach__links(s->links, s->nlinks);
	ring_buffer__free(s->rb);
	if (s->skel)
		detach__skeleton(s->skel->skeleton);
	tcp_bpf__destroy(s->skel);
	for (i = 0; i < DEST_BUCKETS; i++) {
		struct dest *d = s->dests[i], *next;

		for (; d; d = next) {
			next = d->next;
			free(d);
		}
	}
	free(s);
}

static int attach(struct conn_state *s, struct bpf_program *p, struct signal_status *st)
{
	struct bpf_link *l;
	int err;

	if (!bpf_program__autoload(p))
		return 0;
	l = bpf_program__attach(p);
	if (!l) {
		err = -errno;
		signal__why(st, SIG_FAILED, "attach %s: %s", bpf_program__name(p), strerror(-err));
		return err;
	}
	s->links[s->nlinks++] = l;
	return 0;
}

/* Open, configure and load the skeleton; with_iter: include iter/tcp. */
static int load_skel(struct conn_state *s, int with_iter, struct signal_status *st)
{
	struct probe_ctx *ctx = s->ctx;
	struct tcp_bpf *k;
	int err;

	k = s->skel = tcp_bpf__open();
	if (!k) {
		err = -errno;
		signal__why(st, SIG_FAILED, "open: %s", strerror(-err));
		return err;
	}
	k->rodata->filter_pids = ctx->filter;
	k->rodata->self_pid = (__u32)ctx->self_pid;
	/* Optional hooks: without them the signal runs with less detail (see plan). */
	signal__btf_or_tp(ctx, k->progs.inet_sock_set_state_btf, k->progs.inet_sock_set_state, 1);
	signal__btf_or_tp(ctx, k->progs.tcp_retransmit_skb_btf, k->progs.tcp_retransmit_skb,
			  event_exists("tcp", "tcp_retransmit_skb"));
	signal__btf_or_tp(ctx, k->progs.tcp_receive_reset_btf, k->progs.tcp_receive_reset,
			  event_exists("tcp", "tcp_receive_reset"));
	signal__btf_or_tp(ctx, k->progs.tcp_send_reset_btf, k->progs.tcp_send_reset,
			  event_exists("tcp", "tcp_send_reset"));
	bpf_program__set_autoload(k->progs.sys_enter_connect,
				  event_exists("syscalls", "sys_enter_connect"));
	bpf_program__set_autoload(k->progs.sys_exit_connect,
				  event_exists("syscalls", "sys_exit_connect"));
	bpf_program__set_autoload(k->progs.seed_tcp, with_iter);
	return signal__load(k->skeleton, k->maps.tracked_pids, ctx, st, NULL);
}

/* Connections open before the start, so a running pool is not shown empty. */
static void seed(struct conn_state *s, struct signal_status *st, int iter_err)
{
	struct conn_seed_opts o = {
		.iter = s->skel->progs.seed_tcp,
		.socks_fd = bpf_map__fd(s->skel->maps.conn_socks),
		.tracked_fd = s->ctx->filter ? s->ctx->tracked_fd : -1,
		.self_pid = s->ctx->self_pid,
		.now_ns = loop__now_ns(),
	};
	char why[SIGNAL_WHY_LEN];
	int n = iter_err ? iter_err : conn_seed__run(&o);

	snprintf(why, sizeof(why), "%s", st->why);
	if (n >= 0) {
		signal__why(st, SIG_LIVE, "%s; %d connection(s) open before start followed", why, n);
		rebuild_gauges(s, loop__now_ns());
	} else {
		signal__why(st, SIG_LIVE, "%s; connections open before start not seen (%s)", why,
			    strerror(-n));
	}
}

static int conn_start(struct probe_ctx *ctx, void **state, struct signal_status *st)
{
	struct conn_state *s = calloc(1, sizeof(*s));
	char plan_why[SIGNAL_WHY_LEN];
	int err, iter_err = 0;
	struct tcp_bpf *k;

	if (!s)
		return -ENOMEM;
	snprintf(plan_why, sizeof(plan_why), "%s", st->why);
	s->ctx = ctx;
	s->connect_fam = families__register(ctx->store, FAM_TCP_CONNECT, 0);
	s->errno_fam = families__register(ctx->store, FAM_TCP_CONNECT_ERRNO, 0);
	s->conn_fam = families__register(ctx->store, FAM_TCP_CONN, 0);
	if (!s->connect_fam || !s->errno_fam || !s->conn_fam) {
		err = -ENOMEM;
		goto err_free;
	}
	err = load_skel(s, 1, st);
	if (err) {
		/* a kernel without iter/tcp still gets everything else */
		iter_err = err;
		tcp_bpf__destroy(s->skel);
		s->skel = NULL;
		signal__why(st, SIG_LIVE, "%s", plan_why);
		err = load_skel(s, 0, st);
	}
	if (err)
		goto err_free;
	k = s->skel;
	/* Calls first: a connect between the two attaches then loses only its errno. */
	if ((err = attach(s, k->progs.sys_enter_connect, st)) ||
	    (err = attach(s, k->progs.sys_exit_connect, st)) ||
	    (err = attach(s, k->progs.inet_sock_set_state, st)) ||
	    (err = attach(s, k->progs.tcp_retransmit_skb, st)) ||
	    (err = attach(s, k->progs.tcp_receive_reset, st)) ||
	    (err = attach(s, k->progs.tcp_send_reset, st)) ||
	    (err = attach(s, k->progs.inet_sock_set_state_btf, st)) ||
	    (err = attach(s, k->progs.tcp_retransmit_skb_btf, st)) ||
	    (err = attach(s, k->progs.tcp_receive_reset_btf, st)) ||
	    (err = attach(s, k->progs.tcp_send_reset_btf, st)))
		goto err_free;
	if (ctx->check_only) {
		*state = s;
		return 0;
	}
	s->rb = ring_buffer__new(bpf_map__fd(k->maps.conn_events), on_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		signal__why(st, SIG_FAILED, "ring buffer: %s", strerror(-err));
		goto err_free;
	}
	err = loop__add_ringbuf(ctx->loop, s->rb);
	if (err) {
		signal__why(st, SIG_FAILED, "event loop: %s", strerror(-err));
		goto err_free;
	}
	seed(s, st, iter_err);
	*state = s;
	return 0;

err_free:
	conn_stop(s);
	return err;
}

static void conn_counts(void *state, struct signal_counts *c)
{
	struct conn_state *s = state;
	int fd = bpf_map__fd(s->skel->maps.stats);
	unsigned int i;
	uint64_t v;

	c->events = s->records;
	c->lost = s->bad_records + s->dest_full;
	for (i = 0; i < PROBE_CONN_STAT_MAX; i++)
		if (!signals__percpu_sum(fd, i, &v))
			c->lost += v;
}

const struct signal_ops conn_signal = {
	.name = "conn",
	.what = "outbound TCP per process and destination: connects, failures by reason, "
		"open connections, resets, retransmits",
	.plan = conn_plan,
	.start = conn_start,
	.collect = conn_collect,
	.counts = conn_counts,
	.stop = conn_stop,
};
