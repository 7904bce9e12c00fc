/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* tracefs: where it is (mounting it when missing and allowed), event ids. */
#ifndef PROBE_LOADER_TRACEFS_H
#define PROBE_LOADER_TRACEFS_H

/* The tracefs root, or NULL. Tries to mount /sys/kernel/tracing once. */
const char *tracefs__root(void);
/* The numeric id of events/<sys>/<event>, or a negative errno. */
int tracefs__event_id(const char *sys, const char *event);
/* Whether tracefs__root() had to mount it (for --check). */
int tracefs__mounted_by_us(void);

#endif
