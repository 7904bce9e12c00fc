/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * stack_unwind: CFI unwinding of a copied user stack with libdwfl.
 *
 * libdwfl unwinds "threads" through callbacks: the initial registers come
 * from the snapshot, memory reads are served from the copy (a read outside
 * it ends the walk), and the modules are those of /proc/PID/maps, opened
 * through /proc/PID/root so a process in another mount namespace resolves
 * against its own files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdwfl.h>

#include "proc/stack_unwind.h"

#define REFRESH_NS 1000000000ULL	/* re-read maps at most this often */

struct unwinder {
	Dwfl *dwfl;
	int pid;
	uint64_t refreshed_ns;
	/* the sample being unwound, for the callbacks */
	const struct unwind_regs *regs;
	const unsigned char *stack;
	size_t len;
};

/* find_elf has no user argument; the process being reported is set here. */
static int report_pid;

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	char path[PATH_MAX + 32];
	int fd;

	if (name[0] == '/' && report_pid > 0 &&
	    (size_t)snprintf(path, sizeof(path), "/proc/%d/root%s", report_pid, name) <
	    sizeof(path)) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			*file_name = strdup(path);
			return fd;
		}
	}
	return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

static char *debuginfo_path;

static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct unwinder *u = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = u;
	return u->pid;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct unwinder *u = arg;
	uint64_t sp = u->regs->sp;

	(void)dwfl;
	if (addr < sp || addr - sp > u->len || u->len - (addr - sp) < sizeof(*result))
		return false;
	memcpy(result, u->stack + (addr - sp), sizeof(*result));
	return true;
}

/* DWARF register numbers on x86-64: rbx 3, rbp 6, rsp 7, r12..r15 12..15 */
static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct unwinder *u = arg;
	const struct unwind_regs *r = u->regs;
	Dwarf_Word bx = r->bx, bpsp[2] = { r->bp, r->sp };
	Dwarf_Word hi[4] = { r->r12, r->r13, r->r14, r->r15 };

	if (!dwfl_thread_state_registers(thread, 3, 1, &bx) ||
	    !dwfl_thread_state_registers(thread, 6, 2, bpsp) ||
	    !dwfl_thread_state_registers(thread, 12, 4, hi))
		return false;
	dwfl_thread_state_register_pc(thread, r->ip);
	return true;
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = next_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

static Dwfl *dwfl_for(struct unwinder *u)
{
	Dwfl *d = dwfl_begin(&dwfl_cbs);
	int err;

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	report_pid = u->pid;
	dwfl_report_begin(d);
	err = dwfl_linux_proc_report(d, u->pid);
	if (dwfl_report_end(d, NULL, NULL) || err) {
		dwfl_end(d);
		errno = err > 0 ? err : ESRCH;
		return NULL;
	}
	if (!dwfl_attach_state(d, NULL, u->pid, &thread_cbs, u)) {
		dwfl_end(d);
		errno = ESRCH;		/* no module with an ELF to tell the machine */
		return NULL;
	}
	return d;
}

struct unwinder *unwinder__new(int pid)
{
#if defined(__x86_64__)
	struct unwinder *u;

	if (pid <= 0) {
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->pid = pid;
	u->dwfl = dwfl_for(u);
	if (!u->dwfl) {
		int err = errno;

		free(u);
		errno = err;
		return NULL;
	}
	return u;
#else
	(void)pid;
	errno = EOPNOTSUPP;
	return NULL;
#endif
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	dwfl_end(u->dwfl);
	free(u);
}

int unwind__fp(const struct unwind_regs *regs, const void *stack, size_t len,
	       uint64_t *pcs, unsigned int max)
{
	const unsigned char *s = stack;
	uint64_t bp, frame[2];
	unsigned int n = 0;

	if (!regs || (!stack && len) || !pcs || !max)
		return -EINVAL;
	bp = regs->bp;
	pcs[n++] = regs->ip;
	/* Each frame: [bp] = caller's bp, [bp + 8] = return address; bp only grows. */
	while (n < max && bp >= regs->sp && bp - regs->sp <= len &&
	       len - (bp - regs->sp) >= sizeof(frame)) {
		memcpy(frame, s + (bp - regs->sp), sizeof(frame));
		if (!frame[1])
			break;
		pcs[n++] = frame[1];
		if (frame[0] <= bp)
			break;
		bp = frame[0];
	}
	return (int)n;
}

struct walk {
	uint64_t *pcs;
	unsigned int n, max;
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;

	if (!dwfl_frame_pc(state, &pc, NULL))
		return DWARF_CB_ABORT;
	w->pcs[w->n++] = pc;
	return w->n < w->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int unwinder__unwind(struct unwinder *u, const struct unwind_regs *regs, const void *stack,
		     size_t len, uint64_t *pcs, unsigned int max, uint64_t now_ns)
{
	struct walk w = { .pcs = pcs, .max = max };

	if (!u || !regs || (!stack && len) || !pcs || !max)
		return -EINVAL;
	/* A pc in no known module: the process mapped something new. */
	if (!dwfl_addrmodule(u->dwfl, regs->ip) && now_ns - u->refreshed_ns >= REFRESH_NS) {
		Dwfl *d;

		u->refreshed_ns = now_ns;
		d = dwfl_for(u);
		if (d) {
			dwfl_end(u->dwfl);
			u->dwfl = d;
		}
	}
	u->regs = regs;
	u->stack = stack;
	u->len = len;
	report_pid = u->pid;
	/* The end of a walk is reported as an error too; the frames stand. */
	dwfl_getthread_frames(u->dwfl, u->pid, frame_cb, &w);
	u->regs = NULL;
	u->stack = NULL;
	if (w.n <= 1)
		return unwind__fp(regs, stack, len, pcs, max);
	return (int)w.n;
}
