/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/signals/dbquery.c: the operation label never carries
 * anything but an uppercase name, the kind follows the config's port table
 * before the detected protocol, and records are checked before use.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "core/store.h"
#include "loader/signal.h"
#include "proc/names.h"
#include "signals/dbquery.h"

static void test_op_names(void **state)
{
	char out[PROBE_DB_OP_LEN];
	char raw[PROBE_DB_OP_LEN];

	(void)state;
	memset(raw, 0, sizeof(raw));
	memcpy(raw, "SELECT", 6);
	assert_string_equal(dbquery__op(raw, out), "SELECT");
	memset(raw, 0, sizeof(raw));
	memcpy(raw, "ZRANGE_BY", 9);
	assert_string_equal(dbquery__op(raw, out), "ZRANGE_BY");
	/* lowercase, digits, quotes, a leading '_': not a name we made */
	memset(raw, 0, sizeof(raw));
	memcpy(raw, "select", 6);
	assert_string_equal(dbquery__op(raw, out), "?");
	memset(raw, 0, sizeof(raw));
	memcpy(raw, "SEL'1", 5);
	assert_string_equal(dbquery__op(raw, out), "?");
	memset(raw, 0, sizeof(raw));
	memcpy(raw, "_X", 2);
	assert_string_equal(dbquery__op(raw, out), "?");
	memset(raw, 0, sizeof(raw));
	assert_string_equal(dbquery__op(raw, out), "?");
	/* 15 letters and the NUL: kept; 16 with no NUL: not trusted */
	memcpy(raw, "ABCDEFGHIJKLMNO", 16);
	assert_string_equal(dbquery__op(raw, out), "ABCDEFGHIJKLMNO");
	memset(raw, 'A', sizeof(raw));
	assert_string_equal(dbquery__op(raw, out), "?");
}

static void test_kind(void **state)
{
	struct probe_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(config__load(&cfg, NULL, err, sizeof(err)), 0);
	assert_string_equal(dbquery__kind(&cfg.conn.ports, PROBE_DB_K_PGSQL, 5432), "postgresql");
	/* a non-standard port: the detected protocol */
	assert_string_equal(dbquery__kind(&cfg.conn.ports, PROBE_DB_K_REDIS, 40001), "redis");
	assert_string_equal(dbquery__kind(&cfg.conn.ports, PROBE_DB_K_PGSQL, 40001), "postgresql");
	/* the table wins: the same kind the conn signal shows */
	assert_string_equal(dbquery__kind(&cfg.conn.ports, PROBE_DB_K_PGSQL, 6379), "redis");
	assert_string_equal(dbquery__kind(NULL, 200, 1), "?");
}

struct seen {
	int n;
	char op[32], dest[64], kind[32];
};

static int see(struct series *se, void *arg)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->op, sizeof(s->op), "%s", series__label(se, "op"));
	snprintf(s->dest, sizeof(s->dest), "%s", series__label(se, "dest"));
	snprintf(s->kind, sizeof(s->kind), "%s", series__label(se, "kind"));
	return 0;
}

static void test_records(void **state)
{
	struct store_opts so = { .slot_ns = 1000000000ULL, .nslots = 6 };
	struct probe_config cfg;
	struct probe_ctx ctx;
	struct probe_db_query r;
	struct seen seen = { 0 };
	uint64_t recs, bad;
	struct dbquery *q;
	char err[256];

	(void)state;
	assert_int_equal(config__load(&cfg, NULL, err, sizeof(err)), 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.store = store__new(&so);
	ctx.names = names__new(16);
	assert_non_null(ctx.store);
	assert_non_null(ctx.names);
	q = dbquery__new(&ctx);
	assert_non_null(q);

	memset(&r, 0, sizeof(r));
	r.hdr.type = PROBE_REC_DB_QUERY;
	r.hdr.version = PROBE_DB_VERSION;
	r.hdr.size = sizeof(r);
	r.hdr.ts_ns = 5000000000ULL;
	r.hdr.pid = (uint32_t)getpid();
	memcpy(r.hdr.comm, "client", 7);
	r.kind = PROBE_DB_K_PGSQL;
	r.family = AF_INET;
	r.rport = 40123;
	inet_pton(AF_INET, "127.0.0.1", r.raddr);
	r.duration_ns = 1000;
	memcpy(r.op, "SELECT", 6);
	assert_true(dbquery__is_record(&r, sizeof(r)));
	assert_int_equal(dbquery__record(q, &r, sizeof(r)), 0);

	/* short, wrong version, unknown kind: counted, not stored */
	assert_int_equal(dbquery__record(q, &r, sizeof(r) - 1), 0);
	r.hdr.version = 99;
	assert_int_equal(dbquery__record(q, &r, sizeof(r)), 0);
	r.hdr.version = PROBE_DB_VERSION;
	r.kind = PROBE_DB_K_MAX;
	assert_int_equal(dbquery__record(q, &r, sizeof(r)), 0);
	dbquery__counts(q, &recs, &bad);
	assert_int_equal(recs, 1);
	assert_int_equal(bad, 3);

	family__for_each(store__find_family(ctx.store, "db_query"), see, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.op, "SELECT");
	assert_string_equal(seen.dest, "127.0.0.1:40123");
	assert_string_equal(seen.kind, "postgresql");

	r.hdr.type = PROBE_REC_DB_BASE - 1;
	assert_false(dbquery__is_record(&r, sizeof(r)));
	dbquery__free(q);
	names__free(ctx.names);
	store__free(ctx.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
