/*
 * ids.h: the names every layer shares: user and device ids, the device a
 * client that names none gets, and the range of message priorities.  The
 * HTTP and WebSocket front ends, authentication, envelope parsing and the
 * store all check against these, so none of them needs another's header.
 */

#ifndef IDS_H
#define IDS_H

#include <stddef.h>

/*
 * A user or device id is a NUL-terminated string of 1 to ID_MAX bytes of
 * printable ASCII without space (0x21-0x7e).  Buffers holding one are
 * ID_MAX + 1 bytes.
 */
#define ID_MAX			128
#define ID_DEFAULT_DEVICE	"default"	/* device of a client naming none */

#define PRIO_MAX		9	/* message priorities are 0..PRIO_MAX */
#define PRIO_HIGH		5	/* priority >= this: the high lane */

/* id_valid: 1 if s (may be NULL) is a valid user or device id, else 0. */
int		 id_valid(const char *s);

/*
 * id_text_valid: 1 if s (may be NULL) is 1 to max bytes of 0x21-0x7e,
 * NUL-terminated, else 0.  The store uses it for push platforms, app ids
 * and tokens, which follow the same alphabet with other lengths.
 */
int		 id_text_valid(const char *s, size_t max);

#endif /* IDS_H */
