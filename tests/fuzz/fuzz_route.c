/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target: route normalization (user/core/route.c) with a fixed
 * set of templates, and the per-service cap. Input: byte 0 says whether the
 * kernel cut the target short; the rest is the target as the kernel keeps
 * it (at most PROBE_HTTP_PATH_LEN bytes). The route must be NUL-terminated
 * within ROUTE_MAX, printable, and never carry a query string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/route.h"

static struct route_templates *tmpl;
static struct route_set *set;

static void die(const char *what, const char *route)
{
	fprintf(stderr, "route: %s: %s\n", what, route);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const t[] = { "/api/v1/users/:name", "/static/**", "/books/{id}/reviews/*",
					 "/a/*/b/**" };
	char out[ROUTE_MAX], err[128];
	const char *admitted;
	size_t len, i;
	char *target;
	int ret;

	if (!tmpl) {
		tmpl = route__templates_new(t, sizeof(t) / sizeof(t[0]), err, sizeof(err));
		set = route__set_new(8);
		if (!tmpl || !set)
			die("setup", err);
	}
	if (size < 1)
		return 0;
	len = size - 1 > 128 ? 128 : size - 1;
	target = malloc(len ? len : 1);	/* exactly its size: ASan sees any overread */
	if (!target)
		return 0;
	memcpy(target, data + 1, len);
	ret = route__normalize(tmpl, target, len, data[0] & 1, out, sizeof(out));
	free(target);
	if (memchr(out, 0, sizeof(out)) == NULL)
		die("not terminated", "");
	if (ret >= 0 && (size_t)ret != strlen(out))
		die("length differs from the string", out);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e || out[i] == '?')
			die("unprintable byte or query in a route", out);
	admitted = route__set_admit(set, out);
	if (!admitted || (strcmp(admitted, out) && strcmp(admitted, ROUTE_OVERFLOW)))
		die("admitted as something else", out);
	return 0;
}
