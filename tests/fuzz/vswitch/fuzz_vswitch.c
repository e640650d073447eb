/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vswitch.c - random frames and port events through a switch with an
 * uplink (trunk, native VLAN 1), two access vNICs (VLAN 1 and 20), a trunk
 * vNIC {10, 30} and policers. Checks after every step:
 *   - every egress copy is a valid variant of the input (same MACs, tag
 *     present exactly when `tagged` says, payload unchanged), never the
 *     ingress port, never twice the same port;
 *   - rx_frames == fwd_frames + sum(drops) on every port;
 *   - the tx_frames of all ports grow by exactly the number returned;
 *   - checksum completion on any copy does not crash and, on success,
 *     yields a frame that verifies; software segmentation of any copy does
 *     not crash and, on success, gives segments that verify and whose
 *     payloads add up to the copy's payload.
 * Ports are also taken up and down, given multicast lists, reconfigured
 * (VLAN modes, rates), deleted and added back, and the table is aged.
 * Input: a sequence of records {op, arg, len_hi, len_lo, bytes...}.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/common.h>

#include "vswitch.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

#define N_PORTS 5
static struct xsd_vsw *sw;
static uint64_t now_ns;

static void build(void)
{
	static const uint16_t trunk[] = { 10, 30 };
	struct xsd_vsw_opts o = { .size = sizeof(o), .max_ports = 8, .max_learned = 64,
				   .age_s = 2 };
	struct xsd_vsw_port_cfg c = { .mode = XSD_VSW_TRUNK, .native_vlan = 1,
				      .csum_offload = true };

	sw = xsd_vsw_create(&o);
	CHECK(sw);
	CHECK(xsd_vsw_port_add(sw, XSD_VSW_PORT_UPLINK, &c) == 0);
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_ACCESS, .access_vlan = 1,
				       .mac = { 0x02, 0, 0, 0, 0, 0x0a },
				       .rate_in = { .cir_bps = 80000, .cbs_bytes = 3000,
						    .pir_bps = 160000, .pbs_bytes = 6000 } };
	CHECK(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c) == 1);
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_ACCESS, .access_vlan = 1,
				       .mac = { 0x02, 0, 0, 0, 0, 0x0b },
				       .rate_out = { .cir_bps = 80000, .cbs_bytes = 3000 } };
	CHECK(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c) == 2);
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_ACCESS, .access_vlan = 20,
				       .mac = { 0x02, 0, 0, 0, 0, 0x0c } };
	CHECK(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c) == 3);
	c = (struct xsd_vsw_port_cfg){ .mode = XSD_VSW_TRUNK, .allowed = trunk, .n_allowed = 2,
				       .native_vlan = 30, .mac = { 0x02, 0, 0, 0, 0, 0x0d } };
	CHECK(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c) == 4);
}

/* Change a port's VLAN mode and rates, or delete and re-add it. */
static void reconfigure(uint32_t port, uint8_t arg)
{
	static const uint16_t lists[3][3] = { { 1, 10, 20 }, { 30 }, { 20, 4094, 2 } };
	struct xsd_vsw_port_cfg c = { 0 };
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(0x0a + port - 1) };
	int rc;

	c.mode = arg & 1 ? XSD_VSW_TRUNK : XSD_VSW_ACCESS;
	c.access_vlan = (uint16_t)(1 + (arg >> 1) % 3 * 10);
	c.allowed = lists[(arg >> 1) % 3];
	c.n_allowed = (arg >> 1) % 3 == 1 ? 1 : 3;
	c.native_vlan = arg & 8 ? c.allowed[0] : 0;
	c.csum_offload = arg & 16;
	c.tso = arg & 32;
	if (arg & 64)
		c.rate_out = (struct xsd_vsw_rate){ .cir_bps = 1000000, .cbs_bytes = 9000 };
	memcpy(c.mac, mac, 6);
	if (port == 0 && (arg & 1) == 0) /* keep the uplink a trunk sometimes */
		c.mode = XSD_VSW_TRUNK;
	rc = xsd_vsw_port_update(sw, port, &c);
	CHECK(rc == 0);
	if ((arg & 0x40) && port != 0) {
		/* delete and add back: it gets the same (lowest free) number */
		CHECK(xsd_vsw_port_del(sw, port) == 0);
		CHECK(xsd_vsw_port_add(sw, XSD_VSW_PORT_VNIC, &c) == (int)port);
	}
}

static uint64_t total_tx(void)
{
	struct xsd_vsw_port_stats st;
	uint64_t t = 0;

	for (uint32_t p = 0; p < N_PORTS; p++) {
		CHECK(xsd_vsw_port_stats(sw, p, &st) == 0);
		t += st.tx_frames;
	}
	return t;
}

static void check_counters(void)
{
	struct xsd_vsw_port_stats st;

	for (uint32_t p = 0; p < N_PORTS; p++) {
		uint64_t sum = 0;

		CHECK(xsd_vsw_port_stats(sw, p, &st) == 0);
		for (int r = 0; r < XSD_VSW_DROP_N_REASONS; r++)
			sum += st.drops[r];
		CHECK(st.rx_frames == st.fwd_frames + sum);
	}
}

static void check_copy(const struct xsd_vsw_egress *e, const struct xsd_vsw_result *res,
		       const uint8_t *frame, size_t len, bool needs_csum)
{
	static uint8_t buf[XSD_VSW_MAX_FRAME + 8];
	size_t n = 0, in_body, out_body;
	bool in_tag;

	for (int i = 0; i < e->iovcnt; i++) {
		memcpy(buf + n, e->iov[i].iov_base, e->iov[i].iov_len);
		n += e->iov[i].iov_len;
	}
	CHECK(n == e->len && n >= 14);
	CHECK(memcmp(buf, frame, 12) == 0);
	in_tag = xs_get16(frame + 12) == 0x8100;
	in_body = in_tag ? 16 : 12;
	if (e->tagged) {
		CHECK(xs_get16(buf + 12) == 0x8100);
		CHECK((xs_get16(buf + 14) & 0x0fff) == res->vlan);
		out_body = 16;
	} else {
		out_body = 12;
	}
	CHECK(n - out_body == len - in_body);
	CHECK(memcmp(buf + out_body, frame + in_body, len - in_body) == 0);
	if (e->segment) {
		static uint8_t segbuf[2 * (XSD_VSW_MAX_FRAME + 8)];
		struct virtio_net_hdr vh = { .gso_size = (uint16_t)(1 + len % 1500) };
		struct iovec segs[64];
		int k;

		vh.gso_type = (buf[out_body + 2] >> 4) == 6 ? VIRTIO_NET_HDR_GSO_TCPV6
							    : VIRTIO_NET_HDR_GSO_TCPV4;
		k = xsd_vsw_gso_segment(buf, n, &vh, segbuf, sizeof(segbuf), segs, 64);
		CHECK(k != 0);
		for (int i = 0; i < k; i++) {
			CHECK(segs[i].iov_len <= n);
			CHECK(xsd_vsw_csum_verify(segs[i].iov_base, segs[i].iov_len) == 1);
		}
	}
	if (needs_csum && e->csum_fill) {
		struct virtio_net_hdr vh = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM };
		uint8_t *p = buf;

		/* csum_start guessed from the headers: plain IPv4/IPv6 */
		vh.csum_start = (uint16_t)(out_body + 2 + ((buf[out_body + 2] >> 4) == 6 ? 40 : 20));
		vh.csum_offset = 16;
		if (xsd_vsw_csum_complete(p, n, &vh) == 0)
			CHECK(xsd_vsw_csum_verify(p, n) == 1);
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_offset = 6;
		if (xsd_vsw_csum_complete(p, n, &vh) == 0)
			CHECK(xsd_vsw_csum_verify(p, n) == 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd_vsw_egress out[N_PORTS];
	struct xsd_vsw_result res;
	size_t off = 0;

	build();
	now_ns = 1;
	while (size - off >= 4) {
		uint8_t op = data[off], arg = data[off + 1];
		size_t len = (size_t)data[off + 2] << 8 | data[off + 3];

		off += 4;
		if (len > size - off)
			len = size - off;
		now_ns += (uint64_t)arg * 10000000; /* up to 2.55 s per step */
		switch (op >> 5) {
		case 0: /* port up/down */
			CHECK(xsd_vsw_port_set_up(sw, op % N_PORTS, arg & 1) == 0);
			break;
		case 1: { /* multicast list from the frame bytes */
			size_t n = len / 6;
			uint8_t (*macs)[6] = n ? malloc(n * 6) : NULL;
			int rc;

			for (size_t i = 0; i < n; i++) {
				memcpy(macs[i], data + off + 6 * i, 6);
				macs[i][0] |= 1;
			}
			rc = xsd_vsw_port_set_mcast(sw, op % N_PORTS, (const uint8_t(*)[6])macs, n,
						    arg & 1);
			CHECK(rc == 0);
			free(macs);
			break;
		}
		case 2:
			if (arg & 0x80) {
				reconfigure(op % N_PORTS, arg);
				break;
			}
			xsd_vsw_age(sw, now_ns);
			CHECK(xsd_vsw_learned_count(sw) <= 64);
			break;
		default: { /* a frame */
			struct xsd_vsw_meta m = { .now_ns = now_ns, .needs_csum = arg & 1,
						  .gso = arg & 2 };
			uint64_t before = total_tx();
			uint32_t seen = 0;
			int rc;

			rc = xsd_vsw_forward(sw, op % N_PORTS, data + off, len, &m, &res, out,
					     N_PORTS);
			CHECK(rc >= 0 && rc < N_PORTS);
			CHECK((rc == 0) == (res.drop != XSD_VSW_DROP_NONE));
			for (int i = 0; i < rc; i++) {
				CHECK(out[i].port < N_PORTS && out[i].port != op % N_PORTS);
				CHECK(!(seen & (1u << out[i].port)));
				seen |= 1u << out[i].port;
				check_copy(&out[i], &res, data + off, len, m.needs_csum);
			}
			CHECK(total_tx() == before + (uint64_t)rc);
			break;
		}
		}
		check_counters();
		off += len;
	}
	xsd_vsw_destroy(sw);
	return 0;
}
