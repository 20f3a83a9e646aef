/*
 * ipc.c: framing of the wire protocol in ipc.h, linked into routingd (every
 * process) and into routingctl.
 *
 * Owns: the type table (name and payload size of every enum ipc_type), the
 * encoder, the strict decoder and the send/recv helpers for SOCK_SEQPACKET
 * sockets.  One message is one datagram: struct ipc_hdr, then exactly
 * ih_len payload bytes.
 *
 * Invariants: a message that ipc_decode() accepts has a known type and a
 * payload of exactly the size its type requires, so a receiver may copy it
 * into the payload struct without further length checks (strings still
 * need ipc_strfix).  Nothing here logs or allocates: callers have the
 * context and report errors once.  libc only.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

/* The largest variable payload must fit one message. */
_Static_assert(sizeof(struct ipc_workers) +
    IPC_MAX_WORKERS * sizeof(struct ipc_worker) <= IPC_MAX_PAYLOAD,
    "IPC_MAX_WORKERS entries do not fit IPC_MAX_PAYLOAD");
_Static_assert(sizeof(struct ipc_status) <= IPC_MAX_PAYLOAD,
    "struct ipc_status does not fit IPC_MAX_PAYLOAD");
_Static_assert(sizeof(struct ipc_user_info) <= IPC_MAX_PAYLOAD,
    "struct ipc_user_info does not fit IPC_MAX_PAYLOAD");

#define IPC_SIZE_NONE		0	/* no payload */
#define IPC_SIZE_VARIABLE	(-1)	/* checked by its own function */
#define IPC_SIZE_UNKNOWN	(-2)	/* not a type of ours */

/* One row per enum ipc_type value: the schema as data. */
struct ipc_typeinfo {
	uint32_t	 it_type;
	const char	*it_name;
	ssize_t		 it_size;
};

static const struct ipc_typeinfo ipc_types[] = {
	{ IPC_CTL_STATUS, "IPC_CTL_STATUS", IPC_SIZE_NONE },
	{ IPC_CTL_WORKERS, "IPC_CTL_WORKERS", IPC_SIZE_NONE },
	{ IPC_CTL_RELOAD, "IPC_CTL_RELOAD", IPC_SIZE_NONE },
	{ IPC_CTL_STOP, "IPC_CTL_STOP", IPC_SIZE_NONE },
	{ IPC_CTL_OK, "IPC_CTL_OK", sizeof(struct ipc_text) },
	{ IPC_CTL_FAIL, "IPC_CTL_FAIL", sizeof(struct ipc_text) },
	{ IPC_CTL_STATUS_REPLY, "IPC_CTL_STATUS_REPLY",
	    sizeof(struct ipc_status) },
	{ IPC_CTL_WORKERS_REPLY, "IPC_CTL_WORKERS_REPLY", IPC_SIZE_VARIABLE },
	{ IPC_CTL_TOKEN, "IPC_CTL_TOKEN", sizeof(struct ipc_token_req) },
	{ IPC_CTL_TOKEN_REPLY, "IPC_CTL_TOKEN_REPLY",
	    sizeof(struct ipc_token) },
	{ IPC_CTL_USER, "IPC_CTL_USER", sizeof(struct ipc_user_req) },
	{ IPC_CTL_PURGE, "IPC_CTL_PURGE", sizeof(struct ipc_user_req) },
	{ IPC_CTL_BACKUP, "IPC_CTL_BACKUP", sizeof(struct ipc_path) },
	{ IPC_CTL_STORE, "IPC_CTL_STORE", IPC_SIZE_NONE },
	{ IPC_CTL_USER_REPLY, "IPC_CTL_USER_REPLY",
	    sizeof(struct ipc_user_info) },
	{ IPC_CTL_PURGE_REPLY, "IPC_CTL_PURGE_REPLY",
	    sizeof(struct ipc_purge) },
	{ IPC_CTL_BACKUP_REPLY, "IPC_CTL_BACKUP_REPLY",
	    sizeof(struct ipc_backup) },
	{ IPC_CTL_STORE_REPLY, "IPC_CTL_STORE_REPLY",
	    sizeof(struct ipc_store) },
	{ IPC_CTL_DRAIN, "IPC_CTL_DRAIN", IPC_SIZE_NONE },
	{ IPC_CTL_UNDRAIN, "IPC_CTL_UNDRAIN", IPC_SIZE_NONE },
	{ IPC_CTL_RELOAD_REPLY, "IPC_CTL_RELOAD_REPLY",
	    sizeof(struct ipc_reload) },
	{ IPC_CTL_STATS, "IPC_CTL_STATS", IPC_SIZE_NONE },
	{ IPC_CTL_STATS_REPLY, "IPC_CTL_STATS_REPLY", IPC_SIZE_VARIABLE },
	{ IPC_PROC_READY, "IPC_PROC_READY", sizeof(struct ipc_ready) },
	{ IPC_PROC_CONFIG, "IPC_PROC_CONFIG", IPC_SIZE_VARIABLE },
	{ IPC_PROC_RETIRE, "IPC_PROC_RETIRE", sizeof(struct ipc_retire) },
	{ IPC_DOORBELL, "IPC_DOORBELL", IPC_SIZE_VARIABLE },
	{ IPC_EPHEMERAL, "IPC_EPHEMERAL", IPC_SIZE_VARIABLE },
	{ IPC_EARLY, "IPC_EARLY", IPC_SIZE_VARIABLE },
};

static const struct ipc_typeinfo	*ipc_typeinfo(uint32_t);
static int	 ipc_check_workers(const void *, size_t);
static int	 ipc_check_size(uint32_t, const void *, size_t);
static int	 ipc_check_doorbell(const void *, size_t);
static int	 ipc_check_ephemeral(const void *, size_t);
static int	 ipc_check_early(const void *, size_t);
static int	 ipc_check_stats(const void *, size_t);

static const struct ipc_typeinfo *
ipc_typeinfo(uint32_t type)
{
	size_t	 i;

	for (i = 0; i < sizeof(ipc_types) / sizeof(ipc_types[0]); i++)
		if (ipc_types[i].it_type == type)
			return (&ipc_types[i]);
	return (NULL);
}

/*
 * ipc_payload_size: see ipc.h.
 */
ssize_t
ipc_payload_size(uint32_t type)
{
	const struct ipc_typeinfo	*ti;

	if ((ti = ipc_typeinfo(type)) == NULL)
		return (IPC_SIZE_UNKNOWN);
	return (ti->it_size);
}

/* ipc_ephemeral_parse: see ipc.h. */
int
ipc_ephemeral_parse(const void *payload, size_t len, char *user, char *id,
    size_t cap, const char **env, size_t *envlen)
{
	const unsigned char	*p = payload;
	struct ipc_ephemeral	 ie;

	if (len < sizeof(ie))
		return (-1);
	memcpy(&ie, p, sizeof(ie));
	if (ie.ie_ulen == 0 || ie.ie_idlen == 0 || ie.ie_ulen >= cap ||
	    ie.ie_idlen >= cap || len != sizeof(ie) + ie.ie_ulen +
	    ie.ie_idlen + (size_t)ie.ie_envlen)
		return (-1);
	p += sizeof(ie);
	memcpy(user, p, ie.ie_ulen);
	user[ie.ie_ulen] = '\0';
	memcpy(id, p + ie.ie_ulen, ie.ie_idlen);
	id[ie.ie_idlen] = '\0';
	*env = (const char *)p + ie.ie_ulen + ie.ie_idlen;
	*envlen = ie.ie_envlen;
	return (0);
}

/* ipc_early_next: see ipc.h. */
int
ipc_early_next(const void *payload, size_t len, size_t *off,
    struct ipc_early_copy *ec, char *user, char *device, size_t cap,
    const char **env)
{
	const unsigned char	*p = payload;
	size_t			 need;

	if (*off < sizeof(struct ipc_early) || *off > len)
		return (-1);
	if (*off == len)
		return (0);
	if (len - *off < sizeof(*ec))
		return (-1);
	memcpy(ec, p + *off, sizeof(*ec));
	need = sizeof(*ec) + ec->ec_ulen + ec->ec_dlen + (size_t)ec->ec_envlen;
	if (ec->ec_ulen == 0 || ec->ec_dlen == 0 || ec->ec_ulen >= cap ||
	    ec->ec_dlen >= cap || ec->ec_lane > 1 || len - *off < need)
		return (-1);
	p += *off + sizeof(*ec);
	memcpy(user, p, ec->ec_ulen);
	user[ec->ec_ulen] = '\0';
	memcpy(device, p + ec->ec_ulen, ec->ec_dlen);
	device[ec->ec_dlen] = '\0';
	*env = (const char *)p + ec->ec_ulen + ec->ec_dlen;
	*off += need;
	return (1);
}

/* ipc_doorbell_next: see ipc.h. */
int
ipc_doorbell_next(const void *payload, size_t len, size_t *off, char *user,
    size_t cap)
{
	const unsigned char	*p = payload;
	size_t			 n;

	if (*off < sizeof(struct ipc_doorbell) || *off > len)
		return (-1);
	if (*off == len)
		return (0);
	n = p[*off];
	if (n == 0 || n >= cap || *off + 1 + n > len)
		return (-1);
	memcpy(user, p + *off + 1, n);
	user[n] = '\0';
	*off += 1 + n;
	return (1);
}

/*
 * ipc_type_str: see ipc.h.  The buffer for unknown types is static: the
 * result is valid until the next call with an unknown type.
 */
const char *
ipc_type_str(uint32_t type)
{
	static char			 unknown[32];
	const struct ipc_typeinfo	*ti;

	if ((ti = ipc_typeinfo(type)) != NULL)
		return (ti->it_name);
	(void)snprintf(unknown, sizeof(unknown), "IPC_UNKNOWN(%u)", type);
	return (unknown);
}

/*
 * ipc_encode: see ipc.h.  ih_pid is the caller's pid.
 */
ssize_t
ipc_encode(void *buf, size_t cap, uint32_t type, uint32_t peerid,
    const void *payload, size_t len)
{
	struct ipc_hdr	 hdr;

	if (len > IPC_MAX_PAYLOAD || (len > 0 && payload == NULL))
		return (-1);
	if (cap < sizeof(hdr) || cap - sizeof(hdr) < len)
		return (-1);
	memset(&hdr, 0, sizeof(hdr));
	hdr.ih_type = type;
	hdr.ih_len = (uint32_t)len;
	hdr.ih_peerid = peerid;
	hdr.ih_pid = (uint32_t)getpid();
	memcpy(buf, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy((unsigned char *)buf + sizeof(hdr), payload, len);
	return ((ssize_t)(sizeof(hdr) + len));
}

/* IPC_CTL_WORKERS_REPLY: a count, then exactly that many entries. */
static int
ipc_check_workers(const void *payload, size_t len)
{
	struct ipc_workers	 iw;

	if (len < sizeof(iw))
		return (IPC_BADSIZE);
	memcpy(&iw, payload, sizeof(iw));
	if (iw.iw_n > IPC_MAX_WORKERS)
		return (IPC_BADSIZE);
	if (len != sizeof(iw) + iw.iw_n * sizeof(struct ipc_worker))
		return (IPC_BADSIZE);
	return (IPC_OK);
}

/* A doorbell: its header, then exactly id_n well-formed user entries. */
static int
ipc_check_doorbell(const void *payload, size_t len)
{
	struct ipc_doorbell	 db;
	char			 user[256];
	size_t			 off = sizeof(db);
	uint32_t		 n = 0;
	int			 r;

	if (len < sizeof(db))
		return (IPC_BADSIZE);
	memcpy(&db, payload, sizeof(db));
	while ((r = ipc_doorbell_next(payload, len, &off, user,
	    sizeof(user))) == 1)
		n++;
	return (r == 0 && n == db.id_n ? IPC_OK : IPC_BADSIZE);
}

static int
ipc_check_ephemeral(const void *payload, size_t len)
{
	char		 user[256], id[256];
	const char	*env;
	size_t		 envlen;

	return (ipc_ephemeral_parse(payload, len, user, id, sizeof(user), &env,
	    &envlen) == 0 ? IPC_OK : IPC_BADSIZE);
}

/* Every copy of an IPC_EARLY payload parses and ie_n counts them. */
static int
ipc_check_early(const void *payload, size_t len)
{
	struct ipc_early	 ie;
	struct ipc_early_copy	 ec;
	char			 user[256], device[256];
	const char		*env;
	size_t			 off = sizeof(ie);
	uint32_t		 n = 0;
	int			 r;

	if (len < sizeof(ie))
		return (IPC_BADSIZE);
	memcpy(&ie, payload, sizeof(ie));
	while ((r = ipc_early_next(payload, len, &off, &ec, user, device,
	    sizeof(user), &env)) == 1)
		n++;
	return (r == 0 && n == ie.ie_n ? IPC_OK : IPC_BADSIZE);
}

static int
ipc_check_stats(const void *payload, size_t len)
{
	struct ipc_stats_part	 sp;

	if (len < sizeof(sp))
		return (IPC_BADSIZE);
	memcpy(&sp, payload, sizeof(sp));
	return (sp.sp_len <= IPC_STATS_CHUNK && sp.sp_more <= 1 &&
	    len == sizeof(sp) + sp.sp_len ? IPC_OK : IPC_BADSIZE);
}

static int
ipc_check_size(uint32_t type, const void *payload, size_t len)
{
	ssize_t	 want;

	want = ipc_payload_size(type);
	if (want == IPC_SIZE_UNKNOWN)
		return (IPC_UNKNOWN);
	if (want == IPC_SIZE_VARIABLE) {
		if (type == IPC_CTL_WORKERS_REPLY)
			return (ipc_check_workers(payload, len));
		if (type == IPC_DOORBELL)
			return (ipc_check_doorbell(payload, len));
		if (type == IPC_EPHEMERAL)
			return (ipc_check_ephemeral(payload, len));
		if (type == IPC_EARLY)
			return (ipc_check_early(payload, len));
		if (type == IPC_PROC_CONFIG)	/* any text that fits */
			return (IPC_OK);
		if (type == IPC_CTL_STATS_REPLY)
			return (ipc_check_stats(payload, len));
		return (IPC_BADSIZE);	/* a variable type without a check */
	}
	if ((size_t)want != len)
		return (IPC_BADSIZE);
	return (IPC_OK);
}

/*
 * ipc_decode: see ipc.h.  The checks run in the order of enum ipc_result:
 * a short header, an oversize length, a short or long datagram, then the
 * type and its payload size.  *hdr and *payload are only set on IPC_OK;
 * *payload points just past the header (a zero-length area when ih_len is
 * 0) and is not aligned for direct struct access: copy it out.
 */
int
ipc_decode(const void *buf, size_t n, struct ipc_hdr *hdr,
    const void **payload)
{
	struct ipc_hdr	 h;
	const void	*p;
	int		 rv;

	if (n < sizeof(h))
		return (IPC_TRUNCATED);
	memcpy(&h, buf, sizeof(h));
	if (h.ih_len > IPC_MAX_PAYLOAD)
		return (IPC_OVERSIZE);
	if (n - sizeof(h) < h.ih_len)
		return (IPC_TRUNCATED);
	if (n - sizeof(h) > h.ih_len)
		return (IPC_TRAILING);
	p = (const unsigned char *)buf + sizeof(h);
	if ((rv = ipc_check_size(h.ih_type, p, h.ih_len)) != IPC_OK)
		return (rv);
	*hdr = h;
	*payload = p;
	return (IPC_OK);
}

/*
 * ipc_send: see ipc.h.  Header and payload go out as one record through
 * two iovecs, so no message-sized buffer is needed.  Retries on EINTR;
 * EMSGSIZE when len > IPC_MAX_PAYLOAD; EAGAIN when nonblock and the
 * socket is full.
 */
int
ipc_send(int fd, uint32_t type, uint32_t peerid, const void *payload,
    size_t len, int nonblock)
{
	struct ipc_hdr	 hdr;
	struct iovec	 iov[2];
	struct msghdr	 msg;
	ssize_t		 n;
	int		 flags;

	if (len > IPC_MAX_PAYLOAD || (len > 0 && payload == NULL)) {
		errno = EMSGSIZE;
		return (-1);
	}
	memset(&hdr, 0, sizeof(hdr));
	hdr.ih_type = type;
	hdr.ih_len = (uint32_t)len;
	hdr.ih_peerid = peerid;
	hdr.ih_pid = (uint32_t)getpid();
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)payload;
	iov[1].iov_len = len;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = len > 0 ? 2 : 1;
	flags = MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0);
	do {
		n = sendmsg(fd, &msg, flags);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EMSGSIZE;	/* SEQPACKET never sends part of one */
		return (-1);
	}
	return (0);
}

/*
 * ipc_recv: see ipc.h.  A datagram longer than cap is discarded by the
 * kernel; MSG_TRUNC in msg_flags turns that into -1/EMSGSIZE instead of a
 * silently cut message.  Retries on EINTR; EAGAIN on a non-blocking socket
 * with nothing queued or when SO_RCVTIMEO expires.
 */
ssize_t
ipc_recv(int fd, void *buf, size_t cap)
{
	struct iovec	 iov;
	struct msghdr	 msg;
	ssize_t		 n;

	iov.iov_base = buf;
	iov.iov_len = cap;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	do {
		n = recvmsg(fd, &msg, 0);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-1);
	if (msg.msg_flags & MSG_TRUNC) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (n);
}

void
ipc_status_fix(struct ipc_status *st)
{
	uint32_t	 i;

	ipc_strfix(st->is_version);
	ipc_strfix(st->is_config);
	ipc_strfix(st->is_data_dir);
	if (st->is_nroles > IPC_MAX_ROLES)
		st->is_nroles = IPC_MAX_ROLES;
	for (i = 0; i < IPC_MAX_ROLES; i++) {
		ipc_strfix(st->is_roles[i].rs_name);
		ipc_strfix(st->is_roles[i].rs_listen);
	}
}

/* ipc_user_info_fix: see ipc.h. */
void
ipc_user_info_fix(struct ipc_user_info *ui)
{
	uint32_t	 i;

	ipc_strfix(ui->ui_user);
	if (ui->ui_n > IPC_MAX_DEVROWS)
		ui->ui_n = IPC_MAX_DEVROWS;
	if (ui->ui_nseats > IPC_MAX_SEATS)
		ui->ui_nseats = IPC_MAX_SEATS;
	for (i = 0; i < IPC_MAX_DEVROWS; i++) {
		ipc_strfix(ui->ui_rows[i].dr_device);
		ipc_strfix(ui->ui_rows[i].dr_platform);
		ipc_strfix(ui->ui_rows[i].dr_app_id);
	}
}

/* ipc_reload_fix: see ipc.h. */
void
ipc_reload_fix(struct ipc_reload *r)
{
	ipc_strfix(r->ir_text);
	ipc_strfix(r->ir_in_place);
	ipc_strfix(r->ir_replaced);
	ipc_strfix(r->ir_changed);
	ipc_strfix(r->ir_restart);
}
