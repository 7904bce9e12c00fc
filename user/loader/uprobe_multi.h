/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * uprobe_multi: one BPF link for many uprobe sites in one file.
 *
 * A classic uprobe is a perf event per site. Releasing one waits for RCU
 * grace periods under the kernel's event_mutex, one event after another:
 * the ~15 allocator probes of one traced process added ~1.2 s to the
 * probe's exit. A BPF_LINK_TYPE_UPROBE_MULTI link (Linux 6.6+) attaches
 * every site of a file at once, each with its own attach cookie, and its
 * release waits for one grace period however many sites it holds.
 *
 * Debian 12's libbpf 1.1.2 cannot create one (no
 * bpf_program__attach_uprobe_multi, no uprobe_multi in its bpf_link_create
 * options) and its linux-libc-dev 6.1 headers lack the attach type, so this
 * module issues BPF_LINK_CREATE itself with the kernel ABI spelled out
 * below. A link is a plain file descriptor: closing it detaches.
 *
 * A program attached this way must have been loaded with expected attach
 * type UPROBE_MULTI__ATTACH_TYPE (bpf_program__set_expected_attach_type
 * before load), and such a program can no longer be attached as a classic
 * uprobe: decide which way before loading, from uprobe_multi__probe().
 */
#ifndef PROBE_LOADER_UPROBE_MULTI_H
#define PROBE_LOADER_UPROBE_MULTI_H

#include <stddef.h>
#include <stdint.h>

/* enum bpf_attach_type's BPF_TRACE_UPROBE_MULTI (include/uapi/linux/bpf.h, Linux 6.6) */
#define UPROBE_MULTI__ATTACH_TYPE	48
/* link_create.uprobe_multi.flags: the sites are return probes (Linux 6.6) */
#define UPROBE_MULTI__RETURN		(1U << 0)

/*
 * Attach prog_fd at offsets[0..n) (file offsets in the ELF file at path,
 * as classic uprobes take them), cookies[i] for offsets[i] (cookies may be
 * NULL: all 0), only in process pid (its every thread), or with pid 0 in
 * every process that maps the file (a libc-wide probe would trap every
 * process on the host: only for what is meant to be host-wide), as return
 * probes when retprobe. Returns the link's fd (close it to detach) or
 * -errno: -EINVAL for bad arguments, the kernel's errno otherwise.
 */
int uprobe_multi__attach(int prog_fd, const char *path, const uint64_t *offsets,
			 const uint64_t *cookies, size_t n, int pid, int retprobe);

/*
 * Whether this kernel gives a working uprobe_multi link: a program of that
 * attach type loads, attaches to a function of this process with a pid
 * filter, and runs when another thread of the process calls it (Linux
 * 6.6-6.9 matched only the one thread whose id was given, which would miss
 * every allocation of a server's worker threads). 1 with a note in why, or
 * 0 with the reason. Costs one attach and detach (~tens of ms).
 */
int uprobe_multi__probe(char *why, size_t len);

#endif
