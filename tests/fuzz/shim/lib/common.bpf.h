/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Host stand-in for bpf/lib/common.bpf.h: lets the socket capture's handler
 * and protocol parsers (bpf/sockets/) compile as plain C for unit tests and
 * fuzzers. The BPF helpers they call are declared here and implemented by
 * tests/fuzz/shim/sockets_host.h over ordinary memory: maps are small
 * tables, bpf_probe_read_* is memcpy (so AddressSanitizer sees any read
 * past a payload or a buffer), ring-buffer records go to a callback.
 *
 * Put this directory before bpf/ on the include path; sockets/capture.bpf.h
 * includes "lib/common.bpf.h" and gets this file.
 */
#ifndef PROBE_COMMON_BPF_H
#define PROBE_COMMON_BPF_H

#define PROBE_HOST_SHIM 1

#include <linux/types.h>
#include <linux/bpf.h>		/* map types, BPF_NOEXIST, BPF_RB_* */
#include "probe/limits.h"
#include "probe/record.h"

/* libbpf's map-definition macros, the same as bpf_helpers.h's */
#define SEC(name)
#define __uint(name, val)	int (*name)[val]
#define __type(name, val)	typeof(val) *name
#define __array(name, val)	typeof(val) *name[]
#ifndef __always_inline
#define __always_inline		inline __attribute__((always_inline))
#endif
#define __noinline		__attribute__((noinline))

#define E2BIG	7
#define EEXIST	17

static void *bpf_map_lookup_elem(void *map, const void *key);
static long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags);
static long bpf_map_delete_elem(void *map, const void *key);
static long bpf_probe_read_user(void *dst, __u32 size, const void *src);
static long bpf_probe_read_kernel(void *dst, __u32 size, const void *src);
static __u64 bpf_ktime_get_ns(void);
static __u32 bpf_get_smp_processor_id(void);
static __u64 bpf_get_current_pid_tgid(void);
static void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags);
static void bpf_ringbuf_submit(void *data, __u64 flags);
static __u64 bpf_ringbuf_query(void *ringbuf, __u64 flags);

#include "lib/stats.bpf.h"

#endif
