/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Log-linear bucket arithmetic, shared by the BPF programs (coarse buckets
 * in map values) and the userspace histogram (fine buckets).
 *
 * With S sub-bucket bits, values below 2^S have a bucket each. A value v at
 * or above 2^S with e = floor(log2 v) falls in octave e, which is split into
 * 2^S equal sub-buckets of width 2^(e-S). The bucket's midpoint is therefore
 * within 2^(e-S-1) / 2^e = 2^-(S+1) of v, relative.
 *
 *   index = (e - S + 1) * 2^S + ((v >> (e - S)) & (2^S - 1))
 *
 * Values at or above 2^(E+1), for the chosen top exponent E, land in the
 * last bucket.
 */
#ifndef PROBE_LOGLIN_H
#define PROBE_LOGLIN_H

#include "types.h"

#define LOGLIN_NBUCKETS(S, E)	(((E) - (S) + 2) << (S))

/* floor(log2(v)) for v > 0, without a loop: the verifier and clang for the
 * BPF target both like straight-line code. */
static inline __u32 loglin_log2(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xFFFFFFFFULL) << 5; v >>= s; r |= s;
	s = (v > 0xFFFF) << 4; v >>= s; r |= s;
	s = (v > 0xFF) << 3; v >>= s; r |= s;
	s = (v > 0xF) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (__u32)(v >> 1);
	return r;
}

static inline __u32 loglin_index(__u64 v, __u32 sub_bits, __u32 max_exp)
{
	__u32 e;

	if (v < (1ULL << sub_bits))
		return (__u32)v;
	e = loglin_log2(v);
	if (e > max_exp)
		return LOGLIN_NBUCKETS(sub_bits, max_exp) - 1;
	return ((e - sub_bits + 1) << sub_bits) |
	       (__u32)((v >> (e - sub_bits)) & ((1ULL << sub_bits) - 1));
}

/* Lowest value that maps to bucket idx. */
static inline __u64 loglin_lower(__u32 idx, __u32 sub_bits)
{
	__u32 octave = idx >> sub_bits;
	__u64 sub = idx & ((1U << sub_bits) - 1);

	if (octave == 0)
		return sub;
	return ((1ULL << sub_bits) | sub) << (octave - 1);
}

/* Width of bucket idx (1 for the exact buckets below 2^S). */
static inline __u64 loglin_width(__u32 idx, __u32 sub_bits)
{
	__u32 octave = idx >> sub_bits;

	return octave <= 1 ? 1 : 1ULL << (octave - 1);
}

#endif
