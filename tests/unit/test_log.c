/*
 * test_log.c: unit tests of log.c: the line format, level filtering,
 * errno preservation, and reopening a rotated log file (real files).
 */

#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "routingd.h"

static char	tmpdir[64];

static size_t	fmt(char *, size_t, uint64_t, int, const char *, long,
		    const char *, ...) __attribute__((format(printf, 7, 8)));

static size_t
fmt(char *buf, size_t len, uint64_t ms, int level, const char *proc,
    long pid, const char *f, ...)
{
	va_list	 ap;
	size_t	 n;

	va_start(ap, f);
	n = log_format(buf, len, ms, level, proc, pid, f, ap);
	va_end(ap);
	return (n);
}

/* Read a whole small file into a static buffer. */
static const char *
slurp(const char *path)
{
	static char	 buf[8192];
	FILE		*fp;
	size_t		 n;

	buf[0] = '\0';
	if ((fp = fopen(path, "r")) == NULL)
		return (buf);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return (buf);
}

static void
test_format_line(void **state)
{
	char	 buf[256];
	size_t	 n;

	/* 2026-11-23T10:38:02.123Z */
	n = fmt(buf, sizeof(buf), 1795430282123ULL, LOG_INFO, "api 1", 4242,
	    "worker up conns=%d", 3);
	assert_string_equal(buf,
	    "2026-11-23T10:38:02.123Z info api 1[4242]: worker up conns=3\n");
	assert_int_equal(n, strlen(buf));
}

static void
test_format_levels(void **state)
{
	char	 buf[256];

	fmt(buf, sizeof(buf), 0, LOG_WARNING, "supervisor", 1, "x");
	assert_string_equal(buf,
	    "1970-01-01T00:00:00.000Z warning supervisor[1]: x\n");
	fmt(buf, sizeof(buf), 0, LOG_DEBUG, "ws 0", 2, "y");
	assert_non_null(strstr(buf, " debug ws 0[2]: y\n"));
	fmt(buf, sizeof(buf), 0, LOG_ERR, "ws 0", 2, "y");
	assert_non_null(strstr(buf, " error "));
	fmt(buf, sizeof(buf), 0, LOG_NOTICE, "ws 0", 2, "y");
	assert_non_null(strstr(buf, " notice "));
	fmt(buf, sizeof(buf), 0, LOG_CRIT, "ws 0", 2, "y");
	assert_non_null(strstr(buf, " crit "));
}

/* A client-controlled string can never split a line or inject one. */
static void
test_format_control_chars(void **state)
{
	char	 buf[256];

	fmt(buf, sizeof(buf), 0, LOG_INFO, "api 0", 1, "user=%s",
	    "a\nb\rc\033d");
	assert_non_null(strstr(buf, "user=a?b?c?d\n"));
	assert_int_equal(strchr(buf, '\n') - buf, (long)strlen(buf) - 1);
}

static void
test_format_truncation(void **state)
{
	char	 buf[64];
	char	 big[500];
	size_t	 n;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = fmt(buf, sizeof(buf), 0, LOG_INFO, "api 0", 1, "%s", big);
	assert_true(n < sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_int_equal(buf[n - 1], '\n');
	assert_int_equal(fmt(buf, 1, 0, LOG_INFO, "p", 1, "z"), 0);
}

static void
test_level_filter_and_file(void **state)
{
	char	 path[128];
	const char *text;

	(void)snprintf(path, sizeof(path), "%s/a.log", tmpdir);
	log_init(1, LOG_INFO);
	log_procinit("api", 3);
	assert_int_equal(log_open_file(path), 0);
	log_debug("hidden %d", 1);
	log_info("shown %d", 2);
	log_warnx("warned");
	log_setlevel(LOG_DEBUG);
	assert_int_equal(log_getlevel(), LOG_DEBUG);
	log_debug("now shown");
	text = slurp(path);
	assert_null(strstr(text, "hidden"));
	assert_non_null(strstr(text, " info api 3["));
	assert_non_null(strstr(text, "]: shown 2\n"));
	assert_non_null(strstr(text, " warning api 3["));
	assert_non_null(strstr(text, "]: now shown\n"));
	log_close();
	unlink(path);
}

static void
test_errno_kept_and_warn(void **state)
{
	char	 path[128];

	(void)snprintf(path, sizeof(path), "%s/b.log", tmpdir);
	log_init(1, LOG_INFO);
	log_procinit("supervisor", -1);
	assert_int_equal(log_open_file(path), 0);
	errno = ENOENT;
	log_warn("open %s", "x");
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(slurp(path),
	    "supervisor[")); 
	assert_non_null(strstr(slurp(path),
	    "]: open x: No such file or directory\n"));
	log_close();
	unlink(path);
}

/* SIGUSR1 after logrotate: the renamed file stops growing. */
static void
test_reopen_after_rotation(void **state)
{
	char	 path[128], old[128];

	(void)snprintf(path, sizeof(path), "%s/c.log", tmpdir);
	(void)snprintf(old, sizeof(old), "%s/c.log.1", tmpdir);
	log_init(1, LOG_INFO);
	assert_int_equal(log_open_file(path), 0);
	log_info("before");
	assert_int_equal(rename(path, old), 0);
	assert_int_equal(log_reopen(), 0);
	log_info("after");
	assert_non_null(strstr(slurp(old), "before"));
	assert_null(strstr(slurp(old), "after"));
	assert_non_null(strstr(slurp(path), "after"));
	assert_null(strstr(slurp(path), "before"));
	log_close();
	unlink(path);
	unlink(old);
}

static void
test_open_failure(void **state)
{
	log_init(1, LOG_INFO);
	assert_int_equal(log_open_file("/nonexistent-dir/x.log"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(log_reopen(), 0);	/* still stderr: nothing to do */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_line),
		cmocka_unit_test(test_format_levels),
		cmocka_unit_test(test_format_control_chars),
		cmocka_unit_test(test_format_truncation),
		cmocka_unit_test(test_level_filter_and_file),
		cmocka_unit_test(test_errno_kept_and_warn),
		cmocka_unit_test(test_reopen_after_rotation),
		cmocka_unit_test(test_open_failure),
	};
	int	 rv;

	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_log.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return (1);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	(void)rmdir(tmpdir);
	return (rv);
}
