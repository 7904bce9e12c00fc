/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* gz: gzip (RFC 1952) compression through zlib, for /metrics and OTLP bodies. */
#ifndef PROBE_EXPORT_GZ_H
#define PROBE_EXPORT_GZ_H

#include <stddef.h>

/* *out: a malloc()ed gzip stream of in (the caller frees). 0 or -ENOMEM / -EIO / -EFBIG. */
int gz__compress(const void *in, size_t len, char **out, size_t *outlen);

#endif
