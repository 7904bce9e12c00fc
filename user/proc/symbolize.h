/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * symbolize: a user-space address in a live process -> module + offset,
 * function + offset, and file:line where debug information exists.
 *
 * Modules are found through /proc/PID/maps and opened through
 * /proc/PID/root/<path> (so processes in other mount namespaces resolve
 * against their own files); separate debug info is looked up by build-id.
 * Per-process state is cached per (pid, start time), so a reused pid never
 * inherits its predecessor's mappings; per-module ELF/DWARF state is cached
 * per build-id (or path + inode when a module has none) and shared between
 * processes. Both caches are bounded.
 *
 * Partial knowledge is never dropped: an address in a module without symbols
 * comes back with module and module_offset filled and func empty, and the
 * caller prints it as module+offset. An address in no mapping at all is
 * -ENOENT with module set to "[unknown]" and module_offset = addr.
 *
 * Not thread-safe: one symbolizer per thread.
 */
#ifndef PROBE_PROC_SYMBOLIZE_H
#define PROBE_PROC_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct sym_frame {
	uint64_t addr;
	char module[256];	/* path of the mapped file, or "[vdso]", "[unknown]" */
	uint64_t module_offset;	/* addr relative to the module's load base (ELF vaddr for ET_DYN) */
	char func[256];		/* as in the symbol table (C++ stays mangled); empty when unknown */
	uint64_t func_offset;
	char file[256];		/* source file, empty when unknown */
	int line;		/* 0 when unknown */
};

struct symbolizer;

struct symbolizer *symbolizer__new(void);
void symbolizer__free(struct symbolizer *s);

/*
 * Resolve addr in process pid into *out (always fully initialised).
 * Returns 0 when at least the module is known (func may still be empty),
 * or -errno: -ESRCH when the process is gone, -ENOENT when addr lies in no
 * mapping, -EINVAL on bad arguments.
 */
int symbolizer__resolve(struct symbolizer *s, int pid, uint64_t addr, struct sym_frame *out);

/* Flags for symbolizer__resolve_ex(). */
#define SYM_RETADDR	1U	/* addr is a return address: look up addr - 1, the call */

/*
 * The same for a known process instance: start_time is the process's start
 * time in clock ticks (field 22 of /proc/PID/stat, see sym_start_time()).
 * When pid now names another process, the mappings cached for the one that
 * started at start_time are used (it may have exited), or -ESRCH when none
 * were cached: an address is never resolved against the wrong process.
 * start_time 0 means "whatever process has this pid now".
 */
int symbolizer__resolve_ex(struct symbolizer *s, int pid, uint64_t start_time, uint64_t addr,
			   unsigned int flags, struct sym_frame *out);

/*
 * Read and cache pid's mappings now (start_time as above), so addresses of
 * this image still resolve after the process execs or exits. 0 or -errno.
 */
int symbolizer__prepare(struct symbolizer *s, int pid, uint64_t start_time);

/* Drop everything cached for pid (call when the process exits or execs). */
void symbolizer__forget(struct symbolizer *s, int pid);

/* Start time of pid in clock ticks since boot; 0 when it does not exist. */
uint64_t sym_start_time(int pid);

/*
 * One line for a frame: "func+0x1a (file.c:42) [module]" or
 * "module+0x1234" when the function is unknown. Returns snprintf's count.
 */
int sym_frame__format(const struct sym_frame *f, char *buf, size_t len);

#endif
