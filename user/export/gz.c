/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#include "export/gz.h"

int gz__compress(const void *in, size_t len, char **out, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap;
	char *buf;
	int ret;

	*out = NULL;
	*outlen = 0;
	if (len > 0xffffffffu)	/* zlib counts in 32 bits */
		return -EFBIG;
	/* 15 + 16: a gzip header and trailer instead of zlib's; level 1: text
	 * compresses ~10x even at the fastest level, and scrapes want speed */
	if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, (uLong)len) + 32;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	ret = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (ret != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*outlen = cap - z.avail_out;
	return 0;
}
