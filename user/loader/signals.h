/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* signals: the table of signals, and running them as a set. */
#ifndef PROBE_LOADER_SIGNALS_H
#define PROBE_LOADER_SIGNALS_H

#include <stdint.h>
#include <stdio.h>
#include "loader/signal.h"

struct signals;
struct cJSON;

/*
 * Plan and start every signal in table order (proc first: it owns the pid
 * filter the others share). --check starts them for real too, so "live"
 * means loaded and attached here; signals__stop() releases them.
 * NULL only on ENOMEM.
 */
struct signals *signals__start(struct probe_ctx *ctx);
void signals__collect(struct signals *s, uint64_t now_ns);
/* Every signal started: the run (and what it reports) begins at now_ns. */
void signals__ready(struct signals *s, uint64_t now_ns);
void signals__stop(struct signals *s);
unsigned int signals__live(const struct signals *s);

/* The --check report, and a startup line per signal. */
void signals__print(FILE *out, const struct signals *s);
struct cJSON *signals__json(const struct signals *s);

/* Sum a per-CPU __u64 array element over all possible CPUs. */
int signals__percpu_sum(int map_fd, uint32_t idx, uint64_t *out);

#endif
