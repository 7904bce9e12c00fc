/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * HTTP/1.x requests seen on sockets: one ring-buffer record per request,
 * sent when the first byte of its response goes by (server side: the
 * response write; client side: the response read).
 *
 * probe_http_req (320 bytes):
 *
 *   0                                                                48
 *   +------------------------- probe_rec_hdr ---------------------------+
 *   | ts_ns = first response byte; pid, tid: the thread that saw it;    |
 *   | comm: the process's name (its group leader's, so that the names   |
 *   | of a thread pool's threads do not split one service)              |
 *   +----------+-------------+----+------+--+--+--+--+--+--+-----+-----+
 *   | start_ns | duration_ns | fd |status|me|ro|fa|fl|pl|hl|lport|rport|
 *   +----------+-------------+----+------+--+--+--+--+--+--+-----+-----+
 *   |    laddr[16]    |    raddr[16]    |                               |
 *   +-----------------+-----------------+-------------------------------+
 *   |  path[128]: request target, cut before ' ', '?' and '#'           |
 *   |  host[64]:  Host header (client side only)                        |
 *   |  exe[16]:   executable's file name (comm can be renamed)          |
 *   +-------------------------------------------------------------------+
 *
 * The path never carries a query string or fragment: the kernel stops
 * copying at the first ' ', '?' or '#', and the bytes after path_len are
 * zero. Likewise host after host_len.
 */
#ifndef PROBE_HTTP_H
#define PROBE_HTTP_H

#include "record.h"
#include "sockets.h"

#define PROBE_HTTP_VERSION	1

enum probe_http_rec_type {
	PROBE_REC_HTTP_REQ = PROBE_REC_HTTP_BASE,	/* struct probe_http_req */
};

#define PROBE_HTTP_PATH_LEN	128	/* request-target prefix kept */
#define PROBE_HTTP_HOST_LEN	64	/* Host header prefix kept */
#define PROBE_HTTP_FIFO		4	/* requests in flight per connection */
/* HTTP connections followed at once (LRU; the loader may change it). */
#define PROBE_HTTP_MAX_CONNS	16384
#define PROBE_HTTP_RINGBUF_BYTES PROBE_SOCK_RINGBUF_BYTES

enum probe_http_method {
	PROBE_HTTP_M_UNKNOWN,
	PROBE_HTTP_M_GET,
	PROBE_HTTP_M_POST,
	PROBE_HTTP_M_PUT,
	PROBE_HTTP_M_DELETE,
	PROBE_HTTP_M_HEAD,
	PROBE_HTTP_M_OPTIONS,
	PROBE_HTTP_M_PATCH,
	PROBE_HTTP_M_CONNECT,
	PROBE_HTTP_M_TRACE,
	PROBE_HTTP_M_MAX,
};

/* probe_http_req.flags (and probe_http_slot.flags) */
#define PROBE_HTTP_F_PATH_TRUNC	0x01	/* target longer than PROBE_HTTP_PATH_LEN */
#define PROBE_HTTP_F_HOST_TRUNC	0x02	/* Host longer than PROBE_HTTP_HOST_LEN */
#define PROBE_HTTP_F_PIPELINED	0x04	/* not the first request in its read or write */
#define PROBE_HTTP_F_HTTP10	0x08	/* an HTTP/1.0 request */
#define PROBE_HTTP_F_QUERY	0x10	/* a query or fragment followed (and was dropped) */

struct probe_http_req {
	struct probe_rec_hdr hdr;
	__u64 start_ns;		/* first request byte, bpf_ktime_get_ns() */
	__u64 duration_ns;	/* to the first response byte */
	__s32 fd;
	__u16 status;		/* 100..599 */
	__u8 method;		/* enum probe_http_method */
	__u8 role;		/* enum probe_role (sockets.h) */
	__u8 family;		/* AF_INET, AF_INET6 */
	__u8 flags;		/* PROBE_HTTP_F_* */
	__u8 path_len;
	__u8 host_len;
	__u16 lport;		/* host byte order */
	__u16 rport;
	__u8 laddr[16];		/* IPv4: first 4 bytes, network order */
	__u8 raddr[16];		/* the peer */
	char path[PROBE_HTTP_PATH_LEN];
	char host[PROBE_HTTP_HOST_LEN];
	char exe[PROBE_COMM_LEN];	/* basename of the executable, NUL-padded */
};
PROBE_ASSERT_SIZE(struct probe_http_req, 320);

/* One request in flight. */
struct probe_http_slot {
	__u64 ts;		/* first request byte */
	__u8 method;
	__u8 flags;
	__u8 path_len;
	__u8 pad[5];
	char path[PROBE_HTTP_PATH_LEN];
};
PROBE_ASSERT_SIZE(struct probe_http_slot, 144);

/*
 * An HTTP connection's requests in flight, oldest first: keep-alive puts
 * one at a time through it, pipelining several. A response answers the
 * oldest.
 */
struct probe_http_conn {
	/*
	 * A copy of the socket's probe_conn, so that a read or write on an
	 * HTTP connection needs this one lookup: each costs ~100 ns here.
	 */
	struct probe_conn id;
	__u8 head;		/* oldest request in fifo[] */
	__u8 count;		/* requests in flight */
	__u8 skip_resp;		/* responses owed to unparsed requests: not timed */
	__u8 host_len;
	__u8 host_flags;	/* PROBE_HTTP_F_HOST_TRUNC */
	__u8 pad[3];
	/*
	 * Who owns the connection, read once when it is first seen: helpers
	 * cost ~50 ns each here, and these do not change per request.
	 */
	__u64 cgroup_id;
	char comm[PROBE_COMM_LEN];	/* the process's (group leader's) name */
	char exe[PROBE_COMM_LEN];	/* its executable's file name */
	char host[PROBE_HTTP_HOST_LEN];	/* last Host header written (client side) */
	struct probe_http_slot fifo[PROBE_HTTP_FIFO];
};
PROBE_ASSERT_SIZE(struct probe_http_conn, sizeof(struct probe_conn) + 16 +
		  2 * PROBE_COMM_LEN + PROBE_HTTP_HOST_LEN + PROBE_HTTP_FIFO * 144);

#endif
