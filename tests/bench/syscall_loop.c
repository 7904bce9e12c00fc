/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * syscall_loop ITERS | syscall_loop SECSs: waits for SIGUSR1 (so a probe can
 * attach to its pid first), then makes ITERS getppid() calls, or calls it
 * for SECS seconds ("20s"), and prints ns_per_call=. getppid is about the
 * cheapest syscall there is, so this shows the per-call cost of the hooks,
 * not of the syscall. A timed run is for costs that vary over time (a
 * sampling duty cycle): it covers whole periods whatever the speed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *arg = argc > 1 ? argv[1] : "5000000";
	int timed = arg[0] && arg[strlen(arg) - 1] == 's';
	double start, end, limit = timed ? atof(arg) * 1e9 : 0;
	long iters = timed ? 0 : atol(arg), i = 0, j;
	sigset_t set;
	int sig;

	if ((!timed && iters <= 0) || (timed && limit <= 0)) {
		fprintf(stderr, "usage: syscall_loop ITERS | syscall_loop SECSs\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready %d\n", getpid());
	fflush(stdout);
	if (sigwait(&set, &sig))
		return 1;
	start = now_ns();
	if (timed) {
		/* the clock (vDSO, ~20 ns) read once per 4096 calls */
		do {
			for (j = 0; j < 4096; j++)
				syscall(SYS_getppid);
			i += 4096;
			end = now_ns();
		} while (end - start < limit);
	} else {
		for (i = 0; i < iters; i++)
			syscall(SYS_getppid);
		end = now_ns();
	}
	printf("ns_per_call=%.1f\n", (end - start) / i);
	return 0;
}
