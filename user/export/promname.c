/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "export/promname.h"

/* UCUM units as the OpenTelemetry Prometheus exporter spells them. */
static const struct {
	const char *ucum, *word;
} units[] = {
	{ "d", "days" }, { "h", "hours" }, { "min", "minutes" }, { "s", "seconds" },
	{ "ms", "milliseconds" }, { "us", "microseconds" }, { "ns", "nanoseconds" },
	{ "By", "bytes" }, { "KiBy", "kibibytes" }, { "MiBy", "mebibytes" },
	{ "GiBy", "gibibytes" }, { "KBy", "kilobytes" }, { "MBy", "megabytes" },
	{ "GBy", "gigabytes" }, { "bit", "bits" }, { "m", "meters" }, { "V", "volts" },
	{ "A", "amperes" }, { "J", "joules" }, { "W", "watts" }, { "g", "grams" },
	{ "Cel", "celsius" }, { "Hz", "hertz" }, { "%", "percent" },
};

/* The unit after a '/': singular. */
static const struct {
	const char *ucum, *word;
} per_units[] = {
	{ "s", "second" }, { "m", "minute" }, { "h", "hour" }, { "d", "day" },
	{ "w", "week" }, { "mo", "month" }, { "y", "year" },
};

static const char *unit_word(const char *u, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].ucum) == n && !strncmp(units[i].ucum, u, n))
			return units[i].word;
	return NULL;
}

static const char *per_word(const char *u, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(per_units) / sizeof(per_units[0]); i++)
		if (strlen(per_units[i].ucum) == n && !strncmp(per_units[i].ucum, u, n))
			return per_units[i].word;
	return NULL;
}

static int valid_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* Append src to buf[*off], sanitized; runs of '_' collapse. */
static int put_clean(char *buf, size_t len, size_t *off, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = valid_char(src[i], *off == 0) ? src[i] : '_';

		if (c == '_' && *off && buf[*off - 1] == '_')
			continue;
		if (*off + 1 >= len)
			return -ENOSPC;
		buf[(*off)++] = c;
	}
	buf[*off] = 0;
	return 0;
}

/* Whether buf ends with "_" word. */
static int ends_with(const char *buf, size_t off, const char *word)
{
	size_t n = strlen(word);

	return off > n && buf[off - n - 1] == '_' && !strncmp(buf + off - n, word, n);
}

static int add_suffix(char *buf, size_t len, size_t *off, const char *word)
{
	if (!word || !*word || ends_with(buf, *off, word))
		return 0;
	if (*off && buf[*off - 1] != '_' && put_clean(buf, len, off, "_", 1))
		return -ENOSPC;
	return put_clean(buf, len, off, word, strlen(word));
}

/*
 * The suffix for a unit: "By/s" -> "bytes_per_second"; annotations
 * ("{request}", "{call}/s" keeps "per_second") drop out.
 */
static void unit_suffix(const char *unit, enum promname_kind kind, char *out, size_t outlen)
{
	const char *slash, *a, *b;
	size_t na, nb;

	out[0] = 0;
	if (!unit || !*unit)
		return;
	if (!strcmp(unit, "1")) {
		if (kind == PROMNAME_GAUGE)
			snprintf(out, outlen, "ratio");
		return;
	}
	slash = strchr(unit, '/');
	na = slash ? (size_t)(slash - unit) : strlen(unit);
	/* annotations and unknown units add nothing rather than a guess */
	a = unit[0] == '{' ? NULL : unit_word(unit, na);
	b = NULL;
	if (slash) {
		nb = strlen(slash + 1);
		b = slash[1] == '{' ? NULL : per_word(slash + 1, nb);
	}
	if (a && b)
		snprintf(out, outlen, "%s_per_%s", a, b);
	else if (a)
		snprintf(out, outlen, "%s", a);
	else if (b)
		snprintf(out, outlen, "per_%s", b);
}

int promname__metric(char *buf, size_t len, const char *otel_name, const char *unit,
		     enum promname_kind kind)
{
	char suffix[64];
	size_t off = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = 0;
	if (put_clean(buf, len, &off, otel_name, strlen(otel_name)))
		return -ENOSPC;
	while (off && buf[off - 1] == '_')
		buf[--off] = 0;
	unit_suffix(unit, kind, suffix, sizeof(suffix));
	if (add_suffix(buf, len, &off, suffix))
		return -ENOSPC;
	if (kind == PROMNAME_COUNTER && add_suffix(buf, len, &off, "total"))
		return -ENOSPC;
	return (int)off;
}

int promname__label(char *buf, size_t len, const char *otel_attr)
{
	size_t off = 0, i, n = strlen(otel_attr);

	if (!len)
		return -ENOSPC;
	buf[0] = 0;
	if (n && otel_attr[0] >= '0' && otel_attr[0] <= '9') {
		if (len <= 4)
			return -ENOSPC;
		memcpy(buf, "key_", 4);
		off = 4;
	}
	/* labels keep runs of '_' (only metric names collapse them) but not ':' */
	for (i = 0; i < n; i++) {
		char c = otel_attr[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			c = '_';
		if (off + 1 >= len)
			return -ENOSPC;
		buf[off++] = c;
	}
	buf[off] = 0;
	return (int)off;
}
