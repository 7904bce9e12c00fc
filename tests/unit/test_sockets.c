/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The socket capture's shared handler (bpf/sockets/handler.bpf.h) through
 * its interface, sock_handle(), compiled for the host with
 * tests/fuzz/shim/: payloads in, classification and records out.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sockets_host.h"

#define KEY	PROBE_SOCK_KEY(4242, 9)
#define IN	1
#define OUT	0

static void io(const char *s, int in)
{
	size_t n = strlen(s);

	shim_io(KEY, s, n, n, in);
}

static void io_bytes(const void *b, size_t n, int in)
{
	shim_io(KEY, b, n, n, in);
}

static const struct probe_http_req *http_rec(unsigned int i)
{
	const struct probe_http_req *r = (const void *)shim_recs[i].data;

	assert_true(i < shim_nrecs);
	assert_int_equal(shim_recs[i].size, sizeof(*r));
	assert_int_equal(r->hdr.type, PROBE_REC_HTTP_REQ);
	return r;
}

static const struct probe_db_query *db_rec(unsigned int i)
{
	const struct probe_db_query *q = (const void *)shim_recs[i].data;

	assert_true(i < shim_nrecs);
	assert_int_equal(shim_recs[i].size, sizeof(*q));
	assert_int_equal(q->hdr.type, PROBE_REC_DB_QUERY);
	return q;
}

static int setup(void **state)
{
	(void)state;
	shim_reset();
	return 0;
}

static void test_server_request_and_response(void **state)
{
	const struct probe_http_req *r;
	struct probe_conn *c;

	(void)state;
	c = shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 8080, 51000);
	io("GET /api/v1/books/8412?token=SECRET HTTP/1.1\r\nHost: x\r\n\r\n", IN);
	assert_int_equal(c->proto, PROBE_PROTO_HTTP);
	assert_int_equal(c->role, PROBE_ROLE_SERVER);
	assert_int_equal(shim_nrecs, 0);
	io("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", OUT);
	assert_int_equal(shim_nrecs, 1);
	r = http_rec(0);
	assert_int_equal(r->method, PROBE_HTTP_M_GET);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->role, PROBE_ROLE_SERVER);
	assert_int_equal(r->path_len, strlen("/api/v1/books/8412"));
	assert_memory_equal(r->path, "/api/v1/books/8412", r->path_len);
	/* the query never leaves the kernel */
	assert_null(memmem(r->path, sizeof(r->path), "SECRET", 6));
	assert_true(r->flags & PROBE_HTTP_F_QUERY);
	assert_true(r->duration_ns > 0);
	assert_int_equal(r->lport, 8080);
	assert_string_equal(r->hdr.comm, "shim-comm");
	assert_string_equal(r->exe, "shim-exe");
	assert_int_equal(r->hdr.pid, 4242);
	assert_int_equal(r->fd, 9);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
	static const char reqs[] = "GET /a HTTP/1.1\r\n\r\n"
				   "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
				   "GET /c HTTP/1.1\r\n\r\n";
	static const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
				    "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx"
				    "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";

	(void)state;
	shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 8080, 51000);
	io(reqs, IN);
	io(resps, OUT);
	assert_int_equal(shim_nrecs, 3);
	assert_memory_equal(http_rec(0)->path, "/a", 2);
	assert_int_equal(http_rec(0)->status, 200);
	assert_int_equal(http_rec(1)->method, PROBE_HTTP_M_POST);
	assert_int_equal(http_rec(1)->status, 404);
	assert_true(http_rec(1)->flags & PROBE_HTTP_F_PIPELINED);
	assert_memory_equal(http_rec(2)->path, "/c", 2);
	assert_int_equal(http_rec(2)->status, 500);
}

/*
 * A server reads a request whose headers end its payload (the fast path,
 * no header fields noted), then its body, then the next request: two
 * requests, neither pipelined, the body never taken for a request.
 */
static void test_headers_ending_the_payload_then_body_then_next(void **state)
{
	(void)state;
	shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 8080, 51000);
	io("POST /up HTTP/1.1\r\nContent-Length: 14\r\n\r\n", IN);
	io("name=value&x=1", IN);
	io("HTTP/1.1 201 Created\r\n\r\n", OUT);
	io("GET /next HTTP/1.1\r\nHost: x\r\n\r\n", IN);
	io("HTTP/1.1 200 OK\r\n\r\n", OUT);
	assert_int_equal(shim_nrecs, 2);
	assert_int_equal(http_rec(0)->method, PROBE_HTTP_M_POST);
	assert_int_equal(http_rec(0)->status, 201);
	assert_false(http_rec(0)->flags & PROBE_HTTP_F_PIPELINED);
	assert_memory_equal(http_rec(1)->path, "/next", 5);
	assert_int_equal(http_rec(1)->status, 200);
	assert_false(http_rec(1)->flags & PROBE_HTTP_F_PIPELINED);
}

static void test_client_call_keeps_host(void **state)
{
	const struct probe_http_req *r;

	(void)state;
	shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 51000, 80);
	io("GET /v1/x HTTP/1.1\r\nHost: api.example:80\r\n\r\n", OUT);
	io("HTTP/1.1 503 Busy\r\n\r\n", IN);
	assert_int_equal(shim_nrecs, 1);
	r = http_rec(0);
	assert_int_equal(r->role, PROBE_ROLE_CLIENT);
	assert_int_equal(r->status, 503);
	assert_int_equal(r->host_len, strlen("api.example:80"));
	assert_memory_equal(r->host, "api.example:80", r->host_len);
}

static void test_other_protocols_are_given_up(void **state)
{
	static const unsigned char tls[] = { 0x16, 0x03, 0x01, 0x00, 0xa5, 0x01 };
	struct probe_conn *c;
	int i;

	(void)state;
	c = shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 40000, 443);
	io_bytes(tls, sizeof(tls), OUT);
	assert_int_equal(c->proto, PROBE_PROTO_NONE);

	shim_reset();
	c = shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 40000, 9999);
	for (i = 0; i < PROBE_SOCK_MAX_MISSES; i++)
		io("binary\x01\x02 stuff", OUT);
	assert_int_equal(c->proto, PROBE_PROTO_NONE);
	assert_int_equal(shim_stat(PROBE_SOCK_STAT_NOT_PARSED), 1);
	assert_int_equal(shim_nrecs, 0);
}

static void test_garbage_on_an_http_port_is_unparsed_and_its_answer_not_timed(void **state)
{
	(void)state;
	shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 8080, 51000);
	io("GET / HTTP/1.1\r\n\r\n", IN);
	io("HTTP/1.1 200 OK\r\n\r\n", OUT);
	assert_int_equal(shim_nrecs, 1);
	/* a new connection to the same port: the port is known to serve HTTP */
	bpf_map_delete_elem(&http_conns, &(__u64){ KEY });
	shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 8080, 51001);
	io("\x01\x02garbage", IN);
	io("HTTP/1.1 400 Bad Request\r\n\r\n", OUT);
	assert_int_equal(shim_nrecs, 1);
	assert_int_equal(shim_stat(PROBE_SOCK_STAT_HTTP_UNPARSED), 1);
	assert_int_equal(shim_stat(PROBE_SOCK_STAT_HTTP_ORPHAN), 0);
}

static void test_response_without_request_is_an_orphan(void **state)
{
	(void)state;
	shim_conn(KEY, PROBE_PROTO_HTTP, PROBE_ROLE_SERVER, 8080, 51000);
	io("HTTP/1.1 200 OK\r\n\r\n", OUT);
	assert_int_equal(shim_nrecs, 0);
	assert_int_equal(shim_stat(PROBE_SOCK_STAT_HTTP_ORPHAN), 1);
}

static void test_redis_get_hit_and_miss(void **state)
{
	const struct probe_db_query *q;
	struct probe_conn *c;

	(void)state;
	c = shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 40000, 6379);
	io("*2\r\n$3\r\nget\r\n$3\r\nkey\r\n", OUT);
	assert_int_equal(c->proto, PROBE_PROTO_REDIS);
	io("$5\r\nvalue\r\n", IN);
	io("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n*1\r\n$4\r\nPING\r\n", OUT);
	io("$-1\r\n+PONG\r\n", IN);
	assert_int_equal(shim_nrecs, 3);
	q = db_rec(0);
	assert_int_equal(q->kind, PROBE_DB_K_REDIS);
	assert_string_equal(q->op, "GET");
	assert_int_equal(q->result, PROBE_DB_R_HIT);
	assert_int_equal(db_rec(1)->result, PROBE_DB_R_MISS);
	assert_string_equal(db_rec(2)->op, "PING");
	assert_int_equal(db_rec(2)->result, PROBE_DB_R_NONE);
	/* neither key nor value travels */
	assert_null(memmem(q, sizeof(*q), "value", 5));
}

static void pg_msg(char *out, size_t *n, char type, const char *body, size_t blen)
{
	__u32 len = (__u32)blen + 4;

	out[(*n)++] = type;
	out[(*n)++] = (char)(len >> 24);
	out[(*n)++] = (char)(len >> 16);
	out[(*n)++] = (char)(len >> 8);
	out[(*n)++] = (char)len;
	memcpy(out + *n, body, blen);
	*n += blen;
}

static void test_postgresql_query_and_error(void **state)
{
	static const char sql[] = "  select 1";
	char w[128], r[128];
	size_t wn = 0, rn = 0;

	(void)state;
	shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 40000, 5432);
	bpf_map_update_elem(&db_ports, &(__u32){ 5432 }, &(__u8){ PROBE_DB_K_PGSQL }, BPF_ANY);
	pg_msg(w, &wn, 'Q', sql, sizeof(sql));
	io_bytes(w, wn, OUT);
	pg_msg(r, &rn, 'C', "SELECT 1", 9);
	pg_msg(r, &rn, 'Z', "I", 1);
	io_bytes(r, rn, IN);
	wn = rn = 0;
	pg_msg(w, &wn, 'Q', "oops", 5);
	io_bytes(w, wn, OUT);
	pg_msg(r, &rn, 'E', "SERROR", 7);
	pg_msg(r, &rn, 'Z', "I", 1);
	io_bytes(r, rn, IN);
	assert_int_equal(shim_nrecs, 2);
	assert_int_equal(db_rec(0)->kind, PROBE_DB_K_PGSQL);
	assert_string_equal(db_rec(0)->op, "SELECT");
	assert_int_equal(db_rec(0)->status, PROBE_DB_S_OK);
	assert_string_equal(db_rec(1)->op, "OOPS");
	assert_int_equal(db_rec(1)->status, PROBE_DB_S_ERROR);
}

static void test_mysql_greeting_then_query(void **state)
{
	static const unsigned char greeting[] = {
		30, 0, 0, 0, 0x0a, '1', '0', '.', '1', '1', 0, 1, 0, 0, 0,
		'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	static const unsigned char query[] = { 9, 0, 0, 0, 0x03, 'u', 'p', 'd', 'a', 't', 'e', ' ', 't' };
	static const unsigned char err[] = { 4, 0, 0, 1, 0xff, 0x28, 0x04, '#' };
	struct probe_conn *c;

	(void)state;
	c = shim_conn(KEY, PROBE_PROTO_UNKNOWN, PROBE_ROLE_NONE, 40000, 3306);
	io_bytes(greeting, sizeof(greeting), IN);
	assert_int_equal(c->proto, PROBE_PROTO_MYSQL);
	io_bytes(query, sizeof(query), OUT);
	io_bytes(err, sizeof(err), IN);
	assert_int_equal(shim_nrecs, 1);
	assert_int_equal(db_rec(0)->kind, PROBE_DB_K_MYSQL);
	assert_string_equal(db_rec(0)->op, "UPDATE");
	assert_int_equal(db_rec(0)->status, PROBE_DB_S_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_server_request_and_response, setup),
		cmocka_unit_test_setup(test_pipelined_requests_answered_in_order, setup),
		cmocka_unit_test_setup(test_headers_ending_the_payload_then_body_then_next, setup),
		cmocka_unit_test_setup(test_client_call_keeps_host, setup),
		cmocka_unit_test_setup(test_other_protocols_are_given_up, setup),
		cmocka_unit_test_setup(test_garbage_on_an_http_port_is_unparsed_and_its_answer_not_timed,
				       setup),
		cmocka_unit_test_setup(test_response_without_request_is_an_orphan, setup),
		cmocka_unit_test_setup(test_redis_get_hit_and_miss, setup),
		cmocka_unit_test_setup(test_postgresql_query_and_error, setup),
		cmocka_unit_test_setup(test_mysql_greeting_then_query, setup),
	};

	return cmocka_run_group_tests_name("sockets", tests, NULL, NULL);
}
