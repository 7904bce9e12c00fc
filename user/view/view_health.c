/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The probe's own health: what each signal saw and lost. Loss is a number. */
#include <cjson/cJSON.h>

#include "view/view.h"
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

	/* signals that are not live have a series only for exporters */
	if (!name || series__gauge(se, PROBE_SIGNAL_LIVE) <= 0 ||
	    view__stats(se, h->now, h->o, &vs))
		return 0;
	if (h->arr) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "signal", name);
		cJSON_AddNumberToObject(e, "events", (double)vs.counters[PROBE_SIGNAL_EVENTS]);
		cJSON_AddNumberToObject(e, "lost", (double)vs.counters[PROBE_SIGNAL_LOST]);
		cJSON_AddItemToArray(h->arr, e);
	} else {
		fprintf(h->out, "%s%s %lu events, %lu lost", h->rows ? "; " : "PROBE: ", name,
			(unsigned long)vs.counters[PROBE_SIGNAL_EVENTS], (unsigned long)vs.counters[PROBE_SIGNAL_LOST]);
	}
	h->rows++;
	return 0;
}

static int health_text(FILE *out, struct store *st, uint64_t now, const struct view_opts *o)
{
	struct family *f = families__lookup(st, FAM_PROBE_SIGNAL);
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
	struct family *f = families__lookup(st, FAM_PROBE_SIGNAL);
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
