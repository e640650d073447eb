/* SPDX-License-Identifier: MIT */
/*
 * xscore/wire.h - byte-exact, bounds-checked codecs for the management and
 * session protocols: MAD common header, SA header, ServiceRecord, PathRecord,
 * XCPM XCM_REQUEST and its reply, XSMP header and session messages.
 *
 * Decoded structs are in host order. Every decoder:
 *   int xs_X_decode(const uint8_t *buf, size_t len, struct X *out);
 * returns 0 (or the number of bytes consumed, where stated) or a negative
 * errno: -EMSGSIZE when len is too short for the structure, -EBADMSG when a
 * field is invalid (a length field that disagrees with len, a count beyond
 * the array, a bad version). Rejections are counted per codec
 * (xs_wire_rejects) and logged at debug level under component "wire".
 * Every encoder:
 *   int xs_X_encode(const struct X *in, uint8_t *buf, size_t cap);
 * returns the number of bytes written, or -EMSGSIZE when cap is too small,
 * -EINVAL when the struct holds a value the wire cannot carry.
 * Strings are copied NUL-terminated into fixed arrays one byte longer than
 * the wire field; encoders zero-pad them.
 */
#ifndef XSCORE_WIRE_H
#define XSCORE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum xs_wire_codec {
	XS_WIRE_MAD_HDR,
	XS_WIRE_SA_HDR,
	XS_WIRE_SERVICE_RECORD,
	XS_WIRE_PATH_RECORD,
	XS_WIRE_XCPM_REQUEST,
	XS_WIRE_XCPM_REPLY,
	XS_WIRE_XSMP_HDR,
	XS_WIRE_XSMP_SESSION,
	XS_WIRE_N_CODECS
};
/* Number of inputs each decoder has rejected since start (thread-safe). */
uint64_t xs_wire_rejects(enum xs_wire_codec codec);
const char *xs_wire_codec_name(enum xs_wire_codec codec);

/* ------------------------------------------------------- MAD common header */
#define XS_MAD_LEN 256
#define XS_MAD_HDR_LEN 24
#define XS_MAD_BASE_VERSION 1

#define XS_MAD_METHOD_GET 0x01
#define XS_MAD_METHOD_SET 0x02
#define XS_MAD_METHOD_SEND 0x03
#define XS_MAD_METHOD_TRAP 0x05
#define XS_MAD_METHOD_REPORT 0x06
#define XS_MAD_METHOD_GETTABLE 0x12
#define XS_MAD_METHOD_DELETE 0x15
#define XS_MAD_METHOD_RESP 0x80 /* R bit */

/* MAD status field (IBA 13.4.7) */
#define XS_MAD_STATUS_BUSY 0x0001
#define XS_MAD_STATUS_BAD_VERSION 0x0004
#define XS_MAD_STATUS_UNSUP_METHOD 0x0008
#define XS_MAD_STATUS_UNSUP_METHOD_ATTR 0x000c
#define XS_MAD_STATUS_INVALID_FIELD 0x001c
/* SA status codes (IBA 15.2.1.2) live in bits 8..15 */
#define XS_SA_STATUS_NO_RESOURCES (1 << 8)
#define XS_SA_STATUS_REQ_INVALID (2 << 8)
#define XS_SA_STATUS_NO_RECORDS (3 << 8)
#define XS_SA_STATUS_TOO_MANY_RECORDS (4 << 8)
#define XS_SA_STATUS_INVALID_GID (5 << 8)
#define XS_SA_STATUS_INSUF_COMPONENTS (6 << 8)

struct xs_mad_hdr {
	uint8_t base_version;
	uint8_t mgmt_class;
	uint8_t class_version;
	uint8_t method;
	uint16_t status;
	uint16_t class_specific;
	uint64_t tid;
	uint16_t attr_id;
	uint32_t attr_mod;
};
/* Rejects len < 24 and base_version != 1. */
int xs_mad_hdr_decode(const uint8_t *buf, size_t len, struct xs_mad_hdr *h);
int xs_mad_hdr_encode(const struct xs_mad_hdr *h, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------- SA header */
#define XS_SA_CLASS 0x03
#define XS_SA_CLASS_VERSION 2
#define XS_SA_HDR_LEN 56  /* MAD header + RMPP header + SA header */
#define XS_SA_DATA_OFF 56
#define XS_SA_DATA_LEN 200
#define XS_SA_ATTR_SERVICE_RECORD 0x0031
#define XS_SA_ATTR_PATH_RECORD 0x0035
#define XS_SA_METHOD_GETTABLE_RESP 0x92
#define XS_SA_METHOD_DELETE_RESP 0x95

struct xs_sa_hdr {
	struct xs_mad_hdr mad;
	uint8_t rmpp_version;
	uint8_t rmpp_type;
	uint8_t rmpp_rtime_flags;
	uint8_t rmpp_status;
	uint32_t rmpp_data1;
	uint32_t rmpp_data2;
	uint64_t sm_key;
	uint16_t attr_offset; /* in 8-byte words */
	uint64_t comp_mask;
};
/* Rejects len < 56, mgmt_class != 0x03. */
int xs_sa_hdr_decode(const uint8_t *buf, size_t len, struct xs_sa_hdr *h);
int xs_sa_hdr_encode(const struct xs_sa_hdr *h, uint8_t *buf, size_t cap);

/* ------------------------------------------------ ServiceRecord (15.2.5.14) */
#define XS_SR_LEN 176
#define XS_SR_NAME_LEN 64

#define XS_SR_COMP_ID (UINT64_C(1) << 0)
#define XS_SR_COMP_GID (UINT64_C(1) << 1)
#define XS_SR_COMP_PKEY (UINT64_C(1) << 2)
#define XS_SR_COMP_LEASE (UINT64_C(1) << 4)
#define XS_SR_COMP_KEY (UINT64_C(1) << 5)
#define XS_SR_COMP_NAME (UINT64_C(1) << 6)
#define XS_SR_COMP_DATA8(i) (UINT64_C(1) << (7 + (i)))   /* i = 0..15 */
#define XS_SR_COMP_DATA16(i) (UINT64_C(1) << (23 + (i)))  /* i = 0..7 */
#define XS_SR_COMP_DATA32(i) (UINT64_C(1) << (31 + (i)))  /* i = 0..3 */
#define XS_SR_COMP_DATA64(i) (UINT64_C(1) << (35 + (i)))  /* i = 0..1 */
#define XS_SR_LEASE_INFINITE 0xffffffffu

struct xs_service_record {
	uint64_t id;
	uint8_t gid[16];
	uint16_t pkey;
	uint32_t lease; /* seconds, XS_SR_LEASE_INFINITE */
	uint8_t key[16];
	char name[XS_SR_NAME_LEN + 1];
	uint8_t data8[16];
	uint16_t data16[8];
	uint32_t data32[4];
	uint64_t data64[2];
};
int xs_sr_decode(const uint8_t *buf, size_t len, struct xs_service_record *sr);
/* -EINVAL when name is longer than 64 bytes. */
int xs_sr_encode(const struct xs_service_record *sr, uint8_t *buf, size_t cap);
/* True when rec matches query on every field selected by comp_mask. */
bool xs_sr_match(const struct xs_service_record *rec, const struct xs_service_record *query,
		 uint64_t comp_mask);

/* ---------------------------------------------------- PathRecord (15.2.5.16) */
#define XS_PR_LEN 64
#define XS_PR_COMP_SERVICE_ID (UINT64_C(3) << 0)
#define XS_PR_COMP_DGID (UINT64_C(1) << 2)
#define XS_PR_COMP_SGID (UINT64_C(1) << 3)
#define XS_PR_COMP_DLID (UINT64_C(1) << 4)
#define XS_PR_COMP_SLID (UINT64_C(1) << 5)
#define XS_PR_COMP_RAW (UINT64_C(1) << 6)
#define XS_PR_COMP_FLOW_LABEL (UINT64_C(1) << 8)
#define XS_PR_COMP_HOP_LIMIT (UINT64_C(1) << 9)
#define XS_PR_COMP_TCLASS (UINT64_C(1) << 10)
#define XS_PR_COMP_REVERSIBLE (UINT64_C(1) << 11)
#define XS_PR_COMP_NUMB_PATH (UINT64_C(1) << 12)
#define XS_PR_COMP_PKEY (UINT64_C(1) << 13)
#define XS_PR_COMP_QOS_CLASS (UINT64_C(1) << 14)
#define XS_PR_COMP_SL (UINT64_C(1) << 15)
#define XS_PR_COMP_MTU_SEL (UINT64_C(1) << 16)
#define XS_PR_COMP_MTU (UINT64_C(1) << 17)
#define XS_PR_COMP_RATE_SEL (UINT64_C(1) << 18)
#define XS_PR_COMP_RATE (UINT64_C(1) << 19)
#define XS_PR_COMP_PKT_LIFE_SEL (UINT64_C(1) << 20)
#define XS_PR_COMP_PKT_LIFE (UINT64_C(1) << 21)
#define XS_PR_COMP_PREFERENCE (UINT64_C(1) << 22)

struct xs_path_record {
	uint64_t service_id;
	uint8_t dgid[16];
	uint8_t sgid[16];
	uint16_t dlid;
	uint16_t slid;
	bool raw_traffic;
	uint32_t flow_label; /* 20 bits */
	uint8_t hop_limit;
	uint8_t tclass;
	bool reversible;
	uint8_t numb_path;   /* 7 bits */
	uint16_t pkey;
	uint16_t qos_class;  /* 12 bits */
	uint8_t sl;          /* 4 bits */
	uint8_t mtu_selector;      /* 2 bits */
	uint8_t mtu;               /* 6 bits: 1=256 .. 5=4096 */
	uint8_t rate_selector;     /* 2 bits */
	uint8_t rate;              /* 6 bits */
	uint8_t pkt_life_selector; /* 2 bits */
	uint8_t pkt_life;          /* 6 bits */
	uint8_t preference;
};
int xs_pr_decode(const uint8_t *buf, size_t len, struct xs_path_record *pr);
/* -EINVAL when a field exceeds its bit width. */
int xs_pr_encode(const struct xs_path_record *pr, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------------ XCPM */
#define XS_XCPM_CLASS 0x0B
#define XS_XCPM_CLASS_VERSION 2
#define XS_XCPM_ATTR_XCM_REQUEST 0xB002
#define XS_XCPM_DATA_OFF 56  /* 24-byte MAD header + 32 reserved bytes */
#define XS_XCPM_DATA_LEN 200
#define XS_XCPM_MAX_XCMS 8
#define XS_XCPM_XCM_VERSION 1
#define XS_XCPM_OS_LINUX 0x01000000u
#define XS_XCPM_CAP_PRESENT (UINT32_C(1) << 31)
#define XS_XCPM_CAP_RESOURCE(bit) (UINT32_C(1) << (16 + (bit)))
#define XS_XCPM_REQUEST_LEN 181
#define XS_XCPM_REPLY_LEN 176

struct xs_xcpm_server_info {
	uint32_t vm_id;
	uint64_t port_guid;
};

struct xs_xcpm_request {
	struct xs_xcpm_server_info server;
	char hostname[66];       /* wire: 65 bytes */
	char os_version[33];     /* wire: 32 */
	char os_arch[17];        /* wire: 16 */
	uint32_t os_type;
	uint64_t fw_version;
	uint32_t hw_version;
	uint32_t driver_version;
	uint64_t system_id_l;
	uint64_t system_id_h;
	uint32_t capabilities;
	char build_version[17];  /* wire: 16 */
};

struct xs_xcm_record {
	uint64_t port_guid;
	uint16_t lid;
};

struct xs_xcpm_reply {
	struct xs_xcpm_server_info server;
	uint8_t count;           /* <= XS_XCPM_MAX_XCMS, else -EBADMSG */
	uint8_t xcm_version;
	struct xs_xcm_record xcms[XS_XCPM_MAX_XCMS];
};

/* These work on the XCPM data area (the 200 bytes at XS_XCPM_DATA_OFF). */
int xs_xcpm_request_decode(const uint8_t *buf, size_t len, struct xs_xcpm_request *req);
int xs_xcpm_request_encode(const struct xs_xcpm_request *req, uint8_t *buf, size_t cap);
int xs_xcpm_reply_decode(const uint8_t *buf, size_t len, struct xs_xcpm_reply *rep);
int xs_xcpm_reply_encode(const struct xs_xcpm_reply *rep, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------------ XSMP */
#define XS_XSMP_SERVICE_ID UINT64_C(0x0000000002139701)
#define XS_XSMP_HDR_LEN 32
#define XS_XSMP_MAX_MSG 1024
#define XS_XSMP_SESSION_LEN 224

enum xs_xsmp_type {
	XS_XSMP_SESSION = 1,
	XS_XSMP_VNIC = 2,
	XS_XSMP_VHBA = 3,
	XS_XSMP_VSSL = 4,
	XS_XSMP_USPACE = 5,
	XS_XSMP_XVE = 6,
};

enum xs_xsmp_resource_bit {
	XS_RES_VNIC = 0,
	XS_RES_VHBA = 1,
	XS_RES_VSSL = 2,
	XS_RES_USPACE = 3,
	XS_RES_NO_HA = 4,
	XS_RES_XVE = 6,
};

enum xs_xsmp_session_code {
	XS_XSMP_HELLO = 1,
	XS_XSMP_REGISTER = 2,
	XS_XSMP_REG_CONFIRM = 3,
	XS_XSMP_REG_REJECT = 4,
	XS_XSMP_SHUTDOWN = 5,
	XS_XSMP_RESOURCE_LIST = 6,
	XS_XSMP_ERROR_STATS = 7,
	XS_XSMP_STALE_TIME = 8,
};

#define XS_XSMP_ACK 0x40
#define XS_XSMP_NACK 0x80

struct xs_xsmp_node_id {
	uint32_t aux;
	uint64_t primary; /* port GUID */
};

struct xs_xsmp_hdr {
	uint8_t type;
	uint8_t code;
	uint16_t length; /* whole message, header included: 32..1024 */
	uint32_t seq;
	struct xs_xsmp_node_id src;
	struct xs_xsmp_node_id dst;
};
/* Rejects len < 32, length < 32, length > 1024, length > len. */
int xs_xsmp_hdr_decode(const uint8_t *buf, size_t len, struct xs_xsmp_hdr *h);
int xs_xsmp_hdr_encode(const struct xs_xsmp_hdr *h, uint8_t *buf, size_t cap);

/* Session message body (follows the header). Bytes 104..175 are our
 * extension: a reject/shutdown reason code and text (docs/protocol.md). */
struct xs_xsmp_session {
	uint8_t type;
	uint8_t code;
	uint16_t length; /* body length: 224 */
	uint32_t resource_flags;
	uint32_t version;        /* REG_CONFIRM: hello interval in seconds */
	uint32_t chassis_version;
	uint32_t boot_flags;
	uint64_t fw_ver;
	uint32_t hw_ver;
	uint32_t vendor_part_id;
	uint32_t xsmp_version;
	char chassis_name[33];   /* wire: 32 */
	char session_name[33];   /* wire: 32 */
	uint32_t reason;         /* extension: REG_REJECT / SHUTDOWN reason code */
	char reason_text[65];    /* extension: wire 64 */
};
int xs_xsmp_session_decode(const uint8_t *buf, size_t len, struct xs_xsmp_session *s);
int xs_xsmp_session_encode(const struct xs_xsmp_session *s, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_WIRE_H */
