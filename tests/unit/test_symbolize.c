/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/proc/symbolize.c against live processes this test
 * owns: itself (a PIE with DWARF), libc, the vDSO, and forked children for
 * the (pid, start time) cache. No root needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "proc/symbolize.h"

/* A function with a known name whose address and a call site inside it we know. */
__attribute__((noinline)) uintptr_t sym_test_target(int x);
static volatile uintptr_t ret_in_target;

__attribute__((noinline)) static void record_return(void)
{
	ret_in_target = (uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline)) uintptr_t sym_test_target(int x)
{
	record_return();	/* SYM_TEST_CALL_LINE */
	__asm__ volatile("" ::: "memory");
	return (uintptr_t)x + ret_in_target;
}

static int call_line(void)
{
	/* the line of the record_return() call above, found in this file's source */
	FILE *f = fopen(__FILE__, "r");
	char buf[512];
	int line = 0, found = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		line++;
		if (strstr(buf, "SYM_TEST_CALL") && strstr(buf, "record_return();")) {
			found = line;
			break;
		}
	}
	fclose(f);
	return found;
}

static void test_own_function(void **state)
{
	struct symbolizer *s = symbolizer__new();
	struct sym_frame f;
	uintptr_t addr = (uintptr_t)&sym_test_target + 1;
	char buf[600];

	(void)state;
	assert_non_null(s);
	assert_int_equal(symbolizer__resolve(s, getpid(), addr, &f), 0);
	assert_string_equal(f.func, "sym_test_target");
	assert_int_equal(f.func_offset, 1);
	assert_non_null(strstr(f.module, "test_symbolize"));
	assert_non_null(strstr(f.file, "test_symbolize.c"));
	assert_true(f.line > 0);
	assert_int_equal(f.addr, addr);
	/* PIE: the module offset is the ELF vaddr, not the runtime address */
	assert_true(f.module_offset < addr);
	assert_true(sym_frame__format(&f, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "sym_test_target+0x1 (test_symbolize.c:"));
	symbolizer__free(s);
}

static void test_return_address_line(void **state)
{
	struct symbolizer *s = symbolizer__new();
	int want = call_line();
	struct sym_frame f;

	(void)state;
	assert_non_null(s);
	assert_true(want > 0);
	sym_test_target(1);
	assert_true(ret_in_target != 0);
	assert_int_equal(symbolizer__resolve_ex(s, getpid(), 0, ret_in_target, SYM_RETADDR, &f), 0);
	assert_string_equal(f.func, "sym_test_target");
	/* looked up at the call instruction, reported at the return address */
	assert_int_equal(f.addr, ret_in_target);
	assert_int_equal(f.line, want);
	symbolizer__free(s);
}

/* A shared library function: what the dynamic linker says it is, module and name. */
static void test_libc_function(void **state)
{
	struct symbolizer *s = symbolizer__new();
	pid_t (*volatile fn)(void) = getppid;	/* not wrapped by the sanitizers */
	struct sym_frame f;
	Dl_info info;

	(void)state;
	assert_non_null(s);
	assert_true(dladdr((void *)fn, &info) && info.dli_fname && info.dli_sname);
	assert_int_equal(symbolizer__resolve(s, getpid(), (uintptr_t)fn, &f), 0);
	assert_non_null(strstr(f.module, "libc"));
	assert_non_null(strstr(info.dli_fname, "libc"));
	/* the dynamic symbol table is enough, with or without debug info */
	assert_true(strstr(f.func, "getppid") != NULL);
	assert_int_equal(f.func_offset, (uintptr_t)fn - (uintptr_t)info.dli_saddr);
	symbolizer__free(s);
}

static void test_vdso_is_module_plus_offset(void **state)
{
	struct symbolizer *s = symbolizer__new();
	uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
	struct sym_frame f;
	char buf[600];

	(void)state;
	assert_non_null(s);
	if (!vdso)
		skip();
	/* the vDSO's executable page: an address inside it, not the ELF header page */
	assert_int_equal(symbolizer__resolve(s, getpid(), vdso + 0x1000 + 0x10, &f), 0);
	assert_string_equal(f.module, "[vdso]");
	assert_string_equal(f.func, "");
	sym_frame__format(&f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "[vdso]+0x"));
	symbolizer__free(s);
}

static void test_unknown_address(void **state)
{
	struct symbolizer *s = symbolizer__new();
	struct sym_frame f;
	char buf[600];

	(void)state;
	assert_non_null(s);
	assert_int_equal(symbolizer__resolve(s, getpid(), 0x10, &f), -ENOENT);
	assert_string_equal(f.module, "[unknown]");
	assert_int_equal(f.module_offset, 0x10);
	sym_frame__format(&f, buf, sizeof(buf));
	assert_string_equal(buf, "[unknown]+0x10");
	assert_int_equal(symbolizer__resolve(NULL, getpid(), 0x10, &f), -EINVAL);
	assert_int_equal(symbolizer__resolve(s, 0, 0x10, &f), -EINVAL);
	symbolizer__free(s);
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_dead_process(void **state)
{
	struct symbolizer *s = symbolizer__new();
	uintptr_t addr = (uintptr_t)&sym_test_target;
	struct sym_frame f;
	pid_t child;
	uint64_t st;

	(void)state;
	assert_non_null(s);
	/* never seen and gone: nothing to resolve against */
	child = spawn_sleeper();
	reap(child);
	assert_int_equal(symbolizer__resolve(s, child, addr, &f), -ESRCH);
	assert_string_equal(f.module, "[unknown]");

	/* seen alive (mappings cached ahead), then gone: they still resolve */
	child = spawn_sleeper();
	st = sym_start_time(child);
	assert_true(st > 0);
	assert_int_equal(symbolizer__prepare(s, child, st), 0);
	assert_int_equal(symbolizer__prepare(s, child, st + 1), -ESRCH);
	assert_int_equal(symbolizer__resolve_ex(s, child, st, addr, 0, &f), 0);
	assert_string_equal(f.func, "sym_test_target");
	reap(child);
	assert_int_equal(sym_start_time(child), 0);
	assert_int_equal(symbolizer__resolve_ex(s, child, st, addr, 0, &f), 0);
	assert_string_equal(f.func, "sym_test_target");
	/* another instance of that pid (a different start time) is never confused with it */
	assert_int_equal(symbolizer__resolve_ex(s, child, st + 1, addr, 0, &f), -ESRCH);
	symbolizer__forget(s, child);
	assert_int_equal(symbolizer__resolve_ex(s, child, st, addr, 0, &f), -ESRCH);
	symbolizer__free(s);
}

static void test_start_time(void **state)
{
	(void)state;
	assert_true(sym_start_time(getpid()) > 0);
	assert_int_equal(sym_start_time(getpid()), sym_start_time(getpid()));
	assert_int_equal(sym_start_time(0x7ffffff0), 0);
}

/* Many processes: the bounded cache evicts and keeps working. */
static void test_many_processes(void **state)
{
	struct symbolizer *s = symbolizer__new();
	uintptr_t addr = (uintptr_t)&sym_test_target;
	struct sym_frame f;
	pid_t kids[80];
	int i;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < 80; i++)
		kids[i] = spawn_sleeper();
	for (i = 0; i < 80; i++) {
		assert_int_equal(symbolizer__resolve(s, kids[i], addr, &f), 0);
		assert_string_equal(f.func, "sym_test_target");
	}
	for (i = 0; i < 80; i++)
		reap(kids[i]);
	symbolizer__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_function),
		cmocka_unit_test(test_return_address_line),
		cmocka_unit_test(test_libc_function),
		cmocka_unit_test(test_vdso_is_module_plus_offset),
		cmocka_unit_test(test_unknown_address),
		cmocka_unit_test(test_dead_process),
		cmocka_unit_test(test_start_time),
		cmocka_unit_test(test_many_processes),
	};

	return cmocka_run_group_tests_name("symbolize", tests, NULL, NULL);
}
