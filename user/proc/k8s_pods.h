/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * k8s_pods: pod uid -> pod name and namespace for the pods on this node.
 *
 * The cgroup path gives a container's pod uid (proc/cgroup.h); the names
 * come from a pod list: by default the API server's, filtered to this node
 * (GET /api/v1/pods?fieldSelector=spec.nodeName=NODE, served from the API
 * server's cache with resourceVersion=0), authenticated with the pod's
 * service-account token, which is read again for every request because
 * the kubelet rotates it. Any URL that answers a v1 PodList works too
 * (the kubelet's https://NODE:10250/pods, or a test server); items on
 * other nodes are dropped either way.
 *
 * Outside a cluster (no URL given and no KUBERNETES_SERVICE_HOST) there is
 * nothing to ask: k8s_pods__new() fails with ENOENT and callers go without
 * pod names.
 *
 * The list is fetched on a thread of its own (k8s_pods__start()), every
 * refresh_s and sooner, at most every min_refresh_s, when a lookup misses
 * (a pod started since). The fetched table replaces the old one under a
 * mutex held only for the swap and for lookups' copies, never across I/O.
 * A failed fetch keeps the last good table and is counted by kind; so is
 * every pod dropped as invalid or past the cap.
 *
 * Static pods appear in the list as mirror pods whose uid differs from the
 * one in the cgroup path; their config hash (annotation
 * kubernetes.io/config.mirror), which the path carries, is indexed too.
 */
#ifndef PROBE_PROC_K8S_PODS_H
#define PROBE_PROC_K8S_PODS_H

#include <stddef.h>
#include <stdint.h>

#define K8S_NAME_LEN	254	/* a DNS subdomain (pod names) + NUL */
#define K8S_NS_LEN	64	/* a DNS label (namespaces) + NUL */
#define K8S_UID_LEN	37

struct k8s_pod {
	char uid[K8S_UID_LEN];
	char name[K8S_NAME_LEN];
	char ns[K8S_NS_LEN];
};

struct k8s_pods_opts {
	const char *url;	/* a PodList URL; NULL or "": the API server, from the environment */
	const char *node;	/* this node's name; NULL or "": $NODE_NAME */
	const char *token_file;	/* NULL: the service account's; a missing file sends no token */
	const char *ca_file;	/* NULL: the service account's ca.crt, when it exists */
	unsigned int refresh_s;		/* 0: 30 */
	unsigned int min_refresh_s;	/* between refreshes asked for by misses; 0: 5 */
	unsigned int timeout_ms;	/* whole request; 0: 5000 */
	unsigned int max_pods;		/* entries kept (uids and mirror hashes); 0: 4096 */
	size_t max_bytes;		/* largest answer read; 0: 32 MiB */
};

struct k8s_pods_stats {
	uint64_t refreshes;	/* fetches that replaced the table */
	uint64_t fail_transport;/* no answer: connect, TLS, timeout */
	uint64_t fail_status;	/* an answer other than 200 (401, 403: RBAC or token) */
	uint64_t fail_parse;	/* not a PodList */
	uint64_t fail_too_large;/* answer larger than max_bytes */
	uint64_t invalid;	/* items dropped: missing or malformed uid, name or namespace */
	uint64_t other_node;	/* items on another node, dropped */
	uint64_t over_cap;	/* items dropped: max_pods reached */
	uint64_t lookups, misses;
	uint32_t pods;		/* entries in the current table */
	int last_status;	/* last HTTP status, 0: none */
	uint64_t last_ok_unix;	/* time of the last good refresh, 0: never */
};

struct k8s_pods;

/*
 * NULL and errno: ENOENT outside a cluster, EINVAL with no node name for
 * the API server (it would list every pod of the cluster), ENOMEM.
 * No request is made here.
 */
struct k8s_pods *k8s_pods__new(const struct k8s_pods_opts *o);
/* Stops the thread if started. */
void k8s_pods__free(struct k8s_pods *p);

/* Fetch now, on the calling thread. 0, or -errno (the table is kept). */
int k8s_pods__refresh(struct k8s_pods *p);
/* Start the refresh thread (which fetches at once). 0 or -errno. */
int k8s_pods__start(struct k8s_pods *p);

/* Copy the pod with this uid (or static pod hash) into out. 0 or -ENOENT. */
int k8s_pods__lookup(struct k8s_pods *p, const char *uid, struct k8s_pod *out);
/* Changes whenever a refresh changes the table: series cached with older names are stale. */
uint64_t k8s_pods__generation(struct k8s_pods *p);
const char *k8s_pods__node(const struct k8s_pods *p);
const char *k8s_pods__url(const struct k8s_pods *p);
void k8s_pods__stats(struct k8s_pods *p, struct k8s_pods_stats *st);

/*
 * Parse a PodList body into a new table (sorted by uid, for lookups),
 * keeping items on `node` (NULL: all). Exposed for tests. Returns the
 * number of entries, or -EBADMSG when the body is not a PodList.
 */
int k8s_pods__parse(const char *body, size_t len, const char *node, unsigned int max_pods,
		    struct k8s_pod **out, struct k8s_pods_stats *st);

#endif
