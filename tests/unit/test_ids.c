/*
 * test_ids.c: unit tests of ids.c: the id alphabet (0x21-0x7e), the
 * length bounds 1..ID_MAX and 1..max, NULL, and that a byte outside the
 * alphabet anywhere in the string (first, middle, last) is refused.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ids.h"

static void
test_alphabet(void **state)
{
	char	 s[4] = "abc";
	int	 c;

	(void)state;
	for (c = 1; c < 256; c++) {
		s[1] = (char)c;
		assert_int_equal(id_valid(s), c >= 0x21 && c <= 0x7e);
	}
	assert_int_equal(id_valid("user@example.org"), 1);
	assert_int_equal(id_valid("~!\"#$%&'()*+,-./:;<=>?[\\]^_`{|}"), 1);
	assert_int_equal(id_valid(" ab"), 0);
	assert_int_equal(id_valid("ab "), 0);
	assert_int_equal(id_valid("a\x7f"), 0);
	assert_int_equal(id_valid("caf\xc3\xa9"), 0);
}

static void
test_lengths(void **state)
{
	char	 big[ID_MAX + 2];

	(void)state;
	assert_int_equal(id_valid(NULL), 0);
	assert_int_equal(id_valid(""), 0);
	assert_int_equal(id_valid("a"), 1);
	memset(big, 'x', sizeof(big) - 1);
	big[ID_MAX + 1] = '\0';
	assert_int_equal(id_valid(big), 0);
	big[ID_MAX] = '\0';
	assert_int_equal(id_valid(big), 1);
	assert_int_equal(id_valid(ID_DEFAULT_DEVICE), 1);
}

static void
test_text_max(void **state)
{
	(void)state;
	assert_int_equal(id_text_valid(NULL, 10), 0);
	assert_int_equal(id_text_valid("", 10), 0);
	assert_int_equal(id_text_valid("abc", 3), 1);
	assert_int_equal(id_text_valid("abcd", 3), 0);
	assert_int_equal(id_text_valid("ab\tc", 10), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alphabet),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_text_max),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
