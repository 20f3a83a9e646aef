/*
 * ipc.h: THE wire protocol between routingd processes and routingctl.
 *
 * Every message is one SOCK_SEQPACKET datagram: a fixed struct ipc_hdr and
 * then ih_len payload bytes.  The payload of each type is the struct named
 * beside it, with explicit-width fields in host byte order (all peers run
 * on one host).  Strings inside payloads are fixed-size arrays; receivers
 * re-terminate them.  On control connections ih_peerid carries
 * IPC_VERSION; a mismatch is answered with IPC_CTL_FAIL.
 *
 * Compatibility: bump IPC_VERSION whenever this enum or a struct changes.
 * Adding a message: the enum value and struct here, its payload size and
 * name in ipc.c's type table, a sender, and one case in the receiver's
 * dispatch switch.
 */

#ifndef IPC_H
#define IPC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define IPC_VERSION		9	/* 2: IPC_DOORBELL, IPC_EPHEMERAL;
				   3: the status reply by role;
				   4: IPC_CTL_TOKEN;
				   5: store queries (130..);
				   6: drain, undrain, the reload reply,
				   config in place, retire;
				   7: IPC_CTL_STATS (150..);
				   8: presence since and mode;
				   9: IPC_EARLY */
#define IPC_MAX_PAYLOAD		(60 * 1024)	/* bytes after the header */
#define IPC_MAX_MSG		(sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD)

struct ipc_hdr {
	uint32_t	ih_type;	/* enum ipc_type */
	uint32_t	ih_len;		/* payload bytes that follow */
	uint32_t	ih_peerid;	/* IPC_VERSION on ctl, else a req id */
	uint32_t	ih_pid;		/* sender's pid */
};

enum ipc_type {
	/* routingctl <-> supervisor: 100.. */
	IPC_CTL_STATUS = 100,		/* no payload -> IPC_CTL_STATUS_REPLY */
	IPC_CTL_WORKERS,		/* no payload -> IPC_CTL_WORKERS_REPLY */
	IPC_CTL_RELOAD,			/* no payload -> IPC_CTL_OK / FAIL */
	IPC_CTL_STOP,			/* no payload -> IPC_CTL_OK */
	IPC_CTL_OK,			/* struct ipc_text */
	IPC_CTL_FAIL,			/* struct ipc_text */
	IPC_CTL_STATUS_REPLY,		/* struct ipc_status */
	IPC_CTL_WORKERS_REPLY,		/* struct ipc_workers + n ipc_worker */
	IPC_CTL_TOKEN = 110,		/* struct ipc_token_req ->
					   IPC_CTL_TOKEN_REPLY / FAIL */
	IPC_CTL_TOKEN_REPLY,		/* struct ipc_token */
	IPC_CTL_DRAIN = 120,		/* no payload -> IPC_CTL_OK / FAIL */
	IPC_CTL_UNDRAIN,		/* no payload -> IPC_CTL_OK / FAIL */
	IPC_CTL_RELOAD_REPLY,		/* struct ipc_reload (RELOAD's OK) */

	/* routingctl <-> query child (LMDB reads and writes): 130.. */
	IPC_CTL_USER = 130,		/* struct ipc_user_req ->
					   IPC_CTL_USER_REPLY */
	IPC_CTL_PURGE,			/* struct ipc_user_req ->
					   IPC_CTL_PURGE_REPLY */
	IPC_CTL_BACKUP,			/* struct ipc_path ->
					   IPC_CTL_BACKUP_REPLY */
	IPC_CTL_STORE,			/* no payload -> IPC_CTL_STORE_REPLY */
	IPC_CTL_USER_REPLY,		/* struct ipc_user_info */
	IPC_CTL_PURGE_REPLY,		/* struct ipc_purge */
	IPC_CTL_BACKUP_REPLY,		/* struct ipc_backup */
	IPC_CTL_STORE_REPLY,		/* struct ipc_store */
	IPC_CTL_STATS = 150,		/* no payload -> IPC_CTL_STATS_REPLY */
	IPC_CTL_STATS_REPLY,		/* struct ipc_stats_part + text */

	/* worker -> supervisor: 300.. */
	IPC_PROC_READY = 300,		/* struct ipc_ready */

	/* supervisor -> worker: 320.. */
	IPC_PROC_CONFIG = 320,		/* the configuration file's text */
	IPC_PROC_RETIRE,		/* struct ipc_retire */

	/* API or WS worker -> WS worker (hand-off socket): 500.. */
	IPC_DOORBELL = 500,		/* struct ipc_doorbell + users */
	IPC_EPHEMERAL,			/* struct ipc_ephemeral + bytes */
	IPC_EARLY,			/* struct ipc_early + copies */
};

/*
 * IPC_EARLY: device copies of messages whose write txn is about to
 * commit, sent by the committing worker just before the commit (the one
 * send made while a write txn is open: MSG_DONTWAIT, never blocking):
 * struct ipc_early, then ie_n times struct ipc_early_copy followed by
 * ec_ulen bytes of user id, ec_dlen bytes of device id and ec_envlen
 * bytes of envelope JSON.  A WS worker frames a copy at once for a
 * connection of that device whose cursor is at or past every ec_prev
 * (so the copy is the next message of its queue) and leaves the rest to
 * the doorbell that follows the commit.  A record lost changes nothing
 * but latency.
 */
struct ipc_early {
	uint64_t	ie_sent_us;		/* monotonic us, before commit */
	uint32_t	ie_n;			/* copies that follow */
	uint32_t	ie_pad;
};

struct ipc_early_copy {
	uint64_t	ec_seq;			/* the message's seq */
	uint64_t	ec_prev[2];		/* struct qs_copy's cp_prev */
	uint32_t	ec_dropped;		/* the queue's drop marker */
	uint32_t	ec_envlen;
	uint8_t		ec_lane;
	uint8_t		ec_ulen;
	uint8_t		ec_dlen;
	uint8_t		ec_pad[5];
};

/*
 * IPC_EPHEMERAL: an ephemeral message for the online devices of a user,
 * never stored: struct ipc_ephemeral, then ie_ulen bytes of user id,
 * ie_idlen bytes of message id, ie_envlen bytes of envelope JSON.  Lost
 * if the socket is full or nobody holds the user: ephemeral means that.
 */
struct ipc_ephemeral {
	uint64_t	ie_commit_us;		/* monotonic us of acceptance */
	uint8_t		ie_ulen;
	uint8_t		ie_idlen;
	uint16_t	ie_pad;
	uint32_t	ie_envlen;
};

/*
 * IPC_DOORBELL: these users have new messages committed (durable) in
 * their queues: struct ipc_doorbell, then id_n times u8 len || user id
 * bytes (no NUL).  Only a wake-up: the messages themselves are read from
 * LMDB, so a doorbell lost or sent twice changes nothing but latency.
 * ih_peerid carries IPC_VERSION.
 */
struct ipc_doorbell {
	uint64_t	id_commit_us;		/* monotonic us of the commit */
	uint32_t	id_n;			/* users that follow */
	uint32_t	id_pad;
};

/*
 * IPC_PROC_CONFIG: the bytes of the configuration file (no NUL, at most
 * IPC_MAX_PAYLOAD; the supervisor read and validated them).  A WS worker
 * parses them and applies them in place (new keys, new limits).
 */

/*
 * IPC_PROC_RETIRE: leave, as SIGTERM does, but close the WebSockets with
 * ir_code, spread over ir_spread_ms rather than all at once.
 */
struct ipc_retire {
	uint32_t	ir_code;		/* close code, e.g. 1012 */
	uint32_t	ir_spread_ms;
};

/*
 * IPC_CTL_RELOAD_REPLY: what a successful reload did.  Each list is names
 * separated by one space ("" when empty): roles applied in place, roles
 * whose workers were replaced, keys whose value changed, keys that
 * changed but only a restart applies (their running value stays).
 */
struct ipc_reload {
	char		ir_text[1024];		/* the sentence */
	char		ir_in_place[64];
	char		ir_replaced[64];
	char		ir_changed[1024];
	char		ir_restart[256];
};

/* IPC_CTL_OK, IPC_CTL_FAIL: a human-readable sentence. */
struct ipc_text {
	char		it_text[1024];
};

/*
 * IPC_CTL_STATUS_REPLY: the daemon, then one struct ipc_role_status per
 * row of the supervisor's process table (is_nroles of them, in table
 * order), so a new process role needs no new field here.
 */
#define IPC_LISTEN_LEN		128	/* bytes of rs_listen */
#define IPC_ROLE_NAME		8	/* bytes of a role name, NUL included */
#define IPC_MAX_ROLES		8
struct ipc_role_status {
	char		rs_name[IPC_ROLE_NAME];	/* "api", "ws" */
	char		rs_listen[IPC_LISTEN_LEN]; /* "": no listener */
	uint32_t	rs_workers;		/* configured */
	uint32_t	rs_pad;
	uint64_t	rs_restarts;		/* respawns since start */
};

struct ipc_status {
	char		is_version[32];		/* package version */
	char		is_config[256];		/* config path, "" embedded */
	char		is_data_dir[256];
	int32_t		is_pid;			/* supervisor */
	uint32_t	is_ready;		/* 1 when every worker is up */
	uint32_t	is_draining;		/* 1 after stop/SIGTERM */
	uint32_t	is_workers_up;		/* live, ready workers */
	uint64_t	is_started;		/* unix time, seconds */
	uint64_t	is_uptime;		/* seconds */
	uint64_t	is_reloads;		/* successful reloads */
	uint32_t	is_drained;		/* 1 after routingctl drain */
	uint32_t	is_pad0;
	uint64_t	is_drained_since;	/* unix time, s; 0: not */
	uint64_t	is_ws_open;		/* WebSockets still open */
	uint32_t	is_nroles;		/* <= IPC_MAX_ROLES */
	uint32_t	is_pad;
	struct ipc_role_status is_roles[IPC_MAX_ROLES];
};

/*
 * IPC_CTL_TOKEN: mint an HS256 token for tr_user (and tr_device, "" for
 * none) living tr_ttl seconds, signed with the daemon's secret.
 */
#define IPC_ID_LEN		136	/* a user or device id, NUL, padding */
struct ipc_token_req {
	int64_t		tr_ttl;			/* seconds */
	char		tr_user[IPC_ID_LEN];
	char		tr_device[IPC_ID_LEN];
};

/* IPC_CTL_TOKEN_REPLY: the token and when it expires. */
struct ipc_token {
	int64_t		tk_exp;			/* unix time, seconds */
	char		tk_token[4096];		/* NUL-terminated */
};

/* IPC_CTL_WORKERS_REPLY: struct ipc_workers, then iw_n struct ipc_worker. */
#define IPC_MAX_WORKERS		256
struct ipc_workers {
	uint32_t	iw_n;
	uint32_t	iw_pad;
};

enum ipc_worker_state {
	IPC_WORKER_STARTING = 1,
	IPC_WORKER_READY = 2,
	IPC_WORKER_DRAINING = 3
};

struct ipc_worker {
	char		iw_role[8];		/* "api", "ws" */
	uint32_t	iw_index;
	int32_t		iw_pid;
	uint32_t	iw_state;		/* enum ipc_worker_state */
	uint32_t	iw_restarts;		/* respawns of this index */
	uint64_t	iw_uptime_ms;
	uint64_t	iw_heartbeat_age_ms;
	uint64_t	iw_conns;		/* open connections */
	uint64_t	iw_requests;		/* requests served, total */
};

/*
 * The store queries (IPC_CTL_USER, PURGE, BACKUP, STORE) are answered by
 * a short-lived query child of the supervisor (query.c), which opens
 * LMDB; the supervisor only forks it.  Ids are NUL-terminated in fields
 * of IPC_ID_LEN bytes.
 */
#define IPC_ID_LEN		136	/* an id (ids.h ID_MAX) and its NUL */
#define IPC_PATH_LEN		1024
#define IPC_MAX_DEVROWS		128	/* devices in one IPC_CTL_USER_REPLY */
#define IPC_MAX_SEATS		64	/* WS seats named in a reply */
#define IPC_NLANES		2	/* 0: high, 1: normal (qstore.h) */

/* IPC_CTL_USER, IPC_CTL_PURGE: a user, and one device or "" for all. */
struct ipc_user_req {
	char		ur_user[IPC_ID_LEN];
	char		ur_device[IPC_ID_LEN];
};

/* One known device of a user (IPC_CTL_USER_REPLY). */
struct ipc_dev_row {
	char		dr_device[IPC_ID_LEN];
	uint32_t	dr_count;		/* messages queued */
	uint32_t	dr_conns;		/* live WebSockets (presence) */
	uint64_t	dr_bytes;		/* envelope bytes queued */
	uint64_t	dr_created_ms;		/* unix ms */
	uint64_t	dr_last_seen_ms;	/* unix ms */
	uint64_t	dr_workers;		/* bit i: WS seat i holds it */
	uint32_t	dr_online_since;	/* unix s, newest WebSocket */
	uint32_t	dr_mode;		/* its enum pr_mode */
	uint32_t	dr_lane_count[IPC_NLANES]; /* unexpired, by lane */
	uint64_t	dr_lane_bytes[IPC_NLANES];
	uint64_t	dr_lane_oldest_ms[IPC_NLANES]; /* enqueued, 0: none */
	uint32_t	dr_has_push;		/* the three below are set */
	uint32_t	dr_pad;
	uint64_t	dr_registered_ms;
	char		dr_platform[32];
	char		dr_app_id[128];
};

/*
 * IPC_CTL_USER_REPLY: what the store and the presence table know of a
 * user: ui_n rows (at most IPC_MAX_DEVROWS of ui_total devices; only the
 * asked device when one was named), the held queue, and the pid of each
 * WS seat (0: empty) so that a row's dr_workers can be named.
 */
struct ipc_user_info {
	char		ui_user[IPC_ID_LEN];
	uint32_t	ui_n;
	uint32_t	ui_total;		/* known devices */
	uint32_t	ui_held;		/* messages held for the user */
	uint32_t	ui_nseats;		/* <= IPC_MAX_SEATS */
	uint64_t	ui_now_ms;		/* the child's clock, unix ms */
	int32_t		ui_seat_pid[IPC_MAX_SEATS];
	struct ipc_dev_row ui_rows[IPC_MAX_DEVROWS];
};

/* IPC_CTL_PURGE_REPLY: what a purge dropped and what it left. */
struct ipc_purge {
	uint32_t	pu_devices;		/* device queues dropped */
	uint32_t	pu_online;		/* online devices left alone */
	uint64_t	pu_messages;		/* messages dropped with them */
	uint64_t	pu_held;		/* held messages dropped */
};

/* IPC_CTL_BACKUP: the directory to write data.mdb into. */
struct ipc_path {
	char		ip_path[IPC_PATH_LEN];
};

/* IPC_CTL_BACKUP_REPLY: the file written. */
struct ipc_backup {
	char		ib_path[IPC_PATH_LEN];	/* DIR/data.mdb */
	uint64_t	ib_bytes;
	uint64_t	ib_duration_ms;
};

/* IPC_CTL_STORE_REPLY: the store as a whole, and the open WebSockets
 * (which the workers' connection gauges do not count once upgraded). */
struct ipc_store {
	uint64_t	ist_messages;		/* queued copies, held included */
	uint64_t	ist_bytes;		/* envelope bytes of those */
	uint64_t	ist_devices;		/* known devices */
	uint64_t	ist_held;		/* users with a held queue */
	uint64_t	ist_file_bytes;		/* data.mdb on disk */
	uint64_t	ist_map_size;		/* store_max_size */
	uint64_t	ist_map_used;		/* bytes to the last page */
	uint32_t	ist_readers;
	uint32_t	ist_max_readers;
	uint64_t	ist_websockets;		/* open now (shared memory) */
};

/*
 * IPC_CTL_STATS_REPLY: one part of the metrics text (the Prometheus text
 * exposition of GET /metrics, rendered by the supervisor from shared
 * memory): struct ipc_stats_part, then sp_len bytes (no NUL), at most
 * IPC_STATS_CHUNK.  The parts of one reply follow each other on the
 * connection, in order; the last has sp_more 0.
 */
#define IPC_STATS_CHUNK		(IPC_MAX_PAYLOAD - 64)
struct ipc_stats_part {
	uint32_t	sp_more;		/* 1: another part follows */
	uint32_t	sp_len;			/* text bytes that follow */
};

/* IPC_PROC_READY: the worker listens and has opened what it needs. */
struct ipc_ready {
	uint32_t	ir_role;		/* enum proc_role */
	uint32_t	ir_index;
	uint32_t	ir_slot;		/* shm slot */
	uint32_t	ir_pad;
};

/* Result of ipc_decode(). */
enum ipc_result {
	IPC_OK = 0,
	IPC_TRUNCATED = -1,		/* fewer bytes than header + ih_len */
	IPC_OVERSIZE = -2,		/* ih_len > IPC_MAX_PAYLOAD */
	IPC_TRAILING = -3,		/* more bytes than header + ih_len */
	IPC_BADSIZE = -4,		/* payload size wrong for its type */
	IPC_UNKNOWN = -5		/* type not in enum ipc_type */
};

/*
 * ipc_encode: write header + payload into buf (capacity cap).  Returns the
 * total length, or -1 if it does not fit or len > IPC_MAX_PAYLOAD.
 */
ssize_t		 ipc_encode(void *buf, size_t cap, uint32_t type,
		    uint32_t peerid, const void *payload, size_t len);

/*
 * ipc_decode: check one received datagram of n bytes.  On IPC_OK fills *hdr
 * and points *payload into buf (not copied).  Checks the payload size
 * against the type's struct (ipc_payload_size) when the type is known.
 */
int		 ipc_decode(const void *buf, size_t n, struct ipc_hdr *hdr,
		    const void **payload);

/*
 * ipc_payload_size: the exact payload size of a fixed-size type, 0 for
 * types without payload, -1 for variable-size types (WORKERS_REPLY), -2 for
 * unknown types.
 */
ssize_t		 ipc_payload_size(uint32_t type);

/* ipc_type_str: "IPC_CTL_STATUS", or "IPC_UNKNOWN(n)" in a static buffer. */
const char	*ipc_type_str(uint32_t type);

/*
 * ipc_send: encode and send one message on a SEQPACKET socket with
 * MSG_NOSIGNAL (and MSG_DONTWAIT if nonblock).  Returns 0, or -1 with errno.
 */
int		 ipc_send(int fd, uint32_t type, uint32_t peerid,
		    const void *payload, size_t len, int nonblock);

/*
 * ipc_recv: receive one message into buf (cap >= IPC_MAX_MSG).  Returns the
 * byte count (0 on EOF), or -1 with errno (EMSGSIZE when truncated).
 */
ssize_t		 ipc_recv(int fd, void *buf, size_t cap);

/*
 * ipc_doorbell_next: step through the users of a decoded IPC_DOORBELL
 * payload (len bytes); *off starts at sizeof(struct ipc_doorbell).  The
 * next user is copied NUL-terminated into user (cap bytes).  Returns 1,
 * 0 at the end, -1 if the payload is malformed.
 */
int		 ipc_doorbell_next(const void *payload, size_t len,
		    size_t *off, char *user, size_t cap);

/*
 * ipc_ephemeral_parse: the parts of a decoded IPC_EPHEMERAL payload (len
 * bytes): user and id copied NUL-terminated (cap bytes each), *env and
 * *envlen pointing into payload.  0, or -1 if malformed.
 */
int		 ipc_ephemeral_parse(const void *payload, size_t len,
		    char *user, char *id, size_t cap, const char **env,
		    size_t *envlen);

/*
 * ipc_early_next: step through the copies of a decoded IPC_EARLY payload
 * (len bytes); *off starts at sizeof(struct ipc_early).  The next copy's
 * header goes to *ec, its user and device are copied NUL-terminated (cap
 * bytes each), *env points into payload.  Returns 1, 0 at the end, -1 if
 * the payload is malformed.
 */
int		 ipc_early_next(const void *payload, size_t len, size_t *off,
		    struct ipc_early_copy *ec, char *user, char *device,
		    size_t cap, const char **env);

/* ipc_strfix: force NUL termination of a fixed-size string field. */
#define ipc_strfix(field)	((field)[sizeof(field) - 1] = '\0')

/*
 * ipc_status_fix: make a received status reply safe to read: every string
 * NUL-terminated, is_nroles at most IPC_MAX_ROLES.
 */
void		 ipc_status_fix(struct ipc_status *);

/*
 * ipc_user_info_fix: the same for a received IPC_CTL_USER_REPLY: strings
 * terminated, ui_n and ui_nseats clamped to their arrays.
 */
void		 ipc_user_info_fix(struct ipc_user_info *);

/* ipc_reload_fix: NUL-terminate every string of a reload reply. */
void		 ipc_reload_fix(struct ipc_reload *);

#endif /* IPC_H */
