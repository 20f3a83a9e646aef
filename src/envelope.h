/*
 * envelope.h: validation and normalisation of client envelopes (the
 * envelope of routingd(8)).  Pure code: no I/O, no logging; the only
 * allocation is the
 * normalised text, owned by the struct env_msg it is returned in.
 */

#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stddef.h>

#include "ids.h"
#include "json.h"

#define ENV_MAX_BATCH		100	/* envelopes per POST /api/send */

enum env_result {
	ENV_OK = 0,
	ENV_INVALID = -1,		/* 400 invalid_envelope */
	ENV_SENDER_MISMATCH = -2,	/* 403 sender_mismatch */
	ENV_NOMEM = -3,			/* 503 */
	ENV_TOO_LARGE = -4		/* 413 too_large */
};

/*
 * One validated envelope.  em_data holds the normalised JSON object (a
 * malloc'd NUL-terminated string of em_len bytes) with only the known
 * members, in a fixed order: recipientId, encryptedData, then
 * encryptedSymmetricKey and signature when given, isEphemeral and
 * priority always (defaults false and 0), senderId when given.  Release
 * with env_msg_clear().
 */
struct env_msg {
	char		 em_recipient[ID_MAX + 1];
	int		 em_priority;		/* 0..PRIO_MAX */
	int		 em_ephemeral;
	char		*em_data;
	size_t		 em_len;
};

/*
 * env_parse: validate the envelope object at token t of doc for a caller
 * whose user id is caller (NUL-terminated): recipientId a valid id (see
 * id_valid), encryptedData a non-empty strict base64 string (standard
 * or URL-safe alphabet, padded or not), encryptedSymmetricKey and
 * signature the same but optional (null counts as absent), isEphemeral a
 * boolean, priority an integer 0..9, senderId a string equal to caller.
 * Other members are ignored and dropped.  On ENV_OK *m is filled (the
 * caller frees it with env_msg_clear); otherwise *m holds nothing to free
 * and *errstr (may be NULL) names the problem in a static text.
 */
int		 env_parse(const struct json_doc *doc, int t,
		    const char *caller, struct env_msg *m,
		    const char **errstr);

/* env_msg_clear: free what env_parse() put in m and zero it. */
void		 env_msg_clear(struct env_msg *m);

#endif /* ENVELOPE_H */
