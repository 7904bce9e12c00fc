/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bpflog: libbpf's messages, kept so that a failed load says why in the
 * kernel's own words (the verifier's last line, or the CO-RE relocation that
 * failed) instead of a guess, and so that -v prints the verifier's last
 * lines rather than a log of a million instructions.
 */
#ifndef PROBE_LOADER_BPFLOG_H
#define PROBE_LOADER_BPFLOG_H

#include <stddef.h>

/* Lines of a verifier log -v prints (the error is at the end). */
#define BPFLOG_TAIL_LINES	24

/* Install the libbpf print callback; verbose: also print to stderr. */
void bpflog__init(int verbose);
/* Forget what was captured: call before one load. */
void bpflog__begin(void);
/*
 * After a failed load: the cause libbpf or the verifier reported since
 * bpflog__begin(), one line, into buf. 0, or -ENOENT when nothing was seen.
 */
int bpflog__reason(char *buf, size_t len);

/* Parsing, exposed for the unit test: feed one libbpf message. */
void bpflog__feed(const char *msg);

#endif
