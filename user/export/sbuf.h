/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * sbuf: a growing byte buffer for rendering. Appends never fail loudly: the
 * first allocation failure sets err (-ENOMEM) and later appends do nothing,
 * so a renderer checks once at the end. The caller owns p (free()).
 */
#ifndef PROBE_EXPORT_SBUF_H
#define PROBE_EXPORT_SBUF_H

#include <stdarg.h>
#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

void sbuf__put(struct sbuf *b, const char *s, size_t n);
void sbuf__puts(struct sbuf *b, const char *s);
void sbuf__printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf__free(struct sbuf *b);

#endif
