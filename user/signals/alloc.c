/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * alloc signal (tier 3 of memory growth): outstanding allocations by
 * allocating site and stack, from uprobes on a process's own libc.
 *
 * Which processes: under --pid, the targets and their descendants (up to
 * signals.alloc.max_targets at once); host-wide, a process that tier 1
 * flags (store family "mem_growth", gauge "suspect" == 1) for
 * auto_enable_s seconds, once per process instance, and only while the
 * estimated cost stays within budget_pct of a CPU. The store is the only
 * link to tier 1: without its family nothing is auto-enabled.
 *
 * Each traced process instance is a session (the uprobes' attach cookie).
 * A session ends when the process exits or execs (pidfd, start time and
 * /proc/PID/exe checked every collect), when its auto time is up, or when
 * it goes over budget; its probes are detached, its kernel entries
 * deleted, and its last report stays in the store. A reused pid is a new
 * instance: nothing of the old one is attributed to it.
 *
 * The cost of one probe hit is measured at start by timing a uprobe on a
 * function of the probe itself (signals.alloc.trap_cost_us overrides it);
 * the estimate per process is hits/s times that, weighted by how each site
 * is probed (a single-stepped site costs ~3.7 hits, a uretprobe ~0.25, a
 * stack ~1, the ratios measured in shared/bench/COSTS.md).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "alloc.skel.h"
#include "probe/alloc.h"
#include "config.h"
#include "core/families.h"
#include "core/store.h"
#include "loader/detach.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "loader/uprobe_multi.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/symbolize.h"
#include "proc/uprobe_site.h"
#include "signals/alloc_sites.h"

#define MAX_TRIED	256
#define SSTEP_FACTOR	3.7	/* single-stepped hit / emulated hit (COSTS.md §1b: 19.1 / 5.2 µs) */
#define RET_FACTOR	0.25	/* uretprobe / hit (1.3 / 5.2 µs) */
#define STACK_FACTOR	1.0	/* user stack capture / hit (5.0 / 5.2 µs) */
#define DEFAULT_TRAP_NS	5000.0	/* when it cannot be measured */

static const struct {
	const char *name;
	int kind;
	int null_reg;		/* NULL makes the call a no-op */
} funcs[] = {
	/* free first: attaching it before the allocators never sees a block allocated
	 * unwatched, then freed watched, as a leak */
	{ "free", PROBE_ALLOC_FREE, UREG_RDI },
	{ "malloc", PROBE_ALLOC_MALLOC, -1 },
	{ "calloc", PROBE_ALLOC_CALLOC, -1 },
	{ "realloc", PROBE_ALLOC_REALLOC, -1 },
	{ "reallocarray", PROBE_ALLOC_REALLOCARRAY, -1 },
	{ "posix_memalign", PROBE_ALLOC_POSIX_MEMALIGN, -1 },
	{ "aligned_alloc", PROBE_ALLOC_ALIGNED_ALLOC, -1 },
	{ "memalign", PROBE_ALLOC_MEMALIGN, -1 },
	{ "valloc", PROBE_ALLOC_VALLOC, -1 },
};
#define NFUNCS (sizeof(funcs) / sizeof(funcs[0]))

enum target_end { END_NONE, END_EXITED, END_EXEC, END_TIME, END_BUDGET };

struct target {
	uint32_t session;		/* 0: free slot */
	int pid;
	uint64_t start;			/* clock ticks */
	unsigned int gen;		/* execs seen */
	char comm[16];
	char instance[48];
	char libc[256];
	char probes[1024];		/* where each function is probed, and why */
	int is_auto;
	int exited;			/* set by the pidfd */
	uint64_t until_ns;		/* auto: when to stop */
	struct bpf_link *links[2 * NFUNCS];	/* per-site uprobes */
	unsigned int nlinks;
	int mlinks[3];			/* uprobe_multi: free, allocator returns, entries */
	unsigned int nmlinks;
	int pidfd;
	uint64_t exe_dev, exe_ino;
	double enter_cost, free_cost;	/* ns per hit at the chosen sites */
	struct probe_alloc_hits hits;
	uint64_t hits_ns;
	double calls_per_s, est_pct;
	struct series *se;
	/* container and pod labels (proc/attrib.h), read at attach */
	struct label attr[ATTRIB_NLABELS];
	char attr_val[ATTRIB_NLABELS][K8S_NAME_LEN];
};

struct tried {
	int pid;
	uint64_t start;
};

struct alloc_state {
	struct probe_ctx *ctx;
	const struct probe_config *cfg;
	struct alloc_bpf *skel;
	struct bpf_link *calib_link;	/* on probe_alloc_calib until stop: a detach waits ~0.1 s */
	int calib_fd;			/* the same as a uprobe_multi link, or -1 */
	struct symbolizer *sym;
	struct alloc_sites *sites;
	struct family *tfam;
	struct target t[PROBE_ALLOC_MAX_SESSIONS];
	unsigned int max_targets;
	uint32_t next_session;
	struct tried tried[MAX_TRIED];
	unsigned int ntried;
	double trap_ns;
	int trap_measured;
	uint64_t next_scan;
	uint64_t events;
	int ncpu;
	struct probe_alloc_hits *hitbuf;	/* one per CPU */
	struct bpf_program *enter_prog, *exit_prog;	/* the task-storage or tid-hash pair */
	struct bpf_link *exec_link;	/* ends a session the moment its process execs */
	int multi;			/* 1: uprobe_multi links, 0: a uprobe per site */
};

/*
 * Under --pid, the targets are traced from the start only when asked
 * (--leaks, or signals.alloc.enabled true): every allocation pays a trap
 * (README: a Python workload ran 2x slower), too much to impose unasked on
 * a production process. Otherwise, as host-wide, only tier-1 suspects.
 */
static int all_targets(const struct probe_ctx *ctx)
{
	return ctx->filter && ctx->cfg->alloc.enabled == CFG_ON;
}

static void alloc_plan(const struct probe_ctx *ctx, struct signal_status *st)
{
	const struct probe_config *cfg = ctx->cfg;
	const char *exec_tp = ctx->feat->have[FEAT_TP_BTF] ? "tp_btf" : "tp";

	/* the attach is chosen once, here and in alloc_start, from the feature probes */
	if (ctx->feat->have[FEAT_UPROBE_MULTI])
		signal__hook(st, "uprobe_multi: libc malloc family + free, 3 links per process; "
			     "%s sched_process_exec", exec_tp);
	else
		signal__hook(st, "uprobes, one per site and process (no uprobe_multi, see "
			     "--check): libc malloc family + free; %s sched_process_exec", exec_tp);
	if (cfg->alloc.enabled == CFG_OFF) {
		signal__why(st, SIG_OFF, "signals.alloc.enabled is false");
		return;
	}
	if (!SIGNAL_NEEDS(ctx, st, FEAT_UPROBE))
		return;
	if (all_targets(ctx)) {
		signal__why(st, SIG_LIVE, "--pid targets and descendants (up to %u), %s mode, "
			    "stacks every %u bytes", cfg->alloc.max_targets,
			    cfg->alloc.mode == CFG_ALLOC_FULL ? "full" : "sampled",
			    cfg->alloc.sample_bytes);
		return;
	}
	if (!cfg->alloc.auto_enable_s) {
		signal__why(st, SIG_OFF, "only traces tier-1 suspects, and "
			    "signals.alloc.auto_enable_s is 0; use --pid with --leaks");
		return;
	}
	signal__why(st, SIG_LIVE, "%s: a process tier 1 flags (mem_growth suspect) for "
		    "%u s, within %.3g%% of a CPU%s", ctx->filter ? "--pid" : "host-wide",
		    cfg->alloc.auto_enable_s, cfg->alloc.budget_pct,
		    ctx->filter ? "; --leaks traces the targets from the start" : "");
}

/* --- the cost of one hit, measured on a function of our own --- */

#if defined(__x86_64__)
long probe_alloc_calib(long x);
/* starts with push: an emulated site, like glibc's malloc */
__asm__(".text\n.globl probe_alloc_calib\n.type probe_alloc_calib,@function\n"
	"probe_alloc_calib:\n\tpush %rbp\n\tmov %rdi,%rax\n\tpop %rbp\n\tret\n"
	".size probe_alloc_calib, .-probe_alloc_calib\n");
/* The same instructions, never probed: the time without a probe hit. */
long probe_alloc_calib_bare(long x);
__asm__(".text\n.globl probe_alloc_calib_bare\n.type probe_alloc_calib_bare,@function\n"
	"probe_alloc_calib_bare:\n\tpush %rbp\n\tmov %rdi,%rax\n\tpop %rbp\n\tret\n"
	".size probe_alloc_calib_bare, .-probe_alloc_calib_bare\n");

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t time_calls(long (*f)(long), unsigned int n)
{
	long (*volatile fn)(long) = f;
	uint64_t t0 = mono_ns();
	unsigned int i;

	for (i = 0; i < n; i++)
		fn(i);
	return mono_ns() - t0;
}

/*
 * One attach, kept until stop, and rounds alternating the probed function
 * with its unprobed twin: each detach of a uprobe waits for the kernel
 * (~0.1 s here), and seven attach/detach rounds made start-up 0.8 s longer.
 */
static int calibrate(struct alloc_state *a)
{
	const unsigned int n = 300;	/* x 7 rounds: ~15 ms; the minima shrug off a busy CPU */
	uint64_t with = UINT64_MAX, without = UINT64_MAX, t;
	LIBBPF_OPTS(bpf_uprobe_opts, o);
	struct uprobe_func f;
	int round, err;

	err = uprobe_site__find_func("/proc/self/exe", "probe_alloc_calib", -1, &f);
	if (err)
		return err;
	if (a->multi) {
		/* measured the way the allocators will be probed; released without event_mutex */
		a->calib_fd = uprobe_multi__attach(bpf_program__fd(a->skel->progs.calib_hit),
						   "/proc/self/exe", &f.file_off, NULL, 1,
						   getpid(), 0);
		if (a->calib_fd < 0) {
			err = a->calib_fd;
			a->calib_fd = -1;
			return err;
		}
	} else {
		a->calib_link = bpf_program__attach_uprobe_opts(a->skel->progs.calib_hit,
								getpid(), "/proc/self/exe",
								f.file_off, &o);
		if (!a->calib_link)
			return -errno;
	}
	for (round = 0; round < 7; round++) {
		t = time_calls(probe_alloc_calib_bare, n);
		without = t < without ? t : without;
		t = time_calls(probe_alloc_calib, n);
		with = t < with ? t : with;
	}
	if (with <= without)
		return -ERANGE;
	a->trap_ns = (double)(with - without) / n;
	return 0;
}
#else
static int calibrate(struct alloc_state *a)
{
	(void)a;
	return -ENOTSUP;
}
#endif

/* --- targets --- */

static int targets_active(const struct alloc_state *a)
{
	int n = 0;
	unsigned int i;

	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS; i++)
		n += a->t[i].session != 0;
	return n;
}

static struct target *target_by_pid(struct alloc_state *a, int pid)
{
	unsigned int i;

	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS; i++)
		if (a->t[i].session && a->t[i].pid == pid)
			return &a->t[i];
	return NULL;
}

static int was_tried(const struct alloc_state *a, int pid, uint64_t start)
{
	unsigned int i, n = a->ntried < MAX_TRIED ? a->ntried : MAX_TRIED;

	for (i = 0; i < n; i++)
		if (a->tried[i].pid == pid && a->tried[i].start == start)
			return 1;
	return 0;
}

static void mark_tried(struct alloc_state *a, int pid, uint64_t start)
{
	a->tried[a->ntried++ % MAX_TRIED] = (struct tried){ pid, start };
}

static int exe_id(int pid, uint64_t *dev, uint64_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	if (stat(path, &st))
		return -errno;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

static int read_comm(int pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

static void on_pidfd(int fd, void *arg)
{
	struct target *t = arg;

	(void)fd;
	t->exited = 1;	/* handled at the next collect, after a last read */
}

static void target_labels(const struct target *t, char *pid, size_t plen, struct label *l)
{
	snprintf(pid, plen, "%d", t->pid);
	l[0] = (struct label){ "pid", pid };
	l[1] = (struct label){ "comm", t->comm };
	l[2] = (struct label){ "instance", t->instance };
	l[3] = (struct label){ "libc", t->libc };
	l[4] = (struct label){ "probes", t->probes };
	memcpy(l + 5, t->attr, sizeof(t->attr));
}

static void detach(struct alloc_state *a, struct target *t)
{
	__u32 slot = (__u32)(t - a->t), none = 0, pid = (__u32)t->pid;

	/* retire the session first: a hit still in flight records nothing */
	bpf_map_update_elem(bpf_map__fd(a->skel->maps.alloc_slot_session), &slot, &none, BPF_ANY);
	bpf_map_delete_elem(bpf_map__fd(a->skel->maps.alloc_exec_watch), &pid);
	detach__links(t->links, t->nlinks);
	t->nlinks = 0;
	detach__fds(t->mlinks, t->nmlinks);
	t->nmlinks = 0;
	if (t->pidfd >= 0) {
		loop__del_fd(a->ctx->loop, t->pidfd);
		close(t->pidfd);
		t->pidfd = -1;
	}
}

static struct bpf_link *attach_one(struct bpf_program *prog, int pid,
				   const char *path, uint64_t off, uint64_t cookie, int ret)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookie, .retprobe = ret);

	return bpf_program__attach_uprobe_opts(prog, pid, path, (size_t)off, &o);
}

/*
 * Trace pid: find its libc, choose each function's probe site, attach.
 * Returns 0, or -errno with *why filled for the log.
 */
/*
 * A malloc replacement mapped as a shared library (Debian's redis-server
 * links libjemalloc): 1 and its short name in name, else 0.
 */
static int other_allocator(int pid, char *name, size_t len)
{
	static const char *const libs[] = { "jemalloc", "tcmalloc", "mimalloc", "hoard",
					    "snmalloc", "rpmalloc" };
	char path[64], line[512];
	int found = 0;
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *base = strrchr(line, '/');

		for (i = 0; base && i < sizeof(libs) / sizeof(libs[0]); i++)
			if (!strncmp(base + 1, "lib", 3) && strstr(base, libs[i])) {
				snprintf(name, len, "%s", libs[i]);
				found = 1;
				break;
			}
	}
	fclose(f);
	return found;
}

/* A process's sites, gathered for its uprobe_multi links. */
struct multi_sites {
	uint64_t free_off[1], free_cookie[1];
	uint64_t off[NFUNCS], cookie[NFUNCS];	/* the allocators */
	unsigned int nfree, n;
};

static void multi_add(struct multi_sites *ms, int is_free, uint64_t off, uint64_t cookie)
{
	if (is_free && ms->nfree < 1) {
		ms->free_off[ms->nfree] = off;
		ms->free_cookie[ms->nfree++] = cookie;
	} else if (!is_free && ms->n < NFUNCS) {
		ms->off[ms->n] = off;
		ms->cookie[ms->n++] = cookie;
	}
}

/*
 * The same order as per-site attach: free first (no block allocated
 * unwatched is later freed watched as a leak), then the allocators' return
 * probes before their entries (an entry without its return is a stale
 * call). Each site keeps its cookie (session, kind, slot).
 */
static int multi_attach(struct alloc_state *a, struct target *t, const char *path,
			const struct multi_sites *ms, char *why, size_t whylen)
{
	static const char *const what[] = { "free", "allocator returns", "allocator entries" };
	const struct {
		struct bpf_program *prog;
		const uint64_t *off, *cookie;
		unsigned int n;
		int ret;
	} l[] = {
		{ a->skel->progs.free_enter, ms->free_off, ms->free_cookie, ms->nfree, 0 },
		{ a->exit_prog, ms->off, ms->cookie, ms->n, 1 },
		{ a->enter_prog, ms->off, ms->cookie, ms->n, 0 },
	};
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
		fd = uprobe_multi__attach(bpf_program__fd(l[i].prog), path, l[i].off, l[i].cookie,
					  l[i].n, t->pid, l[i].ret);
		if (fd < 0) {
			snprintf(why, whylen, "attaching %s (%u sites, uprobe_multi) in %.120s: %s",
				 what[i], l[i].n, path, strerror(-fd));
			return fd;
		}
		t->mlinks[t->nmlinks++] = fd;
	}
	return 0;
}

static int target_attach(struct alloc_state *a, int pid, int is_auto, unsigned int gen,
			 uint64_t now, char *why, size_t whylen)
{
	char other[16];
	uint64_t offs[NFUNCS], cookie;
	struct multi_sites ms = { 0 };
	char attach[PATH_MAX + 64];
	struct target *t = NULL;
	size_t plen = 0;
	unsigned int i, j, nf = 0;
	__u32 slot = 0, pid_key = (__u32)pid;
	int err, have_malloc = 0, have_free = 0;

	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS && !t; i++)
		if (!a->t[i].session) {
			t = &a->t[i];
			slot = i;	/* the session's index in the per-session arrays */
		}
	if (!t || targets_active(a) >= (int)a->max_targets) {
		snprintf(why, whylen, "%u processes traced already (signals.alloc.max_targets)",
			 a->max_targets);
		return -ENOSPC;
	}
	memset(t, 0, sizeof(*t));
	t->pidfd = -1;
	t->pid = pid;
	t->gen = gen;
	t->is_auto = is_auto;
	t->start = sym_start_time(pid);
	if (!t->start) {
		snprintf(why, whylen, "gone");
		return -ESRCH;
	}
	/* fresh, not cached: after an exec the pid has a new name */
	if (read_comm(pid, t->comm, sizeof(t->comm)))
		names__set(a->ctx->names, pid, t->comm);
	else
		snprintf(t->comm, sizeof(t->comm), "%s", names__get(a->ctx->names, pid));
	if (gen)
		snprintf(t->instance, sizeof(t->instance), "%" PRIu64 ".%u", t->start, gen);
	else
		snprintf(t->instance, sizeof(t->instance), "%" PRIu64, t->start);
	attrib__labels(a->ctx->attrib, 0, pid, t->attr);
	for (i = 0; i < ATTRIB_NLABELS; i++) {
		snprintf(t->attr_val[i], sizeof(t->attr_val[i]), "%s", t->attr[i].value);
		t->attr[i].value = t->attr_val[i];
	}
	exe_id(pid, &t->exe_dev, &t->exe_ino);
	if (other_allocator(pid, other, sizeof(other))) {
		/* libc's malloc would be traced and read "0 calls", which looks like "no leak" */
		snprintf(why, whylen, "%s (another allocator: its calls bypass libc's malloc)",
			 other);
		return -ENOTSUP;
	}
	err = uprobe_site__find_libc(pid, attach, sizeof(attach), t->libc, sizeof(t->libc));
	if (err) {
		snprintf(why, whylen, "%s", err == -ENOENT ?
			 "static (no C library mapped: a static binary or its own allocator)" :
			 strerror(-err));
		return err;
	}
	t->session = ++a->next_session ? a->next_session : ++a->next_session;
	/* the slot's hit counters start from zero */
	memset(a->hitbuf, 0, (size_t)a->ncpu * sizeof(*a->hitbuf));
	if (bpf_map_update_elem(bpf_map__fd(a->skel->maps.alloc_hits), &slot, a->hitbuf,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(a->skel->maps.alloc_exec_watch), &pid_key, &slot,
				BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(a->skel->maps.alloc_slot_session), &slot,
				&t->session, BPF_ANY)) {
		err = -errno;
		snprintf(why, whylen, "session maps: %s", strerror(-err));
		detach(a, t);
		t->session = 0;
		return err;
	}
	t->enter_cost = t->free_cost = a->trap_ns * SSTEP_FACTOR;
	for (i = 0; i < NFUNCS; i++) {
		struct uprobe_func f;
		uint64_t off;
		int dup = 0;

		err = uprobe_site__find_func(attach, funcs[i].name, funcs[i].null_reg, &f);
		if (err) {
			plen += (size_t)snprintf(t->probes + plen, sizeof(t->probes) - plen, "%s%s: %s",
						 plen ? "; " : "", funcs[i].name,
						 err == -ENOENT ? "absent" : strerror(-err));
			continue;
		}
		/* aliases (memalign = aligned_alloc here): one probe, or each call counts twice */
		for (j = 0; j < nf; j++)
			dup |= offs[j] == f.file_off;
		if (dup) {
			plen += (size_t)snprintf(t->probes + plen, sizeof(t->probes) - plen,
						 "%s%s: alias", plen ? "; " : "", funcs[i].name);
			continue;
		}
		offs[nf++] = f.file_off;
		off = f.file_off + f.site.delta;
		cookie = PROBE_ALLOC_COOKIE(t->session, funcs[i].kind, slot);
		if (a->multi) {
			/* attached below, all sites of a program in one link */
			multi_add(&ms, funcs[i].kind == PROBE_ALLOC_FREE, off, cookie);
		} else if (funcs[i].kind == PROBE_ALLOC_FREE) {
			t->links[t->nlinks] = attach_one(a->skel->progs.free_enter, pid, attach,
							 off, cookie, 0);
		} else {
			/* the return probe first: an entry without it is a stale call */
			t->links[t->nlinks] = attach_one(a->exit_prog, pid, attach, off, cookie, 1);
			if (t->links[t->nlinks]) {
				t->nlinks++;
				t->links[t->nlinks] = attach_one(a->enter_prog, pid, attach, off,
								 cookie, 0);
			}
		}
		if (!a->multi && !t->links[t->nlinks]) {
			err = -errno;
			snprintf(why, whylen, "attaching %s at %.120s+0x%" PRIx64 ": %s", funcs[i].name,
				 attach, off, strerror(-err));
			detach(a, t);
			t->session = 0;
			return err;
		}
		if (!a->multi)
			t->nlinks++;
		if (funcs[i].kind == PROBE_ALLOC_FREE) {
			have_free = 1;
			t->free_cost = f.site.emulated ? a->trap_ns : a->trap_ns * SSTEP_FACTOR;
		} else if (funcs[i].kind == PROBE_ALLOC_MALLOC) {
			have_malloc = 1;
			t->enter_cost = f.site.emulated ? a->trap_ns : a->trap_ns * SSTEP_FACTOR;
		}
		plen += (size_t)snprintf(t->probes + plen, sizeof(t->probes) - plen, "%s%s %s",
					 plen ? "; " : "", funcs[i].name, f.site.why);
		if (plen >= sizeof(t->probes))
			plen = sizeof(t->probes) - 1;
	}
	if (!have_malloc || !have_free) {
		snprintf(why, whylen, "%.200s has no %s", t->libc, have_malloc ? "free" : "malloc");
		detach(a, t);
		t->session = 0;
		return -ENOENT;
	}
	if (a->multi) {
		err = multi_attach(a, t, attach, &ms, why, whylen);
		if (err) {
			detach(a, t);
			t->session = 0;
			return err;
		}
	}
	t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (t->pidfd >= 0 && loop__add_fd(a->ctx->loop, t->pidfd, on_pidfd, t)) {
		close(t->pidfd);
		t->pidfd = -1;
	}
	/* the process may have been replaced while we attached */
	if (sym_start_time(pid) != t->start)
		t->exited = 1;
	t->hits_ns = now;
	/* this image's mappings, kept for its addresses even after an exec */
	symbolizer__forget(a->sym, pid);
	symbolizer__prepare(a->sym, pid, t->start);
	if (is_auto)
		t->until_ns = now + (uint64_t)a->cfg->alloc.auto_enable_s * 1000000000ULL;
	/* where each probe sits is detail for -v; one line per process otherwise */
	if (a->ctx->verbose)
		fprintf(stderr, "probe: alloc: tracing pid %d (%s)%s, %s (%s): %s\n", pid, t->comm,
			is_auto ? " for a tier-1 memory-growth flag" : "", t->libc,
			a->multi ? "3 uprobe_multi links" : "a uprobe per site", t->probes);
	else
		fprintf(stderr, "probe: alloc: tracing pid %d (%s)%s: malloc family and free, "
			"est. %.1f us per allocation+free\n", pid, t->comm,
			is_auto ? " (tier-1 memory-growth suspect)" : "",
			2.25 * a->trap_ns / 1000.0);
	return 0;
}

static void write_target(struct alloc_state *a, struct target *t, uint64_t now, int attached,
			 int exited, uint64_t dcalls, uint64_t dfrees)
{
	struct label l[5 + ATTRIB_NLABELS];
	char pid[16];

	if (!t->se) {
		target_labels(t, pid, sizeof(pid), l);
		t->se = family__series(a->tfam, l, 5 + ATTRIB_NLABELS);
	}
	if (!t->se)
		return;
	series__set_gauge(t->se, now, TG_ATTACHED, attached);
	series__set_gauge(t->se, now, TG_EXITED, exited);
	series__set_gauge(t->se, now, TG_AUTO, t->is_auto);
	series__set_gauge(t->se, now, TG_RATE, attached ? t->calls_per_s : 0);
	series__set_gauge(t->se, now, TG_PCT, attached ? t->est_pct : 0);
	series__set_gauge(t->se, now, TG_TRAP, a->trap_ns / 1000.0);
	series__set_gauge(t->se, now, TG_TRACKED,
			  (double)alloc_sites__tracked(a->sites, t->session));
	series__add(t->se, now, AT_CALLS, dcalls);
	series__add(t->se, now, AT_FREES, dfrees);
}

/* Sum the per-CPU hit counters of a session and turn them into a cost estimate. */
static void target_rates(struct alloc_state *a, struct target *t, uint64_t now)
{
	struct probe_alloc_hits sum = { 0 }, d;
	__u32 slot = (__u32)(t - a->t);
	double secs;
	int i;

	if (bpf_map_lookup_elem(bpf_map__fd(a->skel->maps.alloc_hits), &slot, a->hitbuf))
		return;
	for (i = 0; i < a->ncpu; i++) {
		sum.enter += a->hitbuf[i].enter;
		sum.ret += a->hitbuf[i].ret;
		sum.free += a->hitbuf[i].free;
		sum.sampled += a->hitbuf[i].sampled;
	}
	d.enter = sum.enter - t->hits.enter;
	d.ret = sum.ret - t->hits.ret;
	d.free = sum.free - t->hits.free;
	d.sampled = sum.sampled - t->hits.sampled;
	secs = now > t->hits_ns ? (now - t->hits_ns) / 1e9 : 0;
	if (secs > 0) {
		double ns = d.enter * t->enter_cost + d.ret * a->trap_ns * RET_FACTOR +
			    d.free * t->free_cost + d.sampled * a->trap_ns * STACK_FACTOR;

		t->calls_per_s = (d.enter + d.free) / secs;
		t->est_pct = ns / secs / 1e7;	/* ns per s -> % of one CPU */
	}
	a->events += d.enter + d.free;
	t->hits = sum;
	t->hits_ns = now;
	write_target(a, t, now, 1, 0, d.enter, d.free);
}

static const char *const end_names[] = {
	[END_EXITED] = "exited", [END_EXEC] = "exec'd", [END_TIME] = "auto-enable time is up",
	[END_BUDGET] = "over the overhead budget",
};

static void target_end(struct alloc_state *a, struct target *t, enum target_end why,
		       uint64_t now)
{
	int gone = why == END_EXITED || why == END_EXEC;

	detach(a, t);
	alloc_sites__end(a->sites, t->session, gone, now);
	write_target(a, t, now, 0, why == END_EXITED, 0, 0);
	if (gone)
		symbolizer__forget(a->sym, t->pid);
	if (why == END_BUDGET)
		fprintf(stderr, "probe: alloc: pid %d (%s): stopped tracing: estimated %.1f%% of a "
			"CPU is over the budget of %.3g%%\n", t->pid, t->comm, t->est_pct,
			a->cfg->alloc.budget_pct);
	else
		fprintf(stderr, "probe: alloc: pid %d (%s): stopped tracing: %s\n", t->pid,
			t->comm, end_names[why]);
	memset(t, 0, sizeof(*t));
	t->pidfd = -1;
}

/* What ended, if anything, for a target this collect. */
static enum target_end target_check(struct alloc_state *a, struct target *t, uint64_t now)
{
	uint64_t dev = 0, ino = 0;

	if (t->exited || sym_start_time(t->pid) != t->start)
		return END_EXITED;
	if (!exe_id(t->pid, &dev, &ino) && (dev != t->exe_dev || ino != t->exe_ino))
		return END_EXEC;
	if (t->is_auto && now >= t->until_ns)
		return END_TIME;
	if (t->is_auto && t->est_pct > a->cfg->alloc.budget_pct)
		return END_BUDGET;
	return END_NONE;
}

static int is_root(const struct alloc_state *a, int pid)
{
	unsigned int i;

	for (i = 0; i < a->ctx->npids; i++)
		if (a->ctx->pids[i] == pid)
			return 1;
	return 0;
}

/* Trace pid unless it was tried already (once per process instance). */
static void try_attach(struct alloc_state *a, int pid, int is_auto, unsigned int gen,
		       uint64_t now)
{
	uint64_t start = sym_start_time(pid);
	char why[256];
	int err;

	if (!start || pid == a->ctx->self_pid || was_tried(a, pid, start))
		return;		/* gone, ourselves, or reported already */
	mark_tried(a, pid, start);
	if (!names__is_process(pid))
		return;		/* a thread: its process is traced as a whole */
	err = target_attach(a, pid, is_auto, gen, now, why, sizeof(why));
	/* a root target always says why; its descendants only with -v */
	if (err && (a->ctx->verbose || is_root(a, pid)))
		fprintf(stderr, "probe: alloc: pid %d: not traced: %s\n", pid, why);
}

/* --pid: every followed process (the proc signal's map: targets and descendants). */
static void follow_tracked(struct alloc_state *a, uint64_t now)
{
	__u32 key, next, *prev = NULL;
	int fd = a->ctx->tracked_fd;

	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!target_by_pid(a, (int)key))
			try_attach(a, (int)key, 0, 0, now);
	}
}

struct suspect_scan {
	struct alloc_state *a;
	unsigned int gauge;
	uint64_t now;
};

static int on_growth_series(struct series *se, void *arg)
{
	struct suspect_scan *sc = arg;
	const char *pid = series__label(se, "pid");

	if (!pid || series__gauge(se, sc->gauge) != 1)
		return 0;
	if (!target_by_pid(sc->a, atoi(pid)))
		try_attach(sc->a, atoi(pid), 1, 0, sc->now);
	return 0;
}

/* Host-wide: tier 1's suspects, read from the store. */
static void follow_suspects(struct alloc_state *a, uint64_t now)
{
	struct family *f = families__lookup(a->ctx->store, FAM_MEM_GROWTH);
	struct suspect_scan sc = { a, MG_SUSPECT, now };

	if (!f)
		return;		/* no tier 1 in this build or run */
	family__for_each(f, on_growth_series, &sc);
}

static void alloc_collect(void *state, uint64_t now)
{
	struct alloc_state *a = state;
	struct alloc_session ss[PROBE_ALLOC_MAX_SESSIONS];
	enum target_end ends[PROBE_ALLOC_MAX_SESSIONS];
	struct { int pid; unsigned int gen; } reattach[PROBE_ALLOC_MAX_SESSIONS];
	unsigned int n = 0, nre = 0, i;
	int scan = now >= a->next_scan;

	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS; i++) {
		struct target *t = &a->t[i];

		ends[i] = END_NONE;
		if (!t->session)
			continue;
		target_rates(a, t, now);
		ends[i] = target_check(a, t, now);
		ss[n++] = (struct alloc_session){
			.session = t->session, .pid = t->pid, .start_time = t->start,
			.comm = t->comm, .instance = t->instance, .attr = t->attr,
		};
	}
	/* a session about to end gets its last read (and scan) now */
	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS; i++)
		scan |= ends[i] != END_NONE;
	if (scan)
		a->next_scan = now + (uint64_t)a->cfg->alloc.scan_s * 1000000000ULL;
	alloc_sites__collect(a->sites, now, ss, n, scan);
	for (i = 0; i < PROBE_ALLOC_MAX_SESSIONS; i++) {
		struct target *t = &a->t[i];

		if (ends[i] == END_NONE)
			continue;
		if (ends[i] == END_EXEC && !t->is_auto) {
			reattach[nre].pid = t->pid;
			reattach[nre++].gen = t->gen + 1;
		}
		target_end(a, t, ends[i], now);
	}
	/* a followed process that exec'd is a new instance: trace it afresh */
	for (i = 0; i < nre; i++) {
		char why[256];

		if (target_attach(a, reattach[i].pid, 0, reattach[i].gen, now, why, sizeof(why)))
			fprintf(stderr, "probe: alloc: pid %d: not traced after exec: %s\n",
				reattach[i].pid, why);
	}
	if (all_targets(a->ctx))
		follow_tracked(a, now);
	else
		follow_suspects(a, now);
}

static void alloc_counts(void *state, struct signal_counts *c)
{
	static const uint32_t losses[] = {
		PROBE_ALLOC_STAT_LIVE_FULL, PROBE_ALLOC_STAT_SITES_FULL,
		PROBE_ALLOC_STAT_STACK_LOST, PROBE_ALLOC_STAT_INFLIGHT_FULL,
		PROBE_ALLOC_STAT_STALE_CALL,
	};
	struct alloc_state *a = state;
	int fd = bpf_map__fd(a->skel->maps.stats);
	unsigned int i;
	uint64_t v;

	c->events = a->events;
	c->lost = a->sites ? alloc_sites__lost(a->sites) : 0;
	for (i = 0; i < sizeof(losses) / sizeof(losses[0]); i++)
		if (!signals__percpu_sum(fd, losses[i], &v))
			c->lost += v;
}

static void alloc_stop(void *state)
{
	struct alloc_state *a = state;
	struct bpf_link **all;
	int *fds;
	unsigned int i;
	size_t n = 0, nf = 0;

	if (!a)
		return;
	/*
	 * Sessions retire first, then every target's links and the
	 * calibration link go at once (detach.h); without memory for the
	 * lists, detach() frees them.
	 */
	all = calloc(PROBE_ALLOC_MAX_SESSIONS * 2 * NFUNCS + 2, sizeof(*all));
	fds = calloc(PROBE_ALLOC_MAX_SESSIONS * 3 + 1, sizeof(*fds));
	for (i = 0; all && fds && a->sites && i < PROBE_ALLOC_MAX_SESSIONS; i++)
		if (a->t[i].session) {
			memcpy(all + n, a->t[i].links, a->t[i].nlinks * sizeof(*all));
			n += a->t[i].nlinks;
			a->t[i].nlinks = 0;
			memcpy(fds + nf, a->t[i].mlinks, a->t[i].nmlinks * sizeof(*fds));
			nf += a->t[i].nmlinks;
			a->t[i].nmlinks = 0;
		}
	for (i = 0; a->sites && i < PROBE_ALLOC_MAX_SESSIONS; i++)
		if (a->t[i].session)
			detach(a, &a->t[i]);
	/*
	 * The exec watch goes with them: the sessions are retired already, and
	 * its tracepoint waits its turn under event_mutex, better beside the
	 * others than after them.
	 */
	if (all && fds) {
		all[n++] = a->calib_link;
		all[n++] = a->exec_link;
		fds[nf++] = a->calib_fd;
		detach__all(all, n, fds, nf);
	} else {
		bpf_link__destroy(a->calib_link);
		bpf_link__destroy(a->exec_link);
		if (a->calib_fd >= 0)
			close(a->calib_fd);
	}
	a->calib_link = NULL;
	a->exec_link = NULL;
	a->calib_fd = -1;
	free(all);
	free(fds);
	alloc_sites__free(a->sites);
	symbolizer__free(a->sym);
	alloc_bpf__destroy(a->skel);
	free(a->hitbuf);
	free(a);
}

static int alloc_start(struct probe_ctx *ctx, void **state, struct signal_status *st)
{
	struct alloc_state *a = calloc(1, sizeof(*a));
	const struct probe_config *cfg = ctx->cfg;
	struct alloc_sites_maps maps;
	char notes[SIGNAL_WHY_LEN];
	unsigned int i;
	int err, ts;

	if (!a)
		return -ENOMEM;
	a->ctx = ctx;
	a->cfg = cfg;
	a->calib_fd = -1;
	a->max_targets = cfg->alloc.max_targets < PROBE_ALLOC_MAX_SESSIONS ?
			 cfg->alloc.max_targets : PROBE_ALLOC_MAX_SESSIONS;
	a->ncpu = libbpf_num_possible_cpus();
	if (a->ncpu <= 0) {
		err = a->ncpu ? a->ncpu : -EINVAL;
		goto err_free;
	}
	a->hitbuf = calloc((size_t)a->ncpu, sizeof(*a->hitbuf));
	if (!a->hitbuf) {
		err = -ENOMEM;
		goto err_free;
	}
	a->skel = alloc_bpf__open();
	if (!a->skel) {
		err = -errno;
		signal__why(st, SIG_FAILED, "open: %s", strerror(-err));
		goto err_free;
	}
	/* one pair of allocator programs loads; the other is switched off */
	ts = ctx->feat->have[FEAT_TASK_STORAGE];
	signal__one_of(a->skel->progs.alloc_enter_ts, a->skel->progs.alloc_enter_hash, ts);
	signal__one_of(a->skel->progs.alloc_exit_ts, a->skel->progs.alloc_exit_hash, ts);
	if (ts)
		bpf_map__set_max_entries(a->skel->maps.alloc_call_tid, 1);
	a->enter_prog = ts ? a->skel->progs.alloc_enter_ts : a->skel->progs.alloc_enter_hash;
	a->exit_prog = ts ? a->skel->progs.alloc_exit_ts : a->skel->progs.alloc_exit_hash;
	/*
	 * Where the kernel has a working uprobe_multi (features.c tried it),
	 * the allocator programs load for it: one link per program and process
	 * releases with one grace period, where a uprobe per site waited for
	 * its own, one after another (loader/uprobe_multi.h). Loaded that way
	 * they cannot attach per site, so the choice is made once, here,
	 * for calib_hit too.
	 */
	a->multi = ctx->feat->have[FEAT_UPROBE_MULTI];
	if (a->multi) {
		enum bpf_attach_type at = (enum bpf_attach_type)UPROBE_MULTI__ATTACH_TYPE;

		bpf_program__set_expected_attach_type(a->enter_prog, at);
		bpf_program__set_expected_attach_type(a->exit_prog, at);
		bpf_program__set_expected_attach_type(a->skel->progs.free_enter, at);
		bpf_program__set_expected_attach_type(a->skel->progs.calib_hit, at);
	} else if (ctx->verbose && !ctx->check_only) {
		fprintf(stderr, "probe: alloc: a uprobe per site (slower to detach): uprobe_multi: %s\n",
			ctx->feat->why[FEAT_UPROBE_MULTI]);
	}
	a->skel->rodata->sample_bytes = cfg->alloc.sample_bytes;
	a->skel->rodata->track_all = cfg->alloc.mode == CFG_ALLOC_FULL;
	a->skel->rodata->self_pid = (__u32)ctx->self_pid;
	signal__btf_or_tp(ctx, a->skel->progs.alloc_exec, a->skel->progs.alloc_exec_tp, 1);
	err = signal__load(a->skel->skeleton, a->skel->maps.tracked_pids, ctx, st, NULL);
	if (err)
		goto err_free;
	if (ctx->check_only) {
		*state = a;
		return 0;
	}
	a->exec_link = bpf_program__attach(ctx->feat->have[FEAT_TP_BTF] ? a->skel->progs.alloc_exec :
					   a->skel->progs.alloc_exec_tp);
	if (!a->exec_link) {
		err = -errno;
		signal__why(st, SIG_FAILED, "attach sched_process_exec: %s", strerror(-err));
		goto err_free;
	}
	a->tfam = families__register(ctx->store, FAM_ALLOC_TARGET, 0);
	a->sym = symbolizer__new();
	maps.live_fd = bpf_map__fd(a->skel->maps.alloc_live);
	maps.sites_fd = bpf_map__fd(a->skel->maps.alloc_sites);
	maps.stacks_fd = bpf_map__fd(a->skel->maps.alloc_stacks);
	a->sites = a->sym && a->tfam ? alloc_sites__new(cfg, ctx->store, a->sym, &maps) : NULL;
	if (!a->sites) {
		err = -ENOMEM;
		goto err_free;
	}
	a->trap_ns = cfg->alloc.trap_cost_us * 1000.0;
	if (!a->trap_ns) {
		err = calibrate(a);
		a->trap_measured = !err;
		if (err)
			a->trap_ns = DEFAULT_TRAP_NS;
	}
	snprintf(notes, sizeof(notes), "%s", st->why);
	signal__why(st, SIG_LIVE, "%s; one probe hit costs %.1f us here (%s)", notes,
		    a->trap_ns / 1000.0, a->trap_measured ? "measured" :
		    cfg->alloc.trap_cost_us ? "configured" : "not measurable: assumed");
	for (i = 0; all_targets(ctx) && i < ctx->npids; i++)
		try_attach(a, ctx->pids[i], 0, 0, loop__now_ns());
	*state = a;
	return 0;

err_free:
	alloc_stop(a);
	return err;
}

const struct signal_ops alloc_signal = {
	.name = "alloc",
	.what = "outstanding heap allocations by call site and stack; leak suspects (tier 3)",
	.plan = alloc_plan,
	.start = alloc_start,
	.collect = alloc_collect,
	.counts = alloc_counts,
	.stop = alloc_stop,
};
