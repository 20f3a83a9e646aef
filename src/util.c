/*
 * util.c: small helpers used by every routingd process: clocks, the
 * process title ("routingd: api 1" in ps), O_NONBLOCK, directories,
 * random bytes, wiping secrets.
 *
 * The process title reuses the memory of argv and environ, which are
 * contiguous on Linux: util_title_init() copies environ to the heap once,
 * before anything reads the environment through saved pointers; afterwards
 * util_title_set() may overwrite that whole area.  The copy (the pointer
 * array and all the strings, in one block) lives until the process ends
 * and util_title_env keeps it reachable: environ alone does not own it,
 * since libc may move entries out of it (unsetenv) or drop it (clearenv,
 * and glibc's exit-time cleanup that valgrind runs, set environ to NULL).
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "routingd.h"

extern char	**environ;

static char	*util_title_base;	/* start of argv[0] */
static size_t	 util_title_len;	/* bytes usable there */
static char	**util_title_env;	/* environ's copy, kept till exit */

/* util_mono_ms: CLOCK_MONOTONIC in milliseconds. */
uint64_t
util_mono_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* util_mono_us: CLOCK_MONOTONIC in microseconds. */
uint64_t
util_mono_us(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

/* util_real_ms: wall-clock time in milliseconds since the epoch. */
uint64_t
util_real_ms(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/*
 * util_title_init: make argv's memory (and environ's, after moving environ
 * to the heap) available for util_title_set.  Call once, early in main;
 * once a call has succeeded, later ones do nothing.  On allocation failure
 * the title simply stays as it was.
 *
 * The copy is one allocation: n + 1 pointers, then the strings.  It is
 * never freed, because environ points into it until exit; util_title_env
 * holds it so that it stays reachable whatever libc does to environ.
 */
void
util_title_init(int argc, char **argv)
{
	char	**env;
	char	 *end, *p;
	size_t	  size, len;
	int	  i, n;

	if (argc < 1 || argv[0] == NULL || util_title_env != NULL)
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	size = 0;
	for (n = 0; environ[n] != NULL; n++)
		size += strlen(environ[n]) + 1;
	size += ((size_t)n + 1) * sizeof(*env);
	if ((env = malloc(size)) == NULL)
		return;
	p = (char *)(env + n + 1);
	for (i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		len = strlen(environ[i]) + 1;
		memcpy(p, environ[i], len);
		env[i] = p;
		p += len;
	}
	env[n] = NULL;
	util_title_env = env;
	environ = env;
	util_title_base = argv[0];
	util_title_len = (size_t)(end - argv[0]);
	for (i = 1; i < argc; i++)
		argv[i] = NULL;
}

/*
 * util_title_set: set the process title shown by ps to the formatted text
 * (cut to fit) and the 15-byte comm name to its first word plus role.
 */
void
util_title_set(const char *fmt, ...)
{
	char	 title[256];
	va_list	 ap;
	size_t	 n;

	va_start(ap, fmt);
	(void)vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	(void)prctl(PR_SET_NAME, title, 0, 0, 0);
	if (util_title_base == NULL || util_title_len < 2)
		return;
	n = strlen(title);
	if (n > util_title_len - 1)
		n = util_title_len - 1;
	memset(util_title_base, 0, util_title_len);
	memcpy(util_title_base, title, n);
}

/* util_nonblock: set O_NONBLOCK.  Returns 0 or -1 with errno. */
int
util_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ? -1 : 0);
}

/*
 * util_mkdir_p: create path and its missing parents with mode (existing
 * directories are left as they are).  Returns 0 or -1 with errno.
 */
int
util_mkdir_p(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX];
	char	*p;

	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	(void)strcpy(buf, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return (-1);
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return (-1);
	return (0);
}

/*
 * util_random_hex: nbytes random bytes from the kernel, hex-encoded into
 * out (2 * nbytes + 1 bytes, NUL-terminated).  Returns 0 or -1 with errno.
 */
int
util_random_hex(char *out, size_t nbytes)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 raw[256];
	size_t			 i;

	if (nbytes > sizeof(raw)) {
		errno = EINVAL;
		return (-1);
	}
	if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
		return (-1);
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0xf];
	}
	out[2 * nbytes] = '\0';
	util_wipe(raw, sizeof(raw));
	return (0);
}

/* util_wipe: erase secret bytes in a way the compiler keeps. */
void
util_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}
