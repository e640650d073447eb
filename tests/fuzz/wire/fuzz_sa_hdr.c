/* SPDX-License-Identifier: MIT */
/* fuzz_sa_hdr.c - libFuzzer target: xs_sa_hdr_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_sa_hdr a, b;
	uint8_t buf[XS_SA_HDR_LEN];

	if (xs_sa_hdr_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_SA_HDR_LEN && a.mad.mgmt_class == XS_SA_CLASS);
	FUZZ_CHECK(xs_sa_hdr_encode(&a, buf, sizeof(buf)) == XS_SA_HDR_LEN);
	/* reserved: 18..19 (MAD header), 46..47 (SA header) */
	FUZZ_CHECK(memcmp(buf, data, 18) == 0 && memcmp(buf + 20, data + 20, 26) == 0 &&
		   memcmp(buf + 48, data + 48, 8) == 0);
	FUZZ_CHECK(xs_sa_hdr_decode(buf, sizeof(buf), &b) == 0);
	FUZZ_CHECK(sa_hdr_eq(&a, &b));
	return 0;
}
