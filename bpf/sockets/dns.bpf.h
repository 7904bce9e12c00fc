/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * DNS answers (include/probe/dns.h): the datagrams a process reads from a
 * UDP socket connected to port 53, copied whole (up to PROBE_DNS_MSG_MAX)
 * for userspace to parse. Resolvers send a query or two per name and
 * cache the answer, so this runs a few times a second on a busy host, and
 * never on the TCP request path.
 *
 * An fd's entry in `conns` outlives its socket (close is not hooked), and
 * a UDP socket has no state change that would forget it; so before each
 * copy the fd is resolved again and must still hold the same socket: a file
 * or pipe that took the fd number is forgotten, never read.
 */
#ifndef PROBE_SOCKETS_DNS_BPF_H
#define PROBE_SOCKETS_DNS_BPF_H

#include "probe/dns.h"

/* Global: verified once, and its copy of sock_resolve() stays out of the hooks. */
__noinline int dns_read(const struct sock_io *io, __u64 sk)
{
	__u32 cpu = bpf_get_smp_processor_id(), n;
	struct probe_conn now = {};
	struct probe_dns_answer *e;
	void *ring;

	if (!io)
		return 0;
	if (sock_resolve(io->fd, &now) != 1 || now.sk != sk) {
		conn_forget(io->key);
		return 0;
	}
	if (!io->ubuf || !io->ulen)
		return 0;
	ring = bpf_map_lookup_elem(&http_rings, &cpu);
	if (!ring) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DNS_RB_DROP);
		return 0;
	}
	e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		probe_stat_inc(&stats, PROBE_SOCK_STAT_DNS_RB_DROP);
		return 0;
	}
	n = io->ulen < PROBE_DNS_MSG_MAX ? (__u32)io->ulen : PROBE_DNS_MSG_MAX;
	asm volatile("" : "+r"(n));
	n &= PROBE_DNS_MSG_MAX * 2 - 1;
	if (n > PROBE_DNS_MSG_MAX || bpf_probe_read_user(e->msg, n, (const void *)io->ubuf)) {
		bpf_ringbuf_discard(e, 0);
		probe_stat_inc(&stats, PROBE_SOCK_STAT_READ_FAULT);
		return 0;
	}
	probe_fill_hdr(&e->hdr, PROBE_REC_DNS_ANSWER, PROBE_DNS_VERSION, sizeof(*e));
	e->len = n;
	e->total = io->total > 0xffffffffULL ? 0xffffffffU : (__u32)io->total;
	bpf_ringbuf_submit(e, probe_rb_flags(ring));
	probe_stat_inc(&stats, PROBE_SOCK_STAT_DNS_RECORDS);
	return 0;
}

#endif
