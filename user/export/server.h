/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * server: GET /metrics over HTTP, served by libmicrohttpd on its own
 * threads (one per connection, at most max_connections, each closed after
 * timeout_s idle), so a slow or stalled scraper holds only its own thread
 * and never the event loop.
 *
 * Each request asks get_snapshot() for a snapshot (the event loop builds
 * one when the last is stale), renders it as Prometheus text once per
 * snapshot (cached, shared by concurrent scrapes), and sends it gzip-
 * compressed when the request's Accept-Encoding allows gzip. With a basic
 * auth pair or a bearer token configured, a request without the right
 * Authorization header gets 401 and nothing else.
 *
 * Ownership: the server takes a reference on the snapshots it caches and
 * drops it when a newer one replaces it or at server__free(). Strings in
 * opts are copied.
 */
#ifndef PROBE_EXPORT_SERVER_H
#define PROBE_EXPORT_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct server;

/* A reference the caller drops with snapshot__put(), or NULL (503). */
typedef struct snapshot *(*server_snapshot_fn)(void *arg);

struct server_opts {
	const char *listen;		/* "127.0.0.1:9464", "[::1]:9464"; port 0: any */
	unsigned int max_connections;
	unsigned int timeout_s;
	const char *basic_user;		/* with basic_password: basic auth */
	const char *basic_password;
	const char *bearer_token;	/* or a bearer token; NULL: no auth */
};

struct server_stats {
	uint64_t scrapes;		/* 200 answers */
	uint64_t unauthorized;		/* 401 answers */
	uint64_t errors;		/* 404, 405, 503 and failed renders */
	uint64_t gzip;			/* of the scrapes, sent gzip-compressed */
};

/*
 * Bind and start. NULL + errno on failure, with a one-line reason in err
 * (an address in use, a bad address, ...).
 */
struct server *server__new(const struct server_opts *o, server_snapshot_fn fn, void *arg,
			   char *err, size_t errlen);
void server__free(struct server *s);
/* The bound port (useful with port 0). */
unsigned int server__port(const struct server *s);
void server__stats(struct server *s, struct server_stats *out);

/* "ADDR:PORT" -> sockaddr; 0 or -EINVAL. Exposed for the tests. */
struct sockaddr_storage;
int server__parse_listen(const char *listen, struct sockaddr_storage *ss, unsigned int *sslen);

#endif
