/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vsw_frame.c - the frame helpers on arbitrary bytes: a virtio-net
 * header (10 bytes) then a frame. Checks:
 *   - checksum completion either fails cleanly or leaves a frame whose
 *     TCP/UDP checksum verifies, without touching bytes outside the
 *     checksum field;
 *   - software segmentation either fails cleanly or gives segments that
 *     verify, carry the input's MAC addresses, one MSS of payload each
 *     (the last one at most one) and, in order, the input's payload;
 *   - 802.1Q insert then strip gives the original frame back.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t f[4 + 70000], g[4 + 70000], segbuf[1 << 20];
	struct virtio_net_hdr vh, vh2;
	struct iovec segs[256];
	size_t len;
	int rc;

	if (size < sizeof(vh) || size - sizeof(vh) > 70000)
		return 0;
	memcpy(&vh, data, sizeof(vh));
	len = size - sizeof(vh);
	memcpy(f + 4, data + sizeof(vh), len);

	/* checksum completion */
	memcpy(g, f, 4 + len);
	vh2 = vh;
	rc = xsd_vsw_csum_complete(g + 4, len, &vh2);
	CHECK(rc == 0 || rc == -EINVAL || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT);
	if (rc == 0 && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		size_t at = (size_t)vh.csum_start + vh.csum_offset;

		CHECK(!(vh2.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM));
		CHECK(xsd_vsw_csum_verify(g + 4, len) == 1);
		CHECK(at + 2 <= len);
		CHECK(memcmp(g + 4, f + 4, at) == 0);
		CHECK(memcmp(g + 4 + at + 2, f + 4 + at + 2, len - at - 2) == 0);
	} else if (rc == 0) {
		CHECK(memcmp(g + 4, f + 4, len) == 0);
	}

	/* segmentation */
	rc = xsd_vsw_gso_segment(f + 4, len, &vh, segbuf, sizeof(segbuf), segs, 256);
	CHECK(rc != 0);
	if (rc > 0) {
		for (int i = 0; i < rc; i++) {
			CHECK(segs[i].iov_len >= 14 && segs[i].iov_len <= len);
			CHECK(memcmp(segs[i].iov_base, f + 4, 12) == 0);
			CHECK(xsd_vsw_csum_verify(segs[i].iov_base, segs[i].iov_len) == 1);
		}
		/* every segment but the last carries exactly one MSS; their
		 * payloads, in order, are the input's payload */
		if (rc > 1) {
			size_t hdr = segs[0].iov_len - vh.gso_size, off = hdr;

			CHECK(segs[0].iov_len > vh.gso_size);
			for (int i = 0; i < rc; i++) {
				size_t pl = segs[i].iov_len - hdr;

				CHECK(segs[i].iov_len > hdr);
				CHECK(i == rc - 1 ? pl <= vh.gso_size : pl == vh.gso_size);
				CHECK(memcmp((uint8_t *)segs[i].iov_base + hdr, f + 4 + off, pl) == 0);
				off += pl;
			}
			CHECK(off <= len);
		}
	} else {
		CHECK(rc == -EINVAL || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT || rc == -ENOSPC);
	}

	/* tag insert + strip */
	if (len >= 14 && len + 4 <= XSD_VSW_MAX_FRAME) {
		uint8_t *p = g + 4;
		uint16_t tci = 0;
		int n;

		memcpy(g, f, 4 + len);
		n = xsd_vsw_vlan_insert(&p, len, 4, vh.csum_start);
		CHECK(n == (int)len + 4 && p == g);
		n = xsd_vsw_vlan_strip(&p, (size_t)n, &tci);
		CHECK(n == (int)len && p == g + 4 && tci == vh.csum_start);
		CHECK(memcmp(g + 4, f + 4, len) == 0);
	}
	return 0;
}
