/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target: DNS responses (user/proc/dns_msg.c) as any process's
 * datagram from port 53 may carry them, then into peer_names. A name kept
 * must be a lower-case host name; the destination text is always terminated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/dns_msg.h"
#include "proc/peer_names.h"

static void die(const char *what, const char *name)
{
	fprintf(stderr, "dns: %s: %s\n", what, name);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct peer_names *pn;
	struct dns_answer a;
	char buf[DNS_NAME_MAX + 16];
	uint8_t *msg;
	unsigned int i;
	size_t k;
	int ret;

	if (!pn && !(pn = peer_names__new(64)))
		die("setup", "");
	msg = malloc(size ? size : 1);	/* exactly its size: ASan sees any overread */
	if (!msg)
		return 0;
	memcpy(msg, data, size);
	ret = dns_msg__parse(msg, size, &a);
	free(msg);
	if (ret && ret != -22 && ret != -2)
		die("unexpected return", "");
	if (ret)
		return 0;
	if (!a.name[0] || a.naddrs == 0 || a.naddrs > DNS_MAX_ADDRS)
		die("an answer without a name or addresses", a.name);
	for (k = 0; a.name[k]; k++) {
		char c = a.name[k];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			die("a character no host name has", a.name);
	}
	for (i = 0; i < a.naddrs; i++) {
		peer_names__add(pn, a.addrs[i].family, a.addrs[i].addr, a.name);
		peer_names__format(pn, buf, sizeof(buf), a.addrs[i].family, a.addrs[i].addr, 443);
		if (!memchr(buf, 0, sizeof(buf)))
			die("not terminated", "");
	}
	return 0;
}
