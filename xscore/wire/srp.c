/* SPDX-License-Identifier: MIT */
/*
 * srp.c - SRP information unit codecs (INCITS 365, SRP rev. 16a).
 *
 * Layouts (byte offsets, big-endian):
 *  LOGIN_REQ (64): 0 type, 8 tag, 16 req_it_iu_len, 24 req_buf_fmt(16),
 *     26 req_flags, 28 imm_data_offset(16, SRP-2), 32 initiator port id[16],
 *     48 target port id[16]
 *  LOGIN_RSP (52): 0 type, 4 req_lim_delta, 8 tag, 16 max_it_iu_len,
 *     20 max_ti_iu_len, 24 buf_fmt(16), 26 rsp_flags, 27..51 reserved
 *  LOGIN_REJ (32): 0 type, 4 reason, 8 tag, 24 buf_fmt(16)
 *  I_LOGOUT, CRED_RSP, AER_RSP (16): 0 type, 8 tag
 *  T_LOGOUT (16): 0 type, 1 flags, 4 reason, 8 tag
 *  CRED_REQ (16): 0 type, 1 flags, 4 req_lim_delta, 8 tag
 *  TSK_MGMT (48): 0 type, 1 flags, 8 tag, 20 lun[8], 30 function,
 *     32 task tag, 40..47 reserved
 *  CMD (48+): 0 type, 1 flags, 5 buf_fmt (out << 4 | in), 6 data-out count,
 *     7 data-in count, 8 tag, 20 lun[8], 29 task_attr (bits 2..0),
 *     31 additional CDB length (bits 7..2, in 4-byte words), 32 cdb[16],
 *     48 additional CDB, then the data-out descriptor, then the data-in one.
 *     Direct descriptor: va(64) key(32) len(32). Indirect: table descriptor
 *     (16), total length (32), partial list of count descriptors.
 *  RSP (36+): 0 type, 1 flags, 4 req_lim_delta, 8 tag, 18 valid, 19 status,
 *     20 data-out residual, 24 data-in residual, 28 sense length,
 *     32 response length, 36 response data, then sense data
 *  AER_REQ (36+): 0 type, 1 flags, 4 req_lim_delta, 8 tag, 20 lun[8],
 *     28 sense length, 36 sense data
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <xscore/common.h>
#include <xscore/log.h>
#include <xscore/srp.h>

#define SRP_LOG "srp"

static _Atomic uint64_t srp_rejects[XS_SRP_N_CODECS];

static const char *const srp_codec_names[XS_SRP_N_CODECS] = {
	[XS_SRP_C_IU_TYPE] = "iu_type",
	[XS_SRP_C_LOGIN_REQ] = "login_req",
	[XS_SRP_C_LOGIN_RSP] = "login_rsp",
	[XS_SRP_C_LOGIN_REJ] = "login_rej",
	[XS_SRP_C_I_LOGOUT] = "i_logout",
	[XS_SRP_C_T_LOGOUT] = "t_logout",
	[XS_SRP_C_TSK_MGMT] = "tsk_mgmt",
	[XS_SRP_C_CMD] = "cmd",
	[XS_SRP_C_RSP] = "rsp",
	[XS_SRP_C_CRED_REQ] = "cred_req",
	[XS_SRP_C_CRED_RSP] = "cred_rsp",
	[XS_SRP_C_AER_REQ] = "aer_req",
	[XS_SRP_C_AER_RSP] = "aer_rsp",
	[XS_SRP_C_INDIRECT_TABLE] = "indirect_table",
};

uint64_t xs_srp_rejects(enum xs_srp_codec codec)
{
	if ((unsigned int)codec >= XS_SRP_N_CODECS)
		return 0;
	return atomic_load_explicit(&srp_rejects[codec], memory_order_relaxed);
}

const char *xs_srp_codec_name(enum xs_srp_codec codec)
{
	if ((unsigned int)codec >= XS_SRP_N_CODECS)
		return "unknown";
	return srp_codec_names[codec];
}

static int srp_reject(enum xs_srp_codec codec, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int srp_reject(enum xs_srp_codec codec, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	atomic_fetch_add_explicit(&srp_rejects[codec], 1, memory_order_relaxed);
	if (!xs_log_debug_enabled(SRP_LOG))
		return err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xs_log(XS_LOG_DEBUG, SRP_LOG, "rejected %s IU (%s): %s", srp_codec_names[codec],
	       xs_strerror(err), msg);
	return err;
}

/* Common head of every decoder: length and IU type. */
static int srp_check(enum xs_srp_codec codec, const uint8_t *buf, size_t len, size_t need,
		     uint8_t type)
{
	if (len < need)
		return srp_reject(codec, -EMSGSIZE, "truncated: %zu bytes, need %zu", len, need);
	if (buf[0] != type)
		return srp_reject(codec, -EBADMSG, "IU type 0x%02x (%s), expected 0x%02x",
				  buf[0], xs_srp_iu_name(buf[0]), type);
	return 0;
}

static int srp_cap(const char *what, size_t cap, size_t need)
{
	if (cap >= need)
		return 0;
	XS_DEBUG(SRP_LOG, "%s encode: buffer of %zu bytes, need %zu", what, cap, need);
	return -EMSGSIZE;
}

/* ---------------------------------------------------------- IU types */

static const struct {
	uint8_t type;
	const char *name;
	size_t min_len;
} iu_table[] = {
	{ XS_SRP_LOGIN_REQ, "SRP_LOGIN_REQ", XS_SRP_LOGIN_REQ_LEN },
	{ XS_SRP_TSK_MGMT, "SRP_TSK_MGMT", XS_SRP_TSK_MGMT_LEN },
	{ XS_SRP_CMD, "SRP_CMD", XS_SRP_CMD_MIN_LEN },
	{ XS_SRP_I_LOGOUT, "SRP_I_LOGOUT", XS_SRP_I_LOGOUT_LEN },
	{ XS_SRP_CRED_RSP, "SRP_CRED_RSP", XS_SRP_CRED_RSP_LEN },
	{ XS_SRP_AER_RSP, "SRP_AER_RSP", XS_SRP_AER_RSP_LEN },
	{ XS_SRP_T_LOGOUT, "SRP_T_LOGOUT", XS_SRP_T_LOGOUT_LEN },
	{ XS_SRP_CRED_REQ, "SRP_CRED_REQ", XS_SRP_CRED_REQ_LEN },
	{ XS_SRP_AER_REQ, "SRP_AER_REQ", XS_SRP_AER_REQ_MIN_LEN },
	{ XS_SRP_LOGIN_RSP, "SRP_LOGIN_RSP", XS_SRP_LOGIN_RSP_LEN },
	{ XS_SRP_RSP, "SRP_RSP", XS_SRP_RSP_MIN_LEN },
	{ XS_SRP_LOGIN_REJ, "SRP_LOGIN_REJ", XS_SRP_LOGIN_REJ_LEN },
};

const char *xs_srp_iu_name(uint8_t type)
{
	for (size_t i = 0; i < XS_ARRAY_SIZE(iu_table); i++)
		if (iu_table[i].type == type)
			return iu_table[i].name;
	return "unknown";
}

size_t xs_srp_iu_min_len(uint8_t type)
{
	for (size_t i = 0; i < XS_ARRAY_SIZE(iu_table); i++)
		if (iu_table[i].type == type)
			return iu_table[i].min_len;
	return 0;
}

int xs_srp_iu_type(const uint8_t *buf, size_t len)
{
	size_t need;

	if (len == 0)
		return srp_reject(XS_SRP_C_IU_TYPE, -EMSGSIZE, "empty IU");
	need = xs_srp_iu_min_len(buf[0]);
	if (need == 0)
		return srp_reject(XS_SRP_C_IU_TYPE, -EBADMSG, "unknown IU type 0x%02x", buf[0]);
	if (len < need)
		return srp_reject(XS_SRP_C_IU_TYPE, -EMSGSIZE, "%s of %zu bytes, need %zu",
				  xs_srp_iu_name(buf[0]), len, need);
	return buf[0];
}

/* --------------------------------------------------------- LOGIN_REQ */

int xs_srp_login_req_decode(const uint8_t *buf, size_t len, struct xs_srp_login_req *req)
{
	int rc = srp_check(XS_SRP_C_LOGIN_REQ, buf, len, XS_SRP_LOGIN_REQ_LEN, XS_SRP_LOGIN_REQ);

	if (rc)
		return rc;
	req->tag = xs_get64(buf + 8);
	req->req_it_iu_len = xs_get32(buf + 16);
	req->req_buf_fmt = xs_get16(buf + 24);
	req->req_flags = buf[26];
	req->imm_data_offset = xs_get16(buf + 28);
	memcpy(req->initiator_port_id, buf + 32, 16);
	memcpy(req->target_port_id, buf + 48, 16);
	return 0;
}

int xs_srp_login_req_encode(const struct xs_srp_login_req *req, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("login_req", cap, XS_SRP_LOGIN_REQ_LEN);

	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_LOGIN_REQ_LEN);
	buf[0] = XS_SRP_LOGIN_REQ;
	xs_put64(buf + 8, req->tag);
	xs_put32(buf + 16, req->req_it_iu_len);
	xs_put16(buf + 24, req->req_buf_fmt);
	buf[26] = req->req_flags;
	xs_put16(buf + 28, req->imm_data_offset);
	memcpy(buf + 32, req->initiator_port_id, 16);
	memcpy(buf + 48, req->target_port_id, 16);
	return XS_SRP_LOGIN_REQ_LEN;
}

int xs_srp_login_req_rdma_cm_decode(const uint8_t *buf, size_t len, struct xs_srp_login_req *req)
{
	if (len < XS_SRP_LOGIN_REQ_RDMA_CM_LEN)
		return srp_reject(XS_SRP_C_LOGIN_REQ, -EMSGSIZE,
				  "rdma_cm form truncated: %zu bytes, need %d", len,
				  XS_SRP_LOGIN_REQ_RDMA_CM_LEN);
	if (buf[11] != XS_SRP_LOGIN_REQ)
		return srp_reject(XS_SRP_C_LOGIN_REQ, -EBADMSG,
				  "rdma_cm form: IU type 0x%02x at byte 11, expected 0x%02x", buf[11],
				  XS_SRP_LOGIN_REQ);
	req->tag = xs_get64(buf);
	req->req_buf_fmt = xs_get16(buf + 8);
	req->req_flags = buf[10];
	req->req_it_iu_len = xs_get32(buf + 12);
	memcpy(req->initiator_port_id, buf + 16, 16);
	memcpy(req->target_port_id, buf + 32, 16);
	req->imm_data_offset = xs_get16(buf + 48);
	return 0;
}

int xs_srp_login_req_rdma_cm_encode(const struct xs_srp_login_req *req, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("login_req (rdma_cm)", cap, XS_SRP_LOGIN_REQ_RDMA_CM_LEN);

	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_LOGIN_REQ_RDMA_CM_LEN);
	xs_put64(buf, req->tag);
	xs_put16(buf + 8, req->req_buf_fmt);
	buf[10] = req->req_flags;
	buf[11] = XS_SRP_LOGIN_REQ;
	xs_put32(buf + 12, req->req_it_iu_len);
	memcpy(buf + 16, req->initiator_port_id, 16);
	memcpy(buf + 32, req->target_port_id, 16);
	xs_put16(buf + 48, req->imm_data_offset);
	return XS_SRP_LOGIN_REQ_RDMA_CM_LEN;
}

/* --------------------------------------------------------- LOGIN_RSP */

int xs_srp_login_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_login_rsp *rsp)
{
	int rc = srp_check(XS_SRP_C_LOGIN_RSP, buf, len, XS_SRP_LOGIN_RSP_LEN, XS_SRP_LOGIN_RSP);
	uint32_t it, ti;

	if (rc)
		return rc;
	it = xs_get32(buf + 16);
	ti = xs_get32(buf + 20);
	if (it < XS_SRP_CMD_MIN_LEN)
		return srp_reject(XS_SRP_C_LOGIN_RSP, -EBADMSG,
				  "max initiator-to-target IU length %u below the %d-byte SRP_CMD",
				  it, XS_SRP_CMD_MIN_LEN);
	if (ti < XS_SRP_RSP_MIN_LEN)
		return srp_reject(XS_SRP_C_LOGIN_RSP, -EBADMSG,
				  "max target-to-initiator IU length %u below the %d-byte SRP_RSP",
				  ti, XS_SRP_RSP_MIN_LEN);
	rsp->req_lim_delta = xs_get32(buf + 4);
	rsp->tag = xs_get64(buf + 8);
	rsp->max_it_iu_len = it;
	rsp->max_ti_iu_len = ti;
	rsp->buf_fmt = xs_get16(buf + 24);
	rsp->rsp_flags = buf[26];
	return 0;
}

int xs_srp_login_rsp_encode(const struct xs_srp_login_rsp *rsp, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("login_rsp", cap, XS_SRP_LOGIN_RSP_LEN);

	if (rc)
		return rc;
	if (rsp->max_it_iu_len < XS_SRP_CMD_MIN_LEN || rsp->max_ti_iu_len < XS_SRP_RSP_MIN_LEN)
		return -EINVAL;
	memset(buf, 0, XS_SRP_LOGIN_RSP_LEN);
	buf[0] = XS_SRP_LOGIN_RSP;
	xs_put32(buf + 4, rsp->req_lim_delta);
	xs_put64(buf + 8, rsp->tag);
	xs_put32(buf + 16, rsp->max_it_iu_len);
	xs_put32(buf + 20, rsp->max_ti_iu_len);
	xs_put16(buf + 24, rsp->buf_fmt);
	buf[26] = rsp->rsp_flags;
	return XS_SRP_LOGIN_RSP_LEN;
}

/* --------------------------------------------------------- LOGIN_REJ */

const char *xs_srp_login_rej_reason_str(uint32_t reason)
{
	switch (reason) {
	case XS_SRP_REJ_UNABLE_ESTABLISH:
		return "unable to establish RDMA channel, no reason specified";
	case XS_SRP_REJ_INSUFFICIENT_RESOURCES:
		return "insufficient RDMA channel resources";
	case XS_SRP_REJ_IT_IU_LEN_TOO_LARGE:
		return "requested maximum initiator to target IU length too large";
	case XS_SRP_REJ_UNABLE_ASSOCIATE:
		return "unable to associate RDMA channel with specified I_T nexus";
	case XS_SRP_REJ_UNSUPPORTED_DESC_FMT:
		return "requested data buffer descriptor format not supported";
	case XS_SRP_REJ_MULTI_CHANNEL_UNSUPPORTED:
		return "multiple RDMA channels per I_T nexus not supported";
	case XS_SRP_REJ_CHANNEL_LIMIT:
		return "RDMA channel limit reached for this initiator";
	}
	return "unknown reject reason";
}

int xs_srp_login_rej_decode(const uint8_t *buf, size_t len, struct xs_srp_login_rej *rej)
{
	int rc = srp_check(XS_SRP_C_LOGIN_REJ, buf, len, XS_SRP_LOGIN_REJ_LEN, XS_SRP_LOGIN_REJ);

	if (rc)
		return rc;
	rej->reason = xs_get32(buf + 4);
	rej->tag = xs_get64(buf + 8);
	rej->buf_fmt = xs_get16(buf + 24);
	return 0;
}

int xs_srp_login_rej_encode(const struct xs_srp_login_rej *rej, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("login_rej", cap, XS_SRP_LOGIN_REJ_LEN);

	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_LOGIN_REJ_LEN);
	buf[0] = XS_SRP_LOGIN_REJ;
	xs_put32(buf + 4, rej->reason);
	xs_put64(buf + 8, rej->tag);
	xs_put16(buf + 24, rej->buf_fmt);
	return XS_SRP_LOGIN_REJ_LEN;
}

/* ------------------------------------------ tag-only IUs and T_LOGOUT */

static int tag_only_decode(enum xs_srp_codec codec, uint8_t type, const uint8_t *buf,
			   size_t len, uint64_t *tag)
{
	int rc = srp_check(codec, buf, len, 16, type);

	if (rc)
		return rc;
	*tag = xs_get64(buf + 8);
	return 0;
}

static int tag_only_encode(const char *what, uint8_t type, uint64_t tag, uint8_t *buf,
			   size_t cap)
{
	int rc = srp_cap(what, cap, 16);

	if (rc)
		return rc;
	memset(buf, 0, 16);
	buf[0] = type;
	xs_put64(buf + 8, tag);
	return 16;
}

int xs_srp_i_logout_decode(const uint8_t *buf, size_t len, struct xs_srp_i_logout *lo)
{
	return tag_only_decode(XS_SRP_C_I_LOGOUT, XS_SRP_I_LOGOUT, buf, len, &lo->tag);
}

int xs_srp_i_logout_encode(const struct xs_srp_i_logout *lo, uint8_t *buf, size_t cap)
{
	return tag_only_encode("i_logout", XS_SRP_I_LOGOUT, lo->tag, buf, cap);
}

int xs_srp_cred_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_tag_rsp *r)
{
	return tag_only_decode(XS_SRP_C_CRED_RSP, XS_SRP_CRED_RSP, buf, len, &r->tag);
}

int xs_srp_cred_rsp_encode(const struct xs_srp_tag_rsp *r, uint8_t *buf, size_t cap)
{
	return tag_only_encode("cred_rsp", XS_SRP_CRED_RSP, r->tag, buf, cap);
}

int xs_srp_aer_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_tag_rsp *r)
{
	return tag_only_decode(XS_SRP_C_AER_RSP, XS_SRP_AER_RSP, buf, len, &r->tag);
}

int xs_srp_aer_rsp_encode(const struct xs_srp_tag_rsp *r, uint8_t *buf, size_t cap)
{
	return tag_only_encode("aer_rsp", XS_SRP_AER_RSP, r->tag, buf, cap);
}

const char *xs_srp_t_logout_reason_str(uint32_t reason)
{
	switch (reason) {
	case XS_SRP_TLO_NO_REASON:
		return "no reason specified";
	case XS_SRP_TLO_INACTIVE:
		return "inactive RDMA channel";
	case XS_SRP_TLO_INVALID_IU_TYPE:
		return "invalid IU type received by the target";
	case XS_SRP_TLO_UNEXPECTED_RSP:
		return "response for which no request was pending";
	case XS_SRP_TLO_MULTI_CHANNEL_ACTION:
		return "disconnected by a multi-channel action of a new login";
	case XS_SRP_TLO_UNSUPPORTED_DO_FMT:
		return "unsupported data-out buffer descriptor format";
	case XS_SRP_TLO_UNSUPPORTED_DI_FMT:
		return "unsupported data-in buffer descriptor format";
	case XS_SRP_TLO_INVALID_IU_LEN:
		return "invalid IU length for the IU type";
	}
	return "unknown logout reason";
}

int xs_srp_t_logout_decode(const uint8_t *buf, size_t len, struct xs_srp_t_logout *lo)
{
	int rc = srp_check(XS_SRP_C_T_LOGOUT, buf, len, XS_SRP_T_LOGOUT_LEN, XS_SRP_T_LOGOUT);

	if (rc)
		return rc;
	lo->flags = buf[1];
	lo->reason = xs_get32(buf + 4);
	lo->tag = xs_get64(buf + 8);
	return 0;
}

int xs_srp_t_logout_encode(const struct xs_srp_t_logout *lo, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("t_logout", cap, XS_SRP_T_LOGOUT_LEN);

	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_T_LOGOUT_LEN);
	buf[0] = XS_SRP_T_LOGOUT;
	buf[1] = lo->flags;
	xs_put32(buf + 4, lo->reason);
	xs_put64(buf + 8, lo->tag);
	return XS_SRP_T_LOGOUT_LEN;
}

int xs_srp_cred_req_decode(const uint8_t *buf, size_t len, struct xs_srp_cred_req *cr)
{
	int rc = srp_check(XS_SRP_C_CRED_REQ, buf, len, XS_SRP_CRED_REQ_LEN, XS_SRP_CRED_REQ);

	if (rc)
		return rc;
	cr->flags = buf[1];
	cr->req_lim_delta = xs_get32(buf + 4);
	cr->tag = xs_get64(buf + 8);
	return 0;
}

int xs_srp_cred_req_encode(const struct xs_srp_cred_req *cr, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("cred_req", cap, XS_SRP_CRED_REQ_LEN);

	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_CRED_REQ_LEN);
	buf[0] = XS_SRP_CRED_REQ;
	buf[1] = cr->flags;
	xs_put32(buf + 4, cr->req_lim_delta);
	xs_put64(buf + 8, cr->tag);
	return XS_SRP_CRED_REQ_LEN;
}

/* ---------------------------------------------------------- TSK_MGMT */

bool xs_srp_tsk_func_known(uint8_t func)
{
	switch (func) {
	case XS_SRP_TSK_ABORT_TASK:
	case XS_SRP_TSK_ABORT_TASK_SET:
	case XS_SRP_TSK_CLEAR_TASK_SET:
	case XS_SRP_TSK_LUN_RESET:
	case XS_SRP_TSK_CLEAR_ACA:
		return true;
	}
	return false;
}

int xs_srp_tsk_mgmt_decode(const uint8_t *buf, size_t len, struct xs_srp_tsk_mgmt *tm)
{
	int rc = srp_check(XS_SRP_C_TSK_MGMT, buf, len, XS_SRP_TSK_MGMT_LEN, XS_SRP_TSK_MGMT);

	if (rc)
		return rc;
	tm->flags = buf[1];
	tm->tag = xs_get64(buf + 8);
	tm->lun = xs_get64(buf + 20);
	tm->func = buf[30];
	tm->task_tag = xs_get64(buf + 32);
	return 0;
}

int xs_srp_tsk_mgmt_encode(const struct xs_srp_tsk_mgmt *tm, uint8_t *buf, size_t cap)
{
	int rc = srp_cap("tsk_mgmt", cap, XS_SRP_TSK_MGMT_LEN);

	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_TSK_MGMT_LEN);
	buf[0] = XS_SRP_TSK_MGMT;
	buf[1] = tm->flags;
	xs_put64(buf + 8, tm->tag);
	xs_put64(buf + 20, tm->lun);
	buf[30] = tm->func;
	xs_put64(buf + 32, tm->task_tag);
	return XS_SRP_TSK_MGMT_LEN;
}

/* --------------------------------------------------------------- CMD */

void xs_srp_desc_get(const uint8_t *p, struct xs_srp_desc *d)
{
	d->va = xs_get64(p);
	d->key = xs_get32(p + 8);
	d->len = xs_get32(p + 12);
}

void xs_srp_desc_put(uint8_t *p, const struct xs_srp_desc *d)
{
	xs_put64(p, d->va);
	xs_put32(p + 8, d->key);
	xs_put32(p + 12, d->len);
}

/*
 * Decode one data buffer description at buf[*off]; advance *off. @dir is
 * "data-out" or "data-in" for the log.
 */
static int cmd_buf_decode(const uint8_t *buf, size_t len, size_t *off, uint8_t fmt,
			  uint8_t count, const char *dir, struct xs_srp_data_buf *b)
{
	size_t need;
	uint32_t ntable;

	memset(b, 0, sizeof(*b));
	b->fmt = fmt;
	switch (fmt) {
	case XS_SRP_FMT_NONE:
		if (count)
			return srp_reject(XS_SRP_C_CMD, -EBADMSG,
					  "%s descriptor count %u without a data buffer", dir,
					  count);
		return 0;
	case XS_SRP_FMT_DIRECT:
		if (len - *off < XS_SRP_DESC_LEN)
			return srp_reject(XS_SRP_C_CMD, -EMSGSIZE,
					  "%s direct descriptor at %zu past the %zu-byte IU", dir,
					  *off, len);
		xs_srp_desc_get(buf + *off, &b->direct);
		b->total_len = b->direct.len;
		*off += XS_SRP_DESC_LEN;
		return 0;
	case XS_SRP_FMT_INDIRECT:
		need = XS_SRP_INDIRECT_HDR_LEN + (size_t)count * XS_SRP_DESC_LEN;
		if (len - *off < need)
			return srp_reject(XS_SRP_C_CMD, -EMSGSIZE,
					  "%s indirect buffer with %u descriptors needs %zu bytes "
					  "at %zu, IU has %zu",
					  dir, count, need, *off, len);
		xs_srp_desc_get(buf + *off, &b->table);
		b->total_len = xs_get32(buf + *off + XS_SRP_DESC_LEN);
		b->count = count;
		b->list_wire = buf + *off + XS_SRP_INDIRECT_HDR_LEN;
		if (b->table.len % XS_SRP_DESC_LEN)
			return srp_reject(XS_SRP_C_CMD, -EBADMSG,
					  "%s descriptor table length %u is no multiple of 16", dir,
					  b->table.len);
		ntable = b->table.len / XS_SRP_DESC_LEN;
		if (ntable == 0)
			return srp_reject(XS_SRP_C_CMD, -EBADMSG, "%s descriptor table is empty",
					  dir);
		if (count > ntable)
			return srp_reject(XS_SRP_C_CMD, -EBADMSG,
					  "%s partial list of %u descriptors exceeds the table of %u",
					  dir, count, ntable);
		b->external = count < ntable;
		if (!b->external) {
			uint64_t sum = 0;
			struct xs_srp_desc d;

			for (unsigned int i = 0; i < count; i++) {
				xs_srp_desc_get(b->list_wire + i * XS_SRP_DESC_LEN, &d);
				sum += d.len;
			}
			if (sum != b->total_len)
				return srp_reject(XS_SRP_C_CMD, -EBADMSG,
						  "%s descriptor lengths add up to %llu, total "
						  "length says %u",
						  dir, (unsigned long long)sum, b->total_len);
		}
		*off += need;
		return 0;
	}
	return srp_reject(XS_SRP_C_CMD, -EOPNOTSUPP, "%s descriptor format %u not supported",
			  dir, fmt);
}

int xs_srp_cmd_decode(const uint8_t *buf, size_t len, struct xs_srp_cmd *cmd)
{
	struct xs_srp_data_buf out, in;
	size_t add, off;
	int rc = srp_check(XS_SRP_C_CMD, buf, len, XS_SRP_CMD_MIN_LEN, XS_SRP_CMD);

	if (rc)
		return rc;
	add = buf[31] & 0xfc;
	off = XS_SRP_CMD_MIN_LEN + add;
	if (off > len)
		return srp_reject(XS_SRP_C_CMD, -EMSGSIZE,
				  "additional CDB length %zu runs past the %zu-byte IU", add, len);
	rc = cmd_buf_decode(buf, len, &off, buf[5] >> 4, buf[6], "data-out", &out);
	if (rc)
		return rc;
	rc = cmd_buf_decode(buf, len, &off, buf[5] & 0x0f, buf[7], "data-in", &in);
	if (rc)
		return rc;
	cmd->flags = buf[1];
	cmd->tag = xs_get64(buf + 8);
	cmd->lun = xs_get64(buf + 20);
	cmd->task_attr = buf[29] & 0x07;
	cmd->cdb_len = (uint16_t)(XS_SRP_CDB_LEN + add);
	memcpy(cmd->cdb, buf + 32, cmd->cdb_len);
	memset(cmd->cdb + cmd->cdb_len, 0, sizeof(cmd->cdb) - cmd->cdb_len);
	cmd->out = out;
	cmd->in = in;
	return 0;
}

static size_t cmd_buf_len(const struct xs_srp_data_buf *b)
{
	switch (b->fmt) {
	case XS_SRP_FMT_NONE:
		return 0;
	case XS_SRP_FMT_DIRECT:
		return XS_SRP_DESC_LEN;
	case XS_SRP_FMT_INDIRECT:
		if (b->count && !b->list)
			return SIZE_MAX;
		if ((size_t)b->count * XS_SRP_DESC_LEN > b->table.len)
			return SIZE_MAX;
		return XS_SRP_INDIRECT_HDR_LEN + (size_t)b->count * XS_SRP_DESC_LEN;
	}
	return SIZE_MAX;
}

size_t xs_srp_cmd_len(const struct xs_srp_cmd *cmd)
{
	size_t o = cmd_buf_len(&cmd->out), i = cmd_buf_len(&cmd->in);

	if (cmd->cdb_len < XS_SRP_CDB_LEN || cmd->cdb_len > XS_SRP_MAX_CDB_LEN ||
	    (cmd->cdb_len - XS_SRP_CDB_LEN) % 4)
		return 0;
	if (o == SIZE_MAX || i == SIZE_MAX)
		return 0;
	return XS_SRP_CMD_MIN_LEN + (cmd->cdb_len - XS_SRP_CDB_LEN) + o + i;
}

static size_t cmd_buf_put(uint8_t *p, const struct xs_srp_data_buf *b)
{
	switch (b->fmt) {
	case XS_SRP_FMT_DIRECT:
		xs_srp_desc_put(p, &b->direct);
		return XS_SRP_DESC_LEN;
	case XS_SRP_FMT_INDIRECT:
		xs_srp_desc_put(p, &b->table);
		xs_put32(p + XS_SRP_DESC_LEN, b->total_len);
		for (unsigned int i = 0; i < b->count; i++)
			xs_srp_desc_put(p + XS_SRP_INDIRECT_HDR_LEN + i * XS_SRP_DESC_LEN,
					&b->list[i]);
		return XS_SRP_INDIRECT_HDR_LEN + (size_t)b->count * XS_SRP_DESC_LEN;
	}
	return 0;
}

int xs_srp_cmd_encode(const struct xs_srp_cmd *cmd, uint8_t *buf, size_t cap)
{
	size_t n = xs_srp_cmd_len(cmd), off;
	int rc;

	if (n == 0) {
		XS_DEBUG(SRP_LOG, "cmd encode: invalid CDB length %u or data buffer",
			 cmd->cdb_len);
		return -EINVAL;
	}
	rc = srp_cap("cmd", cap, n);
	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_CMD_MIN_LEN);
	buf[0] = XS_SRP_CMD;
	buf[1] = cmd->flags;
	buf[5] = (uint8_t)(cmd->out.fmt << 4 | cmd->in.fmt);
	buf[6] = cmd->out.fmt == XS_SRP_FMT_INDIRECT ? cmd->out.count : 0;
	buf[7] = cmd->in.fmt == XS_SRP_FMT_INDIRECT ? cmd->in.count : 0;
	xs_put64(buf + 8, cmd->tag);
	xs_put64(buf + 20, cmd->lun);
	buf[29] = cmd->task_attr & 0x07;
	buf[31] = (uint8_t)(cmd->cdb_len - XS_SRP_CDB_LEN);
	memcpy(buf + 32, cmd->cdb, cmd->cdb_len);
	off = XS_SRP_CMD_MIN_LEN + (cmd->cdb_len - XS_SRP_CDB_LEN);
	off += cmd_buf_put(buf + off, &cmd->out);
	off += cmd_buf_put(buf + off, &cmd->in);
	return (int)off;
}

int xs_srp_indirect_table_check(const struct xs_srp_data_buf *b, const uint8_t *table,
				size_t len)
{
	uint64_t sum = 0;
	struct xs_srp_desc d;

	if (b->fmt != XS_SRP_FMT_INDIRECT)
		return srp_reject(XS_SRP_C_INDIRECT_TABLE, -EBADMSG,
				  "buffer format %u is not indirect", b->fmt);
	if (len != b->table.len)
		return srp_reject(XS_SRP_C_INDIRECT_TABLE, -EMSGSIZE,
				  "fetched %zu bytes of a %u-byte table", len, b->table.len);
	if (len % XS_SRP_DESC_LEN)
		return srp_reject(XS_SRP_C_INDIRECT_TABLE, -EBADMSG,
				  "table length %zu is no multiple of 16", len);
	for (size_t off = 0; off < len; off += XS_SRP_DESC_LEN) {
		xs_srp_desc_get(table + off, &d);
		sum += d.len;
	}
	if (sum != b->total_len)
		return srp_reject(XS_SRP_C_INDIRECT_TABLE, -EBADMSG,
				  "table lengths add up to %llu, total length says %u",
				  (unsigned long long)sum, b->total_len);
	return 0;
}

/* --------------------------------------------------------------- RSP */

int xs_srp_rsp_decode(const uint8_t *buf, size_t len, struct xs_srp_rsp *rsp)
{
	int rc = srp_check(XS_SRP_C_RSP, buf, len, XS_SRP_RSP_MIN_LEN, XS_SRP_RSP);
	uint8_t valid;
	uint32_t sense_len, resp_len;

	if (rc)
		return rc;
	valid = buf[18];
	sense_len = xs_get32(buf + 28);
	resp_len = xs_get32(buf + 32);
	if ((valid & XS_SRP_RSP_DOOVER) && (valid & XS_SRP_RSP_DOUNDER))
		return srp_reject(XS_SRP_C_RSP, -EBADMSG,
				  "data-out residual both overflow and underflow");
	if ((valid & XS_SRP_RSP_DIOVER) && (valid & XS_SRP_RSP_DIUNDER))
		return srp_reject(XS_SRP_C_RSP, -EBADMSG,
				  "data-in residual both overflow and underflow");
	if (valid & XS_SRP_RSP_RSPVALID) {
		if (resp_len != XS_SRP_RSP_DATA_LEN)
			return srp_reject(XS_SRP_C_RSP, -EBADMSG,
					  "response data length %u, must be 4", resp_len);
	} else if (resp_len) {
		return srp_reject(XS_SRP_C_RSP, -EBADMSG,
				  "response data length %u without RSPVALID", resp_len);
	}
	if (valid & XS_SRP_RSP_SNSVALID) {
		if (sense_len == 0)
			return srp_reject(XS_SRP_C_RSP, -EBADMSG, "SNSVALID with no sense data");
	} else if (sense_len) {
		return srp_reject(XS_SRP_C_RSP, -EBADMSG, "sense length %u without SNSVALID",
				  sense_len);
	}
	if ((uint64_t)XS_SRP_RSP_MIN_LEN + resp_len + sense_len > len)
		return srp_reject(XS_SRP_C_RSP, -EMSGSIZE,
				  "response %u + sense %u bytes run past the %zu-byte IU",
				  resp_len, sense_len, len);
	rsp->flags = buf[1];
	rsp->req_lim_delta = xs_get32(buf + 4);
	rsp->tag = xs_get64(buf + 8);
	rsp->valid = valid;
	rsp->status = buf[19];
	rsp->data_out_res = xs_get32(buf + 20);
	rsp->data_in_res = xs_get32(buf + 24);
	rsp->rsp_code = resp_len ? buf[XS_SRP_RSP_MIN_LEN + 3] : 0;
	rsp->sense_len = sense_len;
	rsp->sense = sense_len ? buf + XS_SRP_RSP_MIN_LEN + resp_len : NULL;
	return 0;
}

static bool rsp_valid(const struct xs_srp_rsp *rsp)
{
	if ((rsp->valid & XS_SRP_RSP_DOOVER) && (rsp->valid & XS_SRP_RSP_DOUNDER))
		return false;
	if ((rsp->valid & XS_SRP_RSP_DIOVER) && (rsp->valid & XS_SRP_RSP_DIUNDER))
		return false;
	if (rsp->valid & XS_SRP_RSP_SNSVALID)
		return rsp->sense_len > 0 && rsp->sense;
	return rsp->sense_len == 0;
}

size_t xs_srp_rsp_len(const struct xs_srp_rsp *rsp)
{
	size_t n = XS_SRP_RSP_MIN_LEN;

	if (!rsp_valid(rsp))
		return 0;
	if (rsp->valid & XS_SRP_RSP_RSPVALID)
		n += XS_SRP_RSP_DATA_LEN;
	if (rsp->valid & XS_SRP_RSP_SNSVALID)
		n += rsp->sense_len;
	return n;
}

int xs_srp_rsp_encode(const struct xs_srp_rsp *rsp, uint8_t *buf, size_t cap)
{
	size_t n = xs_srp_rsp_len(rsp), off = XS_SRP_RSP_MIN_LEN;
	int rc;

	if (n == 0 || n > INT32_MAX)
		return -EINVAL;
	rc = srp_cap("rsp", cap, n);
	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_RSP_MIN_LEN);
	buf[0] = XS_SRP_RSP;
	buf[1] = rsp->flags;
	xs_put32(buf + 4, rsp->req_lim_delta);
	xs_put64(buf + 8, rsp->tag);
	buf[18] = rsp->valid;
	buf[19] = rsp->status;
	xs_put32(buf + 20, rsp->data_out_res);
	xs_put32(buf + 24, rsp->data_in_res);
	if (rsp->valid & XS_SRP_RSP_RSPVALID) {
		xs_put32(buf + 32, XS_SRP_RSP_DATA_LEN);
		memset(buf + off, 0, 3);
		buf[off + 3] = rsp->rsp_code;
		off += XS_SRP_RSP_DATA_LEN;
	}
	if (rsp->valid & XS_SRP_RSP_SNSVALID) {
		xs_put32(buf + 28, rsp->sense_len);
		memcpy(buf + off, rsp->sense, rsp->sense_len);
		off += rsp->sense_len;
	}
	return (int)off;
}

/* ----------------------------------------------------------- AER_REQ */

int xs_srp_aer_req_decode(const uint8_t *buf, size_t len, struct xs_srp_aer_req *aer)
{
	int rc = srp_check(XS_SRP_C_AER_REQ, buf, len, XS_SRP_AER_REQ_MIN_LEN, XS_SRP_AER_REQ);
	uint32_t sense_len;

	if (rc)
		return rc;
	sense_len = xs_get32(buf + 28);
	if (sense_len == 0)
		return srp_reject(XS_SRP_C_AER_REQ, -EBADMSG, "event without sense data");
	if (sense_len > len - XS_SRP_AER_REQ_MIN_LEN)
		return srp_reject(XS_SRP_C_AER_REQ, -EMSGSIZE,
				  "sense length %u runs past the %zu-byte IU", sense_len, len);
	aer->flags = buf[1];
	aer->req_lim_delta = xs_get32(buf + 4);
	aer->tag = xs_get64(buf + 8);
	aer->lun = xs_get64(buf + 20);
	aer->sense_len = sense_len;
	aer->sense = buf + XS_SRP_AER_REQ_MIN_LEN;
	return 0;
}

int xs_srp_aer_req_encode(const struct xs_srp_aer_req *aer, uint8_t *buf, size_t cap)
{
	size_t n;
	int rc;

	if (aer->sense_len == 0 || !aer->sense || aer->sense_len > INT32_MAX - 64)
		return -EINVAL;
	n = XS_SRP_AER_REQ_MIN_LEN + (size_t)aer->sense_len;
	rc = srp_cap("aer_req", cap, n);
	if (rc)
		return rc;
	memset(buf, 0, XS_SRP_AER_REQ_MIN_LEN);
	buf[0] = XS_SRP_AER_REQ;
	buf[1] = aer->flags;
	xs_put32(buf + 4, aer->req_lim_delta);
	xs_put64(buf + 8, aer->tag);
	xs_put64(buf + 20, aer->lun);
	xs_put32(buf + 28, aer->sense_len);
	memcpy(buf + XS_SRP_AER_REQ_MIN_LEN, aer->sense, aer->sense_len);
	return (int)n;
}
