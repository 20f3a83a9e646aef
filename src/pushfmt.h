/*
 * pushfmt.h: the request bodies routingd sends to a push gateway and the
 * reading of the gateway's answers, for two gateway dialects: the Matrix
 * push gateway API (POST /_matrix/push/v1/notify, as Sygnal serves it)
 * and gorush (POST /api/push).  Pure code: no I/O, no logging, no
 * allocation; the caller owns every buffer.
 *
 * A push says only that there is something to fetch: the app id, the
 * device's push token, an unread count and a priority.  It never carries
 * ciphertext, a sender, a message id or any other trace of a message (the
 * router cannot read the messages and must not leak their metadata to a
 * third party).
 */

#ifndef PUSHFMT_H
#define PUSHFMT_H

#include <stddef.h>
#include <stdint.h>

/* The Content-Type of every request body pf_request() writes. */
#define PF_CONTENT_TYPE		"application/json"

enum pf_format {
	PF_MATRIX = 0,		/* Matrix push gateway API, v1 */
	PF_GORUSH		/* gorush /api/push */
};

/* gorush's platform numbers (its "platform" member). */
#define PF_GORUSH_IOS		1	/* APNs */
#define PF_GORUSH_ANDROID	2	/* FCM */
#define PF_GORUSH_HUAWEI	3	/* HMS */

/* One push to one device.  Every string is NUL-terminated and UTF-8. */
struct pf_push {
	const char	*pp_app_id;
	const char	*pp_token;	/* the pushkey / device token */
	const char	*pp_platform;	/* as the device registered it */
	uint32_t	 pp_unread;
	int		 pp_high;	/* high priority */
};

/*
 * pf_request: the JSON request body for one push into buf (cap bytes);
 * *len its length (no NUL counted; buf is NUL-terminated when it fits).
 *
 * PF_MATRIX writes
 *	{"notification":{"prio":P,"counts":{"unread":N},
 *	"devices":[{"app_id":A,"pushkey":T,"pushkey_ts":0}]}}
 * with P "high" or "low" (pp_platform is not used and may be NULL).
 * PF_GORUSH writes
 *	{"notifications":[{"tokens":[T],"platform":N,"badge":U,
 *	"priority":P,"content_available":true,"topic":A}]}
 * with P "high" or "normal" and N from pp_platform as pf_platform_ok()
 * maps it; "topic" (the APNs topic, i.e. the app's bundle id) only for
 * iOS: gorush sends an Android or Huawei notification that has a topic to
 * that FCM/HMS topic's subscribers instead of to the token.
 *
 * Returns 0, or -1 when it does not fit, a string is not valid UTF-8, the
 * app id or the token is NULL or empty, or (PF_GORUSH) the platform is
 * not one gorush can address; *len is set only on success and buf holds
 * nothing useful after a failure.
 */
int	pf_request(enum pf_format, const struct pf_push *, char *buf,
	    size_t cap, size_t *len);

/*
 * pf_rejected: 1 when the gateway's 2xx response body says token was
 * rejected (Matrix: listed in "rejected"; gorush: a failed log entry for
 * the token), 0 when not (also for an empty body), -1 when the body is
 * not the JSON this format answers.
 *
 * Tokens are compared whole, after unescaping (a token that is a prefix
 * of a rejected one is not rejected).  PF_MATRIX wants an object whose
 * "rejected" is an array of strings.  PF_GORUSH wants an object whose
 * "logs" is null or an array of objects; an entry rejects the token when
 * its "type" is "failed-push" and its "token" is the token (gorush
 * configured to hide tokens in its logs therefore never reports a
 * rejection).  Other members are ignored.  A body needing more than
 * PF_RESPONSE_TOKENS JSON tokens or nested deeper than PF_RESPONSE_DEPTH
 * is -1.  body need not be NUL-terminated; token must be.
 */
#define PF_RESPONSE_TOKENS	512
#define PF_RESPONSE_DEPTH	8
int	pf_rejected(enum pf_format, const char *body, size_t len,
	    const char *token);

/*
 * pf_platform_ok: whether gorush can address platform: "apns" or "ios"
 * (APNs), "fcm", "gcm" or "android" (FCM), "hms" or "huawei" (HMS),
 * compared without regard to ASCII case; 0 for anything else, NULL
 * included.  For PF_MATRIX always 1 (the gateway routes by app id).
 */
int	pf_platform_ok(enum pf_format, const char *platform);

/*
 * pf_gorush_platform: gorush's platform number for platform (the names
 * pf_platform_ok() accepts): PF_GORUSH_IOS, PF_GORUSH_ANDROID or
 * PF_GORUSH_HUAWEI, or 0 when gorush cannot address it.
 */
int	pf_gorush_platform(const char *platform);

#endif /* PUSHFMT_H */
