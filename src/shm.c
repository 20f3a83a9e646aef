/*
 * shm.c: creation and slot bookkeeping of the shared-memory region (see
 * shm.h for the layout and who writes what).
 *
 * The supervisor creates the region before the first fork, records each
 * role of its process table (name and share of the slots) and allocates
 * and releases slots within a role's share.  A worker writes its own
 * slot's state, heartbeat, counters and process sample (shm_slot_alloc
 * clears the sample of the slot's previous worker), and adds to the
 * daemon-wide metrics and the rate-limit table (shm.h says who writes
 * what).  The values are statistics and liveness stamps, never used to
 * order other memory, so relaxed atomics would do; some reads use the
 * default order.  The magic and version stamped at creation tell whoever
 * inspects a region from outside (a debugger, a core dump) its layout;
 * the daemon itself never needs to check them.
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

/*
 * shm_role_add: see shm.h.  Shares are consecutive in the order roles are
 * added, so a slot's cumulative counters always belong to one role.
 */
int
shm_role_add(struct shm *sh, int role, const char *name, unsigned nslots)
{
	struct shm_role	*sr;
	size_t		 len = strlen(name);
	uint32_t	 next = 0;
	int		 r;

	if (role < 0 || role >= PROC_NROLES || sh->sh_roles[role].sr_n != 0 ||
	    nslots == 0 || len >= sizeof(sr->sr_name))
		return (-1);
	for (r = 0; r < PROC_NROLES; r++) {
		sr = &sh->sh_roles[r];
		if (sr->sr_n != 0 && sr->sr_first + sr->sr_n > next)
			next = sr->sr_first + sr->sr_n;
	}
	if (nslots > SHM_SLOTS - next)
		return (-1);
	sr = &sh->sh_roles[role];
	memcpy(sr->sr_name, name, len + 1);
	sr->sr_first = next;
	sr->sr_n = nslots;
	return (0);
}

/*
 * shm_slot_alloc: claim a free slot of role's share for a worker about to
 * be forked and mark it STARTING with its role and index.  Returns the
 * slot, or -1 when the share is all taken (or role has none).  Supervisor
 * only.
 */
int
shm_slot_alloc(struct shm *sh, int role, int index)
{
	const struct shm_role	*sr;
	struct shm_slot		*ss;
	uint32_t		 i;

	if (role < 0 || role >= PROC_NROLES)
		return (-1);
	sr = &sh->sh_roles[role];
	for (i = sr->sr_first; i < sr->sr_first + sr->sr_n; i++) {
		ss = &sh->sh_slots[i];
		if (atomic_load(&ss->ss_state) != SHM_SLOT_FREE)
			continue;
		atomic_store(&ss->ss_role, (uint32_t)role);
		atomic_store(&ss->ss_index, (uint32_t)index);
		atomic_store(&ss->ss_pid, 0);
		atomic_store(&ss->ss_conns, 0);
		atomic_store(&ss->ss_proc.sp_rss_bytes, 0);
		atomic_store(&ss->ss_proc.sp_open_fds, 0);
		atomic_store(&ss->ss_proc.sp_cpu_us, 0);
		atomic_store(&ss->ss_started_ms, util_mono_ms());
		atomic_store(&ss->ss_heartbeat_ms, util_mono_ms());
		atomic_store(&ss->ss_state, SHM_SLOT_STARTING);
		return ((int)i);
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
 * shm_sum: see shm.h.  Free slots count too: their counters are history.
 */
uint64_t
shm_sum(const struct shm *sh, int role, size_t off)
{
	const struct shm_role	*sr;
	const struct shm_slot	*ss;
	uint64_t		 sum = 0;
	uint32_t		 i;

	if (role < 0 || role >= PROC_NROLES)
		return (0);
	sr = &sh->sh_roles[role];
	for (i = sr->sr_first; i < sr->sr_first + sr->sr_n; i++) {
		ss = &sh->sh_slots[i];
		sum += atomic_load_explicit((const _Atomic uint64_t *)
		    (const void *)((const char *)ss + off),
		    memory_order_relaxed);
	}
	return (sum);
}
