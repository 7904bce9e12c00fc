/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * DNS answers seen by the socket capture: what a process was told a name's
 * addresses are, so that its later connections to those addresses are
 * labelled with the name it asked for (OpenTelemetry's server.address is
 * the name the client used, not a reverse lookup), when neither TLS SNI nor
 * an HTTP Host header names them.
 *
 * The kernel copies the first bytes of each datagram read from a UDP
 * socket connected to port 53 (the way glibc's and most stub resolvers
 * talk to their server) and userspace parses them (user/proc/dns_msg.c);
 * only the question name and the A/AAAA addresses of the answer are kept.
 */
#ifndef PROBE_DNS_H
#define PROBE_DNS_H

#include "record.h"

#define PROBE_DNS_VERSION	1
#define PROBE_DNS_PORT		53
/* bytes of a response kept: DNS over UDP without EDNS0 fits in 512 */
#define PROBE_DNS_MSG_MAX	512

enum probe_dns_rec_type {
	PROBE_REC_DNS_ANSWER = PROBE_REC_DNS_BASE,	/* struct probe_dns_answer */
};

struct probe_dns_answer {
	struct probe_rec_hdr hdr;
	__u32 len;		/* bytes in msg */
	__u32 total;		/* bytes the datagram had (more than len: cut) */
	__u8 msg[PROBE_DNS_MSG_MAX];
};
PROBE_ASSERT_SIZE(struct probe_dns_answer, 48 + 8 + PROBE_DNS_MSG_MAX);

#endif
