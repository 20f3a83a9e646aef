/*
 * config.c: the configuration of routingd: the key table, the parser of
 * routingd.conf, the validator and the writer of the effective values.
 *
 * Runs in the supervisor (at start and on every SIGHUP) and in
 * `routingd -n`; workers only read the struct config built here.  This
 * file owns struct config and everything hanging off it (strings, lists,
 * the private origin record saying where each key was set).
 *
 * Invariants:
 * - config_keys[] is the one source of truth: every key with its type,
 *   field, range, default text and flags.  It is sorted by name (searched
 *   with bsearch; the unit test checks the order).  Defaults are applied
 *   by parsing the default text with the same setters as the file, so a
 *   default can neither drift from the documentation nor escape a check.
 * - A setter changes its field only when the whole value is valid: a bad
 *   line leaves the previous (default) value in place.
 * - Low-level module: it never logs and never exits.  Every problem goes
 *   into struct cfg_errors as "file:line: text" and the caller logs them
 *   once.  libc only: the unit test links this file alone.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "paths.h"
#include "routingd.h"

#define CFG_SEC		1000LL			/* ms */
#define CFG_MIN		(60 * CFG_SEC)		/* ms */
#define CFG_HOUR	(60 * CFG_MIN)		/* ms */
#define CFG_DAY		(24 * CFG_HOUR)		/* ms */
#define CFG_KIB		1024LL			/* bytes */
#define CFG_MIB		(1024 * CFG_KIB)	/* bytes */
#define CFG_GIB		(1024 * CFG_MIB)	/* bytes */

#define CFG_MAX_LINE	4096		/* bytes per line, newline excluded */
#define CFG_MAX_FILE	(1024 * 1024)	/* bytes per config file */
#define CFG_MAX_SECRET	(64 * 1024)	/* bytes per jwt_secret_file */
#define CFG_MAX_ORIGINS	256		/* items in cors_origins */
#define CFG_MAX_CLAIM	64		/* bytes of a claim name */
#define CFG_MAX_KEYLEN	64		/* bytes of a key name */
#define CFG_MAX_GROUP	255		/* bytes of a group name */
#define CFG_PATH_MAX	(PATH_MAX - 1)	/* bytes of a path */
/* bytes of a UNIX socket path, NUL excluded (107 on Linux) */
#define CFG_SUN_MAX	\
	((long long)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define CFG_EXCERPT	64		/* bytes of a value quoted in errors */
#define CFG_WHYLEN	CFG_ERRLEN	/* bytes of a setter's reason */

#define CFG_STR(x)	CFG_STR2(x)
#define CFG_STR2(x)	#x
#define CFG_FIELD(f)	offsetof(struct config, f), \
			sizeof(((struct config *)0)->f)
#define CFG_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

enum config_type {
	CFG_T_INT,		/* decimal integer */
	CFG_T_DURATION,		/* integer + ms|s|m|h|d, stored in ms */
	CFG_T_SIZE,		/* integer + k|m|g [b], stored in bytes */
	CFG_T_LISTEN,		/* HOST:PORT, struct listen_addr */
	CFG_T_STRING,		/* char *, k_min..k_max bytes */
	CFG_T_PATH,		/* char *, k_min..k_max bytes */
	CFG_T_LIST,		/* struct strlist of origins, k_max items */
	CFG_T_ENUM		/* int, one of k_enum */
};

#define CFG_F_SECRET	0x01	/* never echoed, written as <hidden> */
#define CFG_F_READABLE	0x02	/* validate: readable regular file */
#define CFG_F_KEYFILE	0x04	/* validate: holds >= 32 secret bytes */
#define CFG_F_GROUP	0x08	/* validate: a group on this system */
#define CFG_F_CLAIM	0x10	/* [A-Za-z0-9_.:-] only */
#define CFG_F_URL	0x20	/* http:// or https:// URL with a host */
#define CFG_F_SOCKET	0x40	/* length bound is the sun_path size */
#define CFG_F_UNSERVED	0x80	/* checked, but its feature is not served
				   by this release (config_unserved) */
#define CFG_F_RESTART	0x100	/* a reload keeps the running value: only
				   a restart applies it (config_changed) */

struct config_enum {
	const char	*e_name;
	int		 e_value;
};

struct config_key {
	const char		*k_name;
	enum config_type	 k_type;
	size_t			 k_off;		/* in struct config */
	size_t			 k_size;	/* of the field */
	long long		 k_min;		/* value, length or items */
	long long		 k_max;
	const char		*k_def;		/* NULL: unset */
	const char		*k_local;	/* config_new(1); NULL: k_def */
	int			 k_flags;	/* CFG_F_* */
	const struct config_enum *k_enum;	/* CFG_T_ENUM values */
};

static const struct config_enum config_enum_log_level[] = {
	{ "debug",	CFG_LOG_DEBUG },
	{ "info",	CFG_LOG_INFO },
	{ "notice",	CFG_LOG_NOTICE },
	{ "warning",	CFG_LOG_WARNING },
	{ "error",	CFG_LOG_ERR },
	{ NULL,		0 }
};

static const struct config_enum config_enum_yes_no[] = {
	{ "no",		0 },
	{ "yes",	1 },
	{ NULL,		0 }
};

static const struct config_enum config_enum_tls_version[] = {
	{ "1.2",	12 },
	{ "1.3",	13 },
	{ NULL,		0 }
};

static const struct config_enum config_enum_push_format[] = {
	{ "matrix",	PUSH_FORMAT_MATRIX },
	{ "gorush",	PUSH_FORMAT_GORUSH },
	{ NULL,		0 }
};

/*
 * Every key.  KEEP SORTED BY NAME (bsearch).  Columns: name, type, field,
 * min, max (value for numbers, bytes for strings, items for lists), default
 * text, local default text, flags, enum values.  A key added here must be
 * documented in man/routingd.conf.5.in and etc/routingd.conf.
 */
static const struct config_key config_keys[] = {
	{ "api_listen", CFG_T_LISTEN, CFG_FIELD(cf_api_listen),
	    0, 0, DEFAULT_API_LISTEN, NULL, 0, NULL },
	{ "api_workers", CFG_T_INT, CFG_FIELD(cf_api_workers),
	    1, MAX_WORKERS_PER_ROLE, CFG_STR(DEFAULT_API_WORKERS), NULL, 0,
	    NULL },
	{ "client_body_timeout", CFG_T_DURATION,
	    CFG_FIELD(cf_client_body_timeout),
	    100, CFG_HOUR, "30s", NULL, 0, NULL },
	{ "client_header_timeout", CFG_T_DURATION,
	    CFG_FIELD(cf_client_header_timeout),
	    100, 10 * CFG_MIN, "10s", NULL, 0, NULL },
	{ "control_socket", CFG_T_PATH, CFG_FIELD(cf_control_socket),
	    1, CFG_SUN_MAX, ROUTINGD_SOCKET, LOCAL_DATA_DIR "/"
	    LOCAL_SOCKET_NAME, CFG_F_SOCKET, NULL },
	{ "control_socket_group", CFG_T_STRING,
	    CFG_FIELD(cf_control_socket_group),
	    1, CFG_MAX_GROUP, NULL, NULL, CFG_F_GROUP, NULL },
	{ "cors_origins", CFG_T_LIST, CFG_FIELD(cf_cors_origins),
	    1, CFG_MAX_ORIGINS, NULL, NULL, 0, NULL },
	{ "data_dir", CFG_T_PATH, CFG_FIELD(cf_data_dir),
	    1, CFG_PATH_MAX, ROUTINGD_STATEDIR, LOCAL_DATA_DIR, CFG_F_RESTART,
	    NULL },
	{ "device_idle_ttl", CFG_T_DURATION, CFG_FIELD(cf_device_idle_ttl),
	    0, 3650 * CFG_DAY, "30d", NULL, 0, NULL },
	{ "heartbeat_timeout", CFG_T_DURATION,
	    CFG_FIELD(cf_heartbeat_timeout),
	    CFG_SEC, 10 * CFG_MIN, "10s", NULL, 0, NULL },
	{ "jwt_audience", CFG_T_STRING, CFG_FIELD(cf_jwt_audience),
	    1, CFG_MAX_LINE, NULL, NULL, 0, NULL },
	{ "jwt_device_claim", CFG_T_STRING, CFG_FIELD(cf_jwt_device_claim),
	    1, CFG_MAX_CLAIM, "device_id", NULL, CFG_F_CLAIM, NULL },
	{ "jwt_es256_low_s", CFG_T_ENUM, CFG_FIELD(cf_jwt_es256_low_s),
	    0, 0, "no", NULL, 0, config_enum_yes_no },
	{ "jwt_issuer", CFG_T_STRING, CFG_FIELD(cf_jwt_issuer),
	    1, CFG_MAX_LINE, NULL, NULL, 0, NULL },
	{ "jwt_jwks_file", CFG_T_PATH, CFG_FIELD(cf_jwt_jwks_file),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE, NULL },
	{ "jwt_secret", CFG_T_STRING, CFG_FIELD(cf_jwt_secret),
	    LOCAL_SECRET_BYTES, CFG_MAX_LINE, NULL, NULL, CFG_F_SECRET, NULL },
	{ "jwt_secret_file", CFG_T_PATH, CFG_FIELD(cf_jwt_secret_file),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE | CFG_F_KEYFILE,
	    NULL },
	{ "jwt_user_claim", CFG_T_STRING, CFG_FIELD(cf_jwt_user_claim),
	    1, CFG_MAX_CLAIM, "sub", NULL, CFG_F_CLAIM, NULL },
	{ "keepalive_timeout", CFG_T_DURATION,
	    CFG_FIELD(cf_keepalive_timeout),
	    0, CFG_HOUR, "60s", NULL, 0, NULL },
	{ "log_file", CFG_T_PATH, CFG_FIELD(cf_log_file),
	    1, CFG_PATH_MAX, NULL, NULL, 0, NULL },
	{ "log_level", CFG_T_ENUM, CFG_FIELD(cf_log_level),
	    0, 0, "info", NULL, 0, config_enum_log_level },
	{ "max_clients", CFG_T_INT, CFG_FIELD(cf_max_clients),
	    1, 1000000, "10000", NULL, 0, NULL },
	{ "max_connections_per_device", CFG_T_INT,
	    CFG_FIELD(cf_max_connections_per_device),
	    1, 64, "1", NULL, 0, NULL },
	{ "max_envelope_bytes", CFG_T_SIZE, CFG_FIELD(cf_max_envelope_bytes),
	    CFG_KIB, 16 * CFG_MIB, "256k", NULL, 0, NULL },
	{ "message_ttl", CFG_T_DURATION, CFG_FIELD(cf_message_ttl),
	    CFG_SEC, 3650 * CFG_DAY, "30d", NULL, 0, NULL },
	{ "push_coalesce", CFG_T_DURATION, CFG_FIELD(cf_push_coalesce),
	    0, CFG_HOUR, "10s", NULL, 0, NULL },
	{ "push_delay_after_disconnect", CFG_T_DURATION,
	    CFG_FIELD(cf_push_delay_after_disconnect),
	    0, CFG_DAY, "60s", NULL, 0, NULL },
	{ "push_gateway_ca", CFG_T_PATH, CFG_FIELD(cf_push_gateway_ca),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE, NULL },
	{ "push_gateway_format", CFG_T_ENUM,
	    CFG_FIELD(cf_push_gateway_format),
	    0, 0, "matrix", NULL, 0, config_enum_push_format },
	{ "push_gateway_url", CFG_T_STRING, CFG_FIELD(cf_push_gateway_url),
	    1, CFG_MAX_LINE, NULL, NULL, CFG_F_URL, NULL },
	{ "push_max_age", CFG_T_DURATION, CFG_FIELD(cf_push_max_age),
	    CFG_SEC, 7 * CFG_DAY, "1h", NULL, 0, NULL },
	{ "queue_max_messages", CFG_T_INT, CFG_FIELD(cf_queue_max_messages),
	    1, 10000000, "10000", NULL, 0, NULL },
	{ "rate_limit_per_user", CFG_T_INT,
	    CFG_FIELD(cf_rate_limit_per_user),
	    0, 1000000, "100", NULL, 0, NULL },
	{ "send_timeout", CFG_T_DURATION, CFG_FIELD(cf_send_timeout),
	    100, CFG_HOUR, "30s", NULL, 0, NULL },
	{ "shutdown_timeout", CFG_T_DURATION, CFG_FIELD(cf_shutdown_timeout),
	    0, CFG_HOUR, "10s", NULL, 0, NULL },
	{ "store_max_size", CFG_T_SIZE, CFG_FIELD(cf_store_max_size),
	    CFG_MIB, 1024 * CFG_GIB, "8g", NULL, CFG_F_RESTART, NULL },
	{ "tls_cert", CFG_T_PATH, CFG_FIELD(cf_tls_cert),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE, NULL },
	{ "tls_ciphers", CFG_T_STRING, CFG_FIELD(cf_tls_ciphers),
	    1, 1024, NULL, NULL, 0, NULL },
	{ "tls_client_ca", CFG_T_PATH, CFG_FIELD(cf_tls_client_ca),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE, NULL },
	{ "tls_key", CFG_T_PATH, CFG_FIELD(cf_tls_key),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE, NULL },
	{ "tls_min_version", CFG_T_ENUM, CFG_FIELD(cf_tls_min_version),
	    0, 0, "1.2", NULL, 0, config_enum_tls_version },
	{ "tls_ocsp_file", CFG_T_PATH, CFG_FIELD(cf_tls_ocsp_file),
	    1, CFG_PATH_MAX, NULL, NULL, CFG_F_READABLE, NULL },
	{ "tls_ticket_rotate", CFG_T_DURATION,
	    CFG_FIELD(cf_tls_ticket_rotate),
	    CFG_SEC, 3 * CFG_DAY, "12h", NULL, 0, NULL },
	{ "ws_listen", CFG_T_LISTEN, CFG_FIELD(cf_ws_listen),
	    0, 0, DEFAULT_WS_LISTEN, NULL, 0, NULL },
	{ "ws_ping_interval", CFG_T_DURATION, CFG_FIELD(cf_ws_ping_interval),
	    CFG_SEC, CFG_HOUR, "30s", NULL, 0, NULL },
	{ "ws_window", CFG_T_INT, CFG_FIELD(cf_ws_window),
	    1, 65536, "256", NULL, 0, NULL },
	{ "ws_workers", CFG_T_INT, CFG_FIELD(cf_ws_workers),
	    1, MAX_WORKERS_PER_ROLE, CFG_STR(DEFAULT_WS_WORKERS), NULL, 0,
	    NULL },
};

#define CFG_NKEYS	CFG_NITEMS(config_keys)

/* Rules between two keys, checked by config_validate(). */
enum config_rule {
	CFG_R_EXCLUSIVE,	/* at most one of the two is set */
	CFG_R_BOTH,		/* both set or neither */
	CFG_R_NEEDS,		/* the first set only with the second */
	CFG_R_DIFFER		/* listen addresses that must not overlap */
};

static const struct config_pair {
	const char		*p_a;
	const char		*p_b;
	enum config_rule	 p_rule;
} config_pairs[] = {
	{ "jwt_secret", "jwt_secret_file", CFG_R_EXCLUSIVE },
	{ "tls_cert", "tls_key", CFG_R_BOTH },
	{ "tls_client_ca", "tls_cert", CFG_R_NEEDS },
	{ "tls_ocsp_file", "tls_cert", CFG_R_NEEDS },
	{ "api_listen", "ws_listen", CFG_R_DIFFER },
};

/* Where each key got its value; struct config_origin is ours alone. */
struct config_where {
	char	*w_file;	/* source name, NULL: default */
	int	 w_line;	/* 0: default */
	int	 w_bad;		/* the value was rejected */
};

struct config_origin {
	struct config_where	 co_key[CFG_NKEYS];
};

/* State of one config_parse_buf() call. */
struct config_parse {
	struct config		*p_cf;
	struct cfg_errors	*p_errs;
	const char		*p_name;
	int			 p_line;
	int			 p_nerr;
	int			 p_seen[CFG_NKEYS];	/* line, 0: not yet */
};

typedef int	config_set_fn(struct config *, const struct config_key *,
		    const char *, char *, size_t);
typedef void	config_write_fn(FILE *, const struct config *,
		    const struct config_key *);
typedef int	config_num_fn(const char *, int64_t *, const char **);
typedef void	config_fmt_fn(int64_t, char *, size_t);

static config_set_fn	config_set_number, config_set_listen,
			config_set_string, config_set_list, config_set_enum;
static config_write_fn	config_write_number, config_write_listen,
			config_write_string, config_write_list,
			config_write_enum;
static config_num_fn	config_int_parse, config_duration_parse,
			config_size_parse;
static config_fmt_fn	config_fmt_int, config_fmt_duration, config_fmt_size;

/* Per-type behaviour, indexed by enum config_type. */
static const struct config_type_ops {
	const char	*t_name;
	config_set_fn	*t_set;
	config_write_fn	*t_write;
	config_num_fn	*t_num;		/* numeric types only */
	config_fmt_fn	*t_fmt;		/* numeric types only */
} config_types[] = {
	[CFG_T_INT] = { "integer", config_set_number, config_write_number,
	    config_int_parse, config_fmt_int },
	[CFG_T_DURATION] = { "duration", config_set_number,
	    config_write_number, config_duration_parse, config_fmt_duration },
	[CFG_T_SIZE] = { "size", config_set_number, config_write_number,
	    config_size_parse, config_fmt_size },
	[CFG_T_LISTEN] = { "listen address", config_set_listen,
	    config_write_listen, NULL, NULL },
	[CFG_T_STRING] = { "string", config_set_string, config_write_string,
	    NULL, NULL },
	[CFG_T_PATH] = { "path", config_set_string, config_write_string,
	    NULL, NULL },
	[CFG_T_LIST] = { "list", config_set_list, config_write_list,
	    NULL, NULL },
	[CFG_T_ENUM] = { "enum", config_set_enum, config_write_enum,
	    NULL, NULL },
};

static void	config_verr(struct cfg_errors *, const char *, int,
		    const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static void	config_perr(struct config_parse *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	config_ferr(struct cfg_errors *, const char *, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
static void	config_kerr(struct cfg_errors *, const struct config *,
		    size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	config_listen_parse(const char *, struct listen_addr *,
		    const char **);

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static int
config_is_ws(int c)
{
	return (c == ' ' || c == '\t');
}

static int
config_is_digit(int c)
{
	return (c >= '0' && c <= '9');
}

static int
config_to_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* The field of key k in cf; one accessor for setters and readers alike. */
static void *
config_field(const struct config *cf, const struct config_key *k)
{
	return ((char *)(uintptr_t)cf + k->k_off);
}

static size_t
config_index(const struct config_key *k)
{
	return ((size_t)(k - config_keys));
}

/*
 * Copy at most CFG_EXCERPT bytes of a value into buf for an error
 * message, with control characters replaced by '?' and "..." marking a
 * cut, so a hostile value can neither flood nor garble the log.
 */
static const char *
config_excerpt(const char *v, char *buf, size_t len)
{
	size_t	 i, n = strlen(v), max = len - 4;

	if (max > CFG_EXCERPT)
		max = CFG_EXCERPT;
	for (i = 0; i < n && i < max; i++)
		buf[i] = ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) ?
		    '?' : v[i];
	if (i < n) {
		while (i > 0 && ((unsigned char)v[i] & 0xc0) == 0x80)
			i--;	/* do not cut a UTF-8 sequence */
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return (buf);
}

static void
config_verr(struct cfg_errors *errs, const char *file, int line,
    const char *fmt, va_list ap)
{
	char	*m;
	int	 n;

	if (errs == NULL)
		return;
	if (errs->ce_n >= 0 && errs->ce_n < CFG_MAX_ERRORS) {
		m = errs->ce_msg[errs->ce_n];
		if (line > 0)
			n = snprintf(m, CFG_ERRLEN, "%s:%d: ", file, line);
		else
			n = snprintf(m, CFG_ERRLEN, "%s: ", file);
		if (n < 0)
			n = 0;
		if (n >= CFG_ERRLEN)
			n = CFG_ERRLEN - 1;
		(void)vsnprintf(m + n, CFG_ERRLEN - n, fmt, ap);
	}
	errs->ce_n++;
}

/* An error of the line being parsed. */
static void
config_perr(struct config_parse *p, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	config_verr(p->p_errs, p->p_name, p->p_line, fmt, ap);
	va_end(ap);
	p->p_nerr++;
}

/* An error about a whole file. */
static void
config_ferr(struct cfg_errors *errs, const char *file, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	config_verr(errs, file, 0, fmt, ap);
	va_end(ap);
}

/* An error about key i, located where that key was set. */
static void
config_kerr(struct cfg_errors *errs, const struct config *cf, size_t i,
    const char *fmt, ...)
{
	const struct config_where	*w = &cf->cf_origin->co_key[i];
	const char			*file;
	va_list				 ap;

	file = w->w_file != NULL ? w->w_file :
	    cf->cf_path != NULL ? cf->cf_path : "built-in defaults";
	va_start(ap, fmt);
	config_verr(errs, file, w->w_line, fmt, ap);
	va_end(ap);
}

static int
config_key_cmp(const void *name, const void *elem)
{
	const struct config_key	*k = elem;

	return (strcmp(name, k->k_name));
}

static const struct config_key *
config_key_find(const char *name)
{
	return (bsearch(name, config_keys, CFG_NKEYS, sizeof(config_keys[0]),
	    config_key_cmp));
}

/* config_key_error: see config.h. */
void
config_key_error(struct cfg_errors *errs, const struct config *cf,
    const char *name, const char *msg)
{
	const struct config_key	*k = config_key_find(name);

	if (k == NULL)
		config_ferr(errs, cf->cf_path != NULL ? cf->cf_path :
		    "built-in defaults", "%s", msg);
	else
		config_kerr(errs, cf, (size_t)(k - config_keys), "%s", msg);
}

/* Levenshtein distance; b is a key name (< CFG_MAX_KEYLEN bytes). */
static size_t
config_distance(const char *a, const char *b)
{
	size_t	 row[CFG_MAX_KEYLEN + 1], i, j, n, diag, up, best;

	n = strlen(b);
	for (j = 0; j <= n; j++)
		row[j] = j;
	for (i = 1; a[i - 1] != '\0'; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= n; j++) {
			up = row[j];
			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return (row[n]);
}

/* The known key nearest to an unknown one, or NULL if none is close. */
static const char *
config_suggest(const char *name)
{
	const char	*best = NULL;
	size_t		 i, d, bestd, len = strlen(name);

	if (len > CFG_MAX_KEYLEN)
		return (NULL);
	bestd = len / 3 > 2 ? len / 3 : 2;
	for (i = 0; i < CFG_NKEYS; i++) {
		d = config_distance(name, config_keys[i].k_name);
		if (d <= bestd && (best == NULL || d < bestd)) {
			best = config_keys[i].k_name;
			bestd = d;
		}
	}
	return (best);
}

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
static int
config_utf8_valid(const unsigned char *s, size_t len)
{
	size_t		 i = 0, j, n;
	uint32_t	 cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3, cp = s[i] & 0x07, min = 0x10000;
		} else
			return (0);
		if (len - i <= n)
			return (0);
		for (j = 1; j <= n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return (0);
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

/* ------------------------------------------------------------------ */
/* Numbers: integers, durations, sizes                                 */
/* ------------------------------------------------------------------ */

/* Leading decimal digits of s into *v; returns the end, NULL if none. */
static const char *
config_digits(const char *s, int64_t *v, const char **why)
{
	int64_t	 n = 0;

	if (!config_is_digit(*s)) {
		*why = *s == '-' ? "negative values are not allowed" :
		    "not a number";
		return (NULL);
	}
	for (; config_is_digit(*s); s++) {
		if (n > (INT64_MAX - (*s - '0')) / 10) {
			*why = "too large";
			return (NULL);
		}
		n = n * 10 + (*s - '0');
	}
	*v = n;
	return (s);
}

static int
config_int_parse(const char *s, int64_t *v, const char **why)
{
	char		*end;
	long long	 n;

	*why = "not a decimal integer";
	if (!config_is_digit(s[s[0] == '-']))
		return (-1);
	errno = 0;
	n = strtoll(s, &end, 10);
	if (*end != '\0')
		return (-1);
	if (errno == ERANGE) {
		*why = "too large";
		return (-1);
	}
	*v = n;
	return (0);
}

static int
config_duration_parse(const char *s, int64_t *ms, const char **why)
{
	static const struct {
		const char	*u_name;
		int64_t		 u_ms;
	} units[] = {
		{ "", CFG_SEC }, { "ms", 1 }, { "s", CFG_SEC },
		{ "m", CFG_MIN }, { "h", CFG_HOUR }, { "d", CFG_DAY }
	};
	const char	*end;
	int64_t		 n;
	size_t		 i;

	if ((end = config_digits(s, &n, why)) == NULL)
		return (-1);
	for (i = 0; i < CFG_NITEMS(units); i++) {
		if (strcmp(end, units[i].u_name) != 0)
			continue;
		if (n > INT64_MAX / units[i].u_ms) {
			*why = "too large";
			return (-1);
		}
		*ms = n * units[i].u_ms;
		return (0);
	}
	*why = "unknown unit (use ms, s, m, h or d)";
	return (-1);
}

static int
config_size_parse(const char *s, int64_t *bytes, const char **why)
{
	const char	*end;
	int64_t		 n, mult = 1;

	if ((end = config_digits(s, &n, why)) == NULL)
		return (-1);
	switch (config_to_lower(*end)) {
	case 'k':
		mult = CFG_KIB;
		break;
	case 'm':
		mult = CFG_MIB;
		break;
	case 'g':
		mult = CFG_GIB;
		break;
	}
	if (mult != 1)
		end++;
	if (config_to_lower(*end) == 'b')
		end++;
	if (*end != '\0') {
		*why = "unknown unit (use k, m or g, optionally followed by b)";
		return (-1);
	}
	if (n > INT64_MAX / mult) {
		*why = "too large";
		return (-1);
	}
	*bytes = n * mult;
	return (0);
}

static void
config_fmt_int(int64_t v, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%lld", (long long)v);
}

/* The largest unit that represents ms exactly: "30d", "90s", "250ms". */
static void
config_fmt_duration(int64_t ms, char *buf, size_t len)
{
	static const struct {
		const char	*u_name;
		int64_t		 u_ms;
	} units[] = {
		{ "d", CFG_DAY }, { "h", CFG_HOUR }, { "m", CFG_MIN },
		{ "s", CFG_SEC }
	};
	size_t	 i;

	for (i = 0; ms != 0 && i < CFG_NITEMS(units); i++) {
		if (ms % units[i].u_ms == 0) {
			(void)snprintf(buf, len, "%lld%s",
			    (long long)(ms / units[i].u_ms), units[i].u_name);
			return;
		}
	}
	(void)snprintf(buf, len, "%lld%s", (long long)ms, ms ? "ms" : "");
}

/* The largest unit that represents bytes exactly: "256k", "16m", "1000". */
static void
config_fmt_size(int64_t bytes, char *buf, size_t len)
{
	if (bytes != 0 && bytes % CFG_GIB == 0)
		(void)snprintf(buf, len, "%lldg", (long long)(bytes / CFG_GIB));
	else if (bytes != 0 && bytes % CFG_MIB == 0)
		(void)snprintf(buf, len, "%lldm", (long long)(bytes / CFG_MIB));
	else if (bytes != 0 && bytes % CFG_KIB == 0)
		(void)snprintf(buf, len, "%lldk", (long long)(bytes / CFG_KIB));
	else
		(void)snprintf(buf, len, "%lld", (long long)bytes);
}

static int64_t
config_get_number(const struct config *cf, const struct config_key *k)
{
	if (k->k_size == sizeof(int))
		return (*(int *)config_field(cf, k));
	return (*(int64_t *)config_field(cf, k));
}

static void
config_put_number(struct config *cf, const struct config_key *k, int64_t v)
{
	if (k->k_size == sizeof(int))
		*(int *)config_field(cf, k) = (int)v;
	else
		*(int64_t *)config_field(cf, k) = v;
}

static int
config_set_number(struct config *cf, const struct config_key *k,
    const char *v, char *why, size_t len)
{
	const struct config_type_ops	*t = &config_types[k->k_type];
	const char			*reason;
	char				 ex[CFG_EXCERPT + 4], lo[32], hi[32];
	char				 got[32];
	int64_t				 n;

	if (t->t_num(v, &n, &reason) == -1) {
		(void)snprintf(why, len, "bad %s \"%s\": %s", t->t_name,
		    config_excerpt(v, ex, sizeof(ex)), reason);
		return (-1);
	}
	if (n < k->k_min || n > k->k_max) {
		t->t_fmt(n, got, sizeof(got));
		t->t_fmt(k->k_min, lo, sizeof(lo));
		t->t_fmt(k->k_max, hi, sizeof(hi));
		(void)snprintf(why, len, "%s is out of range %s..%s", got, lo,
		    hi);
		return (-1);
	}
	config_put_number(cf, k, n);
	return (0);
}

static void
config_write_number(FILE *fp, const struct config *cf,
    const struct config_key *k)
{
	char	 buf[32];

	config_types[k->k_type].t_fmt(config_get_number(cf, k), buf,
	    sizeof(buf));
	fputs(buf, fp);
}

/*
 * config_parse_duration: parse "30d", "500ms", "90" (seconds) into
 * milliseconds.  Returns 0, or -1 with errno EINVAL (syntax, unknown
 * unit, negative) or ERANGE (overflow); *ms is untouched on failure.
 */
int
config_parse_duration(const char *s, int64_t *ms)
{
	const char	*why;

	if (config_duration_parse(s, ms, &why) == -1) {
		errno = strcmp(why, "too large") == 0 ? ERANGE : EINVAL;
		return (-1);
	}
	return (0);
}

/*
 * config_parse_size: parse "256k", "8g", "16MB", "1024" (bytes; k, m, g are
 * powers of 1024, case-insensitive, optional trailing b) into bytes.
 * Returns 0, or -1 with errno EINVAL or ERANGE; *bytes untouched on failure.
 */
int
config_parse_size(const char *s, int64_t *bytes)
{
	const char	*why;

	if (config_size_parse(s, bytes, &why) == -1) {
		errno = strcmp(why, "too large") == 0 ? ERANGE : EINVAL;
		return (-1);
	}
	return (0);
}

/* ------------------------------------------------------------------ */
/* Listen addresses, hosts, URLs, origins                              */
/* ------------------------------------------------------------------ */

/* A port of len bytes: 1 to 5 digits, 1..65535; -1 if not. */
static int
config_port(const char *s, size_t len)
{
	size_t	 i;
	long	 port = 0;

	if (len == 0 || len > 5)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!config_is_digit(s[i]))
			return (-1);
		port = port * 10 + (s[i] - '0');
	}
	return (port >= 1 && port <= 65535 ? (int)port : -1);
}

/* Split "HOST:PORT" or "[V6]:PORT"; host copied into hbuf. */
static int
config_listen_split(const char *s, char *hbuf, size_t hlen, int *family,
    const char **port, const char **why)
{
	const char	*h = s, *he, *c;

	*family = AF_INET;
	if (*s == '[') {
		h = s + 1;
		if ((he = strchr(h, ']')) == NULL) {
			*why = "missing ']' after the IPv6 address";
			return (-1);
		}
		if (*(c = he + 1) != ':' && *c != '\0') {
			*why = "garbage after ']' (expected :PORT)";
			return (-1);
		}
		*family = AF_INET6;
	} else if ((he = c = strrchr(s, ':')) != NULL &&
	    memchr(s, ':', (size_t)(c - s)) != NULL) {
		*why = "an IPv6 address needs brackets: [ADDRESS]:PORT";
		return (-1);
	}
	if (c == NULL || *c != ':') {
		*why = "no port (expected HOST:PORT)";
		return (-1);
	}
	if (he == h || (size_t)(he - h) >= hlen) {
		*why = he == h ? "no host (use * for all addresses)" :
		    "bad host";
		return (-1);
	}
	memcpy(hbuf, h, (size_t)(he - h));
	hbuf[he - h] = '\0';
	*port = c + 1;
	return (0);
}

/*
 * A strict literal check first: getaddrinfo() also takes "127.1", "0x7f.1"
 * and "*" for IPv6.  An IPv6 scope ("%eth0") is left to getaddrinfo().
 */
static int
config_host_literal(const char *host, int family)
{
	struct in6_addr	 in6;
	char		 buf[128];

	(void)snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(host, "%"),
	    host);
	return (inet_pton(family, buf, &in6) == 1 ? 0 : -1);
}

/* Numeric resolution of a split address into la. */
static int
config_listen_resolve(const char *host, int family, const char *port,
    struct listen_addr *la, const char **why)
{
	struct addrinfo	 hints, *res;
	const char	*node = host;

	if (strcmp(host, "*") == 0 && family == AF_INET)
		node = NULL;
	else if (strcmp(host, "localhost") == 0 && family == AF_INET)
		node = "127.0.0.1";
	else if (config_host_literal(host, family) == -1) {
		*why = "bad host (expected an IPv4 address, [IPv6], * or "
		    "localhost)";
		return (-1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(node, port, &hints, &res) != 0) {
		*why = "bad host (expected an IPv4 address, [IPv6], * or "
		    "localhost)";
		return (-1);
	}
	memcpy(&la->la_ss, res->ai_addr, res->ai_addrlen);
	la->la_sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

static int
config_listen_parse(const char *s, struct listen_addr *la, const char **why)
{
	char		 host[128];
	const char	*port;
	int		 family;
	size_t		 n = strlen(s);

	memset(la, 0, sizeof(*la));
	if (n >= sizeof(la->la_text)) {
		*why = "too long";
		return (-1);
	}
	if (config_listen_split(s, host, sizeof(host), &family, &port,
	    why) == -1)
		return (-1);
	if (config_port(port, strlen(port)) == -1) {
		*why = "bad port (expected 1..65535)";
		return (-1);
	}
	if (config_listen_resolve(host, family, port, la, why) == -1)
		return (-1);
	memcpy(la->la_text, s, n + 1);
	return (0);
}

/*
 * config_parse_listen: parse "HOST:PORT" (HOST an IPv4 literal, [IPv6],
 * "*" for all IPv4 addresses or "localhost" for 127.0.0.1; numeric only,
 * no DNS) into *la, la_text keeping s as written.  Returns 0, or -1 with
 * errno EINVAL and *la zeroed.
 */
int
config_parse_listen(const char *s, struct listen_addr *la)
{
	const char	*why;

	if (config_listen_parse(s, la, &why) == -1) {
		memset(la, 0, sizeof(*la));
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

static int
config_set_listen(struct config *cf, const struct config_key *k,
    const char *v, char *why, size_t len)
{
	struct listen_addr	 la;
	const char		*reason;
	char			 ex[CFG_EXCERPT + 4];

	if (config_listen_parse(v, &la, &reason) == -1) {
		(void)snprintf(why, len, "bad listen address \"%s\": %s",
		    config_excerpt(v, ex, sizeof(ex)), reason);
		return (-1);
	}
	memcpy(config_field(cf, k), &la, sizeof(la));
	return (0);
}

static void
config_write_listen(FILE *fp, const struct config *cf,
    const struct config_key *k)
{
	const struct listen_addr	*la = config_field(cf, k);

	fputs(la->la_text, fp);
}

static int
config_v6_char(int c)
{
	return ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
	    config_is_digit(c) || c == ':' || c == '.');
}

static int
config_host_char(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    config_is_digit(c) || c == '.' || c == '-' || c == '_');
}

/* "host", "host:port", "[v6]" or "[v6]:port" spanning exactly len bytes. */
static int
config_hostport(const char *s, size_t len)
{
	const char	*p = s, *end = s + len;

	if (len > 0 && *s == '[') {
		for (p = s + 1; p < end && config_v6_char(*p); p++)
			;
		if (p == s + 1 || p == end || *p != ']')
			return (-1);
		p++;
	} else {
		while (p < end && config_host_char(*p))
			p++;
		if (p == s)
			return (-1);
	}
	if (p == end)
		return (0);
	if (*p != ':' || config_port(p + 1, (size_t)(end - p - 1)) == -1)
		return (-1);
	return (0);
}

/* The length of "http://" or "https://" at the start of s, else 0. */
static size_t
config_scheme(const char *s)
{
	if (strncmp(s, "http://", 7) == 0)
		return (7);
	if (strncmp(s, "https://", 8) == 0)
		return (8);
	return (0);
}

/* push_gateway_url: http(s)://host[:port][/path][?query]; no user
 * info (the push client sends no credentials, so none is accepted). */
static int
config_check_url(const char *s)
{
	const char	*host, *end;
	size_t		 n;

	if ((n = config_scheme(s)) == 0)
		return (-1);
	host = s + n;
	end = host + strcspn(host, "/?#");
	if (memchr(host, '@', (size_t)(end - host)) != NULL)
		return (-1);
	if (config_hostport(host, (size_t)(end - host)) == -1)
		return (-1);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return (-1);
	return (0);
}

/* A CORS origin: "*", or http(s)://host[:port] with nothing after. */
static int
config_check_origin(const char *s)
{
	size_t	 n;

	if (strcmp(s, "*") == 0)
		return (0);
	if ((n = config_scheme(s)) == 0)
		return (-1);
	return (config_hostport(s + n, strlen(s + n)));
}

/* ------------------------------------------------------------------ */
/* Strings, paths, lists, enums                                        */
/* ------------------------------------------------------------------ */

static int
config_check_claim(const char *s)
{
	for (; *s != '\0'; s++)
		if (!config_host_char(*s) && *s != ':')
			return (-1);
	return (0);
}

/* Content checks of a string value beyond its length. */
static int
config_check_text(const struct config_key *k, const char *v, char *why,
    size_t len)
{
	char	 ex[CFG_EXCERPT + 4];

	if ((k->k_flags & CFG_F_CLAIM) && config_check_claim(v) == -1) {
		(void)snprintf(why, len, "bad claim name \"%s\" (letters, "
		    "digits and _ . : - only)", config_excerpt(v, ex,
		    sizeof(ex)));
		return (-1);
	}
	if ((k->k_flags & CFG_F_URL) && config_check_url(v) == -1) {
		(void)snprintf(why, len, "bad URL \"%s\" (expected http:// or "
		    "https:// and a host)", config_excerpt(v, ex, sizeof(ex)));
		return (-1);
	}
	return (0);
}

static void
config_free_string(char **sp, int secret)
{
	if (*sp != NULL && secret)
		explicit_bzero(*sp, strlen(*sp));
	free(*sp);
	*sp = NULL;
}

static int
config_set_string(struct config *cf, const struct config_key *k,
    const char *v, char *why, size_t len)
{
	char	**sp = config_field(cf, k), *s;
	size_t	  n = strlen(v);

	if ((long long)n < k->k_min || (long long)n > k->k_max) {
		(void)snprintf(why, len, "too %s (%zu bytes, at %s %lld%s)",
		    (long long)n < k->k_min ? "short" : "long", n,
		    (long long)n < k->k_min ? "least" : "most",
		    (long long)n < k->k_min ? k->k_min : k->k_max,
		    (k->k_flags & CFG_F_SOCKET) ? " for a UNIX socket" : "");
		return (-1);
	}
	if (config_check_text(k, v, why, len) == -1)
		return (-1);
	if ((s = strdup(v)) == NULL) {
		(void)snprintf(why, len, "out of memory");
		return (-1);
	}
	config_free_string(sp, k->k_flags & CFG_F_SECRET);
	*sp = s;
	return (0);
}

/* Quote a value that would not read back bare. */
static void
config_write_string(FILE *fp, const struct config *cf,
    const struct config_key *k)
{
	const char	*s = *(char **)config_field(cf, k);
	size_t		 n = strlen(s);

	if (n > 0 && !config_is_ws(s[0]) && !config_is_ws(s[n - 1]) &&
	    s[0] != '"' && strchr(s, '#') == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
config_strlist_free(struct strlist *sl)
{
	size_t	 i;

	for (i = 0; i < sl->sl_n; i++)
		free(sl->sl_v[i]);
	free(sl->sl_v);
	sl->sl_v = NULL;
	sl->sl_n = 0;
}

/* Append the origin s[0..n) to sl after checking it; lowercased. */
static int
config_list_add(struct strlist *sl, const struct config_key *k,
    const char *s, size_t n, char *why, size_t len)
{
	char	 ex[CFG_EXCERPT + 4], *item, **v;
	size_t	 i;

	if (n == 0) {
		(void)snprintf(why, len, "empty item in the list");
		return (-1);
	}
	if ((long long)sl->sl_n >= k->k_max) {
		(void)snprintf(why, len, "more than %lld items", k->k_max);
		return (-1);
	}
	if ((item = strndup(s, n)) == NULL ||
	    (v = reallocarray(sl->sl_v, sl->sl_n + 1, sizeof(*v))) == NULL) {
		free(item);
		(void)snprintf(why, len, "out of memory");
		return (-1);
	}
	sl->sl_v = v;
	for (i = 0; i < n; i++)
		item[i] = (char)config_to_lower(item[i]);
	if (config_check_origin(item) == -1) {
		(void)snprintf(why, len, "bad origin \"%s\" (expected *, "
		    "http://HOST[:PORT] or https://HOST[:PORT], no path or "
		    "trailing /)", config_excerpt(item, ex, sizeof(ex)));
		free(item);
		return (-1);
	}
	sl->sl_v[sl->sl_n++] = item;
	return (0);
}

/* A comma-separated list; blanks around items are trimmed. */
static int
config_set_list(struct config *cf, const struct config_key *k,
    const char *v, char *why, size_t len)
{
	struct strlist	 nl = { 0, NULL }, *sl = config_field(cf, k);
	const char	*s = v, *e, *end;

	for (;;) {
		e = s + strcspn(s, ",");
		for (end = e; end > s && config_is_ws(end[-1]); end--)
			;
		while (s < end && config_is_ws(*s))
			s++;
		if (config_list_add(&nl, k, s, (size_t)(end - s), why,
		    len) == -1) {
			config_strlist_free(&nl);
			return (-1);
		}
		if (*e == '\0')
			break;
		s = e + 1;
	}
	config_strlist_free(sl);
	*sl = nl;
	return (0);
}

static void
config_write_list(FILE *fp, const struct config *cf,
    const struct config_key *k)
{
	const struct strlist	*sl = config_field(cf, k);
	size_t			 i;

	for (i = 0; i < sl->sl_n; i++)
		fprintf(fp, "%s%s", i ? ", " : "", sl->sl_v[i]);
}

static int
config_set_enum(struct config *cf, const struct config_key *k,
    const char *v, char *why, size_t len)
{
	const struct config_enum	*e;
	char				 names[128] = "", ex[CFG_EXCERPT + 4];

	for (e = k->k_enum; e->e_name != NULL; e++) {
		if (strcmp(e->e_name, v) == 0) {
			*(int *)config_field(cf, k) = e->e_value;
			return (0);
		}
	}
	for (e = k->k_enum; e->e_name != NULL; e++) {
		if (e != k->k_enum)
			(void)strncat(names, ", ", sizeof(names) -
			    strlen(names) - 1);
		(void)strncat(names, e->e_name, sizeof(names) -
		    strlen(names) - 1);
	}
	(void)snprintf(why, len, "bad value \"%s\" (allowed: %s)",
	    config_excerpt(v, ex, sizeof(ex)), names);
	return (-1);
}

static const char *
config_enum_name(const struct config_enum *e, int value)
{
	for (; e->e_name != NULL; e++)
		if (e->e_value == value)
			return (e->e_name);
	return ("unknown");
}

static void
config_write_enum(FILE *fp, const struct config *cf,
    const struct config_key *k)
{
	fputs(config_enum_name(k->k_enum, *(int *)config_field(cf, k)), fp);
}

/* 1 if key k holds a value (unset strings are NULL, lists empty). */
static int
config_isset(const struct config *cf, const struct config_key *k)
{
	switch (k->k_type) {
	case CFG_T_STRING:
	case CFG_T_PATH:
		return (*(char **)config_field(cf, k) != NULL);
	case CFG_T_LIST:
		return (((struct strlist *)config_field(cf, k))->sl_n > 0);
	default:
		return (1);
	}
}

/* ------------------------------------------------------------------ */
/* Construction and destruction                                        */
/* ------------------------------------------------------------------ */

/*
 * config_new: a configuration holding the defaults of every key: the file
 * defaults (local == 0) or the embedded local ones (local == 1: data_dir
 * and control socket under ./routingd-data).  Returns NULL only when out
 * of memory (a default that fails its own check is caught by the unit
 * test).  Free with config_free().
 */
struct config *
config_new(int local)
{
	struct config		*cf;
	const struct config_key	*k;
	const char		*def;
	char			 why[CFG_WHYLEN];
	size_t			 i;

	if ((cf = calloc(1, sizeof(*cf))) == NULL ||
	    (cf->cf_origin = calloc(1, sizeof(*cf->cf_origin))) == NULL) {
		free(cf);
		return (NULL);
	}
	cf->cf_local = local != 0;
	for (i = 0; i < CFG_NKEYS; i++) {
		k = &config_keys[i];
		def = local && k->k_local != NULL ? k->k_local : k->k_def;
		if (def != NULL && config_types[k->k_type].t_set(cf, k, def,
		    why, sizeof(why)) == -1) {
			config_free(cf);
			return (NULL);
		}
	}
	return (cf);
}

/*
 * config_free: release cf and everything it owns (secrets are wiped
 * first).  NULL is a no-op.
 */
void
config_free(struct config *cf)
{
	const struct config_key	*k;
	size_t			 i;

	if (cf == NULL)
		return;
	for (i = 0; i < CFG_NKEYS; i++) {
		k = &config_keys[i];
		if (k->k_type == CFG_T_STRING || k->k_type == CFG_T_PATH)
			config_free_string(config_field(cf, k),
			    k->k_flags & CFG_F_SECRET);
		else if (k->k_type == CFG_T_LIST)
			config_strlist_free(config_field(cf, k));
		if (cf->cf_origin != NULL)
			free(cf->cf_origin->co_key[i].w_file);
	}
	free(cf->cf_origin);
	free(cf->cf_path);
	free(cf);
}

/* ------------------------------------------------------------------ */
/* The parser                                                          */
/* ------------------------------------------------------------------ */

/* Quoted value at s (on the opening quote), unescaped in place. */
static int
config_parse_quoted(struct config_parse *p, char *s, char **out)
{
	char	*r = s + 1, *w = s + 1, *end;

	for (;;) {
		if (*r == '\0' || (*r == '\\' && r[1] == '\0')) {
			config_perr(p, "unterminated quoted value");
			return (-1);
		}
		if (*r == '"')
			break;
		if (*r == '\\' && r[1] != '"' && r[1] != '\\') {
			config_perr(p, "bad escape \"\\%c\" in a quoted value "
			    "(only \\\" and \\\\ are allowed)",
			    (unsigned char)r[1] < 0x20 ||
			    (unsigned char)r[1] >= 0x7f ? '?' : r[1]);
			return (-1);
		}
		if (*r == '\\')
			r++;
		*w++ = *r++;
	}
	end = r + 1;
	*w = '\0';
	while (config_is_ws(*end))
		end++;
	if (*end != '\0' && *end != '#') {
		config_perr(p, "garbage after the closing quote");
		return (-1);
	}
	*out = s + 1;
	return (0);
}

/* Bare value at s: up to a '#' that follows a blank, trimmed. */
static void
config_parse_bare(char *s, char **out)
{
	char	*q, *end;

	for (q = s; *q != '\0'; q++) {
		if (*q == '#' && config_is_ws(q[-1])) {
			*q = '\0';
			break;
		}
	}
	for (end = s + strlen(s); end > s && config_is_ws(end[-1]); end--)
		;
	*end = '\0';
	*out = s;
}

static void
config_origin_set(struct config *cf, size_t i, const char *file, int line,
    int bad)
{
	struct config_where	*w = &cf->cf_origin->co_key[i];

	free(w->w_file);
	w->w_file = strdup(file);	/* NULL: errors fall back to cf_path */
	w->w_line = line;
	w->w_bad = bad;
}

/* Give key (already syntax-checked) its value v. */
static void
config_apply(struct config_parse *p, const char *key, const char *v)
{
	const struct config_key	*k;
	const char		*near;
	char			 why[CFG_WHYLEN], ex[CFG_EXCERPT + 4];
	size_t			 i;
	int			 bad;

	if ((k = config_key_find(key)) == NULL) {
		near = config_suggest(key);
		config_perr(p, "unknown key \"%s\"%s%s%s", config_excerpt(key,
		    ex, sizeof(ex)), near ? " (did you mean \"" : "",
		    near ? near : "", near ? "\"?)" : "");
		return;
	}
	i = config_index(k);
	if (p->p_seen[i] != 0) {
		config_perr(p, "duplicate key \"%s\" (first set on line %d)",
		    k->k_name, p->p_seen[i]);
		return;
	}
	p->p_seen[i] = p->p_line;
	bad = config_types[k->k_type].t_set(p->p_cf, k, v, why,
	    sizeof(why)) == -1;
	if (bad)
		config_perr(p, "%s: %s", k->k_name, why);
	config_origin_set(p->p_cf, i, p->p_name, p->p_line, bad);
}

/* The value after "key =" (s is past the blanks), then apply it. */
static void
config_parse_value(struct config_parse *p, const char *key, char *s)
{
	char	*val;

	if (*s == '"') {
		if (config_parse_quoted(p, s, &val) == -1)
			return;
	} else
		config_parse_bare(s, &val);
	if (*val == '\0') {
		config_perr(p, "empty value for \"%s\" (comment the line out "
		    "to keep the default)", key);
		return;
	}
	config_apply(p, key, val);
}

/* Split "key = value" (line is NUL-terminated and writable). */
static void
config_parse_kv(struct config_parse *p, char *s)
{
	char	*key, ex[CFG_EXCERPT + 4];
	size_t	 n;

	while (config_is_ws(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return;
	key = s;
	n = strcspn(s, " \t=");
	for (s += n; config_is_ws(*s); s++)
		;
	if (*s != '=') {
		key[n] = '\0';
		config_perr(p, "missing \"=\" after \"%s\"",
		    config_excerpt(key, ex, sizeof(ex)));
		return;
	}
	key[n] = '\0';
	if (n == 0) {
		config_perr(p, "empty key before \"=\"");
		return;
	}
	if (strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
		config_perr(p, "bad key \"%s\" (keys are lowercase letters, "
		    "digits and _)", config_excerpt(key, ex, sizeof(ex)));
		return;
	}
	for (s++; config_is_ws(*s); s++)
		;
	config_parse_value(p, key, s);
}

/* One raw line (no newline): byte-level checks, then key = value. */
static void
config_parse_line(struct config_parse *p, const char *s, size_t len)
{
	char	 line[CFG_MAX_LINE + 1];
	size_t	 i;

	if (memchr(s, '\0', len) != NULL) {
		config_perr(p, "NUL byte in the line");
		return;
	}
	if (len > CFG_MAX_LINE) {
		config_perr(p, "line too long (%zu bytes, at most %d)", len,
		    CFG_MAX_LINE);
		return;
	}
	if (len > 0 && s[len - 1] == '\r')
		len--;			/* tolerate CRLF line ends */
	if (!config_utf8_valid((const unsigned char *)s, len)) {
		config_perr(p, "invalid UTF-8");
		return;
	}
	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f) {
			config_perr(p, "control character 0x%02x in the line",
			    (unsigned char)s[i]);
			return;
		}
	}
	memcpy(line, s, len);
	line[len] = '\0';
	config_parse_kv(p, line);
}

/*
 * config_parse_buf: parse len bytes of config text onto cf.  name labels
 * error messages (usually the file path; NULL: "(buffer)").  Each key may
 * appear once per buffer; a bad line leaves its key at the earlier value.
 * Every problem is appended to errs (which may be NULL) as "name:line:
 * text".  File and cross-key checks are config_validate()'s job.
 * Returns 0, or -1 if anything was wrong.
 */
int
config_parse_buf(struct config *cf, const char *name, const char *buf,
    size_t len, struct cfg_errors *errs)
{
	struct config_parse	 p;
	const char		*s = buf, *end = buf + len, *nl;

	memset(&p, 0, sizeof(p));
	p.p_cf = cf;
	p.p_errs = errs;
	p.p_name = name != NULL ? name : "(buffer)";
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;			/* a UTF-8 byte order mark */
	while (s < end) {
		p.p_line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		config_parse_line(&p, s, (size_t)(nl - s));
		s = nl + 1;
	}
	return (p.p_nerr ? -1 : 0);
}

/* ------------------------------------------------------------------ */
/* Validation: files, groups, rules between keys                       */
/* ------------------------------------------------------------------ */

/* Check that an open secret file holds >= LOCAL_SECRET_BYTES bytes. */
static int
config_check_keyfile(int fd, char *why, size_t len)
{
	char	 buf[4096];
	size_t	 total = 0;
	ssize_t	 n;
	int	 last = 0;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			(void)snprintf(why, len, "read: %s", strerror(errno));
			explicit_bzero(buf, sizeof(buf));
			return (-1);
		}
		last = buf[n - 1];
		if ((total += (size_t)n) > CFG_MAX_SECRET)
			break;
	}
	explicit_bzero(buf, sizeof(buf));
	if (last == '\n')
		total--;
	if (total < LOCAL_SECRET_BYTES || total > CFG_MAX_SECRET) {
		(void)snprintf(why, len, "the secret is too %s (%zu bytes, at "
		    "%s %d)", total < LOCAL_SECRET_BYTES ? "short" : "long",
		    total, total < LOCAL_SECRET_BYTES ? "least" : "most",
		    total < LOCAL_SECRET_BYTES ? LOCAL_SECRET_BYTES :
		    CFG_MAX_SECRET);
		return (-1);
	}
	return (0);
}

/* A readable regular file (and, for key files, a long enough secret). */
static int
config_check_file(const char *path, int keyfile, char *why, size_t len)
{
	struct stat	 st;
	char		 ex[CFG_EXCERPT + 4];
	int		 fd, rv = 0;

	config_excerpt(path, ex, sizeof(ex));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		(void)snprintf(why, len, "cannot open \"%s\": %s", ex,
		    strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)snprintf(why, len, "\"%s\" is not a regular file", ex);
		rv = -1;
	} else if (keyfile && config_check_keyfile(fd, why, len) == -1)
		rv = -1;
	(void)close(fd);
	return (rv);
}

/* The per-key checks that need the system; -1 if key i fails. */
static int
config_validate_key(struct config *cf, size_t i, struct cfg_errors *errs)
{
	const struct config_key	*k = &config_keys[i];
	char			 why[CFG_WHYLEN], ex[CFG_EXCERPT + 4];
	const char		*v;

	if (cf->cf_origin->co_key[i].w_bad || !config_isset(cf, k) ||
	    (k->k_type != CFG_T_STRING && k->k_type != CFG_T_PATH))
		return (0);
	v = *(char **)config_field(cf, k);
	if ((k->k_flags & CFG_F_READABLE) && config_check_file(v,
	    k->k_flags & CFG_F_KEYFILE, why, sizeof(why)) == -1) {
		config_kerr(errs, cf, i, "%s: %s", k->k_name, why);
		return (-1);
	}
	if ((k->k_flags & CFG_F_GROUP) && getgrnam(v) == NULL) {
		config_kerr(errs, cf, i, "%s: no group \"%s\" on this system",
		    k->k_name, config_excerpt(v, ex, sizeof(ex)));
		return (-1);
	}
	return (0);
}

static int
config_listen_wild(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in	*sin = (const void *)ss;
	const struct sockaddr_in6	*sin6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return (sin->sin_addr.s_addr == htonl(INADDR_ANY));
	return (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
}

static int
config_listen_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)(const void *)ss)->
		    sin_port));
	return (ntohs(((const struct sockaddr_in6 *)(const void *)ss)->
	    sin6_port));
}

/* 1 if binding both would clash: same port, same or wildcard address. */
static int
config_listen_overlap(const struct listen_addr *a,
    const struct listen_addr *b)
{
	if (config_listen_port(&a->la_ss) != config_listen_port(&b->la_ss))
		return (0);
	if (config_listen_wild(&a->la_ss) || config_listen_wild(&b->la_ss))
		return (1);
	return (a->la_sslen == b->la_sslen &&
	    memcmp(&a->la_ss, &b->la_ss, a->la_sslen) == 0);
}

/* Check one rule of config_pairs[]; -1 if broken. */
static int
config_validate_pair(struct config *cf, const struct config_pair *r,
    struct cfg_errors *errs)
{
	const struct config_key	*a = config_key_find(r->p_a);
	const struct config_key	*b = config_key_find(r->p_b);
	const struct config_where *w = cf->cf_origin->co_key;
	size_t			 ia = config_index(a), ib = config_index(b);
	int			 seta = config_isset(cf, a);
	int			 setb = config_isset(cf, b);

	if (w[ia].w_bad || w[ib].w_bad)
		return (0);
	if (r->p_rule == CFG_R_EXCLUSIVE && seta && setb) {
		config_kerr(errs, cf, w[ib].w_line ? ib : ia, "%s and %s are "
		    "both set; set only one", a->k_name, b->k_name);
		return (-1);
	}
	if (r->p_rule == CFG_R_BOTH && seta != setb) {
		config_kerr(errs, cf, seta ? ia : ib, "%s is set but %s is "
		    "not; set both or neither", seta ? a->k_name : b->k_name,
		    seta ? b->k_name : a->k_name);
		return (-1);
	}
	if (r->p_rule == CFG_R_NEEDS && seta && !setb) {
		config_kerr(errs, cf, ia, "%s is set but %s is not; %s needs "
		    "it", a->k_name, b->k_name, a->k_name);
		return (-1);
	}
	if (r->p_rule == CFG_R_DIFFER && config_listen_overlap(
	    config_field(cf, a), config_field(cf, b))) {
		config_kerr(errs, cf, w[ib].w_line ? ib : ia, "%s and %s "
		    "overlap (%s, %s); they must differ", a->k_name,
		    b->k_name, ((struct listen_addr *)config_field(cf,
		    a))->la_text, ((struct listen_addr *)config_field(cf,
		    b))->la_text);
		return (-1);
	}
	return (0);
}

/*
 * config_validate: the checks that span keys or need the system:
 * jwt_secret and jwt_secret_file exclusive, tls_cert and tls_key together,
 * tls_client_ca and tls_ocsp_file only with tls_cert,
 * api_listen and ws_listen not overlapping, files readable (and
 * jwt_secret_file long enough), control_socket_group a known group.  Keys
 * whose value was rejected by the parser are skipped.  Problems are
 * appended to errs (may be NULL), located where the key was set.
 * Returns 0, or -1 if anything was wrong.
 */
int
config_validate(struct config *cf, struct cfg_errors *errs)
{
	size_t	 i;
	int	 rv = 0;

	for (i = 0; i < CFG_NKEYS; i++)
		if (config_validate_key(cf, i, errs) == -1)
			rv = -1;
	for (i = 0; i < CFG_NITEMS(config_pairs); i++)
		if (config_validate_pair(cf, &config_pairs[i], errs) == -1)
			rv = -1;
	cf->cf_push_workers = cf->cf_push_gateway_url != NULL;
	return (rv);
}

/* ------------------------------------------------------------------ */
/* Loading and writing                                                 */
/* ------------------------------------------------------------------ */

/* Read at most CFG_MAX_FILE bytes of path; NULL (errs filled) on error. */
static char *
config_read_file(const char *path, size_t *lenp, struct cfg_errors *errs)
{
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;
	const char	*err = NULL;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		err = strerror(errno);
	else if ((buf = malloc(CFG_MAX_FILE + 1)) == NULL)
		err = strerror(errno);
	while (err == NULL && (n = read(fd, buf + len,
	    CFG_MAX_FILE + 1 - len)) != 0) {
		if (n == -1 && errno != EINTR)
			err = strerror(errno);
		else if (n > 0 && (len += (size_t)n) > CFG_MAX_FILE)
			err = "file too large (at most 1 MiB)";
	}
	if (fd != -1)
		(void)close(fd);
	if (err != NULL) {
		config_ferr(errs, path, "%s", err);
		free(buf);
		return (NULL);
	}
	*lenp = len;
	return (buf);
}

/* config_read_text: see config.h. */
char *
config_read_text(const char *path, size_t *lenp, struct cfg_errors *errs)
{
	if (errs != NULL)
		errs->ce_n = 0;
	return (config_read_file(path, lenp, errs));
}

/* config_load_text: see config.h. */
int
config_load_text(const char *path, const char *buf, size_t len,
    struct config **cfp, struct cfg_errors *errs)
{
	struct config	*cf;
	int		 rv;

	*cfp = NULL;
	if ((cf = config_new(0)) == NULL ||
	    (cf->cf_path = strdup(path)) == NULL) {
		config_ferr(errs, path, "out of memory");
		config_free(cf);
		return (-1);
	}
	rv = config_parse_buf(cf, path, buf, len, errs);
	if (config_validate(cf, errs) == -1 || rv == -1) {
		config_free(cf);
		return (-1);
	}
	*cfp = cf;
	return (0);
}

/*
 * config_load: read the file path (at most 1 MiB), parse it over the
 * file defaults and validate it.  errs is reset first and receives every
 * problem (a missing file is "path: No such file or directory").  On
 * success *cfp is the new config (cf_path set; free with config_free())
 * and 0 is returned; on failure *cfp is NULL and -1 is returned.
 */
int
config_load(const char *path, struct config **cfp, struct cfg_errors *errs)
{
	char		*buf;
	size_t		 len;
	int		 rv;

	*cfp = NULL;
	if ((buf = config_read_text(path, &len, errs)) == NULL)
		return (-1);
	rv = config_load_text(path, buf, len, cfp, errs);
	free(buf);
	return (rv);
}

/*
 * config_write: print every key to fp in table (alphabetical) order as
 * "key = value" with the effective value; unset keys as "# key =", set
 * secrets as "# key = <hidden>"; a key whose feature this release does
 * not serve gets a trailing comment saying so.  The output parses back
 * to the same configuration (secrets aside).  Returns 0, or -1 on a
 * write error.
 */
int
config_write(const struct config *cf, FILE *fp)
{
	const struct config_key	*k;
	size_t			 i;

	for (i = 0; i < CFG_NKEYS; i++) {
		k = &config_keys[i];
		if (!config_isset(cf, k))
			fprintf(fp, "# %s =", k->k_name);
		else if (k->k_flags & CFG_F_SECRET)
			fprintf(fp, "# %s = <hidden>", k->k_name);
		else {
			fprintf(fp, "%s = ", k->k_name);
			config_types[k->k_type].t_write(fp, cf, k);
		}
		if (k->k_flags & CFG_F_UNSERVED)
			fputs("\t# checked only: not served by this release",
			    fp);
		fputc('\n', fp);
	}
	return (ferror(fp) || fflush(fp) == EOF ? -1 : 0);
}

/* config_unserved: see config.h. */
const char *
config_unserved(const struct config *cf, size_t *pos)
{
	const struct config_key	*k;

	for (; *pos < CFG_NKEYS; (*pos)++) {
		k = &config_keys[*pos];
		if ((k->k_flags & CFG_F_UNSERVED) && config_isset(cf, k) &&
		    cf->cf_origin->co_key[*pos].w_line > 0) {
			(*pos)++;
			return (k->k_name);
		}
	}
	return (NULL);
}

/* config_touch_interval_ms: see config.h. */
uint64_t
config_touch_interval_ms(const struct config *cf)
{
	uint64_t	 iv = 60000;

	if (cf->cf_device_idle_ttl > 0 &&
	    (uint64_t)cf->cf_device_idle_ttl / 4 < iv)
		iv = (uint64_t)cf->cf_device_idle_ttl / 4;
	return (iv);
}

/* 1 if key k has the same effective value in a and b. */
static int
config_same(const struct config *a, const struct config *b,
    const struct config_key *k)
{
	const struct strlist	*la, *lb;
	const char		*sa, *sb;
	size_t			 i;

	switch (k->k_type) {
	case CFG_T_LISTEN:
		return (strcmp(((const struct listen_addr *)config_field(a,
		    k))->la_text, ((const struct listen_addr *)config_field(b,
		    k))->la_text) == 0);
	case CFG_T_STRING:
	case CFG_T_PATH:
		sa = *(char *const *)config_field(a, k);
		sb = *(char *const *)config_field(b, k);
		return (strcmp(sa ? sa : "", sb ? sb : "") == 0);
	case CFG_T_LIST:
		la = config_field(a, k);
		lb = config_field(b, k);
		if (la->sl_n != lb->sl_n)
			return (0);
		for (i = 0; i < la->sl_n; i++)
			if (strcmp(la->sl_v[i], lb->sl_v[i]) != 0)
				return (0);
		return (1);
	default:
		return (memcmp(config_field(a, k), config_field(b, k),
		    k->k_size) == 0);
	}
}

/* config_changed: see config.h. */
const char *
config_changed(const struct config *a, const struct config *b, size_t *pos,
    int *restart)
{
	const struct config_key	*k;

	for (; *pos < CFG_NKEYS; (*pos)++) {
		k = &config_keys[*pos];
		if (!config_same(a, b, k)) {
			(*pos)++;
			*restart = (k->k_flags & CFG_F_RESTART) != 0;
			return (k->k_name);
		}
	}
	return (NULL);
}

/* config_keep_restart: see config.h. */
int
config_keep_restart(struct config *ncf, const struct config *old)
{
	const struct config_key	*k;
	char			**dst, *const *src, *dup;
	size_t			 i;

	for (i = 0; i < CFG_NKEYS; i++) {
		k = &config_keys[i];
		if (!(k->k_flags & CFG_F_RESTART) || config_same(ncf, old, k))
			continue;
		if (k->k_type == CFG_T_STRING || k->k_type == CFG_T_PATH) {
			dst = (char **)config_field(ncf, k);
			src = (char *const *)config_field(old, k);
			dup = NULL;
			if (*src != NULL && (dup = strdup(*src)) == NULL)
				return (-1);
			free(*dst);
			*dst = dup;
		} else if (k->k_type != CFG_T_LIST && k->k_type !=
		    CFG_T_LISTEN)
			memcpy(config_field(ncf, k), config_field(old, k),
			    k->k_size);
	}
	return (0);
}
