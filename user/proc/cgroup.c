/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "proc/cgroup.h"

#define CID_HEX		64
#define DEFAULT_CAP	4096
/* kernfs file handles (FILEID_KERNFS): the cgroup id as the 8-byte handle */
#define FILEID_KERNFS_TYPE	0xfe

static const char *const rt_names[CGROUP_RT_MAX] = {
	[CGROUP_RT_NONE] = "",
	[CGROUP_RT_CONTAINERD] = "containerd",
	[CGROUP_RT_CRIO] = "cri-o",
	[CGROUP_RT_DOCKER] = "docker",
	[CGROUP_RT_PODMAN] = "podman",
	[CGROUP_RT_CRI] = "cri",
	[CGROUP_RT_OTHER] = "other",
};

const char *cgroup__runtime_name(enum cgroup_runtime rt)
{
	return (unsigned int)rt < CGROUP_RT_MAX ? rt_names[rt] : "";
}

/* Scope prefixes of container cgroups under a systemd driver (or CRI-O's cgroupfs). */
static const struct {
	const char *prefix;
	enum cgroup_runtime rt;
} scopes[] = {
	{ "cri-containerd-", CGROUP_RT_CONTAINERD },
	{ "crio-", CGROUP_RT_CRIO },		/* crio-conmon-<id> is the monitor: no match */
	{ "docker-", CGROUP_RT_DOCKER },
	{ "libpod-", CGROUP_RT_PODMAN },	/* libpod-conmon-<id> likewise */
	{ "nerdctl-", CGROUP_RT_CONTAINERD },
};

/* Parents of a bare <id> directory that name its runtime (cgroupfs drivers). */
static const struct {
	const char *dir;
	enum cgroup_runtime rt;
} parents[] = {
	{ "docker", CGROUP_RT_DOCKER },
	{ "k8s.io", CGROUP_RT_CONTAINERD },	/* containerd's CRI namespace */
	{ "libpod_parent", CGROUP_RT_PODMAN },
};

static int is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int all_lhex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_lhex(s[i]))
			return 0;
	return 1;
}

/*
 * A pod uid as it appears in a path: a UUID with '-' (cgroupfs) or '_'
 * (systemd) separators, or 32 hex digits (a static pod's config hash).
 * Writes the dashed form. Returns 1 when s[0..n) is one.
 */
static int parse_uid(const char *s, size_t n, char out[CGROUP_UID_LEN])
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, d = 0;

	if (n == 32) {
		if (!all_lhex(s, n))
			return 0;
		memcpy(out, s, n);
		out[n] = 0;
		return 1;
	}
	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-' && s[i] != '_')
				return 0;
			out[i] = '-';
			d++;
			continue;
		}
		if (!is_lhex(s[i]))
			return 0;
		out[i] = s[i];
	}
	out[n] = 0;
	return 1;
}

static int has_suffix(const char *s, size_t n, const char *suf, size_t *stem)
{
	size_t k = strlen(suf);

	if (n < k || memcmp(s + n - k, suf, k))
		return 0;
	*stem = n - k;
	return 1;
}

/* "pod<uid>" (cgroupfs) or "...kubepods...-pod<uid_>.slice" (systemd). */
static int match_pod(const char *s, size_t n, char out[CGROUP_UID_LEN])
{
	size_t stem, i;

	if (n > 3 && !memcmp(s, "pod", 3) && parse_uid(s + 3, n - 3, out))
		return 1;
	if (!has_suffix(s, n, ".slice", &stem) || !memmem(s, stem, "kubepods", 8))
		return 0;
	for (i = stem; i >= 4; i--)
		if (!memcmp(s + i - 4, "-pod", 4))
			return parse_uid(s + i, stem - i, out);
	return 0;
}

/* A container directory; writes the id and returns its runtime, or CGROUP_RT_NONE. */
static enum cgroup_runtime match_container(const char *s, size_t n, const char *parent,
					   size_t plen, int in_pod, char out[CGROUP_CID_LEN])
{
	size_t i, k, stem;

	if (!has_suffix(s, n, ".scope", &stem))
		stem = n;
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		k = strlen(scopes[i].prefix);
		if (stem == k + CID_HEX && !memcmp(s, scopes[i].prefix, k) &&
		    all_lhex(s + k, CID_HEX)) {
			memcpy(out, s + k, CID_HEX);
			out[CID_HEX] = 0;
			return scopes[i].rt;
		}
	}
	if (n != CID_HEX || !all_lhex(s, n))
		return CGROUP_RT_NONE;
	memcpy(out, s, CID_HEX);
	out[CID_HEX] = 0;
	if (in_pod)
		return CGROUP_RT_CRI;
	for (i = 0; i < sizeof(parents) / sizeof(parents[0]); i++)
		if (plen == strlen(parents[i].dir) && !memcmp(parent, parents[i].dir, plen))
			return parents[i].rt;
	return CGROUP_RT_OTHER;
}

int cgroup__parse_path(const char *path, struct cgroup_attr *a)
{
	const char *s, *e, *parent = "";
	char cid[CGROUP_CID_LEN], uid[CGROUP_UID_LEN];
	size_t plen = 0;
	enum cgroup_runtime rt;

	if (!path || !a)
		return -EINVAL;
	a->container_id[0] = 0;
	a->pod_uid[0] = 0;
	a->runtime = CGROUP_RT_NONE;
	a->from_v1 = 0;
	for (s = path; *s; s = *e ? e + 1 : e) {
		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		if (e == s)
			continue;
		if (match_pod(s, e - s, uid)) {
			/* a container named before the pod is the one the pod runs in */
			memcpy(a->pod_uid, uid, sizeof(uid));
			a->container_id[0] = 0;
			a->runtime = CGROUP_RT_NONE;
		} else {
			rt = match_container(s, e - s, parent, plen, a->pod_uid[0] != 0, cid);
			if (rt != CGROUP_RT_NONE) {
				memcpy(a->container_id, cid, sizeof(cid));
				a->runtime = rt;
			}
		}
		parent = s;
		plen = e - s;
	}
	return a->container_id[0] || a->pod_uid[0] ? 0 : -ENOENT;
}

static void set_path(struct cgroup_attr *a, const char *p, size_t n)
{
	if (n >= sizeof(a->path))
		n = sizeof(a->path) - 1;
	memcpy(a->path, p, n);
	a->path[n] = 0;
}

int cgroup__parse_proc(const char *text, struct cgroup_attr *a)
{
	const char *line, *eol, *c1, *c2;
	struct cgroup_attr t;
	int have_v2 = 0, have_any = 0;
	size_t n;

	if (!text || !a)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	/* pass 0: the v2 line; pass 1: the v1 lines, when v2 named nothing */
	for (int pass = 0; pass < 2; pass++) {
		for (line = text; *line; line = *eol ? eol + 1 : eol) {
			eol = strchr(line, '\n');
			if (!eol)
				eol = line + strlen(line);
			c1 = memchr(line, ':', eol - line);
			c2 = c1 ? memchr(c1 + 1, ':', eol - c1 - 1) : NULL;
			if (!c2)
				continue;
			int v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;

			if (v2 != (pass == 0))
				continue;
			n = eol - (c2 + 1);
			set_path(&t, c2 + 1, n);
			if (pass == 0) {
				have_v2 = 1;
				memcpy(a->path, t.path, sizeof(t.path));
			} else if (!have_v2 && !have_any) {
				memcpy(a->path, t.path, sizeof(t.path));
			}
			have_any = 1;
			if (cgroup__parse_path(t.path, &t))
				continue;
			memcpy(a->container_id, t.container_id, sizeof(t.container_id));
			memcpy(a->pod_uid, t.pod_uid, sizeof(t.pod_uid));
			a->runtime = t.runtime;
			a->from_v1 = pass == 1;
			if (pass == 1 && !have_v2)
				memcpy(a->path, t.path, sizeof(t.path));
			return 0;
		}
	}
	return -ENOENT;
}

struct cg_ent {
	uint64_t id;		/* 0: empty (the kernel never gives a cgroup id 0); by_pid: 0 for by-pid lookups */
	int pid;		/* by_pid only */
	time_t at;		/* by_pid only: when it was read */
	struct cgroup_attr attr;
};

/*
 * A task is moved into its container's cgroup after it is forked (runc),
 * so a pid read as in no container is read again after this long.
 */
#define PID_RECHECK_S	10

struct cgroups {
	unsigned int cap;
	int v2_fd;		/* the cgroup2 mount, -1 when none */
	int v1;			/* read v1 lines of /proc/PID/cgroup */
	char v2_root[256];
	char proc_root[128];
	struct cg_ent *by_id;	/* v2 answers: the same for every task in the cgroup */
	struct cg_ent *by_pid;	/* v1 answers: one task's */
	struct cg_ent none;	/* what an unresolvable lookup returns */
	struct cgroups_stats st;
};

static int is_cgroup2(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Whether this host mounts v1 hierarchies: /proc/self/cgroup has lines other than "0::". */
static int host_has_v1(const char *proc_root)
{
	char path[160], line[512];
	int v1 = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/self/cgroup", proc_root);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3))
			v1 = 1;
	fclose(f);
	return v1;
}

struct cgroups *cgroups__new(const struct cgroups_opts *o)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
	struct cgroups_opts def = { 0 };
	struct cgroups *c;
	unsigned int i;

	if (!o)
		o = &def;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cap = o->cap ? o->cap : DEFAULT_CAP;
	c->v2_fd = -1;
	snprintf(c->proc_root, sizeof(c->proc_root), "%s", o->proc_root ? o->proc_root : "/proc");
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]) && !o->v2_root; i++)
		if (is_cgroup2(roots[i]))
			break;
	if (o->v2_root || i < sizeof(roots) / sizeof(roots[0])) {
		snprintf(c->v2_root, sizeof(c->v2_root), "%s", o->v2_root ? o->v2_root : roots[i]);
		c->v2_fd = open(c->v2_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	c->v1 = o->v1 < 0 ? host_has_v1(c->proc_root) : o->v1;
	c->by_id = calloc(c->cap, sizeof(*c->by_id));
	c->by_pid = calloc(c->cap, sizeof(*c->by_pid));
	if (!c->by_id || !c->by_pid) {
		cgroups__free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void cgroups__free(struct cgroups *c)
{
	if (!c)
		return;
	if (c->v2_fd >= 0)
		close(c->v2_fd);
	free(c->by_id);
	free(c->by_pid);
	free(c);
}

/* The path of cgroup `id` below the v2 mount, from the kernel. 0 or -errno. */
static int path_by_handle(struct cgroups *c, uint64_t id, struct cgroup_attr *a)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS_TYPE },
		.id = id };
	char link[64], buf[CGROUP_PATH_MAX + 256];
	size_t rl = strlen(c->v2_root);
	ssize_t n;
	int fd, err;

	if (c->v2_fd < 0)
		return -ENOENT;
	fd = open_by_handle_at(c->v2_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	err = -errno;
	close(fd);
	if (n < 0)
		return err;
	buf[n] = 0;
	/* the mount's own path, then the cgroup's below it ("/" for the root) */
	if ((size_t)n < rl || memcmp(buf, c->v2_root, rl) || (buf[rl] && buf[rl] != '/'))
		return -EXDEV;
	set_path(a, buf[rl] ? buf + rl : "/", buf[rl] ? (size_t)n - rl : 1);
	return 0;
}

/* Read /proc/PID/cgroup into buf. 0 or -errno. */
static int read_proc(struct cgroups *c, int pid, char *buf, size_t len)
{
	char path[160];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%d/cgroup", c->proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = -errno;
	close(fd);
	if (n < 0)
		return err;
	buf[n] = 0;
	return 0;
}

/* Whether `path` below the v2 mount is cgroup `id` (when the mount is not visible, assume so). */
static int path_is_id(struct cgroups *c, const char *path, uint64_t id)
{
	struct stat st;

	if (c->v2_fd < 0)
		return 1;
	while (*path == '/')
		path++;
	if (fstatat(c->v2_fd, *path ? path : ".", &st, 0))
		return 0;
	return st.st_ino == id;
}

static void resolve_v2(struct cgroups *c, uint64_t id, int pid, struct cgroup_attr *a)
{
	char buf[8192];

	memset(a, 0, sizeof(*a));
	if (path_by_handle(c, id, a) == 0) {
		c->st.resolved++;
		cgroup__parse_path(a->path, a);
		return;
	}
	/* no handle access (no CAP_DAC_READ_SEARCH): the task's own v2 line, if still its cgroup */
	if (pid > 0 && read_proc(c, pid, buf, sizeof(buf)) == 0) {
		struct cgroup_attr t;
		const char *p = strstr(buf, "0::");

		if (p && (p == buf || p[-1] == '\n')) {
			const char *e = strchr(p, '\n');

			set_path(&t, p + 3, e ? (size_t)(e - p - 3) : strlen(p + 3));
			if (path_is_id(c, t.path, id)) {
				memcpy(a->path, t.path, sizeof(t.path));
				cgroup__parse_path(a->path, a);
				c->st.resolved++;
				c->st.by_proc++;
				return;
			}
		}
	}
	c->st.unresolved++;
}

static time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

const struct cgroup_attr *cgroups__get_pid(struct cgroups *c, int pid)
{
	struct cgroup_attr t;
	struct cg_ent *p;
	char buf[8192];
	int same;

	c->st.lookups++;
	if (pid <= 0)
		return &c->none.attr;
	p = &c->by_pid[(unsigned int)pid % c->cap];
	same = p->pid == pid && p->id == 0;
	if (same && mono_s() < p->at + PID_RECHECK_S) {
		c->st.hits++;
		return &p->attr;
	}
	if (p->pid && !same)
		c->st.evicted++;
	if (read_proc(c, pid, buf, sizeof(buf))) {
		/* gone: what was read while it lived still holds (its last figures) */
		if (same) {
			p->at = mono_s();
			return &p->attr;
		}
		c->st.unresolved++;
		p->pid = 0;
		return &c->none.attr;
	}
	c->st.resolved++;
	c->st.by_proc++;
	cgroup__parse_proc(buf, &t);
	if (!c->v1 && t.from_v1) {
		/* v1 lines are not to be read on this host */
		t.container_id[0] = 0;
		t.pod_uid[0] = 0;
		t.runtime = CGROUP_RT_NONE;
		t.from_v1 = 0;
	}
	if (t.from_v1)
		c->st.v1++;
	p->pid = pid;
	p->id = 0;
	p->at = mono_s();
	p->attr = t;
	return &p->attr;
}

const struct cgroup_attr *cgroups__get(struct cgroups *c, uint64_t id, int pid)
{
	struct cg_ent *e, *p;
	struct cgroup_attr t;
	char buf[8192];
	int same;

	c->st.lookups++;
	if (!id)
		return &c->none.attr;
	e = &c->by_id[id % c->cap];
	if (e->id != id) {
		if (e->id)
			c->st.evicted++;
		e->id = id;
		resolve_v2(c, id, pid, &e->attr);
	} else {
		c->st.hits++;
	}
	if (e->attr.container_id[0] || !c->v1 || pid <= 0)
		return &e->attr;

	/* hybrid host, nothing in v2: the task's v1 hierarchies may name its container */
	p = &c->by_pid[(unsigned int)pid % c->cap];
	same = p->pid == pid && p->id == id;
	if (same && mono_s() < p->at + PID_RECHECK_S)
		return &p->attr;
	if (p->pid && !same)
		c->st.evicted++;
	if (read_proc(c, pid, buf, sizeof(buf))) {
		/* gone: keep what was read while it lived */
		if (same) {
			p->at = mono_s();
			return &p->attr;
		}
		p->pid = 0;
		return &e->attr;
	}
	p->pid = pid;
	p->id = id;
	p->at = mono_s();
	memcpy(&p->attr, &e->attr, sizeof(e->attr));
	if (cgroup__parse_proc(buf, &t) == 0 && t.from_v1 && t.container_id[0]) {
		memcpy(p->attr.container_id, t.container_id, sizeof(t.container_id));
		memcpy(p->attr.pod_uid, t.pod_uid, sizeof(t.pod_uid));
		p->attr.runtime = t.runtime;
		p->attr.from_v1 = 1;
		c->st.v1++;
	}
	return &p->attr;
}

void cgroups__forget_pid(struct cgroups *c, int pid)
{
	struct cg_ent *p = &c->by_pid[(unsigned int)pid % c->cap];

	if (p->pid == pid)
		p->pid = 0;
}

void cgroups__stats(const struct cgroups *c, struct cgroups_stats *st)
{
	*st = c->st;
}
