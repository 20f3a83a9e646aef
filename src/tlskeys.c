/*
 * tlskeys.c: the TLS session ticket keys of shared memory (struct
 * shm_tls; shm.h has the layout).
 *
 * The supervisor runs tk_init before the first fork and tk_rotate on its
 * tick when the rotation period (tls_ticket_rotate) has passed; the API
 * and WS workers run tk_read from OpenSSL's ticket callback (tls.c) for
 * every ticket they issue or open.  It owns no memory; the keys live only
 * in the region.
 *
 * Invariants:
 * - One writer (the supervisor), so the sequence lock needs no
 *   compare-and-swap: st_seq is odd exactly while tk_install writes.
 * - Every word of a key is an atomic, read and written relaxed; the
 *   fences around the copy order them against st_seq, so a copy made
 *   between two equal even values of st_seq is one state of the keys.
 * - A reader never waits for long: after TK_TRIES tries it gives up.
 */

#include <stdatomic.h>
#include <string.h>

#include <openssl/rand.h>

#include "tlskeys.h"

#define TK_TRIES	100000	/* reads tried while the writer writes */

_Static_assert(sizeof(struct tk_key) == SHM_TK_WORDS * 8,
    "a key is whole words");

/* Store k into the words of tk (writer, inside the lock). */
static void
tk_put(struct shm_tk *tk, const struct tk_key *k)
{
	uint64_t	 w[SHM_TK_WORDS];
	size_t		 i;

	memcpy(w, k, sizeof(w));
	for (i = 0; i < SHM_TK_WORDS; i++)
		atomic_store_explicit(&tk->tk_w[i], w[i],
		    memory_order_relaxed);
}

/* Copy the words of tk into k (reader, checked by the lock after). */
static void
tk_get(const struct shm_tk *tk, struct tk_key *k)
{
	uint64_t	 w[SHM_TK_WORDS];
	size_t		 i;

	for (i = 0; i < SHM_TK_WORDS; i++)
		w[i] = atomic_load_explicit((_Atomic uint64_t *)&tk->tk_w[i],
		    memory_order_relaxed);
	memcpy(k, w, sizeof(w));
}

/* A random key; 0, or -1 when the generator fails. */
static int
tk_random(struct tk_key *k)
{
	return (RAND_bytes((unsigned char *)k, (int)sizeof(*k)) == 1 ? 0 : -1);
}

/* tk_install: see tlskeys.h. */
void
tk_install(struct shm_tls *st, const struct tk_key *k)
{
	struct tk_key	 cur;
	uint64_t	 seq;

	tk_get(&st->st_key[0], &cur);
	seq = atomic_load_explicit(&st->st_seq, memory_order_relaxed);
	atomic_store_explicit(&st->st_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	tk_put(&st->st_key[1], &cur);
	tk_put(&st->st_key[0], k);
	atomic_store_explicit(&st->st_rotations, atomic_load_explicit(
	    &st->st_rotations, memory_order_relaxed) + 1,
	    memory_order_relaxed);
	atomic_store_explicit(&st->st_seq, seq + 2, memory_order_release);
}

/* tk_init: see tlskeys.h. */
int
tk_init(struct shm_tls *st)
{
	struct tk_key	 k[2];

	if (tk_random(&k[0]) == -1 || tk_random(&k[1]) == -1)
		return (-1);
	tk_install(st, &k[1]);
	tk_install(st, &k[0]);
	atomic_store_explicit(&st->st_rotations, 0, memory_order_release);
	memset(k, 0, sizeof(k));
	return (0);
}

/* tk_rotate: see tlskeys.h. */
int
tk_rotate(struct shm_tls *st)
{
	struct tk_key	 k;

	if (tk_random(&k) == -1)
		return (-1);
	tk_install(st, &k);
	memset(&k, 0, sizeof(k));
	return (0);
}

/* tk_read: see tlskeys.h. */
int
tk_read(const struct shm_tls *st, struct tk_snap *snap)
{
	_Atomic uint64_t	*seqp = (_Atomic uint64_t *)&st->st_seq;
	uint64_t		 s1, s2;
	long			 tries;

	for (tries = 0; tries < TK_TRIES; tries++) {
		s1 = atomic_load_explicit(seqp, memory_order_acquire);
		if (s1 & 1)
			continue;
		tk_get(&st->st_key[0], &snap->ts_cur);
		tk_get(&st->st_key[1], &snap->ts_prev);
		snap->ts_rotations = atomic_load_explicit(
		    (_Atomic uint64_t *)&st->st_rotations,
		    memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(seqp, memory_order_relaxed);
		if (s1 == s2)
			return (0);
	}
	return (-1);
}
