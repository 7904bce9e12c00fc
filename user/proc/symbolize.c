/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * symbolize: two caches.
 *
 * Processes, keyed by (pid, start time): the executable mappings parsed
 * from /proc/PID/maps, each pointing at a module. A process found dead
 * keeps its entry (its addresses still resolve) until evicted or forgotten;
 * a pid that now names another process gets a new entry.
 *
 * Modules, keyed by (device, inode) and deduplicated by build-id: one
 * libdwfl session per file with the module reported at base 0, so a lookup
 * uses the ELF virtual address (file offset -> p_vaddr through the PT_LOAD
 * headers), which is the same in every process that maps the file. libc
 * is parsed once, not once per process.
 *
 * Files are opened through /proc/PID/map_files/START-END first (the exact
 * mapped inode, even deleted or in another mount namespace), then
 * /proc/PID/root/PATH, then PATH.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gelf.h>
#include <elfutils/libdwfl.h>
#include <elfutils/libdwelf.h>

#include "proc/symbolize.h"

#define SYM_MAX_PROCS	64
#define SYM_MAX_MODULES	256
#define SYM_MAX_LOADS	16
#define SYM_MAX_BUILD_ID 64
#define SYM_RELOAD_NS	100000000ULL	/* re-read maps on a miss at most this often */

struct sym_module {
	uint64_t dev, ino;
	unsigned char build_id[SYM_MAX_BUILD_ID];
	int build_id_len;
	Dwfl *dwfl;			/* NULL: file unreadable or not ELF */
	Dwfl_Module *mod;
	unsigned int nloads;
	struct {
		uint64_t off, vaddr, filesz;
	} loads[SYM_MAX_LOADS];
	unsigned int refs;		/* mappings pointing here */
	uint64_t used;			/* last use, for eviction */
};

struct sym_map {
	uint64_t start, end, pgoff, dev, ino;
	char *name;			/* path, "[vdso]", ... */
	struct sym_module *mod;		/* opened lazily */
	int tried;
};

struct sym_proc {
	int pid;			/* 0: free slot */
	uint64_t start_time;
	struct sym_map *maps;
	size_t nmaps;
	uint64_t loaded_ns;
	uint64_t used;
};

struct symbolizer {
	struct sym_proc procs[SYM_MAX_PROCS];
	struct sym_module *mods[SYM_MAX_MODULES];
	unsigned int nmods;
	uint64_t tick;
};

static const Dwfl_Callbacks dwfl_cbs = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t sym_start_time(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* comm may hold spaces and ')': fields resume after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	/* fields 3..21, then starttime (22) */
	for (i = 3; i <= 21 && p; i++) {
		p = strchr(p + 1, ' ');
	}
	if (!p || sscanf(p, " %llu", &st) != 1)
		return 0;
	return st;
}

struct symbolizer *symbolizer__new(void)
{
	struct symbolizer *s;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	return s;	/* calloc set errno */
}

static void module_free(struct sym_module *m)
{
	if (!m)
		return;
	if (m->dwfl)
		dwfl_end(m->dwfl);
	free(m);
}

static void proc_clear(struct sym_proc *p)
{
	size_t i;

	for (i = 0; i < p->nmaps; i++) {
		if (p->maps[i].mod)
			p->maps[i].mod->refs--;
		free(p->maps[i].name);
	}
	free(p->maps);
	memset(p, 0, sizeof(*p));
}

void symbolizer__free(struct symbolizer *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < SYM_MAX_PROCS; i++)
		proc_clear(&s->procs[i]);
	for (i = 0; i < s->nmods; i++)
		module_free(s->mods[i]);
	free(s);
}

void symbolizer__forget(struct symbolizer *s, int pid)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < SYM_MAX_PROCS; i++)
		if (s->procs[i].pid == pid)
			proc_clear(&s->procs[i]);
}

/* Parse the executable mappings of pid; 0 or -errno (-ESRCH: gone). */
static int load_maps(struct sym_proc *p)
{
	char path[64], line[4096];
	struct sym_map *v = NULL;
	size_t n = 0, cap = 0, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, pgoff, ino;
		unsigned int maj, min;
		char perms[8];
		int name_at = 0;
		char *name, *nl;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &pgoff,
			   &maj, &min, &ino, &name_at) < 7 || !name_at)
			continue;
		if (perms[2] != 'x')
			continue;
		name = line + name_at;
		nl = strchr(name, '\n');
		if (nl)
			*nl = 0;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct sym_map *nv = realloc(v, nc * sizeof(*nv));

			if (!nv)
				goto err_nomem;
			v = nv;
			cap = nc;
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].start = start;
		v[n].end = end;
		v[n].pgoff = pgoff;
		v[n].dev = (uint64_t)maj << 32 | min;
		v[n].ino = ino;
		v[n].name = strdup(*name ? name : "[anon]");
		if (!v[n].name)
			goto err_nomem;
		n++;
	}
	fclose(f);
	/* keep modules of the previous read alive while swapping */
	for (i = 0; i < p->nmaps; i++) {
		if (p->maps[i].mod)
			p->maps[i].mod->refs--;
		free(p->maps[i].name);
	}
	free(p->maps);
	p->maps = v;
	p->nmaps = n;
	p->loaded_ns = mono_ns();
	return 0;

err_nomem:
	fclose(f);
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return -ENOMEM;
}

static struct sym_proc *proc_find(struct symbolizer *s, int pid, uint64_t start_time)
{
	unsigned int i;

	for (i = 0; i < SYM_MAX_PROCS; i++)
		if (s->procs[i].pid == pid && s->procs[i].start_time == start_time)
			return &s->procs[i];
	return NULL;
}

static struct sym_proc *proc_slot(struct symbolizer *s)
{
	struct sym_proc *victim = &s->procs[0];
	unsigned int i;

	for (i = 0; i < SYM_MAX_PROCS; i++) {
		if (!s->procs[i].pid)
			return &s->procs[i];
		if (s->procs[i].used < victim->used)
			victim = &s->procs[i];
	}
	proc_clear(victim);
	return victim;
}

/*
 * The cached process that addresses of (pid, want) belong to, loading it
 * when that process is alive. want == 0: whichever process has pid now.
 */
static int proc_get(struct symbolizer *s, int pid, uint64_t want, struct sym_proc **out)
{
	uint64_t now_start = sym_start_time(pid);
	struct sym_proc *p;
	unsigned int i;
	int err;

	if (!want) {
		if (!now_start) {
			/* gone: the most recent instance we knew still resolves */
			struct sym_proc *best = NULL;

			for (i = 0; i < SYM_MAX_PROCS; i++)
				if (s->procs[i].pid == pid &&
				    (!best || s->procs[i].start_time > best->start_time))
					best = &s->procs[i];
			if (!best)
				return -ESRCH;
			*out = best;
			return 0;
		}
		want = now_start;
	}
	p = proc_find(s, pid, want);
	if (p) {
		*out = p;
		return 0;
	}
	if (now_start != want)
		return -ESRCH;
	p = proc_slot(s);
	p->pid = pid;
	p->start_time = want;
	err = load_maps(p);
	if (err) {
		proc_clear(p);
		return err;
	}
	/* the process may have been replaced while we read its maps */
	if (sym_start_time(pid) != want) {
		proc_clear(p);
		return -ESRCH;
	}
	*out = p;
	return 0;
}

static struct sym_map *map_find(struct sym_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nmaps;

	/* /proc/PID/maps is sorted by address */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < p->maps[mid].start)
			hi = mid;
		else if (addr >= p->maps[mid].end)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}

static int open_mapped(int pid, const struct sym_map *m, char *used, size_t len)
{
	int fd;

	snprintf(used, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start, m->end);
	fd = open(used, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || m->name[0] != '/')
		return fd;
	snprintf(used, len, "/proc/%d/root%s", pid, m->name);
	fd = open(used, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	snprintf(used, len, "%s", m->name);
	return open(used, O_RDONLY | O_CLOEXEC);
}

static void module_evict(struct symbolizer *s)
{
	unsigned int i, victim = s->nmods;

	for (i = 0; i < s->nmods; i++)
		if (!s->mods[i]->refs && (victim == s->nmods || s->mods[i]->used < s->mods[victim]->used))
			victim = i;
	if (victim == s->nmods)
		return;		/* every module is in use */
	module_free(s->mods[victim]);
	s->mods[victim] = s->mods[--s->nmods];
}

static int module_add(struct symbolizer *s, struct sym_module *m)
{
	if (s->nmods >= SYM_MAX_MODULES)
		module_evict(s);
	if (s->nmods >= SYM_MAX_MODULES)
		return -ENOSPC;	/* all in use: this one resolves as module+offset */
	s->mods[s->nmods++] = m;
	return 0;
}

/* Read build-id and PT_LOAD headers; hand the fd to libdwfl. */
static struct sym_module *module_open(int fd, const char *path, const struct sym_map *map)
{
	struct sym_module *m = calloc(1, sizeof(*m));
	const void *bid = NULL;
	size_t nph = 0, i;
	ssize_t blen;
	Elf *elf;

	if (!m) {
		close(fd);
		return NULL;
	}
	m->dev = map->dev;
	m->ino = map->ino;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &nph)) {
		if (elf)
			elf_end(elf);
		close(fd);
		return m;	/* known file, no symbols */
	}
	blen = dwelf_elf_gnu_build_id(elf, &bid);
	if (blen > 0 && blen <= SYM_MAX_BUILD_ID) {
		memcpy(m->build_id, bid, (size_t)blen);
		m->build_id_len = (int)blen;
	}
	for (i = 0; i < nph && m->nloads < SYM_MAX_LOADS; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		m->loads[m->nloads].off = ph.p_offset;
		m->loads[m->nloads].vaddr = ph.p_vaddr;
		m->loads[m->nloads].filesz = ph.p_filesz;
		m->nloads++;
	}
	elf_end(elf);
	m->dwfl = dwfl_begin(&dwfl_cbs);
	if (!m->dwfl) {
		close(fd);
		return m;
	}
	dwfl_report_begin(m->dwfl);
	/* base 0: module addresses are the ELF's own virtual addresses */
	m->mod = dwfl_report_elf(m->dwfl, map->name, path, fd, 0, false);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod) {
		close(fd);	/* not consumed on failure */
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
	}
	return m;
}

static struct sym_module *module_get(struct symbolizer *s, int pid, struct sym_map *map)
{
	struct sym_module *m;
	char path[PATH_MAX];
	unsigned int i;
	int fd;

	if (map->tried)
		return map->mod;
	map->tried = 1;
	if (map->name[0] != '/')
		return NULL;	/* [vdso], [anon], ...: module + offset only */
	for (i = 0; i < s->nmods; i++)
		if (map->ino && s->mods[i]->ino == map->ino && s->mods[i]->dev == map->dev)
			goto found;
	fd = open_mapped(pid, map, path, sizeof(path));
	if (fd < 0)
		return NULL;
	m = module_open(fd, path, map);
	if (!m)
		return NULL;
	/* the same build in another file (another container's copy): share it */
	for (i = 0; m->build_id_len && i < s->nmods; i++)
		if (s->mods[i]->build_id_len == m->build_id_len &&
		    !memcmp(s->mods[i]->build_id, m->build_id, (size_t)m->build_id_len)) {
			module_free(m);
			goto found;
		}
	if (module_add(s, m)) {
		module_free(m);
		return NULL;
	}
	i = s->nmods - 1;
found:
	map->mod = s->mods[i];
	map->mod->refs++;
	return map->mod;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int symbolizer__resolve_ex(struct symbolizer *s, int pid, uint64_t start_time, uint64_t addr,
			   unsigned int flags, struct sym_frame *out)
{
	uint64_t look, file_off, vaddr, adj;
	struct sym_module *mod;
	struct sym_proc *p;
	struct sym_map *m;
	unsigned int i;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->addr = addr;
	out->module_offset = addr;
	copy_str(out->module, sizeof(out->module), "[unknown]");
	if (!s || pid <= 0)
		return -EINVAL;
	adj = (flags & SYM_RETADDR) && addr ? 1 : 0;
	look = addr - adj;
	err = proc_get(s, pid, start_time, &p);
	if (err)
		return err;
	p->used = ++s->tick;
	m = map_find(p, look);
	if (!m && mono_ns() - p->loaded_ns >= SYM_RELOAD_NS &&
	    sym_start_time(pid) == p->start_time) {
		/* a library loaded since we read the maps */
		if (!load_maps(p))
			m = map_find(p, look);
	}
	if (!m)
		return -ENOENT;
	copy_str(out->module, sizeof(out->module), m->name);
	file_off = look - m->start + m->pgoff;
	out->module_offset = file_off + adj;
	mod = module_get(s, pid, m);
	if (!mod)
		return 0;
	mod->used = s->tick;
	vaddr = file_off;
	for (i = 0; i < mod->nloads; i++)
		if (file_off >= mod->loads[i].off &&
		    file_off < mod->loads[i].off + mod->loads[i].filesz) {
			vaddr = file_off - mod->loads[i].off + mod->loads[i].vaddr;
			break;
		}
	out->module_offset = vaddr + adj;
	if (mod->mod) {
		GElf_Off off = 0;
		GElf_Sym sym;
		Dwfl_Line *line;
		const char *name = dwfl_module_addrinfo(mod->mod, vaddr, &off, &sym, NULL, NULL,
							NULL);

		if (name && *name) {
			copy_str(out->func, sizeof(out->func), name);
			out->func_offset = off + adj;
		}
		line = dwfl_module_getsrc(mod->mod, vaddr);
		if (line) {
			int lineno = 0;
			const char *file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);

			if (file && lineno > 0) {
				copy_str(out->file, sizeof(out->file), file);
				out->line = lineno;
			}
		}
	}
	return 0;
}

int symbolizer__prepare(struct symbolizer *s, int pid, uint64_t start_time)
{
	struct sym_proc *p;

	if (!s || pid <= 0)
		return -EINVAL;
	return proc_get(s, pid, start_time, &p);
}

int symbolizer__resolve(struct symbolizer *s, int pid, uint64_t addr, struct sym_frame *out)
{
	return symbolizer__resolve_ex(s, pid, 0, addr, 0, out);
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b ? b + 1 : path;
}

int sym_frame__format(const struct sym_frame *f, char *buf, size_t len)
{
	if (!f->func[0])
		return snprintf(buf, len, "%s+0x%" PRIx64, f->module, f->module_offset);
	if (f->line)
		return snprintf(buf, len, "%s+0x%" PRIx64 " (%s:%d) [%s]", f->func, f->func_offset,
				base_name(f->file), f->line, base_name(f->module));
	return snprintf(buf, len, "%s+0x%" PRIx64 " [%s]", f->func, f->func_offset,
			base_name(f->module));
}
