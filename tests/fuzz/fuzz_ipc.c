/*
 * fuzz_ipc.c: libFuzzer target for ipc.c's receive side: ipc_decode()
 * (the check of every datagram a routingd process or routingctl reads),
 * the walkers of the variable payloads (ipc_doorbell_next,
 * ipc_ephemeral_parse) and the fix-ups of received replies.  The input is
 * one datagram.  Checks that nothing crashes or reads outside it (a heap
 * copy of exactly its bytes); that IPC_OK means the header's length
 * covers exactly the rest and the payload size fits the type; that every
 * doorbell user and ephemeral part lies inside the payload; that a fixed
 * reply has every string terminated; and that ipc_encode() of what was
 * decoded gives the input back, apart from the pid it stamps.  A
 * disagreement aborts.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_ipc: %s\n", what);
	abort();
}

static void
fuzz_doorbell(const void *payload, size_t len)
{
	struct ipc_doorbell	 db;
	char			 user[256];
	size_t			 off = sizeof(db), prev;
	uint32_t		 n = 0;
	int			 r;

	memcpy(&db, payload, sizeof(db));
	for (;;) {
		prev = off;
		if ((r = ipc_doorbell_next(payload, len, &off, user,
		    sizeof(user))) != 1)
			break;
		if (off <= prev || off > len || strlen(user) > off - prev - 1)
			fuzz_fail("doorbell user outside the payload");
		n++;
	}
	if (r != 0 || n != db.id_n)
		fuzz_fail("ipc_decode accepted a bad doorbell");
}

static void
fuzz_ephemeral(const void *payload, size_t len)
{
	char		 user[256], id[256];
	const char	*env;
	size_t		 envlen;

	if (ipc_ephemeral_parse(payload, len, user, id, sizeof(user), &env,
	    &envlen) != 0)
		fuzz_fail("ipc_decode accepted a bad ephemeral");
	if (env < (const char *)payload ||
	    env + envlen > (const char *)payload + len ||
	    strlen(user) >= sizeof(user) || strlen(id) >= sizeof(id))
		fuzz_fail("ephemeral part outside the payload");
}

/* Fix a reply the way routingctl does, then read every string. */
static void
fuzz_fix(uint32_t type, const void *payload, size_t len)
{
	struct ipc_status	*st;
	struct ipc_user_info	*ui;
	struct ipc_reload	*rl;
	uint32_t		 i;

	switch (type) {
	case IPC_CTL_STATUS_REPLY:
		if ((st = malloc(sizeof(*st))) == NULL)
			abort();
		memcpy(st, payload, len);
		ipc_status_fix(st);
		if (st->is_nroles > IPC_MAX_ROLES)
			fuzz_fail("is_nroles not clamped");
		for (i = 0; i < st->is_nroles; i++)
			(void)strlen(st->is_roles[i].rs_name);
		(void)strlen(st->is_version);
		(void)strlen(st->is_config);
		(void)strlen(st->is_data_dir);
		free(st);
		break;
	case IPC_CTL_USER_REPLY:
		if ((ui = malloc(sizeof(*ui))) == NULL)
			abort();
		memcpy(ui, payload, len);
		ipc_user_info_fix(ui);
		if (ui->ui_n > IPC_MAX_DEVROWS || ui->ui_nseats > IPC_MAX_SEATS)
			fuzz_fail("user reply counts not clamped");
		for (i = 0; i < ui->ui_n; i++)
			(void)strlen(ui->ui_rows[i].dr_device);
		(void)strlen(ui->ui_user);
		free(ui);
		break;
	case IPC_CTL_RELOAD_REPLY:
		if ((rl = malloc(sizeof(*rl))) == NULL)
			abort();
		memcpy(rl, payload, len);
		ipc_reload_fix(rl);
		(void)strlen(rl->ir_text);
		(void)strlen(rl->ir_changed);
		free(rl);
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ipc_hdr	 hdr;
	const void	*payload;
	unsigned char	*buf, *enc;
	ssize_t		 want, len;
	int		 r;

	if ((buf = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(buf, d, n);
	if (n >= sizeof(hdr)) {
		memcpy(&hdr, buf, sizeof(hdr));
		(void)ipc_type_str(hdr.ih_type);
	}
	r = ipc_decode(buf, n, &hdr, &payload);
	if (r < IPC_UNKNOWN || r > IPC_OK)
		fuzz_fail("ipc_decode result out of its enum");
	if (r != IPC_OK) {
		free(buf);
		return (0);
	}
	if (n != sizeof(hdr) + hdr.ih_len || hdr.ih_len > IPC_MAX_PAYLOAD ||
	    payload != buf + sizeof(hdr))
		fuzz_fail("IPC_OK with a length that does not cover the rest");
	want = ipc_payload_size(hdr.ih_type);
	if (want == -2 || (want >= 0 && (size_t)want != hdr.ih_len))
		fuzz_fail("IPC_OK with the wrong payload size");
	if (hdr.ih_type == IPC_DOORBELL)
		fuzz_doorbell(payload, hdr.ih_len);
	else if (hdr.ih_type == IPC_EPHEMERAL)
		fuzz_ephemeral(payload, hdr.ih_len);
	fuzz_fix(hdr.ih_type, payload, hdr.ih_len);

	if ((enc = malloc(n)) == NULL)
		abort();
	len = ipc_encode(enc, n, hdr.ih_type, hdr.ih_peerid, payload,
	    hdr.ih_len);
	if (len != (ssize_t)n || memcmp(enc, buf, 12) != 0 ||
	    memcmp(enc + sizeof(hdr), buf + sizeof(hdr), hdr.ih_len) != 0)
		fuzz_fail("ipc_encode of a decoded message differs");
	if (ipc_encode(enc, n - 1, hdr.ih_type, hdr.ih_peerid, payload,
	    hdr.ih_len) != -1)
		fuzz_fail("ipc_encode ignored its capacity");
	free(enc);
	free(buf);
	return (0);
}
