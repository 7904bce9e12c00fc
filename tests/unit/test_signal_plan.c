/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for the signals' plans on a kernel that lacks what they need:
 * each says unavailable, in the feature probe's own words, before it
 * touches anything else (user/loader/signals.c signal__needs()).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "loader/features.h"
#include "loader/signal.h"

extern const struct signal_ops proc_signal, syscalls_signal, http_signal, conn_signal,
	memgrowth_signal, alloc_signal;

static struct probe_config cfg;

/* A kernel with every feature but the one missing, which says why. */
static void kernel_without(struct features *f, enum feature missing)
{
	unsigned int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < FEAT_MAX; i++) {
		f->have[i] = i != missing;
		snprintf(f->why[i], sizeof(f->why[i]), "%s: probed", features__name(i));
	}
	snprintf(f->why[missing], sizeof(f->why[missing]), "no %s on this test kernel",
		 features__name(missing));
}

static void plan(const struct signal_ops *ops, enum feature missing, int filter,
		 struct signal_status *st)
{
	struct probe_ctx ctx;
	struct features f;

	kernel_without(&f, missing);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.feat = &f;
	ctx.filter = filter;
	ctx.tracked_fd = -1;
	memset(st, 0, sizeof(*st));
	st->state = SIG_LIVE;
	ops->plan(&ctx, st);
}

static void test_needs(void **state)
{
	struct signal_status st = { .state = SIG_LIVE };
	struct probe_ctx ctx = { .cfg = &cfg };
	struct features f;

	(void)state;
	kernel_without(&f, FEAT_RINGBUF);
	ctx.feat = &f;
	assert_true(SIGNAL_NEEDS(&ctx, &st, FEAT_BTF, FEAT_TRACEPOINT));
	assert_int_equal(st.state, SIG_LIVE);
	/* the first missing one is named, whatever follows it */
	assert_false(SIGNAL_NEEDS(&ctx, &st, FEAT_BTF, FEAT_RINGBUF, FEAT_UPROBE));
	assert_int_equal(st.state, SIG_UNAVAILABLE);
	assert_string_equal(st.why, f.why[FEAT_RINGBUF]);
}

static void test_each_signal_says_what_it_lacks(void **state)
{
	static const struct {
		const struct signal_ops *ops;
		enum feature missing;
		int filter;	/* syscalls plans only under --pid by default */
	} cases[] = {
		{ &proc_signal, FEAT_RINGBUF, 0 },
		{ &syscalls_signal, FEAT_TRACEPOINT, 1 },
		{ &http_signal, FEAT_BTF, 0 },
		{ &http_signal, FEAT_RINGBUF, 0 },
		{ &conn_signal, FEAT_TRACEPOINT, 0 },
		{ &conn_signal, FEAT_RINGBUF, 0 },
		{ &memgrowth_signal, FEAT_RAW_TP, 0 },
		{ &memgrowth_signal, FEAT_RINGBUF, 0 },
		{ &alloc_signal, FEAT_UPROBE, 1 },
	};
	struct signal_status st;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		plan(cases[i].ops, cases[i].missing, cases[i].filter, &st);
		if (st.state != SIG_UNAVAILABLE)
			fail_msg("%s without %s: state %d, why \"%s\"", cases[i].ops->name,
				 features__name(cases[i].missing), st.state, st.why);
		assert_non_null(strstr(st.why, "on this test kernel"));
		assert_non_null(strstr(st.why, features__name(cases[i].missing)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needs),
		cmocka_unit_test(test_each_signal_says_what_it_lacks),
	};
	char err[256];

	if (config__load(&cfg, NULL, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
