/* SPDX-License-Identifier: MIT */
/* test_wire_sr.c - ServiceRecord codec and component-mask matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wire_test.h"

#define XDS_GUID UINT64_C(0x0002c90300a1b2c3)
#define XDS_LID 0x0005
#define XDS_SID UINT64_C(0x10000ce100415453)

/*
 * A SubnAdmGetResp(ServiceRecord) as OpenSM sends it back for a Get by
 * ServiceName "XSIGOXDS": MAD header, SA header with AttributeOffset 22
 * (176 / 8) and the request's ComponentMask echoed, then the record at 56.
 * Written byte by byte from IBA 13.4.3, 15.2.1.1 and 15.2.5.14.
 */
#define R 56 /* record offset in the MAD */
static const uint8_t opensm_getresp[XS_MAD_LEN] = {
	[0] = 0x01, [1] = 0x03, [2] = 0x02, [3] = 0x81,       /* GetResp */
	[8] = 0x00, [9] = 0x00, [10] = 0x00, [11] = 0x2a,     /* TID hi (set by kernel) */
	[12] = 0x00, [13] = 0x00, [14] = 0x10, [15] = 0x07,   /* TID lo */
	[16] = 0x00, [17] = 0x31,                             /* ServiceRecord */
	[44] = 0x00, [45] = 22,                               /* AttributeOffset */
	[55] = 0x40,                                          /* ComponentMask: NAME */
	/* ServiceID */
	[R + 0] = 0x10, [R + 1] = 0x00, [R + 2] = 0x0c, [R + 3] = 0xe1,
	[R + 4] = 0x00, [R + 5] = 0x41, [R + 6] = 0x54, [R + 7] = 0x53,
	/* ServiceGID fe80::2:c903:a1:b2c3 */
	[R + 8] = 0xfe, [R + 9] = 0x80,
	[R + 16] = 0x00, [R + 17] = 0x02, [R + 18] = 0xc9, [R + 19] = 0x03,
	[R + 20] = 0x00, [R + 21] = 0xa1, [R + 22] = 0xb2, [R + 23] = 0xc3,
	/* ServiceP_Key, reserved, ServiceLease infinite */
	[R + 24] = 0xff, [R + 25] = 0xff,
	[R + 28] = 0xff, [R + 29] = 0xff, [R + 30] = 0xff, [R + 31] = 0xff,
	/* ServiceKey: zero. ServiceName "XSIGOXDS", NUL padded */
	[R + 48] = 'X', [R + 49] = 'S', [R + 50] = 'I', [R + 51] = 'G',
	[R + 52] = 'O', [R + 53] = 'X', [R + 54] = 'D', [R + 55] = 'S',
	/* ServiceData16[0] = XDS LID */
	[R + 128] = 0x00, [R + 129] = 0x05,
	/* ServiceData64[0] = XDS port GUID */
	[R + 160] = 0x00, [R + 161] = 0x02, [R + 162] = 0xc9, [R + 163] = 0x03,
	[R + 164] = 0x00, [R + 165] = 0xa1, [R + 166] = 0xb2, [R + 167] = 0xc3,
};

static void sr_from_opensm_getresp(void **state)
{
	struct xs_sa_hdr h;
	struct xs_service_record sr;
	static const uint8_t gid[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					 0x00, 0x02, 0xc9, 0x03, 0x00, 0xa1, 0xb2, 0xc3 };
	static const uint8_t zero16[16];

	assert_int_equal(xs_sa_hdr_decode(opensm_getresp, sizeof(opensm_getresp), &h), 0);
	assert_int_equal(h.mad.method, XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP);
	assert_int_equal(h.mad.status, 0);
	assert_int_equal(h.mad.attr_id, XS_SA_ATTR_SERVICE_RECORD);
	assert_true(h.mad.tid == UINT64_C(0x0000002a00001007));
	assert_int_equal(h.attr_offset, 22);
	assert_int_equal(h.attr_offset * 8, XS_SR_LEN);
	assert_true(h.comp_mask == XS_SR_COMP_NAME);

	assert_int_equal(xs_sr_decode(opensm_getresp + XS_SA_DATA_OFF, XS_SA_DATA_LEN, &sr), 0);
	assert_true(sr.id == XDS_SID);
	assert_memory_equal(sr.gid, gid, 16);
	assert_int_equal(sr.pkey, 0xffff);
	assert_int_equal(sr.lease, XS_SR_LEASE_INFINITE);
	assert_memory_equal(sr.key, zero16, 16);
	assert_string_equal(sr.name, "XSIGOXDS");
	assert_int_equal(sr.data16[0], XDS_LID);
	assert_true(sr.data64[0] == XDS_GUID);
	assert_int_equal(sr.data16[1], 0);
	assert_int_equal(sr.data32[0], 0);
	assert_true(sr.data64[1] == 0);

	/* our encoder gives back the very same record bytes */
	uint8_t out[XS_SR_LEN];

	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), XS_SR_LEN);
	assert_memory_equal(out, opensm_getresp + XS_SA_DATA_OFF, XS_SR_LEN);

	/* and the host's query matches it */
	struct xs_service_record q;

	memset(&q, 0, sizeof(q));
	strcpy(q.name, "XSIGOXDS");
	assert_true(xs_sr_match(&sr, &q, XS_SR_COMP_NAME));
}

/* Every field with a distinct value at its IBA offset. */
static void fill_vec(uint8_t *v)
{
	unsigned int i;

	memset(v, 0, XS_SR_LEN);
	for (i = 0; i < 8; i++)
		v[0 + i] = (uint8_t)(0x10 + i);        /* ID 0x1011..17 */
	for (i = 0; i < 16; i++)
		v[8 + i] = (uint8_t)(0x20 + i);        /* GID */
	v[24] = 0x80; v[25] = 0x01;                    /* P_Key 0x8001 */
	v[28] = 0x00; v[29] = 0x00; v[30] = 0x0e; v[31] = 0x10; /* lease 3600 */
	for (i = 0; i < 16; i++)
		v[32 + i] = (uint8_t)(0x40 + i);       /* Key */
	wire_put_field(v + 48, "director-1", 10);
	for (i = 0; i < 16; i++)
		v[112 + i] = (uint8_t)(0x70 + i);      /* data8 */
	for (i = 0; i < 8; i++) {
		v[128 + 2 * i] = 0xa0;
		v[129 + 2 * i] = (uint8_t)i;           /* data16[i] = 0xa000 + i */
	}
	for (i = 0; i < 4; i++) {
		v[144 + 4 * i] = 0xb0;
		v[147 + 4 * i] = (uint8_t)i;           /* data32[i] = 0xb0000000 + i */
	}
	for (i = 0; i < 2; i++) {
		v[160 + 8 * i] = 0xc0;
		v[167 + 8 * i] = (uint8_t)i;           /* data64[i] = 0xc0..00 + i */
	}
}

static void sr_decodes_known_bytes(void **state)
{
	uint8_t v[XS_SR_LEN];
	struct xs_service_record sr;
	unsigned int i;

	fill_vec(v);
	assert_int_equal(xs_sr_decode(v, sizeof(v), &sr), 0);
	assert_true(sr.id == UINT64_C(0x1011121314151617));
	for (i = 0; i < 16; i++) {
		assert_int_equal(sr.gid[i], 0x20 + i);
		assert_int_equal(sr.key[i], 0x40 + i);
		assert_int_equal(sr.data8[i], 0x70 + i);
	}
	assert_int_equal(sr.pkey, 0x8001);
	assert_int_equal(sr.lease, 3600);
	assert_string_equal(sr.name, "director-1");
	for (i = 0; i < 8; i++)
		assert_int_equal(sr.data16[i], 0xa000 + i);
	for (i = 0; i < 4; i++)
		assert_int_equal(sr.data32[i], 0xb0000000u + i);
	for (i = 0; i < 2; i++)
		assert_true(sr.data64[i] == UINT64_C(0xc000000000000000) + i);

	uint8_t out[XS_SR_LEN + 1];

	out[XS_SR_LEN] = 0x99;
	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), XS_SR_LEN);
	assert_memory_equal(out, v, XS_SR_LEN);
	assert_int_equal(out[XS_SR_LEN], 0x99);
}

static void sr_reserved_ignored_and_zeroed(void **state)
{
	uint8_t v[XS_SR_LEN], ref[XS_SR_LEN], out[XS_SR_LEN];
	struct xs_service_record sr;

	fill_vec(ref);
	memcpy(v, ref, sizeof(v));
	v[26] = 0xff;
	v[27] = 0xff;
	assert_int_equal(xs_sr_decode(v, sizeof(v), &sr), 0);
	assert_int_equal(sr.pkey, 0x8001);
	assert_int_equal(sr.lease, 3600);
	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), XS_SR_LEN);
	assert_memory_equal(out, ref, sizeof(out));
}

static void sr_truncated(void **state)
{
	uint8_t v[XS_SR_LEN];

	fill_vec(v);
	WIRE_ASSERT_TRUNCATED(XS_WIRE_SERVICE_RECORD, xs_sr_decode, v, XS_SR_LEN,
			      struct xs_service_record);
}

static void sr_name_without_nul(void **state)
{
	uint8_t v[XS_SR_LEN];
	struct xs_service_record sr;
	char expect[XS_SR_NAME_LEN + 1];

	fill_vec(v);
	memset(v + 48, 'N', XS_SR_NAME_LEN);
	memset(expect, 'N', XS_SR_NAME_LEN);
	expect[XS_SR_NAME_LEN] = '\0';
	memset(&sr, 0x7f, sizeof(sr));
	assert_int_equal(xs_sr_decode(v, sizeof(v), &sr), 0);
	assert_int_equal(sr.name[XS_SR_NAME_LEN], '\0');
	assert_string_equal(sr.name, expect);
	/* the following field is intact */
	assert_int_equal(sr.data8[0], 0x70);

	/* a full-width name re-encodes to the same bytes */
	uint8_t out[XS_SR_LEN];

	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), XS_SR_LEN);
	assert_memory_equal(out, v, sizeof(out));
}

static void sr_name_garbage_after_nul(void **state)
{
	uint8_t v[XS_SR_LEN], out[XS_SR_LEN];
	struct xs_service_record sr;
	static const uint8_t zero[XS_SR_NAME_LEN];

	fill_vec(v);
	memset(v + 48, 0, XS_SR_NAME_LEN);
	wire_put_field(v + 48, "ABC\0XYZ", 7);
	assert_int_equal(xs_sr_decode(v, sizeof(v), &sr), 0);
	assert_string_equal(sr.name, "ABC");
	assert_memory_equal(sr.name + 3, zero, sizeof(sr.name) - 3);
	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), XS_SR_LEN);
	assert_memory_equal(out + 48, "ABC", 3);
	assert_memory_equal(out + 51, zero, XS_SR_NAME_LEN - 3);
}

static void sr_encode_rejects_long_name(void **state)
{
	struct xs_service_record sr;
	uint8_t out[XS_SR_LEN], ref[XS_SR_LEN];

	memset(&sr, 0, sizeof(sr));
	memset(sr.name, 'L', XS_SR_NAME_LEN + 1); /* 65 characters, no terminator */
	memset(out, 0x33, sizeof(out));
	memset(ref, 0x33, sizeof(ref));
	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), -EINVAL);
	assert_memory_equal(out, ref, sizeof(out));

	memset(sr.name, 'L', XS_SR_NAME_LEN);
	sr.name[XS_SR_NAME_LEN] = '\0';           /* exactly 64: fits */
	assert_int_equal(xs_sr_encode(&sr, out, sizeof(out)), XS_SR_LEN);
}

static void sr_encode_cap(void **state)
{
	uint8_t v[XS_SR_LEN];
	struct xs_service_record sr;

	fill_vec(v);
	assert_int_equal(xs_sr_decode(v, sizeof(v), &sr), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_sr_encode, &sr, XS_SR_LEN);
}

static void sr_round_trip(void **state)
{
	struct xs_service_record a, b;
	uint8_t buf[XS_SR_LEN];
	unsigned int i;

	memset(&a, 0, sizeof(a));
	a.id = UINT64_C(0xfedcba9876543210);
	for (i = 0; i < 16; i++) {
		a.gid[i] = (uint8_t)(0xff - i);
		a.key[i] = (uint8_t)(i * 7);
		a.data8[i] = (uint8_t)(i * 13);
	}
	a.pkey = 0x7fff;
	a.lease = XS_SR_LEASE_INFINITE;
	strcpy(a.name, "XSIGOXDS");
	for (i = 0; i < 8; i++)
		a.data16[i] = (uint16_t)(0xfff0 + i);
	for (i = 0; i < 4; i++)
		a.data32[i] = 0x80000001u * (i + 1);
	a.data64[0] = UINT64_MAX;
	a.data64[1] = 1;
	assert_int_equal(xs_sr_encode(&a, buf, sizeof(buf)), XS_SR_LEN);
	memset(&b, 0x55, sizeof(b));
	assert_int_equal(xs_sr_decode(buf, sizeof(buf), &b), 0);
	assert_true(b.id == a.id);
	assert_memory_equal(b.gid, a.gid, 16);
	assert_int_equal(b.pkey, a.pkey);
	assert_int_equal(b.lease, a.lease);
	assert_memory_equal(b.key, a.key, 16);
	assert_memory_equal(b.name, a.name, sizeof(a.name));
	assert_memory_equal(b.data8, a.data8, sizeof(a.data8));
	assert_memory_equal(b.data16, a.data16, sizeof(a.data16));
	assert_memory_equal(b.data32, a.data32, sizeof(a.data32));
	assert_memory_equal(b.data64, a.data64, sizeof(a.data64));
}

/* ------------------------------------------------------------ matching */

static void base_record(struct xs_service_record *r)
{
	uint8_t v[XS_SR_LEN];

	fill_vec(v);
	assert_int_equal(xs_sr_decode(v, sizeof(v), r), 0);
}

/*
 * For one component bit: a query differing from the record only in that
 * field fails with the bit set and passes with every other bit set.
 */
static void check_bit(uint64_t bit, void (*change)(struct xs_service_record *, unsigned int),
		      unsigned int idx)
{
	struct xs_service_record rec, q;

	base_record(&rec);
	base_record(&q);
	assert_true(xs_sr_match(&rec, &q, ~UINT64_C(0)));
	change(&q, idx);
	assert_false(xs_sr_match(&rec, &q, bit));
	assert_false(xs_sr_match(&rec, &q, ~UINT64_C(0)));
	assert_true(xs_sr_match(&rec, &q, ~bit));
	assert_true(xs_sr_match(&rec, &q, 0));
}

static void ch_id(struct xs_service_record *q, unsigned int i) { q->id ^= 1; }
static void ch_gid(struct xs_service_record *q, unsigned int i) { q->gid[15] ^= 1; }
static void ch_pkey(struct xs_service_record *q, unsigned int i) { q->pkey ^= 0x8000; }
static void ch_lease(struct xs_service_record *q, unsigned int i) { q->lease++; }
static void ch_key(struct xs_service_record *q, unsigned int i) { q->key[0] ^= 0x80; }
static void ch_name(struct xs_service_record *q, unsigned int i) { q->name[9] = '2'; }
static void ch_d8(struct xs_service_record *q, unsigned int i) { q->data8[i]++; }
static void ch_d16(struct xs_service_record *q, unsigned int i) { q->data16[i]++; }
static void ch_d32(struct xs_service_record *q, unsigned int i) { q->data32[i]++; }
static void ch_d64(struct xs_service_record *q, unsigned int i) { q->data64[i] += 1ull << 40; }

static void sr_match_each_bit(void **state)
{
	unsigned int i;

	check_bit(XS_SR_COMP_ID, ch_id, 0);
	check_bit(XS_SR_COMP_GID, ch_gid, 0);
	check_bit(XS_SR_COMP_PKEY, ch_pkey, 0);
	check_bit(XS_SR_COMP_LEASE, ch_lease, 0);
	check_bit(XS_SR_COMP_KEY, ch_key, 0);
	check_bit(XS_SR_COMP_NAME, ch_name, 0);
	for (i = 0; i < 16; i++)
		check_bit(XS_SR_COMP_DATA8(i), ch_d8, i);
	for (i = 0; i < 8; i++)
		check_bit(XS_SR_COMP_DATA16(i), ch_d16, i);
	for (i = 0; i < 4; i++)
		check_bit(XS_SR_COMP_DATA32(i), ch_d32, i);
	for (i = 0; i < 2; i++)
		check_bit(XS_SR_COMP_DATA64(i), ch_d64, i);
}

static void sr_match_bit_positions(void **state)
{
	/* IBA 15.2.5.14 component numbers, spelled out */
	assert_true(XS_SR_COMP_NAME == 0x40);
	assert_true(XS_SR_COMP_DATA8(0) == UINT64_C(1) << 7);
	assert_true(XS_SR_COMP_DATA8(15) == UINT64_C(1) << 22);
	assert_true(XS_SR_COMP_DATA16(0) == UINT64_C(1) << 23);
	assert_true(XS_SR_COMP_DATA32(0) == UINT64_C(1) << 31);
	assert_true(XS_SR_COMP_DATA64(1) == UINT64_C(1) << 36);
}

static void sr_match_name_whole_field(void **state)
{
	struct xs_service_record rec, q;

	memset(&rec, 0, sizeof(rec));
	memset(&q, 0, sizeof(q));
	strcpy(rec.name, "XSIGOXDS");
	strcpy(q.name, "XSIGO");           /* a prefix is not a match */
	assert_false(xs_sr_match(&rec, &q, XS_SR_COMP_NAME));
	strcpy(q.name, "XSIGOXDS2");       /* nor is a longer name */
	assert_false(xs_sr_match(&rec, &q, XS_SR_COMP_NAME));
	strcpy(q.name, "xsigoxds");        /* case matters */
	assert_false(xs_sr_match(&rec, &q, XS_SR_COMP_NAME));
	memset(q.name, 0, sizeof(q.name));
	strcpy(q.name, "XSIGOXDS");
	assert_true(xs_sr_match(&rec, &q, XS_SR_COMP_NAME));

	/* names that differ only in the 64th byte */
	memset(rec.name, 'a', XS_SR_NAME_LEN);
	memset(q.name, 'a', XS_SR_NAME_LEN);
	q.name[XS_SR_NAME_LEN - 1] = 'b';
	assert_false(xs_sr_match(&rec, &q, XS_SR_COMP_NAME));
	q.name[XS_SR_NAME_LEN - 1] = 'a';
	assert_true(xs_sr_match(&rec, &q, XS_SR_COMP_NAME));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sr_from_opensm_getresp),
		cmocka_unit_test(sr_decodes_known_bytes),
		cmocka_unit_test(sr_reserved_ignored_and_zeroed),
		cmocka_unit_test(sr_truncated),
		cmocka_unit_test(sr_name_without_nul),
		cmocka_unit_test(sr_name_garbage_after_nul),
		cmocka_unit_test(sr_encode_rejects_long_name),
		cmocka_unit_test(sr_encode_cap),
		cmocka_unit_test(sr_round_trip),
		cmocka_unit_test(sr_match_each_bit),
		cmocka_unit_test(sr_match_bit_positions),
		cmocka_unit_test(sr_match_name_whole_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
