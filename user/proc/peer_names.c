/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proc/dns_msg.h"
#include "proc/peer_names.h"

/* slots probed from an address's home slot: a full window evicts its oldest */
#define PROBE_WINDOW	8

struct slot {
	uint64_t seq;			/* 0: empty; else when it was last set */
	uint8_t family;
	uint8_t addr[16];
	char name[DNS_NAME_MAX];
};

struct peer_names {
	struct slot *slots;
	unsigned int mask, used;
	uint64_t seq, added, replaced, evicted;
};

struct peer_names *peer_names__new(unsigned int cap)
{
	struct peer_names *pn = calloc(1, sizeof(*pn));
	unsigned int n = PROBE_WINDOW;

	if (!pn)
		return NULL;
	while (n < cap && n < (1U << 20))
		n <<= 1;
	pn->slots = calloc(n, sizeof(*pn->slots));
	if (!pn->slots) {
		free(pn);
		return NULL;
	}
	pn->mask = n - 1;
	return pn;
}

void peer_names__free(struct peer_names *pn)
{
	if (!pn)
		return;
	free(pn->slots);
	free(pn);
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* The key: IPv4 (also when mapped into IPv6) as 4 bytes, zero-padded. */
static int key_of(int family, const uint8_t *addr, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET6 && !memcmp(addr, v4mapped, sizeof(v4mapped))) {
		memcpy(out, addr + 12, 4);
		return AF_INET;
	}
	if (family == AF_INET) {
		memcpy(out, addr, 4);
		return AF_INET;
	}
	if (family == AF_INET6) {
		memcpy(out, addr, 16);
		return AF_INET6;
	}
	return -1;
}

static unsigned int home(int family, const uint8_t *key)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)family;
	unsigned int i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (unsigned int)(h ^ h >> 32);
}

static struct slot *find(const struct peer_names *pn, int family, const uint8_t *key)
{
	unsigned int i, at = home(family, key);

	for (i = 0; i < PROBE_WINDOW; i++) {
		struct slot *s = &pn->slots[(at + i) & pn->mask];

		if (s->seq && s->family == family && !memcmp(s->addr, key, 16))
			return s;
	}
	return NULL;
}

void peer_names__add(struct peer_names *pn, int family, const uint8_t *addr, const char *name)
{
	struct slot *s, *oldest = NULL;
	unsigned int i, at;
	uint8_t key[16];

	if (!pn || !name || !name[0] || (family = key_of(family, addr, key)) < 0)
		return;
	s = find(pn, family, key);
	if (s) {
		if (strcmp(s->name, name))
			pn->replaced++;
	} else {
		at = home(family, key);
		for (i = 0; i < PROBE_WINDOW && !s; i++) {
			struct slot *c = &pn->slots[(at + i) & pn->mask];

			if (!c->seq)
				s = c;
			else if (!oldest || c->seq < oldest->seq)
				oldest = c;
		}
		if (!s) {
			s = oldest;
			pn->evicted++;
		} else {
			pn->used++;
		}
		s->family = (uint8_t)family;
		memcpy(s->addr, key, 16);
		pn->added++;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->seq = ++pn->seq;
}

const char *peer_names__get(const struct peer_names *pn, int family, const uint8_t *addr)
{
	const struct slot *s;
	uint8_t key[16];

	if (!pn || (family = key_of(family, addr, key)) < 0)
		return NULL;
	s = find(pn, family, key);
	return s ? s->name : NULL;
}

const char *peer_names__addr(char *buf, size_t len, int family, const uint8_t *addr,
			     uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];
	uint8_t key[16];

	family = key_of(family, addr, key);
	if (family == AF_INET && inet_ntop(AF_INET, key, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, port);
	else if (family == AF_INET6 && inet_ntop(AF_INET6, key, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "?:%u", port);
	return buf;
}

const char *peer_names__format(const struct peer_names *pn, char *buf, size_t len, int family,
			       const uint8_t *addr, uint16_t port)
{
	const char *name = peer_names__get(pn, family, addr);

	if (!name)
		return peer_names__addr(buf, len, family, addr, port);
	snprintf(buf, len, "%s:%u", name, port);
	return buf;
}

void peer_names__stats(const struct peer_names *pn, struct peer_names_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!pn)
		return;
	out->added = pn->added;
	out->replaced = pn->replaced;
	out->evicted = pn->evicted;
	out->used = pn->used;
	out->cap = pn->mask + 1;
}
