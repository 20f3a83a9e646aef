/*
 * shm.c: creation and slot bookkeeping of the shared-memory region (see
 * shm.h for the layout and who writes what).
 *
 * The supervisor creates the region before the first fork and allocates
 * and releases slots; workers only write their own slot's heartbeat and
 * counters.  Readers anywhere use relaxed atomic loads: the values are
 * statistics and liveness stamps, never used to order other memory.
 */

#include <sys/mman.h>

#include <stddef.h>
#include <string.h>

#include "log.h"
#include "routingd.h"
#include "shm.h"

/* shm_create: map a zeroed shared region and stamp it; fatal on failure. */
struct shm *
shm_create(void)
{
	struct shm	*sh;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fatal("mmap() failed while creating shared memory");
	memset(sh, 0, sizeof(*sh));
	sh->sh_magic = SHM_MAGIC;
	sh->sh_version = SHM_VERSION;
	sh->sh_size = sizeof(*sh);
	sh->sh_started_real_ms = util_real_ms();
	sh->sh_started_mono_ms = util_mono_ms();
	rl_init(&sh->sh_rl);
	return (sh);
}

/* shm_check: 0 if sh is a region of this layout version, else -1. */
int
shm_check(const struct shm *sh)
{
	if (sh == NULL || sh->sh_magic != SHM_MAGIC ||
	    sh->sh_version != SHM_VERSION || sh->sh_size != sizeof(*sh))
		return (-1);
	return (0);
}

/*
 * shm_slot_alloc: claim a free slot for a worker about to be forked and
 * mark it STARTING with its role and index.  Each role has its own half of
 * the slots, so a slot's cumulative counters always belong to one role.
 * Returns the slot, or -1 when the role's slots are all taken.  Supervisor
 * only.
 */
int
shm_slot_alloc(struct shm *sh, int role, int index)
{
	struct shm_slot	*ss;
	int		 i;

	int		 base = (role == PROC_WS) ? SHM_SLOTS / 2 : 0;

	for (i = base; i < base + SHM_SLOTS / 2; i++) {
		ss = &sh->sh_slots[i];
		if (atomic_load(&ss->ss_state) != SHM_SLOT_FREE)
			continue;
		atomic_store(&ss->ss_role, (uint32_t)role);
		atomic_store(&ss->ss_index, (uint32_t)index);
		atomic_store(&ss->ss_pid, 0);
		atomic_store(&ss->ss_conns, 0);
		atomic_store(&ss->ss_started_ms, util_mono_ms());
		atomic_store(&ss->ss_heartbeat_ms, util_mono_ms());
		atomic_store(&ss->ss_state, SHM_SLOT_STARTING);
		return (i);
	}
	return (-1);
}

/*
 * shm_slot_release: free a slot whose worker has been reaped.  Gauges are
 * zeroed; cumulative counters stay so daemon-wide sums never go down.
 */
void
shm_slot_release(struct shm *sh, int slot)
{
	struct shm_slot	*ss;

	if (slot < 0 || slot >= SHM_SLOTS)
		return;
	ss = &sh->sh_slots[slot];
	atomic_store(&ss->ss_conns, 0);
	atomic_store(&ss->ss_pid, 0);
	atomic_store(&ss->ss_state, SHM_SLOT_FREE);
}

/*
 * shm_sum: the sum of the uint64 counter at byte offset off (offsetof in
 * struct shm_slot) over all slots of role, or of every role when role is
 * PROC_SUPERVISOR.  Free slots count too: their counters are history.
 */
uint64_t
shm_sum(const struct shm *sh, int role, size_t off)
{
	const struct shm_slot	*ss;
	uint64_t		 sum = 0;
	int			 i;

	for (i = 0; i < SHM_SLOTS; i++) {
		ss = &sh->sh_slots[i];
		if (role != PROC_SUPERVISOR &&
		    atomic_load_explicit(&ss->ss_role, memory_order_relaxed) !=
		    (uint32_t)role)
			continue;
		sum += atomic_load_explicit((const _Atomic uint64_t *)
		    (const void *)((const char *)ss + off),
		    memory_order_relaxed);
	}
	return (sum);
}
