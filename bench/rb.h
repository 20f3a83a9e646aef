/*
 * rb.h: the shared state of routingd-bench, the load generator shipped
 * with routingd, and the functions its files give each other.
 *
 * One measuring process (struct rb) owns one epoll loop, its share of
 * the receiving WebSockets (struct rb_ws) and of the sending connections
 * (struct rb_http for HTTP, struct rb_ws for WebSocket senders), and what
 * it measured (struct rb_result, sent to the parent as is).  The files:
 *
 *   rb_util.c        time, errors, memory, base64, HS256 tokens, sockets
 *   rb_http.c        HTTP senders (POST /api/send or an nchan publish) and
 *                    the drain (GET /api/messages + ack)
 *   rb_ws.c          WebSocket clients: receivers, acks, "send" frames
 *   rb_run.c         one measuring process: set up, run a workload
 *   rb_pss.c         the PSS of the target's processes
 *   routingd-bench.c options, processes, merged results, the report
 */

#ifndef RB_H
#define RB_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define RB_MAXPIPE	256		/* requests in flight per connection */
#define RB_HTTP_RBUF	(256 * 1024)	/* bytes of answers buffered */
#define RB_WS_RBUF	4096		/* initial WebSocket read buffer */
#define RB_FRAME_MAX	(16 * 1024 * 1024)	/* largest frame accepted */
#define RB_ACK_IDS	100		/* ids per ack frame, at most */
#define RB_ACK_US	10000		/* pending acks wait at most this */
#define RB_ID_MAX	64		/* bytes of a message id */
#define RB_ACK_CAP	(32 + RB_ACK_IDS * (RB_ID_MAX + 3))
#define RB_HANDSHAKES	256		/* handshakes in progress at once */
#define RB_STORM_HANDSHAKES 2048	/* the same in a reconnect storm */
#define RB_RETRY_US	20000		/* storm: a failed one waits this */
#define RB_SETUP_US	(300ULL * 1000000)	/* setup deadline */
#define RB_DRAIN_US	(60ULL * 1000000)	/* drain deadline */
#define RB_CLOSE_US	(2ULL * 1000000)	/* closing handshakes */
#define RB_HEAD		18		/* payload bytes encoded per send */
#define RB_HEAD_B64	24		/* their base64 characters */
#define RB_MAX_SIZE	100000		/* --size limit */
#define RB_MAX_SOURCES	250		/* 127.0.0.1 .. 127.0.0.250 */
#define RB_CONNS_PER_SOURCE 20000	/* --sources by default */
#define RB_MAX_PIDS	16		/* --pid */
#define RB_MAX_ARRAY	100		/* --array */
#define RB_WARN_MAX	5		/* warnings of each kind printed */
#define RB_NSTATUS	600		/* HTTP statuses counted */

enum rb_target { T_ROUTINGD, T_NCHAN };
enum rb_workload { W_ONLINE, W_LATENCY, W_OFFLINE, W_DRAIN, W_WSSEND,
    W_IDLE, W_CONNECTIONS, W_STORM };
enum rb_kind { K_WS, K_HTTP };
enum rb_ws_state { WS_IDLE, WS_CONNECTING, WS_HANDSHAKE, WS_OPEN,
    WS_CLOSED };
enum rb_phase { PH_SETUP, PH_RUN, PH_DRAIN, PH_CLOSING };

/* Errors, by kind (rb_result.err). */
enum rb_err { E_CONNECT, E_UPGRADE, E_WS_CLOSED, E_WS_ERROR, E_HTTP_CLOSED,
    E_HTTP_STATUS, E_UNREADABLE, E_STRAY, E_NERR };

struct rb_opts {
	enum rb_target	 target;
	enum rb_workload workload;
	int		 api_port, ws_port;
	const char	*secret_file;	/* routingd: the HS256 secret */
	const char	*pub_path;	/* nchan: publish at this + channel */
	const char	*sub_path;	/* nchan: subscribe at this + channel */
	int		 users, senders, pipeline, size, procs, sources;
	int		 array;		/* envelopes per POST /api/send */
	int		 json, tls;
	double		 rate, warmup, seconds, grace, settle;
	int		 pids[RB_MAX_PIDS], npids;
};

/* A WebSocket: a receiver (bench-N) or, in wssend, a sender (sender-K). */
struct rb_ws {
	enum rb_kind	 kind;		/* first: epoll dispatch */
	int		 fd;
	SSL		*ssl;		/* --tls */
	int		 user;		/* bench-N, or sender-K */
	int		 gi;		/* connection index: its source address */
	int		 sender;	/* a wssend sender */
	enum rb_ws_state state;
	int		 got_empty;	/* queue_empty seen (nchan: open) */
	int		 dirty;		/* on the pending-ack list */
	int		 close_sent;
	int		 inflight;	/* wssend: sends not answered */
	uint64_t	 retry_at;	/* storm: not before this (us) */
	char		 key[32];	/* Sec-WebSocket-Key */
	unsigned char	*rbuf;
	size_t		 rlen, rcap;
	unsigned char	*wbuf;
	size_t		 wlen, woff, wcap;
	unsigned char	*frag;		/* a fragmented message so far */
	size_t		 fraglen, fragcap;
	int		 fragging;
	char		*ack;		/* {"type":"ack","messageIds":[... */
	size_t		 acklen;
	int		 nack;
};

/* An HTTP keep-alive connection: a sender, or a drainer. */
struct rb_http {
	enum rb_kind	 kind;		/* first: epoll dispatch */
	int		 fd;
	SSL		*ssl;		/* --tls */
	int		 sender;	/* sender-K */
	int		 up;		/* connected */
	int		 dead;
	char		*token;		/* routingd: Bearer token */
	char		*rbuf;
	size_t		 rlen;
	char		*wbuf;
	size_t		 wlen, woff, wcap;
	uint64_t	 seq[RB_MAXPIPE];	/* ring of message numbers */
	uint64_t	 sendt[RB_MAXPIPE];	/* and of their send times */
	int		 head, inflight;
	int		 duser;		/* drain: the user it drains; -1 */
	char		*dtoken;	/* drain: that user's token */
	int		 dtoken_user;
	int		 ddone;		/* drain: every user of it empty */
	int		 dack;		/* drain: next answer is an ack */
};

/* What one process measured; sent to the parent as is. */
struct rb_result {
	uint64_t	 sent;		/* accepted in the measured interval */
	uint64_t	 received;	/* new messages received in it */
	uint64_t	 posted;	/* every send written */
	uint64_t	 accepted;	/* every send accepted */
	uint64_t	 delivered;	/* distinct messages received */
	uint64_t	 lost;		/* accepted, never received */
	uint64_t	 unaccepted;	/* received, not accepted */
	uint64_t	 dups;
	uint64_t	 stale;		/* messages of an earlier run */
	uint64_t	 pending_end;	/* accepted, not received at the end */
	uint64_t	 behind_max;	/* paced sends overdue, at most */
	uint64_t	 err[E_NERR];
	uint64_t	 status[RB_NSTATUS];	/* HTTP answers by status */
	uint64_t	 opened;	/* WebSockets open after the setup */
	uint64_t	 held;		/* still open at the end */
	uint64_t	 reconnected;	/* storm: open again */
	double		 open_s;	/* setup: first connect to last open */
	double		 storm_s;	/* storm: drop to last reopened */
	double		 drain_s;	/* end of interval to last delivery */
	double		 held_s;	/* connections: how long they were held */
	uint64_t	 drained;	/* drain: messages fetched and acked */
	double		 drain_run_s;	/* drain: how long it took */
	uint64_t	 nlat;		/* delivery samples that follow */
	uint64_t	 nplat;		/* then accept samples */
};

struct rb {
	struct rb_opts	 o;
	int		 k;		/* process index */
	int		 user_lo, user_n, send_lo, send_n;
	double		 rate;		/* this process's share; 0: max */
	unsigned	 nonce;		/* this run's: in payload bytes 16-17 */
	char		 secret[4096];
	size_t		 slen;
	int		 ep;
	struct rb_ws	*ws;		/* receivers */
	struct rb_ws	*wss;		/* wssend senders */
	struct rb_http	*hc;		/* HTTP senders or drainers */
	struct rb_ws	**dirty;
	int		 ndirty;
	char		*tail;		/* base64 of payload bytes 18.. */
	size_t		 taillen;
	unsigned char	 pad[RB_HEAD];
	uint64_t	*acc, *rcv;	/* bit per message: accepted, received */
	uint64_t	 bitcap;
	uint64_t	 seq;		/* next message number */
	uint64_t	 both;		/* messages accepted and received */
	uint64_t	 inflight;	/* sends not answered, every sender */
	enum rb_phase	 phase;
	uint64_t	 t0, twarm, tend, last_progress, last_rx;
	int		 rr;		/* paced sends: next connection */
	int		 nopen, nempty, hs_inflight, nclosed, nhttp_up;
	int		 nfailed;	/* receivers that failed to open */
	int		 storm;		/* reconnecting: retry what fails */
	int		 ndrained;	/* drainers done */
	uint64_t	 rand;
	int		 warned[8];
	struct rb_result r;
	uint32_t	*lat;		/* send to delivery, us */
	size_t		 latcap;
	uint32_t	*plat;		/* send to accept, us */
	size_t		 platcap;
};

/* rb_util.c */

/* Microseconds of CLOCK_MONOTONIC. */
uint64_t	 rb_now(void);
/* Print "routingd-bench: ..." (the process's name) and exit 1. */
void		 rb_fatal(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
/* The same with strerror(errno) after what. */
void		 rb_fatal_errno(const char *) __attribute__((noreturn));
/* A warning of kind kind (0-7) on stderr, RB_WARN_MAX times at most. */
void		 rb_warn(struct rb *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* calloc and realloc that exit when out of memory. */
void		*rb_alloc(size_t);
void		*rb_grow(void *, size_t);
/* Name of this process in messages (the children add [k]). */
void		 rb_set_who(const char *, int);
uint32_t	 rb_rand32(struct rb *);
void		 rb_put64(unsigned char *, uint64_t);
uint64_t	 rb_get64(const unsigned char *);
/* Base64 of in[0..n) into out (not terminated), padded unless url;
 * returns the characters written. */
size_t		 rb_b64_encode(const unsigned char *, size_t, char *,
		    int);
/* Decode n (a multiple of 4) unpadded characters of either alphabet
 * into out; 0, or -1 if one is not base64. */
int		 rb_b64_decode(const char *, size_t, unsigned char *);
/* Read the HS256 secret from o.secret_file (minus one '\n'). */
void		 rb_read_secret(struct rb *);
/* An HS256 JWT for sub, valid for an hour: a malloc'd string. */
char		*rb_token(struct rb *, const char *);
/* --tls: make the client context; rb_tls_new gives an SSL on fd (in
 * connect state) or NULL without --tls. */
void		 rb_tls_init(void);
SSL		*rb_tls_new(int);
/* send(2) or recv(2) (wr says which), through ssl when not NULL, with
 * their results; EAGAIN whichever way TLS must wait. */
ssize_t		 rb_io(SSL *, int, void *, size_t, int);
/* Add fd to the epoll set, edge-triggered, in and out, with ptr. */
void		 rb_epoll_add(struct rb *, int, void *);
/* A non-blocking TCP socket to 127.0.0.1:port for connection gi, bound
 * to source address 127.0.0.(1 + gi % o.sources) when o.sources > 1,
 * connect started (*inprogress set if not done).  -1 with errno when the
 * connect failed at once (unless fatal says to exit then). */
int		 rb_socket(struct rb *, int, int, int *, int);
/* The message bits: grow to hold seq; did the run measure at now? */
void		 rb_bits_need(struct rb *, uint64_t);
int		 rb_measuring(const struct rb *, uint64_t);
/* Message seq, sent at sent, was accepted at now. */
void		 rb_accepted(struct rb *, uint64_t, uint64_t, uint64_t);
/* A payload head (RB_HEAD_B64 characters at p) received at now. */
void		 rb_arrived(struct rb *, const char *, uint64_t);
/* Write the base64 payload of message seq at p (RB_HEAD_B64 + taillen
 * characters): the send time, seq and the run's nonce, then padding. */
size_t		 rb_payload(struct rb *, char *, uint64_t, uint64_t);
/* Value of header name in the head [head, end), or NULL. */
const char	*rb_header(const char *, const char *, const char *,
		    size_t *);

/* rb_http.c */

/* Open o.senders' share of HTTP connections (sender-K tokens). */
void		 rbh_open(struct rb *);
/* Keep every pipeline full (unpaced), or post what is due (paced). */
void		 rbh_fill_all(struct rb *);
void		 rbh_pace(struct rb *, uint64_t);
/* The epoll events of h: connect, write what is queued, read and parse
 * the answers, keep the pipeline full. */
void		 rbh_event(struct rb *, struct rb_http *, uint32_t);
/* Drain: start fetching the users of each connection in turn (conn i
 * drains users i, i + n, ...); done when w->ndrained == w->send_n. */
void		 rbh_drain_start(struct rb *);
/* Close every HTTP connection of w (no more answers are read). */
void		 rbh_close_all(struct rb *);

/* rb_ws.c */

/* Start the WebSocket of c (connect, then upgrade).  0, or -1 when the
 * connect failed at once (counted, c closed). */
int		 rbw_start(struct rb *, struct rb_ws *);
/* Drop c (no closing handshake) and make it idle again. */
void		 rbw_drop(struct rb *, struct rb_ws *);
/* The epoll events of c: connect, upgrade, write, read the frames. */
void		 rbw_event(struct rb *, struct rb_ws *, uint32_t);
/* Send a masked frame (FIN set) of opcode op on c. */
void		 rbw_send(struct rb *, struct rb_ws *, int, const void *,
		    size_t);
/* Every RB_ACK_US: send the acks each connection has pending. */
void		 rbw_ack_tick(struct rb *);
/* wssend: keep each sender's pipeline full, or post what is due. */
void		 rbw_fill_all(struct rb *);
void		 rbw_pace(struct rb *, uint64_t);
/* Close every open WebSocket of w with 1000, then wait a little. */
void		 rbw_close_all(struct rb *, struct rb_ws *, int);

/* rb_run.c */

/* Set up this process's share: connections open, caught up. */
void		 rbr_setup(struct rb *);
/* Run the workload from start on (CLOCK_MONOTONIC us); fills w->r. */
void		 rbr_run(struct rb *, uint64_t);
/* One round of epoll events, waiting at most timeout_ms. */
void		 rbr_dispatch(struct rb *, int);

/* rb_pss.c */

/* The PSS in KiB of the processes pids[0..n) and all their descendants
 * (from /proc/PID/smaps_rollup); *nproc gets how many were read.  -1 if
 * none could be read. */
long		 rbp_pss_kib(const int *, int, int *);

#endif /* RB_H */
