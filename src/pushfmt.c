/*
 * pushfmt.c: push gateway request bodies and answers (contracts in
 * pushfmt.h).  routingd links it for the process that will send pushes;
 * nothing calls it yet.  Owns nothing: no I/O, no logging, no
 * allocation, no state between calls.
 *
 * Invariants: a body is built only from the four fields of struct
 * pf_push (app id, token, unread count, priority) plus constants, so no
 * message data can reach a gateway through it; every string goes through
 * json_put_string() (escaped, UTF-8 checked); every write is checked
 * against the capacity, keeping room for the NUL.  Answers are parsed
 * with json_parse() into a token array on the stack.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "pushfmt.h"

/* An output buffer being filled; pb_err sticks once a write fails. */
struct pf_buf {
	char		*pb_buf;
	size_t		 pb_cap;
	size_t		 pb_off;
	int		 pb_err;
};

/* Append s (no escaping), keeping room for the NUL. */
static void
pf_raw(struct pf_buf *b, const char *s)
{
	size_t	 n = strlen(s);

	if (b->pb_err || n >= b->pb_cap - b->pb_off) {
		b->pb_err = 1;
		return;
	}
	memcpy(b->pb_buf + b->pb_off, s, n + 1);
	b->pb_off += n;
}

/* Append s as a JSON string literal. */
static void
pf_str(struct pf_buf *b, const char *s)
{
	if (b->pb_err || json_put_string(b->pb_buf, b->pb_cap, &b->pb_off, s,
	    strlen(s)) == -1)
		b->pb_err = 1;
}

/* Append v in decimal. */
static void
pf_u32(struct pf_buf *b, uint32_t v)
{
	char	 num[16];

	(void)snprintf(num, sizeof(num), "%" PRIu32, v);
	pf_raw(b, num);
}

static void
pf_matrix(struct pf_buf *b, const struct pf_push *p)
{
	pf_raw(b, "{\"notification\":{\"prio\":");
	pf_raw(b, p->pp_high ? "\"high\"" : "\"low\"");
	pf_raw(b, ",\"counts\":{\"unread\":");
	pf_u32(b, p->pp_unread);
	pf_raw(b, "},\"devices\":[{\"app_id\":");
	pf_str(b, p->pp_app_id);
	pf_raw(b, ",\"pushkey\":");
	pf_str(b, p->pp_token);
	pf_raw(b, ",\"pushkey_ts\":0}]}}");
}

static void
pf_gorush(struct pf_buf *b, const struct pf_push *p, int platform)
{
	pf_raw(b, "{\"notifications\":[{\"tokens\":[");
	pf_str(b, p->pp_token);
	pf_raw(b, "],\"platform\":");
	pf_u32(b, (uint32_t)platform);
	pf_raw(b, ",\"badge\":");
	pf_u32(b, p->pp_unread);
	pf_raw(b, ",\"priority\":");
	pf_raw(b, p->pp_high ? "\"high\"" : "\"normal\"");
	pf_raw(b, ",\"content_available\":true");
	if (platform == PF_GORUSH_IOS) {
		pf_raw(b, ",\"topic\":");
		pf_str(b, p->pp_app_id);
	}
	pf_raw(b, "}]}");
}

int
pf_request(enum pf_format fmt, const struct pf_push *p, char *buf,
    size_t cap, size_t *len)
{
	struct pf_buf	 b = { buf, cap, 0, 0 };
	int		 platform = 0;

	if (p->pp_app_id == NULL || p->pp_app_id[0] == '\0' ||
	    p->pp_token == NULL || p->pp_token[0] == '\0' || cap == 0)
		return (-1);
	switch (fmt) {
	case PF_MATRIX:
		pf_matrix(&b, p);
		break;
	case PF_GORUSH:
		if ((platform = pf_gorush_platform(p->pp_platform)) == 0)
			return (-1);
		pf_gorush(&b, p, platform);
		break;
	default:
		return (-1);
	}
	if (b.pb_err)
		return (-1);
	*len = b.pb_off;
	return (0);
}

/* 1 if some element of array arr is the string token, 0 if none is, -1
 * if an element is not a string. */
static int
pf_matrix_listed(const struct json_doc *doc, int arr, const char *token)
{
	size_t	 tlen = strlen(token);
	int	 i, e, found = 0;

	for (i = 0, e = arr + 1; i < json_size(doc, arr);
	    i++, e = json_next(doc, e)) {
		if (json_type(doc, e) != JSON_STRING)
			return (-1);
		if (json_str_eq(doc, e, token, tlen))
			found = 1;
	}
	return (found);
}

static int
pf_matrix_rejected(const struct json_doc *doc, const char *token)
{
	int	 arr;

	if ((arr = json_obj_get(doc, 0, "rejected")) == -1 ||
	    json_type(doc, arr) != JSON_ARRAY)
		return (-1);
	return (pf_matrix_listed(doc, arr, token));
}

/* 1 if log entry e (an object) is a failed push for token. */
static int
pf_gorush_failed(const struct json_doc *doc, int e, const char *token)
{
	static const char	 failed[] = "failed-push";
	int			 ty, tk;

	ty = json_obj_get(doc, e, "type");
	tk = json_obj_get(doc, e, "token");
	return (json_str_eq(doc, ty, failed, sizeof(failed) - 1) &&
	    json_str_eq(doc, tk, token, strlen(token)));
}

static int
pf_gorush_rejected(const struct json_doc *doc, const char *token)
{
	int	 logs, i, e, found = 0;

	if ((logs = json_obj_get(doc, 0, "logs")) == -1)
		return (-1);
	if (json_type(doc, logs) == JSON_NULL)
		return (0);
	if (json_type(doc, logs) != JSON_ARRAY)
		return (-1);
	for (i = 0, e = logs + 1; i < json_size(doc, logs);
	    i++, e = json_next(doc, e)) {
		if (json_type(doc, e) != JSON_OBJECT)
			return (-1);
		if (pf_gorush_failed(doc, e, token))
			found = 1;
	}
	return (found);
}

int
pf_rejected(enum pf_format fmt, const char *body, size_t len,
    const char *token)
{
	jsmntok_t	 tok[PF_RESPONSE_TOKENS];
	struct json_doc	 doc;
	const char	*err;

	if (len == 0)
		return (0);
	if (json_parse(&doc, body, len, tok, PF_RESPONSE_TOKENS,
	    PF_RESPONSE_DEPTH, &err) == -1 ||
	    json_type(&doc, 0) != JSON_OBJECT)
		return (-1);
	switch (fmt) {
	case PF_MATRIX:
		return (pf_matrix_rejected(&doc, token));
	case PF_GORUSH:
		return (pf_gorush_rejected(&doc, token));
	default:
		return (-1);
	}
}

/* 1 if a equals b regardless of the ASCII case of a (b is lower case). */
static int
pf_name_eq(const char *a, const char *b)
{
	unsigned char	 c;

	for (; *a != '\0' && *b != '\0'; a++, b++) {
		c = (unsigned char)*a;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)*b)
			return (0);
	}
	return (*a == '\0' && *b == '\0');
}

int
pf_gorush_platform(const char *platform)
{
	static const struct {
		const char	*name;
		int		 num;
	} map[] = {
		{ "apns", PF_GORUSH_IOS },
		{ "ios", PF_GORUSH_IOS },
		{ "fcm", PF_GORUSH_ANDROID },
		{ "gcm", PF_GORUSH_ANDROID },
		{ "android", PF_GORUSH_ANDROID },
		{ "hms", PF_GORUSH_HUAWEI },
		{ "huawei", PF_GORUSH_HUAWEI },
	};
	size_t	 i;

	if (platform == NULL)
		return (0);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (pf_name_eq(platform, map[i].name))
			return (map[i].num);
	return (0);
}

int
pf_platform_ok(enum pf_format fmt, const char *platform)
{
	switch (fmt) {
	case PF_MATRIX:
		return (1);
	case PF_GORUSH:
		return (pf_gorush_platform(platform) != 0);
	default:
		return (0);
	}
}
