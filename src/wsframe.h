/*
 * wsframe.h: the byte-level filter a WS worker runs on a client's raw
 * bytes before wslay parses them (RFC 6455 section 5, server side).  It
 * follows the frame heads, takes valid pings and pongs out of the stream
 * (a ping makes a pong owed) and refuses what wslay would only answer by
 * dropping the TCP connection.  Pure code: no I/O, no logging, no
 * allocation; the caller passes the time.
 */

#ifndef WSFRAME_H
#define WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#define WSF_HEAD_MAX	14	/* bytes of a client frame head */
#define WSF_CTL_MAX	125	/* payload bytes of a control frame */
#define WSF_PING	0x9	/* opcodes (RFC 6455 5.2) */
#define WSF_PONG	0xa

enum wsf_error {
	WSF_OK = 0,
	WSF_BAD_LENGTH,		/* a length not in its shortest form, or
				 * with the top bit set: 1002 */
	WSF_CTL_TOO_LONG,	/* a control frame over WSF_CTL_MAX: 1002 */
	WSF_CTL_FRAGMENTED,	/* a control frame with FIN=0: 1002 */
	WSF_CTL_RATE		/* past the control-frame bucket: 1008 */
};

/*
 * The filter's state for one connection.  The caller reads the owed pong
 * (wf_pong_owed, wf_pong, wf_ponglen) and clears wf_pong_owed once it
 * queued that pong; every other field is the filter's.
 */
struct wsf {
	uint8_t		 wf_head[WSF_HEAD_MAX];	/* the next frame's head */
	size_t		 wf_headlen;		/* bytes of it so far */
	uint64_t	 wf_left;	/* payload bytes left of the frame */
	uint64_t	 wf_off;	/* its payload bytes seen */
	int		 wf_op;		/* WSF_PING or WSF_PONG when the
					 * frame is ours, else -1 */
	uint8_t		 wf_mask[4];
	uint8_t		 wf_ctl[WSF_CTL_MAX];	/* ping payload so far */
	uint8_t		 wf_pong[WSF_CTL_MAX];	/* the owed pong's payload */
	size_t		 wf_ponglen;
	int		 wf_pong_owed;	/* a ping is not answered yet */
	double		 wf_rate;	/* control frames a second */
	double		 wf_burst;	/* the bucket's size */
	double		 wf_tokens;
	double		 wf_at;		/* the bucket's last refill, s */
	unsigned	 wf_nframes;	/* frame heads read this turn */
	int		 wf_err;	/* enum wsf_error: sticky */
};

/*
 * Start f for a new connection at time now (seconds, any monotonic
 * clock): no frame begun, no pong owed, the bucket full (burst control
 * frames, refilled at rate a second).
 */
void	wsf_init(struct wsf *f, double rate, double burst, double now);

/* Start a new turn: wsf_filter's frames_max counts from here again. */
void	wsf_turn(struct wsf *f);

/*
 * Filter the client's raw bytes in[0..n) at time now.  Pings and pongs
 * with FIN, no RSV bit and a mask are read here (a ping's payload,
 * unmasked, becomes the owed pong: only the latest ping is answered, as
 * RFC 6455 5.5.3 allows); every other frame is copied to out, head
 * included, for wslay to parse.  out has room for n + WSF_HEAD_MAX - 1
 * bytes and may be in - WSF_HEAD_MAX (the head of a frame begun in an
 * earlier call is copied first).  Stops before a frame head once
 * frames_max heads were read this turn (see wsf_turn).
 *
 * *used receives the bytes of in taken; the caller hands the rest back
 * in a later call.  Returns the bytes written to out.  When a head
 * breaks a rule of enum wsf_error, wf_err is set, the bytes before that
 * head stay in out (counted in the return value), *used is n, and every
 * later call takes all its bytes and writes none.
 */
size_t	wsf_filter(struct wsf *f, const uint8_t *in, size_t n, uint8_t *out,
	    size_t *used, unsigned frames_max, double now);

/* 1 when f is inside a frame (its head or payload partly read), else 0. */
int	wsf_mid_frame(const struct wsf *f);

/* The close code for err (1002 or 1008; 1000 for WSF_OK). */
uint16_t	wsf_close_code(int err);

/* The close reason for err: a static string. */
const char	*wsf_strerror(int err);

#endif /* WSFRAME_H */
