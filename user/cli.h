/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* cli: the command line (argp), parsed into plain values. */
#ifndef PROBE_CLI_H
#define PROBE_CLI_H

#include <stddef.h>

#define CLI_MAX_PIDS 64
#define CLI_MAX_PID 4194304	/* PID_MAX_LIMIT */
#define CLI_MAX_SINKS 4		/* per --alertmanager / --webhook */

struct cli {
	int check;
	int json;
	int print_config;
	int verbose;
	int leaks;		/* --leaks: allocator uprobes on --pid targets from the start */
	const char *show, *hide;	/* view sections, "http,db,..." (checked by the view) */
	double duration_s;	/* 0: until SIGINT/SIGTERM */
	double interval_s;	/* 0: from the config */
	const char *config_path;
	const char *listen;	/* --listen ADDR:PORT; NULL: from the config */
	unsigned int npids;
	int pids[CLI_MAX_PIDS];
	/* alert sinks added on the command line (URLs; secrets, never printed) */
	unsigned int nalertmanager, nwebhook;
	const char *alertmanager[CLI_MAX_SINKS];
	const char *webhook[CLI_MAX_SINKS];
};

/*
 * Parse argv. quiet = 0: argp prints errors and --help and exits as usual
 * (status PROBE_EXIT_USAGE on errors). quiet = 1 (tests): nothing is
 * printed or exited; returns 0 or a positive error code, with a message in err.
 */
int cli__parse(int argc, char **argv, struct cli *out, int quiet, char *err, size_t errlen);

/* "12,34" -> pids; 0 or -EINVAL with a message. */
int cli__parse_pids(const char *s, struct cli *out, char *err, size_t errlen);
/* "1.5" -> 1.5 seconds within [min, max]; 0 or -EINVAL. */
int cli__parse_secs(const char *s, double min, double max, double *out);

#endif
