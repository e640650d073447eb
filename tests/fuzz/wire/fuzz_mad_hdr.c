/* SPDX-License-Identifier: MIT */
/* fuzz_mad_hdr.c - libFuzzer target: xs_mad_hdr_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_mad_hdr a, b;
	uint8_t buf[XS_MAD_HDR_LEN];

	if (xs_mad_hdr_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_MAD_HDR_LEN && a.base_version == XS_MAD_BASE_VERSION);
	FUZZ_CHECK(xs_mad_hdr_encode(&a, buf, sizeof(buf)) == XS_MAD_HDR_LEN);
	/* every byte but the reserved 18..19 comes back as it came in */
	FUZZ_CHECK(memcmp(buf, data, 18) == 0 && memcmp(buf + 20, data + 20, 4) == 0);
	FUZZ_CHECK(xs_mad_hdr_decode(buf, sizeof(buf), &b) == 0);
	FUZZ_CHECK(mad_hdr_eq(&a, &b));
	return 0;
}
