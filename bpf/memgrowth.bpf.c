/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Memory growth, tiers 1 and 2 (include/probe/mem.h has the layouts).
 *
 * Tier 1, always on: the latest value of each process's memory counters,
 * kept in one map entry per process and read by userspace once a second.
 *   - rss_stat (tp_btf, or raw_tp where tp_btf is missing) fires whenever
 *     an mm's resident counter changes (a page fault, an unmap, reclaim).
 *     It stores the counter itself, so a skipped or coalesced event costs
 *     nothing: the next one is absolute.
 *   - sys_exit_{brk,mmap,munmap,mremap} read the heap (brk - start_brk)
 *     and VmData from the mm; these tracepoints cost nothing on other
 *     syscalls.
 * Tier 2, only for processes userspace lists in mem_gate: every
 * sample_bytes of growth past a high-water mark yield a stack sample
 * weighted by those bytes, so the cost follows net growth, not the
 * allocation rate or memory taken and given back. page_fault_user is
 * attached only while mem_gate is not empty.
 */
#include "vmlinux.h"
#include "lib/common.bpf.h"
#include "lib/core_fixes.bpf.h"
#include "probe/mem.h"

/* Set by the loader before load. */
const volatile __u32 page_shift = 12;
const volatile __u64 sample_bytes = 65536;
/* bpf_find_vma usable: faults count in anonymous VMAs only */
const volatile __u8 have_find_vma = 1;

#define PF_EXITING	0x00000004	/* include/linux/sched.h */

/*
 * Tier 2 reads the user registers by their x86-64 names and the x86 page
 * fault error code (exceptions:page_fault_user is an x86 tracepoint); other
 * architectures build tier 1 only and userspace says tier 2 is unavailable.
 */
#if defined(__TARGET_ARCH_x86)
#define PROBE_MEM_TIER2	1
#define X86_PF_WRITE	(1UL << 1)	/* arch/x86/include/asm/trap_pf.h */
#else
#define PROBE_MEM_TIER2	0
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_MEM_PROCS);
	__type(key, __u32);
	__type(value, struct probe_mem_proc);
} mem_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_MAX_MEM_T2);
	__type(key, __u32);
	__type(value, struct probe_mem_gate);
} mem_gate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} mem_samples SEC(".maps");

PROBE_STATS_MAP(PROBE_MEM_STAT_MAX);

static __always_inline __u64 task_start(struct task_struct *t)
{
	return BPF_CORE_READ(t, group_leader, start_boottime);
}

/*
 * The folded global value of one of mm's resident counters (what
 * get_mm_counter() and the tracepoint report), on either layout
 * (lib/core_fixes.bpf.h). Constant indices keep each CO-RE relocation exact.
 */
static __always_inline __s64 rss_count(struct mm_struct *mm, int member)
{
	__s64 v = 0;

	switch (member) {
	case 0: v = PROBE_MM_RSS_READ(mm, 0); break;
	case 1: v = PROBE_MM_RSS_READ(mm, 1); break;
	case 2: v = PROBE_MM_RSS_READ(mm, 2); break;
	case 3: v = PROBE_MM_RSS_READ(mm, 3); break;
	}
	return v < 0 ? 0 : v;
}

/*
 * The entry of tgid, made on first sight from task t (a thread of it) and
 * its mm: every counter starts at its current value, not only the one that
 * changed, so a process's file pages show even if they never move.
 */
static __always_inline struct probe_mem_proc *proc_get(__u32 tgid, struct task_struct *t,
							struct mm_struct *mm)
{
	struct probe_mem_proc *p = bpf_map_lookup_elem(&mem_procs, &tgid), init = {};
	struct task_struct *leader;
	unsigned int i;

	if (p)
		return p;
	leader = BPF_CORE_READ(t, group_leader);
	init.start_ns = BPF_CORE_READ(leader, start_boottime);
	bpf_probe_read_kernel_str(init.comm, sizeof(init.comm), &leader->comm);
	for (i = 0; i < PROBE_MEM_RSS_MAX; i++)
		init.rss[i] = (__u64)rss_count(mm, i) << page_shift;
	/* -EEXIST from a racing CPU is fine: the lookup below finds its entry */
	if (bpf_map_update_elem(&mem_procs, &tgid, &init, BPF_NOEXIST) == -E2BIG) {
		probe_stat_inc(&stats, PROBE_MEM_STAT_PROCS_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&mem_procs, &tgid);
}

/*
 * The folded counts move in per-CPU batches (32 pages), so most rss_stat
 * events leave the value we keep unchanged. Each CPU notes the last count
 * it handled per member for the last mm it saw; a repeat returns before
 * any hash lookup, which keeps the always-on cost per page fault small.
 */
struct rss_seen {
	__u64 mm;
	__s64 count[PROBE_MEM_RSS_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rss_seen);
} rss_seen SEC(".maps");

static __always_inline int rss_unchanged(struct mm_struct *mm, int member, __s64 count)
{
	struct rss_seen *s;
	__u32 zero = 0;
	unsigned int i;

	s = bpf_map_lookup_elem(&rss_seen, &zero);
	if (!s)
		return 0;
	member &= PROBE_MEM_RSS_MAX - 1;
	if (s->mm == (__u64)mm && s->count[member] == count)
		return 1;
	if (s->mm != (__u64)mm) {
		s->mm = (__u64)mm;
		for (i = 0; i < PROBE_MEM_RSS_MAX; i++)
			s->count[i] = -1;
	}
	s->count[member] = count;
	return 0;
}

/* Store the new count of member in the entry of the process owning mm. */
static __always_inline int rss_account(struct mm_struct *mm, int member, __s64 count,
				       int is_current)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task(), *owner = cur;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_mem_proc *p;

	if (!is_current) {
		__u32 otgid;

		/* Another task's mm: reclaim, khugepaged, remote access. */
		owner = BPF_CORE_READ(mm, owner);
		if (!owner) {
			probe_stat_inc(&stats, PROBE_MEM_STAT_NO_OWNER);
			return 0;
		}
		otgid = BPF_CORE_READ(owner, tgid);
		/*
		 * An mm of the current process that is not its mm: a child's
		 * during fork (the child still carries our tgid), the next
		 * program's during exec, or ours being torn down at exit.
		 * None is a counter of a running process; skip them.
		 */
		if (otgid == tgid || (BPF_CORE_READ(owner, flags) & PF_EXITING))
			return 0;
		tgid = otgid;
	}
	if (!probe_wanted(tgid))
		return 0;
	p = proc_get(tgid, owner, mm);
	if (!p)
		return 0;
	p->rss[member & (PROBE_MEM_RSS_MAX - 1)] = (__u64)(count < 0 ? 0 : count) << page_shift;
	p->rss_events++;
	return 0;
}

/* tp_btf: mm is a typed pointer, read with plain loads (no helper calls). */
SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat_btf, struct mm_struct *mm, int member)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	__s64 count;

	switch (member) {
	case 0: count = PROBE_MM_RSS_LOAD(mm, 0); break;
	case 1: count = PROBE_MM_RSS_LOAD(mm, 1); break;
	case 2: count = PROBE_MM_RSS_LOAD(mm, 2); break;
	case 3: count = PROBE_MM_RSS_LOAD(mm, 3); break;
	default: return 0;
	}
	if (rss_unchanged(mm, member, count))
		return 0;
	return rss_account(mm, member, count, mm == cur->mm);
}

/* The same on raw_tp, for kernels without tp_btf (CO-RE reads). */
SEC("raw_tp/rss_stat")
int BPF_PROG(rss_stat_raw, struct mm_struct *mm, int member)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
	__s64 count;

	if (member < 0 || member >= PROBE_MEM_RSS_MAX)
		return 0;
	count = rss_count(mm, member);
	if (rss_unchanged(mm, member, count))
		return 0;
	return rss_account(mm, member, count, mm == BPF_CORE_READ(cur, mm));
}

/* --- tier 2: stack samples --- */

/* The return addresses active uretprobes took from the stack (see mem.h). */
static __always_inline void uret_fixups(struct probe_mem_sample *r)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct return_instance *ri = NULL;
	struct uprobe_task *ut;
	unsigned int i;

	r->nuret = 0;
	r->pad = 0;
	if (!bpf_core_field_exists(task->utask))
		return;
	ut = BPF_CORE_READ(task, utask);
	if (ut)
		ri = BPF_CORE_READ(ut, return_instances);
	for (i = 0; i < PROBE_MEM_MAX_URET && ri; i++) {
		r->uret_slot[i] = BPF_CORE_READ(ri, stack);
		r->uret_ret[i] = BPF_CORE_READ(ri, orig_ret_vaddr);
		ri = BPF_CORE_READ(ri, next);
		r->nuret = i + 1;
	}
}

static __always_inline void sample(struct task_struct *cur, __u32 kind, __u64 bytes,
				   __u64 start_ns, __u64 addr)
{
#if PROBE_MEM_TIER2
	struct probe_mem_sample *r;
	struct pt_regs *regs;
	__u64 sp, len = 0;
	unsigned int i;

	r = bpf_ringbuf_reserve(&mem_samples, sizeof(*r), 0);
	if (!r) {
		probe_stat_inc(&stats, PROBE_MEM_STAT_RB_DROP);
		return;
	}
	probe_fill_hdr(&r->hdr, PROBE_REC_MEM_SAMPLE, PROBE_MEM_VERSION, sizeof(*r));
	r->start_ns = start_ns;
	r->bytes = bytes;
	r->addr = addr;
	r->kind = kind;
	/* The user registers, saved at kernel entry (syscall or fault). */
	regs = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());
	r->regs[PROBE_MEM_REG_IP] = BPF_CORE_READ(regs, ip);
	r->regs[PROBE_MEM_REG_SP] = sp = BPF_CORE_READ(regs, sp);
	r->regs[PROBE_MEM_REG_BP] = BPF_CORE_READ(regs, bp);
	r->regs[PROBE_MEM_REG_BX] = BPF_CORE_READ(regs, bx);
	r->regs[PROBE_MEM_REG_R12] = BPF_CORE_READ(regs, r12);
	r->regs[PROBE_MEM_REG_R13] = BPF_CORE_READ(regs, r13);
	r->regs[PROBE_MEM_REG_R14] = BPF_CORE_READ(regs, r14);
	r->regs[PROBE_MEM_REG_R15] = BPF_CORE_READ(regs, r15);
	uret_fixups(r);
	/*
	 * Copy the stack in chunks until one fails: the stack ends at a page
	 * boundary, so a failed chunk is retried up to that boundary.
	 */
	for (i = 0; i < PROBE_MEM_STACK_BYTES / PROBE_MEM_STACK_CHUNK; i++) {
		__u64 at = sp + len, rem;

		if (!bpf_probe_read_user(&r->stack[i * PROBE_MEM_STACK_CHUNK],
					 PROBE_MEM_STACK_CHUNK, (void *)at)) {
			len += PROBE_MEM_STACK_CHUNK;
			continue;
		}
		rem = (-at) & ((1ULL << page_shift) - 1);
		if (rem && rem < PROBE_MEM_STACK_CHUNK) {
			/*
			 * After the test above clang drops the mask as redundant,
			 * and some verifiers (6.12) do not carry the test's bound
			 * to the copy's size register: the mask is applied in asm
			 * so the verifier sees the size is under one chunk.
			 */
			asm volatile("%0 &= %1" : "+r"(rem) : "i"(PROBE_MEM_STACK_CHUNK - 1));
			if (!bpf_probe_read_user(&r->stack[i * PROBE_MEM_STACK_CHUNK], rem,
						 (void *)at))
				len += rem;
		}
		break;
	}
	if (!len)
		probe_stat_inc(&stats, PROBE_MEM_STAT_STACK_SHORT);
	r->stack_len = len;
	probe_stat_inc(&stats, PROBE_MEM_STAT_SAMPLES);
	bpf_ringbuf_submit(r, probe_rb_flags(&mem_samples));
#endif
}

/*
 * Tier 2: `level` is the current size of one kind for a gated process;
 * only what passes its high-water mark counts (include/probe/mem.h).
 */
static __always_inline void grow(struct probe_mem_gate *g, struct task_struct *cur,
				 __u32 kind, __u64 level, __u64 addr)
{
	__u64 delta, now;

	if (kind >= PROBE_MEM_KIND_MAX)
		return;
	if (level <= g->hwm[kind])
		return;		/* under the mark: churn, not growth */
	if (g->start_ns != task_start(cur))
		return;		/* the pid was reused: not the process userspace chose */
	delta = level - g->hwm[kind];
	g->hwm[kind] = level;
	g->total[kind] += delta;
	g->pending[kind] += delta;
	if (g->pending[kind] < sample_bytes)
		return;
	now = bpf_ktime_get_ns();
	if (now - g->last_ns < PROBE_MEM_MIN_GAP_NS)
		return;		/* rate-limited: the bytes wait for the next sample */
	delta = g->pending[kind];
	g->pending[kind] = 0;
	g->last_ns = now;
	g->samples++;
	sample(cur, kind, delta, g->start_ns, addr);
}

/* --- tier 1 (and 2): heap and mappings at the syscalls that change them --- */

static __always_inline int vm_exit(long ret)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_mem_proc *p;
	struct probe_mem_gate *g;
	struct mm_struct *mm;
	__u64 heap, data;

	if (ret < 0 && ret >= -4095)
		return 0;	/* failed: nothing changed */
	if (!probe_wanted(tgid))
		return 0;
	mm = BPF_CORE_READ(cur, mm);
	if (!mm)
		return 0;
	p = proc_get(tgid, cur, mm);
	if (!p)
		return 0;
	heap = BPF_CORE_READ(mm, brk) - BPF_CORE_READ(mm, start_brk);
	data = BPF_CORE_READ(mm, data_vm) << page_shift;
	p->heap_bytes = heap;
	p->data_bytes = data;
	p->vm_events++;

	g = bpf_map_lookup_elem(&mem_gate, &tgid);
	if (!g)
		return 0;
	grow(g, cur, PROBE_MEM_KIND_BRK, heap, heap);
	/* VmData includes the heap: the rest is mappings */
	if (data >= heap)
		grow(g, cur, PROBE_MEM_KIND_MMAP, data - heap, data - heap);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_brk")
int sys_exit_brk(struct trace_event_raw_sys_exit *ctx)
{
	return vm_exit(0);	/* brk returns the new break, never -errno */
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int sys_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	return vm_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_munmap")
int sys_exit_munmap(struct trace_event_raw_sys_exit *ctx)
{
	return vm_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_mremap")
int sys_exit_mremap(struct trace_event_raw_sys_exit *ctx)
{
	return vm_exit(ctx->ret);
}

/* --- tier 2: first-touch faults --- */

static long vma_anon(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(int *)data = vma->vm_file == NULL;
	return 0;
}

/*
 * A write fault in an anonymous mapping is where a heap page becomes
 * resident (not present yet) or is copied (after fork). It counts when the
 * process's anonymous resident size stands past its high-water mark: the
 * kernel's counter is folded per CPU in batches, so the fault that first
 * sees a new peak carries the growth since the last one (a sample of the
 * code growing the process, unbiased over many samples). Read faults map
 * the shared zero page and cost no memory.
 */
SEC("raw_tp/page_fault_user")
int BPF_PROG(page_fault_user, unsigned long address, struct pt_regs *regs,
	     unsigned long error_code)
{
#if !PROBE_MEM_TIER2
	return 0;
#else
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_mem_gate *g;
	struct task_struct *cur;
	struct mm_struct *mm;
	__s64 count;
	__u64 anon;
	int is_anon = 0;

	if (!(error_code & X86_PF_WRITE))
		return 0;
	g = bpf_map_lookup_elem(&mem_gate, &tgid);
	if (!g)
		return 0;
	/* typed pointers: plain loads, no helper call on this per-fault path */
	cur = bpf_get_current_task_btf();
	mm = cur->mm;
	if (!mm)
		return 0;
	count = PROBE_MM_RSS_LOAD(mm, PROBE_MEM_RSS_ANON);
	anon = (__u64)(count < 0 ? 0 : count) << page_shift;
	if (anon <= g->hwm[PROBE_MEM_KIND_FAULT])
		return 0;	/* under the peak: memory taken again, not growth */
	if (have_find_vma &&
	    (bpf_find_vma(cur, address, vma_anon, &is_anon, 0) || !is_anon))
		return 0;
	grow(g, cur, PROBE_MEM_KIND_FAULT, anon, address);
	return 0;
#endif
}

/* --- identity: exec starts a new program, exit ends the process --- */

static __always_inline int mem_exec(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct probe_mem_proc *p = bpf_map_lookup_elem(&mem_procs, &tgid);
	unsigned int i;

	if (!p)
		return 0;
	for (i = 0; i < PROBE_MEM_RSS_MAX; i++)
		p->rss[i] = 0;
	p->heap_bytes = 0;
	p->data_bytes = 0;
	p->execs++;
	bpf_get_current_comm(p->comm, sizeof(p->comm));
	return 0;
}

static __always_inline int mem_exit(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	/* The group is dead once its live count is zero (see proc.bpf.c). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	bpf_map_delete_elem(&mem_procs, &tgid);
	bpf_map_delete_elem(&mem_gate, &tgid);
	return 0;
}

/*
 * tp_btf where the kernel has it, the classic tracepoints otherwise; the
 * loader loads one pair. A raw tracepoint link is released at exit without
 * the perf event's two grace periods under the kernel's event_mutex.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec_btf)
{
	return mem_exec();
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit_btf)
{
	return mem_exit();
}

SEC("tracepoint/sched/sched_process_exec")
int sched_process_exec(void *ctx)
{
	return mem_exec();
}

SEC("tracepoint/sched/sched_process_exit")
int sched_process_exit(void *ctx)
{
	return mem_exit();
}
