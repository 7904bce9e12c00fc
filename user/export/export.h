/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * export: /metrics and OTLP push, wired to the event loop.
 *
 * Readers (the /metrics threads, the OTLP thread) ask for a snapshot; if
 * the last one is older than a second, the request wakes the event loop
 * through an eventfd, the loop builds a new one from the store (collect.h
 * plus probe's own figures) and publishes it, and the reader takes a
 * reference. Readers wait at most a few seconds and otherwise get the last
 * snapshot (or none): a stuck loop never stalls them, and they never touch
 * the store. Builds are at most one a second however many readers ask.
 *
 * Ownership: the exporter owns the collector, the server, the OTLP pusher
 * and the published snapshot. exporter__free() stops the readers first;
 * call it before the loop and the store are freed.
 */
#ifndef PROBE_EXPORT_EXPORT_H
#define PROBE_EXPORT_EXPORT_H

#include <stddef.h>
#include <stdint.h>

struct probe_config;
struct store;
struct loop;
struct exporter;

struct exporter_info {
	uint64_t start_unix_ns;		/* probe start, the counters' start time */
	double startup_s;		/* main() to ready */
	const char *version;
};

/*
 * Start what the config asks for (/metrics when export.listen is set, OTLP
 * when export.otlp.endpoint is). NULL + errno with a one-line reason in
 * err on a configuration error (an unreadable auth file, a bad address).
 * A listen address that cannot be bound is not fatal: /metrics stays off
 * and exporter__describe() says why.
 */
struct exporter *exporter__new(const struct probe_config *cfg, struct store *st,
			       struct loop *loop, const struct exporter_info *info,
			       char *err, size_t errlen);
void exporter__free(struct exporter *x);

/* One line for stderr: where /metrics is served and where OTLP goes, or why not. */
const char *exporter__describe(const struct exporter *x);

#endif
