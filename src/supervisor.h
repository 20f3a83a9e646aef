/*
 * supervisor.h: the parent process of routingd.
 */

#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include "config.h"
#include "routingd.h"

struct sup_options {
	const char	*so_config;	/* -f path, NULL for embedded */
	int		 so_debug;	/* -d: stderr even if log_file */
	int		 so_verbose;	/* -v count: debug logging */
};

/*
 * sup_main: run the supervisor with cfg (ownership passes to it): bind the
 * listening and control sockets, create shared memory, fork the workers,
 * respawn, reload and stop them, until a stop completes.  Never returns:
 * exits 0 after a stop, 1 on a setup failure (logged).
 */
void	sup_main(struct config *cfg, const struct sup_options *)
	    __attribute__((noreturn));

/*
 * sup_prepare_state: create data_dir (0700) and, when no JWT key source is
 * configured, generate the HS256 secret data_dir/jwt.secret once (0600) and
 * point cf_jwt_secret_file at it.  Returns 0, or -1 with *errstr set.
 */
int	sup_prepare_state(struct config *, const char **errstr);

#endif /* SUPERVISOR_H */
