/* SPDX-License-Identifier: MIT */
/* fuzz_sr.c - libFuzzer target: xs_sr_decode round trip and xs_sr_match. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_service_record a, b;
	uint8_t buf[XS_SR_LEN];
	uint64_t mask;

	if (xs_sr_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_SR_LEN);
	FUZZ_CHECK_STR(a.name);
	FUZZ_CHECK(xs_sr_encode(&a, buf, sizeof(buf)) == XS_SR_LEN);
	FUZZ_CHECK(xs_sr_decode(buf, sizeof(buf), &b) == 0);
	FUZZ_CHECK(sr_eq(&a, &b));
	/* a record matches itself under any mask; bytes after the record pick one */
	mask = 0;
	if (size >= XS_SR_LEN + 8)
		memcpy(&mask, data + XS_SR_LEN, sizeof(mask));
	FUZZ_CHECK(xs_sr_match(&a, &b, mask));
	FUZZ_CHECK(xs_sr_match(&a, &b, ~UINT64_C(0)));
	return 0;
}
