/* SPDX-License-Identifier: MIT */
/*
 * soft_proto.c - the one place where control records between xs-fabricd and
 * its ports are checked before anyone looks inside them.
 */
#include <errno.h>
#include <string.h>

#include <xscore/common.h>

#include "soft_proto.h"

_Static_assert(sizeof(struct xs_soft_dhdr) == 40, "data header is 40 bytes");
_Static_assert(sizeof(struct xs_softp_mad_recv) <= XS_SOFTP_MAX_MSG, "MAD record fits");
_Static_assert(sizeof(struct xs_softp_cm_rep) <= XS_SOFTP_MAX_MSG, "REP record fits");

struct type_info {
	const char *name;
	size_t size;
	bool from_port;
};

static const struct type_info *type_info(int type)
{
#define T(t, s, fp) [XS_SOFTP_##t] = { #t, sizeof(struct s), fp }
	static const struct type_info tab[] = {
		T(ATTACH, xs_softp_attach, true),
		T(AGENT_REG, xs_softp_agent, true),
		T(AGENT_UNREG, xs_softp_agent, true),
		T(MAD_SEND, xs_softp_mad_send, true),
		T(CM_LISTEN, xs_softp_listen, true),
		T(CM_UNLISTEN, xs_softp_listen, true),
		T(CM_REQ, xs_softp_cm_req, true),
		T(CM_REP, xs_softp_cm_rep, true),
		T(CM_REJ, xs_softp_cm_rej, true),
		T(CM_ABORT, xs_softp_cm_abort, true),
		T(ATTACH_REPLY, xs_softp_attach_reply, false),
		T(MAD_RECV, xs_softp_mad_recv, false),
		T(CM_LISTEN_REPLY, xs_softp_status, false),
		T(CM_REQ_IND, xs_softp_cm_req_ind, false),
		T(CM_REP_REPLY, xs_softp_status, false),
		T(CM_REJ_IND, xs_softp_cm_rej_ind, false),
		T(CM_ESTABLISHED, xs_softp_cm_established, false),
		T(CM_UNREACH, xs_softp_cm_unreach, false),
		T(CM_CANCEL, xs_softp_cm_cancel, false),
		T(PORT_CHANGE, xs_softp_port_change, false),
		T(AGENT_REPLY, xs_softp_status, false),
	};
#undef T
	if (type <= 0 || (size_t)type >= XS_ARRAY_SIZE(tab) || !tab[type].name)
		return NULL;
	return &tab[type];
}

const char *xs_softp_type_name(int type)
{
	const struct type_info *ti = type_info(type);

	return ti ? ti->name : "?";
}

size_t xs_softp_size(int type)
{
	const struct type_info *ti = type_info(type);

	return ti ? ti->size : 0;
}

static int bad(const char **why, const char *text, int rc)
{
	if (why)
		*why = text;
	return rc;
}

static int check_port(const struct xs_softp_port *p, const char **why)
{
	if (p->n_pkeys > XS_MAX_PKEYS)
		return bad(why, "P_Key count beyond the table", -EBADMSG);
	if (p->state < XS_PORT_DOWN || p->state > XS_PORT_ACTIVE)
		return bad(why, "bad port state", -EBADMSG);
	return 0;
}

int xs_softp_decode(const void *buf, size_t len, bool from_port, const char **why)
{
	const struct type_info *ti;
	struct xs_softp_hdr h;
	const uint8_t *b = buf;

	if (len < sizeof(h))
		return bad(why, "shorter than a header", -EMSGSIZE);
	if (len > XS_SOFTP_MAX_MSG)
		return bad(why, "longer than any message", -E2BIG);
	memcpy(&h, b, sizeof(h));
	if (h.len != len)
		return bad(why, "length field disagrees with the record", -EBADMSG);
	ti = type_info(h.type);
	if (!ti)
		return bad(why, "unknown message type", -EBADMSG);
	if (ti->from_port != from_port)
		return bad(why, "message type not valid in this direction", -EBADMSG);
	if (len < ti->size)
		return bad(why, "short message for its type", -EMSGSIZE);
	if (len > ti->size)
		return bad(why, "oversized message for its type", -E2BIG);

	switch (h.type) {
	case XS_SOFTP_ATTACH: {
		const struct xs_softp_attach *m = buf;

		if (m->version != XS_SOFTP_VERSION)
			return bad(why, "unsupported protocol version", -EBADMSG);
		if (!memchr(m->port_name, '\0', sizeof(m->port_name)) || !m->port_name[0])
			return bad(why, "port name empty or not terminated", -EBADMSG);
		break;
	}
	case XS_SOFTP_ATTACH_REPLY: {
		const struct xs_softp_attach_reply *m = buf;

		if (!memchr(m->why, '\0', sizeof(m->why)))
			return bad(why, "reason text not terminated", -EBADMSG);
		if (m->status == 0 && check_port(&m->port, why) < 0)
			return -EBADMSG;
		break;
	}
	case XS_SOFTP_MAD_SEND: {
		const struct xs_softp_mad_send *m = buf;

		if (m->mad_len < 24 || m->mad_len > XS_MAD_SIZE)
			return bad(why, "MAD length out of 24..256", -EBADMSG);
		break;
	}
	case XS_SOFTP_MAD_RECV: {
		const struct xs_softp_mad_recv *m = buf;

		if (m->mad_len < 24 || m->mad_len > XS_MAD_SIZE)
			return bad(why, "MAD length out of 24..256", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_REQ: {
		const struct xs_softp_cm_req *m = buf;

		if (m->private_len > XS_CM_PRIVATE_DATA_MAX)
			return bad(why, "REQ private data longer than 92 bytes", -EBADMSG);
		if (m->timeout_ms == 0 || m->timeout_ms > 600000)
			return bad(why, "REQ timeout out of 1..600000 ms", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_REQ_IND: {
		const struct xs_softp_cm_req_ind *m = buf;

		if (m->private_len > XS_CM_PRIVATE_DATA_MAX)
			return bad(why, "REQ private data longer than 92 bytes", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_REP: {
		const struct xs_softp_cm_rep *m = buf;

		if (m->private_len > XS_CM_REP_PRIVATE_DATA_MAX)
			return bad(why, "REP private data longer than 196 bytes", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_ESTABLISHED: {
		const struct xs_softp_cm_established *m = buf;

		if (m->private_len > XS_CM_REP_PRIVATE_DATA_MAX)
			return bad(why, "REP private data longer than 196 bytes", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_REJ: {
		const struct xs_softp_cm_rej *m = buf;

		if (m->private_len > XS_CM_REJ_PRIVATE_DATA_MAX)
			return bad(why, "REJ private data longer than 148 bytes", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_REJ_IND: {
		const struct xs_softp_cm_rej_ind *m = buf;

		if (m->private_len > XS_CM_REJ_PRIVATE_DATA_MAX)
			return bad(why, "REJ private data longer than 148 bytes", -EBADMSG);
		break;
	}
	case XS_SOFTP_CM_UNREACH: {
		const struct xs_softp_cm_unreach *m = buf;

		if (m->status >= 0)
			return bad(why, "UNREACH without an error status", -EBADMSG);
		break;
	}
	case XS_SOFTP_PORT_CHANGE: {
		const struct xs_softp_port_change *m = buf;

		if (check_port(&m->port, why) < 0)
			return -EBADMSG;
		break;
	}
	default:
		break;
	}
	return h.type;
}
