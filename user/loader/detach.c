/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
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

/* One thing to release: a libbpf link, or a bare link fd (loader/uprobe_multi.h). */
struct item {
	struct bpf_link *link;
	int fd;
};

static void release_one(void *p)
{
	struct item *it = p;

	if (it->link)
		bpf_link__destroy(it->link);
	else
		close(it->fd);
}

void detach__all(struct bpf_link **links, size_t nl, int *fds, size_t nf)
{
	struct item *items = calloc(nl + nf + 1, sizeof(*items));
	void **arg = calloc(nl + nf + 1, sizeof(*arg));
	size_t i, m = 0;

	if (items && arg) {
		for (i = 0; i < nl; i++)
			if (links[i])
				items[m++].link = links[i];
		for (i = 0; i < nf; i++)
			if (fds[i] >= 0)
				items[m++].fd = fds[i];
		for (i = 0; i < m; i++)
			arg[i] = &items[i];
		detach__run(release_one, arg, m);
	} else {
		/* no memory for the list: one by one */
		for (i = 0; i < nl; i++)
			bpf_link__destroy(links[i]);
		for (i = 0; i < nf; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	free(items);
	free(arg);
	for (i = 0; i < nl; i++)
		links[i] = NULL;
	for (i = 0; i < nf; i++)
		fds[i] = -1;
}

void detach__links(struct bpf_link **v, size_t n)
{
	detach__all(v, n, NULL, 0);
}

void detach__fds(int *v, size_t n)
{
	detach__all(NULL, 0, v, n);
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
