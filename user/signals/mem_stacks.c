/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * mem_stacks: per-process growth profile (see mem_stacks.h).
 *
 * Stacks are keyed by (kind, pcs) through a 64-bit hash, checked against
 * the stored pcs, so two stacks never merge by a hash collision.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/mem.h"
#include "core/families.h"
#include "core/store.h"
#include "proc/stack_unwind.h"
#include "proc/symbolize.h"
#include "proc/attrib.h"
#include "signals/mem_stacks.h"

#define LABEL_MAX 2048
#define FRAME_MAX 320

struct mstack {
	uint64_t hash;
	unsigned int kind;
	unsigned int npcs;		/* 0: the "[other stacks]" entry */
	uint64_t pcs[UNWIND_MAX_FRAMES];
	char *label;
	uint64_t bytes, samples;	/* since the last flush */
};

struct mem_stacks {
	int pid;
	uint64_t start_ticks;
	char start[24];
	struct unwinder *unw;
	int unw_err;			/* unwinder__new failed: stop trying */
	struct mstack *stacks[MEM_STACKS_MAX + PROBE_MEM_KIND_MAX];
	unsigned int n;
	uint64_t bytes, samples;
};

static const char *const kind_names[PROBE_MEM_KIND_MAX] = { "brk", "mmap", "fault" };

const char *mem_stacks__kind_name(unsigned int kind)
{
	return kind < PROBE_MEM_KIND_MAX ? kind_names[kind] : "?";
}

struct mem_stacks *mem_stacks__new(int pid, uint64_t start_ticks)
{
	struct mem_stacks *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->pid = pid;
	m->start_ticks = start_ticks;
	snprintf(m->start, sizeof(m->start), "%" PRIu64, start_ticks);
	return m;
}

void mem_stacks__free(struct mem_stacks *m)
{
	unsigned int i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->stacks[i]->label);
		free(m->stacks[i]);
	}
	unwinder__free(m->unw);
	free(m);
}

static uint64_t stack_hash(unsigned int kind, const uint64_t *pcs, unsigned int n)
{
	uint64_t h = 1469598103934665603ULL ^ kind;
	unsigned int i;

	for (i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 1099511628211ULL;
	return h;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* "func+0x1a (file.c:42)", "libfoo.so+0x1234" or "0x7f..": never dropped. */
static void frame_text(struct symbolizer *sym, const struct mem_stacks *m, uint64_t pc,
		       int retaddr, char *buf, size_t len)
{
	struct sym_frame f;
	int err = sym ? symbolizer__resolve_ex(sym, m->pid, m->start_ticks, pc,
					       retaddr ? SYM_RETADDR : 0, &f) : -ENOENT;

	/* precisions bound the text: a frame never exceeds FRAME_MAX */
	if (err == 0 && f.func[0] && f.line)
		snprintf(buf, len, "%.160s+0x%" PRIx64 " (%.100s:%d)", f.func, f.func_offset,
			 base_name(f.file), f.line);
	else if (err == 0 && f.func[0])
		snprintf(buf, len, "%.160s+0x%" PRIx64, f.func, f.func_offset);
	else if (err == 0)
		snprintf(buf, len, "%.160s+0x%" PRIx64, base_name(f.module), f.module_offset);
	else
		snprintf(buf, len, "0x%" PRIx64, pc);
}

static char *stack_label(struct symbolizer *sym, const struct mem_stacks *m,
			 const struct mstack *s)
{
	char *label = malloc(LABEL_MAX), frame[FRAME_MAX];
	size_t off = 0;
	unsigned int i;

	if (!label)
		return NULL;
	if (!s->npcs) {
		snprintf(label, LABEL_MAX, "[other stacks]");
		return label;
	}
	label[0] = 0;
	for (i = 0; i < s->npcs && i < MEM_STACKS_FRAMES; i++) {
		int w;

		frame_text(sym, m, s->pcs[i], i > 0, frame, sizeof(frame));
		/* ';' separates frames: keep it out of names */
		for (char *c = frame; *c; c++)
			if (*c == ';')
				*c = ',';
		w = snprintf(label + off, LABEL_MAX - off, "%s%s", i ? ";" : "", frame);
		if (w < 0 || (size_t)w >= LABEL_MAX - off)
			break;
		off += (size_t)w;
	}
	return label;
}

static struct mstack *find_or_add(struct mem_stacks *m, unsigned int kind,
				  const uint64_t *pcs, unsigned int n)
{
	uint64_t h = stack_hash(kind, pcs, n);
	struct mstack *s;
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		s = m->stacks[i];
		if (s->hash == h && s->kind == kind && s->npcs == n &&
		    !memcmp(s->pcs, pcs, n * sizeof(*pcs)))
			return s;
	}
	if (m->n >= MEM_STACKS_MAX) {
		/* Full: one overflow entry per kind keeps the bytes. */
		for (i = 0; i < m->n; i++)
			if (!m->stacks[i]->npcs && m->stacks[i]->kind == kind)
				return m->stacks[i];
		if (m->n >= MEM_STACKS_MAX + PROBE_MEM_KIND_MAX)
			return NULL;
		n = 0;
		h = stack_hash(kind, pcs, 0);
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->hash = h;
	s->kind = kind;
	s->npcs = n;
	memcpy(s->pcs, pcs, n * sizeof(*pcs));
	m->stacks[m->n++] = s;
	return s;
}

/* Put back the return addresses active uretprobes replaced with their trampoline (mem.h). */
static void uret_restore(const struct probe_mem_sample *r, unsigned char *stack, size_t len)
{
	uint64_t sp = r->regs[PROBE_MEM_REG_SP];
	unsigned int i, n = r->nuret < PROBE_MEM_MAX_URET ? r->nuret : PROBE_MEM_MAX_URET;

	for (i = 0; i < n; i++) {
		uint64_t slot = r->uret_slot[i], ret = r->uret_ret[i];

		if (slot < sp || slot - sp > len || len - (slot - sp) < sizeof(ret))
			continue;	/* outside the copy: the walk ends before it */
		memcpy(stack + (slot - sp), &ret, sizeof(ret));
	}
}

int mem_stacks__add(struct mem_stacks *m, struct symbolizer *sym,
		    const struct probe_mem_sample *r, uint64_t now_ns)
{
	struct unwind_regs regs = {
		.ip = r->regs[PROBE_MEM_REG_IP], .sp = r->regs[PROBE_MEM_REG_SP],
		.bp = r->regs[PROBE_MEM_REG_BP], .bx = r->regs[PROBE_MEM_REG_BX],
		.r12 = r->regs[PROBE_MEM_REG_R12], .r13 = r->regs[PROBE_MEM_REG_R13],
		.r14 = r->regs[PROBE_MEM_REG_R14], .r15 = r->regs[PROBE_MEM_REG_R15],
	};
	uint64_t pcs[UNWIND_MAX_FRAMES];
	size_t len = r->stack_len < sizeof(r->stack) ? r->stack_len : sizeof(r->stack);
	unsigned char stack[PROBE_MEM_STACK_BYTES];
	struct mstack *s;
	int n;

	if (r->kind >= PROBE_MEM_KIND_MAX)
		return -EINVAL;
	memcpy(stack, r->stack, len);
	uret_restore(r, stack, len);
	if (!m->unw && !m->unw_err) {
		m->unw = unwinder__new(m->pid);
		if (!m->unw)
			m->unw_err = errno ? errno : ESRCH;
	}
	/* Without CFI (process gone before its maps were read, or not x86-64),
	 * the frame-pointer chain in the copy is what is left. */
	n = m->unw ? unwinder__unwind(m->unw, &regs, stack, len, pcs, UNWIND_MAX_FRAMES, now_ns)
		   : unwind__fp(&regs, stack, len, pcs, UNWIND_MAX_FRAMES);
	if (n <= 0)
		return n ? n : -EINVAL;
	s = find_or_add(m, r->kind, pcs, (unsigned int)n);
	if (!s)
		return -ENOMEM;
	if (!s->label)
		s->label = stack_label(sym, m, s);
	s->bytes += r->bytes;
	s->samples++;
	m->bytes += r->bytes;
	m->samples++;
	return 0;
}

void mem_stacks__flush(struct mem_stacks *m, struct family *f, const char *comm,
		       const struct label *attr, uint64_t now_ns)
{
	struct label none[ATTRIB_NLABELS];
	char pid[16];
	unsigned int i, k;

	if (!attr) {
		attrib__labels(NULL, 0, 0, none);
		attr = none;
	}
	snprintf(pid, sizeof(pid), "%d", m->pid);
	for (i = 0; i < m->n; i++) {
		struct mstack *s = m->stacks[i];
		struct label l[5 + ATTRIB_NLABELS] = {
			{ "pid", pid }, { "start", m->start }, { "comm", comm },
			{ "kind", kind_names[s->kind] },
			{ "stack", s->label ? s->label : "[unsymbolized]" },
		};
		struct series *se;

		if (!s->bytes && !s->samples)
			continue;
		for (k = 0; k < ATTRIB_NLABELS; k++)
			l[5 + k] = attr[k];
		se = f ? family__series(f, l, 5 + ATTRIB_NLABELS) : NULL;
		if (!se)
			continue;	/* ENOMEM: keep the bytes for the next flush */
		series__add(se, now_ns, MS_BYTES, s->bytes);
		series__add(se, now_ns, MS_SAMPLES, s->samples);
		s->bytes = s->samples = 0;
	}
}

uint64_t mem_stacks__bytes(const struct mem_stacks *m)
{
	return m->bytes;
}

uint64_t mem_stacks__samples(const struct mem_stacks *m)
{
	return m->samples;
}
