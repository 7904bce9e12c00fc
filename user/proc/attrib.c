/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "proc/attrib.h"

struct attrib {
	struct cgroups *cg;
	struct k8s_pods *pods;	/* NULL: no pod names */
	char node[K8S_NAME_LEN];
	struct k8s_pod pod;	/* the last lookup's answer: the label values */
	char cid[CGROUP_CID_LEN];
};

struct attrib *attrib__new(const struct attrib_opts *o)
{
	struct cgroups_opts co = { .v1 = -1 };
	struct k8s_pods_opts ko = { 0 };
	struct attrib *a = calloc(1, sizeof(*a));
	const char *url = getenv("PROBE_K8S_PODS_URL");
	int err;

	if (!a)
		return NULL;
	a->cg = cgroups__new(&co);
	if (!a->cg) {
		free(a);
		return NULL;
	}
	if (o->k8s == CFG_OFF)
		return a;
	ko.url = url;
	ko.refresh_s = o->refresh_s;
	ko.timeout_ms = o->timeout_ms;
	a->pods = k8s_pods__new(&ko);
	if (!a->pods) {
		/* not in a cluster is the normal case off Kubernetes: silent unless asked for */
		if (errno != ENOENT || o->k8s == CFG_ON)
			fprintf(stderr, "probe: pod names off: %s\n", errno == ENOENT ?
				"not in a Kubernetes cluster (no KUBERNETES_SERVICE_HOST)" :
				errno == EINVAL ? "no node name (set NODE_NAME)" : strerror(errno));
		return a;
	}
	err = k8s_pods__start(a->pods);
	if (err) {
		fprintf(stderr, "probe: pod names off: %s\n", strerror(-err));
		k8s_pods__free(a->pods);
		a->pods = NULL;
		return a;
	}
	snprintf(a->node, sizeof(a->node), "%s", k8s_pods__node(a->pods));
	return a;
}

void attrib__free(struct attrib *a)
{
	if (!a)
		return;
	k8s_pods__free(a->pods);
	cgroups__free(a->cg);
	free(a);
}

unsigned int attrib__labels(struct attrib *a, uint64_t cgroup_id, int pid, struct label *l)
{
	const struct cgroup_attr *c;

	l[0] = (struct label){ "container_id", "" };
	l[1] = (struct label){ "k8s_pod_name", "" };
	l[2] = (struct label){ "k8s_namespace_name", "" };
	l[3] = (struct label){ "k8s_node_name", "" };
	if (!a)
		return ATTRIB_NLABELS;
	c = cgroup_id ? cgroups__get(a->cg, cgroup_id, pid) : cgroups__get_pid(a->cg, pid);
	memcpy(a->cid, c->container_id, sizeof(a->cid));
	l[0].value = a->cid;
	if (!a->pods)
		return ATTRIB_NLABELS;
	l[3].value = a->node;
	if (c->pod_uid[0] && k8s_pods__lookup(a->pods, c->pod_uid, &a->pod) == 0) {
		l[1].value = a->pod.name;
		l[2].value = a->pod.ns;
	}
	return ATTRIB_NLABELS;
}

uint64_t attrib__generation(struct attrib *a)
{
	return a && a->pods ? k8s_pods__generation(a->pods) : 0;
}

void attrib__forget_pid(struct attrib *a, int pid)
{
	if (a)
		cgroups__forget_pid(a->cg, pid);
}

void attrib__stats(struct attrib *a, struct attrib_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!a)
		return;
	cgroups__stats(a->cg, &st->cg);
	st->k8s = a->pods != NULL;
	if (a->pods)
		k8s_pods__stats(a->pods, &st->pods);
}

void attrib__print(struct attrib *a, FILE *out)
{
	struct attrib_stats st;

	if (!a)
		return;
	attrib__stats(a, &st);
	fprintf(out, "probe: attribution: %" PRIu64 " cgroup lookups, %" PRIu64 " cgroups resolved, "
		"%" PRIu64 " unresolved, %" PRIu64 " containers found in cgroup v1\n",
		st.cg.lookups, st.cg.resolved, st.cg.unresolved, st.cg.v1);
	if (!st.k8s)
		return;
	fprintf(out, "probe: pod list: %" PRIu64 " refreshes, %u pods; failures: transport %" PRIu64
		", status %" PRIu64 " (last %d), parse %" PRIu64 ", too large %" PRIu64
		"; items dropped: other node %" PRIu64 ", invalid %" PRIu64 ", over cap %" PRIu64
		"\n", st.pods.refreshes, st.pods.pods, st.pods.fail_transport, st.pods.fail_status,
		st.pods.last_status, st.pods.fail_parse, st.pods.fail_too_large, st.pods.other_node,
		st.pods.invalid, st.pods.over_cap);
}
