/* SPDX-License-Identifier: MIT */
/*
 * xscore/srp.h - byte-exact, bounds-checked codecs for the information units
 * of the SCSI RDMA Protocol (INCITS 365-2002, SRP revision 16a), the vHBA
 * data path.
 *
 * All multi-byte fields are big-endian on the wire; decoded structs are in
 * host order. LUNs are carried as the raw 8-byte SAM LUN in a uint64_t
 * (first wire byte in the most significant position).
 *
 * Every decoder:
 *   int xs_srp_X_decode(const uint8_t *buf, size_t len, struct xs_srp_X *out);
 * returns 0 or a negative errno: -EMSGSIZE when len is too short for the IU
 * (including lengths and counts inside the IU that point past len), -EBADMSG
 * when a field is invalid (wrong IU type, inconsistent lengths or counts),
 * -EOPNOTSUPP for a data buffer descriptor format we do not implement. On
 * failure *out is left untouched. Rejections are counted per codec
 * (xs_srp_rejects) and logged at debug level under component "srp".
 * Decoders never read past buf + len. Pointers in decoded structs
 * (sense data, response data, partial descriptor lists) point into buf.
 *
 * Every encoder:
 *   int xs_srp_X_encode(const struct xs_srp_X *in, uint8_t *buf, size_t cap);
 * returns the number of bytes written, -EMSGSIZE when cap is too small
 * (nothing is written then), -EINVAL when the struct holds a value the wire
 * cannot carry. Reserved bytes are written as zero.
 */
#ifndef XSCORE_SRP_H
#define XSCORE_SRP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ IU types */
enum xs_srp_iu_type {
	XS_SRP_LOGIN_REQ = 0x00,
	XS_SRP_TSK_MGMT = 0x01,
	XS_SRP_CMD = 0x02,
	XS_SRP_I_LOGOUT = 0x03,
	XS_SRP_CRED_RSP = 0x41,
	XS_SRP_AER_RSP = 0x42,
	XS_SRP_T_LOGOUT = 0x80,
	XS_SRP_CRED_REQ = 0x81,
	XS_SRP_AER_REQ = 0x82,
	XS_SRP_LOGIN_RSP = 0xc0,
	XS_SRP_RSP = 0xc1,
	XS_SRP_LOGIN_REJ = 0xc2,
};

/* Fixed sizes; SRP_CMD, SRP_RSP and SRP_AER_REQ are minimums. */
#define XS_SRP_LOGIN_REQ_LEN 64
#define XS_SRP_LOGIN_RSP_LEN 52
#define XS_SRP_LOGIN_REJ_LEN 32
#define XS_SRP_I_LOGOUT_LEN 16
#define XS_SRP_T_LOGOUT_LEN 16
#define XS_SRP_TSK_MGMT_LEN 48
#define XS_SRP_CMD_MIN_LEN 48
#define XS_SRP_RSP_MIN_LEN 36
#define XS_SRP_CRED_REQ_LEN 16
#define XS_SRP_CRED_RSP_LEN 16
#define XS_SRP_AER_REQ_MIN_LEN 36
#define XS_SRP_AER_RSP_LEN 16

/* IOControllerProfile IO class of an SRP rev. 16a target. */
#define XS_SRP_IO_CLASS_REV16A 0x0100
#define XS_SRP_IO_CLASS_REV10 0xff00

/* Buffer descriptor format bits (LOGIN_REQ/RSP/REJ buf_fmt). */
#define XS_SRP_BUF_FMT_DIRECT 0x0002
#define XS_SRP_BUF_FMT_INDIRECT 0x0004

/* ------------------------------------------------------------- counters */
enum xs_srp_codec {
	XS_SRP_C_IU_TYPE,
	XS_SRP_C_LOGIN_REQ,
	XS_SRP_C_LOGIN_RSP,
	XS_SRP_C_LOGIN_REJ,
	XS_SRP_C_I_LOGOUT,
	XS_SRP_C_T_LOGOUT,
	XS_SRP_C_TSK_MGMT,
	XS_SRP_C_CMD,
	XS_SRP_C_RSP,
	XS_SRP_C_CRED_REQ,
	XS_SRP_C_CRED_RSP,
	XS_SRP_C_AER_REQ,
	XS_SRP_C_AER_RSP,
	XS_SRP_C_INDIRECT_TABLE,
	XS_SRP_N_CODECS
};
/* Inputs each decoder has rejected since start (thread-safe). */
uint64_t xs_srp_rejects(enum xs_srp_codec codec);
const char *xs_srp_codec_name(enum xs_srp_codec codec);
/* "SRP_CMD", ... or "unknown" for a byte that is no IU type. */
const char *xs_srp_iu_name(uint8_t type);

/*
 * Classify a received IU: returns its type (0..255) when len covers at least
 * the minimum size of that type, -EMSGSIZE for an empty or too short buffer,
 * -EBADMSG for a byte that is no SRP IU type. Counted under XS_SRP_C_IU_TYPE.
 */
int xs_srp_iu_type(const uint8_t *buf, size_t len);
/* Minimum IU size of @type, or 0 for an unknown type. */
size_t xs_srp_iu_min_len(uint8_t type);

/* ------------------------------------------------------- SRP_LOGIN_REQ */
#define XS_SRP_LOGIN_REQ_MCA_MASK 0x03
#define XS_SRP_MCA_SINGLE 0x00      /* terminate other channels of the I_T nexus */
#define XS_SRP_MCA_MULTI 0x01       /* keep them running */
#define XS_SRP_LOGIN_REQ_LOSOLNT 0x10
#define XS_SRP_LOGIN_REQ_CRSOLNT 0x20
#define XS_SRP_LOGIN_REQ_AESOLNT 0x40
#define XS_SRP_LOGIN_REQ_IMMED 0x80 /* SRP-2: immediate data requested */

struct xs_srp_login_req {
	uint64_t tag;
	uint32_t req_it_iu_len;  /* requested max initiator->target IU length */
	uint16_t req_buf_fmt;    /* XS_SRP_BUF_FMT_* */
	uint8_t req_flags;       /* MCA + XS_SRP_LOGIN_REQ_* */
	uint16_t imm_data_offset; /* SRP-2 field, 0 when not used */
	uint8_t initiator_port_id[16];
	uint8_t target_port_id[16];
};
int xs_srp_login_req_decode(const uint8_t *buf, size_t len, struct xs_srp_login_req *req);
int xs_srp_login_req_encode(const struct xs_srp_login_req *req, uint8_t *buf, size_t cap);

/*
 * The same login as rdma_cm carries it over IP (RoCE, IPoIB): an IB CM REQ
 * holds 92 bytes of private data and rdma_cm's address header takes 36, so
 * the 64-byte IU does not fit. Initiators and targets that connect through
 * rdma_cm by IP address (the Linux ib_srp and ib_srpt among them) send the
 * fields without the reserved bytes, in this 56-byte order:
 *   0 tag(8)  8 req_buf_fmt(2)  10 req_flags  11 type (0x00)
 *   12 req_it_iu_len(4)  16 initiator port id(16)  32 target port id(16)
 *   48 imm_data_offset(2)  50 reserved(6)
 * Decoding is counted under XS_SRP_C_LOGIN_REQ like the IU itself.
 */
#define XS_SRP_LOGIN_REQ_RDMA_CM_LEN 56
int xs_srp_login_req_rdma_cm_decode(const uint8_t *buf, size_t len, struct xs_srp_login_req *req);
int xs_srp_login_req_rdma_cm_encode(const struct xs_srp_login_req *req, uint8_t *buf, size_t cap);

/* ------------------------------------------------------- SRP_LOGIN_RSP */
#define XS_SRP_LOGIN_RSP_MCR_MASK 0x03
#define XS_SRP_MCR_NO_EXISTING 0x00
#define XS_SRP_MCR_TERMINATED 0x01
#define XS_SRP_MCR_CONTINUE 0x02
#define XS_SRP_LOGIN_RSP_SOLNTSUP 0x10
#define XS_SRP_LOGIN_RSP_IMMED_SUPP 0x80 /* SRP-2 */

struct xs_srp_login_rsp {
	uint32_t req_lim_delta;
	uint64_t tag;
	uint32_t max_it_iu_len;
	uint32_t max_ti_iu_len;
	uint16_t buf_fmt;
	uint8_t rsp_flags;
};
/* Also rejects max_it_iu_len < 48 or max_ti_iu_len < 36 (-EBADMSG): no
 * SRP_CMD resp. SRP_RSP would fit, so the channel could never be used. */
int xs_srp_login_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_login_rsp *rsp);
int xs_srp_login_rsp_encode(const struct xs_srp_login_rsp *rsp, uint8_t *buf, size_t cap);

/* ------------------------------------------------------- SRP_LOGIN_REJ */
enum xs_srp_login_rej_reason {
	XS_SRP_REJ_UNABLE_ESTABLISH = 0x00010000,
	XS_SRP_REJ_INSUFFICIENT_RESOURCES = 0x00010001,
	XS_SRP_REJ_IT_IU_LEN_TOO_LARGE = 0x00010002,
	XS_SRP_REJ_UNABLE_ASSOCIATE = 0x00010003,
	XS_SRP_REJ_UNSUPPORTED_DESC_FMT = 0x00010004,
	XS_SRP_REJ_MULTI_CHANNEL_UNSUPPORTED = 0x00010005,
	XS_SRP_REJ_CHANNEL_LIMIT = 0x00010006,
};
/* Human text of a reject reason ("unknown reject reason" otherwise). */
const char *xs_srp_login_rej_reason_str(uint32_t reason);

struct xs_srp_login_rej {
	uint32_t reason;
	uint64_t tag;
	uint16_t buf_fmt;
};
int xs_srp_login_rej_decode(const uint8_t *buf, size_t len, struct xs_srp_login_rej *rej);
int xs_srp_login_rej_encode(const struct xs_srp_login_rej *rej, uint8_t *buf, size_t cap);

/* -------------------------------------------------------- SRP_I_LOGOUT */
struct xs_srp_i_logout {
	uint64_t tag;
};
int xs_srp_i_logout_decode(const uint8_t *buf, size_t len, struct xs_srp_i_logout *lo);
int xs_srp_i_logout_encode(const struct xs_srp_i_logout *lo, uint8_t *buf, size_t cap);

/* -------------------------------------------------------- SRP_T_LOGOUT */
#define XS_SRP_T_LOGOUT_SOLNT 0x01
enum xs_srp_t_logout_reason {
	XS_SRP_TLO_NO_REASON = 0,
	XS_SRP_TLO_INACTIVE = 1,
	XS_SRP_TLO_INVALID_IU_TYPE = 2,
	XS_SRP_TLO_UNEXPECTED_RSP = 3,
	XS_SRP_TLO_MULTI_CHANNEL_ACTION = 4,
	XS_SRP_TLO_UNSUPPORTED_DO_FMT = 5,
	XS_SRP_TLO_UNSUPPORTED_DI_FMT = 6,
	XS_SRP_TLO_INVALID_IU_LEN = 8,
};
const char *xs_srp_t_logout_reason_str(uint32_t reason);

struct xs_srp_t_logout {
	uint8_t flags;
	uint32_t reason;
	uint64_t tag;
};
int xs_srp_t_logout_decode(const uint8_t *buf, size_t len, struct xs_srp_t_logout *lo);
int xs_srp_t_logout_encode(const struct xs_srp_t_logout *lo, uint8_t *buf, size_t cap);

/* -------------------------------------------------------- SRP_TSK_MGMT */
#define XS_SRP_SCSOLNT 0x02 /* solicited notification on success */
#define XS_SRP_UCSOLNT 0x04 /* ... on failure */
enum xs_srp_tsk_func {
	XS_SRP_TSK_ABORT_TASK = 0x01,
	XS_SRP_TSK_ABORT_TASK_SET = 0x02,
	XS_SRP_TSK_CLEAR_TASK_SET = 0x04,
	XS_SRP_TSK_LUN_RESET = 0x08,
	XS_SRP_TSK_CLEAR_ACA = 0x40,
};
/* True for the five functions above. Unknown functions decode fine: the
 * target answers them with XS_SRP_RSP_TSK_NOT_SUPPORTED. */
bool xs_srp_tsk_func_known(uint8_t func);

struct xs_srp_tsk_mgmt {
	uint8_t flags;     /* XS_SRP_SCSOLNT | XS_SRP_UCSOLNT */
	uint64_t tag;
	uint64_t lun;
	uint8_t func;
	uint64_t task_tag; /* ABORT TASK: tag of the command to abort */
};
int xs_srp_tsk_mgmt_decode(const uint8_t *buf, size_t len, struct xs_srp_tsk_mgmt *tm);
int xs_srp_tsk_mgmt_encode(const struct xs_srp_tsk_mgmt *tm, uint8_t *buf, size_t cap);

/* ------------------------------------------------------------- SRP_CMD */
#define XS_SRP_DESC_LEN 16          /* struct srp_direct_buf on the wire */
#define XS_SRP_INDIRECT_HDR_LEN 20  /* table descriptor + total length */
#define XS_SRP_CDB_LEN 16
#define XS_SRP_MAX_ADD_CDB_LEN 252  /* 6-bit count of 4-byte words */
#define XS_SRP_MAX_CDB_LEN (XS_SRP_CDB_LEN + XS_SRP_MAX_ADD_CDB_LEN)

enum xs_srp_desc_fmt {
	XS_SRP_FMT_NONE = 0,
	XS_SRP_FMT_DIRECT = 1,
	XS_SRP_FMT_INDIRECT = 2,
	/* 3 is SRP-2 immediate data: decoded as -EOPNOTSUPP */
};

enum xs_srp_task_attr {
	XS_SRP_ATTR_SIMPLE = 0,
	XS_SRP_ATTR_HEAD_OF_QUEUE = 1,
	XS_SRP_ATTR_ORDERED = 2,
	XS_SRP_ATTR_ACA = 4,
};

/* One memory descriptor: the initiator's registered buffer. */
struct xs_srp_desc {
	uint64_t va;
	uint32_t key; /* rkey */
	uint32_t len;
};
/* Read / write one 16-byte descriptor; p must hold 16 bytes. */
void xs_srp_desc_get(const uint8_t *p, struct xs_srp_desc *d);
void xs_srp_desc_put(uint8_t *p, const struct xs_srp_desc *d);

/*
 * The data-out or data-in buffer of a command.
 * DIRECT: direct is the one buffer; total_len = direct.len.
 * INDIRECT: table describes the whole descriptor table in initiator memory
 * (table.len / 16 descriptors), total_len is the sum of all of them;
 * the first count descriptors are also in the IU (partial list). When
 * external is true the target must fetch the table with RDMA READ and check
 * it with xs_srp_indirect_table_check().
 * Decode: list_wire points at the partial list inside the IU (read entries
 * with xs_srp_desc_get). Encode: list holds count descriptors in host order.
 */
struct xs_srp_data_buf {
	uint8_t fmt;        /* enum xs_srp_desc_fmt */
	uint8_t count;      /* partial list entries (INDIRECT), else 0 */
	bool external;
	struct xs_srp_desc direct;
	struct xs_srp_desc table;
	uint32_t total_len;
	const uint8_t *list_wire;
	const struct xs_srp_desc *list;
};

struct xs_srp_cmd {
	uint8_t flags;       /* XS_SRP_SCSOLNT | XS_SRP_UCSOLNT */
	uint64_t tag;
	uint64_t lun;
	uint8_t task_attr;   /* enum xs_srp_task_attr (3 bits) */
	uint16_t cdb_len;    /* 16 + additional CDB length */
	uint8_t cdb[XS_SRP_MAX_CDB_LEN];
	struct xs_srp_data_buf out; /* data-out (initiator -> target) */
	struct xs_srp_data_buf in;  /* data-in (target -> initiator) */
};
/*
 * Checks: IU type; 48 + additional CDB length + the descriptors named by the
 * formats and counts fit in len (-EMSGSIZE); a count without an indirect
 * format, an indirect table length that is no multiple of 16, a partial list
 * longer than the table, an empty indirect table, and (when the whole table
 * is in the IU) partial lengths that do not add up to the total length or
 * overflow 32 bits give -EBADMSG; format 3 (immediate data) and 4..15 give
 * -EOPNOTSUPP. Descriptor counts of a direct buffer are ignored: the Linux
 * initiator leaves them 0.
 */
int xs_srp_cmd_decode(const uint8_t *buf, size_t len, struct xs_srp_cmd *cmd);
/* -EINVAL: cdb_len outside 16..268 or not 16 + a multiple of 4, a format
 * above 2, an indirect buffer without list (count > 0), count*16 > table.len. */
int xs_srp_cmd_encode(const struct xs_srp_cmd *cmd, uint8_t *buf, size_t cap);
/* Bytes xs_srp_cmd_encode would write (0 when the struct is invalid). */
size_t xs_srp_cmd_len(const struct xs_srp_cmd *cmd);

/*
 * Check a descriptor table fetched from the initiator for an external
 * indirect buffer: @len must equal b->table.len, and the lengths of its
 * entries must add up to b->total_len without overflow. 0 or -EBADMSG /
 * -EMSGSIZE (counted under XS_SRP_C_INDIRECT_TABLE).
 */
int xs_srp_indirect_table_check(const struct xs_srp_data_buf *b, const uint8_t *table,
				size_t len);

/* ------------------------------------------------------------- SRP_RSP */
#define XS_SRP_RSP_SOLNT 0x01
#define XS_SRP_RSP_RSPVALID 0x01
#define XS_SRP_RSP_SNSVALID 0x02
#define XS_SRP_RSP_DOOVER 0x04
#define XS_SRP_RSP_DOUNDER 0x08
#define XS_SRP_RSP_DIOVER 0x10
#define XS_SRP_RSP_DIUNDER 0x20
#define XS_SRP_RSP_DATA_LEN 4 /* response data list: 3 reserved bytes + RSP_CODE */

/* RSP_CODE in the response data (byte 3). */
enum xs_srp_rsp_code {
	XS_SRP_RSP_NO_FAILURE = 0x00, /* also "task management function complete" */
	XS_SRP_RSP_FIELDS_INVALID = 0x02,
	XS_SRP_RSP_TSK_NOT_SUPPORTED = 0x04,
	XS_SRP_RSP_TSK_FAILED = 0x05,
};

struct xs_srp_rsp {
	uint8_t flags;        /* XS_SRP_RSP_SOLNT */
	uint32_t req_lim_delta;
	uint64_t tag;
	uint8_t valid;        /* XS_SRP_RSP_RSPVALID .. DIUNDER */
	uint8_t status;       /* SCSI status */
	uint32_t data_out_res;
	uint32_t data_in_res;
	uint8_t rsp_code;     /* meaningful when valid & RSPVALID */
	uint32_t sense_len;   /* 0 unless valid & SNSVALID */
	const uint8_t *sense;
};
/*
 * Checks: IU type; RSPVALID requires a response data length of exactly 4,
 * SNSVALID a non-zero sense length, and a length field whose valid bit is
 * clear must be 0 (-EBADMSG); both OVER and UNDER set for one direction is
 * -EBADMSG; 36 + response length + sense length beyond len is -EMSGSIZE.
 */
int xs_srp_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_rsp *rsp);
/* Response data (4 bytes) is written when valid has RSPVALID; sense when
 * SNSVALID. -EINVAL when SNSVALID and sense_len / sense disagree, or both
 * OVER and UNDER bits of a direction are set. */
int xs_srp_rsp_encode(const struct xs_srp_rsp *rsp, uint8_t *buf, size_t cap);
size_t xs_srp_rsp_len(const struct xs_srp_rsp *rsp);

/* ------------------------------------------------- SRP_CRED_REQ / RSP */
#define XS_SRP_CRED_REQ_SOLNT 0x01
struct xs_srp_cred_req {
	uint8_t flags;
	uint32_t req_lim_delta;
	uint64_t tag;
};
int xs_srp_cred_req_decode(const uint8_t *buf, size_t len, struct xs_srp_cred_req *cr);
int xs_srp_cred_req_encode(const struct xs_srp_cred_req *cr, uint8_t *buf, size_t cap);

/* SRP_CRED_RSP and SRP_AER_RSP carry only a tag. */
struct xs_srp_tag_rsp {
	uint64_t tag;
};
int xs_srp_cred_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_tag_rsp *r);
int xs_srp_cred_rsp_encode(const struct xs_srp_tag_rsp *r, uint8_t *buf, size_t cap);
int xs_srp_aer_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_tag_rsp *r);
int xs_srp_aer_rsp_encode(const struct xs_srp_tag_rsp *r, uint8_t *buf, size_t cap);

/* --------------------------------------------------------- SRP_AER_REQ */
#define XS_SRP_AER_REQ_SOLNT 0x01
struct xs_srp_aer_req {
	uint8_t flags;
	uint32_t req_lim_delta;
	uint64_t tag;
	uint64_t lun;
	uint32_t sense_len; /* > 0: an AER without sense data is -EBADMSG */
	const uint8_t *sense;
};
int xs_srp_aer_req_decode(const uint8_t *buf, size_t len, struct xs_srp_aer_req *aer);
int xs_srp_aer_req_encode(const struct xs_srp_aer_req *aer, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* XSCORE_SRP_H */
