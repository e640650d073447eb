/* SPDX-License-Identifier: MIT */
/* test_wire_xsmp.c - XSMP header and session body, incl. our reason extension. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wire_test.h"

/* A session message header: type SESSION, whole message 256 bytes. */
static const uint8_t hdr_vec[XS_XSMP_HDR_LEN] = {
	0x01,                                           /*  0 type: SESSION */
	0x00,                                           /*  1 code */
	0x01, 0x00,                                     /*  2 length 256 */
	0x00, 0x00, 0x00, 0x07,                         /*  4 seq 7 */
	0x00, 0x00, 0x00, 0x00,                         /*  8 src aux */
	0x00, 0x02, 0xc9, 0x03, 0x00, 0x0a, 0x0b, 0x0c, /* 12 src: host port GUID */
	0x00, 0x00, 0x00, 0x05,                         /* 20 dst aux */
	0x00, 0x13, 0x97, 0x01, 0x00, 0x00, 0x00, 0x01, /* 24 dst: XCM GUID */
};

static void hdr_decodes_known_bytes(void **state)
{
	uint8_t msg[256];
	struct xs_xsmp_hdr h;

	memset(msg, 0, sizeof(msg));
	memcpy(msg, hdr_vec, sizeof(hdr_vec));
	assert_int_equal(xs_xsmp_hdr_decode(msg, sizeof(msg), &h), 0);
	assert_int_equal(h.type, XS_XSMP_SESSION);
	assert_int_equal(h.code, 0);
	assert_int_equal(h.length, 256);
	assert_int_equal(h.seq, 7);
	assert_int_equal(h.src.aux, 0);
	assert_true(h.src.primary == UINT64_C(0x0002c903000a0b0c));
	assert_int_equal(h.dst.aux, 5);
	assert_true(h.dst.primary == UINT64_C(0x0013970100000001));
}

static void hdr_encodes_known_bytes(void **state)
{
	struct xs_xsmp_hdr h = {
		.type = XS_XSMP_SESSION,
		.length = 256,
		.seq = 7,
		.src = { .aux = 0, .primary = UINT64_C(0x0002c903000a0b0c) },
		.dst = { .aux = 5, .primary = UINT64_C(0x0013970100000001) },
	};
	uint8_t out[XS_XSMP_HDR_LEN + 1];

	out[XS_XSMP_HDR_LEN] = 0x5c;
	assert_int_equal(xs_xsmp_hdr_encode(&h, out, sizeof(out)), XS_XSMP_HDR_LEN);
	assert_memory_equal(out, hdr_vec, XS_XSMP_HDR_LEN);
	assert_int_equal(out[XS_XSMP_HDR_LEN], 0x5c);
}

static void hdr_truncated(void **state)
{
	uint8_t v[XS_XSMP_HDR_LEN];

	/* a header that claims only itself, so only the buffer length matters */
	memcpy(v, hdr_vec, sizeof(v));
	v[2] = 0;
	v[3] = XS_XSMP_HDR_LEN;
	WIRE_ASSERT_TRUNCATED(XS_WIRE_XSMP_HDR, xs_xsmp_hdr_decode, v, XS_XSMP_HDR_LEN,
			      struct xs_xsmp_hdr);
}

static int decode_with_length(uint16_t length, size_t len)
{
	uint8_t msg[2048];
	struct xs_xsmp_hdr h;
	int rc;

	memset(msg, 0, sizeof(msg));
	memcpy(msg, hdr_vec, sizeof(hdr_vec));
	msg[2] = (uint8_t)(length >> 8);
	msg[3] = (uint8_t)length;
	rc = xs_xsmp_hdr_decode(msg, len, &h);
	if (rc == 0)
		assert_int_equal(h.length, length);
	return rc;
}

static void hdr_length_field(void **state)
{
	uint64_t before = xs_wire_rejects(XS_WIRE_XSMP_HDR);

	/* below the header */
	assert_int_equal(decode_with_length(0, 1024), -EBADMSG);
	assert_int_equal(decode_with_length(31, 1024), -EBADMSG);
	/* above the maximum message */
	assert_int_equal(decode_with_length(1025, 2048), -EBADMSG);
	assert_int_equal(decode_with_length(0xffff, 2048), -EBADMSG);
	/* more than was received */
	assert_int_equal(decode_with_length(256, 255), -EBADMSG);
	assert_int_equal(decode_with_length(33, 32), -EBADMSG);
	assert_int_equal(xs_wire_rejects(XS_WIRE_XSMP_HDR) - before, 6);

	/* the edges that are fine */
	assert_int_equal(decode_with_length(32, 32), 0);
	assert_int_equal(decode_with_length(256, 256), 0);
	assert_int_equal(decode_with_length(256, 2048), 0); /* trailing bytes: next message */
	assert_int_equal(decode_with_length(1024, 1024), 0);
	assert_int_equal(xs_wire_rejects(XS_WIRE_XSMP_HDR) - before, 6);
}

static void hdr_encode_checks(void **state)
{
	struct xs_xsmp_hdr h;
	uint8_t out[XS_XSMP_HDR_LEN], ref[XS_XSMP_HDR_LEN];

	memset(&h, 0, sizeof(h));
	h.type = XS_XSMP_VNIC;
	h.length = 512;
	WIRE_ASSERT_ENCODE_CAP(xs_xsmp_hdr_encode, &h, XS_XSMP_HDR_LEN);
	memset(ref, 0x44, sizeof(ref));
	h.length = 31;
	memset(out, 0x44, sizeof(out));
	assert_int_equal(xs_xsmp_hdr_encode(&h, out, sizeof(out)), -EINVAL);
	assert_memory_equal(out, ref, sizeof(out));
	h.length = 1025;
	assert_int_equal(xs_xsmp_hdr_encode(&h, out, sizeof(out)), -EINVAL);
	assert_memory_equal(out, ref, sizeof(out));
}

static void decode_too_long(void *arg)
{
	*(int *)arg = decode_with_length(2000, 2048);
}

static void hdr_rejection_is_logged(void **state)
{
	int rc = 0;
	char *text;

	(void)xs_log_debug_enabled("wire");
	xs_log_set_debug("sa,wire");
	text = wire_capture_stderr(decode_too_long, &rc);
	xs_log_set_debug("");
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(text);
	assert_non_null(strstr(text, "[wire] debug: rejected xsmp_hdr input (Bad message): "
				     "message length 2000 exceeds the maximum of 1024\n"));
	free(text);
}

/* ------------------------------------------------------------ session */

/*
 * REG_REJECT from an XCM with our reason extension, laid out by hand:
 * original fields 0..103, reason at 104, reason_text at 108, zero to 224.
 */
static void session_vec(uint8_t *v)
{
	memset(v, 0, XS_XSMP_SESSION_LEN);
	v[0] = XS_XSMP_REG_REJECT;                                /* type (session code) */
	v[1] = 0x00;                                              /* code */
	v[2] = 0x00; v[3] = 0xe0;                                 /* length 224 */
	v[4] = 0x01; v[5] = 0x00; v[6] = 0x00; v[7] = 0x03;       /* Linux | vNIC | vHBA */
	v[8] = 0x00; v[9] = 0x00; v[10] = 0x00; v[11] = 0x0a;     /* version: 10 */
	v[12] = 0x00; v[13] = 0x03; v[14] = 0x00; v[15] = 0x00;   /* chassis_version */
	v[16] = 0x00; v[17] = 0x00; v[18] = 0x00; v[19] = 0x02;   /* boot_flags */
	v[20] = 0x00; v[21] = 0x00; v[22] = 0x00; v[23] = 0x02;   /* fw_ver */
	v[24] = 0x00; v[25] = 0x0c; v[26] = 0x07; v[27] = 0xd0;
	v[28] = 0x00; v[29] = 0x00; v[30] = 0x00; v[31] = 0xa0;   /* hw_ver */
	v[32] = 0x00; v[33] = 0x00; v[34] = 0x67; v[35] = 0x32;   /* vendor_part_id 26418 */
	v[36] = 0x00; v[37] = 0x00; v[38] = 0x00; v[39] = 0x02;   /* xsmp_version */
	wire_put_field(v + 40, "director-1", 10);                 /* chassis_name[32] */
	wire_put_field(v + 72, "host-a", 6);                      /* session_name[32] */
	v[104] = 0x00; v[105] = 0x00; v[106] = 0x00; v[107] = 0x11; /* reason 17 */
	wire_put_field(v + 108, "host not in any server profile", 30);
}

static void session_decodes_known_bytes(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN];
	struct xs_xsmp_session s;

	session_vec(v);
	assert_int_equal(xs_xsmp_session_decode(v, sizeof(v), &s), 0);
	assert_int_equal(s.type, XS_XSMP_REG_REJECT);
	assert_int_equal(s.code, 0);
	assert_int_equal(s.length, XS_XSMP_SESSION_LEN);
	assert_int_equal(s.resource_flags, XS_XCPM_OS_LINUX | 3);
	assert_int_equal(s.version, 10);
	assert_int_equal(s.chassis_version, 0x00030000);
	assert_int_equal(s.boot_flags, 2);
	assert_true(s.fw_ver == UINT64_C(0x00000002000c07d0));
	assert_int_equal(s.hw_ver, 0xa0);
	assert_int_equal(s.vendor_part_id, 26418);
	assert_int_equal(s.xsmp_version, 2);
	assert_string_equal(s.chassis_name, "director-1");
	assert_string_equal(s.session_name, "host-a");
	assert_int_equal(s.reason, 17);
	assert_string_equal(s.reason_text, "host not in any server profile");
}

static void session_encodes_known_bytes(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN], out[XS_XSMP_SESSION_LEN + 1];
	struct xs_xsmp_session s;

	session_vec(v);
	assert_int_equal(xs_xsmp_session_decode(v, sizeof(v), &s), 0);
	memset(out, 0xab, sizeof(out));
	assert_int_equal(xs_xsmp_session_encode(&s, out, sizeof(out)), XS_XSMP_SESSION_LEN);
	assert_memory_equal(out, v, XS_XSMP_SESSION_LEN);
	assert_int_equal(out[XS_XSMP_SESSION_LEN], 0xab);

	/* length 0 asks the encoder to fill in 224 */
	s.length = 0;
	assert_int_equal(xs_xsmp_session_encode(&s, out, sizeof(out)), XS_XSMP_SESSION_LEN);
	assert_memory_equal(out, v, XS_XSMP_SESSION_LEN);
}

static void session_reserved_ignored_and_zeroed(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN], ref[XS_XSMP_SESSION_LEN], out[XS_XSMP_SESSION_LEN];
	struct xs_xsmp_session s;

	session_vec(ref);
	memcpy(v, ref, sizeof(v));
	memset(v + 172, 0xff, XS_XSMP_SESSION_LEN - 172);
	assert_int_equal(xs_xsmp_session_decode(v, sizeof(v), &s), 0);
	assert_string_equal(s.reason_text, "host not in any server profile");
	assert_int_equal(xs_xsmp_session_encode(&s, out, sizeof(out)), XS_XSMP_SESSION_LEN);
	assert_memory_equal(out, ref, sizeof(out));
}

static void session_truncated(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN];

	session_vec(v);
	WIRE_ASSERT_TRUNCATED(XS_WIRE_XSMP_SESSION, xs_xsmp_session_decode, v,
			      XS_XSMP_SESSION_LEN, struct xs_xsmp_session);
}

static void session_bad_length_field(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN + 32];
	struct xs_xsmp_session s;
	uint64_t before = xs_wire_rejects(XS_WIRE_XSMP_SESSION);
	static const uint16_t bad[] = { 0, 104, 223, 225, 256, 0xffff };
	unsigned int i;

	memset(v, 0, sizeof(v));
	session_vec(v);
	for (i = 0; i < XS_ARRAY_SIZE(bad); i++) {
		v[2] = (uint8_t)(bad[i] >> 8);
		v[3] = (uint8_t)bad[i];
		assert_int_equal(xs_xsmp_session_decode(v, sizeof(v), &s), -EBADMSG);
	}
	assert_int_equal(xs_wire_rejects(XS_WIRE_XSMP_SESSION) - before, XS_ARRAY_SIZE(bad));
}

static void session_strings_without_nul(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN], out[XS_XSMP_SESSION_LEN];
	struct xs_xsmp_session s;
	char c32[33], n32[33], r64[65];

	session_vec(v);
	memset(v + 40, 'C', 32);
	memset(v + 72, 'S', 32);
	memset(v + 108, 'R', 64);
	memset(c32, 'C', 32); c32[32] = 0;
	memset(n32, 'S', 32); n32[32] = 0;
	memset(r64, 'R', 64); r64[64] = 0;
	memset(&s, 0x7f, sizeof(s));
	assert_int_equal(xs_xsmp_session_decode(v, sizeof(v), &s), 0);
	assert_string_equal(s.chassis_name, c32);
	assert_string_equal(s.session_name, n32);
	assert_string_equal(s.reason_text, r64);
	assert_int_equal(s.reason, 17);
	assert_int_equal(xs_xsmp_session_encode(&s, out, sizeof(out)), XS_XSMP_SESSION_LEN);
	assert_memory_equal(out, v, sizeof(out));
}

static void session_encode_rejects(void **state)
{
	uint8_t v[XS_XSMP_SESSION_LEN], out[XS_XSMP_SESSION_LEN], ref[XS_XSMP_SESSION_LEN];
	struct xs_xsmp_session base, s;

	session_vec(v);
	assert_int_equal(xs_xsmp_session_decode(v, sizeof(v), &base), 0);
	WIRE_ASSERT_ENCODE_CAP(xs_xsmp_session_encode, &base, XS_XSMP_SESSION_LEN);
	memset(ref, 0x31, sizeof(ref));

#define REJECT(mutate)                                                                  \
	do {                                                                            \
		s = base;                                                               \
		mutate;                                                                 \
		memset(out, 0x31, sizeof(out));                                         \
		assert_int_equal(xs_xsmp_session_encode(&s, out, sizeof(out)), -EINVAL); \
		assert_memory_equal(out, ref, sizeof(out));                             \
	} while (0)

	REJECT(s.length = 100);
	REJECT(s.length = 225);
	REJECT(memset(s.chassis_name, 'c', sizeof(s.chassis_name)));
	REJECT(memset(s.session_name, 's', sizeof(s.session_name)));
	REJECT(memset(s.reason_text, 'r', sizeof(s.reason_text)));
#undef REJECT
}

static void session_round_trip(void **state)
{
	struct xs_xsmp_session a, b;
	uint8_t buf[XS_XSMP_SESSION_LEN];

	memset(&a, 0, sizeof(a));
	a.type = XS_XSMP_REG_CONFIRM;
	a.code = 0;
	a.length = XS_XSMP_SESSION_LEN;
	a.resource_flags = 0xffffffffu;
	a.version = 20; /* hello interval */
	a.chassis_version = 0x01020304;
	a.boot_flags = 0x80000000u;
	a.fw_ver = UINT64_C(0xfffefdfcfbfaf9f8);
	a.hw_ver = 1;
	a.vendor_part_id = 4115;
	a.xsmp_version = 2;
	strcpy(a.chassis_name, "gw-rack7");
	strcpy(a.session_name, "profile-db01");
	a.reason = 0x80402011u; /* every byte distinct and non-zero */
	strcpy(a.reason_text, "");
	assert_int_equal(xs_xsmp_session_encode(&a, buf, sizeof(buf)), XS_XSMP_SESSION_LEN);
	memset(&b, 0x6b, sizeof(b));
	assert_int_equal(xs_xsmp_session_decode(buf, sizeof(buf), &b), 0);
	assert_int_equal(b.type, a.type);
	assert_int_equal(b.code, a.code);
	assert_int_equal(b.length, a.length);
	assert_int_equal(b.resource_flags, a.resource_flags);
	assert_int_equal(b.version, a.version);
	assert_int_equal(b.chassis_version, a.chassis_version);
	assert_int_equal(b.boot_flags, a.boot_flags);
	assert_true(b.fw_ver == a.fw_ver);
	assert_int_equal(b.hw_ver, a.hw_ver);
	assert_int_equal(b.vendor_part_id, a.vendor_part_id);
	assert_int_equal(b.xsmp_version, a.xsmp_version);
	assert_memory_equal(b.chassis_name, a.chassis_name, sizeof(a.chassis_name));
	assert_memory_equal(b.session_name, a.session_name, sizeof(a.session_name));
	assert_int_equal(b.reason, a.reason);
	assert_memory_equal(b.reason_text, a.reason_text, sizeof(a.reason_text));
}

/* A whole session message as it travels: header then body, 256 bytes. */
static void whole_message(void **state)
{
	uint8_t msg[XS_XSMP_HDR_LEN + XS_XSMP_SESSION_LEN];
	struct xs_xsmp_hdr h;
	struct xs_xsmp_session s;

	memcpy(msg, hdr_vec, XS_XSMP_HDR_LEN);
	session_vec(msg + XS_XSMP_HDR_LEN);
	assert_int_equal(xs_xsmp_hdr_decode(msg, sizeof(msg), &h), 0);
	assert_int_equal(h.length, sizeof(msg));
	assert_int_equal(xs_xsmp_session_decode(msg + XS_XSMP_HDR_LEN,
						h.length - XS_XSMP_HDR_LEN, &s), 0);
	assert_int_equal(s.type, XS_XSMP_REG_REJECT);
	assert_string_equal(s.session_name, "host-a");
	/* a message cut in the body: the header says 256, only 255 arrived */
	assert_int_equal(xs_xsmp_hdr_decode(msg, sizeof(msg) - 1, &h), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr_decodes_known_bytes),
		cmocka_unit_test(hdr_encodes_known_bytes),
		cmocka_unit_test(hdr_truncated),
		cmocka_unit_test(hdr_length_field),
		cmocka_unit_test(hdr_encode_checks),
		cmocka_unit_test(hdr_rejection_is_logged),
		cmocka_unit_test(session_decodes_known_bytes),
		cmocka_unit_test(session_encodes_known_bytes),
		cmocka_unit_test(session_reserved_ignored_and_zeroed),
		cmocka_unit_test(session_truncated),
		cmocka_unit_test(session_bad_length_field),
		cmocka_unit_test(session_strings_without_nul),
		cmocka_unit_test(session_encode_rejects),
		cmocka_unit_test(session_round_trip),
		cmocka_unit_test(whole_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
