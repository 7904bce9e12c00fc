/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/loader/uprobe_multi.c: bad arguments are refused
 * before the kernel is asked; then, where the kernel has uprobe_multi and
 * we may load programs (root), one entry link and one return link on this
 * test's own functions, called from another thread, count each site under
 * its own attach cookie: what the alloc signal relies on (session, kind
 * and slot travel in the cookie). Skipped, saying why, elsewhere.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "loader/uprobe_multi.h"
#include "proc/uprobe_site.h"

__attribute__((noinline, used)) int test_um_one(int x);
__attribute__((noinline, used)) int test_um_one(int x)
{
	__asm__ volatile("" : "+r"(x) : : "memory");
	return x + 1;
}

__attribute__((noinline, used)) int test_um_two(int x);
__attribute__((noinline, used)) int test_um_two(int x)
{
	__asm__ volatile("" : "+r"(x) : : "memory");
	return x + 2;
}

static void test_bad_arguments(void **state)
{
	uint64_t off = 0x1000;

	(void)state;
	assert_int_equal(uprobe_multi__attach(-1, "/bin/true", &off, NULL, 1, 1, 0), -EINVAL);
	assert_int_equal(uprobe_multi__attach(3, NULL, &off, NULL, 1, 1, 0), -EINVAL);
	assert_int_equal(uprobe_multi__attach(3, "/bin/true", NULL, NULL, 1, 1, 0), -EINVAL);
	assert_int_equal(uprobe_multi__attach(3, "/bin/true", &off, NULL, 0, 1, 0), -EINVAL);
	/* pid 0 is every process (host-wide TLS); a negative one is nothing */
	assert_int_equal(uprobe_multi__attach(3, "/bin/true", &off, NULL, 1, -5, 0), -EINVAL);
}

/* counts[bpf_get_attach_cookie()] += 1 in an array of 4 */
static int cookie_counter(int map_fd)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_get_attach_cookie },
		{ .code = BPF_STX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_0,
		  .off = -4 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd },
		{ 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = 2, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_0,
		  .src_reg = BPF_REG_1, .imm = BPF_ADD },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		.expected_attach_type = (enum bpf_attach_type)UPROBE_MULTI__ATTACH_TYPE,
	);

	return bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &opts);
}

static void *calls(void *arg)
{
	(void)arg;
	test_um_one(1);
	test_um_two(1);
	test_um_two(2);
	return NULL;
}

static void test_cookies_per_site(void **state)
{
	struct uprobe_func f1, f2;
	uint64_t offs[2], cookies[2] = { 1, 2 }, ret_cookie = 3, v;
	int map, prog, entry, ret;
	char why[128];
	pthread_t th;
	__u32 k;

	(void)state;
	if (geteuid())
		skip();		/* loading a program needs CAP_BPF and CAP_PERFMON */
	if (!uprobe_multi__probe(why, sizeof(why))) {
		print_message("skipped: %s\n", why);
		skip();
	}
	assert_int_equal(uprobe_site__find_func("/proc/self/exe", "test_um_one", -1, &f1), 0);
	assert_int_equal(uprobe_site__find_func("/proc/self/exe", "test_um_two", -1, &f2), 0);
	offs[0] = f1.file_off;
	offs[1] = f2.file_off;
	map = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(__u32), sizeof(__u64), 4, NULL);
	assert_true(map >= 0);
	prog = cookie_counter(map);
	assert_true(prog >= 0);
	entry = uprobe_multi__attach(prog, "/proc/self/exe", offs, cookies, 2, getpid(), 0);
	assert_true(entry >= 0);
	ret = uprobe_multi__attach(prog, "/proc/self/exe", offs, &ret_cookie, 1, getpid(), 1);
	assert_true(ret >= 0);
	assert_int_equal(pthread_create(&th, NULL, calls, NULL), 0);
	pthread_join(th, NULL);
	close(entry);
	close(ret);
	test_um_one(5);		/* detached: not counted */
	for (k = 0; k < 4; k++) {
		static const uint64_t want[4] = { 0, 1, 2, 1 };

		assert_int_equal(bpf_map_lookup_elem(map, &k, &v), 0);
		assert_int_equal(v, want[k]);
	}
	close(prog);
	close(map);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_cookies_per_site),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
