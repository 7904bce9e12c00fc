/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Exit statuses, from sysexits(3) so scripts can tell failures apart. */
#ifndef PROBE_EXITCODES_H
#define PROBE_EXITCODES_H

#define PROBE_EXIT_OK		0
#define PROBE_EXIT_FAIL		1	/* runtime failure after start */
#define PROBE_EXIT_USAGE	64	/* bad command line */
#define PROBE_EXIT_NOPID	66	/* a --pid target does not exist */
#define PROBE_EXIT_UNAVAILABLE	69	/* no BTF, no tracefs, or no signal could run */
#define PROBE_EXIT_NOPERM	77	/* not root (no CAP_BPF / CAP_PERFMON) */
#define PROBE_EXIT_CONFIG	78	/* bad configuration file */

#endif
