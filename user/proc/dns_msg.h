/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * dns_msg: the name and addresses a DNS response gives (RFC 1035 4.1).
 *
 * Only what naming a peer needs: the first question's name and every A and
 * AAAA record of the answer section (the records of its CNAME chain all
 * answer that question). Input is untrusted (any process's datagram from
 * port 53): every length and compression pointer is checked against the
 * message, pointers are followed a bounded number of times, and a name is
 * kept only if its labels are hostname characters (letters, digits, '-',
 * '_'), lower-cased.
 */
#ifndef PROBE_PROC_DNS_MSG_H
#define PROBE_PROC_DNS_MSG_H

#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX	254		/* 253 characters and the NUL */
#define DNS_MAX_ADDRS	16		/* addresses kept from one answer */

struct dns_addr {
	int family;			/* AF_INET or AF_INET6 */
	uint8_t addr[16];		/* IPv4: the first 4 bytes, network order */
};

struct dns_answer {
	char name[DNS_NAME_MAX];	/* the question's name, e.g. "api.openai.com" */
	unsigned int naddrs;
	struct dns_addr addrs[DNS_MAX_ADDRS];
};

/*
 * Parse msg[0..len). Returns 0 with out filled (at least one address),
 * -ENOENT for a well-formed message that names no address (a query, an
 * error or empty answer, a truncated answer cut before its first address),
 * -EINVAL for anything malformed.
 */
int dns_msg__parse(const uint8_t *msg, size_t len, struct dns_answer *out);

#endif
