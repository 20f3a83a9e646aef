/*
 * presence.h: which WebSocket worker holds live connections of which
 * (user, device), in shared memory, for every process to read.
 *
 * The supervisor maps the table (MAP_SHARED|MAP_ANONYMOUS) before its
 * first fork; every worker inherits it.  It holds one partition per WS
 * worker seat (0..nworkers-1).  A partition has exactly one writer at a
 * time: the WS worker in that seat (its "owner"), or the supervisor while
 * the seat is empty (pr_worker_reset, and pr_worker_start for a seat it
 * leaves empty).  Readers (API workers looking up whom to ring after a
 * commit) never lock and never write.
 *
 * Answers may be stale or false positives (a doorbell for nothing), never
 * false negatives for an entry added before the lookup started and still
 * present (not deleted, its owner not reset) when it ended.
 *
 * Compatibility: the region opens with struct pr_header; PR_MAGIC and
 * PR_VERSION, stamped by pr_create, tell whoever inspects a region from
 * outside (a debugger, a core dump) its layout; the processes that map
 * it inherit it from one supervisor and never need to check them.  Bump
 * the version on any change.
 */

#ifndef PRESENCE_H
#define PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#define PR_MAGIC	0x52544450u	/* "RTDP" */
#define PR_VERSION	2	/* 2: the newest connection's time and mode */
#define PR_MAX_WORKERS	64		/* bits of a lookup answer */
#define PR_MIN_SLOTS	64		/* per worker, a power of two */
#define PR_MAX_SLOTS	(1u << 20)

/*
 * PR_LOAD_MAX: the most (user, device) entries one partition of slots
 * slots holds; pr_add fails beyond.  PR_USED_MAX: the most entries plus
 * tombstones; pr_add compacts before it would go beyond, and fails if
 * that does not help.  Both keep empty slots ending every probe run.
 * A slot takes 40 bytes (64 workers of 32768 slots: 80 MiB).
 */
#define PR_LOAD_MAX(slots)	((slots) / 4 * 3)
#define PR_USED_MAX(slots)	((slots) - (slots) / 8)

/* The opening of the region, written once by pr_create. */
struct pr_header {
	uint32_t	ph_magic;	/* PR_MAGIC */
	uint32_t	ph_version;	/* PR_VERSION */
	uint32_t	ph_nworkers;	/* partitions */
	uint32_t	ph_slots;	/* slots per partition */
	uint64_t	ph_seed;	/* hash seed, random per pr_create */
	uint64_t	ph_size;	/* bytes mapped, pr_size() */
};

struct presence;		/* opaque; begins with struct pr_header */

/* How a connection asked to be served (GET /connect?mode=). */
enum pr_mode {
	PR_MODE_UNKNOWN = 0,
	PR_MODE_PUSH,			/* messages pushed over the socket */
	PR_MODE_POKE			/* {} frames; the client fetches */
};

/* What pr_lookup_info saw of one (user, device). */
struct pr_info {
	uint64_t	pi_workers;	/* bit i: WS worker i may hold it */
	uint32_t	pi_since;	/* unix s the newest connection seen
					   opened; 0: none or unknown */
	uint32_t	pi_mode;	/* enum pr_mode of that connection */
};

/*
 * pr_size: the bytes pr_create maps for nworkers partitions of slots
 * slots each, or 0 when the parameters are out of range (nworkers
 * 1..PR_MAX_WORKERS, slots a power of two in PR_MIN_SLOTS..PR_MAX_SLOTS).
 */
size_t		 pr_size(unsigned nworkers, unsigned slots);

/*
 * pr_create: map and stamp an empty table of nworkers partitions with a
 * fresh random hash seed; lookups scan the first seats of them (1 to
 * nworkers) until pr_grow_seats.  Supervisor, before forking.  Only the
 * header is written: the slots come zeroed (EMPTY) from the kernel and
 * take memory only once touched.
 * Returns the table (free it with pr_destroy), or NULL with errno set:
 * EINVAL for parameters pr_size refuses or seats out of range, else
 * mmap's or getrandom's.
 */
struct presence	*pr_create(unsigned nworkers, unsigned slots_per_worker,
		    unsigned seats);

/*
 * pr_grow_seats: supervisor: lookups scan at least the first n partitions
 * from now on (at most nworkers; never fewer than before).  A table
 * is sized for every seat a reload may add; the supervisor grows the
 * scan before it forks a worker into a seat beyond it, so lookups stay
 * as short as the workers in use.
 */
void		 pr_grow_seats(struct presence *, unsigned n);

/* pr_destroy: unmap the table in this process; NULL is ignored. */
void		 pr_destroy(struct presence *);

/*
 * pr_worker_reset: supervisor, once the worker in seat is gone (reaped)
 * and before forking its replacement: every entry of the partition
 * becomes invisible to readers at once (the partition's generation is
 * bumped), without touching the slots.  The previous owner must no longer
 * be able to write.  Out-of-range seats are ignored.
 */
void		 pr_worker_reset(struct presence *, unsigned seat);

/*
 * pr_worker_start: the new owner of seat, first thing, before any pr_add:
 * clear every slot of the partition (left over by a dead owner); O(slots).
 * Entries of a reset partition are already invisible without it.  The
 * supervisor may call it too for a seat it leaves empty after
 * pr_worker_reset, so that no half-written slot lingers.
 */
void		 pr_worker_start(struct presence *, unsigned seat);

/*
 * pr_add: owner of seat: one more live connection of (user, device) on
 * this worker, opened at unix time since (seconds) in mode (enum
 * pr_mode); the entry keeps the time and mode of its newest connection.
 * Returns 0, or -1 when the partition is full (errno ENOSPC) or seat is
 * out of range (EINVAL); after -1 nothing was recorded and the caller
 * must not call pr_del for that connection.
 */
int		 pr_add(struct presence *, unsigned seat, const char *user,
		    const char *device, uint32_t mode, uint32_t since);

/*
 * pr_del: owner of seat: one connection fewer of (user, device), for a
 * connection whose pr_add succeeded.  At zero the entry goes.  Unknown
 * pairs are ignored.
 */
void		 pr_del(struct presence *, unsigned seat, const char *user,
		    const char *device);

/*
 * pr_lookup_user: any process: bit i is set if WS worker i may hold a
 * connection of any device of user.
 */
uint64_t	 pr_lookup_user(const struct presence *, const char *user);

/*
 * pr_lookup_device: any process: the same for one device of user; the
 * mask goes to *workers (may be NULL).  Returns the number of connections
 * seen over all workers (0: offline).  A slot that stayed unreadable
 * under concurrent writes counts as a match with one connection.
 */
int		 pr_lookup_device(const struct presence *, const char *user,
		    const char *device, uint64_t *workers);

/*
 * pr_lookup_info: any process: what pr_lookup_device answers (the
 * connections seen, returned, and the workers' mask), and the time and
 * mode of the newest connection seen, into *pi.  For routingctl
 * presence; the delivery path uses pr_lookup_device.
 */
int		 pr_lookup_info(const struct presence *, const char *user,
		    const char *device, struct pr_info *pi);

/*
 * pr_stats: the live entries and tombstones (deleted slots that still
 * lengthen probe runs) of seat's partition, either pointer may be NULL;
 * zeros for an out-of-range seat.  Owner-maintained counters, exact for
 * the owner, a recent value for others.
 */
void		 pr_stats(const struct presence *, unsigned seat,
		    unsigned *entries, unsigned *tombstones);

/*
 * pr_worker_compact: owner of seat: turn back into empty slots every
 * tombstone that no live entry's probe run crosses.  Never moves a live
 * entry, so concurrent readers miss nothing.  O(slots); call it from a
 * timer when pr_stats shows tombstones above slots / 4 (pr_add also calls
 * it before it would refuse an entry for lack of empty slots).
 */
void		 pr_worker_compact(struct presence *, unsigned seat);

#endif /* PRESENCE_H */
