/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "loader/features.h"
#include "loader/tracefs.h"
#include "loader/uprobe_multi.h"

static const char *const feat_names[FEAT_MAX] = {
	[FEAT_BTF] = "btf",
	[FEAT_TRACEFS] = "tracefs",
	[FEAT_TRACEPOINT] = "tracepoint",
	[FEAT_RAW_TP] = "raw_tp",
	[FEAT_TP_BTF] = "tp_btf",
	[FEAT_UPROBE] = "uprobe",
	[FEAT_KPROBE] = "kprobe",
	[FEAT_FENTRY] = "fentry",
	[FEAT_RINGBUF] = "ringbuf",
	[FEAT_TASK_STORAGE] = "task_storage",
	[FEAT_UPROBE_MULTI] = "uprobe_multi",
};

const char *features__name(enum feature feat)
{
	return feat < FEAT_MAX ? feat_names[feat] : "?";
}

static void set(struct features *f, enum feature feat, int have, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set(struct features *f, enum feature feat, int have, const char *fmt, ...)
{
	va_list ap;

	f->have[feat] = have;
	va_start(ap, fmt);
	vsnprintf(f->why[feat], FEAT_WHY_LEN, fmt, ap);
	va_end(ap);
}

/* r0 = 0; exit */
static const struct bpf_insn ret0[] = {
	{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
	{ .code = BPF_JMP | BPF_EXIT },
};

static int load_trivial(enum bpf_prog_type type, enum bpf_attach_type at, __u32 btf_id)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		.expected_attach_type = at,
		.attach_btf_id = btf_id,
	);
	int fd = bpf_prog_load(type, NULL, "GPL", ret0, 2, &opts);

	return fd < 0 ? -errno : fd;
}

static int pmu_present(const char *pmu)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	return access(path, R_OK) == 0;
}

static void probe_btf(struct features *f, struct btf **vmlinux)
{
	*vmlinux = btf__load_vmlinux_btf();
	if (!*vmlinux)
		set(f, FEAT_BTF, 0, "no kernel BTF (/sys/kernel/btf/vmlinux): %s",
		    strerror(errno));
	else
		set(f, FEAT_BTF, 1, "/sys/kernel/btf/vmlinux");
}

static void probe_tracepoints(struct features *f)
{
	const char *root = tracefs__root();
	int err;

	if (!root) {
		set(f, FEAT_TRACEFS, 0, "tracefs not mounted and could not be mounted");
		set(f, FEAT_TRACEPOINT, 0, "needs tracefs");
		return;
	}
	set(f, FEAT_TRACEFS, 1, "%s", root);
	err = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL);
	if (err <= 0)
		set(f, FEAT_TRACEPOINT, 0, "tracepoint programs refused: %s",
		    err ? strerror(-err) : "not supported");
	else if (tracefs__event_id("raw_syscalls", "sys_enter") < 0)
		set(f, FEAT_TRACEPOINT, 0, "raw_syscalls:sys_enter not in %s/events", root);
	else
		set(f, FEAT_TRACEPOINT, 1, "syscalls, sched, sock, tcp events");
}

static void probe_raw_tp(struct features *f)
{
	int prog = load_trivial(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0), link;

	if (prog < 0) {
		set(f, FEAT_RAW_TP, 0, "load refused: %s", strerror(-prog));
		return;
	}
	link = bpf_raw_tracepoint_open("sched_switch", prog);
	if (link < 0)
		set(f, FEAT_RAW_TP, 0, "attach refused: %s", strerror(errno));
	else
		set(f, FEAT_RAW_TP, 1, "raw tracepoints attach");
	if (link >= 0)
		close(link);
	close(prog);
}

static void probe_btf_attach(struct features *f, const struct btf *vmlinux,
			     enum feature feat, const char *target, __u32 kind,
			     enum bpf_attach_type at)
{
	int id, prog, link;

	if (!vmlinux) {
		set(f, feat, 0, "needs kernel BTF");
		return;
	}
	id = btf__find_by_name_kind(vmlinux, target, kind);
	if (id < 0) {
		set(f, feat, 0, "%s not in kernel BTF", target);
		return;
	}
	prog = load_trivial(BPF_PROG_TYPE_TRACING, at, id);
	if (prog < 0) {
		set(f, feat, 0, "load refused: %s", strerror(-prog));
		return;
	}
	link = bpf_raw_tracepoint_open(NULL, prog);
	if (link < 0)
		set(f, feat, 0, "attach refused: %s", strerror(errno));
	else
		set(f, feat, 1, "attached to %s", target);
	if (link >= 0)
		close(link);
	close(prog);
}

static void probe_kprobe(struct features *f)
{
	char path[256];
	const char *root = tracefs__root();
	int legacy = 0;

	if (root) {
		snprintf(path, sizeof(path), "%s/kprobe_events", root);
		legacy = access(path, W_OK) == 0;
	}
	if (pmu_present("kprobe") || legacy)
		set(f, FEAT_KPROBE, 1, "%s", legacy ? "kprobe_events" : "kprobe PMU");
	else
		set(f, FEAT_KPROBE, 0, "kernel built without kprobes (no kprobe PMU, no kprobe_events)");
}

/* Tried for real (loader/uprobe_multi.h): a link, and another thread seen through its pid filter. */
static void probe_uprobe_multi(struct features *f)
{
	char why[FEAT_WHY_LEN];
	int have;

	if (!f->have[FEAT_UPROBE]) {
		set(f, FEAT_UPROBE_MULTI, 0, "needs uprobes");
		return;
	}
	have = uprobe_multi__probe(why, sizeof(why));
	set(f, FEAT_UPROBE_MULTI, have, "%s", why);
}

/*
 * Every signal uses tracepoints, raw_tp, tp_btf or uprobes; none attaches a
 * kprobe or fentry, so where the kernel has them --check says they are not
 * used rather than let "yes" suggest a signal depends on them.
 */
static void note_unused(struct features *f, enum feature feat)
{
	size_t n = strnlen(f->why[feat], FEAT_WHY_LEN);

	if (n + 1 < FEAT_WHY_LEN)
		snprintf(f->why[feat] + n, FEAT_WHY_LEN - n, "; no signal uses it");
}

void features__probe(struct features *f)
{
	struct btf *vmlinux = NULL;
	int err;

	memset(f, 0, sizeof(*f));
	probe_btf(f, &vmlinux);
	probe_tracepoints(f);
	probe_raw_tp(f);
	probe_btf_attach(f, vmlinux, FEAT_TP_BTF, "btf_trace_sched_switch",
			 BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP);
	probe_btf_attach(f, vmlinux, FEAT_FENTRY, "vfs_read", BTF_KIND_FUNC,
			 BPF_TRACE_FENTRY);
	if (pmu_present("uprobe"))
		set(f, FEAT_UPROBE, 1, "uprobe PMU");
	else
		set(f, FEAT_UPROBE, 0, "no uprobe PMU (CONFIG_UPROBE_EVENTS off?)");
	probe_uprobe_multi(f);
	probe_kprobe(f);

	err = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	set(f, FEAT_RINGBUF, err > 0, "%s", err > 0 ? "BPF_MAP_TYPE_RINGBUF" :
	    "ring buffer maps refused (kernel older than 5.8?)");

	err = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL);
	if (err > 0)
		err = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
					      BPF_FUNC_task_storage_get, NULL);
	if (err > 0)
		err = libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT,
					      BPF_FUNC_get_current_task_btf, NULL);
	set(f, FEAT_TASK_STORAGE, err > 0, "%s", err > 0 ?
	    "task storage from tracepoint programs" :
	    "task storage not usable from tracepoints; falling back to hash maps");
	note_unused(f, FEAT_KPROBE);
	note_unused(f, FEAT_FENTRY);
	btf__free(vmlinux);
}
