/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <argp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exitcodes.h"

const char *argp_program_version = "probe 0.1";
const char *argp_program_bug_address = NULL;

static const char doc[] =
"probe: HTTP, database, memory and syscall signals from the kernel, for any "
"process, with no change to it.\n"
"\n"
"With no option it runs host-wide on its embedded defaults and refreshes a "
"summary every interval. With --pid it follows those processes, their threads "
"and their descendants (children forked later included) and shows a live "
"table of what they do.\n"
"\n"
"EXAMPLES:\n"
"  probe --check              which signals can run on this kernel, and why not\n"
"  probe --pid 1234           live view of one process and its children\n"
"  probe --pid 1234,5678 -d 30 --json > out.jsonl\n"
"                             30 s of two processes, as JSON lines\n"
"  probe --print-config > my.json; probe --config my.json\n"
"                             start from the defaults, change what you need\n"
"  probe --alertmanager http://127.0.0.1:9093\n"
"                             evaluate the alert rules, send to Alertmanager\n"
"\v"
"EXIT STATUS: 0 ok; 1 runtime failure; 64 bad usage; 66 a --pid does not "
"exist; 69 no BTF, no tracefs or no signal can run; 77 not root; 78 bad config.\n"
"Needs root (CAP_BPF and CAP_PERFMON). See README.md for the signals, their "
"hooks and their costs.";

enum { OPT_PRINT_CONFIG = 0x100, OPT_CHECK, OPT_LISTEN, OPT_ALERTMANAGER, OPT_WEBHOOK,
       OPT_LEAKS, OPT_SHOW, OPT_HIDE };

static const struct argp_option options[] = {
	{ "pid", 'p', "PID[,PID...]", 0,
	  "Follow only these processes, their threads and descendants", 0 },
	{ "duration", 'd', "SECS", 0, "Stop after SECS seconds and print a summary", 0 },
	{ "interval", 'i', "SECS", 0, "Refresh the live view every SECS seconds "
	  "(default: interval_s in the config, 2)", 0 },
	{ "json", 'j', NULL, 0, "Live output and summary as JSON lines", 0 },
	{ "config", 'c', "FILE", 0, "Load this JSON config over the embedded default", 0 },
	{ "print-config", OPT_PRINT_CONFIG, NULL, 0, "Print the embedded default config and exit", 0 },
	{ "check", OPT_CHECK, NULL, 0, "Probe the kernel, try every signal, print which are "
	  "live (and why not); exit 0 if at least one is", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf's messages and probe-site details to stderr", 0 },
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0, "Serve Prometheus /metrics here (default: "
	  "export.listen in the config, 127.0.0.1:9464; \"\" turns it off)", 0 },
	{ "alertmanager", OPT_ALERTMANAGER, "URL", 0, "Send alerts to this Alertmanager "
	  "(API v2; e.g. http://127.0.0.1:9093), besides the config's sinks", 0 },
	{ "webhook", OPT_WEBHOOK, "URL", 0, "POST alerts as JSON to this URL, besides the "
	  "config's sinks", 0 },
	{ "show", OPT_SHOW, "LIST", 0, "Only these view sections: http,tls,db,conn,mem,alloc,syscalls,probe", 0 },
	{ "hide", OPT_HIDE, "LIST", 0, "Leave these view sections out", 0 },
	{ "leaks", OPT_LEAKS, NULL, 0, "With --pid: trace the targets' allocator (uprobes on malloc and free) from the start, for outstanding bytes per call site; slows an allocation-heavy process (see README). Without it only a tier-1 leak suspect is traced, within budget", 0 },
	{ 0 },
};

struct parse_state {
	struct cli *cli;
	char *err;
	size_t errlen;
};

int cli__parse_secs(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli__parse_pids(const char *s, struct cli *out, char *err, size_t errlen)
{
	const char *p = s;

	if (!s || !*s) {
		snprintf(err, errlen, "--pid needs a list like 1234 or 1234,5678");
		return -EINVAL;
	}
	while (*p) {
		char *end;
		long v;
		unsigned int i;

		if (*p < '0' || *p > '9') {
			snprintf(err, errlen, "--pid: '%.32s' is not a process id", p);
			return -EINVAL;
		}
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || v < 1 || v > CLI_MAX_PID || (*end && *end != ',')) {
			snprintf(err, errlen, "--pid: '%.32s' is not a process id (1..%d)",
				 p, CLI_MAX_PID);
			return -EINVAL;
		}
		for (i = 0; i < out->npids && out->pids[i] != v; i++)
			;
		if (i == out->npids) {
			if (out->npids == CLI_MAX_PIDS) {
				snprintf(err, errlen, "--pid: at most %d processes", CLI_MAX_PIDS);
				return -EINVAL;
			}
			out->pids[out->npids++] = (int)v;
		}
		p = *end ? end + 1 : end;
		if (*end == ',' && !*p) {
			snprintf(err, errlen, "--pid: trailing comma");
			return -EINVAL;
		}
	}
	return 0;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct cli *c = ps->cli;

	switch (key) {
	case 'p':
		if (cli__parse_pids(arg, c, ps->err, ps->errlen))
			argp_error(state, "%s", ps->err);
		return ps->err[0] ? EINVAL : 0;
	case 'd':
		if (cli__parse_secs(arg, 0.1, 31 * 24 * 3600.0, &c->duration_s)) {
			snprintf(ps->err, ps->errlen, "--duration: '%s' is not a number of "
				 "seconds between 0.1 and 2678400", arg);
			argp_error(state, "%s", ps->err);
			return EINVAL;
		}
		return 0;
	case 'i':
		if (cli__parse_secs(arg, 0.1, 3600, &c->interval_s)) {
			snprintf(ps->err, ps->errlen, "--interval: '%s' is not a number of "
				 "seconds between 0.1 and 3600", arg);
			argp_error(state, "%s", ps->err);
			return EINVAL;
		}
		return 0;
	case 'j':
		c->json = 1;
		return 0;
	case 'c':
		c->config_path = arg;
		return 0;
	case OPT_PRINT_CONFIG:
		c->print_config = 1;
		return 0;
	case OPT_CHECK:
		c->check = 1;
		return 0;
	case OPT_LEAKS:
		c->leaks = 1;
		return 0;
	case OPT_SHOW:
		c->show = arg;
		return 0;
	case OPT_HIDE:
		c->hide = arg;
		return 0;
	case 'v':
		c->verbose = 1;
		return 0;
	case OPT_LISTEN:
		/* checked where it is bound, so the message names the address */
		c->listen = arg;
		return 0;
	case OPT_ALERTMANAGER:
	case OPT_WEBHOOK: {
		int am = key == OPT_ALERTMANAGER;
		unsigned int *n = am ? &c->nalertmanager : &c->nwebhook;

		/* the URL itself is never echoed: it may carry a token */
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)) {
			snprintf(ps->err, ps->errlen, "--%s: expected an http:// or https:// URL",
				 am ? "alertmanager" : "webhook");
			argp_error(state, "%s", ps->err);
			return EINVAL;
		}
		if (*n == CLI_MAX_SINKS) {
			snprintf(ps->err, ps->errlen, "--%s: at most %d", am ? "alertmanager" : "webhook",
				 CLI_MAX_SINKS);
			argp_error(state, "%s", ps->err);
			return EINVAL;
		}
		(am ? c->alertmanager : c->webhook)[(*n)++] = arg;
		return 0;
	}
	case ARGP_KEY_ARG:
		snprintf(ps->err, ps->errlen, "unexpected argument '%s'", arg);
		argp_error(state, "%s", ps->err);
		return EINVAL;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

int cli__parse(int argc, char **argv, struct cli *out, int quiet, char *err, size_t errlen)
{
	static const struct argp argp = { options, parse_opt, NULL, doc, NULL, NULL, NULL };
	struct parse_state ps = { out, err, errlen };
	int ret;

	memset(out, 0, sizeof(*out));
	err[0] = 0;
	argp_err_exit_status = PROBE_EXIT_USAGE;
	ret = argp_parse(&argp, argc, argv, quiet ? ARGP_NO_EXIT | ARGP_NO_ERRS : 0, NULL, &ps);
	if (ret && !err[0])
		snprintf(err, errlen, "invalid command line (%s)", strerror(ret));
	return ret;
}
