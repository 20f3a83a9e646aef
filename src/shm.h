/*
 * shm.h: the shared-memory region of one routingd instance.
 *
 * The supervisor maps it (MAP_SHARED|MAP_ANONYMOUS) before forking; every
 * worker inherits the mapping.  It holds no pointers, only fixed-width
 * fields and C11 atomics, so any process may read it at any time.
 *
 * Ownership: a worker slot (struct shm_slot) has one writer, the worker
 * that holds it, except for ss_state/ss_pid/ss_conns, which the supervisor
 * sets before fork and resets after the worker is reaped.  Counters in a
 * slot are cumulative and survive slot reuse, so /metrics sums slots.
 * The daemon-wide fields (sh_*) are written by the supervisor only.
 *
 * Compatibility: SHM_MAGIC and SHM_VERSION open the region; bump the
 * version on any change to the layout below.
 */

#ifndef SHM_H
#define SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "ratelimit.h"

#define SHM_MAGIC	0x52544453u	/* "RTDS" */
#define SHM_VERSION	2	/* 2: the rate-limit table */
#define SHM_SLOTS	256		/* worker slots: half API, half WS */

enum shm_slot_state {
	SHM_SLOT_FREE = 0,
	SHM_SLOT_STARTING = 1,
	SHM_SLOT_READY = 2,
	SHM_SLOT_DRAINING = 3
};

struct shm_slot {
	_Atomic uint32_t	ss_state;	/* enum shm_slot_state */
	_Atomic uint32_t	ss_role;	/* enum proc_role */
	_Atomic uint32_t	ss_index;	/* instance within role */
	_Atomic int32_t		ss_pid;
	_Atomic uint64_t	ss_started_ms;	/* monotonic */
	_Atomic uint64_t	ss_heartbeat_ms; /* monotonic, by the worker */
	_Atomic uint64_t	ss_conns;	/* open connections (gauge) */
	_Atomic uint64_t	ss_conns_total;	/* accepted, cumulative */
	_Atomic uint64_t	ss_requests;	/* requests answered, cumulative */
	_Atomic uint64_t	ss_bad_requests; /* 4xx framing errors, cumulative */
	_Atomic uint64_t	ss_timeouts;	/* connections timed out */
};

struct shm {
	uint32_t		sh_magic;
	uint32_t		sh_version;
	uint64_t		sh_size;	/* bytes mapped */
	uint64_t		sh_started_real_ms; /* unix ms at start */
	uint64_t		sh_started_mono_ms;
	_Atomic uint32_t	sh_ready;	/* all workers up */
	_Atomic uint32_t	sh_draining;	/* graceful stop under way */
	_Atomic uint64_t	sh_restarts[3];	/* by enum proc_role */
	_Atomic uint64_t	sh_reloads;
	_Atomic uint64_t	sh_heartbeat_kills;
	struct shm_slot		sh_slots[SHM_SLOTS];
	struct rl_table		sh_rl;		/* per-user rate limits */
};

/* shm_create: map and initialise a region; fatal on failure. */
struct shm	*shm_create(void);

/* shm_check: 0 if the region carries our magic and version, else -1. */
int		 shm_check(const struct shm *);

/* shm_slot_alloc: a free slot index (marked STARTING), or -1 if none. */
int		 shm_slot_alloc(struct shm *, int role, int index);

/* shm_slot_release: mark a slot free after its worker is gone. */
void		 shm_slot_release(struct shm *, int slot);

/* shm_sum: add field at byte offset off over every slot of role (0=all). */
uint64_t	 shm_sum(const struct shm *, int role, size_t off);

#endif /* SHM_H */
