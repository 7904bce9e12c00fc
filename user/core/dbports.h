/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dbports: destination port -> kind of server ("postgresql", "redis", ...),
 * from the port table in the config (signals.conn.ports):
 *
 *   "ports": { "postgresql": [5432], "redis": [6379, 6380], ... }
 *
 * The embedded default fills the table; a user file then replaces the
 * ports of each kind it names, adds new kinds, and empties a kind with [].
 * A port named by a later object moves to its new kind, so an override
 * never has to restate the defaults. Within one object a port may belong
 * to only one kind.
 *
 * A plain value type (it lives inside struct probe_config and is copied
 * with it); no allocation. Lookup is a scan of at most DBPORTS_MAX_PORTS.
 */
#ifndef PROBE_CORE_DBPORTS_H
#define PROBE_CORE_DBPORTS_H

#include <stddef.h>
#include <stdint.h>

#define DBPORTS_MAX_KINDS	32
#define DBPORTS_MAX_PORTS	128
#define DBPORTS_KIND_LEN	24	/* with the NUL */

struct dbport {
	uint16_t port;
	uint8_t kind;		/* index into kinds[] */
};

struct dbports {
	unsigned int nkinds;
	unsigned int nports;
	char kinds[DBPORTS_MAX_KINDS][DBPORTS_KIND_LEN];
	struct dbport ports[DBPORTS_MAX_PORTS];
};

void dbports__clear(struct dbports *t);

/*
 * Kind `kind` now owns exactly ports[0..n) (n = 0 removes the kind); each
 * port leaves whatever kind had it. Kind names are 1..23 characters of
 * [a-z0-9_.-]; ports are 1..65535. Returns 0, -EINVAL (bad name or port)
 * or -ENOSPC (table full; the table is then unchanged).
 */
int dbports__set(struct dbports *t, const char *kind, const uint16_t *ports, unsigned int n);

/* The kind of a destination port, or NULL when the table does not name it. */
const char *dbports__kind(const struct dbports *t, uint16_t port);

struct cJSON;

/*
 * Apply a config object {"kind": [port, ...], ...}. Everything is checked
 * before anything changes, so a bad object leaves the table as it was.
 * `where` names the key in error messages ("my.json: signals.conn.ports").
 * A table found in an impossible state (e.g. memory never initialised) is
 * cleared first. Returns 0, or -EINVAL / -ERANGE / -ENOSPC with one line in err.
 */
int dbports__apply_json(struct dbports *t, const struct cJSON *obj, const char *where,
			char *err, size_t errlen);

#endif
