/* SPDX-License-Identifier: MIT */
/* test_wire_mad.c - MAD common header and SA header codecs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wire_test.h"

/* A SubnAdmGetResp header as written out by hand from IBA 13.4.3. */
static const uint8_t mad_vec[XS_MAD_HDR_LEN] = {
	0x01,                   /*  0 BaseVersion */
	0x03,                   /*  1 MgmtClass: SA */
	0x02,                   /*  2 ClassVersion */
	0x81,                   /*  3 R | Get */
	0x03, 0x00,             /*  4 Status: ERR_NO_RECORDS (3 << 8) */
	0x12, 0x34,             /*  6 ClassSpecific */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* 8 TID */
	0x00, 0x31,             /* 16 AttributeID: ServiceRecord */
	0x00, 0x00,             /* 18 reserved */
	0xde, 0xad, 0xbe, 0xef, /* 20 AttributeModifier */
};

static void mad_hdr_decodes_known_bytes(void **state)
{
	struct xs_mad_hdr h;

	assert_int_equal(xs_mad_hdr_decode(mad_vec, sizeof(mad_vec), &h), 0);
	assert_int_equal(h.base_version, 1);
	assert_int_equal(h.mgmt_class, XS_SA_CLASS);
	assert_int_equal(h.class_version, 2);
	assert_int_equal(h.method, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP);
	assert_int_equal(h.status, XS_SA_STATUS_NO_RECORDS);
	assert_int_equal(h.class_specific, 0x1234);
	assert_true(h.tid == UINT64_C(0x0102030405060708));
	assert_int_equal(h.attr_id, XS_SA_ATTR_SERVICE_RECORD);
	assert_int_equal(h.attr_mod, 0xdeadbeef);
}

static void mad_hdr_encodes_known_bytes(void **state)
{
	struct xs_mad_hdr h = {
		.base_version = 1,
		.mgmt_class = 0x03,
		.class_version = 2,
		.method = 0x81,
		.status = 0x0300,
		.class_specific = 0x1234,
		.tid = UINT64_C(0x0102030405060708),
		.attr_id = 0x0031,
		.attr_mod = 0xdeadbeef,
	};
	uint8_t buf[XS_MAD_HDR_LEN + 4];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(xs_mad_hdr_encode(&h, buf, sizeof(buf)), XS_MAD_HDR_LEN);
	assert_memory_equal(buf, mad_vec, XS_MAD_HDR_LEN);
	/* nothing written past the header */
	assert_int_equal(buf[XS_MAD_HDR_LEN], 0xee);
	assert_int_equal(buf[XS_MAD_HDR_LEN + 3], 0xee);
}

static void mad_hdr_reserved_ignored_and_zeroed(void **state)
{
	uint8_t in[XS_MAD_HDR_LEN], out[XS_MAD_HDR_LEN];
	struct xs_mad_hdr h;

	memcpy(in, mad_vec, sizeof(in));
	in[18] = 0xff;
	in[19] = 0x7f;
	assert_int_equal(xs_mad_hdr_decode(in, sizeof(in), &h), 0);
	assert_int_equal(h.attr_id, 0x0031);
	assert_int_equal(h.attr_mod, 0xdeadbeef);
	assert_int_equal(xs_mad_hdr_encode(&h, out, sizeof(out)), XS_MAD_HDR_LEN);
	assert_memory_equal(out, mad_vec, sizeof(out));
}

static void mad_hdr_truncated(void **state)
{
	WIRE_ASSERT_TRUNCATED(XS_WIRE_MAD_HDR, xs_mad_hdr_decode, mad_vec, XS_MAD_HDR_LEN,
			      struct xs_mad_hdr);
}

static void mad_hdr_bad_base_version(void **state)
{
	uint8_t in[XS_MAD_HDR_LEN];
	struct xs_mad_hdr h;
	uint64_t before = xs_wire_rejects(XS_WIRE_MAD_HDR);

	memcpy(in, mad_vec, sizeof(in));
	in[0] = 0;
	assert_int_equal(xs_mad_hdr_decode(in, sizeof(in), &h), -EBADMSG);
	in[0] = 2;
	assert_int_equal(xs_mad_hdr_decode(in, sizeof(in), &h), -EBADMSG);
	assert_int_equal(xs_wire_rejects(XS_WIRE_MAD_HDR) - before, 2);
}

static void mad_hdr_encode_cap(void **state)
{
	struct xs_mad_hdr h;

	assert_int_equal(xs_mad_hdr_decode(mad_vec, sizeof(mad_vec), &h), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_mad_hdr_encode, &h, XS_MAD_HDR_LEN);
}

/* SubnAdmGetTableResp, first RMPP segment, as written out from IBA 13.6.2/15.2.1.1. */
static const uint8_t sa_vec[XS_SA_HDR_LEN] = {
	0x01, 0x03, 0x02, 0x92,                         /*  0 GetTableResp */
	0x00, 0x00, 0x00, 0x00,                         /*  4 status, class specific */
	0x00, 0x00, 0x00, 0x00, 0xca, 0xfe, 0x00, 0x01, /*  8 TID */
	0x00, 0x35, 0x00, 0x00,                         /* 16 attr PathRecord, rsvd */
	0x00, 0x00, 0x00, 0x00,                         /* 20 attr mod */
	0x01,                                           /* 24 RMPPVersion */
	0x01,                                           /* 25 RMPPType: DATA */
	0x47,                                           /* 26 RRespTime 8 | Active|First|Last */
	0x00,                                           /* 27 RMPPStatus */
	0x00, 0x00, 0x00, 0x01,                         /* 28 SegmentNumber 1 */
	0x00, 0x00, 0x01, 0x60,                         /* 32 PayloadLength 352 */
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* 36 SM_Key */
	0x00, 0x08,                                     /* 44 AttributeOffset: 64 bytes */
	0x00, 0x00,                                     /* 46 reserved */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, /* 48 ComponentMask DLID|SLID */
};

static void sa_hdr_decodes_known_bytes(void **state)
{
	struct xs_sa_hdr h;

	assert_int_equal(xs_sa_hdr_decode(sa_vec, sizeof(sa_vec), &h), 0);
	assert_int_equal(h.mad.mgmt_class, XS_SA_CLASS);
	assert_int_equal(h.mad.method, XS_SA_METHOD_GETTABLE_RESP);
	assert_true(h.mad.tid == UINT64_C(0xcafe0001));
	assert_int_equal(h.mad.attr_id, XS_SA_ATTR_PATH_RECORD);
	assert_int_equal(h.rmpp_version, 1);
	assert_int_equal(h.rmpp_type, 1);
	assert_int_equal(h.rmpp_rtime_flags, 0x47);
	assert_int_equal(h.rmpp_status, 0);
	assert_int_equal(h.rmpp_data1, 1);
	assert_int_equal(h.rmpp_data2, 352);
	assert_true(h.sm_key == UINT64_C(0x1122334455667788));
	assert_int_equal(h.attr_offset, XS_PR_LEN / 8);
	assert_true(h.comp_mask == (XS_PR_COMP_DLID | XS_PR_COMP_SLID));
}

static void sa_hdr_round_trip(void **state)
{
	uint8_t out[XS_MAD_LEN];
	struct xs_sa_hdr h, h2;

	assert_int_equal(xs_sa_hdr_decode(sa_vec, sizeof(sa_vec), &h), 0);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(xs_sa_hdr_encode(&h, out, sizeof(out)), XS_SA_HDR_LEN);
	assert_memory_equal(out, sa_vec, sizeof(sa_vec));
	assert_int_equal(out[XS_SA_DATA_OFF], 0xee); /* SA data not touched */
	assert_int_equal(xs_sa_hdr_decode(out, sizeof(out), &h2), 0);
	assert_true(h2.comp_mask == h.comp_mask);
	assert_true(h2.sm_key == h.sm_key);
	assert_int_equal(h2.rmpp_data2, h.rmpp_data2);
}

static void sa_hdr_truncated(void **state)
{
	WIRE_ASSERT_TRUNCATED(XS_WIRE_SA_HDR, xs_sa_hdr_decode, sa_vec, XS_SA_HDR_LEN,
			      struct xs_sa_hdr);
}

static void sa_hdr_encode_cap(void **state)
{
	struct xs_sa_hdr h;

	assert_int_equal(xs_sa_hdr_decode(sa_vec, sizeof(sa_vec), &h), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_sa_hdr_encode, &h, XS_SA_HDR_LEN);
}

static void sa_hdr_rejects_other_class(void **state)
{
	uint8_t in[XS_SA_HDR_LEN];
	struct xs_sa_hdr h;
	uint64_t sa_before = xs_wire_rejects(XS_WIRE_SA_HDR);
	uint64_t mad_before = xs_wire_rejects(XS_WIRE_MAD_HDR);

	memcpy(in, sa_vec, sizeof(in));
	in[1] = XS_XCPM_CLASS;
	assert_int_equal(xs_sa_hdr_decode(in, sizeof(in), &h), -EBADMSG);
	in[1] = XS_SA_CLASS;
	in[0] = 2;
	assert_int_equal(xs_sa_hdr_decode(in, sizeof(in), &h), -EBADMSG);
	/* counted once, under the SA codec */
	assert_int_equal(xs_wire_rejects(XS_WIRE_SA_HDR) - sa_before, 2);
	assert_int_equal(xs_wire_rejects(XS_WIRE_MAD_HDR) - mad_before, 0);
}

static void decode_bad_class(void *arg)
{
	uint8_t in[XS_SA_HDR_LEN];
	struct xs_sa_hdr h;

	memcpy(in, sa_vec, sizeof(in));
	in[1] = 0x0b;
	*(int *)arg = xs_sa_hdr_decode(in, sizeof(in), &h);
}

static void sa_hdr_rejection_is_logged(void **state)
{
	char *text;
	int rc = 0;

	(void)xs_log_debug_enabled("wire"); /* read XS_DEBUG from the environment now */
	xs_log_set_debug("wire");
	text = wire_capture_stderr(decode_bad_class, &rc);
	xs_log_set_debug("");
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(text);
	assert_non_null(strstr(text, "[wire] debug: rejected sa_hdr input (Bad message): "
				     "management class 0x0b, expected 0x03 (SA)\n"));
	free(text);

	/* debug off: still counted, nothing printed */
	uint64_t before = xs_wire_rejects(XS_WIRE_SA_HDR);

	text = wire_capture_stderr(decode_bad_class, &rc);
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(text);
	assert_string_equal(text, "");
	assert_int_equal(xs_wire_rejects(XS_WIRE_SA_HDR) - before, 1);
	free(text);
}

#define COUNT_THREADS 4
#define COUNT_PER_THREAD 20000

static void *reject_many(void *arg)
{
	uint8_t in[XS_MAD_HDR_LEN];
	struct xs_mad_hdr h;
	int i;

	memcpy(in, mad_vec, sizeof(in));
	in[0] = 9;
	for (i = 0; i < COUNT_PER_THREAD; i++)
		if (xs_mad_hdr_decode(in, sizeof(in), &h) != -EBADMSG)
			return arg; /* non-NULL: failure */
	return NULL;
}

/* The counters are atomic: no rejection is lost when threads race. */
static void rejects_counted_across_threads(void **state)
{
	pthread_t t[COUNT_THREADS];
	uint64_t before = xs_wire_rejects(XS_WIRE_MAD_HDR);
	void *ret;
	int i;

	for (i = 0; i < COUNT_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reject_many, t), 0);
	for (i = 0; i < COUNT_THREADS; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	assert_true(xs_wire_rejects(XS_WIRE_MAD_HDR) - before ==
		    (uint64_t)COUNT_THREADS * COUNT_PER_THREAD);
}

static void codec_names_and_bounds(void **state)
{
	assert_string_equal(xs_wire_codec_name(XS_WIRE_MAD_HDR), "mad_hdr");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_SA_HDR), "sa_hdr");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_SERVICE_RECORD), "service_record");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_PATH_RECORD), "path_record");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_XCPM_REQUEST), "xcpm_request");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_XCPM_REPLY), "xcpm_reply");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_XSMP_HDR), "xsmp_hdr");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_XSMP_SESSION), "xsmp_session");
	assert_string_equal(xs_wire_codec_name(XS_WIRE_N_CODECS), "unknown");
	assert_string_equal(xs_wire_codec_name((enum xs_wire_codec)-1), "unknown");
	assert_true(xs_wire_rejects(XS_WIRE_N_CODECS) == 0);
	assert_true(xs_wire_rejects((enum xs_wire_codec)-1) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mad_hdr_decodes_known_bytes),
		cmocka_unit_test(mad_hdr_encodes_known_bytes),
		cmocka_unit_test(mad_hdr_reserved_ignored_and_zeroed),
		cmocka_unit_test(mad_hdr_truncated),
		cmocka_unit_test(mad_hdr_bad_base_version),
		cmocka_unit_test(mad_hdr_encode_cap),
		cmocka_unit_test(sa_hdr_decodes_known_bytes),
		cmocka_unit_test(sa_hdr_round_trip),
		cmocka_unit_test(sa_hdr_truncated),
		cmocka_unit_test(sa_hdr_encode_cap),
		cmocka_unit_test(sa_hdr_rejects_other_class),
		cmocka_unit_test(sa_hdr_rejection_is_logged),
		cmocka_unit_test(rejects_counted_across_threads),
		cmocka_unit_test(codec_names_and_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
