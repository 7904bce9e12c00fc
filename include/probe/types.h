/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Fixed-width types for headers shared by BPF programs and userspace.
 * BPF code gets them from vmlinux.h; userspace from <linux/types.h>.
 */
#ifndef PROBE_TYPES_H
#define PROBE_TYPES_H

#ifdef __BPF__
/* vmlinux.h is included first by every .bpf.c */
#else
#include <linux/types.h>
#endif

#define PROBE_ASSERT_SIZE(type, bytes) \
	_Static_assert(sizeof(type) == (bytes), #type " size changed: update both sides")

#endif
