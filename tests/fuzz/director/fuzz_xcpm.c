/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the XDS's handling of incoming MADs (director/xds/xds.c
 * included with xs_mad_send faked): XCPM XCM_REQUESTs and SA responses.
 * Checks: a request that decodes gets exactly one reply, a GetResp whose
 * XCM list decodes and names our XCM; anything else gets none; the SA state
 * machine stays in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define xs_mad_send h_mad_send
#include "xds/xds.c"
#undef xs_mad_send

static int replies;

int h_mad_send(struct xs_mad_agent *a, const struct xs_mad_addr *dst, const void *mad,
	       size_t len)
{
	struct xs_mad_hdr h;
	struct xs_xcpm_reply r;
	const uint8_t *p = mad;

	if (len != XS_MAD_LEN || xs_mad_hdr_decode(p, len, &h) < 0 ||
	    h.method != (XS_MAD_METHOD_GET | XS_MAD_METHOD_RESP) ||
	    xs_xcpm_reply_decode(p + XS_XCPM_DATA_OFF, len - XS_XCPM_DATA_OFF, &r) < 0 ||
	    r.count != 1 || r.xcms[0].lid != 2 || dst->lid != 77)
		abort();
	replies++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xs_loop *loop;
	struct xsd_xds xds = { 0 };
	struct xs_mad_addr src = { .lid = 77, .qpn = 1 };
	struct xs_mad_hdr h;
	struct xs_xcpm_request rq;
	uint8_t mad[XS_MAD_LEN];
	bool valid;

	if (!loop) {
		xs_log_set_level(XS_LOG_ERR);
		loop = xs_loop_new();
	}
	if (size < 1 || size - 1 > sizeof(mad))
		return 0;
	memcpy(mad, data + 1, size - 1);
	xds.loop = loop;
	xds.port.lid = 2;
	xds.port.port_guid = 0x1397;
	xds.lease_s = 60;
	xds.timer = xs_timer_new(loop, xds_timer, &xds);
	xds.state = data[0] % 5;
	xds.pending_tid = data[0];
	replies = 0;
	valid = xs_mad_hdr_decode(mad, size - 1, &h) == 0 && h.mgmt_class == XS_XCPM_CLASS &&
		h.class_version == XS_XCPM_CLASS_VERSION && h.method == XS_MAD_METHOD_GET &&
		h.attr_id == XS_XCPM_ATTR_XCM_REQUEST && size - 1 >= XS_XCPM_DATA_OFF &&
		xs_xcpm_request_decode(mad + XS_XCPM_DATA_OFF, size - 1 - XS_XCPM_DATA_OFF, &rq) == 0;
	on_xcpm_mad(&xds, &src, mad, size - 1);
	if (replies != (valid ? 1 : 0))
		abort();
	on_sa_mad(&xds, mad, size - 1);
	if (xds.state > SA_DONE)
		abort();
	xs_timer_free(xds.timer);
	return 0;
}
