/*
 * routingd.h: the daemon's fixed limits and defaults, the names of the
 * process roles, and the small helpers of util.c and notify.c.  Other
 * headers own the rest: the configuration (config.h), default paths
 * (paths.h, shared with routingctl), ids (ids.h), every message between
 * processes and the control protocol (ipc.h), logging (log.h).
 * routingctl does not include this header.
 */

#ifndef ROUTINGD_H
#define ROUTINGD_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

/* Defaults: one block, every unit named.  Paths are in paths.h. */
#define LOCAL_SECRET_BYTES	32		/* random bytes, hex-encoded */

#define DEFAULT_API_LISTEN	"127.0.0.1:8082"
#define DEFAULT_WS_LISTEN	"127.0.0.1:8083"
#define DEFAULT_API_WORKERS	2
#define DEFAULT_WS_WORKERS	2
#define MAX_WORKERS_PER_ROLE	64

#define HTTP_MAX_HEAD		(16 * 1024)	/* bytes: request line + headers */
#define HTTP_MAX_HEADERS	64		/* header fields per request */
#define HTTP_MAX_OUT		(256 * 1024)	/* bytes queued before we stop reading */
#define ACCEPT_BATCH		64		/* accepts per listen callback */

#define HEARTBEAT_INTERVAL	1.0		/* seconds between worker beats */
#define DRAIN_RETRY_HDR		"Retry-After: 30\r\n" /* 503s while drained */
#define RESPAWN_MIN_DELAY	0.1		/* seconds, first fast-death backoff */
#define RESPAWN_MAX_DELAY	10.0		/* seconds, backoff ceiling */
#define RESPAWN_STABLE_AFTER	5.0		/* seconds alive that reset backoff */

/*
 * Process roles: what a role is and does is its row in the process table
 * (procs[] in supervisor.c); these values only name the rows, in shared
 * memory and on the supervisor channel.  PROC_SUPERVISOR has no row.
 */
enum proc_role {
	PROC_SUPERVISOR = 0,
	PROC_API = 1,
	PROC_WS = 2,
	PROC_PUSH = 3,
	PROC_NROLES
};

/* ------------------------------------------------------------------ */
/* util.c                                                              */
/* ------------------------------------------------------------------ */

uint64_t	 util_mono_ms(void);
uint64_t	 util_mono_us(void);
uint64_t	 util_real_ms(void);
void		 util_title_init(int argc, char **argv);
void		 util_title_set(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
int		 util_nonblock(int fd);
int		 util_mkdir_p(const char *path, mode_t mode);
int		 util_random_hex(char *out, size_t nbytes);
void		 util_wipe(void *, size_t);

/* ------------------------------------------------------------------ */
/* notify.c                                                            */
/* ------------------------------------------------------------------ */

void		 notify_init(void);
int		 notify_send(const char *state);

#endif /* ROUTINGD_H */
