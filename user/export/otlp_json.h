/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * otlp_json: a snapshot as OTLP/HTTP JSON ExportMetricsServiceRequest
 * bodies (opentelemetry-proto metrics/v1, JSON mapping: 64-bit integers as
 * strings, enums as numbers). Counters are monotonic sums and histograms
 * carry aggregationTemporality 2 (cumulative) with startTimeUnixNano the
 * probe's start; gauges are gauges; summaries (the recent-window
 * quantiles) are OTLP summaries.
 *
 * A snapshot larger than max_points data points is split across several
 * bodies, never a metric's points beyond that; a snapshot with no points
 * gives no body at all (nothing empty is ever sent).
 */
#ifndef PROBE_EXPORT_OTLP_JSON_H
#define PROBE_EXPORT_OTLP_JSON_H

#include <stddef.h>

#include "export/snapshot.h"

struct otlp_resource {
	const char *service_name;	/* resource service.name ("probe") */
	const char *host_name;		/* resource host.name, or NULL */
	const char *version;		/* instrumentation scope version */
};

/* Called once per body; the text is the callee's to keep (free()) or drop. */
typedef int (*otlp_body_fn)(char *body, size_t len, void *arg);

/*
 * Render s in bodies of at most max_points points (0: one body). Returns
 * the number of bodies handed to fn (0 when s has no points), or a
 * negative errno (-ENOMEM, or what fn returned).
 */
int otlp_json__render(const struct snapshot *s, const struct otlp_resource *r,
		      size_t max_points, otlp_body_fn fn, void *arg);

#endif
