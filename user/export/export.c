/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <bpf/bpf.h>

#include "config.h"
#include "core/families.h"
#include "export/collect.h"
#include "export/export.h"
#include "export/otlp.h"
#include "export/selfstats.h"
#include "export/server.h"
#include "export/snapshot.h"
#include "loader/loop.h"

#define FRESH_NS	1000000000ULL	/* a snapshot younger than this is reused */
#define WAIT_S		3		/* a reader waits this long for a new one */

struct exporter {
	const struct probe_config *cfg;
	struct store *store;
	struct loop *loop;
	struct collector *col;
	struct self_info self;
	int efd;			/* readers -> loop: build one */
	int stats_fd;			/* held: kernel BPF program stats stay on */
	pthread_mutex_t lock;		/* cur, cur_ns, gen, requested */
	pthread_cond_t cond;
	struct snapshot *cur;
	uint64_t cur_ns, gen;
	int requested;
	uint64_t builds, build_failures;
	double last_build_s;		/* the previous build's duration on the loop */
	struct server *srv;
	struct otlp *otlp;
	char desc[600];
	char host[256];			/* OTLP resource host.name */
};

static uint64_t unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int counter(struct snapshot *s, int idx, const char *k, const char *v, double value)
{
	struct snap_attr a = { k, v };
	const struct snap_attr *attrs = k ? snapshot__attrs(s, &a, 1) : NULL;
	struct snap_point *p;

	if (idx < 0 || (k && !attrs))
		return -ENOMEM;
	p = snapshot__point(s, idx, attrs, k ? 1 : 0);
	if (!p)
		return -ENOMEM;
	p->value = value;
	return 0;
}

/* The exporters' own health: scrapes answered, OTLP bodies sent and dropped. */
static int export_metrics(struct exporter *x, struct snapshot *s)
{
	int err = 0, i;

	if (x->srv) {
		struct server_stats st;

		server__stats(x->srv, &st);
		i = snapshot__metric(s, "probe.export.scrapes", "{request}",
				     "/metrics requests by outcome (ok includes gzip)", SNAP_COUNTER,
				     NULL, 0);
		err = err ? err : counter(s, i, "outcome", "ok", (double)st.scrapes);
		err = err ? err : counter(s, i, "outcome", "unauthorized", (double)st.unauthorized);
		err = err ? err : counter(s, i, "outcome", "error", (double)st.errors);
	}
	if (x->otlp) {
		struct otlp_stats st;

		otlp__stats(x->otlp, &st);
		i = snapshot__metric(s, "probe.otlp.requests", "{request}",
				     "OTLP requests by outcome: sent (2xx), retried (429, 502, 503, "
				     "504 or no answer), rejected (any other status)", SNAP_COUNTER,
				     NULL, 0);
		err = err ? err : counter(s, i, "outcome", "sent", (double)st.sent);
		err = err ? err : counter(s, i, "outcome", "retried", (double)st.retries);
		err = err ? err : counter(s, i, "outcome", "rejected", (double)st.dropped_rejected);
		i = snapshot__metric(s, "probe.otlp.dropped", "{request}",
				     "OTLP bodies dropped: queue_full (the oldest, when the queue "
				     "is full) or rejected by the receiver", SNAP_COUNTER, NULL, 0);
		err = err ? err : counter(s, i, "reason", "queue_full", (double)st.dropped_full);
		err = err ? err : counter(s, i, "reason", "rejected", (double)st.dropped_rejected);
		i = snapshot__metric(s, "probe.otlp.queue", "{request}",
				     "OTLP bodies waiting to be sent", SNAP_GAUGE, NULL, 0);
		err = err ? err : counter(s, i, NULL, NULL, (double)st.queued);
	}
	i = snapshot__metric(s, "probe.export.snapshot.failures", "{snapshot}",
			     "snapshots that ran out of memory while being built (exported "
			     "partly)", SNAP_COUNTER, NULL, 0);
	err = err ? err : counter(s, i, NULL, NULL, (double)x->build_failures);
	i = snapshot__metric(s, "probe.export.snapshot.duration", "s",
			     "time the event loop spent building the previous snapshot",
			     SNAP_GAUGE, NULL, 0);
	err = err ? err : counter(s, i, NULL, NULL, x->last_build_s);
	i = snapshot__metric(s, "probe.export.snapshots", "{snapshot}",
			     "snapshots built (at most one a second, only when asked)",
			     SNAP_COUNTER, NULL, 0);
	err = err ? err : counter(s, i, NULL, NULL, (double)x->builds);
	return err;
}

static void build(struct exporter *x)
{
	uint64_t now = loop__now_ns();
	struct snapshot *s = snapshot__new(unix_ns(), x->self.start_unix_ns), *old;

	if (!s) {
		x->build_failures++;
		return;
	}
	x->builds++;
	if (collector__build(x->col, x->store, now, s) || selfstats__add(s, &x->self) ||
	    export_metrics(x, s))
		x->build_failures++;
	x->last_build_s = (double)(loop__now_ns() - now) / 1e9;
	pthread_mutex_lock(&x->lock);
	old = x->cur;
	x->cur = s;
	x->cur_ns = now;
	x->gen++;
	x->requested = 0;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	snapshot__put(old);
}

/* On the event loop: a reader asked for a fresh snapshot. */
static void on_request(int fd, void *arg)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	build(arg);
}

/* On a reader's thread. */
static struct snapshot *get_snapshot(void *arg)
{
	struct exporter *x = arg;
	uint64_t want, one = 1;
	struct snapshot *s;
	struct timespec ts;

	pthread_mutex_lock(&x->lock);
	if (x->cur && loop__now_ns() - x->cur_ns < FRESH_NS) {
		s = snapshot__get(x->cur);
		pthread_mutex_unlock(&x->lock);
		return s;
	}
	want = x->gen + 1;
	if (!x->requested) {
		x->requested = 1;
		if (write(x->efd, &one, sizeof(one)) != sizeof(one))
			x->requested = 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_S;
	while (x->gen < want)
		if (pthread_cond_timedwait(&x->cond, &x->lock, &ts) == ETIMEDOUT)
			break;
	s = snapshot__get(x->cur);
	pthread_mutex_unlock(&x->lock);
	return s;
}

/* The first line of a file, without its newline; 0 or a negative errno. */
static int read_line(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!fgets(buf, (int)len, f))
		buf[0] = 0;
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = 0;
	if (!n) {
		snprintf(err, errlen, "%s: empty", path);
		return -EINVAL;
	}
	return 0;
}

static int start_server(struct exporter *x, char *err, size_t errlen)
{
	const struct probe_config *cfg = x->cfg;
	struct server_opts so = {
		.listen = cfg->export.listen,
		.max_connections = cfg->export.max_connections,
		.timeout_s = cfg->export.timeout_s,
	};
	char basic[512], token[512], why[300];
	char *colon;
	int ret;

	if (cfg->export.basic_auth_file[0] && cfg->export.bearer_token_file[0]) {
		snprintf(err, errlen, "export: basic_auth_file and bearer_token_file are exclusive");
		return -EINVAL;
	}
	if (cfg->export.basic_auth_file[0]) {
		ret = read_line(cfg->export.basic_auth_file, basic, sizeof(basic), err, errlen);
		if (ret)
			return ret;
		colon = strchr(basic, ':');
		if (!colon || colon == basic) {
			snprintf(err, errlen, "%s: expected user:password", cfg->export.basic_auth_file);
			return -EINVAL;
		}
		*colon = 0;
		so.basic_user = basic;
		so.basic_password = colon + 1;
	}
	if (cfg->export.bearer_token_file[0]) {
		ret = read_line(cfg->export.bearer_token_file, token, sizeof(token), err, errlen);
		if (ret)
			return ret;
		so.bearer_token = token;
	}
	x->srv = server__new(&so, get_snapshot, x, why, sizeof(why));
	memset(basic, 0, sizeof(basic));
	memset(token, 0, sizeof(token));
	if (!x->srv) {
		if (errno == EINVAL) {
			snprintf(err, errlen, "export.listen: %s", why);
			return -EINVAL;
		}
		snprintf(x->desc, sizeof(x->desc), "/metrics off: %s", why);
		return 0;
	}
	snprintf(x->desc, sizeof(x->desc), "/metrics on %s (port %u)%s", cfg->export.listen,
		 server__port(x->srv), so.basic_user ? ", basic auth" :
		 so.bearer_token ? ", bearer token" : "");
	return 0;
}

struct exporter *exporter__new(const struct probe_config *cfg, struct store *st,
			       struct loop *loop, const struct exporter_info *info,
			       char *err, size_t errlen)
{
	struct exporter *x = calloc(1, sizeof(*x));
	struct collect_opts co = {
		.max_series_per_family = cfg->export.max_series_per_family,
		.max_series_per_service = cfg->export.max_series_per_service,
		.retire_ns = (uint64_t)cfg->export.retire_after_s * 1000000000ULL,
		.quantile_span_ns = (uint64_t)cfg->export.quantile_window_s * 1000000000ULL,
	};
	unsigned int i, n;
	size_t len;
	int e;

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	x->cfg = cfg;
	x->store = st;
	x->loop = loop;
	x->efd = -1;
	x->stats_fd = -1;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	snprintf(x->desc, sizeof(x->desc), "/metrics off (export.listen is empty)");
	for (i = 0; i < FAM_MAX; i++) {
		const double *b = config__bounds(&cfg->export.buckets, families__get(i)->name, &n);

		co.nbounds[i] = b && n <= SNAP_MAX_BOUNDS ? n : 0;
		if (co.nbounds[i])
			memcpy(co.bounds[i], b, n * sizeof(*b));
	}
	x->self.start_unix_ns = info->start_unix_ns;
	x->self.startup_s = info->startup_s;
	x->self.bpf_stats = cfg->export.bpf_stats != CFG_OFF;
	if (cfg->export.bpf_stats == CFG_ON) {
		x->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		x->self.bpf_stats_held = x->stats_fd >= 0;
	}
	x->col = collector__new(&co);
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!x->col || x->efd < 0 || loop__add_fd(loop, x->efd, on_request, x)) {
		e = errno ? errno : ENOMEM;
		snprintf(err, errlen, "export: %s", strerror(e));
		goto err_free;
	}
	if (cfg->export.listen[0] && start_server(x, err, errlen)) {
		e = EINVAL;
		goto err_free;
	}
	if (cfg->export.otlp.endpoint[0]) {
		struct otlp_opts oo = {
			.endpoint = cfg->export.otlp.endpoint,
			.interval_s = cfg->export.otlp.interval_s,
			.timeout_s = cfg->export.otlp.timeout_s,
			.queue_max = cfg->export.otlp.queue,
			.max_points = cfg->export.otlp.max_points,
			.gzip = cfg->export.otlp.gzip != CFG_OFF,
			.backoff_s = 1,
			.backoff_max_s = 60,
			.resource = { "probe", NULL, info->version },
		};

		if (!gethostname(x->host, sizeof(x->host) - 1) && x->host[0])
			oo.resource.host_name = x->host;
		x->otlp = otlp__new(&oo, get_snapshot, x);
		if (!x->otlp) {
			e = errno;
			snprintf(err, errlen, "export.otlp: %s", strerror(e));
			goto err_free;
		}
		len = strlen(x->desc);
		snprintf(x->desc + len, sizeof(x->desc) - len, "; OTLP to %s every %gs",
			 cfg->export.otlp.endpoint, cfg->export.otlp.interval_s);
	}
	return x;

err_free:
	exporter__free(x);
	errno = e;
	return NULL;
}

void exporter__free(struct exporter *x)
{
	if (!x)
		return;
	/* readers first: they may be waiting for the loop */
	otlp__free(x->otlp);
	server__free(x->srv);
	if (x->efd >= 0) {
		loop__del_fd(x->loop, x->efd);
		close(x->efd);
	}
	if (x->stats_fd >= 0)
		close(x->stats_fd);
	collector__free(x->col);
	snapshot__put(x->cur);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x);
}

const char *exporter__describe(const struct exporter *x)
{
	return x->desc;
}
