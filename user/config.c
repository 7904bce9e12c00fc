/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "core/families.h"

/* The embedded default: every key the probe understands, with its default. */
const char config__default_json[] =
"{\n"
"  \"interval_s\": 2,\n"
"  \"top\": 15,\n"
"  \"attribution\": {\n"
"    \"k8s\": \"auto\",\n"
"    \"k8s_refresh_s\": 30,\n"
"    \"k8s_timeout_ms\": 5000\n"
"  },\n"
"  \"store\": {\n"
"    \"slot_s\": 10,\n"
"    \"slots\": 30,\n"
"    \"max_series\": 5000\n"
"  },\n"
"  \"signals\": {\n"
"    \"syscalls\": {\n"
"      \"enabled\": \"auto\",\n"
"      \"latency\": \"exact\",\n"
"      \"sample_period_s\": 10,\n"
"      \"sample_on_s\": 1\n"
"    },\n"
"    \"http\": {\n"
"      \"enabled\": \"auto\",\n"
"      \"max_routes\": 200,\n"
"      \"max_connections\": 16384,\n"
"      \"routes\": [],\n"
"      \"tls\": \"auto\",\n"
"      \"tls_sites\": \"callee\",\n"
"      \"raw_syscalls\": \"auto\"\n"
"    },\n"
"    \"memgrowth\": {\n"
"      \"enabled\": \"auto\",\n"
"      \"horizon_s\": 180,\n"
"      \"pid_horizon_s\": 40,\n"
"      \"min_rate_bytes_s\": 8192,\n"
"      \"min_growth_bytes\": 2097152,\n"
"      \"min_fit\": 0.8,\n"
"      \"tier2\": \"auto\",\n"
"      \"tier2_max_pids\": 8,\n"
"      \"tier2_hold_s\": 300,\n"
"      \"sample_bytes\": 65536\n"
"    },\n"
"    \"conn\": {\n"
"      \"enabled\": true,\n"
"      \"ports\": {\n"
"        \"postgresql\": [5432],\n"
"        \"mysql\": [3306],\n"
"        \"redis\": [6379],\n"
"        \"mongodb\": [27017],\n"
"        \"memcached\": [11211],\n"
"        \"cassandra\": [9042],\n"
"        \"mssql\": [1433],\n"
"        \"oracle\": [1521],\n"
"        \"elasticsearch\": [9200],\n"
"        \"kafka\": [9092],\n"
"        \"rabbitmq\": [5672],\n"
"        \"nats\": [4222],\n"
"        \"etcd\": [2379],\n"
"        \"zookeeper\": [2181],\n"
"        \"couchdb\": [5984],\n"
"        \"influxdb\": [8086],\n"
"        \"neo4j\": [7687]\n"
"      }\n"
"    },\n"
"    \"alloc\": {\n"
"      \"enabled\": \"auto\",\n"
"      \"mode\": \"full\",\n"
"      \"sample_bytes\": 32768,\n"
"      \"min_age_s\": 10,\n"
"      \"horizon_s\": 30,\n"
"      \"min_growth_bps\": 64,\n"
"      \"scan_s\": 2,\n"
"      \"max_targets\": 8,\n"
"      \"auto_enable_s\": 60,\n"
"      \"budget_pct\": 5,\n"
"      \"trap_cost_us\": 0\n"
"    }\n"
"  },\n"
"  \"export\": {\n"
"    \"listen\": \"127.0.0.1:9464\",\n"
"    \"max_connections\": 8,\n"
"    \"timeout_s\": 10,\n"
"    \"basic_auth_file\": \"\",\n"
"    \"bearer_token_file\": \"\",\n"
"    \"max_series_per_family\": 10000,\n"
"    \"max_series_per_service\": 2000,\n"
"    \"retire_after_s\": 300,\n"
"    \"quantile_window_s\": 60,\n"
"    \"bpf_stats\": \"auto\",\n"
"    \"buckets_s\": {\n"
"      \"default\": [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],\n"
"      \"syscall\": [0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.01, 0.1, 1],\n"
"      \"tcp_connect\": [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 10],\n"
"      \"tcp_conn\": [0.01, 0.1, 1, 10, 60, 300, 1800, 3600]\n"
"    },\n"
"    \"otlp\": {\n"
"      \"endpoint\": \"\",\n"
"      \"interval_s\": 10,\n"
"      \"timeout_s\": 5,\n"
"      \"queue\": 16,\n"
"      \"max_points\": 10000,\n"
"      \"gzip\": true\n"
"    }\n"
"  },\n"
"  \"alerts\": {\n"
"    \"enabled\": true,\n"
"    \"eval_s\": 10,\n"
"    \"keepalive_s\": 60,\n"
"    \"queue\": 256,\n"
"    \"timeout_s\": 5,\n"
"    \"retries\": 3,\n"
"    \"backoff_s\": 1,\n"
"    \"max_alerts\": 1000,\n"
"    \"sinks\": [],\n"
"    \"rules\": [\n"
"      {\"name\": \"route_slow\", \"severity\": \"warning\", \"family\": \"http_server\",\n"
"       \"value\": \"p95\", \"above\": 3, \"clear\": 2.5, \"min_count\": 20,\n"
"       \"for_s\": 300, \"window_s\": 300, \"keep_firing_s\": 120, \"repeat_s\": 3600,\n"
"       \"group_by\": [\"comm\", \"exe\", \"method\", \"route\"]},\n"
"      {\"name\": \"route_errors\", \"severity\": \"critical\", \"family\": \"http_server\",\n"
"       \"value\": \"ratio:errors_5xx/requests\", \"above\": 5, \"clear\": 4, \"min_count\": 50,\n"
"       \"for_s\": 300, \"window_s\": 300, \"keep_firing_s\": 120, \"repeat_s\": 3600,\n"
"       \"group_by\": [\"comm\", \"exe\", \"method\", \"route\"]},\n"
"      {\"name\": \"db_connect_failures\", \"severity\": \"critical\", \"family\": \"tcp_connect\",\n"
"       \"value\": \"rate:failed\", \"above\": 0.1, \"clear\": 0.05, \"min_count\": 5,\n"
"       \"for_s\": 60, \"window_s\": 60, \"keep_firing_s\": 120, \"repeat_s\": 3600,\n"
"       \"select\": {\"kind\": [\"postgresql\", \"mysql\", \"redis\", \"mongodb\"]},\n"
"       \"group_by\": [\"pid\", \"comm\", \"dest\", \"kind\"]},\n"
"      {\"name\": \"query_slow\", \"severity\": \"warning\", \"family\": \"db_query\",\n"
"       \"value\": \"p95\", \"above\": 0.5, \"clear\": 0.4, \"min_count\": 20,\n"
"       \"for_s\": 300, \"window_s\": 300, \"keep_firing_s\": 120, \"repeat_s\": 3600,\n"
"       \"group_by\": [\"pid\", \"comm\", \"dest\", \"kind\", \"op\"]},\n"
"      {\"name\": \"memory_leak\", \"severity\": \"warning\", \"family\": \"mem_leak\",\n"
"       \"value\": \"gauge:suspect\", \"above\": 0.5, \"clear\": 0.5,\n"
"       \"for_s\": 0, \"keep_firing_s\": 300, \"repeat_s\": 3600,\n"
"       \"group_by\": [\"pid\", \"start\", \"comm\"]},\n"
"      {\"name\": \"syscall_errors\", \"severity\": \"warning\", \"family\": \"syscall\",\n"
"       \"value\": \"rate:errors\", \"above\": 500, \"clear\": 250, \"min_count\": 1000,\n"
"       \"for_s\": 60, \"window_s\": 60, \"keep_firing_s\": 120, \"repeat_s\": 3600,\n"
"       \"group_by\": [\"pid\", \"comm\", \"syscall\"]},\n"
"      {\"name\": \"probe_event_loss\", \"severity\": \"warning\", \"family\": \"probe_signal\",\n"
"       \"value\": \"count:lost\", \"above\": 0, \"clear\": 0, \"min_count\": 1,\n"
"       \"for_s\": 0, \"window_s\": 60, \"keep_firing_s\": 300, \"repeat_s\": 3600,\n"
"       \"group_by\": [\"signal\"]}\n"
"    ]\n"
"  }\n"
"}\n";

#define CONFIG_MAX_BYTES (1 << 20)

enum field_type { F_UINT, F_DOUBLE, F_TRI, F_ENUM, F_PORTS, F_ROUTES, F_STRING, F_BOUNDS,
		  F_ALERT_RULES, F_ALERT_SINKS };

struct field {
	const char *path;
	enum field_type type;
	size_t off;
	double min, max;
	const char *const *choices;	/* F_ENUM: NULL-terminated */
};

static const char *const latency_choices[] = { "exact", "sampled", "off", NULL };
static const char *const alloc_mode_choices[] = { "full", "sampled", NULL };
static const char *const tier2_choices[] = { "auto", "suspects", "off", NULL };
static const char *const tls_sites_choices[] = { "callee", "exported", NULL };

#define OFF(m) offsetof(struct probe_config, m)

static const struct field fields[] = {
	{ "interval_s", F_DOUBLE, OFF(interval_s), 0.1, 3600, NULL },
	{ "top", F_UINT, OFF(top), 1, 1000, NULL },
	/* pod names: auto = in a cluster (see proc/attrib.h) */
	{ "attribution.k8s", F_TRI, OFF(attribution.k8s), 0, 0, NULL },
	{ "attribution.k8s_refresh_s", F_UINT, OFF(attribution.k8s_refresh_s), 5, 3600, NULL },
	{ "attribution.k8s_timeout_ms", F_UINT, OFF(attribution.k8s_timeout_ms), 100, 60000, NULL },
	{ "store.slot_s", F_UINT, OFF(store.slot_s), 1, 3600, NULL },
	{ "store.slots", F_UINT, OFF(store.slots), 1, 1440, NULL },
	{ "store.max_series", F_UINT, OFF(store.max_series), 1, 1000000, NULL },
	{ "signals.syscalls.enabled", F_TRI, OFF(syscalls.enabled), 0, 0, NULL },
	{ "signals.syscalls.latency", F_ENUM, OFF(syscalls.latency), 0, 0, latency_choices },
	{ "signals.syscalls.sample_period_s", F_UINT, OFF(syscalls.sample_period_s), 2, 3600, NULL },
	{ "signals.syscalls.sample_on_s", F_UINT, OFF(syscalls.sample_on_s), 1, 3600, NULL },
	{ "signals.http.enabled", F_TRI, OFF(http.enabled), 0, 0, NULL },
	{ "signals.http.max_routes", F_UINT, OFF(http.max_routes), 1, 100000, NULL },
	{ "signals.http.max_connections", F_UINT, OFF(http.max_connections), 64, 1048576, NULL },
	/* an array of route templates, checked by core/route.c */
	{ "signals.http.routes", F_ROUTES, OFF(http.routes), 0, 0, NULL },
	{ "signals.http.tls", F_TRI, OFF(http.tls), 0, 0, NULL },
	/* callee: SSL_read(_ex)/SSL_write(_ex)'s common internal function when found */
	{ "signals.http.tls_sites", F_ENUM, OFF(http.tls_sites), 0, 0, tls_sites_choices },
	/* auto: the capture rides raw_syscalls under --pid, with the syscalls signal */
	{ "signals.http.raw_syscalls", F_TRI, OFF(http.raw_syscalls), 0, 0, NULL },
	{ "signals.conn.enabled", F_TRI, OFF(conn.enabled), 0, 0, NULL },
	{ "signals.memgrowth.enabled", F_TRI, OFF(memgrowth.enabled), 0, 0, NULL },
	{ "signals.memgrowth.horizon_s", F_DOUBLE, OFF(memgrowth.horizon_s), 5, 86400, NULL },
	{ "signals.memgrowth.pid_horizon_s", F_DOUBLE, OFF(memgrowth.pid_horizon_s), 5, 86400, NULL },
	{ "signals.memgrowth.min_rate_bytes_s", F_DOUBLE, OFF(memgrowth.min_rate_bytes_s), 0, 1e12,
	  NULL },
	{ "signals.memgrowth.min_growth_bytes", F_DOUBLE, OFF(memgrowth.min_growth_bytes), 0, 1e15,
	  NULL },
	{ "signals.memgrowth.min_fit", F_DOUBLE, OFF(memgrowth.min_fit), 0, 1, NULL },
	{ "signals.memgrowth.tier2", F_ENUM, OFF(memgrowth.tier2), 0, 0, tier2_choices },
	{ "signals.memgrowth.tier2_max_pids", F_UINT, OFF(memgrowth.tier2_max_pids), 1, 64, NULL },
	{ "signals.memgrowth.tier2_hold_s", F_UINT, OFF(memgrowth.tier2_hold_s), 0, 86400, NULL },
	{ "signals.memgrowth.sample_bytes", F_UINT, OFF(memgrowth.sample_bytes), 4096, 1073741824,
	  NULL },
	/* an object of kind -> [ports], merged by core/dbports.c */
	{ "signals.conn.ports", F_PORTS, OFF(conn.ports), 0, 0, NULL },
	{ "signals.alloc.enabled", F_TRI, OFF(alloc.enabled), 0, 0, NULL },
	{ "signals.alloc.mode", F_ENUM, OFF(alloc.mode), 0, 0, alloc_mode_choices },
	{ "signals.alloc.sample_bytes", F_UINT, OFF(alloc.sample_bytes), 1, 1 << 30, NULL },
	{ "signals.alloc.min_age_s", F_UINT, OFF(alloc.min_age_s), 1, 86400, NULL },
	{ "signals.alloc.horizon_s", F_UINT, OFF(alloc.horizon_s), 4, 86400, NULL },
	{ "signals.alloc.min_growth_bps", F_DOUBLE, OFF(alloc.min_growth_bps), 0, 1e12, NULL },
	{ "signals.alloc.scan_s", F_UINT, OFF(alloc.scan_s), 1, 3600, NULL },
	{ "signals.alloc.max_targets", F_UINT, OFF(alloc.max_targets), 1, 64, NULL },
	{ "signals.alloc.auto_enable_s", F_UINT, OFF(alloc.auto_enable_s), 0, 86400, NULL },
	{ "signals.alloc.budget_pct", F_DOUBLE, OFF(alloc.budget_pct), 0.01, 100, NULL },
	{ "signals.alloc.trap_cost_us", F_DOUBLE, OFF(alloc.trap_cost_us), 0, 1000, NULL },
	{ "export.listen", F_STRING, OFF(export.listen), 0, CFG_STR_MAX, NULL },
	{ "export.max_connections", F_UINT, OFF(export.max_connections), 1, 1024, NULL },
	{ "export.timeout_s", F_UINT, OFF(export.timeout_s), 1, 3600, NULL },
	{ "export.basic_auth_file", F_STRING, OFF(export.basic_auth_file), 0, CFG_STR_MAX, NULL },
	{ "export.bearer_token_file", F_STRING, OFF(export.bearer_token_file), 0, CFG_STR_MAX,
	  NULL },
	{ "export.max_series_per_family", F_UINT, OFF(export.max_series_per_family), 0, 10000000,
	  NULL },
	{ "export.max_series_per_service", F_UINT, OFF(export.max_series_per_service), 0,
	  10000000, NULL },
	{ "export.retire_after_s", F_UINT, OFF(export.retire_after_s), 0, 86400 * 7, NULL },
	{ "export.quantile_window_s", F_UINT, OFF(export.quantile_window_s), 0, 86400, NULL },
	{ "export.bpf_stats", F_TRI, OFF(export.bpf_stats), 0, 0, NULL },
	/* an object of "default" or a family name -> [bounds], checked below */
	{ "export.buckets_s", F_BOUNDS, OFF(export.buckets), 0, 0, NULL },
	{ "export.otlp.endpoint", F_STRING, OFF(export.otlp.endpoint), 0, CFG_STR_MAX, NULL },
	{ "export.otlp.interval_s", F_DOUBLE, OFF(export.otlp.interval_s), 0.1, 86400, NULL },
	{ "export.otlp.timeout_s", F_DOUBLE, OFF(export.otlp.timeout_s), 0.1, 600, NULL },
	{ "export.otlp.queue", F_UINT, OFF(export.otlp.queue), 1, 10000, NULL },
	{ "export.otlp.max_points", F_UINT, OFF(export.otlp.max_points), 0, 10000000, NULL },
	{ "export.otlp.gzip", F_TRI, OFF(export.otlp.gzip), 0, 0, NULL },
	{ "alerts.enabled", F_TRI, OFF(alerts.enabled), 0, 0, NULL },
	{ "alerts.eval_s", F_DOUBLE, OFF(alerts.eval_s), 0.1, 3600, NULL },
	{ "alerts.keepalive_s", F_DOUBLE, OFF(alerts.keepalive_s), 1, 86400, NULL },
	{ "alerts.queue", F_UINT, OFF(alerts.queue), 1, 100000, NULL },
	{ "alerts.timeout_s", F_DOUBLE, OFF(alerts.timeout_s), 0.1, 300, NULL },
	{ "alerts.retries", F_UINT, OFF(alerts.retries), 0, 20, NULL },
	{ "alerts.backoff_s", F_DOUBLE, OFF(alerts.backoff_s), 0, 600, NULL },
	{ "alerts.max_alerts", F_UINT, OFF(alerts.max_alerts), 1, 100000, NULL },
	/* arrays parsed and checked by alert/rules.c */
	{ "alerts.rules", F_ALERT_RULES, OFF(alerts), 0, 0, NULL },
	{ "alerts.sinks", F_ALERT_SINKS, OFF(alerts), 0, 0, NULL },
};

static const struct field *find_field(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].path, path))
			return &fields[i];
	return NULL;
}

/* Whether some field lives below `prefix.` (so the key is an object). */
static int is_section(const char *prefix)
{
	size_t i, n = strlen(prefix);

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strncmp(fields[i].path, prefix, n) && fields[i].path[n] == '.')
			return 1;
	return 0;
}

const double *config__bounds(const struct cfg_bounds *b, const char *family, unsigned int *n)
{
	unsigned int i, def = b->nsets;

	for (i = 0; i < b->nsets; i++) {
		if (!strcmp(b->name[i], family)) {
			*n = b->n[i];
			return b->v[i];
		}
		if (!strcmp(b->name[i], "default"))
			def = i;
	}
	*n = def < b->nsets ? b->n[def] : 0;
	return def < b->nsets ? b->v[def] : NULL;
}

/*
 * {"default": [...], "syscall": [...]}: each named set replaces the one
 * already there; names are "default" or a family with a histogram.
 */
static int set_bounds(struct cfg_bounds *b, const cJSON *v, const char *path,
		      const char *origin, char *err, size_t errlen)
{
	const cJSON *set, *e;

	if (!cJSON_IsObject(v)) {
		snprintf(err, errlen, "%s: %s: expected an object of name -> [bounds]", origin, path);
		return -EINVAL;
	}
	if (b->nsets > CFG_BOUND_SETS)	/* never set: start empty */
		b->nsets = 0;
	cJSON_ArrayForEach(set, v) {
		const struct family_desc *d = families__find(set->string);
		double vals[CFG_MAX_BOUNDS];
		unsigned int n = 0, i;

		if (strcmp(set->string, "default") && (!d || !d->hist_unit)) {
			snprintf(err, errlen, "%s: %s.%.64s: not \"default\" nor a family with a "
				 "histogram", origin, path, set->string);
			return -EINVAL;
		}
		if (!cJSON_IsArray(set) || !cJSON_GetArraySize(set)) {
			snprintf(err, errlen, "%s: %s.%s: expected a non-empty array of numbers",
				 origin, path, set->string);
			return -EINVAL;
		}
		cJSON_ArrayForEach(e, set) {
			if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble <= 0 ||
			    (n && e->valuedouble <= vals[n - 1])) {
				snprintf(err, errlen, "%s: %s.%s: bounds must be positive numbers in "
					 "increasing order", origin, path, set->string);
				return -EINVAL;
			}
			if (n == CFG_MAX_BOUNDS) {
				snprintf(err, errlen, "%s: %s.%s: more than %d bounds", origin, path,
					 set->string, CFG_MAX_BOUNDS);
				return -ERANGE;
			}
			vals[n++] = e->valuedouble;
		}
		for (i = 0; i < b->nsets && strcmp(b->name[i], set->string); i++)
			;
		if (i == CFG_BOUND_SETS) {
			snprintf(err, errlen, "%s: %s: more than %d sets", origin, path, CFG_BOUND_SETS);
			return -ERANGE;
		}
		if (i == b->nsets)
			b->nsets++;
		snprintf(b->name[i], sizeof(b->name[i]), "%s", set->string);
		b->n[i] = n;
		memcpy(b->v[i], vals, n * sizeof(vals[0]));
	}
	return 0;
}

static int set_field(struct probe_config *cfg, const struct field *fd, const cJSON *v,
		     const char *origin, char *err, size_t errlen)
{
	char *p = (char *)cfg + fd->off;
	int i;

	switch (fd->type) {
	case F_UINT:
	case F_DOUBLE:
		if (!cJSON_IsNumber(v)) {
			snprintf(err, errlen, "%s: %s: expected a number", origin, fd->path);
			return -EINVAL;
		}
		if (!isfinite(v->valuedouble) || v->valuedouble < fd->min ||
		    v->valuedouble > fd->max) {
			snprintf(err, errlen, "%s: %s: %g is out of range [%g, %g]", origin,
				 fd->path, v->valuedouble, fd->min, fd->max);
			return -ERANGE;
		}
		if (fd->type == F_DOUBLE) {
			*(double *)p = v->valuedouble;
			return 0;
		}
		if (v->valuedouble != floor(v->valuedouble)) {
			snprintf(err, errlen, "%s: %s: expected a whole number, got %g",
				 origin, fd->path, v->valuedouble);
			return -EINVAL;
		}
		*(unsigned int *)p = (unsigned int)v->valuedouble;
		return 0;
	case F_TRI:
		if (cJSON_IsBool(v)) {
			*(int *)p = cJSON_IsTrue(v) ? CFG_ON : CFG_OFF;
			return 0;
		}
		if (cJSON_IsString(v) && !strcmp(v->valuestring, "auto")) {
			*(int *)p = CFG_AUTO;
			return 0;
		}
		snprintf(err, errlen, "%s: %s: expected true, false or \"auto\"", origin, fd->path);
		return -EINVAL;
	case F_ENUM:
		if (cJSON_IsString(v))
			for (i = 0; fd->choices[i]; i++)
				if (!strcmp(v->valuestring, fd->choices[i])) {
					*(int *)p = i;
					return 0;
				}
		snprintf(err, errlen, "%s: %s: expected one of", origin, fd->path);
		for (i = 0; fd->choices[i]; i++) {
			size_t n = strlen(err);

			snprintf(err + n, errlen - n, "%s\"%s\"", i ? ", " : " ", fd->choices[i]);
		}
		return -EINVAL;
	case F_PORTS: {
		char where[256];

		snprintf(where, sizeof(where), "%s: %s", origin, fd->path);
		return dbports__apply_json((struct dbports *)p, v, where, err, errlen);
	}
	case F_STRING:
		if (!cJSON_IsString(v)) {
			snprintf(err, errlen, "%s: %s: expected a string", origin, fd->path);
			return -EINVAL;
		}
		if (strlen(v->valuestring) >= (size_t)fd->max) {
			snprintf(err, errlen, "%s: %s: longer than %g bytes", origin, fd->path,
				 fd->max - 1);
			return -ERANGE;
		}
		snprintf(p, (size_t)fd->max, "%s", v->valuestring);
		return 0;
	case F_BOUNDS:
		return set_bounds((struct cfg_bounds *)p, v, fd->path, origin, err, errlen);
	case F_ALERT_RULES:
	case F_ALERT_SINKS: {
		char where[256];

		snprintf(where, sizeof(where), "%s: %s", origin, fd->path);
		return fd->type == F_ALERT_RULES
			? alert_rules__apply_json((struct alert_config *)p, v, where, err, errlen)
			: alert_sinks__apply_json((struct alert_config *)p, v, where, err, errlen);
	}
	case F_ROUTES: {
		struct cfg_strlist *l = (struct cfg_strlist *)p;
		const char *tmpl[ROUTE_TEMPLATES_MAX];
		struct route_templates *t;
		const cJSON *e;
		char why[200];

		if (!cJSON_IsArray(v)) {
			snprintf(err, errlen, "%s: %s: expected an array of strings", origin, fd->path);
			return -EINVAL;
		}
		i = 0;
		cJSON_ArrayForEach(e, v) {
			if (!cJSON_IsString(e)) {
				snprintf(err, errlen, "%s: %s: expected an array of strings", origin,
					 fd->path);
				return -EINVAL;
			}
			if (i == ROUTE_TEMPLATES_MAX) {
				snprintf(err, errlen, "%s: %s: more than %d templates", origin,
					 fd->path, ROUTE_TEMPLATES_MAX);
				return -ERANGE;
			}
			tmpl[i++] = e->valuestring;
		}
		/* compiled once here only to reject a bad template by name */
		t = route__templates_new(tmpl, (unsigned int)i, why, sizeof(why));
		if (!t) {
			snprintf(err, errlen, "%s: %s: %s", origin, fd->path, why);
			return errno == ENOMEM ? -ENOMEM : -EINVAL;
		}
		route__templates_free(t);
		l->n = (unsigned int)i;
		for (i = 0; i < (int)l->n; i++)
			snprintf(l->v[i], sizeof(l->v[i]), "%s", tmpl[i]);
		return 0;
	}
	}
	return -EINVAL;
}

static int apply_object(struct probe_config *cfg, const cJSON *obj, const char *prefix,
			const char *origin, char *err, size_t errlen)
{
	const cJSON *it;
	char path[256];
	int ret;

	cJSON_ArrayForEach(it, obj) {
		const struct field *fd;

		if (!it->string) {
			snprintf(err, errlen, "%s: %s: key without a name", origin,
				 *prefix ? prefix : "(top level)");
			return -EINVAL;
		}
		/* A dot would let one key pose as a path into another section. */
		if (strchr(it->string, '.') ||
		    (size_t)snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
				     it->string) >= sizeof(path)) {
			snprintf(err, errlen, "%s: unknown key \"%.200s%s%.200s\" (see --print-config)",
				 origin, prefix, *prefix ? "." : "", it->string);
			return -EINVAL;
		}
		fd = find_field(path);
		if (fd) {
			ret = set_field(cfg, fd, it, origin, err, errlen);
		} else if (is_section(path)) {
			if (!cJSON_IsObject(it)) {
				snprintf(err, errlen, "%s: %s: expected an object", origin, path);
				return -EINVAL;
			}
			ret = apply_object(cfg, it, path, origin, err, errlen);
		} else {
			snprintf(err, errlen, "%s: unknown key \"%.200s\" (see --print-config)",
				 origin, path);
			return -EINVAL;
		}
		if (ret)
			return ret;
	}
	return 0;
}

static int check_consistency(const struct probe_config *cfg, const char *origin,
			     char *err, size_t errlen)
{
	if (cfg->syscalls.sample_on_s >= cfg->syscalls.sample_period_s) {
		snprintf(err, errlen, "%s: signals.syscalls.sample_on_s must be less than "
			 "sample_period_s", origin);
		return -EINVAL;
	}
	return 0;
}

int config__apply_json(struct probe_config *cfg, const char *text, const char *origin,
		       char *err, size_t errlen)
{
	const char *end = NULL;
	/* require_null_terminated: text after the object is an error, not ignored */
	cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
	int ret;

	if (!root) {
		const char *at = cJSON_GetErrorPtr();

		snprintf(err, errlen, "%s: not valid JSON near \"%.20s\"", origin,
			 at ? at : "");
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: the top level must be an object", origin);
		cJSON_Delete(root);
		return -EINVAL;
	}
	ret = apply_object(cfg, root, "", origin, err, errlen);
	cJSON_Delete(root);
	return ret ? ret : check_consistency(cfg, origin, err, errlen);
}

static char *read_file(const char *path, char *err, size_t errlen, int *ret)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f) {
		*ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		*ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f) || n > CONFIG_MAX_BYTES) {
		*ret = ferror(f) ? -EIO : -EFBIG;
		snprintf(err, errlen, "%s: %s", path, ferror(f) ? "read error" :
			 "larger than 1 MiB");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	if (memchr(buf, 0, n)) {
		*ret = -EINVAL;
		snprintf(err, errlen, "%s: contains a NUL byte; not a JSON text", path);
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

int config__load(struct probe_config *cfg, const char *path, char *err, size_t errlen)
{
	char *text;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = config__apply_json(cfg, config__default_json, "embedded default", err, errlen);
	if (ret || !path)
		return ret;
	text = read_file(path, err, errlen, &ret);
	if (!text)
		return ret;
	ret = config__apply_json(cfg, text, path, err, errlen);
	free(text);
	return ret;
}
