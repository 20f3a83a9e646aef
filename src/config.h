/*
 * config.h: the configuration as every process sees it (struct config),
 * and the functions of config.c that read, check, print and query it.
 * The supervisor parses the file; workers get the parsed struct across
 * fork.  A reload that replaces workers forks them with the new struct; a
 * reload applied in place sends WS workers the text the supervisor read,
 * which they parse with config_load_text (they never open the file).
 */

#ifndef CONFIG_H
#define CONFIG_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


#define CFG_MAX_ERRORS		32
#define CFG_ERRLEN		256

/* A listening address as written ("127.0.0.1:8082", "[::1]:8082",
 * "*:8082") and as resolved. */
struct listen_addr {
	char			 la_text[128];
	struct sockaddr_storage	 la_ss;
	socklen_t		 la_sslen;
};

struct config_origin;		/* private to config.c */

struct strlist {
	size_t			  sl_n;
	char			**sl_v;
};

enum log_fmt_level {
	CFG_LOG_DEBUG = 7,	/* values are syslog priorities */
	CFG_LOG_INFO = 6,
	CFG_LOG_NOTICE = 5,
	CFG_LOG_WARNING = 4,
	CFG_LOG_ERR = 3
};

enum push_format {
	PUSH_FORMAT_MATRIX = 0,
	PUSH_FORMAT_GORUSH = 1
};

/*
 * The whole configuration.  Strings are heap-owned by the struct (NULL when
 * unset); config_free() releases them.  Durations are milliseconds, sizes
 * bytes.  Every field has one key in the table in config.c.
 */
struct config {
	char			*cf_path;	/* file read, NULL = embedded */
	int			 cf_local;	/* 1: embedded local defaults */
	struct config_origin	*cf_origin;	/* private to config.c: where
						 * each key was set */

	struct listen_addr	 cf_api_listen;
	struct listen_addr	 cf_ws_listen;
	int			 cf_api_workers;
	int			 cf_ws_workers;
	char			*cf_data_dir;
	char			*cf_control_socket;
	char			*cf_control_socket_group;

	char			*cf_jwt_secret;
	char			*cf_jwt_secret_file;
	char			*cf_jwt_jwks_file;
	char			*cf_jwt_issuer;
	char			*cf_jwt_audience;
	char			*cf_jwt_user_claim;
	char			*cf_jwt_device_claim;
	int			 cf_jwt_es256_low_s; /* 1: no high-S ES256 */

	int64_t			 cf_max_envelope_bytes;
	int64_t			 cf_queue_max_messages;
	int64_t			 cf_message_ttl;	/* ms */
	int64_t			 cf_device_idle_ttl;	/* ms, 0: never */
	int64_t			 cf_store_max_size;	/* bytes: LMDB map */
	int64_t			 cf_rate_limit_per_user; /* per second, 0 off */
	int64_t			 cf_ws_window;
	int64_t			 cf_ws_ping_interval;	/* ms */
	int64_t			 cf_max_connections_per_device;
	struct strlist		 cf_cors_origins;

	char			*cf_tls_cert;
	char			*cf_tls_key;
	char			*cf_tls_ciphers;	/* TLS 1.2; NULL: default */
	int			 cf_tls_min_version;	/* 12 or 13 */
	char			*cf_tls_ocsp_file;	/* DER; NULL: none */
	char			*cf_tls_client_ca;	/* PEM; NULL: none */
	int64_t			 cf_tls_ticket_rotate;	/* ms */
	char			*cf_push_gateway_url;
	int			 cf_push_gateway_format; /* enum push_format */
	char			*cf_push_gateway_ca;
	int64_t			 cf_push_coalesce;	/* ms */
	int64_t			 cf_push_delay_after_disconnect; /* ms */
	int64_t			 cf_push_max_age;	/* ms */
	int			 cf_push_workers;	/* derived, not a key: 1
							 * when push_gateway_url
							 * is set (the process
							 * table's count) */

	int			 cf_log_level;		/* enum log_fmt_level */
	char			*cf_log_file;

	int64_t			 cf_shutdown_timeout;	/* ms */
	int64_t			 cf_heartbeat_timeout;	/* ms */
	int64_t			 cf_client_header_timeout; /* ms */
	int64_t			 cf_client_body_timeout; /* ms */
	int64_t			 cf_keepalive_timeout;	/* ms */
	int64_t			 cf_send_timeout;	/* ms */
	int64_t			 cf_max_clients;	/* per worker */
};

/* Problems found while reading a config, each "file:line: text". */
struct cfg_errors {
	int			 ce_n;		/* may exceed CFG_MAX_ERRORS */
	char			 ce_msg[CFG_MAX_ERRORS][CFG_ERRLEN];
};

struct config	*config_new(int local);
int		 config_parse_buf(struct config *, const char *name,
		    const char *buf, size_t len, struct cfg_errors *);
int		 config_load(const char *path, struct config **,
		    struct cfg_errors *);
int		 config_validate(struct config *, struct cfg_errors *);
/*
 * config_key_error: add msg to errs as an error of key name of cf, at the
 * file and line that set it (the file alone for a key not set), as the
 * parser reports its own; past CFG_MAX_ERRORS it is only counted.
 */
void		 config_key_error(struct cfg_errors *, const struct config *,
		    const char *name, const char *msg);
/*
 * config_read_text: the bytes of the file path (at most 1 MiB), malloc'd
 * (the caller frees), with *lenp set; NULL with errs filled (reset first)
 * on error.
 */
char		*config_read_text(const char *path, size_t *lenp,
		    struct cfg_errors *);
/*
 * config_load_text: as config_load, from len bytes of buf read from path
 * (cf_path is set to path).  errs is not reset.  0 with *cfp, or -1.
 */
int		 config_load_text(const char *path, const char *buf,
		    size_t len, struct config **cfp, struct cfg_errors *);
/*
 * config_changed: the next key from *pos on (start at 0) whose effective
 * value differs between a and b; *restart is 1 if a reload cannot apply
 * it (data_dir, store_max_size: see config_keep_restart).  Returns its
 * static name and advances *pos, or NULL at the end.
 */
const char	*config_changed(const struct config *a, const struct config *b,
		    size_t *pos, int *restart);
/*
 * config_keep_restart: give ncf the values of old for every key only a
 * restart applies, so that a reload keeps them.  0, or -1 out of memory.
 */
int		 config_keep_restart(struct config *ncf,
		    const struct config *old);
void		 config_free(struct config *);
int		 config_parse_duration(const char *, int64_t *);
int		 config_parse_size(const char *, int64_t *);
int		 config_parse_listen(const char *, struct listen_addr *);
int		 config_write(const struct config *, FILE *);
/*
 * config_unserved: the next key from *pos on (start at 0) that is set in
 * cf although this release does not serve its feature (a key flagged so
 * in config.c's table; this release flags none): it is checked like any
 * key but has no effect.  Returns its static name and
 * advances *pos, or NULL at the end.  Keys with a default count only
 * when a file sets them.
 */
const char	*config_unserved(const struct config *, size_t *pos);
/* config_touch_interval_ms: how old a device's last-seen time may grow
 * before a request rewrites it: a quarter of device_idle_ttl, at most
 * 60 s (a write per device per minute at most). */
uint64_t	 config_touch_interval_ms(const struct config *);

#endif /* CONFIG_H */
