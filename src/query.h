/*
 * query.h: the query child, a short-lived process the supervisor forks
 * for one routingctl request that reads or writes LMDB (IPC_CTL_USER,
 * IPC_CTL_PURGE, IPC_CTL_BACKUP, IPC_CTL_STORE), so that the supervisor
 * neither opens the store nor waits for it.
 */

#ifndef QUERY_H
#define QUERY_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct config;
struct presence;
struct shm;

#define QUERY_MAX	4	/* query children at once */

/* What a query child reads besides LMDB; all inherited by fork. */
struct query_ctx {
	const struct config	*qc_cfg;	/* data_dir, store_max_size */
	const struct shm	*qc_shm;	/* WS seats' pids */
	const struct presence	*qc_pr;		/* online devices; may be NULL */
};

/* query_is: 1 if type is a request query_fork answers, else 0. */
int	 query_is(uint32_t type);

/*
 * query_fork: fork a query child that answers the request (type, a
 * payload of len bytes already checked by ipc_decode, copied) on the
 * control connection fd, then exits: 0 when it answered with the reply,
 * 1 when it answered IPC_CTL_FAIL or could not answer.  The child keeps
 * fd and closes every other descriptor above stderr (listeners, the
 * control socket, the workers' channels) before it opens LMDB; it never
 * returns into the caller's code.  Supervisor only, signals blocked by
 * the caller across the call.  The caller keeps and closes its own copy
 * of fd and reaps the child.  Returns the child's pid, or -1 with errno
 * from fork.
 */
pid_t	 query_fork(const struct query_ctx *, int fd, uint32_t type,
	    const void *payload, size_t len);

#endif /* QUERY_H */
