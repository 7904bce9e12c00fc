/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "loader/uprobe_multi.h"
#include "proc/uprobe_site.h"

/*
 * union bpf_attr as BPF_LINK_CREATE reads it for a uprobe_multi link
 * (include/uapi/linux/bpf.h, Linux 6.6): the common link_create head, then
 * the uprobe_multi member of its union, which starts 8-byte aligned at 16.
 */
struct uprobe_multi_attr {
	__u32 prog_fd;
	__u32 target_fd;	/* unused: 0 */
	__u32 attach_type;	/* UPROBE_MULTI__ATTACH_TYPE */
	__u32 flags;		/* link flags: 0 */
	__aligned_u64 path;	/* const char * */
	__aligned_u64 offsets;	/* const __u64 * */
	__aligned_u64 ref_ctr_offsets;	/* semaphores (USDT): none */
	__aligned_u64 cookies;	/* const __u64 * */
	__u32 cnt;
	__u32 um_flags;		/* UPROBE_MULTI__RETURN */
	__u32 pid;
};

_Static_assert(offsetof(struct uprobe_multi_attr, path) == 16, "uprobe_multi.path");
_Static_assert(offsetof(struct uprobe_multi_attr, cookies) == 40, "uprobe_multi.cookies");
_Static_assert(offsetof(struct uprobe_multi_attr, pid) == 56, "uprobe_multi.pid");
_Static_assert(sizeof(struct uprobe_multi_attr) <= sizeof(union bpf_attr), "fits bpf_attr");

/* The kernel refuses more (MAX_UPROBE_MULTI_CNT); we never need near it. */
#define UPROBE_MULTI_MAX	(1U << 20)

int uprobe_multi__attach(int prog_fd, const char *path, const uint64_t *offsets,
			 const uint64_t *cookies, size_t n, int pid, int retprobe)
{
	struct uprobe_multi_attr attr;
	long fd;

	if (prog_fd < 0 || !path || !offsets || !n || n > UPROBE_MULTI_MAX || pid < 0)
		return -EINVAL;
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (__u32)prog_fd;
	attr.attach_type = UPROBE_MULTI__ATTACH_TYPE;
	attr.path = (__u64)(uintptr_t)path;
	attr.offsets = (__u64)(uintptr_t)offsets;
	attr.cookies = (__u64)(uintptr_t)cookies;
	attr.cnt = (__u32)n;
	attr.um_flags = retprobe ? UPROBE_MULTI__RETURN : 0;
	attr.pid = (__u32)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}

/* --- the feature probe --- */

/* What the probe's program is attached to: a function of our own. */
__attribute__((noinline, used)) int probe_uprobe_multi_target(int x);
__attribute__((noinline, used)) int probe_uprobe_multi_target(int x)
{
	__asm__ volatile("" : "+r"(x) : : "memory");	/* neither inlined nor folded away */
	return x + 1;
}

static void *other_thread(void *arg)
{
	(void)arg;
	probe_uprobe_multi_target(1);
	return NULL;
}

/* A hit counter: array map of one __u64; the program adds 1 to it. */
static int probe_prog(int map_fd)
{
	const struct bpf_insn insns[] = {
		/* *(u32 *)(fp - 4) = 0: the key */
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4 },
		/* r1 = the map (a two-slot ld_imm64) */
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
	int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), &opts);

	return fd < 0 ? -errno : fd;
}

struct probe_fds {
	int fd[3];
};

static void *close_fds(void *arg)
{
	struct probe_fds *c = arg;
	unsigned int i;

	for (i = 0; i < 3; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
	free(c);
	return NULL;
}

/*
 * Closing the test link waits ~30 ms here for the kernel's grace period;
 * a detached thread does it while start-up goes on (loading the signals
 * takes far longer). Without a thread, here and now.
 */
static void close_later(int link, int prog, int map)
{
	struct probe_fds *c = malloc(sizeof(*c));
	pthread_attr_t at;
	pthread_t th;
	int started = 0;

	if (c && !pthread_attr_init(&at)) {
		c->fd[0] = link;
		c->fd[1] = prog;
		c->fd[2] = map;
		started = !pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) &&
			  !pthread_create(&th, &at, close_fds, c);
		pthread_attr_destroy(&at);
	}
	if (started)
		return;
	free(c);
	if (link >= 0)
		close(link);
	if (prog >= 0)
		close(prog);
	if (map >= 0)
		close(map);
}

int uprobe_multi__probe(char *why, size_t len)
{
	int map = -1, prog = -1, link = -1, ok = 0, err;
	struct uprobe_func f;
	uint64_t off, hits = 0;
	__u32 key = 0;
	pthread_t th;

	map = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(__u32), sizeof(__u64), 1, NULL);
	if (map < 0) {
		snprintf(why, len, "array map refused: %s", strerror(errno));
		goto out;
	}
	prog = probe_prog(map);
	if (prog < 0) {
		/* EINVAL: the kernel knows no such attach type (before 6.6) */
		snprintf(why, len, "uprobe_multi program refused: %s (kernel before 6.6?)",
			 strerror(-prog));
		goto out;
	}
	err = uprobe_site__find_func("/proc/self/exe", "probe_uprobe_multi_target", -1, &f);
	if (err) {
		snprintf(why, len, "own test function not found: %s", strerror(-err));
		goto out;
	}
	off = f.file_off;
	link = uprobe_multi__attach(prog, "/proc/self/exe", &off, NULL, 1, getpid(), 0);
	if (link < 0) {
		snprintf(why, len, "uprobe_multi link refused: %s", strerror(-link));
		goto out;
	}
	if (pthread_create(&th, NULL, other_thread, NULL)) {
		snprintf(why, len, "no thread to test the pid filter with");
		goto out;
	}
	pthread_join(th, NULL);
	if (bpf_map_lookup_elem(map, &key, &hits)) {
		snprintf(why, len, "reading the test counter: %s", strerror(errno));
		goto out;
	}
	ok = hits == 1;
	if (ok)
		snprintf(why, len, "one link for many uprobe sites, pid filter on the whole process");
	else
		snprintf(why, len, "pid filter missed another thread of the process "
			 "(%llu hits, want 1): per-site uprobes instead", (unsigned long long)hits);
out:
	close_later(link, prog, map);
	return ok;
}
