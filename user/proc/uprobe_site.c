/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * uprobe_site: a small x86-64 decoder for the few instruction forms found
 * at allocator entries and in thin exported wrappers (a stack frame, the
 * stack protector's canary, argument moves, a call), the probe-site choice
 * on top of it, the common callee of two wrappers, and finding the C
 * library and its functions through /proc/PID/maps and libelf.
 *
 * Which instructions the kernel emulates was measured on this kernel with
 * one function per first instruction (scripts/bench-alloc.sh prints the
 * sites it uses): push, jcc, jmp, nop and 0f 1f nops cost one trap; mov,
 * test, lea, sub, cmp and endbr64 are single-stepped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gelf.h>

#include "proc/uprobe_site.h"

#define MAX_WALK	16	/* instructions examined before giving up */

enum insn_class {
	I_UNKNOWN,	/* cannot decode, or does something we cannot walk past */
	I_EMULATED,	/* the kernel emulates it: a one-trap site */
	I_SKIP,		/* single-stepped, but writes at most flags and one register */
	I_STORE,	/* writes memory: never walked past for a site, fine in a wrapper */
};

struct insn {
	unsigned int len;
	enum insn_class cls;
	int writes;		/* register written, or -1 */
	int test_reg;		/* `test r,r` with the same register both sides, or -1 */
	int is_je;		/* je/jz */
	int is_call;		/* call rel32 */
	int is_jmp;		/* jmp rel8/rel32: unconditional */
	int64_t target;		/* branch target relative to the entry, when a branch */
	const char *mnem;
	int reg;		/* push's register, for the explanation */
};

static const char *const reg_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

/* Bytes after the ModRM byte: SIB and displacement. -1 if past the end. */
static int modrm_extra(const uint8_t *p, size_t left)
{
	unsigned int mod, rm, n = 0;

	if (left < 1)
		return -1;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	if (mod == 3)
		return 0;
	if (rm == 4) {			/* SIB */
		if (left < 2)
			return -1;
		n = 1;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;		/* no base: disp32 */
	} else if (mod == 0 && rm == 5) {
		n = 4;			/* RIP-relative disp32 */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return (size_t)n + 1 <= left ? (int)n : -1;
}

/* Decode one instruction at code[pos]; cls I_UNKNOWN when not one of ours. */
static void decode(const uint8_t *code, size_t len, size_t pos, struct insn *in)
{
	const uint8_t *p = code + pos, *end = code + len;
	unsigned int rex = 0, opsize16 = 0, rep = 0, other_prefix = 0, seg = 0;
	uint8_t op;
	int extra;

	memset(in, 0, sizeof(*in));
	in->writes = -1;
	in->test_reg = -1;
	in->reg = -1;
	in->cls = I_UNKNOWN;
	in->mnem = "?";
	for (; p < end; p++) {
		if (*p == 0x66)
			opsize16 = 1;
		else if (*p == 0xf3)
			rep = 1;
		else if (*p == 0x64 || *p == 0x65)
			seg = 1;	/* %fs/%gs: the stack protector's canary load */
		else if (*p == 0xf2 || *p == 0xf0 || *p == 0x2e || *p == 0x3e || *p == 0x26 ||
			 *p == 0x36)
			other_prefix = 1;
		else
			break;
	}
	if (p < end && (*p & 0xf0) == 0x40)
		rex = *p++;
	if (p >= end)
		return;
	op = *p++;
	if (seg && op != 0x8b && op != 0x2b && op != 0x33)
		return;		/* only loads through %fs/%gs are decoded */
#define LEFT ((size_t)(end - p))
#define DONE(n) do { in->len = (unsigned int)(p + (n) - (code + pos)); } while (0)
#define REXB ((rex & 1) << 3)
#define REXR ((rex & 4) << 1)
	if (op >= 0x50 && op <= 0x57 && !opsize16 && !rep && !other_prefix && (!rex || rex == 0x41)) {
		in->cls = I_EMULATED;
		in->mnem = "push";
		in->reg = (op & 7) | REXB;
		DONE(0);
		return;
	}
	if (op == 0x90 && !rex && !opsize16 && !rep && !other_prefix) {
		in->cls = I_EMULATED;
		in->mnem = "nop";
		DONE(0);
		return;
	}
	if (op == 0xc3) {
		in->mnem = "ret";	/* never a site; recognised as a branch target */
		DONE(0);
		return;
	}
	if ((op == 0xeb || (op >= 0x70 && op <= 0x7f)) && LEFT >= 1 && !other_prefix) {
		in->cls = I_EMULATED;
		in->mnem = op == 0xeb ? "jmp" : "jcc";
		in->is_je = op == 0x74;
		in->is_jmp = op == 0xeb;
		DONE(1);
		in->target = (int64_t)(pos + in->len) + (int8_t)p[0];
		return;
	}
	if ((op == 0xe9 || op == 0xe8) && LEFT >= 4 && !other_prefix && !opsize16) {
		int32_t rel;

		memcpy(&rel, p, 4);
		in->cls = I_EMULATED;
		in->mnem = op == 0xe9 ? "jmp" : "call";
		in->is_call = op == 0xe8;
		in->is_jmp = op == 0xe9;
		DONE(4);
		in->target = (int64_t)(pos + in->len) + rel;
		return;
	}
	if (op == 0x0f && LEFT >= 1) {
		uint8_t op2 = *p++;

		if (op2 >= 0x80 && op2 <= 0x8f && LEFT >= 4 && !other_prefix && !opsize16) {
			int32_t rel;

			memcpy(&rel, p, 4);
			in->cls = I_EMULATED;
			in->mnem = "jcc";
			in->is_je = op2 == 0x84;
			DONE(4);
			in->target = (int64_t)(pos + in->len) + rel;
			return;
		}
		if (op2 == 0x1f && LEFT >= 1 && ((p[0] >> 3) & 7) == 0) {
			extra = modrm_extra(p, LEFT);
			if (extra < 0)
				return;
			/* a bare multi-byte nop is emulated; prefixed ones are still harmless */
			in->cls = (!rex && !opsize16 && !rep && !other_prefix) ? I_EMULATED : I_SKIP;
			in->mnem = "nop";
			DONE(1 + extra);
			return;
		}
		if (op2 == 0x1e && rep && LEFT >= 1 && (p[0] == 0xfa || p[0] == 0xfb)) {
			in->cls = I_SKIP;
			in->mnem = "endbr64";
			DONE(1);
			return;
		}
		return;
	}
	if (other_prefix || rep)
		return;
	switch (op) {
	case 0x84: case 0x85:	/* test r/m, r */
	case 0x38: case 0x39: case 0x3a: case 0x3b:	/* cmp */
		extra = modrm_extra(p, LEFT);
		if (extra < 0)
			return;
		in->cls = I_SKIP;
		in->mnem = op <= 0x3b ? "cmp" : "test";
		if ((op == 0x84 || op == 0x85) && (p[0] >> 6) == 3 &&
		    (((p[0] >> 3) & 7) | REXR) == ((p[0] & 7) | REXB))
			in->test_reg = (p[0] & 7) | REXB;
		DONE(1 + extra);
		return;
	case 0x80: case 0x81: case 0x83: {	/* group 1 with an immediate */
		unsigned int sub, imm = op == 0x81 ? (opsize16 ? 2 : 4) : 1;

		extra = modrm_extra(p, LEFT);
		if (extra < 0 || LEFT < 1 + (size_t)extra + imm)
			return;
		sub = (p[0] >> 3) & 7;
		if (sub == 7) {
			in->cls = I_SKIP;
			in->mnem = "cmp";
		} else if ((p[0] >> 6) == 3) {
			in->cls = I_SKIP;	/* add/sub/and/... on a register */
			in->mnem = "alu";
			in->writes = (p[0] & 7) | REXB;
		} else {
			in->cls = I_STORE;	/* add/sub/and/... to memory */
			in->mnem = "alu";
		}
		DONE(1 + extra + imm);
		return;
	}
	case 0xf6: case 0xf7: {			/* test r/m, imm (only /0) */
		unsigned int imm = op == 0xf7 ? (opsize16 ? 2 : 4) : 1;

		extra = modrm_extra(p, LEFT);
		if (extra < 0 || ((p[0] >> 3) & 7) != 0 || LEFT < 1 + (size_t)extra + imm)
			return;
		in->cls = I_SKIP;
		in->mnem = "test";
		DONE(1 + extra + imm);
		return;
	}
	case 0x88: case 0x89:			/* mov r/m, r: only into a register */
	case 0x31: case 0x33:			/* xor */
		extra = modrm_extra(p, LEFT);
		if (extra < 0)
			return;
		in->cls = I_SKIP;
		if ((p[0] >> 6) == 3)
			in->writes = (op == 0x33) ? (int)(((p[0] >> 3) & 7) | REXR) :
						    (int)((p[0] & 7) | REXB);
		else if (op == 0x33)
			in->writes = ((p[0] >> 3) & 7) | REXR;
		else
			in->cls = I_STORE;	/* mov or xor into memory */
		in->mnem = op >= 0x88 ? "mov" : "xor";
		DONE(1 + extra);
		return;
	case 0x8a: case 0x8b: case 0x8d:	/* mov r, r/m; lea */
	case 0x63:				/* movslq r, r/m */
	case 0x2b:				/* sub r, r/m */
		extra = modrm_extra(p, LEFT);
		if (extra < 0 || (op == 0x8d && (p[0] >> 6) == 3))
			return;
		in->cls = I_SKIP;
		in->mnem = op == 0x8d ? "lea" : op == 0x2b ? "sub" : "mov";
		in->writes = ((p[0] >> 3) & 7) | REXR;
		DONE(1 + extra);
		return;
	case 0xc6: case 0xc7: {			/* mov r/m, imm (only /0) */
		unsigned int imm = op == 0xc7 ? (opsize16 ? 2 : 4) : 1;

		extra = modrm_extra(p, LEFT);
		if (extra < 0 || ((p[0] >> 3) & 7) != 0 || LEFT < 1 + (size_t)extra + imm)
			return;
		in->mnem = "mov";
		if ((p[0] >> 6) == 3) {
			in->cls = I_SKIP;
			in->writes = (p[0] & 7) | REXB;
		} else {
			in->cls = I_STORE;
		}
		DONE(1 + extra + imm);
		return;
	}
	default:
		break;
	}
	if (op >= 0xb8 && op <= 0xbf) {		/* mov r, imm */
		unsigned int imm = (rex & 8) ? 8 : opsize16 ? 2 : 4;

		if (LEFT < imm)
			return;
		in->cls = I_SKIP;
		in->mnem = "mov";
		in->writes = (op & 7) | REXB;
		DONE(imm);
		return;
	}
#undef LEFT
#undef DONE
#undef REXB
#undef REXR
}

/* Whether a write to reg would change what the probe reads at the site. */
static int protected_reg(int reg)
{
	switch (reg) {
	case UREG_RDI: case UREG_RSI: case UREG_RDX: case UREG_RCX: case UREG_R8: case UREG_R9:
	case UREG_RSP: case UREG_RBP:
		return 1;
	}
	return 0;
}

/* Does the branch target return at once (`ret` or `repz ret`)? */
static int returns_at(const uint8_t *code, size_t len, int64_t at)
{
	if (at < 0 || (uint64_t)at >= len)
		return 0;
	if (code[at] == 0xc3)
		return 1;
	return (uint64_t)at + 1 < len && code[at] == 0xf3 && code[at + 1] == 0xc3;
}

static void at_entry(struct uprobe_site *out, size_t pos, const uint8_t *code, size_t len,
		     const char *reason)
{
	char bytes[16] = "";

	if (pos < len)
		snprintf(bytes, sizeof(bytes), " (%02x%s)", code[pos], pos + 1 < len ? "..." : "");
	out->delta = 0;
	out->emulated = 0;
	snprintf(out->why, sizeof(out->why), "entry, single-stepped: %s at +%zu%s", reason, pos,
		 bytes);
}

int uprobe_site__choose(const uint8_t *code, size_t len, int null_reg, struct uprobe_site *out)
{
	char past[96] = "";
	int prev_test = -1, walked;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
#if !defined(__x86_64__)
	(void)code; (void)len; (void)null_reg; (void)prev_test; (void)walked; (void)past;
	snprintf(out->why, sizeof(out->why), "entry: no instruction decoder for this architecture");
	return 0;
#else
	for (walked = 0; walked < MAX_WALK && pos < len; walked++) {
		struct insn in;

		decode(code, len, pos, &in);
		if (in.cls == I_EMULATED) {
			if (in.is_je && null_reg >= 0 && prev_test == null_reg &&
			    returns_at(code, len, in.target)) {
				/* a NULL pointer leaves at once: nothing to see there */
				snprintf(past, sizeof(past), ", past the NULL check (test %%%s; je -> ret)",
					 reg_names[null_reg]);
				pos += in.len;
				prev_test = -1;
				continue;
			}
			out->delta = (uint32_t)pos;
			out->emulated = 1;
			if (in.reg >= 0)
				snprintf(out->why, sizeof(out->why), "%s%zu: %s %%%s (emulated)%s",
					 pos ? "+" : "entry +", pos, in.mnem, reg_names[in.reg], past);
			else
				snprintf(out->why, sizeof(out->why), "%s%zu: %s (emulated)%s",
					 pos ? "+" : "entry +", pos, in.mnem, past);
			return 0;
		}
		if (in.cls != I_SKIP) {
			at_entry(out, pos, code, len, "no emulated instruction before an unknown one");
			return 0;
		}
		if (in.writes >= 0 && protected_reg(in.writes)) {
			char why[64];

			snprintf(why, sizeof(why), "%s writes %%%s", in.mnem, reg_names[in.writes]);
			at_entry(out, pos, code, len, why);
			return 0;
		}
		prev_test = in.test_reg;
		pos += in.len;
	}
	at_entry(out, pos, code, len, "no emulated instruction found");
	return 0;
#endif
}

#define MAX_WRAPPER_WALK	32	/* instructions of a wrapper before its call */

int uprobe_site__first_call(const uint8_t *code, size_t len, int64_t *target,
			    uint32_t *written)
{
	size_t pos = 0;
	int walked;

	*target = 0;
	*written = 0;
#if !defined(__x86_64__)
	(void)code; (void)len; (void)pos; (void)walked;
	return -ENOENT;
#else
	for (walked = 0; walked < MAX_WRAPPER_WALK && pos < len; walked++) {
		struct insn in;

		decode(code, len, pos, &in);
		if (in.cls == I_UNKNOWN || !in.len || pos + in.len > len)
			return -ENOENT;	/* ret, indirect branches, forms we do not know */
		if (in.is_call) {
			*target = in.target;
			return 0;
		}
		if (in.is_jmp) {
			/* a jump out of the function is a tail call; inside it, a path we do not follow */
			if (in.target >= 0 && (uint64_t)in.target < len)
				return -ENOENT;
			*target = in.target;
			return 0;
		}
		if (in.writes >= 0)
			*written |= UPROBE_REG(in.writes);
		pos += in.len;
	}
	return -ENOENT;
#endif
}

/* --- ELF --- */

static int find_sym(Elf *elf, const char *func, GElf_Sym *found, Elf_Scn **in_scn)
{
	Elf_Scn *scn;
	int pass;

	/* dynamic symbols first: what other objects bind to */
	for (pass = 0; pass < 2; pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr sh;
			Elf_Data *data;
			size_t i, n;

			if (!gelf_getshdr(scn, &sh) ||
			    sh.sh_type != (pass ? SHT_SYMTAB : SHT_DYNSYM) || !sh.sh_entsize)
				continue;
			data = elf_getdata(scn, NULL);
			if (!data)
				continue;
			n = sh.sh_size / sh.sh_entsize;
			for (i = 0; i < n; i++) {
				GElf_Sym sym;
				const char *name;

				if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
					continue;
				name = elf_strptr(elf, sh.sh_link, sym.st_name);
				if (!name || strcmp(name, func))
					continue;
				if (GELF_ST_TYPE(sym.st_info) == STT_GNU_IFUNC)
					return -ENOTSUP;
				if (GELF_ST_TYPE(sym.st_info) != STT_FUNC)
					continue;
				*found = sym;
				*in_scn = elf_getscn(elf, sym.st_shndx);
				return *in_scn ? 0 : -ENOENT;
			}
		}
	}
	return -ENOENT;
}

int uprobe_site__find_func(const char *path, const char *func, int null_reg,
			   struct uprobe_func *out)
{
	uint8_t code[UPROBE_SITE_CODE_MAX];
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	size_t want;
	ssize_t got;
	Elf *elf;
	int fd, err;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	err = find_sym(elf, func, &sym, &scn);
	if (err)
		goto out;
	if (!gelf_getshdr(scn, &sh) || sym.st_value < sh.sh_addr ||
	    sym.st_value >= sh.sh_addr + sh.sh_size) {
		err = -ENOENT;
		goto out;
	}
	out->vaddr = sym.st_value;
	out->size = sym.st_size;
	out->file_off = sym.st_value - sh.sh_addr + sh.sh_offset;
	want = sym.st_size && sym.st_size < sizeof(code) ? sym.st_size : sizeof(code);
	got = pread(fd, code, want, (off_t)out->file_off);
	if (got <= 0) {
		err = got < 0 ? -errno : -EIO;
		goto out;
	}
	uprobe_site__choose(code, (size_t)got, null_reg, &out->site);
	err = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

/* Bytes of a wrapper read: its call comes within its first instructions. */
#define WRAPPER_BYTES	256

/* A defined function's symbol, its section, and its first bytes (up to cap). */
struct elf_func {
	GElf_Sym sym;
	GElf_Shdr sh;
	uint64_t file_off;
	uint8_t code[WRAPPER_BYTES];
	size_t len;
};

static int read_func(int fd, Elf *elf, const char *name, size_t cap, struct elf_func *f)
{
	Elf_Scn *scn = NULL;
	size_t want;
	ssize_t got;
	int err;

	err = find_sym(elf, name, &f->sym, &scn);
	if (err)
		return err;
	if (!gelf_getshdr(scn, &f->sh) || f->sym.st_value < f->sh.sh_addr ||
	    f->sym.st_value >= f->sh.sh_addr + f->sh.sh_size)
		return -ENOENT;
	f->file_off = f->sym.st_value - f->sh.sh_addr + f->sh.sh_offset;
	if (cap > sizeof(f->code))
		cap = sizeof(f->code);
	want = f->sym.st_size && f->sym.st_size < cap ? f->sym.st_size : cap;
	got = pread(fd, f->code, want, (off_t)f->file_off);
	if (got <= 0)
		return got < 0 ? -errno : -EIO;
	f->len = (size_t)got;
	return 0;
}

/* Which of the registers in mask (argument order) is written in w, or NULL. */
static const char *rewritten(uint32_t w, uint32_t mask)
{
	static const int order[] = { UREG_RDI, UREG_RSI, UREG_RDX, UREG_RCX, UREG_R8, UREG_R9 };
	unsigned int i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((mask & UPROBE_REG(order[i])) && (w & UPROBE_REG(order[i])))
			return reg_names[order[i]];
	return NULL;
}

int uprobe_site__find_common_callee(const char *path, const char *a, const char *b,
				    uint32_t b_forwards, struct uprobe_callee *out)
{
	static const uint32_t a_forwards = UPROBE_REG(UREG_RDI) | UPROBE_REG(UREG_RSI);
	struct elf_func *fa = NULL, *fb = NULL;
	uint8_t code[UPROBE_SITE_CODE_MAX];
	uint32_t wa, wb;
	int64_t ta, tb;
	uint64_t target, left;
	const char *reg;
	ssize_t got;
	Elf *elf = NULL;
	int fd, err;

	memset(out, 0, sizeof(*out));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOSYS;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(out->why, sizeof(out->why), "%s", strerror(-err));
		return err;
	}
	fa = calloc(1, sizeof(*fa));
	fb = calloc(1, sizeof(*fb));
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!fa || !fb) {
		err = -ENOMEM;
		snprintf(out->why, sizeof(out->why), "out of memory");
		goto out;
	}
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		snprintf(out->why, sizeof(out->why), "not an ELF file");
		goto out;
	}
	err = read_func(fd, elf, a, WRAPPER_BYTES, fa);
	if (!err)
		err = read_func(fd, elf, b, WRAPPER_BYTES, fb);
	if (err) {
		snprintf(out->why, sizeof(out->why), "%s", err == -ENOTSUP ? "a wrapper is an IFUNC" :
			 err == -ENOENT ? "a wrapper is not defined" : strerror(-err));
		goto out;
	}
	if (uprobe_site__first_call(fa->code, fa->len, &ta, &wa) ||
	    uprobe_site__first_call(fb->code, fb->len, &tb, &wb)) {
		err = -ENOENT;
		snprintf(out->why, sizeof(out->why), "no direct call found in %s's first instructions",
			 uprobe_site__first_call(fa->code, fa->len, &ta, &wa) ? a : b);
		goto out;
	}
	target = fa->sym.st_value + (uint64_t)ta;
	if (target != fb->sym.st_value + (uint64_t)tb) {
		err = -ENOENT;
		snprintf(out->why, sizeof(out->why), "different callees (0x%" PRIx64 ", 0x%" PRIx64 ")",
			 target, fb->sym.st_value + (uint64_t)tb);
		goto out;
	}
	if ((reg = rewritten(wa, a_forwards)) || (reg = rewritten(wb, b_forwards))) {
		err = -EXDEV;
		snprintf(out->why, sizeof(out->why), "%s rewrites %%%s before its call",
			 rewritten(wa, a_forwards) ? a : b, reg);
		goto out;
	}
	/* in the wrappers' own text: not a PLT stub, another section or past its end */
	if (fa->sym.st_shndx != fb->sym.st_shndx || target < fa->sh.sh_addr ||
	    target >= fa->sh.sh_addr + fa->sh.sh_size) {
		err = -EXDEV;
		snprintf(out->why, sizeof(out->why), "callee 0x%" PRIx64 " outside the wrappers' section",
			 target);
		goto out;
	}
	out->vaddr = target;
	out->file_off = target - fa->sh.sh_addr + fa->sh.sh_offset;
	left = fa->sh.sh_addr + fa->sh.sh_size - target;
	got = pread(fd, code, left < sizeof(code) ? left : sizeof(code), (off_t)out->file_off);
	if (got <= 0) {
		err = got < 0 ? -errno : -EIO;
		snprintf(out->why, sizeof(out->why), "reading the callee: %s", strerror(-err));
		goto out;
	}
	uprobe_site__choose(code, (size_t)got, -1, &out->site);
	if (!out->site.emulated) {
		err = -EAGAIN;
		snprintf(out->why, sizeof(out->why), "callee 0x%" PRIx64 " would be single-stepped too",
			 target);
		goto out;
	}
	snprintf(out->why, sizeof(out->why), "%s/%s via their common callee 0x%" PRIx64 " %s", a, b,
		 target, out->site.why);
	err = 0;
out:
	if (elf)
		elf_end(elf);
	free(fa);
	free(fb);
	close(fd);
	return err;
}

/* --- /proc/PID/maps --- */

static int is_libc(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return !strncmp(b, "libc.so", 7) || (!strncmp(b, "libc-", 5) && strstr(b, ".so"));
}

int uprobe_site__find_mapped(int pid, int (*match)(const char *path), char *attach,
			     size_t attach_len, char *shown, size_t shown_len, uint64_t *ino_out)
{
	char path[64], line[4096];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, ino;
		unsigned int maj, min;
		char perms[8], *name, *nl, *del;
		struct stat st;
		int at = 0;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &pgoff,
			   &maj, &min, &ino, &at) < 7 || !at || perms[2] != 'x')
			continue;
		name = line + at;
		nl = strchr(name, '\n');
		if (nl)
			*nl = 0;
		if (name[0] != '/' || !match(name))
			continue;
		snprintf(shown, shown_len, "%s", name);
		if (ino_out)
			*ino_out = ino;
		del = strstr(name, " (deleted)");
		if (!del) {
			/* the same inode through the process's own root */
			snprintf(attach, attach_len, "/proc/%d/root%s", pid, name);
			if (!stat(attach, &st) && st.st_ino == ino) {
				err = 0;
				break;
			}
		}
		/* replaced or deleted since it was mapped: the mapping itself */
		snprintf(attach, attach_len, "/proc/%d/map_files/%llx-%llx", pid, start, end);
		err = access(attach, R_OK) ? -errno : 0;
		break;
	}
	fclose(f);
	return err;
}

int uprobe_site__find_libc(int pid, char *attach, size_t attach_len, char *shown,
			   size_t shown_len)
{
	return uprobe_site__find_mapped(pid, is_libc, attach, attach_len, shown, shown_len, NULL);
}
