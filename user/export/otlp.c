/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "export/gz.h"
#include "export/otlp.h"
#include "export/snapshot.h"

struct body {
	struct body *next;
	char *data;
	size_t len;
};

struct otlp {
	struct otlp_opts o;
	char *endpoint;
	otlp_snapshot_fn get;
	void *arg;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;		/* stop, the queue and the stats */
	pthread_cond_t cond;
	int stop;
	struct body *head, *tail;
	struct otlp_stats st;
	CURL *curl;
	struct curl_slist *headers;
};

int otlp__retryable(long status)
{
	return status == 0 || status == 429 || status == 502 || status == 503 || status == 504;
}

double otlp__retry_delay(double backoff, double retry_after, double max)
{
	double d = retry_after >= 0 ? retry_after : backoff;

	return d > max ? max : d;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Queue a body (ours now); the oldest goes when the queue is full. Under lock. */
static void enqueue(struct otlp *x, char *data, size_t len)
{
	struct body *b = malloc(sizeof(*b));

	if (!b) {
		free(data);
		x->st.dropped_full++;
		return;
	}
	*b = (struct body){ NULL, data, len };
	if (x->st.queued >= x->o.queue_max && x->head) {
		struct body *old = x->head;

		x->head = old->next;
		if (!x->head)
			x->tail = NULL;
		free(old->data);
		free(old);
		x->st.queued--;
		x->st.dropped_full++;
	}
	if (x->tail)
		x->tail->next = b;
	else
		x->head = b;
	x->tail = b;
	x->st.queued++;
}

static int on_body(char *body, size_t len, void *arg)
{
	struct otlp *x = arg;
	char *gz;
	size_t gzlen;

	if (x->o.gzip && !gz__compress(body, len, &gz, &gzlen)) {
		free(body);
		body = gz;
		len = gzlen;
	}
	pthread_mutex_lock(&x->lock);
	enqueue(x, body, len);
	pthread_mutex_unlock(&x->lock);
	return 0;
}

static void produce(struct otlp *x)
{
	struct snapshot *s = x->get(x->arg);

	if (!s)
		return;
	otlp_json__render(s, &x->o.resource, x->o.max_points, on_body, x);
	snapshot__put(s);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;	/* the response body is not needed */
}

/* POST one body; the HTTP status (0: no answer) and Retry-After (-1: none). */
static long post(struct otlp *x, const struct body *b, double *retry_after)
{
	curl_off_t ra = -1;
	long status = 0;

	*retry_after = -1;
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDS, b->data);
	curl_easy_setopt(x->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	if (curl_easy_perform(x->curl) != CURLE_OK)
		return 0;
	curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(x->curl, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		*retry_after = (double)ra;
	return status;
}

static void *run(void *arg)
{
	struct otlp *x = arg;
	double next_export = mono_s() + x->o.interval_s, next_try = 0, backoff = x->o.backoff_s;

	pthread_mutex_lock(&x->lock);
	while (!x->stop) {
		double now = mono_s(), wake;
		struct timespec ts;

		if (now >= next_export) {
			pthread_mutex_unlock(&x->lock);
			produce(x);
			pthread_mutex_lock(&x->lock);
			next_export = now + x->o.interval_s;
			continue;
		}
		if (x->head && now >= next_try) {
			struct body *b = x->head;
			double retry_after;
			long status;

			/* the head stays queued while it is in flight; only this thread pops */
			pthread_mutex_unlock(&x->lock);
			status = post(x, b, &retry_after);
			pthread_mutex_lock(&x->lock);
			x->st.last_status = status;
			if (otlp__retryable(status)) {
				x->st.retries++;
				next_try = mono_s() + otlp__retry_delay(backoff, retry_after,
									 x->o.backoff_max_s);
				backoff = backoff * 2 > x->o.backoff_max_s ? x->o.backoff_max_s :
									     backoff * 2;
				continue;
			}
			if (status >= 200 && status < 300)
				x->st.sent++;
			else
				x->st.dropped_rejected++;
			backoff = x->o.backoff_s;
			/* enqueue() may have dropped b as the oldest meanwhile */
			if (x->head == b) {
				x->head = b->next;
				if (!x->head)
					x->tail = NULL;
				free(b->data);
				free(b);
				x->st.queued--;
			}
			continue;
		}
		wake = next_export;
		if (x->head && next_try < wake)
			wake = next_try;
		/* condvar deadlines are CLOCK_REALTIME: convert the wait, not the clock */
		clock_gettime(CLOCK_REALTIME, &ts);
		wake -= now;
		ts.tv_sec += (time_t)wake;
		ts.tv_nsec += (long)((wake - (double)(time_t)wake) * 1e9);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&x->cond, &x->lock, &ts);
	}
	pthread_mutex_unlock(&x->lock);
	return NULL;
}

struct otlp *otlp__new(const struct otlp_opts *o, otlp_snapshot_fn fn, void *arg)
{
	struct otlp *x;
	int err;

	if (!o->endpoint || !*o->endpoint || o->interval_s <= 0 || !o->queue_max) {
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->o = *o;
	x->get = fn;
	x->arg = arg;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	/* before any thread: curl_global_init is not thread-safe */
	x->endpoint = strdup(o->endpoint);
	if (!x->endpoint || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err = ENOMEM;
		goto err_free;
	}
	x->curl = curl_easy_init();
	x->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (x->headers && o->gzip)
		x->headers = curl_slist_append(x->headers, "Content-Encoding: gzip");
	if (!x->curl || !x->headers) {
		err = ENOMEM;
		goto err_curl;
	}
	curl_easy_setopt(x->curl, CURLOPT_URL, x->endpoint);
	curl_easy_setopt(x->curl, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(x->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->curl, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1000));
	curl_easy_setopt(x->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_s * 1000));
	curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, discard);
	/* only http and https, and no redirects: a body is never sent elsewhere */
	curl_easy_setopt(x->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->curl, CURLOPT_FOLLOWLOCATION, 0L);
	err = pthread_create(&x->thread, NULL, run, x);
	if (err)
		goto err_curl;
	x->started = 1;
	return x;

err_curl:
	curl_slist_free_all(x->headers);
	curl_easy_cleanup(x->curl);
	curl_global_cleanup();
err_free:
	free(x->endpoint);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x);
	errno = err;
	return NULL;
}

void otlp__free(struct otlp *x)
{
	struct body *b, *next;

	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->stop = 1;
	pthread_cond_broadcast(&x->cond);
	pthread_mutex_unlock(&x->lock);
	if (x->started)
		pthread_join(x->thread, NULL);
	for (b = x->head; b; b = next) {
		next = b->next;
		free(b->data);
		free(b);
	}
	curl_slist_free_all(x->headers);
	curl_easy_cleanup(x->curl);
	curl_global_cleanup();
	free(x->endpoint);
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	free(x);
}

void otlp__stats(struct otlp *x, struct otlp_stats *out)
{
	pthread_mutex_lock(&x->lock);
	*out = x->st;
	pthread_mutex_unlock(&x->lock);
}
