/* SPDX-License-Identifier: MIT */
/* test_vsw_frame.c - 802.1Q insert/strip in a caller buffer and checksum
 * completion for IPv4/IPv6 TCP/UDP, on real frame bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <xscore/common.h>

#include "frames.h"
#include "vswitch.h"

static void vlan_insert_then_strip(void **state)
{
	uint8_t buf[4 + 64];
	uint8_t *f = buf + 4;
	uint16_t tci = 0;
	int len;

	memcpy(f, arp_req_a, arp_req_a_len);
	len = xsd_vsw_vlan_insert(&f, arp_req_a_len, 4, (3 << 13) | 100);
	assert_int_equal(len, 46);
	assert_ptr_equal(f, buf);
	/* MACs, then 81 00 | 60 64, then the old EtherType 08 06 and the ARP body */
	assert_memory_equal(f, arp_req_a, 12);
	assert_int_equal(f[12], 0x81);
	assert_int_equal(f[13], 0x00);
	assert_int_equal(f[14], 0x60);
	assert_int_equal(f[15], 0x64);
	assert_memory_equal(f + 16, arp_req_a + 12, arp_req_a_len - 12);

	len = xsd_vsw_vlan_strip(&f, (size_t)len, &tci);
	assert_int_equal(len, (int)arp_req_a_len);
	assert_int_equal(tci, 0x6064);
	assert_ptr_equal(f, buf + 4);
	assert_memory_equal(f, arp_req_a, arp_req_a_len);

	/* no headroom, untagged strip, short frames */
	assert_int_equal(xsd_vsw_vlan_insert(&f, arp_req_a_len, 3, 1), -EINVAL);
	assert_int_equal(xsd_vsw_vlan_strip(&f, arp_req_a_len, &tci), -EINVAL);
	assert_int_equal(xsd_vsw_vlan_insert(&f, 13, 4, 1), -EINVAL);
	{
		uint8_t t[17];

		memcpy(t, udp4_vlan10_lan_to_a, sizeof(t));
		f = t;
		assert_int_equal(xsd_vsw_vlan_strip(&f, sizeof(t), &tci), -EINVAL);
	}
}

static void vlan_strip_real_tagged_frame(void **state)
{
	uint8_t buf[64];
	uint8_t *f = buf;
	uint16_t tci;
	int len;

	memcpy(buf, udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len);
	len = xsd_vsw_vlan_strip(&f, udp4_vlan10_lan_to_a_len, &tci);
	assert_int_equal(len, 48);
	assert_int_equal(tci & 0x0fff, 10);
	assert_int_equal(tci >> 13, 5);
	assert_int_equal(f[12], 0x08);
	assert_int_equal(f[13], 0x00);
	assert_int_equal(xsd_vsw_csum_verify(f, (size_t)len), 1);
}

/* Linux puts the folded pseudo-header sum in the checksum field of a
 * CHECKSUM_PARTIAL packet; a host might also leave it zero or garbage. The
 * result must be the same correct checksum in every case. */
static void check_complete(const uint8_t *ref, size_t len, uint16_t start, uint16_t off)
{
	static const uint16_t seeds[] = { 0x0000, 0xffff, 0x1234 };
	uint8_t f[128];

	assert_true(len <= sizeof(f));
	assert_int_equal(xsd_vsw_csum_verify(ref, len), 1);
	for (size_t i = 0; i < XS_ARRAY_SIZE(seeds); i++) {
		struct virtio_net_hdr vh = {
			.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
			.csum_start = start,
			.csum_offset = off,
		};

		memcpy(f, ref, len);
		xs_put16(f + start + off, seeds[i]);
		/* over IPv4, a UDP checksum of 0 means "none" and verifies */
		uint16_t et = xs_get16(ref + 12) == 0x8100 ? xs_get16(ref + 16) : xs_get16(ref + 12);
		bool v4 = et == 0x0800;
		int want = seeds[i] == xs_get16(ref + start + off) ||
			   (off == 6 && seeds[i] == 0 && v4);

		assert_int_equal(xsd_vsw_csum_verify(f, len), want);
		assert_int_equal(xsd_vsw_csum_complete(f, len, &vh), 0);
		assert_memory_equal(f, ref, len);
		assert_int_equal(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	}
}

static void csum_ipv4_udp_tcp(void **state)
{
	check_complete(udp4_a_to_b, udp4_a_to_b_len, 34, 6);
	check_complete(tcp4_a_to_lan, tcp4_a_to_lan_len, 34, 16);
	/* Ethernet padding after the IP datagram is not summed */
	check_complete(udp4_padded, udp4_padded_len, 34, 6);
	/* tagged frame: L4 at 38 */
	check_complete(udp4_vlan10_lan_to_a, udp4_vlan10_lan_to_a_len, 38, 6);
}

static void csum_ipv6_udp_tcp_and_ext_header(void **state)
{
	check_complete(udp6_a_to_b, udp6_a_to_b_len, 54, 6);
	check_complete(tcp6_a_to_lan, tcp6_a_to_lan_len, 54, 16);
	/* hop-by-hop header of 8 bytes in front of UDP */
	check_complete(udp6_hbh, udp6_hbh_len, 62, 6);
}

static void csum_not_needed_and_errors(void **state)
{
	struct virtio_net_hdr vh = { .flags = 0, .csum_start = 1, .csum_offset = 1 };
	uint8_t f[128];

	/* without NEEDS_CSUM nothing is touched */
	memcpy(f, udp4_a_to_b, udp4_a_to_b_len);
	f[40] ^= 0xff;
	assert_int_equal(xsd_vsw_csum_complete(f, udp4_a_to_b_len, &vh), 0);
	assert_int_equal(f[40], udp4_a_to_b[40] ^ 0xff);
	assert_int_equal(xsd_vsw_csum_verify(f, udp4_a_to_b_len), 0);

	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	/* offsets that disagree with the headers */
	vh.csum_start = 34;
	vh.csum_offset = 16; /* TCP offset on a UDP packet */
	assert_int_equal(xsd_vsw_csum_complete(f, udp4_a_to_b_len, &vh), -EINVAL);
	vh.csum_start = 30;
	vh.csum_offset = 6;
	assert_int_equal(xsd_vsw_csum_complete(f, udp4_a_to_b_len, &vh), -EINVAL);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	/* ARP and ICMPv6 are not TCP/UDP */
	memcpy(f, arp_req_a, arp_req_a_len);
	assert_int_equal(xsd_vsw_csum_complete(f, arp_req_a_len, &vh), -EPROTONOSUPPORT);
	memcpy(f, ns6_a, ns6_a_len);
	assert_int_equal(xsd_vsw_csum_complete(f, ns6_a_len, &vh), -EPROTONOSUPPORT);
	/* truncated: IP total length beyond the frame */
	memcpy(f, udp4_a_to_b, udp4_a_to_b_len);
	vh.csum_start = 34;
	vh.csum_offset = 6;
	assert_int_equal(xsd_vsw_csum_complete(f, udp4_a_to_b_len - 1, &vh), -EMSGSIZE);
	assert_int_equal(xsd_vsw_csum_complete(f, 20, &vh), -EMSGSIZE);
	/* an IPv4 fragment (MF set) cannot be completed */
	f[20] |= 0x20;
	assert_int_equal(xsd_vsw_csum_complete(f, udp4_a_to_b_len, &vh), -EPROTONOSUPPORT);
	/* IPv6 hop-by-hop header claiming more than the payload */
	memcpy(f, udp6_hbh, udp6_hbh_len);
	f[55] = 200;
	vh.csum_start = 62;
	assert_int_equal(xsd_vsw_csum_complete(f, udp6_hbh_len, &vh), -EMSGSIZE);
}

static void csum_udp_zero_result_becomes_ffff(void **state)
{
	/* Find a 2-byte payload for which the UDP checksum computes to 0
	 * (one's complement 0xffff) and check it is sent as 0xffff. */
	uint8_t f[64];
	struct virtio_net_hdr vh;
	bool found = false;

	for (uint32_t v = 0; v <= 0xffff && !found; v++) {
		memcpy(f, udp4_padded, udp4_padded_len);
		/* payload "abc": replace the first two bytes */
		xs_put16(f + 42, (uint16_t)v);
		vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					       .csum_start = 34, .csum_offset = 6 };
		assert_int_equal(xsd_vsw_csum_complete(f, udp4_padded_len, &vh), 0);
		if (xs_get16(f + 40) == 0xffff)
			found = true;
	}
	assert_true(found);
	assert_int_equal(xsd_vsw_csum_verify(f, udp4_padded_len), 1);
}

/* A GSO frame: the headers of @base (Ethernet + IP + 20-byte TCP) with
 * @payload bytes of pattern and the given TCP flags; IP length fixed up. */
static size_t gso_frame(uint8_t *f, const uint8_t *base, size_t hdr, bool v6, size_t payload,
			uint8_t flags)
{
	memcpy(f, base, hdr);
	for (size_t i = 0; i < payload; i++)
		f[hdr + i] = (uint8_t)(i * 7 + 3);
	if (v6)
		xs_put16(f + 18, (uint16_t)(20 + payload));
	else
		xs_put16(f + 16, (uint16_t)(hdr - 14 + payload));
	f[hdr - 20 + 13] = flags;
	return hdr + payload;
}

static bool ip4_hdr_ok(const uint8_t *ip)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += xs_get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static void gso_segments(bool v6)
{
	static uint8_t in[4000], out[8000], joined[4000];
	const uint8_t *base = v6 ? tcp6_a_to_lan : tcp4_a_to_lan;
	size_t hdr = v6 ? 74 : 54, len, n = 0;
	struct virtio_net_hdr vh = {
		.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4,
		.gso_size = 1000,
	};
	struct iovec segs[4];
	uint32_t seq0 = xs_get32(base + hdr - 20 + 4);
	int k;

	/* 2500 bytes, FIN|PSH|ACK|CWR: 1000 + 1000 + 500 */
	len = gso_frame(in, base, hdr, v6, 2500, 0x80 | 0x10 | 0x08 | 0x01);
	k = xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4);
	assert_int_equal(k, 3);
	for (int i = 0; i < 3; i++) {
		const uint8_t *s = segs[i].iov_base;
		const uint8_t *tcp = s + hdr - 20;
		size_t chunk = i < 2 ? 1000 : 500;

		assert_int_equal(segs[i].iov_len, hdr + chunk);
		assert_memory_equal(s, in, 12); /* MACs */
		assert_int_equal(xsd_vsw_csum_verify(s, segs[i].iov_len), 1);
		if (v6) {
			assert_int_equal(xs_get16(s + 18), 20 + chunk);
		} else {
			assert_int_equal(xs_get16(s + 16), 40 + chunk);
			assert_int_equal(xs_get16(s + 18), xs_get16(in + 18) + i);
			assert_true(ip4_hdr_ok(s + 14));
		}
		assert_int_equal(xs_get32(tcp + 4), seq0 + 1000u * (uint32_t)i);
		assert_int_equal(tcp[13], i == 0 ? 0x90 : i == 1 ? 0x10 : 0x19);
		memcpy(joined + n, s + hdr, chunk);
		n += chunk;
	}
	assert_int_equal(n, 2500);
	assert_memory_equal(joined, in + hdr, 2500);

	/* exact multiple, and a payload within one MSS */
	len = gso_frame(in, base, hdr, v6, 2000, 0x10);
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4), 2);
	assert_int_equal(segs[1].iov_len, hdr + 1000);
	len = gso_frame(in, base, hdr, v6, 10, 0x18);
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4), 1);
	assert_int_equal(segs[0].iov_len, hdr + 10);
	assert_int_equal(xsd_vsw_csum_verify(segs[0].iov_base, segs[0].iov_len), 1);

	/* room: 3 segments need 3 * hdr + 2500 bytes and 3 iovecs */
	len = gso_frame(in, base, hdr, v6, 2500, 0x10);
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, 3 * hdr + 2499, segs, 4), -ENOSPC);
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, 3 * hdr + 2500, segs, 2), -ENOSPC);
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, 3 * hdr + 2500, segs, 3), 3);
	/* wrong gso_type for the IP version, MSS 0, UDP */
	vh.gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4),
			 -EPROTONOSUPPORT);
	vh.gso_type = (v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4) |
		      VIRTIO_NET_HDR_GSO_ECN;
	vh.gso_size = 0;
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4), -EINVAL);
	vh.gso_size = 1000;
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4), 3);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(xsd_vsw_gso_segment(in, len, &vh, out, sizeof(out), segs, 4),
			 -EPROTONOSUPPORT);
}

static void gso_tcp4(void **state) { gso_segments(false); }
static void gso_tcp6(void **state) { gso_segments(true); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vlan_insert_then_strip),
		cmocka_unit_test(vlan_strip_real_tagged_frame),
		cmocka_unit_test(csum_ipv4_udp_tcp),
		cmocka_unit_test(csum_ipv6_udp_tcp_and_ext_header),
		cmocka_unit_test(csum_not_needed_and_errors),
		cmocka_unit_test(csum_udp_zero_result_becomes_ffff),
		cmocka_unit_test(gso_tcp4),
		cmocka_unit_test(gso_tcp6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
