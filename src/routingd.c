/*
 * routingd.c: main(): options, the configuration to run with, then the
 * supervisor.
 *
 * Runs in the process started by systemd or a shell, which becomes the
 * supervisor; routingd never forks into the background.  Which
 * configuration: -f FILE if given; else the system file if it exists;
 * else the embedded local defaults (loopback ports, ./routingd-data).
 * Before the supervisor forks its workers, a child opens the store once
 * and closes it again (routingd_store): a store this build cannot use
 * stops the start there.
 */

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "paths.h"
#include "qstore.h"
#include "routingd.h"
#include "supervisor.h"
#include "tls.h"

static void	usage(void) __attribute__((noreturn));
static void	routingd_help(void) __attribute__((noreturn));
static struct config *routingd_config(const char *, int, struct cfg_errors *);
static int	routingd_check(const char *, struct config *,
		    const struct cfg_errors *, int);
static void	routingd_store(const struct config *);

static void
usage(void)
{
	fprintf(stderr, "usage: routingd [-dhnVv] [-f file]\n");
	exit(2);
}

/* -h: the usage and what each option does, on stdout. */
static void
routingd_help(void)
{
	printf("usage: routingd [-dhnVv] [-f file]\n"
	    "  -d       log to stderr even if log_file is set\n"
	    "  -f file  configuration file (default %s if it exists,\n"
	    "           else embedded defaults for local use)\n"
	    "  -h       this help\n"
	    "  -n       check the configuration and exit (0 OK, 1 not)\n"
	    "  -V       print the version\n"
	    "  -v       debug logging; with -n, print the effective "
	    "configuration\n", ROUTINGD_CONF);
	exit(0);
}

/*
 * The configuration to use: the file path if given, else the embedded
 * defaults (local = 1).  NULL with errs filled if it is not valid.
 */
static struct config *
routingd_config(const char *path, int local, struct cfg_errors *errs)
{
	struct config	*cfg;

	if (!local) {
		if (config_load(path, &cfg, errs) == -1)
			return (NULL);
		if (tls_config_check(cfg, errs) == -1) {
			config_free(cfg);
			return (NULL);
		}
		return (cfg);
	}
	if ((cfg = config_new(1)) == NULL) {
		errs->ce_n = 1;
		(void)snprintf(errs->ce_msg[0], CFG_ERRLEN, "out of memory");
		return (NULL);
	}
	if (config_validate(cfg, errs) == -1) {
		config_free(cfg);
		return (NULL);
	}
	return (cfg);
}

/*
 * Say once for each key the file sets whose feature this release does
 * not serve (it is checked, but has no effect): on stdout for -n, in
 * the log when starting.
 */
static void
routingd_unserved(const struct config *cfg, int check)
{
	const char	*name;
	size_t		 pos = 0;

	while ((name = config_unserved(cfg, &pos)) != NULL) {
		if (check)
			printf("note: %s is set, but its feature is not served "
			    "by this release: the value is only checked\n",
			    name);
		else
			log_warnx("%s is set, but its feature is not served by "
			    "this release: the value is only checked", name);
	}
}

/* -n: report the problems, or OK (and the effective config with -v). */
static int
routingd_check(const char *path, struct config *cfg,
    const struct cfg_errors *errs, int verbose)
{
	int	 i;

	if (cfg == NULL) {
		for (i = 0; i < errs->ce_n && i < CFG_MAX_ERRORS; i++)
			fprintf(stderr, "%s\n", errs->ce_msg[i]);
		if (errs->ce_n > CFG_MAX_ERRORS)
			fprintf(stderr, "(%d more problems not shown)\n",
			    errs->ce_n - CFG_MAX_ERRORS);
		return (1);
	}
	if (verbose)
		(void)config_write(cfg, stdout);
	routingd_unserved(cfg, 1);
	printf("configuration OK: %s\n", path ? path : "embedded defaults");
	config_free(cfg);
	return (0);
}

int
main(int argc, char *argv[])
{
	struct sup_options	 opts;
	struct cfg_errors	*errs;
	struct config		*cfg;
	const char		*errstr;
	char			*path = NULL;
	int			 ch, check = 0, i;

	memset(&opts, 0, sizeof(opts));
	while ((ch = getopt(argc, argv, "df:hnVv")) != -1) {
		switch (ch) {
		case 'd':
			opts.so_debug = 1;
			break;
		case 'f':
			/* A copy: the process title reuses argv's memory. */
			if ((path = strdup(optarg)) == NULL)
				err(1, "strdup");
			break;
		case 'h':
			routingd_help();
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("routingd %s\n", PACKAGE_VERSION);
			return (0);
		case 'v':
			opts.so_verbose++;
			break;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();
	util_title_init(argc, argv);
	log_init(1, opts.so_verbose ? CFG_LOG_DEBUG : CFG_LOG_INFO);
	log_procinit("supervisor", -1);
	if (path == NULL && access(ROUTINGD_CONF, F_OK) == 0 &&
	    (path = strdup(ROUTINGD_CONF)) == NULL)
		fatal("strdup");
	if ((errs = calloc(1, sizeof(*errs))) == NULL)
		fatal("calloc");
	cfg = routingd_config(path, path == NULL, errs);
	if (check) {
		i = routingd_check(path, cfg, errs, opts.so_verbose);
		free(errs);
		free(path);
		return (i);
	}
	if (cfg == NULL) {
		for (i = 0; i < errs->ce_n && i < CFG_MAX_ERRORS; i++)
			log_warnx("%s", errs->ce_msg[i]);
		fatalx("configuration is not valid; not starting");
	}
	free(errs);
	routingd_unserved(cfg, 0);
	opts.so_config = path;
	log_setlevel(opts.so_verbose ? CFG_LOG_DEBUG : cfg->cf_log_level);
	if (!opts.so_debug && cfg->cf_log_file != NULL &&
	    log_open_file(cfg->cf_log_file) == -1)
		fatal("cannot open log_file %s", cfg->cf_log_file);
	if (sup_prepare_state(cfg, &errstr) == -1)
		fatal("%s: %s", cfg->cf_data_dir, errstr);
	routingd_store(cfg);
	sup_main(cfg, &opts);
	/* NOTREACHED */
}

/*
 * Open the store once before any worker exists, and close it again: an
 * older schema is migrated here, and a store this build cannot use (a
 * newer schema, left by a newer routingd after a downgrade, or no routingd
 * store at all) stops the start with one message and exit status 1,
 * instead of every worker failing and being respawned while the daemon
 * never gets ready.  A refused store is not written to.  The store is
 * opened in a child that exits after it, so that the supervisor itself
 * never opens LMDB (no LMDB handle or lock can be inherited by a worker).
 */
static void
routingd_store(const struct config *cfg)
{
	struct qstore	*qs;
	const char	*err = NULL;
	pid_t		 pid;
	int		 status;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		if ((qs = qs_open(cfg->cf_data_dir,
		    (uint64_t)cfg->cf_store_max_size, &err)) == NULL) {
			log_warnx("cannot open the store in %s: %s; not "
			    "starting", cfg->cf_data_dir, err != NULL ? err :
			    "unknown error");
			_exit(1);
		}
		qs_close(qs);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			fatal("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		exit(1);	/* the child said why */
}
