/*
 * tlskeys.h: the TLS session ticket keys in shared memory (struct
 * shm_tls, see shm.h for the layout): the supervisor makes and rotates
 * them, the API and WS workers read a consistent copy for each ticket.
 */

#ifndef TLSKEYS_H
#define TLSKEYS_H

#include <stdint.h>

#include "shm.h"

/* One ticket key, as a reader copies it out of the region. */
struct tk_key {
	unsigned char	tk_name[SHM_TK_NAME];	/* starts every ticket */
	unsigned char	tk_aes[SHM_TK_SECRET];	/* AES-256-CBC */
	unsigned char	tk_hmac[SHM_TK_SECRET];	/* HMAC-SHA256 */
};

/* Both keys and the rotation they belong to. */
struct tk_snap {
	struct tk_key	ts_cur;		/* issue under this one */
	struct tk_key	ts_prev;	/* open (and renew) these too */
	uint64_t	ts_rotations;	/* st_rotations when copied */
};

/*
 * tk_init: fill both keys of st with fresh random bytes and set its
 * rotation count to 0.  Supervisor, before the first fork.  Returns 0,
 * or -1 when the random generator fails (st is then unchanged).
 */
int		 tk_init(struct shm_tls *);

/*
 * tk_rotate: make a new random current key; the current one becomes the
 * previous one and the previous one is forgotten; the rotation count
 * goes up by one.  Supervisor only (the single writer).  Returns 0, or
 * -1 when the random generator fails (st is then unchanged).
 */
int		 tk_rotate(struct shm_tls *);

/*
 * tk_install: rotate to the given key k (what tk_rotate does with a
 * random one).  Single writer only; readers see either the keys before
 * or the keys after, never a mix.
 */
void		 tk_install(struct shm_tls *, const struct tk_key *);

/*
 * tk_read: copy both keys of st and its rotation count into *snap, as
 * one consistent state.  Any process, any time.  Returns 0, or -1 when
 * the writer held the lock for all of many tries (it died writing);
 * *snap is then undefined.
 */
int		 tk_read(const struct shm_tls *, struct tk_snap *);

#endif /* TLSKEYS_H */
