/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The family table: every declaration complete enough for a reader that
 * has no per-signal code (names, help, units, label attributes), names
 * unique, and registration through the table matching the store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "core/families.h"
#include "core/store.h"

static void check_metric(const struct metric_desc *m)
{
	assert_non_null(m->name);
	assert_non_null(m->unit);
	assert_non_null(m->help);
	assert_true(strlen(m->help) > 0);
	/* a split needs both halves and an export name to split */
	assert_true(!m->split_key == !m->split_value);
	if (m->split_key)
		assert_non_null(m->export);
}

static void test_every_declaration_complete(void **state)
{
	unsigned int i, k, j;

	(void)state;
	assert_int_equal(families__count(), FAM_MAX);
	for (i = 0; i < families__count(); i++) {
		const struct family_desc *d = families__get(i);

		assert_non_null(d);
		assert_non_null(d->name);
		assert_non_null(d->help);
		assert_true(d->max_series > 0);
		assert_true(d->nlabels > 0 && d->nlabels <= STORE_MAX_LABELS);
		assert_true(d->ncounters <= WINDOW_MAX_COUNTERS);
		assert_true(d->ngauges <= STORE_MAX_GAUGES);
		assert_true(d->ncounters + d->ngauges + (d->hist_unit != NULL) > 0);
		for (k = 0; k < d->nlabels; k++) {
			assert_non_null(d->labels[k].key);
			assert_non_null(d->labels[k].attr);
			if (d->labels[k].flags & LABEL_HOSTPORT)
				assert_non_null(d->labels[k].attr_port);
			for (j = 0; j < k; j++)
				assert_string_not_equal(d->labels[j].key, d->labels[k].key);
		}
		for (k = 0; k < d->ncounters; k++)
			check_metric(&d->counters[k]);
		for (k = 0; k < d->ngauges; k++)
			check_metric(&d->gauges[k]);
		if (d->hist_unit) {
			assert_true(!strcmp(d->hist_unit, "ns") || !strcmp(d->hist_unit, "bytes"));
			assert_non_null(d->hist_help);
			assert_non_null(d->hist_export);
		}
		for (j = 0; j < i; j++)
			assert_string_not_equal(families__get(j)->name, d->name);
		assert_ptr_equal(families__find(d->name), d);
	}
	assert_null(families__get(FAM_MAX));
	assert_null(families__find("no-such-family"));
}

static void test_named_indices_match_names(void **state)
{
	const struct family_desc *d;

	(void)state;
	d = families__get(FAM_SYSCALL);
	assert_string_equal(d->name, "syscall");
	assert_string_equal(d->counters[SYSCALL_ERRORS].name, "errors");
	d = families__get(FAM_TCP_CONNECT);
	assert_int_equal(d->ncounters, CC_MAX);
	assert_string_equal(d->counters[CC_TIMEOUT].name, "timeout");
	assert_string_equal(d->counters[CC_TIMEOUT].split_value, "timeout");
	d = families__get(FAM_TCP_CONN);
	assert_int_equal(d->ngauges, KG_MAX);
	assert_string_equal(d->gauges[KG_CONNECTING].name, "connecting");
	d = families__get(FAM_MEM_GROWTH);
	assert_int_equal(d->ngauges, MG_NGAUGES);
	assert_string_equal(d->gauges[MG_SUSPECT].name, "suspect");
	d = families__get(FAM_DB_QUERY);
	assert_string_equal(d->counters[DQ_MISSES].name, "misses");
	assert_int_equal(families__label_index(d, "op"), 4);
	assert_int_equal(families__label_index(d, "nope"), -1);
}

static void test_register_and_lookup(void **state)
{
	struct store_opts o = { .slot_ns = 1000000000ULL, .nslots = 4 };
	struct store *s = store__new(&o);
	struct family *f;

	(void)state;
	assert_non_null(s);
	assert_null(families__lookup(s, FAM_HTTP_SERVER));
	f = families__register(s, FAM_HTTP_SERVER, 7);
	assert_non_null(f);
	assert_ptr_equal(families__lookup(s, FAM_HTTP_SERVER), f);
	assert_int_equal(family__desc(f)->max_series, 7);
	assert_string_equal(family__desc(f)->hist_export, "http.server.request.duration");
	/* 0: the declared cap */
	f = families__register(s, FAM_SYSCALL, 0);
	assert_int_equal(family__desc(f)->max_series, families__get(FAM_SYSCALL)->max_series);
	errno = 0;
	assert_null(families__register(s, FAM_MAX, 0));
	assert_int_equal(errno, EINVAL);
	assert_null(families__lookup(s, FAM_MAX));
	store__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_declaration_complete),
		cmocka_unit_test(test_named_indices_match_names),
		cmocka_unit_test(test_register_and_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
