/*
 * ids.c: validation of user and device ids (ids.h).  Pure functions, used
 * by the API and WS workers; no state, no allocation.
 */

#include <stddef.h>

#include "ids.h"

int
id_text_valid(const char *s, size_t max)
{
	size_t	 i;

	if (s == NULL)
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || (unsigned char)s[i] < 0x21 ||
		    (unsigned char)s[i] > 0x7e)
			return (0);
	}
	return (i > 0);
}

int
id_valid(const char *s)
{
	return (id_text_valid(s, ID_MAX));
}
