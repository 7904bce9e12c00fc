/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * prom: a snapshot as Prometheus text exposition format 0.0.4. Names come
 * from promname (the OpenTelemetry exporter's mapping); every family gets
 * HELP and TYPE; label values escape backslash, double quote and newline;
 * histograms become cumulative _bucket{le} series ending in le="+Inf",
 * then _sum and _count; summaries as {quantile} series, _sum and _count.
 * Metrics without points are left out.
 */
#ifndef PROBE_EXPORT_PROM_H
#define PROBE_EXPORT_PROM_H

#include "export/sbuf.h"
#include "export/snapshot.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the text to out. Returns 0 or -ENOMEM. */
int prom__render(const struct snapshot *s, struct sbuf *out);

/* A number as Prometheus writes it: shortest exact form, NaN, +Inf, -Inf. */
void prom__number(char *buf, size_t len, double v);

#endif
