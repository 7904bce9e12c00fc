/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * families: every store family declared once, owned by neither the signals
 * that write it nor the readers (live view, summary, exporters, alerts)
 * that read it.
 *
 * Contract for writers and readers:
 *  - A family is named by its enum family_id (FAM_*). Its declaration
 *    (families__get) gives the store name, one-line help, default cap,
 *    label keys in the order writers pass them, counters and gauges with
 *    name, unit and help, and the histogram's unit. The store keeps the
 *    same struct (store.h), so family__desc() of a live family says the
 *    same thing.
 *  - Counters and gauges are addressed by the named indices below (one
 *    enum per family, prefix = family), never by a bare number: a reader
 *    writes vs.counters[SYSCALL_ERRORS], series__gauge(se, MG_RSS).
 *  - Writers register with families__register(store, FAM_X, cap), cap 0
 *    meaning the declared default; readers look a family up with
 *    families__lookup(store, FAM_X), NULL when no signal registered it in
 *    this run (the signal is off or unavailable).
 *  - Label keys: series carry the declared keys, in the declared order,
 *    every per-process family ending with the ATTRIB_NLABELS container and
 *    Kubernetes labels (proc/attrib.h) that writers fill with attrib__labels(),
 *    except a family's overflow series, whose only label is
 *    overflow="true" (see store.h). Read labels by key (series__label).
 *  - Export metadata: each label has an OpenTelemetry attribute name
 *    (attr), each counter, gauge and histogram an OpenTelemetry metric
 *    name (export, dotted, NULL: not exported because another metric
 *    carries it) and a UCUM unit. Several counters may share one export
 *    name when each sets split_key/split_value: they become one metric
 *    told apart by that extra attribute (connect failures by error_type).
 *    A label flagged LABEL_HOSTPORT holds "host:port" and is exported as
 *    two attributes, attr (the host) and attr_port (the port). A label
 *    flagged LABEL_NUMBER always holds a decimal integer (pid, start time,
 *    errno): the JSON output writes it as a number.
 *  - Listing: families__count() and families__get(i) for i < FAM_MAX walk
 *    every declaration, registered or not; the table is immutable and
 *    lives for the whole program.
 * Adding a family: an id here, its enum of indices, one entry in
 * families.c. Readers that walk the list pick it up with no other change.
 */
#ifndef PROBE_CORE_FAMILIES_H
#define PROBE_CORE_FAMILIES_H

#include "core/store.h"

enum family_id {
	FAM_PROBE_SIGNAL,	/* probe's own: events seen and lost per signal */
	FAM_SYSCALL,
	FAM_SYSCALL_ERRNO,
	FAM_HTTP_SERVER,
	FAM_HTTP_CLIENT,
	FAM_HTTP_STATS,
	FAM_TCP_CONNECT,
	FAM_TCP_CONNECT_ERRNO,
	FAM_TCP_CONN,
	FAM_DB_QUERY,
	FAM_DB_STATS,
	FAM_MEM_GROWTH,
	FAM_MEM_LEAK,
	FAM_MEM_STACK,
	FAM_ALLOC_TARGET,
	FAM_ALLOC_SITE,
	FAM_ALLOC_STACK,
	FAM_ALERT_SINK,		/* probe's own: alert notifications per sink */
	FAM_TLS_HANDSHAKE,
	FAM_TLS_STATS,
	FAM_MAX,
};

/* probe_signal: labels signal */
enum probe_signal_counter { PROBE_SIGNAL_EVENTS, PROBE_SIGNAL_LOST, PROBE_SIGNAL_NCOUNTERS };
/* 1 while the signal is loaded and attached; 0 when off, unavailable or failed */
enum probe_signal_gauge { PROBE_SIGNAL_LIVE, PROBE_SIGNAL_NGAUGES };

/* syscall: labels pid, comm, syscall; histogram: latency (ns) */
enum syscall_counter { SYSCALL_CALLS, SYSCALL_ERRORS, SYSCALL_NCOUNTERS };

/* syscall_errno: labels pid, comm, syscall, errno */
enum syscall_errno_counter { SYSCALL_ERRNO_CALLS, SYSCALL_ERRNO_NCOUNTERS };

/*
 * http_server: labels comm, exe, method, route, status_class;
 * http_client: labels comm, exe, host, peer, method, status_class, route;
 * both: histogram of request duration (ns), these counters.
 */
enum http_counter { HTTP_REQUESTS, HTTP_ERRORS_4XX, HTTP_ERRORS_5XX, HTTP_NCOUNTERS };

/* http_stats, db_stats and tls_stats: labels what; one counter */
enum capture_stats_counter { STATS_COUNT, STATS_NCOUNTERS };

/*
 * tls_handshake: labels comm, exe, role, host (SNI, else the peer), peer;
 * histogram: handshake duration (ns) of the ones that succeeded.
 */
enum tls_handshake_counter { TLS_HS_HANDSHAKES, TLS_HS_FAILURES, TLS_HS_NCOUNTERS };

/*
 * tcp_connect, tcp_connect_errno and tcp_conn share the labels pid, comm,
 * dest, kind (tcp_connect_errno adds errno), so readers join them.
 */
enum tcp_connect_counter {
	CC_ATTEMPTS,		/* entered SYN_SENT, or connect() failed before it */
	CC_ESTABLISHED,
	CC_FAILED,		/* the sum of the five reasons below */
	CC_REFUSED,		/* ECONNREFUSED: RST in reply to the SYN */
	CC_TIMEOUT,		/* ETIMEDOUT: SYN retries exhausted */
	CC_UNREACHABLE,		/* EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN */
	CC_ABORTED,		/* the caller closed it before any answer */
	CC_OTHER,		/* any other errno (EADDRNOTAVAIL, EACCES, ...) */
	CC_MAX,
};

enum tcp_connect_errno_counter { CE_CONNECTS, CE_NCOUNTERS };

enum tcp_conn_counter {
	KC_OPENS,		/* connects that established */
	KC_CLOSES,		/* released: closed by us, or died (reset, timeout) */
	KC_RESETS_IN,		/* RST received on an established connection */
	KC_RESETS_OUT,		/* RST sent on a connection of ours */
	KC_RETRANSMITS,		/* segments retransmitted, SYNs included */
	KC_ERRORS,		/* connections that ended with an error (sk_err) */
	KC_MAX,
};

/* Pool gauges: "at its ceiling" is active == active_highest. */
enum tcp_conn_gauge {
	KG_ACTIVE,		/* established and not yet released */
	KG_ACTIVE_HIGHEST,	/* highest active seen since the probe started */
	KG_CONNECTING,		/* in SYN_SENT now: connects waiting */
	KG_CONNECTING_HIGHEST,
	KG_MAX,
};

/* db_query: labels pid, comm, dest, kind, op; histogram: duration (ns) */
enum db_query_counter { DQ_QUERIES, DQ_ERRORS, DQ_HITS, DQ_MISSES, DQ_MAX };

/* mem_growth: labels pid, comm */
enum mem_growth_gauge {
	MG_RSS, MG_RSS_ANON, MG_HEAP, MG_ANON, MG_RATE, MG_FIT, MG_SUSPECT, MG_ALIVE, MG_NGAUGES,
};

/* mem_leak: labels pid, start, comm */
enum mem_leak_gauge {
	ML_RATE, ML_OUTSTANDING, ML_GROWTH_S, ML_SUSPECT, ML_TIER2, ML_SAMPLED, ML_FIT, ML_RSS,
	ML_NGAUGES,
};

/* mem_stack: labels pid, start, comm, kind, stack */
enum mem_stack_counter { MS_BYTES, MS_SAMPLES, MS_NCOUNTERS };

/* alloc_target: labels pid, comm, instance, libc, probes */
enum alloc_target_counter { AT_CALLS, AT_FREES, AT_NCOUNTERS };
enum alloc_target_gauge {
	TG_ATTACHED, TG_EXITED, TG_AUTO, TG_RATE, TG_PCT, TG_TRAP, TG_TRACKED, TG_NGAUGES,
};

/* alloc_site: labels pid, comm, instance, site */
enum alloc_site_counter { AS_ALLOCS, AS_FREES, AS_NCOUNTERS };
enum alloc_site_gauge {
	AS_BYTES, AS_COUNT, AS_OLD_BYTES, AS_OLDEST_S, AS_GROWTH, AS_SUSPECT, AS_NGAUGES,
};

/* alloc_stack: labels pid, comm, instance, site, stack */
enum alloc_stack_gauge { AK_BYTES, AK_SAMPLED, AK_NGAUGES };

/* alert_sink: labels sink, type; what delivery did with the notifications */
enum alert_sink_counter {
	ASK_QUEUED, ASK_SENT, ASK_FAILED, ASK_DROPPED, ASK_RETRIES, ASK_NCOUNTERS,
};

unsigned int families__count(void);	/* FAM_MAX */
/* The declaration of id; NULL when id >= FAM_MAX. */
const struct family_desc *families__get(enum family_id id);
/* By store name ("syscall"); NULL when none. */
const struct family_desc *families__find(const char *name);

/*
 * Register family id in the store with max_series (0: the declared
 * default). Returns the store's family, or NULL with errno set.
 */
struct family *families__register(struct store *st, enum family_id id, unsigned int max_series);
/* The store's family for id, or NULL when no signal registered it. */
struct family *families__lookup(const struct store *st, enum family_id id);

/* Index of a declared label key in d->labels, or -1. */
int families__label_index(const struct family_desc *d, const char *key);

#endif
