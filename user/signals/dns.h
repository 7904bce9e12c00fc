/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dns: DNS answer records of the socket capture (include/probe/dns.h,
 * bpf/sockets/dns.bpf.h), run by the http signal whose rings carry them.
 * Each answer's addresses are named in the probe's peer_names (the
 * question's name), which the conn, database and HTTP client families use
 * for their destination labels when nothing better names the peer.
 */
#ifndef PROBE_SIGNALS_DNS_H
#define PROBE_SIGNALS_DNS_H

#include <stddef.h>

struct peer_names;

int dns__is_record(const void *data, size_t len);
/*
 * Name the addresses of one answer record. 0; -ENOENT for a response that
 * names no address (an error, a CNAME only); -EINVAL for a malformed record
 * or message (counted as unparsed by the caller).
 */
int dns__record(struct peer_names *pn, const void *data, size_t len);

#endif
