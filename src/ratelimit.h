/*
 * ratelimit.h: per-user rate limiting shared by every worker process.
 *
 * A token bucket per user, kept in shared memory in its single-timestamp
 * form (GCRA, the "generic cell rate algorithm"): each bucket is one
 * 64-bit "theoretical arrival time" updated with compare-and-swap, so any
 * number of processes can charge it without a lock, and a process killed
 * half-way can never leave it locked.  rate requests per second are
 * allowed on average, with bursts of up to burst requests.
 */

#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RL_BUCKETS	65536	/* users tracked at once (power of two) */
#define RL_PROBE	8	/* slots looked at per user */

struct rl_bucket {
	_Atomic uint64_t	rb_key;		/* hash of the user id; 0 free */
	_Atomic uint64_t	rb_tat;		/* theoretical arrival, us */
};

/* The table; lives inside struct shm, zeroed at creation. */
struct rl_table {
	uint64_t		rt_seed;	/* hash seed, random per start */
	struct rl_bucket	rt_b[RL_BUCKETS];
};

/* rl_init: prepare a zeroed table with a random hash seed. */
void		 rl_init(struct rl_table *);

/*
 * rl_charge: charge one request of user (len bytes) at now_us (a
 * monotonic clock shared by all processes) against rate per second with
 * burst.  Returns 0 if allowed, else the microseconds to wait before a
 * request would be allowed (> 0).  rate 0 means no limit (always 0).
 */
uint64_t	 rl_charge(struct rl_table *, const char *user, size_t len,
		    uint64_t now_us, uint64_t rate, uint64_t burst);

#endif /* RATELIMIT_H */
