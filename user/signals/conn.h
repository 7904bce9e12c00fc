/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The store families the conn signal writes: names and the positions of
 * their counters and gauges, shared with the readers (user/out/view_conn.c).
 * All three carry the labels pid, comm, dest ("10.0.0.5:5432",
 * "[::1]:6379") and kind (from the port table, "other" when unnamed).
 */
#ifndef PROBE_SIGNALS_CONN_H
#define PROBE_SIGNALS_CONN_H

#define CONN_FAMILY_CONNECT	"tcp_connect"		/* histogram: connect duration, ok only */
#define CONN_FAMILY_ERRNO	"tcp_connect_errno"	/* + label errno; counter: connects */
#define CONN_FAMILY_CONN	"tcp_conn"		/* histogram: connection lifetime */

enum conn_connect_counter {
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

enum conn_conn_counter {
	KC_OPENS,		/* connects that established */
	KC_CLOSES,		/* released: closed by us, or died (reset, timeout) */
	KC_RESETS_IN,		/* RST received on an established connection */
	KC_RESETS_OUT,		/* RST sent on a connection of ours */
	KC_RETRANSMITS,		/* segments retransmitted, SYNs included */
	KC_ERRORS,		/* connections that ended with an error (sk_err) */
	KC_MAX,
};

/* Pool gauges: "at its ceiling" is active == active_highest. */
enum conn_conn_gauge {
	KG_ACTIVE,		/* established and not yet released */
	KG_ACTIVE_HIGHEST,	/* highest active seen since the probe started */
	KG_CONNECTING,		/* in SYN_SENT now: connects waiting */
	KG_CONNECTING_HIGHEST,
	KG_MAX,
};

#endif
