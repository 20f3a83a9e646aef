/*
 * envelope.c: validation and normalisation of client envelopes, run by the
 * API worker for POST /api/send and by the WS worker for "send" frames
 * (both through msgsend.c).
 *
 * Owns nothing but the normalised text it returns.  Invariants: what it
 * accepts is exactly the envelope of routingd(8) (recipientId and
 * encryptedData required, base64 fields strict, priority 0-9, isEphemeral
 * boolean, senderId equal to the caller); what it stores is a fresh
 * serialisation holding only those members, so unknown members, duplicate
 * spellings ("\u0061" escapes) and odd whitespace never reach the queue.
 * Low-level module: it never logs.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "envelope.h"
#include "ids.h"
#include "json.h"

/* The base64 members: name and whether it is required. */
static const struct env_b64_field {
	const char	*ef_name;
	int		 ef_required;
} env_b64_fields[] = {
	{ "encryptedData",		1 },
	{ "encryptedSymmetricKey",	0 },
	{ "signature",			0 },
};
#define ENV_NB64	(sizeof(env_b64_fields) / sizeof(env_b64_fields[0]))

/* The parts of one envelope while it is checked. */
struct env_parts {
	char		*ep_b64[ENV_NB64];	/* unescaped, or NULL */
	size_t		 ep_b64len[ENV_NB64];
	int		 ep_has_sender;
	char		 ep_sender[ID_MAX + 1];
};

static void
env_parts_free(struct env_parts *p)
{
	size_t	 i;

	for (i = 0; i < ENV_NB64; i++)
		free(p->ep_b64[i]);
	memset(p, 0, sizeof(*p));
}

static int
env_fail(const char **errstr, const char *why, int result)
{
	if (errstr != NULL)
		*errstr = why;
	return (result);
}

/* 1 if member tok is absent or null. */
static int
env_absent(const struct json_doc *doc, int tok)
{
	return (tok < 0 || json_type(doc, tok) == JSON_NULL);
}

/* Unescape an id-valued string member into out (ID_MAX + 1 bytes). */
static int
env_get_id(const struct json_doc *doc, int tok, char *out)
{
	const char	*err;

	if (json_type(doc, tok) != JSON_STRING ||
	    json_get_string(doc, tok, out, ID_MAX + 1, NULL, &err) == -1 ||
	    !id_valid(out))
		return (-1);
	return (0);
}

/*
 * One base64 member: absent (ok unless required), else a non-empty strict
 * base64 string, kept unescaped in p.  ENV_OK or an env_result.
 */
static int
env_get_b64(const struct json_doc *doc, int obj, size_t i,
    struct env_parts *p, const char **errstr)
{
	const struct env_b64_field	*f = &env_b64_fields[i];
	const char			*err;
	size_t				 rawlen;
	int				 tok;

	tok = json_obj_get(doc, obj, f->ef_name);
	if (env_absent(doc, tok))
		return (f->ef_required ? env_fail(errstr,
		    "encryptedData is required", ENV_INVALID) : ENV_OK);
	if (json_type(doc, tok) != JSON_STRING ||
	    json_raw(doc, tok, &rawlen) == NULL)
		return (env_fail(errstr, "a base64 member is not a string",
		    ENV_INVALID));
	if ((p->ep_b64[i] = malloc(rawlen + 1)) == NULL)
		return (env_fail(errstr, "out of memory", ENV_NOMEM));
	if (json_get_string(doc, tok, p->ep_b64[i], rawlen + 1,
	    &p->ep_b64len[i], &err) == -1)
		return (env_fail(errstr, "a base64 member is not base64",
		    ENV_INVALID));
	if (p->ep_b64len[i] == 0)
		return (env_fail(errstr, "a base64 member is empty",
		    ENV_INVALID));
	if (b64_valid(p->ep_b64[i], p->ep_b64len[i]) == -1)
		return (env_fail(errstr, "a base64 member is not base64",
		    ENV_INVALID));
	return (ENV_OK);
}

/* isEphemeral and priority, with their defaults. */
static int
env_get_flags(const struct json_doc *doc, int obj, struct env_msg *m,
    const char **errstr)
{
	const char	*err;
	int64_t		 prio;
	int		 tok;

	m->em_ephemeral = 0;
	m->em_priority = 0;
	tok = json_obj_get(doc, obj, "isEphemeral");
	if (!env_absent(doc, tok) &&
	    json_get_bool(doc, tok, &m->em_ephemeral, &err) == -1)
		return (env_fail(errstr, "isEphemeral is not a boolean",
		    ENV_INVALID));
	tok = json_obj_get(doc, obj, "priority");
	if (!env_absent(doc, tok)) {
		if (json_type(doc, tok) != JSON_NUMBER ||
		    json_get_int64(doc, tok, &prio, &err) == -1 ||
		    prio < 0 || prio > PRIO_MAX)
			return (env_fail(errstr,
			    "priority is not an integer 0 to 9", ENV_INVALID));
		m->em_priority = (int)prio;
	}
	return (ENV_OK);
}

/* recipientId and senderId. */
static int
env_get_ids(const struct json_doc *doc, int obj, const char *caller,
    struct env_msg *m, struct env_parts *p, const char **errstr)
{
	int	 tok;

	tok = json_obj_get(doc, obj, "recipientId");
	if (tok < 0 || env_get_id(doc, tok, m->em_recipient) == -1)
		return (env_fail(errstr, "recipientId is missing or not a "
		    "valid id", ENV_INVALID));
	tok = json_obj_get(doc, obj, "senderId");
	if (env_absent(doc, tok))
		return (ENV_OK);
	if (json_type(doc, tok) != JSON_STRING)
		return (env_fail(errstr, "senderId is not a string",
		    ENV_INVALID));
	if (env_get_id(doc, tok, p->ep_sender) == -1 ||
	    strcmp(p->ep_sender, caller) != 0)
		return (env_fail(errstr, "senderId is not the caller",
		    ENV_SENDER_MISMATCH));
	p->ep_has_sender = 1;
	return (ENV_OK);
}

/* Append "s" for s (len bytes) that needs no escaping: validated base64. */
static int
env_put_b64(char *out, size_t cap, size_t *off, const char *s, size_t len)
{
	if (len + 2 >= cap - *off)
		return (-1);
	out[*off] = '"';
	memcpy(out + *off + 1, s, len);
	out[*off + 1 + len] = '"';
	*off += len + 2;
	out[*off] = '\0';
	return (0);
}

static int
env_put_raw(char *out, size_t cap, size_t *off, const char *s)
{
	size_t	 n = strlen(s);

	if (n >= cap - *off)
		return (-1);
	memcpy(out + *off, s, n + 1);
	*off += n;
	return (0);
}

/* The bytes env_render() needs at most, NUL included. */
static size_t
env_render_size(const struct env_msg *m, const struct env_parts *p)
{
	size_t	 i, n = 160;

	n += json_escaped_len(m->em_recipient, strlen(m->em_recipient));
	for (i = 0; i < ENV_NB64; i++)
		if (p->ep_b64[i] != NULL)
			n += strlen(env_b64_fields[i].ef_name) + 8 +
			    p->ep_b64len[i];
	if (p->ep_has_sender)
		n += json_escaped_len(p->ep_sender, strlen(p->ep_sender));
	return (n);
}

/* Write the normalised object into out.  0 or -1 (no room). */
static int
env_render(const struct env_msg *m, const struct env_parts *p, char *out,
    size_t cap)
{
	char	 tail[64];
	size_t	 off = 0, i;

	if (env_put_raw(out, cap, &off, "{\"recipientId\":") == -1 ||
	    json_put_string(out, cap, &off, m->em_recipient,
	    strlen(m->em_recipient)) == -1)
		return (-1);
	for (i = 0; i < ENV_NB64; i++) {
		if (p->ep_b64[i] == NULL)
			continue;
		if (env_put_raw(out, cap, &off, ",\"") == -1 ||
		    env_put_raw(out, cap, &off, env_b64_fields[i].ef_name) ==
		    -1 || env_put_raw(out, cap, &off, "\":") == -1 ||
		    env_put_b64(out, cap, &off, p->ep_b64[i],
		    p->ep_b64len[i]) == -1)
			return (-1);
	}
	(void)snprintf(tail, sizeof(tail), ",\"isEphemeral\":%s,"
	    "\"priority\":%d", m->em_ephemeral ? "true" : "false",
	    m->em_priority);
	if (env_put_raw(out, cap, &off, tail) == -1)
		return (-1);
	if (p->ep_has_sender && (env_put_raw(out, cap, &off,
	    ",\"senderId\":") == -1 || json_put_string(out, cap, &off,
	    p->ep_sender, strlen(p->ep_sender)) == -1))
		return (-1);
	return (env_put_raw(out, cap, &off, "}"));
}

/* Check every member into m and p.  ENV_OK or an env_result. */
static int
env_check(const struct json_doc *doc, int t, const char *caller,
    struct env_msg *m, struct env_parts *p, const char **errstr)
{
	size_t	 i;
	int	 r;

	if (json_type(doc, t) != JSON_OBJECT)
		return (env_fail(errstr, "an envelope is not an object",
		    ENV_INVALID));
	if ((r = env_get_ids(doc, t, caller, m, p, errstr)) != ENV_OK)
		return (r);
	for (i = 0; i < ENV_NB64; i++)
		if ((r = env_get_b64(doc, t, i, p, errstr)) != ENV_OK)
			return (r);
	return (env_get_flags(doc, t, m, errstr));
}

/* env_parse: see envelope.h. */
int
env_parse(const struct json_doc *doc, int t, const char *caller,
    struct env_msg *m, const char **errstr)
{
	struct env_parts	 p;
	size_t			 cap;
	int			 r;

	memset(m, 0, sizeof(*m));
	memset(&p, 0, sizeof(p));
	if ((r = env_check(doc, t, caller, m, &p, errstr)) != ENV_OK)
		goto fail;
	cap = env_render_size(m, &p);
	if ((m->em_data = malloc(cap)) == NULL) {
		r = env_fail(errstr, "out of memory", ENV_NOMEM);
		goto fail;
	}
	if (env_render(m, &p, m->em_data, cap) == -1) {
		r = env_fail(errstr, "an envelope member is not UTF-8",
		    ENV_INVALID);
		goto fail;
	}
	m->em_len = strlen(m->em_data);
	env_parts_free(&p);
	return (ENV_OK);
fail:
	env_parts_free(&p);
	env_msg_clear(m);
	return (r);
}

/* env_msg_clear: see envelope.h. */
void
env_msg_clear(struct env_msg *m)
{
	free(m->em_data);
	memset(m, 0, sizeof(*m));
}
