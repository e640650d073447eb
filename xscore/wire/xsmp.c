/* SPDX-License-Identifier: MIT */
/*
 * xsmp.c - XSMP message header and session message body (big-endian).
 *
 * Header (32 bytes):
 *   0 type  1 code  2 length (16, whole message incl. header: 32..1024)
 *   4 seq (32)  8 src.aux (32)  12 src.primary (64)
 *  20 dst.aux (32)  24 dst.primary (64)
 *
 * Session body (224 bytes, follows the header):
 *   0 type (session code)  1 code  2 length (16, = 224)  4 resource_flags
 *   8 version  12 chassis_version  16 boot_flags  20 fw_ver (64)  28 hw_ver
 *  32 vendor_part_id  36 xsmp_version  40 chassis_name[32]  72 session_name[32]
 * 104 reason (32, our extension)  108 reason_text[64] (our extension)
 * 172 reserved, zero, up to 224
 */
#include "wire_int.h"

#define SS_LENGTH 2
#define SS_RESOURCE_FLAGS 4
#define SS_VERSION 8
#define SS_CHASSIS_VERSION 12
#define SS_BOOT_FLAGS 16
#define SS_FW_VER 20
#define SS_HW_VER 28
#define SS_VENDOR_PART_ID 32
#define SS_XSMP_VERSION 36
#define SS_CHASSIS_NAME 40
#define SS_NAME_LEN 32
#define SS_SESSION_NAME 72
#define SS_REASON 104
#define SS_REASON_TEXT 108
#define SS_REASON_TEXT_LEN 64
#define SS_RESERVED 172

int xs_xsmp_hdr_decode(const uint8_t *buf, size_t len, struct xs_xsmp_hdr *h)
{
	uint16_t length;
	int rc;

	rc = xs_wire_need(XS_WIRE_XSMP_HDR, len, XS_XSMP_HDR_LEN);
	if (rc)
		return rc;
	length = xs_get16(buf + 2);
	if (length < XS_XSMP_HDR_LEN)
		return xs_wire_reject(XS_WIRE_XSMP_HDR, -EBADMSG,
				      "message length %u is shorter than the %d-byte header",
				      length, XS_XSMP_HDR_LEN);
	if (length > XS_XSMP_MAX_MSG)
		return xs_wire_reject(XS_WIRE_XSMP_HDR, -EBADMSG,
				      "message length %u exceeds the maximum of %d", length,
				      XS_XSMP_MAX_MSG);
	if (length > len)
		return xs_wire_reject(XS_WIRE_XSMP_HDR, -EBADMSG,
				      "message length %u exceeds the %zu bytes received", length,
				      len);
	h->type = xs_get8(buf + 0);
	h->code = xs_get8(buf + 1);
	h->length = length;
	h->seq = xs_get32(buf + 4);
	h->src.aux = xs_get32(buf + 8);
	h->src.primary = xs_get64(buf + 12);
	h->dst.aux = xs_get32(buf + 20);
	h->dst.primary = xs_get64(buf + 24);
	return 0;
}

int xs_xsmp_hdr_encode(const struct xs_xsmp_hdr *h, uint8_t *buf, size_t cap)
{
	int rc;

	rc = xs_wire_cap("xsmp_hdr", cap, XS_XSMP_HDR_LEN);
	if (rc)
		return rc;
	if (h->length < XS_XSMP_HDR_LEN || h->length > XS_XSMP_MAX_MSG) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_hdr encode: length %u outside %d..%d", h->length,
			 XS_XSMP_HDR_LEN, XS_XSMP_MAX_MSG);
		return -EINVAL;
	}
	xs_put8(buf + 0, h->type);
	xs_put8(buf + 1, h->code);
	xs_put16(buf + 2, h->length);
	xs_put32(buf + 4, h->seq);
	xs_put32(buf + 8, h->src.aux);
	xs_put64(buf + 12, h->src.primary);
	xs_put32(buf + 20, h->dst.aux);
	xs_put64(buf + 24, h->dst.primary);
	return XS_XSMP_HDR_LEN;
}

int xs_xsmp_session_decode(const uint8_t *buf, size_t len, struct xs_xsmp_session *s)
{
	uint16_t length;
	int rc;

	rc = xs_wire_need(XS_WIRE_XSMP_SESSION, len, XS_XSMP_SESSION_LEN);
	if (rc)
		return rc;
	length = xs_get16(buf + SS_LENGTH);
	if (length != XS_XSMP_SESSION_LEN)
		return xs_wire_reject(XS_WIRE_XSMP_SESSION, -EBADMSG,
				      "session body length %u, expected %d", length,
				      XS_XSMP_SESSION_LEN);
	s->type = xs_get8(buf + 0);
	s->code = xs_get8(buf + 1);
	s->length = length;
	s->resource_flags = xs_get32(buf + SS_RESOURCE_FLAGS);
	s->version = xs_get32(buf + SS_VERSION);
	s->chassis_version = xs_get32(buf + SS_CHASSIS_VERSION);
	s->boot_flags = xs_get32(buf + SS_BOOT_FLAGS);
	s->fw_ver = xs_get64(buf + SS_FW_VER);
	s->hw_ver = xs_get32(buf + SS_HW_VER);
	s->vendor_part_id = xs_get32(buf + SS_VENDOR_PART_ID);
	s->xsmp_version = xs_get32(buf + SS_XSMP_VERSION);
	xs_wire_get_str(s->chassis_name, buf + SS_CHASSIS_NAME, SS_NAME_LEN);
	xs_wire_get_str(s->session_name, buf + SS_SESSION_NAME, SS_NAME_LEN);
	s->reason = xs_get32(buf + SS_REASON);
	xs_wire_get_str(s->reason_text, buf + SS_REASON_TEXT, SS_REASON_TEXT_LEN);
	return 0;
}

int xs_xsmp_session_encode(const struct xs_xsmp_session *s, uint8_t *buf, size_t cap)
{
	int rc;

	rc = xs_wire_cap("xsmp_session", cap, XS_XSMP_SESSION_LEN);
	if (rc)
		return rc;
	/* length is fixed by the format: 0 asks the encoder to fill it in. */
	if (s->length != 0 && s->length != XS_XSMP_SESSION_LEN) {
		XS_DEBUG(XS_WIRE_LOG, "xsmp_session encode: length %u, must be %d (or 0)",
			 s->length, XS_XSMP_SESSION_LEN);
		return -EINVAL;
	}
	if (xs_wire_str_fits("xsmp_session", "chassis_name", s->chassis_name,
			     sizeof(s->chassis_name), SS_NAME_LEN) ||
	    xs_wire_str_fits("xsmp_session", "session_name", s->session_name,
			     sizeof(s->session_name), SS_NAME_LEN) ||
	    xs_wire_str_fits("xsmp_session", "reason_text", s->reason_text,
			     sizeof(s->reason_text), SS_REASON_TEXT_LEN))
		return -EINVAL;
	xs_put8(buf + 0, s->type);
	xs_put8(buf + 1, s->code);
	xs_put16(buf + SS_LENGTH, XS_XSMP_SESSION_LEN);
	xs_put32(buf + SS_RESOURCE_FLAGS, s->resource_flags);
	xs_put32(buf + SS_VERSION, s->version);
	xs_put32(buf + SS_CHASSIS_VERSION, s->chassis_version);
	xs_put32(buf + SS_BOOT_FLAGS, s->boot_flags);
	xs_put64(buf + SS_FW_VER, s->fw_ver);
	xs_put32(buf + SS_HW_VER, s->hw_ver);
	xs_put32(buf + SS_VENDOR_PART_ID, s->vendor_part_id);
	xs_put32(buf + SS_XSMP_VERSION, s->xsmp_version);
	xs_wire_put_str(buf + SS_CHASSIS_NAME, s->chassis_name, sizeof(s->chassis_name),
			SS_NAME_LEN);
	xs_wire_put_str(buf + SS_SESSION_NAME, s->session_name, sizeof(s->session_name),
			SS_NAME_LEN);
	xs_put32(buf + SS_REASON, s->reason);
	xs_wire_put_str(buf + SS_REASON_TEXT, s->reason_text, sizeof(s->reason_text),
			SS_REASON_TEXT_LEN);
	memset(buf + SS_RESERVED, 0, XS_XSMP_SESSION_LEN - SS_RESERVED);
	return XS_XSMP_SESSION_LEN;
}
