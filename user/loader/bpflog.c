/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libbpf reports a failed program load with one warning that holds the
 * whole verifier log:
 *
 *   prog 'NAME': -- BEGIN PROG LOAD LOG --
 *   ...instructions and register states...
 *   <the verifier's complaint>            <- the cause
 *   processed N insns (limit ...) ...
 *   [verification time ..., stack depth ...]
 *   -- END PROG LOAD LOG --
 *
 * A CO-RE relocation that did not resolve shows there too, as
 * "failed to resolve CO-RE relocation ..." (libbpf rewrites the poisoned
 * instruction's complaint). Errors outside a program's log (a missing BTF
 * type for tp_btf, a map that cannot be created) are plain warnings; the
 * last one is kept as the cause when no program log came.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "loader/bpflog.h"

#define REASON_LEN	320

static struct {
	int verbose;
	char prog_reason[REASON_LEN];	/* from a program's load log */
	char warn_reason[REASON_LEN];	/* the last other warning */
} bl;

#define BEGIN_MARK	"-- BEGIN PROG LOAD LOG --\n"
#define END_MARK	"-- END PROG LOAD LOG --"

static int is_noise(const char *line, size_t n)
{
	if (!n)
		return 1;
	if (line[0] == ';')		/* source line */
		return 1;
	if (line[0] >= '0' && line[0] <= '9') {	/* "123: (85) call ..." */
		size_t i = 0;

		while (i < n && line[i] >= '0' && line[i] <= '9')
			i++;
		return i < n && line[i] == ':';
	}
	return 0;
}

static void copy_line(char *dst, size_t len, const char *s, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Lines of log[0, n), as (start, length) walked backwards from the end. */
static const char *prev_line(const char *log, const char *end, size_t *n)
{
	const char *s = end;

	if (s <= log)
		return NULL;
	if (s[-1] == '\n')
		s--;
	end = s;
	while (s > log && s[-1] != '\n')
		s--;
	*n = (size_t)(end - s);
	return s;
}

static void parse_prog_log(const char *msg, const char *body, const char *end)
{
	const char *name = strstr(msg, "prog '"), *line, *at = end, *processed = NULL;
	char prog[64] = "?", cause[REASON_LEN] = "", insns[32] = "";
	size_t n;

	if (name && name < body) {
		const char *q = strchr(name + 6, '\'');

		if (q && q < body)
			copy_line(prog, sizeof(prog), name + 6, (size_t)(q - name - 6));
	}
	/*
	 * The complaint is the line before "processed N insns", sometimes
	 * with the one above it ("invalid access to memory ..." then "R1 min
	 * value is outside ..."): up to two lines, in their order.
	 */
	while ((line = prev_line(body, at, &n))) {
		if (!processed && !strncmp(line, "processed ", 10)) {
			processed = line;
			sscanf(line, "processed %31s", insns);
		} else if (processed && !is_noise(line, n) && !cause[0]) {
			copy_line(cause, sizeof(cause), line, n);
		} else if (processed && !is_noise(line, n)) {
			char last[REASON_LEN];
			size_t k;

			memcpy(last, cause, sizeof(last));
			copy_line(cause, sizeof(cause) - 2, line, n);
			k = strlen(cause);
			memcpy(cause + k, "; ", 3);
			copy_line(cause + k + 2, sizeof(cause) - k - 2, last, strlen(last));
			break;
		} else if (cause[0]) {
			break;
		}
		at = line;
	}
	if (!cause[0]) {	/* truncated log: the last meaningful line */
		at = end;
		while ((line = prev_line(body, at, &n))) {
			if (!is_noise(line, n) && strncmp(line, "processed ", 10) &&
			    strncmp(line, "verification time", 17) &&
			    strncmp(line, "stack depth", 11)) {
				copy_line(cause, sizeof(cause), line, n);
				break;
			}
			at = line;
		}
	}
	if (!cause[0])
		return;
	if (strstr(cause, "CO-RE relocation"))
		snprintf(bl.prog_reason, sizeof(bl.prog_reason), "prog %s: %s", prog, cause);
	else if (insns[0])
		snprintf(bl.prog_reason, sizeof(bl.prog_reason),
			 "verifier rejected prog %s after %s insns: %s", prog, insns, cause);
	else
		snprintf(bl.prog_reason, sizeof(bl.prog_reason), "verifier rejected prog %s: %s",
			 prog, cause);
}

/* Under -v: the program's log shortened to its last lines. */
static void print_tail(const char *msg, const char *body, const char *end)
{
	const char *at = end, *line;
	unsigned int k = 0, total = 0;
	size_t n;

	for (line = body; line < end; line++)
		total += *line == '\n';
	while (k < BPFLOG_TAIL_LINES && (line = prev_line(body, at, &n))) {
		at = line;
		k++;
	}
	fprintf(stderr, "%.*s", (int)(body - msg), msg);
	if (total > k)
		fprintf(stderr, "... (%u earlier lines of the verifier log left out)\n", total - k);
	fprintf(stderr, "%.*s%s\n", (int)(end - at), at, END_MARK);
}

void bpflog__feed(const char *msg)
{
	const char *body = strstr(msg, BEGIN_MARK), *end;
	size_t n;

	if (body) {
		body += strlen(BEGIN_MARK);
		end = strstr(body, END_MARK);
		if (!end)
			end = body + strlen(body);
		parse_prog_log(msg, body, end);
		if (bl.verbose)
			print_tail(msg, body, end);
		return;
	}
	if (bl.verbose)
		fputs(msg, stderr);
	/* Keep the last warning that names a failure, minus libbpf's own wrap-up. */
	if (!strstr(msg, "fail") && !strstr(msg, "error") && !strstr(msg, "unsupported") &&
	    !strstr(msg, "not found") && !strstr(msg, "invalid"))
		return;
	if (strstr(msg, "failed to load object") || strstr(msg, "failed to load BPF skeleton") ||
	    strstr(msg, "': failed to load: "))
		return;
	if (!strncmp(msg, "libbpf: ", 8))
		msg += 8;
	n = strcspn(msg, "\n");
	copy_line(bl.warn_reason, sizeof(bl.warn_reason), msg, n);
}

static int on_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (level == LIBBPF_DEBUG && !bl.verbose)
		return 0;
	if (vasprintf(&msg, fmt, ap) < 0)
		return 0;
	if (level == LIBBPF_DEBUG)
		fputs(msg, stderr);	/* verbose: progress, not causes */
	else
		bpflog__feed(msg);
	free(msg);
	return 0;
}

void bpflog__init(int verbose)
{
	bl.verbose = verbose;
	libbpf_set_print(on_print);
}

void bpflog__begin(void)
{
	bl.prog_reason[0] = '\0';
	bl.warn_reason[0] = '\0';
}

int bpflog__reason(char *buf, size_t len)
{
	const char *r = bl.prog_reason[0] ? bl.prog_reason : bl.warn_reason;

	if (!len)
		return -EINVAL;
	if (!r[0])
		return -ENOENT;
	snprintf(buf, len, "%s", r);
	return 0;
}
