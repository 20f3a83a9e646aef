/*
 * ratelimit.c: the per-user GCRA token buckets in shared memory (see
 * ratelimit.h).
 *
 * Runs in every API worker (and WS worker for "send" frames); the table is
 * created by the supervisor as part of struct shm.  Invariants: a bucket's
 * key and its tat are each written only with compare-and-swap; a user maps
 * to one of RL_PROBE consecutive slots; when all of them belong to others
 * the slot whose tat lies furthest in the past (an idle, full bucket) is
 * taken over, so a full table degrades into forgetting idle users, never
 * into refusing anyone.  A stale tat can only make a bucket fuller than
 * it should be, never emptier, so races err towards allowing a request.
 */

#include <sys/random.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ratelimit.h"

#define RL_US_PER_S	1000000ULL

/* rl_init: see ratelimit.h. */
void
rl_init(struct rl_table *rt)
{
	uint64_t	 seed = 0;

	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = 0x9e3779b97f4a7c15ULL;
	rt->rt_seed = seed | 1;
}

/* FNV-1a over the seed and the id, never 0 (0 marks a free slot). */
static uint64_t
rl_hash(uint64_t seed, const char *s, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL ^ seed;
	size_t		 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	return (h == 0 ? 1 : h);
}

/* The user's bucket: its own slot, a free one, or the idlest one. */
static struct rl_bucket *
rl_find(struct rl_table *rt, uint64_t key, uint64_t now_us)
{
	struct rl_bucket	*b, *oldest = NULL;
	uint64_t		 k, tat, oldest_tat = UINT64_MAX;
	size_t			 i, base = (size_t)(key & (RL_BUCKETS - 1));

	for (i = 0; i < RL_PROBE; i++) {
		b = &rt->rt_b[(base + i) & (RL_BUCKETS - 1)];
		k = atomic_load_explicit(&b->rb_key, memory_order_acquire);
		if (k == key)
			return (b);
		if (k == 0 && atomic_compare_exchange_strong(&b->rb_key, &k,
		    key))
			return (b);
		if (k == key)		/* another process just claimed it */
			return (b);
		tat = atomic_load_explicit(&b->rb_tat, memory_order_relaxed);
		if (tat < oldest_tat) {
			oldest_tat = tat;
			oldest = b;
		}
	}
	/* Take over the idlest slot; if it is not idle, share it. */
	if (oldest_tat <= now_us) {
		k = atomic_load(&oldest->rb_key);
		if (atomic_compare_exchange_strong(&oldest->rb_key, &k, key))
			atomic_store(&oldest->rb_tat, 0);
	}
	return (oldest);
}

/* rl_charge: see ratelimit.h. */
uint64_t
rl_charge(struct rl_table *rt, const char *user, size_t len,
    uint64_t now_us, uint64_t rate, uint64_t burst)
{
	struct rl_bucket	*b;
	uint64_t		 interval, tolerance, tat, next;

	if (rate == 0)
		return (0);
	if (burst == 0)
		burst = 1;
	interval = RL_US_PER_S / rate;
	if (interval == 0)
		interval = 1;
	tolerance = interval * (burst - 1);
	b = rl_find(rt, rl_hash(rt->rt_seed, user, len), now_us);
	tat = atomic_load(&b->rb_tat);
	for (;;) {
		next = (tat > now_us ? tat : now_us);
		if (next - now_us > tolerance)
			return (next - now_us - tolerance);
		if (atomic_compare_exchange_weak(&b->rb_tat, &tat,
		    next + interval))
			return (0);
	}
}
