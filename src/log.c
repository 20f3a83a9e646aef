/*
 * log.c: logging for every routingd process.
 *
 * Each process calls log_init() once and log_procinit() after fork with its
 * role and index; every line then carries that identity and the pid.  Lines
 * go to one file descriptor: stderr (the journal under systemd, where a
 * "<N>" priority prefix lets journald keep the level) or log_file, opened
 * with O_APPEND so that every process can share it.  One write(2) per line
 * keeps concurrent lines from interleaving.  Every function keeps errno.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "routingd.h"

static int	 log_fd = STDERR_FILENO;
static int	 log_level = LOG_INFO;
static int	 log_journal;		/* prefix lines with <N> */
static char	*log_path;		/* log_file, or NULL for stderr */
static char	 log_proc[32] = "routingd";

static void	 log_vlog(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	 log_verr(int, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static void	 log_emit(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/*
 * log_init: start logging at level to stderr.  to_stderr is accepted for
 * symmetry with OpenBSD's API: routingd logs to stderr until log_open_file.
 * Under journald ($JOURNAL_STREAM set) lines get a "<N>" priority prefix.
 */
void
log_init(int to_stderr, int level)
{
	(void)to_stderr;
	log_fd = STDERR_FILENO;
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

/* log_procinit: name this process in every line ("api 1", "supervisor"). */
void
log_procinit(const char *role, int index)
{
	if (index >= 0)
		(void)snprintf(log_proc, sizeof(log_proc), "%s %d", role, index);
	else
		(void)snprintf(log_proc, sizeof(log_proc), "%s", role);
}

/* log_setlevel: drop lines less severe than level (a syslog priority). */
void
log_setlevel(int level)
{
	log_level = level;
}

/* log_getlevel: the current level. */
int
log_getlevel(void)
{
	return (log_level);
}

/*
 * log_open_file: log to path (appended, created 0640) from now on.  Returns
 * 0, or -1 with errno if it cannot be opened (logging stays where it was).
 */
int
log_open_file(const char *path)
{
	char	*copy;
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		return (-1);
	if ((copy = strdup(path)) == NULL) {
		close(fd);
		return (-1);
	}
	log_close();
	log_fd = fd;
	log_path = copy;
	log_journal = 0;
	return (0);
}

/*
 * log_reopen: reopen log_file (after rotation, on SIGUSR1).  Returns 0, also
 * when logging to stderr, or -1 with errno if the file cannot be reopened
 * (the old descriptor is kept).
 */
int
log_reopen(void)
{
	char	*path;
	int	 rv;

	if (log_path == NULL)
		return (0);
	if ((path = strdup(log_path)) == NULL)
		return (-1);
	rv = log_open_file(path);
	free(path);
	return (rv);
}

/* log_close: go back to stderr, closing a log file if one is open. */
void
log_close(void)
{
	if (log_fd != STDERR_FILENO)
		close(log_fd);
	log_fd = STDERR_FILENO;
	free(log_path);
	log_path = NULL;
}

/* log_level_name: "debug", "info", "notice", "warning", "error", "crit". */
const char *
log_level_name(int level)
{
	switch (level) {
	case LOG_DEBUG:
		return ("debug");
	case LOG_INFO:
		return ("info");
	case LOG_NOTICE:
		return ("notice");
	case LOG_WARNING:
		return ("warning");
	case LOG_ERR:
		return ("error");
	default:
		return ("crit");
	}
}

/*
 * log_format: format one line, newline included, into buf (len bytes):
 * "2026-11-23T10:38:02.123Z info api 1[4242]: text".  Control characters
 * in the text become '?', so a line never splits.  A line that does not fit
 * is cut and still ends in a newline.  Returns its length (< len), or 0 if
 * len < 2.
 */
size_t
log_format(char *buf, size_t len, uint64_t real_ms, int level,
    const char *proc, long pid, const char *fmt, va_list ap)
{
	struct tm	 tm;
	time_t		 secs = (time_t)(real_ms / 1000);
	size_t		 n, i;
	int		 r;

	if (len < 2)
		return (0);
	(void)gmtime_r(&secs, &tm);
	r = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ %s %s[%ld]: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(real_ms % 1000),
	    log_level_name(level), proc, pid);
	n = (r < 0) ? 0 : ((size_t)r >= len - 1 ? len - 2 : (size_t)r);
	r = vsnprintf(buf + n, len - n - 1, fmt, ap);
	if (r > 0)
		n += ((size_t)r >= len - n - 1) ? len - n - 2 : (size_t)r;
	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n++] = '\n';
	buf[n] = '\0';
	return (n);
}

static void
log_vlog(int level, const char *fmt, va_list ap)
{
	char	 line[LOG_LINE_MAX + 8];
	size_t	 off = 0, n;
	int	 saved = errno;

	if (level > log_level) {
		errno = saved;
		return;
	}
	if (log_journal)
		off = (size_t)snprintf(line, sizeof(line), "<%d>", level);
	n = log_format(line + off, sizeof(line) - off, util_real_ms(), level,
	    log_proc, (long)getpid(), fmt, ap);
	(void)!write(log_fd, line, off + n);
	errno = saved;
}

static void
log_emit(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(level, fmt, ap);
	va_end(ap);
}

/* Log the message with ": strerror(errno)" appended. */
static void
log_verr(int level, const char *fmt, va_list ap)
{
	char	 msg[LOG_LINE_MAX];
	int	 saved = errno;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	log_emit(level, "%s: %s", msg, strerror(saved));
	errno = saved;
}

/* log_warn: a warning with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_verr(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* log_warnx: a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* log_notice: a significant but normal event. */
void
log_notice(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_NOTICE, fmt, ap);
	va_end(ap);
}

/* log_info: an informational event. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* log_debug: detail for -v / log_level = debug. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* fatal: log at crit with strerror(errno) and exit 1.  Setup only. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_verr(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

/* fatalx: log at crit and exit 1.  Setup and broken invariants only. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
