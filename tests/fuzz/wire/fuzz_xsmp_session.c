/* SPDX-License-Identifier: MIT */
/* fuzz_xsmp_session.c - libFuzzer target: xs_xsmp_session_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_xsmp_session a, b;
	uint8_t buf[XS_XSMP_SESSION_LEN];

	if (xs_xsmp_session_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_XSMP_SESSION_LEN && a.length == XS_XSMP_SESSION_LEN);
	FUZZ_CHECK_STR(a.chassis_name);
	FUZZ_CHECK_STR(a.session_name);
	FUZZ_CHECK_STR(a.reason_text);
	FUZZ_CHECK(xs_xsmp_session_encode(&a, buf, sizeof(buf)) == XS_XSMP_SESSION_LEN);
	FUZZ_CHECK(xs_xsmp_session_decode(buf, sizeof(buf), &b) == 0);
	FUZZ_CHECK(xsmp_session_eq(&a, &b));
	return 0;
}
