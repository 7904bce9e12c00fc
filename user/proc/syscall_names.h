/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * syscall_names: syscall number -> name for the running machine's ABI,
 * from libaudit's per-architecture tables (the kernel does not export the
 * numbering). Unknown numbers print as "syscall_<nr>".
 */
#ifndef PROBE_PROC_SYSCALL_NAMES_H
#define PROBE_PROC_SYSCALL_NAMES_H

const char *syscall_names__get(unsigned int nr);
/* Number for a name, or -1 (tests and config use it). */
int syscall_names__nr(const char *name);

#endif
