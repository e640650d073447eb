/* SPDX-License-Identifier: MIT */
/* fuzz_xcpm_reply.c - libFuzzer target: xs_xcpm_reply_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_xcpm_reply a, b;
	uint8_t buf[XS_XCPM_DATA_LEN];
	unsigned int i;

	if (xs_xcpm_reply_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_XCPM_REPLY_LEN);
	FUZZ_CHECK(a.count <= XS_XCPM_MAX_XCMS);
	FUZZ_CHECK(a.count == 0 || a.xcm_version == XS_XCPM_XCM_VERSION);
	for (i = a.count; i < XS_XCPM_MAX_XCMS; i++)
		FUZZ_CHECK(a.xcms[i].port_guid == 0 && a.xcms[i].lid == 0);
	FUZZ_CHECK(xs_xcpm_reply_encode(&a, buf, sizeof(buf)) == XS_XCPM_REPLY_LEN);
	FUZZ_CHECK(xs_xcpm_reply_decode(buf, XS_XCPM_REPLY_LEN, &b) == 0);
	FUZZ_CHECK(xcpm_reply_eq(&a, &b));
	return 0;
}
