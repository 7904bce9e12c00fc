/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * probe: wiring. Parse, configure, probe the kernel, start the signals,
 * run the loop, print the summary, release everything.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "config.h"
#include "exitcodes.h"
#include "core/store.h"
#include "loader/bpflog.h"
#include "export/export.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signals.h"
#include "view/view.h"
#include "alert/alerting.h"
#include "proc/names.h"
#include "proc/peer_names.h"
#include "proc/attrib.h"

#define TICK_NS		100000000ULL	/* ring-buffer drain */
#define COLLECT_NS	1000000000ULL	/* map reads */
#define LIVE_SPAN_NS	60000000000ULL	/* the live view's window */

struct run {
	const struct cli *cli;
	const struct probe_config *cfg;
	struct probe_ctx *ctx;
	struct signals *sigs;
	struct store *store;
	struct exporter *exporter;
	uint64_t start, next_collect, next_render, interval_ns, end;
	const char *mode;
	struct alerting *alerting;
	int tty;
	int all_exited;
	unsigned int hide;	/* view sections left out */
};

/*
 * -v: how long each step of the exit takes, from the moment the loop
 * stopped (a signal, the end of -d, or every followed process gone).
 */
static uint64_t exit_t0;

static void exit_step(const struct cli *cli, const char *what)
{
	if (cli->verbose && exit_t0)
		fprintf(stderr, "probe: exit +%.1f ms: %s\n",
			(double)(loop__now_ns() - exit_t0) / 1e6, what);
}

/* SIGWINCH: the terminal changed size; the next tick redraws. */
static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

static void render(struct run *r, uint64_t now, int summary)
{
	struct view_opts o = {
		.summary = summary,
		.tty = r->tty,
		.top = r->cfg->top,
		.span_ns = LIVE_SPAN_NS,
		.rate_ns = r->interval_ns,
		.elapsed_ns = now - r->start,
		.hide = r->hide,
		.pid_mode = r->ctx->filter,
		.leaks = r->cfg->alloc.enabled == CFG_ON,
	};
	struct winsize ws;

	if (r->tty && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
		o.cols = ws.ws_col;
		o.rows = ws.ws_row;
	}

	view__render(stdout, r->store, now, &o, r->cli->json, r->mode,
		     summary ? "signals" : NULL, summary ? signals__json(r->sigs) : NULL);
}

static int on_tick(uint64_t now, void *arg)
{
	struct run *r = arg;

	if (now >= r->next_collect) {
		signals__collect(r->sigs, now);
		r->next_collect = now + COLLECT_NS;
		store__expire(r->store, now, store__span_ns(r->store));
		if (r->ctx->filter && r->ctx->targets_left <= 0) {
			fprintf(stderr, "probe: every followed process has exited\n");
			r->all_exited = 1;
			return 1;
		}
	}
	alerting__tick(r->alerting, r->store, now);
	if (r->end && now >= r->end)
		return 1;
	if (resized && r->tty) {
		resized = 0;
		r->next_render = now;
	}
	if (now >= r->next_render) {
		render(r, now, 0);
		r->next_render = now + r->interval_ns;
	}
	return 0;
}

static void print_features(FILE *out, const struct features *f)
{
	int i;

	fprintf(out, "%-14s %-10s %s\n", "HOOK", "AVAILABLE", "DETAIL");
	for (i = 0; i < FEAT_MAX; i++)
		fprintf(out, "%-14s %-10s %s\n", features__name(i), f->have[i] ? "yes" : "no",
			f->why[i]);
	fputc('\n', out);
}

static int check_report(const struct cli *cli, const struct features *f,
			const struct signals *s, unsigned int live)
{
	if (cli->json) {
		cJSON *o = cJSON_CreateObject(), *feats = cJSON_AddObjectToObject(o, "features");
		char *text;
		int i;

		for (i = 0; i < FEAT_MAX; i++) {
			cJSON *e = cJSON_AddObjectToObject(feats, features__name(i));

			cJSON_AddBoolToObject(e, "available", f->have[i]);
			cJSON_AddStringToObject(e, "detail", f->why[i]);
		}
		cJSON_AddItemToObject(o, "signals", signals__json(s));
		cJSON_AddNumberToObject(o, "live", live);
		text = cJSON_Print(o);
		if (text)
			puts(text);
		cJSON_free(text);
		cJSON_Delete(o);
	} else {
		print_features(stdout, f);
		signals__print(stdout, s);
		printf("\n%u signal(s) live%s\n", signals__live(s),
		       live ? "" : ": nothing to observe");
	}
	return live ? PROBE_EXIT_OK : PROBE_EXIT_UNAVAILABLE;
}

/* Signals other than proc (the shared filter) that are live. */
static unsigned int observing(const struct signals *s)
{
	unsigned int n = signals__live(s);

	return n ? n - 1 : 0;
}

int main(int argc, char **argv)
{
	/* start-up time is measured from here, for the exported figure */
	uint64_t t_main = loop__now_ns();
	struct timespec t_unix;
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	struct probe_ctx ctx = { .tracked_fd = -1 };
	struct store_opts so;
	struct probe_config cfg;
	struct features feat;
	struct run r = { 0 };
	struct cli cli;
	char err[512];
	int ret = PROBE_EXIT_FAIL, i;
	unsigned int live;

	clock_gettime(CLOCK_REALTIME, &t_unix);
	cli__parse(argc, argv, &cli, 0, err, sizeof(err));	/* exits on error */
	if (cli.print_config) {
		fputs(config__default_json, stdout);
		return PROBE_EXIT_OK;
	}
	if (config__load(&cfg, cli.config_path, err, sizeof(err))) {
		fprintf(stderr, "probe: config: %s\n", err);
		return PROBE_EXIT_CONFIG;
	}
	if (cli.listen)
		snprintf(cfg.export.listen, sizeof(cfg.export.listen), "%s", cli.listen);
	if (cli.show || cli.hide) {
		unsigned int mask;
		char bad[40];

		if (view__parse_sections(cli.show ? cli.show : cli.hide, &mask, bad, sizeof(bad))) {
			fprintf(stderr, "probe: --%s: unknown section '%s' (http, db, conn, mem, alloc, "
				"syscalls, probe)\n", cli.show ? "show" : "hide", bad);
			return PROBE_EXIT_USAGE;
		}
		r.hide = cli.show ? ~mask : mask;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "probe: needs root (CAP_BPF and CAP_PERFMON) to load BPF programs\n");
		return PROBE_EXIT_NOPERM;
	}
	for (i = 0; i < (int)cli.npids; i++)
		if (!names__alive(cli.pids[i])) {
			fprintf(stderr, "probe: --pid %d: no such process\n", cli.pids[i]);
			return PROBE_EXIT_NOPID;
		}
	bpflog__init(cli.verbose);	/* load failures say why; -v prints libbpf */
	if (cli.leaks)
		cfg.alloc.enabled = CFG_ON;
	setrlimit(RLIMIT_MEMLOCK, &unlimited);	/* pre-5.11 kernels charge maps here */

	/*
	 * The loop blocks SIGINT, SIGTERM and SIGHUP to read them from a
	 * signalfd: it comes before any thread is started (the feature probes',
	 * the pod-list refresher's), so that every thread inherits the mask and
	 * none can take a stop signal's default action and kill the process.
	 */
	ctx.loop = loop__new(TICK_NS);
	if (!ctx.loop) {
		fprintf(stderr, "probe: start-up: %s\n", strerror(errno));
		return PROBE_EXIT_FAIL;
	}
	features__probe(&feat);
	if (!feat.have[FEAT_BTF]) {
		fprintf(stderr, "probe: %s; CO-RE programs cannot load\n", feat.why[FEAT_BTF]);
		if (!cli.check) {
			loop__free(ctx.loop);
			return PROBE_EXIT_UNAVAILABLE;
		}
	}
	if (!feat.have[FEAT_TRACEFS] && !cli.check) {
		fprintf(stderr, "probe: %s (try: mount -t tracefs nodev /sys/kernel/tracing)\n",
			feat.why[FEAT_TRACEFS]);
		loop__free(ctx.loop);
		return PROBE_EXIT_UNAVAILABLE;
	}

	so.slot_ns = (uint64_t)cfg.store.slot_s * 1000000000ULL;
	so.nslots = cfg.store.slots;
	r.store = store__new(&so);
	ctx.names = names__new(4096);
	ctx.peers = peer_names__new(PEER_NAMES_CAP);
	if (!cli.check) {
		struct attrib_opts ao = { cfg.attribution.k8s, cfg.attribution.k8s_refresh_s,
					  cfg.attribution.k8s_timeout_ms };

		ctx.attrib = attrib__new(&ao);
		if (!ctx.attrib) {
			fprintf(stderr, "probe: start-up: %s\n", strerror(errno));
			goto cleanup;
		}
	}
	if (!r.store || !ctx.names) {
		fprintf(stderr, "probe: start-up: %s\n", strerror(errno));
		goto cleanup;
	}
	ctx.cfg = &cfg;
	ctx.feat = &feat;
	ctx.store = r.store;
	ctx.filter = cli.npids > 0;
	ctx.pids = cli.pids;
	ctx.npids = cli.npids;
	ctx.self_pid = getpid();
	ctx.check_only = cli.check;
	ctx.verbose = cli.verbose;

	r.sigs = signals__start(&ctx);
	if (!r.sigs) {
		fprintf(stderr, "probe: start-up: out of memory\n");
		goto cleanup;
	}
	live = observing(r.sigs);
	if (cli.check) {
		ret = check_report(&cli, &feat, r.sigs, live);
		fflush(stdout);	/* the report before the detaches, which take a while */
		goto cleanup;
	}
	if (!live) {
		signals__print(stderr, r.sigs);
		fprintf(stderr, "probe: no signal is live; see the reasons above or run --check\n");
		ret = PROBE_EXIT_UNAVAILABLE;
		goto cleanup;
	}

	if (alerting__start(&r.alerting, &cfg, &cli, stdout, err, sizeof(err))) {
		fprintf(stderr, "probe: %s\n", err);
		ret = PROBE_EXIT_USAGE;
		goto cleanup;
	}
	r.cli = &cli;
	r.cfg = &cfg;
	r.ctx = &ctx;
	r.tty = isatty(STDOUT_FILENO) && !cli.json;
	if (r.tty) {
		struct sigaction sa = { .sa_handler = on_winch };

		sigaction(SIGWINCH, &sa, NULL);
	}
	r.mode = ctx.filter ? "--pid" : "host-wide";
	r.interval_ns = (uint64_t)((cli.interval_s ? cli.interval_s : cfg.interval_s) * 1e9);
	r.start = loop__now_ns();
	signals__ready(r.sigs, r.start);
	r.next_collect = r.start + COLLECT_NS;
	r.next_render = r.start + r.interval_ns;
	r.end = cli.duration_s ? r.start + (uint64_t)(cli.duration_s * 1e9) : 0;
	{
		struct exporter_info xi = {
			.start_unix_ns = (uint64_t)t_unix.tv_sec * 1000000000ULL +
					 (uint64_t)t_unix.tv_nsec,
			.startup_s = (double)(loop__now_ns() - t_main) / 1e9,
			.version = "0.1",
		};

		r.exporter = exporter__new(&cfg, r.store, ctx.loop, &xi, err, sizeof(err));
		if (!r.exporter) {
			fprintf(stderr, "probe: config: %s\n", err);
			ret = PROBE_EXIT_CONFIG;
			goto cleanup;
		}
	}
	if (cli.verbose)	/* the table is --check's; a start says one line */
		signals__print(stderr, r.sigs);
	fprintf(stderr, "probe: %s\n", exporter__describe(r.exporter));
	fprintf(stderr, "probe: ready, %u signal(s) live, %s\n", live, r.mode);

	if (loop__run(ctx.loop, on_tick, &r)) {
		fprintf(stderr, "probe: event loop: %s\n", strerror(errno));
		goto cleanup;
	}
	exit_t0 = loop__now_ns();
	exit_step(&cli, loop__signal(ctx.loop) ? "stop signal received" : "run ended");
	loop__drain(ctx.loop);
	signals__collect(r.sigs, loop__now_ns());
	if (r.tty)
		fputc('\n', stdout);	/* after a ^C the terminal echoed, start afresh */
	render(&r, loop__now_ns(), 1);
	attrib__print(ctx.attrib, stderr);
	fflush(stdout);	/* the summary is out before the teardown, which waits on the kernel */
	exit_step(&cli, "summary printed");
	ret = PROBE_EXIT_OK;

cleanup:
	alerting__stop(r.alerting, cli.json && ret == PROBE_EXIT_OK);
	exit_step(&cli, "alerts stopped");
	exporter__free(r.exporter);	/* its readers stop before the store goes */
	exit_step(&cli, "exporter stopped");
	signals__stop(r.sigs);
	exit_step(&cli, "every signal stopped");
	loop__free(ctx.loop);
	names__free(ctx.names);
	peer_names__free(ctx.peers);
	attrib__free(ctx.attrib);
	store__free(r.store);
	exit_step(&cli, "memory freed, exiting");
	return ret;
}
