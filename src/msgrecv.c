/*
 * msgrecv.c: a device receiving its messages: admission, last-seen
 * time and acknowledgements as group-commit ops (see msgrecv.h).
 *
 * Runs in the API workers (GET /api/messages, POST /api/messages/ack)
 * and the WS workers (a connection's admission and its ack frames).
 * Owns the id arrays of an ack it parsed (until mr_ack_clear) and the
 * last-seen ops it queues (each freed by its own o_done); everything
 * else belongs to the caller.  Never logs, never answers: a failure is
 * a result the caller frames.  Every apply makes one qs_ write and may
 * run twice (a replayed batch): what it reports is recomputed each time.
 */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"
#include "config.h"
#include "json.h"
#include "msgrecv.h"
#include "qstore.h"
#include "routingd.h"
#include "shm.h"

static void
mr_add(_Atomic uint64_t *counter, uint64_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Acknowledgements                                                    */
/* ------------------------------------------------------------------ */

static int
mr_ack_apply(struct qstore *qs, struct commit_op *op)
{
	struct mr_ack	*a = (struct mr_ack *)op;

	return (qs_ack(qs, a->ma_user, a->ma_device, a->ma_ptrs, a->ma_n,
	    &a->ma_deleted));
}

/* Copy the string elements of array arr into a; ids too long to be ours
 * are skipped.  0, or -1 if an element is not a string. */
static int
mr_ack_ids(struct mr_ack *a, const struct json_doc *doc, int arr)
{
	const char	*err;
	size_t		 i;
	int		 e;

	for (i = 0, e = arr + 1; i < a->ma_size; i++, e = json_next(doc, e)) {
		if (json_type(doc, e) != JSON_STRING)
			return (-1);
		if (json_get_string(doc, e, a->ma_ids[a->ma_n], QS_MSGID_SIZE,
		    NULL, &err) == -1)
			continue;	/* not one of our ids */
		a->ma_ptrs[a->ma_n] = a->ma_ids[a->ma_n];
		a->ma_n++;
	}
	return (0);
}

/* mr_ack_parse: see msgrecv.h. */
int
mr_ack_parse(struct mr_ack *a, const struct json_doc *doc, int obj,
    const char *user, const char *device, const char **errstr)
{
	int	 arr, size;

	memset(a, 0, sizeof(*a));
	if ((arr = json_obj_get(doc, obj, "messageIds")) < 0 ||
	    json_type(doc, arr) != JSON_ARRAY ||
	    (size = json_size(doc, arr)) > MR_ACK_MAX) {
		*errstr = "messageIds must be an array of at most 1000 ids";
		return (MR_INVALID);
	}
	a->ma_size = (size_t)size;
	if ((a->ma_ptrs = calloc(a->ma_size + 1, sizeof(char *))) == NULL ||
	    (a->ma_ids = calloc(a->ma_size + 1, QS_MSGID_SIZE)) == NULL) {
		mr_ack_clear(a);
		return (MR_NOMEM);
	}
	if (mr_ack_ids(a, doc, arr) == -1) {
		mr_ack_clear(a);
		*errstr = "messageIds must hold strings";
		return (MR_INVALID);
	}
	(void)strcpy(a->ma_user, user);
	(void)strcpy(a->ma_device, device);
	a->ma_op.o_apply = mr_ack_apply;
	a->ma_op.o_single = 1;
	return (MR_OK);
}

/* mr_ack_clear: see msgrecv.h. */
void
mr_ack_clear(struct mr_ack *a)
{
	free(a->ma_ptrs);
	free(a->ma_ids);
	a->ma_ptrs = NULL;
	a->ma_ids = NULL;
	a->ma_n = 0;
}

/* mr_ack_count: see msgrecv.h. */
void
mr_ack_count(const struct mr_ack *a, struct shm *sh, int via)
{
	mr_add(via == MR_VIA_WS ? &sh->sh_ws.sw_acked : &sh->sh_api.sa_acked,
	    a->ma_deleted);
}

/* ------------------------------------------------------------------ */
/* Admission and last-seen time                                        */
/* ------------------------------------------------------------------ */

static int
mr_admit_apply(struct qstore *qs, struct commit_op *op)
{
	struct mr_admit		*ad = (struct mr_admit *)op;
	struct qs_effects	 fx;
	int			 r;

	r = qs_touch(qs, ad->md_user, ad->md_device, ad->md_now_ms,
	    config_touch_interval_ms(ad->md_cfg));
	qs_effects(qs, &fx);
	ad->md_adopted = fx.ef_adopted;
	return (r);
}

/* mr_admit_init: see msgrecv.h. */
void
mr_admit_init(struct mr_admit *ad, const struct config *cfg,
    const char *user, const char *device)
{
	memset(ad, 0, sizeof(*ad));
	ad->md_cfg = cfg;
	ad->md_now_ms = util_real_ms();
	(void)strcpy(ad->md_user, user);
	(void)strcpy(ad->md_device, device);
	ad->md_op.o_apply = mr_admit_apply;
	ad->md_op.o_single = 1;
}

/* mr_admit_count: see msgrecv.h. */
void
mr_admit_count(const struct mr_admit *ad, struct shm *sh)
{
	mr_add(&sh->sh_api.sa_adopted, ad->md_adopted);
}

static int
mr_seen_apply(struct qstore *qs, struct commit_op *op)
{
	struct mr_admit	*ad = (struct mr_admit *)op;

	return (qs_seen(qs, ad->md_user, ad->md_device, ad->md_now_ms));
}

static void
mr_seen_done(struct commit_op *op, int r)
{
	(void)r;		/* a later request or connection refreshes it */
	free(op);
}

/* mr_seen_submit: see msgrecv.h. */
int
mr_seen_submit(struct commit *cm, const char *user, const char *device)
{
	struct mr_admit	*ad;

	if ((ad = malloc(sizeof(*ad))) == NULL)
		return (-1);
	mr_admit_init(ad, NULL, user, device);
	ad->md_op.o_apply = mr_seen_apply;
	ad->md_op.o_defer = 1;
	ad->md_op.o_done = mr_seen_done;
	commit_submit(cm, &ad->md_op);
	return (0);
}
