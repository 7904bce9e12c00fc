/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The socket capture's shared handler and protocol parsers
 * (bpf/sockets/handler.bpf.h), compiled for the host, with the BPF helpers
 * they use implemented over ordinary memory. Used by the unit tests of the
 * handler's interface (tests/unit/test_sockets.c) and by the fuzzers
 * (tests/fuzz/). Include once per program, with tests/fuzz/shim before
 * bpf/ on the include path (see lib/common.bpf.h here).
 *
 *   shim_reset()          empty every map, record and counter
 *   shim_conn(...)        a connection as the hook would have found it
 *   shim_io(...)          one read or write through sock_handle(), as the
 *                         hooks call it
 *   shim_recs[], shim_nrecs  ring-buffer records submitted since the reset
 *   shim_stat(i)          a counter of enum probe_sock_stat
 *
 * What the shim does not model: concurrency, LRU order (a full hash table
 * evicts its oldest slot), the verifier. Memory a parser is handed (map
 * values, buffers, records) is allocated at its exact size so that
 * AddressSanitizer reports any access past it; deleted map values are
 * kept until the next reset, as RCU keeps them for a running BPF program.
 */
#ifndef PROBE_SHIM_SOCKETS_HOST_H
#define PROBE_SHIM_SOCKETS_HOST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockets/handler.bpf.h"

#define SHIM_MAX_MAPS	32
#define SHIM_HASH_CAP	64	/* entries per hash map: a test needs a few */
#define SHIM_MAX_RECS	64
#define SHIM_REC_MAX	512
#define SHIM_GRAVE	4096

struct shim_map {
	void *id;
	const char *name;
	int type;
	__u32 ksz, vsz, max, cap;
	unsigned char *arr;		/* array maps: max values */
	unsigned char *keys;		/* hash maps: cap keys */
	void **vals;			/* hash maps: cap values, NULL = free */
	unsigned long long *age;	/* hash maps: insertion order, for eviction */
};

struct shim_rec {
	__u32 size;
	__u32 pad;
	unsigned char data[SHIM_REC_MAX] __attribute__((aligned(8)));
};

static struct shim_map shim_maps[SHIM_MAX_MAPS];
static int shim_nmaps;
static void *shim_grave[SHIM_GRAVE];
static unsigned int shim_ngrave;
static unsigned long long shim_clock, shim_inserts;
static struct shim_rec shim_recs[SHIM_MAX_RECS];
static unsigned int shim_nrecs, shim_recs_lost;
static int shim_ring_token;
static __u32 shim_tgid = 4242;

static void shim_die(const char *what)
{
	fprintf(stderr, "shim: %s\n", what);
	abort();
}

static void shim_map_add(void *id, const char *name, int type, __u32 ksz, __u32 vsz, __u32 max)
{
	struct shim_map *m;

	if (shim_nmaps == SHIM_MAX_MAPS)
		shim_die("too many maps");
	m = &shim_maps[shim_nmaps++];
	m->id = id;
	m->name = name;
	m->type = type;
	m->ksz = ksz;
	m->vsz = vsz;
	m->max = max;
	if (type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		m->arr = calloc(max, vsz);
		if (!m->arr)
			shim_die("out of memory");
		return;
	}
	m->cap = max < SHIM_HASH_CAP ? max : SHIM_HASH_CAP;
	m->keys = calloc(m->cap, ksz);
	m->vals = calloc(m->cap, sizeof(*m->vals));
	m->age = calloc(m->cap, sizeof(*m->age));
	if (!m->keys || !m->vals || !m->age)
		shim_die("out of memory");
}

/* A BTF-style map definition: its type, sizes and capacity from the declaration. */
#define SHIM_MAP(m)							\
	shim_map_add(&(m), #m, (int)(sizeof(*(m).type) / sizeof(int)), sizeof(*(m).key), \
		     sizeof(*(m).value), (__u32)(sizeof(*(m).max_entries) / sizeof(int)))

static struct shim_map *shim_find(void *id)
{
	int i;

	for (i = 0; i < shim_nmaps; i++)
		if (shim_maps[i].id == id)
			return &shim_maps[i];
	shim_die("unknown map");
	return NULL;
}

static void shim_bury(void *v)
{
	if (shim_ngrave == SHIM_GRAVE) {
		free(v);	/* a test this long does not hold old pointers */
		return;
	}
	shim_grave[shim_ngrave++] = v;
}

static int shim_slot(struct shim_map *m, const void *key)
{
	__u32 i;

	for (i = 0; i < m->cap; i++)
		if (m->vals[i] && !memcmp(m->keys + (size_t)i * m->ksz, key, m->ksz))
			return (int)i;
	return -1;
}

static void *bpf_map_lookup_elem(void *map, const void *key)
{
	struct shim_map *m = shim_find(map);
	__u32 idx;
	int i;

	if (m->type == BPF_MAP_TYPE_ARRAY_OF_MAPS)
		return &shim_ring_token;
	if (m->arr) {
		memcpy(&idx, key, sizeof(idx));
		return idx < m->max ? m->arr + (size_t)idx * m->vsz : NULL;
	}
	i = shim_slot(m, key);
	return i < 0 ? NULL : m->vals[i];
}

static long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
{
	struct shim_map *m = shim_find(map);
	__u32 idx, i, oldest = 0;
	int at;

	if (m->arr) {
		memcpy(&idx, key, sizeof(idx));
		if (idx >= m->max)
			return -E2BIG;
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memcpy(m->arr + (size_t)idx * m->vsz, value, m->vsz);
		return 0;
	}
	at = shim_slot(m, key);
	if (at >= 0) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memcpy(m->vals[at], value, m->vsz);
		return 0;
	}
	if (flags == BPF_EXIST)
		return -2;	/* -ENOENT */
	for (i = 0; i < m->cap; i++)
		if (!m->vals[i])
			break;
	if (i == m->cap) {
		if (m->type != BPF_MAP_TYPE_LRU_HASH)
			return -E2BIG;
		for (i = 1; i < m->cap; i++)
			if (m->age[i] < m->age[oldest])
				oldest = i;
		i = oldest;
		shim_bury(m->vals[i]);
		m->vals[i] = NULL;
	}
	m->vals[i] = malloc(m->vsz);
	if (!m->vals[i])
		shim_die("out of memory");
	memcpy(m->vals[i], value, m->vsz);
	memcpy(m->keys + (size_t)i * m->ksz, key, m->ksz);
	m->age[i] = ++shim_inserts;
	return 0;
}

static long bpf_map_delete_elem(void *map, const void *key)
{
	struct shim_map *m = shim_find(map);
	int at;

	if (m->arr)
		return -22;	/* -EINVAL */
	at = shim_slot(m, key);
	if (at < 0)
		return -2;
	shim_bury(m->vals[at]);
	m->vals[at] = NULL;
	return 0;
}

static long bpf_probe_read_user(void *dst, __u32 size, const void *src)
{
	memcpy(dst, src, size);
	return 0;
}

static long bpf_probe_read_kernel(void *dst, __u32 size, const void *src)
{
	memcpy(dst, src, size);
	return 0;
}

static __u64 bpf_ktime_get_ns(void)
{
	return shim_clock += 1000;
}

static __u32 bpf_get_smp_processor_id(void)
{
	return 0;
}

static __u64 bpf_get_current_pid_tgid(void)
{
	return (__u64)shim_tgid << 32 | shim_tgid;
}

static void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags)
{
	__u32 *p;

	if (ringbuf != &shim_ring_token || flags || !size || size > SHIM_REC_MAX)
		shim_die("bad ring-buffer reserve");
	/* the size in front, then exactly size bytes for the record */
	p = malloc(sizeof(__u64) + size);
	if (!p)
		shim_die("out of memory");
	p[0] = (__u32)size;
	return (char *)p + sizeof(__u64);
}

static void bpf_ringbuf_submit(void *data, __u64 flags)
{
	char *p = (char *)data - sizeof(__u64);
	__u32 size;

	(void)flags;
	memcpy(&size, p, sizeof(size));
	if (shim_nrecs < SHIM_MAX_RECS) {
		shim_recs[shim_nrecs].size = size;
		memcpy(shim_recs[shim_nrecs].data, data, size);
		shim_nrecs++;
	} else {
		shim_recs_lost++;
	}
	free(p);
}

static __u64 bpf_ringbuf_query(void *ringbuf, __u64 flags)
{
	(void)ringbuf;
	(void)flags;
	return 0;
}

static void sock_owner(struct sock_owner *o)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->comm, "shim-comm", 10);
	memcpy(o->exe, "shim-exe", 9);
	o->cgroup_id = 1;
}

/* Every map the handler and parsers declare. Call once, before anything else. */
static void shim_init(void)
{
	if (shim_nmaps)
		return;
	SHIM_MAP(conns);
	SHIM_MAP(stats);
	SHIM_MAP(sock_bufs);
	SHIM_MAP(http_conns);
	SHIM_MAP(http_zero);
	SHIM_MAP(http_scratch_map);
	SHIM_MAP(http_ports);
	SHIM_MAP(db_conns);
	SHIM_MAP(db_zero);
	SHIM_MAP(db_ports);
	SHIM_MAP(db_scratch_map);
	shim_map_add(&http_rings, "http_rings", BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 1);
}

static void shim_reset(void)
{
	int i;
	__u32 j;

	shim_init();
	for (i = 0; i < shim_nmaps; i++) {
		struct shim_map *m = &shim_maps[i];

		if (m->arr) {
			memset(m->arr, 0, (size_t)m->max * m->vsz);
			continue;
		}
		for (j = 0; j < m->cap; j++) {
			free(m->vals ? m->vals[j] : NULL);
			if (m->vals)
				m->vals[j] = NULL;
		}
	}
	while (shim_ngrave)
		free(shim_grave[--shim_ngrave]);
	shim_nrecs = 0;
	shim_recs_lost = 0;
	shim_clock = 0;
}

static __u64 shim_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	return v ? *v : 0;
}

/* A connection the hook found (as conn_new() leaves it), proto and role set or not. */
static struct probe_conn *shim_conn(__u64 key, __u8 proto, __u8 role, __u16 lport, __u16 rport)
{
	struct probe_conn c = {
		.proto = proto,
		.role = role,
		.family = 2,
		.flags = PROBE_CONN_F_SOCKET,
		.lport = lport,
		.rport = rport,
		.laddr = { 127, 0, 0, 1 },
		.raddr = { 127, 0, 0, 1 },
		.sk = 0xffff888000001000ULL,
	};

	bpf_map_update_elem(&conns, &key, &c, BPF_ANY);
	return bpf_map_lookup_elem(&conns, &key);
}

/*
 * One payload through the handler the way sock_read/sock_write call it:
 * the HTTP state if the connection has one, else its conns entry; NONE
 * and unknown fds go nowhere. buf holds ulen bytes; total may be more
 * (further iovecs).
 */
static void shim_io(__u64 key, const void *buf, __u64 ulen, __u64 total, int in)
{
	struct probe_http_conn *h = bpf_map_lookup_elem(&http_conns, &key);
	struct probe_conn *c = NULL;
	struct sock_io io = {
		.key = key,
		.ubuf = (__u64)(unsigned long)buf,
		.ulen = ulen,
		.total = total,
		.fd = (__s32)(__u32)key,
		.in = (__u32)!!in,
	};

	if (!h) {
		c = bpf_map_lookup_elem(&conns, &key);
		if (!c || c->proto == PROBE_PROTO_NONE)
			return;
	}
	sock_handle(&io, h, c);
}

#endif
