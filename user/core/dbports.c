/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/dbports.h"

void dbports__clear(struct dbports *t)
{
	memset(t, 0, sizeof(*t));
}

static int kind_name_ok(const char *kind)
{
	size_t n = strlen(kind), i;

	if (n == 0 || n >= DBPORTS_KIND_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = kind[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int kind_index(const struct dbports *t, const char *kind)
{
	unsigned int i;

	for (i = 0; i < t->nkinds; i++)
		if (!strcmp(t->kinds[i], kind))
			return (int)i;
	return -1;
}

/* Drop port entries matching `drop` (a port list) or owned by kind k. */
static void drop_ports(struct dbports *t, int k, const uint16_t *drop, unsigned int n)
{
	unsigned int i, j, o = 0;

	for (i = 0; i < t->nports; i++) {
		int gone = (int)t->ports[i].kind == k;

		for (j = 0; !gone && j < n; j++)
			gone = t->ports[i].port == drop[j];
		if (!gone)
			t->ports[o++] = t->ports[i];
	}
	t->nports = o;
}

/* Remove kinds that own no port, renumbering the ports' kind indices. */
static void compact_kinds(struct dbports *t)
{
	uint8_t map[DBPORTS_MAX_KINDS];
	unsigned int i, j, o = 0;

	for (i = 0; i < t->nkinds; i++) {
		int used = 0;

		for (j = 0; j < t->nports && !used; j++)
			used = t->ports[j].kind == i;
		if (!used)
			continue;
		if (o != i)
			memcpy(t->kinds[o], t->kinds[i], DBPORTS_KIND_LEN);
		map[i] = (uint8_t)o++;
	}
	for (j = 0; j < t->nports; j++)
		t->ports[j].kind = map[t->ports[j].kind];
	t->nkinds = o;
}

int dbports__set(struct dbports *t, const char *kind, const uint16_t *ports, unsigned int n)
{
	struct dbports tmp = *t;
	unsigned int i, j;
	int k;

	if (!kind_name_ok(kind))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (ports[i] == 0)
			return -EINVAL;
	k = kind_index(&tmp, kind);
	drop_ports(&tmp, k, ports, n);
	if (n) {
		if (k < 0) {
			if (tmp.nkinds >= DBPORTS_MAX_KINDS) {
				/* room may appear once empty kinds go */
				compact_kinds(&tmp);
				if (tmp.nkinds >= DBPORTS_MAX_KINDS)
					return -ENOSPC;
			}
			k = (int)tmp.nkinds++;
			snprintf(tmp.kinds[k], DBPORTS_KIND_LEN, "%s", kind);
		}
		for (i = 0; i < n; i++) {
			int dup = 0;

			for (j = 0; j < i && !dup; j++)
				dup = ports[j] == ports[i];
			if (dup)
				continue;
			if (tmp.nports >= DBPORTS_MAX_PORTS)
				return -ENOSPC;
			tmp.ports[tmp.nports].port = ports[i];
			tmp.ports[tmp.nports].kind = (uint8_t)k;
			tmp.nports++;
		}
	}
	compact_kinds(&tmp);
	*t = tmp;
	return 0;
}

const char *dbports__kind(const struct dbports *t, uint16_t port)
{
	unsigned int i;

	/* cheap bounds, so a table nobody initialised cannot send us past it */
	if (t->nports > DBPORTS_MAX_PORTS || t->nkinds > DBPORTS_MAX_KINDS)
		return NULL;
	for (i = 0; i < t->nports; i++)
		if (t->ports[i].port == port && t->ports[i].kind < t->nkinds)
			return t->kinds[t->ports[i].kind];
	return NULL;
}

/* Whether t could have been built by dbports__set() (not stray memory). */
static int table_sane(const struct dbports *t)
{
	unsigned int i;

	if (t->nkinds > DBPORTS_MAX_KINDS || t->nports > DBPORTS_MAX_PORTS)
		return 0;
	for (i = 0; i < t->nkinds; i++)
		if (!memchr(t->kinds[i], 0, DBPORTS_KIND_LEN) || !kind_name_ok(t->kinds[i]))
			return 0;
	for (i = 0; i < t->nports; i++)
		if (t->ports[i].kind >= t->nkinds || !t->ports[i].port)
			return 0;
	return 1;
}

/* One kind's array into ports[]; returns the count or a negative errno. */
static int parse_ports(const cJSON *arr, const char *where, const char *kind, uint16_t *ports,
		       char *err, size_t errlen)
{
	const cJSON *it;
	int n = 0;

	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "%s.%s: expected an array of ports", where, kind);
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, arr) {
		double v;

		if (!cJSON_IsNumber(it)) {
			snprintf(err, errlen, "%s.%s: expected port numbers", where, kind);
			return -EINVAL;
		}
		v = it->valuedouble;
		if (!isfinite(v) || v < 1 || v > 65535) {
			snprintf(err, errlen, "%s.%s: %g is out of range [1, 65535]", where,
				 kind, v);
			return -ERANGE;
		}
		if (v != floor(v)) {
			snprintf(err, errlen, "%s.%s: expected a whole number, got %g", where,
				 kind, v);
			return -EINVAL;
		}
		if (n >= DBPORTS_MAX_PORTS) {
			snprintf(err, errlen, "%s.%s: more than %d ports", where, kind,
				 DBPORTS_MAX_PORTS);
			return -ENOSPC;
		}
		ports[n++] = (uint16_t)v;
	}
	return n;
}

/* A port listed under two kinds of the same object is a mistake, not an override. */
static int check_duplicates(const cJSON *obj, const char *where, char *err, size_t errlen)
{
	const cJSON *a, *b, *pa, *pb;

	cJSON_ArrayForEach(a, obj) {
		for (b = a->next; b; b = b->next) {
			if (!strcmp(a->string, b->string)) {
				snprintf(err, errlen, "%s.%s: kind listed twice", where, a->string);
				return -EINVAL;
			}
			cJSON_ArrayForEach(pa, a)
				cJSON_ArrayForEach(pb, b)
					if (pa->valuedouble == pb->valuedouble) {
						snprintf(err, errlen, "%s: port %g is listed under "
							 "both %s and %s", where, pa->valuedouble,
							 a->string, b->string);
						return -EINVAL;
					}
		}
	}
	return 0;
}

int dbports__apply_json(struct dbports *t, const cJSON *obj, const char *where,
			char *err, size_t errlen)
{
	uint16_t ports[DBPORTS_MAX_PORTS];
	struct dbports tmp;
	const cJSON *it;
	int n, ret;

	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s: expected an object of kind: [ports]", where);
		return -EINVAL;
	}
	if (!table_sane(t))
		dbports__clear(t);
	tmp = *t;
	/* Every array first, so duplicates are only looked for among numbers. */
	cJSON_ArrayForEach(it, obj) {
		if (!it->string || !kind_name_ok(it->string)) {
			snprintf(err, errlen, "%s.%.64s: a kind is 1 to %d characters of a-z, 0-9, "
				 "'_', '-', '.'", where, it->string ? it->string : "",
				 DBPORTS_KIND_LEN - 1);
			return -EINVAL;
		}
		n = parse_ports(it, where, it->string, ports, err, errlen);
		if (n < 0)
			return n;
	}
	ret = check_duplicates(obj, where, err, errlen);
	if (ret)
		return ret;
	cJSON_ArrayForEach(it, obj) {
		n = parse_ports(it, where, it->string, ports, err, errlen);
		if (n < 0)
			return n;
		ret = dbports__set(&tmp, it->string, ports, (unsigned int)n);
		if (ret) {
			snprintf(err, errlen, "%s: the port table is full (%d kinds, %d ports)",
				 where, DBPORTS_MAX_KINDS, DBPORTS_MAX_PORTS);
			return ret;
		}
	}
	*t = tmp;
	return 0;
}
