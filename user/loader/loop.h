/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loop: the one event-loop thread. epoll over ring-buffer fds and any fd a
 * signal registers (pidfds, ...), a signalfd for SIGINT/SIGTERM/SIGHUP, and
 * a fixed poll tick. BPF programs submit most records without a wakeup, so
 * every tick drains every ring buffer whether or not epoll saw it readable.
 */
#ifndef PROBE_LOADER_LOOP_H
#define PROBE_LOADER_LOOP_H

#include <stdint.h>

struct loop;
struct ring_buffer;

typedef void (*loop_fd_fn)(int fd, void *arg);
/* Called every tick with CLOCK_MONOTONIC now; return non-zero to stop. */
typedef int (*loop_tick_fn)(uint64_t now_ns, void *arg);

struct loop *loop__new(uint64_t tick_ns);
/* SIGINT/SIGTERM/SIGHUP stay blocked: it is freed on the way out. */
void loop__free(struct loop *l);

/* The loop drains rb; the caller keeps ownership of it. */
int loop__add_ringbuf(struct loop *l, struct ring_buffer *rb);
/*
 * The same, and fn(arg) after each drain of rb: for a reader that holds
 * records back to put several rings' records in order.
 */
typedef void (*loop_drained_fn)(void *arg);
int loop__add_ringbuf_then(struct loop *l, struct ring_buffer *rb, loop_drained_fn fn,
			   void *arg);
int loop__add_fd(struct loop *l, int fd, loop_fd_fn fn, void *arg);
int loop__del_fd(struct loop *l, int fd);

/*
 * Run until a termination signal, loop__stop(), or tick returning non-zero.
 * Returns 0, or a negative errno on an epoll failure. The signal that ended
 * it (or 0) is in loop__signal().
 */
int loop__run(struct loop *l, loop_tick_fn tick, void *arg);
void loop__stop(struct loop *l);
int loop__signal(const struct loop *l);
/* Drain every ring buffer now (e.g. before a final summary). */
void loop__drain(struct loop *l);

uint64_t loop__now_ns(void);

#endif
