/* SPDX-License-Identifier: MIT */
/*
 * test_xsvnic_tap.c - the TAP interface against the real kernel, in a
 * network namespace of its own (label: integration; needs root).
 *
 * The namespace is made with unshare(CLONE_NEWNET) for this process: the
 * `ip` commands the tests run are its children and see the same namespace,
 * and the kernel removes the namespace with everything in it when the
 * process exits, however it exits (assert failure, abort, SIGKILL), so
 * nothing is ever left behind on the host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <xscore/common.h>
#include <xsvnic/tap.h>

#include <xscore/vnic_wire.h>

#include "vswitch.h" /* checksum completion/verification, to cross-check */

#define TAP "xsvt0"

static const uint8_t TAP_MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
static const uint8_t PEER_MAC[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static const uint8_t TAP_IP[4] = { 10, 9, 0, 1 };
static const uint8_t PEER_IP[4] = { 10, 9, 0, 2 };

/* Run a shell command, return its stdout (static buffer) and exit status. */
__attribute__((format(printf, 2, 3)))
static const char *sh(int *status, const char *fmt, ...)
{
	static char out[8192];
	char cmd[512];
	size_t n = 0;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n < sizeof(out) - 1) {
		size_t r = fread(out + n, 1, sizeof(out) - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	out[n] = '\0';
	*status = pclose(p);
	return out;
}

static const char *link_show(void)
{
	int st;
	const char *o = sh(&st, "ip -d link show " TAP " 2>&1");

	assert_int_equal(st, 0);
	return o;
}

/* Read frames until one with @ethertype arrives (others are the kernel's
 * own IPv6/MLD chatter); fail after 3 s. */
static ssize_t read_until(struct xsvnic_tap *tap, uint16_t ethertype, struct virtio_net_hdr *vh,
			  uint8_t *buf, size_t cap)
{
	struct pollfd pfd = { .fd = xsvnic_tap_fd(tap), .events = POLLIN };
	uint64_t deadline = xs_now_ms() + 3000;

	while (xs_now_ms() < deadline) {
		ssize_t n = xsvnic_tap_read(tap, vh, buf, cap);

		if (n == -EAGAIN) {
			poll(&pfd, 1, 100);
			continue;
		}
		assert_true(n >= 14);
		if (xs_get16(buf + 12) == ethertype)
			return n;
	}
	fail_msg("no frame with EtherType 0x%04x within 3 s", ethertype);
	return -1;
}

/* The TAP of the running test, destroyed by the teardown if the test
 * failed half-way, so the next test can use the name again. */
static struct xsvnic_tap *g_tap;

static struct xsvnic_tap *track(struct xsvnic_tap *tap)
{
	assert_non_null(tap);
	g_tap = tap;
	return tap;
}

static void tap_done(struct xsvnic_tap *tap)
{
	xsvnic_tap_destroy(tap);
	if (tap == g_tap)
		g_tap = NULL;
}

static int teardown_tap(void **state)
{
	if (g_tap)
		xsvnic_tap_destroy(g_tap);
	g_tap = NULL;
	return 0;
}

static struct xsvnic_tap *make_tap(unsigned int offloads)
{
	struct xsvnic_tap *tap = track(xsvnic_tap_create(TAP, offloads));
	int st;

	assert_int_equal(xsvnic_tap_set_mac(tap, TAP_MAC), 0);
	assert_int_equal(xsvnic_tap_set_mtu(tap, 9000), 0);
	assert_int_equal(xsvnic_tap_set_up(tap, true), 0);
	assert_int_equal(xsvnic_tap_set_carrier(tap, true), 0);
	sh(&st, "ip addr add 10.9.0.1/24 dev " TAP " && "
		"ip neigh replace 10.9.0.2 lladdr 02:aa:bb:cc:dd:ee dev " TAP " nud permanent");
	assert_int_equal(st, 0);
	return tap;
}

/* ------------------------------------------------------------- tests */

static void create_configure_and_show(void **state)
{
	struct xsvnic_tap *tap = track(xsvnic_tap_create(TAP, XSVNIC_OFF_CSUM));
	struct xsvnic_link_info li;
	const char *o;

	assert_string_equal(xsvnic_tap_name(tap), TAP);
	assert_int_equal(xsvnic_tap_ifindex(tap), (int)if_nametoindex(TAP));
	o = link_show();
	assert_non_null(strstr(o, "tun type tap pi off vnet_hdr on"));
	assert_null(strstr(o, ",UP"));

	assert_int_equal(xsvnic_tap_set_mac(tap, TAP_MAC), 0);
	assert_int_equal(xsvnic_tap_set_mtu(tap, 9000), 0);
	assert_int_equal(xsvnic_tap_set_up(tap, true), 0);
	o = link_show();
	assert_non_null(strstr(o, "link/ether 02:11:22:33:44:55 "));
	assert_non_null(strstr(o, " mtu 9000 "));
	assert_non_null(strstr(o, "<BROADCAST,MULTICAST,UP,LOWER_UP>"));
	assert_int_equal(xsvnic_tap_link_info(tap, &li), 0);
	assert_memory_equal(li.mac, TAP_MAC, 6);
	assert_int_equal(li.mtu, 9000);
	assert_true(li.admin_up);
	assert_true(li.carrier);

	/* the largest MTU across the fabric, and the bounds */
	assert_int_equal(xsvnic_tap_set_mtu(tap, XSVNIC_MTU_MAX), 0);
	assert_non_null(strstr(link_show(), " mtu 65280 "));
	assert_int_equal(xsvnic_tap_set_mtu(tap, XSVNIC_MTU_MAX + 1), -EINVAL);
	assert_int_equal(xsvnic_tap_set_mtu(tap, 67), -EINVAL);
	assert_int_equal(xsvnic_tap_set_mac(tap, (const uint8_t[6]){ 0x01, 0, 0x5e, 0, 0, 1 }),
			 -EINVAL);

	/* admin down */
	assert_int_equal(xsvnic_tap_set_up(tap, false), 0);
	o = link_show();
	assert_non_null(strstr(o, "<BROADCAST,MULTICAST> mtu 65280"));
	assert_non_null(strstr(o, "state DOWN"));

	/* a second open of the same name is refused */
	errno = 0;
	assert_null(xsvnic_tap_create(TAP, 0));
	assert_int_equal(errno, EBUSY);
	tap_done(tap);
}

static void carrier_follows_the_director(void **state)
{
	struct xsvnic_tap *tap = make_tap(0);
	struct xsvnic_link_info li;
	const char *o;

	assert_int_equal(xsvnic_tap_set_carrier(tap, false), 0);
	o = link_show();
	assert_non_null(strstr(o, "<NO-CARRIER,BROADCAST,MULTICAST,UP>"));
	assert_non_null(strstr(o, "state DOWN"));
	assert_int_equal(xsvnic_tap_link_info(tap, &li), 0);
	assert_false(li.carrier);
	assert_true(li.admin_up);

	assert_int_equal(xsvnic_tap_set_carrier(tap, true), 0);
	o = link_show();
	assert_null(strstr(o, "NO-CARRIER"));
	assert_non_null(strstr(o, "LOWER_UP"));
	assert_int_equal(xsvnic_tap_link_info(tap, &li), 0);
	assert_true(li.carrier);
	tap_done(tap);
}

static void arp_request_gets_a_reply(void **state)
{
	struct xsvnic_tap *tap = make_tap(0);
	static uint8_t buf[XSVNIC_FRAME_BUF];
	struct virtio_net_hdr vh;
	uint8_t req[42], want[42];
	ssize_t n;
	int st;

	/* the address we ask for must be ours, the peer must not be a static
	 * neighbour (else the kernel would not need to learn it) */
	sh(&st, "ip neigh del 10.9.0.2 dev " TAP);
	/* who-has 10.9.0.1 tell 10.9.0.2 */
	memset(req, 0xff, 6);
	memcpy(req + 6, PEER_MAC, 6);
	xs_put16(req + 12, 0x0806);
	xs_put16(req + 14, 1);      /* Ethernet */
	xs_put16(req + 16, 0x0800); /* IPv4 */
	req[18] = 6;
	req[19] = 4;
	xs_put16(req + 20, 1);      /* request */
	memcpy(req + 22, PEER_MAC, 6);
	memcpy(req + 28, PEER_IP, 4);
	memset(req + 32, 0, 6);
	memcpy(req + 38, TAP_IP, 4);
	assert_int_equal(xsvnic_tap_write(tap, NULL, req, sizeof(req)), (ssize_t)sizeof(req));

	/* is-at 02:11:22:33:44:55, from 10.9.0.1 to 10.9.0.2 */
	memcpy(want, PEER_MAC, 6);
	memcpy(want + 6, TAP_MAC, 6);
	xs_put16(want + 12, 0x0806);
	xs_put16(want + 14, 1);
	xs_put16(want + 16, 0x0800);
	want[18] = 6;
	want[19] = 4;
	xs_put16(want + 20, 2);     /* reply */
	memcpy(want + 22, TAP_MAC, 6);
	memcpy(want + 28, TAP_IP, 4);
	memcpy(want + 32, PEER_MAC, 6);
	memcpy(want + 38, PEER_IP, 4);
	n = read_until(tap, 0x0806, &vh, buf, sizeof(buf));
	assert_int_equal(n, 42);
	assert_memory_equal(buf, want, 42);
	assert_int_equal(vh.flags, 0);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	/* and the kernel learned the peer from the request */
	assert_non_null(strstr(sh(&st, "ip neigh show 10.9.0.2 dev " TAP), "02:aa:bb:cc:dd:ee"));
	tap_done(tap);
}

/* Build a UDP/IPv4 frame 10.9.0.2:4000 -> 10.9.0.1:9999 with a correct
 * IP header checksum; the UDP checksum is left for the caller. */
static size_t udp_frame(uint8_t *f, const char *payload)
{
	size_t pl = strlen(payload), ip_len = 20 + 8 + pl;
	uint32_t sum = 0;

	memcpy(f, TAP_MAC, 6);
	memcpy(f + 6, PEER_MAC, 6);
	xs_put16(f + 12, 0x0800);
	f[14] = 0x45;
	f[15] = 0;
	xs_put16(f + 16, (uint16_t)ip_len);
	xs_put16(f + 18, 0x4242);
	xs_put16(f + 20, 0x4000);
	f[22] = 64;
	f[23] = 17;
	xs_put16(f + 24, 0);
	memcpy(f + 26, PEER_IP, 4);
	memcpy(f + 30, TAP_IP, 4);
	for (int i = 0; i < 20; i += 2)
		sum += xs_get16(f + 14 + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	xs_put16(f + 24, (uint16_t)~sum);
	xs_put16(f + 34, 4000);
	xs_put16(f + 36, 9999);
	xs_put16(f + 38, (uint16_t)(8 + pl));
	xs_put16(f + 40, 0);
	memcpy(f + 42, payload, pl);
	return 14 + ip_len;
}

static int udp_socket(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9999) };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(s >= 0);
	memcpy(&a.sin_addr, TAP_IP, 4);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	return s;
}

static ssize_t udp_recv(int s, char *buf, size_t cap, int timeout_ms)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	return recv(s, buf, cap, 0);
}

static void frames_written_with_vnet_header_reach_a_socket(void **state)
{
	struct xsvnic_tap *tap = make_tap(XSVNIC_OFF_CSUM);
	struct virtio_net_hdr vh = { 0 };
	uint8_t f[128];
	char got[64];
	size_t n;
	int s = udp_socket();

	/* 1. complete checksum, no offload flags: delivered */
	n = udp_frame(f, "first: full checksum");
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				      .csum_offset = 6 };
	assert_int_equal(xsd_vsw_csum_complete(f, n, &vh), 0);
	assert_int_equal(xsvnic_tap_write(tap, NULL, f, n), (ssize_t)n);
	assert_int_equal(udp_recv(s, got, sizeof(got), 2000), 20);
	assert_memory_equal(got, "first: full checksum", 20);

	/* 2. a wrong checksum without NEEDS_CSUM: the kernel drops it */
	n = udp_frame(f, "second: bad checksum");
	xs_put16(f + 40, 0x1234);
	assert_int_equal(xsvnic_tap_write(tap, NULL, f, n), (ssize_t)n);
	assert_int_equal(udp_recv(s, got, sizeof(got), 300), -ETIMEDOUT);

	/* 3. NEEDS_CSUM with the pseudo-header sum in the field (what a TSO
	 * sender passes): the kernel takes it as checksummed-by-hardware */
	n = udp_frame(f, "third: partial");
	vh = (struct virtio_net_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				      .csum_offset = 6 };
	assert_int_equal(xsvnic_tap_write(tap, &vh, f, n), (ssize_t)n);
	assert_int_equal(udp_recv(s, got, sizeof(got), 2000), 14);
	assert_memory_equal(got, "third: partial", 14);
	close(s);
	tap_done(tap);
}

static void frames_read_carry_offload_state(void **state)
{
	struct xsvnic_tap *tap = make_tap(XSVNIC_OFF_CSUM);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(4000) };
	static uint8_t buf[XSVNIC_FRAME_BUF];
	struct virtio_net_hdr vh;
	ssize_t n;
	int s = udp_socket();

	memcpy(&to.sin_addr, PEER_IP, 4);
	/* with checksum offload the kernel leaves the UDP checksum to us */
	assert_int_equal(sendto(s, "offloaded", 9, 0, (struct sockaddr *)&to, sizeof(to)), 9);
	n = read_until(tap, 0x0800, &vh, buf, sizeof(buf));
	assert_int_equal(n, 14 + 20 + 8 + 9);
	assert_memory_equal(buf, PEER_MAC, 6);
	assert_memory_equal(buf + 42, "offloaded", 9);
	assert_int_equal(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 34);
	assert_int_equal(vh.csum_offset, 6);
	assert_int_equal(xsd_vsw_csum_complete(buf, (size_t)n, &vh), 0);
	assert_int_equal(xsd_vsw_csum_verify(buf, (size_t)n), 1);

	/* without it, the frame arrives fully checksummed */
	assert_int_equal(xsvnic_tap_set_offload(tap, 0), 0);
	assert_int_equal(xsvnic_tap_offload(tap), 0);
	assert_int_equal(sendto(s, "in software", 11, 0, (struct sockaddr *)&to, sizeof(to)), 11);
	n = read_until(tap, 0x0800, &vh, buf, sizeof(buf));
	assert_int_equal(n, 14 + 20 + 8 + 11);
	assert_int_equal(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
	assert_int_equal(xsd_vsw_csum_verify(buf, (size_t)n), 1);
	assert_int_equal(xsvnic_tap_set_offload(tap, XSVNIC_OFF_TSO4), -EINVAL);

	/* a buffer that is filled completely is reported, not passed on cut */
	assert_int_equal(sendto(s, "0123456789", 10, 0, (struct sockaddr *)&to, sizeof(to)), 10);
	{
		struct pollfd pfd = { .fd = xsvnic_tap_fd(tap), .events = POLLIN };
		uint64_t deadline = xs_now_ms() + 3000;
		bool seen = false;

		while (!seen && xs_now_ms() < deadline) {
			n = xsvnic_tap_read(tap, &vh, buf, 52); /* the frame is exactly 52 */
			if (n == -EAGAIN)
				poll(&pfd, 1, 100);
			else if (n == -EMSGSIZE && xs_get16(buf + 12) == 0x0800)
				seen = true;
		}
		assert_true(seen);
	}
	close(s);
	tap_done(tap);
}

/* The multicast MACs /proc/net/dev_mcast lists for the interface: the
 * kernel's own link-layer list, used here only as the oracle. */
static size_t proc_mcast(int ifindex, uint8_t (*macs)[6], size_t cap)
{
	FILE *p = fopen("/proc/net/dev_mcast", "r");
	char line[256];
	size_t n = 0;

	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		int idx, users, global;
		char name[32], hex[33];

		if (sscanf(line, "%d %31s %d %d %32s", &idx, name, &users, &global, hex) != 5 ||
		    idx != ifindex || strlen(hex) != 12)
			continue;
		assert_true(n < cap);
		for (int i = 0; i < 6; i++) {
			unsigned int b;

			sscanf(hex + 2 * i, "%2x", &b);
			macs[n][i] = (uint8_t)b;
		}
		n++;
	}
	fclose(p);
	return n;
}

static bool has_mac(uint8_t (*macs)[6], size_t n, const uint8_t *mac)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(macs[i], mac, 6) == 0)
			return true;
	return false;
}

static void multicast_list_through_netlink(void **state)
{
	struct xsvnic_tap *tap = make_tap(0);
	static const uint8_t all_nodes[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const uint8_t all_hosts[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	static const uint8_t g4[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 };
	static const uint8_t g6[6] = { 0x33, 0x33, 0x00, 0x00, 0xab, 0xcd };
	uint8_t macs[64][6], oracle[64][6];
	struct ip_mreqn m4 = { .imr_ifindex = xsvnic_tap_ifindex(tap) };
	struct ipv6_mreq m6 = { .ipv6mr_interface = (unsigned int)xsvnic_tap_ifindex(tap) };
	static const uint8_t sol_node[6] = { 0x33, 0x33, 0xff, 0x33, 0x44, 0x55 };
	uint64_t deadline = xs_now_ms() + 3000;
	bool allm = true;
	int n, no, s4, s6, st;

	/* IPv6 joins the solicited-node group of the link-local address when
	 * duplicate address detection starts, from a work queue: wait for it */
	while (!has_mac(oracle, proc_mcast(xsvnic_tap_ifindex(tap), oracle, 64), sol_node)) {
		assert_true(xs_now_ms() < deadline);
		usleep(20000);
	}
	n = xsvnic_tap_get_mcast(tap, macs, 64, &allm);
	assert_true(has_mac(macs, (size_t)n, sol_node));
	assert_true(n >= 2);
	assert_false(allm);
	assert_true(has_mac(macs, (size_t)n, all_nodes));
	assert_true(has_mac(macs, (size_t)n, all_hosts));
	assert_false(has_mac(macs, (size_t)n, g4));

	/* join 239.1.2.3 and ff15::abcd on the TAP */
	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(s4 >= 0 && s6 >= 0);
	inet_pton(AF_INET, "239.1.2.3", &m4.imr_multiaddr);
	assert_int_equal(setsockopt(s4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m4, sizeof(m4)), 0);
	inet_pton(AF_INET6, "ff15::abcd", &m6.ipv6mr_multiaddr);
	assert_int_equal(setsockopt(s6, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m6, sizeof(m6)), 0);
	n = xsvnic_tap_get_mcast(tap, macs, 64, &allm);
	assert_true(has_mac(macs, (size_t)n, g4));
	assert_true(has_mac(macs, (size_t)n, g6));
	/* sorted, and the same set as the kernel's link-layer list */
	for (int i = 1; i < n; i++)
		assert_true(memcmp(macs[i - 1], macs[i], 6) < 0);
	no = (int)proc_mcast(xsvnic_tap_ifindex(tap), oracle, 64);
	assert_int_equal(n, no);
	for (int i = 0; i < no; i++)
		assert_true(has_mac(macs, (size_t)n, oracle[i]));
	/* a short array: the count is still the full count */
	assert_int_equal(xsvnic_tap_get_mcast(tap, macs, 1, NULL), n);

	/* leaving removes them */
	close(s4);
	close(s6);
	n = xsvnic_tap_get_mcast(tap, macs, 64, NULL);
	assert_false(has_mac(macs, (size_t)n, g4));
	assert_false(has_mac(macs, (size_t)n, g6));

	/* all-multicast */
	sh(&st, "ip link set dev " TAP " allmulticast on");
	assert_int_equal(st, 0);
	assert_true(xsvnic_tap_get_mcast(tap, macs, 64, &allm) >= 0);
	assert_true(allm);
	tap_done(tap);
}

/* A TCP/IPv4 frame 10.9.0.2:40000 -> 10.9.0.1:8080 with complete checksums
 * (payload may be NULL for @plen pattern bytes). */
static size_t tcp_frame(uint8_t *f, uint32_t seq, uint32_t ack, uint8_t flags, size_t plen)
{
	size_t n = udp_frame(f, ""); /* Ethernet + IPv4 header, fixed below */
	struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
				     .csum_offset = 16 };
	uint32_t sum = 0;

	(void)n;
	f[23] = 6;
	xs_put16(f + 16, (uint16_t)(20 + 20 + plen));
	xs_put16(f + 24, 0);
	for (int i = 0; i < 20; i += 2)
		sum += xs_get16(f + 14 + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	xs_put16(f + 24, (uint16_t)~sum);
	xs_put16(f + 34, 40000);
	xs_put16(f + 36, 8080);
	xs_put32(f + 38, seq);
	xs_put32(f + 42, ack);
	f[46] = 5 << 4;
	f[47] = flags;
	xs_put16(f + 48, 65535);
	xs_put16(f + 50, 0);
	xs_put16(f + 52, 0);
	for (size_t i = 0; i < plen; i++)
		f[54 + i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(xsd_vsw_csum_complete(f, 54 + plen, &vh), 0);
	return 54 + plen;
}

/* The segments xsd_vsw_gso_segment makes are good enough for the kernel's
 * own TCP: a connection to a listening socket in the namespace, one 4000
 * byte GSO frame cut in 1400-byte segments, every byte read back. */
static void software_segments_accepted_by_kernel_tcp(void **state)
{
	struct xsvnic_tap *tap = make_tap(0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8080) };
	static uint8_t buf[XSVNIC_FRAME_BUF], segbuf[8192], gso[4200];
	struct virtio_net_hdr vh;
	struct iovec segs[8];
	char got[4000];
	size_t n, total = 0;
	uint32_t srv_seq;
	ssize_t r;
	int ls, cs, k, one = 1;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memcpy(&a.sin_addr, TAP_IP, 4);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 1), 0);

	n = tcp_frame(buf, 1000, 0, 0x02 /* SYN */, 0);
	assert_int_equal(xsvnic_tap_write(tap, NULL, buf, n), (ssize_t)n);
	for (;;) { /* the SYN-ACK */
		r = read_until(tap, 0x0800, &vh, buf, sizeof(buf));
		if (buf[23] == 6 && buf[47] == 0x12)
			break;
	}
	assert_int_equal(xs_get32(buf + 42), 1001);
	srv_seq = xs_get32(buf + 38);
	n = tcp_frame(buf, 1001, srv_seq + 1, 0x10 /* ACK */, 0);
	assert_int_equal(xsvnic_tap_write(tap, NULL, buf, n), (ssize_t)n);
	cs = accept(ls, NULL, NULL);
	assert_true(cs >= 0);

	n = tcp_frame(gso, 1001, srv_seq + 1, 0x18 /* PSH|ACK */, 4000);
	vh = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1400 };
	k = xsd_vsw_gso_segment(gso, n, &vh, segbuf, sizeof(segbuf), segs, 8);
	assert_int_equal(k, 3);
	for (int i = 0; i < k; i++)
		assert_int_equal(xsvnic_tap_write(tap, NULL, segs[i].iov_base, segs[i].iov_len),
				 (ssize_t)segs[i].iov_len);
	while (total < sizeof(got)) {
		struct pollfd pfd = { .fd = cs, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 3000), 1);
		r = recv(cs, got + total, sizeof(got) - total, 0);
		assert_true(r > 0);
		total += (size_t)r;
	}
	assert_memory_equal(got, gso + 54, 4000);
	close(cs);
	close(ls);
	tap_done(tap);
}

/* With TSO negotiated the kernel hands out GSO frames. A TCP connection
 * from the namespace to a fake peer behind the TAP: the frames read are
 * turned into the fabric's TSO prefix and back, cut by the switch's
 * segmentation, and every byte sent must come out in order with correct
 * checksums. */
static void kernel_gso_frames_through_prefix_and_segmentation(void **state)
{
	struct xsvnic_tap *tap = make_tap(XSVNIC_OFF_CSUM | XSVNIC_OFF_TSO4);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(80) };
	static uint8_t buf[XSVNIC_FRAME_BUF], segbuf[2 * XSVNIC_FRAME_BUF], data[30000],
		got[30000];
	struct virtio_net_hdr vh, vh2;
	struct xs_vnic_tso t, t2;
	struct iovec segs[64];
	size_t total = 0;
	uint32_t c_isn, s_isn = 5000;
	uint16_t cport;
	int s, gso_frames = 0;
	ssize_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	memcpy(&to.sin_addr, PEER_IP, 4);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&to, sizeof(to)), -1);
	assert_int_equal(errno, EINPROGRESS);
	do
		n = read_until(tap, 0x0800, &vh, buf, sizeof(buf));
	while (buf[23] != 6 || buf[47] != 0x02);
	c_isn = xs_get32(buf + 38);
	cport = xs_get16(buf + 34);
	{
		/* SYN-ACK with MSS 8960, window 65535, no other options */
		uint8_t sa[58];
		struct virtio_net_hdr cv = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					     .csum_start = 34, .csum_offset = 16 };
		uint32_t sum = 0;

		memcpy(sa, TAP_MAC, 6);
		memcpy(sa + 6, PEER_MAC, 6);
		xs_put16(sa + 12, 0x0800);
		memcpy(sa + 14, buf + 14, 20); /* IP header of the SYN, turned round */
		memcpy(sa + 26, PEER_IP, 4);
		memcpy(sa + 30, TAP_IP, 4);
		xs_put16(sa + 16, 44);
		xs_put16(sa + 24, 0);
		for (int i = 0; i < 20; i += 2)
			sum += xs_get16(sa + 14 + i);
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		xs_put16(sa + 24, (uint16_t)~sum);
		xs_put16(sa + 34, 80);
		xs_put16(sa + 36, cport);
		xs_put32(sa + 38, s_isn);
		xs_put32(sa + 42, c_isn + 1);
		sa[46] = 6 << 4;
		sa[47] = 0x12;
		xs_put16(sa + 48, 65535);
		xs_put16(sa + 50, 0);
		xs_put16(sa + 52, 0);
		sa[54] = 2;
		sa[55] = 4;
		xs_put16(sa + 56, 8960);
		assert_int_equal(xsd_vsw_csum_complete(sa, sizeof(sa), &cv), 0);
		assert_int_equal(xsvnic_tap_write(tap, NULL, sa, sizeof(sa)), (ssize_t)sizeof(sa));
	}
	{
		struct pollfd pfd = { .fd = s, .events = POLLOUT };

		assert_int_equal(poll(&pfd, 1, 3000), 1);
	}
	assert_int_equal(send(s, data, sizeof(data), 0), (ssize_t)sizeof(data));

	while (total < sizeof(data)) {
		size_t plen;
		int k;

		n = read_until(tap, 0x0800, &vh, buf, sizeof(buf));
		if (buf[23] != 6 || xs_get16(buf + 34) != cport)
			continue;
		plen = (size_t)n - 54;
		if (!plen)
			continue; /* a bare ACK */
		assert_int_equal(xs_vnic_vnet_to_tso(&vh, buf, (size_t)n, &t), 0);
		assert_true(t.csum);
		{
			/* over the fabric: prefix in front, decoded on the far side */
			static uint8_t msg[4 + XSVNIC_FRAME_BUF];
			int pl = xs_vnic_tso_encode(&t, msg, sizeof(msg));

			assert_int_equal(pl, 4);
			memcpy(msg + 4, buf, (size_t)n);
			assert_int_equal(xs_vnic_tso_decode(msg, 4 + (size_t)n, &t2), 4);
			assert_int_equal(xs_vnic_tso_to_vnet(&t2, msg + 4, (size_t)n, &vh2), 0);
		}
		if (t.gso) {
			gso_frames++;
			assert_int_equal(t.hdr_len, 54);
			assert_int_equal(vh2.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
			assert_int_equal(vh2.gso_size, vh.gso_size);
			k = xsd_vsw_gso_segment(buf, (size_t)n, &vh2, segbuf, sizeof(segbuf), segs, 64);
			assert_true(k >= 2);
		} else {
			assert_int_equal(xsd_vsw_csum_complete(buf, (size_t)n, &vh2), 0);
			segs[0].iov_base = buf;
			segs[0].iov_len = (size_t)n;
			k = 1;
		}
		for (int i = 0; i < k; i++) {
			const uint8_t *sg = segs[i].iov_base;
			size_t sl = segs[i].iov_len - 54;
			uint32_t off = xs_get32(sg + 38) - (c_isn + 1);

			assert_int_equal(xsd_vsw_csum_verify(sg, segs[i].iov_len), 1);
			assert_true(segs[i].iov_len <= 9014);
			if (off + sl <= total)
				continue; /* a retransmission (a slow run) */
			assert_int_equal(off, total);
			memcpy(got + total, sg + 54, sl);
			total += sl;
		}
	}
	assert_int_equal(total, sizeof(data));
	assert_memory_equal(got, data, sizeof(data));
	assert_true(gso_frames >= 1);
	close(s);
	tap_done(tap);
}

/* Tagged frames through the TAP with a packet socket standing in for the
 * host's VLAN code: what it sends comes out of the TAP with the tag in the
 * frame, byte for byte; a tagged frame written into the TAP reaches it with
 * VID 30 (in the frame, or in PACKET_AUXDATA where the core untagged it). */
static void tagged_frames_with_a_packet_socket(struct xsvnic_tap *tap)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = xsvnic_tap_ifindex(tap) };
	static uint8_t buf[XSVNIC_FRAME_BUF];
	struct virtio_net_hdr vh;
	uint8_t f[128], *p = f + 4;
	uint64_t deadline;
	size_t fl;
	ssize_t n;
	int ps, one = 1;

	ps = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	assert_true(ps >= 0);
	assert_int_equal(bind(ps, (struct sockaddr *)&ll, sizeof(ll)), 0);
	assert_int_equal(setsockopt(ps, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)), 0);

	/* host -> TAP: TAP_MAC -> PEER_MAC, VLAN 30 */
	fl = udp_frame(p, "host sends tagged");
	memcpy(p, PEER_MAC, 6);
	memcpy(p + 6, TAP_MAC, 6);
	n = xsd_vsw_vlan_insert(&p, fl, 4, 30);
	assert_int_equal(n, (ssize_t)fl + 4);
	assert_int_equal(send(ps, p, (size_t)n, 0), n);
	deadline = xs_now_ms() + 3000;
	for (;;) {
		ssize_t r = xsvnic_tap_read(tap, &vh, buf, sizeof(buf));

		assert_true(xs_now_ms() < deadline);
		if (r == -EAGAIN) {
			usleep(10000);
			continue;
		}
		if (r == n && memcmp(buf, p, (size_t)n) == 0)
			break;
	}

	/* TAP -> host: PEER_MAC -> TAP_MAC, VLAN 30 */
	p = f + 4;
	fl = udp_frame(p, "director sends tagged");
	n = xsd_vsw_vlan_insert(&p, fl, 4, 30);
	assert_int_equal(xsvnic_tap_write(tap, NULL, p, (size_t)n), n);
	deadline = xs_now_ms() + 3000;
	for (;;) {
		union {
			struct cmsghdr c;
			char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} ctl;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
				     .msg_controllen = sizeof(ctl) };
		struct tpacket_auxdata *aux = NULL;
		struct cmsghdr *c;
		ssize_t r;

		assert_true(xs_now_ms() < deadline);
		r = recvmsg(ps, &mh, 0);
		if (r < 0) {
			assert_int_equal(errno, EAGAIN);
			usleep(10000);
			continue;
		}
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
				aux = (struct tpacket_auxdata *)CMSG_DATA(c);
		if (r == n && memcmp(buf, p, (size_t)n) == 0)
			break; /* tag left in the frame */
		if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID) && r == n - 4 &&
		    (aux->tp_vlan_tci & 0x0fff) == 30 && memcmp(buf, p, 12) == 0 &&
		    memcmp(buf + 12, p + 16, (size_t)n - 16) == 0)
			break; /* tag taken out by the core, reported aside */
	}
	close(ps);
}

/* A trunk vNIC: VLAN sub-interfaces on the TAP. Their frames come out of
 * the TAP with the 802.1Q tag in the frame (the TAP offers no VLAN offload)
 * and tagged frames written into the TAP reach them. Kernels built without
 * 802.1Q support (CONFIG_VLAN_8021Q, as the one here) cannot create the
 * sub-interface: then the same two directions are checked with a packet
 * socket on the TAP. */
static void vlan_subinterface_on_the_tap(void **state)
{
	struct xsvnic_tap *tap = make_tap(XSVNIC_OFF_CSUM);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7000) };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(7001) };
	static uint8_t buf[XSVNIC_FRAME_BUF];
	struct virtio_net_hdr vh;
	struct xs_vnic_tso t;
	uint8_t f[128];
	char got[32];
	const char *o;
	ssize_t n;
	size_t fl;
	int s, st;

	o = sh(&st, "ip link add link " TAP " name " TAP ".30 type vlan id 30 2>&1");
	if (st != 0) {
		assert_non_null(strstr(o, "Unknown device type"));
		fprintf(stderr, "note: no 802.1Q in this kernel; tagged frames checked with a "
				"packet socket instead\n");
		tagged_frames_with_a_packet_socket(tap);
		tap_done(tap);
		return;
	}
	sh(&st, "ip addr add 10.30.0.1/24 dev " TAP ".30 && ip link set " TAP ".30 up && "
		"ip neigh replace 10.30.0.2 lladdr 02:aa:bb:cc:dd:ee dev " TAP ".30 nud permanent");
	assert_int_equal(st, 0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(s >= 0);
	inet_pton(AF_INET, "10.30.0.1", &a.sin_addr);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	inet_pton(AF_INET, "10.30.0.2", &to.sin_addr);

	/* out: tagged VID 30, the checksum left to us behind the tag */
	assert_int_equal(sendto(s, "vlan thirty", 11, 0, (struct sockaddr *)&to, sizeof(to)), 11);
	for (;;) {
		n = xsvnic_tap_read(tap, &vh, buf, sizeof(buf));
		if (n == -EAGAIN) {
			struct pollfd pfd = { .fd = xsvnic_tap_fd(tap), .events = POLLIN };

			assert_int_equal(poll(&pfd, 1, 3000), 1);
			continue;
		}
		assert_true(n > 18);
		if (xs_get16(buf + 12) == 0x8100 && xs_get16(buf + 16) == 0x0800)
			break;
	}
	assert_int_equal(xs_get16(buf + 14) & 0x0fff, 30);
	assert_int_equal(n, 18 + 20 + 8 + 11);
	assert_memory_equal(buf + 46, "vlan thirty", 11);
	assert_int_equal(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 38);
	assert_int_equal(xs_vnic_vnet_to_tso(&vh, buf, (size_t)n, &t), 0);
	assert_true(t.csum);
	assert_int_equal(xsd_vsw_csum_complete(buf, (size_t)n, &vh), 0);
	assert_int_equal(xsd_vsw_csum_verify(buf, (size_t)n), 1);

	/* in: a tagged frame for 10.30.0.1:7000 reaches the socket */
	fl = udp_frame(f + 4, "tagged in");
	{
		uint8_t *p = f + 4;
		struct virtio_net_hdr cv = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34,
					     .csum_offset = 6 };

		inet_pton(AF_INET, "10.30.0.2", p + 26);
		inet_pton(AF_INET, "10.30.0.1", p + 30);
		xs_put16(p + 36, 7000);
		/* the IP header checksum covers the new addresses */
		xs_put16(p + 24, 0);
		{
			uint32_t sum = 0;

			for (int i = 0; i < 20; i += 2)
				sum += xs_get16(p + 14 + i);
			while (sum >> 16)
				sum = (sum & 0xffff) + (sum >> 16);
			xs_put16(p + 24, (uint16_t)~sum);
		}
		assert_int_equal(xsd_vsw_csum_complete(p, fl, &cv), 0);
		n = xsd_vsw_vlan_insert(&p, fl, 4, 30);
		assert_int_equal(n, (ssize_t)fl + 4);
		assert_int_equal(xsvnic_tap_write(tap, NULL, p, (size_t)n), n);
	}
	{
		struct pollfd pfd = { .fd = s, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 2000), 1);
		assert_int_equal(recv(s, got, sizeof(got), 0), 9);
		assert_memory_equal(got, "tagged in", 9);
	}
	close(s);
	tap_done(tap);
}

static bool watch_says_changed(struct xsvnic_mcast_watch *w, int ifindex)
{
	struct pollfd pfd = { .fd = xsvnic_mcast_watch_fd(w), .events = POLLIN };
	int rc;

	if (poll(&pfd, 1, 2000) != 1)
		return false;
	usleep(50000); /* let the rest of a burst arrive */
	rc = xsvnic_mcast_watch_poll(w, ifindex);
	assert_true(rc >= 0);
	return rc == 1;
}

static void multicast_changes_are_notified(void **state)
{
	struct xsvnic_tap *tap = make_tap(0);
	struct xsvnic_mcast_watch *w = xsvnic_mcast_watch_open();
	static const uint8_t g4[6] = { 0x01, 0x00, 0x5e, 0x05, 0x06, 0x07 };
	struct ip_mreqn m4 = { .imr_ifindex = xsvnic_tap_ifindex(tap) };
	uint8_t macs[64][6];
	int s4, n, st;

	assert_non_null(w);
	usleep(300000); /* IPv6 bring-up chatter of make_tap */
	assert_true(xsvnic_mcast_watch_poll(w, xsvnic_tap_ifindex(tap)) >= 0);

	s4 = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "239.5.6.7", &m4.imr_multiaddr);
	assert_int_equal(setsockopt(s4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m4, sizeof(m4)), 0);
	assert_true(watch_says_changed(w, xsvnic_tap_ifindex(tap)));
	n = xsvnic_tap_get_mcast(tap, macs, 64, NULL);
	assert_true(has_mac(macs, (size_t)n, g4));

	/* a join on another interface (lo) is not ours */
	m4.imr_ifindex = (int)if_nametoindex("lo");
	assert_int_equal(setsockopt(s4, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m4, sizeof(m4)), 0);
	assert_false(watch_says_changed(w, xsvnic_tap_ifindex(tap)));

	/* leaving is a change too, and so is all-multicast */
	close(s4);
	assert_true(watch_says_changed(w, xsvnic_tap_ifindex(tap)));
	n = xsvnic_tap_get_mcast(tap, macs, 64, NULL);
	assert_false(has_mac(macs, (size_t)n, g4));
	sh(&st, "ip link set dev " TAP " allmulticast on");
	assert_true(watch_says_changed(w, xsvnic_tap_ifindex(tap)));
	xsvnic_mcast_watch_close(w);
	tap_done(tap);
}

static void delete_removes_the_interface(void **state)
{
	struct xsvnic_tap *tap = make_tap(XSVNIC_OFF_ALL);
	const char *o;
	int st;

	assert_true(if_nametoindex(TAP) > 0);
	tap_done(tap);
	assert_int_equal(if_nametoindex(TAP), 0);
	o = sh(&st, "ip link show " TAP " 2>&1");
	assert_int_not_equal(st, 0);
	assert_non_null(strstr(o, "does not exist"));
	/* and the name can be used again at once */
	tap = track(xsvnic_tap_create(TAP, 0));
	tap_done(tap);
}

static void name_pattern(void **state)
{
	struct xsvnic_tap *a = xsvnic_tap_create("xsvp%d", 0);
	struct xsvnic_tap *b = xsvnic_tap_create("xsvp%d", 0);

	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(xsvnic_tap_name(a), "xsvp0");
	assert_string_equal(xsvnic_tap_name(b), "xsvp1");
	xsvnic_tap_destroy(a);
	xsvnic_tap_destroy(b);
}

static int enter_netns(void **state)
{
	int st;

	if (unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (this test needs root)\n",
			strerror(errno));
		return -1;
	}
	sh(&st, "ip link set lo up");
	return st == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(create_configure_and_show, teardown_tap),
		cmocka_unit_test_teardown(carrier_follows_the_director, teardown_tap),
		cmocka_unit_test_teardown(arp_request_gets_a_reply, teardown_tap),
		cmocka_unit_test_teardown(frames_written_with_vnet_header_reach_a_socket, teardown_tap),
		cmocka_unit_test_teardown(frames_read_carry_offload_state, teardown_tap),
		cmocka_unit_test_teardown(multicast_list_through_netlink, teardown_tap),
		cmocka_unit_test_teardown(software_segments_accepted_by_kernel_tcp, teardown_tap),
		cmocka_unit_test_teardown(kernel_gso_frames_through_prefix_and_segmentation,
					  teardown_tap),
		cmocka_unit_test_teardown(vlan_subinterface_on_the_tap, teardown_tap),
		cmocka_unit_test_teardown(multicast_changes_are_notified, teardown_tap),
		cmocka_unit_test_teardown(delete_removes_the_interface, teardown_tap),
		cmocka_unit_test_teardown(name_pattern, teardown_tap),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_xsvnic_tap: needs root (network namespaces, TAP devices)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, enter_netns, NULL);
}
