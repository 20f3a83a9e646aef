/*
 * api_routes.c: the endpoints of the HTTP API (see routingd(8)), one
 * function per route, run by the API worker.
 *
 * api.c has already authenticated the caller (struct api_call) and
 * charged the rate limit.  Reads (GET) run at once in a short read txn;
 * every write becomes an op queued for the group commit (commit.c) and
 * is answered from its o_done, after the fsync'd commit.  What a send, an
 * ack or a device admission does is shared with the WebSocket worker
 * (msgsend.c, msgrecv.c); this file parses the request around it and
 * frames the answer.  Invariants: an op owns copies of everything it
 * needs except the request, which stays valid until the answer; a caller
 * only ever touches its own user's queues (user and device come from the
 * token, never from the body); each route answers exactly once.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "commit.h"
#include "config.h"
#include "envelope.h"
#include "json.h"
#include "log.h"
#include "msgrecv.h"
#include "msgsend.h"
#include "presence.h"
#include "qstore.h"
#include "routingd.h"
#include "worker.h"

/* A growing output buffer for JSON answers. */
struct api_buf {
	char	*b_data;
	size_t	 b_len;
	size_t	 b_cap;
	int	 b_err;
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static void
api_buf_add(struct api_buf *b, const void *p, size_t n)
{
	char	*q;
	size_t	 cap;

	if (b->b_err)
		return;
	if (b->b_cap - b->b_len < n + 1) {
		cap = b->b_cap * 2 + n + 256;
		if ((q = realloc(b->b_data, cap)) == NULL) {
			b->b_err = 1;
			return;
		}
		b->b_data = q;
		b->b_cap = cap;
	}
	memcpy(b->b_data + b->b_len, p, n);
	b->b_len += n;
	b->b_data[b->b_len] = '\0';
}

static void
api_buf_str(struct api_buf *b, const char *s)
{
	api_buf_add(b, s, strlen(s));
}

/* Append s as a JSON string literal. */
static void
api_buf_json(struct api_buf *b, const char *s)
{
	char	*tmp;
	size_t	 cap, n;

	cap = json_escaped_len(s, strlen(s)) + 1;
	if ((tmp = malloc(cap)) == NULL ||
	    json_escape(s, strlen(s), tmp, cap, &n) == -1)
		b->b_err = 1;
	else
		api_buf_add(b, tmp, n);
	free(tmp);
}

/* Answer 200/202 with the JSON in b, or 503 if building it failed. */
static void
api_reply_buf(struct api_call *ac, int status, struct api_buf *b)
{
	if (b->b_err)
		api_reply_error(ac, 503, "unavailable", "out of memory",
		    NULL);
	else
		api_reply(ac, status, "application/json", NULL, b->b_data,
		    b->b_len);
	free(b->b_data);
	memset(b, 0, sizeof(*b));
}

/*
 * 1 if body is a JSON scalar (valid JSON, but json_parse() only takes an
 * object or array root): such a body is a bad envelope, not bad JSON.
 */
static int
api_body_is_scalar(struct api *a, const char *body, size_t len)
{
	struct json_doc	 doc;
	const char	*err;
	char		*wrap;
	size_t		 i;
	int		 r;

	for (i = 0; i < len && (body[i] == ' ' || body[i] == '\t' ||
	    body[i] == '\r' || body[i] == '\n'); i++)
		;
	if (i == len || body[i] == '{' || body[i] == '[' ||
	    (wrap = malloc(len + 2)) == NULL)
		return (0);
	wrap[0] = '[';
	memcpy(wrap + 1, body, len);
	wrap[len + 1] = ']';
	r = json_parse(&doc, wrap, len + 2, a->a_tok, API_MAX_TOKENS, 0,
	    &err);
	free(wrap);
	return (r != -1);
}

/*
 * Parse the request body as JSON into doc (a root object or array).
 * Answers 400 invalid_json on failure (invalid_envelope for a scalar
 * root when reason is SHM_REJ_INVALID_JSON, i.e. a send) and returns -1.
 */
static int
api_parse_body(struct api_call *ac, struct json_doc *doc, int reason)
{
	const struct http_request	*req = ac->ac_req;
	const char			*err;

	if (json_parse(doc, req->hr_body, req->hr_body_len,
	    ac->ac_api->a_tok, API_MAX_TOKENS, 0, &err) != -1)
		return (0);
	log_debug("bad JSON body from peer=%s: %s",
	    server_conn_peer(ac->ac_conn), err);
	if (reason == SHM_REJ_INVALID_JSON && api_body_is_scalar(ac->ac_api,
	    req->hr_body, req->hr_body_len)) {
		api_reject(ac->ac_api, SHM_REJ_INVALID_ENVELOPE);
		api_reply_error(ac, 400, "invalid_envelope",
		    "the body must be an envelope or an array of 1 to 100",
		    NULL);
		return (-1);
	}
	if (reason >= 0)
		api_reject(ac->ac_api, reason);
	api_reply_error(ac, 400, "invalid_json", "the body is not valid JSON",
	    NULL);
	return (-1);
}

/* Unescape string member key of obj into out (cap bytes).  0 or -1. */
static int
api_member_str(const struct json_doc *doc, int obj, const char *key,
    char *out, size_t cap)
{
	const char	*err;
	int		 t;

	if ((t = json_obj_get(doc, obj, key)) < 0 ||
	    json_type(doc, t) != JSON_STRING ||
	    json_get_string(doc, t, out, cap, NULL, &err) == -1)
		return (-1);
	return (0);
}

/* The answer to a write op that did not commit (result r != QS_OK). */
static void
api_op_failed(struct api_call *ac, int r)
{
	switch (r) {
	case QS_FULL:
		api_reject(ac->ac_api, SHM_REJ_QUEUE_FULL);
		api_reply_error(ac, 429, "queue_full",
		    "a recipient queue is full", NULL);
		break;
	case QS_NOTFOUND:
		api_reply_error(ac, 404, "not_found", "no such device", NULL);
		break;
	case QS_BADID:
	case QS_INVAL:
		api_reply_error(ac, 400, "invalid_request",
		    "a field is out of range", NULL);
		break;
	default:
		api_store_error(ac, r);
		break;
	}
}

static void
api_count(_Atomic uint64_t *counter, uint64_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* POST /api/send                                                      */
/* ------------------------------------------------------------------ */

struct api_send_op {
	struct commit_op	 so_op;		/* first: op == struct */
	struct api_call		 so_call;
	int			 so_array;	/* answer {"ids":[...]} */
	struct ms_batch		*so_b;
};

static void
api_send_free(struct api_send_op *so)
{
	ms_free(so->so_b);
	free(so);
}

/* Announce to the WS workers, then 202 with the id or the ids. */
static void
api_send_accepted(struct api_send_op *so)
{
	struct api	*a = so->so_call.ac_api;
	struct ms_batch	*mb = so->so_b;
	struct api_buf	 b;
	size_t		 i;

	ms_announce(mb, a->a_ho);
	memset(&b, 0, sizeof(b));
	api_buf_str(&b, so->so_array ? "{\"ids\":[" : "{\"id\":");
	for (i = 0; i < mb->mb_n; i++) {
		if (i > 0)
			api_buf_str(&b, ",");
		api_buf_json(&b, mb->mb_items[i].mi_id);
	}
	api_buf_str(&b, so->so_array ? "]}" : "}");
	ms_count(mb, a->a_shm);
	api_reply_buf(&so->so_call, 202, &b);
}

static int
api_send_apply(struct qstore *qs, struct commit_op *op)
{
	struct api_send_op	*so = (struct api_send_op *)op;

	return (ms_apply(qs, so->so_b, so->so_call.ac_api->a_cfg,
	    so->so_call.ac_api->a_ho));
}

static void
api_send_done(struct commit_op *op, int r)
{
	struct api_send_op	*so = (struct api_send_op *)op;

	if (r == QS_OK) {
		api_store_ok(so->so_call.ac_api);
		api_send_accepted(so);
	} else
		api_op_failed(&so->so_call, r);
	api_send_free(so);
}

/* Validate every envelope of the body into so.  0, or answered -1. */
static int
api_send_parse(struct api_send_op *so, const struct json_doc *doc,
    const int *toks)
{
	struct api_call	*ac = &so->so_call;
	const char	*err = NULL;
	int		 r;

	r = ms_parse(so->so_b, doc, toks, ac->ac_id.ai_user, &err);
	if (r == ENV_OK)
		return (0);
	log_debug("envelope refused peer=%s: %s",
	    server_conn_peer(ac->ac_conn), err != NULL ? err : "?");
	if (r == ENV_SENDER_MISMATCH) {
		api_reject(ac->ac_api, SHM_REJ_SENDER_MISMATCH);
		api_reply_error(ac, 403, "sender_mismatch",
		    "senderId is not the caller", NULL);
	} else if (r == ENV_NOMEM)
		api_reply_error(ac, 503, "unavailable", "out of memory", NULL);
	else if (r == ENV_TOO_LARGE) {
		api_reject(ac->ac_api, SHM_REJ_INVALID_ENVELOPE);
		api_reply_error(ac, 413, "too_large", err, NULL);
	}
	else {
		api_reject(ac->ac_api, SHM_REJ_INVALID_ENVELOPE);
		api_reply_error(ac, 400, "invalid_envelope",
		    err != NULL ? err : "invalid envelope", NULL);
	}
	return (-1);
}

/*
 * api_send: POST /api/send.  Validates every envelope first (400, 403),
 * answers ephemeral-only bodies at once, queues the rest as one op:
 * 202 after the commit, 429 queue_full if any recipient queue is full.
 */
void
api_send(struct api_call *ac)
{
	struct json_doc		 doc;
	struct api_send_op	*so;
	int			 toks[ENV_MAX_BATCH], array;
	size_t			 n;

	if (api_parse_body(ac, &doc, SHM_REJ_INVALID_JSON) == -1)
		return;
	if (ms_tokens(&doc, 0, toks, &n, &array) == -1) {
		api_reject(ac->ac_api, SHM_REJ_INVALID_ENVELOPE);
		api_reply_error(ac, 400, "invalid_envelope", "the body must "
		    "be an envelope or an array of 1 to 100", NULL);
		return;
	}
	if ((so = calloc(1, sizeof(*so))) == NULL ||
	    (so->so_b = ms_new(n)) == NULL) {
		free(so);
		api_reply_error(ac, 503, "unavailable", "out of memory", NULL);
		return;
	}
	so->so_call = *ac;
	so->so_array = array;
	if (api_send_parse(so, &doc, toks) == -1) {
		api_send_free(so);
		return;
	}
	if (so->so_b->mb_stored == 0) {	/* all ephemeral: nothing to store */
		api_send_accepted(so);
		api_send_free(so);
		return;
	}
	so->so_op.o_bytes = ac->ac_req->hr_body_len;
	so->so_op.o_apply = api_send_apply;
	so->so_op.o_single = so->so_b->mb_stored == 1;
	so->so_op.o_done = api_send_done;
	api_call_defer(&so->so_call);
	commit_submit(ac->ac_api->a_commit, &so->so_op);
}

/* ------------------------------------------------------------------ */
/* GET /api/messages                                                   */
/* ------------------------------------------------------------------ */

/* Admitting a device that fetches for the first time: answered after
 * the commit that makes it known. */
struct api_admit_op {
	struct mr_admit	 ad_admit;		/* first: op == struct */
	struct api_call	 ad_call;
	size_t		 ad_limit;
};

/* The limit parameter: 0 with *limit, or -1 if not an integer. */
static int
api_limit(const struct http_request *req, size_t *limit)
{
	const char	*v;
	char		 buf[32], *end;
	long long	 n;
	size_t		 len, i;

	*limit = API_LIMIT_DEFAULT;
	if ((v = http_query_get(req, "limit", &len)) == NULL)
		return (0);
	if (len == 0 || len >= sizeof(buf))
		return (-1);
	for (i = 0; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (i == 0 &&
		    v[i] == '-' && len > 1)))
			return (-1);
	memcpy(buf, v, len);
	buf[len] = '\0';
	errno = 0;
	n = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	if (n < 1)
		n = API_LIMIT_DEFAULT;
	else if (n > API_LIMIT_MAX)
		n = API_LIMIT_MAX;
	*limit = (size_t)n;
	return (0);
}

/* One message into the answer (the envelope is stored normalised). */
static int
api_messages_cb(void *arg, const char *id, int priority,
    uint64_t enqueued_ms, const void *data, size_t len)
{
	struct api_buf	*b = arg;

	api_buf_str(b, b->b_len > 13 ? ",{\"id\":" : "{\"id\":");
	api_buf_json(b, id);
	api_buf_str(b, ",\"envelope\":");
	api_buf_add(b, data, len);
	api_buf_str(b, "}");
	return (b->b_err ? -1 : 0);
}

static int	 api_messages_answer(struct api_call *, size_t limit);

/* The device is known now (with what it adopted): answer the fetch. */
static void
api_admit_done(struct commit_op *op, int r)
{
	struct api_admit_op	*ao = (struct api_admit_op *)op;
	struct api		*a = ao->ad_call.ac_api;
	static const char	 empty[] = "{\"messages\":[]}";

	if (r == QS_OK) {
		api_store_ok(a);
		mr_admit_count(&ao->ad_admit, a->a_shm);
		r = api_messages_answer(&ao->ad_call, ao->ad_limit);
		if (r == QS_NOTFOUND)	/* deleted again meanwhile */
			api_reply(&ao->ad_call, 200, "application/json", NULL,
			    empty, sizeof(empty) - 1);
		else if (r != QS_OK)
			api_store_error(&ao->ad_call, r);
	} else
		api_op_failed(&ao->ad_call, r);
	free(ao);
}

static void
api_admit_submit(struct api_call *ac, size_t limit)
{
	struct api_admit_op	*ao;

	if ((ao = malloc(sizeof(*ao))) == NULL) {
		api_reply_error(ac, 503, "unavailable", "out of memory", NULL);
		return;
	}
	mr_admit_init(&ao->ad_admit, ac->ac_api->a_cfg, ac->ac_id.ai_user,
	    ac->ac_id.ai_device);
	ao->ad_call = *ac;
	ao->ad_limit = limit;
	ao->ad_admit.md_op.o_done = api_admit_done;
	commit_submit(ac->ac_api->a_commit, &ao->ad_admit.md_op);
}

/*
 * Answer GET /api/messages from the store: the messages, and the drop
 * marker read in the same txn; a last-seen time older than the touch
 * interval is refreshed in the background (nobody waits for it).  QS_OK
 * once answered, else the store's result (nothing answered).
 */
static int
api_messages_answer(struct api_call *ac, size_t limit)
{
	struct api		*a = ac->ac_api;
	struct qs_cursor	 cur;
	struct api_buf		 b;
	size_t			 count = 0;
	uint64_t		 now = util_real_ms();
	char			 num[40];
	int			 r;

	memset(&b, 0, sizeof(b));
	api_buf_str(&b, "{\"messages\":[");
	qs_cursor_init(&cur);
	r = qs_fetch_after(a->a_qs, ac->ac_id.ai_user, ac->ac_id.ai_device,
	    &cur, limit, now, api_messages_cb, &b, &count, NULL);
	if (r != QS_OK) {
		free(b.b_data);
		return (r);
	}
	api_buf_str(&b, "]");
	if (cur.qc_dropped > 0) {
		(void)snprintf(num, sizeof(num), ",\"dropped\":%lu",
		    (unsigned long)cur.qc_dropped);
		api_buf_str(&b, num);
	}
	api_buf_str(&b, "}");
	api_count(&a->a_shm->sh_api.sa_fetched, count);
	if (now >= cur.qc_seen_ms + config_touch_interval_ms(a->a_cfg))
		(void)mr_seen_submit(a->a_commit, ac->ac_id.ai_user,
		    ac->ac_id.ai_device);
	api_reply_buf(ac, 200, &b);
	return (QS_OK);
}

/*
 * api_messages: GET /api/messages.  Reads at once; a device fetching
 * for the first time is admitted through the group commit first
 * (msgrecv.c: it adopts what is held for its user) and answered after
 * that commit.
 */
void
api_messages(struct api_call *ac)
{
	size_t	 limit;
	int	 r;

	if (api_limit(ac->ac_req, &limit) == -1) {
		api_reply_error(ac, 400, "invalid_limit",
		    "limit must be an integer", NULL);
		return;
	}
	if ((r = api_messages_answer(ac, limit)) == QS_NOTFOUND)
		api_admit_submit(ac, limit);
	else if (r != QS_OK)
		api_store_error(ac, r);
}

/* ------------------------------------------------------------------ */
/* POST /api/messages/ack                                              */
/* ------------------------------------------------------------------ */

struct api_ack_op {
	struct mr_ack	 ko_ack;		/* first: op == struct */
	struct api_call	 ko_call;
};

static void
api_ack_done(struct commit_op *op, int r)
{
	struct api_ack_op	*ko = (struct api_ack_op *)op;
	struct api		*a = ko->ko_call.ac_api;

	if (r == QS_OK) {
		api_store_ok(a);
		mr_ack_count(&ko->ko_ack, a->a_shm, MR_VIA_API);
		api_reply(&ko->ko_call, 204, NULL, NULL, NULL, 0);
	} else
		api_op_failed(&ko->ko_call, r);
	mr_ack_clear(&ko->ko_ack);
	free(ko);
}

/*
 * api_ack: POST /api/messages/ack: the ack rules of msgrecv.c (400
 * invalid_request for a body they refuse); 204 after the commit.
 */
void
api_ack(struct api_call *ac)
{
	struct json_doc		 doc;
	struct api_ack_op	*ko;
	const char		*err = NULL;
	int			 r;

	if (api_parse_body(ac, &doc, -1) == -1)
		return;
	if ((ko = malloc(sizeof(*ko))) == NULL) {
		api_reply_error(ac, 503, "unavailable", "out of memory", NULL);
		return;
	}
	r = mr_ack_parse(&ko->ko_ack, &doc, 0, ac->ac_id.ai_user,
	    ac->ac_id.ai_device, &err);
	if (r != MR_OK) {
		free(ko);
		if (r == MR_NOMEM)
			api_reply_error(ac, 503, "unavailable",
			    "out of memory", NULL);
		else
			api_reply_error(ac, 400, "invalid_request", err, NULL);
		return;
	}
	ko->ko_call = *ac;
	ko->ko_ack.ma_op.o_bytes = ac->ac_req->hr_body_len;
	ko->ko_ack.ma_op.o_done = api_ack_done;
	api_call_defer(&ko->ko_call);
	commit_submit(ac->ac_api->a_commit, &ko->ko_ack.ma_op);
}

/* ------------------------------------------------------------------ */
/* Devices                                                             */
/* ------------------------------------------------------------------ */

struct api_dev_op {
	struct commit_op	 do_op;
	struct api_call	 do_call;
	uint64_t	 do_now_ms;
	char		 do_device[ID_MAX + 1];
	char		 do_platform[QS_PLATFORM_MAX + 1];
	char		 do_app_id[QS_APPID_MAX + 1];
	char		 do_token[QS_TOKEN_MAX + 1];
	size_t		 do_adopted;		/* held copies taken */
};

static int
api_devreg_apply(struct qstore *qs, struct commit_op *op)
{
	struct api_dev_op	*d = (struct api_dev_op *)op;
	struct qs_effects	 fx;
	int			 r;

	r = qs_push_register(qs, d->do_call.ac_id.ai_user, d->do_device,
	    d->do_platform, d->do_token, d->do_app_id, d->do_now_ms);
	qs_effects(qs, &fx);
	d->do_adopted = fx.ef_adopted;
	return (r);
}

static void
api_devreg_done(struct commit_op *op, int r)
{
	struct api_dev_op	*d = (struct api_dev_op *)op;
	struct api_buf		 b;

	if (r != QS_OK) {
		api_op_failed(&d->do_call, r);
		free(d);
		return;
	}
	api_store_ok(d->do_call.ac_api);
	api_count(&d->do_call.ac_api->a_shm->sh_api.sa_adopted, d->do_adopted);
	memset(&b, 0, sizeof(b));
	api_buf_str(&b, "{\"deviceId\":");
	api_buf_json(&b, d->do_device);
	api_buf_str(&b, ",\"platform\":");
	api_buf_json(&b, d->do_platform);
	api_buf_str(&b, ",\"appId\":");
	api_buf_json(&b, d->do_app_id);
	api_buf_str(&b, ",\"pushToken\":");
	api_buf_json(&b, d->do_token);
	api_buf_str(&b, "}");
	api_reply_buf(&d->do_call, 200, &b);
	explicit_bzero(d->do_token, sizeof(d->do_token));
	free(d);
}

/* The fields of a registration; deviceId defaults to the caller's. */
static int
api_devreg_fields(struct api_dev_op *d, const struct json_doc *doc)
{
	if (json_obj_get(doc, 0, "deviceId") < 0)
		memcpy(d->do_device, d->do_call.ac_id.ai_device,
		    sizeof(d->do_device));
	else if (api_member_str(doc, 0, "deviceId", d->do_device,
	    sizeof(d->do_device)) == -1 || !id_valid(d->do_device))
		return (-1);
	if (api_member_str(doc, 0, "platform", d->do_platform,
	    sizeof(d->do_platform)) == -1 ||
	    api_member_str(doc, 0, "pushToken", d->do_token,
	    sizeof(d->do_token)) == -1 ||
	    api_member_str(doc, 0, "appId", d->do_app_id,
	    sizeof(d->do_app_id)) == -1)
		return (-1);
	return (0);
}

/* api_device_register: POST /api/devices; 200 after the commit. */
void
api_device_register(struct api_call *ac)
{
	struct json_doc		 doc;
	struct api_dev_op	*d;

	if (api_parse_body(ac, &doc, -1) == -1)
		return;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		api_reply_error(ac, 503, "unavailable", "out of memory", NULL);
		return;
	}
	d->do_call = *ac;
	d->do_now_ms = util_real_ms();
	if (api_devreg_fields(d, &doc) == -1) {
		free(d);
		api_reply_error(ac, 400, "invalid_request", "the body must be "
		    "{\"deviceId\",\"platform\",\"pushToken\",\"appId\"}",
		    NULL);
		return;
	}
	d->do_op.o_bytes = ac->ac_req->hr_body_len;
	d->do_op.o_apply = api_devreg_apply;
	d->do_op.o_single = 1;
	d->do_op.o_done = api_devreg_done;
	commit_submit(ac->ac_api->a_commit, &d->do_op);
}

/* One device of the list. */
static int
api_devices_cb(void *arg, const struct qs_device *dev)
{
	struct api_buf	*b = arg;
	char		 num[160];

	api_buf_str(b, b->b_len > 12 ? ",{\"deviceId\":" : "{\"deviceId\":");
	api_buf_json(b, dev->qd_device);
	(void)snprintf(num, sizeof(num), ",\"queued\":%lu,\"createdMs\":%llu,"
	    "\"lastSeenMs\":%llu,\"push\":", (unsigned long)dev->qd_count,
	    (unsigned long long)dev->qd_created_ms,
	    (unsigned long long)dev->qd_last_seen_ms);
	api_buf_str(b, num);
	if (!dev->qd_has_push)
		api_buf_str(b, "null");
	else {
		api_buf_str(b, "{\"platform\":");
		api_buf_json(b, dev->qd_platform);
		api_buf_str(b, ",\"appId\":");
		api_buf_json(b, dev->qd_app_id);
		api_buf_str(b, "}");
	}
	api_buf_str(b, "}");
	return (b->b_err ? -1 : 0);
}

/*
 * api_device_list: GET /api/devices (reads, answered at once): the
 * caller's devices and the messages held for a device still to come.
 */
void
api_device_list(struct api_call *ac)
{
	struct api_buf	 b;
	uint32_t	 held = 0;
	char		 num[32];
	int		 r;

	memset(&b, 0, sizeof(b));
	api_buf_str(&b, "{\"devices\":[");
	r = qs_devices(ac->ac_api->a_qs, ac->ac_id.ai_user, api_devices_cb,
	    &b, NULL);
	if (r == QS_OK)
		r = qs_held_count(ac->ac_api->a_qs, ac->ac_id.ai_user, &held);
	if (r != QS_OK) {
		free(b.b_data);
		api_store_error(ac, r);
		return;
	}
	(void)snprintf(num, sizeof(num), "],\"held\":%lu}",
	    (unsigned long)held);
	api_buf_str(&b, num);
	api_reply_buf(ac, 200, &b);
}

static int
api_devdel_apply(struct qstore *qs, struct commit_op *op)
{
	struct api_dev_op	*d = (struct api_dev_op *)op;

	return (qs_device_delete(qs, d->do_call.ac_id.ai_user, d->do_device,
	    NULL));
}

static void
api_devdel_done(struct commit_op *op, int r)
{
	struct api_dev_op	*d = (struct api_dev_op *)op;

	if (r == QS_OK) {
		api_store_ok(d->do_call.ac_api);
		api_reply(&d->do_call, 204, NULL, NULL, NULL, 0);
	} else
		api_op_failed(&d->do_call, r);
	free(d);
}

/* api_device_delete: DELETE /api/devices/{id}; 204 or 404 after the
 * commit. */
void
api_device_delete(struct api_call *ac)
{
	const struct http_request	*req = ac->ac_req;
	struct api_dev_op		*d;
	size_t				 off = sizeof("/api/devices/") - 1;
	size_t				 n = req->hr_path_len - off;

	if (n > ID_MAX) {
		api_reply_error(ac, 404, "not_found", "no such device", NULL);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		api_reply_error(ac, 503, "unavailable", "out of memory", NULL);
		return;
	}
	memcpy(d->do_device, req->hr_path + off, n);
	if (!id_valid(d->do_device)) {
		free(d);
		api_reply_error(ac, 404, "not_found", "no such device", NULL);
		return;
	}
	d->do_call = *ac;
	d->do_op.o_apply = api_devdel_apply;
	d->do_op.o_single = 1;
	d->do_op.o_done = api_devdel_done;
	commit_submit(ac->ac_api->a_commit, &d->do_op);
}

/* ------------------------------------------------------------------ */
/* Expiry sweep                                                        */
/* ------------------------------------------------------------------ */

struct api_expire_op {
	struct commit_op	 xo_op;
	struct api	*xo_api;
	uint64_t	 xo_now_ms;
	size_t		 xo_expired;
};

static int
api_expire_apply(struct qstore *qs, struct commit_op *op)
{
	struct api_expire_op	*xo = (struct api_expire_op *)op;

	return (qs_expire(qs, xo->xo_now_ms, API_EXPIRE_MAX,
	    &xo->xo_expired));
}

static void
api_expire_done(struct commit_op *op, int r)
{
	struct api_expire_op	*xo = (struct api_expire_op *)op;
	struct api		*a = xo->xo_api;
	int			 again;

	a->a_expiring = 0;
	again = r == QS_OK && xo->xo_expired >= API_EXPIRE_MAX &&
	    !a->a_w->w_draining;
	if (r == QS_OK)
		api_count(&a->a_shm->sh_api.sa_expired, xo->xo_expired);
	else
		log_debug("expiry sweep failed: %s", qs_strerror(r));
	free(xo);
	if (again)		/* more to sweep: next iteration */
		api_expire_submit(a);
}

/* api_expire_submit: see api.h. */
void
api_expire_submit(struct api *a)
{
	struct api_expire_op	*xo;

	if (a->a_expiring || a->a_commit == NULL ||
	    (xo = calloc(1, sizeof(*xo))) == NULL)
		return;
	xo->xo_api = a;
	xo->xo_now_ms = util_real_ms();
	xo->xo_op.o_apply = api_expire_apply;
	xo->xo_op.o_single = 1;
	xo->xo_op.o_done = api_expire_done;
	a->a_expiring = 1;
	commit_submit(a->a_commit, &xo->xo_op);
}

/* ------------------------------------------------------------------ */
/* Idle devices                                                        */
/* ------------------------------------------------------------------ */

struct api_forget_op {
	struct commit_op	 fo_op;
	struct api	*fo_api;
	uint64_t	 fo_now_ms;
	size_t		 fo_forgotten;
	size_t		 fo_dropped;
};

/* A device with a live WebSocket is seen right now: keep it. */
static int
api_forget_keep(void *arg, const char *user, const char *device)
{
	struct presence	*pr = arg;

	return (pr != NULL && pr_lookup_device(pr, user, device, NULL) > 0);
}

static int
api_forget_apply(struct qstore *qs, struct commit_op *op)
{
	struct api_forget_op	*fo = (struct api_forget_op *)op;
	struct api		*a = fo->fo_api;

	return (qs_forget_idle(qs, fo->fo_now_ms,
	    (uint64_t)a->a_cfg->cf_device_idle_ttl, API_FORGET_SCAN,
	    api_forget_keep, a->a_w->w_pr, &fo->fo_forgotten,
	    &fo->fo_dropped));
}

static void
api_forget_done(struct commit_op *op, int r)
{
	struct api_forget_op	*fo = (struct api_forget_op *)op;
	struct api		*a = fo->fo_api;

	a->a_forgetting = 0;
	if (r != QS_OK)
		log_debug("idle device sweep failed: %s", qs_strerror(r));
	else if (fo->fo_forgotten > 0) {
		api_count(&a->a_shm->sh_api.sa_forgotten, fo->fo_forgotten);
		log_info("forgot %zu devices not seen for device_idle_ttl=%llds "
		    "with %zu queued messages", fo->fo_forgotten,
		    (long long)(a->a_cfg->cf_device_idle_ttl / 1000),
		    fo->fo_dropped);
	}
	free(fo);
}

/* api_forget_submit: see api.h. */
void
api_forget_submit(struct api *a)
{
	struct api_forget_op	*fo;

	if (a->a_forgetting || a->a_commit == NULL ||
	    (fo = calloc(1, sizeof(*fo))) == NULL)
		return;
	fo->fo_api = a;
	fo->fo_now_ms = util_real_ms();
	fo->fo_op.o_apply = api_forget_apply;
	fo->fo_op.o_single = 1;
	fo->fo_op.o_done = api_forget_done;
	a->a_forgetting = 1;
	commit_submit(a->a_commit, &fo->fo_op);
}
