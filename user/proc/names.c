/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc/names.h"
#include "probe/limits.h"

struct name_ent {
	int pid;		/* 0: empty */
	char comm[PROBE_COMM_LEN];
};

/* Direct-mapped by pid: a collision replaces, which only costs a re-read. */
struct names {
	unsigned int cap;
	struct name_ent *ents;
};

struct names *names__new(unsigned int cap)
{
	struct names *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->cap = cap ? cap : 1;
	n->ents = calloc(n->cap, sizeof(*n->ents));
	if (!n->ents) {
		free(n);
		return NULL;
	}
	return n;
}

void names__free(struct names *n)
{
	if (!n)
		return;
	free(n->ents);
	free(n);
}

static struct name_ent *slot(struct names *n, int pid)
{
	return &n->ents[(unsigned int)pid % n->cap];
}

static void copy_comm(char *dst, const char *src)
{
	size_t i;

	for (i = 0; i < PROBE_COMM_LEN - 1 && src[i] && src[i] != '\n'; i++)
		dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? '?' : src[i];
	dst[i] = 0;
}

void names__set(struct names *n, int pid, const char *comm)
{
	struct name_ent *e = slot(n, pid);

	e->pid = pid;
	copy_comm(e->comm, comm);
}

const char *names__get(struct names *n, int pid)
{
	struct name_ent *e = slot(n, pid);
	char path[64], buf[64];
	FILE *f;

	if (e->pid == pid && pid)
		return e->comm;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return "?";
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return "?";
	}
	fclose(f);
	names__set(n, pid, buf);
	return e->comm;
}

void names__forget(struct names *n, int pid)
{
	struct name_ent *e = slot(n, pid);

	if (e->pid == pid)
		e->pid = 0;
}

int names__alive(int pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

int names__is_process(int pid)
{
	char path[64], line[256];
	int tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid == pid;
}
