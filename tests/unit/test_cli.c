/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests for user/cli.c: the --pid list and seconds parsers on their
 * own, then cli__parse in quiet mode, where argp must neither print nor
 * exit and every error comes back as a code and a message naming the
 * offending option or argument.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define ERRLEN		256
#define MAX_ARGS	16
#define MAX_PIDS_IN	8

/* ------------------------------------------------------------------ */
/* cli__parse_pids                                                     */
/* ------------------------------------------------------------------ */

struct pids_case {
	const char *in;
	int ret;
	unsigned int npids;		/* on success */
	int pids[MAX_PIDS_IN];
	const char *needle;		/* on error: must be in the message */
};

static void test_parse_pids(void **state)
{
	static const struct pids_case cases[] = {
		{ "12", 0, 1, { 12 }, NULL },
		{ "1", 0, 1, { 1 }, NULL },
		{ "12,13,14", 0, 3, { 12, 13, 14 }, NULL },
		/* order kept, duplicates collapsed to their first place */
		{ "13,12,13,12,13", 0, 2, { 13, 12 }, NULL },
		{ "7,7", 0, 1, { 7 }, NULL },
		{ "007", 0, 1, { 7 }, NULL },		/* decimal, not octal */
		{ "4194304", 0, 1, { CLI_MAX_PID }, NULL },
		{ "0", -EINVAL, 0, { 0 }, "'0' is not a process id (1..4194304)" },
		{ "12,0", -EINVAL, 0, { 0 }, "'0' is not a process id" },
		{ "-1", -EINVAL, 0, { 0 }, "'-1' is not a process id" },
		{ "12,-13", -EINVAL, 0, { 0 }, "'-13' is not a process id" },
		{ "+12", -EINVAL, 0, { 0 }, "'+12' is not a process id" },
		{ "abc", -EINVAL, 0, { 0 }, "'abc' is not a process id" },
		{ "12a", -EINVAL, 0, { 0 }, "'12a' is not a process id" },
		{ "0x10", -EINVAL, 0, { 0 }, "'0x10' is not a process id" },
		{ "1.5", -EINVAL, 0, { 0 }, "'1.5' is not a process id" },
		{ " 12", -EINVAL, 0, { 0 }, "' 12' is not a process id" },
		{ "12 ", -EINVAL, 0, { 0 }, "'12 ' is not a process id" },
		{ "12;13", -EINVAL, 0, { 0 }, "'12;13' is not a process id" },
		{ "12,", -EINVAL, 0, { 0 }, "--pid: trailing comma" },
		{ ",12", -EINVAL, 0, { 0 }, "',12' is not a process id" },
		{ ",", -EINVAL, 0, { 0 }, "',' is not a process id" },
		{ "12,,13", -EINVAL, 0, { 0 }, "',13' is not a process id" },
		{ "4194305", -EINVAL, 0, { 0 }, "'4194305' is not a process id (1..4194304)" },
		{ "2147483648", -EINVAL, 0, { 0 }, "'2147483648' is not a process id" },
		/* overflows a long: strtol's ERANGE must be an error, not LONG_MAX */
		{ "99999999999999999999999", -EINVAL, 0, { 0 }, "is not a process id" },
		{ "", -EINVAL, 0, { 0 }, "--pid needs a list" },
	};
	struct cli c;
	char err[ERRLEN];
	unsigned int j;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&c, 0, sizeof(c));
		err[0] = 0;
		ret = cli__parse_pids(cases[i].in, &c, err, sizeof(err));
		if (ret != cases[i].ret) {
			print_error("\"%s\": returned %d, want %d (err \"%s\")\n",
				    cases[i].in, ret, cases[i].ret, err);
			fail();
		}
		if (ret) {
			if (!strstr(err, cases[i].needle)) {
				print_error("\"%s\": error \"%s\" lacks \"%s\"\n",
					    cases[i].in, err, cases[i].needle);
				fail();
			}
			continue;
		}
		assert_string_equal(err, "");
		assert_int_equal(c.npids, cases[i].npids);
		for (j = 0; j < c.npids; j++)
			assert_int_equal(c.pids[j], cases[i].pids[j]);
	}
}

/* NULL is "no list", like the empty string. */
static void test_parse_pids_null(void **state)
{
	struct cli c;
	char err[ERRLEN] = "";

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli__parse_pids(NULL, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--pid needs a list"));
	assert_int_equal(c.npids, 0);
}

/* "1,2,...,n" into buf. */
static void pid_list(char *buf, size_t len, unsigned int first, unsigned int n)
{
	size_t off = 0;
	unsigned int i;

	buf[0] = 0;
	for (i = 0; i < n; i++)
		off += snprintf(buf + off, len - off, "%s%u", i ? "," : "", first + i);
	assert_true(off < len);
}

static void test_parse_pids_limit(void **state)
{
	char list[1024], err[ERRLEN];
	struct cli c;
	unsigned int j;

	(void)state;
	/* Exactly CLI_MAX_PIDS distinct: all kept, in order. */
	pid_list(list, sizeof(list), 100, CLI_MAX_PIDS);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli__parse_pids(list, &c, err, sizeof(err)), 0);
	assert_int_equal(c.npids, CLI_MAX_PIDS);
	for (j = 0; j < CLI_MAX_PIDS; j++)
		assert_int_equal(c.pids[j], 100 + j);

	/* Duplicates of a full list do not count against the limit. */
	strcat(list, ",100,163,120");
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli__parse_pids(list, &c, err, sizeof(err)), 0);
	assert_int_equal(c.npids, CLI_MAX_PIDS);

	/* One more distinct: refused, and never written past pids[]. */
	pid_list(list, sizeof(list), 100, CLI_MAX_PIDS + 1);
	memset(&c, 0, sizeof(c));
	err[0] = 0;
	assert_int_equal(cli__parse_pids(list, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--pid: at most 64 processes");
	assert_int_equal(c.npids, CLI_MAX_PIDS);

	/* Far more: the same. */
	pid_list(list, sizeof(list), 1000, 150);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli__parse_pids(list, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--pid: at most 64 processes");
}

/* Called again on the same cli (--pid given twice), lists merge. */
static void test_parse_pids_accumulate(void **state)
{
	struct cli c;
	char err[ERRLEN];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli__parse_pids("5,6", &c, err, sizeof(err)), 0);
	assert_int_equal(cli__parse_pids("6,7", &c, err, sizeof(err)), 0);
	assert_int_equal(c.npids, 3);
	assert_int_equal(c.pids[0], 5);
	assert_int_equal(c.pids[1], 6);
	assert_int_equal(c.pids[2], 7);
}

/* The message quotes the input cut to 32 bytes, into a short buffer too. */
static void test_parse_pids_long_junk(void **state)
{
	char in[4096], err[ERRLEN], small[8];
	struct cli c;

	(void)state;
	memset(in, 'x', sizeof(in) - 1);
	in[sizeof(in) - 1] = 0;
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli__parse_pids(in, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "--pid: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not a process id");
	memset(small, 'Z', sizeof(small));
	assert_int_equal(cli__parse_pids(in, &c, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "--pid: ");
}

/* ------------------------------------------------------------------ */
/* cli__parse_secs                                                     */
/* ------------------------------------------------------------------ */

#define SECS_SENTINEL	-42.0

static void test_parse_secs(void **state)
{
	static const struct {
		const char *in;
		double min, max;
		int ret;
		double want;		/* on success */
	} cases[] = {
		{ "2", 0.1, 3600, 0, 2 },
		{ "0.5", 0.1, 3600, 0, 0.5 },
		{ "1.25", 0.1, 3600, 0, 1.25 },
		{ "1e2", 0.1, 3600, 0, 100 },
		{ "0.1", 0.1, 3600, 0, 0.1 },		/* both bounds included */
		{ "3600", 0.1, 3600, 0, 3600 },
		{ "0", 0.1, 3600, -EINVAL, 0 },		/* below min */
		{ "0.09", 0.1, 3600, -EINVAL, 0 },
		{ "-1", 0.1, 3600, -EINVAL, 0 },
		{ "3600.001", 0.1, 3600, -EINVAL, 0 },
		{ "1e9", 0.1, 2678400, -EINVAL, 0 },
		{ "2678400", 0.1, 2678400, 0, 2678400 },
		{ "nan", 0.1, 3600, -EINVAL, 0 },
		{ "NAN", 0, INFINITY, -EINVAL, 0 },
		/* infinite even when the range would allow it */
		{ "inf", 0.1, INFINITY, -EINVAL, 0 },
		{ "infinity", 0.1, INFINITY, -EINVAL, 0 },
		{ "-inf", -INFINITY, 3600, -EINVAL, 0 },
		{ "1e400", 0.1, INFINITY, -EINVAL, 0 },	/* ERANGE overflow */
		{ "1e-400", 0, 3600, -EINVAL, 0 },	/* ERANGE underflow */
		{ "", 0.1, 3600, -EINVAL, 0 },
		{ "2s", 0.1, 3600, -EINVAL, 0 },
		{ "2 ", 0.1, 3600, -EINVAL, 0 },
		{ "1.5.0", 0.1, 3600, -EINVAL, 0 },
		{ "abc", 0.1, 3600, -EINVAL, 0 },
		{ "s", 0.1, 3600, -EINVAL, 0 },
		{ "-", 0.1, 3600, -EINVAL, 0 },
	};
	double out;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		out = SECS_SENTINEL;
		ret = cli__parse_secs(cases[i].in, cases[i].min, cases[i].max, &out);
		if (ret != cases[i].ret) {
			print_error("\"%s\" in [%g, %g]: returned %d, want %d\n", cases[i].in,
				    cases[i].min, cases[i].max, ret, cases[i].ret);
			fail();
		}
		/* On error the output is left alone. */
		if (ret)
			assert_true(out == SECS_SENTINEL);
		else if (out != cases[i].want) {
			print_error("\"%s\": got %g, want %g\n", cases[i].in, out, cases[i].want);
			fail();
		}
	}
	out = SECS_SENTINEL;
	assert_int_equal(cli__parse_secs(NULL, 0.1, 3600, &out), -EINVAL);
	assert_true(out == SECS_SENTINEL);
}

/* ------------------------------------------------------------------ */
/* cli__parse                                                          */
/* ------------------------------------------------------------------ */

/* argp may permute argv, so each argument is a writable copy. */
struct args {
	int argc;
	char *argv[MAX_ARGS + 1];
	char buf[MAX_ARGS][128];
};

/* argv[0] is "probe"; the rest from a NULL-terminated list. */
static void make_args(struct args *a, const char *const *list)
{
	int i;

	memset(a, 0, sizeof(*a));
	snprintf(a->buf[0], sizeof(a->buf[0]), "probe");
	a->argv[0] = a->buf[0];
	for (i = 1; list[i - 1]; i++) {
		assert_true(i < MAX_ARGS);
		assert_true(strlen(list[i - 1]) < sizeof(a->buf[i]));
		strcpy(a->buf[i], list[i - 1]);
		a->argv[i] = a->buf[i];
	}
	a->argc = i;
	a->argv[i] = NULL;
}

/*
 * Quiet mode must not print: stdout and stderr go to a temp file around the
 * call, whose size must stay 0.
 */
static int parse_quiet(const char *const *list, struct cli *c, char *err, size_t errlen)
{
	char path[] = "/tmp/probe-test-cli-XXXXXX";
	int fd, out, errfd, ret;
	struct args a;
	struct stat st;

	make_args(&a, list);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	fflush(stdout);
	fflush(stderr);
	out = dup(1);
	errfd = dup(2);
	assert_true(out >= 0 && errfd >= 0);
	assert_int_equal(dup2(fd, 1), 1);
	assert_int_equal(dup2(fd, 2), 2);

	memset(c, 0x5a, sizeof(*c));	/* cli__parse must clear it */
	memset(err, 'X', errlen);
	ret = cli__parse(a.argc, a.argv, c, 1, err, errlen);

	fflush(stdout);
	fflush(stderr);
	assert_int_equal(dup2(out, 1), 1);
	assert_int_equal(dup2(errfd, 2), 2);
	close(out);
	close(errfd);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	if (st.st_size) {
		print_error("quiet parse printed %lld bytes\n", (long long)st.st_size);
		fail();
	}
	/* err is always a string, empty on success. */
	assert_true(strnlen(err, errlen) < errlen);
	if (!ret)
		assert_string_equal(err, "");
	return ret;
}

static void assert_cli_zero(const struct cli *c)
{
	assert_int_equal(c->check, 0);
	assert_int_equal(c->json, 0);
	assert_int_equal(c->print_config, 0);
	assert_int_equal(c->verbose, 0);
	assert_true(c->duration_s == 0);
	assert_true(c->interval_s == 0);
	assert_null(c->config_path);
	assert_null(c->listen);
	assert_int_equal(c->npids, 0);
}

static void test_parse_no_args(void **state)
{
	static const char *const argv[] = { NULL };
	struct cli c;
	char err[ERRLEN];
	unsigned int i;

	(void)state;
	assert_int_equal(parse_quiet(argv, &c, err, sizeof(err)), 0);
	assert_cli_zero(&c);
	/* The whole struct is cleared, unused pids included. */
	for (i = 0; i < CLI_MAX_PIDS; i++)
		assert_int_equal(c.pids[i], 0);
}

static void test_parse_everything(void **state)
{
	static const char *const long_opts[] = {
		"--pid", "12,13", "--duration", "5", "--interval", "0.5", "--json", "-v",
		"--config", "/x", NULL
	};
	static const char *const short_opts[] = {
		"-p", "12,13", "-d", "5", "-i", "0.5", "-j", "-v", "-c", "/x", NULL
	};
	static const char *const eq_opts[] = {
		"--pid=12,13", "--duration=5", "--interval=0.5", "--json", "--verbose",
		"--config=/x", NULL
	};
	static const char *const bundled[] = {
		"-jvp12,13", "-d5", "-i.5", "-c/x", NULL
	};
	/* Order must not matter: no option resets another. */
	static const char *const reversed[] = {
		"--config", "/x", "-v", "--json", "--interval", "0.5", "--duration", "5",
		"--pid", "12,13", NULL
	};
	static const char *const *const cases[] = {
		long_opts, short_opts, eq_opts, bundled, reversed
	};
	struct cli c;
	char err[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(parse_quiet(cases[i], &c, err, sizeof(err)), 0);
		assert_int_equal(c.npids, 2);
		assert_int_equal(c.pids[0], 12);
		assert_int_equal(c.pids[1], 13);
		assert_true(c.duration_s == 5.0);
		assert_true(c.interval_s == 0.5);
		assert_int_equal(c.json, 1);
		assert_int_equal(c.verbose, 1);
		assert_non_null(c.config_path);
		assert_string_equal(c.config_path, "/x");
		assert_int_equal(c.check, 0);
		assert_int_equal(c.print_config, 0);
	}
}

static void test_parse_check(void **state)
{
	static const char *const argv[] = { "--check", NULL };
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse_quiet(argv, &c, err, sizeof(err)), 0);
	assert_int_equal(c.check, 1);
	c.check = 0;
	assert_cli_zero(&c);
}

static void test_parse_listen(void **state)
{
	static const char *const argv[] = { "--listen", "[::1]:9464", NULL };
	static const char *const eq[] = { "--listen=", NULL };
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse_quiet(argv, &c, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "[::1]:9464");
	/* empty: /metrics off; the address itself is checked where it is bound */
	assert_int_equal(parse_quiet(eq, &c, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "");
	c.listen = NULL;
	assert_cli_zero(&c);
}

static void test_parse_print_config(void **state)
{
	static const char *const argv[] = { "--print-config", NULL };
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse_quiet(argv, &c, err, sizeof(err)), 0);
	assert_int_equal(c.print_config, 1);
	c.print_config = 0;
	assert_cli_zero(&c);
}

/* Repeated --pid merge; a repeated value option keeps the last. */
static void test_parse_repeated(void **state)
{
	static const char *const argv[] = {
		"--pid", "1", "-d", "3", "--pid", "2,1", "-d", "4", NULL
	};
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse_quiet(argv, &c, err, sizeof(err)), 0);
	assert_int_equal(c.npids, 2);
	assert_int_equal(c.pids[0], 1);
	assert_int_equal(c.pids[1], 2);
	assert_true(c.duration_s == 4.0);
}

/* A parse after a full one starts from zero: nothing leaks between calls. */
static void test_parse_no_leftovers(void **state)
{
	static const char *const full[] = { "--json", "-p", "9", "--check", NULL };
	static const char *const none[] = { NULL };
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse_quiet(full, &c, err, sizeof(err)), 0);
	assert_int_equal(c.json, 1);
	assert_int_equal(c.npids, 1);
	assert_int_equal(parse_quiet(none, &c, err, sizeof(err)), 0);
	assert_cli_zero(&c);
}

struct bad_cli_case {
	const char *argv[6];
	const char *needle;	/* NULL: any non-empty message */
};

/*
 * Every bad command line: a non-zero return, no output (parse_quiet), and
 * a message; where cli.c writes it, the message names the option or the
 * argument. Run twice over so argp's state from a failed parse cannot
 * affect the next one.
 */
static void test_parse_errors(void **state)
{
	static const struct bad_cli_case cases[] = {
		{ { "--nope", NULL }, NULL },
		{ { "-x", NULL }, NULL },
		{ { "--json", "--nope", "-v", NULL }, NULL },
		/* --json takes no value */
		{ { "--json=1", NULL }, NULL },
		/* a value option at the end, without its value */
		{ { "--pid", NULL }, NULL },
		{ { "--duration", NULL }, NULL },
		{ { "extra", NULL }, "unexpected argument 'extra'" },
		{ { "--json", "1234", NULL }, "unexpected argument '1234'" },
		{ { "--", "--json", NULL }, "unexpected argument '--json'" },
		{ { "--duration", "abc", NULL }, "--duration: 'abc' is not a number" },
		{ { "--duration", "0", NULL }, "--duration: '0'" },
		{ { "--duration", "2s", NULL }, "--duration: '2s'" },
		{ { "--duration", "nan", NULL }, "--duration: 'nan'" },
		{ { "--duration", "-5", NULL }, "--duration: '-5'" },
		{ { "-d", "1e9", NULL }, "--duration: '1e9'" },
		{ { "--duration=", NULL }, "--duration: ''" },
		{ { "--interval", "0.05", NULL }, "--interval: '0.05' is not a number" },
		{ { "-i", "3601", NULL }, "--interval: '3601'" },
		{ { "--pid", "0", NULL }, "--pid: '0' is not a process id" },
		{ { "--pid", "12,", NULL }, "--pid: trailing comma" },
		{ { "-p", "x", NULL }, "--pid: 'x' is not a process id" },
		{ { "--pid=", NULL }, "--pid needs a list" },
	};
	struct cli c;
	char err[ERRLEN];
	size_t i, round;
	int ret;

	(void)state;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			ret = parse_quiet(cases[i].argv, &c, err, sizeof(err));
			if (ret == 0) {
				print_error("%s: accepted\n", cases[i].argv[0]);
				fail();
			}
			assert_true(err[0] != 0);
			if (cases[i].needle && !strstr(err, cases[i].needle)) {
				print_error("%s %s: error \"%s\" lacks \"%s\"\n", cases[i].argv[0],
					    cases[i].argv[1] ? cases[i].argv[1] : "", err,
					    cases[i].needle);
				fail();
			}
		}
	}
	/* And a good parse still works after all those failures. */
	{
		static const char *const ok[] = { "--pid", "3", NULL };

		assert_int_equal(parse_quiet(ok, &c, err, sizeof(err)), 0);
		assert_int_equal(c.npids, 1);
		assert_int_equal(c.pids[0], 3);
	}
}

/* cli.c's own errors come back as EINVAL exactly. */
static void test_parse_error_codes(void **state)
{
	static const char *const stray[] = { "stray", NULL };
	static const char *const dur[] = { "--duration", "x", NULL };
	static const char *const pid[] = { "--pid", "-1", NULL };
	static const char *const *const cases[] = { stray, dur, pid };
	struct cli c;
	char err[ERRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(parse_quiet(cases[i], &c, err, sizeof(err)), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_pids),
		cmocka_unit_test(test_parse_pids_null),
		cmocka_unit_test(test_parse_pids_limit),
		cmocka_unit_test(test_parse_pids_accumulate),
		cmocka_unit_test(test_parse_pids_long_junk),
		cmocka_unit_test(test_parse_secs),
		cmocka_unit_test(test_parse_no_args),
		cmocka_unit_test(test_parse_everything),
		cmocka_unit_test(test_parse_check),
		cmocka_unit_test(test_parse_print_config),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_parse_repeated),
		cmocka_unit_test(test_parse_no_leftovers),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_error_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
