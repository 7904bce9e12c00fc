/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/proc/attrib.c and its place in the family
 * declarations: every per-process family ends with the four attribution
 * labels and stays within the store's label bound; labels without an
 * attrib are the four keys with empty values; by-pid lookups read
 * /proc/PID/cgroup (a tree made by the test), keep their answer after the
 * process is gone, and are read again once forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "core/families.h"
#include "proc/attrib.h"
#include "proc/cgroup.h"

#define CID	"9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"

static const char *const keys[ATTRIB_NLABELS] = {
	"container_id", "k8s_pod_name", "k8s_namespace_name", "k8s_node_name",
};

static void test_families_end_with_attribution(void **state)
{
	unsigned int i, k, with = 0;

	(void)state;
	for (i = 0; i < families__count(); i++) {
		const struct family_desc *d = families__get(i);
		int internal = !strcmp(d->name, "probe_signal") || !strcmp(d->name, "http_stats") ||
			       !strcmp(d->name, "db_stats") || !strcmp(d->name, "alert_sink") ||
			       !strcmp(d->name, "tls_stats");

		assert_true(d->nlabels <= STORE_MAX_LABELS);
		if (internal) {
			assert_int_equal(families__label_index(d, "container_id"), -1);
			continue;
		}
		assert_true(d->nlabels > ATTRIB_NLABELS);
		for (k = 0; k < ATTRIB_NLABELS; k++) {
			const struct label_desc *l = &d->labels[d->nlabels - ATTRIB_NLABELS + k];

			if (strcmp(l->key, keys[k])) {
				print_error("family %s: label %u is %s, want %s\n", d->name,
					    d->nlabels - ATTRIB_NLABELS + k, l->key, keys[k]);
				fail();
			}
			assert_non_null(l->attr);
		}
		with++;
	}
	assert_true(with >= 10);
}

static void test_no_attrib(void **state)
{
	struct label l[ATTRIB_NLABELS];
	unsigned int k;

	(void)state;
	memset(l, 0, sizeof(l));
	assert_int_equal(attrib__labels(NULL, 123, 1, l), ATTRIB_NLABELS);
	for (k = 0; k < ATTRIB_NLABELS; k++) {
		assert_string_equal(l[k].key, keys[k]);
		assert_string_equal(l[k].value, "");
	}
	assert_int_equal(attrib__generation(NULL), 0);
}

static void test_by_pid(void **state)
{
	char dir[] = "/tmp/probe-attrib-XXXXXX", path[256];
	struct cgroups_opts o = { .v2_root = "/nonexistent", .cap = 16, .v1 = 0 };
	const struct cgroup_attr *a;
	struct cgroups *c;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/321", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/321/cgroup", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	/* v1 lines naming another container are not read when v1 is off */
	fputs("4:memory:/docker/" CID "\n0::/system.slice/docker-" CID ".scope\n", f);
	fclose(f);
	o.proc_root = dir;
	c = cgroups__new(&o);
	assert_non_null(c);

	a = cgroups__get_pid(c, 321);
	assert_string_equal(a->container_id, CID);
	assert_int_equal(a->runtime, CGROUP_RT_DOCKER);
	assert_int_equal(a->from_v1, 0);
	/* cached: the process may go, the answer stays (read again after 10 s, kept if gone) */
	unlink(path);
	a = cgroups__get_pid(c, 321);
	assert_string_equal(a->container_id, CID);
	/* forgotten: read again, and nothing is there */
	cgroups__forget_pid(c, 321);
	a = cgroups__get_pid(c, 321);
	assert_string_equal(a->container_id, "");
	assert_string_equal(cgroups__get_pid(c, 0)->container_id, "");
	cgroups__free(c);
	snprintf(path, sizeof(path), "%s/321", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families_end_with_attribution),
		cmocka_unit_test(test_no_attrib),
		cmocka_unit_test(test_by_pid),
	};

	return cmocka_run_group_tests_name("attrib", tests, NULL, NULL);
}
