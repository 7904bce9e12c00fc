/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one line an alert carries: the answer, not only the symptom. It
 * names the route, destination or process, the value against the
 * threshold, and what the store knows that explains it: the slowest peer a
 * slow service calls, the pid behind a service name, a leak's rate and its
 * top stack. Everything comes from the store; nothing reads a signal.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/engine.h"
#include "core/families.h"
#include "core/hist.h"
#include "core/window.h"

static const char *lab(const struct label *l, unsigned int n, const char *key)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(l[i].key, key))
			return l[i].value;
	return NULL;
}

static void secs(double s, char *buf, size_t len)
{
	if (s >= 1 || s == 0)
		snprintf(buf, len, "%.3g s", s);
	else if (s >= 1e-3)
		snprintf(buf, len, "%.3g ms", s * 1e3);
	else
		snprintf(buf, len, "%.3g us", s * 1e6);
}

static void bytes(double b, char *buf, size_t len)
{
	double a = fabs(b);

	if (a >= 1e9)
		snprintf(buf, len, "%.3g GB", b / 1e9);
	else if (a >= 1e6)
		snprintf(buf, len, "%.3g MB", b / 1e6);
	else if (a >= 1e3)
		snprintf(buf, len, "%.3g kB", b / 1e3);
	else
		snprintf(buf, len, "%.0f B", b);
}

/* "5 min", "90 s", "2 h" */
static void span(double s, char *buf, size_t len)
{
	if (s >= 3600 && fmod(s, 3600) == 0)
		snprintf(buf, len, "%.0f h", s / 3600);
	else if (s >= 60 && fmod(s, 60) == 0)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s >= 120)
		snprintf(buf, len, "%.0f min", s / 60);
	else
		snprintf(buf, len, "%.0f s", s);
}

void alert_text__value(const struct alert_rule *r, double v, char *buf, size_t len)
{
	const struct family_desc *d = families__find(r->family);
	const char *unit;

	switch (r->kind) {
	case AV_QUANTILE:
		if (d && d->hist_unit && !strcmp(d->hist_unit, "ns"))
			secs(v, buf, len);
		else
			snprintf(buf, len, "%.4g", v);
		return;
	case AV_RATIO:
		snprintf(buf, len, "%.3g %%", v);
		return;
	case AV_RATE:
		snprintf(buf, len, "%.3g/s", v);
		return;
	case AV_COUNT:
		snprintf(buf, len, "%.0f", v);
		return;
	case AV_GAUGE:
		unit = d && r->metric < d->ngauges ? d->gauges[r->metric].unit : "";
		if (unit && !strcmp(unit, "By"))
			bytes(v, buf, len);
		else if (unit && !strcmp(unit, "By/s"))
			bytes(v, buf, len), strncat(buf, "/s", len - strlen(buf) - 1);
		else
			snprintf(buf, len, "%.4g", v);
		return;
	}
	snprintf(buf, len, "%g", v);
}

/* What the rule reads, in words: "p95", "5xx", "failed connects". */
static const char *what(const struct alert_rule *r, const struct family_desc *d, char *buf,
			size_t len)
{
	if (r->kind == AV_QUANTILE)
		snprintf(buf, len, "%s", r->value);
	else if (r->kind == AV_GAUGE)
		snprintf(buf, len, "%s", d->gauges[r->metric].name);
	else if (r->kind == AV_RATIO)
		snprintf(buf, len, "%s/%s", d->counters[r->metric].name,
			 d->counters[r->metric2].name);
	else
		snprintf(buf, len, "%s", d->counters[r->metric].name);
	return buf;
}

/* Up to three live pids of a service name, from mem_growth: " (pid 812)". */
struct pids_walk {
	const char *comm;
	char out[64];
	unsigned int n;
};

static int pids_one(struct series *se, void *arg)
{
	struct pids_walk *w = arg;
	const char *c = series__label(se, "comm"), *pid = series__label(se, "pid");
	size_t off = strlen(w->out);

	if (!c || !pid || strcmp(c, w->comm) || series__gauge(se, MG_ALIVE) < 0.5)
		return 0;
	if (w->n == 3) {
		snprintf(w->out + off, sizeof(w->out) - off, ", ...");
		return 1;
	}
	snprintf(w->out + off, sizeof(w->out) - off, "%s%s", w->n ? ", " : "", pid);
	w->n++;
	return 0;
}

static void pids_of(struct store *st, const char *comm, char *buf, size_t len)
{
	struct family *f = families__lookup(st, FAM_MEM_GROWTH);
	struct pids_walk w = { .comm = comm };

	buf[0] = 0;
	if (!f || !comm)
		return;
	family__for_each(f, pids_one, &w);
	if (w.n)
		snprintf(buf, len, " (pid%s %s)", w.n > 1 ? "s" : "", w.out);
}

/* The slowest thing a service calls over the window: HTTP peers and DB operations. */
struct peer_walk {
	const char *comm;
	uint64_t now, span;
	struct hist *tmp;
	int db;
	double best;
	char name[200];
};

static int peer_one(struct series *se, void *arg)
{
	struct peer_walk *w = arg;
	const char *c = series__label(se, "comm");
	struct window_read rd;
	double p95;

	if (!c || strcmp(c, w->comm) ||
	    window__read(series__window(se), w->now, w->span, w->tmp, &rd) ||
	    !hist__count(w->tmp))
		return 0;
	p95 = (double)hist__quantile(w->tmp, 0.95) / 1e9;
	if (p95 <= w->best)
		return 0;
	w->best = p95;
	if (w->db)
		snprintf(w->name, sizeof(w->name), "%s %s at %s", series__label(se, "kind"),
			 series__label(se, "op"), series__label(se, "dest"));
	else
		snprintf(w->name, sizeof(w->name), "%s",
			 *series__label(se, "host") ? series__label(se, "host")
						    : series__label(se, "peer"));
	return 0;
}

static void slowest_peer(struct store *st, const char *comm, uint64_t now, double window_s,
			 char *buf, size_t len)
{
	struct peer_walk w = { .comm = comm, .now = now, .span = (uint64_t)(window_s * 1e9) };
	enum family_id ids[2] = { FAM_HTTP_CLIENT, FAM_DB_QUERY };
	char v[32], name[200] = "";
	double best = 0;
	int i;

	buf[0] = 0;
	if (!comm || !(w.tmp = hist__new()))
		return;
	for (i = 0; i < 2; i++) {
		struct family *f = families__lookup(st, ids[i]);

		if (!f)
			continue;
		w.db = ids[i] == FAM_DB_QUERY;
		w.best = best;
		family__for_each(f, peer_one, &w);
		if (w.best > best) {
			best = w.best;
			snprintf(name, sizeof(name), "%s", w.name);
		}
	}
	hist__free(w.tmp);
	if (best > 0) {
		secs(best, v, sizeof(v));
		snprintf(buf, len, "; slowest peer: %s p95 %s", name, v);
	}
}

/* A leak's rate, duration and top stack, from mem_leak and mem_stack. */
struct stack_walk {
	const char *pid, *start;
	double best;
	char stack[400];
};

static int stack_one(struct series *se, void *arg)
{
	struct stack_walk *w = arg;
	const char *pid = series__label(se, "pid"), *start = series__label(se, "start");
	const char *s = series__label(se, "stack");
	double b;

	if (!pid || !start || !s || strcmp(pid, w->pid) || strcmp(start, w->start))
		return 0;
	b = (double)window__total_counter(series__window(se), MS_BYTES);
	if (b > w->best) {
		w->best = b;
		snprintf(w->stack, sizeof(w->stack), "%s", s);
	}
	return 0;
}

struct leak_walk {
	const char *pid, *start;
	double rate, growth_s;
	int found;
};

static int leak_one(struct series *se, void *arg)
{
	struct leak_walk *w = arg;
	const char *pid = series__label(se, "pid"), *start = series__label(se, "start");

	if (!pid || !start || strcmp(pid, w->pid) || strcmp(start, w->start))
		return 0;
	w->rate = series__gauge(se, ML_RATE);
	w->growth_s = series__gauge(se, ML_GROWTH_S);
	w->found = 1;
	return 1;
}

/* "a;b;c;d" (innermost first) -> "a <- b <- c" */
static void frames(const char *stack, char *buf, size_t len, int max)
{
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < max && *stack; i++) {
		const char *sep = strchr(stack, ';');
		size_t n = sep ? (size_t)(sep - stack) : strlen(stack);

		if (off + n + 5 >= len)
			break;
		off += (size_t)snprintf(buf + off, len - off, "%s%.*s", i ? " <- " : "", (int)n, stack);
		stack = sep ? sep + 1 : stack + n;
	}
}

static void leak_text(const struct alert_rule *r, const struct label *l, unsigned int n,
		      struct store *st, char *buf, size_t len)
{
	struct leak_walk lw = { .pid = lab(l, n, "pid"), .start = lab(l, n, "start") };
	struct stack_walk sw = { .pid = lw.pid, .start = lw.start };
	const char *comm = lab(l, n, "comm");
	struct family *f;
	char rate[32], dur[32], top[300] = "";
	size_t off;

	if (!lw.pid) {
		snprintf(buf, len, "leak suspected (%s)", r->name);
		return;
	}
	if (lw.start && (f = families__lookup(st, FAM_MEM_LEAK)))
		family__for_each(f, leak_one, &lw);
	if (lw.start && (f = families__lookup(st, FAM_MEM_STACK)))
		family__for_each(f, stack_one, &sw);
	off = (size_t)snprintf(buf, len, "leak in %s (pid %s)", comm ? comm : "?", lw.pid);
	if (lw.found && off < len) {
		bytes(lw.rate * 60, rate, sizeof(rate));
		span(lw.growth_s, dur, sizeof(dur));
		off += (size_t)snprintf(buf + off, len - off, ": +%s/min for %s", rate, dur);
	}
	if (sw.best > 0 && off < len) {
		frames(sw.stack, top, sizeof(top), 3);
		snprintf(buf + off, len - off, "; top stack %s", top);
	}
}

void alert_text__summary(const struct alert_rule *r, const struct label *l, unsigned int n,
			 double value, double count, struct store *st, uint64_t now,
			 char *buf, size_t len)
{
	const struct family_desc *d = families__find(r->family);
	const char *comm = lab(l, n, "comm"), *pid = lab(l, n, "pid");
	char v[48], th[48], win[32], w[64], pids[80] = "", peer[260] = "";
	unsigned int i;
	size_t off;

	if (!d || !len)
		return;
	alert_text__value(r, value, v, sizeof(v));
	alert_text__value(r, r->above, th, sizeof(th));
	span(r->kind == AV_GAUGE ? r->for_s : r->window_s, win, sizeof(win));
	if (pid)
		snprintf(pids, sizeof(pids), " (pid %s)", pid);
	else if (st)
		pids_of(st, comm, pids, sizeof(pids));

	if (d == families__get(FAM_MEM_LEAK) || d == families__get(FAM_MEM_GROWTH)) {
		leak_text(r, l, n, st, buf, len);
		return;
	}
	if (d == families__get(FAM_HTTP_SERVER)) {
		const char *m = lab(l, n, "method"), *route = lab(l, n, "route");
		char ww[32];

		if (r->kind == AV_QUANTILE && st)
			slowest_peer(st, comm, now, r->window_s, peer, sizeof(peer));
		if (r->kind == AV_RATIO)
			snprintf(w, sizeof(w), "%s %s of %.0f requests",
				 strncmp(d->counters[r->metric].name, "errors_", 7)
				 ? d->counters[r->metric].name : d->counters[r->metric].name + 7,
				 v, count);
		else
			snprintf(w, sizeof(w), "%s %s", what(r, d, ww, sizeof(ww)), v);
		snprintf(buf, len, "%s on %s %s (threshold %s, %s) in %s%s%s", w, m ? m : "*",
			 route ? route : "*", th, win, comm ? comm : "?", pids, peer);
		return;
	}
	if (d == families__get(FAM_DB_QUERY)) {
		snprintf(buf, len, "query %s %s for %s %s at %s (threshold %s, %s) in %s%s",
			 r->value, v, lab(l, n, "kind") ? lab(l, n, "kind") : "db",
			 lab(l, n, "op") ? lab(l, n, "op") : "*",
			 lab(l, n, "dest") ? lab(l, n, "dest") : "*", th, win, comm ? comm : "?", pids);
		return;
	}
	if (d == families__get(FAM_TCP_CONNECT)) {
		char ww[32];

		snprintf(buf, len, "connect %s %s to %s (%s) (threshold %s, %s) from %s%s",
			 what(r, d, ww, sizeof(ww)), v, lab(l, n, "dest") ? lab(l, n, "dest") : "*",
			 lab(l, n, "kind") ? lab(l, n, "kind") : "?", th, win, comm ? comm : "?", pids);
		return;
	}
	if (d == families__get(FAM_PROBE_SIGNAL)) {
		char ww[32];

		snprintf(buf, len, "probe %s %s events of signal %s in %s (threshold %s)",
			 what(r, d, ww, sizeof(ww)), v,
			 lab(l, n, "signal") ? lab(l, n, "signal") : "*", win, th);
		return;
	}
	/* any other family: the value, then every group label */
	off = (size_t)snprintf(buf, len, "%s %s %s (threshold %s, %s) on", d->name,
			       what(r, d, w, sizeof(w)), v, th, win);
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, " %s=%s", l[i].key, l[i].value);
	if (comm && !pid && off < len)
		snprintf(buf + off, len - off, "%s", pids);
}
