/* SPDX-License-Identifier: MIT */
/* Unit tests of the control request dispatcher: exact replies for good and
 * bad requests, counters, and asynchronous completion through the hooks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl.h"

static const struct xsd_actor bob = { .uid = 1001, .user = "bob" };

struct fixture {
	struct xsd_ctl_ctx ctx;
	char last[4096];
	int completed;
};

static void on_complete(struct xsd_ctl_req *req, void *arg)
{
	struct fixture *f = arg;
	char *s = json_dumps(req->reply, JSON_COMPACT | JSON_SORT_KEYS);

	snprintf(f->last, sizeof(f->last), "%s", s);
	free(s);
	f->completed++;
}

/* Run one request synchronously; returns the reply text (sorted keys). */
static const char *run(struct fixture *f, const char *line)
{
	struct xsd_ctl_req *req = xsd_ctl_dispatch(&f->ctx, line, strlen(line), &bob);

	assert_non_null(req);
	req->complete = on_complete;
	req->complete_arg = f;
	f->last[0] = 0;
	xsd_ctl_req_put(req);
	return f->last;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct xsd_err err;

	f->ctx.store = xsd_store_open(":memory:", &err);
	assert_non_null(f->ctx.store);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	xsd_store_close(f->ctx.store);
	free(f);
	return 0;
}

static void test_bad_requests(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(run(f, "{\"op\":"),
			    "{\"code\":\"EPROTO\",\"error\":\"bad JSON at column 6: unexpected token near end of file\",\"ok\":false}");
	assert_string_equal(run(f, "[1,2]"),
			    "{\"code\":\"EPROTO\",\"error\":\"a request must be a JSON object\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.frobnicate\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"unknown op 'vnic.frobnicate'\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"profile\":\"p\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"missing field 'name' for vnic.add\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":\"e\",\"profile\":\"p\",\"colour\":1}"),
			    "{\"code\":\"EPROTO\",\"error\":\"unknown field 'colour' for vnic.add\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":7,\"profile\":\"p\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"field 'name' must be a string\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":\"e\",\"profile\":\"p\",\"mtu\":[1]}"),
			    "{\"code\":\"EPROTO\",\"error\":\"field 'mtu' must be a number\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"ping\",\"op\":\"ping\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"bad JSON at column 17: duplicate object key near '\\\"op\\\"'\",\"ok\":false}");
	/* whatever bytes a client sends, the error reply is valid JSON text */
	assert_string_equal(run(f, "{\"op\":\"ma\\\xcb\x8f\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"bad JSON at column 11: invalid escape near '\\\"ma\\\\?'\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":\"e\\u0001\\u00ff\",\"profile\":\"p\"}"),
			    "{\"code\":\"EINVAL\",\"error\":\"vnic name 'e?\u00ff' has a bad character; allowed are letters, digits, '.', '_' and '-'\",\"ok\":false}");
	assert_int_equal(f->ctx.counters.bad_json, 3);
	assert_int_equal(f->ctx.counters.bad_request, 6);
	assert_int_equal(f->ctx.counters.requests, 10);
	assert_int_equal(f->ctx.counters.ok, 0);
}

static void test_vnic_flow(void **state)
{
	struct fixture *f = *state;
	const char *r;

	assert_string_equal(run(f, "{\"op\":\"profile.add\",\"name\":\"p1\",\"hostname\":\"host1\",\"host_guids\":[\"0x1234\"],\"id\":7}"),
			    "{\"id\":7,\"ok\":true}");
	r = run(f, "{\"op\":\"vnic.add\",\"name\":\"eth1\",\"profile\":\"p1\",\"mtu\":\"9000\",\"vlan_mode\":\"trunk\",\"vlans\":\"30,10-12\"}");
	assert_non_null(strstr(r, "\"ok\":true"));
	assert_non_null(strstr(r, "\"mac\":\"02:58:53:00:00:01\""));
	assert_non_null(strstr(r, "\"vlans\":\"10-12,30\""));
	assert_non_null(strstr(r, "\"mtu\":9000"));
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":\"eth2\",\"profile\":\"p1\",\"mac\":\"02:58:53:00:00:01\"}"),
			    "{\"code\":\"EEXIST\",\"error\":\"MAC 02:58:53:00:00:01 is already used by vnic 'eth1'\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":\"averyveryverylongname\",\"profile\":\"p1\"}"),
			    "{\"code\":\"EINVAL\",\"error\":\"vnic name 'averyveryverylongname' is 21 characters; at most 15 are allowed\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.set\",\"name\":\"eth1\",\"mtu\":70000}"),
			    "{\"code\":\"EINVAL\",\"error\":\"MTU 70000 out of range; allowed 68..65280\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"vnic.add\",\"name\":\"eth2\",\"profile\":\"nosuch\"}"),
			    "{\"code\":\"ENOENT\",\"error\":\"profile 'nosuch' does not exist\",\"ok\":false}");
	r = run(f, "{\"op\":\"vnic.show\"}");
	assert_non_null(strstr(r, "\"name\":\"eth1\""));
	assert_null(strstr(r, "eth2"));
	r = run(f, "{\"op\":\"log.show\",\"limit\":1}");
	assert_non_null(strstr(r, "\"user\":\"bob\""));
	assert_non_null(strstr(r, "\"what\":\"vnic add eth1 profile=p1 mac=02:58:53:00:00:01 mtu=9000 vlan-mode=trunk vlans=10-12,30"));
	assert_string_equal(run(f, "{\"op\":\"profile.delete\",\"name\":\"p1\"}"),
			    "{\"code\":\"EBUSY\",\"error\":\"profile 'p1' still has 1 vNIC(s) and 0 vHBA(s); delete them first\",\"ok\":false}");
	assert_int_equal(f->ctx.counters.refused, 5);
}

/* A hook that keeps the request and finishes it later, as the XCM does. */
static struct xsd_ctl_req *held;
static char seen_change[128];

static void hook_changed(void *arg, const struct xsd_change *c, struct xsd_ctl_req *req)
{
	snprintf(seen_change, sizeof(seen_change), "%d/%d/%s/%s/%s", c->kind, c->action, c->name,
		 c->profile ? c->profile : "-", c->old_profile ? c->old_profile : "-");
	xsd_ctl_req_get(req);
	held = req;
}

static void test_async(void **state)
{
	static const struct xsd_ctl_hooks hooks = { .changed = hook_changed };
	struct fixture *f = *state;

	f->ctx.hooks = &hooks;
	run(f, "{\"op\":\"profile.add\",\"name\":\"p1\"}");
	xsd_ctl_req_put(held);
	f->completed = 0;
	assert_string_equal(run(f, "{\"op\":\"profile.add\",\"name\":\"p2\"}"), "");
	assert_int_equal(f->completed, 0);
	assert_string_equal(seen_change, "0/0/p2/p2/-");
	xsd_ctl_req_push_result(held, "vnic e0", "host1", "install", "acknowledged", NULL);
	xsd_ctl_req_put(held);
	assert_int_equal(f->completed, 1);
	assert_string_equal(f->last, "{\"ok\":true,\"push\":[{\"action\":\"install\",\"device\":\"vnic e0\",\"host\":\"host1\",\"reason\":\"\",\"result\":\"acknowledged\"}]}");
	run(f, "{\"op\":\"vnic.add\",\"name\":\"e0\",\"profile\":\"p1\"}");
	xsd_ctl_req_put(held);
	run(f, "{\"op\":\"vnic.set\",\"name\":\"e0\",\"profile\":\"p2\"}");
	xsd_ctl_req_put(held);
	assert_string_equal(seen_change, "1/1/e0/p2/p1");
	f->ctx.hooks = NULL;
}

/* storage.add / target / lun requests: field checks, and replies without
 * a storage module (no hooks: status null). */
static void test_storage_ops(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(run(f, "{\"op\":\"storage.add\",\"name\":\"m0\"}"),
			    "{\"code\":\"EINVAL\",\"error\":\"give one of --file, --block, --sg, --iscsi, --ram\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"storage.add\",\"name\":\"m0\",\"ram\":\"1M\",\"file\":\"/x\"}"),
			    "{\"code\":\"EINVAL\",\"error\":\"give only one of --file, --block, --sg, --iscsi, --ram\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"storage.add\",\"name\":\"m0\",\"ram\":\"1M\",\"size\":4096}"),
			    "{\"code\":\"EINVAL\",\"error\":\"--size goes with --file\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"storage.add\",\"name\":\"m0\",\"ram\":\"1M\",\"direct\":\"yes\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"field 'direct' must be true or false\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"storage.add\",\"name\":\"m0\",\"ram\":\"1M\"}"),
			    "{\"ok\":true,\"storage\":{\"direct\":false,\"location\":\"\",\"lun\":null,\"name\":\"m0\",\"size\":1048576,\"status\":null,\"type\":\"ram\"}}");
	assert_string_equal(run(f, "{\"op\":\"target.add\",\"name\":\"t1\",\"wwpn\":\"5001397000000010\"}"),
			    "{\"ok\":true,\"target\":{\"luns\":[],\"name\":\"t1\",\"status\":null,\"vhbas\":[],\"wwpn\":\"50:01:39:70:00:00:00:10\"}}");
	assert_string_equal(run(f, "{\"op\":\"lun.add\",\"target\":\"t1\",\"storage\":\"m0\"}"),
			    "{\"code\":\"EPROTO\",\"error\":\"missing field 'lun' for lun.add\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"lun.add\",\"target\":\"t1\",\"lun\":2,\"storage\":\"m0\",\"read_only\":true}"),
			    "{\"lun\":{\"lun\":2,\"read_only\":true,\"storage\":\"m0\",\"target\":\"t1\"},\"ok\":true}");
	assert_string_equal(run(f, "{\"op\":\"target.show\",\"name\":\"t1\"}"),
			    "{\"ok\":true,\"targets\":[{\"luns\":[{\"lun\":2,\"read_only\":true,\"storage\":\"m0\"}],\"name\":\"t1\",\"status\":null,\"vhbas\":[],\"wwpn\":\"50:01:39:70:00:00:00:10\"}]}");
	assert_string_equal(run(f, "{\"op\":\"storage.show\"}"),
			    "{\"ok\":true,\"storage\":[{\"direct\":false,\"location\":\"\",\"lun\":{\"lun\":2,\"target\":\"t1\"},\"name\":\"m0\",\"size\":1048576,\"status\":null,\"type\":\"ram\"}]}");
	assert_string_equal(run(f, "{\"op\":\"storage.delete\",\"name\":\"m0\"}"),
			    "{\"code\":\"EBUSY\",\"error\":\"storage 'm0' is used by LUN 2 of target 't1'; delete the LUN first\",\"ok\":false}");
	assert_string_equal(run(f, "{\"op\":\"lun.delete\",\"target\":\"t1\",\"lun\":2}"), "{\"ok\":true}");
	assert_string_equal(run(f, "{\"op\":\"target.delete\",\"name\":\"t1\"}"), "{\"ok\":true}");
	assert_string_equal(run(f, "{\"op\":\"target.show\",\"name\":\"t1\"}"),
			    "{\"code\":\"ENOENT\",\"error\":\"target 't1' does not exist\",\"ok\":false,\"targets\":[]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vnic_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_ops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
