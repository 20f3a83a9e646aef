/*
 * wsframe.c: the client-frame filter of a WS worker's connections
 * (ws_conn.c calls it on every raw byte a client sends, before wslay).
 *
 * Owns nothing but the struct wsf the caller hands in: no I/O, no
 * allocation, no logging, no clock (the caller passes the time).
 *
 * Invariants:
 * - Until an error, wf_headlen < WSF_HEAD_MAX between calls: a head is
 *   judged as soon as its last byte arrives (its first two give its
 *   length).
 * - While wf_op is not -1 the frame is a ping or pong of at most
 *   WSF_CTL_MAX payload bytes, so wf_off never passes WSF_CTL_MAX.
 * - The output is the input with our pings and pongs cut out: a frame
 *   given to wslay is copied whole, head and payload, untouched.
 * - How the input is split into calls changes neither the output nor
 *   the pong owed nor the error; the time passed does (the bucket).
 */

#include <string.h>

#include "wsframe.h"

/* wsf_init: see wsframe.h. */
void
wsf_init(struct wsf *f, double rate, double burst, double now)
{
	memset(f, 0, sizeof(*f));
	f->wf_op = -1;
	f->wf_rate = rate;
	f->wf_burst = burst;
	f->wf_tokens = burst;
	f->wf_at = now;
}

/* wsf_turn: see wsframe.h. */
void
wsf_turn(struct wsf *f)
{
	f->wf_nframes = 0;
}

/* wsf_mid_frame: see wsframe.h. */
int
wsf_mid_frame(const struct wsf *f)
{
	return (f->wf_headlen > 0 || f->wf_left > 0);
}

/* The length of a client frame head whose first have bytes are in h. */
static size_t
wsf_head_need(const uint8_t *h, size_t have)
{
	size_t	 n = 2;

	if (have < 2)
		return (n);
	if ((h[1] & 0x7f) == 126)
		n += 2;
	else if ((h[1] & 0x7f) == 127)
		n += 8;
	if (h[1] & 0x80)
		n += 4;
	return (n);
}

/*
 * The payload length of the complete head h, or -1 when it is not in its
 * shortest form or has the top bit set (RFC 6455 5.2).
 */
static int
wsf_head_len(const uint8_t *h, uint64_t *len)
{
	size_t	 i, ext = (h[1] & 0x7f) == 126 ? 2 : (h[1] & 0x7f) == 127 ?
		    8 : 0;

	*len = h[1] & 0x7f;
	if (ext == 0)
		return (0);
	for (*len = 0, i = 0; i < ext; i++)
		*len = *len << 8 | h[2 + i];
	if ((ext == 2 && *len < 126) || (ext == 8 && (*len < 65536 ||
	    *len >> 63 != 0)))
		return (-1);
	return (0);
}

/* One more control frame: 0, or -1 past the bucket. */
static int
wsf_ctl_charge(struct wsf *f, double now)
{
	f->wf_tokens += (now - f->wf_at) * f->wf_rate;
	if (f->wf_tokens > f->wf_burst)
		f->wf_tokens = f->wf_burst;
	f->wf_at = now;
	if (f->wf_tokens < 1.0)
		return (-1);
	f->wf_tokens -= 1.0;
	return (0);
}

/*
 * A complete head in wf_head: judge it.  Returns 1 when the frame is ours
 * (a valid ping or pong), 0 when it goes to wslay, -1 when it breaks a
 * rule (wf_err set).  wslay answers what is wrong in a ping or pong that
 * is not ours (an RSV bit, no mask) with its own 1002.
 */
static int
wsf_head(struct wsf *f, double now)
{
	const uint8_t	*h = f->wf_head;
	int		 op = h[0] & 0x0f, ctl = op >= 0x8;
	uint64_t	 len;

	f->wf_nframes++;
	if (wsf_head_len(h, &len) == -1)
		f->wf_err = WSF_BAD_LENGTH;
	else if (ctl && len > WSF_CTL_MAX)
		f->wf_err = WSF_CTL_TOO_LONG;
	else if (ctl && (h[0] & 0x80) == 0)
		f->wf_err = WSF_CTL_FRAGMENTED;
	else if (ctl && wsf_ctl_charge(f, now) == -1)
		f->wf_err = WSF_CTL_RATE;
	if (f->wf_err != WSF_OK)
		return (-1);
	f->wf_left = len;
	f->wf_off = 0;
	f->wf_op = -1;
	if ((op != WSF_PING && op != WSF_PONG) || (h[0] & 0x70) != 0 ||
	    (h[1] & 0x80) == 0)
		return (0);
	f->wf_op = op;
	memcpy(f->wf_mask, h + f->wf_headlen - 4, 4);
	return (1);
}

/* The end of a ping or pong of ours: a ping makes a pong owed. */
static void
wsf_ctl_end(struct wsf *f)
{
	if (f->wf_op == WSF_PING) {
		memcpy(f->wf_pong, f->wf_ctl, (size_t)f->wf_off);
		f->wf_ponglen = (size_t)f->wf_off;
		f->wf_pong_owed = 1;
	}
	f->wf_op = -1;
}

/*
 * Up to k payload bytes of the current frame from in: copied to out when
 * the frame is wslay's (*copied set), unmasked into wf_ctl when it is
 * ours.  Returns the bytes taken.
 */
static size_t
wsf_payload(struct wsf *f, const uint8_t *in, size_t k, uint8_t *out,
    int *copied)
{
	size_t	 j;

	if (k > f->wf_left)
		k = (size_t)f->wf_left;
	*copied = f->wf_op == -1;
	if (*copied)
		memmove(out, in, k);
	else
		for (j = 0; j < k; j++, f->wf_off++)
			f->wf_ctl[f->wf_off] = in[j] ^
			    f->wf_mask[f->wf_off % 4];
	f->wf_left -= k;
	if (f->wf_left == 0 && f->wf_op != -1)
		wsf_ctl_end(f);
	return (k);
}

/* wsf_filter: see wsframe.h. */
size_t
wsf_filter(struct wsf *f, const uint8_t *in, size_t n, uint8_t *out,
    size_t *used, unsigned frames_max, double now)
{
	size_t	 i = 0, o = 0, k;
	int	 r, copied;

	*used = n;
	if (f->wf_err != WSF_OK)
		return (0);
	while (i < n) {
		if (f->wf_left > 0) {		/* inside a payload */
			k = wsf_payload(f, in + i, n - i, out + o, &copied);
			if (copied)
				o += k;
			i += k;
			continue;
		}
		if (f->wf_headlen == 0 && f->wf_nframes >= frames_max)
			break;			/* the rest next turn */
		f->wf_head[f->wf_headlen++] = in[i++];
		if (f->wf_headlen < wsf_head_need(f->wf_head, f->wf_headlen))
			continue;
		if ((r = wsf_head(f, now)) == -1)
			return (o);
		if (r == 0) {
			memmove(out + o, f->wf_head, f->wf_headlen);
			o += f->wf_headlen;
		} else if (f->wf_left == 0)
			wsf_ctl_end(f);		/* an empty ping or pong */
		f->wf_headlen = 0;
	}
	*used = i;
	return (o);
}

/* wsf_close_code: see wsframe.h. */
uint16_t
wsf_close_code(int err)
{
	switch (err) {
	case WSF_OK:
		return (1000);
	case WSF_CTL_RATE:
		return (1008);
	default:
		return (1002);
	}
}

/* wsf_strerror: see wsframe.h. */
const char *
wsf_strerror(int err)
{
	switch (err) {
	case WSF_OK:
		return ("no error");
	case WSF_BAD_LENGTH:
		return ("bad frame length");
	case WSF_CTL_TOO_LONG:
		return ("control frame too long");
	case WSF_CTL_FRAGMENTED:
		return ("fragmented control frame");
	case WSF_CTL_RATE:
		return ("too many control frames");
	default:
		return ("unknown frame error");
	}
}
