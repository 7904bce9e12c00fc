/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <stdio.h>
#include <libaudit.h>

#include "proc/syscall_names.h"
#include "probe/limits.h"

static int machine = -2;	/* -2: not detected yet */

static int detect(void)
{
	if (machine == -2)
		machine = audit_detect_machine();
	return machine;
}

const char *syscall_names__get(unsigned int nr)
{
	static char buf[32];
	const char *name = NULL;

	if (nr == PROBE_MAX_SYSCALL_NR - 1)
		return "syscall_other";	/* the kernel's shared slot for large numbers */
	if (detect() >= 0)
		name = audit_syscall_to_name((int)nr, machine);
	if (name)
		return name;
	snprintf(buf, sizeof(buf), "syscall_%u", nr);
	return buf;
}

int syscall_names__nr(const char *name)
{
	if (detect() < 0)
		return -1;
	return audit_name_to_syscall(name, machine);
}
