/*
 * test_shm.c: unit tests of shm.c: the region is stamped; roles get
 * consecutive shares of the slots and no more than there are; a slot is
 * only ever allocated within its role's share, and released slots are
 * reused; shm_sum adds one role's slots, released ones included.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "routingd.h"
#include "shm.h"

static void
test_create(void **state)
{
	struct shm	*sh = shm_create();
	int		 r;

	assert_int_equal(sh->sh_magic, SHM_MAGIC);
	assert_int_equal(sh->sh_version, SHM_VERSION);
	assert_int_equal(sh->sh_size, sizeof(*sh));
	for (r = 0; r < PROC_NROLES; r++)
		assert_int_equal(sh->sh_roles[r].sr_n, 0);
	/* no role recorded: nothing to allocate */
	assert_int_equal(shm_slot_alloc(sh, PROC_API, 0), -1);
}

static void
test_role_shares(void **state)
{
	struct shm	*sh = shm_create();

	assert_int_equal(shm_role_add(sh, PROC_API, "api", 100), 0);
	assert_int_equal(shm_role_add(sh, PROC_API, "api", 1), -1);
	assert_int_equal(shm_role_add(sh, PROC_WS, "ws", SHM_SLOTS - 99), -1);
	assert_int_equal(shm_role_add(sh, PROC_WS, "toolongname", 1), -1);
	assert_int_equal(shm_role_add(sh, PROC_NROLES, "x", 1), -1);
	assert_int_equal(shm_role_add(sh, PROC_WS, "ws", 0), -1);
	assert_int_equal(shm_role_add(sh, PROC_WS, "ws", SHM_SLOTS - 100), 0);
	assert_string_equal(sh->sh_roles[PROC_API].sr_name, "api");
	assert_int_equal(sh->sh_roles[PROC_API].sr_first, 0);
	assert_int_equal(sh->sh_roles[PROC_WS].sr_first, 100);
	assert_int_equal(sh->sh_roles[PROC_WS].sr_n, SHM_SLOTS - 100);
	assert_int_equal(shm_role_add(sh, PROC_SUPERVISOR, "sup", 1), -1);
}

static void
test_slot_alloc(void **state)
{
	struct shm	*sh = shm_create();
	int		 i, slot;

	assert_int_equal(shm_role_add(sh, PROC_API, "api", 3), 0);
	assert_int_equal(shm_role_add(sh, PROC_WS, "ws", 2), 0);
	for (i = 0; i < 3; i++) {
		slot = shm_slot_alloc(sh, PROC_API, i);
		assert_int_equal(slot, i);
		assert_int_equal(atomic_load(&sh->sh_slots[slot].ss_state),
		    SHM_SLOT_STARTING);
		assert_int_equal(atomic_load(&sh->sh_slots[slot].ss_role),
		    PROC_API);
		assert_int_equal(atomic_load(&sh->sh_slots[slot].ss_index), i);
	}
	assert_int_equal(shm_slot_alloc(sh, PROC_API, 3), -1);
	assert_int_equal(shm_slot_alloc(sh, PROC_WS, 0), 3);
	assert_int_equal(shm_slot_alloc(sh, PROC_WS, 1), 4);
	assert_int_equal(shm_slot_alloc(sh, PROC_WS, 2), -1);
	shm_slot_release(sh, 1);
	assert_int_equal(atomic_load(&sh->sh_slots[1].ss_state),
	    SHM_SLOT_FREE);
	assert_int_equal(shm_slot_alloc(sh, PROC_API, 7), 1);
	assert_int_equal(shm_slot_alloc(sh, PROC_SUPERVISOR, 0), -1);
	shm_slot_release(sh, -1);		/* ignored */
	shm_slot_release(sh, SHM_SLOTS);
}

static void
test_sum(void **state)
{
	struct shm	*sh = shm_create();
	size_t		 off = offsetof(struct shm_slot, ss_requests);
	int		 a, b, w;

	assert_int_equal(shm_role_add(sh, PROC_API, "api", 4), 0);
	assert_int_equal(shm_role_add(sh, PROC_WS, "ws", 4), 0);
	a = shm_slot_alloc(sh, PROC_API, 0);
	b = shm_slot_alloc(sh, PROC_API, 1);
	w = shm_slot_alloc(sh, PROC_WS, 0);
	atomic_store(&sh->sh_slots[a].ss_requests, 10);
	atomic_store(&sh->sh_slots[b].ss_requests, 5);
	atomic_store(&sh->sh_slots[w].ss_requests, 100);
	assert_int_equal(shm_sum(sh, PROC_API, off), 15);
	assert_int_equal(shm_sum(sh, PROC_WS, off), 100);
	/* counters are history: a released slot still counts */
	shm_slot_release(sh, b);
	assert_int_equal(shm_sum(sh, PROC_API, off), 15);
	assert_int_equal(shm_sum(sh, PROC_SUPERVISOR, off), 0);
	assert_int_equal(shm_sum(sh, -1, off), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_role_shares),
		cmocka_unit_test(test_slot_alloc),
		cmocka_unit_test(test_sum),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
