/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <pthread.h>
#include <stdlib.h>
#include <bpf/libbpf.h>

#include "loader/detach.h"

#define DETACH_THREADS 32

struct job {
	void (*fn)(void *);
	void **arg;
	size_t n;
	size_t next;		/* claimed with __atomic_fetch_add */
};

static void *worker(void *p)
{
	struct job *j = p;
	size_t i;

	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n)
		j->fn(j->arg[i]);
	return NULL;
}

void detach__run(void (*fn)(void *), void **arg, size_t n)
{
	struct job j = { .fn = fn, .arg = arg, .n = n };
	pthread_t tid[DETACH_THREADS];
	size_t i, started = 0;

	for (i = 0; i < n && i < DETACH_THREADS; i++) {
		if (pthread_create(&tid[started], NULL, worker, &j))
			break;
		started++;
	}
	worker(&j);	/* this thread too; alone when none could start */
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

static void destroy_one(void *p)
{
	bpf_link__destroy(p);
}

void detach__links(struct bpf_link **v, size_t n)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++)
		if (v[i])
			v[m++] = v[i];
	detach__run(destroy_one, (void **)v, m);
	for (i = 0; i < n; i++)
		v[i] = NULL;
}

void detach__skeleton(struct bpf_object_skeleton *s)
{
	struct bpf_link *v[64];
	size_t n = 0;
	int i;

	if (!s)
		return;
	for (i = 0; i < s->prog_cnt; i++) {
		struct bpf_prog_skeleton *p = (void *)((char *)s->progs + (size_t)i * s->prog_skel_sz);

		if (!p->link || !*p->link)
			continue;
		if (n == sizeof(v) / sizeof(v[0]))
			detach__links(v, n), n = 0;
		v[n++] = *p->link;
		*p->link = NULL;
	}
	detach__links(v, n);
}
