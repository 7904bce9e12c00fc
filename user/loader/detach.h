/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * detach: release many BPF links at once.
 *
 * Closing a link waits in the kernel for a grace period (tracepoint and
 * uprobe unregistration synchronize RCU/SRCU): 30 to 120 ms each on these
 * VMs, so the ~80 links of a --pid run took over 3 s to release one after
 * another. Released from several threads, the waits overlap. The links are
 * destroyed (bpf_link__destroy) and the slots set to NULL; NULL slots are
 * skipped. Falls back to one by one if no thread can be started.
 */
#ifndef PROBE_LOADER_DETACH_H
#define PROBE_LOADER_DETACH_H

#include <stddef.h>

struct bpf_link;
struct bpf_object_skeleton;

void detach__links(struct bpf_link **v, size_t n);
/* Link fds (loader/uprobe_multi.h): closed concurrently, slots set to -1; -1 slots skipped. */
void detach__fds(int *v, size_t n);
/* Both kinds at once, so their waits overlap too. */
void detach__all(struct bpf_link **links, size_t nl, int *fds, size_t nf);
/* Every program link a skeleton holds (what bpf_object__detach_skeleton does, concurrently). */
void detach__skeleton(struct bpf_object_skeleton *s);
/* Run fn(arg[i]) for every i concurrently, and wait for all of them. */
void detach__run(void (*fn)(void *), void **arg, size_t n);

#endif
