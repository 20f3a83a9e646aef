/*
 * log.h: the logging API (OpenBSD daemon shape).  One line per event:
 *
 *   2026-11-23T10:38:02.123Z info api 1[4242]: worker ready conns=0
 *
 * timestamp (UTC, ms), level, process role and index, pid, then the message,
 * whose ids are written as key=value.  Lines below the configured level are
 * dropped.  Every function preserves errno.
 */

#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_LINE_MAX	2048	/* bytes per formatted line */

void	log_init(int to_stderr, int level);
void	log_procinit(const char *role, int index);
void	log_setlevel(int level);
int	log_getlevel(void);
int	log_open_file(const char *path);
int	log_reopen(void);
void	log_close(void);
size_t	log_format(char *buf, size_t len, uint64_t real_ms, int level,
	    const char *proc, long pid, const char *fmt, va_list ap)
	    __attribute__((format(printf, 7, 0)));
const char *log_level_name(int level);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2)))
	    __attribute__((noreturn));

#endif /* LOG_H */
