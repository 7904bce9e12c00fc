/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dbquery: database queries from the socket capture (bpf/lib/pgsql.bpf.h,
 * bpf/lib/redis.bpf.h, bpf/lib/mysql.bpf.h), read from the socket capture's ring buffer by the
 * http signal, which hands over records in the PROBE_REC_DB_BASE range.
 *
 * Store families:
 *   db_query  labels pid, comm, dest ("addr:port"), kind, op
 *             counters queries, errors, hits, misses; histogram of
 *             durations (ns, query written -> reply read)
 *   db_stats  label what; counter count: what the kernel side could not
 *             parse or time
 * pid, comm, dest and kind are spelled as the conn signal spells them
 * (tcp_conn), so the two join per destination.
 */
#ifndef PROBE_SIGNALS_DBQUERY_H
#define PROBE_SIGNALS_DBQUERY_H

#include <stddef.h>
#include <stdint.h>

#include "probe/db.h"

struct probe_ctx;
struct dbports;

struct dbquery;

/* NULL + errno. */
struct dbquery *dbquery__new(struct probe_ctx *ctx);
void dbquery__free(struct dbquery *q);

/* Is this ring-buffer record one of ours (by its header's type)? */
int dbquery__is_record(const void *data, size_t len);

/* One record; a malformed one is counted (bad_records), never trusted. */
int dbquery__record(struct dbquery *q, const void *data, size_t len);

/* Fill the kernel's db_ports map (port -> enum probe_db_kind) from the config's port table. */
int dbquery__seed_ports(const struct dbports *ports, int map_fd);

/*
 * Once a second: the kernel counters (the socket capture's stats array
 * summed over CPUs, indexed by enum probe_sock_stat) since the last call
 * go to db_stats.
 */
void dbquery__collect(struct dbquery *q, uint64_t now, const uint64_t *kcur, const uint64_t *kprev);

/* Records read, malformed records. */
void dbquery__counts(const struct dbquery *q, uint64_t *records, uint64_t *bad);

/*
 * The operation label of a record's op[]: its uppercase letters and '_'
 * up to the first NUL; anything else (or nothing) gives "?". out holds
 * PROBE_DB_OP_LEN bytes. Returns out.
 */
const char *dbquery__op(const char *op, char *out);

/* "postgresql", "redis"; the config's name for the port when it has one. */
const char *dbquery__kind(const struct dbports *ports, uint8_t kind, uint16_t port);

#endif
