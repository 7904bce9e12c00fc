/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * uprobe_site: where to put a uprobe on a function so that it costs one
 * trap, not two.
 *
 * The kernel emulates a few instructions at a probe site (push, jmp, jcc,
 * call, nop: ~5 µs a hit here) and single-steps the rest out of line (a
 * second trap: ~19 µs). glibc's free starts with `test %rdi,%rdi`, a
 * single-stepped instruction; a few bytes in, past the NULL check, sits a
 * `push`. uprobe_site__choose() decodes the function's first instructions
 * and picks the first emulated one that every interesting call reaches,
 * only walking past instructions that read or write nothing the probe
 * needs (the argument registers, %rsp, %rbp), and past a NULL-check branch
 * only when its target is a bare `ret` (a NULL free does nothing). When
 * unsure it stays at the entry. The stack pointer is never moved between
 * entry and site, so *sp is still the return address there (the caller we
 * record, and the slot a uretprobe hijacks).
 *
 * The decoder knows only x86-64 forms; elsewhere it returns the entry.
 */
#ifndef PROBE_PROC_UPROBE_SITE_H
#define PROBE_PROC_UPROBE_SITE_H

#include <stddef.h>
#include <stdint.h>

#define UPROBE_SITE_WHY_LEN	160
#define UPROBE_SITE_CODE_MAX	4096	/* bytes of a function read for decoding */

/* x86-64 register numbers as the ModRM encoding has them. */
enum { UREG_RAX, UREG_RCX, UREG_RDX, UREG_RBX, UREG_RSP, UREG_RBP, UREG_RSI, UREG_RDI,
       UREG_R8, UREG_R9 };

struct uprobe_site {
	uint32_t delta;			/* bytes from the function's entry */
	int emulated;			/* 1: the instruction there is emulated (one trap) */
	char why[UPROBE_SITE_WHY_LEN];	/* e.g. "+9 push %rbp (emulated), past NULL check" */
};

/*
 * Choose the site in code[0..len) (the function's bytes from its entry).
 * null_reg: the register holding a pointer whose NULL value makes the call
 * a no-op (UREG_RDI for free), or -1. Always fills *out; returns 0.
 */
int uprobe_site__choose(const uint8_t *code, size_t len, int null_reg, struct uprobe_site *out);

/* A function found in an ELF file. */
struct uprobe_func {
	uint64_t vaddr;			/* symbol value */
	uint64_t file_off;		/* what uprobes attach to */
	uint64_t size;
	struct uprobe_site site;
};

/*
 * Find func (defined, STT_FUNC) in the ELF file at path (dynamic symbols
 * first, then .symtab), read its first bytes and choose the probe site.
 * 0, -ENOENT (not defined there), -ENOTSUP (an IFUNC), or -errno.
 */
int uprobe_site__find_func(const char *path, const char *func, int null_reg,
			   struct uprobe_func *out);

/*
 * The common callee of two exported wrappers. OpenSSL's SSL_read and
 * SSL_read_ex both call one internal function, ssl_read_internal(s, buf,
 * num, size_t *readbytes), and SSL_write / SSL_write_ex call
 * ssl_write_internal(s, buf, num, ...). The wrappers start by moving %rsp
 * (single-stepped: two traps a hit); the callee starts with `push`
 * (emulated: one). Probing the callee instead of the two wrappers sees
 * every call of either once, at a fraction of the cost.
 *
 * uprobe_site__first_call() decodes a wrapper's code[0..len) (len: the
 * function's size, or what was read of it) up to its first direct
 * `call rel32` (or a `jmp rel32` out of the function: a tail call) and
 * gives the target relative to the entry. Conditional branches are walked
 * past (their paths fail early); an unconditional jmp inside the function,
 * a ret, an indirect branch or an instruction the decoder does not know
 * ends the walk: -ENOENT. *written gets the mask (1 << UREG_x) of the
 * registers written before the call, so a caller can check which
 * arguments the wrapper hands on unchanged.
 */
int uprobe_site__first_call(const uint8_t *code, size_t len, int64_t *target,
			    uint32_t *written);

#define UPROBE_REG(r)	(1U << (r))

struct uprobe_callee {
	uint64_t vaddr;			/* the callee's address in the file */
	uint64_t file_off;		/* what uprobes attach to (+ site.delta) */
	struct uprobe_site site;	/* the site chosen in the callee */
	char why[UPROBE_SITE_WHY_LEN + 64];	/* the site, or why none */
};

/*
 * In the ELF file at path: the function both exported wrappers a and b
 * call first, when it is the same one, in the same section as both, and
 * its chosen site is emulated; a must hand %rdi and %rsi on unchanged and
 * b every register in b_forwards (UPROBE_REG(...) mask), so the callee
 * sees the wrappers' own first arguments. 0 with *out filled; else
 * -ENOENT (a wrapper missing, no call found, different callees), -ENOTSUP
 * (a wrapper is an IFUNC), -EXDEV (an argument rewritten, or the callee
 * outside the wrappers' section), -EAGAIN (the callee's site would be
 * single-stepped: no gain), or -errno; out->why says which in words.
 */
int uprobe_site__find_common_callee(const char *path, const char *a, const char *b,
				    uint32_t b_forwards, struct uprobe_callee *out);

/*
 * Find the C library mapped executable in pid (a file whose name starts
 * with "libc.so" or "libc-"). attach: a path that reaches the very inode
 * mapped, from this mount namespace (/proc/PID/root/..., or
 * /proc/PID/map_files/... when the file was replaced or deleted); shown:
 * the path as the process sees it. 0, -ENOENT (none: static or another
 * allocator), -ESRCH (gone), or -errno.
 */
int uprobe_site__find_libc(int pid, char *attach, size_t attach_len, char *shown,
			   size_t shown_len);

/*
 * The same for the first executable mapping whose path match() accepts
 * (libssl for the tls signal); *ino_out (may be NULL) gets its inode.
 */
int uprobe_site__find_mapped(int pid, int (*match)(const char *path), char *attach,
			     size_t attach_len, char *shown, size_t shown_len, uint64_t *ino_out);

#endif
