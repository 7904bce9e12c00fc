/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "alert/deliver.h"

#define BACKOFF_MAX_S	60.0

struct item {
	unsigned int sink;
	char *body;
};

struct deliver {
	const struct alert_config *cfg;
	FILE *out;
	char host[256];
	char urls[ALERT_MAX_SINKS][ALERT_URL_MAX + 32];
	CURL *curl[ALERT_MAX_SINKS];
	struct curl_slist *headers[ALERT_MAX_SINKS];

	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t cv;
	pthread_t thread;
	int started, stop;
	struct item *q;			/* ring of cfg->queue items */
	unsigned int head, n;
	unsigned int max_depth;		/* the most queued at once: never above cfg->queue */
	struct deliver_stats stats[ALERT_MAX_SINKS];
	uint64_t failures_logged[ALERT_MAX_SINKS];
	unsigned int seed;
	/*
	 * Set by the shutdown (CLOCK_REALTIME ns, atomic: the transfer in
	 * flight reads it without the lock): what is not delivered by then is
	 * dropped and counted, and a transfer still running then is cut.
	 */
	long long deadline_ns;
};

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* curl's progress callback: cut the transfer once the shutdown's deadline passed. */
static int past_deadline(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct deliver *d = arg;
	long long end = __atomic_load_n(&d->deadline_ns, __ATOMIC_RELAXED);

	(void)dt, (void)dn, (void)ut, (void)un;
	return end && now_real() * 1e9 > (double)end;
}

/* 1 ok, 0 retry, -1 give up; what (curl's text or the status) for the message. */
static int post(struct deliver *d, unsigned int i, const char *body, char *what, size_t len)
{
	CURL *c = d->curl[i];
	CURLcode rc;
	long status = 0;

	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		/* curl_easy_strerror never carries the URL */
		snprintf(what, len, "%s", curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	snprintf(what, len, "HTTP %ld", status);
	if (status >= 200 && status < 300)
		return 1;
	return status == 429 || status == 408 || status >= 500 ? 0 : -1;
}

/* Sleep s seconds or until stop; returns the stop flag. Called with mu held. */
static int wait_locked(struct deliver *d, double s)
{
	struct timespec ts;
	double t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (double)ts.tv_sec + ts.tv_nsec / 1e9 + s;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - floor(t)) * 1e9);
	while (!d->stop)
		if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
			break;
	return d->stop;
}

static void log_failure(struct deliver *d, unsigned int i, unsigned int attempts, const char *what)
{
	/* the first failure, then one line per 100, so a dead receiver does not flood stderr */
	if (d->failures_logged[i]++ % 100)
		return;
	fprintf(stderr, "probe: alerts: %s: gave up after %u attempt(s): %s (%llu failed so far)\n",
		d->cfg->sinks[i].name, attempts, what, (unsigned long long)d->stats[i].failed);
}

static void *worker(void *arg)
{
	struct deliver *d = arg;
	pthread_mutex_lock(&d->mu);
	for (;;) {
		struct item it;
		unsigned int attempt;
		char what[128] = "";
		int ok = 0;

		while (!d->n && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->n)
			break;
		if (d->stop) {
			if (now_real() * 1e9 > (double)d->deadline_ns) {
				/* what the shutdown could not deliver */
				while (d->n) {
					it = d->q[d->head];
					d->head = (d->head + 1) % d->cfg->queue;
					d->n--;
					d->stats[it.sink].dropped++;
					free(it.body);
				}
				break;
			}
		}
		it = d->q[d->head];
		d->head = (d->head + 1) % d->cfg->queue;
		d->n--;
		for (attempt = 0;; attempt++) {
			pthread_mutex_unlock(&d->mu);
			ok = post(d, it.sink, it.body, what, sizeof(what));
			pthread_mutex_lock(&d->mu);
			if (ok != 0 || attempt >= d->cfg->retries || d->stop)
				break;
			d->stats[it.sink].retries++;
			{
				double b = d->cfg->backoff_s * pow(2, attempt);

				if (b > BACKOFF_MAX_S)
					b = BACKOFF_MAX_S;
				/* jitter: 50 % to 150 %, so retries from many probes spread out */
				b *= 0.5 + (double)rand_r(&d->seed) / RAND_MAX;
				if (wait_locked(d, b))
					break;
			}
		}
		if (ok == 1) {
			d->stats[it.sink].sent++;
		} else {
			d->stats[it.sink].failed++;
			log_failure(d, it.sink, attempt + 1, what);
		}
		free(it.body);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct deliver *deliver__new(const struct alert_config *cfg, FILE *out)
{
	struct deliver *d = calloc(1, sizeof(*d));
	unsigned int i;
	int err = ENOMEM;

	if (!d)
		return NULL;
	d->cfg = cfg;
	d->out = out;
	d->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if (gethostname(d->host, sizeof(d->host) - 1))
		snprintf(d->host, sizeof(d->host), "unknown");
	d->q = calloc(cfg->queue ? cfg->queue : 1, sizeof(*d->q));
	if (!d->q)
		goto err;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		err = EIO;
		goto err;
	}
	for (i = 0; i < cfg->nsinks; i++) {
		const struct alert_sink *s = &cfg->sinks[i];
		long timeout_ms = (long)(cfg->timeout_s * 1000);
		CURL *c;

		if (s->type == SINK_STDOUT)
			continue;
		snprintf(d->urls[i], sizeof(d->urls[i]), "%s", s->url);
		if (s->type == SINK_ALERTMANAGER && !strstr(s->url, "/api/v2/alerts")) {
			size_t n = strlen(d->urls[i]);

			while (n && d->urls[i][n - 1] == '/')
				d->urls[i][--n] = 0;
			snprintf(d->urls[i] + n, sizeof(d->urls[i]) - n, "/api/v2/alerts");
		}
		c = d->curl[i] = curl_easy_init();
		if (!c)
			goto err;
		d->headers[i] = curl_slist_append(NULL, "Content-Type: application/json");
		if (s->token[0]) {
			char h[ALERT_SECRET_MAX + 32];

			snprintf(h, sizeof(h), "Authorization: Bearer %s", s->token);
			d->headers[i] = curl_slist_append(d->headers[i], h);
		}
		if (!d->headers[i])
			goto err;
		curl_easy_setopt(c, CURLOPT_URL, d->urls[i]);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, d->headers[i]);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);	/* threads: no SIGALRM */
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "probe");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, past_deadline);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, d);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (pthread_create(&d->thread, NULL, worker, d)) {
		err = EAGAIN;
		goto err;
	}
	d->started = 1;
	return d;
err:
	deliver__free(d);
	errno = err;
	return NULL;
}

void deliver__shutdown(struct deliver *d)
{
	if (!d || !d->started)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	/*
	 * The queue gets alerts.timeout_s from now, in all, to drain (a
	 * resolve that is due is still sent): the transfer in flight is cut
	 * at the deadline, what is left then is dropped and counted.
	 */
	__atomic_store_n(&d->deadline_ns, (long long)((now_real() + d->cfg->timeout_s) * 1e9),
			 __ATOMIC_RELAXED);
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	d->started = 0;
}

void deliver__free(struct deliver *d)
{
	unsigned int i;

	if (!d)
		return;
	deliver__shutdown(d);
	for (i = 0; d->q && i < d->n; i++)
		free(d->q[(d->head + i) % d->cfg->queue].body);
	for (i = 0; i < ALERT_MAX_SINKS; i++) {
		if (d->curl[i])
			curl_easy_cleanup(d->curl[i]);
		curl_slist_free_all(d->headers[i]);
	}
	if (d->q)
		curl_global_cleanup();
	free(d->q);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void deliver__post(struct deliver *d, const struct alert_event *ev)
{
	unsigned int i;

	for (i = 0; i < d->cfg->nsinks; i++) {
		const struct alert_sink *s = &d->cfg->sinks[i];
		char *body = alert_payload__render(s, ev, d->cfg->keepalive_s, d->host);

		if (!body) {
			if (errno == ENOMEM) {
				pthread_mutex_lock(&d->mu);
				d->stats[i].dropped++;
				pthread_mutex_unlock(&d->mu);
			}
			continue;
		}
		pthread_mutex_lock(&d->mu);
		if (s->type == SINK_STDOUT) {
			int bad = fprintf(d->out, "%s\n", body) < 0 || fflush(d->out);

			d->stats[i].queued++;
			if (bad)
				d->stats[i].failed++;
			else
				d->stats[i].sent++;
			free(body);
		} else if (d->n == d->cfg->queue) {
			d->stats[i].dropped++;
			free(body);
		} else {
			d->q[(d->head + d->n) % d->cfg->queue] = (struct item){ i, body };
			d->n++;
			if (d->n > d->max_depth)
				d->max_depth = d->n;
			d->stats[i].queued++;
			pthread_cond_signal(&d->cv);
		}
		pthread_mutex_unlock(&d->mu);
	}
}

void deliver__notify(const struct alert_event *ev, void *arg)
{
	deliver__post(arg, ev);
}

void deliver__stats(struct deliver *d, unsigned int sink, struct deliver_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (sink >= ALERT_MAX_SINKS)
		return;
	pthread_mutex_lock(&d->mu);
	*out = d->stats[sink];
	pthread_mutex_unlock(&d->mu);
}

unsigned int deliver__max_depth(struct deliver *d)
{
	unsigned int n;

	pthread_mutex_lock(&d->mu);
	n = d->max_depth;
	pthread_mutex_unlock(&d->mu);
	return n;
}
