/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mount.h>

#include "loader/tracefs.h"

static const char *root;
static int tried, mounted;

static int has_events(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/events", dir);
	return access(path, R_OK) == 0;
}

const char *tracefs__root(void)
{
	if (tried)
		return root;
	tried = 1;
	if (has_events("/sys/kernel/tracing"))
		return root = "/sys/kernel/tracing";
	if (has_events("/sys/kernel/debug/tracing"))
		return root = "/sys/kernel/debug/tracing";
	/* Fresh machines here boot without it; libbpf needs it for tracepoints. */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 &&
	    has_events("/sys/kernel/tracing")) {
		mounted = 1;
		return root = "/sys/kernel/tracing";
	}
	return NULL;
}

int tracefs__mounted_by_us(void)
{
	return mounted;
}

int tracefs__event_id(const char *sys, const char *event)
{
	char path[256];
	FILE *f;
	int id;

	if (!tracefs__root())
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/events/%s/%s/id", root, sys, event);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (fscanf(f, "%d", &id) != 1)
		id = -EINVAL;
	fclose(f);
	return id;
}
