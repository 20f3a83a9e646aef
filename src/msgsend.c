/*
 * msgsend.c: a client send, from parsed JSON to announced messages (see
 * msgsend.h).  Runs in the API workers (POST /api/send) and the WS
 * workers (send frames).  Owns nothing beyond the batch it is given.
 */

#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "msgsend.h"
#include "routingd.h"

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
ms_apply(struct qstore *qs, struct ms_batch *b, const struct config *cfg)
{
	struct ms_item	*it;
	size_t		 i;
	int		 r;

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
