/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * HTTP/1.x on a socket: detection, start-line parsing, a bounded header
 * scan, and the per-connection FIFO of requests in flight. One record per
 * request goes to userspace when its response starts.
 *
 * Uses only the capture interface (sockets/capture.bpf.h); the handler
 * (sockets/handler.bpf.h) calls http_data() for connections classified as
 * HTTP, and http_detect() / http_garbage() while classifying.
 *
 * What is timed, and why: from the first byte of the request (the read
 * that returned its request line, on the server; the write that sent it,
 * on the client) to the first byte of the response (the write starting
 * with "HTTP/1.x NNN" on the server; the read returning it on the client).
 * First byte to first byte is what a server's slowness is made of; the
 * last response byte would add transfer time that depends on the client
 * and the network, and finding it needs the body length (chunked bodies
 * have none up front). A request split over several reads starts at the
 * first one; a response written as writev(headers) + sendfile(body) starts
 * at the writev, so sendfile itself needs no hook.
 *
 * The parsers are global (non-inline) functions on purpose: the verifier
 * checks each once, not once per hook, and their loops keep results in
 * the scratch map rather than in registers so that its state count stays
 * linear in the loop length.
 */
#ifndef PROBE_HTTP_BPF_H
#define PROBE_HTTP_BPF_H

#include "sockets/capture.bpf.h"
#include "probe/http.h"

/* What the parsers leave in the scratch map for their caller. */
struct http_scratch {
	/* http_parse_request() */
	__u32 poff;		/* target offset in buf */
	__u8 method;
	__u8 flags;		/* PROBE_HTTP_F_* */
	__u8 plen;
	__u8 pad;
	/* http_scan_headers() */
	__u32 hdr_end;		/* offset just past the empty line; 0: not within the window */
	__u32 clen;		/* Content-Length, 0 when absent */
	__u32 cl_cand[4];	/* lines that may be Content-Length ("c??????-l") */
	__u32 ncl;
	__u32 host_line;	/* offset of the Host line, 0: none */
	__u32 host_off;
	__u8 host_len;
	__u8 host_flags;
	__u8 pad2[2];
	/* http_requests(), http_responses(): one clock read per payload */
	__u64 ts;
};

#define HTTP_LOWER(c)	((c) | 0x20)

/* An offset below the window, masked where it indexes. */
#define HTTP_OFF(v)	SOCK_OFF(v)

/* (tgid, fd) -> requests in flight, for connections found to speak HTTP. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_HTTP_MAX_CONNS);
	__type(key, __u64);
	__type(value, struct probe_http_conn);
} http_conns SEC(".maps");

/* A zeroed connection to insert from: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_http_conn);
} http_zero SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_scratch);
} http_scratch_map SEC(".maps");

/*
 * Local ports on which a request was parsed: bytes that are not HTTP
 * arriving on one of them are garbage sent to an HTTP server (unparsed),
 * not some other protocol.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} http_ports SEC(".maps");

static __always_inline struct http_scratch *http_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&http_scratch_map, &zero);
}

static __always_inline struct probe_http_conn *http_conn_zero(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&http_zero, &zero);
}

/* Method at b[0..avail); *len: its bytes including the space. */
static __always_inline __u8 http_method(const char *b, __u32 avail, __u32 *len)
{
	if (avail < 4)
		return PROBE_HTTP_M_UNKNOWN;
	switch (b[0]) {
	case 'G':
		if (b[1] == 'E' && b[2] == 'T' && b[3] == ' ') {
			*len = 4;
			return PROBE_HTTP_M_GET;
		}
		break;
	case 'P':
		if (b[1] == 'U' && b[2] == 'T' && b[3] == ' ') {
			*len = 4;
			return PROBE_HTTP_M_PUT;
		}
		if (avail >= 5 && b[1] == 'O' && b[2] == 'S' && b[3] == 'T' && b[4] == ' ') {
			*len = 5;
			return PROBE_HTTP_M_POST;
		}
		if (avail >= 6 && b[1] == 'A' && b[2] == 'T' && b[3] == 'C' && b[4] == 'H' &&
		    b[5] == ' ') {
			*len = 6;
			return PROBE_HTTP_M_PATCH;
		}
		break;
	case 'D':
		if (avail >= 7 && b[1] == 'E' && b[2] == 'L' && b[3] == 'E' && b[4] == 'T' &&
		    b[5] == 'E' && b[6] == ' ') {
			*len = 7;
			return PROBE_HTTP_M_DELETE;
		}
		break;
	case 'H':
		if (avail >= 5 && b[1] == 'E' && b[2] == 'A' && b[3] == 'D' && b[4] == ' ') {
			*len = 5;
			return PROBE_HTTP_M_HEAD;
		}
		break;
	case 'O':
		if (avail >= 8 && b[1] == 'P' && b[2] == 'T' && b[3] == 'I' && b[4] == 'O' &&
		    b[5] == 'N' && b[6] == 'S' && b[7] == ' ') {
			*len = 8;
			return PROBE_HTTP_M_OPTIONS;
		}
		break;
	case 'C':
		if (avail >= 8 && b[1] == 'O' && b[2] == 'N' && b[3] == 'N' && b[4] == 'E' &&
		    b[5] == 'C' && b[6] == 'T' && b[7] == ' ') {
			*len = 8;
			return PROBE_HTTP_M_CONNECT;
		}
		break;
	case 'T':
		if (avail >= 6 && b[1] == 'R' && b[2] == 'A' && b[3] == 'C' && b[4] == 'E' &&
		    b[5] == ' ') {
			*len = 6;
			return PROBE_HTTP_M_TRACE;
		}
		break;
	}
	return PROBE_HTTP_M_UNKNOWN;
}

/*
 * Status line at b[0..avail): the code (100..599); 0 when b does not start
 * with "HTTP/"; -1 when it does but the line is malformed or cut short.
 */
static __always_inline int http_status(const char *b, __u32 avail)
{
	int code;

	if (avail < 5 || b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' ||
	    b[4] != '/')
		return 0;
	if (avail < 12 || b[5] != '1' || b[6] != '.' || (b[7] != '0' && b[7] != '1') ||
	    b[8] != ' ')
		return -1;
	if (b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' ||
	    b[11] > '9')
		return -1;
	/* the reason phrase may be empty: "HTTP/1.1 200\r\n" */
	if (avail > 12 && b[12] != ' ' && b[12] != '\r' && b[12] != '\n')
		return -1;
	code = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	return code;
}

/* First bytes of a payload: a request, a response, or neither. */
enum { HTTP_KIND_NONE, HTTP_KIND_REQUEST, HTTP_KIND_RESPONSE };

static __always_inline int http_detect(const char *b, __u32 n)
{
	__u32 len;

	if (http_method(b, n, &len))
		return HTTP_KIND_REQUEST;
	if (http_status(b, n))
		return HTTP_KIND_RESPONSE;
	return HTTP_KIND_NONE;
}

/*
 * The request target at b[start..start+avail): its length, ending at ' ',
 * or at '?' or '#' (its query and fragment are never kept; the scratch's
 * PROBE_HTTP_F_QUERY says so) or where the bytes run out; -1 for control
 * bytes or DEL. Only PROBE_HTTP_PATH_LEN bytes are kept, but the end is
 * looked for across the whole window. Global: the loop may end at any of
 * 512 places, and what follows it would be verified once per place.
 */
__noinline int http_target_len(__u32 start, __u32 avail)
{
	struct sock_buf *sb = sock_buf_get();
	struct http_scratch *r = http_scratch_get();
	__u32 i;

	if (!sb || !r)
		return -1;
	for (i = 0; i < PROBE_SOCK_SCAN; i++) {
		char c;

		if (i >= avail)
			break;
		c = sb->b[HTTP_OFF(start + i)];
		if (c == ' ')
			break;
		if (c == '?' || c == '#') {
			r->flags |= PROBE_HTTP_F_QUERY;
			break;
		}
		/* control bytes, DEL: not a request target */
		if ((unsigned char)c < 0x21 || c == 0x7f)
			return -1;
	}
	return (int)i;
}

/*
 * Request line at b[off..n). `cut`: the payload goes on past the window,
 * so running out of bytes there is not the end of the request. Returns 1
 * with the http scratch filled in, 0 when b[off] does not start a
 * request, -1 when it starts one that is malformed or cut short (a half
 * request, binary after the method, an empty or control-laden target).
 */
__noinline int http_parse_request(__u32 off, __u32 n, __u32 cut)
{
	struct sock_buf *sb = sock_buf_get();
	struct http_scratch *r = http_scratch_get();
	__u32 avail, mlen = 0, p, i, v;
	const char *b;
	int ret;
	__u8 m;

	if (!sb || !r)
		return 0;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off >= n)
		return 0;
	avail = n - off;
	b = sb->b + HTTP_OFF(off);
	m = http_method(b, avail, &mlen);
	if (!m)
		return 0;
	r->method = m;
	r->flags = 0;
	r->plen = 0;
	r->poff = off + mlen;
	p = mlen;
	ret = http_target_len(off + p, avail - p);
	if (ret < 0)
		return -1;
	i = (__u32)ret;
	if (i == 0)
		return -1;
	r->plen = i > PROBE_HTTP_PATH_LEN ? PROBE_HTTP_PATH_LEN : i;
	if (i > PROBE_HTTP_PATH_LEN)
		r->flags |= PROBE_HTTP_F_PATH_TRUNC;
	if (p + i >= avail) {
		/*
		 * The bytes ran out inside the target. Read to its end, it is
		 * a half request. A first request whose target alone fills the
		 * window is an oversized request line: not timed either. A
		 * pipelined one that starts late in the window goes on past it.
		 */
		if (!cut || !off)
			return -1;
		r->flags |= PROBE_HTTP_F_PATH_TRUNC;
		return 1;
	}
	if (r->flags & PROBE_HTTP_F_QUERY)
		return 1;	/* the version is past the query: not looked for */
	v = p + i + 1;
	if (v + 8 > avail)
		return cut ? 1 : -1;	/* "GET /x HT": a half request */
	b = sb->b + HTTP_OFF(off + v);	/* v + 8 <= avail: within the window */
	if (b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' || b[4] != '/' ||
	    b[5] != '1' || b[6] != '.' || (b[7] != '0' && b[7] != '1'))
		return -1;
	if (b[7] == '0')
		r->flags |= PROBE_HTTP_F_HTTP10;
	if (v + 8 < avail && b[8] != '\r' && b[8] != '\n')
		return -1;
	return 1;
}

/* Case-insensitive compare of b[at..] with a lower-case literal. */
#define HTTP_HDR_IS(b, at, lit)						\
	({								\
		int __ok = 1;						\
		_Pragma("unroll")					\
		for (int __k = 0; __k < (int)sizeof(lit) - 1; __k++)	\
			if (HTTP_LOWER((b)[(at) + __k]) != lit[__k])	\
				__ok = 0;				\
		__ok;							\
	})

/*
 * A header line starts at b[j]: an empty line ends the headers (returns
 * the offset past it); otherwise remember where Content-Length and Host
 * may be. Cheap filters here (Content-Type, Connection and Cookie also
 * start with 'c'); the exact names are checked once, after the scan.
 * Global, so the verifier checks it once rather than at every unrolled
 * call site.
 */
__noinline int http_line(__u32 j, __u32 n)
{
	struct sock_buf *sb = sock_buf_get();
	struct http_scratch *r = http_scratch_get();
	const char *b;
	char c;

	if (!sb || !r || j >= n || j >= PROBE_SOCK_SCAN)
		return 0;	/* the line is past the window */
	b = sb->b + HTTP_OFF(j);
	c = b[0];
	if (c == '\r' || c == '\n')
		return c == '\r' ? j + 2 : j + 1;
	c = HTTP_LOWER(c);
	if (c == 'c' && b[7] == '-' && HTTP_LOWER(b[8]) == 'l' && r->ncl < 4) {
		r->cl_cand[r->ncl & 3] = j;
		r->ncl++;
	} else if (c == 'h' && !r->host_line && b[4] == ':') {
		r->host_line = j;
	}
	return 0;
}

/*
 * Where the headers of the message starting at b[off] end (just past the
 * empty line; 0 when it is not within n), into the scratch's hdr_end,
 * noting candidate Content-Length and Host lines on the way (http_line).
 * Global: the loop may end at any of 64 words, and what follows it would
 * be verified once per word.
 */
__noinline int http_find_hdr_end(__u32 off, __u32 n)
{
	struct sock_buf *sb = sock_buf_get();
	struct http_scratch *r = http_scratch_get();
	__u32 i, k, w, base, end;

	if (!sb || !r)
		return 0;
	r->hdr_end = 0;
	r->clen = 0;
	r->ncl = 0;
	r->host_line = 0;
	r->host_off = 0;
	r->host_len = 0;
	r->host_flags = 0;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off >= n)
		return 0;
	/*
	 * Eight bytes at a time from the aligned word holding off: a word
	 * with no '\n' costs a handful of instructions, and the verifier
	 * walks 65 iterations instead of 512. Each line start found is
	 * looked at once; results go to memory so the paths do not fork.
	 */
	base = off & ~7U;
	for (w = 0; w < PROBE_SOCK_SCAN / 8; w++) {
		__u32 at = base + w * 8;
		__u64 x, t;

		if (at >= n)
			break;
		x = *(__u64 *)&sb->b[HTTP_OFF(at)];
		x ^= 0x0a0a0a0a0a0a0a0aULL;
		t = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
		if (!t)
			continue;
#pragma unroll
		for (k = 0; k < 8; k++) {
			i = at + k;
			if (i < off || i >= n || sb->b[HTTP_OFF(i)] != '\n')
				continue;
			end = http_line(i + 1, n);
			if (end) {
				r->hdr_end = end;
				return 0;
			}
		}
	}
	return 0;
}

/*
 * Where the headers of the message starting at b[off] end (just past the
 * empty line), 0 when the empty line is not within n: http_find_hdr_end()
 * without noting any field, for a server, which needs the fields only
 * when more bytes follow the headers (a body, or a pipelined request).
 * Most requests end where their headers do, and this costs a fraction of
 * the full scan (~200 ns a request here). Global for the same reason.
 */
__noinline int http_hdr_end(__u32 off, __u32 n)
{
	struct sock_buf *sb = sock_buf_get();
	__u32 i, k, w, base;

	if (!sb)
		return 0;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off >= n)
		return 0;
	base = off & ~7U;
	for (w = 0; w < PROBE_SOCK_SCAN / 8; w++) {
		__u32 at = base + w * 8;
		__u64 x, t;

		if (at >= n)
			break;
		x = *(__u64 *)&sb->b[HTTP_OFF(at)];
		x ^= 0x0a0a0a0a0a0a0a0aULL;
		t = (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
		if (!t)
			continue;
#pragma unroll
		for (k = 0; k < 8; k++) {
			char c;

			i = at + k;
			if (i < off || i + 1 >= n || sb->b[HTTP_OFF(i)] != '\n')
				continue;
			/* the line after this '\n': empty? (as http_line() decides) */
			c = sb->b[HTTP_OFF(i + 1)];
			if (c == '\r')
				return (int)(i + 3);
			if (c == '\n')
				return (int)(i + 2);
		}
	}
	return 0;
}

/*
 * After http_find_hdr_end(): Content-Length and the Host value from the
 * candidate lines it noted. Returns the end offset it found (just past
 * the empty line), 0 when the empty line is not within the window.
 */
__noinline int http_header_fields(__u32 n)
{
	struct sock_buf *sb = sock_buf_get();
	struct http_scratch *r = http_scratch_get();
	__u32 j, k, v;

	if (!sb || !r)
		return 0;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (r->hdr_end > n)
		r->hdr_end = 0;

	for (k = 0; k < 4; k++) {
		if (k >= r->ncl)
			break;
		j = r->cl_cand[k];
		if (j + 16 <= n && HTTP_HDR_IS(sb->b, HTTP_OFF(j), "content-length:"))
			break;
		j = 0;
	}
	if (k < 4 && j) {
		__u32 len = 0;

		v = j + 15;
		for (k = 0; k < 4 && v < n && v < PROBE_SOCK_SCAN; k++, v++)
			if (sb->b[HTTP_OFF(v)] != ' ' && sb->b[HTTP_OFF(v)] != '\t')
				break;
		for (k = 0; k < 9 && v < n && v < PROBE_SOCK_SCAN; k++, v++) {
			char c = sb->b[HTTP_OFF(v)];

			if (c < '0' || c > '9')
				break;
			len = len * 10 + (c - '0');
		}
		r->clen = len;
	}

	j = r->host_line;
	if (j && j < PROBE_SOCK_SCAN && j + 5 <= n && HTTP_HDR_IS(sb->b, HTTP_OFF(j), "host:")) {
		v = j + 5;
		for (k = 0; k < 4 && v < n && v < PROBE_SOCK_SCAN; k++, v++)
			if (sb->b[HTTP_OFF(v)] != ' ' && sb->b[HTTP_OFF(v)] != '\t')
				break;
		r->host_off = v;
		for (k = 0; k < PROBE_HTTP_HOST_LEN && v < n && v < PROBE_SOCK_SCAN; k++, v++) {
			char c = sb->b[HTTP_OFF(v)];

			if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
				break;
		}
		r->host_len = k;
		if (k == PROBE_HTTP_HOST_LEN)
			r->host_flags = PROBE_HTTP_F_HOST_TRUNC;
	}
	return r->hdr_end;
}

/*
 * Headers of the message starting at b[off], up to n: where they end,
 * Content-Length and the Host value. Returns the end offset (just past
 * the empty line), 0 when the empty line is not within the window. Two
 * calls from the caller's frame rather than one that makes the other:
 * Linux 6.1 allows 512 bytes of stack over the deepest chain of calls.
 */
static __always_inline int http_scan_headers(__u32 off, __u32 n)
{
	http_find_hdr_end(off, n);
	return http_header_fields(n);
}

static __always_inline void http_learn_port(__u16 port)
{
	__u32 k = port;
	__u8 *v;

	if (!port)
		return;
	v = bpf_map_lookup_elem(&http_ports, &k);
	if (v && !*v)
		*v = 1;
}

static __always_inline int http_port_known(__u16 port)
{
	__u32 k = port;
	__u8 *v;

	if (!port)
		return 0;
	v = bpf_map_lookup_elem(&http_ports, &k);
	return v && *v;
}

/*
 * Push the request the http scratch describes. The slot's path is zeroed
 * first and only plen bytes are copied: a query string never reaches the
 * map.
 */
static __always_inline void http_push(struct probe_http_conn *h, struct sock_buf *sb,
				      struct http_scratch *r, __u64 ts, __u8 extra_flags)
{
	struct probe_http_slot *s;
	__u32 idx, plen = r->plen, poff = r->poff;

	if (h->count >= PROBE_HTTP_FIFO) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_FIFO_FULL);
		return;
	}
	idx = (h->head + h->count) & (PROBE_HTTP_FIFO - 1);
	s = &h->fifo[idx];
	s->ts = ts;
	s->method = r->method;
	s->flags = r->flags | extra_flags;
	__builtin_memset(s->path, 0, sizeof(s->path));
	if (plen > PROBE_HTTP_PATH_LEN)
		plen = PROBE_HTTP_PATH_LEN;
	s->path_len = plen;
	bpf_probe_read_kernel(s->path, plen, &sb->b[HTTP_OFF(poff)]);
	h->count++;
}

/* Client side: remember the Host header this connection last sent. */
static __always_inline void http_keep_host(struct probe_http_conn *h, struct sock_buf *sb,
					   struct http_scratch *r)
{
	__u32 len = r->host_len, off = r->host_off;

	if (!r->host_line || !len)
		return;
	if (len > PROBE_HTTP_HOST_LEN)
		len = PROBE_HTTP_HOST_LEN;
	__builtin_memset(h->host, 0, sizeof(h->host));
	bpf_probe_read_kernel(h->host, len, &sb->b[HTTP_OFF(off)]);
	h->host_len = len;
	h->host_flags = r->host_flags;
}

/* The oldest request has its response: one record to userspace. */
static __always_inline void http_emit(const struct probe_conn *c, struct probe_http_conn *h,
				      __u32 tgid, int fd, int status, __u64 now)
{
	struct probe_http_slot *s = &h->fifo[h->head & (PROBE_HTTP_FIFO - 1)];
	__u32 cpu = bpf_get_smp_processor_id();
	struct probe_http_req *e;
	void *ring;

	ring = bpf_map_lookup_elem(&http_rings, &cpu);
	if (!ring) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_RB_DROP);
		return;
	}
	e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_RB_DROP);
		return;
	}
	/* probe_fill_hdr() minus three helper calls: see probe_http_conn */
	e->hdr.type = PROBE_REC_HTTP_REQ;
	e->hdr.version = PROBE_HTTP_VERSION;
	e->hdr.flags = 0;
	e->hdr.size = sizeof(*e);
	e->hdr.ts_ns = now;
	e->hdr.pid = tgid;
	e->hdr.tid = (__u32)bpf_get_current_pid_tgid();
	e->hdr.cgroup_id = h->cgroup_id;
	__builtin_memcpy(e->hdr.comm, h->comm, sizeof(e->hdr.comm));
	e->start_ns = s->ts;
	e->duration_ns = now > s->ts ? now - s->ts : 0;
	e->fd = fd;
	e->status = status;
	e->method = s->method;
	e->role = c->role;
	e->family = c->family;
	e->flags = s->flags;
	e->path_len = s->path_len;
	e->lport = c->lport;
	e->rport = c->rport;
	__builtin_memcpy(e->laddr, c->laddr, sizeof(e->laddr));
	__builtin_memcpy(e->raddr, c->raddr, sizeof(e->raddr));
	__builtin_memcpy(e->path, s->path, sizeof(e->path));
	if (c->role == PROBE_ROLE_CLIENT) {
		e->host_len = h->host_len;
		e->flags |= h->host_flags;
		__builtin_memcpy(e->host, h->host, sizeof(e->host));
	} else {
		e->host_len = 0;
		__builtin_memset(e->host, 0, sizeof(e->host));
	}
	__builtin_memcpy(e->exe, h->exe, sizeof(e->exe));
	bpf_ringbuf_submit(e, probe_rb_flags(ring));
	probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_RECORDS);
}

static __always_inline void http_pop(struct probe_http_conn *h)
{
	h->head = (h->head + 1) & (PROBE_HTTP_FIFO - 1);
	h->count--;
}

/*
 * The k-th request of a payload, at off (server: read; client: write).
 * Returns the offset where the next one would start (past this one's
 * headers and Content-Length), 0 when there is none to look for. Global,
 * so the verifier checks one request once rather than each pass of the
 * caller's loop with every path through the ones before it.
 */
__noinline int http_request_at(struct probe_http_conn *h, __u32 off, __u32 n, __u32 cut, __u32 k)
{
	struct http_scratch *r = http_scratch_get();
	struct sock_buf *sb = sock_buf_get();
	struct probe_conn *c;
	int ret;

	if (!h || !r || !sb)
		return 0;
	c = &h->id;
	ret = http_parse_request(off, n, cut);
	if (ret == 0)
		return 0;	/* not a request start: headers or body going on */
	if (ret < 0) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_UNPARSED);
		/* the server may still answer it (400): that answer is not timed */
		if (c->role == PROBE_ROLE_SERVER && h->skip_resp < 255)
			h->skip_resp++;
		return 0;
	}
	if (!k)
		r->ts = bpf_ktime_get_ns();
	http_push(h, sb, r, r->ts, k ? PROBE_HTTP_F_PIPELINED : 0);
	if (!k && c->role == PROBE_ROLE_SERVER)
		http_learn_port(c->lport);
	if (c->role == PROBE_ROLE_SERVER) {
		/* headers ending where the bytes do: nothing follows, whatever the fields say */
		ret = http_hdr_end(off, n);
		if (ret <= 0 || (__u32)ret >= n)
			return 0;
	}
	off = http_scan_headers(off, n);
	if (c->role == PROBE_ROLE_CLIENT)
		http_keep_host(h, sb, r);
	if (!off)
		return 0;
	off += r->clen;
	if (off >= n)
		return 0;
	return (int)off;
}

/*
 * Requests in the payload. Pipelined ones follow each other within the
 * window: each is found at the previous one's header end plus its
 * Content-Length.
 */
static __always_inline void http_requests(struct probe_http_conn *h, __u32 n, __u32 cut)
{
	__u32 off = 0, k;

	for (k = 0; k < PROBE_HTTP_FIFO; k++) {
		off = (__u32)http_request_at(h, off, n, cut, k);
		if (!off)
			return;
	}
}

/* After a 101: the socket speaks something else from now on. */
static __always_inline void http_upgraded(__u64 key)
{
	struct probe_conn *c = bpf_map_lookup_elem(&conns, &key);

	if (c)
		c->proto = PROBE_PROTO_NONE;
	if (!bpf_map_delete_elem(&http_conns, &key))
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_DEL);
}

/*
 * The response at off (server: write; client: read). Returns the offset
 * where the next one would start, 0 when there is none to look for: the
 * usual keep-alive case stops after one; with more requests in flight the
 * next response is looked for past this one's headers and body. Global,
 * for the reason http_request_at() is.
 */
__noinline int http_response_at(struct probe_http_conn *h, __u64 key, __u32 off, __u32 n, int fd)
{
	struct http_scratch *r = http_scratch_get();
	struct sock_buf *sb = sock_buf_get();
	__u8 method = PROBE_HTTP_M_UNKNOWN;
	struct probe_conn *c;
	int status, interim;
	__u32 end;

	if (!h || !r || !sb)
		return 0;
	c = &h->id;
	if (n > PROBE_SOCK_SCAN)
		n = PROBE_SOCK_SCAN;
	if (off >= n)
		return 0;
	status = http_status(&sb->b[HTTP_OFF(off)], n - off);
	if (status == 0)
		return 0;	/* body bytes */
	if (status < 0) {
		/* "HTTP/1.1 2" and the connection closed: never timed */
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_UNPARSED);
		if (h->count)
			http_pop(h);
		return 0;
	}
	interim = status < 200 && status != 101;
	if (!interim) {
		if (h->count) {
			if (!r->ts)
				r->ts = bpf_ktime_get_ns();
			method = h->fifo[h->head & (PROBE_HTTP_FIFO - 1)].method;
			http_emit(c, h, key >> 32, fd, status, r->ts);
			http_pop(h);
		} else if (h->skip_resp) {
			h->skip_resp--;
		} else {
			probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_ORPHAN);
		}
	}
	if (status == 101) {
		/* Switching Protocols: no longer HTTP/1.x on this socket */
		http_upgraded(key);
		return 0;
	}
	if (!interim && !h->count)
		return 0;
	end = http_scan_headers(off, n);
	if (!end)
		return 0;
	off = end;
	/* no body: HEAD, 1xx, 204, 304 */
	if (method != PROBE_HTTP_M_HEAD && !interim && status != 204 && status != 304)
		off += r->clen;
	return off < n ? (int)off : 0;
}

static __always_inline void http_responses(struct probe_http_conn *h, __u64 key, __u32 n, int fd)
{
	struct http_scratch *r = http_scratch_get();
	__u32 off = 0, k;

	if (!r)
		return;
	r->ts = 0;
	for (k = 0; k < PROBE_HTTP_FIFO; k++) {
		off = (__u32)http_response_at(h, key, off, n, fd);
		if (!off)
			return;
	}
}

/*
 * A new HTTP state for the connection c describes, with its owner's
 * identity read once. Global: its stack frame stays out of the callers'.
 * Returns 0, or -1 when there is no room.
 */
__noinline int http_conn_new(__u64 key, const struct probe_conn *c)
{
	struct probe_http_conn *h, *zero = http_conn_zero();
	struct sock_owner o = {};

	if (!zero || !c)
		return -1;
	if (bpf_map_update_elem(&http_conns, &key, zero, BPF_NOEXIST))
		return 0;	/* a racing thread's is there */
	probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_NEW);
	h = bpf_map_lookup_elem(&http_conns, &key);
	if (!h)
		return -1;
	sock_owner(&o);
	__builtin_memcpy(h->comm, o.comm, sizeof(h->comm));
	__builtin_memcpy(h->exe, o.exe, sizeof(h->exe));
	h->cgroup_id = o.cgroup_id;
	__builtin_memcpy(&h->id, c, sizeof(h->id));
	return 0;
}

/* The HTTP state of the connection c describes, created on first use. */
static __always_inline struct probe_http_conn *http_conn_get(__u64 key,
							     const struct probe_conn *c)
{
	struct probe_http_conn *h = bpf_map_lookup_elem(&http_conns, &key);

	if (h)
		return h;
	http_conn_new(key, c);
	return bpf_map_lookup_elem(&http_conns, &key);
}

/*
 * Bytes that are not HTTP, read on a port that serves HTTP: counted as
 * unparsed, and the server's answer to them (a 400, say) is not timed.
 */
static __always_inline void http_garbage(struct probe_conn *c, __u64 key)
{
	struct probe_http_conn *h;

	probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_UNPARSED);
	c->proto = PROBE_PROTO_HTTP;
	c->role = PROBE_ROLE_SERVER;
	h = http_conn_get(key, c);
	if (h && h->skip_resp < 255)
		h->skip_resp++;
}

/*
 * A read or write on an HTTP connection. Requests are copied in full
 * (pipelined ones follow within the window); a response only as far as
 * its status line unless more requests are in flight or it is an interim
 * 1xx, when the next response may follow in the same payload. Global: the
 * verifier checks it once, whatever state its caller is in.
 */
__noinline int http_data(struct probe_http_conn *h, const struct sock_io *io)
{
	struct sock_buf *sb = sock_buf_get();
	struct probe_conn *c;
	__u32 n;
	int st;

	if (!h || !io || !sb)
		return 0;
	c = &h->id;
	if ((c->role == PROBE_ROLE_SERVER) == io->in) {
		n = sock_copy(sb, io, PROBE_SOCK_SCAN);
		if (n)
			http_requests(h, n, io->total > n);
		return 0;
	}
	n = sock_copy(sb, io, h->count > 1 ? PROBE_SOCK_SCAN : SOCK_PEEK);
	if (!n)
		return 0;
	if (n == SOCK_PEEK && io->ulen > n) {
		st = http_status(sb->b, n);
		if (st >= 100 && st < 200 && st != 101)
			n = sock_copy(sb, io, PROBE_SOCK_SCAN);
	}
	if (n)
		http_responses(h, io->key, n, io->fd);
	return 0;
}

/* A new connection on this (tgid, fd), or the old one closed. */
static __always_inline void http_forget(__u64 key)
{
	struct probe_http_conn *h = bpf_map_lookup_elem(&http_conns, &key);
	__u32 idx = PROBE_SOCK_STAT_HTTP_UNANSWERED;
	__u64 *v;

	if (!h)
		return;
	if (h->count) {
		v = bpf_map_lookup_elem(&stats, &idx);
		if (v)
			*v += h->count;
	}
	if (!bpf_map_delete_elem(&http_conns, &key))
		probe_stat_inc(&stats, PROBE_SOCK_STAT_HTTP_DEL);
}

#endif
