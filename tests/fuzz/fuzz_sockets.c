/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target: the socket capture's shared handler and one protocol
 * parser (FUZZ_PROTO: PROBE_PROTO_UNKNOWN fuzzes classification and every
 * parser behind it), on the host through tests/fuzz/shim/.
 *
 * Input: byte 0 picks the side (bit 0: server, for HTTP), then chunks, each
 * a header byte (bit 7: read, else write; bit 6: more bytes follow in
 * further iovecs), a 16-bit little-endian length (cut to what is left) and
 * the payload. Each payload is copied to a buffer of exactly its size, so
 * a parser reading past what the syscall returned is an ASan report.
 * Every record the handler emits is checked against what userspace relies
 * on (method, status, lengths, kinds in range; no '?' in a path).
 */
#include <stdint.h>
#include <stddef.h>

#include "sockets_host.h"

#ifndef FUZZ_PROTO
#define FUZZ_PROTO PROBE_PROTO_UNKNOWN
#endif

#define KEY	PROBE_SOCK_KEY(4242, 7)
#define CHUNKS	32

static void check_http(const struct probe_http_req *r)
{
	__u32 i;

	if (r->method == PROBE_HTTP_M_UNKNOWN || r->method >= PROBE_HTTP_M_MAX)
		shim_die("http: method out of range");
	if (r->status < 100 || r->status > 599)
		shim_die("http: status out of range");
	if (r->path_len > PROBE_HTTP_PATH_LEN || r->host_len > PROBE_HTTP_HOST_LEN)
		shim_die("http: length out of range");
	if (r->role != PROBE_ROLE_SERVER && r->role != PROBE_ROLE_CLIENT)
		shim_die("http: role out of range");
	for (i = 0; i < r->path_len; i++)
		if (r->path[i] == '?' || r->path[i] == '#' || (unsigned char)r->path[i] < 0x21)
			shim_die("http: a query, fragment or control byte in a kept path");
	for (i = r->path_len; i < PROBE_HTTP_PATH_LEN; i++)
		if (r->path[i])
			shim_die("http: bytes past the path's length");
}

static void check_db(const struct probe_db_query *q)
{
	__u32 i;

	if (q->kind == PROBE_DB_K_NONE || q->kind >= PROBE_DB_K_MAX)
		shim_die("db: kind out of range");
	if (q->status > PROBE_DB_S_ERROR || q->result > PROBE_DB_R_MISS)
		shim_die("db: status or result out of range");
	for (i = 0; i < PROBE_DB_OP_LEN && q->op[i]; i++)
		if (!((q->op[i] >= 'A' && q->op[i] <= 'Z') || q->op[i] == '_' || q->op[i] == '?'))
			shim_die("db: op is not an uppercase keyword");
	if (i == PROBE_DB_OP_LEN)
		shim_die("db: op not terminated");
}

static void check_records(void)
{
	unsigned int i;

	for (i = 0; i < shim_nrecs; i++) {
		const struct probe_rec_hdr *h = (const void *)shim_recs[i].data;

		if (h->size != shim_recs[i].size)
			shim_die("record: size in header differs from reserved size");
		if (h->type == PROBE_REC_HTTP_REQ && h->size == sizeof(struct probe_http_req))
			check_http((const void *)h);
		else if (h->type == PROBE_REC_DB_QUERY && h->size == sizeof(struct probe_db_query))
			check_db((const void *)h);
		else
			shim_die("record: unknown type or size");
	}
	shim_nrecs = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u8 role, proto = FUZZ_PROTO;
	size_t off = 1;
	int k;

	if (size < 1)
		return 0;
	shim_reset();
	role = data[0] & 1 ? PROBE_ROLE_SERVER : PROBE_ROLE_CLIENT;
	if (proto != PROBE_PROTO_HTTP && proto != PROBE_PROTO_UNKNOWN)
		role = PROBE_ROLE_CLIENT;	/* databases: the client side only */
	if (proto == PROBE_PROTO_UNKNOWN)
		role = PROBE_ROLE_NONE;
	shim_conn(KEY, proto, role, data[0] & 2 ? 5432 : 8080, data[0] & 4 ? 6379 : 40000);
	if (proto >= PROBE_PROTO_PGSQL && !db_conn_new(KEY, bpf_map_lookup_elem(&conns, &(__u64){ KEY })))
		shim_die("db state");
	for (k = 0; k < CHUNKS && off + 3 <= size; k++) {
		__u8 hdr = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
		unsigned char *buf;

		off += 3;
		if (len > size - off)
			len = size - off;
		buf = malloc(len ? len : 1);
		if (!buf)
			shim_die("out of memory");
		memcpy(buf, data + off, len);
		off += len;
		shim_io(KEY, len ? buf : NULL, len, len + (hdr & 0x40 ? 100 : 0), hdr & 0x80);
		free(buf);
		check_records();
	}
	return 0;
}
