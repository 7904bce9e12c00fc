/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * hook_floor empty|clock PID: attaches hook_floor.bpf.c's pair of programs
 * (empty bodies, or a clock read at each end for PID), prints "ready",
 * and holds them until SIGINT or SIGTERM; then prints what it timed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "hook_floor.skel.h"

int main(int argc, char **argv)
{
	struct hook_floor_bpf *skel;
	struct bpf_program *enter, *exit_;
	struct bpf_link *l1 = NULL, *l2 = NULL;
	int clock, sig, ret = 1;
	sigset_t set;

	if (argc != 3 || (strcmp(argv[1], "empty") && strcmp(argv[1], "clock"))) {
		fprintf(stderr, "usage: hook_floor empty|clock PID\n");
		return 2;
	}
	clock = !strcmp(argv[1], "clock");
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	skel = hook_floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "hook_floor: open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->target_tgid = (__u32)atoi(argv[2]);
	enter = clock ? skel->progs.floor_enter_clock : skel->progs.floor_enter_empty;
	exit_ = clock ? skel->progs.floor_exit_clock : skel->progs.floor_exit_empty;
	bpf_program__set_autoload(clock ? skel->progs.floor_enter_empty :
				  skel->progs.floor_enter_clock, false);
	bpf_program__set_autoload(clock ? skel->progs.floor_exit_empty :
				  skel->progs.floor_exit_clock, false);
	if (hook_floor_bpf__load(skel)) {
		fprintf(stderr, "hook_floor: load: %s\n", strerror(errno));
		goto out;
	}
	l1 = bpf_program__attach(enter);
	l2 = l1 ? bpf_program__attach(exit_) : NULL;
	if (!l2) {
		fprintf(stderr, "hook_floor: attach: %s\n", strerror(errno));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	if (clock)
		printf("timed %llu calls, mean %.0f ns\n", (unsigned long long)skel->bss->calls,
		       skel->bss->calls ? (double)skel->bss->total_ns / skel->bss->calls : 0.0);
	ret = 0;
out:
	bpf_link__destroy(l2);
	bpf_link__destroy(l1);
	hook_floor_bpf__destroy(skel);
	return ret;
}
