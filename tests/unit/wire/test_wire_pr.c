/* SPDX-License-Identifier: MIT */
/* test_wire_pr.c - PathRecord codec: offsets and bit fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wire_test.h"

/* Written out from IBA 15.2.5.16, every bit field with a telling value. */
static const uint8_t pr_vec[XS_PR_LEN] = {
	/* 0 ServiceID */
	0x00, 0x00, 0x00, 0x00, 0x02, 0x13, 0x97, 0x01,
	/* 8 DGID fe80::11:22:33:44 */
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x11, 0x00, 0x22, 0x00, 0x33, 0x00, 0x44,
	/* 24 SGID fe80::aa:bb:cc:dd */
	0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0xaa, 0x00, 0xbb, 0x00, 0xcc, 0x00, 0xdd,
	0x00, 0x07,             /* 40 DLID 7 */
	0x00, 0x03,             /* 42 SLID 3 */
	0x8a, 0xbc, 0xde, 0x40, /* 44 Raw 1, rsvd 0, FlowLabel 0xabcde, HopLimit 64 */
	0x12,                   /* 48 TClass */
	0x81,                   /* 49 Reversible 1, NumbPath 1 */
	0xff, 0xff,             /* 50 P_Key */
	0xab, 0xcd,             /* 52 QosClass 0xabc, SL 0xd */
	0x84,                   /* 54 MtuSelector 2 (exactly), MTU 4 (2048) */
	0x83,                   /* 55 RateSelector 2, Rate 3 (10 Gb/s) */
	0x92,                   /* 56 PktLifeSelector 2, PktLife 0x12 */
	0x07,                   /* 57 Preference */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 58 reserved */
};

static void expect_vec(const struct xs_path_record *pr)
{
	static const uint8_t dgid[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					  0, 0x11, 0, 0x22, 0, 0x33, 0, 0x44 };
	static const uint8_t sgid[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0,
					  0, 0xaa, 0, 0xbb, 0, 0xcc, 0, 0xdd };

	assert_true(pr->service_id == XS_XSMP_SERVICE_ID);
	assert_memory_equal(pr->dgid, dgid, 16);
	assert_memory_equal(pr->sgid, sgid, 16);
	assert_int_equal(pr->dlid, 7);
	assert_int_equal(pr->slid, 3);
	assert_true(pr->raw_traffic);
	assert_int_equal(pr->flow_label, 0xabcde);
	assert_int_equal(pr->hop_limit, 64);
	assert_int_equal(pr->tclass, 0x12);
	assert_true(pr->reversible);
	assert_int_equal(pr->numb_path, 1);
	assert_int_equal(pr->pkey, 0xffff);
	assert_int_equal(pr->qos_class, 0xabc);
	assert_int_equal(pr->sl, 0xd);
	assert_int_equal(pr->mtu_selector, 2);
	assert_int_equal(pr->mtu, 4);
	assert_int_equal(pr->rate_selector, 2);
	assert_int_equal(pr->rate, 3);
	assert_int_equal(pr->pkt_life_selector, 2);
	assert_int_equal(pr->pkt_life, 0x12);
	assert_int_equal(pr->preference, 7);
}

static void pr_decodes_known_bytes(void **state)
{
	struct xs_path_record pr;

	assert_int_equal(xs_pr_decode(pr_vec, sizeof(pr_vec), &pr), 0);
	expect_vec(&pr);
}

static void pr_encodes_known_bytes(void **state)
{
	struct xs_path_record pr;
	uint8_t out[XS_PR_LEN + 2];

	assert_int_equal(xs_pr_decode(pr_vec, sizeof(pr_vec), &pr), 0);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(xs_pr_encode(&pr, out, sizeof(out)), XS_PR_LEN);
	assert_memory_equal(out, pr_vec, XS_PR_LEN);
	assert_int_equal(out[XS_PR_LEN], 0xee);
}

static void pr_reserved_ignored_and_zeroed(void **state)
{
	uint8_t v[XS_PR_LEN], out[XS_PR_LEN];
	struct xs_path_record pr;

	memcpy(v, pr_vec, sizeof(v));
	v[44] |= 0x70;                    /* the three reserved bits after RawTraffic */
	memset(v + 58, 0xff, 6);          /* trailing reserved bytes */
	assert_int_equal(xs_pr_decode(v, sizeof(v), &pr), 0);
	expect_vec(&pr);
	assert_int_equal(xs_pr_encode(&pr, out, sizeof(out)), XS_PR_LEN);
	assert_memory_equal(out, pr_vec, sizeof(out));
}

static void pr_single_bits(void **state)
{
	uint8_t v[XS_PR_LEN];
	struct xs_path_record pr;

	/* only RawTraffic set in word 44; only Reversible in byte 49 */
	memset(v, 0, sizeof(v));
	v[44] = 0x80;
	v[49] = 0x80;
	assert_int_equal(xs_pr_decode(v, sizeof(v), &pr), 0);
	assert_true(pr.raw_traffic);
	assert_int_equal(pr.flow_label, 0);
	assert_int_equal(pr.hop_limit, 0);
	assert_true(pr.reversible);
	assert_int_equal(pr.numb_path, 0);

	/* lowest FlowLabel bit is bit 8 of the word; NumbPath 0x7f alone */
	memset(v, 0, sizeof(v));
	v[46] = 0x01;
	v[49] = 0x7f;
	v[52] = 0x00;
	v[53] = 0x10;                     /* QosClass 1, SL 0 */
	v[54] = 0x3f;                     /* MTU 63, selector 0 */
	v[55] = 0xc0;                     /* selector 3, rate 0 */
	assert_int_equal(xs_pr_decode(v, sizeof(v), &pr), 0);
	assert_false(pr.raw_traffic);
	assert_int_equal(pr.flow_label, 1);
	assert_false(pr.reversible);
	assert_int_equal(pr.numb_path, 0x7f);
	assert_int_equal(pr.qos_class, 1);
	assert_int_equal(pr.sl, 0);
	assert_int_equal(pr.mtu_selector, 0);
	assert_int_equal(pr.mtu, 63);
	assert_int_equal(pr.rate_selector, 3);
	assert_int_equal(pr.rate, 0);
}

static void pr_truncated(void **state)
{
	WIRE_ASSERT_TRUNCATED(XS_WIRE_PATH_RECORD, xs_pr_decode, pr_vec, XS_PR_LEN,
			      struct xs_path_record);
}

static void pr_encode_cap(void **state)
{
	struct xs_path_record pr;

	assert_int_equal(xs_pr_decode(pr_vec, sizeof(pr_vec), &pr), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_pr_encode, &pr, XS_PR_LEN);
}

static void pr_encode_rejects_wide_fields(void **state)
{
	struct xs_path_record base, pr;
	uint8_t out[XS_PR_LEN], ref[XS_PR_LEN];

	assert_int_equal(xs_pr_decode(pr_vec, sizeof(pr_vec), &base), 0);
	memset(ref, 0x42, sizeof(ref));

#define TOO_WIDE(field, value)                                                    \
	do {                                                                      \
		pr = base;                                                        \
		pr.field = (value);                                               \
		memset(out, 0x42, sizeof(out));                                   \
		assert_int_equal(xs_pr_encode(&pr, out, sizeof(out)), -EINVAL);   \
		assert_memory_equal(out, ref, sizeof(out));                       \
	} while (0)

	TOO_WIDE(flow_label, 0x100000);
	TOO_WIDE(numb_path, 0x80);
	TOO_WIDE(qos_class, 0x1000);
	TOO_WIDE(sl, 16);
	TOO_WIDE(mtu_selector, 4);
	TOO_WIDE(mtu, 64);
	TOO_WIDE(rate_selector, 4);
	TOO_WIDE(rate, 64);
	TOO_WIDE(pkt_life_selector, 4);
	TOO_WIDE(pkt_life, 64);
#undef TOO_WIDE

	/* the widest legal values fit */
	pr = base;
	pr.flow_label = 0xfffff;
	pr.numb_path = 0x7f;
	pr.qos_class = 0xfff;
	pr.sl = 15;
	pr.mtu_selector = pr.rate_selector = pr.pkt_life_selector = 3;
	pr.mtu = pr.rate = pr.pkt_life = 63;
	assert_int_equal(xs_pr_encode(&pr, out, sizeof(out)), XS_PR_LEN);
	assert_int_equal(out[44], 0x8f);  /* raw 1, rsvd 0, top 4 flow label bits */
	assert_int_equal(out[45], 0xff);
	assert_int_equal(out[46], 0xff);
	assert_int_equal(out[47], 64);
	assert_int_equal(out[49], 0xff);
	assert_int_equal(out[52], 0xff);
	assert_int_equal(out[53], 0xff);
	assert_int_equal(out[54], 0xff);
	assert_int_equal(out[55], 0xff);
	assert_int_equal(out[56], 0xff);
}

static void pr_round_trip(void **state)
{
	struct xs_path_record a, b;
	uint8_t buf[XS_PR_LEN];

	memset(&a, 0, sizeof(a));
	a.service_id = UINT64_C(0x1122334455667788);
	memset(a.dgid, 0x5a, 16);
	memset(a.sgid, 0xa5, 16);
	a.dlid = 0xbfff;
	a.slid = 0xc000;
	a.raw_traffic = false;
	a.flow_label = 0x54321;
	a.hop_limit = 255;
	a.tclass = 0xfe;
	a.reversible = true;
	a.numb_path = 0x42;
	a.pkey = 0x8123;
	a.qos_class = 0x5a5;
	a.sl = 9;
	a.mtu_selector = 1;
	a.mtu = 5;
	a.rate_selector = 3;
	a.rate = 16;
	a.pkt_life_selector = 0;
	a.pkt_life = 19;
	a.preference = 0xee;
	assert_int_equal(xs_pr_encode(&a, buf, sizeof(buf)), XS_PR_LEN);
	memset(&b, 0x3c, sizeof(b));
	assert_int_equal(xs_pr_decode(buf, sizeof(buf), &b), 0);
	assert_true(b.service_id == a.service_id);
	assert_memory_equal(b.dgid, a.dgid, 16);
	assert_memory_equal(b.sgid, a.sgid, 16);
	assert_int_equal(b.dlid, a.dlid);
	assert_int_equal(b.slid, a.slid);
	assert_int_equal(b.raw_traffic, a.raw_traffic);
	assert_int_equal(b.flow_label, a.flow_label);
	assert_int_equal(b.hop_limit, a.hop_limit);
	assert_int_equal(b.tclass, a.tclass);
	assert_int_equal(b.reversible, a.reversible);
	assert_int_equal(b.numb_path, a.numb_path);
	assert_int_equal(b.pkey, a.pkey);
	assert_int_equal(b.qos_class, a.qos_class);
	assert_int_equal(b.sl, a.sl);
	assert_int_equal(b.mtu_selector, a.mtu_selector);
	assert_int_equal(b.mtu, a.mtu);
	assert_int_equal(b.rate_selector, a.rate_selector);
	assert_int_equal(b.rate, a.rate);
	assert_int_equal(b.pkt_life_selector, a.pkt_life_selector);
	assert_int_equal(b.pkt_life, a.pkt_life);
	assert_int_equal(b.preference, a.preference);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pr_decodes_known_bytes),
		cmocka_unit_test(pr_encodes_known_bytes),
		cmocka_unit_test(pr_reserved_ignored_and_zeroed),
		cmocka_unit_test(pr_single_bits),
		cmocka_unit_test(pr_truncated),
		cmocka_unit_test(pr_encode_cap),
		cmocka_unit_test(pr_encode_rejects_wide_fields),
		cmocka_unit_test(pr_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
