/* SPDX-License-Identifier: MIT */
/* fuzz_xsmp_hdr.c - libFuzzer target: xs_xsmp_hdr_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_xsmp_hdr a, b;
	uint8_t msg[XS_XSMP_MAX_MSG];

	if (xs_xsmp_hdr_decode(data, size, &a) != 0)
		return 0;
	/* the length checks held */
	FUZZ_CHECK(size >= XS_XSMP_HDR_LEN);
	FUZZ_CHECK(a.length >= XS_XSMP_HDR_LEN && a.length <= XS_XSMP_MAX_MSG);
	FUZZ_CHECK(a.length <= size);
	memset(msg, 0, sizeof(msg));
	FUZZ_CHECK(xs_xsmp_hdr_encode(&a, msg, sizeof(msg)) == XS_XSMP_HDR_LEN);
	FUZZ_CHECK(memcmp(msg, data, XS_XSMP_HDR_LEN) == 0); /* no reserved bits */
	/* decode the re-encoded message with exactly the length it claims */
	FUZZ_CHECK(xs_xsmp_hdr_decode(msg, a.length, &b) == 0);
	FUZZ_CHECK(xsmp_hdr_eq(&a, &b));
	return 0;
}
