/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * http_floor: attaches http_floor.bpf.c's empty programs (the tracepoints
 * of the socket capture), prints "ready", and holds them until SIGINT or
 * SIGTERM. bench_http.py runs it as the floor row.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "http_floor.skel.h"

int main(void)
{
	struct http_floor_bpf *skel;
	int sig, ret = 1;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	skel = http_floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "http_floor: load: %s\n", strerror(errno));
		return 1;
	}
	if (http_floor_bpf__attach(skel)) {
		fprintf(stderr, "http_floor: attach: %s\n", strerror(errno));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	ret = 0;
out:
	http_floor_bpf__destroy(skel);
	return ret;
}
