/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "export/gz.h"
#include "export/prom.h"
#include "export/sbuf.h"
#include "export/server.h"
#include "export/snapshot.h"

struct server {
	struct MHD_Daemon *d;
	int fd;
	unsigned int port;
	server_snapshot_fn get;
	void *arg;
	char *user, *password, *token;
	pthread_mutex_t lock;		/* the cache and the stats */
	struct snapshot *cached;	/* the snapshot text and gz were rendered from */
	char *text, *gz;
	size_t text_len, gz_len;
	struct server_stats st;
};

int server__parse_listen(const char *addr, struct sockaddr_storage *ss, unsigned int *sslen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = addr ? strrchr(addr, ':') : NULL;
	size_t hl;
	char *end;
	long port;

	if (!colon || !colon[1])
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {	/* [v6]:port */
		addr++;
		hl -= 2;
	}
	if (!hl || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hl);
	host[hl] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &res) || !res)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (unsigned int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Compare without an early exit, so timing tells nothing about the secret. */
static int same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return !diff;
}

static int authorized(struct server *s, struct MHD_Connection *c)
{
	const char *h;
	char *pass = NULL, *user;
	int ok;

	if (s->token) {
		h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
		return h && !strncasecmp(h, "Bearer ", 7) && same_secret(h + 7, s->token);
	}
	if (!s->user)
		return 1;
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = user && pass && same_secret(user, s->user) && same_secret(pass, s->password);
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

/* Whether Accept-Encoding lists gzip without q=0. */
static int accepts_gzip(struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_ACCEPT_ENCODING);
	const char *p;

	if (!h)
		return 0;
	for (p = h; (p = strcasestr(p, "gzip")); p += 4) {
		const char *q = p + 4;

		if ((p != h && p[-1] != ' ' && p[-1] != ',') || (*q && *q != ',' && *q != ';' && *q != ' '))
			continue;
		while (*q == ' ')
			q++;
		if (*q == ';') {
			q = strchr(q, '=');
			if (q && strtod(q + 1, NULL) <= 0)
				return 0;
		}
		return 1;
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *body,
			     size_t len, int gzip, int auth_challenge)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == 200 ? PROM_CONTENT_TYPE : "text/plain; charset=utf-8");
	if (gzip)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	if (status == 200)
		MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (auth_challenge)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Basic realm=\"probe\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Render snap into the cache unless it is already there; compress it only
 * when a gzip scrape asks (compressing 10,000 series costs about as much as
 * rendering them). Under s->lock.
 */
static int cache_render(struct server *s, struct snapshot *snap, int gzip)
{
	struct sbuf b = { 0 };
	int err;

	if (s->cached != snap || !s->text) {
		err = prom__render(snap, &b);
		if (!err && !b.p)
			sbuf__puts(&b, "");	/* an empty exposition is still a valid one */
		err = err ? err : b.err;
		if (err) {
			sbuf__free(&b);
			return err;
		}
		free(s->text);
		free(s->gz);
		s->gz = NULL;
		snapshot__put(s->cached);
		s->cached = snapshot__get(snap);
		s->text = b.p;
		s->text_len = b.len;
	}
	if (gzip && !s->gz)
		return gz__compress(s->text, s->text_len, &s->gz, &s->gz_len);
	return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	static const char not_found[] = "probe: only /metrics is served here\n";
	static const char no_method[] = "probe: GET or HEAD only\n";
	static const char unauth[] = "probe: authorization required\n";
	static const char unavailable[] = "probe: no snapshot yet, try again\n";
	struct server *s = cls;
	struct snapshot *snap;
	enum MHD_Result ret;
	int gzip, err;

	(void)version;
	(void)upload_data;
	/* the first call only announces the request; bodies are not read */
	if (!*con_cls) {
		*con_cls = s;
		return MHD_YES;
	}
	*upload_size = 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		pthread_mutex_lock(&s->lock);
		s->st.errors++;
		pthread_mutex_unlock(&s->lock);
		return reply(c, 405, no_method, sizeof(no_method) - 1, 0, 0);
	}
	if (!authorized(s, c)) {
		pthread_mutex_lock(&s->lock);
		s->st.unauthorized++;
		pthread_mutex_unlock(&s->lock);
		return reply(c, 401, unauth, sizeof(unauth) - 1, 0, !s->token);
	}
	if (strcmp(url, "/metrics")) {
		pthread_mutex_lock(&s->lock);
		s->st.errors++;
		pthread_mutex_unlock(&s->lock);
		return reply(c, 404, not_found, sizeof(not_found) - 1, 0, 0);
	}
	snap = s->get(s->arg);
	gzip = accepts_gzip(c);
	pthread_mutex_lock(&s->lock);
	err = snap ? cache_render(s, snap, gzip) : -EAGAIN;
	if (err) {
		s->st.errors++;
		pthread_mutex_unlock(&s->lock);
		snapshot__put(snap);
		return reply(c, 503, unavailable, sizeof(unavailable) - 1, 0, 0);
	}
	s->st.scrapes++;
	s->st.gzip += gzip;
	/* copied into the response under the lock: the cache may move on after */
	ret = gzip ? reply(c, 200, s->gz, s->gz_len, 1, 0) :
		     reply(c, 200, s->text, s->text_len, 0, 0);
	pthread_mutex_unlock(&s->lock);
	snapshot__put(snap);
	return ret;
}

static int listen_socket(const char *addr, unsigned int *port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned int sslen;
	socklen_t len = sizeof(ss);
	int fd, one = 1, e;

	if (server__parse_listen(addr, &ss, &sslen)) {
		snprintf(err, errlen, "listen address \"%s\": expected ADDR:PORT, e.g. 127.0.0.1:9464 "
			 "or [::1]:9464", addr ? addr : "");
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "socket: %s", strerror(e));
		errno = e;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) || listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		e = errno;
		snprintf(err, errlen, "%s: %s", addr, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						 ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

struct server *server__new(const struct server_opts *o, server_snapshot_fn fn, void *arg,
			   char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	int e;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->get = fn;
	s->arg = arg;
	if ((o->basic_user && !(s->user = strdup(o->basic_user))) ||
	    (o->basic_password && !(s->password = strdup(o->basic_password))) ||
	    (o->bearer_token && !(s->token = strdup(o->bearer_token)))) {
		snprintf(err, errlen, "out of memory");
		e = ENOMEM;
		goto err_free;
	}
	if (s->user && !s->password)
		s->password = strdup("");
	s->fd = listen_socket(o->listen, &s->port, err, errlen);
	if (s->fd < 0) {
		e = errno;
		goto err_free;
	}
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
				0, NULL, NULL, handle, s,
				MHD_OPTION_LISTEN_SOCKET, s->fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o->max_connections,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->timeout_s,
				MHD_OPTION_END);
	if (!s->d) {
		e = errno ? errno : EIO;
		snprintf(err, errlen, "%s: the HTTP server did not start", o->listen);
		close(s->fd);
		goto err_free;
	}
	return s;

err_free:
	free(s->user);
	free(s->password);
	free(s->token);
	pthread_mutex_destroy(&s->lock);
	free(s);
	errno = e;
	return NULL;
}

void server__free(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);	/* joins every thread and closes the listen socket */
	snapshot__put(s->cached);
	free(s->text);
	free(s->gz);
	free(s->user);
	free(s->password);
	free(s->token);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

unsigned int server__port(const struct server *s)
{
	return s->port;
}

void server__stats(struct server *s, struct server_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	pthread_mutex_unlock(&s->lock);
}
