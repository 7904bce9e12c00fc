/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * names: pid -> command name, cached and bounded. Records carry comm from
 * the kernel, so a name learned from a record wins over /proc (the process
 * may be gone by the time /proc is read). names__forget() on exit keeps a
 * reused pid from inheriting its predecessor's name.
 */
#ifndef PROBE_PROC_NAMES_H
#define PROBE_PROC_NAMES_H

struct names;

struct names *names__new(unsigned int cap);
void names__free(struct names *n);
void names__set(struct names *n, int pid, const char *comm);
/* The name, from the cache or /proc/PID/comm; "?" when unknown. Valid until the next call. */
const char *names__get(struct names *n, int pid);
void names__forget(struct names *n, int pid);
/* Whether pid exists now. */
int names__alive(int pid);
/* Whether pid is a process (a thread group leader), not another thread of one. */
int names__is_process(int pid);

#endif
