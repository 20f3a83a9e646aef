/*
 * msgrecv.h: one device receiving its messages (GET /api/messages and
 * POST /api/messages/ack, or a WebSocket connection and its ack frames):
 * its admission (the device becomes durably known), its last-seen time,
 * and its acknowledgements (parsed, applied, counted), each as an op for
 * the group commit (commit.h).  Shared by the API and the WS workers so
 * both paths apply exactly the same rules; each worker only frames the
 * answers.
 */

#ifndef MSGRECV_H
#define MSGRECV_H

#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "config.h"
#include "json.h"
#include "qstore.h"

struct config;
struct shm;

#define MR_ACK_MAX		1000	/* ids per ack */

enum mr_result {
	MR_OK = 0,
	MR_INVALID,		/* the ack is malformed: see *errstr */
	MR_NOMEM		/* out of memory */
};

/* Where an ack came from: each path has its own counter in /metrics. */
enum mr_via {
	MR_VIA_API = 0,		/* POST /api/messages/ack */
	MR_VIA_WS		/* a WebSocket ack frame */
};

/*
 * One acknowledgement: delete ids from the queue of (user, device).  The
 * caller embeds it first in its own op struct (so op, ack and the
 * caller's struct share one address).
 */
struct mr_ack {
	struct commit_op	 ma_op;		/* first: op == struct */
	char			 ma_user[ID_MAX + 1];
	char			 ma_device[ID_MAX + 1];
	size_t			 ma_size;	/* elements of messageIds */
	size_t			 ma_n;		/* ids kept in ma_ids */
	size_t			 ma_deleted;	/* by the last apply */
	const char		**ma_ptrs;	/* ma_n pointers into ma_ids */
	char			(*ma_ids)[QS_MSGID_SIZE];
};

/*
 * mr_ack_parse: fill all of *a from the object at token obj of doc,
 * which must hold "messageIds": an array of at most MR_ACK_MAX strings
 * (other members are not looked at), for (user, device).  An id too long
 * to be one of ours (or holding \u0000) is skipped: qs_ack would ignore
 * it anyway.  Sets ma_op's o_apply (qs_ack in the batch) and o_single;
 * the caller sets o_bytes, o_defer and o_done afterwards, and its
 * o_done calls mr_ack_clear.  Returns MR_OK (a owns its id arrays),
 * MR_INVALID with *errstr set to a static text (plain ASCII, nothing a
 * JSON string would escape) for the answer, or MR_NOMEM; after a failure
 * a owns nothing.
 */
int		 mr_ack_parse(struct mr_ack *a, const struct json_doc *doc,
		    int obj, const char *user, const char *device,
		    const char **errstr);

/* mr_ack_clear: free a's id arrays (not a itself). */
void		 mr_ack_clear(struct mr_ack *a);

/*
 * mr_ack_count: after the commit of a: add the messages it deleted to
 * the counter of the path it came from (enum mr_via).
 */
void		 mr_ack_count(const struct mr_ack *a, struct shm *sh, int via);

/*
 * One admission: make (user, device) known (qs_touch: it adopts what is
 * held for its user) or refresh its last-seen time.  Embedded first in
 * the caller's op struct, like struct mr_ack.
 */
struct mr_admit {
	struct commit_op	 md_op;		/* first: op == struct */
	const struct config	*md_cfg;	/* borrowed */
	uint64_t		 md_now_ms;
	size_t			 md_adopted;	/* by the last apply */
	char			 md_user[ID_MAX + 1];
	char			 md_device[ID_MAX + 1];
};

/*
 * mr_admit_init: fill all of *ad for (user, device) now, with cfg (for
 * the touch interval; must outlive the op).  Sets md_op's o_apply and
 * o_single; the caller sets o_done (which answers, or lets the
 * connection have frames) and submits it.
 */
void		 mr_admit_init(struct mr_admit *ad, const struct config *cfg,
		    const char *user, const char *device);

/* mr_admit_count: after the commit of ad: count the held copies the
 * device adopted. */
void		 mr_admit_count(const struct mr_admit *ad, struct shm *sh);

/*
 * mr_seen_submit: queue a deferred op (nobody waits for it) that records
 * now as the last-seen time of (user, device) if that device is still
 * known (qs_seen); the op is this module's and frees itself.  0, or -1
 * when out of memory (nothing queued: the time stays older, harmless).
 */
int		 mr_seen_submit(struct commit *cm, const char *user,
		    const char *device);

#endif /* MSGRECV_H */
