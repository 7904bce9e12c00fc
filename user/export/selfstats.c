/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <bpf/bpf.h>

#include "export/selfstats.h"
#include "export/snapshot.h"

#define MAX_PROGS	256

struct prog_stat {
	char name[BPF_OBJ_NAME_LEN];
	uint32_t id;
	uint64_t run_ns, runs;
};

static int gauge(struct snapshot *s, const char *name, const char *unit, const char *help,
		 enum snap_kind kind, double v)
{
	int idx = snapshot__metric(s, name, unit, help, kind, NULL, 0);
	struct snap_point *p = idx >= 0 ? snapshot__point(s, idx, NULL, 0) : NULL;

	if (!p)
		return -ENOMEM;
	p->value = v;
	return 0;
}

static double rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static int kernel_stats_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Every BPF program this process holds a descriptor of, summed by name. */
static unsigned int own_programs(struct prog_stat *out, unsigned int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned int n = 0, i;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		char path[64], link[64];
		ssize_t l;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		l = readlink(path, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		if (strcmp(link, "anon_inode:bpf-prog"))
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		for (i = 0; i < n && out[i].id != info.id; i++)
			;
		if (i < n)
			continue;	/* another descriptor of one program */
		if (n == max)
			break;
		snprintf(out[n].name, sizeof(out[n].name), "%s", info.name[0] ? info.name : "?");
		out[n].id = info.id;
		out[n].run_ns = info.run_time_ns;
		out[n].runs = info.run_cnt;
		n++;
	}
	closedir(d);
	return n;
}

static int bpf_programs(struct snapshot *s)
{
	static struct prog_stat progs[MAX_PROGS];	/* the event loop only */
	int t = snapshot__metric(s, "probe.bpf.program.run.time", "s",
				 "time the kernel spent running each of probe's BPF programs "
				 "(kernel program statistics)", SNAP_COUNTER, NULL, 0);
	int c = snapshot__metric(s, "probe.bpf.program.runs", "{run}",
				 "runs of each of probe's BPF programs (kernel program statistics)",
				 SNAP_COUNTER, NULL, 0);
	unsigned int n = own_programs(progs, MAX_PROGS), i, k;

	if (t < 0 || c < 0)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct snap_attr a = { "program", progs[i].name };
		const struct snap_attr *attrs;
		struct snap_point *p;
		uint64_t ns = progs[i].run_ns, runs = progs[i].runs;

		if (!progs[i].id)
			continue;
		/* programs sharing a name are summed into the first of them */
		for (k = i + 1; k < n; k++)
			if (progs[k].id && !strcmp(progs[k].name, progs[i].name)) {
				ns += progs[k].run_ns;
				runs += progs[k].runs;
				progs[k].id = 0;
			}
		attrs = snapshot__attrs(s, &a, 1);
		p = attrs ? snapshot__point(s, t, attrs, 1) : NULL;
		if (!p)
			return -ENOMEM;
		p->value = (double)ns / 1e9;
		p = snapshot__point(s, c, attrs, 1);
		if (!p)
			return -ENOMEM;
		p->value = (double)runs;
	}
	return 0;
}

int selfstats__add(struct snapshot *s, const struct self_info *i)
{
	struct rusage ru;
	double cpu = 0;
	int on, err;

	if (!getrusage(RUSAGE_SELF, &ru))
		cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	err = gauge(s, "probe.self.cpu.time", "s", "CPU time probe used (user + system), "
		    "all threads", SNAP_COUNTER, cpu);
	err = err ? err : gauge(s, "probe.self.memory.rss", "By", "probe's resident memory",
				SNAP_GAUGE, rss_bytes());
	err = err ? err : gauge(s, "probe.self.start.time", "s", "when probe started, "
				"seconds since the Unix epoch", SNAP_GAUGE,
				(double)i->start_unix_ns / 1e9);
	err = err ? err : gauge(s, "probe.self.startup.duration", "s", "from probe's start to "
				"ready: feature probes, BPF load and verification, attach",
				SNAP_GAUGE, i->startup_s);
	on = i->bpf_stats && (i->bpf_stats_held || kernel_stats_on());
	err = err ? err : gauge(s, "probe.bpf.stats.enabled", "", "1 when the kernel counts BPF "
				"program run time and runs (kernel.bpf_stats_enabled or "
				"export.bpf_stats: true), so probe.bpf.program.* are exported",
				SNAP_GAUGE, on);
	if (!err && on)
		err = bpf_programs(s);
	return err;
}
