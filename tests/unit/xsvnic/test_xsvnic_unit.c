/* SPDX-License-Identifier: MIT */
/* test_xsvnic_unit.c - the parts of xsvnic that need no privileges: group
 * address to MAC mapping and argument checks done before any system call. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <xsvnic/tap.h>

static void ip4_group_macs(void **state)
{
	static const struct {
		uint8_t g[4];
		uint8_t mac[6];
	} v[] = {
		{ { 224, 0, 0, 1 }, { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } },
		{ { 239, 1, 2, 3 }, { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 } },
		/* the 24th bit is dropped: 224.128.1.1 and 224.0.1.1 share a MAC */
		{ { 224, 128, 1, 1 }, { 0x01, 0x00, 0x5e, 0x00, 0x01, 0x01 } },
		{ { 239, 255, 255, 250 }, { 0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa } },
	};
	uint8_t mac[6];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		xsvnic_mcast_ip4_mac(v[i].g, mac);
		assert_memory_equal(mac, v[i].mac, 6);
	}
}

static void ip6_group_macs(void **state)
{
	/* ff02::1 and the solicited-node group of fe80::11:22ff:fe33:4455 */
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	static const uint8_t sol[16] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff, 0x33, 0x44, 0x55 };
	static const uint8_t want1[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t want2[6] = { 0x33, 0x33, 0xff, 0x33, 0x44, 0x55 };
	uint8_t mac[6];

	xsvnic_mcast_ip6_mac(all_nodes, mac);
	assert_memory_equal(mac, want1, 6);
	xsvnic_mcast_ip6_mac(sol, mac);
	assert_memory_equal(mac, want2, 6);
}

static void create_rejects_bad_arguments(void **state)
{
	errno = 0;
	assert_null(xsvnic_tap_create("a-name-of-16-chr", 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xsvnic_tap_create("", 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xsvnic_tap_create(NULL, 0));
	assert_int_equal(errno, EINVAL);
	/* TSO without checksum offload, ECN without TSO, unknown bits */
	errno = 0;
	assert_null(xsvnic_tap_create("xsvu0", XSVNIC_OFF_TSO4));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xsvnic_tap_create("xsvu0", XSVNIC_OFF_CSUM | XSVNIC_OFF_TSO_ECN));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(xsvnic_tap_create("xsvu0", 1u << 9));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ip4_group_macs),
		cmocka_unit_test(ip6_group_macs),
		cmocka_unit_test(create_rejects_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
