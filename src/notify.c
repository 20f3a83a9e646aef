/*
 * notify.c: readiness and status messages to systemd (sd_notify protocol,
 * spoken directly: one AF_UNIX datagram to $NOTIFY_SOCKET).
 *
 * Runs in the supervisor only.  notify_init() takes $NOTIFY_SOCKET out of
 * the environment so that no worker can ever notify (NotifyAccess=main).
 * Without systemd every call is a no-op.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routingd.h"

static struct sockaddr_un	notify_sun;
static socklen_t		notify_len;	/* 0: not under systemd */

/* notify_init: remember $NOTIFY_SOCKET (if any) and unset it. */
void
notify_init(void)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	size_t		 n;

	notify_len = 0;
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		goto out;
	n = strlen(path);
	if (n >= sizeof(notify_sun.sun_path))
		goto out;
	memset(&notify_sun, 0, sizeof(notify_sun));
	notify_sun.sun_family = AF_UNIX;
	memcpy(notify_sun.sun_path, path, n);
	if (path[0] == '@')
		notify_sun.sun_path[0] = '\0';	/* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
 out:
	(void)unsetenv("NOTIFY_SOCKET");
}

/*
 * notify_send: send state ("READY=1", "STATUS=...", several lines joined by
 * '\n') to systemd.  Returns 0 (also when not under systemd), or -1 with
 * errno if the datagram could not be sent.
 */
int
notify_send(const char *state)
{
	int	 fd, rv = 0;

	if (notify_len == 0)
		return (0);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_sun, notify_len) == -1)
		rv = -1;
	close(fd);
	return (rv);
}
