/* SPDX-License-Identifier: MIT */
/*
 * xscore/xsmp_ulp.h - XSMP ULP configuration messages: the vNIC (XSMP type 2)
 * and vHBA (XSMP type 3) bodies that follow the 32-byte XSMP header, and the
 * RESOURCE_LIST tail that follows a session body. docs/protocol.md, section
 * "XSMP sessions and ULP configuration messages", is the normative text.
 *
 * Conventions are those of xscore/wire.h: decoded structs are in host order,
 * decoders return 0 or -EMSGSIZE (too short) / -EBADMSG (a field is invalid)
 * and count every rejection (xs_ulp_wire_rejects), encoders return the bytes
 * written or -EMSGSIZE (cap too small) / -EINVAL (a value the wire cannot
 * carry). Strings are copied NUL-terminated into arrays one byte longer than
 * the wire field; device names (vnic_name / vh_name) are at most 15
 * characters so that the 16-byte wire field always holds a NUL, as in the
 * original drivers.
 *
 * Body layout, shared by both ULPs (the original xsvnic/xsvhba layout):
 *   0 type (message code: INSTALL, ...)   1 code (0, or ACK/NACK flags)
 *   2 length (16, body length)            4 bitmask (32: UPDATE field mask)
 *   8 resource_id (64)
 * ACK: code = XS_XSMP_ACK (0x40); NACK: code = XS_XSMP_NACK | reason
 * (reason < 64); the full reason code and a reason text also travel in the
 * extension area of the body.
 */
#ifndef XSCORE_XSMP_ULP_H
#define XSCORE_XSMP_ULP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xscore/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Our XSMP protocol version (REGISTER.xsmp_version). */
#define XS_XSMP_VERSION 1

/* Largest body after the XSMP header. */
#define XS_XSMP_MAX_BODY (XS_XSMP_MAX_MSG - XS_XSMP_HDR_LEN) /* 992 */

/* ----------------------------------------------------------- common bits */
#define XS_ULP_NAME_LEN 16      /* wire field; names hold at most 15 chars */
#define XS_ULP_NAME_MAX 15
#define XS_ULP_REASON_TEXT_LEN 64
#define XS_ULP_EXT_VERSION 1

#define XS_ADMIN_DOWN 0
#define XS_ADMIN_UP 1

/* NACK reasons, shared by vNIC and vHBA (0..19 are the original codes). */
enum xs_ulp_nack_reason {
	XS_NACK_INVALID = 0,          /* bad field, e.g. name longer than 15 */
	XS_NACK_DUP_NAME = 1,
	XS_NACK_DUP_VID = 2,          /* resource id already used by another type */
	XS_NACK_LIMIT_REACHED = 3,
	XS_NACK_ALLOC_ERROR = 4,
	XS_NACK_INVALID_STATE = 5,
	XS_NACK_DEVICE_BUSY = 6,
	XS_NACK_GENERAL_ERROR = 11,
	/* ours */
	XS_NACK_UNKNOWN_RESOURCE = 32, /* UPDATE / ADMIN_* for an id we don't hold */
	XS_NACK_UNSUPPORTED = 33,      /* message code this host does not handle */
	XS_NACK_MALFORMED = 34,        /* body failed to decode */
	XS_NACK_NO_HANDLER = 35,       /* no ULP module registered for the type */
};
#define XS_NACK_REASON_MAX 63
const char *xs_ulp_nack_reason_str(uint32_t reason);

/* Per-codec rejection counters of this file's decoders. */
enum xs_ulp_codec {
	XS_ULP_CODEC_VNIC,
	XS_ULP_CODEC_VHBA,
	XS_ULP_CODEC_RESLIST,
	XS_ULP_CODEC_HDR,   /* xs_ulp_peek */
	XS_ULP_N_CODECS
};
uint64_t xs_ulp_wire_rejects(enum xs_ulp_codec codec);
const char *xs_ulp_codec_name(enum xs_ulp_codec codec);

/*
 * The 16 bytes every ULP body starts with, read without decoding the rest
 * (to dispatch, or to NACK a body that fails to decode). Rejects len < 16.
 */
struct xs_ulp_peek {
	uint8_t type;
	uint8_t code;
	uint16_t length;
	uint32_t bitmask;
	uint64_t resource_id;
};
#define XS_ULP_PEEK_LEN 16
int xs_ulp_peek(const uint8_t *buf, size_t len, struct xs_ulp_peek *p);

/* ------------------------------------------------------------------ vNIC */
enum xs_vnic_code {
	XS_VNIC_INSTALL = 1,
	XS_VNIC_DELETE = 2,
	XS_VNIC_UPDATE = 3,
	XS_VNIC_ADMIN_UP = 4,
	XS_VNIC_ADMIN_DOWN = 5,
	XS_VNIC_OPER_UP = 6,
	XS_VNIC_OPER_DOWN = 7,
	XS_VNIC_OPER_READY = 8,
	XS_VNIC_VLANIP = 9,
	XS_VNIC_STATS = 10,
	XS_VNIC_SYNC_BEGIN = 11,
	XS_VNIC_SYNC_END = 12,
	XS_VNIC_INFO_REQUEST = 13,
	XS_VNIC_OPER_FAILED = 14,
	XS_VNIC_OPER_REQ = 15,
	XS_VNIC_HA_INFO = 16,
	XS_VNIC_ISCSI_INFO = 17,
	XS_VNIC_CODE_MAX = 18,
};
const char *xs_vnic_code_str(uint8_t code);

/* UPDATE bitmask: which fields of the body carry a change. */
#define XS_VNIC_UPDATE_MAC (1u << 0)
#define XS_VNIC_UPDATE_BANDWIDTH (1u << 1)
#define XS_VNIC_UPDATE_MTU (1u << 2)
#define XS_VNIC_UPDATE_TCA_INFO (1u << 3)
#define XS_VNIC_UPDATE_SL (1u << 4)
#define XS_VNIC_UPDATE_ENCAP (1u << 5)
#define XS_VNIC_UPDATE_ADMIN_STATE (1u << 6)
#define XS_VNIC_UPDATE_QOS (1u << 7)
#define XS_VNIC_UPDATE_ACL (1u << 8)
#define XS_VNIC_UPDATE_MP_FLAG (1u << 10)
#define XS_VNIC_UPDATE_VLAN (1u << 11)          /* ours: vlan_mode + vlans */
#define XS_VNIC_UPDATE_UPLINK (1u << 12)        /* ours */
#define XS_VNIC_UPDATE_INSTALL_FLAGS (1u << 13) /* ours: offload flags */
#define XS_VNIC_UPDATE_KNOWN_MASK 0x3dffu

/* install_flags */
#define XS_VNIC_INSTALL_TCP_OFFL (1u << 0)
#define XS_VNIC_INSTALL_UDP_OFFL (1u << 1)
#define XS_VNIC_INSTALL_TSO (1u << 3)
#define XS_VNIC_INSTALL_RX_BAT (1u << 4)

/* mp_flag (HA) */
#define XS_VNIC_MP_PRIMARY (1u << 0)
#define XS_VNIC_MP_SECONDARY (1u << 1)
#define XS_VNIC_MP_AUTO_SWITCH (1u << 2)

/* Extension (ours): VLAN configuration of the vNIC's vswitch port. */
enum xs_vnic_vlan_mode {
	XS_VNIC_VLAN_NONE = 0,   /* untagged only; vlan_count 0 */
	XS_VNIC_VLAN_ACCESS = 1, /* exactly one id: frames untagged on the host */
	XS_VNIC_VLAN_TRUNK = 2,  /* tagged frames of vlans[]; count 0 = all VLANs */
};
#define XS_XSMP_VNIC_MAX_VLANS 128
#define XS_VNIC_MP_GROUP_LEN 48
#define XS_VNIC_UPLINK_LEN 32
#define XS_VNIC_MSG_LEN 512  /* body length, extension included */

struct xs_vnic_msg {
	uint8_t type;            /* enum xs_vnic_code */
	uint8_t code;            /* 0, XS_XSMP_ACK, or XS_XSMP_NACK | reason */
	uint16_t length;         /* XS_VNIC_MSG_LEN; 0 asks the encoder to fill it */
	uint32_t bitmask;        /* UPDATE: XS_VNIC_UPDATE_* */
	uint64_t resource_id;
	uint64_t tca_guid;       /* I/O module port GUID */
	uint16_t tca_lid;
	uint8_t mac[6];
	uint16_t admin_rate;     /* Mbit/s, 0 = line rate */
	uint16_t admin_state;    /* XS_ADMIN_DOWN / XS_ADMIN_UP */
	uint16_t encap;          /* 0 */
	uint16_t mtu;
	uint32_t install_flags;  /* XS_VNIC_INSTALL_* */
	char name[XS_ULP_NAME_LEN + 1];
	uint16_t service_level;
	uint16_t fc_active;      /* host rate control enabled */
	uint16_t cir;            /* Mbit/s */
	uint16_t pir;            /* Mbit/s */
	uint32_t cbs;            /* bytes */
	uint32_t pbs;            /* bytes */
	uint8_t vm_index;
	uint16_t mp_flag;        /* XS_VNIC_MP_* */
	char mp_group[XS_VNIC_MP_GROUP_LEN + 1];
	/* extension, ext_version 1 */
	uint8_t ext_version;     /* 0 when the peer sent no extension */
	uint8_t vlan_mode;       /* enum xs_vnic_vlan_mode */
	uint16_t vlan_count;
	uint16_t vlans[XS_XSMP_VNIC_MAX_VLANS];
	char uplink[XS_VNIC_UPLINK_LEN + 1];
	uint32_t reason;         /* ACK/NACK: enum xs_ulp_nack_reason */
	char reason_text[XS_ULP_REASON_TEXT_LEN + 1];
};

/*
 * Decode / encode a vNIC body (the bytes after the XSMP header).
 * Decode rejects: len < 512, length != 512, type 0 or >= XS_VNIC_CODE_MAX,
 * a name without NUL in its 16 bytes, vlan_mode > 2, vlan_count > 128 or not
 * matching the mode, a VLAN id outside 1..4094.
 * Encode: -EINVAL for a name longer than 15 characters, an uplink longer
 * than 32, a reason_text longer than 64 and the VLAN rules above.
 */
int xs_vnic_msg_decode(const uint8_t *buf, size_t len, struct xs_vnic_msg *m);
int xs_vnic_msg_encode(const struct xs_vnic_msg *m, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------------ vHBA */
enum xs_vhba_code {
	XS_VHBA_INSTALL = 1,
	XS_VHBA_DELETE = 2,
	XS_VHBA_UPDATE = 3,
	XS_VHBA_ADMIN_UP = 4,
	XS_VHBA_ADMIN_DOWN = 5,
	XS_VHBA_OPER_UP = 6,
	XS_VHBA_OPER_DOWN = 7,
	XS_VHBA_OPER_READY = 8,
	XS_VHBA_STATS_REQ = 9,
	XS_VHBA_STATS = 10,
	XS_VHBA_SYNC_BEGIN = 11,
	XS_VHBA_SYNC_END = 12,
	XS_VHBA_INFO_REQUEST = 13,
	XS_VHBA_OPER_REQ = 14,
	XS_VHBA_BOOT_INFO = 15,
	XS_VHBA_CODE_MAX = 16,
};
const char *xs_vhba_code_str(uint8_t code);

/* UPDATE bitmask */
#define XS_VHBA_UPDATE_PORT_RATE 0x0001u
#define XS_VHBA_UPDATE_TAPE_SUPPORT 0x0002u
#define XS_VHBA_UPDATE_IDT 0x0004u        /* interrupt delay timer */
#define XS_VHBA_UPDATE_ET 0x0008u         /* execution throttle */
#define XS_VHBA_UPDATE_QUEUE_DEPTH 0x0010u
#define XS_VHBA_UPDATE_LDT 0x0020u        /* link-down timeout */
#define XS_VHBA_UPDATE_TGT_RESET 0x0040u
#define XS_VHBA_UPDATE_LUNS_PER_TGT 0x0080u
#define XS_VHBA_UPDATE_ADMIN_STATE 0x0100u
#define XS_VHBA_UPDATE_TARGETS 0x0200u    /* ours: target names */
#define XS_VHBA_UPDATE_LUNMASK 0x0400u    /* ours */
#define XS_VHBA_UPDATE_MTU 0x0800u        /* ours */
#define XS_VHBA_UPDATE_QUEUES 0x1000u     /* ours: num_queues */
#define XS_VHBA_UPDATE_KNOWN_MASK 0x1fffu

#define XS_VHBA_MAX_QUEUES 4
#define XS_VHBA_MAX_TARGETS 8
#define XS_VHBA_TARGET_NAME_LEN 24  /* name part of a 32-byte target slot */
#define XS_VHBA_TARGET_SLOT_LEN 32  /* name[24] + target WWPN (64) */
#define XS_VHBA_MSG_LEN 512

struct xs_vhba_qclass {
	uint64_t target_wwpn;
	uint32_t lun;
};

struct xs_vhba_msg {
	uint8_t type;            /* enum xs_vhba_code */
	uint8_t code;
	uint16_t length;         /* XS_VHBA_MSG_LEN; 0 asks the encoder to fill it */
	uint32_t bitmask;        /* UPDATE: XS_VHBA_UPDATE_* */
	uint64_t resource_id;
	uint64_t wwpn;           /* the original's single "wwn" */
	uint64_t tca_guid;
	uint16_t tca_lid;
	uint16_t vhba_flag;
	uint32_t bandwidth;      /* Mbit/s */
	uint32_t tape_support;
	uint32_t interrupt_delay;
	uint32_t exec_throttle;
	uint32_t queue_depth;
	uint32_t link_down_timeout; /* seconds */
	uint32_t admin_state;
	uint32_t target_reset;   /* enable */
	uint32_t max_luns_per_target;
	uint32_t num_queues;     /* 0..4 */
	uint8_t vm_index;
	uint8_t lunmask_enable;
	uint16_t tca_slot;
	char name[XS_ULP_NAME_LEN + 1];
	struct xs_vhba_qclass qclass[XS_VHBA_MAX_QUEUES];
	uint32_t mtu;
	/* extension, ext_version 1 */
	uint8_t ext_version;
	uint8_t target_count;
	uint32_t reason;
	uint64_t wwnn;
	char reason_text[XS_ULP_REASON_TEXT_LEN + 1];
	char targets[XS_VHBA_MAX_TARGETS][XS_VHBA_TARGET_NAME_LEN + 1];
	/* ours: each target's WWPN; the host logs in to service ID = this WWPN
	 * on tca_guid/tca_lid (docs/protocol.md, vHBA targets) */
	uint64_t target_wwpn[XS_VHBA_MAX_TARGETS];
};

/* Decode rejects: len < 512, length != 512, type 0 or >= XS_VHBA_CODE_MAX,
 * a name without NUL, num_queues > 4, target_count > 8, an empty target
 * name within target_count. Encode: -EINVAL for the same rules and for
 * strings longer than their fields. */
int xs_vhba_msg_decode(const uint8_t *buf, size_t len, struct xs_vhba_msg *m);
int xs_vhba_msg_encode(const struct xs_vhba_msg *m, uint8_t *buf, size_t cap);

/* ---------------------------------------------------- RESOURCE_LIST tail */
/*
 * A RESOURCE_LIST message is: XSMP header (type SESSION) + 224-byte session
 * body (type XS_XSMP_RESOURCE_LIST) + this tail:
 *   0 count (16)  2 flags (8)  3 reserved  4 total (32)
 *   8 entries[count], 16 bytes each:
 *     0 xsmp_type (8)  1 state (8)  2 reserved (16)  4 reserved (32)
 *     8 resource_id (64)
 * A host holding more ids than fit sends several messages; the first has
 * XS_RESLIST_FIRST, the last XS_RESLIST_LAST (one message: both).
 */
#define XS_RESLIST_HDR_LEN 8
#define XS_RESLIST_ENTRY_LEN 16
#define XS_RESLIST_MAX_ENTRIES \
	((XS_XSMP_MAX_BODY - XS_XSMP_SESSION_LEN - XS_RESLIST_HDR_LEN) / XS_RESLIST_ENTRY_LEN) /* 47 */
#define XS_RESLIST_FIRST 0x01
#define XS_RESLIST_LAST 0x02

enum xs_res_state {
	XS_RES_STATE_CONFIGURED = 1, /* configuration held, no device yet */
	XS_RES_STATE_OPER_UP = 2,
	XS_RES_STATE_OPER_DOWN = 3,
	XS_RES_STATE_FAILED = 4,
};

struct xs_reslist_entry {
	uint8_t xsmp_type;       /* XS_XSMP_VNIC / XS_XSMP_VHBA */
	uint8_t state;           /* enum xs_res_state */
	uint64_t resource_id;
};

struct xs_reslist {
	uint16_t count;          /* <= XS_RESLIST_MAX_ENTRIES */
	uint8_t flags;
	uint32_t total;          /* ids held in all parts together */
	struct xs_reslist_entry entries[XS_RESLIST_MAX_ENTRIES];
};

/* Work on the bytes after the session body. Decode rejects len < 8,
 * count > 47, count entries not fitting len, flags with unknown bits. */
int xs_reslist_decode(const uint8_t *buf, size_t len, struct xs_reslist *r);
int xs_reslist_encode(const struct xs_reslist *r, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_XSMP_ULP_H */
