/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: arbitrary XSMP traffic into a host session that is up.
 * The input is cut into messages (2-byte big-endian length, then that many
 * bytes); each goes through xs_xsmp_on_message as if the director had sent
 * it. Chunks with an odd length byte get a consistent header (type 1..3,
 * length = chunk size, ULP body length 512) so that most of the time is
 * spent past the header checks. Whatever arrives, the host must not crash or leak, and whatever it
 * sends back must be a well-formed XSMP message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_connect(struct xs_xsmp_client *c)
{
	(void)c;
	return 0;
}

static int fz_send(struct xs_xsmp_client *c, const uint8_t *msg, size_t len)
{
	struct xs_xsmp_hdr h;

	(void)c;
	if (len > XS_XSMP_MAX_MSG || xs_xsmp_hdr_decode(msg, len, &h) != 0 || h.length != len)
		abort(); /* the host sent something malformed */
	return 0;
}

static void fz_close(struct xs_xsmp_client *c)
{
	(void)c;
}

static const struct xs_xsmp_transport_ops fz_tops = { fz_connect, fz_send, fz_close };

static const struct xs_ulp_ops fz_vnic = { .name = "fz-vnic", .xsmp_type = XS_XSMP_VNIC };
static const struct xs_ulp_ops fz_vhba = { .name = "fz-vhba", .xsmp_type = XS_XSMP_VHBA };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xs_xcm_record xcm = { 0x0002c903000000aaull, 5 };
	uint8_t confirm[XS_XSMP_HDR_LEN + XS_XSMP_SESSION_LEN];
	struct xs_xsmp_session s = { .type = XS_XSMP_REG_CONFIRM, .version = 2 };
	struct xs_xsmp_hdr h = { .type = XS_XSMP_SESSION, .length = sizeof(confirm), .seq = 1 };
	struct xs_xsmp_client *c;
	struct xs_host *host;
	uint64_t now = 1000;
	size_t off = 0;

	xs_log_set_level(XS_LOG_ERR); /* session logs would drown the fuzzer */
	host = xs_host_new_detached("fuzz-host", 0x0002c90300000011ull, &fz_tops);
	if (!host)
		return 0;
	xs_host_register_ulp(host, &fz_vnic, NULL);
	xs_host_register_ulp(host, &fz_vhba, NULL);
	xs_host_apply_xcms(host, &xcm, 1, now);
	c = host->clients[0];
	xs_xsmp_client_tick(c, now);
	xs_xsmp_transport_up(c, now);
	xs_xsmp_hdr_encode(&h, confirm, sizeof(confirm));
	xs_xsmp_session_encode(&s, confirm + XS_XSMP_HDR_LEN, XS_XSMP_SESSION_LEN);
	xs_xsmp_on_message(c, confirm, sizeof(confirm), now);
	while (off + 2 <= size) {
		uint8_t msg[XS_XSMP_MAX_MSG];
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		bool fix = data[off + 1] & 1;

		off += 2;
		if (len > size - off)
			len = size - off;
		if (len > sizeof(msg))
			len = sizeof(msg);
		memcpy(msg, data + off, len);
		if (fix && len >= XS_XSMP_HDR_LEN + 4) {
			msg[0] = (uint8_t)(1 + msg[0] % 3);
			xs_put16(msg + 2, (uint16_t)len);
			if (msg[0] != XS_XSMP_SESSION)
				xs_put16(msg + XS_XSMP_HDR_LEN + 2, 512);
			else
				xs_put16(msg + XS_XSMP_HDR_LEN + 2, XS_XSMP_SESSION_LEN);
		}
		xs_xsmp_on_message(c, msg, len, ++now);
		xs_xsmp_client_tick(c, now);
		off += len;
	}
	xs_host_free(host);
	return 0;
}
