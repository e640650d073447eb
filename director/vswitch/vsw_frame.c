/* SPDX-License-Identifier: MIT */
/*
 * vsw_frame.c - frame rewriting for the virtual switch: 802.1Q tag insert
 * and strip in a caller's buffer, and TCP/UDP checksum completion over IPv4
 * and IPv6 for receivers that did not negotiate checksum offload.
 */
#include <errno.h>
#include <string.h>

#include <xscore/common.h>

#include "vswitch.h"
#include "vsw_int.h"

int xsd_vsw_vlan_insert(uint8_t **frame, size_t len, size_t headroom, uint16_t tci)
{
	uint8_t *f = *frame;

	if (headroom < VSW_TAG_LEN || len < VSW_ETH_HLEN)
		return -EINVAL;
	if (len + VSW_TAG_LEN > XSD_VSW_MAX_FRAME)
		return -EMSGSIZE;
	memmove(f - VSW_TAG_LEN, f, 2 * XSD_VSW_MAC_LEN);
	f -= VSW_TAG_LEN;
	xs_put16(f + 12, VSW_ETH_P_8021Q);
	xs_put16(f + 14, tci);
	*frame = f;
	return (int)(len + VSW_TAG_LEN);
}

int xsd_vsw_vlan_strip(uint8_t **frame, size_t len, uint16_t *tci)
{
	uint8_t *f = *frame;

	if (len < VSW_ETH_HLEN + VSW_TAG_LEN || xs_get16(f + 12) != VSW_ETH_P_8021Q)
		return -EINVAL;
	if (tci)
		*tci = xs_get16(f + 14);
	memmove(f + VSW_TAG_LEN, f, 2 * XSD_VSW_MAC_LEN);
	*frame = f + VSW_TAG_LEN;
	return (int)(len - VSW_TAG_LEN);
}

/* ---------------------------------------------------------- checksums */

#define VSW_ETH_P_IP4 0x0800
#define VSW_ETH_P_IP6 0x86dd
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

struct l4_info {
	size_t l3_off, l4_off, l4_len;
	uint8_t proto;
	bool v6;
	uint16_t csum_off; /* from l4_off: 16 TCP, 6 UDP */
};

/* One's complement sum of @len bytes, added to @sum (not folded). */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		sum += xs_get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint16_t)(p[0] << 8);
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static int l4_locate(const uint8_t *f, size_t len, struct l4_info *li)
{
	size_t off = VSW_ETH_HLEN;
	uint16_t et;

	if (len < VSW_ETH_HLEN)
		return -EMSGSIZE;
	et = xs_get16(f + 12);
	if (et == VSW_ETH_P_8021Q) {
		if (len < VSW_ETH_HLEN + VSW_TAG_LEN)
			return -EMSGSIZE;
		et = xs_get16(f + 16);
		off += VSW_TAG_LEN;
	}
	li->l3_off = off;
	if (et == VSW_ETH_P_IP4) {
		size_t ihl, tot;

		if (len < off + 20)
			return -EMSGSIZE;
		if (f[off] >> 4 != 4)
			return -EPROTONOSUPPORT;
		ihl = (size_t)(f[off] & 0x0f) * 4;
		tot = xs_get16(f + off + 2);
		if (ihl < 20 || tot < ihl)
			return -EPROTONOSUPPORT;
		if (len < off + tot)
			return -EMSGSIZE;
		if (xs_get16(f + off + 6) & 0x3fff) /* MF or a fragment offset */
			return -EPROTONOSUPPORT;
		li->proto = f[off + 9];
		li->v6 = false;
		li->l4_off = off + ihl;
		li->l4_len = tot - ihl;
	} else if (et == VSW_ETH_P_IP6) {
		size_t p, end;
		uint8_t nh;

		if (len < off + 40)
			return -EMSGSIZE;
		if (f[off] >> 4 != 6)
			return -EPROTONOSUPPORT;
		end = off + 40 + xs_get16(f + off + 4);
		if (len < end)
			return -EMSGSIZE;
		nh = f[off + 6];
		p = off + 40;
		/* hop-by-hop, routing, destination options: skip */
		while (nh == 0 || nh == 43 || nh == 60) {
			if (end - p < 8)
				return -EMSGSIZE;
			nh = f[p];
			p += ((size_t)f[p + 1] + 1) * 8;
			if (p > end)
				return -EMSGSIZE;
		}
		li->proto = nh;
		li->v6 = true;
		li->l4_off = p;
		li->l4_len = end - p;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (li->proto == IPPROTO_TCP_) {
		if (li->l4_len < 20)
			return -EMSGSIZE;
		li->csum_off = 16;
	} else if (li->proto == IPPROTO_UDP_) {
		if (li->l4_len < 8)
			return -EMSGSIZE;
		li->csum_off = 6;
	} else {
		return -EPROTONOSUPPORT;
	}
	return 0;
}

/* Sum of the pseudo-header and the L4 segment (with whatever its checksum
 * field holds). */
static uint64_t l4_sum(const uint8_t *f, const struct l4_info *li)
{
	uint64_t sum = 0;

	if (li->v6) {
		sum = csum_add(sum, f + li->l3_off + 8, 32);
		sum += (uint32_t)li->l4_len >> 16;
		sum += li->l4_len & 0xffff;
	} else {
		sum = csum_add(sum, f + li->l3_off + 12, 8);
		sum += li->l4_len;
	}
	sum += li->proto;
	return csum_add(sum, f + li->l4_off, li->l4_len);
}

int xsd_vsw_csum_complete(uint8_t *frame, size_t len, struct virtio_net_hdr *vh)
{
	struct l4_info li;
	uint8_t *field;
	uint16_t c;
	int rc;

	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return 0;
	rc = l4_locate(frame, len, &li);
	if (rc)
		return rc;
	if (vh->csum_start != li.l4_off || vh->csum_offset != li.csum_off)
		return -EINVAL;
	field = frame + li.l4_off + li.csum_off;
	xs_put16(field, 0);
	c = (uint16_t)~csum_fold(l4_sum(frame, &li));
	if (li.proto == IPPROTO_UDP_ && c == 0)
		c = 0xffff; /* 0 means "no checksum" for UDP */
	xs_put16(field, c);
	vh->flags &= (uint8_t)~VIRTIO_NET_HDR_F_NEEDS_CSUM;
	return 0;
}

int xsd_vsw_csum_verify(const uint8_t *frame, size_t len)
{
	struct l4_info li;
	int rc;

	rc = l4_locate(frame, len, &li);
	if (rc)
		return rc;
	if (li.proto == IPPROTO_UDP_ && xs_get16(frame + li.l4_off + 6) == 0)
		return li.v6 ? 0 : 1;
	return csum_fold(l4_sum(frame, &li)) == 0xffff;
}

/* ------------------------------------------------- software segmentation */

static void ip4_hdr_csum(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

	xs_put16(ip + 10, 0);
	xs_put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, ihl)));
}

int xsd_vsw_gso_segment(const uint8_t *frame, size_t len, const struct virtio_net_hdr *vh,
			uint8_t *out, size_t cap, struct iovec *segs, size_t max_segs)
{
	uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	size_t doff, hdr, payload, mss = vh->gso_size, nseg, i, used = 0;
	uint32_t seq;
	uint16_t id = 0;
	struct l4_info li;
	uint8_t flags;
	int rc;

	if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
		return -EPROTONOSUPPORT;
	if (mss == 0)
		return -EINVAL;
	rc = l4_locate(frame, len, &li);
	if (rc)
		return rc;
	if (li.proto != IPPROTO_TCP_ || li.v6 != (gso == VIRTIO_NET_HDR_GSO_TCPV6))
		return -EPROTONOSUPPORT;
	doff = (size_t)(frame[li.l4_off + 12] >> 4) * 4;
	if (doff < 20 || doff > li.l4_len)
		return -EINVAL;
	hdr = li.l4_off + doff;
	payload = li.l4_len - doff;
	nseg = payload ? (payload + mss - 1) / mss : 1;
	if (nseg > max_segs)
		return -ENOSPC;
	if (cap < nseg * hdr + payload)
		return -ENOSPC;
	seq = xs_get32(frame + li.l4_off + 4);
	flags = frame[li.l4_off + 13];
	if (!li.v6)
		id = xs_get16(frame + li.l3_off + 4);

	for (i = 0; i < nseg; i++) {
		size_t chunk = XS_MIN(mss, payload - i * mss);
		uint8_t *s = out + used, *ip = s + li.l3_off, *tcp = s + li.l4_off;
		uint8_t f = flags;
		struct l4_info sl;

		if (!payload)
			chunk = 0;
		memcpy(s, frame, hdr);
		memcpy(s + hdr, frame + hdr + i * mss, chunk);
		if (li.v6) {
			xs_put16(ip + 4, (uint16_t)(hdr - li.l3_off - 40 + chunk));
		} else {
			xs_put16(ip + 2, (uint16_t)(hdr - li.l3_off + chunk));
			xs_put16(ip + 4, (uint16_t)(id + i));
			ip4_hdr_csum(ip);
		}
		xs_put32(tcp + 4, seq + (uint32_t)(i * mss));
		if (i + 1 < nseg)
			f &= (uint8_t)~(0x01 | 0x08); /* FIN and PSH only on the last */
		if (i > 0)
			f &= (uint8_t)~0x80;           /* CWR only on the first */
		tcp[13] = f;
		rc = l4_locate(s, hdr + chunk, &sl);
		if (rc)
			return rc; /* cannot happen: the headers were valid above */
		xs_put16(tcp + 16, 0);
		xs_put16(tcp + 16, (uint16_t)~csum_fold(l4_sum(s, &sl)));
		segs[i].iov_base = s;
		segs[i].iov_len = hdr + chunk;
		used += hdr + chunk;
	}
	return (int)nseg;
}
