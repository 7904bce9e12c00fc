/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alerting: the alert engine and its delivery, wired for main.c in three
 * calls. Runs when alerts.enabled is not false and at least one sink is
 * configured (config or --alertmanager / --webhook); otherwise start
 * returns 0 with *out NULL and the other calls do nothing.
 */
#ifndef PROBE_ALERT_ALERTING_H
#define PROBE_ALERT_ALERTING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct alerting;
struct probe_config;
struct cli;
struct store;

/* Add the command line's sinks to cfg, start delivery. 0 or -errno with err set. */
int alerting__start(struct alerting **out, struct probe_config *cfg, const struct cli *cli,
		    FILE *stdout_sink, char *err, size_t errlen);
/* From the event-loop tick: evaluates when eval_s has passed. */
void alerting__tick(struct alerting *a, struct store *st, uint64_t now_ns);
/*
 * Finish delivery (see deliver.h), report what was triggered, resolved,
 * sent, failed and dropped per sink on stderr (and as one JSON line of
 * type "alerts" on stdout when json), free everything.
 */
void alerting__stop(struct alerting *a, int json);

#endif
