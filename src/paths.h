/*
 * paths.h: where routingd and routingctl look for things by default.  The
 * build sets ROUTINGD_CONF, ROUTINGD_RUNDIR and ROUTINGD_STATEDIR from
 * configure's directories; the values below are what a build without
 * them gets.  routingctl includes this header, ipc.h and config.h,
 * nothing else of the daemon's.
 */

#ifndef PATHS_H
#define PATHS_H

#ifndef ROUTINGD_CONF
#define ROUTINGD_CONF		"/etc/routingd/routingd.conf"
#endif
#ifndef ROUTINGD_RUNDIR
#define ROUTINGD_RUNDIR		"/run/routingd"
#endif
#ifndef ROUTINGD_STATEDIR
#define ROUTINGD_STATEDIR	"/var/lib/routingd"
#endif
#define ROUTINGD_SOCKET		ROUTINGD_RUNDIR "/routingd.sock"
#define LOCAL_DATA_DIR		"routingd-data"	/* relative to cwd, no config */
#define LOCAL_SOCKET_NAME	"control.sock"	/* inside LOCAL_DATA_DIR */
#define LOCAL_SECRET_NAME	"jwt.secret"	/* inside data_dir */

#endif /* PATHS_H */
