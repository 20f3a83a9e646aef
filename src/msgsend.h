/*
 * msgsend.h: one client "send" (POST /api/send or a WebSocket send frame):
 * its envelopes validated, stored in one sub-transaction, and announced to
 * the WS workers (doorbells for stored messages, the envelope itself for
 * ephemeral ones).  Shared by the API and the WS workers so both paths
 * apply exactly the same rules.
 */

#ifndef MSGSEND_H
#define MSGSEND_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "envelope.h"
#include "json.h"
#include "qstore.h"

struct config;
struct handoff;
struct shm;

#define MS_EPHEMERAL_PREFIX	'e'	/* ids of ephemeral messages */

struct ms_item {
	struct env_msg	 mi_msg;
	char		 mi_id[QS_MSGID_SIZE];
};

struct ms_batch {
	uint64_t	 mb_now_ms;	/* wall clock at acceptance */
	size_t		 mb_n;
	size_t		 mb_stored;	/* items not ephemeral */
	size_t		 mb_delivered;	/* ephemeral items handed to a WS
					   worker (the rest: dropped) */
	size_t		 mb_held;	/* stored items held (recipient had
					   no device), by the last ms_apply */
	size_t		 mb_overflow;	/* copies full queues dropped for
					   them, likewise */
	struct ms_item	 mb_items[];
};

/*
 * ms_tokens: the envelope tokens under token root of doc: root itself if
 * it is an object (*array 0), else the 1..ENV_MAX_BATCH elements of the
 * array (*array 1), into toks (room for ENV_MAX_BATCH).  0, or -1 for
 * anything else.
 */
int		 ms_tokens(const struct json_doc *doc, int root, int *toks,
		    size_t *n, int *array);

/* ms_new: a zeroed batch for n envelopes (free with ms_free), or NULL. */
struct ms_batch	*ms_new(size_t n);

/* ms_free: free b and its envelopes; NULL is accepted. */
void		 ms_free(struct ms_batch *b);

/*
 * ms_parse: validate the envelopes at toks for the caller (user id) into
 * b, giving ephemeral ones a random id.  An ephemeral envelope larger
 * than a hand-off record can carry (HO_EPHEMERAL_MAX) is ENV_TOO_LARGE:
 * refused, not accepted and silently dropped.  Returns ENV_OK or the
 * first failure (enum env_result) with *errstr set.
 */
int		 ms_parse(struct ms_batch *b, const struct json_doc *doc,
		    const int *toks, const char *caller, const char **errstr);

/*
 * ms_apply: queue every stored item (qs_enqueue with the configured TTL
 * and queue cap) in the current txn, counting in mb_held and mb_overflow
 * what qs_effects reports (recounted from zero on every call, since a
 * replayed batch applies again), and staging each device copy in ho's
 * early records (ho_early_add; ho may be NULL: none); a QS_* result (the
 * first failure: the caller's sub-transaction makes the batch all or
 * nothing).
 */
int		 ms_apply(struct qstore *qs, struct ms_batch *b,
		    const struct config *cfg, struct handoff *ho);

/*
 * ms_announce: after the commit: ring the doorbell of every stored item's
 * recipient and hand every ephemeral item to the WS workers holding its
 * recipient (mb_delivered counts those that went somewhere).
 */
void		 ms_announce(struct ms_batch *b, struct handoff *ho);

/*
 * ms_count: after ms_announce: add the batch to the daemon-wide message
 * counters (accepted, ephemeral delivered to nobody, held, dropped from
 * full queues).
 */
void		 ms_count(const struct ms_batch *b, struct shm *sh);

#endif /* MSGSEND_H */
