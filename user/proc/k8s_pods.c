/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "proc/k8s_pods.h"

#define SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define MIRROR_KEY	"kubernetes.io/config.mirror"
#define TOKEN_MAX	16384

struct k8s_pods {
	char url[1024];
	char node[K8S_NAME_LEN];
	char token_file[256];
	char ca_file[256];
	unsigned int refresh_s, min_refresh_s, timeout_ms, max_pods;
	size_t max_bytes;

	pthread_mutex_t lock;	/* guards everything below; never held across I/O */
	pthread_cond_t wake;
	struct k8s_pod *pods;	/* sorted by uid */
	unsigned int npods;
	uint64_t generation;	/* bumped when a refresh changes the table */
	struct k8s_pods_stats st;
	int want_refresh;	/* a lookup missed */
	int stop;
	int started;
	pthread_t thread;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	/* once per process, before any thread uses curl */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* "https://[host]:port" for IPv6 service addresses */
static int api_server_url(char *buf, size_t len, const char *node)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *esc;
	int n;

	if (!host || !*host)
		return -ENOENT;
	if (!node || !*node)
		return -EINVAL;
	esc = curl_easy_escape(NULL, node, 0);
	if (!esc)
		return -ENOMEM;
	n = snprintf(buf, len, "https://%s%s%s:%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s"
		     "&resourceVersion=0", strchr(host, ':') ? "[" : "", host,
		     strchr(host, ':') ? "]" : "", port && *port ? port : "443", esc);
	curl_free(esc);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct k8s_pods *k8s_pods__new(const struct k8s_pods_opts *o)
{
	const char *node = o && o->node && *o->node ? o->node : getenv("NODE_NAME");
	pthread_condattr_t ca;
	struct k8s_pods *p;
	int err;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		errno = ENOMEM;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	if (node && strlen(node) >= sizeof(p->node)) {
		free(p);
		errno = EINVAL;
		return NULL;
	}
	snprintf(p->node, sizeof(p->node), "%s", node ? node : "");
	if (o && o->url && *o->url) {
		if (strlen(o->url) >= sizeof(p->url)) {
			free(p);
			errno = ENAMETOOLONG;
			return NULL;
		}
		snprintf(p->url, sizeof(p->url), "%s", o->url);
	} else {
		err = api_server_url(p->url, sizeof(p->url), p->node);
		if (err) {
			free(p);
			errno = -err;
			return NULL;
		}
	}
	snprintf(p->token_file, sizeof(p->token_file), "%s",
		 o && o->token_file ? o->token_file : SA_DIR "/token");
	snprintf(p->ca_file, sizeof(p->ca_file), "%s",
		 o && o->ca_file ? o->ca_file : SA_DIR "/ca.crt");
	p->refresh_s = o && o->refresh_s ? o->refresh_s : 30;
	p->min_refresh_s = o && o->min_refresh_s ? o->min_refresh_s : 5;
	p->timeout_ms = o && o->timeout_ms ? o->timeout_ms : 5000;
	p->max_pods = o && o->max_pods ? o->max_pods : 4096;
	p->max_bytes = o && o->max_bytes ? o->max_bytes : 32u << 20;
	pthread_mutex_init(&p->lock, NULL);
	/* waits are measured on the monotonic clock: a wall-clock step neither stalls nor rushes them */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	return p;
}

void k8s_pods__free(struct k8s_pods *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->lock);
		p->stop = 1;
		pthread_cond_signal(&p->wake);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
	}
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->pods);
	free(p);
}

/* What the API accepts: lower-case alphanumerics and `extra`, 1..max bytes. */
static int valid_name(const char *s, size_t max, const char *extra)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++)
		if (n >= max || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
				  strchr(extra, s[n])))
			return 0;
	return n > 0;
}

/* A dashed UUID, or the 32-hex hash of a static pod: what cgroup paths carry. */
static int valid_uid(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n != 32 && n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		int dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

static const char *str_at(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int by_uid(const void *a, const void *b)
{
	return strcmp(((const struct k8s_pod *)a)->uid, ((const struct k8s_pod *)b)->uid);
}

int k8s_pods__parse(const char *body, size_t len, const char *node, unsigned int max_pods,
		    struct k8s_pod **out, struct k8s_pods_stats *st)
{
	const cJSON *items, *it;
	struct k8s_pod *t = NULL;
	unsigned int n = 0;
	cJSON *root;

	*out = NULL;
	root = cJSON_ParseWithLength(body, len);
	items = root ? cJSON_GetObjectItemCaseSensitive(root, "items") : NULL;
	if (!cJSON_IsArray(items)) {
		cJSON_Delete(root);
		return -EBADMSG;
	}
	/* a pod gives at most two entries: its uid and its mirror hash */
	t = calloc(max_pods ? max_pods : 1, sizeof(*t));
	if (!t) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	cJSON_ArrayForEach(it, items) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(it, "metadata");
		const cJSON *spec = cJSON_GetObjectItemCaseSensitive(it, "spec");
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(md, "annotations");
		const char *name = str_at(md, "name"), *ns = str_at(md, "namespace");
		const char *uid = str_at(md, "uid"), *on = str_at(spec, "nodeName");
		const char *mirror = str_at(ann, MIRROR_KEY);
		const char *keys[2] = { uid, mirror };

		if (node && *node && (!on || strcmp(on, node))) {
			st->other_node++;
			continue;
		}
		if (!valid_uid(uid) || !valid_name(name, K8S_NAME_LEN - 1, "-.") ||
		    !valid_name(ns, K8S_NS_LEN - 1, "-")) {
			st->invalid++;
			continue;
		}
		for (int k = 0; k < 2; k++) {
			if (!keys[k] || (k == 1 && !valid_uid(mirror)))
				continue;
			if (n >= max_pods) {
				st->over_cap++;
				break;
			}
			snprintf(t[n].uid, sizeof(t[n].uid), "%s", keys[k]);
			snprintf(t[n].name, sizeof(t[n].name), "%s", name);
			snprintf(t[n].ns, sizeof(t[n].ns), "%s", ns);
			n++;
		}
	}
	cJSON_Delete(root);
	qsort(t, n, sizeof(*t), by_uid);
	*out = t;
	return (int)n;
}

struct body {
	char *buf;
	size_t len, cap, max;
	int too_large;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->max) {
		b->too_large = 1;
		return 0;	/* makes curl fail the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		char *nb;

		while (cap < b->len + n + 1)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (!nb)
			return 0;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = 0;
	return n;
}

/* "Authorization: Bearer <token>", or "" when there is no token file. */
static int auth_header(const char *file, char *hdr, size_t len)
{
	FILE *f = fopen(file, "r");
	size_t n, off = strlen("Authorization: Bearer ");

	hdr[0] = 0;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	memcpy(hdr, "Authorization: Bearer ", off);
	n = fread(hdr + off, 1, len - off - 1, f);
	fclose(f);
	while (n && (hdr[off + n - 1] == '\n' || hdr[off + n - 1] == '\r'))
		n--;
	/* a token longer than the buffer, or with a line break inside, is not sent */
	if (n == len - off - 1 || memchr(hdr + off, '\n', n) || !n) {
		hdr[0] = 0;
		return -EBADMSG;
	}
	hdr[off + n] = 0;
	return 0;
}

int k8s_pods__refresh(struct k8s_pods *p)
{
	struct body b = { .max = p->max_bytes };
	struct curl_slist *hdrs = NULL;
	struct k8s_pods_stats st = { 0 };
	struct k8s_pod *t = NULL, *old;
	char *auth;
	long status = 0;
	CURLcode rc;
	CURL *h;
	int n = 0, err = 0;

	auth = malloc(TOKEN_MAX);
	h = curl_easy_init();
	if (!auth || !h) {
		err = -ENOMEM;
		goto out;
	}
	err = auth_header(p->token_file, auth, TOKEN_MAX);
	if (err)
		goto count;
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (auth[0])
		hdrs = curl_slist_append(hdrs, auth);
	curl_easy_setopt(h, CURLOPT_URL, p->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);	/* no SIGALRM in a threaded program */
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	if (access(p->ca_file, R_OK) == 0)
		curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		err = b.too_large ? -EFBIG : -EIO;
		goto count;
	}
	if (status != 200) {
		err = -EPROTO;
		goto count;
	}
	n = k8s_pods__parse(b.buf ? b.buf : "", b.len, p->node, p->max_pods, &t, &st);
	if (n < 0)
		err = n;
count:
	pthread_mutex_lock(&p->lock);
	p->st.last_status = (int)status;
	switch (err) {
	case 0:
		if (p->npods != (unsigned int)n || (n && memcmp(p->pods, t, n * sizeof(*t))))
			p->generation++;
		old = p->pods;
		p->pods = t;
		p->npods = (unsigned int)n;
		t = old;
		p->st.refreshes++;
		p->st.pods = p->npods;
		p->st.last_ok_unix = (uint64_t)time(NULL);
		p->st.invalid += st.invalid;
		p->st.other_node += st.other_node;
		p->st.over_cap += st.over_cap;
		break;
	case -EFBIG:
		p->st.fail_too_large++;
		break;
	case -EPROTO:
		p->st.fail_status++;
		break;
	case -EBADMSG:
	case -ENOMEM:
		p->st.fail_parse++;
		break;
	default:
		p->st.fail_transport++;
		break;
	}
	pthread_mutex_unlock(&p->lock);
out:
	free(t);
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	if (auth) {
		/* the token does not outlive the request in this process's heap */
		memset(auth, 0, TOKEN_MAX);
		free(auth);
	}
	free(b.buf);
	return err;
}

static uint64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void *refresher(void *arg)
{
	struct k8s_pods *p = arg;
	struct timespec until = { 0 };
	uint64_t last, now, at;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		pthread_mutex_unlock(&p->lock);
		k8s_pods__refresh(p);
		last = mono_s();
		pthread_mutex_lock(&p->lock);
		p->want_refresh = 0;
		while (!p->stop) {
			/* every refresh_s; after a miss, once min_refresh_s have passed */
			at = last + (p->want_refresh ? p->min_refresh_s : p->refresh_s);
			now = mono_s();
			if (now >= at)
				break;
			until.tv_sec = (time_t)at;
			pthread_cond_timedwait(&p->wake, &p->lock, &until);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int k8s_pods__start(struct k8s_pods *p)
{
	int err;

	if (p->started)
		return -EALREADY;
	err = pthread_create(&p->thread, NULL, refresher, p);
	if (err)
		return -err;
	p->started = 1;
	return 0;
}

int k8s_pods__lookup(struct k8s_pods *p, const char *uid, struct k8s_pod *out)
{
	struct k8s_pod key, *hit;

	if (!uid || !*uid || strlen(uid) >= sizeof(key.uid))
		return -ENOENT;
	snprintf(key.uid, sizeof(key.uid), "%s", uid);
	pthread_mutex_lock(&p->lock);
	p->st.lookups++;
	hit = p->pods ? bsearch(&key, p->pods, p->npods, sizeof(*p->pods), by_uid) : NULL;
	if (hit) {
		*out = *hit;
	} else {
		p->st.misses++;
		p->want_refresh = 1;
		pthread_cond_signal(&p->wake);
	}
	pthread_mutex_unlock(&p->lock);
	return hit ? 0 : -ENOENT;
}

uint64_t k8s_pods__generation(struct k8s_pods *p)
{
	uint64_t g;

	pthread_mutex_lock(&p->lock);
	g = p->generation;
	pthread_mutex_unlock(&p->lock);
	return g;
}

const char *k8s_pods__node(const struct k8s_pods *p)
{
	return p->node;
}

const char *k8s_pods__url(const struct k8s_pods *p)
{
	return p->url;
}

void k8s_pods__stats(struct k8s_pods *p, struct k8s_pods_stats *st)
{
	pthread_mutex_lock(&p->lock);
	*st = p->st;
	pthread_mutex_unlock(&p->lock);
}
