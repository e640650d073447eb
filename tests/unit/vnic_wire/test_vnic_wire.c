/* SPDX-License-Identifier: MIT */
/* test_vnic_wire.c - vNIC CM private data, control messages, TSO prefix,
 * RX checksum trailer and batching container: known bytes, round trips,
 * every rejection rule with its counter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_net.h>

#include <xscore/common.h>
#include <xscore/vnic_wire.h>

#include "frames.h" /* real frames, shared with the vswitch tests */

/* Assert that decoding gives @err and counts exactly one rejection. */
#define ASSERT_REJECT(codec, err, call)                                          \
	do {                                                                     \
		uint64_t before_ = xs_vnic_wire_rejects(codec);                  \
		assert_int_equal((call), (err));                                 \
		assert_int_equal(xs_vnic_wire_rejects(codec) - before_, 1);      \
	} while (0)

/* ------------------------------------------------------- CM private data */

static const uint8_t cm_data_vec[16] = {
	0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, /* vid */
	0x00, 0x01,                                     /* qp_type: data */
	0x04, 0x00,                                     /* max_ctrl_msg_size 1024 */
	0x00, 0x01, 0x00, 0x06,                         /* TSO | RXBAT | TXBAT */
};

static void cm_priv_known_bytes(void **state)
{
	struct xs_vnic_cm_priv p;
	uint8_t out[20];

	assert_int_equal(xs_vnic_cm_priv_decode(cm_data_vec, sizeof(cm_data_vec), &p), 0);
	assert_true(p.vid == UINT64_C(0x0000000102030405));
	assert_int_equal(p.qp_type, XS_VNIC_QP_DATA);
	assert_int_equal(p.max_ctrl_msg_size, 1024);
	assert_int_equal(p.data_qp_flags, XS_VNIC_DQP_TSO | XS_VNIC_DQP_RXBAT | XS_VNIC_DQP_TXBAT);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(xs_vnic_cm_priv_encode(&p, out, sizeof(out)), 16);
	assert_memory_equal(out, cm_data_vec, 16);
	assert_int_equal(out[16], 0xee);
	/* CM pads private data: trailing bytes are fine */
	{
		uint8_t padded[92] = { 0 };

		memcpy(padded, cm_data_vec, 16);
		assert_int_equal(xs_vnic_cm_priv_decode(padded, sizeof(padded), &p), 0);
		assert_int_equal(p.qp_type, 1);
	}
}

static void cm_priv_rejects(void **state)
{
	struct xs_vnic_cm_priv p;
	uint8_t b[16];
	size_t n;

	for (n = 0; n < 16; n++)
		ASSERT_REJECT(XS_VNIC_WIRE_CM_PRIV, -EMSGSIZE,
			      xs_vnic_cm_priv_decode(cm_data_vec, n, &p));
	memcpy(b, cm_data_vec, 16);
	b[9] = 2; /* qp_type 2 */
	ASSERT_REJECT(XS_VNIC_WIRE_CM_PRIV, -EBADMSG, xs_vnic_cm_priv_decode(b, 16, &p));
	memcpy(b, cm_data_vec, 16);
	b[10] = 0;
	b[11] = 7; /* max ctrl 7 */
	ASSERT_REJECT(XS_VNIC_WIRE_CM_PRIV, -EBADMSG, xs_vnic_cm_priv_decode(b, 16, &p));
	memcpy(b, cm_data_vec, 16);
	b[15] |= 0x01; /* unknown flag bit 0 */
	ASSERT_REJECT(XS_VNIC_WIRE_CM_PRIV, -EBADMSG, xs_vnic_cm_priv_decode(b, 16, &p));
	memcpy(b, cm_data_vec, 16);
	b[9] = 0; /* control QP with data flags */
	ASSERT_REJECT(XS_VNIC_WIRE_CM_PRIV, -EBADMSG, xs_vnic_cm_priv_decode(b, 16, &p));
	b[12] = b[13] = b[14] = b[15] = 0;
	assert_int_equal(xs_vnic_cm_priv_decode(b, 16, &p), 0);
	assert_int_equal(p.qp_type, XS_VNIC_QP_CONTROL);

	/* encoder: same rules, small buffer */
	p.data_qp_flags = 0x80000000u;
	assert_int_equal(xs_vnic_cm_priv_encode(&p, b, 16), -EINVAL);
	p.data_qp_flags = 0;
	assert_int_equal(xs_vnic_cm_priv_encode(&p, b, 15), -EMSGSIZE);
}

/* ------------------------------------------------------ control messages */

static void ctrl_start_rx_and_heartbeat(void **state)
{
	static const uint8_t start_rx[8] = { 18, 0, 0x00, 0x08, 0, 0, 0, 0 };
	static const uint8_t hbeat[8] = { 34, 0, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef };
	struct xs_vnic_ctrl m;
	uint8_t out[8];

	assert_int_equal(xs_vnic_ctrl_decode(start_rx, 8, &m), 8);
	assert_int_equal(m.type, XS_VNIC_CTRL_START_RX);
	assert_int_equal(m.length, 8);
	assert_string_equal(xs_vnic_ctrl_type_name(m.type), "START_RX");
	assert_int_equal(xs_vnic_ctrl_encode(&m, out, sizeof(out)), 8);
	assert_memory_equal(out, start_rx, 8);

	assert_int_equal(xs_vnic_ctrl_decode(hbeat, 8, &m), 8);
	assert_int_equal(m.type, XS_VNIC_CTRL_HEART_BEAT);
	assert_int_equal(m.data, 0xdeadbeef);
	assert_int_equal(xs_vnic_ctrl_encode(&m, out, sizeof(out)), 8);
	assert_memory_equal(out, hbeat, 8);

	/* every type without payload encodes to its code and length 8 */
	static const uint8_t bare[] = { 16, 17, 18, 19, 27, 33, 34 };
	for (size_t i = 0; i < sizeof(bare); i++) {
		struct xs_vnic_ctrl c = { .type = bare[i] };

		assert_int_equal(xs_vnic_ctrl_encode(&c, out, sizeof(out)), 8);
		assert_int_equal(out[0], bare[i]);
		assert_int_equal(out[2], 0);
		assert_int_equal(out[3], 8);
		assert_int_equal(xs_vnic_ctrl_decode(out, 8, &m), 8);
		assert_int_equal(m.type, bare[i]);
	}
}

static void ctrl_link_messages(void **state)
{
	static const uint8_t link_up[8] = { 22, 0, 0, 8, 15, 0, 0, 0 };   /* 10G */
	static const uint8_t rx_resp[8] = { 31, 0, 0, 8, 17, 0, 0, 0 };   /* 25G */
	struct xs_vnic_ctrl m = { 0 };
	uint8_t out[8];
	uint8_t bad[8];

	assert_int_equal(xs_vnic_ctrl_decode(link_up, 8, &m), 8);
	assert_int_equal(m.type, XS_VNIC_CTRL_LINK_UP);
	assert_int_equal(m.u.link.speed, XS_VNIC_SPEED_10G);
	assert_int_equal(xs_vnic_speed_mbps(m.u.link.speed), 10000);
	assert_int_equal(xs_vnic_ctrl_encode(&m, out, 8), 8);
	assert_memory_equal(out, link_up, 8);

	assert_int_equal(xs_vnic_ctrl_decode(rx_resp, 8, &m), 8);
	assert_int_equal(m.u.link.speed, XS_VNIC_SPEED_25G);
	assert_int_equal(xs_vnic_speed_mbps(m.u.link.speed), 25000);

	memcpy(bad, link_up, 8);
	bad[4] = 0; /* LINK_UP with speed "down" */
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(bad, 8, &m));
	bad[0] = 23; /* LINK_DOWN with speed 0 is normal */
	assert_int_equal(xs_vnic_ctrl_decode(bad, 8, &m), 8);
	assert_int_equal(m.type, XS_VNIC_CTRL_LINK_DOWN);
	bad[4] = XS_VNIC_SPEED_N_CODES;
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(bad, 8, &m));

	m.type = XS_VNIC_CTRL_LINK_UP;
	m.u.link.speed = 0;
	assert_int_equal(xs_vnic_ctrl_encode(&m, out, 8), -EINVAL);

	/* speed mapping */
	assert_int_equal(xs_vnic_speed_code(0), XS_VNIC_SPEED_DOWN);
	assert_int_equal(xs_vnic_speed_code(5), XS_VNIC_SPEED_10M);
	assert_int_equal(xs_vnic_speed_code(1000), XS_VNIC_SPEED_1G);
	assert_int_equal(xs_vnic_speed_code(1999), XS_VNIC_SPEED_1G);
	assert_int_equal(xs_vnic_speed_code(40000), XS_VNIC_SPEED_40G);
	assert_int_equal(xs_vnic_speed_code(400000), XS_VNIC_SPEED_100G);
	assert_int_equal(xs_vnic_speed_mbps(XS_VNIC_SPEED_UNKNOWN), 0);
	assert_int_equal(xs_vnic_speed_mbps(200), 0);
}

static void ctrl_vlan_list(void **state)
{
	static const uint8_t vec[14] = { 25, 0, 0, 14, 0, 0, 0, 0,
					 0x00, 0x0a, 0x00, 0x14, 0x0f, 0xfe };
	struct xs_vnic_ctrl *m = calloc(1, sizeof(*m));
	uint8_t buf[1100];

	assert_non_null(m);
	assert_int_equal(xs_vnic_ctrl_decode(vec, sizeof(vec), m), 14);
	assert_int_equal(m->type, XS_VNIC_CTRL_ASSIGN_VLAN);
	assert_int_equal(m->u.vlan.count, 3);
	assert_int_equal(m->u.vlan.ids[0], 10);
	assert_int_equal(m->u.vlan.ids[1], 20);
	assert_int_equal(m->u.vlan.ids[2], 4094);
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, vec, 14);

	/* 500 VLANs is the maximum: 1008 bytes */
	m->type = XS_VNIC_CTRL_UNASSIGN_VLAN;
	m->u.vlan.count = 500;
	for (int i = 0; i < 500; i++)
		m->u.vlan.ids[i] = (uint16_t)(i + 1);
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, sizeof(buf)), 1008);
	assert_int_equal(buf[2], 0x03);
	assert_int_equal(buf[3], 0xf0);
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, 1007), -EMSGSIZE);
	memset(m, 0, sizeof(*m));
	assert_int_equal(xs_vnic_ctrl_decode(buf, 1008, m), 1008);
	assert_int_equal(m->u.vlan.count, 500);
	assert_int_equal(m->u.vlan.ids[499], 500);

	/* 501 IDs: rejected both ways */
	m->u.vlan.count = 501;
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, sizeof(buf)), -EINVAL);
	{
		uint8_t big[1010] = { 25, 0, 0x03, 0xf2 };

		for (int i = 0; i < 501; i++) {
			big[8 + 2 * i] = 0;
			big[9 + 2 * i] = 5;
		}
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(big, 1010, m));
	}
	/* empty list, odd payload, ID 0, ID 4095 */
	{
		uint8_t b[16];

		memcpy(b, vec, 14);
		b[3] = 8;
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 8, m));
		b[3] = 13;
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 14, m));
		b[3] = 14;
		b[9] = 0;
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 14, m));
		b[9] = 10;
		b[12] = 0x0f;
		b[13] = 0xff;
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 14, m));
	}
	free(m);
}

static void ctrl_multicast_list(void **state)
{
	static const uint8_t vec[20] = {
		30, 0, 0, 20, 0, 0, 0, 1,               /* all_multi */
		0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb,     /* 224.0.0.251 */
		0x33, 0x33, 0x00, 0x00, 0x00, 0x01,     /* ff02::1 */
	};
	struct xs_vnic_ctrl *m = calloc(1, sizeof(*m));
	uint8_t buf[XS_VNIC_CTRL_MAX_LEN];

	assert_non_null(m);
	assert_int_equal(xs_vnic_ctrl_decode(vec, sizeof(vec), m), 20);
	assert_true(m->u.mcast.all_multi);
	assert_int_equal(m->u.mcast.count, 2);
	assert_memory_equal(m->u.mcast.macs[0], vec + 8, 6);
	assert_memory_equal(m->u.mcast.macs[1], vec + 14, 6);
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, sizeof(buf)), 20);
	assert_memory_equal(buf, vec, 20);

	/* 128 MACs fit, 129 do not */
	m->u.mcast.all_multi = false;
	m->u.mcast.count = 128;
	for (int i = 0; i < 128; i++) {
		static const uint8_t base[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x00 };

		memcpy(m->u.mcast.macs[i], base, 6);
		m->u.mcast.macs[i][5] = (uint8_t)i;
	}
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, sizeof(buf)), 8 + 128 * 6);
	assert_int_equal(buf[7], 0);
	assert_int_equal(xs_vnic_ctrl_decode(buf, 8 + 128 * 6, m), 776);
	assert_int_equal(m->u.mcast.count, 128);
	assert_int_equal(m->u.mcast.macs[127][5], 127);
	m->u.mcast.count = 129;
	assert_int_equal(xs_vnic_ctrl_encode(m, buf, sizeof(buf)), -EINVAL);
	{
		uint8_t big[8 + 129 * 6];

		memset(big, 0x01, sizeof(big));
		big[0] = 30;
		big[1] = 0;
		xs_put16(big + 2, sizeof(big));
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(big, sizeof(big), m));
	}
	/* unicast MAC in the list, payload not a multiple of 6 */
	{
		uint8_t b[20];

		memcpy(b, vec, 20);
		b[14] = 0x32;
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 20, m));
		memcpy(b, vec, 20);
		b[3] = 19;
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 20, m));
	}
	/* an empty list (all-multicast only) is fine */
	{
		uint8_t b[8] = { 30, 0, 0, 8, 0, 0, 0, 1 };

		assert_int_equal(xs_vnic_ctrl_decode(b, 8, m), 8);
		assert_int_equal(m->u.mcast.count, 0);
		assert_true(m->u.mcast.all_multi);
	}
	free(m);
}

static void ctrl_mac_report_and_stats(void **state)
{
	static const uint8_t mac_vec[14] = { 29, 0, 0, 14, 0, 0, 0, 0,
					     0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
	struct xs_vnic_ctrl m = { 0 }, m2;
	uint8_t buf[80];

	assert_int_equal(xs_vnic_ctrl_decode(mac_vec, 14, &m), 14);
	assert_memory_equal(m.u.mac, mac_vec + 8, 6);
	assert_int_equal(xs_vnic_ctrl_encode(&m, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, mac_vec, 14);
	memcpy(buf, mac_vec, 14);
	buf[8] = 0x03; /* group bit */
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(buf, 14, &m));
	memset(buf + 8, 0, 6);
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(buf, 14, &m));

	memset(&m, 0, sizeof(m));
	m.type = XS_VNIC_CTRL_STATS_RESPONSE;
	m.u.stats.rx_frames = 1;
	m.u.stats.rx_bytes = UINT64_C(0x0102030405060708);
	m.u.stats.tx_frames = 3;
	m.u.stats.tx_bytes = 4;
	m.u.stats.rx_drops = 5;
	m.u.stats.tx_drops = 6;
	m.u.stats.rx_errors = 7;
	m.u.stats.tx_errors = UINT64_MAX;
	assert_int_equal(xs_vnic_ctrl_encode(&m, buf, sizeof(buf)), 72);
	assert_int_equal(buf[0], 28);
	assert_int_equal(buf[3], 72);
	{
		static const uint8_t rxb[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

		assert_memory_equal(buf + 16, rxb, 8);
	}
	assert_int_equal(buf[8 + 7], 1);
	assert_int_equal(buf[71], 0xff);
	assert_int_equal(xs_vnic_ctrl_decode(buf, 72, &m2), 72);
	assert_memory_equal(&m2.u.stats, &m.u.stats, sizeof(m.u.stats));
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EMSGSIZE, xs_vnic_ctrl_decode(buf, 71, &m2));
	buf[3] = 64;
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(buf, 72, &m2));
}

static void ctrl_header_rejects(void **state)
{
	struct xs_vnic_ctrl m;
	uint8_t b[16] = { 18, 0, 0, 8, 0, 0, 0, 0 };

	for (size_t n = 0; n < 8; n++)
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EMSGSIZE, xs_vnic_ctrl_decode(b, n, &m));
	b[3] = 7;
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 16, &m));
	b[3] = 16; /* START_RX with 8 payload bytes */
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 16, &m));
	b[3] = 12; /* length beyond the buffer */
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EMSGSIZE, xs_vnic_ctrl_decode(b, 10, &m));
	b[2] = 0x04;
	b[3] = 0x01; /* 1025 */
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 16, &m));
	b[2] = 0;
	b[3] = 8;
	b[1] = 1; /* reserved */
	ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 16, &m));
	b[1] = 0;
	/* codes we do not carry, and codes outside the table */
	static const uint8_t unsupported[] = { 0, 15, 20, 21, 24, 32, 35, 255 };
	for (size_t i = 0; i < sizeof(unsupported); i++) {
		b[0] = unsupported[i];
		ASSERT_REJECT(XS_VNIC_WIRE_CTRL, -EBADMSG, xs_vnic_ctrl_decode(b, 8, &m));
	}
	assert_string_equal(xs_vnic_ctrl_type_name(24), "ASSIGN_IP");
	assert_string_equal(xs_vnic_ctrl_type_name(200), "unknown");
	/* trailing bytes past the length are not read */
	b[0] = 17;
	assert_int_equal(xs_vnic_ctrl_decode(b, 16, &m), 8);
	assert_int_equal(m.type, XS_VNIC_CTRL_STOP_TX);
	/* encoder: unsupported type */
	m.type = XS_VNIC_CTRL_ASSIGN_IP;
	assert_int_equal(xs_vnic_ctrl_encode(&m, b, 16), -EINVAL);
	assert_string_equal(xs_vnic_codec_name(XS_VNIC_WIRE_CTRL), "vnic_ctrl");
}

/* -------------------------------------------------------- TSO prefix */

static void tso_known_bytes(void **state)
{
	/* GSO: format 01, csum, hdr_len 66 (0x042), mss 1448 (0x05a8) */
	uint8_t msg[8 + 200] = { 0x60, 0x42, 0x05, 0xa8 };
	struct xs_vnic_tso t, t2;
	uint8_t out[8];

	assert_int_equal(xs_vnic_tso_decode(msg, 4 + 200, &t), 4);
	assert_true(t.gso);
	assert_true(t.csum);
	assert_int_equal(t.hdr_len, 66);
	assert_int_equal(t.mss, 1448);
	assert_false(t.has_vlan);
	assert_int_equal(xs_vnic_tso_encode(&t, out, 4), 4);
	assert_memory_equal(out, msg, 4);

	/* no-GSO: 0x50000000 */
	static const uint8_t nogso[4] = { 0x50, 0, 0, 0 };
	memcpy(msg, nogso, 4);
	assert_int_equal(xs_vnic_tso_decode(msg, 4 + 60, &t), 4);
	assert_false(t.gso);
	assert_false(t.csum);
	assert_int_equal(xs_vnic_tso_encode(&t, out, 4), 4);
	assert_memory_equal(out, nogso, 4);
	/* no-GSO with a partial checksum: 0x70000000 */
	static const uint8_t nogso_csum[4] = { 0x70, 0, 0, 0 };
	memcpy(msg, nogso_csum, 4);
	assert_int_equal(xs_vnic_tso_decode(msg, 4 + 60, &t), 4);
	assert_false(t.gso);
	assert_true(t.csum);
	assert_int_equal(xs_vnic_tso_encode(&t, out, 4), 4);
	assert_memory_equal(out, nogso_csum, 4);

	/* format 11 with a VLAN word: TCI 0x2064 (PCP 1, VID 100) */
	static const uint8_t vl[8] = { 0xe0, 0x36, 0x02, 0x18, 0, 0, 0x20, 0x64 };
	memcpy(msg, vl, 8);
	assert_int_equal(xs_vnic_tso_decode(msg, 8 + 100, &t), 8);
	assert_true(t.gso && t.has_vlan);
	assert_int_equal(t.tci, 0x2064);
	assert_int_equal(t.hdr_len, 54);
	assert_int_equal(t.mss, 536);
	assert_int_equal(xs_vnic_tso_encode(&t, out, 8), 8);
	assert_memory_equal(out, vl, 8);
	assert_int_equal(xs_vnic_tso_encode(&t, out, 7), -EMSGSIZE);
	t2 = t;
	t2.mss = 0;
	assert_int_equal(xs_vnic_tso_encode(&t2, out, 8), -EINVAL);
	t2 = t;
	t2.csum = false;
	assert_int_equal(xs_vnic_tso_encode(&t2, out, 8), -EINVAL);
}

static void tso_rejects(void **state)
{
	uint8_t m[80] = { 0 };
	struct xs_vnic_tso t;

	for (size_t n = 0; n < 4; n++)
		ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EMSGSIZE, xs_vnic_tso_decode(m, n, &t));
	m[0] = 0x00; /* format 00 */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
	m[0] = 0x80; /* format 10 */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
	m[0] = 0x40; /* GSO without the csum bit */
	m[1] = 0x36;
	m[3] = 100;
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
	m[1] = 0;
	m[3] = 0;
	m[0] = 0x50;
	m[3] = 1; /* no-GSO with mss */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
	m[3] = 0;
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EMSGSIZE, xs_vnic_tso_decode(m, 4 + 13, &t));
	assert_int_equal(xs_vnic_tso_decode(m, 4 + 14, &t), 4);
	m[0] = 0x60; /* GSO, mss 0 */
	m[1] = 0x36;
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
	m[3] = 100;
	m[1] = 0x35; /* hdr_len 53 */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
	m[1] = 0x36; /* hdr 54, frame must be longer than 54 */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 4 + 54, &t));
	assert_int_equal(xs_vnic_tso_decode(m, 4 + 55, &t), 4);
	m[0] = 0xe0; /* VLAN format, truncated VLAN word */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EMSGSIZE, xs_vnic_tso_decode(m, 7, &t));
	m[4] = 0x01; /* upper VLAN bits */
	ASSERT_REJECT(XS_VNIC_WIRE_TSO, -EBADMSG, xs_vnic_tso_decode(m, 80, &t));
}

/* --------------------------------------- prefix <-> virtio-net header */

/* tcp4_a_to_lan / tcp6_a_to_lan with @payload bytes appended */
static size_t with_payload(uint8_t *f, bool v6, size_t payload)
{
	const uint8_t *base = v6 ? tcp6_a_to_lan : tcp4_a_to_lan;
	size_t hdr = v6 ? 74 : 54;

	memcpy(f, base, hdr);
	memset(f + hdr, 0x77, payload);
	if (v6)
		xs_put16(f + 18, (uint16_t)(20 + payload));
	else
		xs_put16(f + 16, (uint16_t)(40 + payload));
	return hdr + payload;
}

static void vnet_tso_conversions(void **state)
{
	struct virtio_net_hdr vh = { 0 }, vh2;
	struct xs_vnic_tso t;
	uint8_t f[2000];
	size_t n;

	/* nothing to say */
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, arp_req_a, arp_req_a_len, &t), 0);
	assert_false(t.gso || t.csum);
	assert_int_equal(xs_vnic_tso_to_vnet(&t, arp_req_a, arp_req_a_len, &vh2), 0);
	assert_int_equal(vh2.flags, 0);
	assert_int_equal(vh2.gso_type, 0);

	/* partial checksum, IPv4 TCP / UDP, tagged UDP */
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				      .csum_offset = 16 };
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, tcp4_a_to_lan, tcp4_a_to_lan_len, &t), 0);
	assert_true(t.csum);
	assert_false(t.gso);
	assert_int_equal(xs_vnic_tso_to_vnet(&t, tcp4_a_to_lan, tcp4_a_to_lan_len, &vh2), 0);
	assert_memory_equal(&vh2, &vh, sizeof(vh));
	t = (struct xs_vnic_tso){ .csum = true };
	assert_int_equal(xs_vnic_tso_to_vnet(&t, udp4_a_to_b, udp4_a_to_b_len, &vh2), 0);
	assert_int_equal(vh2.csum_start, 34);
	assert_int_equal(vh2.csum_offset, 6);
	assert_int_equal(xs_vnic_tso_to_vnet(&t, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len,
					     &vh2), 0);
	assert_int_equal(vh2.csum_start, 38);
	assert_int_equal(xs_vnic_tso_to_vnet(&t, udp6_hbh, udp6_hbh_len, &vh2), 0);
	assert_int_equal(vh2.csum_start, 62);
	/* offsets that do not point at the checksum; not TCP/UDP */
	vh.csum_offset = 6;
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, tcp4_a_to_lan, tcp4_a_to_lan_len, &t), -EINVAL);
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, arp_req_a, arp_req_a_len, &t), -EPROTONOSUPPORT);
	t = (struct xs_vnic_tso){ .csum = true };
	assert_int_equal(xs_vnic_tso_to_vnet(&t, ns6_a, ns6_a_len, &vh2), -EPROTONOSUPPORT);

	/* GSO, IPv4: hdr_len from the headers (not from the vnet header) */
	n = with_payload(f, false, 1500);
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 99,
				      .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, n, &t), 0);
	assert_true(t.gso && t.csum);
	assert_int_equal(t.mss, 1448);
	assert_int_equal(t.hdr_len, 54);
	{
		/* on the wire: prefix 60 36 05 a8, then the frame; decodes back */
		static uint8_t msg[4 + 2000];
		static const uint8_t want[4] = { 0x60, 0x36, 0x05, 0xa8 };
		struct xs_vnic_tso t2;

		assert_int_equal(xs_vnic_tso_encode(&t, msg, sizeof(msg)), 4);
		assert_memory_equal(msg, want, 4);
		memcpy(msg + 4, f, n);
		assert_int_equal(xs_vnic_tso_decode(msg, 4 + n, &t2), 4);
		assert_true(t2.gso && t2.csum && !t2.has_vlan);
		assert_int_equal(t2.mss, t.mss);
		assert_int_equal(t2.hdr_len, t.hdr_len);
	}
	assert_int_equal(xs_vnic_tso_to_vnet(&t, f, n, &vh2), 0);
	assert_int_equal(vh2.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh2.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh2.gso_size, 1448);
	assert_int_equal(vh2.hdr_len, 54);
	assert_int_equal(vh2.csum_start, 34);
	assert_int_equal(vh2.csum_offset, 16);
	/* ECN bit accepted; wrong IP version, UDP GSO, mss 0, no payload */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, n, &t), 0);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, n, &t), -EPROTONOSUPPORT);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, n, &t), -EPROTONOSUPPORT);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 0;
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, n, &t), -EINVAL);
	vh.gso_size = 1448;
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, tcp4_a_to_lan, tcp4_a_to_lan_len, &t), -EINVAL);
	/* a prefix whose hdr_len disagrees with the frame */
	t = (struct xs_vnic_tso){ .gso = true, .csum = true, .mss = 1000, .hdr_len = 60 };
	assert_int_equal(xs_vnic_tso_to_vnet(&t, f, n, &vh2), -EINVAL);

	/* GSO, IPv6 */
	n = with_payload(f, true, 1500);
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				      .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1428,
				      .csum_start = 54, .csum_offset = 16 };
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, n, &t), 0);
	assert_int_equal(t.hdr_len, 74);
	assert_int_equal(xs_vnic_tso_to_vnet(&t, f, n, &vh2), 0);
	assert_int_equal(vh2.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(vh2.hdr_len, 74);
	assert_int_equal(vh2.csum_start, 54);
	/* truncated */
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, f, 60, &t), -EMSGSIZE);
}

/* ------------------------------------------------ RX checksum trailer */

static void csum_known_bytes(void **state)
{
	uint8_t frame[64] = { 0 };
	struct xs_vnic_csum c;
	uint8_t out[4];

	/* IPv4 TCP good: 0x00000048 */
	frame[63] = 0x48;
	assert_int_equal(xs_vnic_csum_decode(frame, 64, &c), 60);
	assert_true(c.ipv4 && c.tcp_good);
	assert_false(c.udp_good || c.ipv6 || c.ip_fragment);
	assert_int_equal(xs_vnic_csum_encode(&c, out, 4), 4);
	assert_memory_equal(out, frame + 60, 4);

	/* IPv4 UDP fragment with partial checksum 0xbeef: 0xbeef0142 */
	static const uint8_t frag[4] = { 0xbe, 0xef, 0x01, 0x42 };
	memcpy(frame + 60, frag, 4);
	assert_int_equal(xs_vnic_csum_decode(frame, 64, &c), 60);
	assert_true(c.ipv4 && c.udp_good && c.ip_fragment);
	assert_int_equal(c.csum, 0xbeef);
	assert_int_equal(xs_vnic_csum_encode(&c, out, 4), 4);
	assert_memory_equal(out, frag, 4);

	/* IPv6 (ours) TCP good: 0x00000088; non-IP: 0 */
	static const uint8_t v6[4] = { 0, 0, 0, 0x88 };
	memcpy(frame + 60, v6, 4);
	assert_int_equal(xs_vnic_csum_decode(frame, 64, &c), 60);
	assert_true(c.ipv6 && c.tcp_good);
	memset(frame + 60, 0, 4);
	assert_int_equal(xs_vnic_csum_decode(frame, 64, &c), 60);
	assert_false(c.ipv4 || c.ipv6 || c.tcp_good || c.udp_good);
	assert_int_equal(xs_vnic_csum_encode(&c, out, 3), -EMSGSIZE);
}

static void csum_rejects(void **state)
{
	uint8_t f[32] = { 0 };
	struct xs_vnic_csum c = { 0 };
	static const uint32_t bad[] = {
		0x00000001, /* reserved bit 0 */
		0x00008000, /* reserved bit 15 */
		0x000000c0, /* ipv4 + ipv6 */
		0x0000004a, /* tcp + udp */
		0x00000008, /* tcp good, no IP */
		0x00000100, /* fragment, no IP */
		0x12340048, /* csum on a non-fragment */
	};

	for (size_t n = 0; n < 18; n++)
		ASSERT_REJECT(XS_VNIC_WIRE_CSUM, -EMSGSIZE, xs_vnic_csum_decode(f, n, &c));
	for (size_t i = 0; i < XS_ARRAY_SIZE(bad); i++) {
		xs_put32(f + 28, bad[i]);
		ASSERT_REJECT(XS_VNIC_WIRE_CSUM, -EBADMSG, xs_vnic_csum_decode(f, 32, &c));
	}
	c.ipv4 = c.ipv6 = true;
	assert_int_equal(xs_vnic_csum_encode(&c, f, 4), -EINVAL);
}

/* ------------------------------------------------ batching container */

static void batch_known_bytes(void **state)
{
	/* Three frames of 5, 4 and 3 bytes: padding after the first only
	 * (the second is aligned; the last needs none). */
	static const uint8_t vec[] = {
		0x00, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e', 0, 0, 0,
		0x00, 0x00, 0x00, 0x04, 'f', 'g', 'h', 'i',
		0x20, 0x00, 0x00, 0x03, 'j', 'k', 'l',
	};
	struct xs_vnic_batch_builder b;
	struct xs_vnic_batch_iter it;
	const uint8_t *f;
	size_t fl;
	uint8_t buf[64];

	memset(buf, 0xee, sizeof(buf));
	xs_vnic_batch_builder_init(&b, buf, sizeof(buf));
	assert_int_equal(xs_vnic_batch_finish(&b), -ENODATA);
	assert_int_equal(xs_vnic_batch_add(&b, (const uint8_t *)"abcde", 5), 0);
	assert_int_equal(xs_vnic_batch_add(&b, (const uint8_t *)"fghi", 4), 0);
	assert_int_equal(xs_vnic_batch_add(&b, (const uint8_t *)"jkl", 3), 0);
	assert_int_equal(xs_vnic_batch_finish(&b), sizeof(vec));
	assert_memory_equal(buf, vec, sizeof(vec));

	xs_vnic_batch_iter_init(&it, vec, sizeof(vec));
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), 1);
	assert_int_equal(fl, 5);
	assert_memory_equal(f, "abcde", 5);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), 1);
	assert_int_equal(fl, 4);
	assert_memory_equal(f, "fghi", 4);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), 1);
	assert_int_equal(fl, 3);
	assert_memory_equal(f, "jkl", 3);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), 0);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), 0);
	assert_int_equal(xs_vnic_batch_count(vec, sizeof(vec)), 3);
	/* the final entry's padding may be present */
	{
		uint8_t p[sizeof(vec) + 1];

		memcpy(p, vec, sizeof(vec));
		p[sizeof(vec)] = 0;
		assert_int_equal(xs_vnic_batch_count(p, sizeof(p)), 3);
	}
	assert_int_equal(xs_vnic_batch_entry_size(5), 12);
	assert_int_equal(xs_vnic_batch_entry_size(4), 8);
}

static void batch_builder_limits(void **state)
{
	static uint8_t frame[XS_VNIC_BATCH_MAX_FRAME + 1];
	struct xs_vnic_batch_builder b;
	uint8_t buf[8192];
	int n = 0, len;

	memset(frame, 0x5a, sizeof(frame));
	xs_vnic_batch_builder_init(&b, buf, sizeof(buf));
	assert_int_equal(xs_vnic_batch_add(&b, frame, 0), -EINVAL);
	assert_int_equal(xs_vnic_batch_add(&b, frame, XS_VNIC_BATCH_MAX_FRAME + 1), -EINVAL);
	/* fill an 8 KiB message with 1514-byte frames: 5 fit (5 * 1520 = 7600) */
	while (xs_vnic_batch_add(&b, frame, 1514) == 0)
		n++;
	assert_int_equal(n, 5);
	assert_int_equal(xs_vnic_batch_add(&b, frame, 1514), -ENOSPC);
	assert_int_equal(b.off, 7600);
	/* a frame that fits only without padding still goes in, last */
	assert_int_equal(xs_vnic_batch_add(&b, frame, 8192 - 7600 - 4), 0);
	assert_int_equal(xs_vnic_batch_add(&b, frame, 1), -ENOSPC);
	len = xs_vnic_batch_finish(&b);
	assert_int_equal(len, 8192);
	assert_int_equal(xs_vnic_batch_count(buf, (size_t)len), 6);
	/* one frame of the maximum size */
	{
		static uint8_t big[XS_VNIC_BATCH_MAX_FRAME + 8];

		xs_vnic_batch_builder_init(&b, big, sizeof(big));
		assert_int_equal(xs_vnic_batch_add(&b, frame, XS_VNIC_BATCH_MAX_FRAME), 0);
		len = xs_vnic_batch_finish(&b);
		assert_int_equal(len, 4 + XS_VNIC_BATCH_MAX_FRAME);
		assert_int_equal(big[0], 0x20);
		assert_int_equal(big[2], 0x3f);
		assert_int_equal(big[3], 0xff);
		assert_int_equal(xs_vnic_batch_count(big, (size_t)len), 1);
	}
}

static void batch_rejects(void **state)
{
	struct xs_vnic_batch_iter it;
	const uint8_t *f;
	size_t fl;
	uint8_t b[32];

	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EMSGSIZE, xs_vnic_batch_count(b, 0));
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EMSGSIZE, xs_vnic_batch_count(b, 3));
	/* no final bit: runs out after the only entry */
	memset(b, 0, sizeof(b));
	xs_put32(b, 4);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EMSGSIZE, xs_vnic_batch_count(b, 8));
	/* zero length */
	xs_put32(b, XS_VNIC_BATCH_FINAL);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EBADMSG, xs_vnic_batch_count(b, 8));
	/* format 1 */
	xs_put32(b, 0x40000000u | XS_VNIC_BATCH_FINAL | 4);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EBADMSG, xs_vnic_batch_count(b, 8));
	/* reserved bit 14 */
	xs_put32(b, XS_VNIC_BATCH_FINAL | (1u << 14) | 4);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EBADMSG, xs_vnic_batch_count(b, 8));
	/* length past the buffer */
	xs_put32(b, XS_VNIC_BATCH_FINAL | 5);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EMSGSIZE, xs_vnic_batch_count(b, 8));
	/* bytes after the final entry beyond its padding */
	xs_put32(b, XS_VNIC_BATCH_FINAL | 4);
	assert_int_equal(xs_vnic_batch_count(b, 8), 1);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EBADMSG, xs_vnic_batch_count(b, 9));
	/* a non-final entry whose padding is cut off */
	xs_put32(b, 3);
	ASSERT_REJECT(XS_VNIC_WIRE_BATCH, -EMSGSIZE, xs_vnic_batch_count(b, 7));
	/* frames before an error are handed out; the error is sticky */
	xs_put32(b, 4);
	xs_put32(b + 8, 0xffffffffu);
	xs_vnic_batch_iter_init(&it, b, 16);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), 1);
	assert_int_equal(fl, 4);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), -EBADMSG);
	assert_int_equal(xs_vnic_batch_next(&it, &f, &fl), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cm_priv_known_bytes),
		cmocka_unit_test(cm_priv_rejects),
		cmocka_unit_test(ctrl_start_rx_and_heartbeat),
		cmocka_unit_test(ctrl_link_messages),
		cmocka_unit_test(ctrl_vlan_list),
		cmocka_unit_test(ctrl_multicast_list),
		cmocka_unit_test(ctrl_mac_report_and_stats),
		cmocka_unit_test(ctrl_header_rejects),
		cmocka_unit_test(tso_known_bytes),
		cmocka_unit_test(tso_rejects),
		cmocka_unit_test(vnet_tso_conversions),
		cmocka_unit_test(csum_known_bytes),
		cmocka_unit_test(csum_rejects),
		cmocka_unit_test(batch_known_bytes),
		cmocka_unit_test(batch_builder_limits),
		cmocka_unit_test(batch_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
