/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/signals/tls.c: which mapped files are libssl, and
 * handshake records checked before use, named by their SNI, else their peer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "core/store.h"
#include "core/window.h"
#include "loader/signal.h"
#include "probe/tls.h"
#include "signals/tls.h"

static void test_is_libssl(void **state)
{
	(void)state;
	assert_true(tls__is_libssl("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
	assert_true(tls__is_libssl("/opt/app/lib/libssl.so.1.1"));
	assert_true(tls__is_libssl("libssl.so"));
	/* NSS's libssl3.so is another library; libcrypto is not probed */
	assert_false(tls__is_libssl("/usr/lib/x86_64-linux-gnu/libssl3.so"));
	assert_false(tls__is_libssl("/usr/lib/x86_64-linux-gnu/libcrypto.so.3"));
	assert_false(tls__is_libssl("/usr/lib/libssl.so.3/../libc.so.6"));

	assert_true(tls__is_gnutls("/usr/lib/x86_64-linux-gnu/libgnutls.so.30.34.3"));
	assert_true(tls__is_gnutls("/usr/lib/x86_64-linux-gnu/libgnutls.so.30"));
	assert_false(tls__is_gnutls("/usr/lib/x86_64-linux-gnu/libgnutls-openssl.so.27"));
	assert_false(tls__is_gnutls("/usr/lib/x86_64-linux-gnu/libgnutlsxx.so.30"));
	assert_false(tls__is_gnutls("/usr/lib/x86_64-linux-gnu/libgnutls-dane.so.0"));
	assert_false(tls__is_gnutls("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
}

struct seen {
	int n;
	char host[80], role[16];
	uint64_t hs, fail;
};

static int see(struct series *se, void *arg)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->host, sizeof(s->host), "%s", series__label(se, "host"));
	snprintf(s->role, sizeof(s->role), "%s", series__label(se, "role"));
	s->hs += window__total_counter(series__window(se), 0);
	s->fail += window__total_counter(series__window(se), 1);
	return 0;
}

static void test_records(void **state)
{
	struct store_opts so = { .slot_ns = 1000000000ULL, .nslots = 6 };
	struct probe_config cfg;
	struct probe_ctx ctx;
	struct probe_tls_hs r;
	struct seen seen = { 0 };
	uint64_t recs, lost;
	struct tls *t;
	char err[256];

	(void)state;
	assert_int_equal(config__load(&cfg, NULL, err, sizeof(err)), 0);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &cfg;
	ctx.filter = 1;		/* --pid with no followed process: nothing scanned */
	ctx.tracked_fd = -1;
	ctx.store = store__new(&so);
	assert_non_null(ctx.store);
	t = tls__new(&ctx, NULL);
	assert_non_null(t);

	memset(&r, 0, sizeof(r));
	r.hdr.type = PROBE_REC_TLS_HS;
	r.hdr.version = PROBE_TLS_VERSION;
	r.hdr.size = sizeof(r);
	r.hdr.ts_ns = 5000000000ULL;
	r.hdr.pid = (uint32_t)getpid();
	memcpy(r.hdr.comm, "curl", 5);
	r.role = PROBE_ROLE_CLIENT;
	r.family = AF_INET;
	r.rport = 443;
	inet_pton(AF_INET, "127.0.0.1", r.raddr);
	r.duration_ns = 2000000;
	/* a name with a control byte: sanitized, never raw into a label */
	memcpy(r.sni, "api.openai.test\n", 16);
	r.sni_len = 16;
	assert_true(tls__is_record(&r, sizeof(r)));
	assert_int_equal(tls__record(t, &r, sizeof(r)), 0);
	r.flags = PROBE_TLS_HS_F_FAILED;
	assert_int_equal(tls__record(t, &r, sizeof(r)), 0);

	/* short, wrong version, unknown side: counted, not stored */
	assert_int_equal(tls__record(t, &r, sizeof(r) - 1), 0);
	r.hdr.version = 99;
	assert_int_equal(tls__record(t, &r, sizeof(r)), 0);
	r.hdr.version = PROBE_TLS_VERSION;
	r.role = 7;
	assert_int_equal(tls__record(t, &r, sizeof(r)), 0);
	/* a new process's notice: neither a handshake nor a bad record */
	{
		struct probe_tls_proc p = { .pid = 1, .how = PROBE_TLS_PROC_EXEC };

		p.hdr.type = PROBE_REC_TLS_PROC;
		p.hdr.version = PROBE_TLS_VERSION;
		p.hdr.size = sizeof(p);
		assert_true(tls__is_record(&p, sizeof(p)));
		assert_int_equal(tls__record(t, &p, sizeof(p)), 0);
	}
	tls__counts(t, &recs, &lost);
	assert_int_equal(recs, 2);
	assert_int_equal(lost, 3);

	family__for_each(store__find_family(ctx.store, "tls_handshake"), see, &seen);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.host, "api.openai.test?");
	assert_string_equal(seen.role, "client");
	assert_int_equal(seen.hs, 1);
	assert_int_equal(seen.fail, 1);

	/* no SNI (a server's side): named by the peer */
	r.role = PROBE_ROLE_SERVER;
	r.flags = 0;
	r.sni_len = 0;
	memset(r.sni, 0, sizeof(r.sni));
	assert_int_equal(tls__record(t, &r, sizeof(r)), 0);
	memset(&seen, 0, sizeof(seen));
	family__for_each(store__find_family(ctx.store, "tls_handshake"), see, &seen);
	assert_int_equal(seen.n, 2);
	/* another client port: the same server series, not one per connection */
	r.rport = 443 + 1;
	assert_int_equal(tls__record(t, &r, sizeof(r)), 0);
	memset(&seen, 0, sizeof(seen));
	family__for_each(store__find_family(ctx.store, "tls_handshake"), see, &seen);
	assert_int_equal(seen.n, 2);

	tls__free(t);
	store__free(ctx.store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_libssl),
		cmocka_unit_test(test_records),
	};

	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
