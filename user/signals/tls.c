/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tls: attach the socket capture's TLS uprobes (bpf/sockets/tls.bpf.h) to
 * every TLS library (OpenSSL's libssl, GnuTLS's libgnutls: libs[]) the
 * processes to follow have mapped, and turn handshake records into the
 * tls_handshake family. The plaintext itself goes through the capture's
 * shared handler in the kernel and comes back as ordinary HTTP and
 * database records (user/signals/http.c).
 *
 * Which libraries, and for whom:
 *   - host-wide: each distinct library file (by device and inode) any
 *     process maps, attached once for all processes (pid -1: every later
 *     mapping of that file is covered at once, including a dlopen), at most
 *     TLS_MAX_ATT files. /proc/PID/maps is rescanned every TLS_HOST_SCAN_S
 *     for new files (another version, a container's own copy); a file no
 *     process maps any more is detached.
 *   - --pid: per followed process (targets and descendants, from the proc
 *     signal's tracked_pids map), rescanned every collect, so a process
 *     that dlopens a library is attached within a second; a process that
 *     is gone (or was replaced: start time) is detached. Other processes
 *     mapping the same file pay nothing. A followed process that forks or
 *     execs is announced by the kernel at once (tls_fork, tls_exec) and
 *     attached at once to the library files its tree mapped so far
 *     (pre_attach), then looked at on a short backoff while its loader
 *     maps its libraries (fresh[]). What that cannot beat: attaching to a
 *     new process takes milliseconds (with per-site uprobes the first took
 *     15 ms idle, 120 ms while it started, here), so a child whose one
 *     call comes sooner than that can still be missed.
 * Paths go through /proc/PID/root (or /proc/PID/map_files when the file
 * was replaced), so a library in another mount namespace (a container) is
 * the very inode that process mapped (uprobe_site__find_mapped).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sockets.skel.h"
#include "probe/tls.h"
#include "config.h"
#include "core/families.h"
#include "core/store.h"
#include "loader/features.h"
#include "loader/loop.h"
#include "loader/signal.h"
#include "loader/signals.h"
#include "loader/uprobe_multi.h"
#include "proc/attrib.h"
#include "proc/names.h"
#include "proc/peer_names.h"
#include "proc/symbolize.h"
#include "proc/uprobe_site.h"
#include "signals/tls.h"

#define TLS_MAX_ATT		64	/* (process or host-wide, library) attachments */
#define TLS_HOST_SCAN_S		2
#define TLS_NPROBES		12	/* the most any library has */
#define TLS_MAX_KNOWN		8	/* library files remembered for pre_attach() */
#define TLS_MAX_FRESH		32	/* new processes looked at on a backoff at once */
#define TLS_FRESH_NS		2000000000ULL	/* then the periodic rescan takes over */
#define TLS_FRESH_MAX_STEP_NS	256000000ULL
#define TLS_MAX_EXES		1024	/* executables remembered as having OpenSSL or not */

/* Kernel counters shown in tls_stats. */
static const struct {
	enum probe_tls_stat idx;
	const char *what;
} kstats[] = {
	{ PROBE_TLS_STAT_PLAIN_READS, "plaintext_reads" },
	{ PROBE_TLS_STAT_PLAIN_WRITES, "plaintext_writes" },
	{ PROBE_TLS_STAT_NO_FD, "plaintext_before_socket_known" },
	{ PROBE_TLS_STAT_RB_DROP, "ringbuf_drops" },
};
#define NKSTATS (sizeof(kstats) / sizeof(kstats[0]))

/* The functions probed, in attach order (a return probe before its entry). */
struct probe_spec {
	const char *func;
	int required;		/* without it the library is not attached */
	int ret;
	uint64_t cookie;	/* enum probe_tls_site: what tls_probe does there */
	int pair;		/* 1 + index in pairs[]: replaced by the pair's common callee */
};

/*
 * The exported wrappers whose common internal function, when
 * uprobe_site__find_common_callee() finds it, is probed instead of both:
 * in OpenSSL 1.1.1 and 3.x SSL_write and SSL_write_ex call
 * ssl_write_internal(s, buf, num, ...) and SSL_read and SSL_read_ex call
 * ssl_read_internal(s, buf, num, size_t *readbytes), whose first
 * instruction is a push (one trap) where the wrappers' is a sub from %rsp
 * (single-stepped: two). The _ex wrapper must hand on the arguments the
 * probe reads: (s, buf, num) for writes, and readbytes too for reads, so
 * the callee has SSL_read_ex's semantics (the length in *readbytes at its
 * return). SSL_peek(_ex) calls another function (ssl_peek_internal): peeks
 * stay unseen, as before. From OpenSSL 3.3, SSL_write_ex calls
 * SSL_write_ex2 first: the write pair differs and stays on the wrappers.
 */
static const struct {
	const char *a, *b;
	uint32_t b_forwards;
	const char *what;
} pairs[2] = {
	{ "SSL_write", "SSL_write_ex",
	  UPROBE_REG(UREG_RDI) | UPROBE_REG(UREG_RSI) | UPROBE_REG(UREG_RDX), "writes" },
	{ "SSL_read", "SSL_read_ex",
	  UPROBE_REG(UREG_RDI) | UPROBE_REG(UREG_RSI) | UPROBE_REG(UREG_RDX) |
	  UPROBE_REG(UREG_RCX), "reads" },
};

static const struct probe_spec openssl_specs[] = {
	{ "SSL_write", 1, 0, PROBE_TLS_S_WRITE, 1 },
	{ "SSL_write_ex", 0, 0, PROBE_TLS_S_WRITE, 1 },
	{ "SSL_read", 1, 1, PROBE_TLS_S_READ_RET, 2 },
	{ "SSL_read", 1, 0, PROBE_TLS_S_READ, 2 },
	{ "SSL_read_ex", 0, 1, PROBE_TLS_S_READ_RET, 2 },
	{ "SSL_read_ex", 0, 0, PROBE_TLS_S_READ_EX, 2 },
	{ "SSL_do_handshake", 1, 1, PROBE_TLS_S_HS_RET, 0 },
	{ "SSL_do_handshake", 1, 0, PROBE_TLS_S_HS, 0 },
	{ "SSL_ctrl", 0, 0, PROBE_TLS_S_SNI, 0 },
	{ "SSL_set_connect_state", 0, 0, PROBE_TLS_S_CONNECT, 0 },
	{ "SSL_set_accept_state", 0, 0, PROBE_TLS_S_ACCEPT, 0 },
	{ "SSL_free", 1, 0, PROBE_TLS_S_FREE, 0 },
};

/*
 * GnuTLS (libgnutls.so.30): its record calls take (session, buf, size)
 * and return the bytes moved, as SSL_write and SSL_read do. Which side a
 * session is (gnutls_init's flags) is written through a pointer, so it is
 * not read: a session that sets an SNI is a client, as with OpenSSL.
 */
static const struct probe_spec gnutls_specs[] = {
	{ "gnutls_record_send", 1, 0, PROBE_TLS_S_WRITE, 0 },
	{ "gnutls_record_recv", 1, 1, PROBE_TLS_S_READ_RET, 0 },
	{ "gnutls_record_recv", 1, 0, PROBE_TLS_S_READ, 0 },
	{ "gnutls_handshake", 1, 1, PROBE_TLS_S_HS_RET0, 0 },
	{ "gnutls_handshake", 1, 0, PROBE_TLS_S_HS, 0 },
	{ "gnutls_server_name_set", 0, 0, PROBE_TLS_S_SNI_GNUTLS, 0 },
	{ "gnutls_deinit", 1, 0, PROBE_TLS_S_FREE, 0 },
};

#define NSPECS(a) (sizeof(a) / sizeof((a)[0]))

/* A TLS library the capture knows: how to tell its file, and what to probe. */
static const struct tls_lib {
	int (*is)(const char *path);
	const struct probe_spec *specs;
	unsigned int nspecs;
	int pairs;		/* OpenSSL's wrapper pairs may go to a common callee */
} libs[] = {
	{ tls__is_libssl, openssl_specs, NSPECS(openssl_specs), 1 },
	{ tls__is_gnutls, gnutls_specs, NSPECS(gnutls_specs), 0 },
};
#define NLIBS (sizeof(libs) / sizeof(libs[0]))

/*
 * OpenSSL linked into the executable itself (Node.js's official builds,
 * programs built against libssl.a): the same probes, found by its symbols
 * (SSL_write and SSL_read defined in .dynsym or .symtab) rather than by a
 * library's file name.
 */
static const struct tls_lib openssl_exe = { NULL, openssl_specs, NSPECS(openssl_specs), 1 };

struct tls_att {
	int used;
	int pid;		/* -1: host-wide */
	uint64_t start;		/* the process's start time (pid reuse), 0 host-wide */
	uint64_t dev, ino;	/* the library file */
	uint64_t seen;		/* the last scan that found it mapped */
	char lib[160];		/* as the process sees it */
	const struct tls_lib *kind;
	int pre;		/* attached ahead of its mapping (pre_attach), not seen mapped yet */
	struct bpf_link *links[TLS_NPROBES];	/* perf-event uprobes, one per site */
	unsigned int nlinks;
	int fds[2];		/* or uprobe_multi links: entries, returns */
	unsigned int nfds, nsites;
	unsigned int callees;	/* pairs[] probed at their common callee */
};

struct tls {
	struct probe_ctx *ctx;
	struct sockets_bpf *skel;
	struct family *hs, *stats;
	struct tls_att att[TLS_MAX_ATT];
	int multi;		/* tls_probe was loaded for uprobe_multi links */
	/* library files the followed processes mapped: attached to new ones at once */
	struct {
		uint64_t dev, ino;
		const struct tls_lib *kind;
		char shown[160];
	} known[TLS_MAX_KNOWN];
	unsigned int nknown;
	uint64_t scan, next_host_scan;
	uint64_t records, bad_records;
	uint64_t attached, detached, failed, full;
	uint64_t attached_shown, detached_shown, failed_shown, full_shown;
	uint64_t kprev[PROBE_TLS_STAT_MAX];
	char note[SIGNAL_WHY_LEN];
	/* new followed processes whose TLS library is not found yet */
	struct {
		int pid;
		uint64_t since, next, step;
	} fresh[TLS_MAX_FRESH];
	unsigned int nfresh;
	int timer_fd;		/* fires at the earliest fresh[].next; -1: none */
	uint64_t fresh_found, fresh_full, fresh_found_shown, fresh_full_shown;
	/* executable files looked at for OpenSSL (an ELF read once per file) */
	struct {
		uint64_t dev, ino;
		int has;
	} exes[TLS_MAX_EXES];
	unsigned int nexes, next_exe;
};

/* Whether path's file name begins with prefix. */
static int named(const char *path, const char *prefix)
{
	const char *b = strrchr(path, '/');

	return !strncmp(b ? b + 1 : path, prefix, strlen(prefix));
}

int tls__is_libssl(const char *path)
{
	/* libssl.so, libssl.so.3, libssl.so.1.1; not NSS's libssl3.so */
	return named(path, "libssl.so");
}

int tls__is_gnutls(const char *path)
{
	/* libgnutls.so.30; not libgnutls-openssl.so, libgnutls-dane.so, libgnutlsxx.so */
	return named(path, "libgnutls.so");
}

int tls__is_record(const void *data, size_t len)
{
	const struct probe_rec_hdr *h = data;

	return len >= sizeof(*h) && h->type >= PROBE_REC_TLS_BASE &&
	       h->type < PROBE_REC_TLS_BASE + 16;
}

/* "/lib/x86_64-linux-gnu/libssl.so.3 in pid 42", or "... for every process" */
static const char *att_where(const struct tls_att *a, char *buf, size_t len)
{
	if (a->pid >= 0)
		snprintf(buf, len, "%s in pid %d", a->lib, a->pid);
	else
		snprintf(buf, len, "%s for every process", a->lib);
	return buf;
}

static void att_unlink(struct tls_att *a)
{
	unsigned int i;

	for (i = 0; i < a->nlinks; i++)
		bpf_link__destroy(a->links[i]);
	for (i = 0; i < a->nfds; i++)
		close(a->fds[i]);
	a->nlinks = a->nfds = 0;
}

static void att_detach(struct tls *t, struct tls_att *a, const char *why)
{
	char where[200];

	att_unlink(a);
	if (a->used && !a->pre && !t->ctx->check_only)
		fprintf(stderr, "probe: tls: detached from %s (%s)\n",
			att_where(a, where, sizeof(where)), why);
	memset(a, 0, sizeof(*a));
	t->detached++;
}

/* One probe site: a file offset, what tls_probe does there, entry or return. */
struct tls_site {
	uint64_t off, cookie;
	int ret;
	const char *what;
};

static void site_add(struct tls_site *v, unsigned int *n, uint64_t off, uint64_t cookie, int ret,
		     const char *what)
{
	if (*n < TLS_NPROBES)
		v[(*n)++] = (struct tls_site){ off, cookie, ret, what };
}

/*
 * OpenSSL's wrapper pairs: where each pair's probes go, its common callee
 * (have[p], callee[p]) when one is found and signals.http.tls_sites allows
 * it, and in site[p] what was chosen, for -v and --check.
 */
static void find_callees(struct tls *t, const char *path, struct uprobe_callee callee[2],
			 int have[2], char site[2][512])
{
	unsigned int p;

	for (p = 0; p < 2; p++) {
		struct uprobe_func f;

		if (t->ctx->cfg->http.tls_sites == CFG_TLS_SITES_CALLEE) {
			have[p] = !uprobe_site__find_common_callee(path, pairs[p].a, pairs[p].b,
								   pairs[p].b_forwards, &callee[p]);
		} else {
			memset(&callee[p], 0, sizeof(callee[p]));
			snprintf(callee[p].why, sizeof(callee[p].why),
				 "signals.http.tls_sites is \"exported\"");
		}
		if (have[p]) {
			snprintf(site[p], sizeof(site[p]), "%s", callee[p].why);
			continue;
		}
		/* the wrappers' own entries: say why, and what their site costs */
		uprobe_site__find_func(path, pairs[p].a, -1, &f);
		snprintf(site[p], sizeof(site[p]), "%s/%s at their entries (no common callee: %s): %s",
			 pairs[p].a, pairs[p].b, callee[p].why, f.site.why);
	}
}

/*
 * Where lib's probes go in the file at path: each OpenSSL wrapper pair at
 * its common callee when find_callees() found one (writes: the entry as
 * SSL_write_ex's; reads: the entry stashing buf and readbytes, the return
 * handing the plaintext on, SSL_read_ex's semantics), every other function
 * at its entry (and return). 0, or -errno with why set.
 */
static int find_sites(const struct tls_lib *lib, const char *path,
		      const struct uprobe_callee callee[2], const int have[2],
		      struct tls_site *v, unsigned int *n, char *why, size_t why_len)
{
	int done[2] = { 0, 0 };
	unsigned int i, p;
	int err;

	for (i = 0; i < lib->nspecs; i++) {
		const struct probe_spec *s = &lib->specs[i];
		struct uprobe_func f;

		if (s->pair && have[s->pair - 1]) {
			uint64_t off;

			p = (unsigned int)s->pair - 1;
			if (done[p]++)
				continue;
			off = callee[p].file_off + callee[p].site.delta;
			if (p == 0) {
				site_add(v, n, off, PROBE_TLS_S_WRITE, 0, "the writes' common callee");
			} else {
				site_add(v, n, off, PROBE_TLS_S_READ_RET, 1, "the reads' common callee");
				site_add(v, n, off, PROBE_TLS_S_READ_EX, 0, "the reads' common callee");
			}
			continue;
		}
		err = uprobe_site__find_func(path, s->func, -1, &f);
		if (err == -ENOENT && !s->required)
			continue;
		if (err) {
			snprintf(why, why_len, "%s: %s", s->func,
				 err == -ENOENT ? "not defined" : strerror(-err));
			return err;
		}
		site_add(v, n, f.file_off + f.site.delta, s->cookie, s->ret, s->func);
	}
	return 0;
}

/*
 * Attach tls_probe at the n sites in path for a->pid (-1: every process):
 * where the kernel has uprobe_multi (t->multi), one link for the entries
 * and one for the returns; else a perf-event uprobe per site. 0, or -errno
 * with why set and nothing left attached.
 */
static int att_link(struct tls *t, struct tls_att *a, const char *path,
		    const struct tls_site *v, unsigned int n, char *why, size_t why_len)
{
	struct bpf_program *prog = t->skel->progs.tls_probe;
	unsigned int i;
	int ret, err = 0;

	if (t->multi) {
		for (ret = 0; ret < 2 && !err; ret++) {
			uint64_t off[TLS_NPROBES], cookie[TLS_NPROBES];
			size_t k = 0;
			int fd;

			for (i = 0; i < n; i++)
				if (v[i].ret == ret) {
					off[k] = v[i].off;
					cookie[k++] = v[i].cookie;
				}
			if (!k)
				continue;
			/* pid 0: no filter, every process mapping the file */
			fd = uprobe_multi__attach(bpf_program__fd(prog), path, off, cookie, k,
						  a->pid < 0 ? 0 : a->pid, ret);
			if (fd < 0) {
				err = fd;
				snprintf(why, why_len, "uprobe_multi link for the %s: %s",
					 ret ? "returns" : "entries", strerror(-err));
				break;
			}
			a->fds[a->nfds++] = fd;
		}
	} else {
		for (i = 0; i < n; i++) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = v[i].cookie,
				    .retprobe = v[i].ret);
			struct bpf_link *l;

			l = bpf_program__attach_uprobe_opts(prog, a->pid, path, (size_t)v[i].off, &o);
			if (!l) {
				err = -errno;
				snprintf(why, why_len, "attaching %s%s: %s", v[i].what,
					 v[i].ret ? " (return)" : "", strerror(-err));
				break;
			}
			a->links[a->nlinks++] = l;
		}
	}
	if (err)
		att_unlink(a);
	a->nsites = err ? 0 : n;
	return err;
}

/* The attach line on stderr (for one attached ahead, once it is mapped). */
static void att_say(struct tls *t, const struct tls_att *a)
{
	char where[200];

	if (t->ctx->check_only)
		return;
	fprintf(stderr, "probe: tls: attached %u probes to %s%s%s\n", a->nsites,
		att_where(a, where, sizeof(where)),
		a->nfds ? " (uprobe_multi: one link for the entries, one for the returns)" : "",
		a->callees == 2 ? " (reads and writes at their common callees: one trap a call)" :
		"");
}

/*
 * Attach every probe of a->kind to the library at path for pid (-1: all
 * processes). 0, or -errno with nothing left attached.
 */
static int att_attach(struct tls *t, struct tls_att *a, const char *path)
{
	char why[200] = "", where[200], site[2][512];
	struct uprobe_callee callee[2];
	struct tls_site v[TLS_NPROBES];
	const struct tls_lib *lib = a->kind;
	int have[2] = { 0, 0 };
	unsigned int n = 0;
	int err;

	if (lib->pairs)
		find_callees(t, path, callee, have, site);
	err = find_sites(lib, path, callee, have, v, &n, why, sizeof(why));
	if (!err)
		err = att_link(t, a, path, v, n, why, sizeof(why));
	if (err) {
		t->failed++;
		/*
		 * Ahead of its mapping, or a process that ended while it was
		 * being attached (its files then look undefined or missing):
		 * counted, and no news.
		 */
		if ((!a->pre && (a->pid < 0 || names__is_process(a->pid))) || t->ctx->verbose)
			fprintf(stderr, "probe: tls: %s not traced: %s\n",
				att_where(a, where, sizeof(where)), why);
		return err;
	}
	a->used = 1;
	a->callees = (unsigned int)(have[0] + have[1]);
	t->attached++;
	att_where(a, where, sizeof(where));
	if (!a->pre)
		att_say(t, a);
	/* where each probe sits is detail for -v and --check */
	if (lib->pairs && (t->ctx->verbose || t->ctx->check_only))
		fprintf(stderr, "probe: tls: %s: %s: %s; %s: %s\n", where, pairs[1].what, site[1],
			pairs[0].what, site[0]);
	return 0;
}

static unsigned int att_count(const struct tls *t)
{
	unsigned int i, n = 0;

	for (i = 0; i < TLS_MAX_ATT; i++)
		n += t->att[i].used;
	return n;
}

/* Remember a library file a followed process mapped (for pre_attach). */
static void known_add(struct tls *t, const struct tls_att *a)
{
	unsigned int i;

	for (i = 0; i < t->nknown; i++)
		if (t->known[i].dev == a->dev && t->known[i].ino == a->ino)
			return;
	if (t->nknown == TLS_MAX_KNOWN)
		return;
	t->known[t->nknown].dev = a->dev;
	t->known[t->nknown].ino = a->ino;
	t->known[t->nknown].kind = a->kind;
	snprintf(t->known[t->nknown].shown, sizeof(t->known[0].shown), "%s", a->lib);
	t->nknown++;
}

/* The attachment of file (dev, ino) for pid (-1: every process) started at start. */
static struct tls_att *att_find(struct tls *t, uint64_t dev, uint64_t ino, int pid,
				uint64_t start)
{
	unsigned int i;

	for (i = 0; i < TLS_MAX_ATT; i++) {
		struct tls_att *a = &t->att[i];

		if (a->used && a->dev == dev && a->ino == ino && a->pid == pid &&
		    a->start == start)
			return a;
	}
	return NULL;
}

/*
 * Attach file (dev, ino) of kind, reached at path attach and shown as
 * shown, for pid (-1: every process) started at start, ahead of its
 * mapping when pre. The slot (used set when attaching worked), or NULL
 * when every slot is taken (counted).
 */
static struct tls_att *att_add(struct tls *t, int pid, uint64_t start, uint64_t dev,
			       uint64_t ino, const struct tls_lib *kind, const char *shown,
			       const char *attach, int pre)
{
	struct tls_att *a = NULL;
	unsigned int i;

	for (i = 0; i < TLS_MAX_ATT && !a; i++)
		if (!t->att[i].used)
			a = &t->att[i];
	if (!a) {
		t->full++;
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->pid = pid;
	a->start = start;
	a->dev = dev;
	a->ino = ino;
	a->seen = t->scan;
	a->kind = kind;
	a->pre = pre;
	snprintf(a->lib, sizeof(a->lib), "%s", shown);
	att_attach(t, a, attach);
	return a;
}

/*
 * A followed process was just forked or exec'd: attach it now to every
 * library file its tree has mapped so far, the same file through its own
 * root, before its loader maps one. A uprobe on a file a process has not
 * mapped yet is set in it when it maps the file, so the race with its
 * first call starts at the fork, not once its libraries are in. One it
 * never maps is detached by the next rescan, without a word.
 */
static void pre_attach(struct tls *t, int pid)
{
	char attach[PATH_MAX + 64];
	uint64_t start = sym_start_time(pid);
	struct stat st;
	unsigned int k;

	/* an optimization: it never takes the slots a rescan would need */
	if (!start || att_count(t) >= TLS_MAX_ATT / 2)
		return;
	for (k = 0; k < t->nknown; k++) {
		snprintf(attach, sizeof(attach), "/proc/%d/root%s", pid, t->known[k].shown);
		if (stat(attach, &st) || (uint64_t)st.st_dev != t->known[k].dev ||
		    (uint64_t)st.st_ino != t->known[k].ino ||
		    att_find(t, t->known[k].dev, t->known[k].ino, pid, start))
			continue;
		if (!att_add(t, pid, start, t->known[k].dev, t->known[k].ino, t->known[k].kind,
			     t->known[k].shown, attach, 1))
			return;
	}
}

/*
 * File st of kind, in use by pid, reached at attach and shown as shown:
 * attach it (for pid, or for everyone when host-wide) unless it is. 1
 * (whether attaching worked or not), 0 when pid is gone.
 */
static int scan_file(struct tls *t, int pid, int host_wide, const struct stat *st,
		     const struct tls_lib *kind, const char *shown, const char *attach)
{
	uint64_t start = 0;
	struct tls_att *a;

	if (!host_wide) {
		start = sym_start_time(pid);
		if (!start)
			return 0;
	}
	a = att_find(t, (uint64_t)st->st_dev, (uint64_t)st->st_ino, host_wide ? -1 : pid, start);
	if (a) {
		a->seen = t->scan;
		if (a->pre) {
			a->pre = 0;
			att_say(t, a);
		}
		return 1;
	}
	a = att_add(t, host_wide ? -1 : pid, start, (uint64_t)st->st_dev, (uint64_t)st->st_ino,
		    kind, shown, attach, 0);
	if (a && a->used && !host_wide)
		known_add(t, a);
	return 1;
}

/* pid's TLS library of kind lib; 1 when pid maps one, else 0. */
static int scan_lib(struct tls *t, int pid, int host_wide, const struct tls_lib *lib)
{
	char attach[PATH_MAX + 64], shown[160];
	uint64_t ino = 0;
	struct stat st;

	if (uprobe_site__find_mapped(pid, lib->is, attach, sizeof(attach), shown, sizeof(shown),
				     &ino))
		return 0;	/* none mapped, or gone */
	if (stat(attach, &st))
		return 0;
	return scan_file(t, pid, host_wide, &st, lib, shown, attach);
}

/* What is known of executable file st: 1 has OpenSSL, 0 has not, -1 not looked at. */
static int exe_known(const struct tls *t, const struct stat *st)
{
	unsigned int i;

	for (i = 0; i < t->nexes; i++)
		if (t->exes[i].dev == (uint64_t)st->st_dev && t->exes[i].ino == (uint64_t)st->st_ino)
			return t->exes[i].has;
	return -1;
}

/*
 * Whether executable file st, open at path, defines SSL_write and
 * SSL_read; remembered unless the file could not be read.
 */
static int exe_has_openssl(struct tls *t, const struct stat *st, const char *path)
{
	struct uprobe_func f;
	unsigned int i;
	int err, has;

	err = uprobe_site__find_func(path, "SSL_write", -1, &f);
	if (!err)
		err = uprobe_site__find_func(path, "SSL_read", -1, &f);
	if (err && err != -ENOENT)
		return 0;	/* unreadable now (the file is held open: not gone) */
	has = !err;
	/* full: the oldest answer goes (a host with more executables reads some twice) */
	i = t->nexes < TLS_MAX_EXES ? t->nexes++ : t->next_exe++ % TLS_MAX_EXES;
	t->exes[i].dev = (uint64_t)st->st_dev;
	t->exes[i].ino = (uint64_t)st->st_ino;
	t->exes[i].has = has;
	return has;
}

/*
 * OpenSSL linked into pid's executable: attach it (for pid, or for
 * everyone when host-wide) unless it is. 1 when it has OpenSSL, else 0.
 */
static int scan_exe(struct tls *t, int pid, int host_wide)
{
	char exe[64], attach[64], shown[160];
	int fd, has, ret = 0;
	struct stat st;
	ssize_t n;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	/* the very file the process runs, whatever mount namespace it is in */
	if (stat(exe, &st) || !exe_known(t, &st))
		return 0;	/* a kernel thread, gone, or known to have no OpenSSL */
	/* held open while it is read and attached: the process may exit meanwhile */
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	snprintf(attach, sizeof(attach), "/proc/self/fd/%d", fd);
	n = readlink(exe, shown, sizeof(shown) - 1);
	if (n > 0 && !fstat(fd, &st)) {
		has = exe_known(t, &st);
		if (has < 0)
			has = exe_has_openssl(t, &st, attach);
		shown[n] = '\0';
		if (has)
			ret = scan_file(t, pid, host_wide, &st, &openssl_exe, shown, attach);
	}
	close(fd);
	return ret;
}

/* Each TLS library pid maps, and OpenSSL in its executable; 1 when it has one. */
static int scan_pid(struct tls *t, int pid, int host_wide)
{
	unsigned int k;
	int found = 0;

	if (pid == t->ctx->self_pid)
		return 0;
	for (k = 0; k < NLIBS; k++)
		found |= scan_lib(t, pid, host_wide, &libs[k]);
	found |= scan_exe(t, pid, host_wide);
	return found;
}

static void scan(struct tls *t)
{
	unsigned int i;

	t->scan++;
	if (t->ctx->filter) {
		__u32 key, next, *prev = NULL;
		int fd = t->ctx->tracked_fd;

		while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next)) {
			key = next;
			prev = &key;
			if (names__is_process((int)key))
				scan_pid(t, (int)key, 0);
		}
	} else {
		struct dirent *de;
		DIR *d = opendir("/proc");

		if (!d)
			return;	/* keep what is attached */
		while ((de = readdir(d))) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);

			if (*end || pid <= 0)
				continue;
			scan_pid(t, (int)pid, 1);
		}
		closedir(d);
	}
	for (i = 0; i < TLS_MAX_ATT; i++) {
		struct tls_att *a = &t->att[i];

		if (!a->used || a->seen == t->scan)
			continue;
		if (a->pid >= 0 && sym_start_time(a->pid) != a->start)
			att_detach(t, a, "process gone");
		else
			att_detach(t, a, "no longer mapped");
	}
}

static void update_note(struct tls *t)
{
	unsigned int i, n = att_count(t), fast = 0;

	for (i = 0; i < TLS_MAX_ATT; i++)
		fast += t->att[i].used && t->att[i].callees == 2;
	if (n)
		/* the signal's line is long already: -v and --check detail the sites */
		snprintf(t->note, sizeof(t->note),
			 "TLS: uprobes on %u %s%s, %u via callees%s", n,
			 t->ctx->filter ? "(process, file) pair" : "file",
			 n == 1 ? "" : "s", fast, t->multi ? ", uprobe_multi links" : "");
	else
		snprintf(t->note, sizeof(t->note),
			 "TLS: no libssl, libgnutls or OpenSSL executable in %s yet (rescanned)",
			 t->ctx->filter ? "the followed processes" : "any process");
}

/* Arm the timer for the earliest fresh process, or disarm it. */
static void fresh_arm(struct tls *t, uint64_t now)
{
	struct itimerspec its = { 0 };
	uint64_t due = 0, wait;
	unsigned int i;

	for (i = 0; i < t->nfresh; i++)
		if (!due || t->fresh[i].next < due)
			due = t->fresh[i].next;
	if (due) {
		wait = due > now ? due - now : 1;	/* zero would disarm */
		its.it_value.tv_sec = (time_t)(wait / 1000000000ULL);
		its.it_value.tv_nsec = (long)(wait % 1000000000ULL);
	}
	/* cannot fail on a valid timerfd; if it did, the periodic rescan remains */
	(void)timerfd_settime(t->timer_fd, 0, &its, NULL);
}

/*
 * Look at each fresh process that is due: drop it once its library is
 * found (and attached), once it is gone, or after TLS_FRESH_NS; else look
 * again after twice the wait (1 ms, 2 ms, 4 ms, ...: a loader maps a
 * program's libraries within a few milliseconds of its exec).
 */
static void fresh_run(struct tls *t)
{
	uint64_t now = loop__now_ns();
	unsigned int i = 0;
	int found;

	while (i < t->nfresh) {
		typeof(t->fresh[0]) *f = &t->fresh[i];

		if (f->next > now) {
			i++;
			continue;
		}
		found = scan_pid(t, f->pid, 0);
		if (found || now - f->since >= TLS_FRESH_NS || !names__is_process(f->pid)) {
			t->fresh_found += (uint64_t)found;
			*f = t->fresh[--t->nfresh];
			continue;
		}
		f->step = f->step * 2 > TLS_FRESH_MAX_STEP_NS ? TLS_FRESH_MAX_STEP_NS : f->step * 2;
		f->next = now + f->step;
		i++;
	}
	update_note(t);
	fresh_arm(t, now);
}

static void on_fresh_timer(int fd, void *arg)
{
	uint64_t expirations;

	/* EAGAIN: nothing expired after all; the list says what is due */
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	fresh_run(arg);
}

/* A followed process forked or exec'd: look for its TLS library from now on. */
static void fresh_add(struct tls *t, int pid)
{
	uint64_t now = loop__now_ns();
	unsigned int i;

	if (t->timer_fd < 0)
		return;
	for (i = 0; i < t->nfresh; i++)
		if (t->fresh[i].pid == pid)
			break;	/* a fork, then its exec: start over */
	if (i == t->nfresh) {
		if (t->nfresh == TLS_MAX_FRESH) {
			t->fresh_full++;	/* the periodic rescan finds it */
			return;
		}
		t->nfresh++;
	}
	t->fresh[i].pid = pid;
	t->fresh[i].since = now;
	t->fresh[i].step = 1000000ULL;
	t->fresh[i].next = now + t->fresh[i].step;
	pre_attach(t, pid);
	fresh_arm(t, now);
}

void tls__autoload(struct sockets_bpf *skel, const struct probe_ctx *ctx, int want)
{
	/*
	 * Host-wide, each library file is attached for every process, and a
	 * new process mapping it is covered by the kernel at its mmap; only
	 * per-process attachments (--pid) need to know of new processes.
	 */
	int on = want && ctx->filter && ctx->feat->have[FEAT_TP_BTF];

	bpf_program__set_autoload(skel->progs.tls_fork, on);
	bpf_program__set_autoload(skel->progs.tls_exec, on);
	/*
	 * uprobe_multi where the kernel has a working one: a library's probes
	 * in a process are then two links, released with a grace period each
	 * at exit, where nine perf-event uprobes took ~1 s (event_mutex). A
	 * program loaded for it cannot be a classic uprobe: decided here.
	 */
	if (want && ctx->feat->have[FEAT_UPROBE_MULTI])
		bpf_program__set_expected_attach_type(skel->progs.tls_probe,
						      (enum bpf_attach_type)UPROBE_MULTI__ATTACH_TYPE);
}

struct tls *tls__new(struct probe_ctx *ctx, struct sockets_bpf *skel)
{
	struct tls *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ctx = ctx;
	t->skel = skel;
	t->timer_fd = -1;
	t->multi = skel && bpf_program__expected_attach_type(skel->progs.tls_probe) ==
			   (enum bpf_attach_type)UPROBE_MULTI__ATTACH_TYPE;
	t->hs = families__register(ctx->store, FAM_TLS_HANDSHAKE, 0);
	t->stats = families__register(ctx->store, FAM_TLS_STATS, 0);
	if (!t->hs || !t->stats) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	if (skel && !ctx->check_only && bpf_program__autoload(skel->progs.tls_exec)) {
		t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (t->timer_fd >= 0 && loop__add_fd(ctx->loop, t->timer_fd, on_fresh_timer, t)) {
			close(t->timer_fd);
			t->timer_fd = -1;
		}
	}
	scan(t);
	update_note(t);
	return t;
}

/* Printable ASCII only: labels end up in JSON and on terminals. */
static void sanitize(char *dst, size_t dlen, const char *src, size_t n)
{
	size_t i;

	if (n > dlen - 1)
		n = dlen - 1;
	for (i = 0; i < n && src[i]; i++)
		dst[i] = (unsigned char)src[i] > 0x20 && (unsigned char)src[i] < 0x7f ? src[i] : '?';
	dst[i] = 0;
}

int tls__record(struct tls *t, const void *data, size_t len)
{
	const struct probe_tls_hs *r = data;
	char comm[PROBE_COMM_LEN + 1], exe[PROBE_COMM_LEN + 1], sni[PEER_NAMES_TEXT_MAX];
	char peer[PEER_NAMES_TEXT_MAX], local[INET6_ADDRSTRLEN + 16];
	struct series *se;
	struct label l[5 + ATTRIB_NLABELS];

	if (!t)
		return 0;
	if (len == sizeof(struct probe_tls_proc) && r->hdr.type == PROBE_REC_TLS_PROC &&
	    r->hdr.version == PROBE_TLS_VERSION && r->hdr.size == len) {
		fresh_add(t, (int)((const struct probe_tls_proc *)data)->pid);
		return 0;
	}
	if (len < sizeof(*r) || r->hdr.type != PROBE_REC_TLS_HS ||
	    r->hdr.version != PROBE_TLS_VERSION || r->hdr.size != sizeof(*r) ||
	    (r->role != PROBE_ROLE_CLIENT && r->role != PROBE_ROLE_SERVER)) {
		t->bad_records++;
		return 0;
	}
	t->records++;
	sanitize(comm, sizeof(comm), r->hdr.comm, PROBE_COMM_LEN);
	sanitize(exe, sizeof(exe), r->exe, PROBE_COMM_LEN);
	if (!exe[0])
		snprintf(exe, sizeof(exe), "?");
	sni[0] = 0;
	if (r->sni_len)
		sanitize(sni, sizeof(sni), r->sni,
			 r->sni_len < PROBE_TLS_SNI_LEN ? r->sni_len : PROBE_TLS_SNI_LEN);
	l[0] = (struct label){ "comm", comm };
	l[1] = (struct label){ "exe", exe };
	if (r->role == PROBE_ROLE_CLIENT) {
		/* the name the client asked for, else the one it resolved, else the address */
		peer_names__addr(peer, sizeof(peer), r->family, r->raddr, r->rport);
		if (!sni[0])
			peer_names__format(t->ctx->peers, sni, sizeof(sni), r->family, r->raddr,
					   r->rport);
		l[2] = (struct label){ "role", "client" };
		l[3] = (struct label){ "host", sni };
	} else {
		/*
		 * A server: the address it serves on; clients by address only
		 * (their ephemeral ports would make a series per connection).
		 */
		peer_names__addr(local, sizeof(local), r->family, r->laddr, r->lport);
		peer_names__addr(peer, sizeof(peer), r->family, r->raddr, 0);
		*strrchr(peer, ':') = 0;
		if (peer[0] == '[')
			memmove(peer, peer + 1, strlen(peer));
		if (peer[0] && peer[strlen(peer) - 1] == ']')
			peer[strlen(peer) - 1] = 0;
		l[2] = (struct label){ "role", "server" };
		l[3] = (struct label){ "host", sni[0] ? sni : local };
	}
	l[4] = (struct label){ "peer", peer };
	attrib__labels(t->ctx->attrib, r->hdr.cgroup_id, (int)r->hdr.pid, l + 5);
	se = family__series(t->hs, l, 5 + ATTRIB_NLABELS);
	if (!se)
		return 0;
	if (r->flags & PROBE_TLS_HS_F_FAILED) {
		series__add(se, r->hdr.ts_ns, TLS_HS_FAILURES, 1);
		return 0;
	}
	series__add(se, r->hdr.ts_ns, TLS_HS_HANDSHAKES, 1);
	series__observe_n(se, r->hdr.ts_ns, r->duration_ns, 1);
	return 0;
}

static void add_stat(struct tls *t, uint64_t now, const char *what, uint64_t delta)
{
	struct label l = { "what", what };
	struct series *se;

	if (!delta)
		return;
	se = family__series(t->stats, &l, 1);
	if (se)
		series__add(se, now, STATS_COUNT, delta);
}

void tls__collect(struct tls *t, uint64_t now)
{
	int fd;
	unsigned int i;
	uint64_t v;

	if (!t || !t->skel)
		return;
	if (t->ctx->filter || now >= t->next_host_scan) {
		scan(t);
		t->next_host_scan = now + TLS_HOST_SCAN_S * 1000000000ULL;
		update_note(t);
	}
	fd = bpf_map__fd(t->skel->maps.tls_stats);
	for (i = 0; i < NKSTATS; i++) {
		if (signals__percpu_sum(fd, kstats[i].idx, &v))
			continue;
		add_stat(t, now, kstats[i].what, v - t->kprev[kstats[i].idx]);
		t->kprev[kstats[i].idx] = v;
	}
	add_stat(t, now, "libraries_attached", t->attached - t->attached_shown);
	add_stat(t, now, "libraries_detached", t->detached - t->detached_shown);
	add_stat(t, now, "attach_failed", t->failed - t->failed_shown);
	add_stat(t, now, "attach_skipped_full", t->full - t->full_shown);
	add_stat(t, now, "found_at_process_start", t->fresh_found - t->fresh_found_shown);
	add_stat(t, now, "process_starts_not_watched", t->fresh_full - t->fresh_full_shown);
	t->fresh_found_shown = t->fresh_found;
	t->fresh_full_shown = t->fresh_full;
	t->attached_shown = t->attached;
	t->detached_shown = t->detached;
	t->failed_shown = t->failed;
	t->full_shown = t->full;
}

void tls__counts(const struct tls *t, uint64_t *events, uint64_t *lost)
{
	static const enum probe_tls_stat losses[] = { PROBE_TLS_STAT_NO_FD, PROBE_TLS_STAT_RB_DROP };
	unsigned int i;
	uint64_t v;

	*events = 0;
	*lost = 0;
	if (!t)
		return;
	*events = t->records;
	*lost = t->bad_records;
	for (i = 0; t->skel && i < sizeof(losses) / sizeof(losses[0]); i++)
		if (!signals__percpu_sum(bpf_map__fd(t->skel->maps.tls_stats), losses[i], &v))
			*lost += v;
}

const char *tls__note(const struct tls *t)
{
	return t ? t->note : "TLS: off";
}

void tls__free(struct tls *t)
{
	unsigned int i;

	if (!t)
		return;
	for (i = 0; i < TLS_MAX_ATT; i++)
		att_unlink(&t->att[i]);
	if (t->timer_fd >= 0) {
		loop__del_fd(t->ctx->loop, t->timer_fd);
		close(t->timer_fd);
	}
	free(t);
}
