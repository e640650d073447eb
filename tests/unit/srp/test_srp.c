/* SPDX-License-Identifier: MIT */
/*
 * test_srp.c - SRP IU codecs: hand-written byte vectors (several laid out as
 * the Linux ib_srp initiator and a standard target send them), round trips,
 * truncation at every length, and every length/count check.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <xscore/srp.h>

/*
 * Every length below @need must fail with -EMSGSIZE, leave the output
 * untouched and count one rejection each.
 */
#define ASSERT_TRUNCATED(codec, decode, buf, need, out_type)                           \
	do {                                                                           \
		uint64_t before_ = xs_srp_rejects(codec);                              \
		for (size_t len_ = 0; len_ < (size_t)(need); len_++) {                 \
			out_type out_, ref_;                                           \
			memset(&out_, 0xa5, sizeof(out_));                            \
			memset(&ref_, 0xa5, sizeof(ref_));                            \
			assert_int_equal(decode((buf), len_, &out_), -EMSGSIZE);       \
			assert_memory_equal(&out_, &ref_, sizeof(out_));               \
		}                                                                      \
		assert_int_equal(xs_srp_rejects(codec) - before_, (need));             \
	} while (0)

/* Encoding into any capacity below @need gives -EMSGSIZE and writes nothing. */
#define ASSERT_ENCODE_CAP(encode, in, need)                                            \
	do {                                                                           \
		uint8_t b_[1024], r_[1024];                                            \
		for (size_t cap_ = 0; cap_ < (size_t)(need); cap_++) {                 \
			memset(b_, 0x5a, sizeof(b_));                                  \
			memset(r_, 0x5a, sizeof(r_));                                  \
			assert_int_equal(encode((in), b_, cap_), -EMSGSIZE);           \
			assert_memory_equal(b_, r_, sizeof(b_));                       \
		}                                                                      \
	} while (0)

/* ------------------------------------------------------------ LOGIN_REQ */

/*
 * The first channel login of the Linux ib_srp initiator with immediate data
 * on (its default): max IU = 48 (SRP_CMD) + 16 (max additional CDB) + 4
 * (immediate data header) + 8192 = 8260, direct|indirect formats, single
 * channel + IMMED, immediate data offset 68, initiator port id = initiator
 * extension + port GUID, target port id = id_ext + IOC GUID.
 */
static const uint8_t login_req_linux[64] = {
	0x00, 0, 0, 0, 0, 0, 0, 0,                      /*  0 type, reserved */
	0, 0, 0, 0, 0, 0, 0, 0,                         /*  8 tag */
	0x00, 0x00, 0x20, 0x44,                         /* 16 req IT IU len 8260 */
	0, 0, 0, 0,                                     /* 20 reserved */
	0x00, 0x06,                                     /* 24 direct | indirect */
	0x80,                                           /* 26 IMMED | MCA single */
	0x00,                                           /* 27 reserved */
	0x00, 0x44,                                     /* 28 imm data offset 68 */
	0, 0,                                           /* 30 reserved */
	0, 0, 0, 0, 0, 0, 0, 0,                         /* 32 initiator ext */
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0xbc, 0xde, /* 40 port GUID */
	0x00, 0x13, 0x97, 0x01, 0x00, 0x00, 0x00, 0x01, /* 48 id_ext */
	0x00, 0x13, 0x97, 0x00, 0x00, 0x00, 0x10, 0x01, /* 56 IOC GUID */
};

static void login_req_linux_vector(void **state)
{
	struct xs_srp_login_req r;
	uint8_t out[80];

	assert_int_equal(xs_srp_iu_type(login_req_linux, sizeof(login_req_linux)),
			 XS_SRP_LOGIN_REQ);
	assert_int_equal(xs_srp_login_req_decode(login_req_linux, 64, &r), 0);
	assert_true(r.tag == 0);
	assert_int_equal(r.req_it_iu_len, 8260);
	assert_int_equal(r.req_buf_fmt, XS_SRP_BUF_FMT_DIRECT | XS_SRP_BUF_FMT_INDIRECT);
	assert_int_equal(r.req_flags & XS_SRP_LOGIN_REQ_MCA_MASK, XS_SRP_MCA_SINGLE);
	assert_true(r.req_flags & XS_SRP_LOGIN_REQ_IMMED);
	assert_int_equal(r.imm_data_offset, 68);
	assert_memory_equal(r.initiator_port_id, login_req_linux + 32, 16);
	assert_int_equal(r.target_port_id[2], 0x97);
	assert_int_equal(r.target_port_id[15], 0x01);

	memset(out, 0xee, sizeof(out));
	assert_int_equal(xs_srp_login_req_encode(&r, out, sizeof(out)), 64);
	assert_memory_equal(out, login_req_linux, 64);
	assert_int_equal(out[64], 0xee);
	ASSERT_ENCODE_CAP(xs_srp_login_req_encode, &r, 64);
	ASSERT_TRUNCATED(XS_SRP_C_LOGIN_REQ, xs_srp_login_req_decode, login_req_linux, 64,
			 struct xs_srp_login_req);
}

static void login_req_reserved_ignored_wrong_type_rejected(void **state)
{
	uint8_t b[64], out[64];
	struct xs_srp_login_req r;
	uint64_t before = xs_srp_rejects(XS_SRP_C_LOGIN_REQ);

	memcpy(b, login_req_linux, 64);
	b[3] = 0xff;
	b[21] = 0x77;
	b[27] = 0x12;
	assert_int_equal(xs_srp_login_req_decode(b, 64, &r), 0);
	assert_int_equal(xs_srp_login_req_encode(&r, out, 64), 64);
	assert_memory_equal(out, login_req_linux, 64); /* reserved written as zero */

	b[0] = XS_SRP_CMD;
	assert_int_equal(xs_srp_login_req_decode(b, 64, &r), -EBADMSG);
	assert_int_equal(xs_srp_rejects(XS_SRP_C_LOGIN_REQ) - before, 1);
}

/* The same login as Linux ib_srp sends it through rdma_cm over IP (56 bytes,
 * reserved bytes dropped, type at byte 11). */
static const uint8_t login_req_rdma_cm[56] = {
	0, 0, 0, 0, 0, 0, 0, 0,                         /*  0 tag */
	0x00, 0x06,                                     /*  8 direct | indirect */
	0x80,                                           /* 10 IMMED | MCA single */
	0x00,                                           /* 11 SRP_LOGIN_REQ */
	0x00, 0x00, 0x20, 0x44,                         /* 12 req IT IU len 8260 */
	0, 0, 0, 0, 0, 0, 0, 0,                         /* 16 initiator ext */
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0xbc, 0xde, /* 24 port GUID */
	0x00, 0x13, 0x97, 0x01, 0x00, 0x00, 0x00, 0x01, /* 32 id_ext */
	0x00, 0x13, 0x97, 0x00, 0x00, 0x00, 0x10, 0x01, /* 40 IOC GUID */
	0x00, 0x44,                                     /* 48 imm data offset 68 */
	0, 0, 0, 0, 0, 0,                               /* 50 reserved */
};

static void login_req_rdma_cm_form(void **state)
{
	struct xs_srp_login_req a, b;
	uint8_t out[64], bad[56];
	uint64_t before;

	assert_int_equal(xs_srp_login_req_decode(login_req_linux, 64, &a), 0);
	memset(&b, 0x5a, sizeof(b));
	assert_int_equal(xs_srp_login_req_rdma_cm_decode(login_req_rdma_cm, 56, &b), 0);
	assert_true(a.tag == b.tag);
	assert_int_equal(a.req_it_iu_len, b.req_it_iu_len);
	assert_int_equal(a.req_buf_fmt, b.req_buf_fmt);
	assert_int_equal(a.req_flags, b.req_flags);
	assert_int_equal(a.imm_data_offset, b.imm_data_offset);
	assert_memory_equal(a.initiator_port_id, b.initiator_port_id, 16);
	assert_memory_equal(a.target_port_id, b.target_port_id, 16);

	memset(out, 0xee, sizeof(out));
	assert_int_equal(xs_srp_login_req_rdma_cm_encode(&a, out, sizeof(out)), 56);
	assert_memory_equal(out, login_req_rdma_cm, 56);
	assert_int_equal(out[56], 0xee);
	ASSERT_ENCODE_CAP(xs_srp_login_req_rdma_cm_encode, &a, 56);
	ASSERT_TRUNCATED(XS_SRP_C_LOGIN_REQ, xs_srp_login_req_rdma_cm_decode, login_req_rdma_cm,
			 56, struct xs_srp_login_req);

	memcpy(bad, login_req_rdma_cm, 56);
	bad[11] = XS_SRP_CMD;
	before = xs_srp_rejects(XS_SRP_C_LOGIN_REQ);
	assert_int_equal(xs_srp_login_req_rdma_cm_decode(bad, 56, &b), -EBADMSG);
	assert_int_equal(xs_srp_rejects(XS_SRP_C_LOGIN_REQ) - before, 1);
}

/* ------------------------------------------------------ LOGIN_RSP / REJ */

/* What our target answers: 64 credits, IU limits, both formats, SOLNTSUP. */
static const uint8_t login_rsp_vec[52] = {
	0xc0, 0, 0, 0,
	0x00, 0x00, 0x00, 0x40,                         /*  4 req lim delta 64 */
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /*  8 tag */
	0x00, 0x00, 0x01, 0x14,                         /* 16 max IT IU 276 */
	0x00, 0x00, 0x01, 0x00,                         /* 20 max TI IU 256 */
	0x00, 0x06,                                     /* 24 buf fmt */
	0x10,                                           /* 26 SOLNTSUP, MCR 0 */
	/* 27..51 reserved */
};

static void login_rsp_vector(void **state)
{
	struct xs_srp_login_rsp r;
	uint8_t out[64];

	assert_int_equal(xs_srp_login_rsp_decode(login_rsp_vec, 52, &r), 0);
	assert_int_equal(r.req_lim_delta, 64);
	assert_true(r.tag == UINT64_C(0x1122334455667788));
	assert_int_equal(r.max_it_iu_len, 276);
	assert_int_equal(r.max_ti_iu_len, 256);
	assert_int_equal(r.buf_fmt, 6);
	assert_int_equal(r.rsp_flags, XS_SRP_LOGIN_RSP_SOLNTSUP | XS_SRP_MCR_NO_EXISTING);
	assert_int_equal(xs_srp_login_rsp_encode(&r, out, sizeof(out)), 52);
	assert_memory_equal(out, login_rsp_vec, 52);
	ASSERT_ENCODE_CAP(xs_srp_login_rsp_encode, &r, 52);
	ASSERT_TRUNCATED(XS_SRP_C_LOGIN_RSP, xs_srp_login_rsp_decode, login_rsp_vec, 52,
			 struct xs_srp_login_rsp);
}

static void login_rsp_unusable_iu_limits(void **state)
{
	uint8_t b[52];
	struct xs_srp_login_rsp r;

	memcpy(b, login_rsp_vec, 52);
	b[19] = 47; /* max IT IU 47: no SRP_CMD fits */
	b[18] = 0;
	assert_int_equal(xs_srp_login_rsp_decode(b, 52, &r), -EBADMSG);
	memcpy(b, login_rsp_vec, 52);
	b[22] = 0;
	b[23] = 35; /* max TI IU 35: no SRP_RSP fits */
	assert_int_equal(xs_srp_login_rsp_decode(b, 52, &r), -EBADMSG);
	memcpy(b, login_rsp_vec, 52);
	b[23] = 36;
	b[22] = 0;
	assert_int_equal(xs_srp_login_rsp_decode(b, 52, &r), 0);
	r.max_ti_iu_len = 10;
	assert_int_equal(xs_srp_login_rsp_encode(&r, b, 52), -EINVAL);
}

static const uint8_t login_rej_vec[32] = {
	0xc2, 0, 0, 0,
	0x00, 0x01, 0x00, 0x02,                         /* too large IT IU */
	0, 0, 0, 0, 0, 0, 0x12, 0x34,                   /* tag */
	0, 0, 0, 0, 0, 0, 0, 0,
	0x00, 0x06,
	0, 0, 0, 0, 0, 0,
};

static void login_rej_vector_and_reasons(void **state)
{
	struct xs_srp_login_rej r;
	uint8_t out[32];

	assert_int_equal(xs_srp_login_rej_decode(login_rej_vec, 32, &r), 0);
	assert_int_equal(r.reason, XS_SRP_REJ_IT_IU_LEN_TOO_LARGE);
	assert_true(r.tag == 0x1234);
	assert_int_equal(r.buf_fmt, 6);
	assert_string_equal(xs_srp_login_rej_reason_str(r.reason),
			    "requested maximum initiator to target IU length too large");
	assert_string_equal(xs_srp_login_rej_reason_str(0x00010001),
			    "insufficient RDMA channel resources");
	assert_string_equal(xs_srp_login_rej_reason_str(0x00010004),
			    "requested data buffer descriptor format not supported");
	assert_string_equal(xs_srp_login_rej_reason_str(0x00010006),
			    "RDMA channel limit reached for this initiator");
	assert_string_equal(xs_srp_login_rej_reason_str(0x00010009), "unknown reject reason");
	assert_int_equal(xs_srp_login_rej_encode(&r, out, 32), 32);
	assert_memory_equal(out, login_rej_vec, 32);
	ASSERT_ENCODE_CAP(xs_srp_login_rej_encode, &r, 32);
	ASSERT_TRUNCATED(XS_SRP_C_LOGIN_REJ, xs_srp_login_rej_decode, login_rej_vec, 32,
			 struct xs_srp_login_rej);
}

/* ----------------------------------------------------- small fixed IUs */

static void logouts_credits_aer_rsp(void **state)
{
	static const uint8_t i_lo[16] = { 0x03, 0, 0, 0, 0, 0, 0, 0,
					  0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };
	static const uint8_t t_lo[16] = { 0x80, 0x01, 0, 0, 0, 0, 0, 0x02,
					  0, 0, 0, 0, 0, 0, 0, 0x09 };
	static const uint8_t cr_req[16] = { 0x81, 0x01, 0, 0, 0, 0, 0x00, 0x10,
					    0, 0, 0, 0, 0, 0, 0x01, 0x00 };
	static const uint8_t cr_rsp[16] = { 0x41, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0, 0, 0x01, 0x00 };
	static const uint8_t aer_rsp[16] = { 0x42, 0, 0, 0, 0, 0, 0, 0,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe };
	struct xs_srp_i_logout il;
	struct xs_srp_t_logout tl;
	struct xs_srp_cred_req cq;
	struct xs_srp_tag_rsp tr;
	uint8_t out[16];

	assert_int_equal(xs_srp_i_logout_decode(i_lo, 16, &il), 0);
	assert_true(il.tag == 0xdeadbeef);
	assert_int_equal(xs_srp_i_logout_encode(&il, out, 16), 16);
	assert_memory_equal(out, i_lo, 16);
	ASSERT_TRUNCATED(XS_SRP_C_I_LOGOUT, xs_srp_i_logout_decode, i_lo, 16,
			 struct xs_srp_i_logout);
	ASSERT_ENCODE_CAP(xs_srp_i_logout_encode, &il, 16);

	assert_int_equal(xs_srp_t_logout_decode(t_lo, 16, &tl), 0);
	assert_int_equal(tl.flags, XS_SRP_T_LOGOUT_SOLNT);
	assert_int_equal(tl.reason, XS_SRP_TLO_INVALID_IU_TYPE);
	assert_string_equal(xs_srp_t_logout_reason_str(tl.reason),
			    "invalid IU type received by the target");
	assert_string_equal(xs_srp_t_logout_reason_str(XS_SRP_TLO_UNSUPPORTED_DO_FMT),
			    "unsupported data-out buffer descriptor format");
	assert_string_equal(xs_srp_t_logout_reason_str(7), "unknown logout reason");
	assert_true(tl.tag == 9);
	assert_int_equal(xs_srp_t_logout_encode(&tl, out, 16), 16);
	assert_memory_equal(out, t_lo, 16);
	ASSERT_TRUNCATED(XS_SRP_C_T_LOGOUT, xs_srp_t_logout_decode, t_lo, 16,
			 struct xs_srp_t_logout);
	ASSERT_ENCODE_CAP(xs_srp_t_logout_encode, &tl, 16);

	assert_int_equal(xs_srp_cred_req_decode(cr_req, 16, &cq), 0);
	assert_int_equal(cq.flags, 1);
	assert_int_equal(cq.req_lim_delta, 16);
	assert_true(cq.tag == 256);
	assert_int_equal(xs_srp_cred_req_encode(&cq, out, 16), 16);
	assert_memory_equal(out, cr_req, 16);
	ASSERT_TRUNCATED(XS_SRP_C_CRED_REQ, xs_srp_cred_req_decode, cr_req, 16,
			 struct xs_srp_cred_req);
	ASSERT_ENCODE_CAP(xs_srp_cred_req_encode, &cq, 16);

	assert_int_equal(xs_srp_cred_rsp_decode(cr_rsp, 16, &tr), 0);
	assert_true(tr.tag == 256);
	assert_int_equal(xs_srp_cred_rsp_encode(&tr, out, 16), 16);
	assert_memory_equal(out, cr_rsp, 16);
	ASSERT_TRUNCATED(XS_SRP_C_CRED_RSP, xs_srp_cred_rsp_decode, cr_rsp, 16,
			 struct xs_srp_tag_rsp);
	/* a CRED_RSP is no AER_RSP */
	assert_int_equal(xs_srp_aer_rsp_decode(cr_rsp, 16, &tr), -EBADMSG);

	assert_int_equal(xs_srp_aer_rsp_decode(aer_rsp, 16, &tr), 0);
	assert_true(tr.tag == UINT64_C(0xfffffffffffffffe));
	assert_int_equal(xs_srp_aer_rsp_encode(&tr, out, 16), 16);
	assert_memory_equal(out, aer_rsp, 16);
	ASSERT_TRUNCATED(XS_SRP_C_AER_RSP, xs_srp_aer_rsp_decode, aer_rsp, 16,
			 struct xs_srp_tag_rsp);
	ASSERT_ENCODE_CAP(xs_srp_aer_rsp_encode, &tr, 16);
}

/* ------------------------------------------------------------ TSK_MGMT */

/* ABORT TASK for tag 0x2a on LUN 3, as ib_srp sends it (flags 0). */
static const uint8_t tsk_abort_vec[48] = {
	0x01, 0x00, 0, 0, 0, 0, 0, 0,
	0x80, 0, 0, 0, 0, 0, 0x00, 0x07,                /*  8 tag */
	0, 0, 0, 0,
	0x00, 0x03, 0, 0, 0, 0, 0, 0,                   /* 20 LUN 3 */
	0, 0,
	0x01, 0x00,                                     /* 30 ABORT TASK */
	0, 0, 0, 0, 0, 0, 0, 0x2a,                      /* 32 task tag */
	0, 0, 0, 0, 0, 0, 0, 0,
};

static void tsk_mgmt_vector(void **state)
{
	struct xs_srp_tsk_mgmt t;
	uint8_t out[48];
	static const uint8_t funcs[] = { 0x01, 0x02, 0x04, 0x08, 0x40 };

	assert_int_equal(xs_srp_tsk_mgmt_decode(tsk_abort_vec, 48, &t), 0);
	assert_int_equal(t.flags, 0);
	assert_true(t.tag == UINT64_C(0x8000000000000007));
	assert_true(t.lun == UINT64_C(0x0003000000000000));
	assert_int_equal(t.func, XS_SRP_TSK_ABORT_TASK);
	assert_true(t.task_tag == 0x2a);
	assert_int_equal(xs_srp_tsk_mgmt_encode(&t, out, 48), 48);
	assert_memory_equal(out, tsk_abort_vec, 48);
	ASSERT_ENCODE_CAP(xs_srp_tsk_mgmt_encode, &t, 48);
	ASSERT_TRUNCATED(XS_SRP_C_TSK_MGMT, xs_srp_tsk_mgmt_decode, tsk_abort_vec, 48,
			 struct xs_srp_tsk_mgmt);

	for (size_t i = 0; i < sizeof(funcs); i++) {
		uint8_t b[48];

		memcpy(b, tsk_abort_vec, 48);
		b[30] = funcs[i];
		assert_int_equal(xs_srp_tsk_mgmt_decode(b, 48, &t), 0);
		assert_int_equal(t.func, funcs[i]);
		assert_true(xs_srp_tsk_func_known(t.func));
	}
	assert_false(xs_srp_tsk_func_known(0x10)); /* TARGET RESET: not an SRP function */
	assert_false(xs_srp_tsk_func_known(0x00));
}

/* ----------------------------------------------------------------- CMD */

/* READ(10) of 8 blocks at LBA 0x1000 on LUN 1, one direct data-in buffer:
 * exactly the 64 bytes ib_srp sends (descriptor counts left at 0). */
static const uint8_t cmd_read10_direct[64] = {
	0x02, 0x00, 0, 0, 0,
	0x01,                                           /*  5 data-in direct */
	0x00, 0x00,                                     /*  6 counts */
	0, 0, 0, 0, 0, 0, 0x00, 0x05,                   /*  8 tag 5 */
	0, 0, 0, 0,
	0x00, 0x01, 0, 0, 0, 0, 0, 0,                   /* 20 LUN 1 */
	0x00, 0x00, 0x00, 0x00,                         /* 28 attr simple, add CDB 0 */
	0x28, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, /* 32 READ(10) */
	0x08, 0x00, 0, 0, 0, 0, 0, 0,
	0x00, 0x00, 0x7f, 0xf0, 0x12, 0x34, 0x50, 0x00, /* 48 va */
	0x00, 0x01, 0x23, 0x45,                         /* 56 rkey */
	0x00, 0x00, 0x10, 0x00,                         /* 60 len 4096 */
};

static void cmd_direct_read_vector(void **state)
{
	struct xs_srp_cmd c;
	uint8_t out[80];

	assert_int_equal(xs_srp_iu_type(cmd_read10_direct, 64), XS_SRP_CMD);
	assert_int_equal(xs_srp_cmd_decode(cmd_read10_direct, 64, &c), 0);
	assert_true(c.tag == 5);
	assert_true(c.lun == UINT64_C(0x0001000000000000));
	assert_int_equal(c.task_attr, XS_SRP_ATTR_SIMPLE);
	assert_int_equal(c.cdb_len, 16);
	assert_int_equal(c.cdb[0], 0x28);
	assert_int_equal(c.cdb[4], 0x10);
	assert_int_equal(c.cdb[8], 0x08);
	assert_int_equal(c.out.fmt, XS_SRP_FMT_NONE);
	assert_int_equal(c.in.fmt, XS_SRP_FMT_DIRECT);
	assert_true(c.in.direct.va == UINT64_C(0x00007ff012345000));
	assert_int_equal(c.in.direct.key, 0x12345);
	assert_int_equal(c.in.direct.len, 4096);
	assert_int_equal(c.in.total_len, 4096);
	assert_int_equal(xs_srp_cmd_len(&c), 64);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(xs_srp_cmd_encode(&c, out, sizeof(out)), 64);
	assert_memory_equal(out, cmd_read10_direct, 64);
	assert_int_equal(out[64], 0xee);
	ASSERT_ENCODE_CAP(xs_srp_cmd_encode, &c, 64);
	ASSERT_TRUNCATED(XS_SRP_C_CMD, xs_srp_cmd_decode, cmd_read10_direct, 64,
			 struct xs_srp_cmd);
}

/* WRITE(16) with a three-entry indirect data-out table, all in the IU. */
static uint8_t cmd_write16_indirect[48 + 20 + 48];

static void build_write16_indirect(void)
{
	uint8_t *b = cmd_write16_indirect;
	static const uint8_t head[48] = {
		0x02, 0x00, 0, 0, 0,
		0x20,                                   /* data-out indirect */
		0x03, 0x00,                             /* 3 data-out descriptors */
		0, 0, 0, 0, 0, 0, 0x01, 0x00,           /* tag 256 */
		0, 0, 0, 0,
		0x00, 0x00, 0, 0, 0, 0, 0, 0,           /* LUN 0 */
		0x00, 0x02, 0x00, 0x00,                 /* ordered */
		0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0x20, 0x00, /* WRITE(16) FUA LBA 0x2000 */
		0x00, 0x00, 0x00, 0x0c, 0x00, 0x00,     /* 12 blocks */
	};
	static const uint8_t tail[20 + 48] = {
		0x00, 0x00, 0x7f, 0x00, 0x00, 0x00, 0x10, 0x00, /* table va */
		0x00, 0x00, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x30, /* key, len 48 */
		0x00, 0x00, 0x18, 0x00,                         /* total 6144 */
		0x00, 0x00, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x00, 0x0b, 0x01, 0x00, 0x00, 0x08, 0x00, /* 2048 */
		0x00, 0x00, 0x7f, 0x00, 0x00, 0x02, 0x00, 0x00,
		0x00, 0x00, 0x0b, 0x02, 0x00, 0x00, 0x08, 0x00, /* 2048 */
		0x00, 0x00, 0x7f, 0x00, 0x00, 0x03, 0x00, 0x00,
		0x00, 0x00, 0x0b, 0x03, 0x00, 0x00, 0x08, 0x00, /* 2048 */
	};

	memcpy(b, head, 48);
	memcpy(b + 48, tail, sizeof(tail));
}

static void cmd_indirect_write_vector(void **state)
{
	struct xs_srp_cmd c;
	struct xs_srp_desc d, list[3];
	uint8_t out[256];

	build_write16_indirect();
	assert_int_equal(xs_srp_cmd_decode(cmd_write16_indirect, sizeof(cmd_write16_indirect),
					   &c), 0);
	assert_int_equal(c.task_attr, XS_SRP_ATTR_ORDERED);
	assert_int_equal(c.cdb[0], 0x8a);
	assert_int_equal(c.out.fmt, XS_SRP_FMT_INDIRECT);
	assert_int_equal(c.out.count, 3);
	assert_false(c.out.external);
	assert_int_equal(c.out.table.len, 48);
	assert_int_equal(c.out.table.key, 0x0a0a);
	assert_int_equal(c.out.total_len, 6144);
	assert_ptr_equal(c.out.list_wire, cmd_write16_indirect + 68);
	for (unsigned int i = 0; i < 3; i++) {
		xs_srp_desc_get(c.out.list_wire + 16 * i, &d);
		assert_true(d.va == UINT64_C(0x00007f0000000000) + ((uint64_t)(i + 1) << 16));
		assert_int_equal(d.key, 0x0b01 + i);
		assert_int_equal(d.len, 2048);
		list[i] = d;
	}
	assert_int_equal(c.in.fmt, XS_SRP_FMT_NONE);
	c.out.list = list;
	assert_int_equal(xs_srp_cmd_encode(&c, out, sizeof(out)), sizeof(cmd_write16_indirect));
	assert_memory_equal(out, cmd_write16_indirect, sizeof(cmd_write16_indirect));
	ASSERT_TRUNCATED(XS_SRP_C_CMD, xs_srp_cmd_decode, cmd_write16_indirect,
			 sizeof(cmd_write16_indirect), struct xs_srp_cmd);
	/* the table itself checks out as an external fetch would */
	assert_int_equal(xs_srp_indirect_table_check(&c.out, cmd_write16_indirect + 68, 48), 0);
}

static void cmd_indirect_counts_never_trusted(void **state)
{
	uint8_t b[sizeof(cmd_write16_indirect)];
	struct xs_srp_cmd c;
	uint64_t before;

	build_write16_indirect();
	/* count 4: the fourth descriptor would be past the IU */
	memcpy(b, cmd_write16_indirect, sizeof(b));
	b[6] = 4;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EMSGSIZE);
	/* count 255 */
	b[6] = 255;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EMSGSIZE);
	/* total length disagrees with the descriptors */
	memcpy(b, cmd_write16_indirect, sizeof(b));
	b[67] = 0x01;
	before = xs_srp_rejects(XS_SRP_C_CMD);
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EBADMSG);
	assert_int_equal(xs_srp_rejects(XS_SRP_C_CMD) - before, 1);
	/* table length no multiple of 16 */
	memcpy(b, cmd_write16_indirect, sizeof(b));
	b[63] = 0x31;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EBADMSG);
	/* partial list longer than the table (table 32 bytes, 3 entries) */
	b[63] = 0x20;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EBADMSG);
	/* empty table */
	b[63] = 0x00;
	b[6] = 0;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EBADMSG);
	/* a count with no data buffer at all */
	memcpy(b, cmd_write16_indirect, sizeof(b));
	b[5] = 0x00;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EBADMSG);
	/* data-in count without data-in format */
	memcpy(b, cmd_write16_indirect, sizeof(b));
	b[7] = 1;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EBADMSG);
	/* immediate data (format 3) and reserved formats are not supported */
	memcpy(b, cmd_write16_indirect, sizeof(b));
	b[5] = 0x30;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EOPNOTSUPP);
	b[5] = 0x2f;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EOPNOTSUPP);
}

static void cmd_external_table(void **state)
{
	/* 2 of 4 descriptors in the IU; the table lives at the initiator. */
	uint8_t b[48 + 20 + 32];
	uint8_t table[64];
	struct xs_srp_cmd c;
	struct xs_srp_desc d = { .va = 0x1000, .key = 7, .len = 1000 };

	memset(b, 0, sizeof(b));
	b[0] = XS_SRP_CMD;
	b[5] = 0x02; /* data-in indirect */
	b[7] = 2;
	b[32] = 0x28;
	xs_srp_desc_put(b + 48, &(struct xs_srp_desc){ .va = 0xabc000, .key = 9, .len = 64 });
	b[64] = 0;
	b[65] = 0;
	b[66] = 0x0f;
	b[67] = 0xa0; /* total 4000 */
	for (int i = 0; i < 4; i++) {
		d.va = 0x1000u * (unsigned int)(i + 1);
		xs_srp_desc_put(table + 16 * i, &d);
	}
	memcpy(b + 68, table, 32);
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), 0);
	assert_int_equal(c.in.count, 2);
	assert_true(c.in.external);
	assert_int_equal(c.in.total_len, 4000);
	assert_int_equal(xs_srp_indirect_table_check(&c.in, table, 64), 0);
	assert_int_equal(xs_srp_indirect_table_check(&c.in, table, 48), -EMSGSIZE);
	d.len = 999;
	xs_srp_desc_put(table + 48, &d);
	assert_int_equal(xs_srp_indirect_table_check(&c.in, table, 64), -EBADMSG);
	assert_int_equal(xs_srp_indirect_table_check(&c.out, table, 64), -EBADMSG);
}

static void cmd_additional_cdb(void **state)
{
	/* a 32-byte CDB: additional CDB length 16 (bits 7..2 = 4 words) */
	uint8_t b[48 + 16 + 16];
	struct xs_srp_cmd c;
	uint8_t out[128];

	memset(b, 0, sizeof(b));
	b[0] = XS_SRP_CMD;
	b[5] = 0x10;   /* data-out direct */
	b[31] = 0x10 | 0x03; /* low two bits reserved: ignored */
	for (int i = 0; i < 32; i++)
		b[32 + i] = (uint8_t)(0x7f + i);
	xs_srp_desc_put(b + 64, &(struct xs_srp_desc){ .va = 0x42, .key = 0x43, .len = 512 });
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), 0);
	assert_int_equal(c.cdb_len, 32);
	assert_memory_equal(c.cdb, b + 32, 32);
	assert_int_equal(c.cdb[32], 0);
	assert_int_equal(c.out.direct.len, 512);
	assert_int_equal(xs_srp_cmd_encode(&c, out, sizeof(out)), sizeof(b));
	b[31] = 0x10;
	assert_memory_equal(out, b, sizeof(b));
	/* additional CDB length past the IU */
	b[31] = 0xfc;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EMSGSIZE);
	/* descriptor cut off by the additional CDB */
	b[31] = 0x14;
	assert_int_equal(xs_srp_cmd_decode(b, sizeof(b), &c), -EMSGSIZE);
	/* encoder refuses CDB lengths the wire cannot carry */
	c.cdb_len = 18;
	assert_int_equal(xs_srp_cmd_encode(&c, out, sizeof(out)), -EINVAL);
	c.cdb_len = 16 + 256;
	assert_int_equal(xs_srp_cmd_encode(&c, out, sizeof(out)), -EINVAL);
}

static void cmd_bidirectional_round_trip(void **state)
{
	struct xs_srp_desc ol[2] = { { 1, 2, 100 }, { 3, 4, 200 } };
	struct xs_srp_cmd c = {
		.flags = XS_SRP_UCSOLNT,
		.tag = 77,
		.lun = UINT64_C(0x4123000000000000),
		.task_attr = XS_SRP_ATTR_HEAD_OF_QUEUE,
		.cdb_len = 16,
		.out = { .fmt = XS_SRP_FMT_INDIRECT, .count = 2, .table = { 9, 9, 32 },
			 .total_len = 300, .list = ol },
		.in = { .fmt = XS_SRP_FMT_DIRECT, .direct = { 0xfeed, 5, 4096 } },
	};
	struct xs_srp_cmd d;
	uint8_t buf[256], again[256];
	int n;

	c.cdb[0] = 0x53;
	n = xs_srp_cmd_encode(&c, buf, sizeof(buf));
	assert_int_equal(n, 48 + 20 + 32 + 16);
	assert_int_equal(buf[5], 0x21);
	assert_int_equal(buf[6], 2);
	assert_int_equal(buf[7], 0);
	assert_int_equal(xs_srp_cmd_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.flags, XS_SRP_UCSOLNT);
	assert_true(d.tag == 77 && d.lun == c.lun);
	assert_int_equal(d.task_attr, 1);
	assert_int_equal(d.out.total_len, 300);
	assert_int_equal(d.in.direct.len, 4096);
	assert_true(d.in.direct.va == 0xfeed);
	d.out.list = ol;
	assert_int_equal(xs_srp_cmd_encode(&d, again, sizeof(again)), n);
	assert_memory_equal(buf, again, (size_t)n);
	ASSERT_TRUNCATED(XS_SRP_C_CMD, xs_srp_cmd_decode, buf, n, struct xs_srp_cmd);
	/* encoder input checks */
	c.out.list = NULL;
	assert_int_equal(xs_srp_cmd_encode(&c, buf, sizeof(buf)), -EINVAL);
	c.out.list = ol;
	c.out.table.len = 16;
	assert_int_equal(xs_srp_cmd_encode(&c, buf, sizeof(buf)), -EINVAL);
	c.out.table.len = 32;
	c.in.fmt = 3;
	assert_int_equal(xs_srp_cmd_encode(&c, buf, sizeof(buf)), -EINVAL);
}

/* ----------------------------------------------------------------- RSP */

/* CHECK CONDITION with 18 bytes of fixed sense (ILLEGAL REQUEST, LBA OUT OF
 * RANGE), 1 credit back, data-in underflow of 4096. */
static const uint8_t rsp_check_vec[36 + 18] = {
	0xc1, 0x00, 0, 0,
	0x00, 0x00, 0x00, 0x01,                         /*  4 req lim delta */
	0, 0, 0, 0, 0, 0, 0x00, 0x05,                   /*  8 tag 5 */
	0, 0,
	0x22,                                           /* 18 SNSVALID | DIUNDER */
	0x02,                                           /* 19 CHECK CONDITION */
	0, 0, 0, 0,                                     /* 20 data-out residual */
	0x00, 0x00, 0x10, 0x00,                         /* 24 data-in residual */
	0x00, 0x00, 0x00, 0x12,                         /* 28 sense len 18 */
	0x00, 0x00, 0x00, 0x00,                         /* 32 resp len 0 */
	0x70, 0x00, 0x05, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x21, 0x00, 0, 0, 0, 0,
};

static void rsp_check_condition_vector(void **state)
{
	struct xs_srp_rsp r;
	uint8_t out[80];

	assert_int_equal(xs_srp_rsp_decode(rsp_check_vec, sizeof(rsp_check_vec), &r), 0);
	assert_int_equal(r.req_lim_delta, 1);
	assert_true(r.tag == 5);
	assert_int_equal(r.status, 0x02);
	assert_int_equal(r.valid, XS_SRP_RSP_SNSVALID | XS_SRP_RSP_DIUNDER);
	assert_int_equal(r.data_in_res, 4096);
	assert_int_equal(r.sense_len, 18);
	assert_ptr_equal(r.sense, rsp_check_vec + 36);
	assert_int_equal(r.sense[12], 0x21);
	assert_int_equal(xs_srp_rsp_len(&r), sizeof(rsp_check_vec));
	assert_int_equal(xs_srp_rsp_encode(&r, out, sizeof(out)), sizeof(rsp_check_vec));
	assert_memory_equal(out, rsp_check_vec, sizeof(rsp_check_vec));
	ASSERT_ENCODE_CAP(xs_srp_rsp_encode, &r, sizeof(rsp_check_vec));
	ASSERT_TRUNCATED(XS_SRP_C_RSP, xs_srp_rsp_decode, rsp_check_vec, sizeof(rsp_check_vec),
			 struct xs_srp_rsp);
}

static void rsp_task_management_vector(void **state)
{
	/* TSK_MGMT answer: RSPVALID, 4 bytes of response data, code 04. */
	static const uint8_t v[40] = {
		0xc1, 0x01, 0, 0, 0, 0, 0, 0x02,
		0x80, 0, 0, 0, 0, 0, 0x00, 0x07,
		0, 0, 0x01, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0,
		0, 0, 0, 4,
		0, 0, 0, 0x04,
	};
	struct xs_srp_rsp r;
	uint8_t out[40], b[40];

	assert_int_equal(xs_srp_rsp_decode(v, 40, &r), 0);
	assert_int_equal(r.flags, XS_SRP_RSP_SOLNT);
	assert_int_equal(r.req_lim_delta, 2);
	assert_int_equal(r.valid, XS_SRP_RSP_RSPVALID);
	assert_int_equal(r.rsp_code, XS_SRP_RSP_TSK_NOT_SUPPORTED);
	assert_int_equal(r.sense_len, 0);
	assert_null(r.sense);
	assert_int_equal(xs_srp_rsp_encode(&r, out, 40), 40);
	assert_memory_equal(out, v, 40);
	ASSERT_TRUNCATED(XS_SRP_C_RSP, xs_srp_rsp_decode, v, 40, struct xs_srp_rsp);

	/* response length must be 4 with RSPVALID, 0 without */
	memcpy(b, v, 40);
	b[35] = 8;
	assert_int_equal(xs_srp_rsp_decode(b, 40, &r), -EBADMSG);
	b[35] = 4;
	b[18] = 0;
	assert_int_equal(xs_srp_rsp_decode(b, 40, &r), -EBADMSG);
}

static void rsp_lengths_never_trusted(void **state)
{
	uint8_t b[sizeof(rsp_check_vec)];
	struct xs_srp_rsp r;
	uint64_t before = xs_srp_rejects(XS_SRP_C_RSP);

	memcpy(b, rsp_check_vec, sizeof(b));
	b[31] = 19; /* one more sense byte than the IU holds */
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EMSGSIZE);
	b[28] = 0xff; /* 4 GiB sense */
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EMSGSIZE);
	memcpy(b, rsp_check_vec, sizeof(b));
	b[18] = XS_SRP_RSP_DIUNDER; /* sense length without SNSVALID */
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EBADMSG);
	memcpy(b, rsp_check_vec, sizeof(b));
	b[28] = b[29] = b[30] = b[31] = 0; /* SNSVALID without sense */
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EBADMSG);
	memcpy(b, rsp_check_vec, sizeof(b));
	b[18] |= XS_SRP_RSP_DIOVER; /* over and under at once */
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EBADMSG);
	b[18] = XS_SRP_RSP_SNSVALID | XS_SRP_RSP_DOOVER | XS_SRP_RSP_DOUNDER;
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EBADMSG);
	memcpy(b, rsp_check_vec, sizeof(b));
	b[18] |= XS_SRP_RSP_RSPVALID; /* response data claimed, 0 length */
	assert_int_equal(xs_srp_rsp_decode(b, sizeof(b), &r), -EBADMSG);
	assert_int_equal(xs_srp_rejects(XS_SRP_C_RSP) - before, 7);

	/* encoder input checks */
	memset(&r, 0, sizeof(r));
	r.valid = XS_SRP_RSP_SNSVALID;
	assert_int_equal(xs_srp_rsp_encode(&r, b, sizeof(b)), -EINVAL);
	r.valid = 0;
	r.sense_len = 3;
	assert_int_equal(xs_srp_rsp_encode(&r, b, sizeof(b)), -EINVAL);
	r.sense_len = 0;
	r.valid = XS_SRP_RSP_DIOVER | XS_SRP_RSP_DIUNDER;
	assert_int_equal(xs_srp_rsp_encode(&r, b, sizeof(b)), -EINVAL);
	r.valid = 0;
	r.status = 0x28;
	assert_int_equal(xs_srp_rsp_encode(&r, b, sizeof(b)), 36);
	assert_int_equal(b[19], 0x28);
}

/* ------------------------------------------------------------- AER_REQ */

static void aer_req_vector(void **state)
{
	/* REPORTED LUNS DATA HAS CHANGED on LUN 0, one credit granted. */
	static const uint8_t v[36 + 18] = {
		0x82, 0x01, 0, 0, 0, 0, 0, 0x01,
		0, 0, 0, 0, 0, 0, 0, 0x03,
		0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 18,
		0, 0, 0, 0,
		0x70, 0, 0x06, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0x3f, 0x0e, 0, 0, 0, 0,
	};
	struct xs_srp_aer_req a;
	uint8_t out[64], b[sizeof(v)];

	assert_int_equal(xs_srp_aer_req_decode(v, sizeof(v), &a), 0);
	assert_int_equal(a.flags, XS_SRP_AER_REQ_SOLNT);
	assert_int_equal(a.req_lim_delta, 1);
	assert_true(a.tag == 3 && a.lun == 0);
	assert_int_equal(a.sense_len, 18);
	assert_int_equal(a.sense[12], 0x3f);
	assert_int_equal(a.sense[13], 0x0e);
	assert_int_equal(xs_srp_aer_req_encode(&a, out, sizeof(out)), sizeof(v));
	assert_memory_equal(out, v, sizeof(v));
	ASSERT_ENCODE_CAP(xs_srp_aer_req_encode, &a, sizeof(v));
	ASSERT_TRUNCATED(XS_SRP_C_AER_REQ, xs_srp_aer_req_decode, v, sizeof(v),
			 struct xs_srp_aer_req);
	memcpy(b, v, sizeof(b));
	b[31] = 0;
	assert_int_equal(xs_srp_aer_req_decode(b, sizeof(b), &a), -EBADMSG);
	b[28] = 0x80;
	assert_int_equal(xs_srp_aer_req_decode(b, sizeof(b), &a), -EMSGSIZE);
	a.sense_len = 0;
	assert_int_equal(xs_srp_aer_req_encode(&a, out, sizeof(out)), -EINVAL);
}

/* -------------------------------------------------------------- IU type */

static void iu_type_classifies(void **state)
{
	uint8_t b[64] = { 0 };
	uint64_t before = xs_srp_rejects(XS_SRP_C_IU_TYPE);

	assert_int_equal(xs_srp_iu_type(b, 0), -EMSGSIZE);
	b[0] = 0x55;
	assert_int_equal(xs_srp_iu_type(b, 64), -EBADMSG);
	b[0] = XS_SRP_LOGIN_REQ;
	assert_int_equal(xs_srp_iu_type(b, 63), -EMSGSIZE);
	assert_int_equal(xs_srp_iu_type(b, 64), XS_SRP_LOGIN_REQ);
	b[0] = XS_SRP_RSP;
	assert_int_equal(xs_srp_iu_type(b, 35), -EMSGSIZE);
	assert_int_equal(xs_srp_iu_type(b, 36), XS_SRP_RSP);
	b[0] = XS_SRP_CRED_REQ;
	assert_int_equal(xs_srp_iu_type(b, 16), XS_SRP_CRED_REQ);
	assert_int_equal(xs_srp_rejects(XS_SRP_C_IU_TYPE) - before, 4);
	assert_string_equal(xs_srp_iu_name(0xc2), "SRP_LOGIN_REJ");
	assert_string_equal(xs_srp_iu_name(0x42), "SRP_AER_RSP");
	assert_string_equal(xs_srp_iu_name(0x99), "unknown");
	assert_int_equal(xs_srp_iu_min_len(XS_SRP_TSK_MGMT), 48);
	assert_int_equal(xs_srp_iu_min_len(XS_SRP_LOGIN_RSP), 52);
	assert_string_equal(xs_srp_codec_name(XS_SRP_C_CMD), "cmd");
	assert_string_equal(xs_srp_codec_name(XS_SRP_N_CODECS), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(login_req_linux_vector),
		cmocka_unit_test(login_req_reserved_ignored_wrong_type_rejected),
		cmocka_unit_test(login_req_rdma_cm_form),
		cmocka_unit_test(login_rsp_vector),
		cmocka_unit_test(login_rsp_unusable_iu_limits),
		cmocka_unit_test(login_rej_vector_and_reasons),
		cmocka_unit_test(logouts_credits_aer_rsp),
		cmocka_unit_test(tsk_mgmt_vector),
		cmocka_unit_test(cmd_direct_read_vector),
		cmocka_unit_test(cmd_indirect_write_vector),
		cmocka_unit_test(cmd_indirect_counts_never_trusted),
		cmocka_unit_test(cmd_external_table),
		cmocka_unit_test(cmd_additional_cdb),
		cmocka_unit_test(cmd_bidirectional_round_trip),
		cmocka_unit_test(rsp_check_condition_vector),
		cmocka_unit_test(rsp_task_management_vector),
		cmocka_unit_test(rsp_lengths_never_trusted),
		cmocka_unit_test(aer_req_vector),
		cmocka_unit_test(iu_type_classifies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
