/* SPDX-License-Identifier: MIT */
/*
 * test_vswitch.c - forwarding rules of the virtual switch on real frames:
 * VLAN classification, vNIC-to-vNIC switching, unknown unicast to the
 * uplink, flooding, multicast groups, tag insert/strip variants, learning
 * and ageing, anti-spoofing, takeover, policers, counters.
 *
 * The switch used by most tests:
 *   uplink U: trunk, all VLANs, native VLAN 1, checksum offload and TSO
 *   vNIC A 02:..:0a access VLAN 1     vNIC B 02:..:0b access VLAN 1
 *   vNIC C 02:..:0c access VLAN 20    vNIC T 02:..:0d trunk {10, 30}
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <xscore/common.h>

#include "frames.h"
#include "vswitch.h"

#define S(x) ((uint64_t)(x) * 1000000000ull)

static const uint8_t MAC_A[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0, 0, 0, 0, 0x0b };
static const uint8_t MAC_C[6] = { 0x02, 0, 0, 0, 0, 0x0c };
static const uint8_t MAC_T[6] = { 0x02, 0, 0, 0, 0, 0x0d };
static const uint8_t MAC_L[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

struct fx {
	struct xsd_vsw *sw;
	int u, a, b, c, t;
	struct xsd_vsw_result res;
	struct xsd_vsw_egress out[8];
	int takeover_calls;
	uint32_t takeover_port;
	uint16_t takeover_vlan;
	uint8_t takeover_mac[6];
};

static void on_takeover(void *arg, uint32_t port, uint16_t vlan, const uint8_t *mac)
{
	struct fx *f = arg;

	f->takeover_calls++;
	f->takeover_port = port;
	f->takeover_vlan = vlan;
	memcpy(f->takeover_mac, mac, 6);
}

static struct xsd_vsw_port_cfg access_cfg(uint16_t vlan, const uint8_t *mac)
{
	struct xsd_vsw_port_cfg c = { .mode = XSD_VSW_ACCESS, .access_vlan = vlan };

	memcpy(c.mac, mac, 6);
	return c;
}

static int setup(void **state)
{
	static const uint16_t t_vlans[] = { 10, 30 };
	struct xsd_vsw_opts o = { .size = sizeof(o), .age_s = 10, .takeover = on_takeover };
	struct xsd_vsw_port_cfg c;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	o.cb_arg = f;
	f->sw = xsd_vsw_create(&o);
	assert_non_null(f->sw);
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_TRUNK, .native_vlan = 1,
				       .csum_offload = true, .tso = true };
	f->u = xsd_vsw_port_add(f->sw, XSD_VSW_PORT_UPLINK, &c);
	c = access_cfg(1, MAC_A);
	f->a = xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c);
	c = access_cfg(1, MAC_B);
	f->b = xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c);
	c = access_cfg(20, MAC_C);
	f->c = xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c);
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_TRUNK, .allowed = t_vlans, .n_allowed = 2 };
	memcpy(c.mac, MAC_T, 6);
	f->t = xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c);
	assert_int_equal(f->u, 0);
	assert_int_equal(f->a, 1);
	assert_int_equal(f->b, 2);
	assert_int_equal(f->c, 3);
	assert_int_equal(f->t, 4);
	*state = f;
	return 0;
}

/* Every port's ingress counters add up. */
static void assert_counters_consistent(struct fx *f)
{
	for (uint32_t p = 0; p < 8; p++) {
		struct xsd_vsw_port_stats st;
		uint64_t sum = 0;

		if (xsd_vsw_port_stats(f->sw, p, &st))
			continue;
		for (int r = 0; r < XSD_VSW_DROP_N_REASONS; r++)
			sum += st.drops[r];
		assert_int_equal(st.rx_frames, st.fwd_frames + sum);
	}
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_counters_consistent(f);
	xsd_vsw_destroy(f->sw);
	free(f);
	return 0;
}

static int fwd_at(struct fx *f, int port, const uint8_t *frame, size_t len, uint64_t now)
{
	struct xsd_vsw_meta m = { .now_ns = now };

	return xsd_vsw_forward(f->sw, (uint32_t)port, frame, len, &m, &f->res, f->out,
			       XS_ARRAY_SIZE(f->out));
}

static int fwd(struct fx *f, int port, const uint8_t *frame, size_t len)
{
	return fwd_at(f, port, frame, len, S(1));
}

/* Concatenate an egress entry's iovecs. */
static size_t flatten(const struct xsd_vsw_egress *e, uint8_t *buf)
{
	size_t n = 0;

	for (int i = 0; i < e->iovcnt; i++) {
		memcpy(buf + n, e->iov[i].iov_base, e->iov[i].iov_len);
		n += e->iov[i].iov_len;
	}
	assert_int_equal(n, e->len);
	return n;
}

static const struct xsd_vsw_egress *find_out(struct fx *f, int port)
{
	for (unsigned int i = 0; i < f->res.n; i++)
		if (f->out[i].port == (uint32_t)port)
			return &f->out[i];
	return NULL;
}

static uint64_t drops(struct fx *f, int port, enum xsd_vsw_drop r)
{
	struct xsd_vsw_port_stats st;

	assert_int_equal(xsd_vsw_port_stats(f->sw, (uint32_t)port, &st), 0);
	return st.drops[r];
}

static uint64_t drops_out(struct fx *f, int port, enum xsd_vsw_drop r)
{
	struct xsd_vsw_port_stats st;

	assert_int_equal(xsd_vsw_port_stats(f->sw, (uint32_t)port, &st), 0);
	return st.drops_out[r];
}

/* Copy a frame with a different destination / source MAC. */
static size_t remac(uint8_t *buf, const uint8_t *frame, size_t len, const uint8_t *dst,
		    const uint8_t *src)
{
	memcpy(buf, frame, len);
	if (dst)
		memcpy(buf, dst, 6);
	if (src)
		memcpy(buf + 6, src, 6);
	return len;
}

/* ---------------------------------------------------------------- tests */

static void broadcast_floods_within_vlan(void **state)
{
	struct fx *f = *state;
	const struct xsd_vsw_egress *e;
	struct xsd_vsw_port_stats st;
	struct xsd_vsw_stats ss;

	/* ARP request from A (VLAN 1): B and the uplink (native VLAN 1, untagged);
	 * not C (VLAN 20), not T (trunk without VLAN 1), not A itself. */
	assert_int_equal(fwd(f, f->a, arp_req_a, arp_req_a_len), 2);
	assert_int_equal(f->res.vlan, 1);
	assert_null(find_out(f, f->a));
	assert_null(find_out(f, f->c));
	assert_null(find_out(f, f->t));
	e = find_out(f, f->b);
	assert_non_null(e);
	assert_false(e->tagged);
	assert_int_equal(e->iovcnt, 1);
	assert_ptr_equal(e->iov[0].iov_base, arp_req_a);
	assert_int_equal(e->len, 42);
	e = find_out(f, f->u);
	assert_non_null(e);
	assert_false(e->tagged);
	assert_int_equal(e->len, 42);
	xsd_vsw_stats(f->sw, &ss);
	assert_int_equal(ss.flooded, 1);
	assert_int_equal(xsd_vsw_port_stats(f->sw, (uint32_t)f->a, &st), 0);
	assert_int_equal(st.rx_frames, 1);
	assert_int_equal(st.rx_bytes, 42);
	assert_int_equal(st.fwd_frames, 1);
	assert_int_equal(xsd_vsw_port_stats(f->sw, (uint32_t)f->b, &st), 0);
	assert_int_equal(st.tx_frames, 1);
	assert_int_equal(st.tx_bytes, 42);
}

static void unicast_vnic_to_vnic_stays_inside(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_stats ss;
	struct xsd_vsw_port_stats st;

	assert_int_equal(fwd(f, f->a, udp4_a_to_b, udp4_a_to_b_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->b);
	assert_false(f->out[0].tagged);
	assert_int_equal(f->out[0].iovcnt, 1);
	assert_int_equal(f->out[0].len, udp4_a_to_b_len);
	/* and the reply */
	assert_int_equal(fwd(f, f->b, arp_rep_b_to_a, arp_rep_b_to_a_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->a);
	xsd_vsw_stats(f->sw, &ss);
	assert_int_equal(ss.vnic_to_vnic, 2);
	assert_int_equal(ss.to_uplink_unknown, 0);
	assert_int_equal(xsd_vsw_port_stats(f->sw, (uint32_t)f->u, &st), 0);
	assert_int_equal(st.tx_frames, 0);

	/* B's MAC seen from C (VLAN 20) is not B: unknown unicast, tagged VLAN 20 */
	{
		uint8_t buf[64];
		size_t n = remac(buf, udp4_a_to_b, udp4_a_to_b_len, MAC_B, MAC_C);

		assert_int_equal(fwd(f, f->c, buf, n), 1);
		assert_int_equal(f->out[0].port, (uint32_t)f->u);
		assert_true(f->out[0].tagged);
	}
}

static void unknown_unicast_to_uplink_then_known(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_stats ss;
	uint8_t buf[128];
	bool is_static = true;

	assert_int_equal(fwd(f, f->a, tcp4_a_to_lan, tcp4_a_to_lan_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	assert_false(f->out[0].tagged); /* VLAN 1 is the uplink's native VLAN */
	xsd_vsw_stats(f->sw, &ss);
	assert_int_equal(ss.to_uplink_unknown, 1);
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(1), NULL), -ENOENT);

	/* the LAN host answers (untagged = VLAN 1): learned on the uplink */
	remac(buf, tcp4_a_to_lan, tcp4_a_to_lan_len, MAC_A, MAC_L);
	assert_int_equal(fwd(f, f->u, buf, tcp4_a_to_lan_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->a);
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(1), &is_static), f->u);
	assert_false(is_static);
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 20, MAC_L, S(1), NULL), -ENOENT);
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_A, S(1), &is_static), f->a);
	assert_true(is_static);
	assert_int_equal(xsd_vsw_learned_count(f->sw), 1);

	assert_int_equal(fwd(f, f->a, tcp4_a_to_lan, tcp4_a_to_lan_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	xsd_vsw_stats(f->sw, &ss);
	assert_int_equal(ss.to_uplink_known, 1);
	assert_int_equal(ss.to_uplink_unknown, 1);
	assert_int_equal(ss.learned, 1);

	/* unicast from the uplink to a MAC that is no local vNIC: dropped */
	remac(buf, tcp4_a_to_lan, tcp4_a_to_lan_len, (const uint8_t[6]){ 0x52, 0, 0, 0, 0, 9 },
	      MAC_L);
	assert_int_equal(fwd(f, f->u, buf, tcp4_a_to_lan_len), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_UNKNOWN_DST);
	assert_int_equal(drops(f, f->u, XSD_VSW_DROP_UNKNOWN_DST), 1);
	/* a vNIC MAC in a VLAN the vNIC is not in is unknown too (C is VLAN 20) */
	remac(buf, tcp4_a_to_lan, tcp4_a_to_lan_len, MAC_C, MAC_L);
	assert_int_equal(fwd(f, f->u, buf, tcp4_a_to_lan_len), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_UNKNOWN_DST);
}

static void access_vlan_tagged_on_trunk_uplink(void **state)
{
	struct fx *f = *state;
	uint8_t in[128], got[128], want[128];
	uint8_t *w = want + 4;
	size_t n;
	int wl;

	/* C (access VLAN 20) to the LAN: untagged on C, tagged VID 20 on the uplink */
	n = remac(in, udp4_a_to_b, udp4_a_to_b_len, MAC_L, MAC_C);
	assert_int_equal(fwd(f, f->c, in, n), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	assert_true(f->out[0].tagged);
	assert_int_equal(f->out[0].iovcnt, 3);
	assert_int_equal(f->res.tci, 20);
	assert_int_equal(flatten(&f->out[0], got), n + 4);
	memcpy(w, in, n);
	wl = xsd_vsw_vlan_insert(&w, n, 4, 20);
	assert_int_equal(wl, (int)n + 4);
	assert_memory_equal(got, w, n + 4);
	assert_int_equal(got[12], 0x81);
	assert_int_equal(got[13], 0x00);
	assert_int_equal(got[14], 0x00);
	assert_int_equal(got[15], 0x14);
	/* nothing was copied: the body is the caller's frame */
	assert_ptr_equal(f->out[0].iov[0].iov_base, in);
	assert_ptr_equal(f->out[0].iov[2].iov_base, in + 12);

	/* the LAN answers tagged VID 20: C gets it untagged (strip) */
	{
		uint8_t tagged[128];
		uint8_t *s = want;
		int sl;

		memcpy(tagged, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len);
		memcpy(tagged, MAC_C, 6);
		xs_put16(tagged + 14, (5 << 13) | 20);
		assert_int_equal(fwd(f, f->u, tagged, udp4_vlan10_lan_to_a_len), 1);
		assert_int_equal(f->out[0].port, (uint32_t)f->c);
		assert_false(f->out[0].tagged);
		assert_int_equal(f->out[0].iovcnt, 2);
		n = flatten(&f->out[0], got);
		memcpy(want, tagged, udp4_vlan10_lan_to_a_len);
		sl = xsd_vsw_vlan_strip(&s, udp4_vlan10_lan_to_a_len, NULL);
		assert_int_equal((int)n, sl);
		assert_memory_equal(got, s, n);
		assert_int_equal(xsd_vsw_csum_verify(got, n), 1);
	}
}

static void trunk_vnic_vlans(void **state)
{
	struct fx *f = *state;
	uint8_t in[128], got[128];
	size_t n;

	/* From the uplink, VLAN 10, to T: T is a trunk with VLAN 10, the tag
	 * is kept as is (PCP 5 too) and the frame is passed untouched. */
	n = remac(in, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, MAC_T, NULL);
	assert_int_equal(fwd(f, f->u, in, n), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->t);
	assert_true(f->out[0].tagged);
	assert_int_equal(f->out[0].iovcnt, 1);
	assert_ptr_equal(f->out[0].iov[0].iov_base, in);
	assert_int_equal(f->res.tci, (5 << 13) | 10);

	/* T sends on VLAN 30 to the LAN: tagged on the uplink, same tag */
	n = remac(in, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, MAC_L, MAC_T);
	xs_put16(in + 14, 30);
	assert_int_equal(fwd(f, f->t, in, n), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	assert_int_equal(f->out[0].iovcnt, 1);
	assert_int_equal(flatten(&f->out[0], got), n);
	assert_memory_equal(got, in, n);

	/* VLAN 40 is not in T's list; untagged has no native VLAN on T */
	xs_put16(in + 14, 40);
	assert_int_equal(fwd(f, f->t, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_VLAN);
	n = remac(in, tcp4_a_to_lan, tcp4_a_to_lan_len, MAC_L, MAC_T);
	assert_int_equal(fwd(f, f->t, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_VLAN);
	assert_int_equal(drops(f, f->t, XSD_VSW_DROP_VLAN), 2);

	/* an access port sending a tagged frame is dropped */
	n = remac(in, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, MAC_B, MAC_A);
	xs_put16(in + 14, 1);
	assert_int_equal(fwd(f, f->a, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_VLAN);
	assert_int_equal(drops(f, f->a, XSD_VSW_DROP_VLAN), 1);
}

static void priority_tag_counts_as_untagged(void **state)
{
	struct fx *f = *state;
	uint8_t in[128], got[128];
	const struct xsd_vsw_egress *e;
	size_t n;

	/* A sends a broadcast with a priority tag (VID 0, PCP 6): VLAN 1;
	 * B (access) and the uplink (native 1) get it untagged. */
	memcpy(in, arp_req_a, 12);
	xs_put16(in + 12, 0x8100);
	xs_put16(in + 14, 6 << 13);
	memcpy(in + 16, arp_req_a + 12, arp_req_a_len - 12);
	n = arp_req_a_len + 4;
	assert_int_equal(fwd(f, f->a, in, n), 2);
	assert_int_equal(f->res.vlan, 1);
	e = find_out(f, f->b);
	assert_non_null(e);
	assert_false(e->tagged);
	assert_int_equal(flatten(e, got), arp_req_a_len);
	assert_memory_equal(got, arp_req_a, arp_req_a_len);
	e = find_out(f, f->u);
	assert_non_null(e);
	assert_false(e->tagged);
}

static void anti_spoofing(void **state)
{
	struct fx *f = *state;
	uint8_t in[128];
	size_t n;

	/* A sends with B's MAC as source */
	n = remac(in, udp4_a_to_b, udp4_a_to_b_len, MAC_L, MAC_B);
	assert_int_equal(fwd(f, f->a, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_SPOOF);
	assert_int_equal(drops(f, f->a, XSD_VSW_DROP_SPOOF), 1);
	/* a broadcast with a forged source is dropped too */
	n = remac(in, arp_req_a, arp_req_a_len, NULL, (const uint8_t[6]){ 0x02, 9, 9, 9, 9, 9 });
	assert_int_equal(fwd(f, f->a, in, n), 0);
	assert_int_equal(drops(f, f->a, XSD_VSW_DROP_SPOOF), 2);
	/* multicast or zero sources are invalid anywhere */
	n = remac(in, udp4_a_to_b, udp4_a_to_b_len, NULL, (const uint8_t[6]){ 0x01, 0, 0x5e, 0, 0, 1 });
	assert_int_equal(fwd(f, f->u, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_BAD_SRC);
	n = remac(in, udp4_a_to_b, udp4_a_to_b_len, NULL, (const uint8_t[6]){ 0 });
	assert_int_equal(fwd(f, f->a, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_BAD_SRC);
	assert_int_equal(xsd_vsw_learned_count(f->sw), 0);

	/* after a MAC change, the old MAC is the spoof */
	{
		struct xsd_vsw_port_cfg c = access_cfg(1, (const uint8_t[6]){ 0x02, 0, 0, 0, 1, 0xaa });

		assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->a, &c), 0);
		assert_int_equal(fwd(f, f->a, udp4_a_to_b, udp4_a_to_b_len), 0);
		assert_int_equal(f->res.drop, XSD_VSW_DROP_SPOOF);
		n = remac(in, udp4_a_to_b, udp4_a_to_b_len, NULL, c.mac);
		assert_int_equal(fwd(f, f->a, in, n), 1);
		/* taking B's MAC is refused */
		c = access_cfg(1, MAC_B);
		assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->a, &c), -EEXIST);
	}
}

static void takeover_detected(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_stats ss;
	uint8_t in[128];
	size_t n;

	/* a LAN host sends with A's MAC (VLAN 1, untagged on the uplink) */
	n = remac(in, arp_req_a, arp_req_a_len, NULL, MAC_A);
	assert_int_equal(fwd(f, f->u, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_TAKEOVER);
	assert_int_equal(f->takeover_calls, 1);
	assert_int_equal(f->takeover_port, (uint32_t)f->a);
	assert_int_equal(f->takeover_vlan, 1);
	assert_memory_equal(f->takeover_mac, MAC_A, 6);
	xsd_vsw_stats(f->sw, &ss);
	assert_int_equal(ss.takeovers, 1);
	assert_int_equal(drops(f, f->u, XSD_VSW_DROP_TAKEOVER), 1);
	/* not learned: A's MAC still points at A */
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_A, S(1), NULL), f->a);
	assert_int_equal(xsd_vsw_learned_count(f->sw), 0);
	/* also in another VLAN (tagged 10) */
	{
		uint8_t t[128];

		n = remac(t, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, MAC_T, MAC_C);
		assert_int_equal(fwd(f, f->u, t, n), 0);
		assert_int_equal(f->takeover_calls, 2);
		assert_int_equal(f->takeover_port, (uint32_t)f->c);
		assert_int_equal(f->takeover_vlan, 10);
	}
}

static void multicast_only_to_joined_ports(void **state)
{
	struct fx *f = *state;
	const uint8_t groups[2][6] = {
		{ 0x33, 0x33, 0xff, 0x00, 0x00, 0x0b },   /* solicited-node fe80::b */
		{ 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 },   /* all-nodes */
	};
	uint8_t in[128];
	size_t n;

	/* ND solicitation from A: nobody joined yet, only the uplink gets it */
	assert_int_equal(fwd(f, f->a, ns6_a, ns6_a_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	/* B joins the solicited-node group: B and the uplink */
	assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b, groups, 2, false), 0);
	assert_int_equal(fwd(f, f->a, ns6_a, ns6_a_len), 2);
	assert_non_null(find_out(f, f->b));
	assert_non_null(find_out(f, f->u));
	/* from the uplink: only B (never back to the uplink) */
	n = remac(in, ns6_a, ns6_a_len, NULL, MAC_L);
	assert_int_equal(fwd(f, f->u, in, n), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->b);
	/* B leaves: from the uplink nobody wants it */
	assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b, NULL, 0, false), 0);
	assert_int_equal(fwd(f, f->u, in, n), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_NO_EGRESS);
	assert_int_equal(drops(f, f->u, XSD_VSW_DROP_NO_EGRESS), 1);
	/* all-multicast: explicit, or by a list over 128 */
	assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b, NULL, 0, true), 0);
	assert_int_equal(fwd(f, f->u, in, n), 1);
	{
		static uint8_t many[129][6];

		for (int i = 0; i < 129; i++) {
			many[i][0] = 0x01;
			many[i][1] = 0x00;
			many[i][2] = 0x5e;
			many[i][5] = (uint8_t)i;
		}
		assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b, many, 128, false), 0);
		assert_int_equal(fwd(f, f->u, in, n), 0);
		assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b, many, 129, false), 0);
		assert_int_equal(fwd(f, f->u, in, n), 1);
		assert_int_equal(f->out[0].port, (uint32_t)f->b);
	}
	/* a unicast MAC in a group list is refused */
	assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b,
						(const uint8_t(*)[6])MAC_A, 1, false), -EINVAL);
	/* broadcast needs no join */
	assert_int_equal(xsd_vsw_port_set_mcast(f->sw, (uint32_t)f->b, NULL, 0, false), 0);
	assert_int_equal(fwd(f, f->a, arp_req_a, arp_req_a_len), 2);
}

static void learning_and_ageing(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_stats ss;
	uint8_t in[128];
	size_t n;

	n = remac(in, arp_req_a, arp_req_a_len, NULL, MAC_L);
	assert_int_equal(fwd_at(f, f->u, in, n, S(100)), 2); /* flood to A and B */
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(100), NULL), f->u);
	/* age is 10 s: alive at 109.999, gone at 110 */
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(110) - 1, NULL), f->u);
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(110), NULL), -ENOENT);
	assert_int_equal(xsd_vsw_age(f->sw, S(105)), 0);
	/* seen again at 105: the entry lives until 115 */
	assert_int_equal(fwd_at(f, f->u, in, n, S(105)), 2);
	assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(112), NULL), f->u);
	assert_int_equal(xsd_vsw_age(f->sw, S(114)), 0);
	assert_int_equal(xsd_vsw_age(f->sw, S(115)), 1);
	assert_int_equal(xsd_vsw_learned_count(f->sw), 0);
	xsd_vsw_stats(f->sw, &ss);
	assert_int_equal(ss.learned, 1);
	assert_int_equal(ss.aged, 1);
	/* the same MAC in two VLANs is two entries */
	{
		uint8_t t[128];

		n = remac(t, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, MAC_T, MAC_L);
		assert_int_equal(fwd_at(f, f->u, t, n, S(200)), 1);
		n = remac(in, arp_req_a, arp_req_a_len, NULL, MAC_L);
		assert_int_equal(fwd_at(f, f->u, in, n, S(200)), 2);
		assert_int_equal(xsd_vsw_learned_count(f->sw), 2);
		assert_int_equal(xsd_vsw_mac_lookup(f->sw, 10, MAC_L, S(200), NULL), f->u);
	}
	/* a vNIC added with a learned MAC takes it over: the learned entry goes */
	{
		struct xsd_vsw_port_cfg c = access_cfg(1, MAC_L);
		bool st = false;
		int p = xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c);

		assert_true(p > 0);
		assert_int_equal(xsd_vsw_learned_count(f->sw), 0);
		assert_int_equal(xsd_vsw_mac_lookup(f->sw, 1, MAC_L, S(200), &st), p);
		assert_true(st);
		assert_int_equal(xsd_vsw_port_del(f->sw, (uint32_t)p), 0);
	}
	/* deleting the uplink flushes what it learned */
	n = remac(in, arp_req_a, arp_req_a_len, NULL, MAC_L);
	assert_int_equal(fwd_at(f, f->u, in, n, S(300)), 2);
	assert_int_equal(xsd_vsw_learned_count(f->sw), 1);
	assert_int_equal(xsd_vsw_port_del(f->sw, (uint32_t)f->u), 0);
	assert_int_equal(xsd_vsw_learned_count(f->sw), 0);
	assert_int_equal(xsd_vsw_uplink(f->sw), -1);
	/* without an uplink, unknown unicast has nowhere to go */
	assert_int_equal(fwd_at(f, f->a, tcp4_a_to_lan, tcp4_a_to_lan_len, S(300)), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_NO_EGRESS);
}

static void mac_table_dump(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_mac_entry rows[8];
	uint8_t in[128];
	size_t n;

	/* L seen in VLAN 10 at 5 s and in VLAN 1 at 7 s */
	n = remac(in, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, MAC_T, MAC_L);
	assert_int_equal(fwd_at(f, f->u, in, n, S(5)), 1);
	n = remac(in, arp_req_a, arp_req_a_len, NULL, MAC_L);
	assert_int_equal(fwd_at(f, f->u, in, n, S(7)), 2);
	n = xsd_vsw_mac_dump(f->sw, S(8), rows, 8);
	assert_int_equal(n, 6);
	/* four static vNIC MACs by port, then learned by VLAN */
	assert_memory_equal(rows[0].mac, MAC_A, 6);
	assert_int_equal(rows[0].port, (uint32_t)f->a);
	assert_true(rows[0].is_static);
	assert_int_equal(rows[0].vlan, 0);
	assert_memory_equal(rows[3].mac, MAC_T, 6);
	assert_int_equal(rows[4].vlan, 1);
	assert_memory_equal(rows[4].mac, MAC_L, 6);
	assert_false(rows[4].is_static);
	assert_int_equal(rows[4].port, (uint32_t)f->u);
	assert_true(rows[4].idle_ns == S(1));
	assert_int_equal(rows[5].vlan, 10);
	assert_true(rows[5].idle_ns == S(3));
	/* a short array still gets the count; expired rows are not shown */
	assert_int_equal(xsd_vsw_mac_dump(f->sw, S(8), rows, 2), 6);
	assert_int_equal(xsd_vsw_mac_dump(f->sw, S(16), rows, 8), 5); /* VLAN 10 row expired */
	assert_int_equal(rows[4].vlan, 1);
}

static void learned_table_full(void **state)
{
	struct xsd_vsw_opts o = { .size = sizeof(o), .max_learned = 2 };
	struct xsd_vsw_port_cfg c = { .mode = XSD_VSW_TRUNK, .native_vlan = 1 };
	struct xsd_vsw *sw = xsd_vsw_create(&o);
	struct xsd_vsw_result res;
	struct xsd_vsw_egress out[4];
	struct xsd_vsw_meta m = { .now_ns = 1 };
	struct xsd_vsw_stats ss;
	uint8_t in[64];
	int u, a;

	assert_non_null(sw);
	u = xsd_vsw_port_add(sw, XSD_VSW_PORT_UPLINK, &c);
	c = access_cfg(1, MAC_A);
	a = xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c);
	assert_true(u >= 0 && a >= 0);
	for (uint8_t i = 1; i <= 3; i++) {
		remac(in, arp_req_a, arp_req_a_len, NULL, (const uint8_t[6]){ 0x52, 0, 0, 0, 0, i });
		assert_int_equal(xsd_vsw_forward(sw, (uint32_t)u, in, arp_req_a_len, &m, &res, out, 4),
				 1);
	}
	xsd_vsw_stats(sw, &ss);
	assert_int_equal(ss.learned, 2);
	assert_int_equal(ss.learn_full, 1);
	assert_int_equal(xsd_vsw_learned_count(sw), 2);
	/* ageing frees room */
	assert_int_equal(xsd_vsw_age(sw, S(XSD_VSW_DEFAULT_AGE_S) + 1), 2);
	assert_int_equal(xsd_vsw_forward(sw, (uint32_t)u, in, arp_req_a_len, &m, &res, out, 4), 1);
	assert_int_equal(xsd_vsw_learned_count(sw), 1);
	xsd_vsw_destroy(sw);
}

static void policer_committed_only(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_port_cfg c = access_cfg(1, MAC_A);
	int pass = 0;

	/* 8000 b/s = 1000 B/s, bucket 1500 B: 25 frames of 60 B at once */
	c.rate_in = (struct xsd_vsw_rate){ .cir_bps = 8000, .cbs_bytes = 1500 };
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->a, &c), 0);
	uint8_t in[60];
	memset(in, 0, sizeof(in));
	memcpy(in, udp4_a_to_b, udp4_a_to_b_len);
	for (int i = 0; i < 30; i++)
		pass += fwd_at(f, f->a, in, 60, S(10)) == 1;
	assert_int_equal(pass, 25);
	assert_int_equal(drops(f, f->a, XSD_VSW_DROP_RATE_IN), 5);
	/* 59 ms later: 59 bytes of tokens, not enough; at 60 ms: one frame */
	assert_int_equal(fwd_at(f, f->a, in, 60, S(10) + 59000000), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_RATE_IN);
	assert_int_equal(fwd_at(f, f->a, in, 60, S(10) + 60000000), 1);
	/* the bucket never holds more than cbs: after an hour, 25 again */
	pass = 0;
	for (int i = 0; i < 30; i++)
		pass += fwd_at(f, f->a, in, 60, S(3610)) == 1;
	assert_int_equal(pass, 25);
	/* an older timestamp adds nothing */
	assert_int_equal(fwd_at(f, f->a, in, 60, S(5)), 0);
}

static void policer_two_rate_and_egress(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_port_cfg c = access_cfg(1, MAC_A);
	struct xsd_vsw_port_stats st;
	int pass = 0;
	uint8_t in[100];

	/* cbs 1000, pbs 2000: 10 green, 10 yellow, then red (100-byte frames) */
	c.rate_in = (struct xsd_vsw_rate){ .cir_bps = 8000, .cbs_bytes = 1000,
					   .pir_bps = 16000, .pbs_bytes = 2000 };
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->a, &c), 0);
	memset(in, 0, sizeof(in));
	memcpy(in, udp4_a_to_b, udp4_a_to_b_len);
	for (int i = 0; i < 25; i++)
		pass += fwd_at(f, f->a, in, sizeof(in), S(1)) == 1;
	assert_int_equal(pass, 20);
	assert_int_equal(xsd_vsw_port_stats(f->sw, (uint32_t)f->a, &st), 0);
	assert_int_equal(st.rate_yellow_in, 10);
	assert_int_equal(st.drops[XSD_VSW_DROP_RATE_IN], 5);

	/* egress policer on B: A's frames to B over B's bucket are dropped at B */
	c = access_cfg(1, MAC_A);
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->a, &c), 0);
	c = access_cfg(1, MAC_B);
	c.rate_out = (struct xsd_vsw_rate){ .cir_bps = 800, .cbs_bytes = 200 };
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->b, &c), 0);
	assert_int_equal(fwd_at(f, f->a, in, sizeof(in), S(2)), 1);
	assert_int_equal(fwd_at(f, f->a, in, sizeof(in), S(2)), 1);
	assert_int_equal(fwd_at(f, f->a, in, sizeof(in), S(2)), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_RATE_OUT);
	assert_int_equal(drops_out(f, f->b, XSD_VSW_DROP_RATE_OUT), 1);
	/* a broadcast still reaches the uplink while B's copy is dropped */
	assert_int_equal(fwd_at(f, f->a, arp_req_a, arp_req_a_len, S(2)), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	assert_int_equal(drops_out(f, f->b, XSD_VSW_DROP_RATE_OUT), 2);

	/* invalid rates */
	c.rate_out = (struct xsd_vsw_rate){ .cir_bps = 800 };
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->b, &c), -EINVAL);
	c.rate_out = (struct xsd_vsw_rate){ .cir_bps = 800, .cbs_bytes = 1, .pir_bps = 400,
					    .pbs_bytes = 1 };
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->b, &c), -EINVAL);
	c.rate_out = (struct xsd_vsw_rate){ .pir_bps = 400, .pbs_bytes = 1 };
	assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->b, &c), -EINVAL);
}

static void ports_down(void **state)
{
	struct fx *f = *state;

	assert_int_equal(xsd_vsw_port_set_up(f->sw, (uint32_t)f->b, false), 0);
	assert_int_equal(fwd(f, f->a, udp4_a_to_b, udp4_a_to_b_len), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_PORT_DOWN);
	assert_int_equal(drops_out(f, f->b, XSD_VSW_DROP_PORT_DOWN), 1);
	assert_int_equal(drops(f, f->a, XSD_VSW_DROP_PORT_DOWN), 0);
	/* B sending while down */
	assert_int_equal(fwd(f, f->b, arp_rep_b_to_a, arp_rep_b_to_a_len), 0);
	assert_int_equal(drops(f, f->b, XSD_VSW_DROP_PORT_DOWN), 1);
	/* flood skips it */
	assert_int_equal(fwd(f, f->a, arp_req_a, arp_req_a_len), 1);
	assert_int_equal(f->out[0].port, (uint32_t)f->u);
	assert_int_equal(xsd_vsw_port_set_up(f->sw, (uint32_t)f->b, true), 0);
	assert_int_equal(fwd(f, f->a, udp4_a_to_b, udp4_a_to_b_len), 1);
	assert_int_equal(xsd_vsw_port_set_up(f->sw, 99, true), -ENOENT);
}

static void malformed_and_api_errors(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_meta m = { 0 };
	struct xsd_vsw_port_cfg c;
	uint8_t in[32];

	assert_int_equal(fwd(f, f->a, arp_req_a, 13), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_MALFORMED);
	memcpy(in, udp4_vlan10_lan_to_a, 17);
	assert_int_equal(fwd(f, f->u, in, 17), 0);
	assert_int_equal(f->res.drop, XSD_VSW_DROP_MALFORMED);
	assert_int_equal(fwd(f, f->u, in, XSD_VSW_MAX_FRAME + 1), 0);
	assert_int_equal(drops(f, f->u, XSD_VSW_DROP_MALFORMED), 2);
	assert_string_equal(xsd_vsw_drop_name(XSD_VSW_DROP_MALFORMED), "malformed");
	assert_string_equal(xsd_vsw_drop_name(XSD_VSW_DROP_N_REASONS), "unknown");
	/* a frame to its own sender goes nowhere */
	{
		uint8_t s[64];
		size_t n = remac(s, udp4_a_to_b, udp4_a_to_b_len, MAC_A, MAC_A);

		assert_int_equal(fwd(f, f->a, s, n), 0);
		assert_int_equal(f->res.drop, XSD_VSW_DROP_NO_EGRESS);
	}
	/* unknown port, small egress array */
	assert_int_equal(xsd_vsw_forward(f->sw, 77, arp_req_a, arp_req_a_len, &m, &f->res, f->out, 8),
			 -ENOENT);
	assert_int_equal(xsd_vsw_forward(f->sw, (uint32_t)f->a, arp_req_a, arp_req_a_len, &m,
					 &f->res, f->out, 3), -ENOBUFS);
	/* configuration errors */
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_TRUNK };
	assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_UPLINK, &c), -EEXIST);
	c = access_cfg(1, MAC_A);
	assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c), -EEXIST);
	c = access_cfg(0, (const uint8_t[6]){ 0x02, 1, 1, 1, 1, 1 });
	assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c), -EINVAL);
	c = access_cfg(4095, (const uint8_t[6]){ 0x02, 1, 1, 1, 1, 1 });
	assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c), -EINVAL);
	c = access_cfg(5, (const uint8_t[6]){ 0x03, 1, 1, 1, 1, 1 });
	assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c), -EINVAL);
	{
		static const uint16_t v[] = { 10, 20 };

		c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_TRUNK, .allowed = v, .n_allowed = 2,
					       .native_vlan = 30, .mac = { 0x02, 1, 1, 1, 1, 1 } };
		assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c), -EINVAL);
		c.n_allowed = 0; /* a vNIC trunk needs a list */
		assert_int_equal(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c), -EINVAL);
		c.native_vlan = 20;
		c.n_allowed = 2;
		assert_true(xsd_vsw_port_add(f->sw, XSD_VSW_PORT_VNIC, &c) > 0);
	}
	assert_int_equal(xsd_vsw_port_update(f->sw, 99, &c), -ENOENT);
	assert_int_equal(xsd_vsw_port_del(f->sw, 99), -ENOENT);
}

static void port_limit_and_reuse(void **state)
{
	struct xsd_vsw_opts o = { .size = sizeof(o), .max_ports = 2 };
	struct xsd_vsw *sw = xsd_vsw_create(&o);
	struct xsd_vsw_port_cfg c = access_cfg(1, MAC_A);

	assert_non_null(sw);
	assert_int_equal(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c), 0);
	c = access_cfg(1, MAC_B);
	assert_int_equal(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c), 1);
	c = access_cfg(1, MAC_C);
	assert_int_equal(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c), -ENOSPC);
	assert_int_equal(xsd_vsw_port_del(sw, 0), 0);
	assert_int_equal(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c), 0);
	xsd_vsw_destroy(sw);
	o.size = 3;
	assert_null(xsd_vsw_create(&o));
	assert_int_equal(errno, EINVAL);
}

static void csum_fill_for_non_offload_receivers(void **state)
{
	struct fx *f = *state;
	struct xsd_vsw_meta m = { .now_ns = 1, .needs_csum = true };
	const struct xsd_vsw_egress *e;

	assert_int_equal(xsd_vsw_forward(f->sw, (uint32_t)f->a, arp_req_a, arp_req_a_len, &m,
					 &f->res, f->out, 8), 2);
	e = find_out(f, f->b);
	assert_true(e->csum_fill);   /* B did not negotiate offload */
	e = find_out(f, f->u);
	assert_false(e->csum_fill);  /* the uplink takes NEEDS_CSUM frames */
	assert_false(find_out(f, f->b)->segment);
	m.needs_csum = false;
	assert_int_equal(xsd_vsw_forward(f->sw, (uint32_t)f->a, arp_req_a, arp_req_a_len, &m,
					 &f->res, f->out, 8), 2);
	assert_false(find_out(f, f->b)->csum_fill);

	/* GSO frames: B (no TSO) needs segmenting, the uplink does not */
	m.gso = true;
	assert_int_equal(xsd_vsw_forward(f->sw, (uint32_t)f->a, arp_req_a, arp_req_a_len, &m,
					 &f->res, f->out, 8), 2);
	assert_true(find_out(f, f->b)->segment);
	assert_false(find_out(f, f->u)->segment);
	{
		struct xsd_vsw_port_cfg c = access_cfg(1, MAC_B);

		c.tso = true;
		c.csum_offload = true;
		assert_int_equal(xsd_vsw_port_update(f->sw, (uint32_t)f->b, &c), 0);
		m.needs_csum = true;
		assert_int_equal(xsd_vsw_forward(f->sw, (uint32_t)f->a, arp_req_a, arp_req_a_len,
						 &m, &f->res, f->out, 8), 2);
		assert_false(find_out(f, f->b)->segment);
		assert_false(find_out(f, f->b)->csum_fill);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(broadcast_floods_within_vlan, setup, teardown),
		cmocka_unit_test_setup_teardown(unicast_vnic_to_vnic_stays_inside, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_unicast_to_uplink_then_known, setup, teardown),
		cmocka_unit_test_setup_teardown(access_vlan_tagged_on_trunk_uplink, setup, teardown),
		cmocka_unit_test_setup_teardown(trunk_vnic_vlans, setup, teardown),
		cmocka_unit_test_setup_teardown(priority_tag_counts_as_untagged, setup, teardown),
		cmocka_unit_test_setup_teardown(anti_spoofing, setup, teardown),
		cmocka_unit_test_setup_teardown(takeover_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(multicast_only_to_joined_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(learning_and_ageing, setup, teardown),
		cmocka_unit_test_setup_teardown(mac_table_dump, setup, teardown),
		cmocka_unit_test(learned_table_full),
		cmocka_unit_test_setup_teardown(policer_committed_only, setup, teardown),
		cmocka_unit_test_setup_teardown(policer_two_rate_and_egress, setup, teardown),
		cmocka_unit_test_setup_teardown(ports_down, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_and_api_errors, setup, teardown),
		cmocka_unit_test(port_limit_and_reuse),
		cmocka_unit_test_setup_teardown(csum_fill_for_non_offload_receivers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
