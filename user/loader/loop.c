/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <bpf/libbpf.h>

#include "loader/loop.h"

#define LOOP_MAX_RB	16
#define LOOP_MAX_FDS	128

struct loop_fd {
	int fd;
	loop_fd_fn fn;
	void *arg;
};

struct loop {
	int epfd;
	int sigfd;
	uint64_t tick_ns;
	int stop;
	int signo;
	struct ring_buffer *rbs[LOOP_MAX_RB];
	loop_drained_fn drained[LOOP_MAX_RB];	/* after each consume of rbs[i], or NULL */
	void *drained_arg[LOOP_MAX_RB];
	unsigned int nrb;
	struct loop_fd fds[LOOP_MAX_FDS];
	unsigned int nfds;
	sigset_t oldmask;
};

/* epoll data tags: fds[] index, or these */
#define TAG_SIGNAL	(~0ULL)
#define TAG_RB		(1ULL << 32)

uint64_t loop__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct loop *loop__new(uint64_t tick_ns)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_SIGNAL };
	struct loop *l = calloc(1, sizeof(*l));
	sigset_t mask;
	int err;

	if (!l)
		return NULL;
	l->tick_ns = tick_ns;
	l->sigfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_free;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &l->oldmask))
		goto err_close_ep;
	l->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sigfd < 0)
		goto err_restore;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd, &ev))
		goto err_close_sig;
	return l;

err_close_sig:
	err = errno;
	close(l->sigfd);
	errno = err;
err_restore:
	err = errno;
	sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
	errno = err;
err_close_ep:
	err = errno;
	close(l->epfd);
	errno = err;
err_free:
	err = errno;
	free(l);
	errno = err;
	return NULL;
}

void loop__free(struct loop *l)
{
	if (!l)
		return;
	close(l->sigfd);
	close(l->epfd);
	/*
	 * The stop signals stay blocked: the loop is freed on the way out, and
	 * a Ctrl-C that came during the teardown (the probe ends by itself when
	 * its targets exit) would otherwise take its default action here and
	 * end the probe by a signal instead of its exit status.
	 */
	free(l);
}

int loop__add_ringbuf_then(struct loop *l, struct ring_buffer *rb, loop_drained_fn fn,
			   void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (l->nrb == LOOP_MAX_RB)
		return -ENOSPC;
	ev.data.u64 = TAG_RB | l->nrb;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev))
		return -errno;
	l->rbs[l->nrb] = rb;
	l->drained[l->nrb] = fn;
	l->drained_arg[l->nrb] = arg;
	l->nrb++;
	return 0;
}

int loop__add_ringbuf(struct loop *l, struct ring_buffer *rb)
{
	return loop__add_ringbuf_then(l, rb, NULL, NULL);
}

static void consume(struct loop *l, unsigned int i)
{
	ring_buffer__consume(l->rbs[i]);
	if (l->drained[i])
		l->drained[i](l->drained_arg[i]);
}

int loop__add_fd(struct loop *l, int fd, loop_fd_fn fn, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int i;

	for (i = 0; i < l->nfds && l->fds[i].fd >= 0; i++)
		;
	if (i == LOOP_MAX_FDS)
		return -ENOSPC;
	ev.data.u64 = i;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	l->fds[i] = (struct loop_fd){ fd, fn, arg };
	if (i == l->nfds)
		l->nfds++;
	return 0;
}

int loop__del_fd(struct loop *l, int fd)
{
	unsigned int i;

	for (i = 0; i < l->nfds; i++)
		if (l->fds[i].fd == fd) {
			l->fds[i].fd = -1;
			return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) ? -errno : 0;
		}
	return -ENOENT;
}

void loop__stop(struct loop *l)
{
	l->stop = 1;
}

int loop__signal(const struct loop *l)
{
	return l->signo;
}

void loop__drain(struct loop *l)
{
	unsigned int i;

	for (i = 0; i < l->nrb; i++)
		consume(l, i);
}

static void read_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == sizeof(si)) {
		/* SIGHUP is reserved for config reload; until then it is ignored. */
		if (si.ssi_signo == SIGHUP)
			continue;
		l->signo = (int)si.ssi_signo;
		l->stop = 1;
	}
}

int loop__run(struct loop *l, loop_tick_fn tick, void *arg)
{
	struct epoll_event evs[32];
	uint64_t next = loop__now_ns() + l->tick_ns;

	while (!l->stop) {
		uint64_t now = loop__now_ns();
		int timeout = now >= next ? 0 : (int)((next - now + 999999) / 1000000);
		int n = epoll_wait(l->epfd, evs, 32, timeout), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_SIGNAL)
				read_signals(l);
			else if (tag & TAG_RB)
				consume(l, (unsigned int)(tag & 0xffff));
			else if (tag < l->nfds && l->fds[tag].fd >= 0)
				l->fds[tag].fn(l->fds[tag].fd, l->fds[tag].arg);
		}
		now = loop__now_ns();
		if (now >= next) {
			loop__drain(l);
			if (tick && tick(now, arg))
				break;
			next += l->tick_ns;
			if (next <= now)	/* we fell behind: do not spin to catch up */
				next = now + l->tick_ns;
		}
	}
	return 0;
}
