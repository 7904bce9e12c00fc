/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * attrib: the container and Kubernetes labels every per-process series
 * carries, from a task's cgroup id (records) or pid (kernel aggregates):
 *
 *   container_id        64 hex digits, from the cgroup path (proc/cgroup.h)
 *   k8s_pod_name        from the node's pod list (proc/k8s_pods.h), by the
 *   k8s_namespace_name  pod uid in the cgroup path
 *   k8s_node_name       $NODE_NAME, when pod names are looked up
 *
 * A value that is not known is "" (exporters leave empty labels out), so
 * every series has the same keys. Pod names are looked up only in a
 * cluster (KUBERNETES_SERVICE_HOST set, or PROBE_K8S_PODS_URL naming a pod
 * list, e.g. the kubelet's https://NODE:10250/pods); a pod list that
 * cannot be had leaves names empty, the failure counted.
 *
 * Single-threaded like the store (the event loop owns it); the pod list is
 * fetched on k8s_pods' own thread.
 */
#ifndef PROBE_PROC_ATTRIB_H
#define PROBE_PROC_ATTRIB_H

#include <stdint.h>
#include <stdio.h>
#include "core/store.h"
#include "proc/cgroup.h"
#include "proc/k8s_pods.h"

#define ATTRIB_NLABELS	4

struct attrib_opts {
	int k8s;			/* enum cfg_tri: auto = when in a cluster */
	unsigned int refresh_s;		/* pod list refresh */
	unsigned int timeout_ms;	/* pod list request */
};

struct attrib;

/*
 * NULL and errno on ENOMEM only; pod names that cannot be had are said
 * once on stderr and left out.
 */
struct attrib *attrib__new(const struct attrib_opts *o);
void attrib__free(struct attrib *a);

/*
 * Write the ATTRIB_NLABELS labels of a task into l: by cgroup v2 id when
 * cgroup_id is not 0 (pid then helps on hybrid hosts), else by pid. a may
 * be NULL: empty values. The values live until the next call. Returns
 * ATTRIB_NLABELS.
 */
unsigned int attrib__labels(struct attrib *a, uint64_t cgroup_id, int pid, struct label *l);
/*
 * Changes when pod names may have changed: series cached under an older
 * value should have their labels built again.
 */
uint64_t attrib__generation(struct attrib *a);
/* The process exited: its pid may be reused in another container. */
void attrib__forget_pid(struct attrib *a, int pid);

struct attrib_stats {
	struct cgroups_stats cg;
	int k8s;			/* pod names are looked up */
	struct k8s_pods_stats pods;
};
void attrib__stats(struct attrib *a, struct attrib_stats *st);
/* The counts above as one or two lines (losses included), for the end of a run. */
void attrib__print(struct attrib *a, FILE *out);

#endif
