/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/loader/bpflog.c: the cause of a failed load taken
 * from libbpf's messages as they came on Debian 12's 6.1 kernel (a
 * verifier rejection, a CO-RE relocation that did not resolve) and from a
 * plain warning; nothing seen is -ENOENT, never an invented cause.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "loader/bpflog.h"

static const char verifier_msg[] =
	"libbpf: prog 'sys_exit_readv': -- BEGIN PROG LOAD LOG --\n"
	"0: R1=ctx(off=0,imm=0) R10=fp0\n"
	"; int sys_exit_readv(struct trace_event_raw_sys_exit *ctx)\n"
	"704: (79) r3 = *(u64 *)(r10 -120)     ; R3_w=scalar() R10=fp0\n"
	"705: (85) call bpf_probe_read_user#112\n"
	"R2 min value is negative, either use unsigned or 'var &= const'\n"
	"processed 723888 insns (limit 1000000) max_states_per_insn 32 total_states 33724\n"
	"-- END PROG LOAD LOG --\n";

static const char core_msg[] =
	"libbpf: prog 'tcp_retransmit_skb': -- BEGIN PROG LOAD LOG --\n"
	"reg type unsupported for arg#0 function tcp_retransmit_skb#208\n"
	"0: R1=ctx(off=0,imm=0) R10=fp0\n"
	"0: <invalid CO-RE relocation>\n"
	"failed to resolve CO-RE relocation <byte_off> [206] struct "
	"trace_event_raw_tcp_retransmit_skb.state (0:3 @ offset 24)\n"
	"processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0\n"
	"-- END PROG LOAD LOG --\n";

static void test_verifier_complaint(void **state)
{
	char why[256];

	(void)state;
	bpflog__begin();
	bpflog__feed(verifier_msg);
	bpflog__feed("libbpf: prog 'sys_exit_readv': failed to load: -13\n");
	bpflog__feed("libbpf: failed to load object 'sockets_bpf'\n");
	assert_int_equal(bpflog__reason(why, sizeof(why)), 0);
	assert_string_equal(why, "verifier rejected prog sys_exit_readv after 723888 insns: "
			    "R2 min value is negative, either use unsigned or 'var &= const'");
}

static void test_core_relocation(void **state)
{
	char why[256];

	(void)state;
	bpflog__begin();
	bpflog__feed(core_msg);
	assert_int_equal(bpflog__reason(why, sizeof(why)), 0);
	assert_string_equal(why, "prog tcp_retransmit_skb: failed to resolve CO-RE relocation "
			    "<byte_off> [206] struct trace_event_raw_tcp_retransmit_skb.state "
			    "(0:3 @ offset 24)");
}

static void test_two_line_complaint(void **state)
{
	char why[256];

	(void)state;
	bpflog__begin();
	bpflog__feed("libbpf: prog 'sys_exit_brk': -- BEGIN PROG LOAD LOG --\n"
		     "782: (85) call bpf_probe_read_user#112\n"
		     "invalid access to memory, mem_size=8408 off=4824 size=4095\n"
		     "R1 min value is outside of the allowed memory range\n"
		     "processed 824 insns (limit 1000000) max_states_per_insn 7\n"
		     "-- END PROG LOAD LOG --\n");
	assert_int_equal(bpflog__reason(why, sizeof(why)), 0);
	assert_string_equal(why, "verifier rejected prog sys_exit_brk after 824 insns: invalid "
			    "access to memory, mem_size=8408 off=4824 size=4095; R1 min value is "
			    "outside of the allowed memory range");
}

static void test_plain_warning_and_nothing(void **state)
{
	char why[256];

	(void)state;
	bpflog__begin();
	assert_int_equal(bpflog__reason(why, sizeof(why)), -ENOENT);
	bpflog__feed("libbpf: prog 'x': failed to find kernel BTF type ID of 'foo': -3\n");
	bpflog__feed("libbpf: failed to load BPF skeleton 'x_bpf': -3\n");
	assert_int_equal(bpflog__reason(why, sizeof(why)), 0);
	assert_string_equal(why, "prog 'x': failed to find kernel BTF type ID of 'foo': -3");
	/* begin forgets the previous load's cause */
	bpflog__begin();
	assert_int_equal(bpflog__reason(why, sizeof(why)), -ENOENT);
}

static void test_truncated_log_and_short_buffer(void **state)
{
	char why[24];

	(void)state;
	bpflog__begin();
	bpflog__feed("libbpf: prog 'p': -- BEGIN PROG LOAD LOG --\n"
		     "5: (85) call bpf_probe_read_user#112\n"
		     "invalid access to memory, mem_size=8408 off=4824 size=4095\n");
	/* no "processed" line: the last meaningful line stands */
	assert_int_equal(bpflog__reason(why, sizeof(why)), 0);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_memory_equal(why, "verifier rejected prog p", sizeof(why) - 1);
	assert_int_equal(bpflog__reason(why, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifier_complaint),
		cmocka_unit_test(test_core_relocation),
		cmocka_unit_test(test_two_line_complaint),
		cmocka_unit_test(test_plain_warning_and_nothing),
		cmocka_unit_test(test_truncated_log_and_short_buffer),
	};

	return cmocka_run_group_tests_name("bpflog", tests, NULL, NULL);
}
