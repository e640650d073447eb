/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the XSMP ULP configuration codecs (xscore/wire/xsmp_ulp.c):
 * hand-written byte vectors at the documented offsets, round trips, and every
 * rejection path with its counter.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <xscore/xsmp_ulp.h>

/* Write @n bytes at @off: the vectors below are spelled out field by field. */
static void put(uint8_t *buf, size_t off, const char *bytes, size_t n)
{
	memcpy(buf + off, bytes, n);
}
#define PUT(buf, off, lit) put(buf, off, lit, sizeof(lit) - 1)

/* A vNIC INSTALL written by hand from the documented layout. */
static void vnic_install_vector(uint8_t *b)
{
	memset(b, 0, XS_VNIC_MSG_LEN);
	PUT(b, 0, "\x01\x00\x02\x00");                          /* INSTALL, code 0, length 512 */
	PUT(b, 4, "\x00\x00\x00\x00");                          /* bitmask */
	PUT(b, 8, "\x00\x00\x00\x01\x00\x00\x00\x2a");          /* resource_id 0x10000002a */
	PUT(b, 16, "\x00\x13\x97\x01\x00\x00\x00\x05");         /* tca_guid */
	PUT(b, 24, "\x00\x07");                                 /* tca_lid 7 */
	PUT(b, 26, "\x02\x00\x00\xaa\xbb\xcc");                 /* MAC */
	PUT(b, 32, "\x27\x10");                                 /* admin rate 10000 */
	PUT(b, 34, "\x00\x01");                                 /* admin up */
	PUT(b, 38, "\x05\xdc");                                 /* MTU 1500 */
	PUT(b, 40, "\x00\x00\x00\x1b");                         /* TCP|UDP|TSO|RX_BAT */
	PUT(b, 44, "eth-web0");                                 /* vnic_name */
	PUT(b, 60, "\x00\x03");                                 /* SL 3 */
	PUT(b, 64, "\x03\xe8\x07\xd0");                         /* cir 1000 pir 2000 */
	PUT(b, 68, "\x00\x01\x00\x00\x00\x02\x00\x00");         /* cbs 65536 pbs 131072 */
	PUT(b, 78, "\x00\x01");                                 /* mp_flag primary */
	PUT(b, 80, "ha-web");                                   /* mp_group */
	PUT(b, 128, "\x01\x02\x00\x03");                        /* ext v1, trunk, 3 VLANs */
	PUT(b, 136, "uplink-a");
	PUT(b, 232, "\x00\x0a\x00\x14\x0f\xfe");                /* VLANs 10 20 4094 */
}

static void test_vnic_decode_vector(void **state)
{
	uint8_t b[XS_VNIC_MSG_LEN];
	struct xs_vnic_msg m;
	const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0xaa, 0xbb, 0xcc };

	(void)state;
	vnic_install_vector(b);
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), 0);
	assert_int_equal(m.type, XS_VNIC_INSTALL);
	assert_int_equal(m.code, 0);
	assert_int_equal(m.length, 512);
	assert_true(m.resource_id == UINT64_C(0x10000002a));
	assert_true(m.tca_guid == UINT64_C(0x0013970100000005));
	assert_int_equal(m.tca_lid, 7);
	assert_memory_equal(m.mac, mac, 6);
	assert_int_equal(m.admin_rate, 10000);
	assert_int_equal(m.admin_state, XS_ADMIN_UP);
	assert_int_equal(m.mtu, 1500);
	assert_int_equal(m.install_flags, XS_VNIC_INSTALL_TCP_OFFL | XS_VNIC_INSTALL_UDP_OFFL |
						  XS_VNIC_INSTALL_TSO | XS_VNIC_INSTALL_RX_BAT);
	assert_string_equal(m.name, "eth-web0");
	assert_int_equal(m.service_level, 3);
	assert_int_equal(m.cir, 1000);
	assert_int_equal(m.pir, 2000);
	assert_int_equal(m.cbs, 65536);
	assert_int_equal(m.pbs, 131072);
	assert_int_equal(m.mp_flag, XS_VNIC_MP_PRIMARY);
	assert_string_equal(m.mp_group, "ha-web");
	assert_int_equal(m.ext_version, 1);
	assert_int_equal(m.vlan_mode, XS_VNIC_VLAN_TRUNK);
	assert_int_equal(m.vlan_count, 3);
	assert_int_equal(m.vlans[0], 10);
	assert_int_equal(m.vlans[1], 20);
	assert_int_equal(m.vlans[2], 4094);
	assert_string_equal(m.uplink, "uplink-a");
	assert_string_equal(m.reason_text, "");
}

static void test_vnic_encode_matches_vector(void **state)
{
	uint8_t want[XS_VNIC_MSG_LEN], got[XS_VNIC_MSG_LEN];
	struct xs_vnic_msg m;

	(void)state;
	vnic_install_vector(want);
	assert_int_equal(xs_vnic_msg_decode(want, sizeof(want), &m), 0);
	memset(got, 0xee, sizeof(got));
	assert_int_equal(xs_vnic_msg_encode(&m, got, sizeof(got)), XS_VNIC_MSG_LEN);
	assert_memory_equal(got, want, XS_VNIC_MSG_LEN);
}

static void test_vnic_nack_roundtrip(void **state)
{
	uint8_t b[XS_VNIC_MSG_LEN];
	struct xs_vnic_msg m, back;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = XS_VNIC_INSTALL;
	m.code = XS_XSMP_NACK | XS_NACK_DUP_NAME;
	m.resource_id = 77;
	strcpy(m.name, "abcdefghijklmno"); /* 15: the longest allowed */
	m.vlan_mode = XS_VNIC_VLAN_ACCESS;
	m.vlan_count = 1;
	m.vlans[0] = 100;
	m.reason = XS_NACK_DUP_NAME;
	strcpy(m.reason_text, "name abcdefghijklmno is used by resource 0x5");
	assert_int_equal(xs_vnic_msg_encode(&m, b, sizeof(b)), 512);
	assert_int_equal(b[1], 0x81);
	assert_memory_equal(b + 132, "\x00\x00\x00\x01", 4);
	assert_int_equal(b[59], 0); /* name field keeps its NUL */
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &back), 0);
	back.ext_version = 0; /* the encoder sets it; the input had 0 */
	back.length = 0;
	assert_memory_equal(&back, &m, sizeof(m));
}

static void test_vnic_encode_rejects(void **state)
{
	uint8_t b[XS_VNIC_MSG_LEN];
	struct xs_vnic_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = XS_VNIC_INSTALL;
	strcpy(m.name, "abcdefghijklmnop"); /* 16 characters */
	assert_int_equal(xs_vnic_msg_encode(&m, b, sizeof(b)), -EINVAL);
	strcpy(m.name, "ok");
	assert_int_equal(xs_vnic_msg_encode(&m, b, 511), -EMSGSIZE);
	m.vlan_mode = XS_VNIC_VLAN_ACCESS; /* access without an id */
	assert_int_equal(xs_vnic_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.vlan_count = 1;
	m.vlans[0] = 4095;
	assert_int_equal(xs_vnic_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.vlans[0] = 1;
	m.type = XS_VNIC_CODE_MAX;
	assert_int_equal(xs_vnic_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.type = XS_VNIC_DELETE;
	assert_int_equal(xs_vnic_msg_encode(&m, b, sizeof(b)), 512);
}

static void test_vnic_decode_rejects(void **state)
{
	uint8_t b[XS_VNIC_MSG_LEN];
	struct xs_vnic_msg m;
	uint64_t before = xs_ulp_wire_rejects(XS_ULP_CODEC_VNIC);

	(void)state;
	vnic_install_vector(b);
	assert_int_equal(xs_vnic_msg_decode(b, 511, &m), -EMSGSIZE);
	b[2] = 0x01; /* length 256 */
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vnic_install_vector(b);
	b[0] = 0;
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	b[0] = 18;
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vnic_install_vector(b);
	memset(b + 44, 'x', 16); /* name fills the field: no NUL */
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vnic_install_vector(b);
	b[129] = 3; /* vlan_mode */
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vnic_install_vector(b);
	b[130] = 0x00, b[131] = 129; /* 129 VLANs */
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vnic_install_vector(b);
	b[232] = 0, b[233] = 0; /* VLAN 0 */
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), -EBADMSG);
	assert_true(xs_ulp_wire_rejects(XS_ULP_CODEC_VNIC) == before + 8);

	/* ext_version 0: the extension is ignored, even if it holds garbage */
	vnic_install_vector(b);
	b[128] = 0;
	b[129] = 9;
	assert_int_equal(xs_vnic_msg_decode(b, sizeof(b), &m), 0);
	assert_int_equal(m.vlan_mode, 0);
	assert_int_equal(m.vlan_count, 0);
	assert_string_equal(m.uplink, "");
}

static void vhba_install_vector(uint8_t *b)
{
	memset(b, 0, XS_VHBA_MSG_LEN);
	PUT(b, 0, "\x01\x00\x02\x00");
	PUT(b, 8, "\x00\x00\x00\x02\x00\x00\x00\x01");          /* resource_id */
	PUT(b, 16, "\x21\x00\x00\x24\xff\x00\x00\x01");         /* WWPN */
	PUT(b, 24, "\x00\x13\x97\x01\x00\x00\x00\x06");         /* tca_guid */
	PUT(b, 32, "\x00\x09");                                 /* tca_lid */
	PUT(b, 36, "\x00\x00\x0f\xa0");                         /* bandwidth 4000 */
	PUT(b, 48, "\x00\x00\x00\x40");                         /* exec throttle 64 */
	PUT(b, 52, "\x00\x00\x00\x20");                         /* queue depth 32 */
	PUT(b, 56, "\x00\x00\x00\x1e");                         /* link-down timeout 30 */
	PUT(b, 60, "\x00\x00\x00\x01");                         /* admin up */
	PUT(b, 64, "\x00\x00\x00\x01");                         /* target reset on */
	PUT(b, 68, "\x00\x00\x01\x00");                         /* 256 LUNs per target */
	PUT(b, 72, "\x00\x00\x00\x02");                         /* 2 queues */
	PUT(b, 77, "\x01");                                     /* LUN masking on */
	PUT(b, 80, "vhba-db");
	PUT(b, 96, "\x50\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x03"); /* qclass 0 */
	PUT(b, 144, "\x00\x00\x08\x00");                        /* MTU 2048 */
	PUT(b, 152, "\x01\x02");                                /* ext v1, 2 targets */
	PUT(b, 160, "\x20\x00\x00\x24\xff\x00\x00\x01");        /* WWNN */
	PUT(b, 232, "array-1");
	PUT(b, 256, "\x50\x01\x39\x70\x00\x00\x00\x01");        /* its WWPN */
	PUT(b, 264, "array-2");
	PUT(b, 288, "\x50\x01\x39\x70\x00\x00\x00\x02");
}

static void test_vhba_vector_and_roundtrip(void **state)
{
	uint8_t b[XS_VHBA_MSG_LEN], again[XS_VHBA_MSG_LEN];
	struct xs_vhba_msg m;

	(void)state;
	vhba_install_vector(b);
	assert_int_equal(xs_vhba_msg_decode(b, sizeof(b), &m), 0);
	assert_int_equal(m.type, XS_VHBA_INSTALL);
	assert_true(m.resource_id == UINT64_C(0x200000001));
	assert_true(m.wwpn == UINT64_C(0x21000024ff000001));
	assert_true(m.wwnn == UINT64_C(0x20000024ff000001));
	assert_int_equal(m.tca_lid, 9);
	assert_int_equal(m.bandwidth, 4000);
	assert_int_equal(m.exec_throttle, 64);
	assert_int_equal(m.queue_depth, 32);
	assert_int_equal(m.link_down_timeout, 30);
	assert_int_equal(m.admin_state, 1);
	assert_int_equal(m.target_reset, 1);
	assert_int_equal(m.max_luns_per_target, 256);
	assert_int_equal(m.num_queues, 2);
	assert_int_equal(m.lunmask_enable, 1);
	assert_string_equal(m.name, "vhba-db");
	assert_true(m.qclass[0].target_wwpn == UINT64_C(0x5000000000000007));
	assert_int_equal(m.qclass[0].lun, 3);
	assert_int_equal(m.mtu, 2048);
	assert_int_equal(m.target_count, 2);
	assert_string_equal(m.targets[0], "array-1");
	assert_string_equal(m.targets[1], "array-2");
	assert_true(m.target_wwpn[0] == UINT64_C(0x5001397000000001));
	assert_true(m.target_wwpn[1] == UINT64_C(0x5001397000000002));
	assert_int_equal(xs_vhba_msg_encode(&m, again, sizeof(again)), 512);
	assert_memory_equal(again, b, sizeof(b));
}

static void test_vhba_rejects(void **state)
{
	uint8_t b[XS_VHBA_MSG_LEN];
	struct xs_vhba_msg m;
	uint64_t before = xs_ulp_wire_rejects(XS_ULP_CODEC_VHBA);

	(void)state;
	vhba_install_vector(b);
	b[75] = 5; /* num_queues 5 */
	assert_int_equal(xs_vhba_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vhba_install_vector(b);
	b[153] = 9; /* 9 targets */
	assert_int_equal(xs_vhba_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vhba_install_vector(b);
	b[153] = 3; /* third name empty */
	assert_int_equal(xs_vhba_msg_decode(b, sizeof(b), &m), -EBADMSG);
	vhba_install_vector(b);
	memset(b + 80, 'v', 16);
	assert_int_equal(xs_vhba_msg_decode(b, sizeof(b), &m), -EBADMSG);
	assert_int_equal(xs_vhba_msg_decode(b, 100, &m), -EMSGSIZE);
	assert_true(xs_ulp_wire_rejects(XS_ULP_CODEC_VHBA) == before + 5);

	vhba_install_vector(b);
	assert_int_equal(xs_vhba_msg_decode(b, sizeof(b), &m), 0);
	strcpy(m.name, "0123456789abcdef");
	assert_int_equal(xs_vhba_msg_encode(&m, b, sizeof(b)), -EINVAL);
	strcpy(m.name, "ok");
	m.num_queues = 5;
	assert_int_equal(xs_vhba_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.num_queues = 4;
	memset(m.targets[1], 't', sizeof(m.targets[1])); /* no NUL: past the 24-byte name */
	assert_int_equal(xs_vhba_msg_encode(&m, b, sizeof(b)), -EINVAL);
	m.targets[1][0] = 0;
	assert_int_equal(xs_vhba_msg_encode(&m, b, sizeof(b)), -EINVAL);
}

static void test_reslist(void **state)
{
	uint8_t b[1024];
	const uint8_t want[] = {
		0x00, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a,
		0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
	};
	struct xs_reslist r, back;
	uint64_t before = xs_ulp_wire_rejects(XS_ULP_CODEC_RESLIST);

	(void)state;
	memset(&r, 0, sizeof(r));
	r.count = 2;
	r.flags = XS_RESLIST_FIRST | XS_RESLIST_LAST;
	r.total = 2;
	r.entries[0] = (struct xs_reslist_entry){ XS_XSMP_VNIC, XS_RES_STATE_OPER_UP,
						  UINT64_C(0x10000002a) };
	r.entries[1] = (struct xs_reslist_entry){ XS_XSMP_VHBA, XS_RES_STATE_CONFIGURED,
						  UINT64_C(0x200000001) };
	assert_int_equal(xs_reslist_encode(&r, b, sizeof(b)), (int)sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(xs_reslist_decode(want, sizeof(want), &back), 0);
	assert_memory_equal(&back, &r, sizeof(r));
	assert_int_equal(xs_reslist_decode(want, sizeof(want) - 1, &back), -EMSGSIZE);
	memcpy(b, want, sizeof(want));
	b[2] = 0x04;
	assert_int_equal(xs_reslist_decode(b, sizeof(want), &back), -EBADMSG);
	b[2] = 0x03;
	b[0] = 0x00, b[1] = 48;
	assert_int_equal(xs_reslist_decode(b, sizeof(b), &back), -EBADMSG);
	assert_true(xs_ulp_wire_rejects(XS_ULP_CODEC_RESLIST) == before + 3);
	assert_int_equal(XS_RESLIST_MAX_ENTRIES, 47);
	r.count = 48;
	assert_int_equal(xs_reslist_encode(&r, b, sizeof(b)), -EINVAL);
}

static void test_peek_and_strings(void **state)
{
	uint8_t b[XS_VNIC_MSG_LEN];
	struct xs_ulp_peek p;

	(void)state;
	vnic_install_vector(b);
	assert_int_equal(xs_ulp_peek(b, 16, &p), 0);
	assert_int_equal(p.type, 1);
	assert_true(p.resource_id == UINT64_C(0x10000002a));
	assert_int_equal(xs_ulp_peek(b, 15, &p), -EMSGSIZE);
	assert_string_equal(xs_vnic_code_str(XS_VNIC_SYNC_BEGIN), "SYNC_BEGIN");
	assert_string_equal(xs_vhba_code_str(XS_VHBA_BOOT_INFO), "BOOT_INFO");
	assert_string_equal(xs_vnic_code_str(99), "UNKNOWN");
	assert_string_equal(xs_ulp_nack_reason_str(XS_NACK_DUP_NAME), "duplicate name");
	assert_string_equal(xs_ulp_codec_name(XS_ULP_CODEC_VHBA), "xsmp_vhba");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vnic_decode_vector),
		cmocka_unit_test(test_vnic_encode_matches_vector),
		cmocka_unit_test(test_vnic_nack_roundtrip),
		cmocka_unit_test(test_vnic_encode_rejects),
		cmocka_unit_test(test_vnic_decode_rejects),
		cmocka_unit_test(test_vhba_vector_and_roundtrip),
		cmocka_unit_test(test_vhba_rejects),
		cmocka_unit_test(test_reslist),
		cmocka_unit_test(test_peek_and_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
