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

/* --- the common callee of two wrappers (OpenSSL 3.0.19, Debian 12's libssl.so.3) --- */

/* SSL_read: sub $0x18,%rsp; canary; test %edx,%edx; js err; mov %rsp,%rcx; movslq; call */
static const uint8_t ssl_read_30[] = {
	0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00,
	0x48, 0x89, 0x44, 0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x78, 0x2f, 0x48, 0x89, 0xe1,
	0x48, 0x63, 0xd2, 0xe8, 0x3d, 0xfe, 0xff, 0xff, 0x85, 0xc0, 0x7e, 0x03, 0x8b, 0x04,
	0x24,
};
/* SSL_read_ex: sub $8,%rsp; call (its arguments as they came) */
static const uint8_t ssl_read_ex_30[] = {
	0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd, 0xff, 0xff, 0x31, 0xd2, 0x85, 0xc0, 0x0f,
	0x48, 0xc2, 0x48, 0x83, 0xc4, 0x08, 0x31, 0xd2, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff, 0xc3,
};
/* SSL_peek_ex: the same shape, another callee (ssl_peek_internal) */
static const uint8_t ssl_peek_ex_30[] = {
	0x48, 0x83, 0xec, 0x08, 0xe8, 0x37, 0xdb, 0xff, 0xff, 0x31, 0xd2,
};
/* ssl_read_internal: push %r13; push %r12; push %rbp; push %rbx; sub $0x38,%rsp */
static const uint8_t ssl_read_internal_30[] = {
	0x41, 0x55, 0x41, 0x54, 0x55, 0x53, 0x48, 0x83, 0xec, 0x38,
};
#define SSL_READ_30	0x35430
#define SSL_READ_EX_30	0x354c0
#define SSL_PEEK_EX_30	0x35580

static void test_first_call_ssl_read(void **state)
{
	uint32_t w;
	int64_t t;

	(void)state;
	assert_int_equal(uprobe_site__first_call(ssl_read_30, sizeof(ssl_read_30), &t, &w), 0);
	assert_int_equal(SSL_READ_30 + t, 0x35290);
	/* %rdi and %rsi handed on; num widened, readbytes pointed at a local */
	assert_false(w & (UPROBE_REG(UREG_RDI) | UPROBE_REG(UREG_RSI)));
	assert_true(w & UPROBE_REG(UREG_RDX));
	assert_true(w & UPROBE_REG(UREG_RCX));

	assert_int_equal(uprobe_site__first_call(ssl_read_ex_30, sizeof(ssl_read_ex_30), &t, &w),
			 0);
	assert_int_equal(SSL_READ_EX_30 + t, 0x35290);
	assert_false(w & (UPROBE_REG(UREG_RDI) | UPROBE_REG(UREG_RSI) | UPROBE_REG(UREG_RDX) |
			  UPROBE_REG(UREG_RCX)));

	/* the peek wrapper calls something else: never mistaken for the read callee */
	assert_int_equal(uprobe_site__first_call(ssl_peek_ex_30, sizeof(ssl_peek_ex_30), &t, &w),
			 0);
	assert_int_not_equal(SSL_PEEK_EX_30 + t, 0x35290);
	assert_int_equal(SSL_PEEK_EX_30 + t, 0x330c0);
}

/* The callee's first instruction is a push: one trap. */
static void test_callee_entry_emulated(void **state)
{
	struct uprobe_site s = choose(ssl_read_internal_30, sizeof(ssl_read_internal_30), -1);

	(void)state;
	assert_int_equal(s.delta, 0);
	assert_int_equal(s.emulated, 1);
	assert_non_null(strstr(s.why, "push %r13"));
	/* and the wrapper's own entry is not (sub %rsp: stays single-stepped) */
	assert_int_equal(choose(ssl_read_30, sizeof(ssl_read_30), -1).emulated, 0);
}

static void test_first_call_negative(void **state)
{
	/* a ret before any call */
	static const uint8_t ret_first[] = { 0x48, 0x83, 0xec, 0x08, 0xc3, 0xe8, 0, 0, 0, 0 };
	/* an indirect call (call *%rax) */
	static const uint8_t indirect[] = { 0x48, 0x83, 0xec, 0x08, 0xff, 0xd0, 0xe8, 0, 0, 0, 0 };
	/* a jmp inside the function: a path not followed */
	static const uint8_t jmp_in[] = { 0xeb, 0x02, 0x90, 0x90, 0xe8, 0, 0, 0, 0, 0xc3 };
	/* a tail jmp out of the function counts as its call */
	static const uint8_t tail[] = { 0x48, 0x89, 0xca, 0xe9, 0x00, 0x01, 0x00, 0x00 };
	/* the call cut off */
	static const uint8_t cut[] = { 0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd };
	/* an instruction the decoder does not know (cpuid) */
	static const uint8_t unknown[] = { 0x0f, 0xa2, 0xe8, 0, 0, 0, 0 };
	uint32_t w;
	int64_t t;

	(void)state;
	assert_int_equal(uprobe_site__first_call(ret_first, sizeof(ret_first), &t, &w), -ENOENT);
	assert_int_equal(uprobe_site__first_call(indirect, sizeof(indirect), &t, &w), -ENOENT);
	assert_int_equal(uprobe_site__first_call(jmp_in, sizeof(jmp_in), &t, &w), -ENOENT);
	assert_int_equal(uprobe_site__first_call(cut, sizeof(cut), &t, &w), -ENOENT);
	assert_int_equal(uprobe_site__first_call(unknown, sizeof(unknown), &t, &w), -ENOENT);
	assert_int_equal(uprobe_site__first_call(cut, 0, &t, &w), -ENOENT);
	assert_int_equal(uprobe_site__first_call(tail, sizeof(tail), &t, &w), 0);
	assert_int_equal(t, 8 + 0x100);
	assert_true(w & UPROBE_REG(UREG_RDX));
}

/* This machine's libssl, when there is one: the rule on the real file. */
static void test_own_libssl(void **state)
{
	static const char *const paths[] = { "/usr/lib/x86_64-linux-gnu/libssl.so.3",
					     "/usr/lib/x86_64-linux-gnu/libssl.so.1.1" };
	const uint32_t rd = UPROBE_REG(UREG_RDI) | UPROBE_REG(UREG_RSI) | UPROBE_REG(UREG_RDX) |
			    UPROBE_REG(UREG_RCX);
	struct uprobe_callee r, w, p;
	const char *lib = NULL;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]) && !lib; i++)
		if (!access(paths[i], R_OK))
			lib = paths[i];
	if (!lib)
		skip();
	if (uprobe_site__find_common_callee(lib, "SSL_read", "SSL_read_ex", rd, &r))
		skip();		/* another build: the fallback is tested by the cases below */
	assert_true(r.site.emulated);
	assert_non_null(strstr(r.why, "common callee"));
	assert_int_equal(uprobe_site__find_common_callee(lib, "SSL_write", "SSL_write_ex",
							 rd & ~UPROBE_REG(UREG_RCX), &w), 0);
	assert_true(w.vaddr != r.vaddr);
	/* peek has its own internal function: read and peek never share a site */
	assert_int_equal(uprobe_site__find_common_callee(lib, "SSL_read", "SSL_peek_ex", rd, &p),
			 -ENOENT);
	assert_non_null(strstr(p.why, "different callees"));
	assert_int_equal(uprobe_site__find_common_callee(lib, "SSL_peek", "SSL_peek_ex", rd, &p),
			 0);
	assert_true(p.vaddr != r.vaddr);
	/* SSL_read hands on a pointer of its own, not its caller's: refused as the _ex side */
	assert_int_equal(uprobe_site__find_common_callee(lib, "SSL_read_ex", "SSL_read", rd, &p),
			 -EXDEV);
	assert_int_equal(uprobe_site__find_common_callee(lib, "SSL_read", "SSL_no_such_thing", rd,
							 &p), -ENOENT);
	assert_int_equal(uprobe_site__find_common_callee("/nonexistent", "a", "b", rd, &p), -ENOENT);
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
		cmocka_unit_test(test_first_call_ssl_read),
		cmocka_unit_test(test_callee_entry_emulated),
		cmocka_unit_test(test_first_call_negative),
		cmocka_unit_test(test_own_libc),
		cmocka_unit_test(test_own_libssl),
	};

	return cmocka_run_group_tests_name("uprobe_site", tests, NULL, NULL);
}
