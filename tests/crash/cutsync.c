/*
 * cutsync.c: an LD_PRELOAD library for the power-cut test
 * (tests/integration/39-store-power-cut.py); never installed.
 *
 * Loaded into routingd (LD_PRELOAD is inherited by every forked worker),
 * it counts, per process, the calls that make the store durable:
 * fdatasync, fsync and msync, and with RTD_CUT_WRITES=1 also the writes
 * (write, pwrite, pwrite64, writev, pwritev) to a matching file.  At
 * the RTD_CUT_AT-th counted call it calls _exit(RTD_CUT_STATUS, default
 * 99) before the call is made: the process dies at that point of its
 * commit, as it would in a power cut there (the data of the writes it
 * made before stays in the page cache: what the test checks is that no
 * 202 or 204 was answered before the commit that the answer promises).
 *
 * Only calls on a descriptor whose path contains RTD_CUT_MATCH (default
 * "data.mdb") count; msync has no descriptor and always counts.  With
 * RTD_CUT_FLAG=PATH the cut happens once in the whole process tree: the
 * cutting process creates PATH (O_EXCL) first, and no process cuts once
 * PATH exists, so a respawned worker runs unharmed.  Without RTD_CUT_AT
 * the library only passes the calls through.
 *
 * With RTD_CHECK_ANSWERS=1 it also checks the order that makes a 202 or
 * 204 true (tests/integration/69-store-flush-before-answer.py): a process
 * that wrote to a matching file through a descriptor without O_DSYNC or
 * O_SYNC has unflushed store writes until its next fdatasync, fsync or
 * msync of a matching file; a write of any kind to a socket (send,
 * sendto, sendmsg, write, writev: an answer, a frame, a doorbell) while
 * it has some makes it print why to stderr and _exit(97).  The state is
 * per process, not per file: a flush of any matching file clears it.
 */

#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long	cut_count;		/* counted calls in this process */
static int	cut_unflushed;		/* store writes not flushed yet */

/* The next definition of name (the libc one). */
static void *
cut_next(const char *name)
{
	void	*f;

	if ((f = dlsym(RTLD_NEXT, name)) == NULL)
		_exit(98);
	return (f);
}

/* 1 if fd's path contains RTD_CUT_MATCH (fd -1: always). */
static int
cut_matches(int fd)
{
	const char	*match;
	char		 link[64], path[4096];
	ssize_t		 n;

	if (fd < 0)
		return (1);
	if ((match = getenv("RTD_CUT_MATCH")) == NULL)
		match = "data.mdb";
	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 0)
		return (0);
	path[n] = '\0';
	return (strstr(path, match) != NULL);
}

/* Count one call on fd; _exit if it is the RTD_CUT_AT-th. */
static void
cut_point(int fd)
{
	const char	*at, *flag, *st;
	int		 ffd;

	if ((at = getenv("RTD_CUT_AT")) == NULL || !cut_matches(fd))
		return;
	if (++cut_count != atol(at))
		return;
	if ((flag = getenv("RTD_CUT_FLAG")) != NULL) {
		ffd = open(flag, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (ffd == -1)
			return;		/* another process cut already */
		(void)close(ffd);
	}
	st = getenv("RTD_CUT_STATUS");
	_exit(st != NULL ? atoi(st) : 99);
}

/* Writes count only with RTD_CUT_WRITES=1. */
static void
cut_write_point(int fd)
{
	const char	*w;

	if ((w = getenv("RTD_CUT_WRITES")) != NULL && strcmp(w, "1") == 0)
		cut_point(fd);
}

static int
cut_checking(void)
{
	const char	*c;

	return ((c = getenv("RTD_CHECK_ANSWERS")) != NULL &&
	    strcmp(c, "1") == 0);
}

/* A write to fd: a store write not flushed yet, unless fd syncs each. */
static void
cut_store_write(int fd)
{
	int	 fl;

	if (!cut_checking() || !cut_matches(fd))
		return;
	if ((fl = fcntl(fd, F_GETFL)) != -1 && (fl & (O_DSYNC | O_SYNC)))
		return;
	cut_unflushed = 1;
}

/* A flush of fd (-1: msync): store writes before it are on disk. */
static void
cut_store_flush(int fd)
{
	if (cut_checking() && cut_matches(fd))
		cut_unflushed = 0;
}

/* Output to fd: refused (exit 97) while store writes are unflushed. */
static void
cut_output(int fd)
{
	static const char	 msg[] = "cutsync: output to a socket with "
	    "store writes not flushed yet\n";
	static ssize_t		(*real)(int, const void *, size_t);
	struct stat		 st;

	if (!cut_unflushed || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode))
		return;
	if (real == NULL)
		real = cut_next("write");
	(void)real(2, msg, sizeof(msg) - 1);
	_exit(97);
}

int
fdatasync(int fd)
{
	static int	(*real)(int);
	int		 r;

	if (real == NULL)
		real = cut_next("fdatasync");
	cut_point(fd);
	r = real(fd);
	if (r == 0)
		cut_store_flush(fd);
	return (r);
}

int
fsync(int fd)
{
	static int	(*real)(int);
	int		 r;

	if (real == NULL)
		real = cut_next("fsync");
	cut_point(fd);
	r = real(fd);
	if (r == 0)
		cut_store_flush(fd);
	return (r);
}

int
msync(void *addr, size_t len, int flags)
{
	static int	(*real)(void *, size_t, int);
	int		 r;

	if (real == NULL)
		real = cut_next("msync");
	cut_point(-1);
	r = real(addr, len, flags);
	if (r == 0)
		cut_store_flush(-1);
	return (r);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t	(*real)(int, const void *, size_t);

	if (real == NULL)
		real = cut_next("write");
	cut_write_point(fd);
	cut_store_write(fd);
	cut_output(fd);
	return (real(fd, buf, n));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t	(*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		real = cut_next("pwrite");
	cut_write_point(fd);
	cut_store_write(fd);
	return (real(fd, buf, n, off));
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	static ssize_t	(*real)(int, const void *, size_t, off64_t);

	if (real == NULL)
		real = cut_next("pwrite64");
	cut_write_point(fd);
	cut_store_write(fd);
	return (real(fd, buf, n, off));
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	static ssize_t	(*real)(int, const struct iovec *, int);

	if (real == NULL)
		real = cut_next("writev");
	cut_write_point(fd);
	cut_store_write(fd);
	cut_output(fd);
	return (real(fd, iov, cnt));
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	static ssize_t	(*real)(int, const struct iovec *, int, off_t);

	if (real == NULL)
		real = cut_next("pwritev");
	cut_write_point(fd);
	cut_store_write(fd);
	return (real(fd, iov, cnt, off));
}

ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
	static ssize_t	(*real)(int, const void *, size_t, int);

	if (real == NULL)
		real = cut_next("send");
	cut_output(fd);
	return (real(fd, buf, n, flags));
}

ssize_t
sendto(int fd, const void *buf, size_t n, int flags,
    const struct sockaddr *to, socklen_t tolen)
{
	static ssize_t	(*real)(int, const void *, size_t, int,
			    const struct sockaddr *, socklen_t);

	if (real == NULL)
		real = cut_next("sendto");
	cut_output(fd);
	return (real(fd, buf, n, flags, to, tolen));
}

ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t	(*real)(int, const struct msghdr *, int);

	if (real == NULL)
		real = cut_next("sendmsg");
	cut_output(fd);
	return (real(fd, msg, flags));
}
