/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for the userspace half of memgrowth tier 2: unwinding a copied
 * stack (proc/stack_unwind.c) and the per-process profile built from
 * samples (signals/mem_stacks.c), without BPF.
 *
 * A sample is made here the way the kernel makes it: the registers of a
 * function three calls deep (this file is built without frame pointers at
 * -O2, so only CFI can find its callers) and a copy of the stack above its
 * stack pointer, read with process_vm_readv so the copy stops where the
 * stack ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <cmocka.h>

#include "probe/mem.h"
#include "core/families.h"
#include "core/store.h"
#include "proc/stack_unwind.h"
#include "proc/symbolize.h"
#include "signals/mem_stacks.h"

#if defined(__x86_64__)

static struct probe_mem_sample sample;

/* Copy up to len bytes at addr of our own stack; stops at the end of the mapping. */
static size_t copy_stack(uint64_t addr, unsigned char *dst, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec local = { dst + done, PROBE_MEM_STACK_CHUNK };
		struct iovec remote = { (void *)(uintptr_t)(addr + done), PROBE_MEM_STACK_CHUNK };

		if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != PROBE_MEM_STACK_CHUNK)
			break;
		done += PROBE_MEM_STACK_CHUNK;
	}
	return done;
}

/* The innermost frame: registers and stack as the kernel would see them. */
__attribute__((noinline)) void capture_leaf(void)
{
	uint64_t ip, sp, bp, bx, r12, r13, r14, r15;

	__asm__ volatile("lea 0(%%rip), %0\n\t"
			 "mov %%rsp, %1\n\t"
			 "mov %%rbp, %2\n\t"
			 "mov %%rbx, %3\n\t"
			 "mov %%r12, %4\n\t"
			 "mov %%r13, %5\n\t"
			 "mov %%r14, %6\n\t"
			 "mov %%r15, %7\n\t"
			 : "=&r"(ip), "=m"(sp), "=m"(bp), "=m"(bx), "=m"(r12), "=m"(r13),
			   "=m"(r14), "=m"(r15));
	sample.regs[PROBE_MEM_REG_IP] = ip;
	sample.regs[PROBE_MEM_REG_SP] = sp;
	sample.regs[PROBE_MEM_REG_BP] = bp;
	sample.regs[PROBE_MEM_REG_BX] = bx;
	sample.regs[PROBE_MEM_REG_R12] = r12;
	sample.regs[PROBE_MEM_REG_R13] = r13;
	sample.regs[PROBE_MEM_REG_R14] = r14;
	sample.regs[PROBE_MEM_REG_R15] = r15;
	sample.stack_len = (uint32_t)copy_stack(sp, sample.stack, sizeof(sample.stack));
}

static volatile int sink;

__attribute__((noinline)) void grows_middle(int n)
{
	capture_leaf();
	sink = n;	/* not a tail call: this frame stays on the stack */
}

__attribute__((noinline)) void grows_outer(int n)
{
	grows_middle(n + 1);
	sink = n;
}

static void make_sample(void)
{
	memset(&sample, 0, sizeof(sample));
	grows_outer(1);
	sample.hdr.type = PROBE_REC_MEM_SAMPLE;
	sample.hdr.size = sizeof(sample);
	sample.hdr.pid = (uint32_t)getpid();
	sample.kind = PROBE_MEM_KIND_FAULT;
	sample.bytes = 65536;
	assert_true(sample.stack_len >= 1024);
}

static void regs_of(const struct probe_mem_sample *s, struct unwind_regs *r)
{
	r->ip = s->regs[PROBE_MEM_REG_IP];
	r->sp = s->regs[PROBE_MEM_REG_SP];
	r->bp = s->regs[PROBE_MEM_REG_BP];
	r->bx = s->regs[PROBE_MEM_REG_BX];
	r->r12 = s->regs[PROBE_MEM_REG_R12];
	r->r13 = s->regs[PROBE_MEM_REG_R13];
	r->r14 = s->regs[PROBE_MEM_REG_R14];
	r->r15 = s->regs[PROBE_MEM_REG_R15];
}

/* The function name of pc in this process, via the symbolizer. */
static const char *func_of(struct symbolizer *sym, uint64_t pc, int retaddr, char *buf,
			   size_t len)
{
	struct sym_frame f;

	buf[0] = 0;
	if (symbolizer__resolve(sym, getpid(), retaddr ? pc - 1 : pc, &f) == 0)
		snprintf(buf, len, "%s", f.func);
	return buf;
}

static void test_cfi_unwind_finds_callers(void **state)
{
	struct symbolizer *sym = symbolizer__new();
	struct unwinder *u = unwinder__new(getpid());
	uint64_t pcs[UNWIND_MAX_FRAMES];
	struct unwind_regs r;
	char name[256];
	int n, i, middle = -1, outer = -1, test = -1;

	(void)state;
	assert_non_null(sym);
	assert_non_null(u);
	make_sample();
	regs_of(&sample, &r);
	n = unwinder__unwind(u, &r, sample.stack, sample.stack_len, pcs, UNWIND_MAX_FRAMES, 1);
	assert_true(n >= 4);
	assert_true(pcs[0] == r.ip);
	assert_string_equal(func_of(sym, pcs[0], 0, name, sizeof(name)), "capture_leaf");
	for (i = 1; i < n; i++) {
		func_of(sym, pcs[i], 1, name, sizeof(name));
		if (!strcmp(name, "grows_middle") && middle < 0)
			middle = i;
		if (!strcmp(name, "grows_outer") && outer < 0)
			outer = i;
		if (!strcmp(name, "test_cfi_unwind_finds_callers") && test < 0)
			test = i;
	}
	/* innermost first, every caller found, in order */
	assert_int_equal(middle, 1);
	assert_int_equal(outer, 2);
	assert_true(test > outer);
	unwinder__free(u);
	symbolizer__free(sym);
}

static void test_unwind_bad_args(void **state)
{
	struct unwinder *u = unwinder__new(getpid());
	struct unwind_regs r = { 0 };
	uint64_t pcs[4];

	(void)state;
	assert_non_null(u);
	assert_int_equal(unwinder__unwind(NULL, &r, NULL, 0, pcs, 4, 0), -EINVAL);
	assert_int_equal(unwinder__unwind(u, &r, NULL, 16, pcs, 4, 0), -EINVAL);
	assert_int_equal(unwinder__unwind(u, &r, NULL, 0, pcs, 0, 0), -EINVAL);
	/* nothing to read: just the first frame */
	r.ip = 0x1234;
	assert_int_equal(unwinder__unwind(u, &r, NULL, 0, pcs, 4, 0), 1);
	assert_true(pcs[0] == 0x1234);
	unwinder__free(u);
	unwinder__free(NULL);
	errno = 0;
	assert_null(unwinder__new(0));
	assert_int_equal(errno, EINVAL);
	/* pid_max is at most 2^22: this pid cannot exist */
	assert_null(unwinder__new(4194304 + 1));
}

static void test_fp_walk_in_copy(void **state)
{
	/* a made-up stack at 0x10000: three frames chained through bp */
	uint64_t st[16] = { 0 }, pcs[8];
	struct unwind_regs r = { .ip = 0x401000, .sp = 0x10000, .bp = 0x10010 };

	(void)state;
	st[2] = 0x10030;	/* [bp] -> next frame */
	st[3] = 0x402000;	/* [bp + 8]: return address */
	st[6] = 0x10050;
	st[7] = 0x403000;
	st[10] = 0x10008;	/* goes down: corrupt, the walk stops */
	st[11] = 0x404000;
	assert_int_equal(unwind__fp(&r, st, sizeof(st), pcs, 8), 4);
	assert_true(pcs[0] == 0x401000 && pcs[1] == 0x402000 && pcs[2] == 0x403000 &&
		    pcs[3] == 0x404000);
	/* max frames */
	assert_int_equal(unwind__fp(&r, st, sizeof(st), pcs, 2), 2);
	/* bp outside the copy: only the pc */
	r.bp = 0x20000;
	assert_int_equal(unwind__fp(&r, st, sizeof(st), pcs, 8), 1);
	/* a frame straddling the end of the copy is not read */
	r.bp = 0x10000 + sizeof(st) - 8;
	assert_int_equal(unwind__fp(&r, st, sizeof(st), pcs, 8), 1);
	assert_int_equal(unwind__fp(NULL, st, sizeof(st), pcs, 8), -EINVAL);
}

struct found {
	int stacks;
	uint64_t bytes, samples;
	char label[2048];
	char start[32];
};

static int collect(struct series *se, void *arg)
{
	struct found *f = arg;
	const char *l = series__label(se, "stack");

	f->stacks++;
	f->bytes += window__total_counter(series__window(se), MS_BYTES);
	f->samples += window__total_counter(series__window(se), MS_SAMPLES);
	snprintf(f->label, sizeof(f->label), "%s", l ? l : "");
	snprintf(f->start, sizeof(f->start), "%s", series__label(se, "start"));
	assert_string_equal(series__label(se, "kind"), "fault");
	assert_string_equal(series__label(se, "comm"), "tester");
	return 0;
}

/*
 * A uretprobe on grows_middle would have put its trampoline in the slot
 * holding its return address (into grows_outer): the sample carries the
 * real one and the profile puts it back.
 */
static void test_profile_restores_uretprobe_slots(void **state)
{
	struct store_opts so = { .slot_ns = 1000000000ULL, .nslots = 4 };
	struct store *st = store__new(&so);
	struct symbolizer *sym = symbolizer__new();
	struct mem_stacks *m = mem_stacks__new(getpid(), sym_start_time(getpid()));
	struct unwinder *u = unwinder__new(getpid());
	struct family *f;
	struct found fd = { 0 };
	struct unwind_regs r;
	char start[32];
	uint64_t pcs[UNWIND_MAX_FRAMES], sp, slot = 0, trampoline = 0x7fffffffe000ULL;
	unsigned int i;
	int n;

	(void)state;
	assert_non_null(st);
	assert_non_null(m);
	f = families__register(st, FAM_MEM_STACK, 1024);
	assert_non_null(f);
	make_sample();
	regs_of(&sample, &r);
	n = unwinder__unwind(u, &r, sample.stack, sample.stack_len, pcs, UNWIND_MAX_FRAMES, 1);
	assert_true(n >= 4);
	/* find the slot holding pcs[2]: grows_middle's return into grows_outer */
	sp = r.sp;
	for (i = 0; i + 8 <= sample.stack_len; i += 8) {
		uint64_t v;

		memcpy(&v, sample.stack + i, 8);
		if (v == pcs[2])
			slot = sp + i;
	}
	assert_true(slot != 0);
	memcpy(sample.stack + (slot - sp), &trampoline, 8);
	sample.nuret = 1;
	sample.uret_slot[0] = slot;
	sample.uret_ret[0] = pcs[2];

	/* the same stack three times: one series, three samples, all bytes */
	for (i = 0; i < 3; i++)
		assert_int_equal(mem_stacks__add(m, sym, &sample, 1), 0);
	mem_stacks__flush(m, f, "tester", NULL, 1000);
	family__for_each(f, collect, &fd);
	assert_int_equal(fd.stacks, 1);
	assert_true(fd.bytes == 3 * 65536 && fd.samples == 3);
	assert_true(mem_stacks__bytes(m) == 3 * 65536 && mem_stacks__samples(m) == 3);
	snprintf(start, sizeof(start), "%llu", (unsigned long long)sym_start_time(getpid()));
	assert_string_equal(fd.start, start);
	/* innermost first, ';' between frames, the callers named */
	assert_true(!strncmp(fd.label, "capture_leaf+0x", 15));
	assert_non_null(strstr(fd.label, ";grows_middle+0x"));
	assert_non_null(strstr(fd.label, ";grows_outer+0x"));
	assert_non_null(strstr(fd.label, ";test_profile_restores_uretprobe_slots+0x"));
	/* flushed: a second flush writes nothing new */
	mem_stacks__flush(m, f, "tester", NULL, 2000);
	memset(&fd, 0, sizeof(fd));
	family__for_each(f, collect, &fd);
	assert_true(fd.bytes == 3 * 65536);

	/* without the fix-up the walk would stop at the trampoline */
	sample.nuret = 0;
	mem_stacks__free(m);
	m = mem_stacks__new(getpid(), sym_start_time(getpid()));
	assert_int_equal(mem_stacks__add(m, sym, &sample, 1), 0);
	mem_stacks__flush(m, f, "tester", NULL, 3000);
	assert_int_equal(family__size(f), 2);

	/* a bad kind is refused */
	sample.kind = PROBE_MEM_KIND_MAX;
	assert_int_equal(mem_stacks__add(m, sym, &sample, 1), -EINVAL);
	unwinder__free(u);
	mem_stacks__free(m);
	symbolizer__free(sym);
	store__free(st);
}

static void test_profile_is_bounded(void **state)
{
	struct store_opts so = { .slot_ns = 1000000000ULL, .nslots = 4 };
	struct store *st = store__new(&so);
	struct mem_stacks *m = mem_stacks__new(getpid(), 1);
	struct family *f;
	struct found fd = { 0 };
	unsigned int i;

	(void)state;
	f = families__register(st, FAM_MEM_STACK, 1024);
	assert_non_null(f);
	make_sample();
	/* distinct one-frame stacks (made-up pcs, empty copy), twice the cap */
	sample.stack_len = 0;
	for (i = 0; i < 2 * MEM_STACKS_MAX; i++) {
		sample.regs[PROBE_MEM_REG_IP] = 0x1000 + i;
		sample.regs[PROBE_MEM_REG_BP] = 0;
		assert_int_equal(mem_stacks__add(m, NULL, &sample, 1), 0);
	}
	mem_stacks__flush(m, f, "tester", NULL, 1000);
	family__for_each(f, collect, &fd);
	/* MEM_STACKS_MAX stacks and one "[other stacks]": no byte lost */
	assert_int_equal(fd.stacks, MEM_STACKS_MAX + 1);
	assert_true(fd.bytes == 2 * MEM_STACKS_MAX * 65536ULL);
	mem_stacks__free(m);
	store__free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cfi_unwind_finds_callers),
		cmocka_unit_test(test_unwind_bad_args),
		cmocka_unit_test(test_fp_walk_in_copy),
		cmocka_unit_test(test_profile_restores_uretprobe_slots),
		cmocka_unit_test(test_profile_is_bounded),
	};

	return cmocka_run_group_tests_name("mem_stacks", tests, NULL, NULL);
}

#else

int main(void)
{
	printf("mem_stacks: CFI unwinding is x86-64 only; nothing to test here\n");
	return 0;
}

#endif
