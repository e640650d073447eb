/* SPDX-License-Identifier: MIT */
/* test_wire_xcpm.c - XCPM XCM_REQUEST and reply bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wire_test.h"

/*
 * The request body as the original host packs `struct xds_request`: byte
 * offsets written out by hand (12 + 65 = 77, 77 + 32 = 109, 109 + 16 = 125 ...).
 */
static void request_vec(uint8_t *v)
{
	memset(v, 0, XS_XCPM_DATA_LEN);
	v[0] = 0x00; v[1] = 0x00; v[2] = 0x00; v[3] = 0x2a;           /* vm_id 42 */
	v[4] = 0x00; v[5] = 0x02; v[6] = 0xc9; v[7] = 0x03;           /* port GUID */
	v[8] = 0x00; v[9] = 0x0a; v[10] = 0x0b; v[11] = 0x0c;
	wire_put_field(v + 12, "host-a.example", 14);                 /* hostname[65] */
	wire_put_field(v + 77, "6.1.0-18-amd64:xg-0.1.0", 23);        /* os_version[32] */
	wire_put_field(v + 109, "x86_64", 6);                         /* os_arch[16] */
	v[125] = 0x01; v[126] = 0x00; v[127] = 0x00; v[128] = 0x00;   /* os_type Linux */
	v[129] = 0x00; v[130] = 0x00; v[131] = 0x00; v[132] = 0x10;   /* fw 0x10_0002_0003 */
	v[133] = 0x00; v[134] = 0x02; v[135] = 0x00; v[136] = 0x03;
	v[137] = 0x00; v[138] = 0x00; v[139] = 0x00; v[140] = 0xa0;   /* hw_version */
	v[141] = 0x00; v[142] = 0x01; v[143] = 0x00; v[144] = 0x00;   /* driver 0x10000 */
	v[145] = 0x11; v[146] = 0x11; v[147] = 0x11; v[148] = 0x11;   /* system_id_l */
	v[149] = 0x22; v[150] = 0x22; v[151] = 0x22; v[152] = 0x22;
	v[153] = 0x33; v[154] = 0x33; v[155] = 0x33; v[156] = 0x33;   /* system_id_h */
	v[157] = 0x44; v[158] = 0x44; v[159] = 0x44; v[160] = 0x44;
	v[161] = 0x80; v[162] = 0x03; v[163] = 0x00; v[164] = 0x00;   /* present|vNIC|vHBA */
	wire_put_field(v + 165, "xg-0.1.0", 8);                       /* build_version[16] */
}

static void request_decodes_known_bytes(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];
	struct xs_xcpm_request r;

	request_vec(v);
	assert_int_equal(xs_xcpm_request_decode(v, sizeof(v), &r), 0);
	assert_int_equal(r.server.vm_id, 42);
	assert_true(r.server.port_guid == UINT64_C(0x0002c903000a0b0c));
	assert_string_equal(r.hostname, "host-a.example");
	assert_string_equal(r.os_version, "6.1.0-18-amd64:xg-0.1.0");
	assert_string_equal(r.os_arch, "x86_64");
	assert_int_equal(r.os_type, XS_XCPM_OS_LINUX);
	assert_true(r.fw_version == UINT64_C(0x0000001000020003));
	assert_int_equal(r.hw_version, 0xa0);
	assert_int_equal(r.driver_version, 0x10000);
	assert_true(r.system_id_l == UINT64_C(0x1111111122222222));
	assert_true(r.system_id_h == UINT64_C(0x3333333344444444));
	assert_int_equal(r.capabilities, XS_XCPM_CAP_PRESENT | XS_XCPM_CAP_RESOURCE(XS_RES_VNIC) |
						 XS_XCPM_CAP_RESOURCE(XS_RES_VHBA));
	assert_string_equal(r.build_version, "xg-0.1.0");
}

static void request_encodes_known_bytes(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN], out[XS_XCPM_DATA_LEN];
	struct xs_xcpm_request r;

	request_vec(v);
	assert_int_equal(xs_xcpm_request_decode(v, sizeof(v), &r), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(xs_xcpm_request_encode(&r, out, sizeof(out)), XS_XCPM_REQUEST_LEN);
	assert_int_equal(XS_XCPM_REQUEST_LEN, 181);
	assert_memory_equal(out, v, sizeof(out));

	/* exactly 181 bytes written: the rest of the data area is the caller's */
	memset(out, 0x77, sizeof(out));
	assert_int_equal(xs_xcpm_request_encode(&r, out, XS_XCPM_REQUEST_LEN),
			 XS_XCPM_REQUEST_LEN);
	assert_memory_equal(out, v, XS_XCPM_REQUEST_LEN);
	assert_int_equal(out[XS_XCPM_REQUEST_LEN], 0x77);
}

/* The request inside a whole XCPM MAD: header, 32 reserved bytes, data. */
static void request_in_full_mad(void **state)
{
	uint8_t mad[XS_MAD_LEN];
	struct xs_mad_hdr h;
	struct xs_xcpm_request r;

	memset(mad, 0, sizeof(mad));
	mad[0] = 0x01;
	mad[1] = 0x0b;                   /* Xsigo class, vendor range 1 */
	mad[2] = 0x02;
	mad[3] = 0x01;                   /* Get */
	mad[15] = 0x01;                  /* TID: port 1 */
	mad[16] = 0xb0;
	mad[17] = 0x02;                  /* XCM_REQUEST */
	request_vec(mad + 56);
	assert_int_equal(xs_mad_hdr_decode(mad, sizeof(mad), &h), 0);
	assert_int_equal(h.mgmt_class, XS_XCPM_CLASS);
	assert_int_equal(h.class_version, XS_XCPM_CLASS_VERSION);
	assert_int_equal(h.method, XS_MAD_METHOD_GET);
	assert_int_equal(h.attr_id, XS_XCPM_ATTR_XCM_REQUEST);
	assert_int_equal(xs_xcpm_request_decode(mad + XS_XCPM_DATA_OFF, XS_XCPM_DATA_LEN, &r), 0);
	assert_string_equal(r.hostname, "host-a.example");
	assert_string_equal(r.build_version, "xg-0.1.0");
}

static void request_strings_without_nul(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];
	struct xs_xcpm_request r;
	char h65[66], a16[17], b16[17], o32[33];

	request_vec(v);
	memset(v + 12, 'h', 65);
	memset(v + 77, 'o', 32);
	memset(v + 109, 'a', 16);
	memset(v + 165, 'b', 16);
	memset(h65, 'h', 65); h65[65] = 0;
	memset(o32, 'o', 32); o32[32] = 0;
	memset(a16, 'a', 16); a16[16] = 0;
	memset(b16, 'b', 16); b16[16] = 0;
	memset(&r, 0x7e, sizeof(r));
	assert_int_equal(xs_xcpm_request_decode(v, sizeof(v), &r), 0);
	assert_string_equal(r.hostname, h65);
	assert_string_equal(r.os_version, o32);
	assert_string_equal(r.os_arch, a16);
	assert_string_equal(r.build_version, b16);
	/* neighbours intact */
	assert_int_equal(r.os_type, XS_XCPM_OS_LINUX);
	assert_int_equal(r.capabilities, 0x80030000u);

	uint8_t out[XS_XCPM_REQUEST_LEN];

	assert_int_equal(xs_xcpm_request_encode(&r, out, sizeof(out)), XS_XCPM_REQUEST_LEN);
	assert_memory_equal(out, v, sizeof(out));
}

static void request_truncated(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];

	request_vec(v);
	WIRE_ASSERT_TRUNCATED(XS_WIRE_XCPM_REQUEST, xs_xcpm_request_decode, v,
			      XS_XCPM_REQUEST_LEN, struct xs_xcpm_request);
}

static void request_encode_cap(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];
	struct xs_xcpm_request r;

	request_vec(v);
	assert_int_equal(xs_xcpm_request_decode(v, sizeof(v), &r), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_xcpm_request_encode, &r, XS_XCPM_REQUEST_LEN);
}

static void request_encode_rejects_long_strings(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN], out[XS_XCPM_DATA_LEN], ref[XS_XCPM_DATA_LEN];
	struct xs_xcpm_request base, r;

	request_vec(v);
	assert_int_equal(xs_xcpm_request_decode(v, sizeof(v), &base), 0);
	memset(ref, 0x21, sizeof(ref));

#define TOO_LONG(field)                                                                 \
	do {                                                                            \
		r = base;                                                               \
		memset(r.field, 'x', sizeof(r.field)); /* no room for the NUL */        \
		memset(out, 0x21, sizeof(out));                                         \
		assert_int_equal(xs_xcpm_request_encode(&r, out, sizeof(out)), -EINVAL); \
		assert_memory_equal(out, ref, sizeof(out));                             \
	} while (0)

	TOO_LONG(hostname);
	TOO_LONG(os_version);
	TOO_LONG(os_arch);
	TOO_LONG(build_version);
#undef TOO_LONG
}

/* ------------------------------------------------------------- reply */

/* server_info, then the xcm_list: count 2, version 1, two 20-byte records. */
static void reply_vec(uint8_t *v)
{
	memset(v, 0, XS_XCPM_DATA_LEN);
	v[3] = 0x2a;                                                    /* vm_id 42 */
	v[4] = 0x00; v[5] = 0x02; v[6] = 0xc9; v[7] = 0x03;             /* port GUID */
	v[8] = 0x00; v[9] = 0x0a; v[10] = 0x0b; v[11] = 0x0c;
	v[12] = 2;                                                      /* count */
	v[13] = 1;                                                      /* xcm_version */
	/* record 0 at 16 */
	v[16] = 0x00; v[17] = 0x13; v[18] = 0x97; v[19] = 0x01;
	v[20] = 0x00; v[21] = 0x00; v[22] = 0x00; v[23] = 0x01;
	v[24] = 0x00; v[25] = 0x09;                                     /* LID 9 */
	/* record 1 at 36 */
	v[36] = 0x00; v[37] = 0x13; v[38] = 0x97; v[39] = 0x01;
	v[40] = 0x00; v[41] = 0x00; v[42] = 0x00; v[43] = 0x02;
	v[44] = 0x01; v[45] = 0x0a;                                     /* LID 0x10a */
}

static void reply_decodes_known_bytes(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];
	struct xs_xcpm_reply r;
	unsigned int i;

	reply_vec(v);
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), 0);
	assert_int_equal(r.server.vm_id, 42);
	assert_true(r.server.port_guid == UINT64_C(0x0002c903000a0b0c));
	assert_int_equal(r.count, 2);
	assert_int_equal(r.xcm_version, 1);
	assert_true(r.xcms[0].port_guid == UINT64_C(0x0013970100000001));
	assert_int_equal(r.xcms[0].lid, 9);
	assert_true(r.xcms[1].port_guid == UINT64_C(0x0013970100000002));
	assert_int_equal(r.xcms[1].lid, 0x10a);
	for (i = 2; i < XS_XCPM_MAX_XCMS; i++) {
		assert_true(r.xcms[i].port_guid == 0);
		assert_int_equal(r.xcms[i].lid, 0);
	}
}

static void reply_encodes_known_bytes(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN], out[XS_XCPM_DATA_LEN];
	struct xs_xcpm_reply r;

	reply_vec(v);
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), 0);
	memset(out, 0x66, sizeof(out));
	assert_int_equal(xs_xcpm_reply_encode(&r, out, sizeof(out)), XS_XCPM_REPLY_LEN);
	assert_int_equal(XS_XCPM_REPLY_LEN, 176);
	assert_memory_equal(out, v, XS_XCPM_REPLY_LEN);
	assert_int_equal(out[XS_XCPM_REPLY_LEN], 0x66);
}

static void reply_records_past_count_ignored(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN], out[XS_XCPM_DATA_LEN], ref[XS_XCPM_DATA_LEN];
	struct xs_xcpm_reply r;

	reply_vec(ref);
	memcpy(v, ref, sizeof(v));
	memset(v + 56, 0xcc, 20);        /* record 2: stale data, count is 2 */
	memset(v + 26, 0xdd, 10);        /* record 0 reserved bytes */
	v[14] = 0xee;                    /* list reserved */
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), 0);
	assert_true(r.xcms[2].port_guid == 0);
	assert_int_equal(r.xcms[2].lid, 0);
	assert_int_equal(r.xcms[0].lid, 9);
	assert_int_equal(xs_xcpm_reply_encode(&r, out, sizeof(out)), XS_XCPM_REPLY_LEN);
	assert_memory_equal(out, ref, XS_XCPM_REPLY_LEN);
}

static void reply_bad_count(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];
	struct xs_xcpm_reply r, ref;
	uint64_t before = xs_wire_rejects(XS_WIRE_XCPM_REPLY);
	static const uint8_t bad[] = { 9, 16, 128, 255 };
	unsigned int i;

	reply_vec(v);
	for (i = 0; i < sizeof(bad); i++) {
		v[12] = bad[i];
		memset(&r, 0x11, sizeof(r));
		memset(&ref, 0x11, sizeof(ref));
		assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), -EBADMSG);
		assert_memory_equal(&r, &ref, sizeof(r));
	}
	assert_int_equal(xs_wire_rejects(XS_WIRE_XCPM_REPLY) - before, sizeof(bad));

	/* the full list of eight is fine */
	v[12] = 8;
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), 0);
	assert_int_equal(r.count, 8);
	assert_int_equal(xs_wire_rejects(XS_WIRE_XCPM_REPLY) - before, sizeof(bad));
}

static void reply_bad_version(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];
	struct xs_xcpm_reply r;
	uint64_t before = xs_wire_rejects(XS_WIRE_XCPM_REPLY);

	reply_vec(v);
	v[13] = 2;
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), -EBADMSG);
	v[13] = 0;
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), -EBADMSG);
	assert_int_equal(xs_wire_rejects(XS_WIRE_XCPM_REPLY) - before, 2);
	/* an empty list ("no XCM for you") carries no records to version */
	v[12] = 0;
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), 0);
	assert_int_equal(r.count, 0);
	assert_true(r.xcms[0].port_guid == 0);
}

static void reply_truncated(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN];

	reply_vec(v);
	WIRE_ASSERT_TRUNCATED(XS_WIRE_XCPM_REPLY, xs_xcpm_reply_decode, v, XS_XCPM_REPLY_LEN,
			      struct xs_xcpm_reply);
}

static void reply_encode_cap_and_count(void **state)
{
	uint8_t v[XS_XCPM_DATA_LEN], out[XS_XCPM_DATA_LEN], ref[XS_XCPM_DATA_LEN];
	struct xs_xcpm_reply r;

	reply_vec(v);
	assert_int_equal(xs_xcpm_reply_decode(v, sizeof(v), &r), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_xcpm_reply_encode, &r, XS_XCPM_REPLY_LEN);
	r.count = 9;
	memset(out, 0x10, sizeof(out));
	memset(ref, 0x10, sizeof(ref));
	assert_int_equal(xs_xcpm_reply_encode(&r, out, sizeof(out)), -EINVAL);
	assert_memory_equal(out, ref, sizeof(out));
}

static void reply_round_trip_full_list(void **state)
{
	struct xs_xcpm_reply a, b;
	uint8_t buf[XS_XCPM_REPLY_LEN];
	unsigned int i;

	memset(&a, 0, sizeof(a));
	a.server.vm_id = 0xffffffffu;
	a.server.port_guid = UINT64_C(0x8000000000000001);
	a.count = XS_XCPM_MAX_XCMS;
	a.xcm_version = XS_XCPM_XCM_VERSION;
	for (i = 0; i < XS_XCPM_MAX_XCMS; i++) {
		a.xcms[i].port_guid = UINT64_C(0x0139700000000000) + i;
		a.xcms[i].lid = (uint16_t)(0xc000 + i);
	}
	assert_int_equal(xs_xcpm_reply_encode(&a, buf, sizeof(buf)), XS_XCPM_REPLY_LEN);
	/* record 7 starts at 16 + 7 * 20 = 156, its LID at 164; it ends at 176 */
	assert_int_equal(buf[156], 0x01);
	assert_int_equal(buf[163], 0x07);
	assert_int_equal(buf[164], 0xc0);
	assert_int_equal(buf[165], 0x07);
	assert_int_equal(xs_xcpm_reply_decode(buf, sizeof(buf), &b), 0);
	assert_int_equal(b.server.vm_id, a.server.vm_id);
	assert_true(b.server.port_guid == a.server.port_guid);
	assert_int_equal(b.count, a.count);
	assert_int_equal(b.xcm_version, a.xcm_version);
	for (i = 0; i < XS_XCPM_MAX_XCMS; i++) {
		assert_true(b.xcms[i].port_guid == a.xcms[i].port_guid);
		assert_int_equal(b.xcms[i].lid, a.xcms[i].lid);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_decodes_known_bytes),
		cmocka_unit_test(request_encodes_known_bytes),
		cmocka_unit_test(request_in_full_mad),
		cmocka_unit_test(request_strings_without_nul),
		cmocka_unit_test(request_truncated),
		cmocka_unit_test(request_encode_cap),
		cmocka_unit_test(request_encode_rejects_long_strings),
		cmocka_unit_test(reply_decodes_known_bytes),
		cmocka_unit_test(reply_encodes_known_bytes),
		cmocka_unit_test(reply_records_past_count_ignored),
		cmocka_unit_test(reply_bad_count),
		cmocka_unit_test(reply_bad_version),
		cmocka_unit_test(reply_truncated),
		cmocka_unit_test(reply_encode_cap_and_count),
		cmocka_unit_test(reply_round_trip_full_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
