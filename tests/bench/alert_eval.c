/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alert_eval: what one evaluation of the default alert rules costs the
 * event loop, against a store of N http_server routes (each with two
 * status classes and a histogram of 100 requests per slot) and N db_query
 * series, every slot of a 5 min window filled. Prints the median and the
 * slowest of ROUNDS evaluations for each N.
 *
 * usage: alert_eval [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "alert/engine.h"
#include "core/families.h"
#include "core/store.h"

#define SEC 1000000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static unsigned int notes;

static void count(const struct alert_event *ev, void *arg)
{
	(void)ev;
	(void)arg;
	notes++;
}

int main(int argc, char **argv)
{
	static const unsigned int sizes[] = { 100, 1000, 5000 };
	unsigned int rounds = argc > 1 ? (unsigned int)atoi(argv[1]) : 21, k;
	static struct probe_config cfg;
	char err[512];

	if (config__apply_json(&cfg, config__default_json, "default", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%-8s %-8s %12s %12s %8s\n", "ROUTES", "QUERIES", "MEDIAN_US", "MAX_US", "ALERTS");
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct store_opts so = { .slot_ns = 10 * SEC, .nslots = 30 };
		struct store *st = store__new(&so);
		struct family *fh = families__register(st, FAM_HTTP_SERVER, 20000);
		struct family *fd = families__register(st, FAM_DB_QUERY, 20000);
		struct alerts *a = alerts__new(&cfg.alerts, count, NULL);
		uint64_t *t = calloc(rounds, sizeof(*t)), base = 1000 * SEC, now;
		unsigned int i, s, r;

		notes = 0;
		for (s = 0; s < 30; s++) {
			now = base + s * 10 * SEC;
			for (i = 0; i < sizes[k]; i++) {
				char route[32], op[16];
				struct label l[5] = { { "comm", "app" }, { "exe", "/usr/bin/app" },
						      { "method", "GET" }, { "route", route },
						      { "status_class", "2xx" } };
				struct label d[5] = { { "pid", "42" }, { "comm", "app" },
						      { "dest", "127.0.0.1:5432" },
						      { "kind", "postgresql" }, { "op", op } };

				snprintf(route, sizeof(route), "/api/v1/r%u", i);
				snprintf(op, sizeof(op), "OP%u", i);
				/* one route in ten slow: some alerts fire */
				series__observe_n(family__series(fh, l, 5), now,
						  i % 10 ? 20000000ULL : 4000000000ULL, 95);
				l[4].value = "5xx";
				series__observe_n(family__series(fh, l, 5), now, 30000000ULL, 5);
				series__observe_n(family__series(fd, d, 5), now, 1000000ULL, 50);
			}
		}
		now = base + 300 * SEC;
		for (r = 0; r < rounds; r++) {
			uint64_t t0 = now_ns();

			alerts__evaluate(a, st, now + r * 10 * SEC, 1.7e9);
			t[r] = now_ns() - t0;
		}
		qsort(t, rounds, sizeof(*t), cmp);
		printf("%-8u %-8u %12.0f %12.0f %8u\n", sizes[k], sizes[k], t[rounds / 2] / 1e3,
		       t[rounds - 1] / 1e3, notes);
		free(t);
		alerts__free(a);
		store__free(st);
	}
	return 0;
}
