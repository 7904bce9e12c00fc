/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cgroup: which container and pod a task belongs to, from its cgroup.
 *
 * Records carry the task's cgroup v2 id (bpf_get_current_cgroup_id()). The
 * id is the inode number of the cgroup's directory in cgroupfs, and the
 * kernel hands that directory back for it (open_by_handle_at() with a
 * kernfs file handle, CAP_DAC_READ_SEARCH), so a record from a process that
 * has already exited still resolves while its cgroup exists. The path then
 * names the container in the shapes the runtimes give it:
 *
 *   containerd, systemd driver  .../kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope
 *   containerd/CRI, cgroupfs    /kubepods/burstable/pod<uid>/<id>
 *   CRI-O                       .../crio-<id>.scope, /kubepods/.../pod<uid>/crio-<id>
 *   Docker                      /system.slice/docker-<id>.scope, /docker/<id>
 *   Podman                      .../libpod-<id>.scope
 *
 * (<id>: 64 hex digits; <uid>: a pod UUID, or the 32-hex hash of a static
 * pod; the systemd driver writes the UUID's dashes as underscores.)
 *
 * On hybrid hosts (v1 controllers, v2 at /sys/fs/cgroup/unified) a runtime
 * with the cgroupfs driver places containers in v1 hierarchies only, so
 * when the v2 path names no container the task's /proc/PID/cgroup v1 lines
 * are read as well; that answer belongs to the pid, not the cgroup id.
 *
 * Ids are never reused by the kernel, so answers are cached by id (and by
 * (id, pid) for v1 answers) in a direct-mapped table of a fixed size: a
 * collision costs one more resolution, never memory.
 */
#ifndef PROBE_PROC_CGROUP_H
#define PROBE_PROC_CGROUP_H

#include <stdint.h>

#define CGROUP_PATH_MAX		512	/* longer paths are cut (parsing sees the cut path) */
#define CGROUP_CID_LEN		65	/* 64 hex digits + NUL */
#define CGROUP_UID_LEN		37	/* a dashed UUID + NUL */

enum cgroup_runtime {
	CGROUP_RT_NONE,		/* not in a container (or not recognised) */
	CGROUP_RT_CONTAINERD,
	CGROUP_RT_CRIO,
	CGROUP_RT_DOCKER,
	CGROUP_RT_PODMAN,
	CGROUP_RT_CRI,		/* kubepods with the cgroupfs driver: the path does not say which */
	CGROUP_RT_OTHER,	/* a bare 64-hex directory outside kubepods */
	CGROUP_RT_MAX,
};

struct cgroup_attr {
	char path[CGROUP_PATH_MAX];		/* "" when unknown */
	char container_id[CGROUP_CID_LEN];	/* "" when none */
	char pod_uid[CGROUP_UID_LEN];		/* dashed, lower case; "" when none */
	uint8_t runtime;			/* enum cgroup_runtime */
	uint8_t from_v1;			/* container found in a v1 hierarchy */
};

/* "containerd", "cri-o", "docker", "podman", "cri", "other"; "" for none. */
const char *cgroup__runtime_name(enum cgroup_runtime rt);

/*
 * Parse one cgroup path (absolute, or relative with "/.." components as a
 * cgroup namespace shows it) into a's container_id, pod_uid and runtime;
 * a->path is left alone. The innermost match wins (a kind node's pods sit
 * inside the node's own Docker container). Returns 0 when a container or
 * pod was found, -ENOENT when not, -EINVAL on NULL.
 */
int cgroup__parse_path(const char *path, struct cgroup_attr *a);

/*
 * Parse the text of /proc/PID/cgroup: the v2 line ("0::/path") first, then
 * the v1 lines in order until one names a container or pod; from_v1 says
 * which. Sets a->path to the v2 path; on a host without one, to the v1
 * path the container came from (or the first v1 path). Returns as
 * cgroup__parse_path().
 */
int cgroup__parse_proc(const char *text, struct cgroup_attr *a);

struct cgroups;

struct cgroups_opts {
	const char *v2_root;	/* the cgroup2 mount; NULL: /sys/fs/cgroup/unified, else /sys/fs/cgroup */
	const char *proc_root;	/* NULL: /proc */
	unsigned int cap;	/* cache entries; 0: 4096 */
	int v1;			/* -1: read v1 lines when the host has v1 hierarchies; 0 no; 1 yes */
};

struct cgroups_stats {
	uint64_t lookups;
	uint64_t hits;
	uint64_t resolved;	/* ids whose path was found */
	uint64_t unresolved;	/* ids whose cgroup was gone or unreadable: no attribution */
	uint64_t by_proc;	/* paths read from /proc/PID/cgroup (no handle access) */
	uint64_t v1;		/* containers found only in a v1 hierarchy */
	uint64_t evicted;	/* cache entries replaced by a colliding id */
};

/* NULL and errno set on failure; a host with no cgroup2 mount still works (by pid). */
struct cgroups *cgroups__new(const struct cgroups_opts *o);
void cgroups__free(struct cgroups *c);

/*
 * Attribution of a task with cgroup v2 id `id` and process id `pid` (0:
 * unknown; no v1 or /proc fallback then). Never NULL: an unknown cgroup
 * gives an attr with empty strings. Valid until the next call.
 */
const struct cgroup_attr *cgroups__get(struct cgroups *c, uint64_t id, int pid);
/*
 * Attribution of a process by pid alone (its /proc/PID/cgroup, v2 line then
 * v1 lines), for signals that aggregate by pid in the kernel. Cached by
 * pid and read again after 10 s (a task joins its container's cgroup
 * after it is forked; a pid may be reused), unless the process is gone:
 * then the last answer stands, for its last figures. Never NULL.
 */
const struct cgroup_attr *cgroups__get_pid(struct cgroups *c, int pid);
/* Drop a pid's answers now (they are read again at most 10 s later anyway). */
void cgroups__forget_pid(struct cgroups *c, int pid);
void cgroups__stats(const struct cgroups *c, struct cgroups_stats *st);

#endif
