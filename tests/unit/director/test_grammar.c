/* SPDX-License-Identifier: MIT */
/* Unit tests of the xcm grammar: prefixes, ambiguity, exact error lines and
 * the exact JSON requests built from the words. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/grammar.h"

static char out[1024];

/* Parse a space-separated command; returns the request JSON (sorted keys)
 * or "ERR: <message>". */
static const char *parse(const char *cmdline)
{
	char buf[512], *words[32], *save = NULL, err[512];
	struct xcm_cmd cmd;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", cmdline);
	for (char *w = strtok_r(buf, " ", &save); w && n < 32; w = strtok_r(NULL, " ", &save))
		words[n++] = w;
	if (xcm_parse(n, words, &cmd, err, sizeof(err))) {
		snprintf(out, sizeof(out), "ERR: %s", err);
	} else {
		char *s = json_dumps(cmd.req, JSON_COMPACT | JSON_SORT_KEYS);

		snprintf(out, sizeof(out), "%s", s);
		free(s);
		json_decref(cmd.req);
	}
	return out;
}

static void test_prefixes(void **state)
{
	assert_string_equal(parse("show vnic"), "{\"op\":\"vnic.show\"}");
	assert_string_equal(parse("sh vn"), "{\"op\":\"vnic.show\"}");
	assert_string_equal(parse("sh vh fc0"), "{\"name\":\"fc0\",\"op\":\"vhba.show\"}");
	assert_string_equal(parse("sho sess"), "{\"op\":\"sessions.show\"}");
	assert_string_equal(parse("show log --lim 5"), "{\"limit\":5,\"op\":\"log.show\"}");
	assert_string_equal(parse("pro a p1 --host-g 0x1 --host-guid 0002:c903:0000:1234 --hostn h1"),
			    "{\"host_guids\":[\"0x0000000000000001\",\"0x0002c90300001234\"],\"hostname\":\"h1\",\"name\":\"p1\",\"op\":\"profile.add\"}");
	assert_string_equal(parse("vnic add eth1 --profile p1 --vlans 30,10 --vlan-mode trunk --mtu=9000"),
			    "{\"mtu\":9000,\"name\":\"eth1\",\"op\":\"vnic.add\",\"profile\":\"p1\",\"vlan_mode\":\"trunk\",\"vlans\":\"30,10\"}");
	assert_string_equal(parse("vhba add fc0 --profile p1 --target t1 --target t2 --queue-depth 64"),
			    "{\"name\":\"fc0\",\"op\":\"vhba.add\",\"profile\":\"p1\",\"queue_depth\":64,\"targets\":[\"t1\",\"t2\"]}");
	assert_string_equal(parse("conf set hello 2"),
			    "{\"key\":\"hello-interval\",\"op\":\"config.set\",\"value\":2}");
	assert_string_equal(parse("config set auto-accept on"),
			    "{\"key\":\"auto-accept\",\"op\":\"config.set\",\"value\":\"on\"}");
	assert_string_equal(parse("storage-pool add pool1"),
			    "{\"name\":\"pool1\",\"op\":\"storage-pool.add\"}");
}

static void test_word_errors(void **state)
{
	assert_string_equal(parse("s"), "ERR: ambiguous word 's'; could be: show, storage-pool, storage");
	assert_string_equal(parse("show v"), "ERR: ambiguous word 'v' after 'show'; could be: vnic, vhba");
	assert_string_equal(parse("show foo"),
			    "ERR: unknown word 'foo' after 'show'; expected one of: profile, vnic, vhba, sessions, hosts, log, config, uplinks, storage-pools, stats, storage, targets");
	assert_string_equal(parse("frob"),
			    "ERR: unknown word 'frob'; expected one of: profile, vnic, vhba, show, config, uplink, storage-pool, storage, target, lun");
	assert_string_equal(parse("vnic"), "ERR: incomplete command 'vnic'; expected one of: add, set, delete");
	assert_string_equal(parse("vnic add"), "ERR: missing vnic name after 'vnic add'");
	assert_string_equal(parse("show vnic eth1 extra"), "ERR: unexpected word 'extra' after 'show vnic eth1'");
	assert_string_equal(parse("config set hello-interval"),
			    "ERR: missing value after 'config set hello-interval'; expected SECONDS");
}

static void test_value_errors(void **state)
{
	assert_string_equal(parse("vnic add averyveryverylongname --profile p"),
			    "ERR: vnic name 'averyveryverylongname' is 21 characters; at most 15 are allowed");
	assert_string_equal(parse("vnic add eth1"), "ERR: 'vnic add eth1' needs --profile NAME");
	assert_string_equal(parse("vnic add eth1 --profile p1 --mtu 70000"),
			    "ERR: MTU 70000 out of range; allowed 68..65280");
	assert_string_equal(parse("vnic add eth1 --profile p1 --mac zz:11:22:33:44:55"),
			    "ERR: bad MAC 'zz:11:22:33:44:55'; expected six hex pairs like 02:11:22:33:44:55");
	assert_string_equal(parse("vnic add eth1 --profile p1 --m 1"),
			    "ERR: ambiguous option '--m' for 'vnic add eth1'; could be: --mac, --mtu");
	assert_string_equal(parse("vnic set eth1 --colour red"),
			    "ERR: unknown option '--colour' for 'vnic set eth1'; expected one of: --profile, --mac, --mtu, --vlan-mode, --vlans, --uplink, --cir, --pir, --ha-group, --admin");
	assert_string_equal(parse("vnic add eth1 --profile"), "ERR: option '--profile' needs a value (NAME)");
	assert_string_equal(parse("vnic set eth1 --mtu 1500 --mtu 9000"), "ERR: option '--mtu' given twice");
	assert_string_equal(parse("vnic set eth1 --vlans 0-5"), "ERR: VLAN 0 out of range; allowed 1..4094");
	assert_string_equal(parse("vnic set eth1 --admin sideways"), "ERR: bad admin state 'sideways'; expected up or down");
	assert_string_equal(parse("config set auto-accept maybe"), "ERR: bad auto-accept value 'maybe'; expected on or off");
	assert_string_equal(parse("vnic set eth1 bogus"), "ERR: unexpected word 'bogus' after 'vnic set eth1'; options start with --");
}

static void test_storage(void **state)
{
	assert_string_equal(parse("storage add d0 --file /srv/d0.img --size 1G --direct"),
			    "{\"direct\":true,\"file\":\"/srv/d0.img\",\"name\":\"d0\",\"op\":\"storage.add\",\"size\":\"1G\"}");
	/* "storage" is also the start of "storage-pool": only the whole word */
	assert_string_equal(parse("stora a m0 --ram 64M"),
			    "ERR: ambiguous word 'stora'; could be: storage-pool, storage");
	assert_string_equal(parse("storage a m0 --ram 64M"),
			    "{\"name\":\"m0\",\"op\":\"storage.add\",\"ram\":\"64M\"}");
	assert_string_equal(parse("storage add i0 --iscsi iscsi://10.0.0.1/iqn.x:t/0"),
			    "{\"iscsi\":\"iscsi://10.0.0.1/iqn.x:t/0\",\"name\":\"i0\",\"op\":\"storage.add\"}");
	assert_string_equal(parse("storage delete d0"), "{\"name\":\"d0\",\"op\":\"storage.delete\"}");
	assert_string_equal(parse("target add t1 --wwpn 50:01:39:70:00:00:00:10"),
			    "{\"name\":\"t1\",\"op\":\"target.add\",\"wwpn\":\"50:01:39:70:00:00:00:10\"}");
	assert_string_equal(parse("tar del t1"), "{\"name\":\"t1\",\"op\":\"target.delete\"}");
	assert_string_equal(parse("lun add t1 3 --storage d0 --read-only"),
			    "{\"lun\":3,\"op\":\"lun.add\",\"read_only\":true,\"storage\":\"d0\",\"target\":\"t1\"}");
	assert_string_equal(parse("lun delete t1 3"), "{\"lun\":3,\"op\":\"lun.delete\",\"target\":\"t1\"}");
	assert_string_equal(parse("show storage"), "{\"op\":\"storage.show\"}");
	assert_string_equal(parse("show targets t1"), "{\"name\":\"t1\",\"op\":\"target.show\"}");
	assert_string_equal(parse("sh targ"), "{\"op\":\"target.show\"}");
	/* errors */
	assert_string_equal(parse("storage add d0 --direct=yes"),
			    "ERR: option '--direct' takes no value");
	assert_string_equal(parse("storage add d0 --direct --direct"),
			    "ERR: option '--direct' given twice");
	assert_string_equal(parse("storage add d0 --file /x --size 12Q"),
			    "ERR: bad size '12Q'; expected bytes with an optional K, M, G or T suffix (1024-based)");
	assert_string_equal(parse("storage add d0 --s 1"),
			    "ERR: ambiguous option '--s' for 'storage add d0'; could be: --sg, --size");
	assert_string_equal(parse("lun add"), "ERR: missing target name after 'lun add'");
	assert_string_equal(parse("lun add t1"), "ERR: missing value after 'lun add t1'; expected LUN");
	assert_string_equal(parse("lun add t1 3"), "ERR: 'lun add t1 3' needs --storage NAME");
	assert_string_equal(parse("lun add t1 x --storage d0"),
			    "ERR: bad LUN 'x'; expected a number 0..16383");
	assert_string_equal(parse("target add t1 --wwpn 12"),
			    "ERR: bad WWN '12'; expected 16 hex digits like 50:01:43:80:12:34:56:78");
	assert_string_equal(parse("target add a-name-of-twenty-five-chars"),
			    "ERR: target name 'a-name-of-twenty-five-chars' is 27 characters; at most 24 are allowed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_word_errors),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_storage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
