/*
 * presence.c: the presence table in shared memory (see presence.h): which
 * WS worker holds live connections of which (user, device).
 *
 * Runs in every process: the supervisor creates the table before forking
 * and resets a dead worker's partition; each WS worker writes its own
 * partition (pr_add, pr_del, pr_worker_start, pr_worker_compact); API
 * workers read all partitions (pr_lookup_*).  No locks, no pointers in
 * the region, only always-lock-free 32- and 64-bit atomics.
 *
 * Layout: struct pr_header, one struct pr_part per seat (generation and
 * counters), then nworkers runs of slots slots.  A partition is an
 * open-addressing table with linear probing from the home slot of
 * uk = hash(user), so all devices of a user share one probe run and a
 * lookup by user scans one run.  A slot is EMPTY, LIVE (uk, dk =
 * hash(user, device), count > 0, and the time and mode of the newest
 * connection) or TOMB (deleted; readers walk past it).
 *
 * Invariants:
 * - One writer per partition (its owner, or the supervisor while the seat
 *   is empty).  Every change of a slot other than its count alone goes
 *   through the slot's seqlock: seq odd, fields, seq even (release).  So
 *   does pr_add on a LIVE slot (count, time and mode together); pr_del's
 *   decrement of a count above 1 is a single atomic store.
 *   Readers copy a slot between two equal even seq loads; after
 *   PR_READ_TRIES failed attempts they count the slot as a match, so a
 *   writer (or a writer that died mid-write) only adds false positives.
 * - Generations: a slot is present only if its gen equals its partition's
 *   pp_gen and it is not EMPTY; any other slot is empty, for readers and
 *   for the owner alike.  pr_worker_reset bumps pp_gen, which makes a dead
 *   worker's whole partition empty at once; nothing is swept.  The new
 *   owner's pr_worker_start then zeroes the slots (hygiene: it also closes
 *   a seqlock left odd by the dead writer).  A reader that loaded the old
 *   gen sees old entries (false positives) or stops early at entries of
 *   the new owner, which were added after its lookup began.  (pp_gen
 *   wraps after 2^32 resets; the zeroing makes that harmless too.)
 * - A live entry never moves.  Each slot between its home and itself
 *   stays present (LIVE or TOMB) for as long as it lives, so a reader
 *   scanning from the home slot always reaches it.  Hence deletion writes
 *   a tombstone, never a backward shift; pr_add reuses the first tombstone
 *   on its probe path; a tombstone becomes EMPTY again only when no live
 *   entry's path crosses it: at once in pr_del when it ends a run (the next
 *   slot is empty), else in pr_worker_compact, which walks the partition
 *   backwards from an empty slot keeping the furthest reach of the live
 *   entries seen, and empties the tombstones outside that reach.
 *   Tombstones that bridge to a live entry stay until it goes.
 * - Load: at most PR_LOAD_MAX live entries and PR_USED_MAX live plus
 *   tombstones per partition, so empty slots always end the runs.
 */

#include <sys/mman.h>
#include <sys/random.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "presence.h"

#if ATOMIC_INT_LOCK_FREE != 2 || ATOMIC_LONG_LOCK_FREE != 2 || \
    ATOMIC_LLONG_LOCK_FREE != 2
#error "presence.c needs always-lock-free 32- and 64-bit atomics"
#endif

#define PR_READ_TRIES	8		/* seqlock attempts per slot */
#define PR_NONE		UINT32_MAX	/* no slot */

enum pr_state {
	PR_S_EMPTY = 0,
	PR_S_LIVE = 1,
	PR_S_TOMB = 2
};

struct pr_slot {
	_Atomic uint32_t	ps_seq;		/* seqlock: odd while written */
	_Atomic uint32_t	ps_gen;		/* pp_gen when written */
	_Atomic uint32_t	ps_state;	/* enum pr_state */
	_Atomic uint32_t	ps_count;	/* live connections */
	_Atomic uint64_t	ps_uk;		/* hash(user) */
	_Atomic uint64_t	ps_dk;		/* hash(user, device) */
	_Atomic uint32_t	ps_since;	/* unix s, newest connection */
	_Atomic uint32_t	ps_mode;	/* enum pr_mode, newest conn. */
};

struct pr_part {
	_Alignas(64) _Atomic uint32_t pp_gen;	/* by the supervisor */
	_Atomic uint32_t	pp_live;	/* by the writer */
	_Atomic uint32_t	pp_tombs;	/* by the writer */
};

struct presence {
	struct pr_header	pr_h;
	_Atomic uint32_t	pr_seats;	/* partitions lookups scan,
						   grows only (supervisor) */
	struct pr_part		pr_part[PR_MAX_WORKERS];
	struct pr_slot		pr_slot[];	/* nworkers * slots */
};

/* A copy of one slot. */
struct pr_view {
	uint32_t	pv_gen;
	uint32_t	pv_state;
	uint32_t	pv_count;
	uint64_t	pv_uk;
	uint64_t	pv_dk;
	uint32_t	pv_since;
	uint32_t	pv_mode;
};

_Static_assert(sizeof(struct pr_slot) == 40, "pr_slot is 40 bytes");
_Static_assert(offsetof(struct presence, pr_h) == 0, "header first");
_Static_assert(offsetof(struct presence, pr_slot) % 64 == 0,
    "slots start on a cache line");

/* Hash constants (odd 64-bit multipliers). */
#define PR_K1	0x9e3779b97f4a7c15ULL
#define PR_K2	0xc2b2ae3d27d4eb4fULL
#define PR_K3	0xff51afd7ed558ccdULL
#define PR_K4	0xc4ceb9fe1a85ec53ULL

/* One 64-bit word into the state; a bijection of h for each w. */
static uint64_t
pr_fold(uint64_t h, uint64_t w)
{
	h ^= w * PR_K1;
	h = (h << 27 | h >> 37) * PR_K2;
	return (h ^ (h >> 31));
}

/*
 * A string into the state, prefixed by its length, so that a sequence of
 * strings maps to a sequence of words one-to-one.
 */
static uint64_t
pr_absorb(uint64_t h, const char *s)
{
	size_t		 len = strlen(s), i;
	uint64_t	 w;

	h = pr_fold(h, (uint64_t)len);
	for (; len >= sizeof(w); s += sizeof(w), len -= sizeof(w)) {
		memcpy(&w, s, sizeof(w));
		h = pr_fold(h, w);
	}
	if (len > 0) {
		for (w = 0, i = 0; i < len; i++)
			w |= (uint64_t)(unsigned char)s[i] << (8 * i);
		h = pr_fold(h, w);
	}
	return (h);
}

/* Avalanche the state into a key, never 0 (0 is no key). */
static uint64_t
pr_final(uint64_t h, uint64_t domain)
{
	h ^= domain * PR_K1;
	h ^= h >> 33;
	h *= PR_K3;
	h ^= h >> 33;
	h *= PR_K4;
	h ^= h >> 33;
	return (h == 0 ? 1 : h);
}

/* uk = hash(user) and, if dk is not NULL, dk = hash(user, device). */
static void
pr_keys(const struct presence *pr, const char *user, const char *device,
    uint64_t *uk, uint64_t *dk)
{
	uint64_t	 h;

	h = pr_absorb(pr->pr_h.ph_seed, user);
	*uk = pr_final(h, 1);
	if (dk != NULL)
		*dk = pr_final(pr_absorb(h, device), 2);
}

/* 64 random bits from the kernel; -1 with errno set if there are none. */
static int
pr_seed(uint64_t *seed)
{
	unsigned char	*p = (unsigned char *)seed;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd, saved;

	do
		n = getrandom(seed, sizeof(*seed), 0);
	while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof(*seed))
		return (0);
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while (got < sizeof(*seed)) {
		n = read(fd, p + got, sizeof(*seed) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			saved = (n == 0) ? EIO : errno;
			(void)close(fd);
			errno = saved;
			return (-1);
		}
		got += (size_t)n;
	}
	(void)close(fd);
	return (0);
}

static struct pr_slot *
pr_base(struct presence *pr, unsigned seat)
{
	return (&pr->pr_slot[(size_t)seat * pr->pr_h.ph_slots]);
}

static const struct pr_slot *
pr_cbase(const struct presence *pr, unsigned seat)
{
	return (&pr->pr_slot[(size_t)seat * pr->pr_h.ph_slots]);
}

/* Writer: the slot's fields, under its seqlock. */
static void
pr_write(struct pr_slot *ps, uint32_t gen, uint32_t state, uint32_t count,
    uint64_t uk, uint64_t dk, uint32_t since, uint32_t mode)
{
	uint32_t	 q;

	q = atomic_load_explicit(&ps->ps_seq, memory_order_relaxed);
	q += q & 1;		/* left odd by a writer that died */
	atomic_store_explicit(&ps->ps_seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&ps->ps_gen, gen, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_state, state, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_count, count, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_uk, uk, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_dk, dk, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_since, since, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_mode, mode, memory_order_relaxed);
	atomic_store_explicit(&ps->ps_seq, q + 2, memory_order_release);
}

/* Writer: back to EMPTY. */
static void
pr_clear(struct pr_slot *ps)
{
	pr_write(ps, 0, PR_S_EMPTY, 0, 0, 0, 0, 0);
}

/* The fields without the seqlock: only for the partition's writer. */
static void
pr_peek(const struct pr_slot *ps, struct pr_view *pv)
{
	pv->pv_gen = atomic_load_explicit(&ps->ps_gen, memory_order_relaxed);
	pv->pv_state = atomic_load_explicit(&ps->ps_state,
	    memory_order_relaxed);
	pv->pv_count = atomic_load_explicit(&ps->ps_count,
	    memory_order_relaxed);
	pv->pv_uk = atomic_load_explicit(&ps->ps_uk, memory_order_relaxed);
	pv->pv_dk = atomic_load_explicit(&ps->ps_dk, memory_order_relaxed);
	pv->pv_since = atomic_load_explicit(&ps->ps_since,
	    memory_order_relaxed);
	pv->pv_mode = atomic_load_explicit(&ps->ps_mode, memory_order_relaxed);
}

/* Reader: a consistent copy of the slot, or -1 if it kept changing. */
static int
pr_read(const struct pr_slot *ps, struct pr_view *pv)
{
	uint32_t	 s1, s2;
	int		 i;

	for (i = 0; i < PR_READ_TRIES; i++) {
		s1 = atomic_load_explicit(&ps->ps_seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		pr_peek(ps, pv);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&ps->ps_seq, memory_order_relaxed);
		if (s1 == s2)
			return (0);
	}
	return (-1);
}

/* Whether a copied slot is present (LIVE or TOMB) in generation gen. */
static int
pr_present(const struct pr_view *pv, uint32_t gen)
{
	return (pv->pv_gen == gen && pv->pv_state != PR_S_EMPTY);
}

/* pr_size: see presence.h. */
size_t
pr_size(unsigned nworkers, unsigned slots)
{
	size_t	 head = offsetof(struct presence, pr_slot);

	if (nworkers < 1 || nworkers > PR_MAX_WORKERS ||
	    slots < PR_MIN_SLOTS || slots > PR_MAX_SLOTS ||
	    (slots & (slots - 1)) != 0)
		return (0);
	if ((SIZE_MAX - head) / sizeof(struct pr_slot) / nworkers < slots)
		return (0);
	return (head + (size_t)nworkers * slots * sizeof(struct pr_slot));
}

/* pr_create: see presence.h. */
struct presence *
pr_create(unsigned nworkers, unsigned slots_per_worker, unsigned seats)
{
	struct presence	*pr;
	uint64_t	 seed;
	size_t		 size;
	unsigned	 i;

	if ((size = pr_size(nworkers, slots_per_worker)) == 0 || seats < 1 ||
	    seats > nworkers) {
		errno = EINVAL;
		return (NULL);
	}
	if (pr_seed(&seed) == -1)
		return (NULL);
	/* Anonymous pages are zero: every slot EMPTY, untouched until used. */
	pr = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pr == MAP_FAILED)
		return (NULL);
	pr->pr_h.ph_magic = PR_MAGIC;
	pr->pr_h.ph_version = PR_VERSION;
	pr->pr_h.ph_nworkers = nworkers;
	pr->pr_h.ph_slots = slots_per_worker;
	pr->pr_h.ph_seed = seed;
	pr->pr_h.ph_size = size;
	for (i = 0; i < nworkers; i++)
		atomic_store(&pr->pr_part[i].pp_gen, 1);
	atomic_store(&pr->pr_seats, seats);
	return (pr);
}

/* pr_destroy: see presence.h. */
void
pr_destroy(struct presence *pr)
{
	if (pr != NULL)
		(void)munmap(pr, (size_t)pr->pr_h.ph_size);
}

/* pr_grow_seats: see presence.h. */
void
pr_grow_seats(struct presence *pr, unsigned n)
{
	if (n > pr->pr_h.ph_nworkers)
		n = pr->pr_h.ph_nworkers;
	if (n > atomic_load_explicit(&pr->pr_seats, memory_order_relaxed))
		atomic_store_explicit(&pr->pr_seats, n, memory_order_release);
}

/* The partitions a lookup scans now. */
static unsigned
pr_nseats(const struct presence *pr)
{
	return (atomic_load_explicit(&pr->pr_seats, memory_order_acquire));
}

/* pr_worker_reset: see presence.h. */
void
pr_worker_reset(struct presence *pr, unsigned seat)
{
	struct pr_part	*pp;

	if (seat >= pr->pr_h.ph_nworkers)
		return;
	pp = &pr->pr_part[seat];
	atomic_fetch_add_explicit(&pp->pp_gen, 1, memory_order_acq_rel);
	/* Every slot is empty now: the counters follow. */
	atomic_store_explicit(&pp->pp_live, 0, memory_order_relaxed);
	atomic_store_explicit(&pp->pp_tombs, 0, memory_order_relaxed);
}

/* pr_worker_start: see presence.h. */
void
pr_worker_start(struct presence *pr, unsigned seat)
{
	struct pr_part	*pp;
	struct pr_slot	*base;
	struct pr_view	 pv;
	uint32_t	 i, slots = pr->pr_h.ph_slots;

	if (seat >= pr->pr_h.ph_nworkers)
		return;
	pp = &pr->pr_part[seat];
	base = pr_base(pr, seat);
	for (i = 0; i < slots; i++) {
		pr_peek(&base[i], &pv);
		if ((atomic_load_explicit(&base[i].ps_seq,
		    memory_order_relaxed) & 1) != 0 || pv.pv_gen != 0 ||
		    pv.pv_state != PR_S_EMPTY || pv.pv_count != 0 ||
		    pv.pv_uk != 0 || pv.pv_dk != 0)
			pr_clear(&base[i]);
	}
	atomic_store_explicit(&pp->pp_live, 0, memory_order_relaxed);
	atomic_store_explicit(&pp->pp_tombs, 0, memory_order_relaxed);
}

/* pr_worker_compact: see presence.h. */
void
pr_worker_compact(struct presence *pr, unsigned seat)
{
	struct pr_part	*pp;
	struct pr_slot	*base;
	struct pr_view	 pv;
	uint32_t	 slots = pr->pr_h.ph_slots, mask = slots - 1;
	uint32_t	 gen, start, warm, n, t, reach, dist, tombs;
	int		 covered;

	if (seat >= pr->pr_h.ph_nworkers)
		return;
	pp = &pr->pr_part[seat];
	base = pr_base(pr, seat);
	gen = atomic_load_explicit(&pp->pp_gen, memory_order_relaxed);
	tombs = atomic_load_explicit(&pp->pp_tombs, memory_order_relaxed);
	if (tombs == 0)
		return;

	/*
	 * Walk backwards from an empty slot, which no probe path crosses.
	 * reach: how many slots further back some live entry already seen
	 * still needs present.  Without any empty slot (not reachable under
	 * the load limits) a first lap only computes reach.
	 */
	warm = slots;
	start = 0;
	for (t = 0; t < slots; t++) {
		pr_peek(&base[t], &pv);
		if (!pr_present(&pv, gen)) {
			start = t;
			warm = 0;
			break;
		}
	}
	reach = 0;
	for (n = 0; n < warm + slots; n++) {
		t = (start - n) & mask;
		pr_peek(&base[t], &pv);
		covered = reach > 0;
		if (reach > 0)
			reach--;
		if (!pr_present(&pv, gen))
			continue;
		if (pv.pv_state == PR_S_LIVE) {
			dist = (t - (uint32_t)pv.pv_uk) & mask;
			if (dist > reach)
				reach = dist;
		} else if (n >= warm && !covered) {
			pr_clear(&base[t]);
			tombs--;
		}
	}
	atomic_store_explicit(&pp->pp_tombs, tombs, memory_order_relaxed);
}

/* pr_add: see presence.h. */
int
pr_add(struct presence *pr, unsigned seat, const char *user,
    const char *device, uint32_t mode, uint32_t since)
{
	struct pr_part	*pp;
	struct pr_slot	*base;
	struct pr_view	 pv;
	uint64_t	 uk, dk;
	uint32_t	 slots = pr->pr_h.ph_slots, mask = slots - 1;
	uint32_t	 gen, i, t, tomb, empty, live, tombs;
	int		 compacted = 0;

	if (seat >= pr->pr_h.ph_nworkers) {
		errno = EINVAL;
		return (-1);
	}
	pr_keys(pr, user, device, &uk, &dk);
	pp = &pr->pr_part[seat];
	base = pr_base(pr, seat);
	gen = atomic_load_explicit(&pp->pp_gen, memory_order_relaxed);
 again:
	tomb = empty = PR_NONE;
	for (i = 0; i < slots; i++) {
		t = ((uint32_t)uk + i) & mask;
		pr_peek(&base[t], &pv);
		if (!pr_present(&pv, gen)) {
			empty = t;
			break;
		}
		if (pv.pv_state == PR_S_TOMB) {
			if (tomb == PR_NONE)
				tomb = t;
			continue;
		}
		if (pv.pv_uk == uk && pv.pv_dk == dk) {
			if (pv.pv_count == UINT32_MAX) {
				errno = ENOSPC;
				return (-1);
			}
			pr_write(&base[t], gen, PR_S_LIVE, pv.pv_count + 1,
			    uk, dk, since, mode);
			return (0);
		}
	}
	live = atomic_load_explicit(&pp->pp_live, memory_order_relaxed);
	tombs = atomic_load_explicit(&pp->pp_tombs, memory_order_relaxed);
	if (live >= PR_LOAD_MAX(slots)) {
		errno = ENOSPC;
		return (-1);
	}
	if (tomb != PR_NONE) {
		/* Present before and after: no probe path breaks. */
		t = tomb;
		tombs--;
	} else if (empty != PR_NONE && live + tombs < PR_USED_MAX(slots)) {
		t = empty;
	} else {
		if (!compacted && tombs > 0) {
			pr_worker_compact(pr, seat);
			compacted = 1;
			goto again;
		}
		errno = ENOSPC;
		return (-1);
	}
	pr_write(&base[t], gen, PR_S_LIVE, 1, uk, dk, since, mode);
	atomic_store_explicit(&pp->pp_live, live + 1, memory_order_relaxed);
	atomic_store_explicit(&pp->pp_tombs, tombs, memory_order_relaxed);
	return (0);
}

/* pr_del: see presence.h. */
void
pr_del(struct presence *pr, unsigned seat, const char *user,
    const char *device)
{
	struct pr_part	*pp;
	struct pr_slot	*base;
	struct pr_view	 pv;
	uint64_t	 uk, dk;
	uint32_t	 slots = pr->pr_h.ph_slots, mask = slots - 1;
	uint32_t	 gen, i, t = 0, tombs;

	if (seat >= pr->pr_h.ph_nworkers)
		return;
	pr_keys(pr, user, device, &uk, &dk);
	pp = &pr->pr_part[seat];
	base = pr_base(pr, seat);
	gen = atomic_load_explicit(&pp->pp_gen, memory_order_relaxed);
	for (i = 0; i < slots; i++) {
		t = ((uint32_t)uk + i) & mask;
		pr_peek(&base[t], &pv);
		if (!pr_present(&pv, gen))
			return;
		if (pv.pv_state == PR_S_LIVE && pv.pv_uk == uk &&
		    pv.pv_dk == dk)
			break;
	}
	if (i == slots)
		return;
	if (pv.pv_count > 1) {
		atomic_store_explicit(&base[t].ps_count, pv.pv_count - 1,
		    memory_order_relaxed);
		return;
	}
	pr_write(&base[t], gen, PR_S_TOMB, 0, uk, dk, 0, 0);
	atomic_store_explicit(&pp->pp_live,
	    atomic_load_explicit(&pp->pp_live, memory_order_relaxed) - 1,
	    memory_order_relaxed);
	tombs = atomic_load_explicit(&pp->pp_tombs, memory_order_relaxed) + 1;

	/*
	 * If the next slot is empty, no probe path runs through this one:
	 * empty it, and the tombstones just before it, back to the first
	 * live or empty slot.
	 */
	pr_peek(&base[(t + 1) & mask], &pv);
	if (!pr_present(&pv, gen)) {
		for (i = 0; i < slots; i++, t = (t - 1) & mask) {
			pr_peek(&base[t], &pv);
			if (!pr_present(&pv, gen) || pv.pv_state != PR_S_TOMB)
				break;
			pr_clear(&base[t]);
			tombs--;
		}
	}
	atomic_store_explicit(&pp->pp_tombs, tombs, memory_order_relaxed);
}

/*
 * Reader: whether seat's partition may hold uk (any device, or dk if
 * bydev); the connections seen are added to *count, and a device entry
 * stamped later than *newest (may be NULL) replaces it.
 */
static int
pr_scan(const struct presence *pr, unsigned seat, uint64_t uk, uint64_t dk,
    int bydev, uint64_t *count, struct pr_view *newest)
{
	const struct pr_slot	*base = pr_cbase(pr, seat);
	struct pr_view		 pv;
	uint32_t		 slots = pr->pr_h.ph_slots, mask = slots - 1;
	uint32_t		 gen, i, t;

	gen = atomic_load_explicit(&pr->pr_part[seat].pp_gen,
	    memory_order_acquire);
	for (i = 0; i < slots; i++) {
		t = ((uint32_t)uk + i) & mask;
		if (pr_read(&base[t], &pv) == -1) {
			(*count)++;		/* unreadable: a match */
			return (1);
		}
		if (!pr_present(&pv, gen))
			return (0);
		if (pv.pv_state != PR_S_LIVE || pv.pv_uk != uk)
			continue;
		if (!bydev)
			return (1);
		if (pv.pv_dk == dk) {
			*count += pv.pv_count;
			if (newest != NULL && pv.pv_since >= newest->pv_since)
				*newest = pv;
			return (1);
		}
	}
	return (0);
}

/* pr_lookup_user: see presence.h. */
uint64_t
pr_lookup_user(const struct presence *pr, const char *user)
{
	uint64_t	 uk, mask = 0, count = 0;
	unsigned	 seat, nseats;

	pr_keys(pr, user, NULL, &uk, NULL);
	nseats = pr_nseats(pr);
	for (seat = 0; seat < nseats; seat++)
		if (pr_scan(pr, seat, uk, 0, 0, &count, NULL))
			mask |= (uint64_t)1 << seat;
	return (mask);
}

/* pr_lookup_info: see presence.h. */
int
pr_lookup_info(const struct presence *pr, const char *user,
    const char *device, struct pr_info *pi)
{
	struct pr_view	 newest;
	uint64_t	 uk, dk, mask = 0, count = 0;
	unsigned	 seat, nseats;

	memset(&newest, 0, sizeof(newest));
	pr_keys(pr, user, device, &uk, &dk);
	nseats = pr_nseats(pr);
	for (seat = 0; seat < nseats; seat++)
		if (pr_scan(pr, seat, uk, dk, 1, &count, &newest))
			mask |= (uint64_t)1 << seat;
	pi->pi_workers = mask;
	pi->pi_since = newest.pv_since;
	pi->pi_mode = newest.pv_mode;
	return (count > INT_MAX ? INT_MAX : (int)count);
}

/* pr_lookup_device: see presence.h. */
int
pr_lookup_device(const struct presence *pr, const char *user,
    const char *device, uint64_t *workers)
{
	struct pr_info	 pi;
	int		 n;

	n = pr_lookup_info(pr, user, device, &pi);
	if (workers != NULL)
		*workers = pi.pi_workers;
	return (n);
}

/* pr_stats: see presence.h. */
void
pr_stats(const struct presence *pr, unsigned seat, unsigned *entries,
    unsigned *tombstones)
{
	unsigned	 e = 0, tb = 0;

	if (seat < pr->pr_h.ph_nworkers) {
		e = atomic_load_explicit(&pr->pr_part[seat].pp_live,
		    memory_order_relaxed);
		tb = atomic_load_explicit(&pr->pr_part[seat].pp_tombs,
		    memory_order_relaxed);
	}
	if (entries != NULL)
		*entries = e;
	if (tombstones != NULL)
		*tombstones = tb;
}
