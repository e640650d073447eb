/* SPDX-License-Identifier: MIT */
/*
 * fuzz_srp.c - every SRP IU decoder on arbitrary bytes.
 *
 * The first input byte picks the decoder, the rest is the IU with its type
 * byte forced to the one that decoder expects (so the fuzzer does not spend
 * its time on type mismatches); the raw input also goes through
 * xs_srp_iu_type. Whatever decodes must re-encode, and the re-encoding must
 * decode to the same values: the codecs agree with themselves on every
 * input they accept. Any mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/srp.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t iu[65536];
static uint8_t enc[65536];

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static void fuzz_cmd(size_t n)
{
	struct xs_srp_cmd c, d;
	struct xs_srp_desc lo[256], li[256];
	int len;

	if (xs_srp_cmd_decode(iu, n, &c))
		return;
	CHECK(c.cdb_len >= 16 && c.cdb_len <= XS_SRP_MAX_CDB_LEN);
	for (unsigned int i = 0; c.out.fmt == XS_SRP_FMT_INDIRECT && i < c.out.count; i++)
		xs_srp_desc_get(c.out.list_wire + 16 * i, &lo[i]);
	for (unsigned int i = 0; c.in.fmt == XS_SRP_FMT_INDIRECT && i < c.in.count; i++)
		xs_srp_desc_get(c.in.list_wire + 16 * i, &li[i]);
	c.out.list = lo;
	c.in.list = li;
	len = xs_srp_cmd_encode(&c, enc, sizeof(enc));
	CHECK(len > 0 && (size_t)len <= n);
	CHECK(xs_srp_cmd_decode(enc, (size_t)len, &d) == 0);
	CHECK(d.tag == c.tag && d.lun == c.lun && d.cdb_len == c.cdb_len);
	CHECK(memcmp(d.cdb, c.cdb, sizeof(d.cdb)) == 0);
	CHECK(d.out.fmt == c.out.fmt && d.in.fmt == c.in.fmt);
	CHECK(d.out.total_len == c.out.total_len && d.in.total_len == c.in.total_len);
	CHECK(d.out.external == c.out.external && d.in.external == c.in.external);
	if (c.in.fmt == XS_SRP_FMT_INDIRECT && !c.in.external)
		CHECK(xs_srp_indirect_table_check(&c.in, c.in.list_wire, c.in.table.len) == 0);
}

static void fuzz_rsp(size_t n)
{
	struct xs_srp_rsp r, d;
	int len;

	if (xs_srp_rsp_decode(iu, n, &r))
		return;
	CHECK(r.sense_len == 0 || r.sense + r.sense_len <= iu + n);
	len = xs_srp_rsp_encode(&r, enc, sizeof(enc));
	CHECK(len > 0 && (size_t)len <= n);
	CHECK(xs_srp_rsp_decode(enc, (size_t)len, &d) == 0);
	CHECK(d.valid == r.valid && d.status == r.status && d.sense_len == r.sense_len);
	CHECK(d.rsp_code == r.rsp_code && d.data_in_res == r.data_in_res);
	CHECK(r.sense_len == 0 || memcmp(d.sense, r.sense, r.sense_len) == 0);
}

static void fuzz_aer(size_t n)
{
	struct xs_srp_aer_req a, d;
	int len;

	if (xs_srp_aer_req_decode(iu, n, &a))
		return;
	CHECK(a.sense + a.sense_len <= iu + n);
	len = xs_srp_aer_req_encode(&a, enc, sizeof(enc));
	CHECK(len > 0);
	CHECK(xs_srp_aer_req_decode(enc, (size_t)len, &d) == 0);
	CHECK(d.sense_len == a.sense_len && memcmp(d.sense, a.sense, a.sense_len) == 0);
}

#define ROUND_TRIP(type, dec, encf)                                              \
	do {                                                                     \
		type a_, b_;                                                     \
		int l_;                                                          \
		memset(&a_, 0, sizeof(a_));                                      \
		memset(&b_, 0, sizeof(b_));                                      \
		if (dec(iu, n, &a_) == 0) {                                      \
			l_ = encf(&a_, enc, sizeof(enc));                        \
			CHECK(l_ > 0);                                           \
			CHECK(dec(enc, (size_t)l_, &b_) == 0);                    \
			CHECK(memcmp(&a_, &b_, sizeof(a_)) == 0);                \
		}                                                                \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t types[] = {
		XS_SRP_LOGIN_REQ, XS_SRP_LOGIN_RSP, XS_SRP_LOGIN_REJ, XS_SRP_I_LOGOUT,
		XS_SRP_T_LOGOUT, XS_SRP_TSK_MGMT, XS_SRP_CMD, XS_SRP_RSP,
		XS_SRP_CRED_REQ, XS_SRP_CRED_RSP, XS_SRP_AER_REQ, XS_SRP_AER_RSP,
	};
	size_t n;
	uint8_t t;

	(void)xs_srp_iu_type(data, size);
	if (size < 2 || size - 1 > sizeof(iu))
		return 0;
	t = types[data[0] % sizeof(types)];
	n = size - 1;
	memcpy(iu, data + 1, n);
	iu[0] = t;
	switch (t) {
	case XS_SRP_LOGIN_REQ:
		ROUND_TRIP(struct xs_srp_login_req, xs_srp_login_req_decode,
			   xs_srp_login_req_encode);
		break;
	case XS_SRP_LOGIN_RSP:
		ROUND_TRIP(struct xs_srp_login_rsp, xs_srp_login_rsp_decode,
			   xs_srp_login_rsp_encode);
		break;
	case XS_SRP_LOGIN_REJ:
		ROUND_TRIP(struct xs_srp_login_rej, xs_srp_login_rej_decode,
			   xs_srp_login_rej_encode);
		break;
	case XS_SRP_I_LOGOUT:
		ROUND_TRIP(struct xs_srp_i_logout, xs_srp_i_logout_decode,
			   xs_srp_i_logout_encode);
		break;
	case XS_SRP_T_LOGOUT:
		ROUND_TRIP(struct xs_srp_t_logout, xs_srp_t_logout_decode,
			   xs_srp_t_logout_encode);
		break;
	case XS_SRP_TSK_MGMT:
		ROUND_TRIP(struct xs_srp_tsk_mgmt, xs_srp_tsk_mgmt_decode,
			   xs_srp_tsk_mgmt_encode);
		break;
	case XS_SRP_CRED_REQ:
		ROUND_TRIP(struct xs_srp_cred_req, xs_srp_cred_req_decode,
			   xs_srp_cred_req_encode);
		break;
	case XS_SRP_CRED_RSP:
		ROUND_TRIP(struct xs_srp_tag_rsp, xs_srp_cred_rsp_decode, xs_srp_cred_rsp_encode);
		break;
	case XS_SRP_AER_RSP:
		ROUND_TRIP(struct xs_srp_tag_rsp, xs_srp_aer_rsp_decode, xs_srp_aer_rsp_encode);
		break;
	case XS_SRP_CMD:
		fuzz_cmd(n);
		break;
	case XS_SRP_RSP:
		fuzz_rsp(n);
		break;
	case XS_SRP_AER_REQ:
		fuzz_aer(n);
		break;
	}
	return 0;
}
