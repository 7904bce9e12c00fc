/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>

#include "probe/dns.h"
#include "proc/dns_msg.h"
#include "proc/peer_names.h"
#include "signals/dns.h"

int dns__is_record(const void *data, size_t len)
{
	const struct probe_rec_hdr *h = data;

	return len >= sizeof(*h) && h->type == PROBE_REC_DNS_ANSWER;
}

int dns__record(struct peer_names *pn, const void *data, size_t len)
{
	const struct probe_dns_answer *r = data;
	struct dns_answer a;
	unsigned int i;
	int err;

	if (len < sizeof(*r) || r->hdr.version != PROBE_DNS_VERSION ||
	    r->hdr.size != sizeof(*r) || r->len > PROBE_DNS_MSG_MAX)
		return -EINVAL;
	err = dns_msg__parse(r->msg, r->len, &a);
	if (err)
		return err;
	for (i = 0; i < a.naddrs; i++)
		peer_names__add(pn, a.addrs[i].family, a.addrs[i].addr, a.name);
	return 0;
}
