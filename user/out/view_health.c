/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The probe's own health: what each signal saw and lost. Loss is a number. */
#include <cjson/cJSON.h>

#include "out/view.h"
#include "core/store.h"

struct health_arg {
	FILE *out;
	cJSON *arr;
	uint64_t now;
	const struct view_opts *o;
	int rows;
};

static int health_row(struct series *se, void *arg)
{
	struct health_arg *h = arg;
	const char *name = series__label(se, "signal");
	struct view_stats vs;

	if (!name || view__stats(se, h->now, h->o, &vs))
		return 0;
	if (h->arr) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "signal", name);
		cJSON_AddNumberToObject(e, "events", (double)vs.counters[0]);
		cJSON_AddNumberToObject(e, "lost", (double)vs.counters[1]);
		cJSON_AddItemToArray(h->arr, e);
	} else {
		fprintf(h->out, "%s%s %lu events, %lu lost", h->rows ? "; " : "PROBE: ", name,
			(unsigned long)vs.counters[0], (unsigned long)vs.counters[1]);
	}
	h->rows++;
	return 0;
}

static int health_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct family *f = store__find_family(st, "probe_signal");
	struct health_arg h = { .out = out, .now = now, .o = o };

	if (!f)
		return 0;
	family__for_each(f, health_row, &h);
	if (h.rows)
		fputc('\n', out);
	return h.rows;
}

static void health_json(cJSON *obj, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct family *f = store__find_family(st, "probe_signal");
	struct health_arg h = { .now = now, .o = o };

	h.arr = cJSON_AddArrayToObject(obj, "probe");
	if (f && h.arr)
		family__for_each(f, health_row, &h);
}

const struct view_section view_health = {
	.name = "probe",
	.text = health_text,
	.json = health_json,
};
