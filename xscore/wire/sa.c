/* SPDX-License-Identifier: MIT */
/*
 * sa.c - Subnet Administration MAD header: the MAD common header, the RMPP
 * header (IBA 13.6.2) and the SA header (IBA 15.2.1.1), 56 bytes:
 *
 *   0 MAD common header (24)
 *  24 RMPPVersion  25 RMPPType  26 RRespTime:5|RMPPFlags:3  27 RMPPStatus
 *  28 Data1 (32: SegmentNumber)  32 Data2 (32: PayloadLength/NewWindowLast)
 *  36 SM_Key (64)  44 AttributeOffset (16, in 8-byte words)  46 reserved (16)
 *  48 ComponentMask (64)  56 SA data (200 bytes, not handled here)
 */
#include "wire_int.h"

int xs_sa_hdr_decode(const uint8_t *buf, size_t len, struct xs_sa_hdr *h)
{
	struct xs_sa_hdr tmp;
	int rc;

	rc = xs_wire_need(XS_WIRE_SA_HDR, len, XS_SA_HDR_LEN);
	if (rc)
		return rc;
	xs_wire_mad_hdr_read(buf, &tmp.mad);
	if (tmp.mad.base_version != XS_MAD_BASE_VERSION)
		return xs_wire_reject(XS_WIRE_SA_HDR, -EBADMSG,
				      "base version %u, expected %u", tmp.mad.base_version,
				      XS_MAD_BASE_VERSION);
	if (tmp.mad.mgmt_class != XS_SA_CLASS)
		return xs_wire_reject(XS_WIRE_SA_HDR, -EBADMSG,
				      "management class 0x%02x, expected 0x%02x (SA)",
				      tmp.mad.mgmt_class, XS_SA_CLASS);
	tmp.rmpp_version = xs_get8(buf + 24);
	tmp.rmpp_type = xs_get8(buf + 25);
	tmp.rmpp_rtime_flags = xs_get8(buf + 26);
	tmp.rmpp_status = xs_get8(buf + 27);
	tmp.rmpp_data1 = xs_get32(buf + 28);
	tmp.rmpp_data2 = xs_get32(buf + 32);
	tmp.sm_key = xs_get64(buf + 36);
	tmp.attr_offset = xs_get16(buf + 44);
	tmp.comp_mask = xs_get64(buf + 48);
	*h = tmp;
	return 0;
}

int xs_sa_hdr_encode(const struct xs_sa_hdr *h, uint8_t *buf, size_t cap)
{
	int rc = xs_wire_cap("sa_hdr", cap, XS_SA_HDR_LEN);

	if (rc)
		return rc;
	xs_wire_mad_hdr_write(&h->mad, buf);
	xs_put8(buf + 24, h->rmpp_version);
	xs_put8(buf + 25, h->rmpp_type);
	xs_put8(buf + 26, h->rmpp_rtime_flags);
	xs_put8(buf + 27, h->rmpp_status);
	xs_put32(buf + 28, h->rmpp_data1);
	xs_put32(buf + 32, h->rmpp_data2);
	xs_put64(buf + 36, h->sm_key);
	xs_put16(buf + 44, h->attr_offset);
	xs_put16(buf + 46, 0);
	xs_put64(buf + 48, h->comp_mask);
	return XS_SA_HDR_LEN;
}
