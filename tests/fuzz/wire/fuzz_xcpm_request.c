/* SPDX-License-Identifier: MIT */
/* fuzz_xcpm_request.c - libFuzzer target: xs_xcpm_request_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_xcpm_request a, b;
	uint8_t buf[XS_XCPM_DATA_LEN];

	if (xs_xcpm_request_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_XCPM_REQUEST_LEN);
	FUZZ_CHECK_STR(a.hostname);
	FUZZ_CHECK_STR(a.os_version);
	FUZZ_CHECK_STR(a.os_arch);
	FUZZ_CHECK_STR(a.build_version);
	FUZZ_CHECK(xs_xcpm_request_encode(&a, buf, sizeof(buf)) == XS_XCPM_REQUEST_LEN);
	FUZZ_CHECK(xs_xcpm_request_decode(buf, XS_XCPM_REQUEST_LEN, &b) == 0);
	FUZZ_CHECK(xcpm_request_eq(&a, &b));
	return 0;
}
