/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * peer_names: the name each peer address was last given in a DNS answer
 * seen on this host (include/probe/dns.h), and the one way every signal
 * writes a destination: "name:port" when a name is known, else "ip:port"
 * or "[ip6]:port".
 *
 * Latest answer wins: an address shared by many names (a CDN) carries the
 * one most recently resolved to it. TTLs are not applied: a connection
 * outlives its name's TTL, and its figures should keep one label. Bounded:
 * when full, the name added longest ago is forgotten (counted).
 */
#ifndef PROBE_PROC_PEER_NAMES_H
#define PROBE_PROC_PEER_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct peer_names;

/* addresses named at once: a host's recent DNS answers */
#define PEER_NAMES_CAP		4096

/* room for any text peer_names__format() writes: a 253-byte name and ":65535" */
#define PEER_NAMES_TEXT_MAX	264

/* cap: addresses kept (rounded up to a power of two). NULL on ENOMEM. */
struct peer_names *peer_names__new(unsigned int cap);
void peer_names__free(struct peer_names *pn);

/* family AF_INET (addr's first 4 bytes) or AF_INET6; name as dns_msg gives it */
void peer_names__add(struct peer_names *pn, int family, const uint8_t *addr, const char *name);
/* The name, or NULL. pn may be NULL (no names). IPv4-mapped IPv6 is IPv4. */
const char *peer_names__get(const struct peer_names *pn, int family, const uint8_t *addr);
/* "name:port", "ip:port", "[ip6]:port", or "?:port"; buf is returned */
const char *peer_names__format(const struct peer_names *pn, char *buf, size_t len, int family,
			       const uint8_t *addr, uint16_t port);
/* The address alone as text ("ip:port" forms without the name), for the peer label */
const char *peer_names__addr(char *buf, size_t len, int family, const uint8_t *addr,
			     uint16_t port);

struct peer_names_stats {
	uint64_t added, replaced, evicted;
	unsigned int used, cap;
};
void peer_names__stats(const struct peer_names *pn, struct peer_names_stats *out);

#endif
