/*
 * msgsend.c: a client send, from parsed JSON to announced messages (see
 * msgsend.h).  Runs in the API workers (POST /api/send) and the WS
 * workers (send frames).  Owns nothing beyond the batch it is given.
 */

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "handoff.h"
#include "msgsend.h"
#include "routingd.h"
#include "shm.h"

/* ms_tokens: see msgsend.h. */
int
ms_tokens(const struct json_doc *doc, int root, int *toks, size_t *n,
    int *array)
{
	int	 i, e, size;

	*array = json_type(doc, root) == JSON_ARRAY;
	if (!*array) {
		toks[0] = root;
		*n = 1;
		return (json_type(doc, root) == JSON_OBJECT ? 0 : -1);
	}
	size = json_size(doc, root);
	if (size < 1 || size > ENV_MAX_BATCH)
		return (-1);
	for (i = 0, e = root + 1; i < size; i++, e = json_next(doc, e))
		toks[i] = e;
	*n = (size_t)size;
	return (0);
}

/* ms_new: see msgsend.h. */
struct ms_batch *
ms_new(size_t n)
{
	struct ms_batch	*b;

	if ((b = calloc(1, sizeof(*b) + n * sizeof(b->mb_items[0]))) == NULL)
		return (NULL);
	b->mb_n = n;
	b->mb_now_ms = util_real_ms();
	return (b);
}

/* ms_free: see msgsend.h. */
void
ms_free(struct ms_batch *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	for (i = 0; i < b->mb_n; i++)
		env_msg_clear(&b->mb_items[i].mi_msg);
	free(b);
}

/* ms_parse: see msgsend.h. */
int
ms_parse(struct ms_batch *b, const struct json_doc *doc, const int *toks,
    const char *caller, const char **errstr)
{
	struct ms_item	*it;
	size_t		 i;
	int		 r;

	for (i = 0; i < b->mb_n; i++) {
		it = &b->mb_items[i];
		if ((r = env_parse(doc, toks[i], caller, &it->mi_msg,
		    errstr)) != ENV_OK)
			return (r);
		if (!it->mi_msg.em_ephemeral) {
			b->mb_stored++;
			continue;
		}
		if (it->mi_msg.em_len > HO_EPHEMERAL_MAX) {
			*errstr = "an ephemeral envelope is too large to hand "
			    "over";
			return (ENV_TOO_LARGE);
		}
		it->mi_id[0] = MS_EPHEMERAL_PREFIX;
		if (util_random_hex(it->mi_id + 1, 8) == -1) {
			*errstr = "out of random bytes";
			return (ENV_NOMEM);
		}
	}
	return (ENV_OK);
}

/* ms_apply: see msgsend.h. */
int
ms_apply(struct qstore *qs, struct ms_batch *b, const struct config *cfg,
    struct handoff *ho)
{
	struct qs_effects fx;
	struct ms_item	*it;
	size_t		 i;
	int		 r;

	b->mb_held = b->mb_overflow = 0;
	for (i = 0; i < b->mb_n; i++) {
		it = &b->mb_items[i];
		if (it->mi_msg.em_ephemeral)
			continue;
		r = qs_enqueue(qs, it->mi_msg.em_recipient, it->mi_msg.em_data,
		    it->mi_msg.em_len, it->mi_msg.em_priority, b->mb_now_ms,
		    (uint64_t)cfg->cf_message_ttl,
		    (uint32_t)cfg->cf_queue_max_messages, it->mi_id);
		if (r != QS_OK)
			return (r);
		qs_effects(qs, &fx);
		if (ho != NULL && !fx.ef_held)
			ho_early_add(ho, it->mi_msg.em_recipient, fx.ef_lane,
			    fx.ef_seq, it->mi_msg.em_data, it->mi_msg.em_len,
			    fx.ef_copies, fx.ef_ncopies);
		b->mb_held += fx.ef_held;
		b->mb_overflow += fx.ef_overflow;
	}
	return (QS_OK);
}

/* ms_announce: see msgsend.h. */
void
ms_announce(struct ms_batch *b, struct handoff *ho)
{
	struct ms_item	*it;
	size_t		 i;

	for (i = 0; i < b->mb_n; i++) {
		it = &b->mb_items[i];
		if (!it->mi_msg.em_ephemeral)
			ho_ring(ho, it->mi_msg.em_recipient);
		else if (ho_ephemeral(ho, it->mi_msg.em_recipient, it->mi_id,
		    it->mi_msg.em_data, it->mi_msg.em_len) > 0)
			b->mb_delivered++;
	}
}

static void
ms_add(_Atomic uint64_t *counter, uint64_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* ms_count: see msgsend.h. */
void
ms_count(const struct ms_batch *b, struct shm *sh)
{
	struct shm_api	*m = &sh->sh_api;

	ms_add(&m->sa_accepted, b->mb_stored);
	ms_add(&m->sa_dropped, b->mb_n - b->mb_stored - b->mb_delivered);
	ms_add(&m->sa_held, b->mb_held);
	ms_add(&m->sa_overflow, b->mb_overflow);
}
