/* SPDX-License-Identifier: MIT */
/*
 * mad.c - MAD common header (IBA 13.4.3), the first 24 bytes of every MAD:
 *
 *   0 BaseVersion  1 MgmtClass  2 ClassVersion  3 R|Method
 *   4 Status (16)  6 ClassSpecific (16)  8 TransactionID (64)
 *  16 AttributeID (16)  18 reserved (16)  20 AttributeModifier (32)
 */
#include "wire_int.h"

void xs_wire_mad_hdr_read(const uint8_t *buf, struct xs_mad_hdr *h)
{
	h->base_version = xs_get8(buf + 0);
	h->mgmt_class = xs_get8(buf + 1);
	h->class_version = xs_get8(buf + 2);
	h->method = xs_get8(buf + 3);
	h->status = xs_get16(buf + 4);
	h->class_specific = xs_get16(buf + 6);
	h->tid = xs_get64(buf + 8);
	h->attr_id = xs_get16(buf + 16);
	h->attr_mod = xs_get32(buf + 20);
}

void xs_wire_mad_hdr_write(const struct xs_mad_hdr *h, uint8_t *buf)
{
	xs_put8(buf + 0, h->base_version);
	xs_put8(buf + 1, h->mgmt_class);
	xs_put8(buf + 2, h->class_version);
	xs_put8(buf + 3, h->method);
	xs_put16(buf + 4, h->status);
	xs_put16(buf + 6, h->class_specific);
	xs_put64(buf + 8, h->tid);
	xs_put16(buf + 16, h->attr_id);
	xs_put16(buf + 18, 0);
	xs_put32(buf + 20, h->attr_mod);
}

int xs_mad_hdr_decode(const uint8_t *buf, size_t len, struct xs_mad_hdr *h)
{
	struct xs_mad_hdr tmp;
	int rc;

	rc = xs_wire_need(XS_WIRE_MAD_HDR, len, XS_MAD_HDR_LEN);
	if (rc)
		return rc;
	xs_wire_mad_hdr_read(buf, &tmp);
	if (tmp.base_version != XS_MAD_BASE_VERSION)
		return xs_wire_reject(XS_WIRE_MAD_HDR, -EBADMSG,
				      "base version %u, expected %u", tmp.base_version,
				      XS_MAD_BASE_VERSION);
	*h = tmp;
	return 0;
}

int xs_mad_hdr_encode(const struct xs_mad_hdr *h, uint8_t *buf, size_t cap)
{
	int rc = xs_wire_cap("mad_hdr", cap, XS_MAD_HDR_LEN);

	if (rc)
		return rc;
	xs_wire_mad_hdr_write(h, buf);
	return XS_MAD_HDR_LEN;
}
