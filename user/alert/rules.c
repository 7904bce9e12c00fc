/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "alert/rules.h"
#include "core/families.h"

#define SECRET_FILE_MAX 4096

static const char *const sev_names[SEV_MAX] = { "critical", "error", "warning", "info" };
static const char *const sink_names[SINK_MAX] = {
	"alertmanager", "slack", "pagerduty", "webhook", "stdout",
};

const char *alert_rules__severity_name(int severity)
{
	return severity >= 0 && severity < SEV_MAX ? sev_names[severity] : "unknown";
}

const char *alert_rules__sink_type_name(int type)
{
	return type >= 0 && type < SINK_MAX ? sink_names[type] : "unknown";
}

static int lookup(const char *const *names, int n, const char *s)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

/* "where[idx] "name": field: message" */
static int fail(char *err, size_t errlen, const char *where, unsigned int idx, const char *name,
		const char *field, int ret, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (name && *name)
		snprintf(err, errlen, "%s[%u] \"%.64s\": %s: %s", where, idx, name, field, msg);
	else
		snprintf(err, errlen, "%s[%u]: %s: %s", where, idx, field, msg);
	return ret;
}

static int copy_str(char *dst, size_t cap, const cJSON *v)
{
	if (!cJSON_IsString(v))
		return -EINVAL;
	if (strlen(v->valuestring) >= cap)
		return -ERANGE;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int valid_label_name(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static int metric_index(const struct metric_desc *m, unsigned int n, const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (m[i].name && !strcmp(m[i].name, name))
			return (int)i;
	return -1;
}

/* Resolve rule->value against the family's declaration; 0 or a message in why. */
static int resolve_value(struct alert_rule *r, const struct family_desc *d, char *why, size_t len)
{
	const char *v = r->value, *arg = strchr(v, ':');
	int i;

	r->gauge = 0;
	if (v[0] == 'p' && !arg) {
		char *end;
		double q = strtod(v + 1, &end);

		if (v[1] == 0 || *end || !(q > 0 && q < 100)) {
			snprintf(why, len, "\"%s\": a quantile is p1 .. p99.9", v);
			return -EINVAL;
		}
		if (!d->hist_unit) {
			snprintf(why, len, "family %s keeps no histogram", d->name);
			return -EINVAL;
		}
		r->kind = AV_QUANTILE;
		r->quantile = q / 100.0;
		return 0;
	}
	if (!arg) {
		snprintf(why, len, "\"%s\": expected pNN, rate:COUNTER, count:COUNTER, "
			 "ratio:COUNTER/COUNTER or gauge:GAUGE", v);
		return -EINVAL;
	}
	arg++;
	if (!strncmp(v, "gauge:", 6)) {
		i = metric_index(d->gauges, d->ngauges, arg);
		if (i < 0) {
			snprintf(why, len, "family %s declares no gauge \"%s\"", d->name, arg);
			return -EINVAL;
		}
		r->kind = AV_GAUGE;
		r->gauge = 1;
		r->metric = (unsigned int)i;
		return 0;
	}
	if (!strncmp(v, "ratio:", 6)) {
		char a[ALERT_NAME_MAX];
		const char *slash = strchr(arg, '/');
		int j;

		if (!slash || (size_t)(slash - arg) >= sizeof(a)) {
			snprintf(why, len, "\"%s\": expected ratio:COUNTER/COUNTER", v);
			return -EINVAL;
		}
		memcpy(a, arg, (size_t)(slash - arg));
		a[slash - arg] = 0;
		i = metric_index(d->counters, d->ncounters, a);
		j = metric_index(d->counters, d->ncounters, slash + 1);
		if (i < 0 || j < 0) {
			snprintf(why, len, "family %s declares no counter \"%s\"", d->name,
				 i < 0 ? a : slash + 1);
			return -EINVAL;
		}
		r->kind = AV_RATIO;
		r->metric = (unsigned int)i;
		r->metric2 = (unsigned int)j;
		return 0;
	}
	if (!strncmp(v, "rate:", 5) || !strncmp(v, "count:", 6)) {
		i = metric_index(d->counters, d->ncounters, arg);
		if (i < 0) {
			snprintf(why, len, "family %s declares no counter \"%s\"", d->name, arg);
			return -EINVAL;
		}
		r->kind = v[0] == 'r' ? AV_RATE : AV_COUNT;
		r->metric = (unsigned int)i;
		return 0;
	}
	snprintf(why, len, "\"%s\": expected pNN, rate:COUNTER, count:COUNTER, "
		 "ratio:COUNTER/COUNTER or gauge:GAUGE", v);
	return -EINVAL;
}

static int set_number(double *dst, const cJSON *v, double min, double max)
{
	if (!cJSON_IsNumber(v))
		return -EINVAL;
	if (!isfinite(v->valuedouble) || v->valuedouble < min || v->valuedouble > max)
		return -ERANGE;
	*dst = v->valuedouble;
	return 0;
}

static void rule_defaults(struct alert_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->enabled = 1;
	r->severity = SEV_WARNING;
	r->min_count = 1;
	r->keep_firing_s = 60;
	r->window_s = 60;
	r->repeat_s = 3600;
	r->above = NAN;
	r->clear = NAN;
}

struct num_key {
	const char *key;
	size_t off;
	double min, max;
};

#define ROFF(m) offsetof(struct alert_rule, m)
static const struct num_key num_keys[] = {
	{ "above", ROFF(above), -1e18, 1e18 },
	{ "clear", ROFF(clear), -1e18, 1e18 },
	{ "min_count", ROFF(min_count), 0, 1e15 },
	{ "for_s", ROFF(for_s), 0, 7 * 86400.0 },
	{ "keep_firing_s", ROFF(keep_firing_s), 0, 7 * 86400.0 },
	{ "window_s", ROFF(window_s), 0, 7 * 86400.0 },
	{ "repeat_s", ROFF(repeat_s), 0, 30 * 86400.0 },
};

static int parse_rule(struct alert_rule *r, const cJSON *o, const char *where, unsigned int idx,
		      char *err, size_t errlen)
{
	const struct family_desc *d;
	const cJSON *it, *e;
	char why[200];
	int clear_given = 0, above_given = 0, family_given = 0, group_given = 0;
	unsigned int k;
	size_t i;

	cJSON_ArrayForEach(it, o) {
		const char *key = it->string ? it->string : "";

		if (!strcmp(key, "name"))
			continue;	/* handled by the caller */
		for (i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++)
			if (!strcmp(key, num_keys[i].key))
				break;
		if (i < sizeof(num_keys) / sizeof(num_keys[0])) {
			int ret = set_number((double *)((char *)r + num_keys[i].off), it,
					     num_keys[i].min, num_keys[i].max);

			if (ret)
				return fail(err, errlen, where, idx, r->name, key, ret,
					    ret == -EINVAL ? "expected a number" :
					    "out of range [%g, %g]", num_keys[i].min, num_keys[i].max);
			clear_given |= !strcmp(key, "clear");
			above_given |= !strcmp(key, "above");
		} else if (!strcmp(key, "enabled")) {
			if (!cJSON_IsBool(it))
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected true or false");
			r->enabled = cJSON_IsTrue(it);
		} else if (!strcmp(key, "severity")) {
			int s = cJSON_IsString(it) ? lookup(sev_names, SEV_MAX, it->valuestring) : -1;

			if (s < 0)
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected \"critical\", \"error\", \"warning\" or \"info\"");
			r->severity = s;
		} else if (!strcmp(key, "family")) {
			if (copy_str(r->family, sizeof(r->family), it))
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected a family name (see README, store families)");
			family_given = 1;
		} else if (!strcmp(key, "value")) {
			if (copy_str(r->value, sizeof(r->value), it))
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected a string such as \"p95\"");
		} else if (!strcmp(key, "group_by")) {
			if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > STORE_MAX_LABELS)
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected an array of at most %d label keys",
					    STORE_MAX_LABELS);
			r->ngroup = 0;
			cJSON_ArrayForEach(e, it)
				if (copy_str(r->group_by[r->ngroup++], ALERT_NAME_MAX, e))
					return fail(err, errlen, where, idx, r->name, key, -EINVAL,
						    "expected label keys (strings)");
			group_given = 1;
		} else if (!strcmp(key, "select")) {
			if (!cJSON_IsObject(it) || cJSON_GetArraySize(it) > ALERT_MAX_SELECT)
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected an object of at most %d label: glob(s)",
					    ALERT_MAX_SELECT);
			r->nselect = 0;
			cJSON_ArrayForEach(e, it) {
				struct alert_select *s = &r->select[r->nselect++];
				const cJSON *g;

				if (strlen(e->string) >= sizeof(s->key))
					return fail(err, errlen, where, idx, r->name, key, -EINVAL,
						    "label key too long");
				strcpy(s->key, e->string);
				s->nvalues = 0;
				if (cJSON_IsString(e)) {
					if (copy_str(s->values[s->nvalues++], ALERT_VALUE_MAX, e))
						return fail(err, errlen, where, idx, r->name, key,
							    -EINVAL, "%s: glob too long", s->key);
					continue;
				}
				if (!cJSON_IsArray(e) || !cJSON_GetArraySize(e) ||
				    cJSON_GetArraySize(e) > ALERT_MAX_SELECT_VALUES)
					return fail(err, errlen, where, idx, r->name, key, -EINVAL,
						    "%s: expected a glob or an array of 1 to %d globs",
						    s->key, ALERT_MAX_SELECT_VALUES);
				cJSON_ArrayForEach(g, e)
					if (copy_str(s->values[s->nvalues++], ALERT_VALUE_MAX, g))
						return fail(err, errlen, where, idx, r->name, key,
							    -EINVAL, "%s: expected glob strings of "
							    "under %d bytes", s->key, ALERT_VALUE_MAX);
			}
		} else if (!strcmp(key, "labels")) {
			if (!cJSON_IsObject(it) || cJSON_GetArraySize(it) > ALERT_MAX_LABELS)
				return fail(err, errlen, where, idx, r->name, key, -EINVAL,
					    "expected an object of at most %d string labels",
					    ALERT_MAX_LABELS);
			r->nlabels = 0;
			cJSON_ArrayForEach(e, it) {
				struct alert_kv *kv = &r->labels[r->nlabels++];

				if (!valid_label_name(e->string) || strlen(e->string) >= sizeof(kv->key) ||
				    !strcmp(e->string, "alertname") || !strcmp(e->string, "severity"))
					return fail(err, errlen, where, idx, r->name, key, -EINVAL,
						    "\"%.64s\" is not a usable label name", e->string);
				strcpy(kv->key, e->string);
				if (copy_str(kv->value, sizeof(kv->value), e))
					return fail(err, errlen, where, idx, r->name, key, -EINVAL,
						    "%s: expected a string under %d bytes", kv->key,
						    ALERT_VALUE_MAX);
			}
		} else {
			return fail(err, errlen, where, idx, r->name, key, -EINVAL, "unknown key");
		}
	}

	if (!r->family[0])
		return fail(err, errlen, where, idx, r->name, "family", -EINVAL, "missing");
	d = families__find(r->family);
	if (!d)
		return fail(err, errlen, where, idx, r->name, "family", -EINVAL,
			    "no store family \"%s\"", r->family);
	if (!r->value[0])
		return fail(err, errlen, where, idx, r->name, "value", -EINVAL, "missing");
	if (resolve_value(r, d, why, sizeof(why)))
		return fail(err, errlen, where, idx, r->name, "value", -EINVAL, "%s", why);
	if (isnan(r->above))
		return fail(err, errlen, where, idx, r->name, "above", -EINVAL, "missing");
	/* the hysteresis band: 10 % below the threshold unless told */
	if (!clear_given && (above_given || isnan(r->clear)))
		r->clear = r->above > 0 ? r->above * 0.9 : r->above;
	if (r->clear > r->above)
		return fail(err, errlen, where, idx, r->name, "clear", -EINVAL,
			    "%g is above the threshold %g", r->clear, r->above);
	if (r->kind != AV_GAUGE && r->window_s <= 0)
		return fail(err, errlen, where, idx, r->name, "window_s", -EINVAL,
			    "must be above 0 for %s", r->value);
	if (family_given && !group_given) {
		/* one alert per series unless told otherwise */
		r->ngroup = d->nlabels;
		for (k = 0; k < d->nlabels; k++)
			snprintf(r->group_by[k], ALERT_NAME_MAX, "%s", d->labels[k].key);
	}
	for (k = 0; k < r->ngroup; k++)
		if (families__label_index(d, r->group_by[k]) < 0)
			return fail(err, errlen, where, idx, r->name, "group_by", -EINVAL,
				    "family %s has no label \"%s\"", d->name, r->group_by[k]);
	for (k = 0; k < r->nselect; k++)
		if (families__label_index(d, r->select[k].key) < 0)
			return fail(err, errlen, where, idx, r->name, "select", -EINVAL,
				    "family %s has no label \"%s\"", d->name, r->select[k].key);
	return 0;
}

int alert_rules__apply_json(struct alert_config *cfg, const cJSON *v, const char *where,
			    char *err, size_t errlen)
{
	const cJSON *o;
	unsigned int idx = 0;

	if (!cJSON_IsArray(v)) {
		snprintf(err, errlen, "%s: expected an array of rules", where);
		return -EINVAL;
	}
	/* a count past the array is no list to merge into (an unset struct) */
	if (cfg->nrules > ALERT_MAX_RULES)
		cfg->nrules = 0;
	cJSON_ArrayForEach(o, v) {
		const cJSON *name = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "name")
						      : NULL;
		struct alert_rule r;
		unsigned int k;
		int ret;

		if (!cJSON_IsObject(o))
			return fail(err, errlen, where, idx, NULL, "rule", -EINVAL,
				    "expected an object");
		if (!cJSON_IsString(name) || !valid_label_name(name->valuestring) ||
		    strlen(name->valuestring) >= ALERT_NAME_MAX)
			return fail(err, errlen, where, idx, NULL, "name", -EINVAL,
				    "expected a name of letters, digits and _ (under %d bytes)",
				    ALERT_NAME_MAX);
		for (k = 0; k < cfg->nrules; k++)
			if (!strcmp(cfg->rules[k].name, name->valuestring))
				break;
		if (k < cfg->nrules) {
			r = cfg->rules[k];	/* override the keys given */
		} else {
			if (cfg->nrules == ALERT_MAX_RULES)
				return fail(err, errlen, where, idx, name->valuestring, "name",
					    -ENOSPC, "more than %d rules", ALERT_MAX_RULES);
			rule_defaults(&r);
			strcpy(r.name, name->valuestring);
		}
		ret = parse_rule(&r, o, where, idx, err, errlen);
		if (ret)
			return ret;
		cfg->rules[k] = r;
		if (k == cfg->nrules)
			cfg->nrules++;
		idx++;
	}
	return 0;
}

/* Read a secret from a file: whitespace at the end dropped; never echoed. */
static int read_secret(const char *path, char *dst, size_t cap, char *why, size_t len)
{
	char buf[SECRET_FILE_MAX + 1];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(why, len, "%.200s: %s", path, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
	fclose(f);
	while (n && isspace((unsigned char)buf[n - 1]))
		n--;
	if (!n || n >= cap || memchr(buf, 0, n)) {
		snprintf(why, len, "%.200s: %s", path, !n ? "empty" : "too long or not text");
		return -EINVAL;
	}
	memcpy(dst, buf, n);
	dst[n] = 0;
	return 0;
}

static int valid_url(const char *u)
{
	size_t i;

	if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
		return 0;
	for (i = 0; u[i]; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
			return 0;
	return 1;
}

static int parse_sink(struct alert_sink *s, const cJSON *o, const char *where, unsigned int idx,
		      char *err, size_t errlen)
{
	const cJSON *it;
	char why[300];
	int t = -1;

	memset(s, 0, sizeof(*s));
	s->min_severity = SEV_INFO;
	it = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (cJSON_IsString(it))
		t = lookup(sink_names, SINK_MAX, it->valuestring);
	if (t < 0)
		return fail(err, errlen, where, idx, NULL, "type", -EINVAL, "expected \"alertmanager\", "
			    "\"slack\", \"pagerduty\", \"webhook\" or \"stdout\"");
	s->type = t;
	snprintf(s->name, sizeof(s->name), "%s#%u", sink_names[t], idx);
	cJSON_ArrayForEach(it, o) {
		const char *key = it->string ? it->string : "";
		int ret = 0;

		if (!strcmp(key, "type")) {
			continue;
		} else if (!strcmp(key, "name")) {
			if (copy_str(s->name, sizeof(s->name), it))
				return fail(err, errlen, where, idx, NULL, key, -EINVAL,
					    "expected a string under %d bytes", ALERT_NAME_MAX);
		} else if (!strcmp(key, "url")) {
			/* never echo a URL: it may carry a token (Slack's does) */
			if (copy_str(s->url, sizeof(s->url), it))
				return fail(err, errlen, where, idx, s->name, key, -EINVAL,
					    "expected a string under %d bytes", ALERT_URL_MAX);
		} else if (!strcmp(key, "url_file")) {
			ret = cJSON_IsString(it) ? read_secret(it->valuestring, s->url,
							       sizeof(s->url), why, sizeof(why))
						 : -EINVAL;
		} else if (!strcmp(key, "routing_key")) {
			if (copy_str(s->routing_key, sizeof(s->routing_key), it))
				return fail(err, errlen, where, idx, s->name, key, -EINVAL,
					    "expected a string under %d bytes", ALERT_SECRET_MAX);
		} else if (!strcmp(key, "routing_key_file")) {
			ret = cJSON_IsString(it) ? read_secret(it->valuestring, s->routing_key,
							       sizeof(s->routing_key), why,
							       sizeof(why))
						 : -EINVAL;
		} else if (!strcmp(key, "token_file")) {
			ret = cJSON_IsString(it) ? read_secret(it->valuestring, s->token,
							       sizeof(s->token), why, sizeof(why))
						 : -EINVAL;
		} else if (!strcmp(key, "min_severity")) {
			int sv = cJSON_IsString(it) ? lookup(sev_names, SEV_MAX, it->valuestring) : -1;

			if (sv < 0)
				return fail(err, errlen, where, idx, s->name, key, -EINVAL,
					    "expected \"critical\", \"error\", \"warning\" or \"info\"");
			s->min_severity = sv;
		} else {
			return fail(err, errlen, where, idx, s->name, key, -EINVAL, "unknown key");
		}
		if (ret)
			return fail(err, errlen, where, idx, s->name, key, ret,
				    "%s", cJSON_IsString(it) ? why : "expected a file path");
	}
	if (t == SINK_PAGERDUTY && !s->url[0])
		strcpy(s->url, "https://events.pagerduty.com/v2/enqueue");
	if (t == SINK_PAGERDUTY && !s->routing_key[0])
		return fail(err, errlen, where, idx, s->name, "routing_key", -EINVAL,
			    "missing (routing_key or routing_key_file)");
	if (t != SINK_STDOUT && !s->url[0])
		return fail(err, errlen, where, idx, s->name, "url", -EINVAL,
			    "missing (url or url_file)");
	if (t != SINK_STDOUT && !valid_url(s->url))
		return fail(err, errlen, where, idx, s->name, "url", -EINVAL,
			    "must start with http:// or https:// and hold no spaces");
	return 0;
}

int alert_sinks__apply_json(struct alert_config *cfg, const cJSON *v, const char *where,
			    char *err, size_t errlen)
{
	struct alert_sink sinks[ALERT_MAX_SINKS];
	const cJSON *o;
	unsigned int n = 0;
	int ret;

	if (!cJSON_IsArray(v)) {
		snprintf(err, errlen, "%s: expected an array of sinks", where);
		return -EINVAL;
	}
	cJSON_ArrayForEach(o, v) {
		if (n == ALERT_MAX_SINKS)
			return fail(err, errlen, where, n, NULL, "type", -ENOSPC,
				    "more than %d sinks", ALERT_MAX_SINKS);
		if (!cJSON_IsObject(o))
			return fail(err, errlen, where, n, NULL, "sink", -EINVAL,
				    "expected an object");
		ret = parse_sink(&sinks[n], o, where, n, err, errlen);
		if (ret)
			return ret;
		n++;
	}
	memcpy(cfg->sinks, sinks, n * sizeof(sinks[0]));
	cfg->nsinks = n;
	return 0;
}

int alert_sinks__add(struct alert_config *cfg, int type, const char *url, char *err,
		     size_t errlen)
{
	struct alert_sink *s;

	if (cfg->nsinks == ALERT_MAX_SINKS) {
		snprintf(err, errlen, "at most %d alert sinks", ALERT_MAX_SINKS);
		return -ENOSPC;
	}
	if (!url || strlen(url) >= ALERT_URL_MAX || !valid_url(url)) {
		snprintf(err, errlen, "--%s: expected an http:// or https:// URL",
			 alert_rules__sink_type_name(type));
		return -EINVAL;
	}
	s = &cfg->sinks[cfg->nsinks];
	memset(s, 0, sizeof(*s));
	s->type = type;
	s->min_severity = SEV_INFO;
	snprintf(s->name, sizeof(s->name), "%s#%u", alert_rules__sink_type_name(type), cfg->nsinks);
	strcpy(s->url, url);
	cfg->nsinks++;
	return 0;
}
