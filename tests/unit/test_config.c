/*
 * test_config.c: unit tests of src/config.c (linked alone, libc only).
 *
 * Covers the defaults (file and local), a file setting every key, the
 * syntax (comments, quoting, whitespace, CRLF, BOM), the value parsers,
 * every error kind with its line number and wording, several errors in
 * one file, the file checks (real files in a mkdtemp directory under
 * /tmp), config_load, and the config_write round trip.  It also checks
 * that etc/routingd.conf and man/routingd.conf.5.in document every key
 * (found through $srcdir, as exported by automake; "." when unset).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* nftw(), open_memstream() */
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "paths.h"
#include "routingd.h"

#define NKEYS		47		/* keys in config.c's table */
#define BIG		16384		/* bytes of a test config text */

static char	tmpdir[64];		/* /tmp/test_config.XXXXXX */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return (remove(path));
}

static int
group_setup(void **state)
{
	(void)strcpy(tmpdir, "/tmp/test_config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return (-1);
	return (0);
}

static int
group_teardown(void **state)
{
	return (nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS));
}

/* Write len bytes to tmpdir/name; the full path goes to path. */
static void
write_file(const char *name, const void *data, size_t len, char *path,
    size_t plen)
{
	FILE	*fp;

	assert_true((size_t)snprintf(path, plen, "%s/%s", tmpdir, name) <
	    plen);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void
dump_errors(const struct cfg_errors *e)
{
	int	 i;

	for (i = 0; i < e->ce_n && i < CFG_MAX_ERRORS; i++)
		print_message("  error: %s\n", e->ce_msg[i]);
}

/* Parse text as "test.conf" over the file defaults, then validate. */
static int
parse_text_len(const char *text, size_t len, struct cfg_errors *e)
{
	struct config	*cf;
	int		 rv;

	memset(e, 0, sizeof(*e));
	assert_non_null(cf = config_new(0));
	rv = config_parse_buf(cf, "test.conf", text, len, e);
	if (config_validate(cf, e) == -1)
		rv = -1;
	config_free(cf);
	return (rv);
}

static int
parse_text(const char *text, struct cfg_errors *e)
{
	return (parse_text_len(text, strlen(text), e));
}

/* Some error starts with "test.conf:LINE: " and contains phrase. */
static void
assert_error(const struct cfg_errors *e, int line, const char *phrase)
{
	char	 prefix[64];
	int	 i;

	(void)snprintf(prefix, sizeof(prefix), "test.conf:%d: ", line);
	for (i = 0; i < e->ce_n && i < CFG_MAX_ERRORS; i++)
		if (strncmp(e->ce_msg[i], prefix, strlen(prefix)) == 0 &&
		    strstr(e->ce_msg[i], phrase) != NULL)
			return;
	dump_errors(e);
	fail_msg("no error \"%s\" on line %d", phrase, line);
}

/* text has exactly one problem, on line, whose message has phrase. */
static void
expect_error_len(const char *text, size_t len, int line, const char *phrase)
{
	struct cfg_errors	 e;

	if (parse_text_len(text, len, &e) != -1 || e.ce_n != 1) {
		dump_errors(&e);
		fail_msg("expected one error \"%s\" for: %s", phrase, text);
	}
	assert_error(&e, line, phrase);
}

static void
expect_error(const char *text, int line, const char *phrase)
{
	expect_error_len(text, strlen(text), line, phrase);
}

static void
expect_ok(const char *text)
{
	struct cfg_errors	 e;

	if (parse_text(text, &e) != 0) {
		dump_errors(&e);
		fail_msg("expected no error for: %s", text);
	}
	assert_int_equal(e.ce_n, 0);
}

/* A config from text over the file defaults; must parse and validate. */
static struct config *
load_text(const char *text)
{
	struct cfg_errors	 e;
	struct config		*cf;

	memset(&e, 0, sizeof(e));
	assert_non_null(cf = config_new(0));
	if (config_parse_buf(cf, "test.conf", text, strlen(text), &e) != 0 ||
	    config_validate(cf, &e) != 0) {
		dump_errors(&e);
		fail_msg("config did not load");
	}
	return (cf);
}

/* config_write() into a heap string (caller frees). */
static char *
write_string(const struct config *cf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	assert_non_null(fp = open_memstream(&buf, &len));
	assert_int_equal(config_write(cf, fp), 0);
	assert_int_equal(fclose(fp), 0);
	return (buf);
}

static int
sin_port(const struct listen_addr *la)
{
	if (la->la_ss.ss_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)(const void *)
		    &la->la_ss)->sin_port));
	return (ntohs(((const struct sockaddr_in6 *)(const void *)
	    &la->la_ss)->sin6_port));
}

static const char *
sin_addr(const struct listen_addr *la, char *buf, size_t len)
{
	const void	*a;

	if (la->la_ss.ss_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)
		    &la->la_ss)->sin_addr;
	else
		a = &((const struct sockaddr_in6 *)(const void *)
		    &la->la_ss)->sin6_addr;
	return (inet_ntop(la->la_ss.ss_family, a, buf, (socklen_t)len));
}

/* The full config text used by several tests (every key but jwt_secret). */
static void
full_text(char *buf, size_t len)
{
	char	 sec[PATH_MAX], jwks[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];

	write_file("full.secret", "0123456789abcdef0123456789abcdef\n", 33,
	    sec, sizeof(sec));
	write_file("full.jwks", "{\"keys\":[]}\n", 12, jwks, sizeof(jwks));
	write_file("full.cert", "cert\n", 5, cert, sizeof(cert));
	write_file("full.key", "key\n", 4, key, sizeof(key));
	assert_true((size_t)snprintf(buf, len,
	    "# every key but jwt_secret\n"
	    "api_listen = 0.0.0.0:9082\n"
	    "ws_listen = [::1]:9083\n"
	    "api_workers = 4\n"
	    "ws_workers = 8\n"
	    "data_dir = /srv/routingd\n"
	    "control_socket = /run/rtd/ctl.sock\n"
	    "control_socket_group = root\n"
	    "jwt_secret_file = %s\n"
	    "jwt_jwks_file = %s\n"
	    "jwt_issuer = https://auth.example\n"
	    "jwt_audience = routingd\n"
	    "jwt_user_claim = uid\n"
	    "jwt_device_claim = dev:id\n"
	    "jwt_es256_low_s = yes\n"
	    "max_envelope_bytes = 1m\n"
	    "queue_max_messages = 500\n"
	    "message_ttl = 7d\n"
	    "store_max_size = 2g\n"
	    "rate_limit_per_user = 0\n"
	    "ws_window = 64\n"
	    "ws_ping_interval = 45s\n"
	    "max_connections_per_device = 4\n"
	    "cors_origins = https://App.Example, http://localhost:3000\n"
	    "tls_cert = %s\n"
	    "tls_key = %s\n"
	    "push_gateway_url = https://push.example/_matrix/push/v1/notify\n"
	    "push_gateway_format = gorush\n"
	    "log_level = debug\n"
	    "log_file = /var/log/routingd.log\n"
	    "shutdown_timeout = 0\n"
	    "heartbeat_timeout = 2m\n"
	    "client_header_timeout = 250ms\n"
	    "client_body_timeout = 1h\n"
	    "keepalive_timeout = 0\n"
	    "send_timeout = 90s\n"
	    "max_clients = 20000\n", sec, jwks, cert, key) < len);
}

/* ------------------------------------------------------------------ */
/* Defaults and the key table                                          */
/* ------------------------------------------------------------------ */

static void
test_defaults_file(void **state)
{
	struct config	*cf;
	char		 a[64];

	assert_non_null(cf = config_new(0));
	assert_int_equal(cf->cf_local, 0);
	assert_null(cf->cf_path);
	assert_string_equal(cf->cf_api_listen.la_text, DEFAULT_API_LISTEN);
	assert_string_equal(cf->cf_ws_listen.la_text, DEFAULT_WS_LISTEN);
	assert_int_equal(cf->cf_api_listen.la_ss.ss_family, AF_INET);
	assert_int_equal(sin_port(&cf->cf_api_listen), 8082);
	assert_int_equal(sin_port(&cf->cf_ws_listen), 8083);
	assert_string_equal(sin_addr(&cf->cf_api_listen, a, sizeof(a)),
	    "127.0.0.1");
	assert_int_equal(cf->cf_api_workers, 2);
	assert_int_equal(cf->cf_ws_workers, 2);
	assert_string_equal(cf->cf_data_dir, ROUTINGD_STATEDIR);
	assert_string_equal(cf->cf_control_socket, ROUTINGD_SOCKET);
	assert_null(cf->cf_control_socket_group);
	assert_null(cf->cf_jwt_secret);
	assert_null(cf->cf_jwt_secret_file);
	assert_null(cf->cf_jwt_jwks_file);
	assert_null(cf->cf_jwt_issuer);
	assert_null(cf->cf_jwt_audience);
	assert_string_equal(cf->cf_jwt_user_claim, "sub");
	assert_string_equal(cf->cf_jwt_device_claim, "device_id");
	assert_int_equal(cf->cf_jwt_es256_low_s, 0);
	assert_int_equal(cf->cf_max_envelope_bytes, 256 * 1024);
	assert_int_equal(cf->cf_queue_max_messages, 10000);
	assert_int_equal(cf->cf_message_ttl, 30LL * 86400 * 1000);
	assert_int_equal(cf->cf_rate_limit_per_user, 100);
	assert_int_equal(cf->cf_ws_window, 256);
	assert_int_equal(cf->cf_ws_ping_interval, 30000);
	assert_int_equal(cf->cf_max_connections_per_device, 1);
	assert_int_equal(cf->cf_cors_origins.sl_n, 0);
	assert_null(cf->cf_tls_cert);
	assert_null(cf->cf_tls_key);
	assert_null(cf->cf_push_gateway_url);
	assert_int_equal(cf->cf_push_gateway_format, PUSH_FORMAT_MATRIX);
	assert_int_equal(cf->cf_log_level, CFG_LOG_INFO);
	assert_null(cf->cf_log_file);
	assert_int_equal(cf->cf_shutdown_timeout, 10000);
	assert_int_equal(cf->cf_store_max_size, 8LL * 1024 * 1024 * 1024);
	assert_int_equal(cf->cf_heartbeat_timeout, 10000);
	assert_int_equal(cf->cf_client_header_timeout, 10000);
	assert_int_equal(cf->cf_client_body_timeout, 30000);
	assert_int_equal(cf->cf_keepalive_timeout, 60000);
	assert_int_equal(cf->cf_send_timeout, 30000);
	assert_int_equal(cf->cf_max_clients, 10000);
	assert_int_equal(config_validate(cf, NULL), 0);
	config_free(cf);
}

static void
test_defaults_local(void **state)
{
	struct config	*cf;

	assert_non_null(cf = config_new(1));
	assert_int_equal(cf->cf_local, 1);
	assert_string_equal(cf->cf_data_dir, LOCAL_DATA_DIR);
	assert_string_equal(cf->cf_control_socket,
	    LOCAL_DATA_DIR "/" LOCAL_SOCKET_NAME);
	assert_string_equal(cf->cf_api_listen.la_text, "127.0.0.1:8082");
	assert_string_equal(cf->cf_ws_listen.la_text, "127.0.0.1:8083");
	assert_null(cf->cf_jwt_secret_file);
	assert_int_equal(cf->cf_api_workers, 2);
	assert_int_equal(config_validate(cf, NULL), 0);
	config_free(cf);
	config_free(NULL);
}

/* config_write lists every key once, in strictly ascending order. */
static void
test_table_sorted(void **state)
{
	struct config	*cf;
	char		*out, *line, *save = NULL, prev[64] = "", key[64];
	int		 n = 0;

	assert_non_null(cf = config_new(0));
	out = write_string(cf);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(sscanf(line + (line[0] == '#' ? 2 : 0),
		    "%63[a-z0-9_]", key), 1);
		assert_true(strcmp(prev, key) < 0);
		(void)strcpy(prev, key);
		n++;
	}
	assert_int_equal(n, NKEYS);
	free(out);
	config_free(cf);
}

static char *
read_doc(const char *rel)
{
	const char	*srcdir = getenv("srcdir");
	char		 path[PATH_MAX], *buf;
	FILE		*fp;
	long		 n;

	(void)snprintf(path, sizeof(path), "%s/%s", srcdir ? srcdir : ".",
	    rel);
	if ((fp = fopen(path, "r")) == NULL)
		return (NULL);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	assert_non_null(buf = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return (buf);
}

/*
 * The example config with every "# key = value" line uncommented (but the
 * two build-configurable paths), into a heap string.
 */
static char *
uncomment_example(const char *ex)
{
	const char	*p, *nl, *v;
	char		*out, *o;
	size_t		 n;

	assert_non_null(out = o = calloc(1, strlen(ex) + 1));
	for (p = ex; *p != '\0'; p = nl + (*nl != '\0')) {
		nl = p + strcspn(p, "\n");
		if (strncmp(p, "# ", 2) != 0)
			continue;
		n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz_");
		v = p + 2 + n + 3;	/* the value after "key = " */
		if (n == 0 || strncmp(p + 2 + n, " = ", 3) != 0 || v >= nl ||
		    strncmp(p + 2, "data_dir ", 9) == 0 ||
		    strncmp(p + 2, "control_socket ", 15) == 0)
			continue;
		memcpy(o, p + 2, (size_t)(nl - p - 2));
		o += nl - p - 2;
		*o++ = '\n';
	}
	return (out);
}

/*
 * Every key is in the man page (".It Ic key") and in the example config
 * ("# key ="); the example parses, and its commented-out values are the
 * defaults.
 */
static void
test_docs_cover_every_key(void **state)
{
	struct config	*cf, *cf2;
	char		*man, *ex, *out, *out2, *line, *save = NULL, *un;
	char		 want[128], key[64];

	man = read_doc("man/routingd.conf.5.in");
	ex = read_doc("etc/routingd.conf");
	if (man == NULL || ex == NULL) {
		free(man);
		free(ex);
		skip();
		return;
	}
	expect_ok(ex);
	assert_non_null(cf = config_new(0));
	out = write_string(cf);
	un = uncomment_example(ex);
	assert_non_null(strstr(un, "\nkeepalive_timeout = 60s\n"));
	assert_non_null(strstr(un, "\nlog_level = info\n"));
	cf2 = load_text(un);
	out2 = write_string(cf2);
	assert_string_equal(out2, out);
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(sscanf(line + (line[0] == '#' ? 2 : 0),
		    "%63[a-z0-9_]", key), 1);
		(void)snprintf(want, sizeof(want), "\n.It Ic %s ", key);
		if (strstr(man, want) == NULL)
			fail_msg("man page misses %s", key);
		(void)snprintf(want, sizeof(want), "\n# %s =", key);
		if (strstr(ex, want) == NULL)
			fail_msg("etc/routingd.conf misses \"%s\"", want + 1);
	}
	free(un);
	free(out);
	free(out2);
	free(man);
	free(ex);
	config_free(cf);
	config_free(cf2);
}

/* ------------------------------------------------------------------ */
/* Good files                                                          */
/* ------------------------------------------------------------------ */

static void
test_full_file(void **state)
{
	char		 text[BIG], path[PATH_MAX], a[64];
	struct config	*cf;
	struct cfg_errors e;

	full_text(text, sizeof(text));
	write_file("full.conf", text, strlen(text), path, sizeof(path));
	memset(&e, 0xff, sizeof(e));
	if (config_load(path, &cf, &e) != 0) {
		dump_errors(&e);
		fail();
	}
	assert_int_equal(e.ce_n, 0);
	assert_string_equal(cf->cf_path, path);
	assert_string_equal(cf->cf_api_listen.la_text, "0.0.0.0:9082");
	assert_string_equal(sin_addr(&cf->cf_api_listen, a, sizeof(a)),
	    "0.0.0.0");
	assert_int_equal(sin_port(&cf->cf_api_listen), 9082);
	assert_int_equal(cf->cf_ws_listen.la_ss.ss_family, AF_INET6);
	assert_string_equal(sin_addr(&cf->cf_ws_listen, a, sizeof(a)), "::1");
	assert_int_equal(sin_port(&cf->cf_ws_listen), 9083);
	assert_int_equal(cf->cf_api_workers, 4);
	assert_int_equal(cf->cf_ws_workers, 8);
	assert_string_equal(cf->cf_data_dir, "/srv/routingd");
	assert_string_equal(cf->cf_control_socket, "/run/rtd/ctl.sock");
	assert_string_equal(cf->cf_control_socket_group, "root");
	assert_non_null(strstr(cf->cf_jwt_secret_file, "full.secret"));
	assert_non_null(strstr(cf->cf_jwt_jwks_file, "full.jwks"));
	assert_string_equal(cf->cf_jwt_issuer, "https://auth.example");
	assert_string_equal(cf->cf_jwt_audience, "routingd");
	assert_string_equal(cf->cf_jwt_user_claim, "uid");
	assert_string_equal(cf->cf_jwt_device_claim, "dev:id");
	assert_int_equal(cf->cf_jwt_es256_low_s, 1);
	assert_int_equal(cf->cf_max_envelope_bytes, 1024 * 1024);
	assert_int_equal(cf->cf_queue_max_messages, 500);
	assert_int_equal(cf->cf_message_ttl, 7LL * 86400 * 1000);
	assert_int_equal(cf->cf_rate_limit_per_user, 0);
	assert_int_equal(cf->cf_ws_window, 64);
	assert_int_equal(cf->cf_ws_ping_interval, 45000);
	assert_int_equal(cf->cf_max_connections_per_device, 4);
	assert_int_equal(cf->cf_cors_origins.sl_n, 2);
	assert_string_equal(cf->cf_cors_origins.sl_v[0],
	    "https://app.example");
	assert_string_equal(cf->cf_cors_origins.sl_v[1],
	    "http://localhost:3000");
	assert_non_null(strstr(cf->cf_tls_cert, "full.cert"));
	assert_non_null(strstr(cf->cf_tls_key, "full.key"));
	assert_string_equal(cf->cf_push_gateway_url,
	    "https://push.example/_matrix/push/v1/notify");
	assert_int_equal(cf->cf_push_gateway_format, PUSH_FORMAT_GORUSH);
	assert_int_equal(cf->cf_log_level, CFG_LOG_DEBUG);
	assert_string_equal(cf->cf_log_file, "/var/log/routingd.log");
	assert_int_equal(cf->cf_shutdown_timeout, 0);
	assert_int_equal(cf->cf_store_max_size, 2LL * 1024 * 1024 * 1024);
	assert_int_equal(cf->cf_heartbeat_timeout, 120000);
	assert_int_equal(cf->cf_client_header_timeout, 250);
	assert_int_equal(cf->cf_client_body_timeout, 3600000);
	assert_int_equal(cf->cf_keepalive_timeout, 0);
	assert_int_equal(cf->cf_send_timeout, 90000);
	assert_int_equal(cf->cf_max_clients, 20000);
	config_free(cf);
}

static void
test_jwt_secret_inline(void **state)
{
	struct config	*cf;

	cf = load_text("jwt_secret = 0123456789abcdef0123456789abcdef\n");
	assert_string_equal(cf->cf_jwt_secret,
	    "0123456789abcdef0123456789abcdef");
	config_free(cf);
	cf = load_text("jwt_secret = \"  spaces # and hash in a secret!!\"\n");
	assert_string_equal(cf->cf_jwt_secret,
	    "  spaces # and hash in a secret!!");
	config_free(cf);
}

static void
test_comments_and_whitespace(void **state)
{
	struct config	*cf;

	cf = load_text(
	    "\xef\xbb\xbf# a comment after a byte order mark\n"
	    "   # an indented comment\n"
	    "\n"
	    " \t \n"
	    "api_workers=3\n"
	    "\tws_workers \t=\t 5 \t\n"
	    "queue_max_messages = 77 # trailing comment\n"
	    "jwt_issuer = a#b\n"
	    "jwt_audience = x\t# tab before the comment\r\n"
	    "log_level = notice");
	assert_int_equal(cf->cf_api_workers, 3);
	assert_int_equal(cf->cf_ws_workers, 5);
	assert_int_equal(cf->cf_queue_max_messages, 77);
	assert_string_equal(cf->cf_jwt_issuer, "a#b");
	assert_string_equal(cf->cf_jwt_audience, "x");
	assert_int_equal(cf->cf_log_level, CFG_LOG_NOTICE);
	config_free(cf);
}

static void
test_quoting(void **state)
{
	struct config	*cf;

	cf = load_text(
	    "jwt_issuer = \"  has # a hash  \"\n"
	    "jwt_audience = \"q\\\"b\\\\s\" # comment after quotes\n"
	    "log_file = \"/tmp/a b.log\"#no blank needed\n"
	    "api_workers = \"7\"\n"
	    "message_ttl = \"2h\"\n");
	assert_string_equal(cf->cf_jwt_issuer, "  has # a hash  ");
	assert_string_equal(cf->cf_jwt_audience, "q\"b\\s");
	assert_string_equal(cf->cf_log_file, "/tmp/a b.log");
	assert_int_equal(cf->cf_api_workers, 7);
	assert_int_equal(cf->cf_message_ttl, 7200000);
	config_free(cf);
	/* A quote inside a bare value is an ordinary byte. */
	cf = load_text("jwt_issuer = it\"s\n");
	assert_string_equal(cf->cf_jwt_issuer, "it\"s");
	config_free(cf);
}

/* The longest line allowed is 4096 bytes. */
static void
test_line_limit(void **state)
{
	char		 text[5000];
	struct config	*cf;

	memset(text, 'x', sizeof(text));
	memcpy(text, "jwt_issuer = ", 13);
	text[4096] = '\n';
	text[4097] = '\0';
	cf = load_text(text);
	assert_int_equal(strlen(cf->cf_jwt_issuer), 4096 - 13);
	config_free(cf);
	text[4096] = 'x';
	text[4097] = '\n';
	text[4098] = '\0';
	expect_error(text, 1, "line too long (4097 bytes, at most 4096)");
}

static void
test_listen_and_origins_variants(void **state)
{
	struct config	*cf;
	char		 a[64];

	cf = load_text("api_listen = *:8082\nws_listen = localhost:9000\n"
	    "cors_origins = *\n");
	assert_string_equal(sin_addr(&cf->cf_api_listen, a, sizeof(a)),
	    "0.0.0.0");
	assert_string_equal(sin_addr(&cf->cf_ws_listen, a, sizeof(a)),
	    "127.0.0.1");
	assert_string_equal(cf->cf_ws_listen.la_text, "localhost:9000");
	assert_int_equal(cf->cf_cors_origins.sl_n, 1);
	assert_string_equal(cf->cf_cors_origins.sl_v[0], "*");
	config_free(cf);
	cf = load_text("cors_origins = https://a.example:8443 ,"
	    "http://[::1]:3000,  http://127.0.0.1\n");
	assert_int_equal(cf->cf_cors_origins.sl_n, 3);
	assert_string_equal(cf->cf_cors_origins.sl_v[0],
	    "https://a.example:8443");
	assert_string_equal(cf->cf_cors_origins.sl_v[1], "http://[::1]:3000");
	assert_string_equal(cf->cf_cors_origins.sl_v[2], "http://127.0.0.1");
	config_free(cf);
	expect_ok("push_gateway_url = http://gw:5000\n");
	expect_ok("push_gateway_url = http://[::1]:5000/notify?x=1\n");
	expect_error("push_gateway_url = https://u:p@push.example/\n", 1,
	    "bad URL");
}

/* Each parse_buf call is its own file: a later one may reset a key. */
static void
test_two_buffers(void **state)
{
	struct config		*cf;
	struct cfg_errors	 e;

	memset(&e, 0, sizeof(e));
	assert_non_null(cf = config_new(0));
	assert_int_equal(config_parse_buf(cf, "a", "api_workers = 3\n", 16,
	    &e), 0);
	assert_int_equal(config_parse_buf(cf, "b", "api_workers = 4\n", 16,
	    &e), 0);
	assert_int_equal(cf->cf_api_workers, 4);
	assert_int_equal(config_parse_buf(cf, NULL, "x = 1\n", 6, NULL), -1);
	assert_int_equal(config_parse_buf(cf, NULL, "x = 1\n", 6, &e), -1);
	assert_int_equal(e.ce_n, 1);
	assert_string_equal(e.ce_msg[0], "(buffer):1: unknown key \"x\"");
	config_free(cf);
}

/* ------------------------------------------------------------------ */
/* Value parsers                                                       */
/* ------------------------------------------------------------------ */

static void
test_parse_duration(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 ms;
	} good[] = {
		{ "0", 0 }, { "30", 30000 }, { "500ms", 500 }, { "30s", 30000 },
		{ "5m", 300000 }, { "2h", 7200000 }, { "30d", 2592000000LL },
		{ "3650d", 315360000000LL }, { "007s", 7000 }
	};
	static const char *bad[] = {
		"", "5x", "1.5s", "s", " 5s", "5 s", "5S", "+5s", "5sec",
		"-", "0x10", "5s ", "5ms5"
	};
	int64_t	 ms;
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(config_parse_duration(good[i].in, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = 42;
		if (config_parse_duration(bad[i], &ms) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(ms, 42);
	}
	assert_int_equal(config_parse_duration("-5s", &ms), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(config_parse_duration("9223372036854775807d", &ms),
	    -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(config_parse_duration("99999999999999999999", &ms),
	    -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_parse_size(void **state)
{
	static const struct {
		const char	*in;
		int64_t		 bytes;
	} good[] = {
		{ "0", 0 }, { "1024", 1024 }, { "1b", 1 }, { "256k", 262144 },
		{ "256K", 262144 }, { "256kb", 262144 }, { "256KB", 262144 },
		{ "16m", 16777216 }, { "16MB", 16777216 },
		{ "8g", 8589934592LL }, { "8Gb", 8589934592LL }
	};
	static const char *bad[] = {
		"", "12x", "1.5k", "k", "8gg", "1kib", " 1k", "1 k", "+1k",
		"-1k", "1bk"
	};
	int64_t	 v;
	size_t	 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(config_parse_size(good[i].in, &v), 0);
		assert_int_equal(v, good[i].bytes);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		if (config_parse_size(bad[i], &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(v, 42);
	}
	assert_int_equal(config_parse_size("9223372036854775807k", &v), -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_parse_listen(void **state)
{
	static const struct {
		const char	*in;
		int		 family;
		const char	*addr;
		int		 port;
	} good[] = {
		{ "127.0.0.1:8082", AF_INET, "127.0.0.1", 8082 },
		{ "*:80", AF_INET, "0.0.0.0", 80 },
		{ "localhost:9000", AF_INET, "127.0.0.1", 9000 },
		{ "0.0.0.0:65535", AF_INET, "0.0.0.0", 65535 },
		{ "[::1]:8083", AF_INET6, "::1", 8083 },
		{ "[::]:1", AF_INET6, "::", 1 },
		{ "[2001:db8::2]:443", AF_INET6, "2001:db8::2", 443 },
		{ "[fe80::1%lo]:443", AF_INET6, "fe80::1", 443 }
	};
	static const char *bad[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:99999999", ":80", "example.com:80", "127.1:80",
		"256.0.0.1:80", "::1:80", "[::1]", "[::1]x:80", "[::1:80",
		"[]:80", "[*]:80", "[127.0.0.1]:80", "1.2.3.4:80x",
		"1.2.3.4:+80", "1.2.3.4: 80", "localhost", "*",
		"1.2.3.4:8080:1", "[fe80::1%nosuchif0]:80", "[::1%]:80"
	};
	struct listen_addr	 la;
	char			 a[64], longtext[200];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(config_parse_listen(good[i].in, &la), 0);
		assert_string_equal(la.la_text, good[i].in);
		assert_int_equal(la.la_ss.ss_family, good[i].family);
		assert_string_equal(sin_addr(&la, a, sizeof(a)), good[i].addr);
		assert_int_equal(sin_port(&la), good[i].port);
		assert_true(la.la_sslen > 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_parse_listen(bad[i], &la) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	memset(longtext, '1', sizeof(longtext));
	memcpy(longtext + sizeof(longtext) - 4, ":80", 4);
	assert_int_equal(config_parse_listen(longtext, &la), -1);
}

/* ------------------------------------------------------------------ */
/* Syntax errors                                                       */
/* ------------------------------------------------------------------ */

static void
test_err_unknown_key(void **state)
{
	struct cfg_errors	 e;

	assert_int_equal(parse_text("\napi_listn = 1.2.3.4:5\n", &e), -1);
	assert_int_equal(e.ce_n, 1);
	assert_string_equal(e.ce_msg[0], "test.conf:2: unknown key "
	    "\"api_listn\" (did you mean \"api_listen\"?)");
	expect_error("ws_worker = 3\n", 1, "(did you mean \"ws_workers\"?)");
	expect_error("messagettl = 3d\n", 1,
	    "(did you mean \"message_ttl\"?)");
	assert_int_equal(parse_text("zzzzzzzzzz = 1\n", &e), -1);
	assert_string_equal(e.ce_msg[0], "test.conf:1: unknown key "
	    "\"zzzzzzzzzz\"");
}

static void
test_err_duplicate_key(void **state)
{
	struct cfg_errors	 e;
	struct config		*cf;
	const char		*text = "# c\napi_workers = 3\n\n\n"
				    "api_workers = 5\n";

	expect_error(text, 5, "duplicate key \"api_workers\" (first set on "
	    "line 2)");
	memset(&e, 0, sizeof(e));
	assert_non_null(cf = config_new(0));
	assert_int_equal(config_parse_buf(cf, "test.conf", text, strlen(text),
	    &e), -1);
	assert_int_equal(cf->cf_api_workers, 3);	/* the first one */
	config_free(cf);
}

static void
test_err_line_syntax(void **state)
{
	expect_error("api_workers 4\n", 1, "missing \"=\" after "
	    "\"api_workers\"");
	expect_error("\n\napi_workers\n", 3, "missing \"=\"");
	expect_error("api workers = 4\n", 1, "missing \"=\" after \"api\"");
	expect_error("= 4\n", 1, "empty key before \"=\"");
	expect_error("  =4\n", 1, "empty key");
	expect_error("Api_Workers = 4\n", 1, "bad key \"Api_Workers\"");
	expect_error("api-workers = 4\n", 1, "bad key \"api-workers\"");
}

static void
test_err_empty_value(void **state)
{
	expect_error("api_workers =\n", 1, "empty value for \"api_workers\"");
	expect_error("api_workers =   \t\n", 1, "empty value");
	expect_error("api_workers = # only a comment\n", 1, "empty value");
	expect_error("jwt_issuer = \"\"\n", 1, "empty value");
}

static void
test_err_quotes(void **state)
{
	expect_error("jwt_issuer = \"abc\n", 1, "unterminated quoted value");
	expect_error("jwt_issuer = \"abc\\\n", 1, "unterminated quoted value");
	expect_error("jwt_issuer = \"abc\\\"\n", 1, "unterminated");
	expect_error("jwt_issuer = \"abc\" def\n", 1,
	    "garbage after the closing quote");
	expect_error("jwt_issuer = \"abc\"def\n", 1, "garbage after");
	expect_error("\njwt_issuer = \"a\\nb\"\n", 2,
	    "bad escape \"\\n\" in a quoted value");
	expect_error("jwt_issuer = \"a\\'b\"\n", 1, "bad escape \"\\'\"");
}

static void
test_err_bytes(void **state)
{
	static const char nul[] = "api_workers = 4\njwt_issuer = a\0b\n";
	char	 text[5000];

	expect_error_len(nul, sizeof(nul) - 1, 2, "NUL byte");
	expect_error("jwt_issuer = caf\xc3\n", 1, "invalid UTF-8");
	expect_error("jwt_issuer = \xc0\xaf\n", 1, "invalid UTF-8");
	expect_error("jwt_issuer = \xed\xa0\x80\n", 1, "invalid UTF-8");
	expect_error("jwt_issuer = \xf4\x90\x80\x80\n", 1, "invalid UTF-8");
	expect_ok("jwt_issuer = caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91\n");
	expect_error("jwt_issuer = a\x01z\n", 1, "control character 0x01");
	expect_error("jwt_issuer = a\rb\n", 1, "control character 0x0d");
	memset(text, ' ', sizeof(text));
	memcpy(text, "\n\n# comment", 11);
	text[sizeof(text) - 1] = '\0';
	expect_error(text, 3, "line too long");
}

/* ------------------------------------------------------------------ */
/* Value errors                                                        */
/* ------------------------------------------------------------------ */

static void
test_err_bad_integer(void **state)
{
	expect_error("api_workers = 12abc\n", 1,
	    "api_workers: bad integer \"12abc\": not a decimal integer");
	expect_error("api_workers = 1.5\n", 1, "bad integer \"1.5\"");
	expect_error("api_workers = \"+5\"\n", 1, "bad integer \"+5\"");
	expect_error("api_workers = -\n", 1, "bad integer \"-\"");
	expect_error("api_workers = 0x10\n", 1, "bad integer");
	expect_error("max_clients = 99999999999999999999\n", 1,
	    "bad integer \"99999999999999999999\": too large");
}

static void
test_err_out_of_range(void **state)
{
	expect_error("api_workers = 0\n", 1,
	    "api_workers: 0 is out of range 1..64");
	expect_error("ws_workers = 65\n", 1, "65 is out of range 1..64");
	expect_error("ws_workers = -3\n", 1, "-3 is out of range 1..64");
	expect_error("queue_max_messages = 10000001\n", 1,
	    "out of range 1..10000000");
	expect_error("message_ttl = 500ms\n", 1,
	    "message_ttl: 500ms is out of range 1s..3650d");
	expect_error("message_ttl = 3651d\n", 1, "3651d is out of range");
	expect_error("client_header_timeout = 99ms\n", 1,
	    "99ms is out of range 100ms..10m");
	expect_error("max_envelope_bytes = 32m\n", 1,
	    "max_envelope_bytes: 32m is out of range 1k..16m");
	expect_error("max_envelope_bytes = 1000\n", 1, "1000 is out of range");
	expect_ok("max_envelope_bytes = 16m\n");
	expect_ok("max_envelope_bytes = 1k\nws_workers = 64\n");
}

static void
test_err_bad_duration(void **state)
{
	expect_error("message_ttl = 5x\n", 1,
	    "message_ttl: bad duration \"5x\": unknown unit (use ms, s, m, h "
	    "or d)");
	expect_error("message_ttl = -5d\n", 1, "negative values are not "
	    "allowed");
	expect_error("message_ttl = 99999999999999999999d\n", 1,
	    "too large");
	expect_error("message_ttl = 9223372036854775807d\n", 1, "too large");
	expect_error("message_ttl = 1.5h\n", 1, "bad duration \"1.5h\"");
}

static void
test_err_bad_size(void **state)
{
	expect_error("max_envelope_bytes = 12q\n", 1,
	    "max_envelope_bytes: bad size \"12q\": unknown unit");
	expect_error("max_envelope_bytes = -1k\n", 1, "negative");
	expect_error("max_envelope_bytes = 99999999999999999999\n", 1,
	    "too large");
	expect_error("max_envelope_bytes = 1.5m\n", 1, "bad size \"1.5m\"");
}

static void
test_err_bad_listen(void **state)
{
	expect_error("api_listen = 127.0.0.1\n", 1,
	    "api_listen: bad listen address \"127.0.0.1\": no port");
	expect_error("api_listen = 127.0.0.1:0\n", 1, "bad port");
	expect_error("api_listen = 127.0.0.1:65536\n", 1,
	    "bad port (expected 1..65535)");
	expect_error("ws_listen = example.com:80\n", 1, "bad host");
	expect_error("ws_listen = 1.2.3.4:80garbage\n", 1, "bad port");
	expect_error("ws_listen = [::1]junk:80\n", 1, "garbage after ']'");
	expect_error("ws_listen = ::1:80\n", 1, "needs brackets");
	expect_error("ws_listen = :80\n", 1, "no host");
	expect_error("ws_listen = [::1:80\n", 1, "missing ']'");
}

static void
test_err_bad_enum(void **state)
{
	expect_error("log_level = loud\n", 1, "log_level: bad value \"loud\" "
	    "(allowed: debug, info, notice, warning, error)");
	expect_error("log_level = INFO\n", 1, "bad value \"INFO\"");
	expect_error("push_gateway_format = apns\n", 1,
	    "(allowed: matrix, gorush)");
	expect_error("jwt_es256_low_s = true\n", 1,
	    "jwt_es256_low_s: bad value \"true\" (allowed: no, yes)");
}

static void
test_err_bad_url(void **state)
{
	expect_error("push_gateway_url = ftp://gw/\n", 1,
	    "push_gateway_url: bad URL \"ftp://gw/\"");
	expect_error("push_gateway_url = gw:5000\n", 1, "bad URL");
	expect_error("push_gateway_url = http://\n", 1, "bad URL");
	expect_error("push_gateway_url = http:///notify\n", 1, "bad URL");
	expect_error("push_gateway_url = \"http://gw /x\"\n", 1, "bad URL");
	expect_error("push_gateway_url = http://gw:0/\n", 1, "bad URL");
	expect_error("push_gateway_url = http://gw:x/\n", 1, "bad URL");
}

static void
test_err_bad_cors(void **state)
{
	expect_error("cors_origins = https://a.example/\n", 1,
	    "cors_origins: bad origin \"https://a.example/\"");
	expect_error("cors_origins = https://a.example/app\n", 1,
	    "bad origin");
	expect_error("cors_origins = https://a.example?x=1\n", 1,
	    "bad origin");
	expect_error("cors_origins = a.example\n", 1, "bad origin");
	expect_error("cors_origins = https://a.example:0\n", 1, "bad origin");
	expect_error("cors_origins = https://\n", 1, "bad origin");
	expect_error("cors_origins = https://a.example, ,http://b\n", 1,
	    "cors_origins: empty item in the list");
	expect_error("cors_origins = https://a.example,\n", 1, "empty item");
	expect_error("cors_origins = ,https://a.example\n", 1, "empty item");
}

static void
test_err_string_limits(void **state)
{
	char	 text[512];

	/* 107 bytes fit sun_path (108 with the NUL), 108 do not. */
	(void)snprintf(text, sizeof(text), "control_socket = /%0106d\n", 0);
	expect_ok(text);
	(void)snprintf(text, sizeof(text), "\ncontrol_socket = /%0107d\n", 0);
	expect_error(text, 2, "control_socket: too long (108 bytes, at most "
	    "107 for a UNIX socket)");
	expect_error("jwt_user_claim = a b\n", 1, "bad claim name \"a b\"");
	expect_error("jwt_device_claim = dev/id\n", 1, "bad claim name");
	(void)snprintf(text, sizeof(text), "jwt_device_claim = %065d\n", 0);
	expect_error(text, 1, "too long (65 bytes, at most 64)");
	expect_ok("jwt_device_claim = urn:x.y-z_1\n");
}

static void
test_err_jwt_secret_short(void **state)
{
	struct cfg_errors	 e;

	expect_error("jwt_secret = 0123456789abcdef0123456789abcde\n", 1,
	    "jwt_secret: too short (31 bytes, at least 32)");
	assert_int_equal(parse_text("jwt_secret = hunter2-hunter2\n", &e), -1);
	assert_null(strstr(e.ce_msg[0], "hunter2"));	/* never echoed */
}

/* ------------------------------------------------------------------ */
/* Validation: files, groups, rules between keys                       */
/* ------------------------------------------------------------------ */

static void
test_jwt_secret_file(void **state)
{
	char	 good[PATH_MAX], bare[PATH_MAX], shrt[PATH_MAX];
	char	 empty[PATH_MAX], text[PATH_MAX + 64];

	write_file("s.good", "0123456789abcdef0123456789abcdef\n", 33, good,
	    sizeof(good));
	write_file("s.bare", "0123456789abcdef0123456789abcdef", 32, bare,
	    sizeof(bare));
	write_file("s.short", "0123456789abcdef0123456789abcde\n", 32, shrt,
	    sizeof(shrt));
	write_file("s.empty", "", 0, empty, sizeof(empty));
	(void)snprintf(text, sizeof(text), "jwt_secret_file = %s\n", good);
	expect_ok(text);
	(void)snprintf(text, sizeof(text), "jwt_secret_file = %s\n", bare);
	expect_ok(text);
	(void)snprintf(text, sizeof(text), "\njwt_secret_file = %s\n", shrt);
	expect_error(text, 2, "jwt_secret_file: the secret is too short (31 "
	    "bytes, at least 32)");
	(void)snprintf(text, sizeof(text), "jwt_secret_file = %s\n", empty);
	expect_error(text, 1, "too short (0 bytes");
	(void)snprintf(text, sizeof(text), "jwt_secret_file = %s/nope\n",
	    tmpdir);
	expect_error(text, 1, "jwt_secret_file: cannot open");
	expect_error(text, 1, "No such file or directory");
	(void)snprintf(text, sizeof(text), "jwt_secret_file = %s\n", tmpdir);
	expect_error(text, 1, "is not a regular file");
}

static void
test_file_unreadable(void **state)
{
	char	 path[PATH_MAX], text[PATH_MAX + 64];

	if (geteuid() == 0)
		skip();			/* root reads anything */
	write_file("unreadable", "0123456789abcdef0123456789abcdef\n", 33,
	    path, sizeof(path));
	assert_int_equal(chmod(path, 0), 0);
	(void)snprintf(text, sizeof(text), "jwt_secret_file = %s\n", path);
	expect_error(text, 1, "Permission denied");
}

static void
test_err_missing_files(void **state)
{
	char	 text[PATH_MAX + 64];

	(void)snprintf(text, sizeof(text), "# x\njwt_jwks_file = %s/jwks\n",
	    tmpdir);
	expect_error(text, 2, "jwt_jwks_file: cannot open \"");
	(void)snprintf(text, sizeof(text), "jwt_jwks_file = %s\n", tmpdir);
	expect_error(text, 1, "not a regular file");
}

static void
test_err_secret_and_file(void **state)
{
	char	 path[PATH_MAX], text[PATH_MAX + 128];

	write_file("both.secret", "0123456789abcdef0123456789abcdef", 32, path,
	    sizeof(path));
	(void)snprintf(text, sizeof(text),
	    "jwt_secret = 0123456789abcdef0123456789abcdef\n"
	    "\njwt_secret_file = %s\n", path);
	expect_error(text, 3, "jwt_secret and jwt_secret_file are both set");
}

static void
test_err_tls_pair(void **state)
{
	char	 cert[PATH_MAX], key[PATH_MAX], text[2 * PATH_MAX + 64];

	write_file("tls.cert", "c", 1, cert, sizeof(cert));
	write_file("tls.key", "k", 1, key, sizeof(key));
	(void)snprintf(text, sizeof(text), "\ntls_cert = %s\n", cert);
	expect_error(text, 2, "tls_cert is set but tls_key is not; set both "
	    "or neither");
	(void)snprintf(text, sizeof(text), "\n\ntls_key = %s\n", key);
	expect_error(text, 3, "tls_key is set but tls_cert is not");
	(void)snprintf(text, sizeof(text), "tls_key = %s\ntls_cert = %s\n",
	    key, cert);
	expect_ok(text);
	(void)snprintf(text, sizeof(text), "tls_key = %s\ntls_cert = %s/x\n",
	    key, tmpdir);
	expect_error(text, 2, "tls_cert: cannot open");
}

static void
test_err_listen_overlap(void **state)
{
	expect_error("api_listen = 127.0.0.1:9000\nws_listen = "
	    "127.0.0.1:9000\n", 2, "api_listen and ws_listen overlap "
	    "(127.0.0.1:9000, 127.0.0.1:9000); they must differ");
	expect_error("api_listen = 127.0.0.1:8083\n", 1, "overlap");
	expect_error("api_listen = *:9000\nws_listen = localhost:9000\n", 2,
	    "overlap");
	expect_error("ws_listen = [::]:9000\napi_listen = 127.0.0.1:9000\n",
	    1, "overlap");
	expect_ok("api_listen = 127.0.0.1:9000\nws_listen = 127.0.0.2:9000\n");
	expect_ok("api_listen = *:9000\nws_listen = *:9001\n");
	/* A rejected api_listen is not compared with ws_listen. */
	expect_error("api_listen = bogus\nws_listen = 127.0.0.1:8082\n", 1,
	    "bad listen address");
}

static void
test_err_group(void **state)
{
	expect_ok("control_socket_group = root\n");
	expect_error("\ncontrol_socket_group = no_such_group_rtd\n", 2,
	    "control_socket_group: no group \"no_such_group_rtd\" on this "
	    "system");
}

/* ------------------------------------------------------------------ */
/* Many errors, config_load, config_write                              */
/* ------------------------------------------------------------------ */

static void
test_many_errors(void **state)
{
	struct cfg_errors	 e;
	char			 text[BIG];
	size_t			 off = 0;
	int			 i;

	assert_int_equal(parse_text(
	    "api_workers = 0\n"
	    "# fine\n"
	    "bogus = 1\n"
	    "log_level = loud\n"
	    "ws_window = 256\n"
	    "jwt_issuer = \"x\n"
	    "message_ttl = 1y\n"
	    "tls_cert = /nonexistent/cert.pem\n", &e), -1);
	assert_int_equal(e.ce_n, 7);
	assert_error(&e, 1, "out of range");
	assert_error(&e, 3, "unknown key");
	assert_error(&e, 4, "bad value");
	assert_error(&e, 6, "unterminated");
	assert_error(&e, 7, "bad duration");
	assert_error(&e, 8, "tls_cert: cannot open");
	assert_error(&e, 8, "tls_cert is set but tls_key is not");
	for (i = 0; i < 40; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "nokey%d = 1\n", i);
	assert_int_equal(parse_text(text, &e), -1);
	assert_int_equal(e.ce_n, 40);
	assert_string_equal(e.ce_msg[CFG_MAX_ERRORS - 1],
	    "test.conf:32: unknown key \"nokey31\"");
}

static void
test_load_errors(void **state)
{
	static struct config	 dummy;
	struct config		*cf = &dummy;
	struct cfg_errors	 e;
	char			 path[PATH_MAX], want[PATH_MAX + 64], *big;

	(void)snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_int_equal(config_load(path, &cf, &e), -1);
	assert_null(cf);
	assert_int_equal(e.ce_n, 1);
	(void)snprintf(want, sizeof(want), "%s: No such file or directory",
	    path);
	assert_string_equal(e.ce_msg[0], want);
	assert_int_equal(config_load(tmpdir, &cf, &e), -1);
	assert_non_null(strstr(e.ce_msg[0], "Is a directory"));
	assert_non_null(big = malloc(1024 * 1024 + 1));
	memset(big, '\n', 1024 * 1024 + 1);
	write_file("big.conf", big, 1024 * 1024, path, sizeof(path));
	assert_int_equal(config_load(path, &cf, &e), 0);
	config_free(cf);
	write_file("big.conf", big, 1024 * 1024 + 1, path, sizeof(path));
	assert_int_equal(config_load(path, &cf, &e), -1);
	assert_null(cf);
	assert_non_null(strstr(e.ce_msg[0], "file too large"));
	free(big);
	write_file("bad.conf", "api_workers = 1\napi_workers = x\n", 32,
	    path, sizeof(path));
	assert_int_equal(config_load(path, &cf, &e), -1);
	assert_null(cf);
	(void)snprintf(want, sizeof(want), "%s:2: duplicate key", path);
	assert_memory_equal(e.ce_msg[0], want, strlen(want));
}

static void
test_write_round_trip(void **state)
{
	struct config		*cf, *cf2;
	struct cfg_errors	 e;
	char			 text[BIG], *out, *out2;

	full_text(text, sizeof(text));
	cf = load_text(text);
	out = write_string(cf);
	assert_non_null(strstr(out, "\nmessage_ttl = 7d\n"));
	assert_non_null(strstr(out, "\nclient_header_timeout = 250ms\n"));
	assert_non_null(strstr(out, "\nmax_envelope_bytes = 1m\n"));
	assert_non_null(strstr(out, "\ncors_origins = https://app.example, "
	    "http://localhost:3000\n"));
	assert_non_null(strstr(out, "\nlog_level = debug\n"));
	assert_non_null(strstr(out, "\n# jwt_secret =\n"));
	cf2 = load_text(out);
	out2 = write_string(cf2);
	assert_string_equal(out, out2);
	free(out);
	free(out2);
	config_free(cf);
	config_free(cf2);

	/* Quoting, and a secret that must not leak. */
	cf = load_text("jwt_secret = \"0123456789abcdef0123456789abcdef!\"\n"
	    "jwt_issuer = \" a \\\"q\\\" # \\\\ \"\n"
	    "jwt_audience = \"#x\"\n");
	out = write_string(cf);
	assert_null(strstr(out, "0123456789abcdef"));
	assert_non_null(strstr(out, "\n# jwt_secret = <hidden>\n"));
	assert_non_null(strstr(out,
	    "\njwt_issuer = \" a \\\"q\\\" # \\\\ \"\n"));
	assert_non_null(cf2 = config_new(0));
	memset(&e, 0, sizeof(e));
	assert_int_equal(config_parse_buf(cf2, "out", out, strlen(out), &e),
	    0);
	assert_string_equal(cf2->cf_jwt_issuer, " a \"q\" # \\ ");
	assert_string_equal(cf2->cf_jwt_audience, "#x");
	assert_null(cf2->cf_jwt_secret);
	free(out);
	config_free(cf);
	config_free(cf2);
}

/* config_changed names what differs; config_keep_restart pins data_dir
 * and store_max_size to the running values, and nothing else. */
static void
test_changed_restart(void **state)
{
	struct cfg_errors	 e;
	struct config		*a, *b;
	const char		*t1 = "data_dir = /tmp/a\nws_window = 10\n";
	const char		*t2 = "data_dir = /tmp/b\nws_window = 20\n"
				    "store_max_size = 64m\n";
	const char		*name;
	size_t			 pos = 0;
	int			 restart, n = 0, nr = 0;

	memset(&e, 0, sizeof(e));
	assert_int_equal(config_load_text("a.conf", t1, strlen(t1), &a, &e),
	    0);
	assert_int_equal(config_load_text("b.conf", t2, strlen(t2), &b, &e),
	    0);
	assert_string_equal(b->cf_path, "b.conf");
	while ((name = config_changed(a, b, &pos, &restart)) != NULL) {
		n++;
		if (restart) {
			nr++;
			assert_true(strcmp(name, "data_dir") == 0 ||
			    strcmp(name, "store_max_size") == 0);
		} else
			assert_string_equal(name, "ws_window");
	}
	assert_int_equal(n, 3);
	assert_int_equal(nr, 2);
	assert_int_equal(config_keep_restart(b, a), 0);
	assert_string_equal(b->cf_data_dir, "/tmp/a");
	assert_int_equal(b->cf_store_max_size, a->cf_store_max_size);
	assert_int_equal(b->cf_ws_window, 20);
	pos = 0;
	assert_string_equal(config_changed(a, b, &pos, &restart), "ws_window");
	assert_int_equal(restart, 0);
	assert_null(config_changed(a, b, &pos, &restart));
	config_free(a);
	config_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_file),
		cmocka_unit_test(test_changed_restart),
		cmocka_unit_test(test_defaults_local),
		cmocka_unit_test(test_table_sorted),
		cmocka_unit_test(test_docs_cover_every_key),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_jwt_secret_inline),
		cmocka_unit_test(test_comments_and_whitespace),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_listen_and_origins_variants),
		cmocka_unit_test(test_two_buffers),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_duplicate_key),
		cmocka_unit_test(test_err_line_syntax),
		cmocka_unit_test(test_err_empty_value),
		cmocka_unit_test(test_err_quotes),
		cmocka_unit_test(test_err_bytes),
		cmocka_unit_test(test_err_bad_integer),
		cmocka_unit_test(test_err_out_of_range),
		cmocka_unit_test(test_err_bad_duration),
		cmocka_unit_test(test_err_bad_size),
		cmocka_unit_test(test_err_bad_listen),
		cmocka_unit_test(test_err_bad_enum),
		cmocka_unit_test(test_err_bad_url),
		cmocka_unit_test(test_err_bad_cors),
		cmocka_unit_test(test_err_string_limits),
		cmocka_unit_test(test_err_jwt_secret_short),
		cmocka_unit_test(test_jwt_secret_file),
		cmocka_unit_test(test_file_unreadable),
		cmocka_unit_test(test_err_missing_files),
		cmocka_unit_test(test_err_secret_and_file),
		cmocka_unit_test(test_err_tls_pair),
		cmocka_unit_test(test_err_listen_overlap),
		cmocka_unit_test(test_err_group),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_write_round_trip),
	};

	return (cmocka_run_group_tests(tests, group_setup, group_teardown));
}
