/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the XSMP ULP decoders; built three times
 * (FUZZ_VNIC, FUZZ_VHBA, FUZZ_RESLIST). Whatever decodes must encode again
 * and decode to the same struct (the codecs are a bijection on valid input),
 * so the fuzzer also checks the encoders.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xscore/xsmp_ulp.h>

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size);

/*
 * Inputs of even size get the body length field forced to the expected 512,
 * so the fuzzer spends its time past that gate; odd sizes stay untouched
 * and exercise the gate itself.
 */
static size_t prepare(uint8_t *buf, const uint8_t *data, size_t size)
{
	if (size > XS_XSMP_MAX_MSG)
		size = XS_XSMP_MAX_MSG;
	memcpy(buf, data, size);
#if !defined(FUZZ_RESLIST)
	if (size >= 4 && size % 2 == 0) {
		buf[2] = 0x02;
		buf[3] = 0x00;
	}
#endif
	return size;
}

int LLVMFuzzerTestOneInput(const uint8_t *raw, size_t raw_size)
{
	uint8_t out[XS_XSMP_MAX_MSG];
	uint8_t data[XS_XSMP_MAX_MSG];
	struct xs_ulp_peek p;
	size_t size = prepare(data, raw, raw_size);

	(void)xs_ulp_peek(data, size, &p);
#if defined(FUZZ_VNIC)
	struct xs_vnic_msg m, back;

	if (xs_vnic_msg_decode(data, size, &m) == 0) {
		if (xs_vnic_msg_encode(&m, out, sizeof(out)) != XS_VNIC_MSG_LEN)
			abort();
		if (xs_vnic_msg_decode(out, XS_VNIC_MSG_LEN, &back) != 0)
			abort();
		back.ext_version = m.ext_version; /* the encoder always writes v1 */
		if (memcmp(&m, &back, sizeof(m)) != 0)
			abort();
	}
#elif defined(FUZZ_VHBA)
	struct xs_vhba_msg m, back;

	if (xs_vhba_msg_decode(data, size, &m) == 0) {
		if (xs_vhba_msg_encode(&m, out, sizeof(out)) != XS_VHBA_MSG_LEN)
			abort();
		if (xs_vhba_msg_decode(out, XS_VHBA_MSG_LEN, &back) != 0)
			abort();
		back.ext_version = m.ext_version;
		if (memcmp(&m, &back, sizeof(m)) != 0)
			abort();
	}
#elif defined(FUZZ_RESLIST)
	struct xs_reslist r, back;
	int n;

	if (xs_reslist_decode(data, size, &r) == 0) {
		n = xs_reslist_encode(&r, out, sizeof(out));
		if (n < XS_RESLIST_HDR_LEN)
			abort();
		if (xs_reslist_decode(out, (size_t)n, &back) != 0 ||
		    memcmp(&r, &back, sizeof(r)) != 0)
			abort();
	}
#else
#error "define FUZZ_VNIC, FUZZ_VHBA or FUZZ_RESLIST"
#endif
	return 0;
}
