/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/proc/uprobe_site.c: the probe-site choice on byte
 * sequences taken from real allocator entries (and variations that must
 * keep the probe at the entry), then on this machine's own libc.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc/uprobe_site.h"

static struct uprobe_site choose(const uint8_t *code, size_t len, int null_reg)
{
	struct uprobe_site s;

	assert_int_equal(uprobe_site__choose(code, len, null_reg, &s), 0);
	return s;
}

/* glibc 2.36 free: test %rdi,%rdi; je +0xc8 (ret); push %rbp; ... */
static void free_like(uint8_t *code, size_t len, uint8_t at_target)
{
	static const uint8_t head[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00,
					0x55, 0x48, 0x8d, 0x77, 0xf0, 0x53 };

	memset(code, 0x90, len);
	memcpy(code, head, sizeof(head));
	code[0xc8] = at_target;
}

static void test_free_past_null_check(void **state)
{
	uint8_t code[0xd0];
	struct uprobe_site s;

	(void)state;
	free_like(code, sizeof(code), 0xc3);
	s = choose(code, sizeof(code), UREG_RDI);
	assert_int_equal(s.delta, 9);
	assert_int_equal(s.emulated, 1);
	assert_non_null(strstr(s.why, "push %rbp"));
	assert_non_null(strstr(s.why, "NULL check"));
}

static void test_free_repz_ret_target(void **state)
{
	uint8_t code[0xd0];

	(void)state;
	free_like(code, sizeof(code), 0xf3);
	code[0xc9] = 0xc3;
	assert_int_equal(choose(code, sizeof(code), UREG_RDI).delta, 9);
}

/* The je goes somewhere that does work: NULL calls are interesting, stay on the je. */
static void test_null_branch_not_to_ret(void **state)
{
	uint8_t code[0xd0];
	struct uprobe_site s;

	(void)state;
	free_like(code, sizeof(code), 0x48);
	s = choose(code, sizeof(code), UREG_RDI);
	assert_int_equal(s.delta, 3);
	assert_int_equal(s.emulated, 1);
	assert_non_null(strstr(s.why, "jcc"));
}

/* Not a NULL-is-a-no-op function (realloc(NULL, n) allocates): stay on the je. */
static void test_null_check_only_when_asked(void **state)
{
	uint8_t code[0xd0];

	(void)state;
	free_like(code, sizeof(code), 0xc3);
	assert_int_equal(choose(code, sizeof(code), -1).delta, 3);
	/* testing another register than the one that makes the call a no-op */
	code[2] = 0xf6;		/* test %rsi,%rsi */
	assert_int_equal(choose(code, sizeof(code), UREG_RDI).delta, 3);
}

/* A jne after the test is not the NULL exit. */
static void test_jne_is_not_skipped(void **state)
{
	uint8_t code[0xd0];

	(void)state;
	free_like(code, sizeof(code), 0xc3);
	code[4] = 0x85;		/* jne */
	assert_int_equal(choose(code, sizeof(code), UREG_RDI).delta, 3);
}

/* Target beyond what we read: cannot verify, stay on the je. */
static void test_null_target_unverifiable(void **state)
{
	uint8_t code[0xd0];

	(void)state;
	free_like(code, sizeof(code), 0xc3);
	assert_int_equal(choose(code, 0x40, UREG_RDI).delta, 3);
}

static void test_malloc_entry_push(void **state)
{
	static const uint8_t code[] = { 0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb };
	struct uprobe_site s = choose(code, sizeof(code), -1);

	(void)state;
	assert_int_equal(s.delta, 0);
	assert_int_equal(s.emulated, 1);
	assert_non_null(strstr(s.why, "push %r12"));
}

/* posix_memalign: cmpb $0x0,disp32(%rip) then push %r12 */
static void test_past_rip_relative_cmp(void **state)
{
	static const uint8_t code[] = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00,
					0x41, 0x54, 0x49, 0x89, 0xd4 };
	struct uprobe_site s = choose(code, sizeof(code), -1);

	(void)state;
	assert_int_equal(s.delta, 7);
	assert_int_equal(s.emulated, 1);
}

/* memalign: cmpb; je (the first emulated instruction is the branch itself) */
static void test_branch_is_a_site(void **state)
{
	static const uint8_t code[] = { 0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00,
					0x74, 0x07, 0xe9, 0x32, 0xf6, 0xff, 0xff };
	struct uprobe_site s = choose(code, sizeof(code), -1);

	(void)state;
	assert_int_equal(s.delta, 7);
	assert_int_equal(s.emulated, 1);
}

/* reallocarray: mov %rsi,%rax; mul %rdx: no emulated instruction reachable */
static void test_unknown_stays_at_entry(void **state)
{
	static const uint8_t code[] = { 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6 };
	struct uprobe_site s = choose(code, sizeof(code), -1);

	(void)state;
	assert_int_equal(s.delta, 0);
	assert_int_equal(s.emulated, 0);
	assert_non_null(strstr(s.why, "single-stepped"));
	assert_non_null(strstr(s.why, "+3"));
}

/* Never walk past a write to an argument, the stack pointer or the frame pointer. */
static void test_protected_registers(void **state)
{
	static const uint8_t mov_rdi[] = { 0x48, 0x89, 0xc7, 0x55 };	/* mov %rax,%rdi */
	static const uint8_t lea_rsi[] = { 0x48, 0x8d, 0x77, 0xf0, 0x55 };	/* lea -0x10(%rdi),%rsi */
	static const uint8_t sub_rsp[] = { 0x48, 0x83, 0xec, 0x08, 0x55 };	/* sub $8,%rsp */
	static const uint8_t mov_rbp[] = { 0x48, 0x89, 0xe5, 0x55 };	/* mov %rsp,%rbp */
	static const uint8_t store[] = { 0x48, 0x89, 0x07, 0x55 };	/* mov %rax,(%rdi) */
	static const uint8_t mov_rax[] = { 0x48, 0x89, 0xf8, 0x55 };	/* mov %rdi,%rax: fine */
	static const uint8_t mov_r8d[] = { 0x41, 0xb8, 1, 0, 0, 0, 0x55 };	/* mov $1,%r8d */

	(void)state;
	assert_int_equal(choose(mov_rdi, sizeof(mov_rdi), -1).delta, 0);
	assert_non_null(strstr(choose(mov_rdi, sizeof(mov_rdi), -1).why, "%rdi"));
	assert_int_equal(choose(lea_rsi, sizeof(lea_rsi), -1).delta, 0);
	assert_int_equal(choose(sub_rsp, sizeof(sub_rsp), -1).delta, 0);
	assert_int_equal(choose(mov_rbp, sizeof(mov_rbp), -1).delta, 0);
	assert_int_equal(choose(store, sizeof(store), -1).delta, 0);
	assert_int_equal(choose(mov_rax, sizeof(mov_rax), -1).delta, 3);
	assert_int_equal(choose(mov_r8d, sizeof(mov_r8d), -1).delta, 0);
}

static void test_endbr_and_nops(void **state)
{
	static const uint8_t endbr[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x55 };
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00, 0x55 };
	static const uint8_t nop1[] = { 0x90 };

	(void)state;
	assert_int_equal(choose(endbr, sizeof(endbr), -1).delta, 4);
	assert_int_equal(choose(nop5, sizeof(nop5), -1).delta, 0);
	assert_int_equal(choose(nop5, sizeof(nop5), -1).emulated, 1);
	assert_int_equal(choose(nop1, sizeof(nop1), -1).emulated, 1);
}

static void test_truncated_and_empty(void **state)
{
	static const uint8_t trunc[] = { 0x48, 0x85 };
	static const uint8_t rel32[] = { 0x0f, 0x84, 0x01 };
	struct uprobe_site s;

	(void)state;
	s = choose(trunc, sizeof(trunc), UREG_RDI);
	assert_int_equal(s.delta, 0);
	assert_int_equal(s.emulated, 0);
	assert_int_equal(choose(rel32, sizeof(rel32), -1).emulated, 0);
	assert_int_equal(choose(trunc, 0, -1).delta, 0);
}

/* --- this machine's libc --- */

static void test_own_libc(void **state)
{
	char attach[4096], shown[4096];
	struct uprobe_func m, f, bad;
	uint8_t b0, at;
	int fd;

	(void)state;
	assert_int_equal(uprobe_site__find_libc(getpid(), attach, sizeof(attach), shown,
						sizeof(shown)), 0);
	assert_non_null(strstr(shown, "libc"));
	assert_int_equal(access(attach, R_OK), 0);

	assert_int_equal(uprobe_site__find_func(attach, "malloc", -1, &m), 0);
	assert_true(m.file_off > 0 && m.size > 0);
	assert_int_equal(uprobe_site__find_func(attach, "free", UREG_RDI, &f), 0);
	assert_int_equal(uprobe_site__find_func(attach, "no_such_function_here", -1, &bad),
			 -ENOENT);

	/* whatever site was chosen for free, the byte there is the one the decoder named */
	fd = open(attach, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b0, 1, (off_t)f.file_off), 1);
	assert_int_equal(pread(fd, &at, 1, (off_t)(f.file_off + f.site.delta)), 1);
	close(fd);
	if (b0 == 0x48 && f.site.delta) {
		/* glibc's `test %rdi,%rdi` entry: the site is past the NULL check, on a push */
		assert_true(f.site.emulated);
		assert_true((at & 0xf8) == 0x50 || at == 0x41);
		assert_non_null(strstr(f.site.why, "NULL check"));
	}
	assert_int_equal(uprobe_site__find_libc(0x7ffffff0, attach, sizeof(attach), shown,
						sizeof(shown)), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_past_null_check),
		cmocka_unit_test(test_free_repz_ret_target),
		cmocka_unit_test(test_null_branch_not_to_ret),
		cmocka_unit_test(test_null_check_only_when_asked),
		cmocka_unit_test(test_jne_is_not_skipped),
		cmocka_unit_test(test_null_target_unverifiable),
		cmocka_unit_test(test_malloc_entry_push),
		cmocka_unit_test(test_past_rip_relative_cmp),
		cmocka_unit_test(test_branch_is_a_site),
		cmocka_unit_test(test_unknown_stays_at_entry),
		cmocka_unit_test(test_protected_registers),
		cmocka_unit_test(test_endbr_and_nops),
		cmocka_unit_test(test_truncated_and_empty),
		cmocka_unit_test(test_own_libc),
	};

	return cmocka_run_group_tests_name("uprobe_site", tests, NULL, NULL);
}
