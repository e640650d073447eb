/* SPDX-License-Identifier: MIT */
/* fuzz_pr.c - libFuzzer target: xs_pr_decode round trip. */
#include "fuzz_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_path_record a, b;
	uint8_t buf[XS_PR_LEN];

	if (xs_pr_decode(data, size, &a) != 0)
		return 0;
	FUZZ_CHECK(size >= XS_PR_LEN);
	/* whatever was decoded fits its bit field, so the encoder takes it */
	FUZZ_CHECK(xs_pr_encode(&a, buf, sizeof(buf)) == XS_PR_LEN);
	/* the reserved bits (44: 0x70, 58..63) are the only ones that may differ */
	FUZZ_CHECK(memcmp(buf, data, 44) == 0);
	FUZZ_CHECK(buf[44] == (data[44] & 0x8f));
	FUZZ_CHECK(memcmp(buf + 45, data + 45, 13) == 0);
	FUZZ_CHECK(xs_pr_decode(buf, sizeof(buf), &b) == 0);
	FUZZ_CHECK(pr_eq(&a, &b));
	return 0;
}
