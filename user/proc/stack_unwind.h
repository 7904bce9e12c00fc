/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * stack_unwind: a user stack from a register snapshot and a copy of the
 * top of the stack, taken by a BPF program at some event in process pid.
 *
 * Frame pointers are not enough for memory growth: glibc's allocator uses
 * rbp as a general register, and the first write to a new heap page is
 * usually inside malloc, so a frame-pointer walk from there loses the
 * caller. This unwinds with the binaries' call-frame information
 * (.eh_frame / .debug_frame, through libdw), which every x86-64 binary
 * carries with or without frame pointers, reading saved registers and
 * return addresses from the copy only. When CFI yields nothing past the
 * first frame, it falls back to the frame-pointer chain within the copy.
 *
 * One unwinder per process instance: modules come from /proc/PID/maps
 * when it is made, and again (at most once a second) when a pc falls
 * outside every known module, e.g. after a dlopen. x86-64 only: on other
 * architectures unwinder__new fails with EOPNOTSUPP.
 *
 * Ownership: the caller frees what unwinder__new returns.
 */
#ifndef PROBE_PROC_STACK_UNWIND_H
#define PROBE_PROC_STACK_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#define UNWIND_MAX_FRAMES 32

struct unwind_regs {
	uint64_t ip, sp, bp, bx, r12, r13, r14, r15;
};

struct unwinder;

/* NULL + errno: ESRCH when pid is gone, EOPNOTSUPP off x86-64, ENOMEM. */
struct unwinder *unwinder__new(int pid);
void unwinder__free(struct unwinder *u);

/*
 * Unwind: stack holds len bytes copied from regs->sp upwards. Writes at
 * most max pcs, innermost first: pcs[0] is regs->ip, every later one a
 * return address (look up pc - 1 for its call site). Returns the count
 * (>= 1), or -EINVAL on bad arguments.
 */
int unwinder__unwind(struct unwinder *u, const struct unwind_regs *regs, const void *stack,
		     size_t len, uint64_t *pcs, unsigned int max, uint64_t now_ns);

/* Frame-pointer walk within the copy only (also the fallback above). */
int unwind__fp(const struct unwind_regs *regs, const void *stack, size_t len,
	       uint64_t *pcs, unsigned int max);

#endif
