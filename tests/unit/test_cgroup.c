/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/proc/cgroup.c: cgroup paths as each runtime and
 * cgroup driver writes them (taken from /proc/PID/cgroup of real
 * containers) and the container, pod and runtime they must give; whole
 * /proc/PID/cgroup files of hybrid hosts; and the cached resolver, against
 * a /proc tree made by the test and, as root, against real cgroups made
 * under the cgroup2 mount.
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

#include "proc/cgroup.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define CID_A	"4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"
#define CID_B	"9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"
#define CID_C	"fe5f9d5e6b7a0c2e8b4a1d3c7f6e5d4c3b2a19087f6e5d4c3b2a190876543210"
#define UID_A	"ac04f3f2-1f2c-11e9-b0f4-0800278e2a2f"
#define UID_A_	"ac04f3f2_1f2c_11e9_b0f4_0800278e2a2f"
#define UID_S	"5e4b8f0bd1d6c2f1a6c5a9a3c8f1e2d3"	/* a static pod's config hash */

struct path_case {
	const char *path;
	const char *cid;	/* "" none */
	const char *uid;	/* "" none */
	enum cgroup_runtime rt;
	int ret;
};

static void run_cases(const struct path_case *cases, size_t n)
{
	struct cgroup_attr a;
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		const struct path_case *c = &cases[i];

		memset(&a, 0x5a, sizeof(a));
		ret = cgroup__parse_path(c->path, &a);
		if (ret != c->ret || strcmp(a.container_id, c->cid) || strcmp(a.pod_uid, c->uid) ||
		    a.runtime != c->rt) {
			print_error("path \"%s\": got ret %d cid \"%.65s\" uid \"%.37s\" rt %u, "
				    "want ret %d cid \"%s\" uid \"%s\" rt %u\n", c->path, ret,
				    a.container_id, a.pod_uid, a.runtime, c->ret, c->cid, c->uid,
				    c->rt);
			fail();
		}
	}
}

static void test_kubernetes(void **state)
{
	static const struct path_case cases[] = {
		/* containerd, systemd driver, each QoS class */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_
		  ".slice/cri-containerd-" CID_A ".scope", CID_A, UID_A, CGROUP_RT_CONTAINERD, 0 },
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_A_
		  ".slice/cri-containerd-" CID_B ".scope", CID_B, UID_A, CGROUP_RT_CONTAINERD, 0 },
		{ "/kubepods.slice/kubepods-pod" UID_A_ ".slice/cri-containerd-" CID_A ".scope",
		  CID_A, UID_A, CGROUP_RT_CONTAINERD, 0 },
		/* CRI-O, systemd driver; its conmon scope is not the container */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_
		  ".slice/crio-" CID_A ".scope", CID_A, UID_A, CGROUP_RT_CRIO, 0 },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_
		  ".slice/crio-conmon-" CID_A ".scope", "", UID_A, CGROUP_RT_NONE, 0 },
		/* CRI-O, cgroupfs driver */
		{ "/kubepods/besteffort/pod" UID_A "/crio-" CID_C, CID_C, UID_A, CGROUP_RT_CRIO, 0 },
		/* containerd (or dockershim), cgroupfs driver: runtime not in the path */
		{ "/kubepods/burstable/pod" UID_A "/" CID_A, CID_A, UID_A, CGROUP_RT_CRI, 0 },
		{ "/kubepods/pod" UID_A "/" CID_B, CID_B, UID_A, CGROUP_RT_CRI, 0 },
		/* dockershim, systemd driver */
		{ "/kubepods.slice/kubepods-podac04f3f2_1f2c_11e9_b0f4_0800278e2a2f.slice/docker-"
		  CID_A ".scope", CID_A, UID_A, CGROUP_RT_DOCKER, 0 },
		/* the pod's own cgroup (its processes are in the containers below) */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_A_ ".slice",
		  "", UID_A, CGROUP_RT_NONE, 0 },
		/* a static pod: the kubelet's config hash instead of a UUID */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_S
		  ".slice/cri-containerd-" CID_B ".scope", CID_B, UID_S, CGROUP_RT_CONTAINERD, 0 },
		{ "/kubepods/burstable/pod" UID_S "/" CID_B, CID_B, UID_S, CGROUP_RT_CRI, 0 },
		/* kind: the node is a Docker container, its pods inside it */
		{ "/system.slice/docker-" CID_C ".scope/kubelet.slice/kubelet-kubepods.slice/"
		  "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_A_
		  ".slice/cri-containerd-" CID_A ".scope", CID_A, UID_A, CGROUP_RT_CONTAINERD, 0 },
		{ "/docker/" CID_C "/kubepods/besteffort/pod" UID_A, "", UID_A, CGROUP_RT_NONE, 0 },
		/* as a private cgroup namespace shows another pod's path */
		{ "/../../kubepods-besteffort-pod" UID_A_ ".slice/cri-containerd-" CID_A ".scope",
		  CID_A, UID_A, CGROUP_RT_CONTAINERD, 0 },
		/* the kubepods parents alone */
		{ "/kubepods.slice/kubepods-burstable.slice", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/kubepods/burstable", "", "", CGROUP_RT_NONE, -ENOENT },
	};
	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
}

static void test_hosts(void **state)
{
	static const struct path_case cases[] = {
		/* Docker, systemd and cgroupfs drivers */
		{ "/system.slice/docker-" CID_B ".scope", CID_B, "", CGROUP_RT_DOCKER, 0 },
		{ "/docker/" CID_A, CID_A, "", CGROUP_RT_DOCKER, 0 },
		/* Podman, root and rootless */
		{ "/machine.slice/libpod-" CID_A ".scope", CID_A, "", CGROUP_RT_PODMAN, 0 },
		{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" CID_B
		  ".scope/container", CID_B, "", CGROUP_RT_PODMAN, 0 },
		{ "/machine.slice/libpod-conmon-" CID_A ".scope", "", "", CGROUP_RT_NONE, -ENOENT },
		/* containerd outside Kubernetes */
		{ "/k8s.io/" CID_C, CID_C, "", CGROUP_RT_CONTAINERD, 0 },
		{ "/system.slice/nerdctl-" CID_C ".scope", CID_C, "", CGROUP_RT_CONTAINERD, 0 },
		{ "/default/" CID_C, CID_C, "", CGROUP_RT_OTHER, 0 },
		/* plain hosts: services, sessions, the root */
		{ "/system.slice/nginx.service", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/system.slice/containerd.service", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/user.slice/user-0.slice/session-3.scope", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "", "", "", CGROUP_RT_NONE, -ENOENT },
		/* almost ids: too short, too long, upper case, not hex */
		{ "/docker/" "4f797c539e6c", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/docker/" CID_A "0", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/docker/4F797C539E6C745DE61A93CA3FF892358ECBCACCD8414D5DB545C38428142970", "", "",
		  CGROUP_RT_NONE, -ENOENT },
		{ "/system.slice/docker-" "zz797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c384281429"
		  ".scope", "", "", CGROUP_RT_NONE, -ENOENT },
		/* almost pods: a pod slice outside kubepods, a short uid, a bad separator */
		{ "/system.slice/app-pod" UID_A_ ".slice", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/kubepods/burstable/podac04f3f2-1f2c-11e9-b0f4", "", "", CGROUP_RT_NONE, -ENOENT },
		{ "/kubepods/burstable/podac04f3f2-1f2c-11e9-b0f4x0800278e2a2f", "", "",
		  CGROUP_RT_NONE, -ENOENT },
		/* slashes doubled or trailing */
		{ "//docker//" CID_A "/", CID_A, "", CGROUP_RT_DOCKER, 0 },
	};
	(void)state;
	run_cases(cases, ARRAY_SIZE(cases));
	assert_int_equal(cgroup__parse_path(NULL, NULL), -EINVAL);
}

struct proc_case {
	const char *text;
	const char *path;
	const char *cid;
	const char *uid;
	enum cgroup_runtime rt;
	int from_v1;
	int ret;
};

static void test_proc(void **state)
{
	static const struct proc_case cases[] = {
		/* hybrid host, Docker with the cgroupfs driver: the container only in v1 */
		{ "12:pids:/docker/" CID_A "\n"
		  "4:memory:/docker/" CID_A "\n"
		  "1:name=systemd:/docker/" CID_A "\n"
		  "0::/system.slice/containerd.service\n",
		  "/system.slice/containerd.service", CID_A, "", CGROUP_RT_DOCKER, 1, 0 },
		/* hybrid host, systemd driver: v2 names it */
		{ "1:name=systemd:/system.slice/docker-" CID_B ".scope\n"
		  "0::/system.slice/docker-" CID_B ".scope\n",
		  "/system.slice/docker-" CID_B ".scope", CID_B, "", CGROUP_RT_DOCKER, 0, 0 },
		/* v2 only */
		{ "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_A_
		  ".slice/cri-containerd-" CID_C ".scope\n",
		  "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_A_
		  ".slice/cri-containerd-" CID_C ".scope", CID_C, UID_A, CGROUP_RT_CONTAINERD, 0, 0 },
		/* v1 only (legacy host), Kubernetes cgroupfs driver; no trailing newline */
		{ "11:cpuset:/kubepods/burstable/pod" UID_A "/" CID_A "\n"
		  "2:cpu,cpuacct:/kubepods/burstable/pod" UID_A "/" CID_A,
		  "/kubepods/burstable/pod" UID_A "/" CID_A, CID_A, UID_A, CGROUP_RT_CRI, 1, 0 },
		/* this machine's own shape: nothing */
		{ "9:name=systemd:/\n4:memory:/process_api/b6874884adf1caecd4b86d35da7a39c1\n0::/\n",
		  "/", "", "", CGROUP_RT_NONE, 0, -ENOENT },
		/* garbage lines are skipped */
		{ "garbage\n::\n0:/no-second-colon\n0::/docker/" CID_A "\n",
		  "/docker/" CID_A, CID_A, "", CGROUP_RT_DOCKER, 0, 0 },
		{ "", "", "", "", CGROUP_RT_NONE, 0, -ENOENT },
	};
	struct cgroup_attr a;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct proc_case *c = &cases[i];

		ret = cgroup__parse_proc(c->text, &a);
		if (ret != c->ret || strcmp(a.path, c->path) || strcmp(a.container_id, c->cid) ||
		    strcmp(a.pod_uid, c->uid) || a.runtime != c->rt || a.from_v1 != c->from_v1) {
			print_error("case %zu: got ret %d path \"%s\" cid \"%s\" uid \"%s\" rt %u v1 %u\n",
				    i, ret, a.path, a.container_id, a.pod_uid, a.runtime, a.from_v1);
			fail();
		}
	}
}

static void test_long_path(void **state)
{
	char path[CGROUP_PATH_MAX * 2 + 100], text[sizeof(path) + 8];
	struct cgroup_attr a;
	size_t n = 0;

	(void)state;
	while (n < CGROUP_PATH_MAX * 2)
		n += snprintf(path + n, sizeof(path) - n, "/deep");
	snprintf(path + n, sizeof(path) - n, "/docker-%s.scope", CID_A);
	/* the pure parser sees all of it */
	assert_int_equal(cgroup__parse_path(path, &a), 0);
	assert_string_equal(a.container_id, CID_A);
	/* a /proc line is cut to CGROUP_PATH_MAX - 1 bytes, and the cut path names nothing */
	snprintf(text, sizeof(text), "0::%s\n", path);
	assert_int_equal(cgroup__parse_proc(text, &a), -ENOENT);
	assert_int_equal(strlen(a.path), CGROUP_PATH_MAX - 1);
}

/* A /proc tree with one process's cgroup file. */
static char *fake_proc(int pid, const char *text)
{
	char *dir = strdup("/tmp/probe-cgtest-XXXXXX"), path[256];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%d", dir, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%d/cgroup", dir, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return dir;
}

static void rm_fake_proc(char *dir, int pid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%d/cgroup", dir, pid);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%d", dir, pid);
	rmdir(path);
	rmdir(dir);
	free(dir);
}

/* Without a cgroup2 mount: the v1 answer comes from the pid, cached, forgotten on exit. */
static void test_resolver_v1(void **state)
{
	struct cgroups_opts o = { .v2_root = "/nonexistent", .cap = 8, .v1 = 1 };
	const struct cgroup_attr *a;
	struct cgroups_stats st;
	struct cgroups *c;
	char *dir;

	(void)state;
	dir = fake_proc(4242, "4:memory:/docker/" CID_A "\n1:name=systemd:/docker/" CID_A "\n"
			"0::/system.slice/containerd.service\n");
	o.proc_root = dir;
	c = cgroups__new(&o);
	assert_non_null(c);

	a = cgroups__get(c, 77, 4242);
	assert_string_equal(a->container_id, CID_A);
	assert_int_equal(a->runtime, CGROUP_RT_DOCKER);
	assert_int_equal(a->from_v1, 1);
	/* the v2 path came from /proc but could not be checked against a mount: taken */
	assert_string_equal(a->path, "/system.slice/containerd.service");

	/* cached: the file may go, the answer stays until the pid is forgotten */
	rm_fake_proc(dir, 4242);
	a = cgroups__get(c, 77, 4242);
	assert_string_equal(a->container_id, CID_A);
	cgroups__forget_pid(c, 4242);
	a = cgroups__get(c, 77, 4242);
	assert_string_equal(a->container_id, "");

	/* another pid in the same v2 cgroup, no v1 answer: none; id 0 or no pid: none */
	a = cgroups__get(c, 77, 4243);
	assert_string_equal(a->container_id, "");
	assert_string_equal(cgroups__get(c, 0, 4242)->container_id, "");
	assert_string_equal(cgroups__get(c, 78, 0)->path, "");

	cgroups__stats(c, &st);
	assert_int_equal(st.lookups, 6);
	assert_int_equal(st.v1, 1);
	assert_int_equal(st.by_proc, 1);
	assert_int_equal(st.unresolved, 1);	/* id 78: no mount, no pid */
	cgroups__free(c);
}

/* As root with cgroup2 mounted: real cgroups named like a runtime's, resolved by id. */
static void test_resolver_v2(void **state)
{
	static const char *const rel[] = {
		"probe-unit-cg",
		"probe-unit-cg/kubepods-besteffort-pod" UID_A_ ".slice",
		"probe-unit-cg/kubepods-besteffort-pod" UID_A_ ".slice/cri-containerd-" CID_B ".scope",
	};
	struct cgroups_opts o = { .cap = 4, .v1 = 0 };
	const struct cgroup_attr *a;
	struct cgroups_stats st;
	struct cgroups *c = NULL;
	char root[64] = "", path[512];
	struct stat sb;
	size_t i;
	int made = 0, err = 0;

	(void)state;
	if (stat("/sys/fs/cgroup/unified/cgroup.procs", &sb) == 0)
		snprintf(root, sizeof(root), "/sys/fs/cgroup/unified");
	else if (stat("/sys/fs/cgroup/cgroup.procs", &sb) == 0)
		snprintf(root, sizeof(root), "/sys/fs/cgroup");
	if (!root[0] || geteuid() != 0) {
		print_message("skipped: needs root and a cgroup2 mount\n");
		skip();
	}
	for (i = 0; i < ARRAY_SIZE(rel); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, rel[i]);
		if (mkdir(path, 0755) && errno != EEXIST) {
			err = errno;
			break;
		}
		made++;
	}
	if (err) {
		print_message("skipped: cannot make cgroups under %s: %s\n", root, strerror(err));
		goto rm;
	}
	c = cgroups__new(&o);
	assert_non_null(c);
	assert_int_equal(stat(path, &sb), 0);
	a = cgroups__get(c, sb.st_ino, 0);
	assert_string_equal(a->container_id, CID_B);
	assert_string_equal(a->pod_uid, UID_A);
	assert_int_equal(a->runtime, CGROUP_RT_CONTAINERD);
	assert_string_equal(a->path, "/probe-unit-cg/kubepods-besteffort-pod" UID_A_
			    ".slice/cri-containerd-" CID_B ".scope");
	a = cgroups__get(c, sb.st_ino, 0);
	assert_string_equal(a->container_id, CID_B);
	/* the root cgroup is "/" */
	assert_int_equal(stat(root, &sb), 0);
	assert_string_equal(cgroups__get(c, sb.st_ino, 0)->path, "/");
	/* an id that names no cgroup */
	assert_string_equal(cgroups__get(c, (1ULL << 62) + 3, 0)->path, "");
	cgroups__stats(c, &st);
	assert_int_equal(st.lookups, 4);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.resolved, 2);
	assert_int_equal(st.unresolved, 1);
	cgroups__free(c);
rm:
	while (made-- > 0) {
		snprintf(path, sizeof(path), "%s/%s", root, rel[made]);
		rmdir(path);
	}
	if (err)
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubernetes),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_resolver_v1),
		cmocka_unit_test(test_resolver_v2),
	};

	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
