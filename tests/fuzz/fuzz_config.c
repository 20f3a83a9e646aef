/*
 * fuzz_config.c: libFuzzer target for config.c's parser and printer
 * (routingd.conf as the supervisor reads it at start and on reload, and
 * as `routingd -t` prints it).  The input is the text of a configuration
 * file, parsed by config_parse_buf() over the file defaults, both for the
 * daemon and for a local (embedded) run.  Checks that nothing crashes or
 * reads outside the text (a heap copy of exactly its bytes), that a
 * failure leaves at least one error message, each NUL-terminated; and the
 * promise of config_write(): a configuration that parsed cleanly prints
 * as a text that parses cleanly back to the same configuration (no key
 * reported by config_changed(), and the same text printed again), secrets
 * aside, which print hidden.  config_validate() is not called: it opens
 * the files the text names, and fuzz input must not make it read
 * arbitrary paths.  A disagreement aborts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_config: %s\n%s\n", what, text ? text : "");
	abort();
}

/* config_write into a malloc'd string. */
static char *
fuzz_print(const struct config *cf, size_t *lenp)
{
	FILE	*fp;
	char	*text = NULL;

	if ((fp = open_memstream(&text, lenp)) == NULL)
		abort();
	if (config_write(cf, fp) != 0)
		fuzz_fail("config_write failed", NULL);
	if (fclose(fp) != 0)
		abort();
	return (text);
}

/* a and b line by line, where "# k = <hidden>" in a may be "# k =" in b. */
static int
fuzz_same_but_secrets(const char *a, const char *b)
{
	const char	*ea, *eb;
	size_t		 la, lb;
	static const char hidden[] = " <hidden>";

	while (*a != '\0' && *b != '\0') {
		ea = strchr(a, '\n');
		eb = strchr(b, '\n');
		if (ea == NULL || eb == NULL)
			return (0);
		la = (size_t)(ea - a);
		lb = (size_t)(eb - b);
		if (!(la == lb && memcmp(a, b, la) == 0) &&
		    !(la == lb + sizeof(hidden) - 1 && memcmp(a, b, lb) == 0 &&
		    memcmp(a + lb, hidden, sizeof(hidden) - 1) == 0))
			return (0);
		a = ea + 1;
		b = eb + 1;
	}
	return (*a == '\0' && *b == '\0');
}

static void
fuzz_config(const char *buf, size_t n, int local)
{
	struct cfg_errors	*errs;
	struct config		*cf, *cf2, *cf3;
	char			*t1, *t2, *t3;
	const char		*key;
	size_t			 l1, l2, l3, pos;
	int			 i, rv, restart;

	if ((errs = calloc(1, sizeof(*errs))) == NULL ||
	    (cf = config_new(local)) == NULL)
		abort();
	rv = config_parse_buf(cf, "fuzz.conf", buf, n, errs);
	if (rv != 0 && rv != -1)
		fuzz_fail("config_parse_buf result", NULL);
	if (rv == -1 && errs->ce_n < 1)
		fuzz_fail("failure without an error message", NULL);
	for (i = 0; i < errs->ce_n && i < CFG_MAX_ERRORS; i++)
		if (memchr(errs->ce_msg[i], '\0', CFG_ERRLEN) == NULL)
			fuzz_fail("error message not terminated", NULL);
	pos = 0;
	while (config_unserved(cf, &pos) != NULL)
		;
	t1 = fuzz_print(cf, &l1);
	if (rv == 0) {
		memset(errs, 0, sizeof(*errs));
		if ((cf2 = config_new(local)) == NULL)
			abort();
		if (config_parse_buf(cf2, "printed", t1, l1, errs) != 0)
			fuzz_fail("the printed configuration does not parse",
			    errs->ce_msg[0]);
		t2 = fuzz_print(cf2, &l2);
		if (!fuzz_same_but_secrets(t1, t2))
			fuzz_fail("the printed configuration reads back "
			    "differently", t2);
		if ((cf3 = config_new(local)) == NULL)
			abort();
		if (config_parse_buf(cf3, "printed", t2, l2, errs) != 0)
			fuzz_fail("the reprinted configuration does not parse",
			    errs->ce_msg[0]);
		t3 = fuzz_print(cf3, &l3);
		if (l3 != l2 || memcmp(t2, t3, l2) != 0)
			fuzz_fail("printing is not a fixed point", t3);
		pos = 0;
		if ((key = config_changed(cf2, cf3, &pos, &restart)) != NULL)
			fuzz_fail("config_changed between equal texts", key);
		free(t3);
		free(t2);
		config_free(cf3);
		config_free(cf2);
	}
	free(t1);
	config_free(cf);
	free(errs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	char	*buf;

	if ((buf = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(buf, d, n);
	fuzz_config(buf, n, 0);
	fuzz_config(buf, n, 1);
	free(buf);
	return (0);
}
