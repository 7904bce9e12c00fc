/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "proc/dns_msg.h"

#define HDR_LEN		12
#define QR		0x8000
#define OPCODE(f)	(((f) >> 11) & 0xf)
#define RCODE(f)	((f) & 0xf)
#define TYPE_A		1
#define TYPE_AAAA	28
#define CLASS_IN	1
/* a name has at most 127 labels; more pointer jumps than that is a loop */
#define MAX_STEPS	128

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int host_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/*
 * The name at *off: into out (when not NULL, cap DNS_NAME_MAX) and *off
 * moved past it where it stands (a pointer ends it there). 0 or -EINVAL.
 */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out)
{
	size_t pos = *off, n = 0, next = 0;
	unsigned int steps;
	int jumped = 0;

	for (steps = 0; steps < MAX_STEPS; steps++) {
		uint8_t l;

		if (pos >= len)
			return -EINVAL;
		l = msg[pos];
		if (l == 0) {
			if (!jumped)
				next = pos + 1;
			*off = next;
			if (out)
				out[n] = 0;
			return 0;
		}
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -EINVAL;
			to = (size_t)get16(msg + pos) & 0x3fff;
			if (!jumped)
				next = pos + 2;
			jumped = 1;
			if (to >= len)
				return -EINVAL;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -EINVAL;	/* extended label types: not in answers we use */
		if (pos + 1 + l > len)
			return -EINVAL;
		if (out) {
			unsigned int i;

			if (n + (n > 0) + l >= DNS_NAME_MAX)
				return -EINVAL;
			if (n)
				out[n++] = '.';
			for (i = 0; i < l; i++) {
				uint8_t c = msg[pos + 1 + i];

				if (!host_char(c))
					return -EINVAL;
				out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			}
		}
		pos += 1 + (size_t)l;
	}
	return -EINVAL;
}

int dns_msg__parse(const uint8_t *msg, size_t len, struct dns_answer *out)
{
	unsigned int qd, an, i;
	size_t off = HDR_LEN;
	uint16_t flags;

	memset(out, 0, sizeof(*out));
	if (!msg || len < HDR_LEN)
		return -EINVAL;
	flags = get16(msg + 2);
	qd = get16(msg + 4);
	an = get16(msg + 6);
	if (!(flags & QR))
		return -ENOENT;		/* a query */
	if (OPCODE(flags) != 0)
		return -EINVAL;		/* not an answer to a standard query: not from a resolver */
	if (RCODE(flags) != 0 || !qd)
		return -ENOENT;		/* NXDOMAIN, SERVFAIL, ... */
	if (read_name(msg, len, &off, out->name))
		return -EINVAL;
	if (!out->name[0] || !an)
		return -ENOENT;		/* the root, or no answer records */
	off += 4;		/* qtype, qclass */
	for (i = 1; i < qd; i++) {
		if (off > len || read_name(msg, len, &off, NULL))
			return -EINVAL;
		off += 4;
	}
	for (i = 0; i < an; i++) {
		uint16_t type, class, rdlen;

		if (off > len || read_name(msg, len, &off, NULL))
			break;	/* cut (a truncated datagram): keep what came before */
		if (off + 10 > len)
			break;
		type = get16(msg + off);
		class = get16(msg + off + 2);
		rdlen = get16(msg + off + 8);
		off += 10;
		if (off + rdlen > len)
			break;
		if (class == CLASS_IN && out->naddrs < DNS_MAX_ADDRS &&
		    ((type == TYPE_A && rdlen == 4) || (type == TYPE_AAAA && rdlen == 16))) {
			struct dns_addr *a = &out->addrs[out->naddrs++];

			a->family = type == TYPE_A ? AF_INET : AF_INET6;
			memcpy(a->addr, msg + off, rdlen);
		}
		off += rdlen;
	}
	return out->naddrs ? 0 : -ENOENT;
}
