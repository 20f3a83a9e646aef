/*
 * control.h: the control socket served by the supervisor for routingctl.
 * SOCK_SEQPACKET on a filesystem path; one request, one reply (ipc.h).
 */

#ifndef CONTROL_H
#define CONTROL_H

#include <ev.h>

#include "ipc.h"

/* What the supervisor does for each request; control.c only frames. */
struct control_ops {
	void	(*co_status)(void *arg, struct ipc_status *out);
	/* fills up to max entries, returns how many */
	size_t	(*co_workers)(void *arg, struct ipc_worker *out, size_t max);
	/* 0 on success with out filled (what was applied how); -1 with
	 * out->ir_text saying why not */
	int	(*co_reload)(void *arg, struct ipc_reload *out);
	/* start a graceful stop; called after the OK reply is sent */
	void	(*co_stop)(void *arg);
	/* drain (on 1) or undrain (on 0); 0, or -1; msg says which */
	int	(*co_drain)(void *arg, int on, char *msg, size_t msglen);
	/* 0 and *out filled, or -1 and msg (cap msglen) says why not */
	int	(*co_token)(void *arg, const struct ipc_token_req *req,
		    struct ipc_token *out, char *msg, size_t msglen);
	/*
	 * a store query (query_is(type)): hand the connection fd and the
	 * checked payload to a query child, which answers; 0 when one took
	 * it (control.c then closes its own copy of fd), else -1 with msg
	 * (cap msglen) saying why, which control.c sends as IPC_CTL_FAIL
	 */
	int	(*co_query)(void *arg, int fd, uint32_t type,
		    const void *payload, size_t len, char *msg, size_t msglen);
	/* the metrics text in a malloc'd buffer (*text, the caller frees)
	 * of *len bytes; 0, or -1 when out of memory */
	int	(*co_stats)(void *arg, char **text, size_t *len);
};

/*
 * control_new: bind path (refusing if a live daemon answers there,
 * replacing a stale socket), mode 0600, or 0660 with group ownership when
 * group is not NULL/empty, and serve it in loop.  Returns NULL and sets
 * *errstr (static text; errno kept) on failure.
 */
struct control	*control_new(struct ev_loop *, const char *path,
		    const char *group, const struct control_ops *, void *arg,
		    const char **errstr);

/*
 * control_set_group: apply a new group to the live socket (0660 and that
 * group, or 0600 when group is NULL or empty).  Returns 0, or -1 with
 * *errstr set.
 */
int		 control_set_group(struct control *, const char *group,
		    const char **errstr);

/* control_free: stop serving, close every client, unlink the path. */
void		 control_free(struct control *);

/* control_close_fds: in a freshly forked child that keeps the inherited
 * loop (after ev_loop_fork), stop this module's watchers and close its
 * fds without unlinking the path; control_free afterwards only frees. */
void		 control_close_fds(struct control *);

#endif /* CONTROL_H */
