/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * mem_stacks: the memory-growth profile of one process instance (tier 2):
 * stack samples, each weighted by the bytes of growth it stands for,
 * unwound (proc/stack_unwind.h), aggregated by (kind, stack) and
 * symbolized once per distinct stack while the process is alive.
 *
 * Bounded: MEM_STACKS_MAX distinct stacks per process; later new stacks
 * are added to one "[other stacks]" entry, so no byte is dropped.
 *
 * Ownership: the caller frees what mem_stacks__new returns; the
 * symbolizer passed in stays the caller's.
 */
#ifndef PROBE_SIGNALS_MEM_STACKS_H
#define PROBE_SIGNALS_MEM_STACKS_H

#include <stdint.h>

#define MEM_STACKS_MAX		64
#define MEM_STACKS_FRAMES	16	/* frames kept in a stack's label */

struct mem_stacks;
struct probe_mem_sample;
struct symbolizer;
struct family;

/* start_ticks: the process start time in clock ticks (/proc/PID/stat field 22). */
struct mem_stacks *mem_stacks__new(int pid, uint64_t start_ticks);
void mem_stacks__free(struct mem_stacks *m);

/*
 * Unwind and count one sample of this process. Returns 0, or -ESRCH when
 * the process is gone before its modules could be read (the sample is
 * then not counted: the caller counts it lost).
 */
int mem_stacks__add(struct mem_stacks *m, struct symbolizer *sym,
		    const struct probe_mem_sample *r, uint64_t now_ns);

/*
 * Write the bytes and samples added since the last flush to f, one series
 * per stack labelled {pid, start, comm, kind, stack} and the process's
 * ATTRIB_NLABELS attribution labels `attr` (NULL: empty).
 */
void mem_stacks__flush(struct mem_stacks *m, struct family *f, const char *comm,
		       const struct label *attr, uint64_t now_ns);

/* Bytes and samples added since creation. */
uint64_t mem_stacks__bytes(const struct mem_stacks *m);
uint64_t mem_stacks__samples(const struct mem_stacks *m);

const char *mem_stacks__kind_name(unsigned int kind);

#endif
