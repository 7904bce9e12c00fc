/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/core/dbports.c (destination port -> kind) and its
 * place in the config: the embedded default names the usual database
 * ports, a user file overrides kinds without restating the rest, and a bad
 * table is an error naming the key, never a half-applied table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "core/dbports.h"

#define ERRLEN 512

static void assert_kind(const struct dbports *t, uint16_t port, const char *want)
{
	const char *got = dbports__kind(t, port);

	if (!want) {
		if (got) {
			print_error("port %u: kind %s, want none\n", port, got);
			fail();
		}
		return;
	}
	if (!got || strcmp(got, want)) {
		print_error("port %u: kind %s, want %s\n", port, got ? got : "(none)", want);
		fail();
	}
}

static int apply(struct probe_config *c, const char *json, char *err)
{
	err[0] = 0;
	return config__apply_json(c, json, "test.json", err, ERRLEN);
}

static void load(struct probe_config *c)
{
	char err[ERRLEN] = "";

	assert_int_equal(config__load(c, NULL, err, sizeof(err)), 0);
}

static void test_defaults(void **state)
{
	static const struct {
		uint16_t port;
		const char *kind;
	} want[] = {
		{ 5432, "postgresql" }, { 3306, "mysql" }, { 6379, "redis" },
		{ 27017, "mongodb" }, { 11211, "memcached" }, { 9042, "cassandra" },
		{ 1433, "mssql" }, { 1521, "oracle" }, { 9200, "elasticsearch" },
		{ 9092, "kafka" }, { 5672, "rabbitmq" }, { 4222, "nats" }, { 2379, "etcd" },
		{ 2181, "zookeeper" }, { 5984, "couchdb" }, { 8086, "influxdb" },
		{ 7687, "neo4j" },
		/* not named: plain TCP */
		{ 80, NULL }, { 443, NULL }, { 5433, NULL }, { 1, NULL }, { 65535, NULL },
	};
	struct probe_config c;
	size_t i;

	(void)state;
	load(&c);
	assert_int_equal(c.conn.enabled, CFG_ON);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_kind(&c.conn.ports, want[i].port, want[i].kind);
	assert_int_equal(c.conn.ports.nkinds, 17);
	assert_int_equal(c.conn.ports.nports, 17);
}

static void test_override_keeps_the_rest(void **state)
{
	struct probe_config c;
	char err[ERRLEN];

	(void)state;
	load(&c);
	/* a second postgres port, redis moved, a new kind, memcached removed */
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"ports\": {"
				   "\"postgresql\": [5432, 6432], \"redis\": [6380],"
				   "\"tidb\": [4000], \"memcached\": []}}}}", err), 0);
	assert_string_equal(err, "");
	assert_kind(&c.conn.ports, 5432, "postgresql");
	assert_kind(&c.conn.ports, 6432, "postgresql");
	assert_kind(&c.conn.ports, 6379, NULL);
	assert_kind(&c.conn.ports, 6380, "redis");
	assert_kind(&c.conn.ports, 4000, "tidb");
	assert_kind(&c.conn.ports, 11211, NULL);
	assert_kind(&c.conn.ports, 3306, "mysql");	/* untouched */
	assert_kind(&c.conn.ports, 27017, "mongodb");
}

static void test_port_moves_to_the_later_kind(void **state)
{
	struct probe_config c;
	char err[ERRLEN];

	(void)state;
	load(&c);
	/* a user file may claim a default port for a kind of its own */
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"ports\": "
				   "{\"pgbouncer\": [5432]}}}}", err), 0);
	assert_kind(&c.conn.ports, 5432, "pgbouncer");
	/* postgresql lost its only port, so the kind is gone too */
	assert_int_equal(c.conn.ports.nkinds, 17);
	/* and back again */
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"ports\": "
				   "{\"postgresql\": [5432]}}}}", err), 0);
	assert_kind(&c.conn.ports, 5432, "postgresql");
	assert_int_equal(c.conn.ports.nkinds, 17);
}

static void test_errors_name_the_key_and_change_nothing(void **state)
{
	static const struct {
		const char *ports;
		int ret;
		const char *needle;
	} cases[] = {
		{ "{\"redis\": [70000]}", -ERANGE,
		  "test.json: signals.conn.ports.redis: 70000 is out of range [1, 65535]" },
		{ "{\"redis\": [0]}", -ERANGE, "signals.conn.ports.redis: 0 is out of range" },
		{ "{\"redis\": [-1]}", -ERANGE, "signals.conn.ports.redis: -1 is out of range" },
		{ "{\"redis\": [6379.5]}", -EINVAL, "signals.conn.ports.redis: expected a whole" },
		{ "{\"redis\": 6379}", -EINVAL, "signals.conn.ports.redis: expected an array" },
		{ "{\"redis\": [\"6379\"]}", -EINVAL, "signals.conn.ports.redis: expected port" },
		{ "{\"redis\": [null]}", -EINVAL, "signals.conn.ports.redis: expected port" },
		{ "{\"Redis\": [1]}", -EINVAL, "signals.conn.ports.Redis: a kind is 1 to 23" },
		{ "{\"\": [1]}", -EINVAL, "signals.conn.ports.: a kind is" },
		{ "{\"a b\": [1]}", -EINVAL, "signals.conn.ports.a b: a kind is" },
		{ "{\"abcdefghijklmnopqrstuvwx\": [1]}", -EINVAL, "a kind is 1 to 23" },
		{ "{\"a\": [5], \"b\": [7, 5]}", -EINVAL,
		  "signals.conn.ports: port 5 is listed under both a and b" },
		{ "{\"a\": [5], \"a\": [6]}", -EINVAL, "signals.conn.ports.a: kind listed twice" },
		{ "[5432]", -EINVAL, "signals.conn.ports: expected an object" },
		{ "\"postgresql\"", -EINVAL, "signals.conn.ports: expected an object" },
		/* one bad kind after good ones: none of them applies */
		{ "{\"postgresql\": [1], \"mysql\": [2], \"x\": [1e9]}", -ERANGE,
		  "signals.conn.ports.x: 1e+09 is out of range" },
	};
	struct probe_config c, before;
	char err[ERRLEN], text[256];
	size_t i;

	(void)state;
	load(&before);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		c = before;
		snprintf(text, sizeof(text), "{\"signals\": {\"conn\": {\"ports\": %s}}}",
			 cases[i].ports);
		ret = apply(&c, text, err);
		if (ret != cases[i].ret || !strstr(err, cases[i].needle)) {
			print_error("%s: returned %d (want %d), err \"%s\" (want \"%s\")\n",
				    cases[i].ports, ret, cases[i].ret, err, cases[i].needle);
			fail();
		}
		assert_memory_equal(&c.conn.ports, &before.conn.ports, sizeof(before.conn.ports));
	}
}

static void test_enabled_values(void **state)
{
	struct probe_config c;
	char err[ERRLEN];

	(void)state;
	load(&c);
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"enabled\": false}}}", err), 0);
	assert_int_equal(c.conn.enabled, CFG_OFF);
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"enabled\": \"auto\"}}}", err), 0);
	assert_int_equal(c.conn.enabled, CFG_AUTO);
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"enabled\": 1}}}", err), -EINVAL);
	assert_non_null(strstr(err, "signals.conn.enabled"));
	assert_int_equal(apply(&c, "{\"signals\": {\"conn\": {\"colour\": 1}}}", err), -EINVAL);
	assert_non_null(strstr(err, "unknown key \"signals.conn.colour\""));
}

static void test_set_limits(void **state)
{
	struct dbports t, before;
	uint16_t ports[DBPORTS_MAX_PORTS + 1];
	char kind[16];
	unsigned int i;

	(void)state;
	dbports__clear(&t);
	for (i = 0; i < DBPORTS_MAX_PORTS + 1; i++)
		ports[i] = (uint16_t)(1000 + i);
	/* exactly full is fine; one more is refused and changes nothing */
	assert_int_equal(dbports__set(&t, "big", ports, DBPORTS_MAX_PORTS), 0);
	assert_int_equal(t.nports, DBPORTS_MAX_PORTS);
	before = t;
	assert_int_equal(dbports__set(&t, "more", ports + DBPORTS_MAX_PORTS, 1), -ENOSPC);
	assert_memory_equal(&t, &before, sizeof(t));
	/* replacing a kind's ports frees its old slots first */
	assert_int_equal(dbports__set(&t, "big", ports + 1, DBPORTS_MAX_PORTS), 0);
	assert_kind(&t, 1000, NULL);
	assert_kind(&t, (uint16_t)(1000 + DBPORTS_MAX_PORTS), "big");

	dbports__clear(&t);
	for (i = 0; i < DBPORTS_MAX_KINDS; i++) {
		uint16_t p = (uint16_t)(100 + i);

		snprintf(kind, sizeof(kind), "k%u", i);
		assert_int_equal(dbports__set(&t, kind, &p, 1), 0);
	}
	ports[0] = 99;
	assert_int_equal(dbports__set(&t, "onemore", ports, 1), -ENOSPC);
	/* a kind emptied by a move frees its slot */
	ports[0] = 100;
	assert_int_equal(dbports__set(&t, "onemore", ports, 1), 0);
	assert_kind(&t, 100, "onemore");
	assert_int_equal(t.nkinds, DBPORTS_MAX_KINDS);

	/* duplicates within one list count once; port 0 and bad names are refused */
	dbports__clear(&t);
	ports[0] = ports[1] = ports[2] = 7;
	assert_int_equal(dbports__set(&t, "x", ports, 3), 0);
	assert_int_equal(t.nports, 1);
	ports[0] = 0;
	assert_int_equal(dbports__set(&t, "x", ports, 1), -EINVAL);
	ports[0] = 8;
	assert_int_equal(dbports__set(&t, "X", ports, 1), -EINVAL);
	assert_int_equal(dbports__set(&t, "", ports, 1), -EINVAL);
	assert_kind(&t, 7, "x");
}

/* A table in memory nobody initialised is cleared, not trusted. */
static void test_garbage_table(void **state)
{
	static const unsigned char fills[] = { 0x00, 0x5a, 0xff, 0x01 };
	cJSON *obj = cJSON_Parse("{\"redis\": [6379]}");
	char err[ERRLEN];
	struct dbports t;
	size_t i;

	(void)state;
	assert_non_null(obj);
	for (i = 0; i < sizeof(fills); i++) {
		memset(&t, fills[i], sizeof(t));
		assert_int_equal(dbports__apply_json(&t, obj, "x", err, sizeof(err)), 0);
		assert_kind(&t, 6379, "redis");
		assert_int_equal(t.nkinds, 1);
		assert_int_equal(t.nports, 1);
	}
	/* lookups on a garbage table never read past it */
	memset(&t, 0xff, sizeof(t));
	assert_kind(&t, 0xffff, NULL);
	cJSON_Delete(obj);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_override_keeps_the_rest),
		cmocka_unit_test(test_port_moves_to_the_later_kind),
		cmocka_unit_test(test_errors_name_the_key_and_change_nothing),
		cmocka_unit_test(test_enabled_values),
		cmocka_unit_test(test_set_limits),
		cmocka_unit_test(test_garbage_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
