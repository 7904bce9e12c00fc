/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe/conn.h"
#include "signals/conn_seed.h"

#define MAX_SOCKET_FDS	(4U << 20)	/* inode map bound: a host has far fewer */
#define MAX_NETNS	1024

struct owner {
	uint64_t ino;
	int pid;
};

struct netns {
	uint64_t ino;
	int pid;		/* a process inside it, to setns() through */
};

struct seen {
	struct probe_conn_seen s;
	unsigned int ns;	/* index into the netns list */
};

struct walk {
	struct owner *owners;
	size_t nowners, cap;
	struct netns ns[MAX_NETNS];
	unsigned int nns;
	struct seen *seen;
	size_t nseen, seencap;
};

static int wanted(const struct conn_seed_opts *o, int pid)
{
	__u32 k = (__u32)pid;
	__u8 v;

	if (pid == o->self_pid)
		return 0;
	return o->tracked_fd < 0 || bpf_map_lookup_elem(o->tracked_fd, &k, &v) == 0;
}

static int add_owner(struct walk *w, uint64_t ino, int pid)
{
	if (w->nowners == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		struct owner *v;

		if (cap > MAX_SOCKET_FDS)
			return -E2BIG;
		v = realloc(w->owners, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->owners = v;
		w->cap = cap;
	}
	w->owners[w->nowners++] = (struct owner){ ino, pid };
	return 0;
}

static void add_netns(struct walk *w, int pid)
{
	char path[64];
	struct stat st;
	unsigned int i;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st))
		return;
	for (i = 0; i < w->nns; i++)
		if (w->ns[i].ino == st.st_ino)
			return;
	if (w->nns < MAX_NETNS)
		w->ns[w->nns++] = (struct netns){ st.st_ino, pid };
}

/* Socket inodes of every wanted process, and the namespaces they live in. */
static int scan_proc(struct walk *w, const struct conn_seed_opts *o)
{
	struct dirent *de;
	DIR *d = opendir("/proc");
	int err = 0;

	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		char path[64], link[64];
		struct dirent *fe;
		int pid = atoi(de->d_name);
		DIR *fd;

		if (pid <= 0 || !wanted(o, pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fd = opendir(path);
		if (!fd)
			continue;	/* gone, or a kernel thread */
		add_netns(w, pid);
		while (!err && (fe = readdir(fd))) {
			unsigned long ino;
			ssize_t n = readlinkat(dirfd(fd), fe->d_name, link, sizeof(link) - 1);

			if (n <= 0)
				continue;
			link[n] = 0;
			if (sscanf(link, "socket:[%lu]", &ino) == 1)
				err = add_owner(w, ino, pid);
		}
		closedir(fd);
	}
	closedir(d);
	return err;
}

static int by_ino(const void *a, const void *b)
{
	const struct owner *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int owner_of(const struct walk *w, uint64_t ino)
{
	struct owner key = { ino, 0 }, *o;

	o = bsearch(&key, w->owners, w->nowners, sizeof(key), by_ino);
	return o ? o->pid : -1;
}

/* Read one iterator instance (created in the current namespace) to the end. */
static int read_iter(struct walk *w, int link_fd, unsigned int ns)
{
	struct probe_conn_seen buf[256];
	int fd = bpf_iter_create(link_fd), err = 0;
	size_t have = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	for (;;) {
		size_t i;

		n = read(fd, (char *)buf + have, sizeof(buf) - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		for (i = 0; i + sizeof(buf[0]) <= have; i += sizeof(buf[0])) {
			if (w->nseen == w->seencap) {
				size_t cap = w->seencap ? w->seencap * 2 : 1024;
				struct seen *v = cap <= MAX_SOCKET_FDS ?
						 realloc(w->seen, cap * sizeof(*v)) : NULL;

				if (!v) {
					err = -ENOMEM;
					goto out;
				}
				w->seen = v;
				w->seencap = cap;
			}
			memcpy(&w->seen[w->nseen].s, (char *)buf + i, sizeof(buf[0]));
			w->seen[w->nseen++].ns = ns;
		}
		memmove(buf, (char *)buf + i, have - i);
		have -= i;
	}
out:
	close(fd);
	return err;
}

/* Every TCP socket of every namespace in the list (the probe's own included). */
static int walk_sockets(struct walk *w, int link_fd)
{
	int self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err = 0;
	struct stat self_st;
	unsigned int i;

	if (self_ns < 0 || fstat(self_ns, &self_st)) {
		err = -errno;
		if (self_ns >= 0)
			close(self_ns);
		return err;
	}
	w->nseen = 0;
	for (i = 0; i < w->nns && !err; i++) {
		char path[64];
		int fd;

		if (w->ns[i].ino == self_st.st_ino) {
			err = read_iter(w, link_fd, i);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/ns/net", w->ns[i].pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* its process left */
		/* Only this thread moves, and only while the iterator is created. */
		if (setns(fd, CLONE_NEWNET) == 0) {
			err = read_iter(w, link_fd, i);
			if (setns(self_ns, CLONE_NEWNET))
				err = -errno;	/* cannot happen with our own ns; stop if it does */
		}
		close(fd);
	}
	close(self_ns);
	return err;
}

static int zero16(const __u8 *a)
{
	static const __u8 z[16];

	return !memcmp(a, z, 16);
}

/* A listener on this socket's local port: then it was accepted, not connected. */
static int accepted(const struct seen *lst, size_t nlst, const struct seen *x)
{
	size_t i;

	for (i = 0; i < nlst; i++) {
		const struct seen *l = &lst[i];

		if (l->ns != x->ns || l->s.sport != x->s.sport)
			continue;
		if (zero16(l->s.saddr) || l->s.family != x->s.family ||
		    !memcmp(l->s.saddr, x->s.saddr, 16))
			return 1;
	}
	return 0;
}

static void read_comm(int pid, char *comm)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	memset(comm, 0, PROBE_COMM_LEN);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, comm, PROBE_COMM_LEN - 1);
	close(fd);
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = 0;
}

static int open_state(int state)
{
	return state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT;
}

static int by_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/* Move the listeners to the front of w->seen; returns how many. */
static size_t listeners_first(struct walk *w)
{
	size_t i, n = 0;

	for (i = 0; i < w->nseen; i++)
		if (w->seen[i].s.state == TCP_LISTEN) {
			struct seen t = w->seen[n];

			w->seen[n++] = w->seen[i];
			w->seen[i] = t;
		}
	return n;
}

/*
 * After the second walk: keep the entries whose socket is still open,
 * delete the others (unless the kernel has taken the entry over since).
 * Returns how many remain.
 */
static size_t prune_closed(struct walk *w, int socks_fd, __u64 *added, size_t nadded)
{
	__u64 *open_now = calloc(w->nseen ? w->nseen : 1, sizeof(*open_now));
	size_t n = 0, i, kept = 0;

	if (!open_now)
		return nadded;	/* keep all: a rare stale entry beats losing them */
	for (i = 0; i < w->nseen; i++)
		if (open_state(w->seen[i].s.state))
			open_now[n++] = w->seen[i].s.sock;
	if (n)
		qsort(open_now, n, sizeof(*open_now), by_u64);
	for (i = 0; i < nadded; i++) {
		struct probe_conn_sock v;

		if (!(n && bsearch(&added[i], open_now, n, sizeof(*open_now), by_u64)) &&
		    !bpf_map_lookup_elem(socks_fd, &added[i], &v) &&
		    (v.flags & PROBE_CONN_F_PREEXISTING)) {
			bpf_map_delete_elem(socks_fd, &added[i]);
			continue;
		}
		added[kept++] = added[i];
	}
	free(open_now);
	return kept;
}

int conn_seed__run(const struct conn_seed_opts *o)
{
	struct walk w = { 0 };
	struct bpf_link *link;
	__u64 *added = NULL;
	size_t nadded = 0, nlst, i;
	int err;

	link = bpf_program__attach_iter(o->iter, NULL);
	if (!link)
		return -errno;
	err = scan_proc(&w, o);
	if (err || !w.nowners)
		goto out;	/* no wanted process holds a socket: nothing to seed */
	qsort(w.owners, w.nowners, sizeof(*w.owners), by_ino);
	err = walk_sockets(&w, bpf_link__fd(link));
	if (err)
		goto out;
	added = calloc(w.nseen ? w.nseen : 1, sizeof(*added));
	if (!added) {
		err = -ENOMEM;
		goto out;
	}
	nlst = listeners_first(&w);
	for (i = nlst; i < w.nseen; i++) {
		const struct probe_conn_seen *s = &w.seen[i].s;
		struct probe_conn_sock v = { 0 };
		int pid;

		if (!open_state(s->state) || !s->ino || accepted(w.seen, nlst, &w.seen[i]))
			continue;
		pid = owner_of(&w, s->ino);
		if (pid <= 0)
			continue;	/* not a wanted process's socket */
		v.t_est = o->now_ns;
		v.pid = (__u32)pid;
		v.tid = (__u32)pid;
		read_comm(pid, v.comm);
		memcpy(v.daddr, s->daddr, 16);
		v.dport = s->dport;
		v.family = s->family;
		v.flags = PROBE_CONN_F_PREEXISTING;
		/* NOEXIST: an entry the kernel made meanwhile knows more */
		if (bpf_map_update_elem(o->socks_fd, &s->sock, &v, BPF_NOEXIST) == 0)
			added[nadded++] = s->sock;
	}
	/* Second walk: drop the ones that closed before their entry existed. */
	err = walk_sockets(&w, bpf_link__fd(link));
	if (!err) {
		nadded = prune_closed(&w, o->socks_fd, added, nadded);
	} else {
		/* unverified entries could be stale forever: take them all back */
		for (i = 0; i < nadded; i++)
			bpf_map_delete_elem(o->socks_fd, &added[i]);
	}
out:
	bpf_link__destroy(link);
	free(added);
	free(w.owners);
	free(w.seen);
	return err ? err : (int)nadded;
}
