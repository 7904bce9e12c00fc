/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * promname: OpenTelemetry metric and attribute names to Prometheus names,
 * the way the OpenTelemetry Prometheus exporter maps them:
 *  - characters outside [a-zA-Z0-9_:] become '_', runs of '_' collapse;
 *  - the UCUM unit becomes a suffix (s -> seconds, By -> bytes,
 *    By/s -> bytes_per_second, % -> percent, 1 -> ratio for gauges only),
 *    annotations in braces ({request}) add nothing, and a suffix already
 *    at the end of the name is not repeated;
 *  - monotonic counters end in _total;
 *  - attribute names: invalid characters become '_', a leading digit gets
 *    a "key_" prefix.
 * Pure functions on caller buffers: each returns the length written, or
 * -ENOSPC when the result (and its NUL) does not fit in len.
 */
#ifndef PROBE_EXPORT_PROMNAME_H
#define PROBE_EXPORT_PROMNAME_H

#include <stddef.h>

enum promname_kind { PROMNAME_COUNTER, PROMNAME_GAUGE, PROMNAME_HISTOGRAM };

int promname__metric(char *buf, size_t len, const char *otel_name, const char *unit,
		     enum promname_kind kind);
int promname__label(char *buf, size_t len, const char *otel_attr);

#endif
