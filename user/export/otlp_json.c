/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "export/otlp_json.h"

#define TEMPORALITY_CUMULATIVE 2

static cJSON *add_u64(cJSON *obj, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cJSON_AddStringToObject(obj, name, buf);
}

static cJSON *attrs_json(const struct snap_attr *a, unsigned int n)
{
	cJSON *arr = cJSON_CreateArray();
	unsigned int i;

	for (i = 0; arr && i < n; i++) {
		cJSON *kv = cJSON_CreateObject(), *v;

		if (!kv)
			break;
		cJSON_AddItemToArray(arr, kv);
		cJSON_AddStringToObject(kv, "key", a[i].key);
		v = cJSON_AddObjectToObject(kv, "value");
		if (v)
			cJSON_AddStringToObject(v, "stringValue", a[i].value);
	}
	return arr;
}

/* A new body: resource + scope, returning the metrics array to fill. */
static cJSON *new_body(const struct otlp_resource *r, cJSON **root)
{
	cJSON *rm, *res, *sm, *scope, *arr;
	struct snap_attr ra[2];
	unsigned int n = 0;

	*root = cJSON_CreateObject();
	if (!*root)
		return NULL;
	arr = cJSON_AddArrayToObject(*root, "resourceMetrics");
	rm = cJSON_CreateObject();
	if (!arr || !rm) {
		cJSON_Delete(rm);
		return NULL;
	}
	cJSON_AddItemToArray(arr, rm);
	res = cJSON_AddObjectToObject(rm, "resource");
	ra[n++] = (struct snap_attr){ "service.name", r->service_name ? r->service_name : "probe" };
	if (r->host_name)
		ra[n++] = (struct snap_attr){ "host.name", r->host_name };
	if (res)
		cJSON_AddItemToObject(res, "attributes", attrs_json(ra, n));
	arr = cJSON_AddArrayToObject(rm, "scopeMetrics");
	sm = cJSON_CreateObject();
	if (!arr || !sm) {
		cJSON_Delete(sm);
		return NULL;
	}
	cJSON_AddItemToArray(arr, sm);
	scope = cJSON_AddObjectToObject(sm, "scope");
	if (scope) {
		cJSON_AddStringToObject(scope, "name", "probe");
		cJSON_AddStringToObject(scope, "version", r->version ? r->version : "0");
	}
	return cJSON_AddArrayToObject(sm, "metrics");
}

static cJSON *point_json(const struct snapshot *s, const struct snap_metric *m,
			 const struct snap_point *p)
{
	cJSON *dp = cJSON_CreateObject(), *arr;
	unsigned int k;

	if (!dp)
		return NULL;
	cJSON_AddItemToObject(dp, "attributes", attrs_json(p->attrs, p->nattrs));
	if (m->kind != SNAP_GAUGE)
		add_u64(dp, "startTimeUnixNano", s->start_unix_ns);
	add_u64(dp, "timeUnixNano", s->time_unix_ns);
	if (m->kind == SNAP_HISTOGRAM) {
		add_u64(dp, "count", p->count);
		cJSON_AddNumberToObject(dp, "sum", p->sum);
		arr = cJSON_AddArrayToObject(dp, "bucketCounts");
		for (k = 0; arr && k <= m->nbounds; k++) {
			char buf[24];

			snprintf(buf, sizeof(buf), "%" PRIu64, p->buckets ? p->buckets[k] : 0);
			cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
		}
		arr = cJSON_AddArrayToObject(dp, "explicitBounds");
		for (k = 0; arr && k < m->nbounds; k++)
			cJSON_AddItemToArray(arr, cJSON_CreateNumber(m->bounds[k]));
	} else if (m->kind == SNAP_SUMMARY) {
		add_u64(dp, "count", p->count);
		cJSON_AddNumberToObject(dp, "sum", p->sum);
		arr = cJSON_AddArrayToObject(dp, "quantileValues");
		for (k = 0; arr && k < SNAP_QUANTILES; k++) {
			cJSON *q = cJSON_CreateObject();

			if (!q)
				break;
			cJSON_AddNumberToObject(q, "quantile", snap_quantiles[k]);
			cJSON_AddNumberToObject(q, "value", p->quantiles[k]);
			cJSON_AddItemToArray(arr, q);
		}
	} else if (m->kind == SNAP_COUNTER && p->value == floor(p->value) && p->value >= 0 &&
		   p->value < 9e15) {
		add_u64(dp, "asInt", (uint64_t)p->value);
	} else {
		/* JSON has no NaN or infinity: such a value is sent as 0 */
		cJSON_AddNumberToObject(dp, "asDouble", isfinite(p->value) ? p->value : 0);
	}
	return dp;
}

/* The metric object with an empty dataPoints array to fill. */
static cJSON *metric_json(cJSON *metrics, const struct snap_metric *m)
{
	static const char *const data[] = { "sum", "gauge", "histogram", "summary" };
	cJSON *o = cJSON_CreateObject(), *d;

	if (!o)
		return NULL;
	cJSON_AddItemToArray(metrics, o);
	cJSON_AddStringToObject(o, "name", m->name);
	cJSON_AddStringToObject(o, "description", m->help);
	cJSON_AddStringToObject(o, "unit", m->unit);
	d = cJSON_AddObjectToObject(o, data[m->kind]);
	if (!d)
		return NULL;
	if (m->kind == SNAP_COUNTER || m->kind == SNAP_HISTOGRAM)
		cJSON_AddNumberToObject(d, "aggregationTemporality", TEMPORALITY_CUMULATIVE);
	if (m->kind == SNAP_COUNTER)
		cJSON_AddBoolToObject(d, "isMonotonic", 1);
	return cJSON_AddArrayToObject(d, "dataPoints");
}

static int flush(cJSON **root, otlp_body_fn fn, void *arg, int *bodies)
{
	char *text = cJSON_PrintUnformatted(*root);
	int err;

	cJSON_Delete(*root);
	*root = NULL;
	if (!text)
		return -ENOMEM;
	err = fn(text, strlen(text), arg);
	if (err)
		return err;
	(*bodies)++;
	return 0;
}

int otlp_json__render(const struct snapshot *s, const struct otlp_resource *r,
		      size_t max_points, otlp_body_fn fn, void *arg)
{
	cJSON *root = NULL, *metrics = NULL, *dps;
	size_t i, k, in_body = 0;
	int bodies = 0, err;

	for (i = 0; i < s->nmetrics; i++) {
		const struct snap_metric *m = &s->metrics[i];

		dps = NULL;
		for (k = 0; k < m->npoints; k++) {
			cJSON *dp;

			if (root && max_points && in_body >= max_points) {
				err = flush(&root, fn, arg, &bodies);
				if (err)
					return err;
				dps = NULL;
			}
			if (!root) {
				metrics = new_body(r, &root);
				in_body = 0;
				if (!metrics) {
					cJSON_Delete(root);
					return -ENOMEM;
				}
			}
			if (!dps)
				dps = metric_json(metrics, m);
			dp = dps ? point_json(s, m, &m->points[k]) : NULL;
			if (!dp) {
				cJSON_Delete(root);
				return -ENOMEM;
			}
			cJSON_AddItemToArray(dps, dp);
			in_body++;
		}
	}
	if (root) {
		err = flush(&root, fn, arg, &bodies);
		if (err)
			return err;
	}
	return bodies;
}
