/* SPDX-License-Identifier: MIT */
/* Unit tests of the operator-input parsers: exact accepted forms and the
 * exact one-line errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/xsd_valid.h"

static void test_mac(void **state)
{
	struct xsd_err err;
	uint8_t m[6];
	char s[18];

	assert_int_equal(xsd_parse_mac("02:11:22:33:44:5F", m, &err), 0);
	xsd_format_mac(m, s);
	assert_string_equal(s, "02:11:22:33:44:5f");
	assert_int_equal(xsd_parse_mac("zz:11:22:33:44:55", m, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "bad MAC 'zz:11:22:33:44:55'; expected six hex pairs like 02:11:22:33:44:55");
	assert_int_equal(xsd_parse_mac("02:11:22:33:44:55:66", m, &err), -EINVAL);
	assert_int_equal(xsd_parse_mac("02:11:22:33:44", m, &err), -EINVAL);
	assert_int_equal(xsd_parse_mac("01:00:5e:00:00:01", m, &err), -EINVAL);
	assert_string_equal(err.msg, "MAC 01:00:5e:00:00:01 is a multicast address; a vNIC needs a unicast MAC (first octet even)");
}

static void test_numbers(void **state)
{
	struct xsd_err err;
	uint64_t v;

	assert_int_equal(xsd_parse_uint("MTU", "9000", 68, 65280, &v, &err), 0);
	assert_int_equal(v, 9000);
	assert_int_equal(xsd_parse_uint("MTU", "70000", 68, 65280, &v, &err), -EINVAL);
	assert_string_equal(err.msg, "MTU 70000 out of range; allowed 68..65280");
	assert_int_equal(xsd_parse_uint("MTU", "9k", 68, 65280, &v, &err), -EINVAL);
	assert_string_equal(err.msg, "bad MTU '9k'; expected a number 68..65280");
	assert_int_equal(xsd_parse_uint("MTU", "-1", 68, 65280, &v, &err), -EINVAL);
	assert_int_equal(xsd_parse_uint("MTU", "99999999999999999999999", 68, 65280, &v, &err),
			 -EINVAL);
}

static void test_lists(void **state)
{
	struct xsd_err err;
	char out[XSD_VLANS_TEXT];
	unsigned int n;

	assert_int_equal(xsd_parse_vlans("30,10,20-29", out, sizeof(out), &n, &err), 0);
	assert_string_equal(out, "10,20-30");
	assert_int_equal(n, 12);
	assert_int_equal(xsd_parse_vlans("0", out, sizeof(out), &n, &err), -EINVAL);
	assert_string_equal(err.msg, "VLAN 0 out of range; allowed 1..4094");
	assert_int_equal(xsd_parse_vlans("10,", out, sizeof(out), &n, &err), -EINVAL);
	assert_string_equal(err.msg, "bad VLAN list '10,'; expected numbers and ranges like 10,20-30");
	assert_int_equal(xsd_parse_vlans("30-20", out, sizeof(out), &n, &err), -EINVAL);
	assert_string_equal(err.msg, "VLAN range 30-20 is reversed; write 20-30");
	assert_int_equal(xsd_parse_vlans("1-500", out, sizeof(out), &n, &err), 0);
	assert_int_equal(xsd_parse_vlans("1-501", out, sizeof(out), &n, &err), -EINVAL);
	assert_string_equal(err.msg, "VLAN list '1-501' has more than 500 entries; at most 500 are allowed");
	assert_int_equal(xsd_parse_luns("0-3,7", out, sizeof(out), &n, &err), 0);
	assert_string_equal(out, "0-3,7");
	assert_int_equal(xsd_parse_luns("16384", out, sizeof(out), &n, &err), -EINVAL);
	assert_string_equal(err.msg, "LUN 16384 out of range; allowed 0..16383");
}

static void test_ids(void **state)
{
	struct xsd_err err;
	uint64_t g;
	char s[24];

	assert_int_equal(xsd_parse_guid("0x0002c90300001234", &g, &err), 0);
	assert_int_equal(g, 0x0002c90300001234ull);
	assert_int_equal(xsd_parse_guid("0002:c903:0000:1234", &g, &err), 0);
	assert_int_equal(g, 0x0002c90300001234ull);
	assert_int_equal(xsd_parse_guid("0x12345678901234567", &g, &err), -EINVAL);
	assert_string_equal(err.msg, "bad GUID '0x12345678901234567'; expected up to 16 hex digits like 0x0002c90300001234");
	assert_int_equal(xsd_parse_wwn("50:01:43:80:12:34:56:78", &g, &err), 0);
	xsd_format_wwn(g, s);
	assert_string_equal(s, "50:01:43:80:12:34:56:78");
	assert_int_equal(xsd_parse_wwn("5001438012345678", &g, &err), 0);
	assert_int_equal(xsd_parse_wwn("50:01:43", &g, &err), -EINVAL);
	assert_string_equal(err.msg, "bad WWN '50:01:43'; expected 16 hex digits like 50:01:43:80:12:34:56:78");
}

static void test_names(void **state)
{
	struct xsd_err err;

	assert_int_equal(xsd_check_name("vnic", "eth0.10", 15, &err), 0);
	assert_int_equal(xsd_check_name("vnic", "averyveryverylongname", 15, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "vnic name 'averyveryverylongname' is 21 characters; at most 15 are allowed");
	assert_int_equal(xsd_check_name("vnic", "", 15, &err), -EINVAL);
	assert_string_equal(err.msg, "vnic name is empty; 1..15 characters are allowed");
	assert_int_equal(xsd_check_name("vnic", "a b", 15, &err), -EINVAL);
	assert_string_equal(err.msg, "vnic name 'a b' has a bad character; allowed are letters, digits, '.', '_' and '-'");
	assert_int_equal(xsd_check_name("vnic", "-x", 15, &err), -EINVAL);
	assert_string_equal(err.msg, "vnic name '-x' must start with a letter or digit");
}

static void test_sizes(void **state)
{
	struct xsd_err err;
	uint64_t v;

	assert_int_equal(xsd_parse_size("size", "4096", &v, &err), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(xsd_parse_size("size", "64M", &v, &err), 0);
	assert_int_equal(v, 64ull << 20);
	assert_int_equal(xsd_parse_size("size", "2GiB", &v, &err), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(xsd_parse_size("size", "1TB", &v, &err), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(xsd_parse_size("size", "0", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "size must be more than 0 bytes");
	assert_int_equal(xsd_parse_size("ram size", "1X", &v, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "bad ram size '1X'; expected bytes with an optional K, M, G or T suffix (1024-based)");
	assert_int_equal(xsd_parse_size("size", "1Mx", &v, &err), -EINVAL);
	assert_int_equal(xsd_parse_size("size", "-1", &v, &err), -EINVAL);
	assert_int_equal(xsd_parse_size("size", "99999999P", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "size '99999999P' is too large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac),     cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_lists),   cmocka_unit_test(test_ids),
		cmocka_unit_test(test_names),   cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
