/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/proc/dns_msg.c (the answer parser) and
 * user/proc/peer_names.c (addresses to names, and the destination text).
 * Messages are built the way a resolver sends them, with compression.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "proc/dns_msg.h"
#include "proc/peer_names.h"

struct msg {
	uint8_t b[1024];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

static void header(struct msg *m, uint16_t flags, uint16_t qd, uint16_t an)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, flags);
	put16(m, qd);
	put16(m, an);
	put16(m, 0);
	put16(m, 0);
}

/* A record whose owner is a pointer to offset 12 (the question's name). */
static void answer(struct msg *m, uint16_t type, const void *rdata, uint16_t rdlen)
{
	put16(m, 0xc00c);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, rdlen);
	put(m, rdata, rdlen);
}

/* api.openai.com -> CNAME -> two A and one AAAA: all three named by the question */
static void build_openai(struct msg *m)
{
	uint8_t a1[4] = { 104, 18, 7, 192 }, a2[4] = { 104, 18, 6, 192 };
	uint8_t a6[16] = { 0x26, 0x06, 0x47, 0x00, [15] = 1 };
	struct msg cname = { .n = 0 };

	header(m, 0x8180, 1, 4);
	put_name(m, "API.OpenAI.com");
	put16(m, 1);
	put16(m, 1);
	put_name(&cname, "cdn.example.net");
	answer(m, 5, cname.b, (uint16_t)cname.n);
	answer(m, 1, a1, 4);
	answer(m, 1, a2, 4);
	answer(m, 28, a6, 16);
}

static void test_answer_with_cname_chain(void **state)
{
	struct dns_answer a;
	struct msg m;

	(void)state;
	build_openai(&m);
	assert_int_equal(dns_msg__parse(m.b, m.n, &a), 0);
	assert_string_equal(a.name, "api.openai.com");
	assert_int_equal(a.naddrs, 3);
	assert_int_equal(a.addrs[0].family, AF_INET);
	assert_int_equal(a.addrs[0].addr[0], 104);
	assert_int_equal(a.addrs[1].addr[2], 6);
	assert_int_equal(a.addrs[2].family, AF_INET6);
	assert_int_equal(a.addrs[2].addr[15], 1);
}

static void test_not_answers(void **state)
{
	struct dns_answer a;
	struct msg m;

	(void)state;
	header(&m, 0x0100, 1, 0);		/* a query */
	put_name(&m, "example.com");
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_msg__parse(m.b, m.n, &a), -ENOENT);
	header(&m, 0x8183, 1, 0);		/* NXDOMAIN */
	put_name(&m, "nothing.example");
	put16(&m, 1);
	put16(&m, 1);
	assert_int_equal(dns_msg__parse(m.b, m.n, &a), -ENOENT);
	header(&m, 0x8180, 1, 1);		/* only a TXT record */
	put_name(&m, "example.com");
	put16(&m, 16);
	put16(&m, 1);
	answer(&m, 16, "\003abc", 4);
	assert_int_equal(dns_msg__parse(m.b, m.n, &a), -ENOENT);
	assert_int_equal(dns_msg__parse(m.b, 5, &a), -EINVAL);
	memset(m.b, 0xff, 40);			/* garbage from port 53 */
	assert_int_equal(dns_msg__parse(m.b, 40, &a), -EINVAL);
	assert_int_equal(dns_msg__parse(NULL, 0, &a), -EINVAL);
}

static void test_truncated_keeps_what_came(void **state)
{
	struct dns_answer a;
	struct msg m;
	size_t full;

	(void)state;
	build_openai(&m);
	full = m.n;
	/* cut inside the AAAA record: the two A records stay */
	assert_int_equal(dns_msg__parse(m.b, full - 5, &a), 0);
	assert_int_equal(a.naddrs, 2);
	/* cut inside the question: nothing */
	assert_int_equal(dns_msg__parse(m.b, 20, &a), -EINVAL);
}

static void test_hostile_names(void **state)
{
	struct dns_answer a;
	uint8_t loop[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
			   0xc0, 0x0c };		/* the question's name points at itself */
	uint8_t fwd[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
			  0xc0, 0xff };		/* a pointer past the end */
	uint8_t ext[] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
			  0x41, 'a', 0 };	/* an extended label type */
	struct msg m;

	(void)state;
	assert_int_equal(dns_msg__parse(loop, sizeof(loop), &a), -EINVAL);
	assert_int_equal(dns_msg__parse(fwd, sizeof(fwd), &a), -EINVAL);
	assert_int_equal(dns_msg__parse(ext, sizeof(ext), &a), -EINVAL);
	/* a name with a space and a quote is not kept as a label value */
	header(&m, 0x8180, 1, 1);
	put_name(&m, "bad name\".example");
	put16(&m, 1);
	put16(&m, 1);
	answer(&m, 1, "\x7f\0\0\1", 4);
	assert_int_equal(dns_msg__parse(m.b, m.n, &a), -EINVAL);
	/* a label longer than the message */
	header(&m, 0x8180, 1, 1);
	put(&m, "\x3f" "abc", 4);
	assert_int_equal(dns_msg__parse(m.b, m.n, &a), -EINVAL);
}

static void test_peer_names(void **state)
{
	uint8_t v4[16] = { 127, 0, 0, 2 }, mapped[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 2 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 }, other[16] = { 10, 0, 0, 1 };
	struct peer_names *pn = peer_names__new(64);
	struct peer_names_stats st;
	char buf[300];

	(void)state;
	assert_non_null(pn);
	assert_null(peer_names__get(pn, AF_INET, v4));
	assert_string_equal(peer_names__format(pn, buf, sizeof(buf), AF_INET, v4, 443),
			    "127.0.0.2:443");
	peer_names__add(pn, AF_INET, v4, "api.openai.test");
	peer_names__add(pn, AF_INET6, v6, "api.anthropic.test");
	assert_string_equal(peer_names__format(pn, buf, sizeof(buf), AF_INET, v4, 443),
			    "api.openai.test:443");
	/* the same IPv4 peer reached from an IPv6 socket */
	assert_string_equal(peer_names__format(pn, buf, sizeof(buf), AF_INET6, mapped, 443),
			    "api.openai.test:443");
	assert_string_equal(peer_names__addr(buf, sizeof(buf), AF_INET6, mapped, 443),
			    "127.0.0.2:443");
	assert_string_equal(peer_names__format(pn, buf, sizeof(buf), AF_INET6, v6, 443),
			    "api.anthropic.test:443");
	assert_string_equal(peer_names__format(pn, buf, sizeof(buf), AF_INET, other, 80),
			    "10.0.0.1:80");
	assert_string_equal(peer_names__format(NULL, buf, sizeof(buf), 0, other, 80), "?:80");
	/* the latest answer wins */
	peer_names__add(pn, AF_INET, v4, "cdn.example.test");
	assert_string_equal(peer_names__get(pn, AF_INET, v4), "cdn.example.test");
	peer_names__stats(pn, &st);
	assert_int_equal(st.used, 2);
	assert_int_equal(st.replaced, 1);
	peer_names__free(pn);
}

static void test_peer_names_bounded(void **state)
{
	struct peer_names *pn = peer_names__new(16);
	struct peer_names_stats st;
	uint8_t a[16] = { 10 };
	unsigned int i, found = 0;

	(void)state;
	assert_non_null(pn);
	for (i = 0; i < 1000; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		peer_names__add(pn, AF_INET, a, "n.example");
	}
	peer_names__stats(pn, &st);
	assert_true(st.used <= st.cap);
	assert_int_equal(st.added, 1000);
	assert_int_equal(st.evicted, 1000 - st.used);
	/* the newest is always kept */
	assert_string_equal(peer_names__get(pn, AF_INET, a), "n.example");
	for (i = 0; i < 1000; i++) {
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		found += peer_names__get(pn, AF_INET, a) != NULL;
	}
	assert_int_equal(found, st.used);
	peer_names__free(pn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_with_cname_chain),
		cmocka_unit_test(test_not_answers),
		cmocka_unit_test(test_truncated_keeps_what_came),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_peer_names),
		cmocka_unit_test(test_peer_names_bounded),
	};

	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
