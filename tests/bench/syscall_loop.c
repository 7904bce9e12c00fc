/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * syscall_loop ITERS: waits for SIGUSR1 (so a probe can attach to its pid
 * first), then makes ITERS getppid() calls and prints ns_per_call=.
 * getppid is about the cheapest syscall there is, so this shows the
 * per-call cost of the hooks, not of the syscall.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 5000000, i;
	struct timespec a, b;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %d\n", getpid());
	fflush(stdout);
	if (sigwait(&set, &sig))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < iters; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns_per_call=%.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / iters);
	return 0;
}
