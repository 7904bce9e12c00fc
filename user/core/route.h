/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * route: HTTP request targets -> route labels, and a per-service cap on
 * how many distinct routes are kept. Pure code: no I/O, no globals.
 *
 * route__normalize() turns "/api/v1/books/8412?sort=asc" into
 * "/api/v1/books/{id}":
 *   - the query string and fragment are dropped before anything else
 *     looks at the target, so they are never copied anywhere;
 *   - "http://host:port/p" (absolute form, sent to proxies) becomes "/p";
 *     "*" stays "*"; any other target that is not a path becomes
 *     "{authority}" (CONNECT host:port) so it cannot explode the labels;
 *   - runs of '/' collapse to one;
 *   - segments that look like identifiers become placeholders:
 *       all digits                                   -> {id}
 *       a UUID (8-4-4-4-12 hex digits)               -> {uuid}
 *       16 or more hex digits (hashes, object ids)   -> {hex}
 *       4 or more digits among other characters, 16
 *       or more characters with a digit, or an '@'   -> {id}
 *       bytes outside printable ASCII                -> {bytes}
 *   - a target the kernel cut short loses its last (partial) segment and
 *     ends in "/{truncated}".
 * A user template that matches the target wins over all of this and is
 * the route, verbatim. Template segments: a literal; "*", "{name}" or
 * ":name" for exactly one segment; "**" as the last segment for any
 * number (zero or more) of remaining segments.
 *
 * Ownership: route_templates and route_set own their memory; *_free(NULL)
 * is a no-op. Strings passed in are copied.
 */
#ifndef PROBE_CORE_ROUTE_H
#define PROBE_CORE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* Room for any route normalize can produce from a 128-byte target. */
#define ROUTE_MAX		384
#define ROUTE_OVERFLOW		"{overflow}"
#define ROUTE_INVALID		"{invalid}"
#define ROUTE_TEMPLATES_MAX	64

struct route_templates;
struct route_set;

/*
 * Compile n templates (each must start with '/'). NULL + errno on error,
 * with the reason in err: EINVAL names the bad template.
 */
struct route_templates *route__templates_new(const char *const *templates, unsigned int n,
					     char *err, size_t errlen);
void route__templates_free(struct route_templates *t);

/*
 * Normalize target[0..len) (not NUL-terminated; may hold a query string)
 * into out (outlen >= ROUTE_MAX recommended; shorter is cut safely).
 * truncated: the target was cut before its end. t may be NULL.
 * Returns the route's length, or -EINVAL when the target is not a
 * request target at all (empty, control bytes): out is then ROUTE_INVALID.
 */
int route__normalize(const struct route_templates *t, const char *target, size_t len,
		     int truncated, char *out, size_t outlen);

/*
 * A set of at most cap distinct routes (one per service). admit returns
 * the route itself when it is in the set or fits, else ROUTE_OVERFLOW,
 * counting each refused request in route__set_overflowed(). NULL only
 * on ENOMEM (then callers should use ROUTE_OVERFLOW too).
 */
struct route_set *route__set_new(unsigned int cap);
void route__set_free(struct route_set *s);
const char *route__set_admit(struct route_set *s, const char *route);
unsigned int route__set_size(const struct route_set *s);
uint64_t route__set_overflowed(const struct route_set *s);

#endif
