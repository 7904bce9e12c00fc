/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/proc/k8s_pods.c against a real HTTP server
 * (libmicrohttpd, on 127.0.0.1 and a port the kernel picks) that serves a
 * pod list shaped like a kubelet's /pods answer
 * (tests/fixtures/k8s/kubelet_pods.json): names appear for this node's
 * pods, static pods by their config hash, the token is sent; then the
 * server answers 403, garbage, too much, or is gone: the old table stays,
 * each failure is counted by kind, nothing crashes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <microhttpd.h>

#include "proc/k8s_pods.h"

#define FIXTURE	"tests/fixtures/k8s/kubelet_pods.json"
#define TOKEN	"eyJhbGciOiJSUzI1NiJ9.test-token.sig"

enum mode { SERVE_LIST, SERVE_403, SERVE_GARBAGE, SERVE_HUGE, SERVE_SLOW };

struct server {
	struct MHD_Daemon *d;
	unsigned short port;
	enum mode mode;
	char *list;
	size_t list_len;
	char auth[256];		/* the last Authorization header seen */
	char url[256];		/* the last URL requested */
	int requests;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f) {
		print_error("cannot open %s (run from the repository root): %s\n", path,
			    strerror(errno));
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	static char huge[1 << 20];
	struct server *s = cls;
	struct MHD_Response *r;
	const char *auth;
	enum MHD_Result ret;
	unsigned int code = MHD_HTTP_OK;

	(void)method, (void)version, (void)upload, (void)upload_len, (void)req;
	s->requests++;
	snprintf(s->url, sizeof(s->url), "%s", url);
	auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	snprintf(s->auth, sizeof(s->auth), "%s", auth ? auth : "");
	switch (s->mode) {
	case SERVE_LIST:
		r = MHD_create_response_from_buffer(s->list_len, s->list, MHD_RESPMEM_PERSISTENT);
		break;
	case SERVE_403:
		code = MHD_HTTP_FORBIDDEN;
		r = MHD_create_response_from_buffer(2, "{}", MHD_RESPMEM_PERSISTENT);
		break;
	case SERVE_GARBAGE:
		r = MHD_create_response_from_buffer(9, "\x01\x02{items", MHD_RESPMEM_PERSISTENT);
		break;
	case SERVE_HUGE:
		memset(huge, ' ', sizeof(huge));
		r = MHD_create_response_from_buffer(sizeof(huge), huge, MHD_RESPMEM_PERSISTENT);
		break;
	case SERVE_SLOW:
	default:
		usleep(600 * 1000);
		r = MHD_create_response_from_buffer(s->list_len, s->list, MHD_RESPMEM_PERSISTENT);
		break;
	}
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static int server_start(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct server *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *di;

	if (!s)
		return -1;
	s->list = slurp(FIXTURE, &s->list_len);
	if (!s->list)
		return -1;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				handle, s, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_END);
	if (!s->d)
		return -1;
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	*state = s;
	return s->port ? 0 : -1;
}

static int server_stop(void **state)
{
	struct server *s = *state;

	if (s->d)
		MHD_stop_daemon(s->d);
	free(s->list);
	free(s);
	return 0;
}

static char token_file[] = "/tmp/probe-k8s-token-XXXXXX";

static struct k8s_pods *client(struct server *s, const char *node, size_t max_bytes)
{
	char url[128];
	struct k8s_pods_opts o = {
		.url = url,
		.node = node,
		.token_file = token_file,
		.ca_file = "/nonexistent",
		.timeout_ms = 2000,
		.max_bytes = max_bytes,
	};
	struct k8s_pods *p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/pods", s->port);
	p = k8s_pods__new(&o);
	assert_non_null(p);
	return p;
}

static void test_labels(void **state)
{
	struct server *s = *state;
	struct k8s_pods_stats st;
	struct k8s_pod pod;
	struct k8s_pods *p;

	s->mode = SERVE_LIST;
	p = client(s, "node-a", 0);
	assert_int_equal(k8s_pods__refresh(p), 0);
	assert_string_equal(s->auth, "Bearer " TOKEN);
	assert_string_equal(s->url, "/pods");

	assert_int_equal(k8s_pods__lookup(p, "ac04f3f2-1f2c-11e9-b0f4-0800278e2a2f", &pod), 0);
	assert_string_equal(pod.name, "web-7d4b9c8f6-x2kqp");
	assert_string_equal(pod.ns, "shop");
	assert_int_equal(k8s_pods__lookup(p, "0f3a7c1e-5b2d-4e8f-9a6b-1c2d3e4f5a6b", &pod), 0);
	assert_string_equal(pod.name, "coredns-5d78c9869d-4xwqz");
	assert_string_equal(pod.ns, "kube-system");
	/* a static pod, by the hash its cgroup path carries, and by its mirror uid */
	assert_int_equal(k8s_pods__lookup(p, "5e4b8f0bd1d6c2f1a6c5a9a3c8f1e2d3", &pod), 0);
	assert_string_equal(pod.name, "kube-apiserver-node-a");
	assert_int_equal(k8s_pods__lookup(p, "3c9e1f2a-7b4d-4a6e-8f0c-2d1b3a4c5e6f", &pod), 0);
	assert_string_equal(pod.name, "kube-apiserver-node-a");
	/* another node's pod, an invalid name, an unknown uid */
	assert_int_equal(k8s_pods__lookup(p, "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", &pod), -ENOENT);
	assert_int_equal(k8s_pods__lookup(p, "11111111-2222-4333-8444-555555555555", &pod), -ENOENT);
	assert_int_equal(k8s_pods__lookup(p, "", &pod), -ENOENT);

	k8s_pods__stats(p, &st);
	assert_int_equal(st.refreshes, 1);
	assert_int_equal(st.pods, 4);
	assert_int_equal(st.other_node, 1);
	assert_int_equal(st.invalid, 2);
	assert_int_equal(st.lookups, 6);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.last_status, 200);
	assert_true(st.last_ok_unix > 0);
	k8s_pods__free(p);
}

/* Each failure: counted by kind; the last good table is kept. */
static void test_failures(void **state)
{
	struct server *s = *state;
	struct k8s_pods_stats st;
	struct k8s_pod pod;
	struct k8s_pods *p;

	s->mode = SERVE_LIST;
	p = client(s, "node-a", 64 * 1024);
	assert_int_equal(k8s_pods__refresh(p), 0);

	s->mode = SERVE_403;
	assert_int_equal(k8s_pods__refresh(p), -EPROTO);
	k8s_pods__stats(p, &st);
	assert_int_equal(st.last_status, 403);
	s->mode = SERVE_GARBAGE;
	assert_int_equal(k8s_pods__refresh(p), -EBADMSG);
	s->mode = SERVE_HUGE;
	assert_int_equal(k8s_pods__refresh(p), -EFBIG);
	assert_int_equal(k8s_pods__lookup(p, "ac04f3f2-1f2c-11e9-b0f4-0800278e2a2f", &pod), 0);
	assert_string_equal(pod.name, "web-7d4b9c8f6-x2kqp");

	k8s_pods__stats(p, &st);
	assert_int_equal(st.refreshes, 1);
	assert_int_equal(st.fail_status, 1);
	assert_int_equal(st.fail_parse, 1);
	assert_int_equal(st.fail_too_large, 1);
	assert_int_equal(st.fail_transport, 0);
	assert_int_equal(st.pods, 4);
	k8s_pods__free(p);
}

/* Server down (nothing listens on the port): a transport failure, counted, quickly. */
static void test_server_down(void **state)
{
	struct server *s = *state;
	struct k8s_pods_stats st;
	struct k8s_pod pod;
	struct k8s_pods *p;
	struct MHD_Daemon *d = s->d;

	p = client(s, "node-a", 0);
	MHD_stop_daemon(d);
	s->d = NULL;
	assert_int_equal(k8s_pods__refresh(p), -EIO);
	assert_int_equal(k8s_pods__lookup(p, "ac04f3f2-1f2c-11e9-b0f4-0800278e2a2f", &pod), -ENOENT);
	k8s_pods__stats(p, &st);
	assert_int_equal(st.fail_transport, 1);
	assert_int_equal(st.refreshes, 0);
	assert_int_equal(st.pods, 0);
	k8s_pods__free(p);
}

/* A server that does not answer in time: a transport failure after the timeout. */
static void test_timeout(void **state)
{
	struct k8s_pods_opts o = { .token_file = token_file, .node = "node-a", .timeout_ms = 200 };
	struct server *s = *state;
	struct k8s_pods_stats st;
	struct timespec t0, t1;
	struct k8s_pods *p;
	char url[128];
	double ms;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/pods", s->port);
	o.url = url;
	p = k8s_pods__new(&o);
	assert_non_null(p);
	s->mode = SERVE_SLOW;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(k8s_pods__refresh(p), -EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* bounded by the timeout, not by the server */
	assert_true(ms < 550);
	k8s_pods__stats(p, &st);
	assert_int_equal(st.fail_transport, 1);
	k8s_pods__free(p);
	usleep(500 * 1000);	/* let the slow answer finish before the next test */
	s->mode = SERVE_LIST;
}

/* The thread fetches at start and again soon after a miss; free stops it. */
static void test_thread(void **state)
{
	struct k8s_pods_opts o = { .token_file = token_file, .node = "node-a",
				   .refresh_s = 3600, .min_refresh_s = 1, .timeout_ms = 2000 };
	struct server *s = *state;
	struct k8s_pods_stats st;
	struct k8s_pod pod;
	struct k8s_pods *p;
	char url[128];
	int i;

	s->mode = SERVE_LIST;
	s->requests = 0;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/pods", s->port);
	o.url = url;
	p = k8s_pods__new(&o);
	assert_non_null(p);
	assert_int_equal(k8s_pods__start(p), 0);
	for (i = 0; i < 300 && k8s_pods__lookup(p, "ac04f3f2-1f2c-11e9-b0f4-0800278e2a2f", &pod); i++)
		usleep(10 * 1000);
	assert_string_equal(pod.name, "web-7d4b9c8f6-x2kqp");
	/* a miss asks for a refresh, at most once a second here */
	k8s_pods__lookup(p, "deadbeef-0000-4000-8000-000000000000", &pod);
	for (i = 0; i < 300; i++) {
		k8s_pods__stats(p, &st);
		if (st.refreshes >= 2)
			break;
		usleep(10 * 1000);
	}
	assert_true(st.refreshes >= 2);
	k8s_pods__free(p);
}

static void test_environment(void **state)
{
	struct k8s_pods_opts o = { .node = "node-a" };
	struct k8s_pods *p;

	(void)state;
	/* outside a cluster: nothing to ask */
	unsetenv("KUBERNETES_SERVICE_HOST");
	errno = 0;
	assert_null(k8s_pods__new(&o));
	assert_int_equal(errno, ENOENT);
	/* in a cluster: the API server, filtered to this node, IPv6 bracketed */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	p = k8s_pods__new(&o);
	assert_non_null(p);
	assert_string_equal(k8s_pods__url(p), "https://[fd00::1]:6443/api/v1/pods?fieldSelector="
			    "spec.nodeName%3Dnode-a&resourceVersion=0");
	assert_string_equal(k8s_pods__node(p), "node-a");
	k8s_pods__free(p);
	/* no node name: refused rather than listing the whole cluster */
	unsetenv("NODE_NAME");
	o.node = NULL;
	errno = 0;
	assert_null(k8s_pods__new(&o));
	assert_int_equal(errno, EINVAL);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_parse(void **state)
{
	struct k8s_pods_stats st = { 0 };
	struct k8s_pod *t;
	static const char *const bad[] = { "", "[]", "{}", "{\"items\": {}}", "null", "{\"items\":" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(k8s_pods__parse(bad[i], strlen(bad[i]), NULL, 10, &t, &st),
				 -EBADMSG);
	/* items that are not objects are invalid, not fatal; the cap is counted */
	const char *body = "{\"items\": [1, \"x\", null,"
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":"
		"\"00000000-0000-4000-8000-000000000001\"}},"
		"{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\",\"uid\":"
		"\"00000000-0000-4000-8000-000000000002\"}}]}";
	assert_int_equal(k8s_pods__parse(body, strlen(body), NULL, 1, &t, &st), 1);
	assert_string_equal(t[0].name, "a");
	assert_int_equal(st.invalid, 3);
	assert_int_equal(st.over_cap, 1);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_thread),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_server_down),
	};
	int fd, ret;

	fd = mkstemp(token_file);
	if (fd < 0 || write(fd, TOKEN "\n", strlen(TOKEN) + 1) < 0)
		return 1;
	close(fd);
	ret = cmocka_run_group_tests_name("k8s_pods", tests, server_start, server_stop);
	unlink(token_file);
	return ret;
}
