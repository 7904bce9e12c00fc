/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "config.h"

/* The embedded default: every key the probe understands, with its default. */
const char config__default_json[] =
"{\n"
"  \"interval_s\": 2,\n"
"  \"top\": 15,\n"
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
"    }\n"
"  }\n"
"}\n";

#define CONFIG_MAX_BYTES (1 << 20)

enum field_type { F_UINT, F_DOUBLE, F_TRI, F_ENUM };

struct field {
	const char *path;
	enum field_type type;
	size_t off;
	double min, max;
	const char *const *choices;	/* F_ENUM: NULL-terminated */
};

static const char *const latency_choices[] = { "exact", "sampled", "off", NULL };

#define OFF(m) offsetof(struct probe_config, m)

static const struct field fields[] = {
	{ "interval_s", F_DOUBLE, OFF(interval_s), 0.1, 3600, NULL },
	{ "top", F_UINT, OFF(top), 1, 1000, NULL },
	{ "store.slot_s", F_UINT, OFF(store.slot_s), 1, 3600, NULL },
	{ "store.slots", F_UINT, OFF(store.slots), 1, 1440, NULL },
	{ "store.max_series", F_UINT, OFF(store.max_series), 1, 1000000, NULL },
	{ "signals.syscalls.enabled", F_TRI, OFF(syscalls.enabled), 0, 0, NULL },
	{ "signals.syscalls.latency", F_ENUM, OFF(syscalls.latency), 0, 0, latency_choices },
	{ "signals.syscalls.sample_period_s", F_UINT, OFF(syscalls.sample_period_s), 2, 3600, NULL },
	{ "signals.syscalls.sample_on_s", F_UINT, OFF(syscalls.sample_on_s), 1, 3600, NULL },
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
