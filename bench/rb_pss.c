/*
 * rb_pss.c: the memory of the target, for routingd-bench's idle and
 * connections workloads, read by the parent process: the proportional set size (PSS: each page
 * shared by k processes counts 1/k in each) of the given processes and
 * of all their descendants, from the Pss line of /proc/PID/smaps_rollup.
 * PSS summed over processes counts each page once, so a supervisor's pid
 * gives the memory of the whole daemon.  It counts user-space pages only:
 * socket buffers and other kernel memory are not in it.
 */

#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb.h"

#define RBP_MAX	4096		/* processes summed, at most */

/* The parent pid of pid from /proc/PID/stat, or -1. */
static int
rbp_ppid(int pid)
{
	char	 path[64], buf[512], *p;
	FILE	*fp;
	size_t	 n;
	int	 ppid;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* after the command, which may hold spaces and parentheses */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %d", &ppid) != 1)
		return (-1);
	return (ppid);
}

/* PSS of one process in KiB, or -1. */
static long
rbp_one(int pid)
{
	char	 path[64], line[256];
	FILE	*fp;
	long	 kib = -1;

	(void)snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "Pss:", 4) == 0) {
			kib = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(fp);
	return (kib);
}

/* Add to set the processes under a pid already in it, until no more. */
static int
rbp_descendants(int *set, int n)
{
	struct dirent	*de;
	DIR		*d;
	int		 pid, ppid, i, added = 1;

	while (added) {
		added = 0;
		if ((d = opendir("/proc")) == NULL)
			return (n);
		while ((de = readdir(d)) != NULL && n < RBP_MAX) {
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = atoi(de->d_name);
			for (i = 0; i < n && set[i] != pid; i++)
				;
			if (i < n || (ppid = rbp_ppid(pid)) <= 0)
				continue;
			for (i = 0; i < n && set[i] != ppid; i++)
				;
			if (i < n) {
				set[n++] = pid;
				added = 1;
			}
		}
		closedir(d);
	}
	return (n);
}

long
rbp_pss_kib(const int *pids, int npids, int *nproc)
{
	static int	 set[RBP_MAX];
	long		 kib, total = 0;
	int		 i, n = 0, got = 0;

	for (i = 0; i < npids && n < RBP_MAX; i++)
		set[n++] = pids[i];
	n = rbp_descendants(set, n);
	for (i = 0; i < n; i++)
		if ((kib = rbp_one(set[i])) >= 0) {
			total += kib;
			got++;
		}
	*nproc = got;
	return (got > 0 ? total : -1);
}
