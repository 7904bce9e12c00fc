/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Allocator signal: outstanding allocations by (call site, stack), from
 * uprobes on one process's libc (include/probe/alloc.h draws the maps).
 *
 *   alloc_enter  uprobe on malloc, calloc, realloc, ... (kind in the cookie):
 *                size and the byte-sampling decision
 *   alloc_exit   uretprobe on the same functions: the returned address, the
 *                caller (the return address), a stack if sampled
 *   alloc_exec   tracepoint sched_process_exec: a traced process's session
 *                ends the moment it execs
 *   free_enter   uprobe on free, after its NULL check where that is safe
 *
 * Userspace attaches these per process, at the first instruction the
 * kernel can emulate (user/proc/uprobe_site.c), never past one that moves
 * the stack pointer: at the probe site *sp is still the return address,
 * the slot the uretprobe hijacks.
 *
 * Allocator functions call each other (realloc(NULL, n) enters malloc,
 * reallocarray tail-jumps to realloc): the thread's in-flight call counts
 * nested entries, and only the outermost call is recorded, with its caller.
 *
 * The in-flight call lives in task storage where the kernel has it (the
 * *_ts programs), else in a tid-keyed LRU hash (*_hash); the loader keeps
 * one pair and switches the other off before load.
 */
#include "vmlinux.h"
#include "lib/common.bpf.h"
#include "probe/alloc.h"

/* Set by the loader before load. */
const volatile __u64 sample_bytes = 32768;	/* byte-sampling period */
const volatile __u8 track_all = 1;		/* 1: every allocation; 0: sampled ones only */

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct probe_alloc_call);
} alloc_call_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_ALLOC_MAX_INFLIGHT);
	__type(key, __u64);			/* pid_tgid */
	__type(value, struct probe_alloc_call);
} alloc_call_tid SEC(".maps");

/* LRU: when full, the least recently touched allocations go first. Their
 * bytes stay charged to their site (a real leak is never freed), and the
 * userspace scan counts how many were evicted. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROBE_ALLOC_MAX_LIVE);
	__type(key, struct probe_alloc_addr);
	__type(value, struct probe_alloc_live);
} alloc_live SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_ALLOC_MAX_SITES);
	__type(key, struct probe_alloc_site);
	__type(value, struct probe_alloc_site_val);
} alloc_sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, PROBE_ALLOC_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PROBE_ALLOC_STACK_DEPTH * sizeof(__u64));
} alloc_stacks SEC(".maps");

/* Per CPU, direct-mapped by call site: a tag per slot. A collision only
 * costs one more sampled stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROBE_ALLOC_SEEN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} alloc_seen SEC(".maps");

/* slot -> hits; userspace zeroes the slot before attaching a session to it */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROBE_ALLOC_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct probe_alloc_hits);
} alloc_hits SEC(".maps");

/* slot -> the session attached there now (0: none) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PROBE_ALLOC_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, __u32);
} alloc_slot_session SEC(".maps");

/* tgid -> slot, for the exec hook */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROBE_ALLOC_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, __u32);
} alloc_exec_watch SEC(".maps");

PROBE_STATS_MAP(PROBE_ALLOC_STAT_MAX);

/*
 * The session's hit counters, or NULL when the session is over: its
 * process exec'd (the probes stay attached to the task, and the new image
 * maps the same libc) or userspace retired it. Nothing is recorded then.
 */
static __always_inline struct probe_alloc_hits *live_session(__u64 cookie)
{
	__u32 slot = cookie >> 40 & 0xff;
	__u32 *cur = bpf_map_lookup_elem(&alloc_slot_session, &slot);

	if (!cur || *cur != (__u32)cookie)
		return NULL;
	return bpf_map_lookup_elem(&alloc_hits, &slot);
}

/* The thread's in-flight call (ts: task storage, else the tid hash). */
static __always_inline struct probe_alloc_call *call_get(int ts, __u64 tid)
{
	if (ts)
		return bpf_task_storage_get(&alloc_call_task, bpf_get_current_task_btf(), 0, 0);
	return bpf_map_lookup_elem(&alloc_call_tid, &tid);
}

static __always_inline struct probe_alloc_call *call_new(int ts, __u64 tid)
{
	struct probe_alloc_call zero = {};

	if (ts)
		return bpf_task_storage_get(&alloc_call_task, bpf_get_current_task_btf(), 0,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (bpf_map_update_elem(&alloc_call_tid, &tid, &zero, BPF_ANY))
		return NULL;
	return bpf_map_lookup_elem(&alloc_call_tid, &tid);
}

static __always_inline void call_done(int ts, __u64 tid, struct probe_alloc_call *c)
{
	if (ts)
		c->depth = 0;	/* the storage stays with the thread */
	else
		bpf_map_delete_elem(&alloc_call_tid, &tid);
}

static __always_inline struct probe_alloc_site_val *site_get(struct probe_alloc_site *k)
{
	struct probe_alloc_site_val *v = bpf_map_lookup_elem(&alloc_sites, k);
	struct probe_alloc_site_val zero = {};

	if (v)
		return v;
	zero.first_ns = bpf_ktime_get_ns();
	/* -EEXIST from a racing CPU is fine: the lookup finds its entry */
	bpf_map_update_elem(&alloc_sites, k, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&alloc_sites, k);
	if (!v)
		probe_stat_inc(&stats, PROBE_ALLOC_STAT_SITES_FULL);
	return v;
}

static __always_inline void site_sub(__u32 session, const struct probe_alloc_live *l)
{
	struct probe_alloc_site k = {
		.session = session, .stack_id = l->stack_id, .caller = l->caller,
	};
	struct probe_alloc_site_val *v = bpf_map_lookup_elem(&alloc_sites, &k);

	if (!v)
		return;
	__sync_fetch_and_add(&v->bytes, -(__s64)l->bytes);
	__sync_fetch_and_add(&v->count, -1);
}

/*
 * Forget addr; with before_ns, only if it was tracked before that time.
 * Returns when the forgotten block was born (0: it was not tracked).
 */
static __always_inline __u64 untrack(__u32 session, __u64 addr, __u64 before_ns)
{
	struct probe_alloc_addr k = { .session = session, .addr = addr };
	struct probe_alloc_live *l = bpf_map_lookup_elem(&alloc_live, &k);
	struct probe_alloc_live copy;

	if (!l) {
		probe_stat_inc(&stats, PROBE_ALLOC_STAT_FREE_UNTRACKED);
		return 0;
	}
	if (before_ns && l->ts_ns > before_ns)
		return 0;	/* another thread got this address after realloc released it */
	copy = *l;
	/* only the CPU whose delete succeeds uncharges: a double free stays one free */
	if (bpf_map_delete_elem(&alloc_live, &k))
		return 0;
	site_sub(session, &copy);
	return copy.ts_ns;
}

/* born_ns: when the block's contents were first allocated (0: now). */
static __always_inline void track(__u32 session, __u64 addr, __u64 bytes, __u64 caller,
				  __u32 stack_id, __u64 born_ns)
{
	struct probe_alloc_site sk = { .session = session, .stack_id = stack_id, .caller = caller };
	struct probe_alloc_addr k = { .session = session, .addr = addr };
	struct probe_alloc_live v = {
		.bytes = bytes, .caller = caller, .stack_id = stack_id,
	};
	struct probe_alloc_live *old, copy;
	struct probe_alloc_site_val *s;

	long err;

	s = site_get(&sk);
	if (!s)
		return;		/* not tracked at all: never charged, never uncharged */
	v.ts_ns = born_ns ? born_ns : bpf_ktime_get_ns();
	err = bpf_map_update_elem(&alloc_live, &k, &v, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* still tracked: its free was missed; uncharge the old block first */
		old = bpf_map_lookup_elem(&alloc_live, &k);
		if (old) {
			copy = *old;
			if (!bpf_map_delete_elem(&alloc_live, &k)) {
				site_sub(session, &copy);
				probe_stat_inc(&stats, PROBE_ALLOC_STAT_ADDR_REUSED);
			}
		}
		err = bpf_map_update_elem(&alloc_live, &k, &v, BPF_ANY);
	}
	if (err) {
		probe_stat_inc(&stats, PROBE_ALLOC_STAT_LIVE_FULL);
		return;
	}
	__sync_fetch_and_add(&s->bytes, (__s64)bytes);
	__sync_fetch_and_add(&s->count, 1);
	__sync_fetch_and_add(&s->allocs, 1);
}

/* Byte sampling: probability min(1, size / sample_bytes). */
static __always_inline int sample(__u64 size)
{
	if (size >= sample_bytes)
		return 1;
	return (((__u64)bpf_get_prandom_u32() * sample_bytes) >> 32) < size;
}

/* First allocation from a call site (on this CPU): sampled, so the site has a stack. */
static __always_inline int first_from_site(__u32 session, __u64 caller)
{
	__u64 tag = caller ^ ((__u64)session << 48) ^ 1;	/* never 0, the empty tag */
	__u32 idx = (__u32)((tag * 0x9E3779B97F4A7C15ULL) >> 52) & (PROBE_ALLOC_SEEN_SLOTS - 1);
	__u64 *slot = bpf_map_lookup_elem(&alloc_seen, &idx);

	if (!slot || *slot == tag)
		return 0;
	*slot = tag;
	return 1;
}

static __always_inline int on_enter(struct pt_regs *ctx, int ts)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 tid = ts ? 0 : bpf_get_current_pid_tgid();
	struct probe_alloc_hits *h = live_session(cookie);
	__u32 kind = cookie >> 32 & 0xff, session = (__u32)cookie;
	__u64 sp = PT_REGS_SP(ctx);
	struct probe_alloc_call *c;

	if (!h)
		return 0;
	h->enter++;
	c = call_get(ts, tid);
	if (c && c->depth) {
		/*
		 * A call in flight on this thread. From deeper in the stack, or
		 * from the same frame (a tail call: reallocarray jumps to
		 * realloc), this one runs inside it: only the outer call counts.
		 * From a shallower frame, or another session, the outer call's
		 * return was never seen: start over.
		 */
		if (c->session == session && sp <= c->sp) {
			if (c->depth < 255)
				c->depth++;
			return 0;
		}
		probe_stat_inc(&stats, PROBE_ALLOC_STAT_STALE_CALL);
	}
	if (!c)
		c = call_new(ts, tid);
	if (!c) {
		probe_stat_inc(&stats, PROBE_ALLOC_STAT_INFLIGHT_FULL);
		return 0;
	}
	c->session = session;
	c->kind = (__u16)kind;
	c->sp = sp;
	c->depth = 1;
	c->old_ptr = 0;
	c->memptr = 0;
	c->entry_ns = 0;
	switch (kind) {
	case PROBE_ALLOC_MALLOC:
	case PROBE_ALLOC_VALLOC:
		c->size = PT_REGS_PARM1(ctx);
		break;
	case PROBE_ALLOC_CALLOC:
		c->size = PT_REGS_PARM1(ctx) * PT_REGS_PARM2(ctx);
		break;
	case PROBE_ALLOC_REALLOC:
		c->old_ptr = PT_REGS_PARM1(ctx);
		c->size = PT_REGS_PARM2(ctx);
		c->entry_ns = bpf_ktime_get_ns();
		break;
	case PROBE_ALLOC_REALLOCARRAY:
		c->old_ptr = PT_REGS_PARM1(ctx);
		c->size = PT_REGS_PARM2(ctx) * PT_REGS_PARM3(ctx);
		c->entry_ns = bpf_ktime_get_ns();
		break;
	case PROBE_ALLOC_POSIX_MEMALIGN:
		c->memptr = PT_REGS_PARM1(ctx);
		c->size = PT_REGS_PARM3(ctx);
		break;
	case PROBE_ALLOC_ALIGNED_ALLOC:
	case PROBE_ALLOC_MEMALIGN:
		c->size = PT_REGS_PARM2(ctx);
		break;
	default:
		c->depth = 0;
		return 0;
	}
	c->sampled = sample(c->size);
	return 0;
}

static __always_inline int on_exit(struct pt_regs *ctx, int ts)
{
	__u64 tid = ts ? 0 : bpf_get_current_pid_tgid();
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct probe_alloc_hits *h = live_session(cookie);
	__u64 addr = PT_REGS_RC(ctx), bytes, born = 0;
	/* the kernel has put the return address back: the allocating call site */
	__u64 caller = PT_REGS_IP(ctx);
	__u32 stack_id = PROBE_ALLOC_NO_STACK;
	struct probe_alloc_call call, *c;
	long sid;

	c = call_get(ts, tid);
	if (!h) {
		/* the session ended during the call: forget the call */
		if (c && c->depth && c->session == (__u32)cookie)
			call_done(ts, tid, c);
		return 0;
	}
	h->ret++;
	if (!c || !c->depth) {
		probe_stat_inc(&stats, PROBE_ALLOC_STAT_RET_ORPHAN);
		return 0;
	}
	if (c->depth > 1) {
		c->depth--;
		return 0;
	}
	call = *c;
	call_done(ts, tid, c);

	if (call.kind == PROBE_ALLOC_POSIX_MEMALIGN) {
		/* returns 0 or an error number; the block is in *memptr */
		if ((int)addr != 0 || !call.memptr ||
		    bpf_probe_read_user(&addr, sizeof(addr), (void *)call.memptr))
			addr = 0;
	}
	/*
	 * realloc: the new block carries the old one's birth, so a buffer grown
	 * again and again is as old as its first allocation, and its growth
	 * ages like any other leak.
	 */
	if (call.old_ptr && (addr || !call.size))
		born = untrack(call.session, call.old_ptr, call.entry_ns);
	if (!addr)
		return 0;
	if (!call.sampled && first_from_site(call.session, caller))
		call.sampled = 2;	/* forced: weighs its own size in sampled mode */
	if (track_all)
		bytes = call.size;
	else if (!call.sampled)
		return 0;
	else if (call.sampled == 2 || call.size >= sample_bytes)
		bytes = call.size;
	else
		bytes = sample_bytes;	/* stands for 1/p = sample_bytes/size blocks of size */
	if (call.sampled) {
		/* from the caller's frame: with frame pointers, the whole stack */
		sid = bpf_get_stackid(ctx, &alloc_stacks, BPF_F_USER_STACK);
		if (sid >= 0)
			stack_id = (__u32)sid;
		else
			probe_stat_inc(&stats, PROBE_ALLOC_STAT_STACK_LOST);
		h->sampled++;
	}
	track(call.session, addr, bytes, caller, stack_id, born);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(alloc_enter_ts)
{
	return on_enter(ctx, 1);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit_ts)
{
	return on_exit(ctx, 1);
}

SEC("uprobe")
int BPF_KPROBE(alloc_enter_hash)
{
	return on_enter(ctx, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit_hash)
{
	return on_exit(ctx, 0);
}

SEC("uprobe")
int BPF_KPROBE(free_enter)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 ptr = PT_REGS_PARM1(ctx);
	struct probe_alloc_hits *h;

	if (!ptr)
		return 0;
	h = live_session(cookie);
	if (!h)
		return 0;
	h->free++;
	untrack((__u32)cookie, ptr, 0);
	return 0;
}

/* A traced process exec'd: its session ends here, before the new image runs. */
static __always_inline int exec_seen(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, none = 0;
	__u32 *slot = bpf_map_lookup_elem(&alloc_exec_watch, &tgid);

	if (slot)
		bpf_map_update_elem(&alloc_slot_session, slot, &none, BPF_ANY);
	return 0;
}

/*
 * tp_btf where the kernel has it (its link is released at exit without a
 * perf event's grace periods under the kernel's event_mutex), else the
 * classic tracepoint; the loader loads one.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(alloc_exec)
{
	return exec_seen();
}

SEC("tracepoint/sched/sched_process_exec")
int alloc_exec_tp(void *ctx)
{
	return exec_seen();
}

/* Empty: userspace times a probe on one of its own functions with this, to
 * learn what a hit costs on this machine (the overhead estimate's unit). */
SEC("uprobe")
int calib_hit(struct pt_regs *ctx)
{
	return 0;
}
