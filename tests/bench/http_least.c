/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * http_least: attaches http_least.bpf.c (the least an HTTP timer on the
 * socket capture's tracepoints does), drains its per-CPU rings every
 * 100 ms as the probe does, prints "ready", and at SIGINT or SIGTERM
 * prints "records: N" (requests timed). bench_http.py runs it as the
 * "least" row.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "http_least.skel.h"

static unsigned long long records;

static int on_record(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	records++;
	return 0;
}

int main(void)
{
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	struct ring_buffer *rb = NULL;
	struct http_least_bpf *skel;
	int ncpu, i, fd, ret = 1;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);

	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		fprintf(stderr, "http_least: counting CPUs: %s\n", strerror(-ncpu));
		return 1;
	}
	skel = http_least_bpf__open();
	if (!skel) {
		fprintf(stderr, "http_least: open: %s\n", strerror(errno));
		return 1;
	}
	bpf_map__set_max_entries(skel->maps.rings, (__u32)ncpu);
	for (i = 0; i < ncpu; i++) {
		fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "least_ring", 0, 0, 1U << 22, NULL);
		if (fd < 0) {
			fprintf(stderr, "http_least: ring: %s\n", strerror(errno));
			goto out;
		}
		if (!i && bpf_map__set_inner_map_fd(skel->maps.rings, fd)) {
			fprintf(stderr, "http_least: inner map: %s\n", strerror(errno));
			goto out;
		}
		if (!rb)
			rb = ring_buffer__new(fd, on_record, NULL, NULL);
		else if (ring_buffer__add(rb, fd, on_record, NULL))
			rb = NULL;
		if (!rb) {
			fprintf(stderr, "http_least: ring reader: %s\n", strerror(errno));
			goto out;
		}
		if (!i && http_least_bpf__load(skel)) {
			fprintf(stderr, "http_least: load: %s\n", strerror(errno));
			goto out;
		}
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.rings), &i, &fd, BPF_ANY)) {
			fprintf(stderr, "http_least: ring %d: %s\n", i, strerror(errno));
			goto out;
		}
	}
	if (http_least_bpf__attach(skel)) {
		fprintf(stderr, "http_least: attach: %s\n", strerror(errno));
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	/* drained on a timer, as the probe does (its records ask for no wakeup) */
	while (sigtimedwait(&set, NULL, &tick) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			break;
		ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	printf("records: %llu\n", records);
	ret = 0;
out:
	ring_buffer__free(rb);
	http_least_bpf__destroy(skel);
	return ret;
}
