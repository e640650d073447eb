/* SPDX-License-Identifier: MIT */
/*
 * soft_proto.h - the messages between xs-fabricd and its ports (the soft
 * backend), and the record header of the peer-to-peer data path.
 *
 * Control channel: one AF_UNIX SOCK_SEQPACKET connection per attached port.
 * Every message is one record: a header {u16 type; u16 len; u32 seq} and a
 * fixed-size body per type, in host byte order (both ends are on the same
 * machine). len is the whole record and must equal the size of the type's
 * struct; anything else is rejected by xs_softp_decode(). Variable-length
 * fields (private data, MADs) are fixed arrays with a length field that the
 * decoder checks against the array. CM_ESTABLISHED and CM_REP_REPLY with
 * status 0 carry one end of a socketpair as SCM_RIGHTS. docs/soft-fabric.md
 * describes the exchanges.
 */
#ifndef XS_SOFT_PROTO_H
#define XS_SOFT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xscore/fabric.h>

#define XS_SOFTP_VERSION 1
#define XS_SOFT_DEFAULT_SOCK "/run/xsigo/fabric.sock"
#define XS_SOFT_SM_LID 1
#define XS_SOFT_OUI 0x001397u /* GUIDs: OUI in the top 24 bits */
#define XS_SOFT_GID_PREFIX 0xfe80000000000000ull

enum xs_softp_type {
	/* port -> daemon */
	XS_SOFTP_ATTACH = 1,
	XS_SOFTP_AGENT_REG,
	XS_SOFTP_AGENT_UNREG,
	XS_SOFTP_MAD_SEND,
	XS_SOFTP_CM_LISTEN,
	XS_SOFTP_CM_UNLISTEN,
	XS_SOFTP_CM_REQ,
	XS_SOFTP_CM_REP,
	XS_SOFTP_CM_REJ,
	XS_SOFTP_CM_ABORT, /* active side gives up a pending REQ */
	/* daemon -> port */
	XS_SOFTP_ATTACH_REPLY = 64,
	XS_SOFTP_MAD_RECV,
	XS_SOFTP_CM_LISTEN_REPLY,
	XS_SOFTP_CM_REQ_IND,
	XS_SOFTP_CM_REP_REPLY,   /* to the passive side; status 0 carries the fd */
	XS_SOFTP_CM_REJ_IND,     /* to the active side */
	XS_SOFTP_CM_ESTABLISHED, /* to the active side, carries the fd */
	XS_SOFTP_CM_UNREACH,     /* to the active side */
	XS_SOFTP_CM_CANCEL,      /* to the passive side: the request is gone */
	XS_SOFTP_PORT_CHANGE,
	XS_SOFTP_AGENT_REPLY,    /* to AGENT_REG */
};

struct xs_softp_hdr {
	uint16_t type;
	uint16_t len; /* whole record */
	uint32_t seq; /* request/reply matching */
};

struct xs_softp_port {
	uint64_t port_guid;
	uint64_t node_guid;
	uint8_t gid[16];
	uint16_t lid;
	uint16_t sm_lid;
	uint16_t pkeys[XS_MAX_PKEYS];
	uint8_t n_pkeys;
	uint8_t state; /* enum xs_port_state */
	uint8_t sm_sl;
	uint8_t pad[5];
};

struct xs_softp_attach {
	struct xs_softp_hdr h;
	uint32_t version;
	uint32_t pad;
	char port_name[64]; /* NUL-terminated, non-empty */
};

struct xs_softp_attach_reply {
	struct xs_softp_hdr h;
	int32_t status; /* 0 or -errno */
	uint32_t pad;
	struct xs_softp_port port;
	char why[64];   /* text when status != 0 */
};

struct xs_softp_agent {
	struct xs_softp_hdr h;
	uint8_t mgmt_class;
	uint8_t class_version;
	uint8_t pad[6];
};

struct xs_softp_mad_send {
	struct xs_softp_hdr h;
	uint16_t dlid;
	uint16_t pkey;
	uint32_t dqpn;
	uint32_t qkey;
	uint8_t sl;
	uint8_t pad;
	uint16_t mad_len; /* 24..256 */
	uint8_t mad[XS_MAD_SIZE];
};

struct xs_softp_mad_recv {
	struct xs_softp_hdr h;
	uint16_t slid;
	uint16_t pkey;
	uint32_t sqpn;
	uint8_t sl;
	uint8_t pad;
	uint16_t mad_len; /* 24..256 */
	uint8_t sgid[16];
	uint8_t mad[XS_MAD_SIZE];
};

struct xs_softp_listen {
	struct xs_softp_hdr h;
	uint64_t service_id;
};

struct xs_softp_status {
	struct xs_softp_hdr h;
	int32_t status;
	uint32_t pad;
};

struct xs_softp_cm_req {
	struct xs_softp_hdr h;
	uint64_t service_id;
	uint32_t cookie;     /* the active QP number */
	uint32_t timeout_ms; /* 1..600000 */
	uint16_t dlid;
	uint16_t pkey;
	uint8_t has_gid;
	uint8_t pad;
	uint16_t private_len; /* <= 92 */
	uint8_t dgid[16];
	uint8_t private_data[XS_CM_PRIVATE_DATA_MAX];
	uint32_t pad2;
};

struct xs_softp_cm_req_ind {
	struct xs_softp_hdr h;
	uint64_t service_id;
	uint64_t remote_port_guid;
	uint32_t conn_id;
	uint16_t remote_lid;
	uint16_t pkey;
	uint8_t remote_gid[16];
	uint16_t private_len; /* <= 92 */
	uint8_t private_data[XS_CM_PRIVATE_DATA_MAX];
	uint16_t pad;
};

struct xs_softp_cm_rep {
	struct xs_softp_hdr h;
	uint32_t conn_id;
	uint32_t qpn;
	uint16_t private_len; /* <= 196 */
	uint8_t private_data[XS_CM_REP_PRIVATE_DATA_MAX];
	uint16_t pad;
};

struct xs_softp_cm_rej {
	struct xs_softp_hdr h;
	uint32_t conn_id;
	uint16_t reason;
	uint16_t private_len; /* <= 148 */
	uint8_t private_data[XS_CM_REJ_PRIVATE_DATA_MAX];
};

struct xs_softp_cm_abort {
	struct xs_softp_hdr h;
	uint32_t cookie;
	uint32_t pad;
};

struct xs_softp_cm_rej_ind {
	struct xs_softp_hdr h;
	uint32_t cookie;
	uint16_t reason;
	uint16_t private_len; /* <= 148 */
	uint8_t private_data[XS_CM_REJ_PRIVATE_DATA_MAX];
};

struct xs_softp_cm_established {
	struct xs_softp_hdr h;
	uint32_t cookie;
	uint32_t remote_qpn;
	uint16_t private_len; /* <= 196 */
	uint8_t private_data[XS_CM_REP_PRIVATE_DATA_MAX];
	uint16_t pad;
};

struct xs_softp_cm_unreach {
	struct xs_softp_hdr h;
	uint32_t cookie;
	int32_t status; /* -ETIMEDOUT, -EHOSTUNREACH, -ECONNREFUSED */
};

struct xs_softp_cm_cancel {
	struct xs_softp_hdr h;
	uint32_t conn_id;
	uint32_t pad;
};

struct xs_softp_port_change {
	struct xs_softp_hdr h;
	struct xs_softp_port port;
};

/* The largest record either side sends. */
#define XS_SOFTP_MAX_MSG 512

/*
 * Check one received control record: header, type, exact length for the
 * type, direction (from_port: sent by a port to the daemon) and every inner
 * length field. Returns the type, or -EMSGSIZE (short), -E2BIG (oversized
 * record), -EBADMSG (bad length/field, wrong direction, unknown type) with
 * *why set to a static description.
 */
int xs_softp_decode(const void *buf, size_t len, bool from_port, const char **why);
/* Name of a message type for logs ("?" when unknown). */
const char *xs_softp_type_name(int type);
/* Size of a type's record, 0 when unknown. */
size_t xs_softp_size(int type);

/* ------------------------------------------------------------ data path
 * Records on a connected QP's socketpair: a 40-byte header followed by up to
 * XS_SOFT_SEG payload bytes. Messages larger than a segment are split; the
 * first segment has SOFT_F_FIRST, the last SOFT_F_LAST.
 */
#define XS_SOFT_SEG (64 * 1024)

enum xs_soft_dop {
	XS_SOFT_DOP_SEND = 1,
	XS_SOFT_DOP_WRITE,
	XS_SOFT_DOP_READ_REQ,
	XS_SOFT_DOP_READ_RESP,
	XS_SOFT_DOP_ACK,
	XS_SOFT_DOP_NAK,
};

#define XS_SOFT_F_FIRST 0x01
#define XS_SOFT_F_LAST 0x02
#define XS_SOFT_F_IMM 0x04
#define XS_SOFT_F_ACKREQ 0x08
#define XS_SOFT_F_MORE 0x10   /* the sender has more records ready right behind */

struct xs_soft_dhdr {
	uint8_t op;
	uint8_t flags;
	uint16_t status;  /* NAK: the xs_wc_status for the requester */
	uint32_t len;     /* payload bytes in this record */
	uint32_t msn;     /* request: its message number; READ_RESP/NAK: the request's */
	uint32_t ack;     /* requests of the peer fully executed (cumulative count) */
	uint64_t raddr;   /* WRITE: this segment's target; READ_REQ: source */
	uint32_t rkey;
	uint32_t imm;
	uint32_t total;   /* FIRST segment: message length; READ_REQ: length */
	uint32_t pad;
};

#endif /* XS_SOFT_PROTO_H */
