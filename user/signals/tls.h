/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tls: libssl uprobes of the socket capture (bpf/sockets/tls.bpf.h), run by
 * the http signal, whose skeleton holds the programs (a global BPF function
 * can only be called from its own object).
 *
 *   tls__autoload() before the skeleton is loaded: whether its hooks on
 *                   process starts load (per-process attachments only)
 *   tls__new()      after the skeleton is loaded: find the libssl of each
 *                   process to follow and attach to it; NULL and errno on
 *                   failure (the http signal runs on without TLS)
 *   tls__collect()  every second: attach to libraries that appeared (exec,
 *                   dlopen), detach from those no longer mapped; counters
 *   tls__record()   a handshake record from the capture's ring buffers
 *
 * Store families:
 *   tls_handshake  labels comm, exe, role, host, peer: counters handshakes,
 *                  failures; histogram of handshake time (ns, first
 *                  SSL_do_handshake entry -> its successful return). host is
 *                  the SNI the client sent, else the address called (client)
 *                  or served on (server); a server's peer is an address
 *                  without the client's port.
 *   tls_stats      label what; counter count: libraries attached, plaintext
 *                  lost before a socket was known, ring-buffer drops, ...
 */
#ifndef PROBE_SIGNALS_TLS_H
#define PROBE_SIGNALS_TLS_H

#include <stddef.h>
#include <stdint.h>

struct probe_ctx;
struct sockets_bpf;
struct tls;

void tls__autoload(struct sockets_bpf *skel, const struct probe_ctx *ctx, int want);
struct tls *tls__new(struct probe_ctx *ctx, struct sockets_bpf *skel);
void tls__collect(struct tls *t, uint64_t now_ns);
int tls__is_record(const void *data, size_t len);
int tls__record(struct tls *t, const void *data, size_t len);
/* Handshake records seen and records or payloads lost. */
void tls__counts(const struct tls *t, uint64_t *events, uint64_t *lost);
/* One line for --check: libraries attached, or why none. */
const char *tls__note(const struct tls *t);
void tls__free(struct tls *t);

/* Exposed for the unit test: is path a libssl (not NSS's libssl3.so)? */
int tls__is_libssl(const char *path);
/* ... a libgnutls (not libgnutls-openssl, -dane, xx)? */
int tls__is_gnutls(const char *path);

#endif
